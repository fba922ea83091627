"""The time, news and correlation checks acting in the running executor: the RiskGuard reads
the terminal's server clock, its symbols' sessions, its economic calendar and recent closes.

The simulated terminal starts at a fixed server time (conftest.SIM_START: Tuesday 10:00 at
UTC+2) and, where the minute matters, runs at real speed so the server clock stands still
enough for the assertion; the machine's own clock (another day and hour) never enters.
"""

from __future__ import annotations

import json

from bridge.sim.config import parse_start
from tests.conftest import SIM_START, wait_for

MINUTE_MS = 60_000


def market(executor, login: int) -> dict:
    return executor.service.board.get(f"risk:{login}", {}).get("market", {})


def refusal(reply: dict) -> list[str]:
    assert not reply["ok"] and reply["error"]["code"] == "RISK_REJECTED", reply
    return reply["error"]["details"]["reasons"]


def test_no_trade_windows_are_judged_on_the_server_clock(executor_factory):
    executor = executor_factory(sim={"speed": 1.0})
    executor.wait_connected()
    # Server time is 10:00 on the simulated Tuesday, whatever this machine's clock says.
    executor.ok("UPDATE_RISK_LIMITS", {"limits": {"no_trade_windows": [["09:55", "10:30"]]}})
    reasons = refusal(executor.request("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1}))
    assert reasons == ["no new positions between 09:55 and 10:30 server time (no_trade_windows; now 10:00)"]
    executor.ok("UPDATE_RISK_LIMITS", {"limits": {"no_trade_windows": [["10:30", "11:00"]]}})
    executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})


def test_no_entry_in_the_minutes_before_the_weekly_close(executor_factory):
    executor = executor_factory(sim={"speed": 1.0, "start": "2026-11-27T21:50:00Z"})  # Friday 23:50 server time
    login = executor.wait_connected()
    wait_for(lambda: market(executor, login).get("sessions"), message="the symbols' sessions")
    executor.ok("UPDATE_RISK_LIMITS", {"limits": {"session_close_buffer_min": 15}})
    reasons = refusal(executor.request("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1}))
    assert reasons == ["EURUSD's session closes at Sat 00:00 server time, within session_close_buffer_min 15"]
    executor.ok("UPDATE_RISK_LIMITS", {"limits": {"session_close_buffer_min": 5}})
    position = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
    # Closing is never blocked by the clock.
    executor.ok("UPDATE_RISK_LIMITS", {"limits": {"session_close_buffer_min": 15}})
    assert executor.ok("CLOSE_POSITION", {"ticket": position["ticket"]})["closed_volume"] == 0.1


def test_high_impact_news_blanks_its_currencies_only(executor_factory, tmp_path):
    decision = parse_start(SIM_START) + 10 * MINUTE_MS
    calendar = tmp_path / "calendar.json"
    calendar.write_text(json.dumps({"events": [
        {"time": decision, "currency": "EUR", "importance": "high", "name": "ECB rate decision"},
        {"time": decision, "currency": "JPY", "importance": "low", "name": "Machine tool orders"}]}))
    executor = executor_factory(sim={"speed": 1.0, "calendar_file": str(calendar)})
    login = executor.wait_connected()
    wait_for(lambda: market(executor, login).get("news") == 2, message="the calendar")
    executor.ok("UPDATE_RISK_LIMITS", {"limits": {"news_blackout_min": 15}})
    reasons = refusal(executor.request("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1}))
    assert reasons == ["news blackout: high-impact EUR event ECB rate decision in 10 min (news_blackout_min 15)"]
    wait_for(lambda: executor.service.board.get(f"quote:{login}:USDJPY"), message="a USDJPY quote")
    executor.ok("OPEN_POSITION", {"symbol": "USDJPY", "side": "buy", "volume": 0.1})  # low impact: no blackout
    executor.ok("UPDATE_RISK_LIMITS", {"limits": {"news_blackout_min": 5}})
    executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})


def test_correlation_of_recent_closes_refuses_one_side_and_lets_the_hedge_through(executor):
    login = executor.status()["accounts"][0]["login"]
    # The simulator keeps 10 hours of history: M5 closes give the 100-bar window.
    executor.ok("UPDATE_RISK_LIMITS", {"limits": {"correlation_timeframe": "M5"}})
    wait_for(lambda: market(executor, login).get("closes", 0) >= 2, message="recent closes")
    executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
    # Any positive correlation counts at max_correlation 0: of a GBPUSD buy and a GBPUSD sell,
    # one goes the same way as the EURUSD long and is refused, the other hedges it.
    executor.ok("UPDATE_RISK_LIMITS", {"limits": {"max_correlation": 0.0, "correlation_action": "refuse"}})
    replies = {side: executor.request("OPEN_POSITION", {"symbol": "GBPUSD", "side": side, "volume": 0.1})
               for side in ("buy", "sell")}
    refused = [side for side, reply in replies.items() if not reply["ok"]]
    assert len(refused) == 1, replies
    [reason] = refusal(replies[refused[0]])
    assert reason.startswith(f"GBPUSD {refused[0]} correlates ") and "with open EURUSD buy (max_correlation 0)" in reason
    assert len(executor.sim.server.positions_get()) == 2
