"""Performance figures from a list of closed trades (pure).

A trade is one closing deal with its realised profit (a partial close is a trade of its
own, as MT5's history reports it). The figures are the basic ones of PERFORMANCE_REQUEST;
the full report (Sharpe of daily returns, streaks) grows here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def summarize(trades: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    profits = [float(t["profit"]) for t in sorted(trades, key=lambda t: (t["close_time"], t.get("id", 0)))]
    wins = [p for p in profits if p > 0]
    losses = [p for p in profits if p < 0]
    gross_profit = sum(wins)
    gross_loss = -sum(losses)
    count = len(profits)
    return {
        "trades": count,
        "wins": len(wins),
        "losses": len(losses),
        "win_rate": len(wins) / count if count else 0.0,
        "net_profit": round(gross_profit - gross_loss, 2),
        "gross_profit": round(gross_profit, 2),
        "gross_loss": round(gross_loss, 2),
        "profit_factor": (gross_profit / gross_loss) if gross_loss else None,
        "max_drawdown": round(max_drawdown(profits), 2),
        "sharpe": None,  # needs daily returns: the performance-report issue
        "expectancy": round((gross_profit - gross_loss) / count, 2) if count else 0.0,
    }


def max_drawdown(profits: Iterable[float]) -> float:
    """Largest fall of cumulative realised profit from its running peak, in money."""
    peak = equity = worst = 0.0
    for p in profits:
        equity += p
        peak = max(peak, equity)
        worst = max(worst, peak - equity)
    return worst
