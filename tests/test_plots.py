"""The charts: equity and drawdown per strategy and account, and a replay's price with its
entries and exits. Each PNG is checked to be a real, non-empty PNG of the expected size."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from actors.app.plots import PlotError, curve, drawdown, performance_plot, replay_plot

pytestmark = pytest.mark.timeout(60)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
T0 = 1_767_571_200_000  # 2026-01-05 00:00 UTC
HOUR = 3_600_000


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the IHDR chunk of a PNG; fails the test for anything else."""
    data = path.read_bytes()
    assert len(data) > 10_000, f"{path} is suspiciously small ({len(data)} bytes)"
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR" and data.endswith(b"IEND\xaeB`\x82")
    return struct.unpack(">II", data[16:24])


def trade(i: int, profit: float, strategy: str = "s1", account: int = 1, side: str = "buy") -> dict:
    return {"ticket": 100 + i, "account": account, "strategy_id": strategy, "symbol": "EURUSD", "side": side,
            "volume": 0.1, "open_time": T0 + i * HOUR, "open_price": 1.08 + i * 0.001,
            "close_time": T0 + i * HOUR + HOUR // 2, "close_price": 1.08 + i * 0.001 + profit / 10_000,
            "profit": profit, "reason": "tp" if profit > 0 else "sl"}


def test_curves_step_at_each_close_from_the_initial_balance():
    times, equity = curve([trade(1, 50.0), trade(0, -20.0), trade(2, -40.0)], 10_000.0)
    assert equity.tolist() == [10_000.0, 9_980.0, 10_030.0, 9_990.0]
    assert times[0].timestamp() * 1000 == T0 and times == sorted(times)
    assert drawdown(equity).tolist() == [0.0, -20.0, 0.0, -40.0]
    assert curve([trade(0, 5.0)], None)[1].tolist() == [0.0, 5.0]  # no initial balance: the net profit


def test_a_performance_plot_is_a_png_of_every_curve(tmp_path):
    trades = [trade(0, 30.0), trade(1, -10.0, "s2", 2, "sell"), trade(2, 25.0), trade(3, -60.0, "s2", 2)]
    report = {"strategies": [{"strategy_id": "s1", "initial_balance": 10_000.0},
                             {"strategy_id": "s2", "initial_balance": 5_000.0}],
              "accounts": [{"account": 1, "initial_balance": 10_000.0}, {"account": 2, "initial_balance": 5_000.0}],
              "trades": trades}
    path = performance_plot(report, tmp_path / "performance.png")
    assert png_size(path) == (1300, 700)


def test_a_replay_plot_is_a_png_of_price_entries_exits_and_equity(tmp_path):
    times = T0 + np.arange(0, 48 * HOUR, 60_000)
    prices = 1.08 + np.cumsum(np.random.default_rng(1).normal(0, 0.0001, len(times)))
    report = {"strategies": [{"strategy_id": "replay", "initial_balance": 10_000.0}],
              "trades": [trade(0, 12.0), trade(5, -8.0, side="sell"), trade(9, 20.0)]}
    path = replay_plot(times, prices, report, tmp_path / "replay.png", symbol="EURUSD")
    assert png_size(path) == (1200, 700)


def test_nothing_to_plot_or_nowhere_to_write_is_one_line(tmp_path):
    with pytest.raises(PlotError, match="no closed trades"):
        performance_plot({"strategies": [], "accounts": [], "trades": []}, tmp_path / "x.png")
    with pytest.raises(PlotError, match="cannot write the plot"):
        performance_plot({"strategies": [{"strategy_id": "s1", "initial_balance": 1.0}], "accounts": [],
                          "trades": [trade(0, 1.0)]}, tmp_path / "missing" / "x.png")
    with pytest.raises(PlotError, match="no prices"):
        replay_plot([], [], {"trades": []}, tmp_path / "y.png")
