"""Risk-based sizing methods (actors/account/sizing.py) on the simulator's own symbol_info dicts.

The symbols come from bridge.trade_server.TradeServer after quotes, so their tick values
are those the simulator derives (USDJPY's converts JPY to the USD deposit at the quote).
Expected lots are worked out by hand in each test.
"""

from __future__ import annotations

import pytest

from actors.account.sizing import (SizingError, SizeResult, compute_size, kelly_risk_pct, size_position,
                           value_per_lot)
from bridge.symbols import DEFAULT_SYMBOLS
from bridge.trade_server.server import TradeServer


@pytest.fixture(scope="module")
def info():
    server = TradeServer(login=1, symbols=DEFAULT_SYMBOLS, balance=10_000.0, currency="USD")
    server.on_quote("EURUSD", 1_000, 1.08000, 1.08010)
    server.on_quote("USDJPY", 1_000, 150.000, 150.012)
    server.on_quote("XAUUSD", 1_000, 2350.00, 2350.25)
    return {name: server.symbol_info(name) for name in ("EURUSD", "USDJPY", "XAUUSD")}


def risk(pct: float) -> dict:
    return {"method": "percentage_risk", "risk_pct": pct}


# ------------------------------------------------------------ value per lot ---
def test_the_simulators_tick_values(info):
    # EURUSD: 0.00001 × 100 000 = 1 USD per tick; gold 0.01 × 100 = 1 USD per tick;
    # USDJPY: 0.001 × 100 000 = 100 JPY per tick, a loss converted at the bid: 100 / 150 USD.
    assert info["EURUSD"]["trade_tick_value"] == pytest.approx(1.0)
    assert info["XAUUSD"]["trade_tick_value"] == pytest.approx(1.0)
    assert info["USDJPY"]["trade_tick_value_loss"] == pytest.approx(100 / 150)


def test_value_per_lot(info):
    assert value_per_lot(info["EURUSD"], 0.0020) == pytest.approx(200.0)  # 200 ticks × 1 USD
    assert value_per_lot(info["USDJPY"], 0.20) == pytest.approx(200 * 100 / 150)  # 133.33 USD
    assert value_per_lot(info["XAUUSD"], 5.00) == pytest.approx(500.0)  # 500 ticks × 1 USD


def test_value_per_lot_without_a_tick_value_is_refused():
    with pytest.raises(SizingError, match="no tick value"):
        value_per_lot({"name": "EURGBP", "trade_tick_size": 0.00001, "trade_tick_value": 0.0}, 0.002)


# --------------------------------------------------------- percentage_risk ---
def test_acceptance_example_one_percent_twenty_pips_ten_thousand_usd(info):
    # 1 % of 10 000 = 100 USD; 20 pips = 0.0020 = 200 ticks × 1 USD = 200 USD per lot → 0.5 lots.
    assert size_position(risk(1.0), info["EURUSD"], balance=10_000.0, stop_pips=20) == 0.5
    result = compute_size(risk(1.0), info["EURUSD"], balance=10_000.0, stop_distance=0.0020)
    assert result == SizeResult(volume=0.5, method="percentage_risk", risk_pct=1.0, risk_money=100.0,
                                stop_distance=0.0020)


def test_same_risk_different_symbols_give_different_lots(info):
    # 100 USD at risk on a 20-pip stop everywhere:
    # EURUSD 200 USD/lot → 0.50; USDJPY 20 pips = 0.20 = 200 ticks × 0.6667 = 133.33 USD/lot → 0.75;
    # XAUUSD a pip is one point (0.01): 20 pips = 0.20 = 20 ticks × 1 USD = 20 USD/lot → 5.00.
    lots = {name: size_position(risk(1.0), info[name], balance=10_000.0, stop_pips=20) for name in info}
    assert lots == {"EURUSD": 0.5, "USDJPY": 0.75, "XAUUSD": 5.0}


def test_percentage_risk_gold_with_a_five_dollar_stop(info):
    # 100 USD / (500 ticks × 1 USD) = 0.2 lots.
    assert size_position(risk(1.0), info["XAUUSD"], balance=10_000.0, stop_distance=5.0) == 0.2


def test_percentage_risk_rounds_down_and_clamps(info):
    # 0.7 % of 10 000 = 70 USD / 200 USD per lot = 0.35; 0.77 % → 0.385 → 0.38 (down, never up).
    assert size_position(risk(0.7), info["EURUSD"], balance=10_000.0, stop_pips=20) == 0.35
    assert size_position(risk(0.77), info["EURUSD"], balance=10_000.0, stop_pips=20) == 0.38
    assert size_position(risk(1.0), info["EURUSD"], 0.1, balance=10_000.0, stop_pips=20) == 0.1  # max_lot_size
    assert size_position(risk(100.0), info["EURUSD"], balance=1e9, stop_pips=1) == 100.0  # volume_max


def test_percentage_risk_uses_the_smaller_of_balance_and_equity(info):
    # Equity 8 000 (floating loss): 80 USD / 200 = 0.4; a floating gain does not inflate it.
    assert size_position(risk(1.0), info["EURUSD"], balance=10_000.0, equity=8_000.0, stop_pips=20) == 0.4
    assert size_position(risk(1.0), info["EURUSD"], balance=10_000.0, equity=12_000.0, stop_pips=20) == 0.5


def test_percentage_risk_below_volume_min_is_refused(info):
    # 1 % of 100 USD = 1 USD / 200 USD per lot = 0.005 lots < 0.01: a refusal, not 0.01.
    with pytest.raises(SizingError, match="minimum"):
        size_position(risk(1.0), info["EURUSD"], balance=100.0, stop_pips=20)


@pytest.mark.parametrize("inputs", [{"stop_pips": 20}, {"balance": 10_000.0}, {"balance": 0.0, "stop_pips": 20},
                                    {"balance": 10_000.0, "stop_pips": 0}])
def test_percentage_risk_needs_capital_and_a_stop(info, inputs):
    with pytest.raises(SizingError):
        size_position(risk(1.0), info["EURUSD"], **inputs)


@pytest.mark.parametrize("pct", [0, -1, 101, "1", None])
def test_percentage_risk_refuses_a_bad_percentage(info, pct):
    with pytest.raises(SizingError, match="risk_pct"):
        size_position(risk(pct), info["EURUSD"], balance=10_000.0, stop_pips=20)


# --------------------------------------------------------------- atr_based ---
def test_atr_based(info):
    # ATR 0.0008 × 2.5 = 0.0020 stop = 200 USD per lot; 1 % of 10 000 → 0.5 lots; the stop is returned.
    sizing = {"method": "atr_based", "risk_pct": 1.0, "atr_mult": 2.5, "atr_period": 14}
    result = compute_size(sizing, info["EURUSD"], balance=10_000.0, atr=0.0008)
    assert result.volume == 0.5
    assert result.stop_distance == pytest.approx(0.0020)
    assert result.risk_money == pytest.approx(100.0)


def test_atr_based_usdjpy(info):
    # ATR 0.15 × 2 = 0.30 = 300 ticks × 100/150 USD = 200 USD per lot; 2 % of 5 000 = 100 USD → 0.5 lots.
    sizing = {"method": "atr_based", "risk_pct": 2.0, "atr_mult": 2.0}
    assert size_position(sizing, info["USDJPY"], balance=5_000.0, atr=0.15) == 0.5


def test_atr_based_without_atr_is_refused(info):
    with pytest.raises(SizingError, match="ATR"):
        size_position({"method": "atr_based", "risk_pct": 1.0, "atr_mult": 2.0}, info["EURUSD"], balance=10_000.0)
    with pytest.raises(SizingError, match="atr_mult"):
        size_position({"method": "atr_based", "risk_pct": 1.0}, info["EURUSD"], balance=10_000.0, atr=0.001)


# --------------------------------------------------------- kelly_criterion ---
# 40 trades: 20 wins of +200, 20 losses of -100 → W = 0.5, R = 2, Kelly = 0.5 − 0.5 / 2 = 0.25.
HISTORY = [200.0, -100.0] * 20


def test_kelly_risk_pct_by_hand():
    # Half Kelly: 0.5 × 25 % = 12.5 % → capped at 2 %; a tenth: 2.5 %, under a 5 % cap; a fiftieth: 0.5 %.
    assert kelly_risk_pct({"fraction": 0.5}, HISTORY) == 2.0
    assert kelly_risk_pct({"fraction": 0.1, "max_risk_pct": 5.0}, HISTORY) == pytest.approx(2.5)
    assert kelly_risk_pct({"fraction": 0.02, "max_risk_pct": 5.0}, HISTORY) == pytest.approx(0.5)
    # Unequal trades: wins 300, 100 (avg 200), losses −50, −150 (avg 100), W = 0.5 → Kelly 0.25; × 0.1 = 2.5 %
    # → the default 2 % cap.
    assert kelly_risk_pct({"fraction": 0.1, "min_trades": 4}, [300.0, -50.0, 100.0, -150.0]) == pytest.approx(2.0)


def test_kelly_falls_back_to_the_floor_until_min_trades():
    assert kelly_risk_pct({"fraction": 0.5}, HISTORY[:29]) == 0.5  # default floor, 29 < 30 trades
    assert kelly_risk_pct({"fraction": 0.5, "floor_risk_pct": 0.25}, []) == 0.25
    assert kelly_risk_pct({"fraction": 0.1, "min_trades": 10, "max_risk_pct": 5.0}, HISTORY[:10]) == \
        pytest.approx(2.5)
    assert kelly_risk_pct({"fraction": 0.5, "floor_risk_pct": 3.0, "max_risk_pct": 1.0}, []) == 1.0  # cap wins


def test_kelly_breakeven_trades_count_for_nothing():
    assert kelly_risk_pct({"fraction": 0.5}, HISTORY[:20] + [0.0] * 50) == 0.5  # still only 20 trades


def test_kelly_without_losses_uses_the_win_rate():
    # No loss: R is infinite, Kelly = W = 1 → fraction 0.01 × 100 % = 1 %.
    assert kelly_risk_pct({"fraction": 0.01, "min_trades": 5}, [10.0] * 5) == pytest.approx(1.0)


def test_kelly_without_edge_is_refused():
    # W = 0.4, R = 1 → Kelly = 0.4 − 0.6 = −0.2.
    with pytest.raises(SizingError, match="no edge"):
        kelly_risk_pct({"fraction": 0.5, "min_trades": 10}, [100.0] * 4 + [-100.0] * 6)
    with pytest.raises(SizingError, match="no edge"):
        kelly_risk_pct({"fraction": 0.5, "min_trades": 3}, [-1.0] * 3)


def test_kelly_sizes_lots_through_the_stop(info):
    # Risk 2.5 % of 8 000 = 200 USD; 20-pip EURUSD stop = 200 USD per lot → 1 lot.
    sizing = {"method": "kelly_criterion", "fraction": 0.1, "max_risk_pct": 5.0}
    result = compute_size(sizing, info["EURUSD"], balance=8_000.0, stop_pips=20, trades=HISTORY)
    assert result.volume == 1.0 and result.risk_pct == pytest.approx(2.5)
    # Without history: the 0.5 % floor → 45 USD on 9 000 / 200 = 0.225 → 0.22 (rounded down).
    assert size_position(sizing, info["EURUSD"], balance=9_000.0, stop_pips=20) == 0.22


# -------------------------------------------------------- volatility_based ---
def test_volatility_based_with_atr(info):
    # 1 % of 10 000 = 100 USD per ATR; ATR 0.0010 on EURUSD = 100 ticks × 1 USD = 100 USD per lot → 1 lot.
    sizing = {"method": "volatility_based", "target_vol_pct": 1.0}
    assert size_position(sizing, info["EURUSD"], balance=10_000.0, atr=0.0010) == 1.0
    # Gold: ATR 12.5 = 1 250 ticks × 1 USD per lot → 100 / 1 250 = 0.08 lots.
    assert size_position(sizing, info["XAUUSD"], balance=10_000.0, atr=12.5) == 0.08


def test_volatility_based_with_the_stdev_of_returns(info):
    # σ 0.2 % × 150 = 0.30 JPY = 300 ticks × 100/150 USD = 200 USD per lot; 2 % of 10 000 = 200 → 1 lot.
    sizing = {"method": "volatility_based", "target_vol_pct": 2.0}
    assert size_position(sizing, info["USDJPY"], balance=10_000.0, returns_stdev=0.002, price=150.0) == 1.0


def test_volatility_based_needs_a_volatility(info):
    with pytest.raises(SizingError, match="ATR"):
        size_position({"method": "volatility_based", "target_vol_pct": 1.0}, info["EURUSD"], balance=10_000.0)


def test_fixed_ignores_the_risk_inputs(info):
    assert size_position({"method": "fixed", "lots": 0.3}, info["EURUSD"], balance=1.0, stop_pips=1) == 0.3
