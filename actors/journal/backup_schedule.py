"""The BackupSchedule actor: journal backups every `every_s` seconds and right after the
kill switch engages, pruned to the newest `keep` (the copying itself is `backup`'s).

It runs in its own thread so a long copy never holds up the Journal's writes. Before each
copy it asks the Journal a read (`LoadJournalStats`), which makes the Journal commit the
group it is holding first: a backup holds every write told to the Journal before it was
asked for, the kill switch's row included. A failed backup is logged and tried again at
the next one; it never stops the service.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from loguru import logger

from actors import messages as m
from actors.journal.backup import BackupError, back_up, prune
from actors.runtime.directory import Directory
from actors.runtime.supervision import Supervised
from actors.runtime.ticker import Ticker

JOURNAL_ASK_S = 10.0


class BackupSchedule(Supervised):
    def __init__(self, *, data_dir: Path, into: Path, every_s: float, keep: int, directory: Directory) -> None:
        """`every_s` 0: no scheduled backups (the kill switch still makes one)."""
        super().__init__(name="backups", parent="supervisor", directory=directory)
        self.data_dir, self.into, self.every_s, self.keep = Path(data_dir), Path(into), every_s, keep
        self.next_at = float("inf")
        self.ticker: Ticker | None = None

    def on_start(self) -> None:
        if self.every_s > 0:
            self.next_at = time.monotonic() + self.every_s
            self.ticker = Ticker(self.actor_ref, min(self.every_s, 1.0)).start()

    def on_stop(self) -> None:
        if self.ticker is not None:
            self.ticker.stop()

    def on_receive(self, message: Any) -> Any:
        match message:
            case m.Tick(now=now):
                if now >= self.next_at:
                    self.next_at = now + self.every_s
                    self._back_up("scheduled")
            case m.KillSwitchEngaged():
                self._back_up("kill-switch")
            case _:
                return super().on_receive(message)
        return None

    def _back_up(self, reason: str) -> None:
        try:
            self.directory.ask("journal", m.LoadJournalStats(), timeout=JOURNAL_ASK_S)
        except Exception as exc:  # no journal to flush: the copy still holds every commit so far
            logger.warning("backup: the journal did not answer ({}); copying what it has committed", exc)
        try:
            folder = back_up(self.data_dir, self.into, reason)
        except BackupError as exc:
            logger.error("{}; the next backup tries again", exc)
            return
        removed = prune(self.into, self.keep)
        logger.info("journal backed up to {} ({}){}", folder, reason,
                    f"; {len(removed)} old backup(s) removed, {self.keep} kept" if removed else "")
