"""One evaluation of compiled rules: the bar arrays, the indicator functions, the cache.

The indicator functions come from an injectable table (by default `actors.indicators`,
imported on first use), so the rules language can be tested, and can start, before every
indicator exists. A context lives for one evaluation: identical indicator calls within it,
across all rules of a strategy, are computed once.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from actors.rules_errors import RuleError
from actors.rules_vocabulary import BAR_FIELDS

INDICATORS_MODULE = "actors.indicators"


class IndicatorTable:
    """Indicator functions by their `actors.indicators` name (`sma`, `bollinger`, ...).

    With `functions` given, only those are used; otherwise `actors.indicators` is
    imported the first time an indicator is needed.
    """

    def __init__(self, functions: Mapping[str, Callable[..., Any]] | None = None) -> None:
        self._functions = dict(functions) if functions is not None else None
        self._module: Any = None

    def get(self, name: str) -> Callable[..., Any] | None:
        if self._functions is not None:
            return self._functions.get(name)
        if self._module is None:
            try:
                self._module = importlib.import_module(INDICATORS_MODULE)
            except ImportError:
                return None
        return getattr(self._module, name, None)


def read_bars(bars: Any) -> dict[str, np.ndarray]:
    """The bar arrays of `bars` (anything with the attributes of `Bars`) as float64."""
    arrays: dict[str, np.ndarray] = {}
    for name in BAR_FIELDS:
        if not hasattr(bars, name):
            raise TypeError(f"bars have no '{name}' array; rules need arrays "
                            f"{', '.join(BAR_FIELDS)}, oldest bar first")
        values = np.asarray(getattr(bars, name), dtype=np.float64)
        if values.ndim != 1:
            raise ValueError(f"bars.{name} must be one-dimensional, got shape {values.shape}")
        arrays[name] = values
    lengths = {name: len(values) for name, values in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"bar arrays differ in length: {lengths}")
    return arrays


class EvalContext:
    __slots__ = ("series", "length", "_table", "_results", "_outputs")

    def __init__(self, series: dict[str, np.ndarray], table: IndicatorTable) -> None:
        self.series = series
        self.length = len(series["close"])
        self._table = table
        self._results: dict[str, Any] = {}
        self._outputs: dict[tuple[str, str | None], np.ndarray] = {}

    def function(self, name: str, indicator: str, position: int, text: str) -> Callable:
        function = self._table.get(name)
        if function is None:
            raise RuleError(f"indicator '{indicator}' is not available", position, text,
                            hint=f"{INDICATORS_MODULE} has no function '{name}'")
        return function

    def output(self, key: str, compute: Callable[[EvalContext], Any],
               field: str | None) -> np.ndarray:
        """`field` of the indicator call `key` (its only output when None), computed once."""
        cached = self._outputs.get((key, field))
        if cached is not None:
            return cached
        if key not in self._results:
            self._results[key] = compute(self)
        values = self._check(key, field, self._results[key])
        self._outputs[(key, field)] = values
        return values

    def _check(self, key: str, field: str | None, result: Any) -> np.ndarray:
        if field is not None:
            if not hasattr(result, field):
                raise TypeError(f"indicator function for {key} returned no field '{field}'")
            result = getattr(result, field)
        values = np.asarray(result, dtype=np.float64)
        if values.shape != (self.length,):
            raise TypeError(f"indicator function for {key} returned shape {values.shape} "
                            f"for {self.length} bars; it must return one value per bar")
        return values
