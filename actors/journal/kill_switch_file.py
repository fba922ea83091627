"""The kill switch written straight into the journal file, for when the Journal actor is the
thing that failed. An escalation engages the kill switch and ends the process; the lock must
be on disk first (the next start restores it), even if the journal is what kept crashing.

A connection of its own, one transaction, `synchronous=FULL`; only used when the Journal actor
is not running (or does not answer), so it writes beside no other writer of this process.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from actors.runtime.kill_switch import KillSwitchState

FLATTEN_PENDING = "flatten_pending"  # the Journal's MetaRow key (actors/journal/journal.py)


def write_kill_switch(path: Path, state: KillSwitchState) -> None:
    """Raises sqlite3.Error when the file or its tables are not there (a journal never opened)."""
    if not path.exists():
        raise sqlite3.OperationalError(f"no journal at {path}")
    db = sqlite3.connect(path, timeout=5.0)
    try:
        db.execute("PRAGMA synchronous=FULL")
        with db:
            db.execute("INSERT OR REPLACE INTO kill_switch (id, active, reason, engaged_at, locked_until)"
                       " VALUES (1, 1, ?, ?, ?)", (state.reason, state.engaged_at, state.locked_until))
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                       (FLATTEN_PENDING, json.dumps(sorted(state.flatten_pending))))
    finally:
        db.close()
