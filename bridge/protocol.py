"""The EA bridge protocol of MT5_BRIDGE.md: endpoints, message types, timing and the codec.

Both sides of the bridge (the executor's Terminal actor, and the EA or the simulated
terminal) build and read messages only through this module, so the wire format lives in
one place. Messages are flat msgpack maps: the envelope keys plus the message's own keys;
replies add `ok` and either `data` or `error` ([code, text]).
"""

from __future__ import annotations

import time
from typing import Any

import msgpack

VERSION = 1

DEFAULT_CTL_ENDPOINT = "tcp://127.0.0.1:5557"
DEFAULT_MD_ENDPOINT = "tcp://127.0.0.1:5558"
ROUTING_ID_PREFIX = "mt5-"

# --- timing (seconds) ---
PING_INTERVAL_S = 1.0
HEARTBEAT_INTERVAL_S = 1.0
MISSED_BEATS_FOR_DOWN = 3
HELLO_REPEAT_S = 5.0
REQUEST_TIMEOUT_S = 2.5
DEAD_MAN_S = 3.0
IDEMPOTENCY_TTL_S = 600.0

# --- size limits: a peer that sends more is broken or hostile ---
MAX_FRAME_BYTES = 4 * 1024 * 1024
MAX_STR_LEN = 1024 * 1024
MAX_ARRAY_LEN = 1_000_000
MAX_MAP_LEN = 100_000

ENVELOPE_KEYS = ("v", "type", "id", "seq", "ts", "boot", "term")

# --- session and liveness ---
HELLO = "hello"
HELLO_ACK = "hello_ack"
PING = "ping"
# The pong is the reply to a ping request (same `id`, `ok: true`).

# --- requests, executor -> EA (names of the MetaTrader5 package functions) ---
ACCOUNT_INFO = "account_info"
TERMINAL_INFO = "terminal_info"
SYMBOLS_GET = "symbols_get"
SYMBOL_INFO = "symbol_info"
SYMBOL_INFO_TICK = "symbol_info_tick"
COPY_RATES_FROM_POS = "copy_rates_from_pos"
COPY_TICKS_FROM = "copy_ticks_from"
ORDER_CALC_MARGIN = "order_calc_margin"
ORDER_CALC_PROFIT = "order_calc_profit"
ORDER_CHECK = "order_check"
ORDER_SEND = "order_send"
POSITIONS_GET = "positions_get"
ORDERS_GET = "orders_get"
HISTORY_DEALS_GET = "history_deals_get"
HISTORY_ORDERS_GET = "history_orders_get"
SUBSCRIBE = "subscribe"
# Extensions (not in MT5_BRIDGE.md, which we extend, never change): what the pre-trade
# checks need and the MetaTrader5 package has no function for.
# `calendar {date_from, date_to, country?, currency?}` (ms UTC) -> [{time, currency,
# importance 0..3, event_name, ...}]: MQL5's CalendarValueHistory, for news blackouts. The
# window is half-open, date_from <= time < date_to, as CalendarValueHistory selects.
CALENDAR = "calendar"
# `symbol_sessions {symbols}` -> {symbol: [[day_of_week (Sunday = 0), from_s, to_s], ...]}:
# MQL5's SymbolInfoSessionTrade, seconds from the server's midnight, for trading hours.
# The EA sends MQL5's values unchanged; the executor reads them with `session_span` (below),
# the one rule for a session that runs past midnight: `to` may reach SESSION_TO_MAX_S (MQL5
# counts a session's end up to 48:00, so 22:00-02:00 arrives as [d, 79200, 93600]), and a
# `to` at or before `from` (a date part dropped on the way, or 0 for 24:00) ends the next day.
SYMBOL_SESSIONS = "symbol_sessions"
SESSION_TO_MAX_S = 2 * 86_400

REQUESTS = frozenset({
    ACCOUNT_INFO, TERMINAL_INFO, SYMBOLS_GET, SYMBOL_INFO, SYMBOL_INFO_TICK,
    COPY_RATES_FROM_POS, COPY_TICKS_FROM, ORDER_CALC_MARGIN, ORDER_CALC_PROFIT,
    ORDER_CHECK, ORDER_SEND, POSITIONS_GET, ORDERS_GET, HISTORY_DEALS_GET,
    HISTORY_ORDERS_GET, SUBSCRIBE, PING, HELLO_ACK, CALENDAR, SYMBOL_SESSIONS,
})

# Extension: "not ready, retry". The EA never blocks its timer (a blocked EA answers no ping
# and the executor marks the link down after 3 s), so a history request it cannot answer at
# once -- copy_rates_from_pos or copy_ticks_from while the symbol's history is still
# synchronising, after a copy of that symbol was slow, or once this timer slice's copy budget
# is spent -- is answered `error: [NOT_READY, why]`, and the executor asks again with backoff
# (actors/terminal/terminal.py). The code lies outside the MetaTrader5 package's last_error()
# codes (1, -1..-8, -10000..-10005), so it cannot be mistaken for one of them.
NOT_READY = -20001
# One reply is one frame: history replies carry at most this many rows ("up to count", as
# in the MetaTrader5 package); the asker continues from the last row it got.
MAX_TICKS_PER_REPLY = 50_000
MAX_RATES_PER_REPLY = 50_000

# Extension: the server's zone over time. MT5 servers change their offset from UTC (most keep
# New York close time: UTC+2 in the US winter, UTC+3 in the summer), and each time is
# converted with the offset valid then (bridge/server_tz.py), never with today's. Besides
# `tz_offset_s` (the offset now), `hello` and the `terminal_info` reply carry `tz_history`:
# [[utc_from_ms, offset_s], ...], oldest first, at most TZ_HISTORY_MAX entries: an offset
# holds from its instant until the next entry's, and before the first entry the first offset
# holds. A real EA learns its table while it runs (TimeTradeServer() - TimeGMT(), sampled; its
# first entry is its start), so it converts times before its start with the offset it first
# saw -- an hour off for history older than the last switch it did not live through -- and the
# executor, converting back with the same table, still finds every bar edge at server
# midnight. Every `hb` carries `tz_offset_s` and `tz_since` (ms UTC: when that offset took
# effect, as far as the sender knows); when the offset changes, the EA sends an `hb` at once,
# before the ticks that follow, and a fresh `hello`.
TZ_HISTORY = "tz_history"
TZ_SINCE = "tz_since"
TZ_HISTORY_MAX = 64

# --- events, EA -> executor on CTL (never dropped) ---
TRADE_TRANSACTION = "trade_transaction"
POSITIONS = "positions"
ORDERS = "orders"
ACCOUNT = "account"
TERMINAL_STATUS = "terminal_status"
LOG = "log"

EVENTS = frozenset({HELLO, TRADE_TRANSACTION, POSITIONS, ORDERS, ACCOUNT, TERMINAL_STATUS, LOG})

# --- market data, EA -> executor on MD: topics ---
TICK = "tick"
BAR = "bar"
HB = "hb"


class ProtocolError(ValueError):
    """A frame that is not a well-formed bridge message."""


def routing_id(login: int) -> bytes:
    """The ZMQ routing id an EA of account `login` connects with."""
    return f"{ROUTING_ID_PREFIX}{login}".encode()


def login_from_routing_id(identity: bytes) -> int | None:
    text = identity.decode("ascii", "replace")
    if not text.startswith(ROUTING_ID_PREFIX):
        return None
    digits = text[len(ROUTING_ID_PREFIX):]
    return int(digits) if digits.isdigit() else None


def tick_topic(symbol: str) -> bytes:
    return f"{TICK}.{symbol}".encode()


def bar_topic(symbol: str, timeframe: str) -> bytes:
    return f"{BAR}.{symbol}.{timeframe}".encode()


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def pack(message: dict[str, Any]) -> bytes:
    """Encode a message; uint64 tickets stay uint64, floats stay float64."""
    return msgpack.packb(message, use_bin_type=True)


def unpack(frame: bytes) -> dict[str, Any]:
    """Decode one frame into a message map, or raise ProtocolError saying why."""
    if len(frame) > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {len(frame)} bytes exceeds {MAX_FRAME_BYTES}")
    try:
        message = msgpack.unpackb(
            frame, raw=False, strict_map_key=True,
            max_str_len=MAX_STR_LEN, max_bin_len=MAX_STR_LEN,
            max_array_len=MAX_ARRAY_LEN, max_map_len=MAX_MAP_LEN,
        )
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        raise ProtocolError(f"undecodable frame: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError("frame is not a msgpack map")
    if message.get("v") != VERSION:
        raise ProtocolError(f"unsupported protocol version {message.get('v')!r}")
    if not isinstance(message.get("type"), str):
        raise ProtocolError("message has no string 'type'")
    return message


class Envelope:
    """Stamps outgoing messages of one sender: sequence numbers, boot id, login.

    One instance per sender (per socket and, on MD, per topic via `seq_key`).
    """

    def __init__(self, *, boot: str, term: int) -> None:
        self.boot = boot
        self.term = term
        self._seq: dict[str, int] = {}

    def next_seq(self, key: str = "") -> int:
        value = self._seq.get(key, 0) + 1
        self._seq[key] = value
        return value

    def message(self, type_: str, *, id: str = "", seq_key: str = "", **fields: Any) -> dict[str, Any]:
        body = {
            "v": VERSION, "type": type_, "id": id, "seq": self.next_seq(seq_key),
            "ts": now_ms(), "boot": self.boot, "term": self.term,
        }
        body.update(fields)
        return body

    def reply(self, request: dict[str, Any], data: Any) -> dict[str, Any]:
        return self.message(request["type"], id=request.get("id", ""), ok=True, data=data)

    def error(self, request: dict[str, Any], code: int, text: str) -> dict[str, Any]:
        return self.message(request.get("type", ""), id=request.get("id", ""), ok=False, error=[code, text])


def is_reply(message: dict[str, Any]) -> bool:
    return "ok" in message


def is_not_ready(message: dict[str, Any]) -> bool:
    """A reply saying "not ready, retry" (NOT_READY): ask again later, it is not a failure yet."""
    error = message.get("error")
    return message.get("ok") is False and isinstance(error, (list, tuple)) and len(error) >= 1 \
        and error[0] == NOT_READY


def session_span(from_s: Any, to_s: Any) -> tuple[int, int]:
    """(start, end) in seconds from the session day's midnight, start < end <= SESSION_TO_MAX_S,
    of one `symbol_sessions` window; an end past 86 400 lies in the next day. ValueError if the
    window is not MQL5's: 0 <= from_s < 86 400, 0 <= to_s <= SESSION_TO_MAX_S, both int."""
    if any(isinstance(v, bool) or not isinstance(v, int) for v in (from_s, to_s)) \
            or not 0 <= from_s < 86_400 or not 0 <= to_s <= SESSION_TO_MAX_S:
        raise ValueError(f"session [{from_s!r}, {to_s!r}] is not MQL5's: from 0..86399 s, to 0..{SESSION_TO_MAX_S} s")
    return from_s, to_s if to_s > from_s else to_s + 86_400
