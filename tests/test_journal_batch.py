"""The journal's group commit without the actor: `Batch.commit` on a real SQLite file, and
`to_json`, the storage form of maps that cannot fail.

One row or step that fails is skipped alone; a failure of the transaction itself fails the
whole group and every waiter hears it; replies go out only after the commit.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from actors.journal.batch import Batch
from actors.journal.models import MetaRow, open_database, to_json

pytestmark = pytest.mark.timeout(30)

INSERT_META = "INSERT INTO meta (key, value) VALUES (?, ?)"


@pytest.fixture
def db(tmp_path: Path):
    database = open_database(tmp_path / "journal.sqlite3")
    yield database
    database.close()


def read(db, sql: str) -> list[tuple]:
    """Through a second connection: committed rows only."""
    con = sqlite3.connect(db.database)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


class Told:
    def __init__(self) -> None:
        self.messages: list[tuple[str, Any]] = []

    def __call__(self, name: str, message: Any) -> None:
        self.messages.append((name, message))


def test_a_run_with_a_bad_row_keeps_the_others_in_order(db):
    batch, told = Batch(), Told()
    batch.row(INSERT_META, ("a", "1"), "a", reply_to="w", done="a done", failed=lambda e: f"a lost: {e}")
    batch.row(INSERT_META, ("b", None), "b", reply_to="w", done="b done", failed=lambda e: "b lost")  # NOT NULL
    batch.row(INSERT_META, ("c", "3"), "c", reply_to="w", done="c done", failed=lambda e: "c lost")
    assert batch.commit(db, told) == 1
    assert read(db, "SELECT key, value FROM meta WHERE key IN ('a', 'b', 'c') ORDER BY rowid") == [("a", "1"), ("c", "3")]
    assert told.messages == [("w", "a done"), ("w", "b lost"), ("w", "c done")]


def test_a_run_longer_than_one_statement_is_written_whole_and_in_order(db):
    # 700 rows of 2 parameters: more than one multi-row INSERT holds (MAX_PARAMETERS).
    batch, told = Batch(), Told()
    for i in range(700):
        value = None if i == 650 else str(i)  # NOT NULL: the bad row is in the second statement
        batch.row(INSERT_META, (f"k{i:03d}", value), f"k{i}", reply_to="w", done=i, failed=lambda e, i=i: -i)
    assert batch.commit(db, told) == 1
    written = read(db, "SELECT key FROM meta WHERE key LIKE 'k%' ORDER BY rowid")
    assert written == [(f"k{i:03d}",) for i in range(700) if i != 650]
    assert [m for _w, m in told.messages] == [-i if i == 650 else i for i in range(700)]


def test_a_step_that_fails_leaves_nothing_half_written(db):
    def half() -> None:
        MetaRow.create(key="half", value="x")
        raise KeyError("a bug after the first statement")

    batch, told = Batch(), Told()
    batch.row(INSERT_META, ("before", "1"), "before")
    batch.step(half, "half")
    batch.step(lambda: MetaRow.create(key="after", value="2"), "after")
    assert batch.commit(db, told) == 1
    assert read(db, "SELECT key FROM meta WHERE key IN ('before', 'half', 'after') ORDER BY rowid") == [
        ("before",), ("after",)]


def test_a_failed_transaction_fails_every_waiter_and_writes_nothing(db):
    db.execute_sql("PRAGMA busy_timeout = 50")
    other = sqlite3.connect(db.database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the write lock is taken: the group cannot be written
    batch, told = Batch(), Told()
    batch.row(INSERT_META, ("x", "1"), "x", reply_to="w", done="x done", failed=lambda e: f"x lost: {e}")
    batch.row(INSERT_META, ("y", "2"), "y", reply_to="w", done="y done", failed=lambda e: f"y lost: {e}")
    try:
        with pytest.raises(Exception, match="locked"):
            batch.commit(db, told)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert [name for name, _ in told.messages] == ["w", "w"]
    assert all("lost: journal transaction failed" in message for _, message in told.messages)
    assert read(db, "SELECT key FROM meta WHERE key IN ('x', 'y')") == []


def test_replies_are_told_after_the_commit(db):
    seen: list[list[tuple]] = []
    batch = Batch()
    batch.row(INSERT_META, ("k", "v"), "k", reply_to="w", done="k done")
    batch.commit(db, lambda name, message: seen.append(read(db, "SELECT key FROM meta WHERE key = 'k'")))
    assert seen == [[("k",)]]


# --------------------------------------------------------------------- to_json ---
def test_to_json_of_plain_maps_is_compact_sorted_json():
    value = {"b": [1, 2.5, None, True], "a": {"z": "x"}}
    assert to_json(value) == '{"a":{"z":"x"},"b":[1,2.5,null,true]}'


def test_to_json_never_fails_and_keeps_bytes_recoverable():
    class BadRepr:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    cycle: dict[str, Any] = {}
    cycle["self"] = cycle
    stored = json.loads(to_json({"raw": bytearray(b"\x00\x01"), "t": (b"x",), "bad": BadRepr(), "cycle": cycle}))
    assert base64.b64decode(stored["raw"]["$bytes"]) == b"\x00\x01"
    assert base64.b64decode(stored["t"][0]["$bytes"]) == b"x"
    assert stored["bad"] == {"$repr": "<unrepresentable BadRepr>"}
    depth = 0
    node = stored["cycle"]
    while "self" in node:
        node, depth = node["self"], depth + 1
    assert "$repr" in node and depth < 40
