"""Incarnation numbers (generations), the fence against zombies. Thread-safe, no pykka.

A hung actor cannot be killed: when the Supervisor restarts it, the old thread lives on and
may wake later with orders in its hands. So the Supervisor numbers each start of an actor
(`begin`), the actor stamps what it commands with its number (`SubmitOrder.generation`), and
the receiver refuses a command whose number is older than the current one (`stale`). The
Terminal checks the Account's orders this way, the last point before they leave
(RELIABILITY.md, Supervision).

Shared like the kill gate: the Supervisor writes, every Terminal reads.
"""

from __future__ import annotations

import threading


class Generations:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: dict[str, int] = {}

    def begin(self, name: str) -> int:
        """A new incarnation of `name` starts: its number, higher than every earlier one."""
        with self._lock:
            self._current[name] = self._current.get(name, 0) + 1
            return self._current[name]

    def current(self, name: str) -> int:
        """The number of the running incarnation; 0 when `name` was never started through here."""
        with self._lock:
            return self._current.get(name, 0)

    def stale(self, name: str, generation: int) -> bool:
        """Whether a command stamped `generation` comes from an incarnation that was replaced
        (or was never numbered, while numbered ones run)."""
        current = self.current(name)
        return current > 0 and generation != current
