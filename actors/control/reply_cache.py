"""Replies remembered by request id, so a repeated `id` is answered without running twice.

Bounded in time (CONTROL_API.md: 10 minutes) and in size (oldest first out), so a client
that never reuses ids cannot grow the executor's memory. This is the fast path; the journal
keeps the same replies across a crash (actors/journal/replies.py).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class ReplyCache:
    def __init__(self, ttl_s: float = 600.0, max_entries: int = 50_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_s
        self._max = max_entries
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def get(self, request_id: str) -> bytes | None:
        self._expire()
        item = self._items.get(request_id)
        return None if item is None else item[1]

    def put(self, request_id: str, reply: bytes, ttl_s: float | None = None) -> None:
        """`ttl_s` shorter than the cache's: what is left of a reply kept across a restart
        (put before any other, oldest first, so expiry order stays insertion order)."""
        self._items[request_id] = (self._clock() + (self._ttl if ttl_s is None else min(ttl_s, self._ttl)), reply)
        self._items.move_to_end(request_id)
        while len(self._items) > self._max:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)

    def _expire(self) -> None:
        now = self._clock()
        while self._items:
            _, (expires, _) = next(iter(self._items.items()))
            if expires > now:
                return
            self._items.popitem(last=False)
