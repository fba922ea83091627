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
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from bridge.candles import bar_open_times

Tick = tuple[str, int, float, float]  # symbol, time_msc, bid, ask


STEPS_PER_LEG = 8


def bar_ticks(symbol: str, bars: dict[str, np.ndarray], period_ms: int, *, point: float, digits: int,
              default_spread_points: float) -> Iterator[list[Tick]]:
    """Per bar, its ticks in time order within the bar's period; the first is the open.

    Per bar: the open (its ask the open plus the spread), then along each of the three legs
    between the corners `steps` = max(1, min(STEPS_PER_LEG, the leg's length in points))
    evenly spaced ticks, each price `round(start + (end - start) * step / steps, digits)` at
    `t0 + int(leg_ms * (leg + step / steps))`, left out when it repeats the price before it
    (except a leg's last). Computed for every bar at once, with Python's own rounding."""
    n = len(bars["time"])
    if not n:
        return
    leg_ms = (period_ms - max(1, period_ms // 20)) / 3  # the close lands just before the next bar
    t0 = np.asarray(bars["time"], dtype=np.int64)
    o, h, lo, c = (np.asarray(bars[k], dtype=np.float64) for k in ("open", "high", "low", "close"))
    rising = c >= o
    corners = np.stack([o, np.where(rising, lo, h), np.where(rising, h, lo), c], axis=1)  # (n, 4)
    spread_points = np.asarray(bars["spread"], dtype=np.float64)
    spread = _round(np.where(spread_points != 0, spread_points, default_spread_points) * point, digits)
    starts, ends = corners[:, :3], corners[:, 1:]  # (n, 3): the legs
    steps = np.maximum(1, np.minimum(STEPS_PER_LEG, _round(np.abs(ends - starts) / point, 0).astype(np.int64)))
    step = np.arange(1, STEPS_PER_LEG + 1)  # (8,)
    taken = step[None, None, :] <= steps[:, :, None]  # (n, 3, 8)
    fraction = step[None, None, :] / steps[:, :, None]  # step / steps, as Python divides them
    prices = _round(starts[:, :, None] + (ends - starts)[:, :, None] * step[None, None, :] / steps[:, :, None], digits)
    times = t0[:, None, None] + np.trunc(leg_ms * (np.arange(3)[None, :, None] + fraction)).astype(np.int64)
    # A price equal to the one before is left out (a leg moves one way: the one before is the last
    # kept, or equal to it); a leg's last tick always stays.
    flat_prices = np.where(taken, prices, np.nan).reshape(n, -1)
    before = np.concatenate([o[:, None], flat_prices[:, :-1]], axis=1)
    previous = _carried(before)
    keep = taken.reshape(n, -1) & ((flat_prices != previous) | (step[None, None, :] == steps[:, :, None]).reshape(n, -1))
    open_asks = _round(o + spread, digits).tolist()
    asks = _round(flat_prices + spread[:, None], digits)
    opens, times_l = o.tolist(), t0.tolist()
    flat_times = times.reshape(n, -1)
    for i in range(n):
        kept = keep[i]
        yield [(symbol, times_l[i], opens[i], open_asks[i])] + list(zip(
            [symbol] * int(kept.sum()), flat_times[i][kept].tolist(), flat_prices[i][kept].tolist(),
            asks[i][kept].tolist()))


def _carried(before: np.ndarray) -> np.ndarray:
    """`before` (each slot's price one slot back, NaN where that slot holds no tick) with each
    NaN replaced by the price before it: the price of the nearest tick before each slot."""
    filled = before.copy()
    for column in range(1, filled.shape[1]):  # 24 columns
        missing = np.isnan(filled[:, column])
        filled[missing, column] = filled[missing, column - 1]
    return filled


def _round(values: np.ndarray, digits: int) -> np.ndarray:
    """Python's `round(x, digits)` of each value (correctly rounded, halves to even): numpy's
    rounding where the scaled value is clearly off a half, Python's own where it is close."""
    values = np.asarray(values, dtype=np.float64)
    scale = 10.0 ** digits
    scaled = values * scale
    near_half = np.abs(np.abs(scaled - np.floor(scaled)) - 0.5) < 1e-6
    rounded = np.rint(scaled) / scale
    for index in zip(*np.nonzero(near_half & np.isfinite(values))):
        rounded[index] = round(float(values[index]), digits)
    return rounded


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
    """A price feed filled by the replay driver and drained by the terminal's loop.

    A push may hold its ticks from `hold_from` on: the terminal's loop takes them only if the
    trade server did not change (`watch()`, e.g. its positions version) while it took the ones
    before; if it did, they wait (`held`) until the driver, having let the executor catch up,
    calls `release()`. So a bar's rest and the next bar's open go in one push, yet the open
    never runs ahead of an executor that has a stop or a target to hear about first.
    `wait_drained` returns once the loop has handed every tick it took to the trade server
    (or stopped at a hold), not merely taken them off the queue.
    """

    def __init__(self) -> None:
        self._ticks: deque[Tick] = deque()
        self._lock = threading.Lock()
        self._drained = threading.Condition(self._lock)
        self._holds: deque[int] = deque()  # positions (counted from the first tick ever pushed) that may hold
        self._pushed = 0  # ticks ever pushed
        self._taken = 0  # ticks ever handed to the terminal's loop
        self._taking = False  # the loop is between taking ticks and having handed them all over
        self.held = False  # stopped at a hold, until release()
        self.clock: Any = None  # the terminal's ManualClock: moved to each tick's time
        self.watch: Callable[[], Any] | None = None  # the trade server's state a hold compares
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

    def push(self, ticks: list[Tick], *, hold_from: int | None = None) -> None:
        """Queue `ticks`; with `hold_from`, ticks[hold_from:] wait if the trade server changes
        while ticks[:hold_from] go in (or are already held when `watch` is not set)."""
        with self._lock:
            if hold_from is not None and hold_from < len(ticks):
                self._holds.append(self._pushed + hold_from)
            self._ticks.extend(ticks)
            self._pushed += len(ticks)
        self._wake()

    def release(self) -> None:
        """Let the held ticks go in (the executor has caught up)."""
        with self._lock:
            if not self.held:
                return
            self.held = False
            self._holds.popleft()
        self._wake()

    def _wake(self) -> None:
        try:
            os.write(self._wake_w, b"!")
        except OSError:  # full (the loop is already woken) or closed
            pass

    def advance(self, to_ms: int) -> Iterator[Tick]:
        """The ticks the terminal may take now, one by one: each is handed to the trade server
        before the next is given, so a hold sees what the ticks before it did."""
        try:
            while os.read(self._wake_r, 4096):
                pass
        except OSError:  # empty (BlockingIOError) or closed
            pass
        with self._lock:
            if self.held or not self._ticks:
                return iter(())
        return self._take()

    def _take(self) -> Iterator[Tick]:
        with self._lock:  # here, not in advance: a generator never started never runs its finally
            self._taking = True
        try:
            state = self.watch() if self.watch is not None else None
            while True:
                with self._lock:
                    if not self._ticks:
                        return
                    if self._holds and self._holds[0] == self._taken:
                        if self.watch is None or self.watch() != state:
                            self.held = True
                            return
                        self._holds.popleft()  # nothing changed: the hold has nothing to wait for
                    end = self._holds[0] - self._taken if self._holds else len(self._ticks)
                    chunk = [self._ticks.popleft() for _ in range(end)]
                    self._taken += end
                    if self.clock is not None:
                        self.clock.set(chunk[-1][1])
                yield from chunk
        finally:
            with self._lock:
                self._taking = False
                self._drained.notify_all()

    def wait_drained(self, timeout: float) -> bool:
        """Until every tick pushed was handed to the trade server, or the rest is held."""
        with self._lock:
            return self._drained.wait_for(lambda: not self._taking and (not self._ticks or self.held), timeout)

    def history_m1(self, symbol: str, minutes: int) -> None:
        return None  # a replay starts with no history: the file is the whole market
