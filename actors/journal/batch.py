"""Group commit: the journal's writes waiting for one transaction, and how they are written.

A `Batch` is an ordered list of operations: a *row* is one prepared statement with a plain
tuple of parameters (the hot rows: intents, outcomes, deals, events, audit), a *step* is a
function that may read before it writes (a position closing, a balance). `commit` writes
them all in one transaction, so in one fsync under `synchronous=FULL`, and only after the
commit tells each operation's waiter (`IntentRecorded` to an Account): write-ahead holds for
the whole group at once.

Order is arrival order: consecutive rows of the same statement go down together, nothing is
reordered across statements (an outcome must find the intent inserted before it). A run of
INSERTs becomes one multi-row INSERT: the sqlite3 module lets go of the interpreter lock around
every statement it steps, and while the strategies' lane is busy each time costs a wait for
the lock to come back (up to the switch interval): a group of 25 intents written with
`executemany` (25 steps, plus a savepoint) took 15-30 ms that way, as one statement it is one
wait. Other runs (UPDATEs) go through `executemany`.

One bad operation never costs the group: a run that fails is retried row by row, a step runs
in its own savepoint, and the one that fails alone is logged, counted and skipped (its waiter
hears that it failed). Only a failure of the transaction itself (the disk, not a row) fails
the whole group; then every waiter hears it and the error goes up to the supervisor.

Pure of pykka: the caller passes the database and a `tell(name, message)`.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import peewee as pw
from loguru import logger


class TransactionLost(RuntimeError):
    """SQLite dropped the whole transaction (disk full, I/O error): nothing of the group holds."""


# The database's faults, not a row's (locked past busy_timeout, I/O, disk full): retrying
# row by row would only wait again per row. They fail the group.
DATABASE_FAULTS = (sqlite3.OperationalError, pw.OperationalError)
MAX_PARAMETERS = 999  # SQLite's host parameters per statement, the smallest any build allows


@dataclass(slots=True)
class Op:
    sql: str | None  # None: a step
    params: Any  # the statement's tuple, or the step's function
    what: str  # what the log says when it fails alone
    must_change: bool = False  # an UPDATE that finds no row is worth a log line
    reply_to: str = ""
    done: Any = None  # told to reply_to after the commit
    failed: Callable[[str], Any] | None = None  # builds what reply_to hears when this op is lost
    ok: bool = True


class Batch:
    def __init__(self) -> None:
        self.ops: list[Op] = []

    def __len__(self) -> int:
        return len(self.ops)

    def row(self, sql: str, params: tuple, what: str, **kw: Any) -> Op:
        op = Op(sql, params, what, **kw)
        self.ops.append(op)
        return op

    def step(self, fn: Callable[[], Any], what: str) -> Op:
        op = Op(None, fn, what)
        self.ops.append(op)
        return op

    def commit(self, db: pw.SqliteDatabase, tell: Callable[[str, Any], Any]) -> int:
        """Write every operation in one transaction, then tell the waiters; the number of
        operations that failed alone. Raises when the transaction fails (waiters told first)."""
        try:
            with db.atomic():
                failed = _apply(db, self.ops)
        except Exception as exc:
            error = f"journal transaction failed: {type(exc).__name__}: {exc}"
            for op in self.ops:
                if op.failed is not None:
                    tell(op.reply_to, op.failed(error))
            raise
        for op in self.ops:
            if op.ok and op.done is not None:
                tell(op.reply_to, op.done)
            elif not op.ok and op.failed is not None:
                tell(op.reply_to, op.failed(f"{op.what} was not written; see the journal's log"))
        return failed


def _apply(db: pw.SqliteDatabase, ops: list[Op]) -> int:
    cursor = db.cursor()
    failed = 0
    i = 0
    while i < len(ops):
        op = ops[i]
        if op.sql is None:
            failed += not _alone(db, op, op.params)
            i += 1
            continue
        j = i + 1
        while j < len(ops) and ops[j].sql == op.sql:
            j += 1
        run = ops[i:j]
        i = j
        if op.must_change or len(run) == 1:  # one statement is atomic by itself: no savepoint
            for one in run:
                failed += not _alone(db, one, _statement(cursor, one), savepoint=False)
            continue
        try:
            _write_run(db, cursor, run)
        except DATABASE_FAULTS:
            raise
        except Exception:
            _check_transaction(db)
            for one in run:
                failed += not _alone(db, one, _statement(cursor, one), savepoint=False)
    return failed


def _write_run(db: pw.SqliteDatabase, cursor: sqlite3.Cursor, run: list[Op]) -> None:
    """A run of one statement's rows, all or none of them."""
    sql = run[0].sql
    if not sql.startswith("INSERT") or " VALUES (" not in sql:
        with db.atomic():  # a savepoint: a run that breaks midway leaves none of its rows
            cursor.executemany(sql, [o.params for o in run])
        return
    per_statement = max(1, MAX_PARAMETERS // max(1, len(run[0].params)))
    if len(run) <= per_statement:  # one statement is atomic by itself: no savepoint
        cursor.execute(multi_row(sql, len(run)), [p for o in run for p in o.params])
        return
    with db.atomic():
        for start in range(0, len(run), per_statement):
            chunk = run[start:start + per_statement]
            cursor.execute(multi_row(sql, len(chunk)), [p for o in chunk for p in o.params])


@functools.lru_cache(maxsize=256)
def multi_row(sql: str, rows: int) -> str:
    """`INSERT ... VALUES (?, ?) [tail]` for `rows` rows: `VALUES (?, ?), (?, ?), ... [tail]`."""
    start = sql.index(" VALUES (") + len(" VALUES ")
    depth, end = 0, start
    for end, char in enumerate(sql[start:], start):
        depth += (char == "(") - (char == ")")
        if depth == 0:
            break
    row = sql[start:end + 1]
    return f"{sql[:start]}{', '.join([row] * rows)}{sql[end + 1:]}"


def _statement(cursor: sqlite3.Cursor, op: Op) -> Callable[[], None]:
    def run() -> None:
        cursor.execute(op.sql, op.params)
        if op.must_change and cursor.rowcount == 0:
            logger.error("journal: {} matched no row", op.what)
    return run


def _alone(db: pw.SqliteDatabase, op: Op, fn: Callable[[], Any], *, savepoint: bool = True) -> bool:
    """Run one operation; on failure log it, mark it and carry on with the group."""
    try:
        if savepoint:  # a step of several statements leaves nothing half-written
            with db.atomic():
                fn()
        else:
            fn()
        return True
    except DATABASE_FAULTS:
        raise
    except Exception:
        _check_transaction(db)
        logger.opt(exception=True).error("journal: {} not written", op.what)
        op.ok = False
        return False


def _check_transaction(db: pw.SqliteDatabase) -> None:
    # On some errors (SQLITE_FULL, IOERR) SQLite rolls the whole transaction back; going on
    # would write the rest in autocommit, outside the group. Fail the group instead.
    if not db.connection().in_transaction:
        raise TransactionLost("the journal's transaction was rolled back by SQLite")
