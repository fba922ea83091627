"""What a rule means beyond its text: TA-Lib's defaults, vwap's server day, the shared cache."""

from __future__ import annotations

import numpy as np
import pytest

from actors.rules.program import Signals, compile_expression, compile_rules
from actors.rules.vocabulary import INDICATORS
from rules_fakes import FakeIndicators, bars_from

pytestmark = pytest.mark.timeout(30)

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


# --- defaults ---
# The language's defaults, pinned: changing one changes what running strategies mean.
LANGUAGE_DEFAULTS = {
    "sma": {"n": 30}, "ema": {"n": 30}, "rsi": {"n": 14},
    "macd": {"fast": 12, "slow": 26, "signal": 9}, "atr": {"n": 14},
    "bb": {"n": 20, "k": 2.0}, "stoch": {"k": 5, "d": 3, "smooth": 3}, "adx": {"n": 14},
    "cci": {"n": 14}, "willr": {"n": 14}, "ichimoku": {"tenkan": 9, "kijun": 26, "senkou": 52},
    "vwap": {}, "obv": {}, "volume_ma": {"n": 20},
}


def test_language_defaults_are_pinned():
    """Pinned here, not read back from actors.indicators.table (where they are TA-Lib's,
    checked in test_indicators.py): changing one there must fail here."""
    used = {name: {param.name: param.default for param in spec.params}
            for name, spec in INDICATORS.items()}
    assert used == LANGUAGE_DEFAULTS
    for name, params in LANGUAGE_DEFAULTS.items():  # periods are ints, multipliers floats
        for param in INDICATORS[name].params:
            assert type(param.default) is type(params[param.name]), (name, param.name)
            assert param.integer == isinstance(params[param.name], int), (name, param.name)


def test_omitted_parameters_compile_to_the_defaults():
    assert compile_expression("sma()").canonical == "sma(30)"
    assert compile_expression("sma(close)").canonical == "sma(30)"
    assert compile_expression("bb().upper").canonical == "bb(20, 2).upper"
    assert compile_expression("stoch(k=9).d").canonical == "stoch(9, 3, 3).d"
    assert compile_expression("cci() > 0").indicators == {"cci(14)"}
    assert compile_expression("sma() > 0").required_bars == 31


# --- vwap and the server's day ---
def server_day_bars():
    """Hourly bars 20:00 to 01:00 UTC; high = low = close, equal volumes."""
    close = [10.0, 10.0, 20.0, 20.0, 30.0, 30.0]
    start = 1_700_000_000_000 // DAY_MS * DAY_MS + 20 * HOUR_MS
    return bars_from(close, high=close, low=close,
                     time=start + np.arange(len(close)) * float(HOUR_MS))


@pytest.mark.parametrize("tz_offset_s, expected", [
    (0, [10, 10, 40 / 3, 15, 30, 30]),              # the day starts at 00:00 UTC
    (2 * 3600, [10, 10, 20, 20, 70 / 3, 25]),       # UTC+2: at 22:00 UTC
    (-5 * 3600, [10, 10, 40 / 3, 15, 18, 20]),      # UTC-5: at 05:00 UTC, after the bars
])
def test_vwap_resets_at_the_server_midnight(tz_offset_s, expected):
    pytest.importorskip("actors.indicators.batch")
    bars = server_day_bars()
    values = compile_expression("vwap()").series(bars, tz_offset_s=tz_offset_s)
    np.testing.assert_allclose(values, expected)


def test_a_vwap_rule_follows_the_server_day():
    pytest.importorskip("actors.indicators.batch")
    rules = compile_rules({"entry_long": "close > vwap()"})
    bars = server_day_bars()
    assert rules.evaluate(bars, tz_offset_s=7200) == Signals(entry_long=True)  # 30 > 25
    assert rules.evaluate(bars) == Signals()                                    # 30 > 30


def test_session_keywords_reach_only_the_indicators_that_declare_them():
    fakes = FakeIndicators()
    compile_expression("vwap() > sma(2)", functions=fakes.table).evaluate(
        bars_from([1.0, 2.0]), tz_offset_s=-3600)
    assert sorted(fakes.keywords) == [("sma", {}), ("vwap", {"tz_offset_s": -3600})]


@pytest.mark.parametrize("offset", [1.5, "7200", True, None])
def test_tz_offset_must_be_whole_seconds(offset):
    with pytest.raises(TypeError, match="tz_offset_s"):
        compile_expression("close > 0").evaluate(bars_from([1.0]), tz_offset_s=offset)


# --- the shared indicator cache ---
RISING = bars_from(np.arange(1.0, 41.0))


def test_strategies_sharing_a_cache_compute_an_indicator_once():
    fakes = FakeIndicators()
    first = compile_rules({"entry_long": "close > sma(10)"}, functions=fakes.table)
    second = compile_rules({"exit_short": "sma(close, 10)[1] < close",
                            "filters": ["sma(n=10) > 0"]}, functions=fakes.table)
    cache: dict = {}
    assert first.evaluate(RISING, cache=cache) == Signals(entry_long=True)
    assert second.evaluate(RISING, cache=cache) == Signals(exit_short=True)
    assert fakes.count() == {"sma": 1}
    assert set(cache) == {"sma(close, 10)"}  # the call alone: nothing of either strategy


def test_different_parameters_or_inputs_are_different_entries():
    fakes = FakeIndicators()
    cache: dict = {}
    for rule in ("close > sma(10)", "close > sma(11)", "close > sma(high, 10)",
                 "close > sma(10)"):
        compile_rules({"entry_long": rule}, functions=fakes.table).evaluate(RISING, cache=cache)
    assert fakes.count() == {"sma": 3}
    assert set(cache) == {"sma(close, 10)", "sma(close, 11)", "sma(high, 10)"}


def test_fields_of_one_call_share_an_entry_and_nested_calls_have_their_own():
    fakes = FakeIndicators()
    cache: dict = {}
    for rule in ("macd().signal > 0", "macd(12, 26, 9).hist < 0", "sma(rsi(), 5) > 50"):
        compile_rules({"entry_long": rule}, functions=fakes.table).evaluate(RISING, cache=cache)
    assert fakes.count() == {"macd": 1, "rsi": 1, "sma": 1}
    assert set(cache) == {"macd(close, 12, 26, 9)", "rsi(close, 14)", "sma(rsi(14), 5)"}


def test_the_server_offset_is_part_of_the_key_of_every_call_that_depends_on_it():
    fakes = FakeIndicators()
    expression = compile_expression("sma(vwap(), 3) > vwap()", functions=fakes.table)
    cache: dict = {}
    for offset in (0, 3600, 0):
        expression.evaluate(RISING, tz_offset_s=offset, cache=cache)
    assert fakes.count() == {"vwap": 2, "sma": 2}
    assert set(cache) == {
        "vwap(high, low, close, volume, time, tz_offset_s=0)",
        "vwap(high, low, close, volume, time, tz_offset_s=3600)",
        "sma(vwap(), 3, tz_offset_s=0)", "sma(vwap(), 3, tz_offset_s=3600)"}


def test_cached_arrays_are_read_only_copies():
    # An indicator that hands back its input: the cache must not freeze the caller's bars.
    cache: dict = {}
    rules = compile_rules({"entry_long": "sma(3) > 0", "exit_long": "bb(4).lower > 0"},
                          functions={"sma": lambda close, n: close,
                                     "bollinger": FakeIndicators().table["bollinger"]})
    rules.evaluate(RISING, cache=cache)
    arrays = [cache["sma(close, 3)"], *cache["bb(close, 4, 2)"]]
    for array in arrays:
        assert not array.flags.writeable
        with pytest.raises(ValueError):
            array[-1] = 0.0
    assert not np.shares_memory(cache["sma(close, 3)"], RISING.close)
    assert RISING.close.flags.writeable


def test_a_cache_for_other_bars_is_refused():
    cache: dict = {}
    expression = compile_expression("sma(3) > 0", functions=FakeIndicators().table)
    expression.evaluate(RISING, cache=cache)
    with pytest.raises(ValueError, match="a cache belongs to one bar window"):
        expression.evaluate(bars_from([1.0, 2.0, 3.0]), cache=cache)


REAL_EXPRESSIONS = ["sma(10)", "ema(high, 12)", "rsi()", "macd().hist", "macd(8, 21, 5).signal",
                    "atr(7)", "bb().upper", "bb(20, 2.5).lower", "stoch().d", "adx().plus_di",
                    "cci()", "willr()", "ichimoku().senkou_b", "vwap()", "obv()", "volume_ma()",
                    "sma(rsi(14), 5)", "cross_above(sma(5), sma(20))", "sma(vwap(), 4)"]


def test_results_are_identical_with_and_without_the_cache():
    pytest.importorskip("actors.indicators.batch")
    random = np.random.default_rng(11)
    close = 100 + np.cumsum(random.normal(0, 1, 400))
    bars = bars_from(close, high=close + random.random(400), low=close - random.random(400),
                     volume=random.random(400) * 1000,
                     time=1_700_000_000_000 + np.arange(400) * 900_000.0)
    cache: dict = {}
    for text in REAL_EXPRESSIONS:
        expression = compile_expression(text)
        plain = expression.series(bars, tz_offset_s=10800)
        cold = expression.series(bars, tz_offset_s=10800, cache=cache)
        warm = compile_expression(text).series(bars, tz_offset_s=10800, cache=cache)
        for values in (cold, warm):
            np.testing.assert_array_equal(values, plain, err_msg=text)
    assert len(cache) >= len(REAL_EXPRESSIONS)
