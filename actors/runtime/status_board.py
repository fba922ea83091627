"""The status board: the latest immutable snapshot each actor chose to show the world.

STATUS_REQUEST must answer even while an account is busy closing positions, so status is
not asked of the actors: each owner posts a snapshot here whenever its state changes
(Account: balance and positions; Supervisor: strategies and the kill switch) and the
ControlServer reads them. Snapshots are plain maps that are replaced, never mutated.
"""

from __future__ import annotations

import threading
from typing import Any


class StatusBoard:
    def __init__(self) -> None:
        self._items: dict[str, Any] = {}
        self._lock = threading.Lock()

    def post(self, key: str, snapshot: Any) -> None:
        with self._lock:
            self._items[key] = snapshot

    def remove(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return self._items.get(key, default)

    def with_prefix(self, prefix: str) -> dict[str, Any]:
        with self._lock:
            return {k: v for k, v in self._items.items() if k.startswith(prefix)}
