"""The reconciliation a Terminal asks for each time its link comes up, and the answers it
still waits for. Pure: the Terminal tells it what was asked, answered or lost, and asks it
what to send again and when.

An answer lost on the wire (or an error reply) is asked again, with backoff, for as long as
the link is up: the Account refuses orders until its snapshot has arrived, so a lost
handshake reply would otherwise leave the account "still reconciling" for good, while its
link looks connected.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The answers that make an account ready to trade; "positions" is whole once the orders
# asked after the positions are in.
STEPS = ("symbols", "account_info", "positions")
BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0)


def step_of(purpose: Any) -> str | None:
    """The reconciliation step a request serves, or None for any other request."""
    if isinstance(purpose, str) and purpose in STEPS:
        return purpose
    if isinstance(purpose, tuple) and purpose and purpose[0] == "orders":
        return "positions"
    return None


@dataclass
class Again:
    when: float
    type: str
    purpose: Any
    fields: dict[str, Any]


@dataclass
class Handshake:
    waiting: set[str] = field(default_factory=set)
    tries: dict[str, int] = field(default_factory=dict)  # step -> answers lost in a row
    later: list[Again] = field(default_factory=list)

    def begin(self) -> None:
        """The link came up: every step is awaited again, nothing from before is resent."""
        self.waiting, self.tries, self.later = set(STEPS), {}, []

    def answered(self, purpose: Any) -> bool:
        """An ok answer arrived; True when that completed a step still awaited."""
        step = step_of(purpose)
        if step is None:
            return False
        if isinstance(purpose, str) and purpose == "positions":
            return False  # the orders come next; the step is whole with them
        self.tries.pop(step, None)
        if step in self.waiting:
            self.waiting.discard(step)
            return True
        return False

    def lost(self, type_: str, purpose: Any, fields: dict[str, Any], now: float) -> float | None:
        """No answer, or an error: ask again after the backoff (its delay returned); None when
        the request is not one of the reconciliation's."""
        step = step_of(purpose)
        if step is None:
            return None
        tries = self.tries.get(step, 0)
        self.tries[step] = tries + 1
        delay = BACKOFF_S[min(tries, len(BACKOFF_S) - 1)]
        self.later.append(Again(now + delay, type_, purpose, fields))
        return delay

    def due(self, now: float) -> list[Again]:
        ready = [a for a in self.later if a.when <= now]
        self.later = [a for a in self.later if a.when > now]
        return ready

    @property
    def complete(self) -> bool:
        return not self.waiting
