"""Performance figures from a list of closed trades (pure): the PERFORMANCE_REQUEST report.

A trade is one closing deal with its realised profit (a partial close is a trade of its
own, as MT5's history reports it). Trades are taken in close order: `close_time` (ms UTC),
then `id` when present, so the same trades give the same figures however they are listed.

Conventions, for every figure of `summarize`:
* Money is rounded to cents. Losses are positive amounts (`gross_loss`, `average_loss`,
  `largest_loss`, `max_drawdown`). Percentages are percent (5.0 is 5 %), as in the risk
  limits; `win_rate` is a fraction (0.5 is half the trades).
* A breakeven trade (profit exactly 0) is neither a win nor a loss, but it counts in
  `trades` (so in `win_rate` and `expectancy`) and it ends a winning or losing streak.
* A figure that does not exist is None, never 0 or infinity (msgpack and JSON have no
  infinity): `profit_factor` without losses, `max_drawdown_pct` and `sharpe` without a
  starting balance.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

TRADING_DAYS_PER_YEAR = 252
MS_PER_DAY = 86_400_000
SATURDAY = 5  # weekday numbers as datetime's: Monday 0 ... Sunday 6


def summarize(trades: Iterable[Mapping[str, Any]], *, initial_balance: float | None = None,
              tz_offset_s: int = 0) -> dict[str, Any]:
    """The report of `trades`.

    `initial_balance` is the equity before the first trade: the start of the realised
    equity curve (balance + cumulative profit) on which `max_drawdown_pct` and `sharpe` are
    measured. `tz_offset_s` is the trade server's offset from UTC; it decides which server
    day a trade closes on (`daily_returns`).

    Keys: trades, wins, losses, breakeven, win_rate, net_profit, gross_profit, gross_loss,
    profit_factor (gross_profit / gross_loss; None when nothing was lost), max_drawdown,
    max_drawdown_pct, sharpe (`sharpe_ratio`), expectancy (net_profit / trades),
    average_win, average_loss (0.0 when there is none), largest_win, largest_loss,
    longest_winning_streak, longest_losing_streak (consecutive trades in close order).
    """
    ordered = sorted(trades, key=lambda t: (t["close_time"], t.get("id", 0)))
    profits = [float(t["profit"]) for t in ordered]
    wins = [p for p in profits if p > 0]
    losses = [-p for p in profits if p < 0]
    count = len(profits)
    gross_profit, gross_loss = sum(wins), sum(losses)
    return {
        "trades": count,
        "wins": len(wins),
        "losses": len(losses),
        "breakeven": count - len(wins) - len(losses),
        "win_rate": len(wins) / count if count else 0.0,
        "net_profit": _money(gross_profit - gross_loss),
        "gross_profit": _money(gross_profit),
        "gross_loss": _money(gross_loss),
        "profit_factor": gross_profit / gross_loss if gross_loss else None,
        "max_drawdown": _money(max_drawdown(profits)),
        "max_drawdown_pct": max_drawdown_pct(profits, initial_balance),
        "sharpe": sharpe_ratio(daily_returns(ordered, initial_balance, tz_offset_s)),
        "expectancy": _money(_mean(profits)),
        "average_win": _money(_mean(wins)),
        "average_loss": _money(_mean(losses)),
        "largest_win": _money(max(wins, default=0.0)),
        "largest_loss": _money(max(losses, default=0.0)),
        "longest_winning_streak": longest_streak(profits, winning=True),
        "longest_losing_streak": longest_streak(profits, winning=False),
    }


def max_drawdown(profits: Iterable[float]) -> float:
    """Largest fall of cumulative realised profit from its running peak, in money.

    The curve starts at 0 (the starting balance), so a first losing trade is a drawdown.
    """
    peak = equity = worst = 0.0
    for p in profits:
        equity += p
        peak = max(peak, equity)
        worst = max(worst, peak - equity)
    return worst


def max_drawdown_pct(profits: Iterable[float], initial_balance: float | None) -> float | None:
    """Largest fall of equity below its running peak, in percent of that peak.

    Equity starts at `initial_balance` and moves by each trade's profit. This is the worst
    (peak - equity) / peak over the curve, which need not be where the money drawdown is
    worst. None without a positive starting balance (there is nothing to divide by).
    """
    if initial_balance is None or initial_balance <= 0:
        return None
    peak = equity = float(initial_balance)
    worst = 0.0
    for p in profits:
        equity += p
        peak = max(peak, equity)
        worst = max(worst, (peak - equity) / peak)
    return round(100.0 * worst, 2)


def daily_returns(trades: Sequence[Mapping[str, Any]], initial_balance: float | None,
                  tz_offset_s: int = 0) -> list[float]:
    """Each server day's realised return: the day's profit / the equity at the day's start.

    `trades` are in close order. A trade belongs to the server day of its `close_time`
    shifted by `tz_offset_s`. The days run from the first trade's day to the last one's,
    inclusive: every weekday (0.0 when nothing closed; FX trades Monday to Friday) plus
    any weekend day on which a trade did close. Equity at a day's start is
    `initial_balance` plus every earlier day's profit. Empty without a positive starting
    balance, or once equity at a day's start is not positive (a return of a blown account
    means nothing).
    """
    if not trades or initial_balance is None or initial_balance <= 0:
        return []
    by_day: dict[int, float] = {}
    for t in trades:
        day = (int(t["close_time"]) + tz_offset_s * 1000) // MS_PER_DAY
        by_day[day] = by_day.get(day, 0.0) + float(t["profit"])
    equity = float(initial_balance)
    returns = []
    for day in range(min(by_day), max(by_day) + 1):
        if day not in by_day and _weekday(day) >= SATURDAY:
            continue
        if equity <= 0:
            return []
        profit = by_day.get(day, 0.0)
        returns.append(profit / equity)
        equity += profit
    return returns


def sharpe_ratio(returns: Sequence[float]) -> float | None:
    """Annualised Sharpe ratio of daily returns, risk-free rate 0:
    mean / sample standard deviation (n - 1) * sqrt(252).

    None with fewer than 2 days or when every day returned the same (no deviation).
    """
    if len(returns) < 2:
        return None
    deviation = statistics.stdev(returns)
    if deviation == 0:
        return None
    return statistics.fmean(returns) / deviation * math.sqrt(TRADING_DAYS_PER_YEAR)


def longest_streak(profits: Iterable[float], *, winning: bool) -> int:
    """Most consecutive winning (or losing) trades; a breakeven trade ends either streak."""
    longest = run = 0
    for p in profits:
        run = run + 1 if (p > 0 if winning else p < 0) else 0
        longest = max(longest, run)
    return longest


def _weekday(day: int) -> int:
    return (day + 3) % 7  # day 0, 1970-01-01, was a Thursday


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _money(value: float) -> float:
    return round(value, 2) + 0.0  # + 0.0: no -0.0 in a report
