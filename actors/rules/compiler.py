"""Type checking and compilation of a parsed rule into a tree of closures over numpy arrays.

Every compiled node maps an evaluation context to a float64 array over the whole bar
window (oldest to newest). Numbers are plain values with NaN for "not known yet";
conditions use three values: 1.0 true, 0.0 false, NaN unknown (a comparison that touches
NaN, a cross without two known bars). `and`/`or`/`not` follow Kleene logic, so
`not (close > sma(200))` stays unknown during warm-up instead of turning true, and a rule
that is unknown on the last bar counts as false.

Indicator results are cached per evaluation (and optionally across strategies, see
`rules_context`) under a key naming the call in full, its input series and every parameter
(`macd(close, 12, 26, 9)`), so `macd().signal` and `macd(12, 26, 9).hist` are computed once.
Omitted parameters take the defaults of `actors.indicators.table` (TA-Lib's),
and every parameter is passed to the indicator function, so the function's own keyword
defaults never decide what a rule means.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from actors.rules.context import EvalContext
from actors.rules.errors import MAX_PERIOD, RuleError
from actors.rules.parser import (Argument, Binary, Call, Field, Logic, Lookback, Negate, Node,
                                 Not, Number, Series, start_of)
from actors.rules.vocabulary import INDICATORS, IndicatorSpec, Param

NUMBER = "number"
CONDITION = "condition"
MAX_MULTIPLIER = 1000.0

Run = Callable[[EvalContext], np.ndarray]


@dataclass(frozen=True, slots=True)
class Compiled:
    kind: str  # NUMBER | CONDITION
    run: Run
    history: int  # bars before the last one that the value depends on
    text: str  # canonical text: equal texts compute equal values
    calls: frozenset[str] = frozenset()  # canonical indicator calls used


def compile_node(node: Node, text: str) -> Compiled:
    return _Compiler(text).compile(node)


class _Compiler:
    def __init__(self, text: str) -> None:
        self.text = text

    def error(self, reason: str, position: int, hint: str | None = None) -> RuleError:
        return RuleError(reason, position, self.text, hint=hint)

    def compile(self, node: Node) -> Compiled:
        match node:
            case Number(value=value):
                return Compiled(NUMBER, _constant(value), 0, _format_number(value))
            case Series(name=name):
                return Compiled(NUMBER, lambda ctx: ctx.series[name], 0, name)
            case Call(name="cross_above" | "cross_below"):
                return self.compile_cross(node)
            case Call():
                return self.compile_indicator(node, field=None)
            case Field(target=call, name=field):
                return self.compile_field(call, field, node.position)
            case Lookback():
                return self.compile_lookback(node)
            case Negate(operand=operand):
                inner = self.number(operand, "'-'")
                return Compiled(NUMBER, lambda ctx: -inner.run(ctx), inner.history,
                                f"(-{inner.text})", inner.calls)
            case Binary():
                return self.compile_binary(node)
            case Not(operand=operand):
                inner = self.condition(operand, "'not'")
                return Compiled(CONDITION, lambda ctx: 1.0 - inner.run(ctx), inner.history,
                                f"(not {inner.text})", inner.calls)
            case Logic():
                return self.compile_logic(node)
        raise self.error("unsupported expression", start_of(node))

    # --- typed operands ---
    def number(self, node: Node, user: str) -> Compiled:
        compiled = self.compile(node)
        if compiled.kind != NUMBER:
            raise self.error(f"{user} needs a number, got a condition", start_of(node),
                             hint="conditions combine with and, or, not")
        return compiled

    def condition(self, node: Node, user: str) -> Compiled:
        compiled = self.compile(node)
        if compiled.kind != CONDITION:
            raise self.error(f"{user} needs a condition, got a number", start_of(node),
                             hint="compare it, e.g. rsi(14) > 50")
        return compiled

    # --- operators ---
    def compile_binary(self, node: Binary) -> Compiled:
        user = f"'{node.op}'"
        left, right = self.number(node.left, user), self.number(node.right, user)
        kind = NUMBER if node.op in _ARITHMETIC else CONDITION
        run = _arithmetic(node.op, left.run, right.run) if kind == NUMBER else \
            _comparison(node.op, left.run, right.run)
        return Compiled(kind, run, max(left.history, right.history),
                        f"({left.text} {node.op} {right.text})", left.calls | right.calls)

    def compile_logic(self, node: Logic) -> Compiled:
        parts = [self.condition(operand, f"'{node.op}'") for operand in node.operands]
        runs = [part.run for part in parts]
        run = _all_of(runs) if node.op == "and" else _any_of(runs)
        text = "(" + f" {node.op} ".join(part.text for part in parts) + ")"
        return Compiled(CONDITION, run, max(part.history for part in parts), text,
                        frozenset().union(*(part.calls for part in parts)))

    def compile_lookback(self, node: Lookback) -> Compiled:
        inner = self.compile(node.target)
        bars = node.bars
        # Before the window starts a value is unknown, for numbers and conditions alike.
        return Compiled(inner.kind, lambda ctx: _shift(inner.run(ctx), bars),
                        inner.history + bars, f"{inner.text}[{bars}]", inner.calls)

    def compile_cross(self, call: Call) -> Compiled:
        usage = f"write {call.name}(sma(10), sma(20))"
        named = [arg for arg in call.args if arg.keyword]
        if named:
            raise self.error(f"{call.name} takes no named arguments", named[0].position,
                             hint=usage)
        if len(call.args) != 2:
            raise self.error(f"{call.name} takes two arguments, got {len(call.args)}",
                             call.position, hint=usage)
        a, b = (self.number(arg.value, call.name) for arg in call.args)
        run = _cross(a.run, b.run) if call.name == "cross_above" else _cross(b.run, a.run)
        return Compiled(CONDITION, run, max(a.history, b.history) + 1,
                        f"{call.name}({a.text}, {b.text})", a.calls | b.calls)

    # --- indicators ---
    def compile_field(self, call: Call, field: str, position: int) -> Compiled:
        spec = INDICATORS.get(call.name)
        if spec is None:
            raise self.error(f"{call.name}(...) is a condition and has no fields", position)
        if not spec.fields:
            raise self.error(f"{spec.name} has a single output", position,
                             hint=f"remove '.{field}'")
        if field not in spec.fields:
            raise self.error(f"unknown field '{field}' for {spec.name}", position,
                             hint=_field_hint(spec, field))
        return self.compile_indicator(call, field)

    def compile_indicator(self, call: Call, field: str | None) -> Compiled:
        spec = INDICATORS[call.name]
        if field is None and spec.fields:
            field = spec.default_field
            if field is None:
                raise self.error(f"{spec.name} has several outputs", call.position,
                                 hint="add a field: " + _field_list(spec))
        series, params = self.bind(call, spec)
        key = _call_text(spec, series, params)
        run = _indicator_run(spec, series, params, field, call.position, self.text)
        history = spec.warmup(params) + (series.history if series else 0)
        calls = frozenset({key}) | (series.calls if series else frozenset())
        return Compiled(NUMBER, run, history, f"{key}.{field}" if field else key, calls)

    def bind(self, call: Call, spec: IndicatorSpec) -> tuple[Compiled | None, dict]:
        args, series = list(call.args), None
        # A leading argument that reads no bars is a parameter, not a series: with every
        # parameter defaulted, `sma(2 * 5)` would otherwise be a silent average of 10s.
        if args and args[0].keyword is None and _reads_bars(args[0].value):
            if not spec.accepts_series:
                raise self.error(f"{spec.name} takes only numbers as parameters",
                                 args[0].position, hint=f"write {spec.usage}")
            series = self.number(args[0].value, spec.name)
            args = args[1:]
        return series, self.bind_params(call, spec, args)

    def bind_params(self, call: Call, spec: IndicatorSpec, args: list[Argument]) -> dict:
        values: dict[str, float] = {}
        positional = [arg for arg in args if arg.keyword is None]
        if len(positional) > len(spec.params):
            extra = positional[len(spec.params)]
            raise self.error(f"too many arguments for {spec.name}", extra.position,
                             hint=f"write {spec.usage}")
        for index, arg in enumerate(args):
            if arg.keyword is None and index >= len(positional):
                raise self.error("a positional argument follows a named one",
                                 arg.position, hint=f"write {spec.usage}")
            param = self.param_for(spec, arg, index)
            if param.name in values:
                raise self.error(f"{param.name} of {spec.name} is given twice", arg.position,
                                 hint=f"write {spec.usage}")
            values[param.name] = self.literal(spec, param, arg.value)
        return self.fill_defaults(call, spec, values)

    def param_for(self, spec: IndicatorSpec, arg: Argument, index: int) -> Param:
        if arg.keyword is None:
            return spec.params[index]
        for param in spec.params:
            if param.name == arg.keyword:
                return param
        names = [param.name for param in spec.params]
        match = difflib.get_close_matches(arg.keyword, names, n=1)
        hint = f"did you mean '{match[0]}'?" if match else f"write {spec.usage}"
        raise self.error(f"{spec.name} has no parameter '{arg.keyword}'", arg.position, hint)

    def literal(self, spec: IndicatorSpec, param: Param, node: Node) -> float:
        value, text = _literal_value(node)
        usage = f"write {spec.usage}"
        if value is None:
            raise self.error(f"{param.name} of {spec.name} must be a number written out",
                             start_of(node), hint=usage)
        if param.integer and (not text.isdigit() or not 1 <= value <= MAX_PERIOD):
            raise self.error(f"{param.name} of {spec.name} must be a whole number from 1 to "
                             f"{MAX_PERIOD}, got {text}", start_of(node), hint=usage)
        if not param.integer and not 0 < value <= MAX_MULTIPLIER:
            raise self.error(f"{param.name} of {spec.name} must be above 0 and at most "
                             f"{MAX_MULTIPLIER:g}, got {text}", start_of(node), hint=usage)
        return int(value) if param.integer else float(value)

    def fill_defaults(self, call: Call, spec: IndicatorSpec, values: dict) -> dict:
        for param in spec.params:
            values.setdefault(param.name, param.default)
        if spec.name == "macd" and values["fast"] >= values["slow"]:
            raise self.error("macd's fast period must be shorter than its slow one",
                             call.position, hint="write macd(12, 26, 9)")
        return values


# --- helpers: literals and canonical text ---
def _reads_bars(node: Node) -> bool:
    """Whether `node` depends on bar data; only constants and arithmetic on them do not."""
    match node:
        case Number():
            return False
        case Negate(operand=inner) | Lookback(target=inner):
            return _reads_bars(inner)
        case Binary(left=left, right=right):
            return _reads_bars(left) or _reads_bars(right)
    return True


def _literal_value(node: Node) -> tuple[float | None, str]:
    if isinstance(node, Number):
        return node.value, node.text
    if isinstance(node, Negate) and isinstance(node.operand, Number):
        return -node.operand.value, "-" + node.operand.text
    return None, ""


def _format_number(value: float) -> str:
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _call_text(spec: IndicatorSpec, series: Compiled | None, params: dict) -> str:
    parts = [series.text] if series and series.text != spec.inputs[0] else []
    parts += [_format_number(float(params[param.name])) for param in spec.params]
    return f"{spec.name}({', '.join(parts)})"


def _cache_key(spec: IndicatorSpec, series: Compiled | None, params: dict) -> str:
    """The call in full: every input series and parameter, e.g. `sma(close, 10)`."""
    inputs = [series.text if series else spec.inputs[0], *spec.inputs[1:]]
    parts = inputs + [_format_number(float(params[param.name])) for param in spec.params]
    return f"{spec.name}({', '.join(parts)})"


def _session_names(spec: IndicatorSpec, series: Compiled | None) -> tuple[str, ...]:
    """Session values the call depends on, its own and those of indicators in its series."""
    names = set(spec.context)
    for call in series.calls if series else ():
        names.update(INDICATORS[call[:call.index("(")]].context)
    return tuple(sorted(names))


def _field_list(spec: IndicatorSpec) -> str:
    return ", ".join(f".{name}" for name in spec.fields)


def _field_hint(spec: IndicatorSpec, field: str) -> str:
    match = difflib.get_close_matches(field, spec.fields, n=1)
    fields = f"fields are {_field_list(spec)}"
    return f"did you mean '.{match[0]}'? {fields}" if match else fields


# --- helpers: vectorised evaluation ---
_ARITHMETIC = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}
_COMPARE = {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal,
            "==": np.equal, "!=": np.not_equal}


def _constant(value: float) -> Run:
    return lambda ctx: np.full(ctx.length, value)


def _arithmetic(op: str, left: Run, right: Run) -> Run:
    ufunc = _ARITHMETIC[op]
    return lambda ctx: ufunc(left(ctx), right(ctx))


def _comparison(op: str, left: Run, right: Run) -> Run:
    ufunc = _COMPARE[op]

    def run(ctx: EvalContext) -> np.ndarray:
        a, b = left(ctx), right(ctx)
        return _unknown_where_nan(ufunc(a, b).astype(np.float64), a, b)
    return run


def _unknown_where_nan(result: np.ndarray, *inputs: np.ndarray) -> np.ndarray:
    for values in inputs:
        result[np.isnan(values)] = np.nan
    return result


def _all_of(runs: list[Run]) -> Run:
    def run(ctx: EvalContext) -> np.ndarray:
        values = np.vstack([part(ctx) for part in runs])
        result = np.where(np.isnan(values).any(axis=0), np.nan, 1.0)
        result[(values == 0.0).any(axis=0)] = 0.0
        return result
    return run


def _any_of(runs: list[Run]) -> Run:
    def run(ctx: EvalContext) -> np.ndarray:
        values = np.vstack([part(ctx) for part in runs])
        result = np.where(np.isnan(values).any(axis=0), np.nan, 0.0)
        result[(values == 1.0).any(axis=0)] = 1.0
        return result
    return run


def _shift(values: np.ndarray, bars: int) -> np.ndarray:
    if bars == 0:
        return values
    shifted = np.full(values.shape, np.nan)
    if bars < len(values):
        shifted[bars:] = values[:-bars]
    return shifted


def _cross(rising: Run, other: Run) -> Run:
    """`rising` crossed above `other` on each bar: at or below it one bar before, above now."""
    def run(ctx: EvalContext) -> np.ndarray:
        a, b = rising(ctx), other(ctx)
        a_before, b_before = _shift(a, 1), _shift(b, 1)
        crossed = ((a_before <= b_before) & (a > b)).astype(np.float64)
        return _unknown_where_nan(crossed, a, b, a_before, b_before)
    return run


def _indicator_run(spec: IndicatorSpec, series: Compiled | None, params: dict,
                   field: str | None, position: int, text: str) -> Run:
    param_values = tuple(params[param.name] for param in spec.params)
    bar_inputs = spec.inputs[1:] if series else spec.inputs
    call, session = _cache_key(spec, series, params), _session_names(spec, series)

    def compute(ctx: EvalContext):
        inputs = [series.run(ctx)] if series else []
        inputs += [ctx.series[name] for name in bar_inputs]
        function = ctx.function(spec.function, spec.name, position, text)
        return function(*inputs, *param_values,
                        **{name: ctx.session[name] for name in spec.context})

    def run(ctx: EvalContext) -> np.ndarray:
        return ctx.output(ctx.key(call, session), compute, spec.fields, field)
    return run
