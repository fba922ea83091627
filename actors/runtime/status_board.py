"""The status board: the one read-only snapshot store the actors share.

Actors talk in messages; this board is the single, documented exception. STATUS_REQUEST
must answer while an account is busy closing positions, and a RiskGuard or an exit must
read the latest quote without a round trip through the actor that owns it, so each owner
posts an immutable snapshot here whenever its state changes and readers take the newest
one. A snapshot is replaced, never mutated; nobody reads another actor's live state, and
no decision waits on the board (a missing key reads as "not known yet").

Who writes what (each key has exactly one writer), and who reads it:

| key                         | written by (module)            | snapshot                          | read by |
|-----------------------------|--------------------------------|-----------------------------------|---------|
| `terminal:<login>`          | terminal/terminal.py           | link state, account info, tz offset, refused EA messages | market data, risk guard, account, strategy, control routes |
| `clock:<login>`             | terminal/terminal.py           | the server clock's last reading   | risk guard, control routes (clock skew) |
| `tz:<login>`                | terminal/terminal.py           | the server's zone (bridge.server_tz.ServerTz): its offsets over time | market data |
| `positions_seq:<login>`     | terminal/terminal.py           | (number, EA version) of the newest positions snapshot told | account (skips older ones queued), replay |
| `symbols:<login>`           | terminal/terminal.py           | symbol properties by name         | market data, risk guard |
| `quote:<login>:<symbol>`    | terminal/market_data.py        | (time_msc, bid, ask) of the newest tick | account, exits, risk guard |
| `last_tick:<login>`         | terminal/market_data.py        | time_msc of the account's newest tick, any symbol | risk guard, exits (the server's "now") |
| `account:<login>`           | account/account.py             | money, positions, orders          | risk guard, strategy, control routes, replay |
| `risk:<login>`              | risk/guard.py                  | limits, account type, trading state | account sizing, control routes, replay |
| `supervisor`                | app/supervisor.py              | tree state, kill switch           | account, risk guard, control routes |
| `strategies`                | strategy/supervisor.py         | every strategy's row              | risk guard, control routes |
| `strategy:<id>`             | strategy/strategy.py           | ready, last bar, paused, last signal | replay, control routes |
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

KEY_PREFIXES = ("terminal:", "clock:", "tz:", "positions_seq:", "symbols:", "quote:", "last_tick:", "account:", "risk:",
                "supervisor", "strategies", "strategy:")
RECHECK_S = 0.05  # `wait` checks again this often anyway: a condition may also read state that is not posted


class StatusBoard:
    def __init__(self) -> None:
        self._items: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._waiters: list[_Waiter] = []  # each `wait`, told only of posts of its keys

    def post(self, key: str, snapshot: Any) -> None:
        # A key outside the table above would be shared state nobody documented.
        assert key.startswith(KEY_PREFIXES), f"status board key {key!r} is not in the documented table"
        with self._lock:
            self._items[key] = snapshot
            for waiter in self._waiters:
                if key.startswith(waiter.keys):
                    waiter.posts += 1
                    waiter.posted.notify()

    def wait(self, condition: Callable[[], Any], timeout: float, *,
             keys: str | tuple[str, ...] | None = None) -> Any:
        """Until `condition()` is true (called without the board's lock: it may read the board,
        and other state), checked again after each post: its value, or None after `timeout`
        seconds. With `keys` (key prefixes, as `str.startswith` takes them), only a post of a
        key that starts with one of them checks again: the condition must not wait on other
        posts (other state is still checked every RECHECK_S). For the edges (the replay driver,
        tests), never an actor: actors are told."""
        keys = ("",) if keys is None else (keys,) if isinstance(keys, str) else tuple(keys)  # "": every key
        waiter = _Waiter(keys, threading.Condition(self._lock))
        with self._lock:
            self._waiters.append(waiter)
        try:
            return self._wait(waiter, condition, timeout)
        finally:
            with self._lock:
                self._waiters.remove(waiter)

    def _wait(self, waiter: _Waiter, condition: Callable[[], Any], timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            seen = waiter.posts  # read before the check: a post during it is not missed
            value = condition()
            if value:
                return value
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            with self._lock:
                if waiter.posts == seen:  # none of its keys posted since the check
                    waiter.posted.wait(min(left, RECHECK_S))

    def remove(self, key: str) -> None:
        with self._lock:
            self._items.pop(key, None)

    def get(self, key: str, default: Any = None) -> Any:
        # No lock: one dict lookup is atomic under the interpreter lock, and snapshots are
        # replaced whole. A contended lock here made every reader give up the interpreter
        # lock and queue to get it back (≈0.1 ms a read in a burst of orders).
        return self._items.get(key, default)

    def with_prefix(self, prefix: str) -> dict[str, Any]:
        with self._lock:
            return {k: v for k, v in self._items.items() if k.startswith(prefix)}


class _Waiter:
    """One `wait` with keys: its prefixes, the posts of them so far, and its own condition
    (on the board's lock), so a post of another key wakes nobody."""

    __slots__ = ("keys", "posted", "posts")

    def __init__(self, keys: tuple[str, ...], posted: threading.Condition) -> None:
        self.keys = keys
        self.posted = posted
        self.posts = 0
