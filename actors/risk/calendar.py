"""Pre-trade checks on time (pure): trading sessions, daily no-trade windows, news blackouts.

All times are the broker server's, as MT5 reports them: `server_time_ms` is ms since the
epoch of the server's wall clock (a server at UTC+2 reads 12:00 when UTC is 10:00). Sessions
are MQL5's SymbolInfoSessionTrade: (day of week, Sunday = 0; from; to) in seconds from the
server's midnight, `to` up to 172 800 (RiskContext reads the EA's windows by the bridge's rule,
`protocol.session_span`): a session 22:00-26:00 runs to 02:00 the next day. Sessions that
touch, including across midnight and the week's end, are one stretch: Monday 00:00–24:00
followed by Tuesday 00:00–22:00 closes on Tuesday at 22:00, not at Monday's midnight.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from actors.risk.correlation import symbol_currencies
from actors.risk.model import Book, NewsEvent, OrderToCheck, Session

DAY_S = 86_400
WEEK_S = 7 * DAY_S
EPOCH_WEEKDAY = 4  # 1970-01-01 was a Thursday; Sunday = 0
DAY_NAMES = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
HIGH_IMPACT = {"high", "3"}  # MT5 CALENDAR_IMPORTANCE_HIGH = 3


def week_seconds(server_time_ms: int) -> int:
    """Seconds since Sunday 00:00 of the server's week."""
    return (server_time_ms // 1000 + EPOCH_WEEKDAY * DAY_S) % WEEK_S


def clock(week_s: int) -> str:
    day, rest = divmod(int(week_s) % WEEK_S, DAY_S)
    return f"{DAY_NAMES[day]} {rest // 3600:02d}:{rest % 3600 // 60:02d}"


def session_stretches(sessions: Iterable[Session]) -> list[tuple[int, int]]:
    """Merged [start, end) stretches in seconds on three consecutive weeks, so a stretch that
    wraps the week's end is whole around the middle week (where the checks look)."""
    if isinstance(sessions, tuple):  # a symbol's sessions as the RiskGuard holds them: the same every order
        return list(_stretches_of(sessions))
    return _stretches(sessions)


@functools.lru_cache(maxsize=512)
def _stretches_of(sessions: tuple[Session, ...]) -> tuple[tuple[int, int], ...]:
    return tuple(_stretches(sessions))


def _stretches(sessions: Iterable[Session]) -> list[tuple[int, int]]:
    spans = sorted((day * DAY_S + start + shift, day * DAY_S + end + shift)
                   for day, start, end in sessions if end > start for shift in (0, WEEK_S, 2 * WEEK_S))
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def seconds_to_close(sessions: Sequence[Session], server_time_ms: int) -> int | None:
    """Seconds until the current session stretch closes; None when the symbol is closed now."""
    now = week_seconds(server_time_ms) + WEEK_S
    for start, end in session_stretches(sessions):
        if start <= now < end:
            return end - now
    return None


def check_trading_hours(order: OrderToCheck, book: Book, limits: Mapping[str, Any]) -> str | None:
    if order.closing or book.sessions is None or book.server_time_ms is None:
        return None
    left = seconds_to_close(book.sessions, book.server_time_ms)
    now = week_seconds(book.server_time_ms)
    if left is None:
        return f"{order.symbol} is outside its trading sessions (server time {clock(now)})"
    buffer_min = float(limits.get("session_close_buffer_min") or 0)
    if left < buffer_min * 60:
        return (f"{order.symbol}'s session closes at {clock(now + left)} server time, within "
                f"session_close_buffer_min {buffer_min:g}")
    return None


def parse_hhmm(text: str) -> int:
    """Minutes from midnight of an 'HH:MM' (24:00 allowed as the day's end); ValueError otherwise."""
    hours, _, minutes = str(text).partition(":")
    value = int(hours) * 60 + int(minutes)
    if not (len(minutes) == 2 and 0 <= int(minutes) < 60 and 0 <= value <= 24 * 60):
        raise ValueError(f"bad time of day {text!r}: use 'HH:MM', 00:00..24:00")
    return value


def in_window(minute: int, start: int, end: int) -> bool:
    """Whether minute-of-day `minute` is in [start, end), a window that may wrap midnight."""
    return start <= minute < end if start <= end else minute >= start or minute < end


def check_no_trade_window(order: OrderToCheck, book: Book, limits: Mapping[str, Any]) -> str | None:
    """The daily windows of `no_trade_windows` (e.g. [["23:55", "00:05"]], the rollover)."""
    windows = limits.get("no_trade_windows") or ()
    if order.closing or book.server_time_ms is None:
        return None
    minute = week_seconds(book.server_time_ms) % DAY_S // 60
    for start, end in windows:
        if in_window(minute, parse_hhmm(start), parse_hhmm(end)):
            return (f"no new positions between {start} and {end} server time (no_trade_windows; "
                    f"now {minute // 60:02d}:{minute % 60:02d})")
    return None


def is_high_impact(event: NewsEvent) -> bool:
    return str(event.impact).lower() in HIGH_IMPACT


def check_news(order: OrderToCheck, book: Book, limits: Mapping[str, Any]) -> str | None:
    """No entry within `news_blackout_min` before or after a high-impact event of the symbol's currencies."""
    minutes = limits.get("news_blackout_min")
    if order.closing or not minutes or book.server_time_ms is None or not book.news:
        return None
    currencies = {c for c in symbol_currencies(order.symbol, book.currencies) if c}
    window_ms = float(minutes) * 60_000
    for event in sorted(book.news, key=lambda e: abs(e.time_ms - book.server_time_ms)):
        near = abs(event.time_ms - book.server_time_ms) <= window_ms
        if near and is_high_impact(event) and event.currency in currencies:
            when = (event.time_ms - book.server_time_ms) / 60_000
            at = f"in {when:.0f} min" if when >= 0 else f"{-when:.0f} min ago"
            return (f"news blackout: high-impact {event.currency} event {event.title or ''!s} {at} "
                    f"(news_blackout_min {minutes:g})").replace("  ", " ")
    return None
