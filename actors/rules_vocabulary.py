"""The words of the rules language: series names, indicators and their parameters.

The language owns its vocabulary (CONTROL_API.md, "Strategy definition"); this table maps
each rules-language indicator to the function in `actors.indicators` that computes it,
which bar arrays it reads, its parameters with defaults, its output fields, and a rough
warm-up (bars before its first trustworthy value).

A multi-output indicator needs a field (`macd(12, 26, 9).signal`, `bb(20, 2).upper`); its
bare use is refused with a hint listing the fields, because guessing which line was meant
would be a silent trading error. The one exception is `adx(n)`, which means `.adx`, as
CONTROL_API.md writes `adx(14) > 20` (and as `actors.indicators.INDICATORS` defines it).

Warm-ups are deliberately generous for recursive smoothings (EMA, Wilder): three times
the period lets the seed's weight decay to a few percent, so values computed from
`required_bars` of history are close to those from a long history.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

SERIES = ("open", "high", "low", "close", "volume")
BAR_FIELDS = (*SERIES, "time")
CROSS_FUNCTIONS = ("cross_above", "cross_below")
_HLC = ("high", "low", "close")


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    default: float | None
    integer: bool = True  # a period (positive integer); False: a positive multiplier


@dataclass(frozen=True, slots=True)
class IndicatorSpec:
    name: str
    function: str
    inputs: tuple[str, ...]
    params: tuple[Param, ...]
    warmup: Callable[[Mapping[str, float]], int]
    fields: tuple[str, ...] = ()
    default_field: str | None = None
    accepts_series: bool = False  # an optional leading series replaces inputs[0]

    @property
    def usage(self) -> str:
        names = ", ".join(param.name for param in self.params)
        plain = f"{self.name}({names})"
        if not self.accepts_series:
            return plain
        with_series = f"{self.name}(series, {names})" if names else f"{self.name}(series)"
        return f"{plain} or {with_series}"


_N = "n"
_PERIOD_N = (Param(_N, None),)


def _n_times(factor: int, extra: int = 0) -> Callable[[Mapping[str, float]], int]:
    return lambda params: factor * int(params[_N]) + extra


INDICATORS: dict[str, IndicatorSpec] = {
    spec.name: spec
    for spec in (
        IndicatorSpec("sma", "sma", ("close",), _PERIOD_N, _n_times(1), accepts_series=True),
        IndicatorSpec("ema", "ema", ("close",), _PERIOD_N, _n_times(3), accepts_series=True),
        IndicatorSpec("rsi", "rsi", ("close",), (Param(_N, 14),), _n_times(3, 1),
                      accepts_series=True),
        IndicatorSpec("macd", "macd", ("close",),
                      (Param("fast", 12), Param("slow", 26), Param("signal", 9)),
                      lambda p: 3 * int(p["slow"] + p["signal"]),
                      fields=("macd", "signal", "hist"),
                      accepts_series=True),
        IndicatorSpec("atr", "atr", _HLC, (Param(_N, 14),), _n_times(3, 1)),
        IndicatorSpec("bb", "bollinger", ("close",),
                      (Param(_N, 20), Param("k", 2.0, integer=False)), _n_times(1),
                      fields=("upper", "middle", "lower"), accepts_series=True),
        IndicatorSpec("stoch", "stochastic", _HLC,
                      (Param("k", 14), Param("d", 3), Param("smooth", 3)),
                      lambda p: int(p["k"] + p["d"] + p["smooth"]),
                      fields=("k", "d")),
        IndicatorSpec("adx", "adx", _HLC, (Param(_N, 14),), _n_times(6),
                      fields=("adx", "plus_di", "minus_di"), default_field="adx"),
        IndicatorSpec("cci", "cci", _HLC, (Param(_N, 20),), _n_times(1)),
        IndicatorSpec("willr", "williams_r", _HLC, (Param(_N, 14),), _n_times(1)),
        IndicatorSpec("ichimoku", "ichimoku", _HLC,
                      (Param("tenkan", 9), Param("kijun", 26), Param("senkou", 52)),
                      lambda p: int(p["senkou"] + p["kijun"]),
                      fields=("tenkan", "kijun", "senkou_a", "senkou_b", "chikou")),
        # vwap resets each day and obv is a running sum: neither has a fixed warm-up, so
        # the market data side must load at least the current day for vwap.
        IndicatorSpec("vwap", "vwap", ("high", "low", "close", "volume", "time"), (),
                      lambda p: 1),
        IndicatorSpec("obv", "obv", ("close", "volume"), (), lambda p: 1),
        IndicatorSpec("volume_ma", "volume_ma", ("volume",), (Param(_N, 20),), _n_times(1)),
    )
}

FUNCTION_NAMES = frozenset(INDICATORS) | frozenset(CROSS_FUNCTIONS)
