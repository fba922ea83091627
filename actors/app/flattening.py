"""The kill switch's flatten, account by account, including the accounts it cannot reach yet
(K2 of RELIABILITY.md). Pure: the Supervisor says which accounts are ready (linked and
reconciled) and what each still holds, and tells the accounts what this decides.

An EMERGENCY_STOP flattens every ready account and is answered when they have all reported.
An account whose link is down is not waited for: the reply comes at once and names it, with
the positions and orders it still holds, and the account is *pending*. Pending accounts are
journaled with the kill switch and flattened as soon as each is ready again, also after a
restart, until one reports flat. An account that drops its link while its flatten runs
becomes pending the same way, so the reply never waits for a link that is gone.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from actors import messages as m

Ready = Callable[[int], bool]
Held = Callable[[int], dict[str, Any]]  # login -> {"account", "positions": [tickets], "orders": [tickets]}


@dataclass
class Round:
    corr: str
    waiting: set[int]
    totals: dict[str, int] = field(default_factory=lambda: {"closed_positions": 0, "cancelled_orders": 0,
                                                            "remaining": 0})
    not_flattened: list[dict[str, Any]] = field(default_factory=list)  # accounts left pending, what they hold

    def leave_pending(self, held: dict[str, Any]) -> None:
        self.waiting.discard(held["account"])
        self.not_flattened.append(held)
        self.totals["remaining"] += len(held["positions"]) + len(held["orders"])

    def reply(self, locked_until: int) -> dict[str, Any]:
        return {**self.totals, "locked_until": locked_until, "not_flattened": self.not_flattened}


class Flattening:
    def __init__(self, pending: tuple[int, ...] = ()) -> None:
        self.rounds: dict[str, Round] = {}
        self.pending: set[int] = set(pending)  # accounts to flatten once they are ready again
        self.resuming: dict[str, int] = {}  # corr of a resumed flatten -> its account
        self._ids = itertools.count(1)

    def start(self, corr: str, logins: set[int], ready: Ready, held: Held) -> tuple[Round, list[int]]:
        """A new round over `logins`; the accounts to tell Flatten now (the ready ones)."""
        round_ = Round(corr, set(logins))
        for login in sorted(logins):
            if not ready(login):
                round_.leave_pending(held(login))
                self.pending.add(login)
        if round_.waiting:
            self.rounds[corr] = round_
        return round_, sorted(round_.waiting)

    def unreachable(self, ready: Ready, held: Held) -> list[Round]:
        """Accounts that lost their link while a round waited for them become pending; the
        rounds that waited only for such accounts are done (returned, to be answered)."""
        done = []
        for corr, round_ in list(self.rounds.items()):
            for login in sorted(round_.waiting):
                if not ready(login):
                    round_.leave_pending(held(login))
                    self.pending.add(login)
            if not round_.waiting:
                done.append(self.rounds.pop(corr))
        return done

    def reported(self, msg: m.AccountFlattened) -> Round | None:
        """An account's flatten ended; the round it completes, if any."""
        login = self.resuming.pop(msg.corr, None)
        if login is not None:
            if msg.remaining == 0:
                self.pending.discard(login)
            return None
        round_ = self.rounds.get(msg.corr)
        if round_ is None or msg.account not in round_.waiting:
            return None
        round_.waiting.discard(msg.account)
        for key in round_.totals:
            round_.totals[key] += getattr(msg, key)
        if round_.waiting:
            return None
        return self.rounds.pop(msg.corr)

    def resumes(self, ready: Ready) -> list[tuple[int, str]]:
        """(account, corr) of each pending account that is ready and not already being flattened.
        A resumed flatten whose account lost its link again (or restarted) is not waited for:
        it is started afresh when the account is back."""
        for corr, login in list(self.resuming.items()):
            if not ready(login):
                del self.resuming[corr]
        busy = set(self.resuming.values())
        due = []
        for login in sorted(self.pending - busy):
            if ready(login):
                corr = f"flatten-resumed-{login}-{next(self._ids)}"
                self.resuming[corr] = login
                due.append((login, corr))
        return due

    def clear(self) -> None:
        """The kill switch was reset: nothing is to be flattened any more."""
        self.pending.clear()
        self.resuming.clear()
