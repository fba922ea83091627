"""Real prices for the simulated terminal: the socket shell around `PriceSession`.

This module owns `EaPriceSource`, a price feed for `SimTerminal(feed=...)` that takes its
ticks from ONE real MetaTrader 5 terminal running our EA (mql5/). It binds its own endpoint
pair, the way the executor does (CTL ROUTER, MD SUB; loopback ports 5567/5568 by default),
so the real EA is pointed at these ports instead of the executor's, and it plays the
executor's side of MT5_BRIDGE.md for prices only (`bridge.ea_price_session`). Its loop runs
in one thread that owns both sockets; released ticks wait in a queue that the simulated
terminal drains with `advance()`.

It cannot trade: the session it drives has no order path, and every frame it sends is
checked once more here against the read-only request list before it leaves.
"""

from __future__ import annotations

import errno
import threading
import time
from collections import deque
from typing import Any, Mapping

import numpy as np
import zmq
from loguru import logger

from bridge import protocol
from bridge.sim.ea_price_session import PriceSession, Tick, check_read_only
from bridge.symbols import SymbolSpec

DEFAULT_PRICES_CTL = "tcp://127.0.0.1:5567"
DEFAULT_PRICES_MD = "tcp://127.0.0.1:5568"
POLL_MS = 10
MAX_FRAMES_PER_STEP = 1000
MAX_QUEUED_TICKS = 200_000  # ~ minutes of a busy Market Watch if the simulator stalls
START_TIMEOUT_S = 5.0
BIND_RETRY_S = 2.0
MD_TOPICS = (protocol.TICK.encode() + b".", protocol.HB.encode())


class EaPriceSource:
    """Ticks, symbols and history of one real EA; `start()` runs it in a daemon thread."""

    def __init__(self, *, ctl_endpoint: str = DEFAULT_PRICES_CTL, md_endpoint: str = DEFAULT_PRICES_MD,
                 history_minutes: int = 1000, fixtures: Mapping[str, SymbolSpec] | None = None,
                 poll_ms: int = POLL_MS) -> None:
        self.ctl_endpoint, self.md_endpoint = ctl_endpoint, md_endpoint
        self.session = PriceSession(history_minutes=history_minutes, fixtures=fixtures)
        self.poll_ms = poll_ms
        self.ready = threading.Event()  # symbols and history known: `symbols` etc. are final
        # Read from other threads; each is replaced whole, never mutated.
        self.symbols: dict[str, SymbolSpec] = {}
        self.tz_offset_s = 0
        self.login: int | None = None
        self.stale = False
        self._history: dict[str, dict[str, np.ndarray]] = {}
        self._ticks: deque[Tick] = deque()
        self._lock = threading.Lock()
        self._dropped = 0
        self._stop = threading.Event()
        self._started = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    # --- lifecycle ---
    def start(self, timeout_s: float = START_TIMEOUT_S) -> EaPriceSource:
        """Bind and run; raises RuntimeError saying why when the endpoints cannot be bound."""
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()
        self._started.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run_thread, name="ea-prices", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout_s):
            raise RuntimeError(f"price source did not start within {timeout_s} s; see the log")
        if self._error is not None:
            raise RuntimeError(f"price source cannot bind {self.ctl_endpoint} / {self.md_endpoint}: {self._error}; "
                               f"is another paper terminal running? choose other ports") from self._error
        logger.info("price source waiting for a real EA on {} (CTL) and {} (MD)", self.ctl_endpoint, self.md_endpoint)
        return self

    def stop(self, timeout_s: float = START_TIMEOUT_S) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    # --- the feed interface of SimTerminal ---
    def advance(self, to_ms: int) -> list[Tick]:
        """Every real tick released since the last call. All of them, whatever `to_ms`: they
        have happened (the real terminal's clock may run a little ahead of ours)."""
        with self._lock:
            ticks = list(self._ticks)
            self._ticks.clear()
        return ticks

    def history_m1(self, symbol: str, minutes: int) -> dict[str, np.ndarray] | None:
        """The real M1 bars of `symbol`: the last `minutes` closed ones and the forming one."""
        history = self._history.get(symbol)
        if history is None or not len(history["time"]):
            return None
        return {name: column[-(minutes + 1):].copy() for name, column in history.items()}

    @property
    def gaps(self) -> int:
        return self.session.gaps

    # --- the loop (its own thread) ---
    def _run_thread(self) -> None:
        context = zmq.Context()
        try:
            ctl, md = self._bind(context)
        except Exception as exc:  # reported by start()
            self._error = exc
            context.destroy(linger=0)
            self._started.set()
            return
        self._started.set()
        try:
            poller = zmq.Poller()
            poller.register(ctl, zmq.POLLIN)
            poller.register(md, zmq.POLLIN)
            while not self._stop.is_set():
                ready = dict(poller.poll(self.poll_ms))
                now = time.monotonic()
                if ctl in ready:
                    self._drain(ctl, lambda frames: self._on_ctl(frames, now))
                if md in ready:
                    self._drain(md, lambda frames: self._on_md(frames, now))
                self.session.on_timer(now)
                self._deliver(ctl)
        except Exception:
            logger.exception("price source stopped on an error; the paper terminal gets no more prices")
            self.stale = True
        finally:
            context.destroy(linger=0)

    def _bind(self, context: zmq.Context) -> tuple[zmq.Socket, zmq.Socket]:
        # A restarted service rebinds ports just released; ZeroMQ frees them asynchronously.
        deadline = time.monotonic() + BIND_RETRY_S
        while True:
            ctl, md = context.socket(zmq.ROUTER), context.socket(zmq.SUB)
            try:
                for opt, value in ((zmq.LINGER, 0), (zmq.ROUTER_MANDATORY, 1), (zmq.ROUTER_HANDOVER, 1),
                                   (zmq.MAXMSGSIZE, protocol.MAX_FRAME_BYTES), (zmq.SNDHWM, 10_000)):
                    ctl.setsockopt(opt, value)
                for opt, value in ((zmq.LINGER, 0), (zmq.MAXMSGSIZE, protocol.MAX_FRAME_BYTES),
                                   (zmq.RCVHWM, 100_000)):
                    md.setsockopt(opt, value)
                for topic in MD_TOPICS:  # bars are not needed: the simulator builds its own
                    md.setsockopt(zmq.SUBSCRIBE, topic)
                ctl.bind(self.ctl_endpoint)
                md.bind(self.md_endpoint)
                return ctl, md
            except zmq.ZMQError as exc:
                ctl.close(linger=0)
                md.close(linger=0)
                if exc.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @staticmethod
    def _drain(sock: zmq.Socket, handle: Any) -> None:
        for _ in range(MAX_FRAMES_PER_STEP):
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                handle(frames)
            except protocol.ProtocolError as exc:
                logger.warning("price source ignores a frame: {}", exc)
            except Exception:  # noqa: BLE001 - the last line: one frame never stops the real prices
                logger.exception("price source could not handle a frame; it goes on with the next")

    def _on_ctl(self, frames: list[bytes], now: float) -> None:
        if len(frames) != 2:
            raise protocol.ProtocolError(f"CTL message of {len(frames)} frames; expected [routing id, payload]")
        self.session.on_ctl(protocol.login_from_routing_id(frames[0]), protocol.unpack(frames[1]), now)

    def _on_md(self, frames: list[bytes], now: float) -> None:
        if len(frames) != 2:
            raise protocol.ProtocolError(f"MD message of {len(frames)} frames; expected [topic, payload]")
        self.session.on_md(protocol.unpack(frames[1]), now)

    def _deliver(self, ctl: zmq.Socket) -> None:
        session = self.session
        for message in session.take_outbound():
            check_read_only(message)  # the last gate: nothing that trades ever leaves
            try:
                ctl.send_multipart([protocol.routing_id(session.login or 0), protocol.pack(message)], zmq.NOBLOCK)
            except zmq.ZMQError as exc:  # the EA is gone (or not yet back): its timeout deals with it
                logger.debug("price source cannot send {} to the EA: {}", message["type"], exc)
        ticks = session.take_ticks()
        if ticks:
            with self._lock:
                overflow = len(self._ticks) + len(ticks) - MAX_QUEUED_TICKS
                if overflow > 0:
                    for _ in range(min(overflow, len(self._ticks))):
                        self._ticks.popleft()
                    self._dropped += overflow
                    logger.warning("price source: the simulator is not draining ticks; {} dropped so far", self._dropped)
                self._ticks.extend(ticks)
        if session.ready and not self.ready.is_set():
            self.symbols = {name: imported.spec for name, imported in session.symbols.items()}
            self._history = dict(session.history)
            self.tz_offset_s, self.login = session.tz_offset_s, session.login
            self.ready.set()
        self.stale = session.stale
