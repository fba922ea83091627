"""Candles: alignment on the broker's clock, tick-to-bar building, ring buffers, aggregation."""

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from bridge.candles import TIMEFRAMES, Bar, BarSeries, CandleBuilder, aggregate, bar_open_time

MINUTE = 60_000


def utc_ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=timezone.utc).timestamp() * 1000)


def expected_open(time_ms: int, timeframe: str, tz_offset_s: int) -> int:
    """Independent reference: floor the server's wall clock with datetime arithmetic."""
    server = datetime.fromtimestamp(time_ms / 1000, timezone.utc) + timedelta(seconds=tz_offset_s)
    unit = {"M": "minute", "H": "hour", "D": "day"}[timeframe[0]]
    size = int(timeframe[1:])
    if unit == "day":
        floored = server.replace(hour=0, minute=0, second=0, microsecond=0)
    elif unit == "hour":
        floored = server.replace(hour=server.hour - server.hour % size, minute=0, second=0, microsecond=0)
    else:
        floored = server.replace(minute=server.minute - server.minute % size, second=0, microsecond=0)
    return int((floored - timedelta(seconds=tz_offset_s)).timestamp() * 1000)


@pytest.mark.parametrize("timeframe", TIMEFRAMES)
@pytest.mark.parametrize("tz_offset_s", [0, 7200, 10800, -18000])
@pytest.mark.parametrize("moment", [
    (2024, 3, 6, 13, 47, 25), (2024, 3, 6, 23, 30, 0), (2024, 3, 6, 21, 59, 59),
    (2024, 3, 7, 0, 0, 0), (2024, 3, 6, 4, 59, 0),
])
def test_bar_open_time_matches_the_server_clock(timeframe, tz_offset_s, moment):
    time_ms = utc_ms(*moment) + 123
    assert bar_open_time(time_ms, timeframe, tz_offset_s) == expected_open(time_ms, timeframe, tz_offset_s)


def test_d1_starts_at_server_midnight():
    # 23:30 UTC is already 01:30 of the next day on a UTC+2 server.
    assert bar_open_time(utc_ms(2024, 3, 6, 23, 30), "D1", 7200) == utc_ms(2024, 3, 6, 22, 0)
    assert bar_open_time(utc_ms(2024, 3, 6, 21, 30), "D1", 7200) == utc_ms(2024, 3, 5, 22, 0)
    # On a UTC-5 server 03:00 UTC is still the previous day.
    assert bar_open_time(utc_ms(2024, 3, 6, 3, 0), "D1", -18000) == utc_ms(2024, 3, 5, 5, 0)
    assert bar_open_time(utc_ms(2024, 3, 6, 13, 0), "H4", 7200) == utc_ms(2024, 3, 6, 10, 0)


def test_unknown_timeframe_is_refused_with_the_valid_ones():
    with pytest.raises(ValueError, match="M1, M5"):
        bar_open_time(0, "W1")
    with pytest.raises(ValueError):
        CandleBuilder("M2")


def test_a_bar_closes_on_the_first_tick_of_the_next_period():
    t0 = utc_ms(2024, 3, 6, 10, 0)
    builder = CandleBuilder("M1", point=0.00001)
    assert builder.on_tick(t0 + 100, 1.10000, 1.10012) is None
    assert builder.on_tick(t0 + 20_000, 1.10030, 1.10038) is None
    assert builder.on_tick(t0 + 40_000, 1.09980, 1.09995) is None
    assert builder.on_tick(t0 + 59_999, 1.10010, 1.10020) is None
    assert len(builder.series) == 0
    assert builder.forming.close == 1.10010

    closed = builder.on_tick(t0 + MINUTE, 1.10050, 1.10060)

    assert closed == Bar(t0, 1.10000, 1.10030, 1.09980, 1.10010, 4, 8, 0.0)
    assert builder.forming.time == t0 + MINUTE and builder.forming.open == 1.10050
    assert builder.series.last_time == t0


def test_spread_is_zero_without_a_point_and_volume_accumulates():
    builder = CandleBuilder("M5")
    builder.on_tick(0, 1.0, 1.5, volume=2.0)
    builder.on_tick(1000, 1.0, 1.2, volume=3.0)
    closed = builder.on_tick(5 * MINUTE, 1.0, 1.1)
    assert closed.spread == 0 and closed.real_volume == 5.0 and closed.tick_volume == 2


def test_a_gap_makes_no_empty_bars():
    t0 = utc_ms(2024, 3, 8, 21, 58)  # Friday evening; the market reopens Sunday night
    reopen = utc_ms(2024, 3, 10, 22, 0)
    builder = CandleBuilder("M1")
    builder.on_tick(t0, 1.1, 1.1001)
    builder.on_tick(t0 + MINUTE, 1.2, 1.2001)
    assert builder.on_tick(reopen + 5_000, 1.3, 1.3001).time == t0 + MINUTE
    builder.on_tick(reopen + MINUTE, 1.4, 1.4001)
    assert builder.series.arrays().time.tolist() == [t0, t0 + MINUTE, reopen]


def test_ticks_older_than_the_forming_bar_are_ignored():
    builder = CandleBuilder("M1")
    builder.on_tick(0, 1.0, 1.0)
    builder.on_tick(MINUTE + 10, 2.0, 2.0)
    assert builder.on_tick(30_000, 9.0, 9.0) is None  # belongs to the closed bar
    assert builder.on_tick(MINUTE + 5, 9.0, 9.0) is None  # behind the last tick
    assert builder.forming.high == 2.0 and builder.forming.tick_volume == 1
    assert builder.series.arrays().high.tolist() == [1.0]


def test_the_ring_buffer_keeps_the_newest_bars_in_constant_memory():
    series = BarSeries(capacity=50)
    size = series.nbytes
    for i in range(10_000):
        series.append(Bar(i * MINUTE, i, i + 1.0, i - 1.0, i + 0.5, 3, 2, 0.0))
    assert len(series) == 50 and series.nbytes == size
    arrays = series.arrays()
    assert arrays.time.tolist() == [i * MINUTE for i in range(9_950, 10_000)]
    assert arrays.close[-1] == 9_999.5 and arrays.volume[0] == 3 and arrays.spread[0] == 2
    last3 = series.arrays(3)
    assert last3.open.tolist() == [9_997.0, 9_998.0, 9_999.0]
    assert series.last_time == 9_999 * MINUTE
    arrays.close[-1] = -1.0  # callers get copies: the series must not change under them
    assert series.arrays(1).close[0] == 9_999.5


def test_arrays_before_the_buffer_fills_are_ordered():
    series = BarSeries(capacity=5)
    assert len(series.arrays().time) == 0 and series.last_time is None
    for i in range(3):
        series.append(Bar(i, 1.0, 1.0, 1.0, float(i), 1, 0))
    assert series.arrays().close.tolist() == [0.0, 1.0, 2.0]
    assert series.arrays(10).time.tolist() == [0, 1, 2]


def random_ticks(seed: int, start_ms: int, hours: float) -> list[tuple[int, float, float]]:
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(4_000, int(hours * 3600 / 4) + 1).astype(np.int64) + 1
    gaps[len(gaps) // 2] += 3 * 3600_000  # a quiet stretch: whole bars without ticks
    times = start_ms + np.cumsum(gaps)
    bids = np.round(1.1 + np.cumsum(rng.normal(0, 0.00005, len(times))), 5)
    spreads = rng.integers(5, 20, len(times)) * 0.00001
    return [(int(t), float(b), float(b + s)) for t, b, s in zip(times, bids, spreads)]


@pytest.mark.parametrize("timeframe", ["M5", "H1", "D1"])
def test_aggregating_m1_matches_building_directly(timeframe):
    ticks = random_ticks(7, utc_ms(2024, 3, 6, 20, 7), hours=8)
    m1 = CandleBuilder("M1", tz=7200, capacity=5000, point=0.00001)
    direct = CandleBuilder(timeframe, tz=7200, capacity=5000, point=0.00001)
    for time_ms, bid, ask in ticks:
        m1.on_tick(time_ms, bid, ask)
        direct.on_tick(time_ms, bid, ask)

    rolled = aggregate(m1.series.columns(), timeframe, tz=7200)
    built = direct.series.columns()

    assert len(built["time"]) >= 1
    count = len(built["time"])
    for name in ("time", "open", "high", "low", "close", "tick_volume", "spread"):
        np.testing.assert_array_equal(rolled[name][:count], built[name], err_msg=name)


def test_seeded_history_comes_before_live_ticks():
    history = {"time": [0, MINUTE, 2 * MINUTE], "open": [1.0, 2.0, 3.0], "high": [1.5, 2.5, 3.5],
               "low": [0.5, 1.5, 2.5], "close": [1.2, 2.2, 3.2], "tick_volume": [10, 11, 12],
               "spread": [3, 3, 3], "real_volume": [0, 0, 0]}
    builder = CandleBuilder("M1")
    assert builder.seed(history, last_is_forming=True) == 3
    assert len(builder.series) == 2 and builder.forming.time == 2 * MINUTE

    builder.on_tick(2 * MINUTE + 30_000, 4.0, 4.0)  # continues the forming history bar
    closed = builder.on_tick(3 * MINUTE, 3.0, 3.0)

    assert closed == Bar(2 * MINUTE, 3.0, 4.0, 2.5, 4.0, 13, 0, 0.0)
    forming = builder.forming
    assert builder.on_tick(MINUTE, 9.0, 9.0) is None and builder.forming == forming  # too old: ignored
    assert builder.seed(history) == 0  # nothing newer than what is held
