"""Server-time calendar of the simulated trade server: trading sessions, days, rollover.

This module owns how a UTC millisecond instant maps onto the broker's server time (its zone,
a `bridge.server_tz.ServerTz` or a fixed offset in seconds: MT5 servers typically keep New
York close time, UTC+2/+3, so that the FX week is Monday 00:00 to Friday 24:00), whether a
symbol's trading session is open at that instant (outside → 10018), where a server day ends
(ORDER_TIME_DAY expiry, the swap rollover) and which rollovers fall between two instants,
with the day each one closes, and the arithmetic of trading time (when the next session
opens, how much trading time lies between two instants) that keeps the simulated feed quiet
while a market is closed. Each instant is read with the offset valid then: across a DST
switch a server day lasts 23 or 25 hours, and a session's edges are where the server clock
first reads them (`ServerTz.to_utc`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from bridge.server_tz import ServerTz, as_server_tz
from bridge.symbols import SymbolSpec

MS_PER_MINUTE = 60_000
MS_PER_DAY = 86_400_000
NEVER = 2**62  # an instant no clock reaches: the end of a window that never closes
# 1970-01-01 was a Thursday: day number 0 is Thursday = 4 with Sunday = 0 (MQL5's numbering).
EPOCH_DAY_OF_WEEK = 4


Tz = ServerTz | int  # the server's zone, or a fixed offset from UTC in seconds


def server_ms(utc_ms: int, tz: Tz) -> int:
    return as_server_tz(tz).to_server(utc_ms)


def day_of_week(utc_ms: int, tz: Tz) -> int:
    """Server-time day of week, Sunday = 0 ... Saturday = 6 (ENUM_DAY_OF_WEEK)."""
    return (server_ms(utc_ms, tz) // MS_PER_DAY + EPOCH_DAY_OF_WEEK) % 7


def day_end_ms(utc_ms: int, tz: Tz) -> int:
    """The UTC instant of the server midnight that ends the server day containing `utc_ms`."""
    zone = as_server_tz(tz)
    return zone.to_utc((zone.to_server(utc_ms) // MS_PER_DAY + 1) * MS_PER_DAY)


def session_open(spec: SymbolSpec, utc_ms: int, tz: Tz) -> bool:
    """Whether `spec` trades at `utc_ms`; a symbol without sessions always does."""
    if not spec.sessions_trade:
        return True
    local = server_ms(utc_ms, tz)
    minute = (local % MS_PER_DAY) / MS_PER_MINUTE
    windows = spec.sessions_trade[(local // MS_PER_DAY + EPOCH_DAY_OF_WEEK) % 7]
    return any(start <= minute < end for start, end in windows)


def rollovers_between(after_ms: int, upto_ms: int, tz: Tz) -> list[tuple[int, int]]:
    """(UTC instant, day of week of the day it closes) of each server midnight in (after, upto]."""
    found = []
    midnight = day_end_ms(after_ms, tz)
    while midnight <= upto_ms:
        found.append((midnight, day_of_week(midnight - 1, tz)))
        midnight = day_end_ms(midnight, tz)
    return found


def open_windows(spec: SymbolSpec, utc_ms: int, tz: Tz) -> Iterator[tuple[int, int]]:
    """The UTC (from, to) of `spec`'s trading windows that end after `utc_ms`, in time order.

    Endless for a symbol that trades every week; empty for one whose sessions are all closed.
    A symbol without sessions is one window that never ends.
    """
    if not spec.sessions_trade:
        yield utc_ms, NEVER
        return
    if not any(spec.sessions_trade):
        return
    zone = as_server_tz(tz)
    day = zone.to_server(utc_ms) // MS_PER_DAY
    while True:
        windows = sorted(spec.sessions_trade[(day + EPOCH_DAY_OF_WEEK) % 7])
        for start, end in windows:
            to_ms = zone.to_utc(day * MS_PER_DAY + end * MS_PER_MINUTE)
            if to_ms > utc_ms:
                yield zone.to_utc(day * MS_PER_DAY + start * MS_PER_MINUTE), to_ms
        day += 1


def next_open_ms(spec: SymbolSpec, utc_ms: int, tz: Tz) -> int | None:
    """`utc_ms` if `spec` trades then, else when its next session opens (None: never)."""
    for start, _ in open_windows(spec, utc_ms, tz):
        return max(start, utc_ms)
    return None


def last_close_ms(spec: SymbolSpec, utc_ms: int, tz: Tz) -> int | None:
    """When the latest session that ended at or before `utc_ms` closed (None: none in a week)."""
    if not any(spec.sessions_trade):
        return None
    zone = as_server_tz(tz)
    local = zone.to_server(utc_ms)
    day = local // MS_PER_DAY
    for back in range(8):
        windows = sorted(spec.sessions_trade[(day - back + EPOCH_DAY_OF_WEEK) % 7], reverse=True)
        for _, end in windows:
            close = (day - back) * MS_PER_DAY + end * MS_PER_MINUTE
            if close <= local:
                return zone.to_utc(close)
    return None


def open_ms_between(spec: SymbolSpec, from_ms: int, to_ms: int, tz: Tz) -> int:
    """How many ms of (from_ms, to_ms] `spec` trades: the time its prices may move."""
    total = 0
    for start, end in open_windows(spec, from_ms, tz):
        if start >= to_ms:
            break
        total += min(end, to_ms) - max(start, from_ms)
    return total


def add_open_ms(spec: SymbolSpec, utc_ms: int, open_ms: int, tz: Tz) -> int | None:
    """The instant at which `open_ms` of trading time have passed since `utc_ms` (None: never)."""
    for start, end in open_windows(spec, utc_ms, tz):
        start = max(start, utc_ms)
        if start + open_ms < end:
            return start + open_ms
        open_ms -= end - start
    return None


def open_minutes_before(spec: SymbolSpec, utc_ms: int, count: int, tz: Tz) -> np.ndarray:
    """UTC starts of the last `count` whole minutes before `utc_ms`'s minute in which `spec`
    trades, oldest first (fewer, or none, for a symbol that never trades)."""
    end_minute = utc_ms // MS_PER_MINUTE
    if not spec.sessions_trade:
        return (end_minute - count + np.arange(count, dtype=np.int64)) * MS_PER_MINUTE
    table = np.zeros((7, MS_PER_DAY // MS_PER_MINUTE), dtype=bool)
    for day, windows in enumerate(spec.sessions_trade):
        for start, end in windows:
            table[day, start:end] = True
    if count <= 0 or not table.any():
        return np.zeros(0, dtype=np.int64)
    zone = as_server_tz(tz)
    span = count + 8 * 1440
    while True:
        minutes = np.arange(end_minute - span, end_minute, dtype=np.int64)
        utc = minutes * MS_PER_MINUTE
        local = utc + zone.offsets_at(utc) * 1000
        mask = table[(local // MS_PER_DAY + EPOCH_DAY_OF_WEEK) % 7, (local % MS_PER_DAY) // MS_PER_MINUTE]
        if mask.sum() >= count:
            return minutes[mask][-count:] * MS_PER_MINUTE
        span *= 2
