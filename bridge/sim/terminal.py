"""The simulated MT5 terminal and EA: the socket shell around the simulated trade server.

This module owns `SimTerminal`, which speaks the EA's side of MT5_BRIDGE.md over real ZeroMQ
sockets so the executor cannot tell it from a real terminal: CTL (DEALER, requests, replies,
events, hello until acknowledged, dead-man switch, idempotent `order_send`) and MD (PUB,
tick batches, closed bars, heartbeats). Its loop runs in one thread that owns every socket;
the market, the trade server and the answers are delegated to the `sim_*` modules. Like MT5
it keeps the symbols' sessions unless told not to: no ticks, no bars and 10018 while closed.
Its server clock is a zone (bridge/server_tz.py: "NY+7" switches with US daylight time), read
with the offset valid at each moment; hello and terminal_info carry the table of offsets, hb
the offset now, and a switch is told at once, before the ticks after it (bridge/protocol.py).
Given a `state_file` it continues the paper account saved there (bridge/sim/state_file.py):
money, positions, orders, history, tickets, its clock and last quotes, and keeps it there.
Fault hooks: `drop_replies`, `delayed` (sim_faults.DelayedReplies), `drop_tick_batches`.
Stress hook: `recorder` (bridge.sim.stepped.Stamps) time-stamps published ticks and orders.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from collections import deque
from typing import Any, Mapping

import zmq
from loguru import logger
from zmq.utils.monitor import recv_monitor_message

from bridge import mt5, protocol
from bridge.curve import ClientKeys
from bridge.sim.price_feed import RandomWalkFeed
from bridge.sim.clock import SimClock
from bridge.sim.events import ReplyCache, TradeEvents
from bridge.trade_server.faults import DelayedReplies, RandomReplies
from bridge.sim.market import SimMarket, tick_columns
from bridge.sim.calendar import SimCalendar
from bridge.sim.requests import BadRequest, RequestContext, dispatch, terminal_info, to_wire
from bridge.sim.state_file import SavedState, StateFile, StateKeeper
from bridge.trade_server.sessions import next_open_ms, session_open
from bridge.symbols import DEFAULT_SYMBOLS
from bridge.trade_server.server import DEFAULT_TZ_OFFSET_S, RequestError, TradeServer

DEFAULT_LOGIN = 5_000_001
POLL_MS = 10
MD_PUBLISH_S = 0.05
OUTBOX_MAX = 10_000
MAX_FRAMES_PER_STEP = 1000
PRUNE_EVERY_S = 10.0
START_TIMEOUT_S = 5.0


def new_boot() -> str:
    return secrets.token_hex(6)


class SimTerminal:
    """A simulated terminal for account `login`; `start()` runs it in a daemon thread."""

    def __init__(self, *, ctl_endpoint: str = protocol.DEFAULT_CTL_ENDPOINT,
                 md_endpoint: str = protocol.DEFAULT_MD_ENDPOINT, login: int = DEFAULT_LOGIN,
                 seed: int = 0, speed: float = 1.0, clock: Any = None,
                 symbols: Mapping[str, Any] | None = None, balance: float | None = None,
                 leverage: int | None = None, tz_offset_s: int | None = None, server_tz: Any = None,
                 history_minutes: int = 1000,
                 server_options: Mapping[str, Any] | None = None, start_ms: int | None = None,
                 enforce_sessions: bool | None = None,
                 hello_repeat_s: float = protocol.HELLO_REPEAT_S,
                 dead_man_s: float = protocol.DEAD_MAN_S, feed: Any = None,
                 poll_ms: int = POLL_MS, md_publish_s: float = MD_PUBLISH_S,
                 calendar: SimCalendar | None = None, saved: SavedState | None = None,
                 state_file: StateFile | None = None, curve: ClientKeys | None = None) -> None:
        """`saved`: the account to continue (from `state_file.load()`); `state_file`: where its
        state is kept from now on (None: nowhere, the account ends with the process).
        `server_tz`: the server's zone (bridge.server_tz: "NY+7", "Europe/Athens", 7200...);
        `tz_offset_s`, a fixed one, is the older way to say it. `curve`: the executor's server
        key and this terminal's pair, when its EA sockets are CURVE (as the EA's inputs)."""
        self.curve = curve
        self.hello_repeat_s, self.dead_man_s = hello_repeat_s, dead_man_s
        self.ctl_endpoint, self.md_endpoint, self.login = ctl_endpoint, md_endpoint, login
        if clock is not None and start_ms is not None:
            raise ValueError("give the simulated terminal a start_ms or a clock, not both")
        self.symbols = dict(symbols if symbols is not None else DEFAULT_SYMBOLS)
        if saved is not None and clock is None:
            # A broker's clock never runs back: resume at the saved server time, or later
            # when the configured start (or now) is later.
            start_ms = max(saved.book.server_time_ms, time.time_ns() // 1_000_000 if start_ms is None else start_ms)
        if saved is not None and feed is None:
            # The walk (and the history before it) continues from each symbol's last quote.
            self.symbols.update({name: dataclasses.replace(self.symbols[name], sim_start_price=(q.bid + q.ask) / 2)
                                 for name, q in saved.book.quotes.items() if name in self.symbols})
        self.clock = clock if clock is not None else SimClock(speed, start_ms)
        start_ms = self.clock.now_ms()
        # Arguments given win over server_options (a broker file). Sessions are kept by default,
        # as MT5 does, unless another feed drives prices: a replay's file is the whole market.
        options = {**dict(server_options or {}), **{k: v for k, v in (
            ("balance", balance), ("leverage", leverage), ("server_tz", server_tz if server_tz is not None
                                                          else tz_offset_s),
            ("enforce_sessions", enforce_sessions)) if v is not None}}
        options.setdefault("server_tz", DEFAULT_TZ_OFFSET_S)
        options.setdefault("enforce_sessions", feed is None)
        self.enforce_sessions = options["enforce_sessions"]
        self.server = TradeServer(login=login, symbols=self.symbols, seed=seed, **options)
        # Its clock, the offset valid at each moment; its hb and hello say when that changes.
        self.server_tz = self.server.server_tz
        if saved is not None:
            self.server.restore(saved.book)
        # Any object with `advance(to_ms) -> [(symbol, time_msc, bid, ask)]` and
        # `history_m1(symbol, minutes)` can drive prices (the replay feeds history this way);
        # the default is the seeded random walk, quiet outside sessions when they are enforced.
        self.feed = feed if feed is not None else RandomWalkFeed(
            self.symbols, seed, start_ms, tz=self.server_tz if self.enforce_sessions else None)
        self.poll_ms, self.md_publish_s = poll_ms, md_publish_s
        history = {name: self.feed.history_m1(name, history_minutes) for name in self.symbols} \
            if history_minutes else {}
        self.market = SimMarket(self.symbols, tz=self.server_tz, start_ms=start_ms,
                                history=history, history_minutes=history_minutes)
        self.requests = RequestContext(self.server, self.market, self.clock.now_ms,
                                       calendar=calendar if calendar is not None else SimCalendar())
        self.events = TradeEvents(self.server)
        self.replies = ReplyCache()
        if saved is not None:  # an order_send repeated across our restart is answered, not run again
            for request_id, age_s, fields in saved.replies:
                self.replies.put(request_id, fields, time.monotonic() - age_s)
        self.state_keeper = None if state_file is None else StateKeeper(
            state_file, self.server, lambda: self.replies.entries(time.monotonic()))
        self.drop_replies = 0  # fault hook: swallow this many replies (the request still runs)
        self.delayed = DelayedReplies()  # fault hook: hold the next `count` replies `delay_s` seconds
        self.random_replies: RandomReplies | None = None  # fault hook: lose or hold a share of order answers
        self.drop_tick_batches = 0  # fault hook: lose this many tick publishes on the wire (seq still moves)
        self.recorder: Any = None  # stress hook: told of tick publishes and orders (bridge.sim.stepped)
        self._arrived_ns = 0  # when the request being answered was read (monotonic ns)
        self._peer_up = False  # an executor has completed a handshake on CTL
        self._new_session()
        self._event_no = 0
        self._snapshot_due = False  # an order_send was answered this step: its events follow the step's replies
        self._status = self._terminal_status()
        self._pending_ticks: dict[str, tuple[list, list, list, list]] = {}
        self._pending_bars: list[tuple[str, str, Any]] = []
        self._market_ms = start_ms  # the server time the market has been advanced to
        self._announced_offset = self.server_tz.offset_at(start_ms)  # the offset hb and hello last said
        self._outbox: deque[bytes] = deque()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._restart_requested = False
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def _new_session(self) -> None:
        """State an EA instance starts with on every OnInit."""
        self.boot = new_boot()
        self._ctl_env = protocol.Envelope(boot=self.boot, term=self.login)
        self._md_env = protocol.Envelope(boot=self.boot, term=self.login)
        self._hello_acked = False
        self._next_hello_at = 0.0
        self._last_ping_at: float | None = None

    # --- fault hooks and passthroughs (safe to set from another thread) ---

    @property
    def connected(self) -> bool:
        return self.server.connected

    @connected.setter
    def connected(self, value: bool) -> None:
        self.server.connected = bool(value)

    @property
    def trade_allowed(self) -> bool:
        return self.server.trade_allowed

    @trade_allowed.setter
    def trade_allowed(self, value: bool) -> None:
        self.server.trade_allowed = bool(value)

    @property
    def tz_offset_s(self) -> int:
        """The server's offset from UTC now."""
        return self.server_tz.offset_at(self.clock.now_ms())

    def restart(self) -> None:
        """Simulate an EA restart: a new `boot`, a fresh session and a new hello."""
        self._restart_requested = True

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def advance_offline(self) -> None:
        """While the socket loop is stopped (the EA cut off from the executor), the broker's
        market goes on: quotes reach the trade server, so stops and targets are hit meanwhile."""
        if self.running:
            raise RuntimeError("the terminal's loop owns the trade server while it runs")
        self._advance_market()
        self._pending_ticks.clear()  # never published: the executor reads what happened from history
        self._pending_bars.clear()

    def open_by_hand(self, request: dict[str, Any]) -> dict[str, Any]:
        """A trade someone makes in the terminal itself while the EA is cut off (an orphan to
        the executor: no magic, no client order id); the MqlTradeResult."""
        if self.running:
            raise RuntimeError("the terminal's loop owns the trade server while it runs")
        return self.server.order_send(dict(request), now_ms=self.clock.now_ms())

    # --- lifecycle ---

    def closed_notice(self) -> str | None:
        """A line for the operator when the simulated market is shut now (a weekend start)."""
        if not self.enforce_sessions:
            return None
        now = self.clock.now_ms()
        opens = [next_open_ms(spec, now, self.server_tz) for spec in self.symbols.values()]
        if any(at == now for at in opens):
            return None
        soonest = min((at for at in opens if at is not None), default=None)
        when = "never" if soonest is None else time.strftime(
            "%a %Y-%m-%d %H:%M server time", time.gmtime(self.server_tz.to_server(soonest) / 1000))
        return (f"the simulated market is closed now (every symbol is outside its sessions): no quotes "
                f"until {when}; use --sim-start to begin on a weekday or --sim-always-open to trade now")

    def start(self, timeout_s: float = START_TIMEOUT_S) -> "SimTerminal":
        """Run in a daemon thread; returns once the sockets are created and connecting."""
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run_thread, name=f"sim-terminal-{self.login}", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise RuntimeError(f"simulated terminal did not start within {timeout_s} s; see the log")
        if self._error is not None:
            raise RuntimeError(f"simulated terminal could not start: {self._error}; "
                               f"check the CTL/MD endpoints") from self._error
        return self

    def stop(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Stop the loop and close the sockets; harmless when not running."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    def run_forever(self) -> None:
        """Run in the calling thread until `stop()` or Ctrl-C."""
        self._stop.clear()
        try:
            self._run()
        except KeyboardInterrupt:
            logger.info("simulated terminal {} stopped by keyboard interrupt", self.login)

    def _run_thread(self) -> None:
        try:
            self._run()
        except Exception as exc:  # reported to start(), or logged if the loop dies later
            self._error = exc
            logger.exception("simulated terminal {} stopped on an error", self.login)
        finally:
            self._ready.set()

    def _run(self) -> None:
        context = zmq.Context()
        try:
            ctl, md, monitor = self._open_sockets(context)
            poller = zmq.Poller()
            poller.register(ctl, zmq.POLLIN)
            poller.register(monitor, zmq.POLLIN)
            if hasattr(self.feed, "fileno"):  # a feed that says when it has prices (a replay's) wakes the loop
                poller.register(self.feed.fileno(), zmq.POLLIN)
            self._ready.set()
            logger.info("simulated terminal {} connecting CTL {} MD {}", self.login, self.ctl_endpoint, self.md_endpoint)
            while not self._stop.is_set():
                self._step(poller, ctl, md, monitor)
        finally:
            if self.state_keeper is not None:
                self.state_keeper.save(time.monotonic())
            # destroy() closes every socket of the context, also those of a start that failed halfway.
            context.destroy(linger=0)

    def _step(self, poller: zmq.Poller, ctl: zmq.Socket, md: zmq.Socket, monitor: zmq.Socket) -> None:
        ready = dict(poller.poll(self.poll_ms))
        now = time.monotonic()
        if monitor in ready:
            self._on_monitor(monitor, ctl, now)
        if ctl in ready:
            self._drain_requests(ctl, now)
        if self._restart_requested:
            self._restart(ctl, now)
        self._advance_market()
        # One snapshot for all the orders this step answered (each order's reply went out already):
        # one per order would cost O(positions) each, O(n^2) for a burst of n orders.
        self._queue_events(self.events.collect(now, snapshots=self._snapshot_due))
        self._snapshot_due = False
        self._check_terminal_status()
        if self._peer_up and not self._hello_acked and now >= self._next_hello_at:
            self._send_hello(ctl, now)
        self._on_timers(md, now)
        for frame in self.delayed.due(now):
            self._enqueue(frame)
        if self.state_keeper is not None:  # before the outbox: no fill is told before it is on disk
            self.state_keeper.step(now)
        self._flush_outbox(ctl)

    def _on_timers(self, md: zmq.Socket, now: float) -> None:
        # A DST switch is told at once and before the ticks after it, as the EA does: the
        # executor aligns those ticks by it. A fresh hello follows with the whole table.
        offset = self.server_tz.offset_at(self._market_ms)
        if offset != self._announced_offset:
            self._announced_offset = offset
            self._hello_acked, self._next_hello_at = False, 0.0
            self._next_hb_at = now
        if now >= self._next_hb_at:
            server_now = max(self.clock.now_ms(), self._market_ms)
            self._publish(md, protocol.HB.encode(), protocol.HB, server_time=server_now,
                          tz_offset_s=self.server_tz.offset_at(server_now),
                          **{protocol.TZ_SINCE: self.server_tz.since(server_now)})
            self._next_hb_at = now + protocol.HEARTBEAT_INTERVAL_S
        if now >= self._next_md_at:
            self._publish_market(md)
            self._next_md_at = now + self.md_publish_s
        if now >= self._next_prune_at:
            self.replies.prune(now)
            self._next_prune_at = now + PRUNE_EVERY_S

    def _open_sockets(self, context: zmq.Context) -> tuple[zmq.Socket, zmq.Socket, zmq.Socket]:
        self._peer_up = False
        self._next_md_at = self._next_hb_at = self._next_prune_at = 0.0
        ctl = context.socket(zmq.DEALER)
        ctl.setsockopt(zmq.ROUTING_ID, protocol.routing_id(self.login))
        ctl.setsockopt(zmq.LINGER, 0)
        ctl.setsockopt(zmq.IMMEDIATE, 1)
        md = context.socket(zmq.PUB)
        md.setsockopt(zmq.LINGER, 0)
        if self.curve is not None:  # before connect, as Link.mqh does
            self.curve.apply(ctl)
            self.curve.apply(md)
        monitor = ctl.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED)
        ctl.connect(self.ctl_endpoint)
        md.connect(self.md_endpoint)
        return ctl, md, monitor

    # --- CTL: session ---

    def _on_monitor(self, monitor: zmq.Socket, ctl: zmq.Socket, now: float) -> None:
        while monitor.poll(0):
            event = recv_monitor_message(monitor)["event"]
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                # A (re)connected executor knows nothing of us until it hears a hello.
                self._peer_up, self._hello_acked = True, False
                self._send_hello(ctl, now)
            elif event == zmq.EVENT_DISCONNECTED:
                self._peer_up = False

    def _send_hello(self, ctl: zmq.Socket, now: float) -> None:
        self._next_hello_at = now + self.hello_repeat_s
        hello = self._ctl_env.message(
            protocol.HELLO, id=self._next_event_id(),
            terminal={key: value for key, value in terminal_info(self.server).items()
                      if key in ("build", "connected", "trade_allowed", "name")},
            account=to_wire(self.server.account_info()), server_time=self.clock.now_ms(),
            symbols=sorted(self.symbols), **self.market.tz_now(self.clock.now_ms()))
        try:  # not queued: a stale hello is worthless, and it repeats anyway
            ctl.send(protocol.pack(hello), zmq.NOBLOCK)
        except zmq.Again:
            pass

    def _restart(self, ctl: zmq.Socket, now: float) -> None:
        self._restart_requested = False
        self._new_session()
        logger.info("simulated terminal {} restarted with boot {}", self.login, self.boot)
        if self._peer_up:
            self._send_hello(ctl, now)

    def _terminal_status(self) -> tuple[bool, bool]:
        return bool(self.server.connected), bool(self.server.trade_allowed)

    def _check_terminal_status(self) -> None:
        status = self._terminal_status()
        if status != self._status:
            self._status = status
            self._queue_events([(protocol.TERMINAL_STATUS, {"connected": status[0], "trade_allowed": status[1]})])

    # --- CTL: requests ---

    def _drain_requests(self, ctl: zmq.Socket, now: float) -> None:
        # Every frame waiting is read, its arrival noted, before any is answered: a request arrived
        # when it reached the terminal, not when answering those before it let the loop read it.
        arrived = []
        for _ in range(MAX_FRAMES_PER_STEP):
            try:
                arrived.append((ctl.recv_multipart(zmq.NOBLOCK), time.monotonic_ns()))
            except zmq.Again:
                break
        for frames, self._arrived_ns in arrived:
            if len(frames) != 1:
                logger.warning("simulated terminal ignores a {}-frame message; expected 1", len(frames))
                continue
            try:
                message = protocol.unpack(frames[0])
            except protocol.ProtocolError as exc:
                logger.warning("simulated terminal ignores an undecodable frame: {}", exc)
                continue
            if protocol.is_reply(message):
                continue
            try:
                self._answer(message, now)
            except Exception as exc:  # a hostile or buggy request must not stop the terminal
                logger.exception("simulated terminal failed to answer a {} request", message["type"])
                self._reply(self._ctl_env.error(message, mt5.RES_E_FAIL, f"internal error: {exc}"))

    def _answer(self, message: dict[str, Any], now: float) -> None:
        kind = message["type"]
        if kind == protocol.PING:
            self._last_ping_at = now
            self._reply(self._ctl_env.reply(message, {"ts": protocol.now_ms(), "server_time": self.clock.now_ms()}))
        elif kind == protocol.HELLO_ACK:
            self._hello_acked = True
            self._reply(self._ctl_env.reply(message, {}))
        elif kind == protocol.ORDER_SEND:
            self._order_send(message, now)
        elif kind not in protocol.REQUESTS:
            self._reply(self._ctl_env.error(message, mt5.RES_E_INVALID_PARAMS, "unknown request type"))
        else:
            self._reply(self._handled(message))

    def _handled(self, message: dict[str, Any]) -> dict[str, Any]:
        """The reply to a request of the dispatch table; never raises."""
        try:
            return self._ctl_env.reply(message, dispatch(self.requests, message))
        except (BadRequest, RequestError) as exc:
            return self._ctl_env.error(message, exc.code, exc.text)
        except Exception as exc:  # a simulator bug must not kill the terminal
            logger.exception("simulated terminal failed on a {} request", message["type"])
            return self._ctl_env.error(message, mt5.RES_E_FAIL, f"internal error: {exc}")

    def _order_send(self, message: dict[str, Any], now: float) -> None:
        request_id = message.get("id") if isinstance(message.get("id"), str) else ""
        cached = self.replies.get(request_id, now) if request_id else None
        if cached is not None:
            self._reply(self._recorded(message, self._ctl_env.message(protocol.ORDER_SEND, id=request_id, **cached),
                                       cached=True))
            return
        if self._dead_man_tripped(now):
            text = f"dead-man: no ping from executor for {self.dead_man_s:g} s"
            self._reply(self._recorded(message, self._ctl_env.error(message, mt5.RES_E_FAIL, text)))
            return
        reply = self._handled(message)
        if reply["ok"] and request_id:
            self.replies.put(request_id, {"ok": True, "data": reply["data"]}, now)
        self._reply(self._recorded(message, reply), first_order_answer=True)
        self._snapshot_due = True  # the trade events follow this step's replies (_step)

    def _recorded(self, message: dict[str, Any], reply: dict[str, Any], cached: bool = False) -> dict[str, Any]:
        if self.recorder is not None:
            self.recorder.order_send(message, reply, self._arrived_ns, cached=cached,
                                     open_positions=len(self.server.positions))
        return reply

    def _dead_man_tripped(self, now: float) -> bool:
        return self._last_ping_at is not None and now - self._last_ping_at > self.dead_man_s

    def _reply(self, reply: dict[str, Any], first_order_answer: bool = False) -> None:
        fate = self.random_replies.fate() if first_order_answer and self.random_replies is not None else ""
        if fate == "drop":
            logger.info("simulated terminal drops the reply to order {} (random fault)", reply["id"])
            return
        if fate == "delay":
            self.delayed.hold_for(protocol.pack(reply), time.monotonic(), self.random_replies.delay_s)
            return
        if self.drop_replies > 0:
            self.drop_replies -= 1
            logger.info("simulated terminal drops the reply to {} {} (fault injection)", reply["type"], reply["id"])
            return
        frame = protocol.pack(reply)
        if self.delayed.hold(reply["type"], frame, time.monotonic()):
            logger.info("simulated terminal delays the reply to {} {} by {:g} s (fault injection)",
                        reply["type"], reply["id"], self.delayed.delay_s)
            return
        self._enqueue(frame)

    # --- CTL: events and the outbox ---

    def _next_event_id(self) -> str:
        self._event_no += 1
        return f"ev-{self._event_no}"

    def _queue_events(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        for kind, fields in events:
            self._enqueue(protocol.pack(self._ctl_env.message(kind, id=self._next_event_id(), **to_wire(fields))))

    def _enqueue(self, frame: bytes) -> None:
        if len(self._outbox) >= OUTBOX_MAX:
            self._outbox.popleft()
            logger.warning("simulated terminal outbox full ({} frames): oldest frame dropped", OUTBOX_MAX)
        self._outbox.append(frame)

    def _flush_outbox(self, ctl: zmq.Socket) -> None:
        while self._outbox:
            try:
                ctl.send(self._outbox[0], zmq.NOBLOCK)
            except zmq.Again:  # no executor yet, or its queue is full: keep for later
                return
            self._outbox.popleft()

    # --- market data ---

    def _advance_market(self) -> None:
        self._market_ms = self.clock.now_ms()
        subscriptions = self.requests.subscriptions
        # Bars are built when read, unless subscribed to: then after every step (closed_bars).
        self.market.watched = {symbol for symbol, _ in subscriptions}
        on_quote, market_quote, pending = self.server.on_quote, self.market.on_quote, self._pending_ticks
        for symbol, time_msc, bid, ask in self.feed.advance(self._market_ms):
            if self.enforce_sessions and not session_open(self.symbols[symbol], time_msc, self.server_tz):
                continue  # a closed market has no ticks, whatever the feed says
            # The trade server sees every tick first, so SL/TP trigger at the right price.
            on_quote(symbol, time_msc, bid, ask)
            flags = market_quote(symbol, time_msc, bid, ask)
            columns = pending.get(symbol)
            if columns is None:
                columns = pending[symbol] = ([], [], [], [])
            columns[0].append(time_msc)
            columns[1].append(bid)
            columns[2].append(ask)
            columns[3].append(flags)
        for symbol in [name for name in pending if name in self.market.watched]:
            for timeframe, bar in self.market.closed_bars(symbol):
                if (symbol, timeframe) in subscriptions:
                    self._pending_bars.append((symbol, timeframe, bar))

    def _publish_market(self, md: zmq.Socket) -> None:
        for symbol, (times, bids, asks, flags) in self._pending_ticks.items():
            if self.drop_tick_batches > 0:
                self.drop_tick_batches -= 1
                self._md_env.next_seq(protocol.tick_topic(symbol).decode())  # lost: the seq gap shows it
                continue
            if self.recorder is not None:
                self.recorder.ticks_published(symbol, times)
            self._publish(md, protocol.tick_topic(symbol), protocol.TICK, symbol=symbol,
                          **tick_columns(times, bids, asks, flags))
        for symbol, timeframe, bar in self._pending_bars:
            self._publish(md, protocol.bar_topic(symbol, timeframe), protocol.BAR, symbol=symbol,
                          timeframe=timeframe, closed=True, **bar.as_dict())
        self._pending_ticks.clear()
        self._pending_bars.clear()

    def _publish(self, md: zmq.Socket, topic: bytes, kind: str, **fields: Any) -> None:
        message = self._md_env.message(kind, seq_key=topic.decode(), **fields)
        try:
            md.send_multipart([topic, protocol.pack(message)], zmq.NOBLOCK)
        except zmq.Again:  # a PUB drops rather than blocks; the seq gap tells the executor
            pass

