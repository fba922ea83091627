"""Where a bar's time goes inside the executor: the per-hop stamps of `--trace-hops`.

    python -m stress --scenario bar50 --trace-hops /tmp/hops.json
    python -m stress.hops /tmp/hops.json            # per message kind: when it first/last ran, busy ms
    python -m stress.hops /tmp/hops.json --bar 10   # every hop of one bar, in order

A bar starts at the Gateway pump's read of the MD socket that holds its ticks (the drain just
before MarketData's first TickBatch after a pause of 300 ms). Times are ms from there, medians
over the bars; "busy" is the wall time spent inside handlers per bar, waits for the interpreter
lock included, which is the point: a handler that waits for the lock shows it here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

Record = tuple[float, float, str, str, int]  # start, end, actor class, message type, thread
PAUSE_S = 0.3


def load(path: Path) -> list[Record]:
    return sorted(tuple(r) for r in json.loads(path.read_text()))


def bar_starts(records: list[Record]) -> list[float]:
    """The MD read that begins each bar: the last before MarketData's first TickBatch of a burst."""
    starts, last_batch, last_drain = [], -1e9, None
    for start, _end, actor, kind, _thread in records:
        if kind == "drain-md":
            last_drain = start
        elif actor == "MarketData" and kind == "TickBatch":
            if start - last_batch > PAUSE_S and last_drain is not None:
                starts.append(last_drain)
            last_batch = start
    return starts


def timeline(records: list[Record], starts: list[float], window_s: float) -> list[tuple]:
    """Per (actor, message): count per bar, median first start, median last end, busy ms per bar."""
    per_kind: dict[tuple[str, str], list[list[float]]] = defaultdict(lambda: [[], [], [], []])
    for origin in starts:
        seen: dict[tuple[str, str], list[float]] = {}
        for start, end, actor, kind, _thread in records:
            if origin <= start < origin + window_s:
                first, last, count, busy = seen.get((actor, kind), (start, end, 0, 0.0))
                seen[(actor, kind)] = [min(first, start), max(last, end), count + 1, busy + end - start]
        for key, (first, last, count, busy) in seen.items():
            slot = per_kind[key]
            slot[0].append((first - origin) * 1e3)
            slot[1].append((last - origin) * 1e3)
            slot[2].append(count)
            slot[3].append(busy * 1e3)
    bars = max(1, len(starts))
    rows = [(actor, kind, sum(counts) / bars, statistics.median(firsts), statistics.median(lasts), sum(busy) / bars)
            for (actor, kind), (firsts, lasts, counts, busy) in per_kind.items()]
    return sorted(rows, key=lambda row: row[3])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stress.hops", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path, help="the file --trace-hops wrote")
    parser.add_argument("--window-ms", type=float, default=100.0, help="how much of each bar to look at (100)")
    parser.add_argument("--bar", type=int, help="list every hop of this bar (0 = the first) instead")
    args = parser.parse_args(argv)
    try:
        records = load(args.file)
    except (OSError, ValueError) as exc:
        print(f"python -m stress.hops: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    starts = bar_starts(records)
    if not starts:
        print("python -m stress.hops: no bar in the file (was the executor traced through a bar?)", file=sys.stderr)
        return 2
    window = args.window_ms / 1e3
    if args.bar is not None:
        if not 0 <= args.bar < len(starts):
            print(f"python -m stress.hops: --bar is 0..{len(starts) - 1}", file=sys.stderr)
            return 2
        origin = starts[args.bar]
        print(f"{'at ms':>8} {'took ms':>8}  {'actor':<16} message")
        for start, end, actor, kind, _thread in records:
            if origin <= start < origin + window:
                print(f"{(start - origin) * 1e3:8.2f} {(end - start) * 1e3:8.2f}  {actor:<16} {kind}")
        return 0
    print(f"{len(starts)} bars; medians over them, ms from the MD read that brought the bar's ticks")
    print(f"{'actor':<16} {'message':<24} {'per bar':>7} {'first':>8} {'last end':>8} {'busy':>8}")
    for actor, kind, count, first, last, busy in timeline(records, starts, window):
        print(f"{actor:<16} {kind:<24} {count:7.1f} {first:8.2f} {last:8.2f} {busy:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
