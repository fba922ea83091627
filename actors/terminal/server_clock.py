"""The terminal's clock as seen from the executor (pure): what time it is on the trade server.

Trading hours, the rollover window and news blackouts are judged on the broker's clock,
never on this machine's: a terminal whose PC clock is off, a simulated terminal running 600
times faster than the wall, or a replay stepping through last year must each be judged on
its own time. Every `hb`, `pong` and `hello` carries the terminal's `server_time` (ms UTC),
and every tick its `time_msc`; the newest of these is the server's "now". Between readings
the clock runs on at wall speed, but never more than `MAX_EXTRAPOLATION_S` past the last
reading: guessing further is worse than standing still (a fast simulator or a replay would
be overtaken; a silent terminal is down within three seconds anyway).
"""

from __future__ import annotations

from dataclasses import dataclass

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
