"""Smart exits managed by the Account against the simulated terminal."""

from __future__ import annotations

import json
import sqlite3
import time

from tests.conftest import wait_for

ALWAYS_LONG = {"name": "always-long", "symbol": "EURUSD", "timeframe": "M1",
               "rules": {"entry_long": "close > 0"}}


def strategy(settings):
    return {**ALWAYS_LONG, "settings": {"sizing": {"method": "fixed", "lots": 0.2}, "max_positions": 1, **settings}}


def test_a_trailing_stop_follows_a_rising_price_and_never_moves_back(executor):
    executor.ok("START_STRATEGY", {"strategy_id": "trail", "strategy": strategy({
        "stop_loss": {"pips": 100}, "trailing_stop": {"pips": 3, "start_pips": 0}})})
    ticket = wait_for(lambda: next((p["ticket"] for p in executor.status()["positions"]
                                    if p["strategy_id"] == "trail"), None), timeout=20, message="the entry")
    seen: list[float] = []

    def trailed_twice() -> bool:
        positions = executor.sim.server.positions_get(ticket=ticket)
        if positions and (not seen or positions[0]["sl"] != seen[-1]):
            seen.append(positions[0]["sl"])
        return len(set(seen)) >= 3 or not positions
    wait_for(trailed_twice, timeout=30, interval=0.01, message="the stop to trail twice")
    assert seen == sorted(seen), f"the stop loosened: {seen}"  # a long's stop only ever rises
    assert len(set(seen)) >= 2


def test_a_partial_exit_closes_half_and_keeps_the_ticket(executor):
    executor.ok("START_STRATEGY", {"strategy_id": "part", "strategy": strategy({
        "stop_loss": {"pips": 200}, "partial_exits": [{"at_pips": 1, "close_pct": 50}]})})
    ticket = wait_for(lambda: next((p["ticket"] for p in executor.status()["positions"]
                                    if p["strategy_id"] == "part"), None), timeout=20, message="the entry")
    halved = wait_for(lambda: [p for p in executor.sim.server.positions_get(ticket=ticket) if p["volume"] == 0.1],
                      timeout=30, message="the partial exit")
    assert halved[0]["ticket"] == ticket  # MT5 keeps the ticket on a partial close
    deals = executor.sim.server.history_deals_get(position=ticket)
    assert [(d["entry"], d["volume"]) for d in deals] == [(0, 0.2), (1, 0.1)]


def exit_events(executor, ticket: int) -> list[dict]:
    with sqlite3.connect(f"file:{executor.config.data_dir / 'journal.sqlite3'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT payload FROM events WHERE type = 'ExitActionTaken'").fetchall()
    return [e for e in (json.loads(p) for (p,) in rows) if e["ticket"] == ticket]


def closed(executor, ticket: int) -> list[dict]:
    """The position's deals once it is closed (the opening and the closing one)."""
    if executor.sim.server.positions_get(ticket=ticket):
        return []
    return executor.sim.server.history_deals_get(position=ticket)


def test_a_time_exit_closes_after_max_bars_closed_bars(executor):
    executor.ok("START_STRATEGY", {"strategy_id": "bars", "strategy": strategy({"time_exit": {"max_bars": 3}})})
    ticket = wait_for(lambda: next((p["ticket"] for p in executor.status()["positions"]
                                    if p["strategy_id"] == "bars"), None), timeout=20, message="the entry")
    opening, closing = wait_for(lambda: closed(executor, ticket), timeout=20, message="the time exit")
    held_ms = closing["time_msc"] - opening["time_msc"]
    assert 2 * 60_000 < held_ms <= 4 * 60_000 + 30_000  # three M1 bars closed after the entry's bar
    # The journal writes the event on its own actor, so it may land just after the close: wait for it.
    events = wait_for(lambda: exit_events(executor, ticket), timeout=10, message="the journaled exit")
    assert [(e["action"], e["reason"]) for e in events] == [("close", "time exit: 3 bars held (max_bars 3)")]


def test_a_time_exit_at_a_time_of_day_closes_at_that_server_time(executor):
    # The simulated server opens at 10:00 (conftest.SIM_START); 11:30 is nine seconds away at 600x,
    # after the entry.
    executor.ok("START_STRATEGY", {"strategy_id": "clock", "strategy": strategy({"time_exit": {"at_time": "11:30"}})})
    ticket = wait_for(lambda: next((p["ticket"] for p in executor.status()["positions"]
                                    if p["strategy_id"] == "clock"), None), timeout=20, message="the entry")
    opening, closing = wait_for(lambda: closed(executor, ticket), timeout=20, message="the time exit")
    opened, shut = (time.gmtime(deal["time_msc"] / 1000 + 7200) for deal in (opening, closing))
    assert (opened.tm_hour, opened.tm_min) < (11, 30)
    assert (shut.tm_hour, shut.tm_min) in ((11, 30), (11, 31))
    events = wait_for(lambda: exit_events(executor, ticket), timeout=10, message="the journaled exit")
    assert [e["reason"] for e in events] == ["time exit: at_time 11:30"]


def test_breakeven_moves_the_stop_to_the_entry_once_the_trigger_is_reached(executor):
    executor.ok("START_STRATEGY", {"strategy_id": "be", "strategy": strategy({
        "stop_loss": {"pips": 100}, "breakeven": {"trigger_pips": 1, "offset_pips": 0.5}})})
    ticket = wait_for(lambda: next((p["ticket"] for p in executor.status()["positions"]
                                    if p["strategy_id"] == "be"), None), timeout=20, message="the entry")
    [position] = executor.sim.server.positions_get(ticket=ticket)
    assert position["sl"] < position["price_open"] - 0.009  # 100 pips below at first
    # Once moved, the stop may be hit at once (1 pip of profit is little): read the journal.
    [event] = wait_for(lambda: exit_events(executor, ticket), timeout=30, message="the move to breakeven")
    assert event["action"] == "modify_stops" and event["reason"] == "breakeven + 0.5 pips"
    assert event["sl"] == round(position["price_open"] + 0.00005, 5)  # entry + 0.5 pip
    still_open = executor.sim.server.positions_get(ticket=ticket)
    if still_open:
        wait_for(lambda: (now := executor.sim.server.positions_get(ticket=ticket)) == [] or now[0]["sl"] == event["sl"],
                 message="the terminal to show the new stop")
    else:  # stopped out at the breakeven stop, not 100 pips down
        closing = executor.sim.server.history_deals_get(position=ticket)[-1]
        assert closing["price"] >= event["sl"] - 0.0005
