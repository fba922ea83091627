"""Behaviour of the rules language: precedence, indicators, lookback, crosses, NaN, rules maps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from actors.rules.program import RuleError, Signals, compile_condition, compile_expression, \
    compile_rules
from rules_fakes import Bars, FakeIndicators, bars_from

pytestmark = pytest.mark.timeout(30)

FLAT = bars_from([5.0, 5.0, 5.0])


def value(text: str, bars: Bars = FLAT, fakes: FakeIndicators | None = None):
    table = (fakes or FakeIndicators()).table
    return compile_expression(text, functions=table).evaluate(bars)


# --- precedence and associativity ---
@pytest.mark.parametrize("text, expected", [
    ("1 + 2 * 3", 7.0),
    ("(1 + 2) * 3", 9.0),
    ("10 - 4 - 3", 3.0),
    ("24 / 4 / 2", 3.0),
    ("2 * 3 - 4 / 2", 4.0),
    ("-2 * 3", -6.0),
    ("2 * -3", -6.0),
    ("- - 2", 2.0),
    ("-close[1] + 1", -4.0),
    ("1e-3 * 1000", 1.0),
    (".5 + 1.", 1.5),
])
def test_arithmetic_precedence_and_left_associativity(text, expected):
    assert value(text) == pytest.approx(expected)


@pytest.mark.parametrize("text, expected", [
    ("1 < 2 or 1 > 2 and 1 > 2", True),     # and binds tighter than or
    ("(1 < 2 or 1 > 2) and 1 > 2", False),
    ("not 1 > 2 and 1 > 2", False),         # not binds tighter than and
    ("not (1 > 2 and 1 > 2)", True),
    ("not 1 > 2", True),                    # comparison binds tighter than not
    ("1 + 1 == 2", True),                   # arithmetic binds tighter than comparison
    ("1 != 1 or 2 >= 2", True),
    ("1 <= 0 or 2 < 1 or 3 > 4", False),
    ("not not 1 < 2", True),
])
def test_boolean_precedence(text, expected):
    assert value(text) is expected


def test_canonical_text_shows_the_grouping_chosen():
    assert compile_expression("1 + 2 * 3").canonical == "(1 + (2 * 3))"
    assert compile_expression("close > 1 or open > 2").canonical == \
        "((close > 1) or (open > 2))"
    assert compile_expression("not close > 1 and open > 2").canonical == \
        "((not (close > 1)) and (open > 2))"


# --- indicators, parameters and fields ---
FIRST_INPUT_OF_FLAT = {"volume_ma": 100.0, **dict.fromkeys(
    ("atr", "stochastic", "adx", "cci", "williams_r", "ichimoku", "vwap"), 6.0)}  # high


@pytest.mark.parametrize("text, function, params, field_offset", [
    ("sma(3)", "sma", (3,), None),
    ("sma(close, 3)", "sma", (3,), None),
    ("sma()", "sma", (30,), None),
    ("sma(close)", "sma", (30,), None),
    ("ema(10)", "ema", (10,), 0),
    ("ema()", "ema", (30,), 0),
    ("rsi()", "rsi", (14,), 0),
    ("rsi(7)", "rsi", (7,), 0),
    ("macd().macd", "macd", (12, 26, 9), 0),
    ("macd(5, 10, 3).signal", "macd", (5, 10, 3), 1),
    ("macd(signal=4).hist", "macd", (12, 26, 4), 2),
    ("atr()", "atr", (14,), 0),
    ("atr(n=5)", "atr", (5,), 0),
    ("bb().upper", "bollinger", (20, 2.0), 0),
    ("bb(10, 1.5).middle", "bollinger", (10, 1.5), 1),
    ("bb(k=3).lower", "bollinger", (20, 3.0), 2),
    ("bb(20).lower", "bollinger", (20, 2.0), 2),
    ("stoch().k", "stochastic", (5, 3, 3), 0),
    ("stoch(14).k", "stochastic", (14, 3, 3), 0),
    ("stoch(5, 2, 1).d", "stochastic", (5, 2, 1), 1),
    ("adx()", "adx", (14,), 0),                    # bare adx means .adx
    ("adx(10).plus_di", "adx", (10,), 1),
    ("adx(10).minus_di", "adx", (10,), 2),
    ("cci()", "cci", (14,), 0),
    ("cci(9)", "cci", (9,), 0),
    ("willr()", "williams_r", (14,), 0),
    ("willr(21)", "williams_r", (21,), 0),
    ("ichimoku().tenkan", "ichimoku", (9, 26, 52), 0),
    ("ichimoku(7, 22, 44).senkou_b", "ichimoku", (7, 22, 44), 3),
    ("ichimoku().chikou", "ichimoku", (9, 26, 52), 4),
    ("vwap()", "vwap", (), 0),
    ("obv()", "obv", (), 0),
    ("volume_ma()", "volume_ma", (20,), 0),
    ("volume_ma(5)", "volume_ma", (5,), 0),
])
def test_every_indicator_calls_its_function_with_defaults_and_explicit_params(
        text, function, params, field_offset):
    """Every parameter is passed, defaulted ones included: the function's own keyword
    defaults (bollinger 20, stochastic 14, cci 20) must never decide what a rule means."""
    fakes = FakeIndicators()
    result = value(text, FLAT, fakes)
    assert fakes.calls == [(function, params)]
    if field_offset is not None:  # fakes return first input + sum(params) + field index
        first_input = FIRST_INPUT_OF_FLAT.get(function, 5.0)
        assert result == pytest.approx(first_input + sum(params) + field_offset)


def test_single_input_indicators_take_an_optional_leading_series():
    bars = bars_from([1.0, 2.0, 3.0, 4.0], high=[10.0, 20.0, 30.0, 40.0])
    assert value("sma(high, 2)", bars) == 35.0
    assert value("sma((high + close) / 2, 2)", bars) == pytest.approx(19.25)
    assert value("sma(sma(2), 2)", bars) == 3.0          # mean of 2.5 and 3.5
    assert value("rsi(high)", bars) == 54.0               # fake: input + 14
    assert value("bb(close * 2, 5, 1).upper", bars) == 14.0


def test_volume_ma_and_obv_read_volume():
    bars = bars_from([1.0, 2.0], volume=[7.0, 9.0])
    assert value("volume_ma(3)", bars) == 12.0
    assert value("obv()", bars) == 2.0                  # fake: first input (close)


def test_keyword_and_positional_parameters_agree_and_share_one_computation():
    fakes = FakeIndicators()
    expression = compile_expression(
        "macd().signal > macd(12, 26, 9).hist or macd(fast=12).macd > 0",
        functions=fakes.table)
    expression.evaluate(FLAT)
    assert fakes.count() == {"macd": 1}
    assert expression.indicators == {"macd(12, 26, 9)"}


def test_identical_calls_are_computed_once_per_evaluation():
    fakes = FakeIndicators()
    expression = compile_expression(
        "sma(2) > sma(3) and sma(2)[1] < sma(2) and cross_above(sma(2), sma(3))",
        functions=fakes.table)
    expression.evaluate(bars_from([1.0, 2.0, 3.0, 4.0]))
    assert fakes.count() == {"sma": 2}
    expression.evaluate(bars_from([1.0, 2.0, 3.0, 4.0]))
    assert fakes.count() == {"sma": 4}  # the cache lives for one evaluation only


# --- lookback ---
def test_lookback_reads_values_bars_ago():
    bars = bars_from([1.0, 2.0, 4.0, 8.0, 16.0])
    assert value("close[0]", bars) == 16.0
    assert value("close[1]", bars) == 8.0
    assert value("close[4]", bars) == 1.0
    assert math.isnan(value("close[5]", bars))
    assert value("close[5] < 100", bars) is False
    assert value("sma(2)[1]", bars) == 6.0
    assert value("(close - close[1])[1]", bars) == 4.0
    assert value("(close > 4)[2]", bars) is False
    assert value("(close > 4)[1]", bars) is True


def test_series_evaluates_every_bar_with_nan_before_history():
    expression = compile_expression("close - close[2]")
    np.testing.assert_array_equal(expression.series(bars_from([1.0, 2.0, 4.0, 8.0])),
                                  [np.nan, np.nan, 3.0, 6.0])


# --- crosses ---
@pytest.mark.parametrize("a_before, b_before, a_now, b_now, above, below", [
    (1.0, 2.0, 3.0, 2.0, True, False),    # from below to above
    (2.0, 2.0, 3.0, 2.0, True, False),    # from touching to above
    (3.0, 2.0, 4.0, 2.0, False, False),   # already above
    (1.0, 2.0, 2.0, 2.0, False, False),   # up to touching is not a cross
    (3.0, 2.0, 1.0, 2.0, False, True),    # from above to below
    (2.0, 2.0, 1.0, 2.0, False, True),    # from touching to below
    (1.0, 2.0, 1.5, 2.0, False, False),   # still below
    (np.nan, 2.0, 3.0, 2.0, False, False),
    (1.0, np.nan, 3.0, 2.0, False, False),
    (1.0, 2.0, np.nan, 2.0, False, False),
    (3.0, 2.0, 1.0, np.nan, False, False),
])
def test_cross_truth_table(a_before, b_before, a_now, b_now, above, below):
    bars = bars_from([a_before, a_now], open=[b_before, b_now])
    assert value("cross_above(close, open)", bars) is above
    assert value("cross_below(close, open)", bars) is below


def test_cross_needs_two_bars_and_unknown_stays_false_under_not():
    one_bar = bars_from([3.0], open=[2.0])
    assert value("cross_above(close, open)", one_bar) is False
    assert value("not cross_above(close, open)", one_bar) is False
    assert value("cross_above(close, 2.5)", bars_from([2.0, 3.0])) is True
    assert value("cross_above(close, open)[1]", bars_from([1.0, 3.0, 4.0],
                                                          open=[2.0, 2.0, 2.0])) is True


# --- NaN and history ---
def test_rules_on_too_little_history_are_false_even_when_negated():
    short = bars_from([1.0, 2.0])
    assert value("close > sma(5)", short) is False
    assert value("not (close > sma(5))", short) is False
    assert value("close < sma(5)", short) is False
    assert value("close != sma(5)", short) is False
    assert value("close > sma(5) or close > 0", short) is True   # a known true decides
    assert value("close > sma(5) and close < 0", short) is False


def test_empty_bars_give_false_and_nan():
    empty = bars_from([])
    assert value("close > 1", empty) is False
    assert math.isnan(value("close", empty))


def test_division_by_zero_is_infinite_not_an_error():
    assert value("close / 0 > 1e300") is True
    assert value("0 / 0 > 0 or 0 / 0 <= 0") is False


def test_required_bars_adds_warmup_lookback_and_cross():
    assert compile_expression("close").required_bars == 1
    assert compile_expression("close[5]").required_bars == 6
    assert compile_expression("sma(20)").required_bars == 21
    assert compile_expression("sma(20)[3]").required_bars == 24
    assert compile_expression("cross_above(sma(10), sma(20))").required_bars == 22
    assert compile_expression("sma(sma(10), 5)").required_bars == 16
    assert compile_expression("ema(10)").required_bars > 20  # recursive: generous warm-up


def test_bars_must_have_one_length():
    with pytest.raises(ValueError, match="differ in length"):
        compile_expression("close > 1").evaluate(
            Bars(open=[1.0], high=[1.0], low=[1.0], close=[1.0, 2.0], volume=[1.0], time=[0.0]))


def test_missing_indicator_function_is_reported_with_the_rule_position():
    expression = compile_expression("close > 1 and rsi(14) > 50", functions={})
    with pytest.raises(RuleError) as caught:
        expression.evaluate(FLAT)
    assert caught.value.position == 14
    assert "rsi" in str(caught.value)


# --- strategy rules ---
EXAMPLE_RULES = {
    "entry_long": "cross_above(sma(2), sma(3))",
    "entry_short": "cross_below(sma(2), sma(3))",
    "exit_long": "cross_below(sma(2), sma(3))",
    "exit_short": "cross_above(sma(2), sma(3))",
    "filters": ["close > 0", "volume > 50"],
}
RISING_AFTER_DIP = [5.0, 4.0, 3.0, 2.0, 5.0]
FALLING_AFTER_PEAK = [1.0, 2.0, 3.0, 4.0, 1.0]


def test_compile_rules_evaluates_all_four_signals():
    fakes = FakeIndicators()
    rules = compile_rules(EXAMPLE_RULES, functions=fakes.table)
    assert rules.evaluate(bars_from(RISING_AFTER_DIP)) == Signals(entry_long=True,
                                                                  exit_short=True)
    assert rules.evaluate(bars_from(FALLING_AFTER_PEAK)) == Signals(entry_short=True,
                                                                    exit_long=True)
    assert fakes.count() == {"sma": 4}  # two distinct calls, shared by the four rules
    assert rules.required_bars == 5
    assert rules.indicators == {"sma(2)", "sma(3)"}


def test_filters_gate_entries_but_not_exits():
    rules = compile_rules(EXAMPLE_RULES, functions=FakeIndicators().table)
    quiet = np.full(5, 10.0)
    assert rules.evaluate(bars_from(RISING_AFTER_DIP, volume=quiet)) == \
        Signals(exit_short=True)


def test_absent_and_null_rules_never_fire():
    rules = compile_rules({"exit_long": "close > 0", "entry_short": None})
    assert rules.evaluate(FLAT) == Signals(exit_long=True)
    assert compile_rules({}).evaluate(FLAT) == Signals()


def test_condition_is_required_for_rules_and_compile_condition():
    with pytest.raises(RuleError, match="must be a condition"):
        compile_condition("sma(10)")
    assert compile_expression("sma(10)").kind == "number"


# --- the real indicator module ---
def random_walk_bars(count: int = 300) -> Bars:
    random = np.random.default_rng(3)
    close = 100 + np.cumsum(random.normal(0, 1, count))
    return bars_from(close, high=close + random.random(count), low=close - random.random(count),
                     volume=random.random(count) * 1000,
                     time=1_700_000_000_000 + np.arange(count) * 300_000.0)


@pytest.mark.parametrize("text, call", [
    ("sma(10)", lambda m, b: m.sma(b.close, 10)),
    ("ema(high, 12)", lambda m, b: m.ema(b.high, 12)),
    ("rsi()", lambda m, b: m.rsi(b.close, 14)),
    ("macd(8, 21, 5).hist", lambda m, b: m.macd(b.close, 8, 21, 5).hist),
    ("atr(7)", lambda m, b: m.atr(b.high, b.low, b.close, 7)),
    ("bb(20, 2.5).lower", lambda m, b: m.bollinger(b.close, 20, 2.5).lower),
    ("bb().upper", lambda m, b: m.bollinger(b.close, 20, 2.0).upper),
    ("stoch().d", lambda m, b: m.stochastic(b.high, b.low, b.close, 5, 3, 3).d),
    ("stoch(14, 3, 3).k", lambda m, b: m.stochastic(b.high, b.low, b.close, 14, 3, 3).k),
    ("adx()", lambda m, b: m.adx(b.high, b.low, b.close, 14).adx),
    ("cci()", lambda m, b: m.cci(b.high, b.low, b.close, 14)),
    ("sma()", lambda m, b: m.sma(b.close, 30)),
    ("ema()", lambda m, b: m.ema(b.close, 30)),
    ("willr()", lambda m, b: m.williams_r(b.high, b.low, b.close, 14)),
    ("ichimoku().kijun", lambda m, b: m.ichimoku(b.high, b.low, b.close, 9, 26, 52).kijun),
    ("vwap()", lambda m, b: m.vwap(b.high, b.low, b.close, b.volume, b.time)),
    ("obv()", lambda m, b: m.obv(b.close, b.volume)),
    ("volume_ma()", lambda m, b: m.volume_ma(b.volume, 20)),
    ("sma(rsi(14), 5)", lambda m, b: m.sma(m.rsi(b.close, 14), 5)),
])
def test_language_names_call_the_real_indicators(text, call):
    indicators = pytest.importorskip("actors.indicators.batch")
    bars = random_walk_bars()
    expected = call(indicators, bars)[-1]
    assert np.isfinite(expected)
    assert compile_expression(text).evaluate(bars) == pytest.approx(expected)


def test_vocabulary_is_read_from_the_indicator_table():
    """The language adds spellings and warm-ups, nothing else: every indicator of the table,
    its defaults, and a function name the evaluation finds in actors.indicators.batch."""
    from actors.indicators import batch, table
    from actors.rules.vocabulary import INDICATORS
    assert list(INDICATORS) == list(table.INDICATORS)
    for name, spec in INDICATORS.items():
        theirs = table.INDICATORS[name]
        assert getattr(batch, spec.function) is theirs.function, name
        assert [param.default for param in spec.params] == list(theirs.defaults.values()), name
        assert (spec.inputs, spec.fields, spec.default_field, spec.context) == \
            (theirs.inputs, theirs.fields, theirs.default_field, theirs.context), name
