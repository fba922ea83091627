"""The trade server's time zone: the offset from UTC valid at each moment, and conversions.

MT5 servers keep their clock in a zone of their own, most of them on "New York close" time:
UTC+2 in the US winter, UTC+3 in the US summer, so that 17:00 in New York is midnight on the
server and a D1 bar holds one New York trading day. The offset changes twice a year, so a
time is converted with the offset valid *then*: with today's, everything before the last
switch is an hour off and the D1 edges move.

`ServerTz` is a table of `(utc_from_ms, offset_s)` entries, oldest first: an offset holds
from its instant until the next entry's, and before the first entry the first offset holds.
That is also the rule of the EA, which learns its table while it runs (Clock.mqh), so the
table is the one form every side speaks, on the wire too (`tz_history` in hello, see
bridge/protocol.py). `parse_server_tz` reads what a user writes: seconds east of UTC
(`7200`), `UTC+2`, an IANA zone name (`Europe/Athens`, its table computed for 1970-2100, the
last offset holding after) or `NY+7` (New York time plus 7 hours: the New York close server).

Server time and UTC are not one to one across a switch: when the offset grows the server
clock skips (NY+7 in spring: 09:00 to 10:00), when it shrinks it repeats an hour. `to_utc`
answers the first instant the server clock reads a time or later; `period_start` (bar
alignment) the start of the unbroken stretch of UTC time whose server time falls in one
period, so a D1 bar runs from server midnight to server midnight (23 or 25 hours on a switch
day) and an M1 bar of a repeated hour comes twice, at two UTC instants: no bar is lost, none
is doubled, bar times keep increasing. Pure: no sockets, no threads, no actors.
"""

from __future__ import annotations

import bisect
import re
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

MAX_OFFSET_S = 14 * 3600  # the widest offset on Earth (UTC+14); MQL5 and the shapes agree
DAY_MS = 86_400_000
TABLE_YEARS = (1970, 2100)  # an IANA zone's transitions are tabulated for these years
NEW_YORK = "America/New_York"
FORMS = ("seconds east of UTC (7200), UTC+2, an IANA zone name (Europe/Athens) "
         "or NY+7 (New York time plus 7 hours: the New York close server)")
_SHIFT = r"(?:([+-])(\d{1,2})(?::?(\d{2}))?)?"


class ServerTzError(ValueError):
    """A server time zone that cannot be used; the message shows the forms that can."""


class ServerTz:
    """The server's offset from UTC over time: `(utc_from_ms, offset_s)` entries, oldest first.

    Immutable and hashable: safe to share between threads and to post on a status board.
    """

    __slots__ = ("entries", "name", "_starts", "_offsets", "_np_starts", "_np_offsets", "_max_ms")

    def __init__(self, entries: Iterable[tuple[int, int]], name: str = "") -> None:
        table = tuple((int(start), int(offset)) for start, offset in entries)
        if not table:
            raise ServerTzError("a server time zone needs at least one (utc_from_ms, offset_s) entry")
        for (start, offset), following in zip(table, table[1:] + (None,)):
            if abs(offset) > MAX_OFFSET_S or offset % 60:
                raise ServerTzError(f"offset {offset} s is not whole minutes from UTC-14 to UTC+14")
            if following is not None and following[0] <= start:
                raise ServerTzError(f"entries must start at increasing instants, got {start} then {following[0]}")
        self.entries = table
        self.name = name or (_fixed_name(table[0][1]) if len(table) == 1 else "table")
        self._starts = [start for start, _ in table]
        self._offsets = [offset for _, offset in table]
        self._np_starts = np.array(self._starts, dtype=np.int64)
        self._np_offsets = np.array(self._offsets, dtype=np.int64)
        self._max_ms = max(abs(offset) for offset in self._offsets) * 1000

    @classmethod
    def fixed(cls, offset_s: int) -> "ServerTz":
        return _fixed(int(offset_s))

    @classmethod
    def from_wire(cls, value: Any, name: str = "") -> "ServerTz":
        """A table as it travels: [[utc_from_ms, offset_s], ...]; ServerTzError otherwise."""
        if not isinstance(value, (list, tuple)) or not all(
                isinstance(e, (list, tuple)) and len(e) == 2 and all(type(x) is int for x in e) for e in value):
            raise ServerTzError("a tz table is a list of [utc_from_ms, offset_s] integer pairs")
        return cls(value, name)

    def to_wire(self) -> list[list[int]]:
        return [[start, offset] for start, offset in self.entries]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ServerTz) and self.entries == other.entries

    def __hash__(self) -> int:
        return hash(self.entries)

    def __repr__(self) -> str:
        return f"ServerTz({self.name!r}, {len(self.entries)} entries)"

    @property
    def is_fixed(self) -> bool:
        return len(self.entries) == 1

    # --- offsets ---

    def _index(self, utc_ms: int) -> int:
        return max(0, bisect.bisect_right(self._starts, utc_ms) - 1)

    def offset_at(self, utc_ms: int) -> int:
        """The offset (s) in force at `utc_ms`."""
        return self._offsets[self._index(utc_ms)]

    def since(self, utc_ms: int) -> int:
        """When the offset in force at `utc_ms` took effect (the first entry's instant for
        times before it)."""
        return self._starts[self._index(utc_ms)]

    def offsets_at(self, times_ms: Any) -> np.ndarray:
        """Vectorised `offset_at` (int64 seconds)."""
        times = np.asarray(times_ms, dtype=np.int64)
        if self.is_fixed:
            return np.full(times.shape, self._offsets[0], dtype=np.int64)
        index = np.maximum(np.searchsorted(self._np_starts, times, side="right") - 1, 0)
        return self._np_offsets[index]

    # --- conversions ---

    def to_server(self, utc_ms: int) -> int:
        """Server wall-clock ms (ms since the epoch of the server's clock) at `utc_ms`."""
        return utc_ms + self.offset_at(utc_ms) * 1000

    def to_utc(self, server_ms: int) -> int:
        """The first UTC instant at which the server clock reads `server_ms` or later: the
        one reading of an ordinary time, the first of a repeated one, the switch itself for
        a time the clock skipped."""
        index = self._index(server_ms - self._max_ms)  # no earlier entry can reach server_ms
        last = len(self._starts) - 1
        while index < last and self._starts[index + 1] + self._offsets[index] * 1000 <= server_ms:
            index += 1  # this stretch ends before its clock reads server_ms
        return max(self._starts[index], server_ms - self._offsets[index] * 1000) if index else \
            server_ms - self._offsets[0] * 1000

    def period_start(self, utc_ms: int, period_ms: int, origin_ms: int = 0) -> int:
        """The UTC start of the server-time period (`origin_ms` + k * `period_ms` on the server
        clock) holding `utc_ms`: where the unbroken stretch of UTC time around `utc_ms` whose
        server time lies in that period begins (see the module docstring)."""
        index = self._index(utc_ms)
        server = utc_ms + self._offsets[index] * 1000
        label = server - (server - origin_ms) % period_ms
        while True:
            start = label - self._offsets[index] * 1000
            if index == 0 or start > self._starts[index]:
                return start
            switch = self._starts[index]
            before = switch - 1 + self._offsets[index - 1] * 1000  # the server clock just before it
            if not label <= before < label + period_ms:
                return switch  # the period began in a stretch the clock skipped, or at the switch
            index -= 1  # the period runs on across the switch: it began earlier

    def period_starts(self, times_ms: Any, period_ms: int, origin_ms: int = 0) -> np.ndarray:
        """Vectorised `period_start`: numpy for every time whose period began after the last
        switch before it, the exact walk for the few that straddle one."""
        times = np.asarray(times_ms, dtype=np.int64)
        offsets = self.offsets_at(times) * 1000
        server = times + offsets
        starts = server - np.mod(server - origin_ms, period_ms) - offsets
        if not self.is_fixed and times.size:
            index = np.searchsorted(self._np_starts, times, side="right") - 1
            straddle = (index > 0) & (starts <= self._np_starts[np.maximum(index, 0)])
            for at in np.flatnonzero(straddle):
                starts[at] = self.period_start(int(times[at]), period_ms, origin_ms)
        return starts

    # --- learning and announcing ---

    def learn(self, utc_from_ms: int, offset_s: int) -> "ServerTz":
        """This table told that `offset_s` holds from `utc_from_ms` on: itself when it knew,
        else a new table whose entries from then on give way to the newer word."""
        if self.offset_at(utc_from_ms) == offset_s and self._starts[-1] <= utc_from_ms:
            return self
        kept = [entry for entry in self.entries if entry[0] < utc_from_ms]
        if not kept or kept[-1][1] != offset_s:
            kept.append((utc_from_ms, offset_s))
        return ServerTz(kept, self.name if len(kept) > 1 else "")

    def window(self, from_ms: int, upto_ms: int) -> "ServerTz":
        """The entries that matter from `from_ms` to `upto_ms`: the one in force at `from_ms`,
        then each switch up to `upto_ms` (what a simulated EA announces of its zone)."""
        first = self._index(from_ms)
        last = max(first, bisect.bisect_right(self._starts, upto_ms) - 1)
        return ServerTz(self.entries[first:last + 1], self.name)


def as_server_tz(value: "ServerTz | int") -> ServerTz:
    """A ServerTz for a ServerTz or a fixed offset in seconds (the form older callers pass)."""
    return value if isinstance(value, ServerTz) else _fixed(int(value))


def parse_server_tz(value: Any) -> ServerTz:
    """A ServerTz from what a user writes (see FORMS); ServerTzError in one line otherwise."""
    if isinstance(value, ServerTz):
        return value
    try:
        return _parse(value)
    except ZoneInfoNotFoundError:
        why = "no such IANA zone (is the tzdata package installed?)"
    except (ValueError, OSError) as exc:  # ServerTzError, or a name zoneinfo cannot even look up
        why = str(exc) if isinstance(exc, ServerTzError) else "no such IANA zone"
    raise ServerTzError(f"server time zone {value!r}: {why}; use {FORMS}") from None


def _parse(value: Any) -> ServerTz:
    if isinstance(value, int) and not isinstance(value, bool):
        return _checked_fixed(value)
    if not isinstance(value, str) or not value.strip():
        raise ServerTzError("not a zone")
    text = value.strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return _checked_fixed(int(text))
    fixed = re.fullmatch(r"(?:UTC|GMT)" + _SHIFT, text, re.IGNORECASE)
    if fixed:
        return _checked_fixed(_shift_s(fixed))
    new_york = re.fullmatch(r"NY" + _SHIFT, text, re.IGNORECASE)
    if new_york:
        return _zone_table(NEW_YORK, _shift_s(new_york), text.upper())
    return _zone_table(text, 0, text)


def _shift_s(match: re.Match[str]) -> int:
    sign, hours, minutes = match.groups()
    if sign is None:
        return 0
    if int(minutes or 0) >= 60:
        raise ServerTzError(f"minutes must be below 60, got {minutes}")
    return (1 if sign == "+" else -1) * (int(hours) * 3600 + int(minutes or 0) * 60)


def _checked_fixed(offset_s: int) -> ServerTz:
    if abs(offset_s) > MAX_OFFSET_S or offset_s % 60:
        raise ServerTzError("a fixed offset is whole minutes from UTC-14 to UTC+14")
    return _fixed(offset_s)


def _fixed_name(offset_s: int) -> str:
    sign = "-" if offset_s < 0 else "+"
    hours, minutes = divmod(abs(offset_s) // 60, 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


@lru_cache(maxsize=64)
def _fixed(offset_s: int) -> ServerTz:
    return ServerTz([(0, offset_s)])


@lru_cache(maxsize=32)
def _zone_table(zone_name: str, shift_s: int, name: str) -> ServerTz:
    """An IANA zone (plus `shift_s`) as a table: sampled daily over TABLE_YEARS, each change
    bisected to the second (the zone database's transitions fall on whole seconds)."""
    zone = ZoneInfo(zone_name)

    def offset(second: int) -> int:
        delta = datetime.fromtimestamp(second, zone).utcoffset()
        return int(delta.total_seconds()) + shift_s if delta is not None else shift_s

    first = int(datetime(TABLE_YEARS[0], 1, 1, tzinfo=timezone.utc).timestamp())
    end = int(datetime(TABLE_YEARS[1], 1, 1, tzinfo=timezone.utc).timestamp())
    entries = [(first * 1000, offset(first))]
    previous_day, previous = first, entries[0][1]
    for day in range(first + 86_400, end, 86_400):
        current = offset(day)
        if current != previous:
            low, high = previous_day, day  # offset(low) == previous, offset(high) == current
            while high - low > 1:
                middle = (low + high) // 2
                if offset(middle) == previous:
                    low = middle
                else:
                    high = middle
            entries.append((high * 1000, current))
            previous = current
        previous_day = day
    return ServerTz(entries, name)
