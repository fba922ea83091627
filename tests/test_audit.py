"""The audit trail (actors/journal/audit.py, audit_check.py): rows chained by hash through
the Journal's group commit, secrets kept out, reads sampled, and `run.py audit verify`
finding each kind of tampering (an edited, a deleted, a moved row, rows cut off the end)
and saying which. A broken audit table never costs an order's intent."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from actors import messages as m
from actors.journal import audit, audit_check
from conftest import wait_for
from test_journal_group_commit import (  # noqa: F401 - fixtures
    committed, db_path, directory, intent, journal, recorder, stats,
)

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parent.parent


def command(i: int, **kw) -> m.AuditCommand:
    fields = dict(request_id=f"r{i}", type="OPEN_POSITION", data={"symbol": "EURUSD", "volume": 0.1 * (i + 1)},
                  ok=True, client="127.0.0.1 curve:laptop", key_id="default", duration_ms=i)
    return m.AuditCommand(**{**fields, **kw})


def write(journal, n: int) -> None:
    for i in range(n):
        journal.tell(command(i))
    journal.ask(m.LoadJournalStats(), timeout=5)  # a read: the group is committed before it


def tamper(db_path: Path, *sql: str) -> None:
    """What someone with the file and sqlite3 could do: drop the guards, change rows."""
    con = sqlite3.connect(db_path, isolation_level=None)
    try:
        con.execute("DROP TRIGGER IF EXISTS audit_append_only_update")
        con.execute("DROP TRIGGER IF EXISTS audit_append_only_delete")
        for statement in sql:
            con.execute(statement)
    finally:
        con.close()


def test_rows_are_chained_and_the_chain_verifies(journal, db_path):
    write(journal, 5)
    rows = committed(db_path, "SELECT id, key_id, client, duration_ms, prev_hash, hash FROM audit ORDER BY id")
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0][4] == "" and all(rows[i][4] == rows[i - 1][5] for i in range(1, 5))
    assert rows[2][1:4] == ("default", "127.0.0.1 curve:laptop", 2)
    report = audit_check.verify(db_path.parent)
    assert report.ok and report.head == (5, rows[-1][5]), report.text()
    assert "intact: 5 rows" in report.text()


def test_the_table_refuses_updates_and_deletes(journal, db_path):
    write(journal, 2)
    con = sqlite3.connect(db_path)
    try:
        for sql in ("UPDATE audit SET ok = 0 WHERE id = 1", "DELETE FROM audit WHERE id = 2"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                con.execute(sql)
    finally:
        con.close()


@pytest.mark.parametrize("sql, says", [
    ("UPDATE audit SET data = '{\"symbol\":\"EURUSD\",\"volume\":9.9}' WHERE id = 3", ["id 3: edited"]),
    ("UPDATE audit SET ok = 0, error_code = 'RISK_REJECTED' WHERE id = 2", ["id 2: edited"]),
    ("DELETE FROM audit WHERE id = 3", ["id 4: the row before it is missing"]),
    (("UPDATE audit SET id = 100 WHERE id = 2", "UPDATE audit SET id = 2 WHERE id = 3",
      "UPDATE audit SET id = 3 WHERE id = 100"), ["id 2: out of order", "id 3: out of order", "id 4: out of order"]),
    ("DELETE FROM audit WHERE id >= 4", ["the newest rows are missing: the executor's last row was id 5"]),
    ("UPDATE audit SET hash = NULL WHERE id = 5", ["id 5: its hash was removed"]),
])
def test_verify_finds_each_kind_of_tampering_and_says_which_row(journal, db_path, sql, says):
    write(journal, 5)
    assert audit_check.verify(db_path.parent).ok
    tamper(db_path, *([sql] if isinstance(sql, str) else sql))
    report = audit_check.verify(db_path.parent)
    assert not report.ok
    for text in says:
        assert any(line.startswith(text) for line in report.findings), (text, report.findings)


def test_a_row_rewritten_with_a_fresh_hash_still_breaks_the_next_link(journal, db_path):
    write(journal, 4)
    row = audit_check.tail(db_path.parent, 4)[1]  # id 2
    row["data"] = '{"symbol":"XAUUSD"}'
    tamper(db_path, f"UPDATE audit SET data = '{row['data']}', hash = '{audit.row_hash(row)}' WHERE id = 2")
    assert [f.split(":")[0] for f in audit_check.verify(db_path.parent).findings] == ["id 3"]


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *argv], capture_output=True, text=True, timeout=30)


def test_run_audit_verify_and_tail(journal, db_path):
    write(journal, 3)
    data_dir = str(db_path.parent)
    ok = run("audit", "verify", "--data-dir", data_dir)
    assert ok.returncode == 0 and "intact: 3 rows" in ok.stdout
    shown = run("audit", "tail", "-n", "2", "--data-dir", data_dir)
    assert shown.returncode == 0 and len(shown.stdout.splitlines()) == 2
    assert "OPEN_POSITION" in shown.stdout and "default" in shown.stdout and "curve:laptop" in shown.stdout
    tamper(db_path, "DELETE FROM audit WHERE id = 2")
    broken = run("audit", "verify", "--data-dir", data_dir)
    assert broken.returncode == 1 and "BROKEN" in broken.stdout and "id 3: the row before it is missing" in broken.stdout
    missing = run("audit", "verify", "--data-dir", str(db_path.parent / "nowhere"))
    assert missing.returncode == 1 and "no journal" in missing.stderr


def test_secrets_in_arguments_are_redacted(journal, db_path):
    journal.tell(command(0, data={"otp": "123456", "limits": {"max_lot_size": 1.0}, "nested": [{"api_secret": "s3"}],
                                  "password": "hunter2", "key": "k"}))
    write(journal, 0)
    [(data,)] = committed(db_path, "SELECT data FROM audit")
    assert json.loads(data) == {"otp": audit.REDACTED, "limits": {"max_lot_size": 1.0},
                                "nested": [{"api_secret": audit.REDACTED}], "password": audit.REDACTED,
                                "key": audit.REDACTED}


def test_a_broken_audit_table_never_costs_an_intent(journal, recorder, db_path):
    write(journal, 2)
    tamper(db_path, "ALTER TABLE audit RENAME TO audit_gone")
    journal.tell(intent(0))
    journal.tell(command(9))
    journal.tell(intent(1))
    replies = recorder.wait(2)
    assert all(isinstance(r, m.IntentRecorded) for r in replies)
    assert journal.is_alive() and stats(journal)["failed_rows"] >= 1
    assert len(committed(db_path, "SELECT id FROM order_intents")) == 2


def test_an_older_journals_audit_table_gets_the_chain(tmp_path, directory):
    from actors.journal.journal import Journal

    path = tmp_path / "journal.sqlite3"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE audit (id INTEGER NOT NULL PRIMARY KEY, ts BIGINT NOT NULL, request_id VARCHAR(64), "
                "type VARCHAR(32) NOT NULL, data TEXT, ok INTEGER NOT NULL, error_code VARCHAR(32) NOT NULL, "
                "client VARCHAR(64) NOT NULL)")
    con.execute("INSERT INTO audit VALUES (1, 1, 'old', 'PING', NULL, 1, '', '')")
    con.commit()
    con.close()
    ref = Journal.start(path, directory)
    try:
        ref.tell(command(1))
        ref.ask(m.LoadJournalStats(), timeout=5)
        report = audit_check.verify(tmp_path)
        assert report.ok and report.before_chain == 1 and "1 rows from before the chain" in report.text()
    finally:
        ref.stop(timeout=5)


def test_reads_are_sampled_per_key_and_minute_and_failures_always_kept():
    sampler = audit.Sampler(60.0)
    assert sampler.take("a", "STATUS_REQUEST", True, 0.0) == 0
    assert sampler.take("a", "STATUS_REQUEST", True, 1.0) is None
    assert sampler.take("a", "STATUS_REQUEST", True, 2.0) is None
    assert sampler.take("b", "STATUS_REQUEST", True, 3.0) == 0, "per key"
    assert sampler.take("a", "PING", True, 3.0) == 0, "per command"
    assert sampler.take("a", "STATUS_REQUEST", False, 4.0) == 0, "a failure always has its row"
    assert sampler.take("a", "OPEN_POSITION", True, 5.0) == 0
    assert sampler.take("a", "STATUS_REQUEST", True, 60.5) == 2, "the next row says how many were left out"
    assert audit.Sampler(0.0).take("a", "PING", True, 0.0) == 0 and audit.Sampler(0.0).take("a", "PING", True, 0.0) == 0


def test_the_executor_audits_key_peer_and_duration(executor_factory):
    executor = executor_factory()
    for i in range(5):
        assert executor.request("STATUS_REQUEST", id=f"status-{i}")["ok"]
    assert executor.request("PING", id="ping-0")["ok"]
    assert not executor.request("CLOSE_POSITION", {"ticket": 999}, id="close-0")["ok"]
    data_dir = executor.config.data_dir

    def rows():
        return {r["request_id"]: r for r in audit_check.tail(data_dir, 100)}
    found = wait_for(lambda: (r := rows()) and "close-0" in r and r, message="the audit rows")
    assert "status-0" in found and not {"status-1", "status-2", "status-3", "status-4"} & set(found)
    assert found["ping-0"]["key_id"] == "default" and found["ping-0"]["client"].startswith("127.0.0.1")
    assert (found["close-0"]["ok"], found["close-0"]["error_code"]) == (0, "NOT_FOUND")
    assert found["close-0"]["duration_ms"] >= 0
    assert audit_check.verify(data_dir).ok
