"""Reports you look at: PNG charts of a performance report and of a replay (matplotlib).

`performance_plot`: the equity curve and the drawdown under it, one line per strategy and
per account, from a PERFORMANCE_REQUEST reply with its trades (`ctl performance --plot`).
`replay_plot`: the replayed price with every entry and exit marked, and the equity curve
below (`run.py replay --plot`). Curves step at each trade's close, starting from the initial
balance when the report knows it (from 0 otherwise, then they show the net profit).

Figures are drawn on matplotlib's Agg canvas without pyplot: no display, no global figure
state, safe beside the actor threads. Any file name gets PNG bytes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

MAX_PRICE_POINTS = 20_000  # a tick file's price line is thinned to this many points
ENTRY_MARKERS = {"buy": ("^", "tab:green"), "sell": ("v", "tab:red")}


class PlotError(RuntimeError):
    """Nothing to plot, or the file cannot be written; one line."""


def curve(trades: Sequence[dict[str, Any]], initial: float | None) -> tuple[list[dt.datetime], np.ndarray]:
    """(times, equity) stepping at each close; the first point is the first opening at `initial`."""
    ordered = sorted(trades, key=lambda t: (t.get("close_time") or 0))
    start = min((t.get("open_time") or t.get("close_time") or 0) for t in ordered)
    times = [_when(start)] + [_when(t.get("close_time") or 0) for t in ordered]
    profits = np.array([0.0] + [float(t.get("profit") or 0.0) for t in ordered])
    return times, (initial or 0.0) + np.cumsum(profits)


def drawdown(equity: np.ndarray) -> np.ndarray:
    """Equity below its running peak (0 or negative), in money."""
    return equity - np.maximum.accumulate(equity)


def performance_plot(report: dict[str, Any], path: Path) -> Path:
    """Strategies on the left, accounts on the right: equity above, drawdown below."""
    trades = report.get("trades") or []
    if not trades:
        raise PlotError("nothing to plot: no closed trades in this report yet")
    fig = Figure(figsize=(13, 7), layout="constrained")
    axes = fig.subplots(2, 2, sharex=True, height_ratios=(3, 1))
    columns = (("strategies", "strategy_id", "strategy"), ("accounts", "account", "account"))
    for (top, bottom), (key, field, noun) in zip(axes.T, columns):
        initials = []
        for row in report.get(key, []):
            own = [t for t in trades if t.get(field) == row[field]]
            if not own:
                continue
            initials.append(row.get("initial_balance"))
            times, equity = curve(own, row.get("initial_balance"))
            top.step(times, equity, where="post", label=f"{noun} {row[field]}")
            bottom.step(times, drawdown(equity), where="post", label=f"{noun} {row[field]}")
        top.set_title(f"Equity per {noun}")
        top.set_ylabel("equity" if any(initials) else "net profit")
        bottom.set_ylabel("drawdown")
        if initials:
            top.legend(loc="best", fontsize="small")
        _time_axis(bottom)
        for ax in (top, bottom):
            ax.grid(True, alpha=0.3)
    fig.suptitle("Performance: curves step at each trade's close")
    return _save(fig, path)


def replay_plot(times_ms: Sequence[int] | np.ndarray, prices: Sequence[float] | np.ndarray,
                report: dict[str, Any], path: Path, *, symbol: str = "") -> Path:
    times_ms, prices = np.asarray(times_ms, dtype=np.int64), np.asarray(prices, dtype=np.float64)
    if not len(times_ms):
        raise PlotError("nothing to plot: the replay had no prices")
    step = max(1, len(times_ms) // MAX_PRICE_POINTS)
    fig = Figure(figsize=(12, 7), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    top.plot([_when(t) for t in times_ms[::step]], prices[::step], color="0.35", linewidth=0.8, label=symbol or "price")
    trades = report.get("trades") or []
    for side, (marker, color) in ENTRY_MARKERS.items():
        own = [t for t in trades if t.get("side") == side and t.get("open_time")]
        if own:
            top.scatter([_when(t["open_time"]) for t in own], [t["open_price"] for t in own], marker=marker,
                        color=color, s=40, zorder=3, label=f"{side} entry")
    closed = [t for t in trades if t.get("close_time")]
    if closed:
        top.scatter([_when(t["close_time"]) for t in closed], [t["close_price"] for t in closed], marker="x",
                    color="black", s=30, zorder=3, label="exit")
    for t in closed:
        if t.get("open_time"):
            top.plot([_when(t["open_time"]), _when(t["close_time"])], [t["open_price"], t["close_price"]],
                     color="tab:green" if (t.get("profit") or 0) > 0 else "tab:red", linewidth=0.8, linestyle=":")
    top.set_title(f"Replay{f' of {symbol}' if symbol else ''}: {len(trades)} trade(s)")
    top.set_ylabel("price")
    top.legend(loc="best", fontsize="small")
    row = (report.get("strategies") or [{}])[0]
    if closed:
        times, equity = curve(closed, row.get("initial_balance"))
        bottom.step(times, equity, where="post", color="tab:blue")
    bottom.set_ylabel("equity")
    _time_axis(bottom)
    for ax in (top, bottom):
        ax.grid(True, alpha=0.3)
    return _save(fig, path)


def _time_axis(ax: Any) -> None:
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.set_xlabel("UTC")


def _when(ms: int | float) -> dt.datetime:
    return dt.datetime.fromtimestamp(float(ms) / 1000, dt.timezone.utc)


def _save(fig: Figure, path: Path) -> Path:
    path = Path(path)
    try:
        fig.savefig(path, format="png", dpi=100)
    except OSError as exc:
        raise PlotError(f"cannot write the plot {path}: {exc.strerror or exc}") from None
    return path
