"""The one table of indicators: each one's name, function, inputs, parameters and defaults.

This module owns what an indicator is called and what its parameters default to, for every
user: the rules language builds its vocabulary from `INDICATORS` (adding only what is the
language's own: how a parameter is spelt in a rule, the warm-up it asks history for), and
the keyword defaults of the functions in `batch` are the ones written here (a test holds
the signatures to this table).

Defaults are TA-Lib's, because CONTROL_API.md promises "Defaults as in TA-Lib" for the
rules language: what `talib.abstract.Function(name).parameters` reports in TA-Lib 0.8, the
version the tests check against (0.8 made BBANDS' period 20; it was 5). Each `Param.talib`
names the TA-Lib function and parameter(s) its default is taken from, and a test compares
them. They are written out rather than read from TA-Lib at run time so that what a running
rule means never moves with the installed library. Indicators TA-Lib lacks keep their
published values: Hosoda's 9/26/52 for ichimoku, a 20-bar volume average.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from actors.indicators.batch import (
    Adx, Bollinger, Ichimoku, Macd, Stochastic, adx, atr, bollinger, cci, ema, ichimoku, macd,
    obv, rsi, sma, stochastic, volume_ma, vwap, williams_r)


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter: the function's keyword, its default, and where the default comes from."""

    name: str
    default: int | float  # an int is a period (a whole number >= 1), a float a multiplier
    talib: tuple[str, ...] = ()  # (TA-Lib function, its parameter(s)); () if TA-Lib lacks it

    @property
    def integer(self) -> bool:
        return isinstance(self.default, int)


@dataclass(frozen=True, slots=True)
class IndicatorSpec:
    """How to call an indicator by name.

    function(*series named by `inputs`, *parameters in `params` order, **context).
    `result` is the named tuple of a multi-output indicator (None: one array), and
    `default_field` the field a bare call stands for (adx(14) > 20 means .adx). `context`
    names keyword arguments the caller supplies from the session, not the rule.
    `window(**params)` is how many trailing bars determine the latest value exactly, or
    None for recursive indicators (use a state class or the whole history).
    """

    name: str
    function: Callable[..., Any]
    inputs: tuple[str, ...]
    params: tuple[Param, ...]
    result: type | None = None
    default_field: str | None = None
    context: tuple[str, ...] = ()
    window: Callable[..., int] | None = None

    @property
    def fields(self) -> tuple[str, ...]:
        return self.result._fields if self.result is not None else ()

    @property
    def defaults(self) -> dict[str, int | float]:
        return {param.name: param.default for param in self.params}


HLC = ("high", "low", "close")


def _period(default: int, talib: str | None = None) -> Param:
    return Param("period", default, (talib, "timeperiod") if talib else ())


INDICATORS: dict[str, IndicatorSpec] = {spec.name: spec for spec in (
    IndicatorSpec("sma", sma, ("close",), (_period(30, "SMA"),),
                  window=lambda period: period),
    IndicatorSpec("ema", ema, ("close",), (_period(30, "EMA"),)),
    IndicatorSpec("rsi", rsi, ("close",), (_period(14, "RSI"),)),
    IndicatorSpec("macd", macd, ("close",), (
        Param("fast", 12, ("MACD", "fastperiod")),
        Param("slow", 26, ("MACD", "slowperiod")),
        Param("signal", 9, ("MACD", "signalperiod"))), Macd),
    IndicatorSpec("atr", atr, HLC, (_period(14, "ATR"),)),
    IndicatorSpec("bb", bollinger, ("close",), (
        _period(20, "BBANDS"),
        Param("k", 2.0, ("BBANDS", "nbdevup", "nbdevdn"))), Bollinger,
        window=lambda period, k: period),
    # TA-Lib's STOCH: fastk_period is our k, slowk_period the %K smoothing, slowd_period d.
    IndicatorSpec("stoch", stochastic, HLC, (
        Param("k", 5, ("STOCH", "fastk_period")),
        Param("d", 3, ("STOCH", "slowd_period")),
        Param("smooth", 3, ("STOCH", "slowk_period"))), Stochastic,
        window=lambda k, d, smooth: k + d + smooth - 2),
    IndicatorSpec("adx", adx, HLC, (_period(14, "ADX"),), Adx, default_field="adx"),
    IndicatorSpec("cci", cci, HLC, (_period(14, "CCI"),), window=lambda period: period),
    IndicatorSpec("willr", williams_r, HLC, (_period(14, "WILLR"),),
                  window=lambda period: period),
    IndicatorSpec("ichimoku", ichimoku, HLC, (
        Param("tenkan", 9), Param("kijun", 26), Param("senkou", 52)), Ichimoku,
        window=lambda tenkan, kijun, senkou: kijun + max(tenkan, kijun, senkou)),
    IndicatorSpec("vwap", vwap, ("high", "low", "close", "volume", "time"), (),
                  context=("tz_offset_s",)),
    IndicatorSpec("obv", obv, ("close", "volume"), ()),
    IndicatorSpec("volume_ma", volume_ma, ("volume",), (_period(20),),
                  window=lambda period: period),
)}
