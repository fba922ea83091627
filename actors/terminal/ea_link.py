"""The executor's side of one EA link, as plain state: request ids, deadlines, liveness.

Pure (no sockets, no actors): the Terminal actor feeds it what arrives and the clock, and
asks it what to send and what has expired. Timing rules are those of RELIABILITY.md:
pings every second, three missed beats mean the link is down, a request times out after
2.5 s, and a trade request that times out is asked again under the same id (the EA answers
a known id from its idempotency cache) up to five times before it is UNKNOWN.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from bridge import protocol

ORDER_STATUS_TRIES = 5
ORDER_STATUS_INTERVAL_S = 2.0


@dataclass
class PendingRequest:
    id: str
    type: str
    message: dict[str, Any]
    deadline: float
    purpose: Any = None  # what the Terminal will do with the reply
    tries: int = 1


@dataclass
class EaLink:
    login: int
    boot: str = ""  # the EA instance we talk to; a new one means the EA restarted
    up: bool = False
    confirmed: bool = False  # a pong heard since the link came up: the EA's dead-man has its ping
    last_heard: float = 0.0
    last_ping: float = 0.0
    envelope: protocol.Envelope = field(init=False)
    pending: dict[str, PendingRequest] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.envelope = protocol.Envelope(boot="executor", term=self.login)

    # --- inbound ---
    def heard(self, now: float) -> None:
        self.last_heard = now

    def on_hello(self, message: dict[str, Any], now: float) -> bool:
        """Mark the link up; True when this is a new EA instance (first contact or restart)."""
        self.heard(now)
        new_instance = message.get("boot") != self.boot
        self.boot = str(message.get("boot", ""))
        self.up = True
        return new_instance

    def take_reply(self, message: dict[str, Any]) -> PendingRequest | None:
        return self.pending.pop(str(message.get("id", "")), None)

    # --- outbound ---
    def request(self, type_: str, now: float, *, purpose: Any = None, id: str | None = None,
                timeout: float = protocol.REQUEST_TIMEOUT_S, **fields: Any) -> dict[str, Any]:
        request_id = id or f"r{next(self._ids)}"
        message = self.envelope.message(type_, id=request_id, **fields)
        self.pending[request_id] = PendingRequest(request_id, type_, message, now + timeout, purpose)
        return message

    def ping_due(self, now: float) -> bool:
        if now - self.last_ping >= protocol.PING_INTERVAL_S:
            self.last_ping = now
            return True
        return False

    # --- time ---
    def is_silent(self, now: float) -> bool:
        return now - self.last_heard > protocol.MISSED_BEATS_FOR_DOWN * protocol.HEARTBEAT_INTERVAL_S

    def expired(self, now: float) -> list[PendingRequest]:
        late = [p for p in self.pending.values() if now >= p.deadline]
        for p in late:
            del self.pending[p.id]
        return late

    def retry(self, pending: PendingRequest, now: float) -> dict[str, Any] | None:
        """Ask again under the same id, or None once the tries are used up."""
        if pending.tries >= ORDER_STATUS_TRIES:
            return None
        message = self.envelope.message(pending.type, id=pending.id,
                                        **{k: v for k, v in pending.message.items() if k not in protocol.ENVELOPE_KEYS})
        self.pending[pending.id] = PendingRequest(pending.id, pending.type, message, now + ORDER_STATUS_INTERVAL_S,
                                                  pending.purpose, pending.tries + 1)
        return message
