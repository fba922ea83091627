"""Injected faults at the simulated trade server, and how the executor reacts (RELIABILITY.md:
retry-safe codes are retried, uncertain ones reconciled, final ones reported)."""

from __future__ import annotations

from tests.conftest import wait_for


def order_tickets(executor):
    return [o["ticket"] for o in executor.sim.server.history_orders_get()]


def test_a_timeout_after_the_fill_leaves_exactly_one_position_and_no_second_order(executor):
    executor.sim.server.faults.timeout_after_fill = 1
    opened = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.3})
    positions = executor.sim.server.positions_get()
    assert [p["ticket"] for p in positions] == [opened["ticket"]] and positions[0]["volume"] == 0.3
    assert order_tickets(executor) == [opened["ticket"]]  # found by reconciliation, never resent


def test_a_requote_is_retried_under_the_same_client_order_id(executor):
    executor.sim.server.faults.requotes = 1
    opened = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "sell", "volume": 0.1})
    [position] = executor.sim.server.positions_get()
    assert position["ticket"] == opened["ticket"]
    assert executor.sim.server.faults.requotes == 0  # the first attempt was requoted


def test_too_many_requests_are_retried_with_backoff(executor):
    executor.sim.server.faults.rate_limit_per_s = 1
    first = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
    second = executor.ok("OPEN_POSITION", {"symbol": "GBPUSD", "side": "buy", "volume": 0.1})
    assert {p["ticket"] for p in executor.sim.server.positions_get()} == {first["ticket"], second["ticket"]}


def test_a_dealer_rejection_is_final_and_reported_with_mt5s_text(executor):
    executor.sim.server.faults.rejects = 1
    refused = executor.request("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
    assert refused["error"]["code"] == "BROKER_ERROR" and refused["error"]["details"]["retcode"] == 10006
    assert "Request rejected" in refused["error"]["message"]
    assert executor.sim.server.positions_get() == []


def test_a_lost_trade_server_connection_is_settled_as_never_placed(executor):
    executor.sim.server.connected = False
    refused = executor.request("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
    assert refused["error"]["code"] == "UNAVAILABLE"
    assert "never placed" in refused["error"]["message"]
    executor.sim.server.connected = True
    assert executor.sim.server.positions_get() == []
    reopened = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
    assert [p["ticket"] for p in executor.sim.server.positions_get()] == [reopened["ticket"]]


def test_auto_trading_off_at_the_terminal_is_a_final_refusal(executor):
    executor.sim.trade_allowed = False
    refused = executor.request("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
    assert refused["error"]["code"] == "BROKER_ERROR" and refused["error"]["details"]["retcode"] == 10027
    executor.sim.trade_allowed = True
    executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})


def test_an_ea_restart_is_reconciled_and_trading_goes_on(executor):
    opened = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
    login = executor.status()["accounts"][0]["login"]
    old_boot = executor.service.board.get(f"terminal:{login}")["boot"]
    executor.sim.restart()
    wait_for(lambda: executor.service.board.get(f"terminal:{login}")["boot"] not in ("", old_boot),
             message="the executor to meet the new EA instance")
    wait_for(lambda: executor.service.board.get(f"account:{login}", {}).get("ready"), message="reconciliation")
    assert [p["ticket"] for p in executor.status()["positions"]] == [opened["ticket"]]
    executor.ok("CLOSE_POSITION", {"ticket": opened["ticket"]})
    assert executor.sim.server.positions_get() == []


def test_a_silent_terminal_pauses_order_entry_until_it_is_back(executor):
    login = executor.status()["accounts"][0]["login"]
    executor.sim.stop()  # heartbeats and pong stop: three missed beats mean the link is down
    wait_for(lambda: not executor.status()["accounts"][0]["connected"], timeout=10, message="the link to drop")
    refused = executor.request("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
    assert refused["error"]["code"] == "UNAVAILABLE"
    executor.sim.start()
    wait_for(lambda: executor.service.board.get(f"account:{login}", {}).get("ready"), timeout=15,
             message="the link to come back")
    executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
