"""Simulated server time for the simulated terminal: wall time that can run faster.

`SimClock` maps the monotonic wall clock onto broker time (ms UTC) with a speed factor, so
a test can live through an hour of market in a minute; `ManualClock` is moved by hand.
Both are read from the terminal's thread and may be set from another: every update is a
single attribute assignment.
"""

from __future__ import annotations

import time


class SimClock:
    """Server time = `start_ms` + monotonic wall time elapsed × `speed`."""

    def __init__(self, speed: float = 1.0, start_ms: int | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        self._speed = float(speed)
        self._start_ms = time.time_ns() // 1_000_000 if start_ms is None else int(start_ms)
        self._wall_start_ns = time.monotonic_ns()

    @property
    def speed(self) -> float:
        return self._speed

    def now_ms(self) -> int:
        elapsed_ms = (time.monotonic_ns() - self._wall_start_ns) / 1_000_000
        return self._start_ms + int(elapsed_ms * self._speed)


class ManualClock:
    """A clock that only moves when told to (tests)."""

    speed = 1.0

    def __init__(self, start_ms: int = 0) -> None:
        self._now_ms = int(start_ms)

    def now_ms(self) -> int:
        return self._now_ms

    def advance(self, ms: int) -> int:
        if ms < 0:
            raise ValueError(f"a clock only moves forward; got advance({ms})")
        self._now_ms += int(ms)
        return self._now_ms

    def set(self, ms: int) -> None:
        self._now_ms = int(ms)
