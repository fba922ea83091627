"""The simulated terminal's state on disk: a paper account continues like a broker's does.

This module owns the state file of one simulated terminal (`StateFile`: read, atomic write,
set aside) and when it is written (`StateKeeper`). The file holds the trade server's book
(bridge/trade_server/snapshot.py) and the EA's `order_send` idempotency cache, as one
msgpack map: exact floats, and small and fast enough to rewrite whole.

When it is written, and why that is enough:
* whenever the book changed (a fill, a close, SL/TP, a pending order placed, triggered or
  expired, swaps, stop-out: the server's versions move), before the
  terminal's loop flushes its outbox, so a reply or event that tells the executor of a fill
  never leaves before the fill is on disk. The loop drains up to a thousand requests per
  step and writes once after them: a burst costs one write, like the journal's group commit.
* otherwise every `INTERVAL_S` seconds for the clock and the last quotes alone, and on stop.
  A crash loses at most that much of the clock and of quote history, never a trade: a
  continued clock resumes at the later of the saved server time and the configured start.

Atomic: a temporary file beside it, fsync, rename over, fsync the folder (POSIX), so a
crash leaves the old state or the new one, never a torn file. A damaged file is refused with
one line (`StateFileError`); nothing here overwrites it: `set_aside` moves it away on purpose.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import msgpack
from loguru import logger

from bridge.trade_server.snapshot import Book, SnapshotError, from_data, to_data

INTERVAL_S = 10.0
KIND = "mt5-executor simulated terminal state"


class StateFileError(ValueError):
    """A state file that cannot be continued; the text names the file and what to do."""


@dataclass(frozen=True, slots=True)
class SavedState:
    book: Book
    replies: list[tuple[str, float, dict[str, Any]]]  # (request id, age in s, reply fields)


class StateFile:
    """One terminal's state at `path` (its folder is created on the first write)."""

    def __init__(self, path: Path, *, reset_hint: str = "--sim-reset") -> None:
        self.path = Path(path)
        self.reset_hint = reset_hint  # the option that starts a fresh account, as the user's command names it

    def load(self) -> SavedState | None:
        """The saved state, or None when there is none yet; StateFileError if damaged."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._error(f"cannot be read ({exc.strerror})") from None
        try:
            data = msgpack.unpackb(raw, raw=False, strict_map_key=False)
        except Exception as exc:  # msgpack raises several unrelated types for bad input
            raise self._error(f"is not a state file ({type(exc).__name__})") from None
        if not isinstance(data, dict) or data.get("kind") != KIND:
            raise self._error("is not a simulated terminal state file")
        try:
            book = from_data(data.get("book"))
            replies = _replies(data.get("replies"))
        except SnapshotError as exc:
            raise self._error(f"is damaged ({exc})") from None
        return SavedState(book, replies)

    def save(self, book: Book, replies: list[tuple[str, float, dict[str, Any]]]) -> None:
        """Write atomically (OSError if the disk refuses; the previous file then stays)."""
        payload = msgpack.packb({"kind": KIND, "saved_at_ms": time.time_ns() // 1_000_000,
                                 "book": to_data(book), "replies": [list(r) for r in replies]}, use_bin_type=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        with open(temporary, "wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)
        _sync_folder(self.path.parent)

    def set_aside(self) -> Path | None:
        """Move the saved state out of the way (a fresh account on purpose); where it went."""
        if not self.path.exists():
            return None
        aside = self.path.with_name(f"{self.path.name}.{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.old")
        os.replace(self.path, aside)
        return aside

    def _error(self, what: str) -> StateFileError:
        return StateFileError(f"simulated terminal state {self.path} {what}: move it away, or start a fresh "
                              f"paper account on purpose with {self.reset_hint} (the old file is kept aside)")


class StateKeeper:
    """Decides when the terminal's state is written (see the module docstring); called from
    the terminal's own thread, which owns the server, so a book is never read mid-change."""

    def __init__(self, file: StateFile, server: Any, replies: Callable[[], list[tuple[str, float, dict[str, Any]]]],
                 interval_s: float = INTERVAL_S) -> None:
        self.file, self.server, self.replies, self.interval_s = file, server, replies, interval_s
        self._saved_mark: tuple[int, ...] | None = None
        self._next_at = 0.0
        self._failing = False

    def _mark(self) -> tuple[int, ...]:
        book = self.server
        return book.version, book.account_version, len(book.history_deals), len(book.history_orders)

    def step(self, now_s: float) -> None:
        """Write if the book changed since the last write, or the interval is up."""
        if self._mark() != self._saved_mark or now_s >= self._next_at:
            self.save(now_s)

    def save(self, now_s: float) -> bool:
        mark, book = self._mark(), self.server.book()
        try:
            self.file.save(book, self.replies())
        except Exception as exc:  # a full disk, or a value msgpack refuses: the terminal trades on, loudly
            if not self._failing:  # once per failing streak; it is retried every step
                logger.error("simulated terminal cannot save its state to {}: {}: {}; retrying", self.file.path,
                             type(exc).__name__, exc)
            self._failing = True
            return False
        if self._failing:
            logger.info("simulated terminal saves its state to {} again", self.file.path)
        self._failing, self._saved_mark, self._next_at = False, mark, now_s + self.interval_s
        return True


def _replies(value: Any) -> list[tuple[str, float, dict[str, Any]]]:
    if not isinstance(value, list):
        raise SnapshotError("replies is not a list")
    replies = []
    for item in value:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str)
                and isinstance(item[1], (int, float)) and isinstance(item[2], dict)):
            raise SnapshotError("a cached reply is not [id, age, fields]")
        replies.append((item[0], float(item[1]), item[2]))
    return replies


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable; Windows has no folder handles to sync (NTFS journals it)."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
