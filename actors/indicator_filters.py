"""Numeric kernels behind the indicators: recursive smoothing and moving extremes.

This module owns the arithmetic of the recursive indicators: the seeded first-order
smoothing that TA-Lib uses for EMA (alpha = 2/(n+1)) and for Wilder's averages in RSI, ATR
and ADX (alpha = 1/n), the running-sum smoothing of ADX's directional movement, the
incremental state classes that update those indicators on one new bar, and the moving
maximum/minimum of the channel indicators.

Batch and incremental forms evaluate the same expressions in the same order
(seed = fsum(first n values) / n, then y = alpha*x + (1 - alpha)*y_prev, which is exactly
what `scipy.signal.lfilter` computes for b=[alpha], a=[1, alpha - 1]), so an indicator
updated bar by bar agrees with its batch value to the last bit in practice.
"""

from __future__ import annotations

import math
import operator
from collections import deque

import numpy as np
from scipy.signal import lfilter

NAN = float("nan")


def whole_number(indicator: str, name: str, value: object, minimum: int = 1) -> int:
    """`value` as an int >= minimum, or a ValueError naming the indicator and parameter."""
    if not isinstance(value, (bool, np.bool_)):
        try:
            as_int = operator.index(value)
        except TypeError:
            as_int = int(value) if isinstance(value, float) and value.is_integer() else None
        if as_int is not None and as_int >= minimum:
            return as_int
    raise ValueError(f"{indicator}: {name} must be a whole number >= {minimum}, got {value!r}")


def linear_recursion(x: np.ndarray, alpha: float, decay: float, seed: float,
                     start: int, holds: np.ndarray | None = None) -> np.ndarray:
    """y[start] = seed, then y[t] = alpha*x[t] + decay*y[t-1]; NaN before `start`.

    Where `holds[t]` is true the step is skipped and y[t] = y[t-1] (TA-Lib's ADX keeps its
    previous value when DX is undefined). Only the runs between holds are looped over.
    """
    out = np.empty(len(x))
    out[:start] = NAN
    if start >= len(x):
        return out
    out[start] = seed
    if holds is None or not holds[start + 1:].any():
        _filter_into(out, x, alpha, decay, start + 1, len(x))
        return out
    hold = holds[start + 1:]
    edges = np.flatnonzero(np.diff(hold.astype(np.int8))) + 1
    bounds = np.concatenate(([0], edges, [len(hold)])) + start + 1
    for begin, end in zip(bounds[:-1], bounds[1:]):
        if holds[begin]:
            out[begin:end] = out[begin - 1]
        else:
            _filter_into(out, x, alpha, decay, begin, end)
    return out


def _filter_into(out: np.ndarray, x: np.ndarray, alpha: float, decay: float,
                 begin: int, end: int) -> None:
    if begin < end:
        out[begin:end] = lfilter([alpha], [1.0, -decay], x[begin:end],
                                 zi=[decay * out[begin - 1]])[0]


def seeded_smooth(x: np.ndarray, period: int, alpha: float, first: int) -> np.ndarray:
    """Smooth x[first:] seeded with the mean of its first `period` values (TA-Lib style).

    The output starts at index first + period - 1; everything before it is NaN.
    """
    start = first + period - 1
    if start >= len(x):
        return np.full(len(x), NAN)
    seed = math.fsum(x[first:start + 1]) / period
    return linear_recursion(x, alpha, 1.0 - alpha, seed, start)


def ema_alpha(period: int) -> float:
    return 2.0 / (period + 1)


def rsi_from_averages(avg_gain: np.ndarray, avg_loss: np.ndarray) -> np.ndarray:
    """100 * gain / (gain + loss), 0 where both are zero (TA-Lib); overwrites both."""
    total = np.add(avg_gain, avg_loss, out=avg_loss)
    return np.multiply(ratio_or_zero(avg_gain, total), 100.0, out=avg_gain)


def ratio_or_zero(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (TA-Lib's rule).

    Overwrites both arguments. Branch-free: a zero denominator is bumped to 1 and its
    quotient multiplied by 0; every other quotient is untouched (x + 0 and x * 1 are exact).
    """
    is_zero = denominator == 0.0
    np.add(denominator, is_zero, out=denominator)
    np.divide(numerator, denominator, out=numerator)
    return np.multiply(numerator, ~is_zero, out=numerator)


def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Wilder's true range, the largest of high-low, |high-prev_close|, |low-prev_close|.

    Aligned with the input; the first bar has no previous close, so tr[0] is NaN.
    """
    tr = np.empty(len(close))
    tr[:1] = NAN
    body, gap = tr[1:], np.subtract(high[1:], close[:-1])
    np.subtract(high[1:], low[1:], out=body)
    np.maximum(body, np.abs(gap, out=gap), out=body)
    np.subtract(low[1:], close[:-1], out=gap)
    np.maximum(body, np.abs(gap, out=gap), out=body)
    return tr


def moving_max(x: np.ndarray, window: int) -> np.ndarray:
    """Largest of the last `window` values, NaN for the first window-1 bars."""
    return _moving_extreme(np.maximum, x, window)


def moving_min(x: np.ndarray, window: int) -> np.ndarray:
    """Smallest of the last `window` values, NaN for the first window-1 bars."""
    return _moving_extreme(np.minimum, x, window)


def _moving_extreme(pick, x: np.ndarray, window: int) -> np.ndarray:
    # Doubling: level[i] holds the extreme of the `span` values ending at i, so log2(window)
    # vectorised passes cover any window; two overlapping spans give the exact answer.
    # Ten times faster than bottleneck's move_max/move_min at the windows used here, and
    # two buffers are recycled because fresh pages are what large arrays cost most.
    n = len(x)
    if window > n:
        return np.full(n, NAN)
    level, spare, span = x, None, 1
    while span * 2 <= window:
        target = np.empty(n) if spare is None else spare
        pick(level[span:], level[:n - span], out=target[span:])
        spare = None if level is x else level
        level, span = target, span * 2
    out = np.empty(n) if spare is None else spare
    shift = window - span
    pick(level[window - 1:], level[window - 1 - shift:n - shift], out=out[window - 1:])
    out[:window - 1] = NAN
    return out


# --- incremental state: update(...) takes one closed bar and returns the latest value ---

class SmaState:
    """Simple moving average over the last `period` values, NaN until the window is full.

    The same running sum, divided then multiplied by 1/period, as bottleneck's move_mean,
    so it matches the batch `sma` bit for bit.
    """

    def __init__(self, period: int):
        self.period = whole_number("sma", "period", period)
        self._inverse = 1.0 / self.period
        self._window: deque[float] = deque(maxlen=self.period)
        self._sum = 0.0

    def update(self, value: float) -> float:
        if len(self._window) == self.period:
            self._sum += value - self._window[0]
            self._window.append(value)
            return self._sum * self._inverse
        self._sum += value
        self._window.append(value)
        return self._sum / self.period if len(self._window) == self.period else NAN


class SeededSmoother:
    """y = alpha*x + (1-alpha)*y_prev, seeded with the mean of the first `period` inputs."""

    def __init__(self, period: int, alpha: float):
        self.period, self.alpha, self.decay = period, alpha, 1.0 - alpha
        self._warmup: list[float] | None = []
        self.value = NAN

    def update(self, x: float) -> float:
        if self._warmup is None:
            self.value = self.alpha * x + self.decay * self.value
        else:
            self._warmup.append(x)
            if len(self._warmup) == self.period:
                self.value = math.fsum(self._warmup) / self.period
                self._warmup = None
        return self.value


class EmaState(SeededSmoother):
    """TA-Lib's EMA: alpha = 2/(period+1), seeded with the SMA of the first `period` values."""

    def __init__(self, period: int):
        period = whole_number("ema", "period", period)
        super().__init__(period, ema_alpha(period))


class WilderState(SeededSmoother):
    """Wilder's average: alpha = 1/period, seeded with the first `period` values' mean."""

    def __init__(self, period: int):
        period = whole_number("wilder", "period", period)
        super().__init__(period, 1.0 / period)


class RsiState:
    """RSI(period), first value after period+1 closes, like TA-Lib's RSI."""

    def __init__(self, period: int = 14):
        period = whole_number("rsi", "period", period)
        self._gain, self._loss = WilderState(period), WilderState(period)
        self._prev_close = NAN

    def update(self, close: float) -> float:
        change, self._prev_close = close - self._prev_close, close
        if math.isnan(change):
            return NAN
        gain = self._gain.update(change if change > 0 else 0.0)
        loss = self._loss.update(-change if change < 0 else 0.0)
        if math.isnan(gain):
            return NAN
        total = gain + loss
        return 0.0 if total == 0.0 else 100.0 * (gain / total)


class AtrState:
    """ATR(period): Wilder's average of the true range, first value at bar index `period`."""

    def __init__(self, period: int = 14):
        self._average = WilderState(whole_number("atr", "period", period))
        self._prev_close = NAN

    def update(self, high: float, low: float, close: float) -> float:
        prev_close, self._prev_close = self._prev_close, close
        if math.isnan(prev_close):
            return NAN
        tr = max(high - low, abs(high - prev_close), abs(low - prev_close))
        return self._average.update(tr)


class MacdState:
    """MACD(fast, slow, signal) with TA-Lib's seeding; update returns (macd, signal, hist).

    TA-Lib seeds the fast EMA at the slow EMA's first bar (with the mean of the `fast`
    closes ending there), so the fast smoother ignores the first slow-fast closes.
    """

    def __init__(self, fast: int = 12, slow: int = 26, signal: int = 9):
        fast, slow, signal = check_macd_periods(fast, slow, signal)
        self._skip_fast = slow - fast
        self._fast, self._slow = EmaState(fast), EmaState(slow)
        self._signal = EmaState(signal)

    def update(self, close: float) -> tuple[float, float, float]:
        slow = self._slow.update(close)
        if self._skip_fast:
            self._skip_fast -= 1
            return NAN, NAN, NAN
        line = self._fast.update(close) - slow
        if math.isnan(line):
            return NAN, NAN, NAN
        signal = self._signal.update(line)
        if math.isnan(signal):
            return NAN, NAN, NAN
        return line, signal, line - signal


def check_macd_periods(fast: object, slow: object, signal: object) -> tuple[int, int, int]:
    fast = whole_number("macd", "fast", fast)
    slow = whole_number("macd", "slow", slow)
    signal = whole_number("macd", "signal", signal)
    if fast >= slow:
        raise ValueError(f"macd: fast ({fast}) must be smaller than slow ({slow}); "
                         f"write macd(fast, slow, signal), e.g. macd(12, 26, 9)")
    return fast, slow, signal
