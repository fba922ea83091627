"""The Account's orders on their way out, before the terminal has them (pure).

An order passes stages, each one a question told to another actor with a correlation id
and answered by a told message carrying it; the Account waits for nobody meanwhile:

    PROFITS  an entry sized by Kelly waits for its strategy's trade profits (Journal)
    RISK     an entry, sized, waits for the RiskGuard's decision
    JOURNAL  an order (entry, close, stop change, removal) waits for the commit of the group
             holding its intent (Journal: IntentRecorded / IntentNotRecorded)
    -> sent: it leaves this table for the Account's orders in flight, by client order id.

Each pending order already carries the InFlight it will be sent as, counted in the Account's
FlightIndex from its first stage, so everything that counts orders (an entry against
max_positions, a close job not closing a ticket twice, the Account's `busy`) counts it: the
same order is never started twice by accident. An answer is taken only at the stage it answers; an answer for nothing pending
(late, or for a previous incarnation of the Account: ids carry a per-instance prefix) is
the caller's to log. A stage unanswered by its deadline ends the order unsent.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

from actors.account.in_flight import FlightIndex, InFlight

PROFITS = "profits"
RISK = "risk"
JOURNAL = "journal"
STAGE_TIMEOUT_S = 5.0  # what the asks waited before: a peer this slow is restarting or gone


@dataclass
class Pending:
    corr: str
    stage: str
    flight: InFlight
    deadline: float
    intent: Any = None  # an entry's OrderIntent, until its decision
    entry: Any = None  # an entry priced and sized (actors.account.entries.Entry), until its decision
    sl: float | None = None  # an OPEN_POSITION's absolute stops, until it is sized
    tp: float | None = None
    request: dict[str, Any] = field(default_factory=dict)  # the MT5 request, once decided
    closing: bool = False


class Pipeline:
    def __init__(self, index: FlightIndex | None = None) -> None:
        self.index = index if index is not None else FlightIndex()  # shared with the Account's flights
        self.items: dict[str, Pending] = {}
        self._prefix = uuid.uuid4().hex[:8]
        self._ids = itertools.count(1)

    def __len__(self) -> int:
        return len(self.items)

    def start(self, stage: str, flight: InFlight, now: float, **fields: Any) -> Pending:
        pending = Pending(corr=f"{self._prefix}-{next(self._ids)}", stage=stage, flight=flight,
                          deadline=now + STAGE_TIMEOUT_S, **fields)
        self.items[pending.corr] = pending
        self.index.add(flight)
        return pending

    def move(self, pending: Pending, stage: str, now: float) -> None:
        """The same order at its next stage (it keeps its correlation id)."""
        pending.stage, pending.deadline = stage, now + STAGE_TIMEOUT_S
        self.items[pending.corr] = pending

    def take(self, corr: str, stage: str) -> Pending | None:
        """The order this answer is for, out of the table; None if none waits at `stage`."""
        pending = self.items.get(corr)
        if pending is None or pending.stage != stage:
            return None
        self.drop(pending)
        return pending

    def drop(self, pending: Pending) -> None:
        if self.items.pop(pending.corr, None) is not None:
            self.index.remove(pending.flight)

    def expired(self, now: float) -> list[Pending]:
        late = [p for p in self.items.values() if now >= p.deadline]
        for pending in late:
            self.drop(pending)
        return late
