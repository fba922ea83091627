"""What a supervisor watches in its running children besides death (pure bookkeeping):

* pings (RELIABILITY.md "3 missed pings = hung"): every period each child is asked `Ping`
  without waiting; a child whose answer has not come by the next period missed one, and a
  child that missed MISSED_LIMIT in a row is hung. A hung thread cannot be killed: it is
  replaced, and generation fencing (actors/runtime/generations.py) keeps it from trading if it
  ever wakes;
* mailbox depths: the number of messages waiting per child, posted for STATUS, and a warning
  when one passes the threshold (again only after it fell below half of it, so a mailbox
  hovering at the line does not flood the log). Depths are only watched: ticks are merged on
  the order path by the actors themselves, orders are never dropped.

The Supervisor owns the pykka side (the futures, the queues); this module decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

MISSED_LIMIT = 3
MAILBOX_WARN_DEPTH = 10_000

PING = "ping"  # send a ping now
WAIT = "wait"  # the last one is unanswered: a miss, not yet hung
HUNG = "hung"


@dataclass
class PingWatch:
    limit: int = MISSED_LIMIT
    missed: dict[str, int] = field(default_factory=dict)
    waiting: set[str] = field(default_factory=set)  # children with a ping out

    def beat(self, name: str, answered: bool) -> str:
        """One period of child `name`; `answered`: its last ping (if one is out) has been answered."""
        if name not in self.waiting or answered:
            self.waiting.add(name)
            self.missed[name] = 0
            return PING
        self.missed[name] = self.missed.get(name, 0) + 1
        if self.missed[name] >= self.limit:
            self.forget(name)
            return HUNG
        return WAIT

    def forget(self, name: str) -> None:
        """The child was stopped, restarted or replaced: its pings start afresh."""
        self.waiting.discard(name)
        self.missed.pop(name, None)


@dataclass
class MailboxWatch:
    warn_depth: int = MAILBOX_WARN_DEPTH
    over: set[str] = field(default_factory=set)  # children warned about, until they drain below half

    def check(self, depths: Mapping[str, int]) -> list[str]:
        """The children to warn about now: past the threshold, not warned since they last drained."""
        warn = [n for n, d in depths.items() if d >= self.warn_depth and n not in self.over]
        self.over.update(warn)
        self.over -= {n for n, d in depths.items() if d < self.warn_depth // 2}
        return warn

    def forget(self, names: Iterable[str]) -> None:
        self.over -= set(names)
