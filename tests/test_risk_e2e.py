"""Risk through the whole executor: sizing from real symbol properties, refusals, the automatic
kill switch."""

from __future__ import annotations

import pytest

from tests.conftest import wait_for


def test_one_percent_risk_with_a_20_pip_stop_on_10000_usd_is_half_a_lot_of_eurusd(executor):
    opened = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "sl_pips": 20,
                                           "sizing": {"method": "percentage_risk", "risk_pct": 1.0}})
    assert opened["volume"] == 0.5
    [position] = executor.sim.server.positions_get(ticket=opened["ticket"])
    # 20 pips below the quote the order was priced at, which the fill may differ from by a point or two.
    assert abs(position["sl"] - (opened["price"] - 0.0020)) < 0.0001
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


def test_a_daily_loss_breach_flattens_and_locks_the_account(executor):
    login = executor.status()["accounts"][0]["login"]
    # 0.01 % of 10 000 USD is 1 USD: the spread of one lot is already more than that.
    executor.ok("UPDATE_RISK_LIMITS", {"limits": {"max_daily_loss_pct": 0.01, "max_lot_size": 1.0}})
    executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 1.0})
    status = wait_for(lambda: (s := executor.status())["kill_switch"]["active"] and s, timeout=15,
                      message="the automatic kill switch")
    assert status["kill_switch"]["reason"].startswith(f"account {login}: ")
    assert "daily loss" in status["kill_switch"]["reason"]
    wait_for(lambda: executor.sim.server.positions_get() == [], message="the account to be flat")
    refused = executor.request("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
    assert refused["error"]["code"] == "TRADING_LOCKED"
