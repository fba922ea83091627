"""The words of the rules language: series names, indicators and their parameters.

The language owns its vocabulary (CONTROL_API.md, "Strategy definition"); the indicators,
their parameters and the defaults an omitted parameter takes (TA-Lib's) come from the one
table, `actors.indicators.table.INDICATORS`. This module adds only what is the language's
own: a parameter's spelling in a rule (`sma(n)`, where the function says `period`), which
indicators take a series in place of their first input (`sma(rsi(14), 5)`), and a rough
warm-up (bars before the first trustworthy value) for `required_bars`. Indicator functions
are named as in `actors.indicators.batch`, where the evaluation looks them up.

A multi-output indicator needs a field (`macd(12, 26, 9).signal`, `bb(20, 2).upper`); its
bare use is refused with a hint listing the fields, because guessing which line was meant
would be a silent trading error. The one exception is `adx(n)`, which means `.adx`, as
CONTROL_API.md writes `adx(14) > 20` (and as the table's `default_field` says).

Warm-ups are deliberately generous for recursive smoothings (EMA, Wilder): three times
the period lets the seed's weight decay to a few percent, so values computed from
`required_bars` of history are close to those from a long history.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from actors.indicators import table

SERIES = ("open", "high", "low", "close", "volume")
BAR_FIELDS = (*SERIES, "time")
CROSS_FUNCTIONS = ("cross_above", "cross_below")
TZ_OFFSET = "tz_offset_s"  # server time minus UTC in seconds: where vwap's day starts
# A parameter's name in a rule, where CONTROL_API.md writes it otherwise than the function.
SPELLING = {"period": "n"}

Warmup = Callable[[Mapping[str, float]], int]


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    default: int | float
    integer: bool = True  # a period (positive integer); False: a positive multiplier


@dataclass(frozen=True, slots=True)
class IndicatorSpec:
    name: str
    function: str
    inputs: tuple[str, ...]
    params: tuple[Param, ...]
    warmup: Warmup
    fields: tuple[str, ...] = ()
    default_field: str | None = None
    accepts_series: bool = False  # an optional leading series replaces inputs[0]
    context: tuple[str, ...] = ()  # keyword arguments from the evaluation, not the rule

    @property
    def usage(self) -> str:
        names = ", ".join(param.name for param in self.params)
        plain = f"{self.name}({names})"
        if not self.accepts_series:
            return plain
        with_series = f"{self.name}(series, {names})" if names else f"{self.name}(series)"
        return f"{plain} or {with_series}"


_N = SPELLING["period"]


def _n_times(factor: int, extra: int = 0) -> Warmup:
    return lambda params: factor * int(params[_N]) + extra


# The language's own part of each indicator: (warm-up, accepts a series).
_GRAMMAR: dict[str, tuple[Warmup, bool]] = {
    "sma": (_n_times(1), True),
    "ema": (_n_times(3), True),
    "rsi": (_n_times(3, 1), True),
    "macd": (lambda p: 3 * int(p["slow"] + p["signal"]), True),
    "atr": (_n_times(3, 1), False),
    "bb": (_n_times(1), True),
    "stoch": (lambda p: int(p["k"] + p["d"] + p["smooth"]), False),
    "adx": (_n_times(6), False),
    "cci": (_n_times(1), False),
    "willr": (_n_times(1), False),
    "ichimoku": (lambda p: int(p["senkou"] + p["kijun"]), False),
    # vwap resets each server day and obv is a running sum: neither has a fixed warm-up,
    # so the market data side must load at least the current day for vwap.
    "vwap": (lambda p: 1, False),
    "obv": (lambda p: 1, False),
    "volume_ma": (_n_times(1), False),
}


def _language_spec(spec: table.IndicatorSpec) -> IndicatorSpec:
    warmup, accepts_series = _GRAMMAR[spec.name]
    params = tuple(Param(SPELLING.get(param.name, param.name), param.default, param.integer)
                   for param in spec.params)
    return IndicatorSpec(spec.name, spec.function.__name__, spec.inputs, params, warmup,
                         spec.fields, spec.default_field, accepts_series, spec.context)


if set(_GRAMMAR) != set(table.INDICATORS):
    raise ImportError(f"the rules vocabulary and actors.indicators.table differ: "
                      f"{sorted(set(_GRAMMAR) ^ set(table.INDICATORS))}; give each "
                      f"indicator of the table a warm-up here")

INDICATORS: dict[str, IndicatorSpec] = {
    name: _language_spec(spec) for name, spec in table.INDICATORS.items()}

FUNCTION_NAMES = frozenset(INDICATORS) | frozenset(CROSS_FUNCTIONS)
