"""Correlation between symbols and net currency exposure (pure, numpy).

The rule for a new order (`decide`):
* Each open position on *another* symbol is compared with the order by its effective
  correlation c = ρ × d, where ρ is the Pearson correlation of the two symbols' log returns
  over the last `window` bars and d = +1 for the same side, −1 for opposite sides. (Stacking
  the same symbol is governed by max_positions and max_lot_size, not here.)
* c > max_correlation: the order adds to exposure already held (long EURUSD + long GBPUSD,
  or long EURUSD + short USDCHF). With action "refuse" it is refused. With "reduce" its
  volume is scaled by (1 − c_max) / (1 − max_correlation), c_max the highest such c: a
  trade right at the threshold keeps its volume, a perfectly correlated one gets none.
* c < −max_correlation: the order hedges that position (long EURUSD + short GBPUSD); allowed.
* Too few common bars for a pair (fewer than MIN_RETURNS returns): that pair is skipped.

Currency exposure: a long lot of EURUSD is +1 EUR and −1 USD; long EURUSD + long GBPUSD
is −2 USD. In lots (a proxy across symbols of different contract sizes), or in notional
units of each currency with contract sizes and prices.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

MIN_RETURNS = 20
DEFAULT_WINDOW = 100
REDUCE = "reduce"
REFUSE = "refuse"

Position = tuple[str, str, float]  # (symbol, "buy" | "sell", volume)


@dataclass(frozen=True, slots=True, kw_only=True)
class CorrelationDecision:
    volume: float  # the volume allowed: the order's, reduced, or 0.0 when refused
    reason: str | None = None  # set: refused
    warning: str | None = None  # set: allowed with a remark (reduced, or hedging)
    why: str = ""  # the correlation that refused or reduced, in words
    correlated: tuple[tuple[str, float], ...] = ()  # (symbol, effective c) above the threshold
    hedges: tuple[tuple[str, float], ...] = ()


def log_returns(closes: Sequence[float]) -> np.ndarray:
    prices = np.asarray(closes, dtype=float)
    if prices.size < 2 or not np.all(prices > 0):
        return np.empty(0)
    return np.diff(np.log(prices))


def correlation(closes_a: Sequence[float], closes_b: Sequence[float], *, window: int = DEFAULT_WINDOW,
                min_returns: int = MIN_RETURNS) -> float | None:
    """Pearson ρ of log returns over the last `window` bars both series share (aligned at the
    end: both are bars of the same timeframe up to now); None with too little data or a flat series."""
    n = min(len(closes_a), len(closes_b), window + 1)
    if n - 1 < min_returns:
        return None
    a, b = log_returns(list(closes_a)[-n:]), log_returns(list(closes_b)[-n:])
    if a.size < min_returns or a.size != b.size or np.std(a) == 0 or np.std(b) == 0:
        return None
    rho = float(np.corrcoef(a, b)[0, 1])
    return rho if math.isfinite(rho) else None


@dataclass
class Correlations:
    """ρ of pairs of symbols over a set of closes, each pair computed once and shared by every
    order checked until the closes change (once per bar of the correlation timeframe): the
    RiskGuard makes a new one when they do."""
    closes: Mapping[str, Sequence[float]]
    _rho: dict[tuple[str, str, int], float | None] = field(default_factory=dict)

    def rho(self, a: str, b: str, window: int) -> float | None:
        key = (a, b, window)
        if key not in self._rho:
            self._rho[key] = correlation(self.closes[a], self.closes[b], window=window)
        return self._rho[key]


def symbol_currencies(symbol: str, currencies: Mapping[str, tuple[str, str]] | None = None) -> tuple[str, str]:
    """(base, profit) currencies: from the symbol's properties, else from a 6-letter FX name."""
    if currencies and symbol in currencies:
        base, profit = currencies[symbol]
        return str(base), str(profit)
    if len(symbol) >= 6 and symbol[:6].isalpha():
        return symbol[:3].upper(), symbol[3:6].upper()
    return symbol, ""


def currency_exposure(positions: Sequence[Position], currencies: Mapping[str, tuple[str, str]] | None = None, *,
                      contract_sizes: Mapping[str, float] | None = None,
                      prices: Mapping[str, float] | None = None) -> dict[str, float]:
    """Net exposure per currency: long base, short profit currency, signed by side.

    In lots by default; with `contract_sizes` and `prices`, in units of each currency
    (1 lot EURUSD at 1.08 long = +100 000 EUR, −108 000 USD).
    """
    exposure: dict[str, float] = {}
    for symbol, side, volume in positions:
        base, profit = symbol_currencies(symbol, currencies)
        sign = 1.0 if side == "buy" else -1.0
        base_amount = quote_amount = sign * float(volume)
        if contract_sizes is not None and prices is not None:
            base_amount *= float(contract_sizes[symbol])
            quote_amount = base_amount * float(prices[symbol])
        exposure[base] = exposure.get(base, 0.0) + base_amount
        if profit:
            exposure[profit] = exposure.get(profit, 0.0) - quote_amount
    return {currency: round(amount, 8) for currency, amount in exposure.items()}


def decide(symbol: str, side: str, volume: float, positions: Sequence[Position],
           closes: Mapping[str, Sequence[float]], *, max_correlation: float, action: str = REDUCE,
           window: int = DEFAULT_WINDOW,
           rho_of: Callable[[str, str, int], float | None] | None = None) -> CorrelationDecision:
    """Whether a new `side` order of `volume` lots on `symbol` may go, given the open `positions`.
    `rho_of(a, b, window)`, when given, answers ρ from pairs already computed (`Correlations.rho`)."""
    correlated: dict[str, tuple[float, str]] = {}
    hedges: dict[str, float] = {}
    # Positions on the same symbol and side are judged alike: each such pair once, in order.
    for other, other_side in dict.fromkeys((other, other_side) for other, other_side, _ in positions):
        if other == symbol or symbol not in closes or other not in closes:
            continue
        rho = rho_of(symbol, other, window) if rho_of is not None else \
            correlation(closes[symbol], closes[other], window=window)
        if rho is None:
            continue
        c = rho if other_side == side else -rho
        if c > max_correlation and c > correlated.get(other, (-2.0, ""))[0]:
            correlated[other] = (c, other_side)
        elif c < -max_correlation:
            hedges[other] = min(c, hedges.get(other, 0.0))
    pairs = tuple(sorted(((s, round(c, 4)) for s, (c, _) in correlated.items()), key=lambda p: -p[1]))
    hedge_pairs = tuple(sorted(((s, round(c, 4)) for s, c in hedges.items()), key=lambda p: p[1]))
    if not correlated:
        warning = None
        if hedges:
            warning = f"{symbol} {side} hedges open " + ", ".join(f"{s} ({c:+.2f})" for s, c in hedge_pairs)
        return CorrelationDecision(volume=volume, warning=warning, hedges=hedge_pairs)
    top, (c_max, top_side) = max(correlated.items(), key=lambda item: item[1][0])
    why = f"{symbol} {side} correlates {c_max:.2f} with open {top} {top_side} (max_correlation {max_correlation:g})"
    if action == REFUSE:
        return CorrelationDecision(volume=0.0, reason=why, why=why, correlated=pairs, hedges=hedge_pairs)
    factor = min(1.0, max(0.0, (1.0 - c_max) / (1.0 - max_correlation)))
    reduced = volume * factor
    return CorrelationDecision(volume=reduced, warning=f"volume reduced from {volume:g} to {reduced:.4g}: {why}",
                               why=why, correlated=pairs, hedges=hedge_pairs)
