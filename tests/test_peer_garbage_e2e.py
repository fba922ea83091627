"""Nothing an EA sends crashes an actor. A fake EA stands between the executor and its simulated
terminal, over real sockets: it passes everything on, but answers chosen requests in wrong shapes
and slips garbage of every kind into both channels. The executor refuses each at its boundary,
counts it in STATUS, fails the request it answered at once, logs one line per type, restarts
nothing, and goes on trading."""

from __future__ import annotations

import collections
import math
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import zmq
from loguru import logger

from actors import messages as m
from actors.app import service as service_module
from bridge import protocol
from bridge.shapes.messages import REPLIES
from bridge.sim.config import parse_start
from bridge.sim.terminal import SimTerminal
from tests.conftest import SIM_START, Executor, wait_for

pytestmark = pytest.mark.timeout(120)

LOGIN = 5_000_001
T0 = parse_start(SIM_START)
Corrupt = Callable[[dict[str, Any]], dict[str, Any]]


class FakeEa:
    """An EA in the middle: to the executor it is the EA of account LOGIN (DEALER and PUB that
    connect), to the simulated terminal it is the executor (ROUTER and SUB that bind). Its one
    thread owns all four sockets; tests arm corruptions and queue injections from outside."""

    def __init__(self, executor_ctl: str, executor_md: str) -> None:
        self.context = zmq.Context()
        self.corrupt: dict[str, list[Corrupt]] = collections.defaultdict(list)  # reply type -> next ones
        self.corrupted: collections.Counter[str] = collections.Counter()
        self._injected: collections.deque[tuple[str, list[bytes]]] = collections.deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._endpoints = executor_ctl, executor_md
        self.sim_ctl = self.sim_md = ""
        self._thread = threading.Thread(target=self._run, name="fake-ea", daemon=True)

    def start(self) -> FakeEa:
        self._thread.start()
        assert self._ready.wait(5)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.context.term()

    def corrupt_next(self, reply_type: str, *how: Corrupt) -> None:
        with self._lock:
            self.corrupt[reply_type].extend(how)

    def inject_ctl(self, message: dict[str, Any] | bytes) -> None:
        payload = message if isinstance(message, bytes) else protocol.pack(message)
        with self._lock:
            self._injected.append(("ctl", [payload]))

    def inject_md(self, message: dict[str, Any]) -> None:
        with self._lock:
            self._injected.append(("md", [f"{message['type']}.junk".encode(), protocol.pack(message)]))

    def _run(self) -> None:
        to_executor, md_out = self.context.socket(zmq.DEALER), self.context.socket(zmq.PUB)
        from_sim, md_in = self.context.socket(zmq.ROUTER), self.context.socket(zmq.SUB)
        sockets = (to_executor, md_out, from_sim, md_in)
        for sock in sockets:
            sock.setsockopt(zmq.LINGER, 0)
        to_executor.setsockopt(zmq.ROUTING_ID, protocol.routing_id(LOGIN))
        to_executor.connect(self._endpoints[0])
        md_out.connect(self._endpoints[1])
        md_in.setsockopt(zmq.SUBSCRIBE, b"")
        from_sim.bind("tcp://127.0.0.1:*")
        md_in.bind("tcp://127.0.0.1:*")
        self.sim_ctl = from_sim.getsockopt(zmq.LAST_ENDPOINT).decode()
        self.sim_md = md_in.getsockopt(zmq.LAST_ENDPOINT).decode()
        poller = zmq.Poller()
        for sock in (to_executor, from_sim, md_in):
            poller.register(sock, zmq.POLLIN)
        self._ready.set()
        try:
            while not self._stop.is_set():
                ready = dict(poller.poll(10))
                if to_executor in ready:  # a request: on to the terminal
                    from_sim.send_multipart([protocol.routing_id(LOGIN), *to_executor.recv_multipart()])
                if from_sim in ready:  # a reply or an event: back, perhaps in a wrong shape
                    _, payload = from_sim.recv_multipart()
                    to_executor.send(self._maybe_corrupt(payload))
                if md_in in ready:
                    md_out.send_multipart(md_in.recv_multipart())
                with self._lock:
                    injected, self._injected = list(self._injected), collections.deque()
                for channel, frames in injected:
                    (to_executor if channel == "ctl" else md_out).send_multipart(frames)
        finally:
            for sock in sockets:
                sock.close(0)

    def _maybe_corrupt(self, payload: bytes) -> bytes:
        message = protocol.unpack(payload)
        with self._lock:
            pending = self.corrupt.get(message["type"]) if protocol.is_reply(message) else None
            how = pending.pop(0) if pending else None
        if how is None:
            return payload
        self.corrupted[message["type"]] += 1
        return protocol.pack(how(message))


def envelope(type_: str, **fields: Any) -> dict[str, Any]:
    return {"v": 1, "type": type_, "id": "", "seq": 1, "ts": 0, "boot": "fake", "term": LOGIN, **fields}


def data(value: Any) -> Corrupt:
    return lambda reply: {**reply, "data": value}


def as_rows(reply: dict[str, Any]) -> dict[str, Any]:
    """copy_rates_from_pos answered with a list of row maps instead of columns (the bug that
    once took the service down)."""
    columns = reply["data"]
    return {**reply, "data": [dict(zip(columns, row)) for row in zip(*columns.values())]}


NAN = math.nan
# Unsolicited wrong-shaped replies, one per request type the protocol knows (ids nobody waits on).
WRONG_REPLIES = {
    "account_info": {"login": LOGIN, "balance": "lots"}, "terminal_info": [1, 2],
    "symbols_get": [{"name": "EURUSD", "point": NAN}], "symbol_info": {"name": 7},
    "symbol_info_tick": {"time_msc": T0, "bid": None, "ask": 1.1},
    "copy_rates_from_pos": [{"time": T0, "open": 1.1}], "copy_rates_range": {"time": [T0], "open": []},
    "copy_ticks_from": {"time_msc": [T0, T0 + 1], "bid": [1.1], "ask": [1.2, 1.3]},
    "order_calc_margin": "12", "order_calc_profit": math.inf, "order_check": {"retcode": -3},
    "order_send": {"retcode": 10009, "order": -1, "deal": 1, "volume": 1e300, "price": 1.1},
    "positions_get": [{"ticket": 1, "symbol": "EURUSD", "type": 0, "volume": [0.1]}],
    "orders_get": {"orders": []}, "history_deals_get": [[1, 2, 3]], "history_orders_get": [None],
    "subscribe": {"subscriptions": "all"}, "symbol_sessions": {"EURUSD": [[9, 0, 1]]},
    "calendar": [{"time": T0 // 1000}], "ping": {"server_time": 1e300}, "hello_ack": [],
}
WRONG_EVENTS = [
    envelope("positions", positions=[{"ticket": "1"}], version=3),
    envelope("orders", orders=None),
    envelope("account", account={"login": LOGIN, "equity": NAN}),
    envelope("trade_transaction", trans={"type": 6, "deal": {"nested": [[{"garbage": True}]]}}),
    envelope("hello", terminal={}, account={}, server_time=T0, tz_offset_s=10**12, symbols=["EURUSD"]),
    envelope("terminal_status", connected="yes", trade_allowed=1),
    envelope("log", level=3, text=None),
    envelope("surprise", anything=[1, {"x": 2}]),
    envelope("hb", server_time=2**63 - 1),
    {"v": 1, "type": "positions"},  # no envelope to speak of
    b"\xc1\xc1 not msgpack",
]
WRONG_MARKET = [
    envelope("tick", symbol="EURUSD", time_msc=[T0], bid=[NAN], ask=[1.1]),
    envelope("tick", symbol="EURUSD", ticks=[{"time_msc": T0, "bid": 1.1, "ask": 1.2}]),
    envelope("tick", symbol=None, time_msc=[], bid=[], ask=[]),
    envelope("bar", symbol="EURUSD", timeframe="M1", time=T0, open=1.1, high=1.2, low=-1.0, close=1.1, closed=True),
    envelope("hb", server_time="now"),
    envelope("quote", symbol="EURUSD"),
]
TICK_FLOOD = 50  # ragged tick batches in a burst: each counted, one log line


@pytest.fixture
def wired(executor_factory, monkeypatch) -> Iterator[tuple[Executor, FakeEa]]:
    """An executor whose simulated terminal talks to it through a FakeEa."""
    fakes: list[FakeEa] = []

    def terminal(config) -> SimTerminal:
        fakes.append(FakeEa(config.ea_ctl_endpoint, config.ea_md_endpoint).start())
        return SimTerminal(ctl_endpoint=fakes[-1].sim_ctl, md_endpoint=fakes[-1].sim_md, login=LOGIN, seed=7,
                           speed=600.0, start_ms=T0, tz_offset_s=7200, history_minutes=600)

    monkeypatch.setattr(service_module, "_default_sim", terminal)
    executor = executor_factory()
    yield executor, fakes[0]
    for fake in fakes:  # the executor stops after, in executor_factory's teardown
        fake.stop()


def refused(executor: Executor) -> int:
    [account] = executor.status()["accounts"]
    return account["rejected_peer_messages"]


def test_garbage_from_the_ea_is_refused_counted_and_trading_goes_on(wired):
    executor, fake = wired
    service, board = executor.service, executor.service.board
    wait_for(lambda: board.get(f"account:{LOGIN}", {}).get("ready") and board.get(f"quote:{LOGIN}:EURUSD")
             and board.get(f"risk:{LOGIN}", {}).get("account_type") == "demo", timeout=20,
             message="the account to be ready to trade")
    assert refused(executor) == 0  # what the simulated EA sends has the protocol's shapes
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    actors = {name: service.directory.get(name) for name in ("gateway", "market_data", f"terminal:{LOGIN}")}

    # An order whose reply is garbage: it may have filled, so reconciliation decides (it did).
    fake.corrupt_next(protocol.ORDER_SEND, data([{"retcode": "done"}]))
    opened = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
    assert [p["ticket"] for p in service.sim.server.positions_get()] == [opened["ticket"]]

    # History as rows, then with a NaN: the strategy waits for a good answer, MarketData lives on.
    fake.corrupt_next(protocol.COPY_RATES_FROM_POS, as_rows,
                      lambda r: {**r, "data": {**r["data"], "close": [NAN] * len(r["data"]["close"])}})
    fake.corrupt_next(protocol.PING, data({"ts": "soon"}), data(None), data({"server_time": T0 // 1000}))
    executor.ok("START_STRATEGY", {"strategy_id": "patient", "strategy": {
        "name": "sma", "symbol": "EURUSD", "timeframe": "M1",
        "rules": {"entry_long": "sma(50) < 0", "entry_short": "sma(50) < 0"},  # waits, never trades
        "settings": {"sizing": {"method": "fixed", "lots": 0.1}, "max_positions": 1}}})

    for number, (kind, value) in enumerate(WRONG_REPLIES.items()):
        fake.inject_ctl(envelope(kind, id=f"junk-{number}", ok=True, data=value))
    fake.inject_ctl(envelope("orders_get", id="junk-e", ok=False, error="no"))
    for message in WRONG_EVENTS:
        fake.inject_ctl(message)
    for message in WRONG_MARKET:
        fake.inject_md(message)
    for seq in range(TICK_FLOOD):
        fake.inject_md(envelope("tick", seq=seq, symbol="EURUSD", time_msc=[T0, T0 + 1], bid=[1.1], ask=[1.2]))

    strategy = wait_for(lambda: service.directory.get("strategy:patient"), message="the strategy")
    wait_for(lambda: strategy.proxy().ready.get(timeout=5), timeout=30, message="the strategy's history")
    assert fake.corrupted == {protocol.ORDER_SEND: 1, protocol.COPY_RATES_FROM_POS: 2, protocol.PING: 3}
    expected = (sum(fake.corrupted.values()) + len(WRONG_REPLIES) + 1  # + the error that is text
                + len(WRONG_EVENTS) + len(WRONG_MARKET) + TICK_FLOOD)
    wait_for(lambda: refused(executor) == expected, timeout=10, message=f"{expected} refusals in STATUS")

    # Trading goes on: a valid order fills, nothing was restarted, nothing escalated.
    again = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "sell", "volume": 0.2})
    assert again["ticket"] in [p["ticket"] for p in service.sim.server.positions_get()]
    assert {name: service.directory.get(name) for name in actors} == actors
    status = executor.status()
    assert status["state"] == "running" and not status["kill_switch"]["active"] and not service.fatal.is_set()
    assert status["accounts"][0]["connected"] and refused(executor) == expected
    by_type = board.get(f"terminal:{LOGIN}")["rejected_by_type"]
    assert by_type["tick"] == TICK_FLOOD + 3 and by_type["unknown"] == 2 and by_type["undecodable"] == 1
    logger.remove(sink)
    # A line per message type every 10 s at most (the burst of ragged ticks: one), naming the account.
    refusals = [(match[1], line) for line in lines if (match := re.search(r"refused (\S+) from the EA", line))]
    said = collections.Counter(kind for kind, _ in refusals)
    assert said["tick"] == 1 and set(said) == set(by_type) and max(said.values()) <= 2, said
    assert all(line.startswith(f"terminal {LOGIN}: ") for _, line in refusals)
    assert any("copy_rates_from_pos" in line and "data: expected a map of columns" in line for line in lines)


def test_what_still_breaks_market_data_is_counted_and_it_lives_on(executor):
    """The last line of defence: a batch past the Gateway's check that MarketData cannot use
    (here told to it directly) is counted against its account, and MarketData keeps running."""
    directory = executor.service.directory
    login = executor.status()["accounts"][0]["login"]
    market_data = directory.get("market_data")
    market_data.tell(m.TickBatch(account=login, symbol="EURUSD", seq=1, time_msc=(1,), bid=(None,), ask=(None,)))
    wait_for(lambda: executor.status()["accounts"][0]["rejected_peer_messages"] == 1, message="the count")
    assert executor.service.board.get(f"terminal:{login}")["rejected_by_type"] == {"tick": 1}
    assert directory.get("market_data") is market_data and market_data.is_alive()
    executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})


def test_every_request_type_has_a_wrong_reply_here():
    assert set(WRONG_REPLIES) == set(REPLIES)
