"""The Journal's group commit: what waits in its mailbox is written in one transaction, an
intent's `IntentRecorded` goes out only after the commit holding its row, rows keep their
order, the asked form still answers, and a row that cannot be stored never costs the rest.

A second SQLite connection is the witness throughout: it sees only committed rows. Holding
the write lock from it (`write_lock`) stalls the journal inside a commit, so the messages
told meanwhile queue up and must be drained as one group.
"""

from __future__ import annotations

import base64
import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pykka
import pytest

from actors import messages as m
from actors.journal.journal import Journal, JournalWriteError
from actors.runtime.directory import Directory

pytestmark = pytest.mark.timeout(30)

REQUEST = {"action": 1, "symbol": "EURUSD", "volume": 0.1, "type": 0}


class Received:
    """What the recorder was told, waited on from the test thread."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.committed_on_arrival: dict[str, bool] = {}
        self.changed = threading.Condition()

    def add(self, message: Any) -> None:
        with self.changed:
            self.messages.append(message)
            self.changed.notify_all()

    def wait(self, count: int, timeout: float = 10.0) -> list[Any]:
        """The first `count` messages; fails the test at the deadline."""
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.messages) >= count, timeout):
                pytest.fail(f"received {len(self.messages)} of {count} messages within {timeout} s")
            return list(self.messages[:count])


class Recorder(pykka.ThreadingActor):
    """Keeps what it is told. On `IntentRecorded` it asks a connection of its own whether
    the row is already committed, at the moment the message arrives."""

    def __init__(self, db_path: Path, received: Received) -> None:
        super().__init__()
        self.db_path = db_path
        self.received = received
        self.witness: sqlite3.Connection | None = None

    def on_receive(self, message: Any) -> None:
        if isinstance(message, m.IntentRecorded):
            if self.witness is None:
                self.witness = sqlite3.connect(self.db_path)
            row = self.witness.execute("SELECT client_order_id FROM order_intents WHERE id = ?",
                                       (message.intent_id,)).fetchone()
            self.received.committed_on_arrival[message.corr] = row == (message.client_order_id,)
        self.received.add(message)

    def on_stop(self) -> None:
        if self.witness is not None:
            self.witness.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite3"


@pytest.fixture
def directory() -> Directory:
    return Directory()


@pytest.fixture
def recorder(directory: Directory, db_path: Path) -> Iterator[Received]:
    received = Received()
    ref = Recorder.start(db_path, received)
    directory.register("recorder", ref)
    yield received
    ref.stop(timeout=5)


@pytest.fixture
def journal(directory: Directory, db_path: Path) -> Iterator[pykka.ActorRef]:
    ref = Journal.start(db_path, directory)
    ref.ask(m.Ping(), timeout=5)  # past on_start: the tables exist
    yield ref
    with contextlib.suppress(pykka.ActorDeadError):
        ref.stop(timeout=5)


@contextlib.contextmanager
def write_lock(db_path: Path) -> Iterator[sqlite3.Connection]:
    """Hold SQLite's write lock from another connection; the journal's commit waits for it
    (its busy_timeout is 5 s)."""
    con = sqlite3.connect(db_path, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    finally:
        con.execute("ROLLBACK")
        con.close()


def committed(db_path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """What a fresh connection reads: committed rows only."""
    con = sqlite3.connect(db_path)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def journal_tag(db_path: Path) -> str:
    return committed(db_path, "SELECT value FROM meta WHERE key = 'tag'")[0][0]


def intent(i: int, *, reply_to: str = "recorder", **kw: Any) -> m.RecordIntent:
    fields = {"account": 1001, "strategy_id": f"s{i % 5}", "symbol": "EURUSD", "side": "buy", "volume": 0.1,
              "closing": False, "request": REQUEST, **kw}
    return m.RecordIntent(reply_to=reply_to, corr=f"c{i}", **fields)


def stats(journal: pykka.ActorRef) -> dict[str, int]:
    return journal.ask(m.LoadJournalStats(), timeout=5)


# ------------------------------------------------------------------ group commit ---
def test_a_burst_of_intents_is_written_in_fewer_transactions_than_intents(journal, recorder, db_path):
    n = 50
    with write_lock(db_path):  # the journal stalls in its first commit while the rest queue up
        for i in range(n):
            journal.tell(intent(i))
    replies = recorder.wait(n)
    assert [r.corr for r in replies] == [f"c{i}" for i in range(n)]
    counts = stats(journal)
    # The first group went before the lock was seen; everything told meanwhile made the second.
    assert counts["rows"] == n
    assert counts["transactions"] <= 2 < n
    assert counts["largest_batch"] >= n // 2


def test_intent_recorded_arrives_only_after_its_row_is_committed(journal, recorder, db_path):
    n = 30
    with write_lock(db_path):
        for i in range(n):
            journal.tell(intent(i))
    recorder.wait(n)
    for i in range(n, 2 * n):  # and without a stall, in groups as they come
        journal.tell(intent(i))
    recorder.wait(2 * n)
    assert recorder.committed_on_arrival == {f"c{i}": True for i in range(2 * n)}


def test_rows_keep_their_arrival_order_across_tables(journal, recorder, db_path):
    tag = journal_tag(db_path)
    with write_lock(db_path):
        for i in range(10):
            journal.tell(intent(i, strategy_id=f"s{9 - i}"))  # ids follow arrival, not the strategy
            if i % 2 == 0:  # an outcome in the same group as its intent must find the row
                journal.tell(m.RecordOrderOutcome(client_order_id=f"{tag}-{i + 1}", status="FILLED",
                                                  retcode=10009, order_ticket=500 + i, price=1.1, volume=0.1))
    replies = recorder.wait(10)
    assert [r.corr for r in replies] == [f"c{i}" for i in range(10)]
    assert [r.intent_id for r in replies] == list(range(1, 11))
    rows = committed(db_path, "SELECT id, strategy_id, status, order_ticket, filled_volume FROM order_intents"
                              " ORDER BY id")
    assert [(r[0], r[1]) for r in rows] == [(i + 1, f"s{9 - i}") for i in range(10)]
    assert [r[2] for r in rows] == ["FILLED", "PENDING"] * 5
    assert [(r[3], r[4]) for r in rows if r[2] == "FILLED"] == [(500 + i, 0.1) for i in range(0, 10, 2)]


def test_the_asked_form_answers_with_the_committed_ids(journal, recorder, db_path):
    intent_id, coid = journal.ask(intent(0, reply_to=""), timeout=5)
    assert coid == f"{journal_tag(db_path)}-{intent_id}"
    assert committed(db_path, "SELECT id FROM order_intents WHERE client_order_id = ?", (coid,)) == [(intent_id,)]
    journal.tell(intent(1))  # the told form carries on from the same counter
    [reply] = recorder.wait(1)
    assert reply.intent_id == intent_id + 1


def test_ids_carry_on_after_a_restart(directory, db_path):
    ref = Journal.start(db_path, directory)
    first, _ = ref.ask(intent(0, reply_to=""), timeout=5)
    ref.stop(timeout=5)
    ref = Journal.start(db_path, directory)
    try:
        second, _ = ref.ask(intent(1, reply_to=""), timeout=5)
    finally:
        ref.stop(timeout=5)
    assert second == first + 1


def test_reads_see_what_was_told_before_them(journal):
    journal.tell(m.SaveRiskLimits(account=1001, limits={"max_lot_size": 2.0}))
    journal.tell(m.PositionOpened(account=1001, strategy_id="s1", ticket=77, symbol="EURUSD", side="buy",
                                  volume=0.1, price_open=1.1))
    assert journal.ask(m.LoadRiskLimits(account=1001), timeout=5) == {"max_lot_size": 2.0}
    assert journal.ask(m.LoadOpenPositions(account=1001), timeout=5) == {77: "s1"}


def test_trade_profits_answer_by_tell(journal, recorder):
    for ticket, profit in ((1, 5.0), (2, -3.0)):
        journal.tell(m.PositionClosed(account=1001, strategy_id="s1", ticket=ticket, symbol="EURUSD", side="buy",
                                      volume=0.1, price_close=1.1, profit=profit, close_time=ticket))
    journal.tell(m.LoadTradeProfits(reply_to="recorder", corr="k1", strategy_id="s1"))
    [reply] = recorder.wait(1)
    assert reply == m.TradeProfitsLoaded(corr="k1", strategy_id="s1", profits=(5.0, -3.0))


def test_stopping_commits_what_is_still_waiting(directory, db_path):
    ref = Journal.start(db_path, directory)
    ref.ask(m.Ping(), timeout=5)  # past on_start, which must not meet the lock
    with write_lock(db_path):
        for i in range(20):
            ref.tell(intent(i, reply_to=""))
        stopped = ref.stop(block=False)  # queued behind the intents: the last group is on_stop's
    stopped.get(timeout=10)
    assert committed(db_path, "SELECT COUNT(*) FROM order_intents") == [(20,)]
    assert committed(db_path, "SELECT value FROM meta WHERE key = 'open'") == [("0",)]


# ---------------------------------------------------- rows that cannot be stored ---
HOSTILE_FRAMES = [
    {"raw": b"\x00\xffMT5"},
    {"nested": [b"a", {"deeper": b"\x01"}]},
    {"keys": {b"bin-key": 1, 2: "two"}},
    {"object": object()},
]


def test_rows_with_bytes_are_stored_readably_and_the_group_commits_the_rest(journal, recorder, db_path):
    with write_lock(db_path):
        journal.tell(intent(0))
        for i, data in enumerate(HOSTILE_FRAMES):
            journal.tell(m.AuditCommand(request_id=f"r{i}", type="START_STRATEGY", data=data, ok=False,
                                        error_code="INVALID"))
        journal.tell(m.RecordDeals(account=1001, strategy_id="s1", deals=(
            {"ticket": 9, "order": 1, "symbol": "EURUSD", "magic": 2**64 - 1},
            {"ticket": None, "symbol": "EURUSD"},  # NOT NULL: this row alone cannot be written
            {"ticket": 10, "order": 2, "symbol": "EURUSD"},
        )))
        journal.tell(m.KillSwitchEngaged(reason="test", locked_until=5, engaged_at=1))
        journal.tell(intent(1))
    replies = recorder.wait(2)
    assert all(isinstance(r, m.IntentRecorded) for r in replies)
    assert journal.is_alive()
    assert stats(journal)["failed_rows"] == 1
    assert committed(db_path, "SELECT ticket, magic FROM deals ORDER BY ticket") == [(9, str(2**64 - 1)), (10, "0")]
    assert journal.ask(m.LoadKillSwitch(), timeout=5).active
    audit = [json.loads(data) for (data,) in committed(db_path, "SELECT data FROM audit ORDER BY id")]
    assert len(audit) == len(HOSTILE_FRAMES)
    assert base64.b64decode(audit[0]["raw"]["$bytes"]) == b"\x00\xffMT5"
    assert base64.b64decode(audit[1]["nested"][1]["deeper"]["$bytes"]) == b"\x01"
    assert audit[2]["keys"] == {"b'bin-key'": 1, "2": "two"}
    assert audit[3]["object"]["$repr"].startswith("<object object at")


def test_an_intent_that_cannot_be_written_is_answered_not_recorded(journal, recorder, db_path):
    with write_lock(db_path):
        journal.tell(intent(0))
        journal.tell(intent(1, strategy_id=None))  # NOT NULL
        journal.tell(intent(2))
    replies = recorder.wait(3)
    assert [type(r).__name__ for r in replies] == ["IntentRecorded", "IntentNotRecorded", "IntentRecorded"]
    assert replies[1].corr == "c1" and "was not written" in replies[1].error
    assert committed(db_path, "SELECT COUNT(*) FROM order_intents") == [(2,)]
    with pytest.raises(JournalWriteError):
        journal.ask(intent(3, reply_to="", strategy_id=None), timeout=5)
    assert journal.ask(intent(4, reply_to=""), timeout=5)[0] > replies[2].intent_id


def test_event_payloads_with_bytes_are_stored(journal, db_path):
    journal.tell(m.LinkStateChanged(account=1001, connected=False, boot=b"boot", reason="x"))  # bytes where a str goes
    journal.tell(m.LinkStateChanged(account=1001, connected=True, boot="b2", reason="y"))
    stats(journal)  # a read: everything told before it is committed
    payloads = [json.loads(p) for (p,) in committed(db_path, "SELECT payload FROM events ORDER BY id")]
    assert base64.b64decode(payloads[0]["boot"]["$bytes"]) == b"boot"
    assert payloads[1] == {"account": 1001, "connected": True, "boot": "b2", "reason": "y"}


def test_a_message_whose_rows_cannot_be_built_is_dropped_alone(journal, recorder):
    journal.tell(m.RecordDeals(account=1001, strategy_id="s1", deals=("not a map",)))
    journal.tell(intent(0))
    [reply] = recorder.wait(1)
    assert isinstance(reply, m.IntentRecorded)
    assert stats(journal)["failed_rows"] == 1
