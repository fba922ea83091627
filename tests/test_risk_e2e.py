"""Risk through the whole executor: sizing from real symbol properties, refusals, the automatic
kill switch."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from tests.conftest import wait_for


def test_one_percent_risk_with_a_20_pip_stop_on_10000_usd_is_half_a_lot_of_eurusd(executor):
    opened = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "sl_pips": 20,
                                           "sizing": {"method": "percentage_risk", "risk_pct": 1.0}})
    assert opened["volume"] == 0.5
    [position] = executor.sim.server.positions_get(ticket=opened["ticket"])
    # 20 pips below the quote the order was priced at; under a 600x simulator the fill may slip from
    # that quote, so compare with the price the journaled request carried.
    def journaled_request():  # the fill's ticket is written to the intent by the Journal actor, soon after
        with sqlite3.connect(f"file:{executor.config.data_dir / 'journal.sqlite3'}?mode=ro", uri=True) as db:
            rows = db.execute("SELECT request FROM order_intents WHERE order_ticket = ?", (opened["ticket"],))
            return [json.loads(r) for (r,) in rows]
    [request] = wait_for(journaled_request, message="the journaled order with its ticket")
    assert position["sl"] == pytest.approx(request["price"] - 0.0020, abs=1e-9)
    # The same money at risk buys another volume of USDJPY: a pip there is worth 1000 JPY per lot,
    # about 6.7 USD at 150, so 100 USD over 20 pips is 0.75 lots (rounded down to the step).
    wait_for(lambda: executor.service.board.get(f"quote:{executor.status()['accounts'][0]['login']}:USDJPY"),
             message="a USDJPY quote")
    yen = executor.ok("OPEN_POSITION", {"symbol": "USDJPY", "side": "buy", "sl_pips": 20,
                                        "sizing": {"method": "percentage_risk", "risk_pct": 1.0}})
    [position] = executor.sim.server.positions_get(ticket=yen["ticket"])
    expected = 100.0 / (20 * 0.01 * 100_000 / position["price_open"])
    assert yen["volume"] == pytest.approx(int(expected * 100) / 100, abs=0.011)


def test_risk_sizing_without_a_stop_is_refused_with_the_reason(executor):
    refused = executor.request("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy",
                                                 "sizing": {"method": "percentage_risk", "risk_pct": 1.0}})
    assert refused["error"]["code"] == "RISK_REJECTED"
    assert "stop" in refused["error"]["message"]
    assert executor.sim.server.positions_get() == []


def test_max_positions_two_refuses_the_third_naming_the_limit(executor):
    executor.ok("UPDATE_RISK_LIMITS", {"limits": {"max_positions": 2}})
    for side in ("buy", "sell"):
        executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": side, "volume": 0.1})
    third = executor.request("OPEN_POSITION", {"symbol": "GBPUSD", "side": "buy", "volume": 0.1})
    assert third["error"]["code"] == "RISK_REJECTED"
    assert any("max_positions 2" in reason for reason in third["error"]["details"]["reasons"])
    assert len(executor.sim.server.positions_get()) == 2


def test_a_daily_loss_breach_halts_flattens_and_locks_the_account(executor):
    login = executor.status()["accounts"][0]["login"]
    executor.ok("START_STRATEGY", {"strategy_id": "s1", "strategy": {
        "name": "never", "symbol": "EURUSD", "timeframe": "M1",
        "rules": {"entry_long": "close < 0", "exit_long": "close < 0"}}})
    # 0.01 % of 10 000 USD is 1 USD: the spread of one lot is already more than that.
    executor.ok("UPDATE_RISK_LIMITS", {"limits": {"max_daily_loss_pct": 0.01, "max_lot_size": 1.0}})
    executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 1.0})
    account = wait_for(lambda: next((a for a in executor.status()["accounts"] if a["trading_state"] == "HALTED"),
                                    None), timeout=15, message="the breach to halt the account")
    assert account["trading_state_reason"].startswith("daily loss")
    assert account["locked_until"] > time.time() * 1000 + 3000 * 1000  # the kill switch's hour
    # Only this account is halted: the kill switch itself stays off.
    assert executor.status()["kill_switch"]["active"] is False
    wait_for(lambda: executor.sim.server.positions_get() == [], message="the account to be flat")
    wait_for(lambda: executor.status()["strategies"][0]["state"] == "stopped", message="its strategy to stop")
    refused = executor.request("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
    assert refused["error"]["code"] == "TRADING_LOCKED"  # halted under the breach's lock
    assert refused["error"]["details"]["locked_until"] == account["locked_until"]
    assert any(r.startswith("account is HALTED (daily loss") for r in refused["error"]["details"]["reasons"])
    again = executor.request("SET_TRADING_STATE", {"state": "ACTIVE"})
    assert again["error"]["code"] == "TRADING_LOCKED"
    assert again["error"]["details"]["locked_until"] == account["locked_until"]
    # The halt and its lock survive a restart.
    executor.restart()
    executor.wait_connected()
    [after] = executor.status()["accounts"]
    assert (after["login"], after["trading_state"], after["locked_until"]) == (login, "HALTED", account["locked_until"])
