"""Every way a rule can be refused: a RuleError with the right position and a useful hint."""

from __future__ import annotations

import pytest

from actors.rules.program import RuleError, compile_condition, compile_rules

pytestmark = pytest.mark.timeout(30)


def refusal(text: str) -> RuleError:
    with pytest.raises(RuleError) as caught:
        compile_condition(text)
    assert caught.value.expression == text
    return caught.value


@pytest.mark.parametrize("text, position, fragments", [
    # names
    ("smaa(10) > 1", 0, ["unknown indicator 'smaa' at 0", "did you mean 'sma'?"]),
    ("close > clse", 8, ["unknown name 'clse'", "did you mean 'close'?"]),
    ("time > 1", 0, ["unknown name 'time'", "series are open, high, low, close, volume"]),
    ("__import__('os')", 0, ["'__import__' is not part of the rules language"]),
    ("os.system('x')", 0, ["'os' is not part of the rules language"]),
    ("eval(1)", 0, ["'eval' is not part of the rules language"]),
    ("lambda x: x", 0, ["'lambda' is not part of the rules language"]),
    ("True", 0, ["'True' is not part of the rules language"]),
    ("close(1) > 1", 0, ["'close' is a series, not a function", "close[1]"]),
    ("close > 1 and sma", 14, ["'sma' needs parentheses", "sma(n)"]),
    # attribute access
    ("close.real > 1", 6, ["attribute access is only for indicator fields like "
                           "macd(12,26,9).signal"]),
    ("(close + 1).x > 1", 12, ["attribute access is only for indicator fields"]),
    ("close. > 1", 7, ["expected a field name"]),
    ("macd()[1].signal > 0", 10, ["must come before the lookback", "signal[1]"]),
    ("macd().signl > 0", 7, ["unknown field 'signl' for macd", "did you mean '.signal'?"]),
    ("bb().mid > 0", 5, ["unknown field 'mid' for bb", ".upper, .middle, .lower"]),
    ("sma(10).value > 1", 8, ["sma has a single output", "remove '.value'"]),
    ("cross_above(close, open).x", 25, ["is a condition and has no fields"]),
    ("bb(20) > close", 0, ["bb has several outputs", "add a field: .upper, .middle, .lower"]),
    ("macd() > 0", 0, ["macd has several outputs", ".signal"]),
    # arity and parameters
    ("rsi(14, 2) > 50", 8, ["too many arguments for rsi", "rsi(n) or rsi(series, n)"]),
    ("cross_above(close) ", 0, ["cross_above takes two arguments, got 1"]),
    ("cross_below(close, open, high)", 0, ["takes two arguments, got 3"]),
    ("cross_above(a=1, b=2)", 12, ["takes no named arguments"]),
    ("atr(high, 14) > 1", 4, ["atr takes only numbers as parameters", "atr(n)"]),
    ("sma(10.5) > 1", 4, ["n of sma must be a whole number", "got 10.5"]),
    ("sma(1e3) > 1", 4, ["must be a whole number", "got 1e3"]),
    ("sma(0) > 1", 4, ["must be a whole number from 1 to"]),
    ("sma(-3) > 1", 4, ["got -3"]),
    ("sma(5001) > 1", 4, ["from 1 to 5000"]),
    # a first argument that reads no bars is a parameter, never a series of constants
    ("sma(2 * 5) > 1", 4, ["n of sma must be a number written out", "sma(n)"]),
    ("bb((20)[1]).upper > 1", 4, ["n of bb must be a number written out"]),
    ("rsi(close, 2 * 7) > 1", 11, ["n of rsi must be a number written out"]),
    ("bb(20, 0).upper > 1", 7, ["k of bb must be above 0"]),
    ("bb(20, -1).upper > 1", 7, ["got -1"]),
    ("macd(26, 12, 9).macd > 0", 0, ["fast period must be shorter"]),
    ("sma(m=4) > 1", 4, ["sma has no parameter 'm'"]),
    ("macd(sgnal=4).hist > 1", 5, ["did you mean 'signal'?"]),
    ("sma(3, n=4) > 1", 7, ["n of sma is given twice"]),
    ("sma(n=3, 4) > 1", 9, ["a positional argument follows a named one"]),
    # types
    ("close > 1 and 2", 14, ["'and' needs a condition, got a number", "rsi(14) > 50"]),
    ("not close", 4, ["'not' needs a condition"]),
    ("close + (close > 1) > 0", 9, ["'+' needs a number, got a condition"]),
    ("-(close > 1)", 2, ["'-' needs a number"]),
    ("(close > 1) > 0", 1, ["'>' needs a number"]),
    ("sma(close > 1, 3) > 1", 4, ["sma needs a number, got a condition"]),
    ("cross_above(1, close > 1)", 15, ["cross_above needs a number"]),
    ("sma(10)", 0, ["a rule must be a condition, got a number"]),
    # syntax: brackets, strings, operators
    ("close > 'a'", 8, ["\"'\" is not part of the rules language", "strings"]),
    ('close > "a"', 8, ["strings are not part of the rules language"]),
    ("close[1.5] > 1", 6, ["a lookback must be a non-negative whole number"]),
    ("close[-1] > 1", 6, ["non-negative whole number"]),
    ("close[] > 1", 6, ["non-negative whole number"]),
    ("close[x] > 1", 6, ["non-negative whole number"]),
    ("close[1 > 0", 8, ["expected ']'"]),
    ("close[5001] > 1", 6, ["lookback 5001 is too far"]),
    ("[1, 2]", 0, ["expected a value, found '['"]),
    ("{1}", 0, ["'{' is not part of the rules language"]),
    ("close[1:2] > 1", 7, ["slices and lambdas"]),
    ("(close > 1", 10, ["expected ')' at 10"]),
    ("sma(10 > 1", 10, ["expected ')' at 10"]),
    ("close > 1)", 9, ["unexpected ')' at 9", "no matching '('"]),
    ("close > 1 open", 10, ["unexpected 'open'", "operator"]),
    ("close > 1 2", 10, ["unexpected '2'"]),
    ("close > 1;", 9, ["one expression per rule"]),
    ("sma(10,) > 1", 7, ["expected a value, found ')'"]),
    ("sma(,10) > 1", 4, ["expected a value, found ','"]),
    ("close + + 1 > 0", 8, ["expected a value, found '+'"]),
    ("close > 1 and not", 17, ["expected a value, found end of expression"]),
    ("close > 1 > 0", 10, ["comparisons cannot be chained", "a < b and b < c"]),
    ("close = 1", 6, ["'=' is not a comparison", "use '=='"]),
    ("close > 1 && open > 1", 10, ["use 'and'"]),
    ("close > 1 || open > 1", 10, ["use 'or'"]),
    ("!close", 0, ["use 'not'"]),
    ("close ** 2 > 1", 6, ["powers are not supported"]),
    ("close % 2 > 1", 6, ["remainder"]),
    ("close > 1 or é", 13, ["unexpected character 'é'"]),
    # numbers
    ("1e999 > 1", 0, ["number too large"]),
    ("10abc > 1", 0, ["malformed number"]),
    ("1.2.3 > 1", 0, ["malformed number"]),
    ("1e > 1", 0, ["malformed number"]),
    # empty, too long, too deep
    ("", 0, ["empty expression at 0", "close > sma(20)"]),
    ("   \n", 0, ["empty expression"]),
    ("close > 1 or " * 200 + "close > 1", 2000, ["characters long", "limit is 2000"]),
    ("(" * 100 + "close > 1" + ")" * 100, 64, ["nests too deeply"]),
    ("not " * 100 + "close > 1", 256, ["nests too deeply"]),
    ("-" * 100 + "1 > 0", 64, ["nests too deeply"]),
    ("sma(" * 70 + "close" + ", 2)" * 70 + " > 1", 259, ["nests too deeply"]),
])
def test_refusals_name_position_and_hint(text, position, fragments):
    error = refusal(text)
    assert error.position == position, str(error)
    for fragment in fragments:
        assert fragment in str(error)


def test_long_left_deep_chains_are_refused_before_they_can_blow_the_stack():
    error = refusal("+".join(["1"] * 300) + " > 1")
    assert "nests too deeply" in str(error)


def test_flat_and_chains_are_not_deep():
    compile_condition(" and ".join(["1 > 0"] * 150))


def test_rule_error_is_a_value_error_with_details():
    error = refusal("smaa(10) > 1")
    assert isinstance(error, ValueError)
    assert error.details() == {"rule": None, "position": 0, "expression": "smaa(10) > 1",
                               "reason": "unknown indicator 'smaa'",
                               "hint": "did you mean 'sma'?"}


def test_non_text_expression_is_a_rule_error():
    with pytest.raises(RuleError, match="must be text, got int"):
        compile_condition(42)


# --- the rules map ---
def rules_refusal(rules) -> RuleError:
    with pytest.raises(RuleError) as caught:
        compile_rules(rules)
    return caught.value


def test_errors_in_a_rule_name_the_rule():
    error = rules_refusal({"entry_long": "close > 1", "exit_short": "smaa(3) > 1"})
    assert str(error).startswith("rules.exit_short: unknown indicator 'smaa' at 0")
    assert error.rule == "rules.exit_short"
    assert error.details()["expression"] == "smaa(3) > 1"


def test_errors_in_a_filter_name_its_index():
    error = rules_refusal({"filters": ["close > 1", "adx(14)"]})
    assert str(error).startswith("rules.filters[1]: a rule must be a condition")


def test_unknown_rule_keys_are_named():
    error = rules_refusal({"entry_lng": "close > 1"})
    assert error.rule == "rules.entry_lng"
    assert "unknown rule 'entry_lng'" in str(error)
    assert "did you mean 'entry_long'?" in str(error)
    assert "rules are entry_long" in str(rules_refusal({"stop_loss": "close > 1"}))


@pytest.mark.parametrize("rules, fragment", [
    ({"entry_long": 3}, "rules.entry_long: an expression must be text, got int"),
    ({"filters": "close > 1"}, "rules.filters: filters must be a list"),
    ({"filters": ["close > 1"] * 33}, "33 filters are too many"),
    (["entry_long"], "rules must be a map"),
])
def test_malformed_rules_maps_are_rule_errors(rules, fragment):
    assert fragment in str(rules_refusal(rules))
