"""Journal backups: online copies through SQLite's backup API, their retention, their check,
and restoring one.

A backup is one folder, `<UTC time>-<reason>` (`20261124T080000Z-scheduled`), holding
`journal.sqlite3` (a self-contained file: its journal mode is set back to DELETE, so no
-wal file is needed to read it), the service's configuration as it ran (`config.json`, usable
as `--config`) and the last log file (`executor.jsonl`). It is built in a hidden `.partial`
folder and renamed into place, so a crash mid-backup never leaves a half backup that looks
whole and that retention would count.

The copy is SQLite's online backup (`sqlite3.Connection.backup`) from a connection of its
own: all pages in one step, under one read transaction, so the copy is one consistent
moment of the journal even while the Journal actor commits (WAL lets a reader and the
writer run side by side). Never a file copy: a live WAL database copied file by file can
be torn. Restoring needs the service stopped (the caller holds the data dir lock),
checks the backup with `PRAGMA integrity_check` first and keeps the replaced journal, with
its -wal, in `<data dir>/replaced/`.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

JOURNAL_NAME = "journal.sqlite3"
RUNNING_CONFIG = "running-config.json"  # the service writes it at start; backups carry it as config.json
LOG_FILE = Path("logs") / "executor.jsonl"
BACKUPS = "backups"
REPLACED = "replaced"
FOLDER = re.compile(r"^(\d{8}T\d{6}Z)(?:-(\d+))?-[a-z-]+$")  # time, n-th in that second, reason
STALE_PARTIAL_S = 3600.0  # a .partial folder this old is a crashed backup's leftover
SIDE_FILES = ("-wal", "-shm")  # SQLite's companions of a WAL-mode database


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the text names the file and what to do."""


@dataclass(frozen=True, slots=True)
class Restored:
    journal: Path
    backup: Path
    replaced: Path | None  # where the journal it replaced was kept (None: there was none)


def journal_path(data_dir: Path) -> Path:
    return Path(data_dir) / JOURNAL_NAME


def integrity_problem(connection: sqlite3.Connection) -> str | None:
    """None when `PRAGMA integrity_check` says ok, else its first findings on one line."""
    rows = [str(row[0]) for row in connection.execute("PRAGMA integrity_check(5)").fetchall()]
    if rows == ["ok"]:
        return None
    # Findings come several to a row, one per line, under a "*** in database main ***" header.
    findings = [line.strip() for row in rows for line in row.splitlines()
                if line.strip() and not line.startswith("***")]
    first = findings[0] if findings else "failed"
    return first if len(findings) < 2 else f"{first} (and more)"


def check_file(path: Path) -> str | None:
    """What is wrong with the journal file at `path` (not a database, damaged, not a
    journal), or None."""
    if not path.is_file():
        return "no such file"
    try:
        # Read-only and immutable: checking a backup must never change it (nor create a -wal).
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)) as conn:
            problem = integrity_problem(conn)
            if problem is None and conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None:
                problem = "not an executor journal (no meta table)"
            return problem
    except sqlite3.DatabaseError as exc:
        return str(exc)


def back_up(data_dir: Path, into: Path, reason: str) -> Path:
    """A new backup folder in `into` (created if needed); BackupError if there is no journal
    or the copy fails."""
    data_dir, into = Path(data_dir), Path(into)
    source = journal_path(data_dir)
    if not source.is_file():
        raise BackupError(f"no journal at {source}: nothing to back up (is --data-dir right?)")
    into.mkdir(parents=True, exist_ok=True)
    name = _free_name(into, f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}", reason)
    partial = into / f".{name}.partial"
    partial.mkdir()
    try:
        _copy_database(source, partial / JOURNAL_NAME)
        for extra, as_name in ((data_dir / RUNNING_CONFIG, "config.json"), (data_dir / LOG_FILE, LOG_FILE.name)):
            if extra.is_file():
                shutil.copyfile(extra, partial / as_name)
                _fsync_file(partial / as_name)
        _fsync_folder(partial)
        final = into / name
        os.replace(partial, final)
        _fsync_folder(into)
    except (OSError, sqlite3.Error) as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise BackupError(f"backup of {source} into {into} failed: {exc}") from exc
    return final


def newest_backup(into: Path) -> Path | None:
    """The newest backup folder in `into`, or None."""
    backups = backup_folders(into)
    return backups[-1] if backups else None


def backup_folders(into: Path) -> list[Path]:
    """The backup folders in `into`, oldest first."""
    into = Path(into)
    found = [(match, p) for p in (into.iterdir() if into.is_dir() else ())
             if p.is_dir() and (match := FOLDER.match(p.name))]
    return [p for match, p in sorted(found, key=lambda f: (f[0][1], int(f[0][2] or 1)))]


def prune(into: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backup folders in `into` (and crashed leftovers);
    the folders deleted. Only folders named as `back_up` names them are touched."""
    into = Path(into)
    if not into.is_dir():
        return []
    backups = backup_folders(into)
    doomed = backups[:max(0, len(backups) - keep)]
    now = time.time()
    doomed += [p for p in into.iterdir() if p.is_dir() and p.name.startswith(".") and p.name.endswith(".partial")
               and now - p.stat().st_mtime > STALE_PARTIAL_S]
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
    return doomed


def restore(backup: Path, data_dir: Path) -> Restored:
    """Put the journal of `backup` (a backup folder or its journal file) in place as the
    data dir's journal, after checking it. The caller holds the data dir lock."""
    backup = Path(backup)
    source = backup / JOURNAL_NAME if backup.is_dir() else backup
    # A -wal beside it: a live (or crashed) journal, whose last commits the copy would lose.
    live = source.with_name(source.name + "-wal").exists()
    problem = "it has a -wal beside it, so it is a journal in use, not a backup (take one with run.py backup)" \
        if live else check_file(source)
    if problem is not None:
        raise BackupError(f"backup {source} cannot be restored: {problem}; choose another backup "
                          f"(newest last: ls {Path(data_dir) / BACKUPS})")
    target = journal_path(data_dir)
    incoming = target.with_name(target.name + ".restoring")
    try:
        shutil.copyfile(source, incoming)
        with closing(sqlite3.connect(incoming)) as conn:
            # Checked just now: the next start need not check it again as after a crash.
            conn.execute("REPLACE INTO meta (key, value) VALUES ('open', '0')")
            conn.execute("REPLACE INTO meta (key, value) VALUES ('restored_from', ?)", (str(source.resolve()),))
            conn.commit()
        _fsync_file(incoming)
        replaced = _set_aside(target)
        os.replace(incoming, target)
        _fsync_folder(target.parent)
    except (OSError, sqlite3.Error) as exc:
        incoming.unlink(missing_ok=True)
        raise BackupError(f"restore of {source} into {target} failed: {exc}") from exc
    return Restored(journal=target, backup=source, replaced=replaced)


def _copy_database(source: Path, target: Path) -> None:
    with closing(sqlite3.connect(source, timeout=10.0)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)  # pages=-1: everything in one step, one consistent read transaction
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, readable without a -wal
    _fsync_file(target)


def _set_aside(journal: Path) -> Path | None:
    """Move the journal and its -wal/-shm (commits not yet checkpointed live in the -wal)
    into `replaced/`, under one new name; where the journal went."""
    if not journal.exists():
        return None
    folder = journal.parent / REPLACED
    folder.mkdir(exist_ok=True)
    aside = folder / f"journal-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{os.getpid()}.sqlite3"
    for suffix in SIDE_FILES:
        companion = journal.with_name(journal.name + suffix)
        if companion.exists():
            os.replace(companion, aside.with_name(aside.name + suffix))
    os.replace(journal, aside)
    return aside


def _free_name(into: Path, stamp: str, reason: str) -> str:
    name, n = f"{stamp}-{reason}", 1
    while (into / name).exists() or (into / f".{name}.partial").exists():
        n += 1
        name = f"{stamp}-{n}-{reason}"
    return name


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _fsync_folder(folder: Path) -> None:
    if os.name == "nt":  # no folder handles to sync; NTFS journals the rename
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
