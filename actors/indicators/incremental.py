"""Incremental indicator state: `update(...)` takes one closed bar and returns the latest value.

Each class keeps what its indicator needs to move one bar forward (a running sum, the last
smoothed value, the previous close), so a strategy's per-bar cost does not grow with its
history. They seed and smooth exactly like the batch functions (`kernels`), and
agree with them to ~1e-15 of the value.
"""

from __future__ import annotations

import math
from collections import deque

from actors.indicators.kernels import NAN, check_macd_periods, ema_alpha, whole_number

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
        if self.period == 1:
            return value  # bottleneck copies a window of one rather than summing it
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


