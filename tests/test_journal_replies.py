"""Control replies in the journal (actors/journal/replies.py) and what the ControlServer makes
of them (actors/control/stored_replies.py): a command linked to its intent in the intent's
transaction, replies kept and loaded with what is left of their time, expired ones pruned,
and a doubt answered from its intent's outcome when the journal knows it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import msgpack
import pykka
import pytest

from actors import errors
from actors import messages as m
from actors.control import stored_replies as stored
from actors.journal.journal import Journal
from actors.runtime.directory import Directory

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[pykka.ActorRef]:
    ref = Journal.start(tmp_path / "journal.sqlite3", Directory())
    yield ref
    ref.stop()


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def intent(command_corr: str = "") -> m.RecordIntent:
    return m.RecordIntent(account=1, strategy_id="manual", symbol="EURUSD", side="buy", volume=0.1, closing=False,
                          request={"action": 1, "volume": 0.1}, command_corr=command_corr)


def test_a_command_is_linked_to_its_intent_and_loaded_with_its_outcome(journal):
    later = now_ms() + 600_000
    journal.tell(m.RecordCommand(key="k/open-1", corr="cX-1", type="OPEN_POSITION", expires_at=later))
    _, coid = journal.ask(intent(command_corr="cX-1"))
    journal.ask(intent())  # no command: linked to nothing
    [row] = journal.ask(m.LoadReplies())
    assert (row["key"], row["reply"]) == ("k/open-1", None)
    assert row["intent"]["client_order_id"] == coid and row["intent"]["status"] == "PENDING"
    kept = stored.sort_rows([row], now_ms())
    assert kept.replies == [] and kept.doubts["k/open-1"]["client_order_id"] == coid
    assert stored.answer("open-1", kept.doubts["k/open-1"]) is None  # not known here: the terminal decides

    journal.tell(m.RecordOrderOutcome(client_order_id=coid, status="FILLED", retcode=10009, order_ticket=77,
                                      price=1.1, volume=0.1))
    [row] = journal.ask(m.LoadReplies())
    frame = stored.answer("open-1", stored.sort_rows([row], now_ms()).doubts["k/open-1"])
    assert msgpack.unpackb(frame) == {"v": 1, "id": "open-1", "ok": True,
                                      "data": {"ticket": 77, "price": 1.1, "volume": 0.1}}


def test_a_reply_is_kept_and_a_later_one_replaces_it_keeping_the_link(journal):
    later = now_ms() + 600_000
    journal.tell(m.RecordCommand(key="k/open-2", corr="cX-2", type="OPEN_POSITION", expires_at=later))
    journal.ask(intent(command_corr="cX-2"))
    timeout = {"v": 1, "id": "open-2", "ok": False, "error": errors.error(errors.TIMEOUT, "slow")}
    journal.tell(m.StoreReply(key="k/open-2", corr="cX-2", type="OPEN_POSITION", reply=timeout, expires_at=later))
    [row] = journal.ask(m.LoadReplies())
    assert row["reply"] == timeout and row["intent"] is not None
    assert "k/open-2" in stored.sort_rows([row], now_ms()).doubts  # TIMEOUT promised the outcome: still a doubt
    done = {"v": 1, "id": "open-2", "ok": True, "data": {"ticket": 5, "price": 1.2, "volume": 0.1}}
    journal.tell(m.StoreReply(key="k/open-2", corr="cX-2", type="OPEN_POSITION", reply=done, expires_at=later))
    [row] = journal.ask(m.LoadReplies())
    kept = stored.sort_rows([row], now_ms())
    assert kept.doubts == {} and [(k, msgpack.unpackb(f)) for k, f, _ in kept.replies] == [("k/open-2", done)]
    assert 599 < kept.replies[0][2] <= 600  # what is left of its 10 minutes


def test_expired_replies_are_pruned_and_never_served(journal):
    gone = {"v": 1, "id": "old", "ok": True, "data": {}}
    journal.tell(m.StoreReply(key="k/old", corr="", type="CLOSE_ALL", reply=gone, expires_at=now_ms() - 1))
    journal.tell(m.StoreReply(key="k/new", corr="", type="CLOSE_ALL", reply=gone, expires_at=now_ms() + 60_000))
    assert [row["key"] for row in journal.ask(m.LoadReplies())] == ["k/new"]
    assert stored.sort_rows([{"key": "k/late", "reply": gone, "intent": None, "expires_at": now_ms() - 5}],
                            now_ms()).replies == []


def test_a_rejected_order_is_answered_as_it_was(journal):
    journal.tell(m.RecordCommand(key="k/open-3", corr="cX-3", type="OPEN_POSITION", expires_at=now_ms() + 60_000))
    _, coid = journal.ask(intent(command_corr="cX-3"))
    journal.tell(m.RecordOrderOutcome(client_order_id=coid, status="REJECTED", retcode=10006,
                                      message="Request rejected"))
    [row] = journal.ask(m.LoadReplies())
    reply = msgpack.unpackb(stored.answer("open-3", stored.sort_rows([row], now_ms()).doubts["k/open-3"]))
    assert reply["error"]["code"] == errors.BROKER_ERROR and reply["error"]["details"]["retcode"] == 10006
    assert reply["error"]["message"] == "MT5 refused the order: 10006 Request rejected"
