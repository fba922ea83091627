"""Property tests: well-typed rules always compile and evaluate; any other text is a RuleError."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from actors.rules.program import RuleError, compile_condition, compile_expression
from actors.rules.errors import MAX_EXPRESSION_CHARS
from actors.rules.vocabulary import INDICATORS, SERIES
from rules_fakes import FakeIndicators, bars_from

pytestmark = pytest.mark.timeout(60)
SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

_RANDOM = np.random.default_rng(7)
_CLOSE = 100 + np.cumsum(_RANDOM.normal(0, 1, 80))
BARS = [bars_from(_CLOSE), bars_from(_CLOSE[:1]), bars_from([])]
# A name (two letters or more; a number's exponent is one) means the text reads bars.
_READS_BARS = re.compile(r"[a-z_]{2}")

# --- a generator of well-typed expressions, printed as text ---
literals = st.one_of(
    st.integers(0, 10**6).map(str),
    st.floats(0, 1e6, allow_nan=False, allow_infinity=False).map(repr))
series_names = st.sampled_from(SERIES)


def _param(param, draw):
    if param.integer:
        return str(draw(st.integers(1, 60)))
    return repr(draw(st.floats(0.1, 5.0)))


@st.composite
def indicator_calls(draw, series_args):
    spec = draw(st.sampled_from(sorted(INDICATORS.values(), key=lambda s: s.name)))
    count = draw(st.integers(0, len(spec.params)))  # every parameter has a default
    values = {param.name: _param(param, draw) for param in spec.params[:count]}
    if spec.name == "macd" and count >= 1:
        fast = draw(st.integers(1, 25))
        values["fast"] = str(fast)
        if count >= 2:
            values["slow"] = str(draw(st.integers(fast + 1, 60)))
    if draw(st.booleans()):
        args = [f"{name}={text}" for name, text in values.items()]
        args = draw(st.permutations(args))
    else:
        args = list(values.values())
    if spec.accepts_series and draw(st.booleans()):
        args.insert(0, draw(series_args.filter(_READS_BARS.search)))
    field = ""
    if spec.fields and (spec.default_field is None or draw(st.booleans())):
        field = "." + draw(st.sampled_from(spec.fields))
    return f"{spec.name}({', '.join(args)}){field}"


def _extend_numbers(inner):
    return st.one_of(
        st.tuples(inner, st.sampled_from("+-*/"), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda text: f"-{text}"),
        st.tuples(inner, st.integers(0, 5)).map(lambda t: f"({t[0]})[{t[1]}]"),
        indicator_calls(inner))


numbers = st.recursive(st.one_of(literals, series_names, indicator_calls(series_names)),
                       _extend_numbers, max_leaves=6)
comparisons = st.tuples(numbers, st.sampled_from([">", ">=", "<", "<=", "==", "!="]),
                        numbers).map(" ".join)
crosses = st.tuples(st.sampled_from(["cross_above", "cross_below"]), numbers, numbers).map(
    lambda t: f"{t[0]}({t[1]}, {t[2]})")


def _extend_conditions(inner):
    joined = lambda word: st.lists(inner, min_size=2, max_size=3).map(  # noqa: E731
        lambda parts: "(" + f" {word} ".join(f"({part})" for part in parts) + ")")
    return st.one_of(
        inner.map(lambda text: f"not ({text})"),
        joined("and"), joined("or"),
        st.tuples(inner, st.integers(0, 3)).map(lambda t: f"({t[0]})[{t[1]}]"))


conditions = st.recursive(st.one_of(comparisons, crosses), _extend_conditions, max_leaves=5)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return np.array_equal(a, b, equal_nan=True)


@SETTINGS
@given(conditions)
def test_well_typed_conditions_compile_and_evaluate_to_bools(text):
    assume(len(text) <= MAX_EXPRESSION_CHARS)
    fakes = FakeIndicators()
    expression = compile_condition(text, functions=fakes.table)
    for bars in BARS:
        assert type(expression.evaluate(bars)) is bool
    values = expression.series(BARS[0])
    assert set(values[~np.isnan(values)]) <= {0.0, 1.0}
    assert expression.required_bars >= 1
    again = compile_condition(expression.canonical, functions=fakes.table)
    assert again.canonical == expression.canonical
    assert _same(again.series(BARS[0]), values)


@SETTINGS
@given(numbers)
def test_well_typed_numbers_compile_and_evaluate_to_floats(text):
    assume(len(text) <= MAX_EXPRESSION_CHARS)
    expression = compile_expression(text, functions=FakeIndicators().table)
    assert expression.kind == "number"
    for bars in BARS:
        assert type(expression.evaluate(bars)) is float


def _compiles_or_refuses(text: str) -> None:
    try:
        expression = compile_expression(text, functions=FakeIndicators().table)
    except RuleError as error:
        assert "bug in the rules language" not in str(error), str(error)
        assert 0 <= error.position <= len(text)
        return
    for bars in BARS:  # whatever compiles must also evaluate
        assert isinstance(expression.evaluate(bars), (bool, float))


_PIECES = ["(", ")", "[", "]", ",", ".", "+", "-", "*", "/", ">", "<", "=", "==", "!=", " ",
           "and", "or", "not", "close", "open", "sma", "macd", "bb", "cross_above", "signal",
           "upper", "1", "0", "2.5", "1e3", "'", "__", "x", "é", "&", "\n"]


@SETTINGS
@given(st.lists(st.sampled_from(_PIECES), max_size=25).map("".join))
def test_random_token_soup_compiles_or_raises_rule_error(text):
    _compiles_or_refuses(text)


@SETTINGS
@given(st.text(max_size=60))
def test_random_unicode_text_compiles_or_raises_rule_error(text):
    _compiles_or_refuses(text)


@st.composite
def mutated(draw):
    text = draw(conditions)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        end = draw(st.integers(at, min(len(text), at + 6)))
        kind = draw(st.sampled_from(["delete", "insert", "replace", "duplicate"]))
        piece = draw(st.sampled_from(_PIECES))
        if kind == "delete":
            text = text[:at] + text[end:]
        elif kind == "insert":
            text = text[:at] + piece + text[at:]
        elif kind == "replace":
            text = text[:at] + piece + text[end:]
        else:
            text = text[:end] + text[at:end] + text[end:]
    return text


@SETTINGS
@given(mutated())
def test_mutated_valid_expressions_compile_or_raise_rule_error(text):
    _compiles_or_refuses(text)
