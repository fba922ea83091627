"""Indicator outputs shared by the strategies that watch the same bars.

Two strategies on the same account, symbol and timeframe see the same closed bars; when
they also evaluate the same window length at the same last bar, their indicator series are
identical, so each is computed once. The rules language stores outputs in the dict this
cache hands out, keyed by the full indicator call (`sma(close, 10)`), read-only; a Strategy
also keeps there the Signals of its rules text (a tuple key, see actors.strategy.strategy),
so strategies with the same rules evaluate them once. Only the newest bar of each series is
kept: memory does not grow with uptime.
"""

from __future__ import annotations

import threading
from typing import Any

SeriesKey = tuple[int, str, str]  # account, symbol, timeframe


class IndicatorCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[SeriesKey, tuple[int, dict[int, dict[str, Any]]]] = {}

    def for_bars(self, series: SeriesKey, last_time: int, length: int) -> dict[str, Any]:
        """The shared store of indicator outputs for this series, ending at `last_time`,
        over the last `length` bars."""
        with self._lock:
            newest, by_length = self._entries.get(series, (None, {}))
            if newest != last_time:
                if newest is not None and last_time < newest:
                    return {}  # a strategy behind the others: do not evict their newer bar
                by_length = {}
                self._entries[series] = (last_time, by_length)
            return by_length.setdefault(length, {})
