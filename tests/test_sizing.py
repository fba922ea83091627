"""Sizing and price distances from a symbol's properties (actors/account/sizing.py)."""

from __future__ import annotations

import pytest

from actors.account.sizing import SizingError, pip_size, round_volume, size_position, stop_prices

EURUSD = {"name": "EURUSD", "digits": 5, "point": 0.00001, "volume_min": 0.01, "volume_max": 100.0,
          "volume_step": 0.01}
USDJPY = {"name": "USDJPY", "digits": 3, "point": 0.001, "volume_min": 0.01, "volume_max": 100.0,
          "volume_step": 0.01}
XAUUSD = {"name": "XAUUSD", "digits": 2, "point": 0.01, "volume_min": 0.01, "volume_max": 50.0,
          "volume_step": 0.01}
US500 = {"name": "US500", "digits": 1, "point": 0.1, "volume_min": 0.1, "volume_max": 20.0,
         "volume_step": 0.1}


# ------------------------------------------------------------------- pip_size ---
@pytest.mark.parametrize(("symbol", "pip"), [
    (EURUSD, 0.0001),  # 5 digits: fractional pips, a pip is 10 points
    (USDJPY, 0.01),    # 3 digits: same
    (XAUUSD, 0.01),    # 2 digits: a pip is one point
    (US500, 0.1),
], ids=["5-digits", "3-digits", "2-digits", "1-digit"])
def test_pip_size(symbol, pip):
    assert pip_size(symbol) == pytest.approx(pip, rel=1e-12)


def test_pip_size_reads_string_digits_and_point():
    assert pip_size({"digits": "5", "point": "0.00001"}) == pytest.approx(0.0001)


# --------------------------------------------------------------- round_volume ---
def test_round_volume_rounds_down_to_step():
    assert round_volume(0.129, EURUSD) == 0.12
    assert round_volume(0.1299999, EURUSD) == 0.12
    assert round_volume(1.999, EURUSD) == 1.99


def test_round_volume_keeps_a_valid_volume_despite_float_error():
    assert 0.29 / 0.01 < 29 and 0.57 / 0.01 < 57  # the float error the epsilon exists for
    assert round_volume(0.3, EURUSD) == 0.3
    assert round_volume(0.29, EURUSD) == 0.29
    assert round_volume(0.57, EURUSD) == 0.57
    assert round_volume(0.7, US500) == 0.7  # 0.7 / 0.1 = 6.999999999999999


def test_round_volume_keeps_every_exact_step():
    # Every multiple of the step from the minimum to 20 lots comes back unchanged.
    for k in range(1, 2001):
        volume = round(k * 0.01, 2)
        assert round_volume(volume, EURUSD) == volume, volume


def test_round_volume_with_a_coarse_step():
    assert round_volume(0.15, US500) == 0.1
    assert round_volume(0.7, US500) == 0.7
    assert round_volume(2.99, US500) == 2.9


def test_round_volume_clamps_to_volume_max():
    assert round_volume(500.0, EURUSD) == 100.0
    assert round_volume(51.0, XAUUSD) == 50.0


def test_round_volume_clamps_to_max_lot():
    assert round_volume(5.0, EURUSD, max_lot=1.0) == 1.0
    assert round_volume(0.5, EURUSD, max_lot=1.0) == 0.5  # under the cap: untouched
    assert round_volume(5.0, EURUSD, max_lot=0.555) == 0.55  # the cap is also rounded down to the step


def test_round_volume_uses_the_smaller_of_volume_max_and_max_lot():
    assert round_volume(500.0, EURUSD, max_lot=200.0) == 100.0
    assert round_volume(500.0, EURUSD, max_lot=3.0) == 3.0


def test_round_volume_accepts_exactly_volume_min():
    assert round_volume(0.01, EURUSD) == 0.01
    assert round_volume(0.1, US500) == 0.1


@pytest.mark.parametrize("volume", [0.0, 0.005, 0.0099, -1.0])
def test_round_volume_refuses_below_volume_min(volume):
    with pytest.raises(SizingError) as err:
        round_volume(volume, EURUSD)
    message = str(err.value)
    assert "EURUSD" in message
    assert "minimum" in message


def test_round_volume_refuses_when_rounding_falls_below_volume_min():
    # 0.19 lots on a 0.1 step with a 0.2 minimum rounds to 0.1: refused, never bumped up.
    symbol = {**US500, "volume_min": 0.2}
    with pytest.raises(SizingError, match="US500"):
        round_volume(0.19, symbol)
    assert round_volume(0.29, symbol) == 0.2


def test_round_volume_refuses_when_max_lot_is_below_volume_min():
    with pytest.raises(SizingError, match="XAUUSD"):
        round_volume(1.0, XAUUSD, max_lot=0.001)


# -------------------------------------------------------------- size_position ---
def test_size_position_fixed():
    assert size_position({"method": "fixed", "lots": 0.1}, EURUSD) == 0.1
    assert size_position({"method": "fixed", "lots": 0.129}, EURUSD) == 0.12


def test_size_position_defaults_to_fixed():
    assert size_position({"lots": 0.3}, EURUSD) == 0.3


def test_size_position_fixed_respects_limits():
    assert size_position({"method": "fixed", "lots": 2.0}, EURUSD, max_lot=0.5) == 0.5
    assert size_position({"method": "fixed", "lots": 1000}, EURUSD) == 100.0
    with pytest.raises(SizingError, match="EURUSD"):
        size_position({"method": "fixed", "lots": 0.001}, EURUSD)


def test_size_position_unknown_method_is_refused_by_name():
    with pytest.raises(SizingError, match="martingale"):
        size_position({"method": "martingale", "lots": 0.1}, EURUSD)


def test_sizing_error_is_a_value_error():
    assert issubclass(SizingError, ValueError)


# ---------------------------------------------------------------- stop_prices ---
def test_stop_prices_buy_sl_and_tp_pips():
    sl, tp = stop_prices("buy", 1.10000, EURUSD, sl_pips=20, tp_pips=40)
    assert sl == pytest.approx(1.09800, abs=1e-9)
    assert tp == pytest.approx(1.10400, abs=1e-9)
    assert 1.10000 - sl == pytest.approx(0.0020, abs=1e-9)  # 20 pips on 5 digits


def test_stop_prices_sell_sl_and_tp_pips():
    sl, tp = stop_prices("sell", 1.10000, EURUSD, sl_pips=20, tp_pips=40)
    assert sl == pytest.approx(1.10200, abs=1e-9)
    assert tp == pytest.approx(1.09600, abs=1e-9)
    assert sl - 1.10000 == pytest.approx(0.0020, abs=1e-9)


def test_stop_prices_tp_from_risk_reward():
    sl, tp = stop_prices("buy", 1.10000, EURUSD, sl_pips=20, tp_rr=2.0)
    assert sl == pytest.approx(1.09800, abs=1e-9)
    assert tp == pytest.approx(1.10400, abs=1e-9)  # 2 x 20 pips
    sl, tp = stop_prices("sell", 1.10000, EURUSD, sl_pips=20, tp_rr=1.5)
    assert sl == pytest.approx(1.10200, abs=1e-9)
    assert tp == pytest.approx(1.09700, abs=1e-9)  # 1.5 x 20 pips


def test_stop_prices_tp_pips_wins_over_tp_rr():
    _, tp = stop_prices("buy", 1.10000, EURUSD, sl_pips=20, tp_pips=10, tp_rr=3.0)
    assert tp == pytest.approx(1.10100, abs=1e-9)


def test_stop_prices_tp_rr_without_sl_means_no_tp():
    assert stop_prices("buy", 1.10000, EURUSD, tp_rr=2.0) == (0.0, 0.0)


def test_stop_prices_none_means_zero_as_in_mt5():
    assert stop_prices("buy", 1.10000, EURUSD) == (0.0, 0.0)
    sl, tp = stop_prices("buy", 1.10000, EURUSD, sl_pips=20)
    assert tp == 0.0 and sl != 0.0
    sl, tp = stop_prices("sell", 1.10000, EURUSD, tp_pips=20)
    assert sl == 0.0 and tp == pytest.approx(1.09800, abs=1e-9)


def test_stop_prices_are_rounded_to_the_symbol_digits():
    sl, tp = stop_prices("buy", 1.123456789, EURUSD, sl_pips=20, tp_pips=20)
    assert sl == round(sl, 5) and tp == round(tp, 5)
    assert sl == pytest.approx(1.12146, abs=1e-9)
    assert tp == pytest.approx(1.12546, abs=1e-9)


def test_stop_prices_three_digit_symbol():
    sl, tp = stop_prices("buy", 151.234, USDJPY, sl_pips=20, tp_pips=30)
    assert sl == pytest.approx(151.034, abs=1e-9)  # 20 pips = 0.20
    assert tp == pytest.approx(151.534, abs=1e-9)


def test_stop_prices_two_digit_symbol():
    sl, tp = stop_prices("sell", 2350.00, XAUUSD, sl_pips=150, tp_pips=300)
    assert sl == pytest.approx(2351.50, abs=1e-9)  # a pip is one point (0.01)
    assert tp == pytest.approx(2347.00, abs=1e-9)
