"""Candles: bar alignment on the broker's clock, a fixed-size bar history, tick-to-bar building.

This module owns what a "bar" is in the executor and in the simulator alike: bars are built
from the **bid** as in MetaTrader 5, open on the broker server's clock (a D1 bar starts at
server midnight, a week on Sunday's), count ticks as `tick_volume` and keep the smallest
spread seen, in points. Times are ms UTC. Periods without ticks (weekends, holidays) produce
no bars. The server's clock is a `bridge.server_tz.ServerTz` (or a fixed offset in seconds):
each time is aligned with the offset valid then, so D1 edges stay at server midnight across
a DST switch (see `ServerTz.period_start` for the day the clock skips or repeats an hour).
Pure numpy: no actors, no sockets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, NamedTuple

import numpy as np

from bridge.mt5 import TIMEFRAME_SECONDS
from bridge.server_tz import ServerTz, as_server_tz

TIMEFRAMES = ("M1", "M5", "M15", "M30", "H1", "H4", "D1")
WEEK_MS = 7 * 86_400_000
WEEK_ORIGIN_MS = 3 * 86_400_000  # 1970-01-04, a Sunday: MT5's weeks begin on Sunday 00:00 server time

Tz = ServerTz | int  # a server's zone, or a fixed offset from UTC in seconds

RATE_COLUMNS = ("time", "open", "high", "low", "close", "tick_volume", "spread", "real_volume")


def timeframe_ms(timeframe: str) -> int:
    """Length of one `timeframe` bar in ms; ValueError naming the valid ones otherwise."""
    try:
        return TIMEFRAME_SECONDS[timeframe] * 1000
    except KeyError:
        raise ValueError(f"unknown timeframe {timeframe!r}: use one of {', '.join(TIMEFRAMES)}") from None


def bar_open_time(time_ms: int, timeframe: str, tz: Tz = 0) -> int:
    """Open time (ms UTC) of the `timeframe` bar holding `time_ms`, aligned on server time."""
    period = timeframe_ms(timeframe)
    if isinstance(tz, ServerTz):
        return tz.period_start(time_ms, period)
    offset = tz * 1000
    server_ms = time_ms + offset
    return server_ms - server_ms % period - offset


def bar_open_times(times_ms: np.ndarray, timeframe: str, tz: Tz = 0) -> np.ndarray:
    """Vectorised `bar_open_time` (Python's floor modulo semantics, also for negatives)."""
    return as_server_tz(tz).period_starts(times_ms, timeframe_ms(timeframe))


def week_open_time(time_ms: int, tz: Tz = 0) -> int:
    """Open time (ms UTC) of the week holding `time_ms`: Sunday 00:00 on the server's clock."""
    return as_server_tz(tz).period_start(time_ms, WEEK_MS, WEEK_ORIGIN_MS)


@dataclass(frozen=True, slots=True)
class Bar:
    time: int
    open: float
    high: float
    low: float
    close: float
    tick_volume: int
    spread: int
    real_volume: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in RATE_COLUMNS}


class BarArrays(NamedTuple):
    """Ordered (oldest first) copies of a series' columns; `volume` is the tick volume."""
    time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    spread: np.ndarray
    real_volume: np.ndarray


class BarSeries:
    """The last `capacity` closed bars in preallocated ring buffers: memory never grows."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"BarSeries capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self._time = np.zeros(capacity, dtype=np.int64)
        self._prices = {name: np.zeros(capacity) for name in ("open", "high", "low", "close")}
        self._tick_volume = np.zeros(capacity)
        self._spread = np.zeros(capacity)
        self._real_volume = np.zeros(capacity)
        self._next = 0  # slot the next bar goes into
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        """Bytes held by the buffers: fixed at construction."""
        buffers = (self._time, self._tick_volume, self._spread, self._real_volume, *self._prices.values())
        return sum(buffer.nbytes for buffer in buffers)

    @property
    def last_time(self) -> int | None:
        return int(self._time[(self._next - 1) % self.capacity]) if self._count else None

    def append(self, bar: Bar) -> None:
        slot = self._next
        self._time[slot] = bar.time
        self._prices["open"][slot] = bar.open
        self._prices["high"][slot] = bar.high
        self._prices["low"][slot] = bar.low
        self._prices["close"][slot] = bar.close
        self._tick_volume[slot] = bar.tick_volume
        self._spread[slot] = bar.spread
        self._real_volume[slot] = bar.real_volume
        self._next = (slot + 1) % self.capacity
        self._count = min(self._count + 1, self.capacity)

    def arrays(self, n: int | None = None) -> BarArrays:
        """The newest `n` bars (all when None), oldest first, as copies safe to hand away."""
        take = self._count if n is None else max(0, min(n, self._count))
        order = (np.arange(self._next - take, self._next)) % self.capacity
        return BarArrays(
            time=self._time[order], open=self._prices["open"][order],
            high=self._prices["high"][order], low=self._prices["low"][order],
            close=self._prices["close"][order], volume=self._tick_volume[order],
            spread=self._spread[order], real_volume=self._real_volume[order],
        )

    def columns(self, n: int | None = None) -> dict[str, np.ndarray]:
        """Like `arrays`, keyed by the MetaTrader5 rate field names."""
        a = self.arrays(n)
        return {"time": a.time, "open": a.open, "high": a.high, "low": a.low, "close": a.close,
                "tick_volume": a.volume, "spread": a.spread, "real_volume": a.real_volume}


class _FormingBar:
    """The mutable bar under construction; frozen into a `Bar` when it closes."""

    __slots__ = ("time", "open", "high", "low", "close", "tick_volume", "spread", "real_volume")

    def __init__(self, time: int, price: float, spread: int, volume: float, ticks: int = 1) -> None:
        self.time, self.open, self.high, self.low, self.close = time, price, price, price, price
        self.tick_volume, self.spread, self.real_volume = ticks, spread, volume

    def update(self, price: float, spread: int, volume: float) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.tick_volume += 1
        self.spread = min(self.spread, spread)
        self.real_volume += volume

    def freeze(self) -> Bar:
        return Bar(self.time, self.open, self.high, self.low, self.close,
                   self.tick_volume, self.spread, self.real_volume)


class CandleBuilder:
    """Turns a stream of ticks of one symbol into closed `timeframe` bars.

    `point` converts the ask-bid spread into points; 0 records a spread of 0.
    """

    def __init__(self, timeframe: str, tz: Tz = 0, capacity: int = 2000,
                 point: float = 0.0) -> None:
        timeframe_ms(timeframe)  # refuse an unknown timeframe now, not on the first tick
        self.timeframe = timeframe
        # The server's zone; whoever learns more of it (an offset switch) sets a new one here.
        self.tz = as_server_tz(tz)
        self.point = point
        self.series = BarSeries(capacity)
        self._forming: _FormingBar | None = None
        self._last_tick_ms: int | None = None
        self._period_ms = timeframe_ms(timeframe)
        # [open, end) in ms UTC of the bar last aligned, and the zone it was aligned with: a tick
        # inside it needs no alignment (most ticks; a simulator builds every timeframe per tick).
        self._span: tuple[int, int, ServerTz | None] = (0, 0, None)

    @property
    def forming(self) -> Bar | None:
        return self._forming.freeze() if self._forming else None

    def spread_points(self, bid: float, ask: float) -> int:
        return int(round((ask - bid) / self.point)) if self.point > 0 else 0

    def on_tick(self, time_msc: int, bid: float, ask: float, volume: float = 0.0) -> Bar | None:
        """Add a tick; returns the bar it closed, if it opened a new period."""
        # An out-of-order tick would rewrite a close already seen or reopen a closed bar.
        if self._last_tick_ms is not None and time_msc < self._last_tick_ms:
            return None
        forming = self._forming
        start, end, tz = self._span
        if forming is not None and tz is self.tz and start <= time_msc < end and forming.time == start:
            self._last_tick_ms = time_msc  # the forming bar's own period: newer than any closed bar
            forming.update(bid, self.spread_points(bid, ask), volume)
            return None
        opened = self._open_time(time_msc)
        last_closed = self.series.last_time
        if last_closed is not None and opened <= last_closed:
            return None
        self._last_tick_ms = time_msc
        spread = self.spread_points(bid, ask)
        if forming is not None and opened == forming.time:
            forming.update(bid, spread, volume)
            return None
        closed = self._close_forming()
        self._forming = _FormingBar(opened, bid, spread, volume)
        return closed

    def _open_time(self, time_msc: int) -> int:
        """`bar_open_time` of the tick, remembering its bar's span for the ticks after it. A span
        with an offset switch in it is not remembered: such a bar's length is not the period's."""
        tz = self.tz
        opened = bar_open_time(time_msc, self.timeframe, tz)
        end = opened + self._period_ms
        if not tz.is_fixed and any(opened < switch <= end for switch, _ in tz.entries):
            end = opened
        self._span = (opened, end, tz)
        return opened

    def _close_forming(self) -> Bar | None:
        if self._forming is None:
            return None
        bar = self._forming.freeze()
        self.series.append(bar)
        self._forming = None
        return bar

    def seed(self, rates: Mapping[str, Any], *, last_is_forming: bool = False) -> int:
        """Load history bars (MetaTrader5 rate columns, oldest first) before live ticks.

        Bars not newer than what is already held are skipped. With `last_is_forming` the
        newest row becomes the forming bar that live ticks keep updating (position 0 of
        `copy_rates_from_pos`). Returns the number of bars loaded.
        """
        rows = _rows(rates)
        loaded = 0
        for index, bar in enumerate(rows):
            newest_known = self._forming.time if self._forming else self.series.last_time
            if newest_known is not None and bar.time <= newest_known:
                continue
            self._close_forming()
            if last_is_forming and index == len(rows) - 1:
                self._forming = _FormingBar(bar.time, bar.open, bar.spread, bar.real_volume, bar.tick_volume)
                self._forming.high, self._forming.low, self._forming.close = bar.high, bar.low, bar.close
            else:
                self.series.append(bar)
            loaded += 1
        return loaded


def _rows(rates: Mapping[str, Any]) -> list[Bar]:
    missing = [name for name in ("time", "open", "high", "low", "close") if name not in rates]
    if missing:
        raise ValueError(f"rates lack the column(s) {', '.join(missing)}")
    size = len(rates["time"])
    zeros = np.zeros(size)
    column = {name: np.asarray(rates.get(name, zeros)) for name in RATE_COLUMNS}
    return [
        Bar(int(column["time"][i]), float(column["open"][i]), float(column["high"][i]),
            float(column["low"][i]), float(column["close"][i]), int(column["tick_volume"][i]),
            int(column["spread"][i]), float(column["real_volume"][i]))
        for i in range(size)
    ]


def aggregate(rates_m1: Mapping[str, Any], timeframe: str, tz: Tz = 0) -> dict[str, np.ndarray]:
    """Roll M1 rate columns (oldest first) up into `timeframe` rate columns.

    Matches what `CandleBuilder` would have built from the same ticks: first open, highest
    high, lowest low, last close, summed volumes, smallest spread. The newest bar may be
    incomplete if the M1 input ends inside its period.
    """
    times = np.asarray(rates_m1["time"], dtype=np.int64)
    if times.size == 0:
        return {name: np.zeros(0, dtype=np.int64 if name == "time" else np.float64) for name in RATE_COLUMNS}
    opened = bar_open_times(times, timeframe, tz)
    starts = np.flatnonzero(np.r_[True, opened[1:] != opened[:-1]])
    ends = np.r_[starts[1:], times.size] - 1

    def column(name: str) -> np.ndarray:
        return np.asarray(rates_m1.get(name, np.zeros(times.size)), dtype=np.float64)

    return {
        "time": opened[starts],
        "open": column("open")[starts],
        "high": np.maximum.reduceat(column("high"), starts),
        "low": np.minimum.reduceat(column("low"), starts),
        "close": column("close")[ends],
        "tick_volume": np.add.reduceat(column("tick_volume"), starts),
        "spread": np.minimum.reduceat(column("spread"), starts),
        "real_volume": np.add.reduceat(column("real_volume"), starts),
    }
