"""The executor's side of the bridge towards one real EA, for its prices only (pure, no sockets).

Paper trading on real prices needs from a real terminal what a chart needs: who it is, its
symbols' contract terms, M1 history and live ticks. `PriceSession` holds that conversation
as plain state, fed what arrives and the clock: it answers `hello` with `hello_ack`, pings
every second (the EA's dead-man), learns the symbols the EA streams (`symbols_get`, then
`symbol_info` for any left out), fetches their M1 history (`copy_rates_from_pos`) and
trading sessions (`symbol_sessions`, a bridge extension: an EA without it leaves the
fixtures' sessions), subscribes, and sequences the `tick.<SYMBOL>` batches: a `seq` gap, or a new EA instance
after an outage, holds the symbol's ticks and backfills the missing ones with
`copy_ticks_from` (actors.tick_gaps). Three missed heartbeats on MD = prices stale.

It can only ask what `READ_ONLY_REQUESTS` lists: it has no order path, by construction;
`_request` refuses any other type, and the socket shell checks every frame again. What the
EA sends is held to the protocol's shapes (bridge.shapes) as the executor holds it: a refused
message is counted and logged (at most a line per type every few seconds) and goes no
further, and the request it answered fails at once.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
from loguru import logger

from bridge.tick_gaps import BACKFILL_TIMEOUT_S, TickSequencer
from bridge import mt5, protocol
from bridge.shapes.messages import CTL, MD, check_message, kind_of
from bridge.shapes.refusals import Refusals
from bridge.sim.symbol_import import ImportedSymbol, import_symbol, import_symbols, sessions_from_windows
from bridge.symbols import SymbolConfigError, SymbolSpec

READ_ONLY_REQUESTS = frozenset({protocol.HELLO_ACK, protocol.PING, protocol.SYMBOLS_GET, protocol.SYMBOL_INFO,
                                protocol.SYMBOL_SESSIONS, protocol.COPY_RATES_FROM_POS, protocol.COPY_TICKS_FROM,
                                protocol.SUBSCRIBE})
STALE_AFTER_S = protocol.MISSED_BEATS_FOR_DOWN * protocol.HEARTBEAT_INTERVAL_S
HISTORY_TIMEOUT_S = 15.0  # a week of M1 bars is a large reply, and the terminal may load it first
HISTORY_TRIES = 5
OTHER_TRIES = 3
RETRY_DELAY_S = 1.0
NOT_READY_TRIES = 6  # a NOT_READY answer (history still synchronising) is asked again after 1, 2, 4, 8, 16 s
BACKFILL_COUNT = 50_000  # ticks per copy_ticks_from: ~3 MB, within one frame
RATE_COLUMNS = ("time", "open", "high", "low", "close", "tick_volume", "spread", "real_volume")

Tick = tuple[str, int, float, float]  # symbol, time_msc, bid, ask


class NotAPriceRequest(ValueError):
    """A request a price source must never send (anything that could trade)."""


def check_read_only(message: Mapping[str, Any]) -> None:
    if message.get("type") not in READ_ONLY_REQUESTS:
        raise NotAPriceRequest(f"a price source sends only {sorted(READ_ONLY_REQUESTS)}, "
                               f"never {message.get('type')!r}")


@dataclass
class _Pending:
    id: str
    type: str
    fields: dict[str, Any]
    purpose: Any
    deadline: float
    tries: int


@dataclass
class _Stream:
    """One symbol's live ticks: their sequencing and what was released."""
    seq: TickSequencer = field(default_factory=TickSequencer)
    boot: str = ""
    last_released: int | None = None


class PriceSession:
    """Prices from the first EA that says hello; feed it with `on_ctl`, `on_md`, `on_timer`."""

    def __init__(self, *, history_minutes: int, fixtures: Mapping[str, SymbolSpec] | None = None) -> None:
        self.history_minutes = max(0, int(history_minutes))
        self.fixtures = fixtures
        self.login: int | None = None  # the real account; other EAs are ignored
        self.boot = ""
        self.tz_offset_s = 0
        self.offered: list[str] = []  # what the EA streams (its hello)
        self.symbols: dict[str, ImportedSymbol] = {}
        self.history: dict[str, dict[str, np.ndarray]] = {}
        self.ready = False  # symbols and history known, subscribed: a paper terminal may start
        self.stale = False
        self.restarts = 0
        self._streams: dict[str, _Stream] = {}
        self._pending: dict[str, _Pending] = {}
        self._later: list[tuple[float, _Pending]] = []
        self._todo: set[str] = set()  # symbols awaiting info, then history
        self._sessions: str = ""  # "" not asked, "asked", "done"
        self._outbox: list[dict[str, Any]] = []
        self._released: list[Tick] = []
        self._envelope = protocol.Envelope(boot="paper-prices", term=0)
        self._ids = itertools.count(1)
        self._last_md: float | None = None
        self._last_ping = -math.inf
        self._ignored_logins: set[int] = set()
        self.refusals = Refusals()  # what the EA sent that breaks the protocol, by type

    # --- what the shell takes ---
    def take_outbound(self) -> list[dict[str, Any]]:
        out, self._outbox = self._outbox, []
        return out

    def take_ticks(self) -> list[Tick]:
        out, self._released = self._released, []
        return out

    @property
    def gaps(self) -> int:
        return sum(stream.seq.gaps for stream in self._streams.values())

    # --- inbound ---
    def on_ctl(self, login: int | None, message: dict[str, Any], now: float) -> None:
        if login is None or (self.login is not None and login != self.login):
            if login not in self._ignored_logins:
                self._ignored_logins.add(login)
                logger.warning("price source: ignoring account {} (prices come from account {} only)",
                               login, self.login)
            return
        why = check_message(message, CTL)
        pending = self._pending.pop(message["id"], None) if protocol.is_reply(message) \
            and isinstance(message.get("id"), str) else None
        if why is None and pending is not None and message["type"] != pending.type:
            why = f"a {message['type']!r} reply to {pending.type} request {pending.id}"
        if why is not None:
            self._refuse(login, kind_of(message), why, now)
            if pending is not None:
                self._on_failure(pending, now, f"unusable answer: {why}", answered=True)
        elif pending is not None:
            self._on_reply(pending, message, now)
        elif message["type"] == protocol.HELLO:
            self._on_hello(login, message, now)
        # Trade events of the real account are none of the paper terminal's business.

    def on_md(self, message: dict[str, Any], now: float) -> None:
        if self.login is None or message.get("term") != self.login:
            return
        why = check_message(message, MD)
        if why is not None:  # not news of the EA's health either: enough of them and prices go stale
            self._refuse(self.login, kind_of(message), why, now)
            return
        self._last_md = now
        if message.get("type") == protocol.TICK and self.ready:
            self._on_ticks(message, now)

    def on_timer(self, now: float) -> None:
        if self.login is not None and self.boot and now - self._last_ping >= protocol.PING_INTERVAL_S:
            self._last_ping = now
            self._request(protocol.PING, "ping", now)
        for pending in [p for p in self._pending.values() if now >= p.deadline]:
            del self._pending[pending.id]
            self._on_failure(pending, now, "no answer", answered=False)
        due = [p for at, p in self._later if at <= now]
        self._later = [(at, p) for at, p in self._later if at > now]
        for pending in due:
            self._request(pending.type, pending.purpose, now, tries=pending.tries, **pending.fields)
        for symbol, stream in self._streams.items():
            held = stream.seq.expire(now)
            if held is not None:
                logger.warning("price source: {} backfill did not come; {} held ticks released, some are missing",
                               symbol, len(held))
                self._release(symbol, stream, held)
        self._check_stale(now)

    def _refuse(self, login: int, kind: str, why: str, now: float) -> None:
        unsaid = self.refusals.refuse(login, kind, now)
        if unsaid is not None:
            logger.warning("price source: refused {} from real EA {}: {}{}", kind, login, why,
                           f" ({unsaid} more refused since the last line)" if unsaid else "")

    # --- session ---
    def _on_hello(self, login: int, message: dict[str, Any], now: float) -> None:
        first = self.login is None
        self.login = login
        if first:
            self._envelope = protocol.Envelope(boot="paper-prices", term=login)
        self._request(protocol.HELLO_ACK, "hello_ack", now)
        boot = str(message.get("boot", ""))
        if boot == self.boot:
            return  # a repeated hello of the instance we know
        self.boot = boot
        self._last_md = now  # grant the new instance its heartbeats' grace
        if self.ready:
            self.restarts += 1
            logger.info("price source: real EA {} restarted (boot {}); subscribing again", login, boot)
            if message.get("tz_offset_s") != self.tz_offset_s:
                logger.warning("price source: the broker's UTC offset is now {} s; the paper terminal keeps {} s "
                               "until it restarts", message.get("tz_offset_s"), self.tz_offset_s)
            self._subscribe(now)
            return
        tz = message.get("tz_offset_s")
        self.tz_offset_s = tz if isinstance(tz, int) and not isinstance(tz, bool) else 0
        self.offered = [s for s in message.get("symbols") or [] if isinstance(s, str)]
        self._pending.clear()
        self._later.clear()
        self.symbols.clear()
        self.history.clear()
        self._sessions = ""
        logger.info("price source: real EA {} (boot {}, UTC{:+.1f} h) streams {} symbol(s): {}", login, boot,
                    self.tz_offset_s / 3600, len(self.offered), ", ".join(self.offered) or "none")
        if not self.offered:
            logger.error("price source: the real EA streams no symbols; add symbols to its Market Watch")
            return
        self._todo = set(self.offered)
        self._request(protocol.SYMBOLS_GET, "symbols", now, group=",".join(self.offered))

    def _on_reply(self, pending: _Pending, message: dict[str, Any], now: float) -> None:
        ok, data = bool(message.get("ok")), message.get("data")
        if not ok:
            error = message.get("error")
            why = ": ".join(str(part) for part in error) if isinstance(error, list) else "no error text"
            self._on_failure(pending, now, why, answered=True, not_ready=protocol.is_not_ready(message))
            return
        match pending.purpose:
            case "symbols":
                imported, refused = import_symbols(data if isinstance(data, list) else [], self.fixtures)
                for name, why in refused.items():
                    logger.warning("price source: symbol {} left out: {}", name, why)
                for name in self.offered:
                    if name in imported:
                        self._add_symbol(imported[name], now)
                    elif name not in refused:  # not in the reply: ask for it alone
                        self._request(protocol.SYMBOL_INFO, ("symbol", name), now, symbol=name)
                    else:
                        self._todo.discard(name)
            case ("symbol", name):
                try:
                    if not isinstance(data, dict) or not data:
                        raise SymbolConfigError("the EA's symbol_info reply is empty")
                    self._add_symbol(import_symbol({**data, "name": name}, self.fixtures), now)
                except SymbolConfigError as exc:
                    logger.warning("price source: symbol {} left out: {}", name, exc)
                    self._todo.discard(name)
            case ("history", name):
                self.history[name] = _rate_arrays(data)
                self._todo.discard(name)
            case "sessions":
                self._take_sessions(data if isinstance(data, dict) else {})
            case ("backfill", symbol, date_from):
                self._on_backfill(symbol, date_from, data, now)
            case "subscribe":
                logger.info("price source: subscribed to {} symbol(s) of the real EA", len(self.symbols))
        self._maybe_ready(now)

    def _on_failure(self, pending: _Pending, now: float, why: str, *, answered: bool, not_ready: bool = False) -> None:
        purpose = pending.purpose
        kind = purpose[0] if isinstance(purpose, tuple) else purpose
        if kind in ("ping", "hello_ack"):
            return  # liveness is judged by the heartbeats, and the EA repeats its hello
        if not_ready and pending.tries < NOT_READY_TRIES:  # the EA said "not ready, retry": with backoff
            self._later.append((now + RETRY_DELAY_S * 2 ** (pending.tries - 1),
                                _Pending("", pending.type, pending.fields, purpose, 0.0, pending.tries + 1)))
            return
        if kind == "backfill":
            stream = self._streams.get(purpose[1])
            if stream is not None and stream.seq.answers(purpose[2]):
                logger.warning("price source: {} backfill failed ({}); releasing the held ticks", purpose[1], why)
                self._release(purpose[1], stream, stream.seq.expire(math.inf) or [])
            return
        # A lost request is asked again; so is history, which the terminal may still be loading.
        retriable = not answered or kind == "history"
        if retriable and pending.tries < (HISTORY_TRIES if kind == "history" else OTHER_TRIES):
            self._later.append((now + RETRY_DELAY_S, _Pending("", pending.type, pending.fields, purpose, 0.0,
                                                              pending.tries + 1)))
            return
        logger.warning("price source: {} {}failed after {} tr{}: {}", pending.type,
                       f"for {purpose[1]} " if isinstance(purpose, tuple) else "", pending.tries,
                       "y" if pending.tries == 1 else "ies", why)
        if kind == "sessions":
            logger.info("price source: no trading sessions from the real EA; the fixtures' sessions stand")
            self._sessions = "done"
            self._maybe_ready(now)
        elif kind == "symbols":  # ask one by one instead
            for name in sorted(self._todo):
                self._request(protocol.SYMBOL_INFO, ("symbol", name), now, symbol=name)
        elif kind in ("symbol", "history"):
            if kind == "history":
                self.history[purpose[1]] = _rate_arrays({})  # it starts without history
            self._todo.discard(purpose[1])
            self._maybe_ready(now)

    def _add_symbol(self, imported: ImportedSymbol, now: float) -> None:
        name = imported.spec.name
        self.symbols[name] = imported
        if imported.defaulted:
            logger.info("price source: {}: broker terms, except {} from {}", name, ", ".join(imported.defaulted),
                        f"the {imported.fixture} fixture" if imported.fixture else "the simulator's defaults")
        if self.history_minutes:
            self._request(protocol.COPY_RATES_FROM_POS, ("history", name), now, timeout=HISTORY_TIMEOUT_S,
                          symbol=name, timeframe="M1", start_pos=0, count=self.history_minutes + 1)
        else:
            self._todo.discard(name)

    def _maybe_ready(self, now: float) -> None:
        if self.ready or self._todo or self._pending_of("symbols", "symbol", "history"):
            return
        if not self.symbols:
            logger.error("price source: none of the real EA's symbols can be simulated; see the warnings above")
            self._todo = {""}  # said once; a new EA instance starts over
            return
        if self._sessions != "done":
            if not self._sessions:
                self._sessions = "asked"
                self._request(protocol.SYMBOL_SESSIONS, "sessions", now, symbols=sorted(self.symbols))
            return
        self._streams = {name: _Stream() for name in self.symbols}
        self.ready = True
        self._last_md = now
        self._subscribe(now)
        logger.info("price source: real prices ready from account {}: {} symbol(s), {} with history",
                    self.login, len(self.symbols), sum(1 for h in self.history.values() if len(h["time"])))

    def _take_sessions(self, data: dict[str, Any]) -> None:
        self._sessions = "done"
        for name, windows in data.items():
            imported = self.symbols.get(name)
            if imported is None:
                continue
            try:
                spec = dataclasses.replace(imported.spec, sessions_trade=sessions_from_windows(windows))
            except SymbolConfigError as exc:
                logger.warning("price source: {} keeps the fixture's sessions: {}", name, exc)
                continue
            self.symbols[name] = dataclasses.replace(imported, spec=spec)
        logger.info("price source: trading sessions of the broker for {} symbol(s)", len(data))

    def _pending_of(self, *kinds: str) -> bool:
        purposes = [p.purpose for p in self._pending.values()] + [p.purpose for _, p in self._later]
        return any((p[0] if isinstance(p, tuple) else p) in kinds for p in purposes)

    def _subscribe(self, now: float) -> None:
        # M1 too: the EA then keeps the symbol selected with its history loaded.
        self._request(protocol.SUBSCRIBE, "subscribe", now, symbols=sorted(self.symbols), timeframes=["M1"])

    # --- ticks ---
    def _on_ticks(self, message: dict[str, Any], now: float) -> None:
        symbol = message.get("symbol")
        stream = self._streams.get(symbol) if isinstance(symbol, str) else None
        if stream is None:
            return
        ticks = _tick_rows(message)
        boot = str(message.get("boot", ""))
        if stream.boot and boot != stream.boot and stream.seq.last_time is not None and not stream.seq.backfilling:
            # A new EA instance streams from its current tick on: fetch what the outage missed first.
            seq = stream.seq
            seq.held, seq.last_seq = [], None
            seq.backfill_from, seq.backfill_deadline = seq.last_time + 1, now + BACKFILL_TIMEOUT_S
            self._backfill(symbol, seq.backfill_from, now)
        stream.boot = boot
        seq_no = message.get("seq")
        released, date_from = stream.seq.on_batch(seq_no if isinstance(seq_no, int) else 0, ticks, now)
        if date_from is not None:
            logger.warning("price source: {} tick batch {} arrived after a gap; backfilling from {} (gaps: {})",
                           symbol, seq_no, date_from, self.gaps)
            self._backfill(symbol, date_from, now)
        self._release(symbol, stream, released)

    def _backfill(self, symbol: str, date_from: int, now: float) -> None:
        self._request(protocol.COPY_TICKS_FROM, ("backfill", symbol, date_from), now, timeout=BACKFILL_TIMEOUT_S,
                      symbol=symbol, date_from=date_from, count=BACKFILL_COUNT, flags=mt5.COPY_TICKS_ALL)

    def _on_backfill(self, symbol: str, date_from: int, data: Any, now: float) -> None:
        stream = self._streams.get(symbol)
        if stream is None or not stream.seq.answers(date_from):
            return  # a late answer to a backfill already given up
        ticks = _tick_rows(data if isinstance(data, dict) else {})
        released, again = stream.seq.on_backfill(ticks, now)
        logger.info("price source: {} backfilled {} tick(s) from {}", symbol, len(ticks), date_from)
        self._release(symbol, stream, released)
        if again is not None:
            self._backfill(symbol, again, now)

    def _release(self, symbol: str, stream: _Stream, ticks: list[tuple[int, float, float]]) -> None:
        for time_msc, bid, ask in ticks:
            if stream.last_released is not None and time_msc < stream.last_released:
                continue  # never let a symbol's time run backwards in the simulator
            stream.last_released = time_msc
            self._released.append((symbol, time_msc, bid, ask))

    def _check_stale(self, now: float) -> None:
        if not self.ready:
            return
        silent_s = now - (self._last_md if self._last_md is not None else now)
        stale = silent_s > STALE_AFTER_S
        if stale and not self.stale:
            logger.warning("price source: no market data from real EA {} for {:.1f} s ({} heartbeats missed): "
                           "prices stale", self.login, silent_s, protocol.MISSED_BEATS_FOR_DOWN)
        elif self.stale and not stale:
            logger.info("price source: market data from real EA {} is back", self.login)
        self.stale = stale

    # --- outbound ---
    def _request(self, type_: str, purpose: Any, now: float, *, timeout: float = protocol.REQUEST_TIMEOUT_S,
                 tries: int = 1, **fields: Any) -> None:
        if type_ not in READ_ONLY_REQUESTS:
            raise NotAPriceRequest(f"a price source never sends {type_!r}")
        request_id = f"pp{next(self._ids)}"
        self._outbox.append(self._envelope.message(type_, id=request_id, **fields))
        self._pending[request_id] = _Pending(request_id, type_, fields, purpose, now + timeout, tries)


def _tick_rows(columns: Mapping[str, Any]) -> list[tuple[int, float, float]]:
    """(time_msc, bid, ask) of tick columns; a tick without both prices cannot be quoted."""
    try:
        rows = zip(columns.get("time_msc") or (), columns.get("bid") or (), columns.get("ask") or ())
        return [(int(t), float(b), float(a)) for t, b, a in rows if b > 0 and a > 0]
    except (TypeError, ValueError):
        return []


def _rate_arrays(data: Any) -> dict[str, np.ndarray]:
    """copy_rates_from_pos columns as the arrays SimMarket seeds its bars with (oldest first)."""
    data = data if isinstance(data, dict) else {}
    size = len(data.get("time") or ())
    arrays = {}
    for name in RATE_COLUMNS:
        column = data.get(name)
        if not isinstance(column, list) or len(column) != size:
            column = [0] * size
        arrays[name] = np.asarray(column, dtype=np.int64 if name == "time" else np.float64)
    return arrays
