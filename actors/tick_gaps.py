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
    held: list[list[Tick]] = field(default_factory=list)
    backfill_deadline: float | None = None
    gaps: int = 0

    @property
    def backfilling(self) -> bool:
        return self.backfill_deadline is not None

    def on_batch(self, seq: int, ticks: list[Tick], now: float) -> tuple[list[Tick], int | None]:
        """(ticks to process now, time to backfill from or None)."""
        if self.backfilling:
            if len(self.held) < MAX_HELD_BATCHES:
                self.held.append(ticks)
            self.last_seq = seq
            return [], None
        expected = None if self.last_seq is None else self.last_seq + 1
        self.last_seq = seq
        if expected is None or seq <= expected - 1 or seq == expected or self.last_time is None:
            # First batch, the next one, or a restarted EA counting from 1 again: no gap.
            return self._release(ticks), None
        self.gaps += 1
        self.held = [ticks]
        self.backfill_deadline = now + BACKFILL_TIMEOUT_S
        return [], self.last_time + 1

    def on_backfill(self, ticks: list[Tick]) -> list[Tick]:
        """The missing ticks (only those before the first held one) then the held batches."""
        first_held = min((batch[0][0] for batch in self.held if batch), default=None)
        missing = [t for t in ticks if (self.last_time is None or t[0] > self.last_time)
                   and (first_held is None or t[0] < first_held)]
        return self._release(missing + [t for batch in self.held for t in batch])

    def expire(self, now: float) -> list[Tick] | None:
        """The held ticks if the backfill is overdue, else None."""
        if self.backfill_deadline is None or now < self.backfill_deadline:
            return None
        return self._release([t for batch in self.held for t in batch])

    def _release(self, ticks: list[Tick]) -> list[Tick]:
        self.held = []
        self.backfill_deadline = None
        if ticks:
            self.last_time = max(self.last_time or ticks[-1][0], ticks[-1][0])
        return ticks
