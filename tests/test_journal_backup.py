"""Journal backups and crash safety, on real SQLite files: an online backup taken while the
Journal commits is consistent and holds every committed row; retention; the schedule and the
kill switch's backup; restore checks first and keeps the replaced journal; a damaged journal
after an unclean stop is refused with one line that points at `run.py restore`."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pykka
import pytest

from actors import messages as m
from actors.journal.backup import (
    BACKUPS, BackupError, back_up, backup_folders, check_file, newest_backup, prune, restore,
)
from actors.journal.backup_schedule import BackupSchedule
from actors.journal.journal import Journal
from actors.runtime.directory import Directory
from tests.conftest import wait_for

pytestmark = pytest.mark.timeout(60)


def intent(i: int) -> m.RecordIntent:
    return m.RecordIntent(account=1001, strategy_id="s", symbol="EURUSD", side="buy", volume=0.1, closing=False,
                          request={"action": 1, "symbol": "EURUSD", "volume": 0.1, "type": 0, "n": i})


@pytest.fixture
def directory() -> Iterator[Directory]:
    yield Directory()
    pykka.ActorRegistry.stop_all()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def start_journal(data_dir: Path, directory: Directory) -> pykka.ActorRef:
    ref = Journal.start(data_dir / "journal.sqlite3", directory)
    directory.register("journal", ref)
    ref.ask(m.Ping(), timeout=5)
    return ref


def rows(path: Path, sql: str) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(path)) as con:
        return con.execute(sql).fetchall()


def test_a_backup_taken_while_the_journal_commits_is_whole_and_holds_every_committed_row(data_dir, directory):
    journal = start_journal(data_dir, directory)
    committed: list[int] = []  # ids whose commit the journal has confirmed
    stop = threading.Event()

    def write() -> None:
        i = 0
        while not stop.is_set():
            committed.append(journal.ask(intent(i), timeout=10)[0])
            journal.tell(m.AuditCommand(request_id=f"r{i}", type="PING", data={"i": i}, ok=True))
            i += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        wait_for(lambda: len(committed) > 50, message="the journal to commit")
        for _ in range(5):
            known = list(committed)
            folder = back_up(data_dir, data_dir / BACKUPS, "manual")
            copy = folder / "journal.sqlite3"
            assert check_file(copy) is None
            ids = {row[0] for row in rows(copy, "SELECT id FROM order_intents")}
            assert set(known) <= ids
            assert not copy.with_name("journal.sqlite3-wal").exists()  # self-contained
    finally:
        stop.set()
        writer.join(10)
    assert len(committed) > 55  # the writer went on while backups were taken


def test_a_backup_carries_the_running_config_and_the_last_log(data_dir, directory):
    start_journal(data_dir, directory)
    (data_dir / "running-config.json").write_text('{"backup_keep": 3}')
    (data_dir / "logs").mkdir()
    (data_dir / "logs" / "executor.jsonl").write_text('{"text": "hello"}\n')
    folder = back_up(data_dir, data_dir / BACKUPS, "manual")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "executor.jsonl", "journal.sqlite3"]
    assert (folder / "config.json").read_text() == '{"backup_keep": 3}'
    with pytest.raises(BackupError, match="no journal at"):
        back_up(data_dir / "elsewhere", data_dir / BACKUPS, "manual")


def test_retention_keeps_the_newest_and_touches_nothing_else(data_dir, directory):
    start_journal(data_dir, directory)
    into = data_dir / BACKUPS
    made = [back_up(data_dir, into, "scheduled") for _ in range(5)]
    assert backup_folders(into) == made  # oldest first, also within one second
    (into / "notes").mkdir()
    assert prune(into, 2) == made[:3]
    assert backup_folders(into) == made[3:] and (into / "notes").is_dir()
    assert newest_backup(into) == made[-1]


def test_the_schedule_backs_up_at_its_interval_and_right_after_the_kill_switch(data_dir, directory):
    start_journal(data_dir, directory)
    into = data_dir / BACKUPS
    schedule = BackupSchedule.start(data_dir=data_dir, into=into, every_s=0.3, keep=2, directory=directory)
    directory.register("backups", schedule)
    wait_for(lambda: len(backup_folders(into)) == 2, message="two scheduled backups")
    oldest = backup_folders(into)[0]
    wait_for(lambda: not oldest.exists(), message="a later backup to prune the oldest")
    schedule.stop(timeout=5)
    assert len(backup_folders(into)) == 2 and all(p.name.endswith("-scheduled") for p in backup_folders(into))

    schedule = BackupSchedule.start(data_dir=data_dir, into=into, every_s=0, keep=10, directory=directory)
    directory.tell("journal", m.KillSwitchEngaged(reason="test", locked_until=2, engaged_at=1))
    schedule.tell(m.KillSwitchEngaged(reason="test", locked_until=2, engaged_at=1))
    folder = wait_for(lambda: next((p for p in backup_folders(into) if p.name.endswith("-kill-switch")), None),
                      message="the kill switch's backup")
    # Told to the journal before the backup was asked for: committed and in the copy.
    assert rows(folder / "journal.sqlite3", "SELECT active, reason FROM kill_switch") == [(1, "test")]
    assert len(backup_folders(into)) == 3  # no schedule: only the kill switch's was added


def corrupt_an_index(db: Path) -> None:
    """Scribble over a leaf page of the events' time index, as a failing disk would, and
    leave the journal marked open (an unclean stop)."""
    with contextlib.closing(sqlite3.connect(db)) as con:
        con.executemany("INSERT INTO events (ts, type, payload) VALUES (?, 'X', ?)",
                        [(i, "{}") for i in range(3000)])
        con.execute("REPLACE INTO meta (key, value) VALUES ('open', '1')")
        con.commit()
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = con.execute("PRAGMA page_size").fetchone()[0]
        index = next(row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'index' "
                                                   "AND tbl_name = 'events' AND sql LIKE '%ts%'"))
        pages = [row[0] for row in con.execute("SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf'",
                                               (index,))]
    with open(db, "r+b") as f:
        f.seek((pages[len(pages) // 2] - 1) * page_size + 200)
        f.write(b"\x55" * (page_size - 300))


def test_a_damaged_journal_after_an_unclean_stop_is_refused_with_the_way_out(data_dir, tmp_path, directory):
    journal = start_journal(data_dir, directory)
    journal.stop(timeout=5)
    back_up(data_dir, data_dir / BACKUPS, "scheduled")
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(data_dir / "journal.sqlite3", copy / "journal.sqlite3")
    corrupt_an_index(copy / "journal.sqlite3")
    (copy / BACKUPS).mkdir()
    shutil.copytree(newest_backup(data_dir / BACKUPS), copy / BACKUPS / newest_backup(data_dir / BACKUPS).name)

    ref = Journal.start(copy / "journal.sqlite3", directory)
    with pytest.raises((pykka.ActorDeadError, pykka.Timeout)):
        ref.ask(m.Ping(), timeout=5)
    error = directory.start_error("journal")
    assert error is not None and "\n" not in error
    assert f"journal {copy / 'journal.sqlite3'} is damaged (integrity_check:" in error
    assert f"python run.py restore {newest_backup(copy / BACKUPS)} --data-dir {copy}" in error

    # The original, closed cleanly, starts; so does the copy once a backup is restored.
    start_journal(data_dir, directory).stop(timeout=5)
    done = restore(newest_backup(copy / BACKUPS), copy)
    assert done.replaced is not None and done.replaced.parent == copy / "replaced"
    assert check_file(done.replaced) is not None  # the damaged one, kept as it was
    start_journal(copy, directory)


def test_restore_checks_the_backup_first_and_keeps_the_replaced_journal_with_its_wal(data_dir, tmp_path, directory):
    journal = start_journal(data_dir, directory)
    journal.ask(intent(1), timeout=5)
    backup = back_up(data_dir, data_dir / BACKUPS, "manual")
    journal.ask(intent(2), timeout=5)
    journal.stop(timeout=5)
    damaged = tmp_path / "damaged.sqlite3"
    shutil.copy(backup / "journal.sqlite3", damaged)
    with open(damaged, "r+b") as f:
        f.seek(100)
        f.write(b"\xff" * 4000)
    with pytest.raises(BackupError, match="cannot be restored"):
        restore(damaged, data_dir)
    with pytest.raises(BackupError, match="no such file"):
        restore(tmp_path / "missing", data_dir)
    with contextlib.closing(sqlite3.connect(data_dir / "journal.sqlite3")) as live:
        live.execute("SELECT 1 FROM meta").fetchall()  # a reader of a WAL journal: its -wal exists
        with pytest.raises(BackupError, match="journal in use, not a backup"):
            restore(data_dir / "journal.sqlite3", tmp_path / "elsewhere")
    assert rows(data_dir / "journal.sqlite3", "SELECT COUNT(*) FROM order_intents") == [(2,)]  # untouched

    # A crashed journal: its last commits are still in the -wal, not yet in the file.
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    with contextlib.closing(sqlite3.connect(data_dir / "journal.sqlite3")) as con:
        con.execute("PRAGMA wal_autocheckpoint=0")
        con.execute("UPDATE order_intents SET status = 'FILLED' WHERE id = 2")
        con.commit()
        for name in ("journal.sqlite3", "journal.sqlite3-wal"):
            shutil.copy(data_dir / name, crashed / name)
    done = restore(backup, crashed)
    assert rows(done.journal, "SELECT COUNT(*) FROM order_intents") == [(1,)]
    assert rows(done.journal, "SELECT value FROM meta WHERE key = 'open'") == [("0",)]
    assert done.replaced.with_name(done.replaced.name + "-wal").exists()
    assert rows(done.replaced, "SELECT status FROM order_intents WHERE id = 2") == [("FILLED",)]
    ids = start_journal(crashed, directory).ask(intent(3), timeout=5)
    assert ids[0] == 2  # the restored journal carries on from its own rows
