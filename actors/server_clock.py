"""The terminal's clock as seen from the executor (pure): what time it is on the trade server.

Trading hours, the rollover window and news blackouts are judged on the broker's clock,
never on this machine's: a terminal whose PC clock is off, or a simulated terminal running
600 times faster than the wall, must still be judged on its own time. Every `hb`, `pong` and
`hello` carries the terminal's `server_time` (ms UTC); between readings the clock runs on
at the rate measured between readings (1.0 for a real terminal, the speed-up for a fast
simulator), so the estimate is never more than one reading interval of drift away.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_RATE_SPAN_S = 2.0  # readings closer than this give too noisy a rate
RATE_WINDOW_S = 300.0  # the rate follows the last few minutes, not the whole run
MAX_RATE = 100_000.0


@dataclass
class ServerClock:
    utc_ms: int | None = None  # the last reading
    at: float = 0.0  # monotonic seconds when it was read
    rate: float = 1.0  # server ms per wall ms
    _anchor: tuple[int, float] | None = None

    def observe(self, utc_ms: int, at: float) -> None:
        """A `server_time` reading received at monotonic time `at`."""
        if self._anchor is None or self.utc_ms is None or utc_ms < self.utc_ms:
            self._anchor = (utc_ms, at)  # the first reading, or a clock that went back (a new terminal)
        elif at - self._anchor[1] > RATE_WINDOW_S:
            self._anchor = (self.utc_ms, self.at)  # slide, so the rate follows recent readings
        span = at - self._anchor[1]
        if span >= MIN_RATE_SPAN_S:
            self.rate = min(MAX_RATE, max(0.0, (utc_ms - self._anchor[0]) / (span * 1000.0)))
        self.utc_ms, self.at = int(utc_ms), at

    def now_ms(self, at: float) -> int | None:
        """The server's time now (ms UTC), or None before the first reading."""
        if self.utc_ms is None:
            return None
        return self.utc_ms + int(max(0.0, at - self.at) * 1000.0 * self.rate)

    def snapshot(self) -> tuple[int, float, float] | None:
        """(utc_ms, at, rate) for the status board; `server_now(snapshot, at)` reads it."""
        return None if self.utc_ms is None else (self.utc_ms, self.at, self.rate)


def server_now(snapshot: tuple[int, float, float] | list | None, at: float) -> int | None:
    """The server time (ms UTC) at monotonic `at` from a ServerClock snapshot."""
    if not snapshot:
        return None
    utc_ms, read_at, rate = snapshot
    return int(utc_ms) + int(max(0.0, at - float(read_at)) * 1000.0 * float(rate))
