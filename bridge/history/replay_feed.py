"""History as ticks: the price source of a replay.

Each bar becomes a path of bid ticks that the simulated terminal treats like live ones:
the open, then the low and the high (low first on a rising bar, high first on a falling
one, the usual assumption about the path inside a bar), then the close, with up to
`STEPS_PER_LEG` evenly spaced ticks along each leg, so a stop inside the bar's range is hit
near its level rather than at the far extreme. Asks are bid plus the bar's spread (or the
symbol's typical spread). A tick file needs no path: `file_ticks` hands out its ticks as
they are, grouped by the strategy's bars. The replay driver pushes ticks in; the terminal's
loop takes them out, so the terminal never runs ahead of the executor. A push also wakes the
terminal's loop (`fileno`, a pipe it polls with its sockets) instead of leaving the ticks for
its next poll timeout: a replay waits for each push.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Iterator
from typing import Any

import numpy as np

from bridge.candles import bar_open_times

Tick = tuple[str, int, float, float]  # symbol, time_msc, bid, ask


STEPS_PER_LEG = 8


def bar_ticks(symbol: str, bars: dict[str, np.ndarray], period_ms: int, *, point: float, digits: int,
              default_spread_points: float) -> Iterator[list[Tick]]:
    """Per bar, its ticks in time order within the bar's period; the first is the open."""
    leg_ms = (period_ms - max(1, period_ms // 20)) / 3  # the close lands just before the next bar
    for i in range(len(bars["time"])):
        t0 = int(bars["time"][i])
        o, h, lo, c = (float(bars[k][i]) for k in ("open", "high", "low", "close"))
        corners = (o, lo, h, c) if c >= o else (o, h, lo, c)
        spread = round((float(bars["spread"][i]) or default_spread_points) * point, digits)
        ticks = [(symbol, t0, o, round(o + spread, digits))]
        for leg, (start, end) in enumerate(zip(corners, corners[1:])):
            steps = max(1, min(STEPS_PER_LEG, int(round(abs(end - start) / point))))
            for step in range(1, steps + 1):
                price = round(start + (end - start) * step / steps, digits)
                time_msc = t0 + int(leg_ms * (leg + step / steps))
                if price != ticks[-1][2] or step == steps:
                    ticks.append((symbol, time_msc, price, round(price + spread, digits)))
        yield ticks


def file_ticks(symbol: str, ticks: Any, timeframe: str, tz_offset_s: int) -> Iterator[tuple[int, list[Tick]]]:
    """Per `timeframe` bar (open time on the server clock), the file's ticks inside it, in order.

    `ticks` is a `bridge.history_ticks.TickHistory`; prices and times go out unchanged.
    """
    times = ticks.time_msc
    opens = bar_open_times(times, timeframe, tz_offset_s)
    starts = np.flatnonzero(np.r_[True, opens[1:] != opens[:-1]]).tolist()
    columns = times.tolist(), ticks.bid.tolist(), ticks.ask.tolist()
    for start, end in zip(starts, starts[1:] + [len(times)]):
        yield int(opens[start]), [(symbol, *tick) for tick in zip(*(c[start:end] for c in columns))]


class ReplayFeed:
    """A price feed filled by the replay driver and drained by the terminal's loop."""

    def __init__(self) -> None:
        self._ticks: deque[Tick] = deque()
        self._lock = threading.Lock()
        self._drained = threading.Condition(self._lock)
        self.clock: Any = None  # the terminal's ManualClock: moved to each tick's time
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    def fileno(self) -> int:
        """Readable when ticks were pushed: the terminal's loop polls it."""
        return self._wake_r

    def close(self) -> None:
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def push(self, ticks: list[Tick]) -> None:
        with self._lock:
            self._ticks.extend(ticks)
        try:
            os.write(self._wake_w, b"!")
        except OSError:  # full (the loop is already woken) or closed
            pass

    def advance(self, to_ms: int) -> list[Tick]:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except OSError:  # empty (BlockingIOError) or closed
            pass
        with self._lock:
            ticks = list(self._ticks)
            self._ticks.clear()
            if ticks and self.clock is not None:
                self.clock.set(ticks[-1][1])
            self._drained.notify_all()
        return ticks

    def wait_drained(self, timeout: float) -> bool:
        with self._lock:
            return self._drained.wait_for(lambda: not self._ticks, timeout)

    def history_m1(self, symbol: str, minutes: int) -> None:
        return None  # a replay starts with no history: the file is the whole market
