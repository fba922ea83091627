"""One evaluation of compiled rules: the bar arrays, the indicator functions, the caches.

The indicator functions come from an injectable table (by default `actors.indicators.batch`,
by the function names `actors.indicators.table` gives), so tests can run the rules language
on hand-checkable stand-ins. A context lives for one evaluation: identical indicator calls
within it, across all rules of a strategy, are computed once; an optional shared cache
carries them further, to other strategies evaluating the same bars.
"""

from __future__ import annotations

import collections
import functools
import importlib
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

import numpy as np

from actors.rules.errors import RuleError
from actors.rules.vocabulary import BAR_FIELDS

INDICATORS_MODULE = "actors.indicators.batch"


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
    """The bar arrays of `bars` (anything with `open`, `high`, `low`, `close`, `volume` and
    `time` arrays, oldest first, of one length: a BarSeries' arrays) as float64."""
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
    """The state of one evaluation: bars, session values, and indicator results.

    `session` holds the values an indicator takes from the evaluation rather than from the
    rule (`tz_offset_s` for vwap). `cache`, when given, is shared with other evaluations
    of the same bars (other strategies on the same symbol and timeframe): results are
    looked up there before computing and stored there after, under a key that names the
    indicator, its input series, every parameter and the session values it depends on,
    and nothing about the strategy. What is stored is read-only, so no evaluation can
    change what another one reads. Concurrent users of one cache may both compute a
    missing entry; both store equal values, so the race costs time, not correctness.
    """

    __slots__ = ("series", "length", "session", "_table", "_cache", "_results")

    def __init__(self, series: dict[str, np.ndarray], table: IndicatorTable, *,
                 session: Mapping[str, Any] | None = None,
                 cache: MutableMapping[str, Any] | None = None) -> None:
        self.series = series
        self.length = len(series["close"])
        self.session = dict(session or {})
        self._table = table
        self._cache = cache
        self._results: dict[str, Any] = {}

    def function(self, name: str, indicator: str, position: int, text: str) -> Callable:
        function = self._table.get(name)
        if function is None:
            raise RuleError(f"indicator '{indicator}' is not available", position, text,
                            hint=f"{INDICATORS_MODULE} has no function '{name}'")
        return function

    def key(self, call: str, session_names: tuple[str, ...]) -> str:
        """`call` ("vwap(high, ..., time)") with the session values it depends on added."""
        if not session_names:
            return call
        values = ", ".join(f"{name}={self.session[name]}" for name in session_names)
        return f"{call[:-1]}, {values})"

    def output(self, key: str, compute: Callable[[EvalContext], Any],
               fields: tuple[str, ...], field: str | None) -> np.ndarray:
        """`field` of the indicator call `key` (its only output when None), computed once."""
        result = self._results.get(key)
        if result is None:
            result = self._shared(key)
            if result is None:
                result = self._freeze(key, fields, compute(self))
                if self._cache is not None:
                    self._cache[key] = result
            self._results[key] = result
        return result if field is None else getattr(result, field)

    def _shared(self, key: str) -> Any:
        if self._cache is None:
            return None
        result = self._cache.get(key)
        if result is not None:
            first = result if isinstance(result, np.ndarray) else result[0]
            if first.shape != (self.length,):
                raise ValueError(f"the indicator cache holds {key} for {len(first)} bars, "
                                 f"these bars are {self.length}; a cache belongs to one "
                                 f"bar window")
        return result

    def _freeze(self, key: str, fields: tuple[str, ...], result: Any) -> Any:
        """Check the result's shape and make it read-only: a single array, or a named tuple
        of arrays for a multi-output indicator (the function's own type when it is one)."""
        if not fields:
            return self._frozen_array(key, result)
        for field in fields:
            if not hasattr(result, field):
                raise TypeError(f"indicator function for {key} returned no field '{field}'")
        kind = type(result) if _is_named_tuple(result) else _outputs_type(fields)
        return kind(*(self._frozen_array(f"{key}.{name}", getattr(result, name))
                      for name in kind._fields))

    def _frozen_array(self, key: str, values: Any) -> np.ndarray:
        # A copy: the function may have returned (a view of) a bar array or its own state.
        values = np.array(values, dtype=np.float64)
        if values.shape != (self.length,):
            raise TypeError(f"indicator function for {key} returned shape {values.shape} "
                            f"for {self.length} bars; it must return one value per bar")
        values.flags.writeable = False
        return values


def _is_named_tuple(result: Any) -> bool:
    return isinstance(result, tuple) and hasattr(type(result), "_fields")


@functools.cache
def _outputs_type(fields: tuple[str, ...]) -> type:
    return collections.namedtuple("Outputs", fields)
