"""Every retcode of test_trade_server_retcodes.py again, but asked over the real bridge.

The test plays the executor: a ROUTER bound for CTL and a SUB bound for MD (once for the
module), answering each simulated terminal's `hello` with `hello_ack` and pinging so the
dead-man switch never refuses trading. Each case gets a fresh SimTerminal (its own login,
so its own routing id): the trigger's setup runs on `sim.server` before `start()` (never
from this thread while the terminal's loop runs), the terminal's clock is a ManualClock
pinned to the server time the setup left, and its feed is an empty ReplayFeed, so no price
moves unless a case says so. The trigger request then goes out as a msgpack `order_check`
/ `order_send` on CTL, and the reply's `data.retcode` (or `error[0]`) must be the retcode.
"""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests.test_sim_terminal import Executor as SocketsOfTheExecutor

from bridge import mt5, protocol
from bridge.history.replay_feed import ReplayFeed
from bridge.sim.clock import ManualClock
from bridge.sim.terminal import SimTerminal
from retcode_triggers import INVALID_PARAMS, TRIGGERS, T0, Trigger, build, server_options
from test_trade_server import buy

WAIT_S = 3.0
PING_EVERY_S = 0.5
DEAD_MAN_S = 3.0
FIRST_LOGIN = 7_200_000

Message = dict[str, Any]


class ExecutorSide(SocketsOfTheExecutor):
    """The executor's end of the bridge (the sockets of test_sim_terminal's), per-case sessions."""

    def __init__(self) -> None:
        super().__init__()
        self._ids = itertools.count(1)

    def close(self) -> None:
        self.router.close(0)
        self.sub.close(0)
        self.context.term()

    def ctl_until(self, login: int, wanted: Callable[[Message], bool], timeout_s: float = WAIT_S) -> Message:
        """The first CTL message from terminal `login` that `wanted`; others (events, leftovers
        of earlier cases' terminals) are skipped."""
        identity = protocol.routing_id(login)
        deadline = time.monotonic() + timeout_s
        while (left_ms := int((deadline - time.monotonic()) * 1000)) > 0:
            if not self.router.poll(left_ms):
                break
            sender, payload = self.router.recv_multipart()
            if sender != identity:
                continue
            message = protocol.unpack(payload)
            if wanted(message):
                return message
        raise AssertionError(f"no matching CTL message from {login} within {timeout_s} s")

    def request(self, login: int, type_: str, **fields: Any) -> Message:
        number = next(self._ids)
        request_id = f"rq-{number}"
        message = {"v": protocol.VERSION, "type": type_, "id": request_id, "seq": number,
                   "ts": protocol.now_ms(), "boot": "executor", "term": 0, **fields}
        self.router.send_multipart([protocol.routing_id(login), protocol.pack(message)])
        return self.ctl_until(login, lambda m: protocol.is_reply(m) and m["id"] == request_id)


class Link:
    """One handshaken simulated terminal, seen from the executor; pings before trading."""

    def __init__(self, side: ExecutorSide, sim: SimTerminal) -> None:
        self.side, self.sim, self.login = side, sim, sim.login
        hello = side.ctl_until(self.login, lambda m: m["type"] == protocol.HELLO)
        assert hello["boot"] == sim.boot and hello["account"]["login"] == self.login
        assert side.request(self.login, protocol.HELLO_ACK)["ok"]
        self._last_ping = 0.0
        self.ping()

    def ping(self) -> None:
        reply = self.side.request(self.login, protocol.PING)
        assert reply["ok"], reply
        self._last_ping = time.monotonic()

    def request(self, type_: str, **fields: Any) -> Message:
        if time.monotonic() - self._last_ping >= PING_EVERY_S:  # keep the dead-man switch fed
            self.ping()
        return self.side.request(self.login, type_, **fields)

    def trade(self, type_: str, request: dict[str, Any]) -> Message:
        return self.request(type_, request=request)


@pytest.fixture(scope="module")
def side() -> Iterator[ExecutorSide]:
    executor = ExecutorSide()
    yield executor
    executor.close()


_logins = itertools.count(FIRST_LOGIN)


@pytest.fixture
def connect(side: ExecutorSide) -> Iterator[Callable[..., tuple[Link, dict[str, Any]]]]:
    """connect(trigger) -> (link, request): a terminal set up for `trigger`, started and handshaken."""
    started: list[SimTerminal] = []

    def start(trigger: Trigger, feed: ReplayFeed | None = None) -> tuple[Link, dict[str, Any]]:
        terminal_args, options = server_options(trigger)
        clock = ManualClock(T0)
        sim = SimTerminal(ctl_endpoint=side.ctl_endpoint, md_endpoint=side.md_endpoint, login=next(_logins),
                          clock=clock, feed=feed or ReplayFeed(), history_minutes=0, server_options=options,
                          dead_man_s=DEAD_MAN_S, **terminal_args)
        _, request = build(trigger, sim.server)  # before start: this thread still owns the server
        clock.set(max(T0, sim.server.server_time_ms))  # the time the pure test's server is at
        started.append(sim.start())
        return Link(side, sim), request

    yield start
    for sim in started:
        sim.stop()


def _expect(link: Link, trigger: Trigger, request: dict[str, Any]) -> Message | None:
    if trigger.error:
        for call in (protocol.ORDER_CHECK, protocol.ORDER_SEND):
            reply = link.trade(call, request)
            assert reply["ok"] is False and reply["error"][0] == trigger.retcode, reply
        return None
    if trigger.check or trigger.call == protocol.ORDER_CHECK:
        reply = link.trade(protocol.ORDER_CHECK, request)
        assert reply["ok"], reply
        assert reply["data"]["retcode"] == trigger.check_retcode, reply["data"]["comment"]
        if trigger.call == protocol.ORDER_CHECK:
            assert reply["data"]["comment"] == ("Done" if trigger.retcode == 0 else mt5.retcode_text(trigger.retcode))
            return reply
    reply = link.trade(protocol.ORDER_SEND, request)
    assert reply["ok"], reply
    data = reply["data"]
    assert data["retcode"] == trigger.retcode, data["comment"]
    assert data["comment"] == ("Request executed" if trigger.retcode == mt5.TRADE_RETCODE_DONE
                               else mt5.retcode_text(trigger.retcode))
    return reply


@pytest.mark.parametrize("trigger", [*TRIGGERS, INVALID_PARAMS], ids=lambda t: t.id)
def test_retcode_over_ctl(connect, trigger: Trigger) -> None:
    link, request = connect(trigger)
    _expect(link, trigger, request)


def test_every_retcode_of_the_pure_tests_has_a_socket_case() -> None:
    pure = Path(__file__).with_name("test_trade_server_retcodes.py").read_text()
    reached = {int(code) for code in re.findall(r"^def test_(\d{5})_", pure, re.MULTILINE)}
    assert reached == {trigger.retcode for trigger in TRIGGERS} - {0}  # 0: order_check's success
    assert len(reached) >= 30  # the parse found the tests at all


@pytest.mark.parametrize("trigger", TRIGGERS, ids=lambda t: t.id)
def test_the_trigger_table_matches_the_pure_server(trigger: Trigger) -> None:
    """The same setups on a socketless server answer the same (they mirror the pure tests)."""
    server, request = build(trigger)
    if trigger.call == protocol.ORDER_CHECK or trigger.check:
        assert server.order_check(request)["retcode"] == trigger.check_retcode
    if trigger.call == protocol.ORDER_SEND:
        assert server.order_send(request)["retcode"] == trigger.retcode


# --- the same triggers with the state built over the wire as well ---

def test_10029_frozen_quote_moved_by_the_feed_while_the_terminal_runs(connect) -> None:
    """The position is opened over CTL and the price is moved by the terminal's own loop
    (ReplayFeed, drained in its thread): nothing touches the server from this thread."""
    feed = ReplayFeed()
    audusd = Trigger("10029-feed", mt5.TRADE_RETCODE_FROZEN,
                     lambda s: s.on_quote("AUDUSD", T0, 0.66000, 0.66012) or {}, quoted=("EURUSD",))
    link, _ = connect(audusd, feed)
    opened = link.trade(protocol.ORDER_SEND, buy("AUDUSD", sl=0.65970))["data"]
    assert opened["retcode"] == mt5.TRADE_RETCODE_DONE, opened
    feed.push([("AUDUSD", T0 + 1000, 0.65975, 0.65987)])  # bid 5 points above the SL, freeze 10
    assert feed.wait_drained(WAIT_S)
    position = {"action": mt5.TRADE_ACTION_SLTP, "symbol": "AUDUSD", "position": opened["order"], "sl": 0.65900}
    # wait_drained returns once the loop took the tick; the same loop step hands it to the
    # server before the next CTL request is read, so the next request already sees it.
    assert link.trade(protocol.ORDER_CHECK, position)["data"]["retcode"] == mt5.TRADE_RETCODE_FROZEN
    assert link.trade(protocol.ORDER_SEND, position)["data"]["retcode"] == mt5.TRADE_RETCODE_FROZEN


def test_10024_rate_limit_counts_requests_that_arrive_over_ctl(connect) -> None:
    limited = Trigger("10024-wire", mt5.TRADE_RETCODE_TOO_MANY_REQUESTS,
                      lambda s: setattr(s.faults, "rate_limit_per_s", 2) or buy())
    link, request = connect(limited)
    retcodes = [link.trade(protocol.ORDER_SEND, request)["data"]["retcode"] for _ in range(3)]
    assert retcodes == [mt5.TRADE_RETCODE_DONE, mt5.TRADE_RETCODE_DONE, mt5.TRADE_RETCODE_TOO_MANY_REQUESTS]
    positions = link.request(protocol.POSITIONS_GET)["data"]
    assert len(positions) == 2


def test_10012_timeout_over_ctl_the_trade_stands_and_reconciles(connect) -> None:
    link, _ = connect(Trigger("10012-wire", mt5.TRADE_RETCODE_TIMEOUT,
                              lambda s: setattr(s.faults, "timeout_after_fill", 1) or buy()))
    data = link.trade(protocol.ORDER_SEND, buy(magic=77, comment="coid-1"))["data"]
    assert (data["retcode"], data["order"], data["deal"]) == (mt5.TRADE_RETCODE_TIMEOUT, 0, 0)
    (position,) = link.request(protocol.POSITIONS_GET)["data"]
    assert (position["magic"], position["comment"]) == (77, "coid-1")
