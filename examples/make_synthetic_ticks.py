"""Write a deterministic synthetic EURUSD tick history in MT5's "Export ticks" format.

    python examples/make_synthetic_ticks.py                 # examples/EURUSD_ticks_synthetic.csv
    python examples/make_synthetic_ticks.py --hours 2 --out /tmp/t.csv --seed 5

Ticks come at exponential gaps (0.5 s on average); 60 % move bid and ask together (a random
walk of about 1.5 pips per minute), 20 % only the ask and 20 % only the bid, so the spread
breathes between 6 and 16 points. Like MT5, a row writes only what changed: BID empty when
only the ask moved and the other way round, FLAGS 2 (bid), 4 (ask) or 6 (both).
Times are server time from Monday 2026-01-05 08:00. Same seed, same file, byte for byte.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
from pathlib import Path

import numpy as np

HEADER = "<DATE>\t<TIME>\t<BID>\t<ASK>\t<LAST>\t<VOLUME>\t<FLAGS>"
START = dt.datetime(2026, 1, 5, 8, 0, 0)
START_PRICE = 1.08500
PIPS_PER_MINUTE = 1.5
MEAN_GAP_MS = 500.0
SPREAD_POINTS = (6, 16)
POINT = 0.00001
DEFAULT_OUT = Path(__file__).resolve().parent / "EURUSD_ticks_synthetic.csv"


def synthetic_ticks(hours: float, seed: int) -> list[str]:
    """The file's lines, header first."""
    rng = np.random.default_rng(seed)
    span_ms = int(hours * 3_600_000)
    gaps = np.maximum(1, np.round(rng.exponential(MEAN_GAP_MS, int(span_ms / MEAN_GAP_MS * 1.2) + 10)))
    offsets = np.cumsum(gaps).astype(np.int64)
    offsets = offsets[offsets < span_ms]
    n = len(offsets)
    # A quote moves the whole book (both sides) or one side, which changes the spread.
    kinds = rng.choice(np.array([6, 4, 2]), size=n, p=[0.6, 0.2, 0.2])
    moves_per_minute = 60_000 / MEAN_GAP_MS * 0.6
    steps = np.round(rng.normal(0.0, PIPS_PER_MINUTE * 10 / math.sqrt(moves_per_minute), n)).astype(int)
    steps[steps == 0] = rng.choice(np.array([-1, 1]), size=int((steps == 0).sum()))
    lo, hi = SPREAD_POINTS
    bid, spread = round(START_PRICE / POINT), (lo + hi) // 2
    lines = [HEADER]
    for offset, kind, step in zip(offsets.tolist(), kinds.tolist(), steps.tolist()):
        if kind == 4 or (kind == 2 and not lo <= spread - step <= hi):
            widened = spread + step if lo <= spread + step <= hi else spread - step
            if not lo <= widened <= hi:
                continue  # a jump the spread band cannot take: no tick
            kind, spread = 4, widened
        elif kind == 2:
            bid, spread = bid + step, spread - step  # the ask stays
        else:
            bid += step
        stamp = START + dt.timedelta(milliseconds=offset)
        bid_text = f"{bid * POINT:.5f}" if kind & 2 else ""
        ask_text = f"{(bid + spread) * POINT:.5f}" if kind & 4 else ""
        lines.append(f"{stamp:%Y.%m.%d}\t{stamp:%H:%M:%S}.{stamp.microsecond // 1000:03d}\t{bid_text}\t{ask_text}"
                     f"\t\t\t{kind}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where to write (default {DEFAULT_OUT.name})")
    parser.add_argument("--hours", type=float, default=4.0, help="length of the history (default 4)")
    parser.add_argument("--seed", type=int, default=20260105, help="random seed (default 20260105)")
    args = parser.parse_args(argv)
    lines = synthetic_ticks(args.hours, args.seed)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(lines) - 1} ticks, {args.out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
