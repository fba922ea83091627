"""Write a deterministic synthetic EURUSD H1 bar history in MT5's "Export bars" format.

    python examples/make_synthetic_h1.py --out /tmp/EURUSD_H1_5000.csv        # 5 000 bars
    python examples/make_synthetic_h1.py --bars 1000 > /tmp/EURUSD_H1_1000.csv

The file behind the README's replay figure (`run.py replay --csv ... --strategy
examples/sma_cross_h1.json`). Bars are hourly from Monday 2026-01-05 00:00, weekdays only (a
weekend hour makes no bar); each bar opens at the previous close and closes a normal step of
120 points (sd) away, its high and low reach a half-normal 50 points (sd) beyond the body;
tick volume 800-2999, spread 5-14 points. Seed 7: same arguments, same file, byte for byte.
Without --out the bars go to standard output.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

import numpy as np

HEADER = "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>"
START = dt.datetime(2026, 1, 5, 0, 0)
START_POINTS = 108_500  # 1.08500
POINT = 1e-5
SEED = 7
CLOSE_SD_POINTS = 120
WICK_SD_POINTS = 50
TICK_VOLUME = (800, 3000)  # [low, high)
SPREAD_POINTS = (5, 15)  # [low, high)


def synthetic_bars(bars: int, seed: int = SEED) -> list[str]:
    """The file's lines, header first: `bars` weekday H1 bars."""
    rng = np.random.default_rng(seed)
    price = START_POINTS
    t = START
    lines = [HEADER]
    while len(lines) <= bars:
        if t.weekday() < 5:
            o = price
            c = o + int(round(rng.normal(0, CLOSE_SD_POINTS)))
            h = max(o, c) + int(abs(rng.normal(0, WICK_SD_POINTS)))
            lo = min(o, c) - int(abs(rng.normal(0, WICK_SD_POINTS)))
            volume = int(rng.integers(*TICK_VOLUME))
            spread = int(rng.integers(*SPREAD_POINTS))
            lines.append(f"{t:%Y.%m.%d}\t{t:%H:%M:%S}\t{o * POINT:.5f}\t{h * POINT:.5f}\t{lo * POINT:.5f}"
                         f"\t{c * POINT:.5f}\t{volume}\t0\t{spread}")
            price = c
        t += dt.timedelta(hours=1)
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=5000, help="how many bars (default 5000)")
    parser.add_argument("--out", help="the file to write (default: standard output)")
    args = parser.parse_args(argv)
    if args.bars < 1:
        parser.error("--bars must be at least 1")
    text = "\n".join(synthetic_bars(args.bars)) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        with open(args.out, "w") as out:
            out.write(text)


if __name__ == "__main__":
    main()
