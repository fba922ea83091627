"""The simulated terminal's market memory builds its bars in batches (bridge/sim/market.py):
they must be, at every read, the bars `CandleBuilder` builds tick by tick, and its tick ring
the ticks as they came, whatever the ticks do (gaps, weekends, repeated and older times, a
server zone with daylight saving switches, seeded history with a forming bar)."""

from __future__ import annotations

import numpy as np
import pytest

from bridge import mt5
from bridge.candles import TIMEFRAMES, Bar, CandleBuilder, aggregate, bar_open_time
from bridge.server_tz import parse_server_tz
from bridge.sim import market as market_module
from bridge.sim.market import MIN_BAR_CAPACITY, SimMarket, TickRing, rate_rows, tick_flags
from bridge.symbols import DEFAULT_SYMBOLS

SYMBOL = "EURUSD"
POINT = DEFAULT_SYMBOLS[SYMBOL].point
START = 1_772_236_800_000  # 2026-02-28 00:00 UTC: the US switch to daylight time is two weeks on


def random_ticks(seed: int, n: int, start_ms: int) -> list[tuple[int, float, float]]:
    rng = np.random.default_rng(seed)
    ticks, t, bid = [], start_ms, 1.08
    for _ in range(n):
        roll = rng.random()
        if roll < 0.02:
            t += int(rng.integers(1, 3 * 86_400_000))  # a weekend, a holiday
        elif roll < 0.05:
            t -= int(rng.integers(0, 200_000))  # an older time, or the same one
        else:
            t += int(rng.exponential(90_000))
        bid = round(bid + float(rng.normal(0, 0.0003)), 5)
        ticks.append((t, bid, round(bid + int(rng.integers(0, 30)) * POINT, 5)))
    return ticks


def m1_history(start_ms: int, minutes: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    close = np.round(1.08 + np.cumsum(rng.normal(0, 0.0002, minutes)), 5)
    return {"time": start_ms - minutes * 60_000 + np.arange(minutes, dtype=np.int64) * 60_000,
            "open": close, "high": close + 0.0002, "low": close - 0.0002, "close": close,
            "tick_volume": np.full(minutes, 7.0), "spread": np.full(minutes, 9.0), "real_volume": np.zeros(minutes)}


def reference_builders(tz, history, start_ms) -> dict[str, CandleBuilder]:
    """What the simulator kept before: one CandleBuilder per timeframe, fed every tick."""
    builders = {}
    for timeframe in TIMEFRAMES:
        builder = CandleBuilder(timeframe, tz, capacity=MIN_BAR_CAPACITY, point=POINT)
        if history is not None:
            rates = history if timeframe == "M1" else aggregate(history, timeframe, tz)
            builder.seed(rates, last_is_forming=int(rates["time"][-1]) == bar_open_time(start_ms, timeframe, tz))
        builders[timeframe] = builder
    return builders


def reference_rates(builder: CandleBuilder) -> dict[str, list]:
    a = builder.series.arrays()
    bars = [Bar(int(a.time[i]), float(a.open[i]), float(a.high[i]), float(a.low[i]), float(a.close[i]),
                int(a.volume[i]), int(a.spread[i]), float(a.real_volume[i])) for i in range(len(a.time))]
    if builder.forming:
        bars.append(builder.forming)
    return rate_rows(bars)


@pytest.mark.parametrize("zone", [0, 7200, "NY+7"])
@pytest.mark.parametrize("seeded", [False, True])
@pytest.mark.parametrize("seed", [1, 2])
def test_bars_built_in_batches_are_the_bars_built_tick_by_tick(zone, seeded, seed, monkeypatch):
    monkeypatch.setattr(market_module, "PENDING_MAX", 97)  # batches of every size, some cut short
    tz = parse_server_tz(zone)
    start_ms = START + 30 * 60_000 + 17_000
    history = m1_history(start_ms, 3000) if seeded else None
    market = SimMarket({SYMBOL: DEFAULT_SYMBOLS[SYMBOL]}, tz=tz, start_ms=start_ms,
                       history={SYMBOL: history} if seeded else {}, history_minutes=3000 if seeded else 0)
    builders = reference_builders(tz, history, start_ms)
    ring, previous = TickRing(market_module.DEFAULT_TICK_CAPACITY), None
    rng = np.random.default_rng(seed + 100)
    watched_closed, reference_closed = [], []
    ticks = random_ticks(seed, 4000, start_ms - 120_000)
    for i, (t, bid, ask) in enumerate(ticks):
        flags = tick_flags(previous, bid, ask)
        previous = (t, bid, ask)
        ring.append(t, bid, ask, flags)
        closed_now = [(tf, bar) for tf, builder in builders.items() if (bar := builder.on_tick(t, bid, ask))]
        if i == 2000:  # watched from here: the closed bars, in the order the ticks closed them
            assert market.closed_bars(SYMBOL) == []  # caught up unwatched: nothing kept
            market.watched.add(SYMBOL)
        if i == 2500:
            watched_closed = market.closed_bars(SYMBOL)
            market.watched.discard(SYMBOL)
        if 2000 <= i < 2500:
            reference_closed += closed_now
        assert market.on_quote(SYMBOL, t, bid, ask) == flags
        if rng.random() < 0.005 or i == len(ticks) - 1:  # a read catches the bars up
            for timeframe in TIMEFRAMES:
                count = MIN_BAR_CAPACITY + 1
                assert market.copy_rates_from_pos(SYMBOL, timeframe, 0, count) == reference_rates(builders[timeframe])
            assert market.copy_ticks_from(SYMBOL, 0, 100_000, mt5.COPY_TICKS_ALL) == ring.copy_from(0, 100_000)
    assert watched_closed == reference_closed and reference_closed


def test_on_tick_still_returns_the_bars_each_tick_closed():
    market = SimMarket({SYMBOL: DEFAULT_SYMBOLS[SYMBOL]}, tz=0, start_ms=START, history={})
    builders = reference_builders(parse_server_tz(0), None, START)
    for t, bid, ask in random_ticks(3, 500, START):
        expected = [(tf, bar) for tf, builder in builders.items() if (bar := builder.on_tick(t, bid, ask))]
        assert market.on_tick(SYMBOL, t, bid, ask)[1] == expected
