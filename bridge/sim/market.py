"""The simulated terminal's market memory: recent ticks and bars of every timeframe.

This module owns what the simulator can answer about the past, the way a terminal's own
history does: `copy_rates_from_pos` (position 0 = the forming bar) and `copy_ticks_from`.
Bars of every timeframe are seeded from the feed's M1 history and then built from live
ticks; both stores are fixed-size rings, so memory stays flat however long it runs.

A tick costs little when it comes (`on_quote`: its flags, and a place in the symbol's
pending lists); the ring and the bars of every timeframe take the pending ticks in a batch
(`_catch_up`: numpy over the batch, one Python step per bar) when something reads them, when
bars are watched (`closed_bars`), or every `PENDING_MAX` ticks. A batch builds exactly the
bars `CandleBuilder` builds tick by tick (`_Bars`; tests/test_sim_market.py compares them).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from bridge.candles import TIMEFRAMES, Bar, BarArrays, CandleBuilder, aggregate, bar_open_time, bar_open_times, timeframe_ms
from bridge import mt5
from bridge.server_tz import ServerTz, as_server_tz

TIMEFRAME_BY_NUMBER = {
    mt5.TIMEFRAME_M1: "M1", mt5.TIMEFRAME_M5: "M5", mt5.TIMEFRAME_M15: "M15",
    mt5.TIMEFRAME_M30: "M30", mt5.TIMEFRAME_H1: "H1", mt5.TIMEFRAME_H4: "H4",
    mt5.TIMEFRAME_D1: "D1",
}
MIN_BAR_CAPACITY = 2000
WEEK_MS = 7 * 86_400_000
DEFAULT_TICK_CAPACITY = 20_000
PENDING_MAX = 4096  # ticks a symbol keeps pending before its ring and bars take them anyway


def timeframe_name(value: Any) -> str:
    """'H1' for 'H1' or mt5.TIMEFRAME_H1; ValueError naming the valid ones otherwise."""
    if isinstance(value, str) and value in TIMEFRAMES:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value in TIMEFRAME_BY_NUMBER:
        return TIMEFRAME_BY_NUMBER[value]
    raise ValueError(f"unknown timeframe {value!r}: use one of {', '.join(TIMEFRAMES)}")


class TickRing:
    """The last `capacity` ticks of one symbol, in time order."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._time = np.zeros(capacity, dtype=np.int64)
        self._bid = np.zeros(capacity)
        self._ask = np.zeros(capacity)
        self._flags = np.zeros(capacity, dtype=np.int64)
        self._next = 0
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def append(self, time_msc: int, bid: float, ask: float, flags: int) -> None:
        slot = self._next
        self._time[slot], self._bid[slot], self._ask[slot], self._flags[slot] = time_msc, bid, ask, flags
        self._next = (slot + 1) % self.capacity
        self._count = min(self._count + 1, self.capacity)

    def extend(self, times: np.ndarray, bids: np.ndarray, asks: np.ndarray, flags: np.ndarray) -> None:
        """`append` of each tick, in one go."""
        if len(times) > self.capacity:
            times, bids, asks, flags = times[-self.capacity:], bids[-self.capacity:], asks[-self.capacity:], flags[-self.capacity:]
        n = len(times)
        slots = (self._next + np.arange(n)) % self.capacity
        self._time[slots], self._bid[slots], self._ask[slots], self._flags[slots] = times, bids, asks, flags
        self._next = (self._next + n) % self.capacity
        self._count = min(self._count + n, self.capacity)

    def last(self) -> tuple[int, float, float] | None:
        if not self._count:
            return None
        slot = (self._next - 1) % self.capacity
        return int(self._time[slot]), float(self._bid[slot]), float(self._ask[slot])

    def copy_from(self, date_from: int, count: int) -> dict[str, list]:
        """Up to `count` ticks with `time_msc >= date_from`, oldest first, as tick columns."""
        order = np.arange(self._next - self._count, self._next) % self.capacity
        times = self._time[order]
        first = int(np.searchsorted(times, date_from, side="left"))
        chosen = order[first:first + max(0, count)]
        return tick_columns(self._time[chosen].tolist(), self._bid[chosen].tolist(),
                            self._ask[chosen].tolist(), self._flags[chosen].tolist())


def tick_columns(times: list[int], bids: list[float], asks: list[float], flags: list[int]) -> dict[str, list]:
    """The column layout shared by the `tick.<SYMBOL>` topic and `copy_ticks_from`."""
    return {"time_msc": times, "bid": bids, "ask": asks, "last": [0.0] * len(times),
            "volume_real": [0.0] * len(times), "flags": flags}


def tick_flags(previous: tuple[int, float, float] | None, bid: float, ask: float) -> int:
    if previous is None:
        return mt5.TICK_FLAG_BID | mt5.TICK_FLAG_ASK
    flags = mt5.TICK_FLAG_BID if bid != previous[1] else 0
    return flags | (mt5.TICK_FLAG_ASK if ask != previous[2] else 0)


def rate_rows(bars: list[Bar]) -> dict[str, list]:
    return {
        "time": [b.time for b in bars], "open": [b.open for b in bars],
        "high": [b.high for b in bars], "low": [b.low for b in bars],
        "close": [b.close for b in bars], "tick_volume": [b.tick_volume for b in bars],
        "spread": [b.spread for b in bars], "real_volume": [b.real_volume for b in bars],
    }


class _Bars:
    """One symbol's `timeframe` bars: the closed ones in a ring, and the forming one. They are
    what `CandleBuilder` builds from the same ticks (bridge/candles.py): a tick older than the
    last one taken is ignored, as is one in a period already closed; one in the forming bar's
    period updates it (highest high, lowest low, last close, one more tick, smallest spread);
    one in a later period closes it and opens the next. `add` takes a batch: numpy over the
    ticks, one Python step per period they fall in."""

    def __init__(self, timeframe: str, tz: ServerTz, capacity: int, seeded: CandleBuilder) -> None:
        self.timeframe, self.tz, self.capacity = timeframe, tz, capacity
        self._time = np.zeros(capacity, dtype=np.int64)
        self._columns = [np.zeros(capacity) for _ in range(7)]  # open, high, low, close, tick_volume, spread, real_volume
        self._next = 0  # the slot the next closed bar goes into
        self._count = 0
        closed = seeded.series.arrays()
        self._append(closed.time, list(closed[1:]))
        bar = seeded.forming
        # [time, open, high, low, close, tick_volume, spread, real_volume] of the forming bar
        self._forming: list | None = None if bar is None else [
            bar.time, bar.open, bar.high, bar.low, bar.close, bar.tick_volume, bar.spread, bar.real_volume]
        self._last_tick_ms: int | None = None  # the newest tick taken (seeding takes none)

    @property
    def forming(self) -> Bar | None:
        return None if self._forming is None else Bar(*self._forming)

    @property
    def last_time(self) -> int | None:
        return int(self._time[(self._next - 1) % self.capacity]) if self._count else None

    def arrays(self, n: int | None = None) -> BarArrays:
        """The newest `n` closed bars (all when None), oldest first, as copies."""
        take = self._count if n is None else max(0, min(n, self._count))
        order = np.arange(self._next - take, self._next) % self.capacity
        return BarArrays(self._time[order], *(column[order] for column in self._columns))

    def _append(self, times: Any, columns: Any) -> None:
        """Closed bars, oldest first: their times, and the other seven columns."""
        n = len(times)
        if not n:
            return
        if n > self.capacity:
            times, columns, n = times[-self.capacity:], [column[-self.capacity:] for column in columns], self.capacity
        slots = (self._next + np.arange(n)) % self.capacity
        self._time[slots] = times
        for column, values in zip(self._columns, columns):
            column[slots] = values
        self._next = (self._next + n) % self.capacity
        self._count = min(self._count + n, self.capacity)

    def add(self, times: np.ndarray, bids: np.ndarray, spreads: np.ndarray, in_order: bool,
            want_closed: bool) -> list[tuple[int, Bar]]:
        """Take the ticks (times in ms UTC, bids, spreads in points); `in_order`: their times
        never go back. With `want_closed`, the bars they closed with the index of the tick that
        closed each."""
        opened = bar_open_times(times, self.timeframe, self.tz)
        forming, last_closed, last_tick = self._forming, self.last_time, self._last_tick_ms
        if in_order and (last_tick is None or int(times[0]) >= last_tick) and bool(np.all(opened[1:] >= opened[:-1])):
            # Periods never go back either: each run of ticks in one period acts as one tick.
            starts = np.flatnonzero(np.r_[True, opened[1:] != opened[:-1]])
            ends = np.r_[starts[1:], len(times)] - 1
            runs = (starts, opened[starts], bids[starts], np.maximum.reduceat(bids, starts),
                    np.minimum.reduceat(bids, starts), bids[ends], ends - starts + 1,
                    np.minimum.reduceat(spreads, starts), times[ends])
            first_opens = int(runs[1][0])
            if (last_closed is None or first_opens > last_closed) and (forming is None or first_opens >= forming[0]):
                return self._add_runs(runs, want_closed)  # none left out: every run after the first opens a bar
            groups = zip(*(column.tolist() for column in runs))
        else:  # one tick at a time, the older ones left out as CandleBuilder leaves them
            groups = ((i, o, b, b, b, b, 1, s, t) for i, (o, b, s, t) in enumerate(zip(
                opened.tolist(), bids.tolist(), spreads.tolist(), times.tolist())))
        closed_times, closed_rows, closed_at = [], [], []
        for at, opens_at, first, high, low, close, ticks, spread, newest in groups:
            if last_tick is not None and newest < last_tick:
                continue  # older than the newest tick taken (only one tick at a time)
            if last_closed is not None and opens_at <= last_closed:
                continue  # a period already closed
            last_tick = newest
            if forming is not None and opens_at == forming[0]:
                self._merge(forming, high, low, close, ticks, spread)
                continue
            if forming is not None:
                closed_times.append(forming[0])
                closed_rows.append(forming[1:])
                closed_at.append(at)
                last_closed = forming[0]
            forming = [opens_at, first, high, low, close, ticks, spread, 0.0]
        self._forming, self._last_tick_ms = forming, last_tick
        self._append(closed_times, list(zip(*closed_rows)))
        if not want_closed:
            return []
        return [(at, Bar(time, *row)) for at, time, row in zip(closed_at, closed_times, closed_rows)]

    @staticmethod
    def _merge(forming: list, high: float, low: float, close: float, ticks: int, spread: int) -> None:
        forming[2] = max(forming[2], high)
        forming[3] = min(forming[3], low)
        forming[4] = close
        forming[5] += ticks
        forming[6] = min(forming[6], spread)

    def _add_runs(self, runs: tuple, want_closed: bool) -> list[tuple[int, Bar]]:
        """`add` when the first run of ticks updates the forming bar or opens the next one, and
        each run after it opens the next one: the closed bars are columns of the runs."""
        starts, opens_at, first, high, low, close, ticks, spread, newest = runs
        forming, count = self._forming, len(starts)
        merged = forming is not None and int(opens_at[0]) == forming[0]
        if merged:
            self._merge(forming, float(high[0]), float(low[0]), float(close[0]), int(ticks[0]), int(spread[0]))
        new = slice(1 if merged else 0, count - 1)  # the runs that open a bar the next run closes
        head = [] if forming is None or (merged and count == 1) else [forming]
        closed_times = np.r_[[bar[0] for bar in head], opens_at[new]].astype(np.int64)
        closed = [np.r_[[bar[k] for bar in head], column[new]].astype(np.float64)
                  for k, column in enumerate((first, high, low, close, ticks, spread), start=1)]
        closed.append(np.r_[[bar[7] for bar in head], np.zeros(len(closed_times) - len(head))])
        if not (merged and count == 1):
            self._forming = [int(opens_at[-1]), float(first[-1]), float(high[-1]), float(low[-1]),
                             float(close[-1]), int(ticks[-1]), int(spread[-1]), 0.0]
        self._last_tick_ms = int(newest[-1])
        self._append(closed_times, closed)
        if not want_closed:
            return []
        closed_at = starts[1 if merged else 0:] if head else starts[new.start + 1:]
        return [(at, Bar(time, o, h, lo, c, int(n), int(s), rv)) for at, time, o, h, lo, c, n, s, rv in zip(
            closed_at.tolist(), closed_times.tolist(), *(column.tolist() for column in closed))]


class SimMarket:
    """Ticks and bars of all `symbols` (name → SymbolSpec), seeded with `history` M1 rates."""

    def __init__(self, symbols: Mapping[str, Any], *, tz: ServerTz | int, start_ms: int,
                 history: Mapping[str, Mapping[str, Any]], history_minutes: int = 0,
                 tick_capacity: int = DEFAULT_TICK_CAPACITY) -> None:
        self.symbols = dict(symbols)
        self.tz = as_server_tz(tz)  # bars open on the server's clock, with the offset valid then
        # The oldest time its history holds (less a week: the bar that opened before it, a weekend).
        first = [int(rates["time"][0]) for rates in history.values() if rates is not None and len(rates["time"])]
        self.history_from_ms = min(first, default=start_ms) - WEEK_MS
        self._ticks = {name: TickRing(tick_capacity) for name in self.symbols}
        self._bars = {
            name: {tf: self._seeded_bars(spec, tf, history.get(name), history_minutes, start_ms)
                   for tf in TIMEFRAMES}
            for name, spec in self.symbols.items()
        }
        self._points = {name: spec.point for name, spec in self.symbols.items()}
        self._last: dict[str, tuple[int, float, float] | None] = {name: None for name in self.symbols}
        # Ticks not yet in the ring and the bars: time, bid, ask, flags.
        self._pending: dict[str, tuple[list, list, list, list]] = {name: ([], [], [], []) for name in self.symbols}
        # Symbols whose closed bars someone wants (bar subscriptions): kept for `closed_bars`.
        self.watched: set[str] = set()
        self._closed: dict[str, list[tuple[int, int, str, Bar]]] = {}
        self._caught = {name: 0 for name in self.symbols}  # ticks each symbol's bars have taken

    def _seeded_bars(self, spec: Any, timeframe: str, m1: Mapping[str, Any] | None,
                     history_minutes: int, start_ms: int) -> _Bars:
        bars_in_history = history_minutes * 60 // mt5.TIMEFRAME_SECONDS[timeframe] + 2
        capacity = max(MIN_BAR_CAPACITY, bars_in_history)
        builder = CandleBuilder(timeframe, self.tz, capacity=capacity, point=spec.point)
        if m1 is not None and len(m1["time"]):
            rates = m1 if timeframe == "M1" else aggregate(m1, timeframe, self.tz)
            # A higher-timeframe bar that started before the start is still forming at start.
            forming = int(rates["time"][-1]) == bar_open_time(start_ms, timeframe, self.tz)
            builder.seed(rates, last_is_forming=forming)
        return _Bars(timeframe, self.tz, capacity, builder)

    def tz_now(self, now_ms: int) -> dict[str, Any]:
        """What hello and terminal_info say of the server's zone: the offset now and the table
        of offsets since the oldest history it answers (bridge/protocol.py, TZ_HISTORY)."""
        return {"tz_offset_s": self.tz.offset_at(now_ms),
                "tz_history": self.tz.window(min(self.history_from_ms, now_ms), now_ms).to_wire()}

    def on_quote(self, symbol: str, time_msc: int, bid: float, ask: float) -> int:
        """Record a tick; returns its MT5 flags. The ring and the bars take it later (`_catch_up`)."""
        flags = tick_flags(self._last[symbol], bid, ask)
        self._last[symbol] = (time_msc, bid, ask)
        times, bids, asks, all_flags = self._pending[symbol]
        times.append(time_msc)
        bids.append(bid)
        asks.append(ask)
        all_flags.append(flags)
        if len(times) >= PENDING_MAX:
            self._catch_up(symbol)
        return flags

    def on_tick(self, symbol: str, time_msc: int, bid: float, ask: float) -> tuple[int, list[tuple[str, Bar]]]:
        """Record a tick; returns its MT5 flags and the (timeframe, bar) pairs it closed."""
        watched = symbol in self.watched
        if not watched:
            self._catch_up(symbol)  # the ticks before this one, unwatched as they came
        self.watched.add(symbol)
        try:
            flags = self.on_quote(symbol, time_msc, bid, ask)
            return flags, self.closed_bars(symbol)
        finally:
            if not watched:
                self.watched.discard(symbol)

    def closed_bars(self, symbol: str) -> list[tuple[str, Bar]]:
        """The (timeframe, bar) pairs closed by the ticks since the last call, in the order the
        ticks closed them (timeframes in TIMEFRAMES order for one tick); `symbol` must be watched."""
        self._catch_up(symbol)
        closed = self._closed.pop(symbol, [])
        closed.sort(key=lambda entry: entry[:2])
        return [(timeframe, bar) for _, _, timeframe, bar in closed]

    def _catch_up(self, symbol: str) -> None:
        """The pending ticks of `symbol` into its ring and the bars of every timeframe."""
        pending = self._pending[symbol]
        if not pending[0]:
            return
        times = np.asarray(pending[0], dtype=np.int64)
        bids, asks = np.asarray(pending[1], dtype=np.float64), np.asarray(pending[2], dtype=np.float64)
        self._ticks[symbol].extend(times, bids, asks, np.asarray(pending[3], dtype=np.int64))
        for column in pending:
            column.clear()
        point = self._points[symbol]
        # CandleBuilder.spread_points, tick by tick: round half to even, as Python's round
        spreads = np.rint((asks - bids) / point).astype(np.int64) if point > 0 else np.zeros(len(times), np.int64)
        in_order = bool(np.all(times[1:] >= times[:-1]))
        want = symbol in self.watched
        offset = self._caught[symbol]
        self._caught[symbol] += len(times)
        for order, (timeframe, bars) in enumerate(self._bars[symbol].items()):
            for at, bar in bars.add(times, bids, spreads, in_order, want):
                self._closed.setdefault(symbol, []).append((offset + at, order, timeframe, bar))

    def copy_rates_from_pos(self, symbol: str, timeframe: Any, start_pos: int, count: int) -> dict[str, list]:
        """`count` bars ending `start_pos` bars back from the newest (0 = forming), oldest first."""
        bars_of = self._bars[self._known(symbol)][timeframe_name(timeframe)]
        if start_pos < 0 or count < 0:
            raise ValueError(f"start_pos and count must not be negative (got {start_pos}, {count})")
        self._catch_up(symbol)
        forming = bars_of.forming
        closed_needed = start_pos + count - (1 if forming else 0)
        a = bars_of.arrays(max(0, closed_needed))
        bars = [Bar(int(a.time[i]), float(a.open[i]), float(a.high[i]), float(a.low[i]),
                    float(a.close[i]), int(a.volume[i]), int(a.spread[i]), float(a.real_volume[i]))
                for i in range(len(a.time))]
        if forming:
            bars.append(forming)
        end = len(bars) - start_pos
        return rate_rows(bars[max(0, end - count):max(0, end)])

    def copy_ticks_from(self, symbol: str, date_from: int, count: int, flags: int) -> dict[str, list]:
        ring = self._ticks[self._known(symbol)]
        if flags == mt5.COPY_TICKS_TRADE:  # FX quotes carry no trade ticks
            return tick_columns([], [], [], [])
        self._catch_up(symbol)
        return ring.copy_from(int(date_from), int(count))

    def _known(self, symbol: str) -> str:
        if symbol not in self.symbols:
            raise KeyError(symbol)
        return symbol
