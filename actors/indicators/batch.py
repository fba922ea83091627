"""The technical indicators the rules language can call, computed over whole price series.

This module owns the batch definitions of the 14 indicators; `table.INDICATORS` says how
to call each by name and what its parameters default to. Every function takes float64
series (any array-like of equal length), returns arrays of the same length aligned with the
input, NaN while the indicator warms up (all NaN when the input is shorter than that), and
raises ValueError with the indicator's name for a bad parameter. Values and warm-up lengths
match TA-Lib at its default settings (no unstable period, default compatibility), including
its conventions for a zero denominator: RSI, DI, STOCH, WILLR and CCI give 0 there. Input is
assumed NaN-free. Keyword defaults are TA-Lib 0.8's (sma and ema 30, bb 20/2, stoch 5/3/3,
cci 14), the ones `table.INDICATORS` records and the rules language applies; a test holds
the two to each other.

Moving means and deviations run on bottleneck, moving extremes on a doubling scheme, and
the recursive smoothing of EMA, RSI, ATR and MACD as small matrix products over blocks of
8 bars (ADX's on `scipy.signal.lfilter`; see `kernels`). No loop runs over bars.

Incremental updates (one closed bar at a time, no recomputation of the history):
* sma, ema, rsi, atr, macd: the state classes `SmaState`, `EmaState`, `RsiState`,
  `AtrState`, `MacdState` (in `incremental`, re-exported here); they equal the batch
  values bar by bar (sma to the bit, the others to ~1e-15 relative: the batch form sums in
  another order). Prime one by feeding it the history once.
* Windowed indicators (bb, stoch, cci, willr, ichimoku, volume_ma): their latest value
  depends only on the last `table.INDICATORS[name].window(**params)` bars, so the batch
  function applied to that many trailing bars gives it exactly, at O(window) cost.
* Still to write as state classes, from the same parts: adx (three `linear_recursion`
  running sums + a `WilderState`-like step that holds when DX is undefined), obv (last
  close + running total) and vwap (server day + two running sums).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import bottleneck as bn
import numpy as np

from actors.indicators.kernels import (
    NAN, check_macd_periods, ema_alpha, linear_recursion, moving_max, moving_min, ratio_or_zero,
    seeded_in_place, seeded_smooth, smooth_difference, true_range_into, whole_number, wilder_rsi)
from actors.indicators.incremental import AtrState, EmaState, MacdState, RsiState, SmaState, WilderState

__all__ = [
    "sma", "ema", "rsi", "macd", "atr", "bollinger", "stochastic", "adx", "cci",
    "williams_r", "ichimoku", "vwap", "obv", "volume_ma",
    "Macd", "Bollinger", "Stochastic", "Adx", "Ichimoku",
    "SmaState", "EmaState", "WilderState", "RsiState", "AtrState", "MacdState"]

MS_PER_DAY = 86_400_000
FLAT_SPREAD = 1e-12   # CCI: mean deviation / price below this counts as a flat window


class Macd(NamedTuple):
    macd: np.ndarray
    signal: np.ndarray
    hist: np.ndarray


class Bollinger(NamedTuple):
    upper: np.ndarray
    middle: np.ndarray
    lower: np.ndarray


class Stochastic(NamedTuple):
    k: np.ndarray
    d: np.ndarray


class Adx(NamedTuple):
    adx: np.ndarray
    plus_di: np.ndarray
    minus_di: np.ndarray


class Ichimoku(NamedTuple):
    tenkan: np.ndarray
    kijun: np.ndarray
    senkou_a: np.ndarray
    senkou_b: np.ndarray
    chikou: np.ndarray


def _series(indicator: str, *named: tuple[str, object]) -> list[np.ndarray]:
    arrays = [np.asarray(values, dtype=np.float64) for _, values in named]
    if any(a.ndim != 1 for a in arrays):
        raise ValueError(f"{indicator}: every input must be a one-dimensional series")
    if len({len(a) for a in arrays}) > 1:
        lengths = ", ".join(f"{name}={len(a)}" for (name, _), a in zip(named, arrays))
        raise ValueError(f"{indicator}: input series differ in length ({lengths})")
    return arrays


def _nan_before(values: np.ndarray, first_valid: int) -> np.ndarray:
    values[:first_valid] = NAN
    return values


def _moving_mean(x: np.ndarray, window: int) -> np.ndarray:
    # bottleneck refuses a window longer than the series.
    return bn.move_mean(x, window) if window <= len(x) else np.full(len(x), NAN)


def _true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Wilder's true range, the largest of high-low, |high-prev_close|, |low-prev_close|,
    aligned with the input: NaN at the first bar, which has no previous close."""
    tr = np.full(len(close), NAN)
    true_range_into(high[1:], low[1:], close[:-1], tr[1:])
    return tr


def _aligned_diff(x: np.ndarray) -> np.ndarray:
    """x[i] - x[i-1] aligned with x; 0 at the first bar."""
    out = np.empty(len(x))
    out[:1] = 0.0
    np.subtract(x[1:], x[:-1], out=out[1:])
    return out


# --- trend ---

def sma(close, period=30) -> np.ndarray:
    """Simple moving average of the last `period` closes; first value at index period-1."""
    period = whole_number("sma", "period", period)
    (close,) = _series("sma", ("close", close))
    return _moving_mean(close, period)


def ema(close, period=30) -> np.ndarray:
    """Exponential average, alpha = 2/(period+1), seeded with the SMA of the first `period`."""
    period = whole_number("ema", "period", period)
    (close,) = _series("ema", ("close", close))
    return seeded_smooth(close, period, ema_alpha(period), first=0)


def macd(close, fast=12, slow=26, signal=9) -> Macd:
    """MACD line (fast EMA - slow EMA), its `signal`-bar EMA, and their difference.

    As in TA-Lib, the fast EMA is seeded at the slow EMA's first bar, and all three outputs
    start at index slow + signal - 2 (33 at the defaults).
    """
    fast, slow, signal = check_macd_periods(fast, slow, signal)
    (close,) = _series("macd", ("close", close))
    n, first = len(close), slow + signal - 2
    if first >= n:
        return Macd(*(np.full(n, NAN) for _ in Macd._fields))
    # Both EMAs run on the deviations from the slow seed, so the line, their difference,
    # comes out of one product without the price level (see smooth_difference).
    slow_seed = math.fsum(close[:slow]) / slow
    fast_state = math.fsum(close[slow - fast:slow]) / fast - slow_seed
    line = np.empty(n)
    line[slow - 1] = fast_state
    np.subtract(close[slow:], slow_seed, out=line[slow:])
    smooth_difference(line[slow:], (ema_alpha(fast), fast_state), (ema_alpha(slow), 0.0))
    # The signal runs on the line itself, not on deviations: signal=1 gives the line exactly.
    signal_line = seeded_smooth(line, signal, ema_alpha(signal), slow - 1, recentre=False)
    _nan_before(line, first)
    return Macd(line, signal_line, line - signal_line)


def adx(high, low, close, period=14) -> Adx:
    """Wilder's ADX with +DI and -DI; DI start at index `period`, ADX at 2*period-1.

    Where the smoothed true range is 0 both DI are 0; where DX is undefined (true range or
    DI sum 0) ADX keeps its previous value, as in TA-Lib.
    """
    period = whole_number("adx", "period", period)
    high, low, close = _series("adx", ("high", high), ("low", low), ("close", close))
    if len(close) <= period:
        return Adx(*(np.full(len(close), NAN) for _ in Adx._fields))
    up = _aligned_diff(high)
    down = np.negative(_aligned_diff(low))
    plus_dm = up * ((up > 0) & (up > down))
    minus_dm = down * ((down > 0) & (down > up))
    decay = 1.0 - 1.0 / period
    tr_sum, plus_di, minus_di = (
        linear_recursion(x, 1.0, decay, math.fsum(x[1:period]), period - 1)
        for x in (_true_range(high, low, close), plus_dm, minus_dm))
    tr_is_zero = tr_sum == 0.0
    for di in (plus_di, minus_di):
        np.multiply(ratio_or_zero(di, tr_sum.copy()), 100.0, out=di)
        _nan_before(di, period)
    di_sum = plus_di + minus_di
    undefined = tr_is_zero | (di_sum == 0.0)
    dx = np.abs(np.subtract(minus_di, plus_di, out=up), out=up)
    dx = np.multiply(ratio_or_zero(dx, di_sum), 100.0, out=dx)
    return Adx(_adx_line(dx, undefined, period), plus_di, minus_di)


def _adx_line(dx: np.ndarray, undefined: np.ndarray, period: int) -> np.ndarray:
    start = 2 * period - 1
    if start >= len(dx):
        return np.full(len(dx), NAN)
    seed = math.fsum(dx[period:start + 1]) / period
    return linear_recursion(dx, 1.0 / period, 1.0 - 1.0 / period, seed, start, holds=undefined)


def ichimoku(high, low, close, tenkan=9, kijun=26, senkou=52) -> Ichimoku:
    """Ichimoku Kinko Hyo, every field computable at bar i from bars 0..i (no future data).

    * tenkan[i], kijun[i]: midpoint (highest high + lowest low) / 2 of the last `tenkan`,
      resp. `kijun`, bars ending at i.
    * senkou_a[i], senkou_b[i]: the cloud as drawn at bar i, i.e. displaced forward by
      `kijun` bars: senkou_a[i] = (tenkan[i-kijun] + kijun[i-kijun]) / 2 and senkou_b[i] =
      the `senkou`-bar midpoint ending at bar i-kijun.
    * chikou[i] = close[i], the lagging span's newest value. The chart draws it `kijun`
      bars back, so the classic test "lagging span above the price it is drawn over" is
      `ichimoku().chikou > close[kijun]`.
    """
    tenkan = whole_number("ichimoku", "tenkan", tenkan)
    kijun = whole_number("ichimoku", "kijun", kijun)
    senkou = whole_number("ichimoku", "senkou", senkou)
    high, low, close = _series("ichimoku", ("high", high), ("low", low), ("close", close))
    tenkan_line = _midpoint(high, low, tenkan)
    kijun_line = _midpoint(high, low, kijun)
    senkou_a = _shift_forward((tenkan_line + kijun_line) / 2.0, kijun)
    senkou_b = _shift_forward(_midpoint(high, low, senkou), kijun)
    return Ichimoku(tenkan_line, kijun_line, senkou_a, senkou_b, close.copy())


def _midpoint(high: np.ndarray, low: np.ndarray, window: int) -> np.ndarray:
    middle = moving_max(high, window)
    middle += moving_min(low, window)
    middle /= 2.0
    return middle


def _shift_forward(values: np.ndarray, bars: int) -> np.ndarray:
    shifted = np.full(len(values), NAN)
    if bars < len(values):
        shifted[bars:] = values[:len(values) - bars]
    return shifted


# --- oscillators ---

def rsi(close, period=14) -> np.ndarray:
    """Wilder's RSI; first value at index `period` (after `period` price changes)."""
    period = whole_number("rsi", "period", period)
    (close,) = _series("rsi", ("close", close))
    return wilder_rsi(close, period) if len(close) > period else np.full(len(close), NAN)


def stochastic(high, low, close, k=5, d=3, smooth=3) -> Stochastic:
    """Slow stochastic: %K = `smooth`-bar SMA of the fast %K over `k` bars, %D its `d`-bar SMA.

    TA-Lib's STOCH(fastk=k, slowk=smooth, slowd=d, SMA both); .k and .d both start at
    index k + smooth + d - 3 (8 at the defaults). A bar range of zero gives fast %K 0.
    """
    k = whole_number("stoch", "k", k)
    d = whole_number("stoch", "d", d)
    smooth = whole_number("stoch", "smooth", smooth)
    high, low, close = _series("stoch", ("high", high), ("low", low), ("close", close))
    fast_k = _channel_position(high, low, close, k, from_low=True)
    slow_k = _moving_mean(fast_k, smooth)
    slow_d = _moving_mean(slow_k, d)
    return Stochastic(_nan_before(slow_k, k + smooth + d - 3), slow_d)


def _channel_position(high, low, close, window: int, from_low: bool) -> np.ndarray:
    """(close - lowest low) / (range/100), or (highest high - close) / (range/-100)."""
    highest, lowest = moving_max(high, window), moving_min(low, window)
    if from_low:
        distance = np.subtract(close, lowest)
        scale = 100.0
    else:
        distance = np.subtract(highest, close)
        scale = -100.0
    span = np.subtract(highest, lowest, out=highest)
    return ratio_or_zero(distance, np.divide(span, scale, out=span))


def cci(high, low, close, period=14) -> np.ndarray:
    """Commodity Channel Index: (TP - SMA(TP)) / (0.015 * mean |TP - SMA(TP)|), TP=(h+l+c)/3.

    0 where the window is flat (mean deviation below 1e-12 of the price) or the distance
    is 0, like TA-Lib.
    """
    period = whole_number("cci", "period", period)
    high, low, close = _series("cci", ("high", high), ("low", low), ("close", close))
    typical = (high + low + close) / 3.0
    n = len(typical)
    if n < period:
        return np.full(n, NAN)
    windows = n - period + 1
    # Window sums are taken afresh, one pass per lag (memory O(n) whatever the period): a
    # running sum drifts, and CCI divides small differences from the mean.
    average = np.zeros(windows)
    for lag in range(period):
        average += typical[lag:lag + windows]
    average /= period
    deviation = np.zeros(windows)
    scratch = np.empty(windows)
    for lag in range(period):
        np.subtract(typical[lag:lag + windows], average, out=scratch)
        deviation += np.abs(scratch, out=scratch)
    deviation *= 0.015 / period
    # A flat window's mean is off by rounding, which would turn 0/0 into +-66.7; a spread
    # this small relative to the price is rounding noise, not movement (TA-Lib uses 1e-14).
    deviation *= deviation > (0.015 * FLAT_SPREAD) * np.abs(average)
    out = np.empty(n)
    out[:period - 1] = NAN
    distance = np.subtract(typical[period - 1:], average, out=out[period - 1:])
    ratio_or_zero(distance, deviation)
    return out


def williams_r(high, low, close, period=14) -> np.ndarray:
    """Williams %R: -100 * (highest high - close) / (highest high - lowest low), in [-100, 0]."""
    period = whole_number("willr", "period", period)
    high, low, close = _series("willr", ("high", high), ("low", low), ("close", close))
    return _channel_position(high, low, close, period, from_low=False)


# --- volatility ---

def atr(high, low, close, period=14) -> np.ndarray:
    """Average true range, Wilder-smoothed; first value at index `period`."""
    period = whole_number("atr", "period", period)
    high, low, close = _series("atr", ("high", high), ("low", low), ("close", close))
    if len(close) <= period:
        return np.full(len(close), NAN)
    seed = math.fsum(_true_range(high[:period + 1], low[:period + 1], close[:period + 1])[1:])
    out = np.empty(len(close))
    true_range_into(high[period + 1:], low[period + 1:], close[period:-1], out[period + 1:])
    seeded_in_place(out, period, seed / period, 1.0 / period)
    return out


def bollinger(close, period=20, k=2.0) -> Bollinger:
    """SMA(period) plus and minus k population standard deviations (ddof=0, as TA-Lib)."""
    period = whole_number("bb", "period", period)
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, float, np.number)) \
            or not np.isfinite(k) or k < 0:
        raise ValueError(f"bb: k must be a finite number >= 0, got {k!r}")
    (close,) = _series("bb", ("close", close))
    middle = _moving_mean(close, period)
    if period > len(close):
        return Bollinger(middle.copy(), middle, middle.copy())
    width = bn.move_std(close, period)
    width *= float(k)
    return Bollinger(middle + width, middle, np.subtract(middle, width, out=width))


# --- volume ---

def vwap(high, low, close, volume, time, *, tz_offset_s=0) -> np.ndarray:
    """Volume-weighted typical price (h+l+c)/3, cumulated from each server day's first bar.

    `time` is each bar's open time in ms UTC; a day starts at the server's midnight, i.e.
    where (time/1000 + tz_offset_s) crosses a multiple of 86400. NaN while the day's volume
    is still zero.
    """
    high, low, close, volume, time = _series(
        "vwap", ("high", high), ("low", low), ("close", close), ("volume", volume),
        ("time", time))
    # Epoch milliseconds are exact in float64, and so is an exact multiple of a day / day.
    day = np.floor((time + float(tz_offset_s) * 1000.0) / MS_PER_DAY)
    starts = np.concatenate(([0], np.flatnonzero(day[1:] != day[:-1]) + 1))
    lengths = np.diff(np.concatenate((starts, [len(day)])))
    weighted = (high + low + close) / 3.0
    weighted *= volume
    average = _since_day_start(np.cumsum(weighted, out=weighted), starts, lengths)
    traded = _since_day_start(np.cumsum(volume), starts, lengths)
    with np.errstate(divide="ignore", invalid="ignore"):
        average /= traded
    average[traded == 0.0] = NAN
    return average


def _since_day_start(cumulative: np.ndarray, starts: np.ndarray, lengths: np.ndarray):
    if len(cumulative) > 0:
        cumulative -= np.repeat(np.concatenate(([0.0], cumulative[starts[1:] - 1])), lengths)
    return cumulative


def obv(close, volume) -> np.ndarray:
    """On-balance volume, starting from the first bar's volume (TA-Lib's convention)."""
    close, volume = _series("obv", ("close", close), ("volume", volume))
    # sign() is exactly -1, 0 or 1, so each step adds +volume, -volume or nothing.
    signed = np.sign(_aligned_diff(close))
    signed *= volume
    signed[:1] = volume[:1]
    return np.cumsum(signed, out=signed)


def volume_ma(volume, period=20) -> np.ndarray:
    """Simple moving average of volume over `period` bars."""
    period = whole_number("volume_ma", "period", period)
    (volume,) = _series("volume_ma", ("volume", volume))
    return _moving_mean(volume, period)
