"""The words of the rules language: series names, indicators and their parameters.

The language owns its vocabulary (CONTROL_API.md, "Strategy definition"); this table maps
each rules-language indicator to the function in `actors.indicators` that computes it,
which bar arrays it reads, its parameters with the language's defaults (`DEFAULTS`), its
output fields, the session values it needs at evaluation (`context`), and a rough warm-up
(bars before its first trustworthy value).

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
TZ_OFFSET = "tz_offset_s"  # server time minus UTC in seconds: where vwap's day starts


@dataclass(frozen=True, slots=True)
class Default:
    value: int | float  # an int is a period (a positive whole number), a float a multiplier
    talib: tuple[str, ...] = ()  # (TA-Lib function, its parameter(s)); () if TA-Lib lacks it


# The value a parameter takes when a rule omits it. CONTROL_API.md promises "Defaults as in
# TA-Lib", so these are TA-Lib's own (what `talib.abstract.Function(name).parameters`
# reports for TA-Lib 0.4-0.6), NOT the keyword defaults of `actors.indicators`, which are
# that module's API (bollinger 20, stochastic 14, cci 20) and may differ. They are written
# out rather than read from TA-Lib at run time so that what a running rule means never
# moves with the installed library. Indicators TA-Lib lacks keep their published values:
# Hosoda's 9/26/52 for ichimoku, a 20-bar volume average. Order is positional order.
DEFAULTS: dict[str, dict[str, Default]] = {
    "sma": {"n": Default(30, ("SMA", "timeperiod"))},
    "ema": {"n": Default(30, ("EMA", "timeperiod"))},
    "rsi": {"n": Default(14, ("RSI", "timeperiod"))},
    "macd": {"fast": Default(12, ("MACD", "fastperiod")),
             "slow": Default(26, ("MACD", "slowperiod")),
             "signal": Default(9, ("MACD", "signalperiod"))},
    "atr": {"n": Default(14, ("ATR", "timeperiod"))},
    # TA-Lib 0.8 (the version the tests check against) made BBANDS' default period 20; it was 5.
    "bb": {"n": Default(20, ("BBANDS", "timeperiod")),
           "k": Default(2.0, ("BBANDS", "nbdevup", "nbdevdn"))},
    # TA-Lib's STOCH: fastk_period is our k, slowk_period the %K smoothing, slowd_period d.
    "stoch": {"k": Default(5, ("STOCH", "fastk_period")),
              "d": Default(3, ("STOCH", "slowd_period")),
              "smooth": Default(3, ("STOCH", "slowk_period"))},
    "adx": {"n": Default(14, ("ADX", "timeperiod"))},
    "cci": {"n": Default(14, ("CCI", "timeperiod"))},
    "willr": {"n": Default(14, ("WILLR", "timeperiod"))},
    "ichimoku": {"tenkan": Default(9), "kijun": Default(26), "senkou": Default(52)},
    "vwap": {},
    "obv": {},
    "volume_ma": {"n": Default(20)},
}


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
    warmup: Callable[[Mapping[str, float]], int]
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


def _params(indicator: str) -> tuple[Param, ...]:
    return tuple(Param(name, default.value, isinstance(default.value, int))
                 for name, default in DEFAULTS[indicator].items())


_N = "n"


def _n_times(factor: int, extra: int = 0) -> Callable[[Mapping[str, float]], int]:
    return lambda params: factor * int(params[_N]) + extra


def _spec(name: str, function: str, inputs: tuple[str, ...], warmup, **more) -> IndicatorSpec:
    return IndicatorSpec(name, function, inputs, _params(name), warmup, **more)


INDICATORS: dict[str, IndicatorSpec] = {
    spec.name: spec
    for spec in (
        _spec("sma", "sma", ("close",), _n_times(1), accepts_series=True),
        _spec("ema", "ema", ("close",), _n_times(3), accepts_series=True),
        _spec("rsi", "rsi", ("close",), _n_times(3, 1), accepts_series=True),
        _spec("macd", "macd", ("close",), lambda p: 3 * int(p["slow"] + p["signal"]),
              fields=("macd", "signal", "hist"), accepts_series=True),
        _spec("atr", "atr", _HLC, _n_times(3, 1)),
        _spec("bb", "bollinger", ("close",), _n_times(1),
              fields=("upper", "middle", "lower"), accepts_series=True),
        _spec("stoch", "stochastic", _HLC, lambda p: int(p["k"] + p["d"] + p["smooth"]),
              fields=("k", "d")),
        _spec("adx", "adx", _HLC, _n_times(6), fields=("adx", "plus_di", "minus_di"),
              default_field="adx"),
        _spec("cci", "cci", _HLC, _n_times(1)),
        _spec("willr", "williams_r", _HLC, _n_times(1)),
        _spec("ichimoku", "ichimoku", _HLC, lambda p: int(p["senkou"] + p["kijun"]),
              fields=("tenkan", "kijun", "senkou_a", "senkou_b", "chikou")),
        # vwap resets each server day and obv is a running sum: neither has a fixed
        # warm-up, so the market data side must load at least the current day for vwap.
        _spec("vwap", "vwap", ("high", "low", "close", "volume", "time"), lambda p: 1,
              context=(TZ_OFFSET,)),
        _spec("obv", "obv", ("close", "volume"), lambda p: 1),
        _spec("volume_ma", "volume_ma", ("volume",), _n_times(1)),
    )
}

FUNCTION_NAMES = frozenset(INDICATORS) | frozenset(CROSS_FUNCTIONS)
