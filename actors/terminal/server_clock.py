"""The terminal's clock as seen from the executor (pure): what time it is on the trade server.

Trading hours, the rollover window and news blackouts are judged on the broker's clock,
never on this machine's: a terminal whose PC clock is off, a simulated terminal running 600
times faster than the wall, or a replay stepping through last year must each be judged on
its own time. Every `hb`, `pong` and `hello` carries the terminal's `server_time` (ms UTC),
and every tick its `time_msc`; the newest of these is the server's "now". Between readings
the clock runs on at wall speed, but never more than `MAX_EXTRAPOLATION_S` past the last
reading: guessing further is worse than standing still (a fast simulator or a replay would
be overtaken; a silent terminal is down within three seconds anyway).

The server's zone is learnt here too (`zone_from_hello`, `zone_from_hb`): a `ServerTz`, the
table of the offsets the EA has used, so every time is converted with the offset valid then
(bridge/protocol.py, TZ_HISTORY). A hello or `terminal_info` carries the EA's whole table and
replaces what was known: times are converted back with exactly the table the EA converted
them with. An EA that sends no table converts every time with its offset now, and so does
the executor then. An `hb` whose offset differs adds the switch at its `tz_since`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from bridge import protocol
from bridge.server_tz import ServerTz, ServerTzError

MAX_EXTRAPOLATION_S = 1.0  # one heartbeat


@dataclass
class ServerClock:
    utc_ms: int | None = None  # the last reading
    at: float = 0.0  # monotonic seconds when it was read

    def observe(self, utc_ms: int, at: float) -> None:
        """A `server_time` reading received at monotonic time `at`. A clock that goes back
        (a new terminal, a replay restarted) is believed: the terminal's word wins."""
        self.utc_ms, self.at = int(utc_ms), at

    def now_ms(self, at: float) -> int | None:
        """The server's time now (ms UTC), or None before the first reading."""
        return server_now(self.snapshot(), at)

    def snapshot(self) -> tuple[int, float] | None:
        """(utc_ms, at) for the status board; `server_now(snapshot, at)` reads it."""
        return None if self.utc_ms is None else (self.utc_ms, self.at)


def server_now(snapshot: tuple[int, float] | list | None, at: float, *, latest_tick_ms: int | None = None) -> int | None:
    """The server time (ms UTC) at monotonic `at` from a ServerClock snapshot and, when
    known, the newest tick time seen (a fresher reading between heartbeats)."""
    if not snapshot:
        return latest_tick_ms
    utc_ms, read_at = snapshot[0], snapshot[1]
    now = int(utc_ms) + int(min(max(0.0, at - float(read_at)), MAX_EXTRAPOLATION_S) * 1000.0)
    return now if latest_tick_ms is None else max(now, int(latest_tick_ms))


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


def zone_from_hello(body: Mapping[str, Any]) -> ServerTz | None:
    """The server's zone a hello or a `terminal_info` reply tells; None when it tells none."""
    offset = _int(body.get("tz_offset_s"))
    history = body.get(protocol.TZ_HISTORY)
    try:
        zone = ServerTz.from_wire(history) if history is not None else None
    except ServerTzError:
        zone = None  # refused at the boundary already; the offset alone still says something
    if zone is None:
        return None if offset is None else ServerTz.fixed(offset)
    now = _int(body.get("server_time"))
    return zone if offset is None or now is None else zone.learn(now, offset)


def zone_from_hb(body: Mapping[str, Any], known: ServerTz | None) -> ServerTz | None:
    """`known` with what an `hb` says of the offset now: itself when nothing changed."""
    offset, now = _int(body.get("tz_offset_s")), _int(body.get("server_time"))
    if known is None or offset is None or now is None:
        return known
    since = _int(body.get(protocol.TZ_SINCE))
    return known.learn(since if since is not None and 0 < since <= now else now, offset)
