"""Market data through the live path: the executor's bars equal the terminal's, from the
history on, across the bar that was forming when the history came, and across lost ticks."""

from __future__ import annotations

from tests.conftest import wait_for
from tests.test_trading_e2e import SMA_CROSS


def executor_bars(executor, login):
    market_data = executor.service.directory.get("market_data")
    series = market_data.proxy().series.get(timeout=5)[(login, "EURUSD", "M1")]
    columns = series.builder.series.columns()
    return {int(t): (o, h, lo, c, int(v)) for t, o, h, lo, c, v in zip(
        columns["time"], columns["open"], columns["high"], columns["low"], columns["close"], columns["tick_volume"])}


def terminal_bars(executor, count):
    # Read from another thread while the terminal runs: skip the forming bar and the newest
    # closed one, which may be mid-update (and appear twice if it closes during the read).
    rates = executor.sim.market.copy_rates_from_pos("EURUSD", "M1", 2, count)
    return {int(t): (o, h, lo, c, int(v)) for t, o, h, lo, c, v in zip(
        rates["time"], rates["open"], rates["high"], rates["low"], rates["close"], rates["tick_volume"])}


def test_bars_survive_lost_tick_publishes(executor):
    login = executor.status()["accounts"][0]["login"]
    executor.ok("START_STRATEGY", {"strategy_id": "watcher", "strategy": SMA_CROSS})
    strategy = wait_for(lambda: executor.service.directory.get("strategy:watcher"), message="the strategy")
    wait_for(lambda: strategy.proxy().ready.get(timeout=5), message="its history")
    market_data = executor.service.directory.get("market_data")
    start = max(executor_bars(executor, login))

    executor.sim.drop_tick_batches = 40  # lose several publishes in a row, every symbol
    wait_for(lambda: market_data.proxy().sequencers.get(timeout=5)[(login, "EURUSD")].gaps >= 1,
             message="the gap to be noticed")
    wait_for(lambda: sum(t > start for t in executor_bars(executor, login)) >= 7, timeout=20,
             message="seven more bars")
    ours = executor_bars(executor, login)
    theirs = terminal_bars(executor, 400)
    newest = max(ours)  # its slot in the ring may be mid-write while we read from this thread
    common = [t for t in sorted(ours) if t < newest and t in theirs]
    assert sum(t > start for t in common) >= 5
    # Every bar: the history, the bar that was forming when the history came, those around the gap.
    for t in common:
        assert ours[t] == theirs[t], f"bar {t} differs from the terminal's"
