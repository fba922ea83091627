"""Position sizing and price distances from a symbol's real properties (pure).

Methods (the `sizing` map of a strategy or OPEN_POSITION):
* `fixed {lots}`;
* `percentage_risk {risk_pct}`: lots = capital × risk_pct / (stop distance × value per lot);
* `atr_based {risk_pct, atr_mult}`: the stop is atr_mult × ATR, then percentage risk;
* `kelly_criterion {fraction, max_risk_pct?, min_trades?, floor_risk_pct?}`: the risk is
  fraction × Kelly (W − (1 − W) / R from the strategy's own closed trades), capped at
  `max_risk_pct`; with fewer than `min_trades` trades it is `floor_risk_pct`;
* `volatility_based {target_vol_pct}`: lots so that one ATR (or one standard deviation of
  returns × price) moves the position by target_vol_pct of the capital.

The value of a price move comes from the symbol's `trade_tick_value` / `trade_tick_size`,
which MT5 already gives in the deposit currency (so EURUSD, USDJPY and XAUUSD size
differently for the same risk). For a risk we use `trade_tick_value_loss` when present: it
is the value MT5 itself applies to a losing move. The capital is the smaller of balance and
equity: floating losses shrink positions, floating gains do not inflate them.

Volumes are rounded *down* to the symbol's `volume_step` and clamped to its `volume_max`
and the account's `max_lot_size`; a result below `volume_min` is a refusal, never a silent
minimum lot. Distances in pips convert through the symbol's digits: on fractional-pip
quotes (3 or 5 digits, e.g. EURUSD 1.08123, USDJPY 151.234) a pip is 10 points; otherwise
a pip is one point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

KELLY_MIN_TRADES = 30  # fewer closed trades than this: the win rate is noise, use the floor
KELLY_FLOOR_RISK_PCT = 0.5
KELLY_MAX_RISK_PCT = 2.0
METHODS = ("fixed", "percentage_risk", "atr_based", "kelly_criterion", "volatility_based")


class SizingError(ValueError):
    """No volume can be sized for this entry; the message says why and what to change."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SizeResult:
    """A sized entry: the lots, and what they were computed from (for the journal and the SL)."""
    volume: float
    method: str
    risk_pct: float | None = None  # percentage of capital at risk on the stop
    risk_money: float | None = None  # in the deposit currency, for the rounded volume
    stop_distance: float | None = None  # price units; atr_based decides it, the caller sets the SL from it


def pip_size(symbol: Mapping[str, Any]) -> float:
    point = float(symbol["point"])
    return point * 10 if int(symbol["digits"]) in (3, 5) else point


def round_volume(volume: float, symbol: Mapping[str, Any], max_lot: float | None = None) -> float:
    """`volume` fitted to the symbol's step and limits; SizingError when it cannot be."""
    step = float(symbol["volume_step"])
    limit = float(symbol["volume_max"]) if max_lot is None else min(float(symbol["volume_max"]), max_lot)
    # The epsilon keeps 0.3 / 0.01 = 29.999999 from rounding a valid 0.3 down to 0.29.
    steps = math.floor(min(volume, limit) / step + 1e-9) if math.isfinite(volume) else 0
    rounded = round(steps * step, 8)
    if rounded < float(symbol["volume_min"]) - 1e-12:
        raise SizingError(f"volume {volume:g} is below {symbol['name']}'s minimum of {symbol['volume_min']:g} lots "
                          f"(step {step:g}, limit {limit:g})")
    return rounded


def value_per_lot(symbol: Mapping[str, Any], distance: float) -> float:
    """Deposit-currency value of a `distance` (price units) move of one lot, as a loss."""
    tick_size = float(symbol.get("trade_tick_size") or 0.0)
    tick_value = float(symbol.get("trade_tick_value_loss") or symbol.get("trade_tick_value") or 0.0)
    if not (tick_size > 0 and tick_value > 0):
        raise SizingError(f"{symbol.get('name', '?')} has no tick value yet (trade_tick_value {tick_value:g}, "
                          f"tick size {tick_size:g}); it needs quotes to convert to the deposit currency, retry")
    return distance / tick_size * tick_value


def size_position(sizing: Mapping[str, Any], symbol: Mapping[str, Any], max_lot: float | None = None,
                  **inputs: Any) -> float:
    """Lots for an entry (see `compute_size` for the keyword inputs each method needs)."""
    return compute_size(sizing, symbol, max_lot, **inputs).volume


def compute_size(sizing: Mapping[str, Any], symbol: Mapping[str, Any], max_lot: float | None = None, *,
                 balance: float | None = None, equity: float | None = None,
                 stop_distance: float | None = None, stop_pips: float | None = None,
                 atr: float | None = None, returns_stdev: float | None = None, price: float | None = None,
                 trades: Sequence[float] = ()) -> SizeResult:
    """Size an entry by `sizing["method"]`.

    Inputs: `balance`/`equity` (deposit currency; every method but fixed), the stop as
    `stop_distance` (price units) or `stop_pips` (percentage_risk and kelly_criterion), `atr`
    in price units (atr_based; volatility_based, else `returns_stdev` × `price`), `trades`:
    the strategy's closed-trade profits (kelly_criterion).
    """
    method = sizing.get("method", "fixed")
    if method == "fixed":
        return SizeResult(volume=round_volume(float(sizing["lots"]), symbol, max_lot), method=method)
    if method not in METHODS:
        raise SizingError(f"unknown sizing method {method!r}; use one of {', '.join(METHODS)}")
    capital = _capital(balance, equity, method)
    if method == "volatility_based":
        move = _volatility(atr, returns_stdev, price)
        money = capital * _pct(sizing, "target_vol_pct") / 100.0
        volume = round_volume(money / value_per_lot(symbol, move), symbol, max_lot)
        return SizeResult(volume=volume, method=method)
    if method == "atr_based":
        if atr is None or not atr > 0:
            raise SizingError(f"atr_based sizing needs the current ATR in price units, got {atr!r}; "
                              "wait until the indicator has enough bars")
        mult = sizing.get("atr_mult")
        if not isinstance(mult, (int, float)) or not mult > 0:
            raise SizingError(f"atr_based sizing needs a positive atr_mult, got {mult!r}")
        stop = float(mult) * float(atr)
        risk_pct = _pct(sizing, "risk_pct")
    else:
        stop = _stop(symbol, stop_distance, stop_pips, method)
        risk_pct = _pct(sizing, "risk_pct") if method == "percentage_risk" else kelly_risk_pct(sizing, trades)
    per_lot = value_per_lot(symbol, stop)
    volume = round_volume(capital * risk_pct / 100.0 / per_lot, symbol, max_lot)
    return SizeResult(volume=volume, method=method, risk_pct=risk_pct, risk_money=round(volume * per_lot, 2),
                      stop_distance=stop)


def kelly_risk_pct(sizing: Mapping[str, Any], trades: Sequence[float]) -> float:
    """Percentage of capital to risk: fraction × Kelly, capped; the floor until enough trades.

    Kelly f* = W − (1 − W) / R, W the win rate, R the average win over the average loss
    (breakeven trades count as neither). With no losing trade R is infinite and f* = W.
    """
    fraction = float(sizing.get("fraction", 0.5))
    cap = float(sizing.get("max_risk_pct", KELLY_MAX_RISK_PCT))
    floor = float(sizing.get("floor_risk_pct", KELLY_FLOOR_RISK_PCT))
    needed = int(sizing.get("min_trades", KELLY_MIN_TRADES))
    wins = [p for p in trades if p > 0]
    losses = [-p for p in trades if p < 0]
    if len(wins) + len(losses) < needed:
        return min(floor, cap)
    win_rate = len(wins) / (len(wins) + len(losses))
    if not losses:
        kelly = win_rate
    elif not wins:
        kelly = -1.0
    else:
        kelly = win_rate - (1.0 - win_rate) / ((sum(wins) / len(wins)) / (sum(losses) / len(losses)))
    if kelly <= 0:
        raise SizingError(f"kelly_criterion: the strategy's {len(wins) + len(losses)} closed trades show no edge "
                          f"(win rate {win_rate:.0%}, Kelly {kelly:.3f}); no position is sized")
    return min(fraction * kelly * 100.0, cap)


def _capital(balance: float | None, equity: float | None, method: str) -> float:
    given = [float(x) for x in (balance, equity) if x is not None]
    if not given or not min(given) > 0:
        raise SizingError(f"{method} sizing needs a positive balance or equity, got balance {balance!r}, "
                          f"equity {equity!r}; wait for the account information")
    return min(given)


def _pct(sizing: Mapping[str, Any], key: str) -> float:
    value = sizing.get(key)
    if not isinstance(value, (int, float)) or not 0 < value <= 100:
        raise SizingError(f"sizing {sizing.get('method')!r} needs {key} in (0, 100], got {value!r}")
    return float(value)


def _stop(symbol: Mapping[str, Any], distance: float | None, pips: float | None, method: str) -> float:
    if distance is None and pips is not None:
        distance = float(pips) * pip_size(symbol)
    if distance is None or not distance > 0:
        raise SizingError(f"{method} sizing needs a stop loss (stop_loss pips or sl_pips) to measure the risk")
    return float(distance)


def _volatility(atr: float | None, stdev: float | None, price: float | None) -> float:
    if atr is not None and atr > 0:
        return float(atr)
    if stdev is not None and price is not None and stdev > 0 and price > 0:
        return float(stdev) * float(price)
    raise SizingError("volatility_based sizing needs the ATR (price units) or the standard deviation of returns "
                      "and the price; wait until the indicator has enough bars")


def stop_prices(side: str, entry: float, symbol: Mapping[str, Any], *, sl_pips: float | None = None,
                tp_pips: float | None = None, tp_rr: float | None = None) -> tuple[float, float]:
    """(sl, tp) prices for an entry at `entry`; 0.0 means none, as in MT5."""
    pip = pip_size(symbol)
    digits = int(symbol["digits"])
    direction = 1.0 if side == "buy" else -1.0
    sl = tp = 0.0
    if sl_pips:
        sl = round(entry - direction * sl_pips * pip, digits)
    if tp_pips:
        tp = round(entry + direction * tp_pips * pip, digits)
    elif tp_rr and sl_pips:
        tp = round(entry + direction * tp_rr * sl_pips * pip, digits)
    return sl, tp


def estimate_margin(symbol: Mapping[str, Any], volume: float, price: float, *, leverage: float,
                    deposit_currency: str) -> float | None:
    """Margin of a new position in the deposit currency, for the pre-trade check; None when the
    conversion would need another symbol's quote (the trade server's own check still applies).

    FOREX: lots x contract / leverage in the base currency; CFD: lots x contract x price;
    CFDLEVERAGE: that / leverage (both in the profit currency).
    """
    contract = float(symbol.get("trade_contract_size", 0.0))
    mode = int(symbol.get("trade_calc_mode", 0))
    base, profit = symbol.get("currency_margin") or symbol.get("currency_base"), symbol.get("currency_profit")
    if not contract > 0 or not leverage > 0:
        return None
    if mode in (0, 5):  # FOREX, FOREX_NO_LEVERAGE
        in_base = volume * contract / (leverage if mode == 0 else 1.0)
        if base == deposit_currency:
            return in_base
        return in_base * price if profit == deposit_currency else None
    if mode in (2, 4):  # CFD, CFDLEVERAGE
        in_profit = volume * contract * price / (leverage if mode == 4 else 1.0)
        return in_profit if profit == deposit_currency else None
    return None
