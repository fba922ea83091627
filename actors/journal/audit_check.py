"""`run.py audit verify` and `audit tail`: the audit chain checked, the newest rows shown.

Both read the journal file directly and read-only (SQLite's WAL lets them run beside the
service). `verify_rows` is the pure check of actors/journal/audit.py's chain: it walks the
rows in id order and says, per row, what is wrong in one line (edited, a row before it
missing, out of order), then whether rows were cut off the end (the meta table's head).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actors.journal.audit import COLUMNS, HEAD_KEY, row_hash

JOURNAL = "journal.sqlite3"
SELECT = f"SELECT id, {', '.join(COLUMNS)}, hash FROM audit ORDER BY id"


class AuditReadError(RuntimeError):
    """The journal cannot be read; the message says which file and what to do."""


@dataclass
class Report:
    rows: int = 0
    before_chain: int = 0  # rows written before the chain existed (an older executor's)
    head: tuple[int, str] | None = None
    findings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def text(self) -> str:
        if self.findings:
            return "\n".join([f"audit chain BROKEN: {len(self.findings)} finding(s) in {self.rows} rows",
                              *(f"  {line}" for line in self.findings)])
        older = f" (and {self.before_chain} rows from before the chain, not verifiable)" if self.before_chain else ""
        head = f"; head id {self.head[0]} hash {self.head[1]} (keep it elsewhere to compare later)" if self.head else ""
        return f"audit chain intact: {self.rows - self.before_chain} rows{older}{head}"


def connect(data_dir: Path) -> sqlite3.Connection:
    path = Path(data_dir) / JOURNAL
    if not path.exists():
        raise AuditReadError(f"no journal at {path}; pass the service's --data-dir")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        db.execute("SELECT 1 FROM audit LIMIT 1")
        return db
    except sqlite3.Error as exc:
        raise AuditReadError(f"cannot read the audit table of {path} ({exc}); is it a journal?") from None


def verify(data_dir: Path) -> Report:
    db = connect(data_dir)
    try:
        try:
            rows = [_as_row(r) for r in db.execute(SELECT).fetchall()]
        except sqlite3.OperationalError:  # no chain columns: no executor with the chain opened it yet
            count = db.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
            return Report(rows=count, before_chain=count)
        head = db.execute("SELECT value FROM meta WHERE key = ?", (HEAD_KEY,)).fetchone()
    finally:
        db.close()
    return verify_rows(rows, head[0] if head else None)


def _as_row(values: tuple) -> dict[str, Any]:
    return dict(zip(("id", *COLUMNS, "hash"), values))


def verify_rows(rows: list[dict[str, Any]], head: str | None) -> Report:
    """The findings of the chain `rows` (id order) with the meta `head` ("ID HASH")."""
    report = Report(rows=len(rows))
    start = 0
    while start < len(rows) and rows[start]["hash"] is None and rows[start]["prev_hash"] is None:
        start += 1  # an older executor's rows: before the chain began
    report.before_chain = start
    chain = rows[start:]
    owner = {r["hash"]: r["id"] for r in chain if r["hash"]}
    expected, previous_id = "", None
    for row in chain:
        if not row["hash"]:
            report.findings.append(f"id {row['id']}: its hash was removed")
        elif row_hash(row) != row["hash"]:
            report.findings.append(f"id {row['id']}: edited (its content no longer matches its hash)")
        prev = row["prev_hash"] or ""
        if prev != expected:
            if prev in owner and owner[prev] != row["id"]:
                report.findings.append(f"id {row['id']}: out of order (in the chain it follows id {owner[prev]}, "
                                       f"not id {previous_id})")
            elif previous_id is None:
                report.findings.append(f"id {row['id']}: the rows before it are missing (it is not the chain's first)")
            else:
                report.findings.append(f"id {row['id']}: the row before it is missing (deleted, or rewritten, "
                                       f"between id {previous_id} and id {row['id']})")
        expected, previous_id = row["hash"] or "", row["id"]
    if chain:
        report.head = (chain[-1]["id"], chain[-1]["hash"])
    _check_head(report, chain, head)
    return report


def _check_head(report: Report, chain: list[dict[str, Any]], head: str | None) -> None:
    if head is None:
        if chain:
            report.findings.append("the journal's record of the newest audit row is missing")
        return
    head_id, _, head_hash = head.partition(" ")
    last = chain[-1] if chain else None
    if last is not None and (str(last["id"]), last["hash"]) == (head_id, head_hash):
        return
    if any(r["hash"] == head_hash for r in chain):
        report.findings.append(f"rows after id {head_id} were appended outside the executor (the head it "
                               f"recorded is id {head_id})")
    else:
        report.findings.append(f"the newest rows are missing: the executor's last row was id {head_id}, the table "
                               f"ends at id {last['id'] if last else 'nothing'}")


# --- tail ---
def tail(data_dir: Path, n: int) -> list[dict[str, Any]]:
    db = connect(data_dir)
    try:
        try:
            values = db.execute(f"SELECT id, {', '.join(COLUMNS)}, hash FROM audit ORDER BY id DESC LIMIT ?",
                                (max(0, n),)).fetchall()
        except sqlite3.OperationalError:
            values = []
    finally:
        db.close()
    return [_as_row(v) for v in reversed(values)]


def show(rows: list[dict[str, Any]]) -> str:
    """One line per row: time (UTC), key, peer, command, result, duration, arguments."""
    if not rows:
        return "no audit rows yet"
    lines = []
    for r in rows:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r["ts"] / 1000)) + f".{r['ts'] % 1000:03d}Z"
        result = "ok" if r["ok"] else (r["error_code"] or "error")
        args = _short(r["data"])
        lines.append(f"{r['id']:>6}  {when}  {r['key_id'] or '-':<10} {r['client'] or '-':<24} "
                     f"{r['type']:<20} {result:<18} {r['duration_ms']:>6} ms  {args}".rstrip())
    return "\n".join(lines)


def _short(data: str | None, limit: int = 100) -> str:
    if not data:
        return ""
    try:
        text = json.dumps(json.loads(data), separators=(",", ":"))
    except ValueError:
        text = data
    return text if len(text) <= limit else text[:limit - 3] + "..."
