"""A mailbox with an urgent lane, for actors on the order path.

An actor's mailbox is first in, first out. After a burst of fills the Account has hundreds of
results, snapshots and deals queued; the Gateway has the EA's replies and snapshots to check;
an order that waits behind that bookkeeping is late for nothing. `LanedInbox` takes the
messages of the `urgent` types out of line: they are handled before anything ordinary still
queued, each lane in its own order. An actor opts in by returning one from pykka's
`_create_actor_inbox`; what is urgent is named next to that, with why.

Only messages whose handling does not depend on the ordinary ones queued before them may be
urgent (an order's next step, an outbound frame, the kill switch's flatten).
"""

from __future__ import annotations

import queue
from collections import deque
from typing import Any


class LanedInbox(queue.Queue):
    """queue.Queue with two lanes (its documented extension points, as PriorityQueue uses them)."""

    def __init__(self, urgent: tuple[type, ...]) -> None:
        self.urgent_types = urgent
        super().__init__()

    def _init(self, maxsize: int) -> None:
        self.queue: deque = deque()
        self.urgent: deque = deque()

    def _qsize(self) -> int:
        return len(self.queue) + len(self.urgent)

    def _put(self, envelope: Any) -> None:
        # pykka hands its envelopes to the inbox; the message is the envelope's `message`.
        urgent = isinstance(getattr(envelope, "message", None), self.urgent_types)
        (self.urgent if urgent else self.queue).append(envelope)

    def _get(self) -> Any:
        return self.urgent.popleft() if self.urgent else self.queue.popleft()

    def take_urgent(self, kind: type) -> list[Any]:
        """The urgent messages of type `kind` at the head of the urgent lane, taken at once (a
        burst of outbound frames goes out in one hand-over). Only for told messages."""
        with self.mutex:
            taken = []
            while self.urgent and isinstance(self.urgent[0].message, kind) and self.urgent[0].reply_to is None:
                taken.append(self.urgent.popleft().message)
            if taken:
                self.not_full.notify()
            return taken
