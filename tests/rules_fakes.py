"""Hand-checkable stand-ins for `actors.indicators`, injected into the rules language in tests.

`sma` is a real rolling mean; every other fake returns its first input plus its numeric
parameters (one per output field, offset by the field's index), so a test can tell from a
value which function ran, with which input and parameters, and which field was read.
Every call is recorded, its session keywords (vwap's `tz_offset_s`) apart.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from actors.indicators.table import INDICATORS

# By function name, as the rules language looks functions up; results are the real types.
INPUT_COUNTS = {spec.function.__name__: len(spec.inputs) for spec in INDICATORS.values()}
OUTPUTS = {spec.function.__name__: spec.result for spec in INDICATORS.values() if spec.result}


@dataclass(frozen=True, slots=True, kw_only=True)
class Bars:
    """Bar arrays as the rules read them (the product hands them a BarSeries' arrays)."""
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    time: np.ndarray


def rolling_mean(values: np.ndarray, period: int) -> np.ndarray:
    out = np.full(len(values), np.nan)
    for end in range(period, len(values) + 1):
        out[end - 1] = values[end - period:end].mean()
    return out


class FakeIndicators:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []
        self.keywords: list[tuple[str, dict]] = []
        self.table = {name: self._fake(name) for name in INPUT_COUNTS}

    def count(self) -> Counter:
        return Counter(name for name, _ in self.calls)

    def _fake(self, name: str):
        inputs = INPUT_COUNTS[name]

        def fake(*args, **keywords):
            arrays, params = args[:inputs], args[inputs:]
            self.calls.append((name, params))
            self.keywords.append((name, keywords))
            if name == "sma":
                return rolling_mean(arrays[0], params[0])
            base = arrays[0] + sum(params)
            if name in OUTPUTS:
                output = OUTPUTS[name]
                return output(*(base + index for index in range(len(output._fields))))
            return base
        return fake


def bars_from(close, **others) -> Bars:
    """Bars around `close`: open = close, high = close + 1, low = close - 1 unless given."""
    close = np.asarray(close, dtype=np.float64)
    arrays = {"open": close, "high": close + 1.0, "low": close - 1.0, "close": close,
              "volume": np.full(len(close), 100.0),
              "time": np.arange(len(close), dtype=np.float64) * 60_000}
    arrays.update({name: np.asarray(values, dtype=np.float64) for name, values in others.items()})
    return Bars(**arrays)
