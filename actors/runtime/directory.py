"""The directory: actor names to their current references.

Actors address each other by name ("journal", "account:1001", "strategy:sma-1"), never by a
reference kept from start-up, because the Supervisor replaces an actor's reference when it
restarts it. A `tell` to a name that is not running is logged and reported as False: the
sender decides whether that matters (orders are protected by the journal, not by delivery).
Every published event is also logged at INFO, in words (`actors.runtime.event_text`).
"""

from __future__ import annotations

import threading
from typing import Any

import pykka
from loguru import logger

from actors.runtime.event_text import describe

# Messages the next one of the same kind replaces (the newest quote): one that finds no actor
# is no loss, and at start-up, before an account's actors run, warning about each is noise.
SUPERSEDED = frozenset({"TickBatch"})


class Directory:
    def __init__(self) -> None:
        self._refs: dict[str, pykka.ActorRef] = {}
        self._start_errors: dict[str, str] = {}
        self._lock = threading.Lock()

    def record_start_error(self, name: str, error: str) -> None:
        with self._lock:
            self._start_errors[name] = error

    def start_error(self, name: str) -> str | None:
        with self._lock:
            return self._start_errors.pop(name, None)

    def register(self, name: str, ref: pykka.ActorRef) -> None:
        with self._lock:
            self._refs[name] = ref

    def unregister(self, name: str, ref: pykka.ActorRef | None = None) -> None:
        with self._lock:
            if ref is None or self._refs.get(name) is ref:
                self._refs.pop(name, None)

    def get(self, name: str) -> pykka.ActorRef | None:
        # No lock: one dict lookup is atomic under the interpreter lock (writers hold it only to
        # keep check-and-set steps whole). Every tell reads here; a contended lock made each one
        # give up the interpreter lock and queue to get it back.
        ref = self._refs.get(name)
        return ref if ref is not None and ref.is_alive() else None

    def names(self, prefix: str = "") -> list[str]:
        with self._lock:
            return sorted(n for n in self._refs if n.startswith(prefix))

    def tell(self, name: str, message: Any) -> bool:
        ref = self.get(name)
        if ref is None:
            kind = type(message).__name__
            logger.log("DEBUG" if kind in SUPERSEDED else "WARNING", "dropped {} for {}: no such actor running",
                       kind, name)
            return False
        try:
            ref.tell(message)
        except pykka.ActorDeadError:
            logger.warning("dropped {} for {}: actor stopped", type(message).__name__, name)
            return False
        return True

    def publish(self, event: Any) -> None:
        """An event goes to the journal (the record) and to the control server (the PUB socket)."""
        name = type(event).__name__
        fields = {f: getattr(event, f) for f in getattr(event, "__dataclass_fields__", ())}
        logger.info("{}: {}", name, describe(name, fields))
        self.tell("journal", event)
        self.tell("control", event)

    def ask(self, name: str, message: Any, timeout: float) -> Any:
        """Blocking request; only for peers that never call back into the caller."""
        ref = self.get(name)
        if ref is None:
            raise pykka.ActorDeadError(f"{name} is not running")
        return ref.ask(message, timeout=timeout)
