"""Indicators: values against TA-Lib, Ichimoku and VWAP against hand-worked numbers,
incremental state against the batch functions, the indicator table against the functions'
signatures and TA-Lib's defaults, and edge cases."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.indicators import batch as ind
from actors.indicators.table import INDICATORS

BARS = 3000
RULES_NAMES = ("sma ema rsi macd atr bb stoch adx cci willr ichimoku vwap obv "
               "volume_ma").split()


def random_walk_ohlcv(n: int, start: float, vol: float, seed: int) -> dict[str, np.ndarray]:
    """Geometric random walk with open = previous close plus a small gap, and
    high >= max(open, close), low <= min(open, close)."""
    rng = np.random.default_rng(seed)
    close = start * np.exp(np.cumsum(rng.normal(0.0, vol, n)))
    open_ = np.concatenate(([start], close[:-1])) * np.exp(rng.normal(0.0, vol / 5, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, vol / 2, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, vol / 2, n)))
    volume = np.round(rng.lognormal(6.0, 0.7, n))
    time_ms = 1_704_067_200_000 + np.arange(n, dtype=np.int64) * 5 * 60_000
    return {"open": open_, "high": high, "low": low, "close": close, "volume": volume,
            "time": time_ms}


@pytest.fixture(scope="module", params=[(1.1, 0.0006), (100.0, 0.01)], ids=["fx", "stock"])
def bars(request):
    start, vol = request.param
    return random_walk_ohlcv(BARS, start, vol, seed=20240601)


@pytest.fixture(scope="module")
def talib():
    return pytest.importorskip("talib", reason="TA-Lib comparisons need `pip install ta-lib`")


def first_valid(values: np.ndarray) -> int:
    valid = np.flatnonzero(~np.isnan(values))
    return int(valid[0]) if len(valid) else len(values)


def assert_same_as_talib(ours: np.ndarray, theirs: np.ndarray) -> None:
    """Same warm-up, no NaN after it, and values within 1e-9 relative.

    The absolute floor (1e-9 of the series' largest value) keeps values that cross zero,
    such as the MACD histogram, from demanding more digits than the inputs carry.
    """
    assert len(ours) == len(theirs)
    assert first_valid(ours) == first_valid(theirs)
    start = first_valid(theirs)
    assert start < len(theirs), "TA-Lib gave no value at all: the test data is too short"
    assert not np.isnan(ours[start:]).any()
    scale = np.max(np.abs(theirs[start:]))
    np.testing.assert_allclose(ours[start:], theirs[start:], rtol=1e-9, atol=1e-9 * scale)


# --- TA-Lib comparisons ---

@pytest.mark.parametrize("period", [2, 20, 50])
def test_sma_and_volume_ma_match_talib(talib, bars, period):
    assert_same_as_talib(ind.sma(bars["close"], period), talib.SMA(bars["close"], period))
    assert_same_as_talib(ind.volume_ma(bars["volume"], period),
                         talib.SMA(bars["volume"], period))


@pytest.mark.parametrize("period", [2, 12, 30])
def test_ema_matches_talib(talib, bars, period):
    assert_same_as_talib(ind.ema(bars["close"], period), talib.EMA(bars["close"], period))


@pytest.mark.parametrize("period", [2, 14, 30])
def test_rsi_matches_talib(talib, bars, period):
    assert_same_as_talib(ind.rsi(bars["close"], period), talib.RSI(bars["close"], period))


@pytest.mark.parametrize("periods", [(12, 26, 9), (5, 35, 5), (3, 4, 1)])
def test_macd_matches_talib(talib, bars, periods):
    ours = ind.macd(bars["close"], *periods)
    theirs = talib.MACD(bars["close"], *periods)
    for field, expected in zip(ind.Macd._fields, theirs):
        assert_same_as_talib(getattr(ours, field), expected)


@pytest.mark.parametrize("period", [1, 14, 30])
def test_atr_matches_talib(talib, bars, period):
    h, l, c = bars["high"], bars["low"], bars["close"]
    assert_same_as_talib(ind.atr(h, l, c, period), talib.ATR(h, l, c, period))


@pytest.mark.parametrize("period, k", [(20, 2.0), (10, 1.5)])
def test_bollinger_matches_talib_bbands(talib, bars, period, k):
    ours = ind.bollinger(bars["close"], period, k)
    theirs = talib.BBANDS(bars["close"], period, k, k, 0)
    for field, expected in zip(ind.Bollinger._fields, theirs):
        assert_same_as_talib(getattr(ours, field), expected)


@pytest.mark.parametrize("k, d, smooth", [(14, 3, 3), (9, 5, 2), (5, 1, 1)])
def test_stochastic_matches_talib_stoch(talib, bars, k, d, smooth):
    h, l, c = bars["high"], bars["low"], bars["close"]
    ours = ind.stochastic(h, l, c, k, d, smooth)
    slow_k, slow_d = talib.STOCH(h, l, c, fastk_period=k, slowk_period=smooth,
                                 slowk_matype=0, slowd_period=d, slowd_matype=0)
    assert_same_as_talib(ours.k, slow_k)
    assert_same_as_talib(ours.d, slow_d)


@pytest.mark.parametrize("period", [2, 14, 25])
def test_adx_and_directional_indices_match_talib(talib, bars, period):
    h, l, c = bars["high"], bars["low"], bars["close"]
    ours = ind.adx(h, l, c, period)
    assert_same_as_talib(ours.adx, talib.ADX(h, l, c, period))
    assert_same_as_talib(ours.plus_di, talib.PLUS_DI(h, l, c, period))
    assert_same_as_talib(ours.minus_di, talib.MINUS_DI(h, l, c, period))


@pytest.mark.parametrize("period", [2, 14, 20])
def test_cci_matches_talib(talib, bars, period):
    h, l, c = bars["high"], bars["low"], bars["close"]
    assert_same_as_talib(ind.cci(h, l, c, period), talib.CCI(h, l, c, period))


@pytest.mark.parametrize("period", [2, 14, 50])
def test_williams_r_matches_talib(talib, bars, period):
    h, l, c = bars["high"], bars["low"], bars["close"]
    assert_same_as_talib(ind.williams_r(h, l, c, period), talib.WILLR(h, l, c, period))


def test_obv_matches_talib(talib, bars):
    close = bars["close"].copy()
    close[100:110] = close[99]  # unchanged closes must leave OBV alone
    assert_same_as_talib(ind.obv(close, bars["volume"]), talib.OBV(close, bars["volume"]))


@pytest.mark.parametrize("length", [40_000, 40_007])
def test_long_series_match_talib(talib, length):
    """Past 16k bars the block states are themselves solved in blocks, past 32k bars the
    products run in chunks and RSI in two halves; bars with high < low take the true
    range's slow path."""
    series = random_walk_ohlcv(length, 1.1, 0.0006, seed=7)
    h, l, c = series["high"], series["low"], series["close"]
    assert_same_as_talib(ind.ema(c, 30), talib.EMA(c, 30))
    assert_same_as_talib(ind.rsi(c), talib.RSI(c))
    assert_same_as_talib(ind.atr(h, l, c), talib.ATR(h, l, c))
    for ours, theirs in zip(ind.macd(c), talib.MACD(c)):
        assert_same_as_talib(ours, theirs)
    h, l = h.copy(), l.copy()
    h[500:600], l[500:600] = l[500:600].copy(), h[500:600].copy()
    assert_same_as_talib(ind.atr(h, l, c), talib.ATR(h, l, c))


def test_zero_ranges_follow_talib_conventions(talib):
    """Flat bars make every denominator zero; TA-Lib answers 0 for these oscillators."""
    n = 80
    high, low, close = np.full(n, 1.2), np.full(n, 1.2), np.full(n, 1.2)
    assert_same_as_talib(ind.rsi(close), talib.RSI(close))
    assert_same_as_talib(ind.williams_r(high, low, close), talib.WILLR(high, low, close))
    assert_same_as_talib(ind.cci(high, low, close), talib.CCI(high, low, close))
    assert_same_as_talib(ind.stochastic(high, low, close).k, talib.STOCH(high, low, close)[0])
    ours = ind.adx(high, low, close)
    assert_same_as_talib(ours.adx, talib.ADX(high, low, close))
    assert_same_as_talib(ours.plus_di, talib.PLUS_DI(high, low, close))
    assert np.all(ind.rsi(close)[14:] == 0.0)


def test_adx_holds_while_dx_is_undefined_like_talib(talib, bars):
    """Bars with a range but no directional movement leave DX undefined; ADX then holds."""
    h, l, c = bars["high"].copy(), bars["low"].copy(), bars["close"].copy()
    h[:60], l[:60] = 2.0, 1.0
    c[:60] = 1.5 + 0.1 * np.sin(np.arange(60))
    ours = ind.adx(h, l, c)
    assert_same_as_talib(ours.adx, talib.ADX(h, l, c))
    assert np.all(ours.adx[27:60] == 0.0) and ours.adx[70] > 0.0


# --- hand-worked definitions ---

HIGH = [10.0, 12.0, 11.0, 13.0, 15.0, 14.0, 16.0, 12.0]
LOW = [8.0, 9.0, 7.0, 10.0, 12.0, 11.0, 13.0, 9.0]
CLOSE = [9.0, 11.0, 10.0, 12.0, 14.0, 13.0, 15.0, 10.0]
nan = math.nan


def test_ichimoku_by_hand():
    result = ind.ichimoku(HIGH, LOW, CLOSE, tenkan=2, kijun=3, senkou=4)
    # tenkan: (max of 2 highs + min of 2 lows) / 2, e.g. bar 2: (max(12, 11) + min(9, 7)) / 2
    np.testing.assert_array_equal(result.tenkan, [nan, 10, 9.5, 10, 12.5, 13, 13.5, 12.5])
    # kijun over 3 bars, e.g. bar 4: (max(11, 13, 15) + min(7, 10, 12)) / 2 = 11
    np.testing.assert_array_equal(result.kijun, [nan, nan, 9.5, 10, 11, 12.5, 13.5, 12.5])
    # senkou_a[i] = (tenkan + kijun)/2 at bar i-3: bar 7 <- bar 4: (12.5 + 11) / 2
    np.testing.assert_array_equal(result.senkou_a, [nan] * 5 + [9.5, 10, 11.75])
    # senkou_b[i] = 4-bar midpoint at bar i-3: bar 6 <- bar 3: (13 + 7) / 2; bar 7 <- (15 + 7) / 2
    np.testing.assert_array_equal(result.senkou_b, [nan] * 6 + [10, 11])
    np.testing.assert_array_equal(result.chikou, CLOSE)


# 2024-01-01 20:00 UTC, then every 30 minutes: 22:00 and 22:30 are past midnight at UTC+2.
VWAP_TIME = [1_704_139_200_000 + i * 1_800_000 for i in range(6)]
VWAP_HIGH = [12.0, 13.0, 11.0, 12.0, 12.0, 14.0]
VWAP_LOW = [8.0, 10.0, 8.0, 9.0, 9.0, 10.0]
VWAP_CLOSE = [10.0, 13.0, 8.0, 12.0, 12.0, 12.0]   # typical prices 10, 12, 9, 11, 11, 12
VWAP_VOLUME = [100.0, 300.0, 200.0, 200.0, 0.0, 100.0]


def test_vwap_cumulates_within_the_utc_day_by_default():
    result = ind.vwap(VWAP_HIGH, VWAP_LOW, VWAP_CLOSE, VWAP_VOLUME, VWAP_TIME)
    # (10*100 + 12*300 + 9*200 + 11*200 + 11*0 + 12*100) / (100+300+200+200+0+100), stepwise
    expected = [10.0, 4600 / 400, 6400 / 600, 8600 / 800, 8600 / 800, 9800 / 900]
    np.testing.assert_allclose(result, expected, rtol=1e-15)


def test_vwap_resets_at_the_server_midnight():
    result = ind.vwap(VWAP_HIGH, VWAP_LOW, VWAP_CLOSE, VWAP_VOLUME, VWAP_TIME,
                      tz_offset_s=2 * 3600)
    # server day 1: bars 0-3 (20:00-21:30 UTC); day 2 from bar 4 (22:00 UTC), which traded
    # nothing, so its VWAP is undefined until bar 5.
    expected = [10.0, 4600 / 400, 6400 / 600, 8600 / 800, nan, 12.0]
    np.testing.assert_allclose(result, expected, rtol=1e-15)


def test_vwap_resets_exactly_at_midnight_not_a_millisecond_early():
    midnight = 1_704_153_600_000   # 2024-01-02 00:00 UTC
    times = [midnight - 60_000, midnight - 1, midnight, midnight + 1]
    result = ind.vwap([3.0, 6.0, 9.0, 12.0], [3.0, 6.0, 9.0, 12.0], [3.0, 6.0, 9.0, 12.0],
                      [1.0, 1.0, 1.0, 1.0], times)
    np.testing.assert_allclose(result, [3.0, 4.5, 9.0, 10.5], rtol=1e-15)


# --- incremental state equals the batch functions ---

def feed(state, *columns) -> np.ndarray:
    return np.array([state.update(*row) for row in zip(*columns)])


def assert_close_to_batch(stepped: np.ndarray, batch: np.ndarray, atol: float = 0.0) -> None:
    """Same warm-up (NaN where batch is NaN) and values within 1e-12 relative.

    The batch functions sum each block of 8 bars as a small matrix product, the state
    classes step bar by bar: the same values up to rounding (~1e-15), not bit for bit.
    """
    np.testing.assert_allclose(stepped, batch, rtol=1e-12, atol=atol)


@pytest.mark.parametrize("period", [1, 2, 20])
def test_incremental_states_equal_batch_bar_by_bar(bars, period):
    h, l, c = bars["high"][:600], bars["low"][:600], bars["close"][:600]
    np.testing.assert_array_equal(feed(ind.SmaState(period), c), ind.sma(c, period))
    assert_close_to_batch(feed(ind.EmaState(period), c), ind.ema(c, period))
    assert_close_to_batch(feed(ind.RsiState(period), c), ind.rsi(c, period))
    assert_close_to_batch(feed(ind.AtrState(period), h, l, c), ind.atr(h, l, c, period))


def test_incremental_macd_equals_batch(bars):
    close = bars["close"][:600]
    stepped = feed(ind.MacdState(12, 26, 9), close)
    # The line is a difference of two price-level averages, so its rounding is relative
    # to the price, not to the line, which crosses zero.
    for column, expected in zip(stepped.T, ind.macd(close, 12, 26, 9)):
        assert_close_to_batch(column, expected, atol=1e-12 * np.max(close))


@settings(max_examples=60, deadline=None, database=None)
@given(closes=st.lists(st.floats(0.5, 2.0), max_size=40), period=st.integers(1, 12))
def test_incremental_equals_batch_for_any_length(closes, period):
    close = np.array(closes)
    high, low = close * 1.001, close * 0.999
    np.testing.assert_array_equal(feed(ind.SmaState(period), close), ind.sma(close, period))
    assert_close_to_batch(feed(ind.EmaState(period), close), ind.ema(close, period))
    assert_close_to_batch(feed(ind.RsiState(period), close), ind.rsi(close, period))
    assert_close_to_batch(feed(ind.AtrState(period), high, low, close),
                          ind.atr(high, low, close, period))


# --- the indicator table ---

def call(spec, bars, *params):
    return spec.function(*(bars[name] for name in spec.inputs), *params)


def default_params(spec) -> list:
    return [param.default for param in spec.params]


def output_fields(spec, result) -> dict[str, np.ndarray]:
    return dict(zip(spec.fields, result)) if spec.fields else {"value": result}


def test_table_has_exactly_the_rules_language_names():
    assert sorted(INDICATORS) == sorted(RULES_NAMES)
    assert all(name == spec.name for name, spec in INDICATORS.items())
    assert INDICATORS["bb"].function is ind.bollinger
    assert INDICATORS["stoch"].function is ind.stochastic
    assert INDICATORS["willr"].function is ind.williams_r
    assert INDICATORS["adx"].default_field == "adx"
    assert INDICATORS["vwap"].context == ("tz_offset_s",)


@pytest.mark.parametrize("name", sorted(INDICATORS))
def test_table_and_function_signature_agree(name, bars):
    """Inputs, then every parameter in the table's order with the table's default as its
    keyword default, then the context keywords; nothing else."""
    spec = INDICATORS[name]
    signature = list(inspect.signature(spec.function).parameters.values())
    positional = [p for p in signature if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert tuple(p.name for p in positional[:len(spec.inputs)]) == spec.inputs
    assert all(p.default is p.empty for p in positional[:len(spec.inputs)])
    described = [(p.name, p.default) for p in positional[len(spec.inputs):]]
    assert described == [(param.name, param.default) for param in spec.params]
    for param in spec.params:  # an int default is a period, a float one a multiplier
        assert type(param.default) in (int, float), (name, param)
    keywords = tuple(p.name for p in signature if p.kind is p.KEYWORD_ONLY)
    assert keywords == spec.context
    result = call(spec, bars, *default_params(spec))
    if spec.result is None:
        assert isinstance(result, np.ndarray) and spec.default_field is None
    else:
        assert type(result) is spec.result
        assert spec.default_field in (None, *spec.fields)


def test_table_defaults_are_talib_defaults():
    abstract = pytest.importorskip("talib.abstract", reason="needs `pip install ta-lib`")
    from_talib = {name for name, spec in INDICATORS.items()
                  if any(param.talib for param in spec.params)}
    assert set(INDICATORS) - from_talib == {"ichimoku", "vwap", "obv", "volume_ma"}
    for name in sorted(from_talib):
        for param in INDICATORS[name].params:
            function, *talib_params = param.talib
            for talib_param in talib_params:
                theirs = abstract.Function(function).parameters[talib_param]
                assert param.default == theirs, (name, param.name, function, talib_param, theirs)


@pytest.mark.parametrize("name", sorted(n for n, s in INDICATORS.items() if s.window))
def test_window_bars_determine_the_latest_value(name, bars):
    """For windowed indicators, recomputing on the trailing `window` bars is exact."""
    spec = INDICATORS[name]
    params = spec.defaults
    window = spec.window(**params)

    def latest(bars_back: int) -> dict[str, float]:
        recent = {k: v[-bars_back:] for k, v in bars.items()}
        result = call(spec, recent, *params.values())
        return {field: values[-1] for field, values in output_fields(spec, result).items()}

    whole, tail, short = latest(BARS), latest(window), latest(window - 1)
    for field, value in whole.items():
        assert tail[field] == pytest.approx(value, rel=1e-9, abs=1e-9), field
    assert any(math.isnan(value) for value in short.values()), "the window is not minimal"


# --- edge cases ---

@pytest.mark.parametrize("name", sorted(INDICATORS))
@pytest.mark.parametrize("length", [0, 1, 5])
def test_short_input_gives_aligned_nan_output(name, length, bars):
    spec = INDICATORS[name]
    result = call(spec, {k: v[:length] for k, v in bars.items()}, *default_params(spec))
    for field, values in output_fields(spec, result).items():
        assert len(values) == length, field
        # obv, vwap and the lagging span have a value from the first bar on
        if name not in ("obv", "vwap") and field != "chikou":
            assert np.isnan(values).all(), field


def test_warm_up_lengths_at_the_defaults(bars):
    h, l, c, v = bars["high"], bars["low"], bars["close"], bars["volume"]
    assert first_valid(ind.rsi(c)) == 14
    assert first_valid(ind.atr(h, l, c)) == 14
    assert first_valid(ind.macd(c).macd) == 33
    assert first_valid(ind.stochastic(h, l, c).k) == 8
    assert first_valid(ind.adx(h, l, c).adx) == 27
    assert first_valid(ind.adx(h, l, c).plus_di) == 14
    assert first_valid(ind.ichimoku(h, l, c).senkou_b) == 51 + 26
    assert first_valid(ind.obv(c, v)) == 0


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "14", None, math.nan, math.inf])
def test_bad_period_is_refused_with_the_indicator_named(bad):
    with pytest.raises(ValueError, match=r"rsi: period must be a whole number >= 1"):
        ind.rsi([1.0, 2.0, 3.0], bad)


def test_whole_float_period_is_accepted(bars):
    np.testing.assert_array_equal(ind.sma(bars["close"], 20.0), ind.sma(bars["close"], 20))


@pytest.mark.parametrize("call_with_bad_args, message", [
    (lambda: ind.macd([1.0] * 50, 26, 12, 9), r"macd: fast \(26\) must be smaller than slow"),
    (lambda: ind.macd([1.0] * 50, 12, 12, 9), r"macd: fast \(12\) must be smaller"),
    (lambda: ind.bollinger([1.0] * 50, 20, -1.0), r"bb: k must be a finite number >= 0"),
    (lambda: ind.bollinger([1.0] * 50, 20, math.nan), r"bb: k must be"),
    (lambda: ind.stochastic([1.0] * 9, [1.0] * 9, [1.0] * 9, 5, 0, 3), r"stoch: d must"),
    (lambda: ind.atr([1.0] * 9, [1.0] * 8, [1.0] * 9), r"atr: input series differ in length "
                                                       r"\(high=9, low=8, close=9\)"),
    (lambda: ind.sma(np.ones((3, 3)), 2), r"sma: every input must be a one-dimensional"),
    (lambda: ind.MacdState(5, 3, 2), r"macd: fast \(5\) must be smaller than slow \(3\)"),
    (lambda: ind.EmaState(0), r"ema: period must be a whole number >= 1"),
])
def test_bad_arguments_say_what_is_wrong(call_with_bad_args, message):
    with pytest.raises(ValueError, match=message):
        call_with_bad_args()


def test_inputs_are_never_modified(bars):
    originals = {k: v.copy() for k, v in bars.items()}
    for spec in INDICATORS.values():
        call(spec, bars, *default_params(spec))
    for key, original in originals.items():
        np.testing.assert_array_equal(bars[key], original, err_msg=key)


def test_plain_lists_work_like_arrays(bars):
    close = bars["close"][:200]
    np.testing.assert_array_equal(ind.rsi(list(close)), ind.rsi(close))


def test_constant_prices_give_flat_bands_and_zero_volatility():
    close = np.full(60, 1.25)
    bands = ind.bollinger(close)
    np.testing.assert_array_equal(bands.upper[19:], bands.middle[19:])
    np.testing.assert_array_equal(bands.lower[19:], bands.middle[19:])
    np.testing.assert_array_equal(ind.atr(close, close, close)[14:], 0.0)
    np.testing.assert_array_equal(ind.ema(close, 10)[9:], 1.25)


@pytest.mark.parametrize("price", [0.7, 1.2, 100.3, 65_000.1])
def test_cci_of_a_flat_window_is_zero_at_any_price_level(price):
    flat = np.full(60, price)
    np.testing.assert_array_equal(ind.cci(flat, flat, flat, 20)[19:], 0.0)


def test_obv_adds_on_up_closes_and_subtracts_on_down_closes():
    result = ind.obv([10.0, 11.0, 11.0, 9.0, 12.0], [5.0, 7.0, 3.0, 2.0, 4.0])
    np.testing.assert_array_equal(result, [5.0, 12.0, 12.0, 10.0, 14.0])


def test_rsi_by_hand_for_a_short_series():
    # period 2: changes +1, +1, -2; seed at bar 2 = gains (1+1)/2 = 1, losses 0 -> 100;
    # bar 3: gain (1*1 + 0)/2 = 0.5, loss (0*1 + 2)/2 = 1 -> 100 * 0.5 / 1.5
    np.testing.assert_allclose(ind.rsi([1.0, 2.0, 3.0, 1.0], 2),
                               [nan, nan, 100.0, 100 * 0.5 / 1.5], rtol=1e-15)
