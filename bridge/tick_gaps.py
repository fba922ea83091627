"""Gap detection on the market-data feed (pure).

The EA numbers its tick publishes per symbol (`seq`). A jump means publishes were lost on the
way (a PUB socket drops rather than blocks), and bars built without those ticks would be
wrong. So the sequencer holds the symbol's later batches, asks for the missing ticks
(`copy_ticks_from` since the last tick seen), and then releases the backfilled ticks and the
held batches in time order. A backfill that does not come in time is given up: the held
batches are released as they are, and the gap is logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Tick = tuple[int, float, float]  # time_msc, bid, ask
BACKFILL_TIMEOUT_S = 3.0
MAX_HELD_BATCHES = 1000


@dataclass
class TickSequencer:
    last_seq: int | None = None
    last_time: int | None = None
    held: list[tuple[int, list[Tick]]] = field(default_factory=list)  # (seq, ticks) awaiting a backfill
    backfill_deadline: float | None = None
    gaps: int = 0
    # The backfill reply travels on CTL, the feed on MD: batches published before the
    # terminal answered can still arrive after the reply. Their ticks are already in.
    covered_until: int | None = None
    backfill_from: int | None = None  # the request in flight; other answers are stale

    @property
    def backfilling(self) -> bool:
        return self.backfill_deadline is not None

    def on_batch(self, seq: int, ticks: list[Tick], now: float) -> tuple[list[Tick], int | None]:
        """(ticks to process now, time to backfill from or None)."""
        previous, self.last_seq = self.last_seq, seq
        if self.covered_until is not None:
            ticks = [t for t in ticks if t[0] > self.covered_until]
        if self.backfilling:
            if len(self.held) < MAX_HELD_BATCHES:
                self.held.append((seq, ticks))
            return [], None
        if previous is None or seq <= previous or seq == previous + 1 or self.last_time is None:
            # First batch, the next one, or a restarted EA counting from 1 again: no gap.
            return self._release(ticks), None
        self.gaps += 1
        self.held = [(seq, ticks)]
        return [], self._await(self.last_time + 1, now)

    def on_backfill(self, ticks: list[Tick], now: float) -> tuple[list[Tick], int | None]:
        """The missing ticks and the held batches the backfill covers, in time order; and the
        time to backfill from again when a later loss, which this backfill cannot cover,
        happened while it was on its way (or None)."""
        start = self.last_time if self.last_time is not None else -1
        covered = max((t[0] for t in ticks), default=start)
        self.covered_until = covered
        out = [t for t in ticks if t[0] > start]
        previous_seq = None
        for index, (seq, batch) in enumerate(self.held):
            if previous_seq is not None and seq != previous_seq + 1 and batch and batch[-1][0] > covered:
                rest = self.held[index:]
                self._release(out)
                self.held = rest
                self.gaps += 1
                return out, self._await((self.last_time if self.last_time is not None else covered) + 1, now)
            out.extend(t for t in batch if t[0] > covered)
            previous_seq = seq
        return self._release(out), None

    def answers(self, date_from: int) -> bool:
        """Is a backfill starting at `date_from` the one this sequencer waits for?"""
        return self.backfilling and date_from == self.backfill_from

    def _await(self, date_from: int, now: float) -> int:
        self.backfill_from = date_from
        self.backfill_deadline = now + BACKFILL_TIMEOUT_S
        return date_from

    def expire(self, now: float) -> list[Tick] | None:
        """The held ticks if the backfill is overdue, else None."""
        if self.backfill_deadline is None or now < self.backfill_deadline:
            return None
        return self._release([t for _, batch in self.held for t in batch])

    def _release(self, ticks: list[Tick]) -> list[Tick]:
        self.held = []
        self.backfill_deadline = self.backfill_from = None
        if ticks:
            self.last_time = max(self.last_time or ticks[-1][0], ticks[-1][0])
        return ticks
