"""Faults the simulated trade server injects on demand: the hooks the socket shell drives.

This module owns `Faults`, a plain record of scripted misbehaviour, consumed by
`TradeServer.order_send` (never by `order_check`, which asks the terminal, not the server):

* `rate_limit_per_s` - at most N trade requests per second of server time reach the
  server; more are refused with 10024 TOO_MANY_REQUESTS (0 = no limit).
* `timeout_after_fill` - the next N requests that fill do fill, but the answer says 10012
  TIMEOUT with no ticket: the executor must find the trade by reconciliation.
* `requotes` - the next N deals are requoted (10004) with the current bid/ask.
* `rejects` - the next N deals are rejected by the dealer (10006).

`DelayedReplies` is the socket shell's: replies held for a while, then sent (late, maybe
after the executor gave up waiting and asked again). `RandomReplies` too: each first answer to
an order lost or held with a given chance, seeded (the stress harness's "10% dropped, 5% late"). The server's own switches complete the set: `connected = False` (10031, the terminal lost
the trade server), `trade_allowed = False` (10027, AutoTrading off in the terminal) and
`trade_expert = False` (10026, the server forbids expert advisors).
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field

RATE_WINDOW_MS = 1000


@dataclass(slots=True)
class Faults:
    rate_limit_per_s: int = 0
    timeout_after_fill: int = 0
    requotes: int = 0
    rejects: int = 0
    _recent: deque = field(default_factory=deque, repr=False)

    def rate_limited(self, now_ms: int) -> bool:
        """Count a request arriving at `now_ms`; True when it exceeds the rate limit."""
        if self.rate_limit_per_s <= 0:
            return False
        while self._recent and self._recent[0] <= now_ms - RATE_WINDOW_MS:
            self._recent.popleft()
        if len(self._recent) >= self.rate_limit_per_s:
            return True
        self._recent.append(now_ms)
        return False

    def take(self, name: str) -> bool:
        """Consume one of the counter `name` (requotes, rejects, timeout_after_fill)."""
        left = getattr(self, name)
        if left <= 0:
            return False
        setattr(self, name, left - 1)
        return True


@dataclass(slots=True)
class DelayedReplies:
    """The shell's reply-delay fault: the next `count` replies (of `types`, or of any request
    when empty) are held `delay_s` seconds and then sent, in the order they were held. Other
    replies and events are not held, so they overtake; a held reply is never lost."""

    count: int = 0
    delay_s: float = 0.0
    types: frozenset[str] = frozenset()
    _held: deque = field(default_factory=deque, repr=False)

    def hold(self, kind: str, frame: bytes, now_s: float) -> bool:
        """Take `frame` (a reply to a `kind` request) if it is to be delayed; True if taken."""
        if self.count <= 0 or (self.types and kind not in self.types):
            return False
        self.count -= 1
        self._held.append((now_s + self.delay_s, frame))
        return True

    def due(self, now_s: float) -> list[bytes]:
        """The held frames whose time has come, oldest first (a later one waits for its elders)."""
        frames = []
        while self._held and self._held[0][0] <= now_s:
            frames.append(self._held.popleft()[1])
        return frames

    def hold_for(self, frame: bytes, now_s: float, delay_s: float) -> None:
        """Hold `frame` for `delay_s`, whatever the count (RandomReplies decided it)."""
        self._held.append((now_s + delay_s, frame))

    def __len__(self) -> int:
        return len(self._held)


@dataclass
class RandomReplies:
    """Each first answer to an order_send is lost (`drop_pct` percent of them) or held `delay_s`
    (`delay_pct`), decided by a generator seeded with `seed`: the same seed, the same fates in
    the same order. Answers to a request asked again (from the idempotency cache) are spared, so
    an order's fate is its first answer's."""

    drop_pct: float = 0.0
    delay_pct: float = 0.0
    delay_s: float = 4.0
    seed: int = 0
    dropped: int = 0
    delayed: int = 0
    answered: int = 0
    _rng: random.Random | None = field(default=None, repr=False)

    def fate(self) -> str:
        """'drop', 'delay' or '' for the next first answer."""
        if self._rng is None:
            self._rng = random.Random(self.seed)
        roll = self._rng.random() * 100.0
        self.answered += 1
        if roll < self.drop_pct:
            self.dropped += 1
            return "drop"
        if roll < self.drop_pct + self.delay_pct:
            self.delayed += 1
            return "delay"
        return ""

    def counts(self) -> dict[str, int]:
        return {"order_replies": self.answered, "dropped": self.dropped, "delayed": self.delayed}
