"""The kill switch: its state (pure), and the gate every order passes on its way out.

The state is owned by the Supervisor and journaled so a lock survives a restart. The gate
is the one piece of shared state in the system: K1 of RELIABILITY.md demands that no
risk-increasing order leaves the process once EMERGENCY_STOP has arrived, and a message
queued behind others in a mailbox cannot promise that. So the ControlServer trips the gate
the moment the command is decoded, and the Terminal checks it before every send.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

LOCK_SECONDS = 3600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class KillSwitchState:
    active: bool = False
    reason: str = ""
    engaged_at: int = 0  # ms, wall clock
    locked_until: int = 0  # ms, wall clock: the simulator's speed never shortens it
    # Accounts whose flatten waits for their link (journaled with the switch): K2 is kept once
    # each is back, also across a restart.
    flatten_pending: tuple[int, ...] = ()

    def engage(self, reason: str, now_ms: int, lock_seconds: float = LOCK_SECONDS) -> KillSwitchState:
        """Engaging again keeps the first reason and never shortens the lock."""
        if self.active:
            return self
        return KillSwitchState(
            active=True, reason=reason, engaged_at=now_ms,
            locked_until=now_ms + int(lock_seconds * 1000),
        )

    def can_reset(self, now_ms: int) -> bool:
        return not self.active or now_ms >= self.locked_until

    def as_status(self) -> dict:
        return {"active": self.active, "reason": self.reason or None,
                "locked_until": self.locked_until if self.active else None}


class KillGate:
    """Thread-safe flag read on the order path; tripped without waiting for any mailbox."""

    def __init__(self) -> None:
        self._tripped = threading.Event()
        self._reason = ""

    def trip(self, reason: str) -> None:
        self._reason = self._reason or reason
        self._tripped.set()

    def clear(self) -> None:
        self._reason = ""
        self._tripped.clear()

    @property
    def tripped(self) -> bool:
        return self._tripped.is_set()

    @property
    def reason(self) -> str:
        return self._reason
