"""A close job: positions to close and orders to cancel, pursued until the terminal agrees.

CLOSE_ALL, a strategy's exit and the kill switch's flatten are all the same work: send a
close for each position, and keep resending for whatever the terminal still reports open,
until nothing is left or the job's time runs out (then it reports what remains).
actors.account.job_runner runs them.
"""

from __future__ import annotations

import time
from collections.abc import Container
from dataclasses import dataclass, field

JOB_TIMEOUT_S = 60.0


@dataclass
class CloseJob:
    name: str
    kind: str  # close_all | close_strategy | flatten
    corr: str
    reason: str
    tickets: set[int]
    reply_to: str = "control"  # positions still to close
    orders: set[int] = field(default_factory=set)  # pending orders still to cancel
    closed: int = 0
    cancelled: int = 0
    attempts: int = 0
    deadline: float = field(default_factory=lambda: time.monotonic() + JOB_TIMEOUT_S)
    # Closes and removals that filled, until a snapshot shows them gone: the view still holds
    # them till then, and a close sent again on the tick would earn 10036 "position closed".
    filled: set[int] = field(default_factory=set)
    tried: set[int] = field(default_factory=set)  # every ticket a close or removal was sent for

    def to_send(self, busy: Container[int], *, new_only: bool = False) -> tuple[set[int], set[int]]:
        """The positions to close and the orders to cancel now: neither one being sent
        (`busy`) nor one that filled and awaits the terminal's next snapshot; `new_only`:
        nor one tried before (a retry waits for the tick)."""
        def due(ticket: int) -> bool:
            return ticket not in busy and ticket not in self.filled and not (new_only and ticket in self.tried)
        tickets, orders = {t for t in self.tickets if due(t)}, {t for t in self.orders if due(t)}
        self.tried |= tickets | orders
        return tickets, orders

    def snapshot_seen(self) -> None:
        """A snapshot came after those fills: it is the word on them from now on."""
        self.filled.clear()

    def forget_gone(self, open_positions: set[int], open_orders: set[int]) -> None:
        """What the terminal no longer reports is done, whoever closed it. A flatten also
        takes on whatever appeared since it started: its goal is an empty account."""
        if self.kind == "flatten":
            self.tickets, self.orders = set(open_positions), set(open_orders)
        else:
            self.tickets &= open_positions
            self.orders &= open_orders

    @property
    def done(self) -> bool:
        return not self.tickets and not self.orders

    @property
    def remaining(self) -> int:
        return len(self.tickets) + len(self.orders)

    def expired(self, now: float) -> bool:
        return now >= self.deadline
