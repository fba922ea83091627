"""The deals the journal is owed (pure): positions whose deals must be read from the terminal's
history - opened, shrunk or vanished while the executor ran, or found closed by reconciliation
- asked again with backoff until an answer shows what was asked for.

Found by the stress harness: a `history_deals_get` that timed out under load was never asked
again, so the journal kept 60 positions `open` that the terminal had closed (L4). Now a fetch
that fails, or answers without the exit deal a vanished position must have (a history not yet
written), is asked again after BACKOFF_S, while the link is up, up to MAX_TRIES; past that the
next reconciliation (every reconnect and start) finds the position again as a phantom.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from actors.account.view import EXIT_ENTRIES

BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0)
MAX_TRIES = 12  # about 70 s of asking


@dataclass
class Owed:
    exit_needed: bool  # the position shrank or vanished: an answer without an exit deal is not the one
    tries: int = 0
    due: float | None = None  # when to ask again; None while a question is out


class DealFetches:
    def __init__(self) -> None:
        self.owed: dict[int, Owed] = {}

    def __len__(self) -> int:
        return len(self.owed)

    def want(self, ticket: int, *, exit_needed: bool) -> bool:
        """The journal needs `ticket`'s deals; True when a question must go now (none is out)."""
        known = self.owed.get(ticket)
        if known is None:
            self.owed[ticket] = Owed(exit_needed)
            return True
        known.exit_needed |= exit_needed
        if known.due is not None:  # waiting for its backoff: ask now instead
            known.due = None
            return True
        return False

    def answered(self, ticket: int, ok: bool, deals: Iterable[Mapping[str, Any]], now: float) -> str:
        """An answer came: 'done', 'again' (asked again after the backoff) or 'gave_up'."""
        owed = self.owed.get(ticket)
        if owed is None:
            return "done"
        if ok and (not owed.exit_needed or any(d.get("entry") in EXIT_ENTRIES for d in deals)):
            del self.owed[ticket]
            return "done"
        owed.tries += 1
        if owed.tries >= MAX_TRIES:
            del self.owed[ticket]
            return "gave_up"
        owed.due = now + BACKOFF_S[min(owed.tries - 1, len(BACKOFF_S) - 1)]
        return "again"

    def due(self, now: float) -> list[int]:
        """The positions to ask about again now (each then waits for its answer)."""
        ready = [t for t, o in self.owed.items() if o.due is not None and o.due <= now]
        for ticket in ready:
            self.owed[ticket].due = None
        return ready

    def link_lost(self, now: float) -> None:
        """Questions out when the link dropped get no answer: each is asked again once it is back."""
        for owed in self.owed.values():
            if owed.due is None:
                owed.due = now
