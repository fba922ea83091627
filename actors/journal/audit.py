"""The audit trail: every control command, in an append-only, hash-chained table.

A row says who (`key_id`, and the peer's address and ZAP name in `client`), what (`type`,
`request_id`, the arguments with secrets redacted), how it ended (`ok`, `error_code`) and how
long it took (`duration_ms`). Each row carries `prev_hash`, the hash of the row before it, and
its own `hash`: SHA-256 over `canonical(row)`, a JSON array of its columns in a fixed order
(the `data` column as the exact text stored) with the previous hash inside. So an edited row
no longer matches its hash, a deleted one leaves its successor pointing at a hash no row
has, and a moved one points at a row that is not the one before it. The newest
row's id and hash are kept in the meta table too (`audit_head`), so rows cut off the end
are seen as well. `python run.py audit verify` checks it all (actors/journal/audit_check.py).

A chain does not stop a rewrite of the whole table by someone who can write the file; it
makes one evident to whoever kept a hash from before (`audit verify` prints the head).
Triggers refuse UPDATE and DELETE on the table, so nothing in the executor can change a row.

Rows are appended by the Journal in its group commit, as a step (`append`) that reads the
previous hash inside the same transaction: the chain follows commit order whatever fails.
A row that cannot be written is logged and skipped by the batch; its error is never a
database fault that would fail the group (an order's intent never waits on the audit).

STATUS_REQUEST and PING are sampled at the ControlServer (`Sampler`): the first per key and
command each minute, with the number left out since, and every failure.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from typing import Any

import peewee as pw

from actors import messages as m
from actors.journal.models import safe_repr, to_json

MAX_DATA = 4096
HEAD_KEY = "audit_head"
SAMPLED = frozenset({"STATUS_REQUEST", "PING"})
SAMPLE_EVERY_S = 60.0
REDACTED = "[redacted]"
_SECRET_WORDS = ("secret", "password", "otp", "token", "passphrase", "private")
_SECRET_KEYS = frozenset({"key", "sig", "signature", "secret_key"})

# The chain's columns, in the canonical order (schema in models.AuditRow).
# The id is not among them: the chain, not the id, says where a row belongs, so a row moved
# is told apart from a row edited.
COLUMNS = ("ts", "request_id", "type", "data", "ok", "error_code", "client", "key_id", "duration_ms", "prev_hash")
INSERT_SQL = f"INSERT INTO audit (id, {', '.join(COLUMNS)}, hash) VALUES ({', '.join('?' * (len(COLUMNS) + 2))})"
LAST_SQL = "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1"
HEAD_SQL = "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"
NEW_COLUMNS = {"key_id": "VARCHAR(64) NOT NULL DEFAULT ''", "duration_ms": "INTEGER NOT NULL DEFAULT 0",
               "prev_hash": "VARCHAR(64)", "hash": "VARCHAR(64)"}
TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS audit_append_only_update BEFORE UPDATE ON audit "
    "BEGIN SELECT RAISE(ABORT, 'the audit table is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_append_only_delete BEFORE DELETE ON audit "
    "BEGIN SELECT RAISE(ABORT, 'the audit table is append-only'); END",
)


class AuditNotWritten(RuntimeError):
    """One audit row failed; the batch logs it and commits the rest (never a database fault)."""


# --- what goes in a row ---
def redact(value: Any, depth: int = 0) -> Any:
    """`value` with every secret-looking field's value replaced (a command's arguments)."""
    if depth > 32:
        return REDACTED
    if isinstance(value, dict):
        return {k: REDACTED if _is_secret(k) else redact(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v, depth + 1) for v in value]
    return value


def _is_secret(key: Any) -> bool:
    text = str(key).lower() if isinstance(key, str) else ""
    return text in _SECRET_KEYS or any(word in text for word in _SECRET_WORDS)


def data_text(data: Any) -> str | None:
    if data is None:
        return None
    data = redact(data)
    if len(safe_repr(data)) > MAX_DATA:
        data = {"truncated": safe_repr(data)[:MAX_DATA]}
    return to_json(data)


def canonical(row: dict[str, Any]) -> bytes:
    """The bytes a row's hash is over: its chain columns as a compact JSON array."""
    values = [row[c] for c in COLUMNS]
    values[COLUMNS.index("ok")] = int(bool(values[COLUMNS.index("ok")]))
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def row_hash(row: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(row)).hexdigest()


# --- writing (the Journal's step) ---
def append(db: pw.SqliteDatabase, msg: m.AuditCommand, now: int) -> None:
    """Append one row after the newest; run inside the group's transaction."""
    try:
        cursor = db.cursor()
        last = cursor.execute(LAST_SQL).fetchone()
        row = {"id": (last[0] + 1) if last else 1, "ts": now, "request_id": msg.request_id,
               "type": str(msg.type)[:32], "data": data_text(msg.data), "ok": int(bool(msg.ok)),
               "error_code": str(msg.error_code)[:32], "client": str(msg.client)[:64],
               "key_id": str(msg.key_id)[:64], "duration_ms": max(0, int(msg.duration_ms)),
               "prev_hash": (last[1] or "") if last else ""}
        digest = row_hash(row)
        cursor.execute(INSERT_SQL, (row["id"], *(row[c] for c in COLUMNS), digest))
        cursor.execute(HEAD_SQL, (HEAD_KEY, f"{row['id']} {digest}"))
    except (sqlite3.Error, pw.PeeweeException) as exc:
        # Not a database fault for the batch: a missing or locked-down audit table costs this
        # row only. (A transaction SQLite rolled back is still seen by the batch's check.)
        raise AuditNotWritten(f"audit row of {msg.type!r} not written: {exc}") from None


def prepare(db: pw.SqliteDatabase) -> None:
    """A journal from before the chain gets its columns; every journal its triggers."""
    have = {row[1] for row in db.execute_sql("PRAGMA table_info(audit)").fetchall()}
    for name, decl in NEW_COLUMNS.items():
        if name not in have:
            db.execute_sql(f"ALTER TABLE audit ADD COLUMN {name} {decl}")
    for sql in TRIGGERS:
        db.execute_sql(sql)


# --- sampling (the ControlServer's) ---
class Sampler:
    """Which reads get a row: the first of each (key, command) per `every_s`, and failures."""

    def __init__(self, every_s: float = SAMPLE_EVERY_S) -> None:
        self.every_s = every_s
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}  # -> (window start, left out since)

    def take(self, key_id: str, type_: str, ok: bool, now: float) -> int | None:
        """None: leave this one out. Else the row is written, saying how many were left out."""
        if type_ not in SAMPLED or not ok:
            return 0
        start, skipped = self._windows.get((key_id, type_), (None, 0))
        if start is not None and now - start < self.every_s:
            self._windows[(key_id, type_)] = (start, skipped + 1)
            return None
        if len(self._windows) > 10_000:  # keys are few; a bound all the same
            self._windows.clear()
        self._windows[(key_id, type_)] = (now, 0)
        return skipped
