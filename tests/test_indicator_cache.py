"""The indicator cache shared by strategies on the same bars."""

import numpy as np

from actors.indicators.cache import IndicatorCache
from actors.rules.program import compile_rules
from tests.rules_fakes import Bars, FakeIndicators

SERIES = (1001, "EURUSD", "M5")


def test_the_same_bars_share_one_store_and_a_new_bar_replaces_it():
    cache = IndicatorCache()
    store = cache.for_bars(SERIES, 1000, 100)
    store["sma(close, 10)"] = "computed"
    assert cache.for_bars(SERIES, 1000, 100) is store
    assert cache.for_bars(SERIES, 1000, 50) is not store  # another window is another series
    assert cache.for_bars((1001, "EURUSD", "H1"), 1000, 100) == {}
    assert cache.for_bars(SERIES, 2000, 100) == {}  # the next bar starts afresh
    assert cache.for_bars(SERIES, 1000, 100) == {}  # a late strategy does not evict the newer bar


def test_two_strategies_compute_a_shared_indicator_once():
    fakes = FakeIndicators()
    n = 60
    bars = Bars(open=np.linspace(1, 2, n), high=np.linspace(1.1, 2.1, n), low=np.linspace(0.9, 1.9, n),
                close=np.linspace(1, 2, n), volume=np.ones(n), time=np.arange(n) * 60_000.0)
    first = compile_rules({"entry_long": "close > sma(10)"}, functions=fakes.table)
    second = compile_rules({"entry_short": "close < sma(10)", "filters": ["sma(20) > 0"]}, functions=fakes.table)
    cache = IndicatorCache()
    a = first.evaluate(bars, cache=cache.for_bars(SERIES, int(bars.time[-1]), n))
    b = second.evaluate(bars, cache=cache.for_bars(SERIES, int(bars.time[-1]), n))
    assert [call for call in fakes.calls if call[0] == "sma"] == [("sma", (10,))]
    assert a == first.evaluate(bars) and b == second.evaluate(bars)  # the same answers without a cache
