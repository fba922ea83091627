"""Sizing methods through the whole executor: ATR, volatility and Kelly sizes from the
strategy's own bars and closed trades, checked against TA-Lib's ATR of the simulator's bars
and the symbol's tick value."""

from __future__ import annotations

import json
import math
import sqlite3

import numpy as np
import talib

from tests.conftest import wait_for

ALWAYS_LONG = {"name": "always-long", "symbol": "EURUSD", "timeframe": "M1", "rules": {"entry_long": "close > 0"}}


def start(executor, strategy_id: str, settings: dict) -> dict:
    executor.ok("START_STRATEGY", {"strategy_id": strategy_id, "strategy": {**ALWAYS_LONG, "settings": settings}})
    ticket = wait_for(lambda: next((p["ticket"] for p in executor.status()["positions"]
                                    if p["strategy_id"] == strategy_id), None), timeout=20, message="the entry")
    [position] = executor.sim.server.positions_get(ticket=ticket)
    return position


def atr_at_signal(executor, strategy_id: str, period: int = 14) -> list[float]:
    """TA-Lib's ATR of the simulator's M1 bars at the bar the strategy acted on (its last
    signal, on the board), and at the bars on either side (a tick at a bar's edge may land on
    either side of it). Not the bars before the fill: under load the fill, and this check,
    may come many 100 ms bars (600x) after the signal."""
    signal_ms = wait_for(lambda: (executor.service.board.get(f"strategy:{strategy_id}") or {}).get("last_signal"),
                         message="the strategy's signal")["time"]
    # Read from another thread while the terminal runs: wait until the bars of interest are
    # two bars old, then skip the forming bar and the newest closed one (they may be mid-update).
    wait_for(lambda: executor.sim.clock.now_ms() > signal_ms + 3 * 60_000, message="two more bars")
    rates = executor.sim.market.copy_rates_from_pos("EURUSD", "M1", 2, 2000)
    times_ms = np.asarray(rates["time"], dtype=np.int64)  # the simulator keeps bar times in ms
    atr = talib.ATR(*(np.asarray(rates[k], dtype=float) for k in ("high", "low", "close")), timeperiod=period)
    at = int(np.searchsorted(times_ms, signal_ms))
    assert at < len(times_ms) and times_ms[at] == signal_ms, "the signal bar is in the simulator's history"
    return [float(a) for a in atr[max(0, at - 1):at + 2] if a == a]


def value_per_lot(executor, move: float) -> float:
    login = executor.status()["accounts"][0]["login"]
    symbol = executor.service.board.get(f"symbols:{login}")["EURUSD"]
    return move / symbol["trade_tick_size"] * symbol["trade_tick_value_loss"]


def lots(money: float, per_lot: float) -> float:
    """Rounded down to the 0.01 step and clamped to the demo account's max_lot_size of 1 lot."""
    return min(1.0, math.floor(money / per_lot / 0.01 + 1e-9) * 0.01)


def test_atr_based_sizing_sets_the_stop_at_k_atr_and_risks_the_percentage(executor):
    position = start(executor, "atr", {"sizing": {"method": "atr_based", "risk_pct": 0.2, "atr_mult": 2.0}})
    # The stop as the order asked for it (the fill may slip a few points from that price).
    with sqlite3.connect(f"file:{executor.config.data_dir / 'journal.sqlite3'}?mode=ro", uri=True) as db:
        [(request,)] = db.execute("SELECT request FROM order_intents WHERE strategy_id = 'atr'").fetchall()
    request = json.loads(request)
    stop = request["price"] - request["sl"]
    assert abs(position["sl"] - request["sl"]) < 1e-9
    # 0.2 % of 10 000 USD over a stop of 2 ATR, the ATR of the bar the strategy acted on.
    candidates = atr_at_signal(executor, "atr")
    matches = [a for a in candidates
               if abs(position["volume"] - lots(20.0, value_per_lot(executor, 2 * a))) < 1e-9
               and abs(stop - 2 * a) <= 0.6 * 0.00001]  # the SL is rounded to the symbol's 5 digits
    assert matches, (position["volume"], stop, candidates)
    assert 0.01 < position["volume"] < 1.0  # not clamped: the size says something


def test_volatility_based_sizing_moves_the_position_by_the_target_per_atr(executor):
    position = start(executor, "vol", {"sizing": {"method": "volatility_based", "target_vol_pct": 0.1}})
    candidates = [lots(10.0, value_per_lot(executor, a)) for a in atr_at_signal(executor, "vol")]
    assert all(0.01 < c < 1.0 for c in candidates)
    assert any(abs(position["volume"] - c) <= 1e-9 for c in candidates), (position["volume"], candidates)
    assert position["sl"] == 0.0  # no stop asked for


KELLY = {"method": "kelly_criterion", "fraction": 0.02, "max_risk_pct": 3.0, "min_trades": 30}


def test_kelly_sizes_from_the_strategys_own_closed_trades_and_floors_without_them(executor_factory):
    executor = executor_factory()
    executor.wait_connected()
    executor.stop()
    # 30 closed trades of strategy "edge": 20 wins of 20 USD, 10 losses of 10 USD. Win rate 2/3,
    # payoff 2: Kelly = 2/3 - (1/3)/2 = 0.5; a 0.02 fraction risks 1 % of the capital.
    with sqlite3.connect(executor.config.data_dir / "journal.sqlite3") as db:
        db.executemany("INSERT INTO trades (account, ticket, strategy_id, symbol, side, volume, open_time, "
                       "open_price, close_time, close_price, profit, reason) VALUES (1, ?, 'edge', 'EURUSD', "
                       "'buy', 0.1, ?, 1.1, ?, 1.1, ?, 'test')",
                       [(n, n * 1000, n * 1000 + 500, 20.0 if n % 3 else -10.0) for n in range(1, 31)])
    executor.restart()
    executor.wait_connected()
    settings = {"sizing": KELLY, "stop_loss": {"pips": 19}}
    # 1 % of 10 000 USD over 19 pips of EURUSD (10 USD a pip per lot): 0.526 -> 0.52 lots.
    assert start(executor, "edge", settings)["volume"] == 0.52
    # A strategy without 30 closed trades risks the floor, 0.5 %: 0.263 -> 0.26 lots (of the
    # equity, which the first position's spread has just lowered by a little).
    assert start(executor, "fresh", settings)["volume"] == 0.26
