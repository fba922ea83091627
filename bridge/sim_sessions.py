"""Server-time calendar of the simulated trade server: trading sessions, days, rollover.

This module owns how a UTC millisecond instant maps onto the broker's server time (UTC plus
`tz_offset_s`, MT5 servers typically run at UTC+2/+3 so that the FX week is Monday 00:00 to
Friday 24:00), whether a symbol's trading session is open at that instant (outside → 10018),
where a server day ends (ORDER_TIME_DAY expiry, the swap rollover) and which rollovers fall
between two instants, with the day each one closes.
"""

from __future__ import annotations

from bridge.symbols import SymbolSpec

MS_PER_MINUTE = 60_000
MS_PER_DAY = 86_400_000
# 1970-01-01 was a Thursday: day number 0 is Thursday = 4 with Sunday = 0 (MQL5's numbering).
EPOCH_DAY_OF_WEEK = 4


def server_ms(utc_ms: int, tz_offset_s: int) -> int:
    return utc_ms + tz_offset_s * 1000


def day_of_week(utc_ms: int, tz_offset_s: int) -> int:
    """Server-time day of week, Sunday = 0 ... Saturday = 6 (ENUM_DAY_OF_WEEK)."""
    return (server_ms(utc_ms, tz_offset_s) // MS_PER_DAY + EPOCH_DAY_OF_WEEK) % 7


def day_end_ms(utc_ms: int, tz_offset_s: int) -> int:
    """The UTC instant of the server midnight that ends the server day containing `utc_ms`."""
    local = server_ms(utc_ms, tz_offset_s)
    return (local // MS_PER_DAY + 1) * MS_PER_DAY - tz_offset_s * 1000


def session_open(spec: SymbolSpec, utc_ms: int, tz_offset_s: int) -> bool:
    """Whether `spec` trades at `utc_ms`; a symbol without sessions always does."""
    if not spec.sessions_trade:
        return True
    local = server_ms(utc_ms, tz_offset_s)
    minute = (local % MS_PER_DAY) / MS_PER_MINUTE
    windows = spec.sessions_trade[day_of_week(utc_ms, tz_offset_s)]
    return any(start <= minute < end for start, end in windows)


def rollovers_between(after_ms: int, upto_ms: int, tz_offset_s: int) -> list[tuple[int, int]]:
    """(UTC instant, day of week of the day it closes) of each server midnight in (after, upto]."""
    found = []
    midnight = day_end_ms(after_ms, tz_offset_s)
    while midnight <= upto_ms:
        found.append((midnight, day_of_week(midnight - 1, tz_offset_s)))
        midnight += MS_PER_DAY
    return found
