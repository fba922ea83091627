"""Benchmark: the write-ahead cost of an order, RecordIntent (told) -> IntentRecorded.

A real Journal actor on a real SQLite file (WAL, synchronous=FULL) in a temporary
directory. A burst of N intents is told at once, as N strategies acting on one bar would
make the Accounts do, and each intent's latency runs from its tell to the arrival of its
`IntentRecorded` at a recorder actor; bursts repeat until about `--intents` intents are in.
Printed per N (1, 10, 100): intents/s, p50 and p99 latency, transactions and the average
group size (from `LoadJournalStats`), for:
* grouped: the Journal as it runs (group commit, one fsync per group);
* one-per-txn: `max_batch=1`, a transaction and an fsync per intent (the journal before
  group commit, in the same protocol).
Run: `python stress/bench_journal.py [--intents 600]` (about 10 s on a disk with ~1 ms fsync).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import pykka

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loguru import logger  # noqa: E402

from actors import messages as m  # noqa: E402
from actors.journal.journal import MAX_BATCH, Journal  # noqa: E402
from actors.runtime.directory import Directory  # noqa: E402

BURSTS = (1, 10, 100)
REQUEST = {"action": 1, "symbol": "EURUSD", "volume": 0.1, "type": 0, "price": 1.1, "sl": 1.09, "tp": 1.12,
           "deviation": 10, "type_filling": 1}


class Recorder(pykka.ThreadingActor):
    """Notes when each IntentRecorded arrives; sets `done` when `expected` have."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived: dict[str, float] = {}
        self.expected = 0
        self.done = threading.Event()

    def expect(self, count: int, done: threading.Event) -> None:
        self.expected, self.done = count, done
        if len(self.arrived) >= count:
            done.set()

    def on_receive(self, message: object) -> None:
        if isinstance(message, m.IntentRecorded):
            self.arrived[message.corr] = time.perf_counter()
            if len(self.arrived) >= self.expected:
                self.done.set()
        elif isinstance(message, m.IntentNotRecorded):
            raise SystemExit(f"intent not recorded: {message.error}")


def intent(i: int) -> m.RecordIntent:
    return m.RecordIntent(reply_to="bench", corr=str(i), account=1001, strategy_id=f"s{i % 50}", symbol="EURUSD",
                          side="buy", volume=0.1, closing=False, request=REQUEST)


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def run(max_batch: int, burst: int, total: int, data_dir: Path) -> str:
    directory = Directory()
    recorder = Recorder.start()
    directory.register("bench", recorder)
    state = recorder.proxy()
    journal = Journal.start(data_dir / f"journal-{max_batch}-{burst}.sqlite3", directory, max_batch=max_batch)
    try:
        journal.ask(m.LoadJournalStats(), timeout=10)  # past on_start
        sent: dict[str, float] = {}
        n = 0
        started = time.perf_counter()
        while n < total:
            done = threading.Event()
            state.expect(n + burst, done).get()
            for i in range(n, n + burst):
                sent[str(i)] = time.perf_counter()
                journal.tell(intent(i))
            n += burst
            if not done.wait(30):
                raise SystemExit("IntentRecorded did not arrive within 30 s")
        elapsed = time.perf_counter() - started
        arrived = state.arrived.get()
        latencies = sorted((arrived[c] - t) * 1e3 for c, t in sent.items())
        stats = journal.ask(m.LoadJournalStats(), timeout=10)
    finally:
        journal.stop(timeout=10)
        recorder.stop(timeout=10)
    return (f"{'grouped' if max_batch > 1 else 'one-per-txn':>11}  N={burst:<4d} {n / elapsed:9.0f} intents/s   "
            f"p50 {percentile(latencies, 0.50):7.2f} ms   p99 {percentile(latencies, 0.99):7.2f} ms   "
            f"{stats['transactions']:5d} txns, {stats['rows'] / max(1, stats['transactions']):5.1f} rows/txn "
            f"(largest {stats['largest_batch']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intents", type=int, default=600, help="intents per case (rounded up to whole bursts)")
    args = parser.parse_args()
    logger.remove()
    with tempfile.TemporaryDirectory(prefix="bench_journal-") as tmp:
        print(f"journal on {tmp} (WAL, synchronous=FULL); {args.intents} intents per case")
        for burst in BURSTS:
            for max_batch in (1, MAX_BATCH):
                print(run(max_batch, burst, args.intents, Path(tmp)), flush=True)


if __name__ == "__main__":
    main()
