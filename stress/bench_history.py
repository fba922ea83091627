"""Benchmark: parsing history files (bridge.history_ticks, bridge.history_csv).

Writes a synthetic MT5 "Export ticks" file and a plain tick CSV of a million ticks each, and
an MT5 "Export bars" file of 100k M1 bars, then prints the best-of-N parse time of each.
Runs standalone in well under a minute: `python stress/bench_history.py`.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.history.bars import load_bars  # noqa: E402
from bridge.history.ticks import load_ticks  # noqa: E402

TICKS = 1_000_000
BARS = 100_000
REPEATS = 3
MT5_TICK_HEADER = "<DATE>\t<TIME>\t<BID>\t<ASK>\t<LAST>\t<VOLUME>\t<FLAGS>\n"
MT5_BAR_HEADER = "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n"
START_MS = 1_704_153_600_000  # 2024-01-02 00:00 server time


def _walk(n: int, seed: int) -> np.ndarray:
    return np.round(1.1 * np.exp(np.cumsum(np.random.default_rng(seed).normal(0.0, 2e-5, n))), 5)


def write_mt5_ticks(path: Path) -> None:
    times = START_MS + np.cumsum(np.random.default_rng(1).integers(1, 200, TICKS))
    bid = _walk(TICKS, 2)
    stamps = times.astype("datetime64[ms]").astype(str)  # 2024-01-02T00:00:00.123
    with path.open("w") as out:
        out.write(MT5_TICK_HEADER)
        for stamp, b in zip(stamps, bid):
            day, clock = stamp.split("T")
            out.write(f"{day.replace('-', '.')}\t{clock}\t{b:.5f}\t{b + 0.0001:.5f}\t\t\t6\n")


def write_plain_ticks(path: Path) -> None:
    times = START_MS + np.cumsum(np.random.default_rng(3).integers(1, 200, TICKS))
    bid = _walk(TICKS, 4)
    with path.open("w") as out:
        out.write("time_msc,bid,ask\n")
        out.writelines(f"{t},{b:.5f},{b + 0.0001:.5f}\n" for t, b in zip(times.tolist(), bid.tolist()))


def write_mt5_bars(path: Path) -> None:
    close = _walk(BARS, 5)
    stamps = (START_MS + np.arange(BARS, dtype=np.int64) * 60_000).astype("datetime64[ms]").astype(str)
    with path.open("w") as out:
        out.write(MT5_BAR_HEADER)
        for stamp, c in zip(stamps, close):
            day, clock = stamp.split("T")
            out.write(f"{day.replace('-', '.')}\t{clock[:8]}\t{c:.5f}\t{c + 0.0003:.5f}\t{c - 0.0003:.5f}\t{c:.5f}"
                      f"\t100\t0\t10\n")


def best_seconds(call) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        files = {"MT5 tick export": (Path(tmp) / "ticks_mt5.csv", write_mt5_ticks, load_ticks, TICKS, "ticks"),
                 "plain tick CSV": (Path(tmp) / "ticks_plain.csv", write_plain_ticks, load_ticks, TICKS, "ticks"),
                 "MT5 bar export": (Path(tmp) / "bars_mt5.csv", write_mt5_bars, load_bars, BARS, "M1 bars")}
        print(f"parse time, best of {REPEATS}")
        for name, (path, write, load, count, unit) in files.items():
            write(path)
            seconds = best_seconds(lambda: load(path))
            size_mb = path.stat().st_size / 1e6
            print(f"  {name:16s} {count:>9,} {unit:8s} {size_mb:6.1f} MB  {seconds:6.2f} s  "
                  f"({count / seconds / 1e6:.2f} M rows/s)")


if __name__ == "__main__":
    main()
