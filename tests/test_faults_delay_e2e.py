"""Delayed (not lost) replies from the simulated terminal: held, then sent in order, while
other replies and events overtake them; and what the executor makes of a late `order_send`
answer (RELIABILITY.md: a request that times out is asked again under the same id, the EA
answers a known id from its idempotency cache, so one order is one trade).
"""

from __future__ import annotations

import time

import pytest

from bridge import protocol
from bridge.sim.clock import SimClock
from bridge.trade_server.faults import DelayedReplies
from bridge.sim.terminal import SimTerminal
from tests.conftest import wait_for
from tests.test_sim_terminal import LOGIN, WEDNESDAY_10_UTC, Executor


@pytest.fixture
def side():
    executor = Executor()
    yield executor
    executor.close()


@pytest.fixture
def terminal(side):
    sim = SimTerminal(ctl_endpoint=side.ctl_endpoint, md_endpoint=side.md_endpoint, login=LOGIN, seed=5,
                      clock=SimClock(60.0, WEDNESDAY_10_UTC), history_minutes=60).start()
    side.ctl_until(lambda m: m["type"] == protocol.HELLO)
    yield sim
    sim.stop()


def test_held_replies_come_out_in_order_once_due():
    held = DelayedReplies(count=2, delay_s=1.0, types=frozenset({"ping"}))
    assert not held.hold("order_send", b"other", 0.0)  # not a delayed type
    assert held.hold("ping", b"a", 0.0) and held.hold("ping", b"b", 0.5) and not held.hold("ping", b"c", 0.6)
    assert held.due(0.9) == [] and held.due(1.2) == [b"a"] and held.due(1.5) == [b"b"] and len(held) == 0


def test_a_delayed_reply_is_overtaken_and_still_arrives(side, terminal):
    terminal.delayed.delay_s = 0.6
    terminal.delayed.count = 2
    first, second = side.send("ping"), side.send("ping")
    third = side.send("ping")
    started = time.monotonic()
    arrived = []
    while len(arrived) < 3:
        message = side.ctl_until(lambda m: protocol.is_reply(m) and m["id"] in (first, second, third))
        arrived.append((message["id"], time.monotonic() - started))
    assert [request_id for request_id, _ in arrived] == [third, first, second]  # held ones in their order
    assert arrived[1][1] >= 0.5 and terminal.delayed.count == 0 and len(terminal.delayed) == 0


def test_the_loop_keeps_running_while_a_reply_is_held(side, terminal):
    terminal.delayed.delay_s = 3.0
    terminal.delayed.count = 1
    held = side.send("ping")
    side.md_until(lambda topic, m: topic == b"tick.EURUSD")  # ticks go on
    assert side.request("account_info")["ok"]  # so do other replies
    assert all(m.get("id") != held for m in side.inbox)
    side.ctl_until(lambda m: m.get("id") == held, timeout_s=5.0)


def log_text(tmp_path) -> str:
    path = tmp_path / "logs" / "executor.jsonl"
    return path.read_text() if path.exists() else ""


def order_count(executor) -> int:
    return len(executor.sim.server.history_orders_get()) + len(executor.sim.server.orders_get())


def delay_order_send_replies(executor, seconds: float) -> None:
    delayed = executor.sim.delayed
    delayed.types, delayed.delay_s = frozenset({protocol.ORDER_SEND}), seconds
    delayed.count = 1  # last: the terminal's thread reads the others once this is set


@pytest.mark.timeout(60)
def test_an_order_reply_later_than_the_request_timeout_still_makes_one_trade(executor, tmp_path):
    delay_order_send_replies(executor, protocol.REQUEST_TIMEOUT_S + 2.0)
    opened = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.2})
    # Answered by the status request under the same id, from the terminal's idempotency cache.
    assert [p["ticket"] for p in executor.sim.server.positions_get()] == [opened["ticket"]]
    wait_for(lambda: "asking its status" in log_text(tmp_path), message="the executor to have asked again")
    wait_for(lambda: len(executor.sim.delayed) == 0, timeout=10, message="the held reply to go out")
    wait_for(lambda: [p["ticket"] for p in executor.status()["positions"]] == [opened["ticket"]],
             message="the executor's view of the position")
    assert [p["ticket"] for p in executor.sim.server.positions_get()] == [opened["ticket"]]
    assert order_count(executor) == 1
    # The link is healthy afterwards: the next order goes through at once.
    executor.ok("CLOSE_POSITION", {"ticket": opened["ticket"]})
    assert executor.sim.server.positions_get() == []


@pytest.mark.timeout(60)
def test_a_short_delay_arrives_late_and_is_matched_by_id(executor, tmp_path):
    delay_order_send_replies(executor, 1.0)
    started = time.monotonic()
    opened = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "sell", "volume": 0.1})
    assert time.monotonic() - started >= 0.9  # it waited for the held reply
    assert executor.sim.delayed.count == 0 and len(executor.sim.delayed) == 0
    assert [p["ticket"] for p in executor.sim.server.positions_get()] == [opened["ticket"]]
    assert order_count(executor) == 1
    assert "asking its status" not in log_text(tmp_path)  # the first answer, late, was the one taken
