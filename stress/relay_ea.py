"""A minimal stand-in EA for pure latency: `python -m stress.relay_ea --plan PLAN ...`.

It speaks the EA's side of MT5_BRIDGE.md with as little in the way as possible: hello until
acknowledged, pong at once, a heartbeat a second, the step's ticks published the moment the
harness commands the step, and every request answered as soon as it is read. Its one thread
blocks in a poll (no 10 ms loop, no 50 ms publish timer as the full simulated terminal has),
and a batch of requests is time-stamped as it is read, before any is answered.

Fills come from the same simulated trade server as `run.py sim` (bridge.trade_server), so the
executor meets real `OrderSendResult`s, positions snapshots and deals; its other answers
(symbols, history, sessions) come from `bridge.sim.requests`. No faults, no dead-man switch,
no sessions: only the time the executor takes is left to measure.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

import msgpack
import zmq
from zmq.utils.monitor import recv_monitor_message

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge import mt5, protocol  # noqa: E402
from bridge.sim.config import broker_setup  # noqa: E402
from bridge.sim.events import ReplyCache, TradeEvents  # noqa: E402
from bridge.sim.market import SimMarket, tick_columns  # noqa: E402
from bridge.sim.requests import BadRequest, RequestContext, dispatch, terminal_info, to_wire  # noqa: E402
from bridge.sim.stepped import StepClock, StepFeed, Stamps, load_plan  # noqa: E402
from bridge.trade_server.server import RequestError, TradeServer  # noqa: E402

HISTORY_MINUTES = 300
MAX_BATCH = 5000


class RelayEA:
    def __init__(self, *, ctl: str, md: str, login: int, broker: str | None, plan_path: str) -> None:
        self.plan = load_plan(plan_path)
        symbols, options = broker_setup(broker, None, enforce_sessions=False)
        symbols = dict(symbols or {})
        self.login, self.ctl_endpoint, self.md_endpoint = login, ctl, md
        self.server = TradeServer(login=login, symbols=symbols, seed=self.plan.seed, **options)
        self.clock = StepClock(self.plan.start_ms, self.plan.step_ms)
        self.feed = StepFeed(self.plan, symbols)
        self.server_tz = options["server_tz"]
        history = {name: self.feed.history_m1(name, HISTORY_MINUTES) for name in symbols}
        self.market = SimMarket(symbols, tz=self.server_tz, start_ms=self.plan.start_ms, history=history,
                                history_minutes=HISTORY_MINUTES)
        self.requests = RequestContext(self.server, self.market, self.clock.now_ms)
        self.events = TradeEvents(self.server)
        self.replies = ReplyCache()
        self.stamps = Stamps(self.plan.stamps)
        self.env = protocol.Envelope(boot=f"relay{time.time_ns() % 10**6}", term=login)
        self.md_env = protocol.Envelope(boot=self.env.boot, term=login)
        self.stopping = threading.Event()
        self.outbox: deque[bytes] = deque()
        self.acked = False
        self.next_hello = self.next_hb = 0.0
        self.peer_up = False
        self.event_no = 0

    def run(self) -> int:
        context = zmq.Context()
        ctl = context.socket(zmq.DEALER)
        ctl.setsockopt(zmq.ROUTING_ID, protocol.routing_id(self.login))
        ctl.setsockopt(zmq.LINGER, 0)
        monitor = ctl.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED)
        ctl.connect(self.ctl_endpoint)
        md = context.socket(zmq.PUB)
        md.setsockopt(zmq.LINGER, 0)
        md.connect(self.md_endpoint)
        commands = context.socket(zmq.PULL)
        commands.setsockopt(zmq.LINGER, 0)
        commands.connect(self.plan.commands)
        poller = zmq.Poller()
        for sock in (ctl, commands, monitor):
            poller.register(sock, zmq.POLLIN)
        self.stamps.event("link", up=True)
        self._step(md)  # step 0: the first quotes
        try:
            while not self.stopping.is_set():
                ready = dict(poller.poll(100))
                now = time.monotonic()
                if monitor in ready:
                    self._on_monitor(monitor, ctl, now)
                if ctl in ready:
                    self._answer_batch(ctl, now)
                if commands in ready:
                    self._on_commands(commands, md)
                if self.peer_up and not self.acked and now >= self.next_hello:
                    self._hello(ctl, now)
                if now >= self.next_hb:
                    self.next_hb = now + protocol.HEARTBEAT_INTERVAL_S
                    self._publish(md, protocol.HB.encode(), protocol.HB, server_time=self.clock.now_ms())
                    self.stamps.flush()
                self._flush(ctl)
        finally:
            self.stamps.final(self.server)
            self.stamps.close()
            context.destroy(linger=0)
        return 0

    # --- CTL ---
    def _on_monitor(self, monitor: zmq.Socket, ctl: zmq.Socket, now: float) -> None:
        while monitor.poll(0):
            event = recv_monitor_message(monitor)["event"]
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.peer_up, self.acked = True, False
                self._hello(ctl, now)
            elif event == zmq.EVENT_DISCONNECTED:
                self.peer_up = False

    def _hello(self, ctl: zmq.Socket, now: float) -> None:
        self.next_hello = now + protocol.HELLO_REPEAT_S
        info = terminal_info(self.server)
        self._send(ctl, self.env.message(
            protocol.HELLO, id=self._event_id(), server_time=self.clock.now_ms(),
            tz_offset_s=self.server_tz.offset_at(self.clock.now_ms()),
            terminal={k: info[k] for k in ("build", "connected", "trade_allowed", "name")},
            account=to_wire(self.server.account_info()), symbols=sorted(self.market.symbols)))

    def _answer_batch(self, ctl: zmq.Socket, now: float) -> None:
        batch = []
        for _ in range(MAX_BATCH):  # read (and stamp) everything waiting before answering any of it
            try:
                frames = ctl.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            batch.append((frames, time.monotonic_ns()))
        traded = False
        for frames, arrived in batch:
            try:
                message = protocol.unpack(frames[-1])
            except protocol.ProtocolError:
                continue
            if protocol.is_reply(message):
                continue
            traded |= self._answer(ctl, message, arrived, now)
        if traded:
            for kind, fields in self.events.collect(now, snapshots=True):
                self._send(ctl, self.env.message(kind, id=self._event_id(), **to_wire(fields)))

    def _answer(self, ctl: zmq.Socket, message: dict[str, Any], arrived: int, now: float) -> bool:
        kind = message["type"]
        if kind == protocol.PING:
            self._send(ctl, self.env.reply(message, {"ts": protocol.now_ms(), "server_time": self.clock.now_ms()}))
            return False
        if kind == protocol.HELLO_ACK:
            self.acked = True
            self._send(ctl, self.env.reply(message, {}))
            return False
        request_id = message.get("id") if isinstance(message.get("id"), str) else ""
        cached = self.replies.get(request_id, now) if kind == protocol.ORDER_SEND and request_id else None
        if cached is not None:
            reply = self.env.message(protocol.ORDER_SEND, id=request_id, **cached)
        else:
            try:
                reply = self.env.reply(message, dispatch(self.requests, message))
            except (BadRequest, RequestError) as exc:
                reply = self.env.error(message, exc.code, exc.text)
            except Exception as exc:  # a bug here must not stop the relay
                reply = self.env.error(message, mt5.RES_E_FAIL, f"internal error: {exc}")
        self._send(ctl, reply)
        if kind != protocol.ORDER_SEND:
            return False
        if cached is None and reply.get("ok") and request_id:
            self.replies.put(request_id, {"ok": True, "data": reply["data"]}, now)
        self.stamps.order_send(message, reply, arrived, cached=cached is not None,
                               open_positions=len(self.server.positions))
        return cached is None

    def _event_id(self) -> str:
        self.event_no += 1
        return f"ev-{self.event_no}"

    def _send(self, ctl: zmq.Socket, message: dict[str, Any]) -> None:
        self.outbox.append(protocol.pack(message))
        self._flush(ctl)

    def _flush(self, ctl: zmq.Socket) -> None:
        while self.outbox:
            try:
                ctl.send(self.outbox[0], zmq.NOBLOCK)
            except zmq.Again:
                return
            self.outbox.popleft()

    # --- commands and market data ---
    def _on_commands(self, commands: zmq.Socket, md: zmq.Socket) -> None:
        while True:
            try:
                command = msgpack.unpackb(commands.recv(zmq.NOBLOCK), raw=False)
            except zmq.Again:
                return
            if "step" in command:
                self.clock.to_step(int(command["step"]))
                self._step(md)
            if command.get("stop"):
                self.stopping.set()

    def _step(self, md: zmq.Socket) -> None:
        columns: dict[str, tuple[list, list, list, list]] = {}
        for symbol, time_msc, bid, ask in self.feed.advance(self.clock.now_ms()):
            self.server.on_quote(symbol, time_msc, bid, ask)
            flags, _ = self.market.on_tick(symbol, time_msc, bid, ask)
            for column, value in zip(columns.setdefault(symbol, ([], [], [], [])), (time_msc, bid, ask, flags)):
                column.append(value)
        for symbol, (times, bids, asks, flags) in columns.items():
            self.stamps.ticks_published(symbol, times)
            self._publish(md, protocol.tick_topic(symbol), protocol.TICK, symbol=symbol,
                          **tick_columns(times, bids, asks, flags))

    def _publish(self, md: zmq.Socket, topic: bytes, kind: str, **fields: Any) -> None:
        try:
            md.send_multipart([topic, protocol.pack(self.md_env.message(kind, seq_key=topic.decode(), **fields))],
                              zmq.NOBLOCK)
        except zmq.Again:
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stress.relay_ea", description=__doc__.splitlines()[0])
    parser.add_argument("--ctl", required=True, help="the executor's EA request endpoint")
    parser.add_argument("--md", required=True, help="the executor's EA market-data endpoint")
    parser.add_argument("--login", type=int, default=5_000_001)
    parser.add_argument("--broker", help="broker JSON, as run.py sim --broker")
    parser.add_argument("--plan", required=True, help="the stepped plan (bridge/sim/stepped.py)")
    args = parser.parse_args(argv)
    relay = RelayEA(ctl=args.ctl, md=args.md, login=args.login, broker=args.broker, plan_path=args.plan)
    signal.signal(signal.SIGTERM, lambda *_: relay.stopping.set())
    return relay.run()


if __name__ == "__main__":
    sys.exit(main())
