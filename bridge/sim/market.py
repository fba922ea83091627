"""The simulated terminal's market memory: recent ticks and bars of every timeframe.

This module owns what the simulator can answer about the past, the way a terminal's own
history does: `copy_rates_from_pos` (position 0 = the forming bar) and `copy_ticks_from`.
Bars of every timeframe are seeded from the feed's M1 history and then built from live
ticks; both stores are fixed-size rings, so memory stays flat however long it runs.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from bridge.candles import TIMEFRAMES, Bar, CandleBuilder, aggregate, bar_open_time
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
        self._builders = {
            name: {tf: self._seeded_builder(spec, tf, history.get(name), history_minutes, start_ms)
                   for tf in TIMEFRAMES}
            for name, spec in self.symbols.items()
        }

    def _seeded_builder(self, spec: Any, timeframe: str, m1: Mapping[str, Any] | None,
                        history_minutes: int, start_ms: int) -> CandleBuilder:
        bars_in_history = history_minutes * 60 // mt5.TIMEFRAME_SECONDS[timeframe] + 2
        builder = CandleBuilder(timeframe, self.tz,
                                capacity=max(MIN_BAR_CAPACITY, bars_in_history), point=spec.point)
        if m1 is not None and len(m1["time"]):
            rates = m1 if timeframe == "M1" else aggregate(m1, timeframe, self.tz)
            # A higher-timeframe bar that started before the start is still forming at start.
            forming = int(rates["time"][-1]) == bar_open_time(start_ms, timeframe, self.tz)
            builder.seed(rates, last_is_forming=forming)
        return builder

    def tz_now(self, now_ms: int) -> dict[str, Any]:
        """What hello and terminal_info say of the server's zone: the offset now and the table
        of offsets since the oldest history it answers (bridge/protocol.py, TZ_HISTORY)."""
        return {"tz_offset_s": self.tz.offset_at(now_ms),
                "tz_history": self.tz.window(min(self.history_from_ms, now_ms), now_ms).to_wire()}

    def on_tick(self, symbol: str, time_msc: int, bid: float, ask: float) -> tuple[int, list[tuple[str, Bar]]]:
        """Record a tick; returns its MT5 flags and the (timeframe, bar) pairs it closed."""
        ring = self._ticks[symbol]
        flags = tick_flags(ring.last(), bid, ask)
        ring.append(time_msc, bid, ask, flags)
        closed = []
        for timeframe, builder in self._builders[symbol].items():
            bar = builder.on_tick(time_msc, bid, ask)
            if bar is not None:
                closed.append((timeframe, bar))
        return flags, closed

    def copy_rates_from_pos(self, symbol: str, timeframe: Any, start_pos: int, count: int) -> dict[str, list]:
        """`count` bars ending `start_pos` bars back from the newest (0 = forming), oldest first."""
        builder = self._builders[self._known(symbol)][timeframe_name(timeframe)]
        if start_pos < 0 or count < 0:
            raise ValueError(f"start_pos and count must not be negative (got {start_pos}, {count})")
        forming = builder.forming
        closed_needed = start_pos + count - (1 if forming else 0)
        a = builder.series.arrays(max(0, closed_needed))
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
        return ring.copy_from(int(date_from), int(count))

    def _known(self, symbol: str) -> str:
        if symbol not in self.symbols:
            raise KeyError(symbol)
        return symbol
