"""Replay: history files, history as ticks, and a replay through the live path."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from bridge.candles import CandleBuilder
from actors.app.replay import ReplayError, replay, replay_file
from actors.control.views import to_text
from actors.control.ctl import UsageError
from bridge.history.bars import HistoryFileError, bar_period_ms, load_bars
from bridge.history.replay_feed import ReplayFeed, bar_ticks
from bridge.sim.clock import ManualClock

ROOT = Path(__file__).resolve().parent.parent
H1_STRATEGY = json.loads((ROOT / "examples" / "sma_cross_h1.json").read_text())

MT5_EXPORT = (
    "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n"
    "2026.01.05\t00:00:00\t1.08500\t1.08518\t1.08213\t1.08270\t1384\t0\t11\n"
    "2026.01.05\t01:00:00\t1.08270\t1.08272\t1.08108\t1.08108\t1942\t0\t12\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_mt5_export_is_read_in_server_time(tmp_path):
    bars = load_bars(write(tmp_path, "a.csv", MT5_EXPORT), tz_offset_s=7200)
    # 2026-01-05 00:00 server time at UTC+2 is 2026-01-04 22:00 UTC.
    assert bars["time"].tolist() == [1767564000000, 1767567600000]
    assert bars["open"].tolist() == [1.085, 1.0827] and bars["spread"].tolist() == [11.0, 12.0]
    assert bars["tick_volume"].tolist() == [1384.0, 1942.0]
    assert bar_period_ms(bars["time"]) == 3_600_000


def test_mt5_daily_export_has_no_time_column(tmp_path):
    text = ("<DATE>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n"
            "2026.01.05\t1.085\t1.09\t1.08\t1.088\t50000\t0\t10\n2026.01.06\t1.088\t1.09\t1.08\t1.081\t40000\t0\t9\n")
    bars = load_bars(write(tmp_path, "d1.csv", text))
    assert bars["time"].tolist() == [1767571200000, 1767657600000] and bar_period_ms(bars["time"]) == 86_400_000


@pytest.mark.parametrize("stamp", ["1767571200", "1767571200000", "2026-01-05T00:00:00", "2026-01-05 02:00:00+02:00"])
def test_plain_csv_times(tmp_path, stamp):
    bars = load_bars(write(tmp_path, "p.csv", f"time,open,high,low,close,volume\n{stamp},1.1,1.2,1.0,1.15,7\n"))
    assert bars["time"].tolist() == [1767571200000] and bars["tick_volume"].tolist() == [7.0]


@pytest.mark.parametrize(("text", "says"), [
    ("", "is empty"),
    ("time,open,high,low\n1,1,1,1\n", "missing ['close']"),
    ("time,open,high,low,close,volume\n1767571200,1.1,1.0,1.2,1.15,7\n", "not a valid OHLC"),
    ("time,open,high,low,close,volume\n1767571200,1.1,1.2,1.0,abc,7\n", "p.csv:2: bad row"),
    ("time,open,high,low,close,volume\n1767571200,1.1,1.2,1.0,1.1,7\n1767571200,1.1,1.2,1.0,1.1,7\n",
     "p.csv:3: a second bar at 2026-01-05 00:00:00 UTC (the first on line 2)"),
    ("time,open,high,low,close,volume\n1767571200,1.1,1.2,1.0,1.1,7\n\n1767574800,1.1,1.2,1.0,1.1,7\n"
     "1767571260,1.1,1.2,1.0,1.1,7\n", "p.csv:5: time goes back (2026-01-05 00:01:00 UTC after 2026-01-05 01:00:00 UTC"),
    ("<DATE>\t<TIME>\t<OPEN>\n2026.01.05\t00:00:00\t1.1\n", "MT5 export needs columns"),
    (MT5_EXPORT.replace("2026.01.05\t01", "05/01/2026\t01"), "p.csv:3: not an MT5 bar line"),
])
def test_bad_history_files_name_the_problem(tmp_path, text, says):
    with pytest.raises(HistoryFileError, match=None) as caught:
        load_bars(write(tmp_path, "p.csv", text))
    assert says in str(caught.value)


def test_ticks_of_a_bar_rebuild_exactly_that_bar():
    rng = np.random.default_rng(3)
    n = 50
    close = 1.1 + np.cumsum(rng.normal(0, 0.001, n))
    open_ = np.r_[1.1, close[:-1]]
    bars = {"time": 1_767_571_200_000 + np.arange(n) * 3_600_000, "open": open_, "close": close,
            "high": np.maximum(open_, close) + 0.0004, "low": np.minimum(open_, close) - 0.0003,
            "spread": np.full(n, 10.0), "tick_volume": np.zeros(n)}
    bars = {k: (np.round(v, 5) if k not in ("time", "spread", "tick_volume") else v) for k, v in bars.items()}
    builder = CandleBuilder("H1", point=0.00001)
    for i, ticks in enumerate(bar_ticks("EURUSD", bars, 3_600_000, point=0.00001, digits=5, default_spread_points=10)):
        assert ticks[0][1:3] == (int(bars["time"][i]), bars["open"][i])  # the open tick opens the bar
        assert ticks[-1][1] < int(bars["time"][i]) + 3_600_000  # the close stays inside the bar
        assert all(a[1] < b[1] for a, b in zip(ticks, ticks[1:]))  # strictly in time order
        for _, t, bid, ask in ticks:
            assert ask == pytest.approx(bid + 0.0001)
            builder.on_tick(t, bid, ask)
    rebuilt = builder.series.arrays()
    for name in ("open", "high", "low", "close"):
        assert rebuilt._asdict()[name].tolist() == bars[name][:-1].tolist()  # the last bar is still forming


def test_a_held_push_stops_where_the_trade_server_changed_until_released():
    """The terminal's loop takes a push tick by tick (each reaches the trade server before the
    next is given); the ticks from `hold_from` on go in only if the ones before changed nothing."""
    feed, clock, version = ReplayFeed(), ManualClock(0), [0]
    feed.clock, feed.watch = clock, lambda: version[0]
    ticks = [("EURUSD", t, 1.1, 1.1001) for t in (10, 20, 30, 40)]

    def loop_step() -> list:  # what SimTerminal._advance_market does, with a stop hit on time 20
        taken = []
        for tick in feed.advance(0):
            taken.append(tick[1])
            version[0] += tick[1] == 20
        return taken

    feed.push(ticks[:3], hold_from=2)
    assert not feed.wait_drained(0)  # nothing taken yet
    assert loop_step() == [10, 20] and feed.held and clock.now_ms() == 20
    assert feed.wait_drained(0)  # the driver hears the loop stopped at the hold
    assert loop_step() == []  # held: the loop takes nothing until released
    feed.release()
    assert loop_step() == [30] and not feed.held and feed.wait_drained(0) and clock.now_ms() == 30
    feed.push(ticks[3:], hold_from=0)  # nothing changed before the hold: straight through
    assert loop_step() == [40] and not feed.held and feed.wait_drained(0)
    feed.close()


def test_the_synthetic_h1_generator_writes_the_readme_figures_file_byte_for_byte(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("make_synthetic_h1", ROOT / "examples" / "make_synthetic_h1.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = "\n".join(module.synthetic_bars(5000)) + "\n"
    # The file the README's 5 000-bar replay figure was measured on.
    assert hashlib.sha256(text.encode()).hexdigest() == "1d1deab57217daf982aa5a16d69ad687a85af51293a76445a32c42c83660d09d"
    module.main(["--bars", "60", "--out", str(tmp_path / "h1.csv")])
    assert (tmp_path / "h1.csv").read_text() == "\n".join(text.splitlines()[:61]) + "\n"
    module.main(["--bars", "60"])
    assert capsys.readouterr().out == (tmp_path / "h1.csv").read_text()
    bars = load_bars(tmp_path / "h1.csv", tz_offset_s=7200)
    assert len(bars["time"]) == 60 and bar_period_ms(bars["time"]) == 3_600_000
    weekdays = {datetime.fromtimestamp(t / 1000 + 7200, tz=timezone.utc).weekday() for t in bars["time"].tolist()}
    assert weekdays <= {0, 1, 2, 3, 4}
    assert bars["open"][1:].tolist() == bars["close"][:-1].tolist()  # each bar opens at the last close


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    rng = np.random.default_rng(11)
    path = tmp_path_factory.mktemp("replay") / "EURUSD_H1.csv"
    rows, price, t = ["time,open,high,low,close,volume"], 1.08, 1_767_571_200
    for _ in range(400):
        close = price + rng.normal(0, 0.0015)
        high, low = max(price, close) + abs(rng.normal(0, 0.0006)), min(price, close) - abs(rng.normal(0, 0.0006))
        rows.append(f"{t},{price:.5f},{high:.5f},{low:.5f},{close:.5f},100")
        price, t = round(close, 5), t + 3600
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.timeout(120)
def test_a_replay_is_the_same_on_every_run_and_fills_at_bar_opens(history):
    first = replay(history, H1_STRATEGY)
    second, shown = replay_file(str(ROOT / "examples" / "sma_cross_h1.json"), csv_path=history)  # `run.py replay`
    text = to_text(shown)
    assert first["trades"] and first["trades"] == second["trades"]
    assert text.startswith("400 bars replayed; ") and "\n\nSTRATEGIES" in text
    assert first["strategies"] == second["strategies"] and first["bars"] == 400
    bars = load_bars(history)
    opens = dict(zip(bars["time"].tolist(), bars["open"].tolist()))
    for trade in first["trades"]:
        # An entry is decided on a closed bar and fills at the next bar's opening tick.
        assert trade["open_time"] in opens
        assert trade["open_price"] == pytest.approx(opens[trade["open_time"]] + (0.0001 if trade["side"] == "buy"
                                                                                 else 0.0), abs=1e-9)
    summary = first["strategies"][0]
    assert summary["trades"] == len(first["trades"])
    assert summary["net_profit"] == pytest.approx(sum(t["profit"] for t in first["trades"]), abs=0.01)


def test_replay_refuses_what_it_cannot_replay(history):
    with pytest.raises(UsageError, match="the strategy definition is not valid JSON"):
        replay_file("{entry_long: sma(10) > 1", csv_path=history)
    with pytest.raises(ReplayError, match="60-minute bars; a M5 strategy"):
        replay(history, {**H1_STRATEGY, "timeframe": "M5"})
    with pytest.raises(ReplayError, match="not simulated"):
        replay(history, H1_STRATEGY, symbol="BTCUSD")
    with pytest.raises(ReplayError, match="strategy refused: BAD_REQUEST"):
        replay(history, {**H1_STRATEGY, "rules": {"entry_long": "sma(10) >"}})


@pytest.mark.timeout(120)
def test_run_py_replay_prints_the_report_as_json(history):
    result = subprocess.run([sys.executable, str(ROOT / "run.py"), "replay", "--csv", str(history), "--strategy",
                             str(ROOT / "examples" / "sma_cross_h1.json"), "--json"],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["bars"] == 400 and report["trades"] and report["strategies"][0]["strategy_id"] == "replay"
    no_strategy = subprocess.run([sys.executable, str(ROOT / "run.py"), "replay", "--csv", str(history),
                                  "--strategy", "/nonexistent.json"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert no_strategy.returncode == 2 and no_strategy.stderr.startswith("run.py: cannot read strategy file")
    missing = subprocess.run([sys.executable, str(ROOT / "run.py"), "replay", "--csv", "/nonexistent.csv",
                              "--strategy", str(ROOT / "examples" / "sma_cross_h1.json")],
                             capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert missing.returncode == 1 and "cannot read /nonexistent.csv" in missing.stderr


def _bar_ticks_one_by_one(symbol, bars, period_ms, *, point, digits, default_spread_points):
    """bar_ticks as it was written first, a bar and a tick at a time: the reference."""
    leg_ms = (period_ms - max(1, period_ms // 20)) / 3
    for i in range(len(bars["time"])):
        t0 = int(bars["time"][i])
        o, h, lo, c = (float(bars[k][i]) for k in ("open", "high", "low", "close"))
        corners = (o, lo, h, c) if c >= o else (o, h, lo, c)
        spread = round((float(bars["spread"][i]) or default_spread_points) * point, digits)
        ticks = [(symbol, t0, o, round(o + spread, digits))]
        for leg, (start, end) in enumerate(zip(corners, corners[1:])):
            steps = max(1, min(8, int(round(abs(end - start) / point))))
            for step in range(1, steps + 1):
                price = round(start + (end - start) * step / steps, digits)
                time_msc = t0 + int(leg_ms * (leg + step / steps))
                if price != ticks[-1][2] or step == steps:
                    ticks.append((symbol, time_msc, price, round(price + spread, digits)))
        yield ticks


@pytest.mark.parametrize(("digits", "scale", "period_ms"), [(5, 0.002, 3_600_000), (3, 0.3, 60_000), (2, 5.0, 86_400_000)])
def test_bar_ticks_computed_for_all_bars_at_once_are_the_ticks_of_one_bar_at_a_time(digits, scale, period_ms):
    rng = np.random.default_rng(digits)
    n, point = 3000, 10.0 ** -digits
    open_ = np.round(1.0 + np.cumsum(rng.normal(0, scale, n)) * 0.01 + 100 * (digits < 5), digits)
    close = np.round(open_ + rng.normal(0, scale, n) * rng.choice([0, 0.01, 1], n), digits)  # some flat bars
    high = np.round(np.maximum(open_, close) + np.abs(rng.normal(0, scale, n)) * rng.choice([0, 0.003, 1], n), digits)
    low = np.round(np.minimum(open_, close) - np.abs(rng.normal(0, scale, n)) * rng.choice([0, 0.003, 1], n), digits)
    bars = {"time": 1_767_571_200_000 + np.arange(n, dtype=np.int64) * period_ms, "open": open_, "high": high,
            "low": low, "close": close, "spread": rng.choice([0.0, 7.0, 15.0], n), "tick_volume": np.zeros(n)}
    args = dict(point=point, digits=digits, default_spread_points=12)
    assert list(bar_ticks("X", bars, period_ms, **args)) == list(_bar_ticks_one_by_one("X", bars, period_ms, **args))
