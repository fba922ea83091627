"""The rules language of CONTROL_API.md: compile a strategy's rules once, evaluate per bar.

    rules = compile_rules({"entry_long": "cross_above(sma(10), sma(20))",
                           "filters": ["adx(14) > 20"]})
    rules.required_bars        # history to load
    rules.evaluate(bars, tz_offset_s=7200, cache=shared)  # -> Signals(...) at the last bar

Rule text is tokenized, parsed and type-checked into a closure tree (never `eval`-ed);
every problem is a `RuleError` with the 0-based position of the error. An expression is
evaluated over the whole bar window at once and answers for the LAST bar. NaN means
"not known yet": comparisons with it are unknown, `and/or/not` use Kleene logic, and a
rule that is unknown on the last bar is false, so a rule on too little history is false.

Omitted indicator parameters take TA-Lib's defaults (`actors.indicators.table`).
`tz_offset_s` (server time minus UTC, in seconds) places vwap's day boundary at the trade
server's midnight. `cache`, a dict shared by the strategies that evaluate the same bars
(same account, symbol, timeframe, last bar and window length), lets them compute each
indicator once; see `rules_context.EvalContext` for its keys and guarantees.

`required_bars` is a rough upper bound: the largest indicator warm-up (generous for
recursive smoothings, see `rules_vocabulary`) plus lookbacks plus one bar per cross, plus
the current bar. Periods and lookbacks are capped (`rules_errors`), so it stays bounded.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from actors.rules.compiler import CONDITION, Compiled, compile_node
from actors.rules.context import EvalContext, IndicatorTable, read_bars
from actors.rules.errors import MAX_FILTERS, MAX_HISTORY_BARS, RuleError
from actors.rules.parser import parse
from actors.rules.vocabulary import TZ_OFFSET

__all__ = ["CompiledExpression", "CompiledRules", "RuleError", "Signals",
           "compile_condition", "compile_expression", "compile_rules", "RULE_NAMES"]

RULE_NAMES = ("entry_long", "entry_short", "exit_long", "exit_short")
FILTERS = "filters"
Functions = Mapping[str, Callable[..., Any]]
Cache = MutableMapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Signals:
    """What a strategy's rules say on the last bar; entries already include the filters."""

    entry_long: bool = False
    entry_short: bool = False
    exit_long: bool = False
    exit_short: bool = False


class CompiledExpression:
    """One compiled expression: a number (`kind == "number"`) or a condition."""

    __slots__ = ("source", "canonical", "kind", "required_bars", "indicators", "_run",
                 "_table")

    def __init__(self, source: str, compiled: Compiled, table: IndicatorTable) -> None:
        self.source = source
        self.canonical = compiled.text
        self.kind = compiled.kind
        self.required_bars = compiled.history + 1
        self.indicators = compiled.calls
        self._run = compiled.run
        self._table = table

    def evaluate(self, bars: Any, *, tz_offset_s: int = 0,
                 cache: Cache | None = None) -> bool | float:
        """The value on the last bar: a bool for a condition (unknown is False), else a float."""
        return self.evaluate_in(_context(bars, self._table, tz_offset_s=tz_offset_s,
                                         cache=cache))

    def series(self, bars: Any, *, tz_offset_s: int = 0,
               cache: Cache | None = None) -> np.ndarray:
        """Values on every bar; conditions as 1.0 true, 0.0 false, NaN unknown."""
        context = _context(bars, self._table, tz_offset_s=tz_offset_s, cache=cache)
        with np.errstate(all="ignore"):
            return self._run(context).copy()

    def evaluate_in(self, context: EvalContext) -> bool | float:
        """The value on the last bar of `context`, whose indicator results are shared by
        every expression evaluated in it (as `CompiledRules.evaluate` does)."""
        if context.length == 0:
            return False if self.kind == CONDITION else float("nan")
        with np.errstate(all="ignore"):
            last = self._run(context)[-1]
        return bool(last == 1.0) if self.kind == CONDITION else float(last)

    def __repr__(self) -> str:
        return f"CompiledExpression({self.source!r})"


def compile_expression(text: str, *, functions: Functions | None = None,
                       table: IndicatorTable | None = None) -> CompiledExpression:
    """Compile `text`; raises `RuleError` (and nothing else) if it is not valid.

    `functions` replaces `actors.indicators` (names as there: `sma`, `bollinger`, ...);
    `table` shares one `IndicatorTable` between the expressions of a strategy.
    """
    if not isinstance(text, str):
        raise RuleError(f"an expression must be text, got {type(text).__name__}", 0, "",
                        hint="write it as a string like \"close > sma(20)\"")
    compiled = _compile_safely(text)
    if compiled.history + 1 > MAX_HISTORY_BARS:
        raise RuleError(f"the expression needs {compiled.history + 1} bars of history", 0,
                        text, hint=f"at most {MAX_HISTORY_BARS}; use shorter periods")
    return CompiledExpression(text, compiled, table or IndicatorTable(functions))


def compile_condition(text: str, *, functions: Functions | None = None,
                      table: IndicatorTable | None = None) -> CompiledExpression:
    """Compile `text`, which must be a condition (true or false), as a rule is."""
    expression = compile_expression(text, functions=functions, table=table)
    if expression.kind != CONDITION:
        raise RuleError("a rule must be a condition, got a number", 0, text,
                        hint="compare it, e.g. rsi(14) > 70")
    return expression


def _compile_safely(text: str) -> Compiled:
    try:
        return compile_node(parse(text), text)
    except RuleError:
        raise
    except RecursionError:
        raise RuleError("expression nests too deeply", 0, text,
                        hint="simplify it or split it into filters") from None
    except Exception as error:  # the contract: a client's text only ever yields RuleError
        raise RuleError(f"the expression could not be compiled ({type(error).__name__})", 0,
                        text, hint="this is a bug in the rules language; please report it"
                        ) from error


def _context(bars: Any, table: IndicatorTable, *, tz_offset_s: int = 0,
             cache: Cache | None = None) -> EvalContext:
    # A float offset would make vwap's day and the cache key disagree with the server's.
    if isinstance(tz_offset_s, bool) or not isinstance(tz_offset_s, (int, np.integer)):
        raise TypeError(f"tz_offset_s must be whole seconds (an int), got {tz_offset_s!r}")
    return EvalContext(read_bars(bars), table, session={TZ_OFFSET: int(tz_offset_s)},
                       cache=cache)


class CompiledRules:
    """A strategy's compiled `rules` map; absent rules never fire."""

    __slots__ = ("rules", "filters", "required_bars", "indicators", "_table")

    def __init__(self, rules: dict[str, CompiledExpression],
                 filters: tuple[CompiledExpression, ...], table: IndicatorTable) -> None:
        self.rules = MappingProxyType(rules)
        self.filters = filters
        expressions = [*rules.values(), *filters]
        self.required_bars = max((e.required_bars for e in expressions), default=1)
        self.indicators = frozenset().union(*(e.indicators for e in expressions))
        self._table = table

    def evaluate(self, bars: Any, *, tz_offset_s: int = 0,
                 cache: Cache | None = None) -> Signals:
        """The signals on the last bar; `tz_offset_s` and `cache` as in the module doc."""
        context = _context(bars, self._table, tz_offset_s=tz_offset_s, cache=cache)
        fired = {name: rule.evaluate_in(context) for name, rule in self.rules.items()}
        if (fired.get("entry_long") or fired.get("entry_short")) and not all(
                check.evaluate_in(context) for check in self.filters):
            fired["entry_long"] = fired["entry_short"] = False
        return Signals(**{name: bool(fired.get(name, False)) for name in RULE_NAMES})


def compile_rules(rules: Mapping[str, Any], *,
                  functions: Functions | None = None) -> CompiledRules:
    """Compile a CONTROL_API `rules` map; a `RuleError` names the rule (`rules.entry_long`)."""
    if not isinstance(rules, Mapping):
        raise RuleError(f"rules must be a map of rule names to expressions, got "
                        f"{type(rules).__name__}", 0, "", rule="rules")
    table = IndicatorTable(functions)
    for key in rules:
        _check_rule_name(key)
    compiled = {name: _compile_rule(f"rules.{name}", rules[name], table)
                for name in RULE_NAMES if rules.get(name) is not None}
    return CompiledRules(compiled, _compile_filters(rules.get(FILTERS), table), table)


def _check_rule_name(key: Any) -> None:
    if key in RULE_NAMES or key == FILTERS:
        return
    known = [*RULE_NAMES, FILTERS]
    match = difflib.get_close_matches(str(key), known, n=1)
    hint = f"did you mean '{match[0]}'?" if match else f"rules are {', '.join(known)}"
    raise RuleError(f"unknown rule {key!r}", 0, "", hint=hint, rule=f"rules.{key}")


def _compile_rule(rule: str, text: Any, table: IndicatorTable) -> CompiledExpression:
    try:
        return compile_condition(text, table=table)
    except RuleError as error:
        raise error.with_rule(rule) from None


def _compile_filters(filters: Any, table: IndicatorTable) -> tuple[CompiledExpression, ...]:
    if filters is None:
        return ()
    if isinstance(filters, str) or not isinstance(filters, (list, tuple)):
        raise RuleError("filters must be a list of expressions", 0, "",
                        hint='write "filters": ["adx(14) > 20"]', rule=f"rules.{FILTERS}")
    if len(filters) > MAX_FILTERS:
        raise RuleError(f"{len(filters)} filters are too many", 0, "",
                        hint=f"at most {MAX_FILTERS}", rule=f"rules.{FILTERS}")
    return tuple(_compile_rule(f"rules.{FILTERS}[{index}]", text, table)
                 for index, text in enumerate(filters))
