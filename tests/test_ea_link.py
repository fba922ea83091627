"""The executor's side of an EA link as plain state (actors/terminal/ea_link.py); time is passed in."""

from __future__ import annotations

import pytest

from actors.terminal.ea_link import ORDER_STATUS_INTERVAL_S, ORDER_STATUS_TRIES, EaLink
from bridge import protocol

LOGIN = 5_000_001
T0 = 1_000.0  # a monotonic clock reading


@pytest.fixture
def link() -> EaLink:
    return EaLink(login=LOGIN)


def test_timing_constants_match_reliability_md():
    assert ORDER_STATUS_TRIES == 5
    assert ORDER_STATUS_INTERVAL_S == 2.0
    assert protocol.REQUEST_TIMEOUT_S == 2.5
    assert protocol.MISSED_BEATS_FOR_DOWN == 3


# ------------------------------------------------------------------ requests ---
def test_request_ids_are_unique(link):
    ids = [link.request(protocol.ACCOUNT_INFO, T0)["id"] for _ in range(100)]
    assert len(set(ids)) == 100
    assert set(link.pending) == set(ids)


def test_request_message_carries_envelope_and_fields(link):
    msg = link.request(protocol.POSITIONS_GET, T0, symbol="EURUSD")
    assert msg["v"] == protocol.VERSION
    assert msg["type"] == protocol.POSITIONS_GET
    assert msg["term"] == LOGIN
    assert msg["boot"] == "executor"
    assert msg["symbol"] == "EURUSD"
    assert set(protocol.ENVELOPE_KEYS) <= set(msg)
    pending = link.pending[msg["id"]]
    assert pending.type == protocol.POSITIONS_GET
    assert pending.message is msg
    assert pending.deadline == T0 + protocol.REQUEST_TIMEOUT_S
    assert pending.tries == 1


def test_request_with_explicit_id_and_timeout(link):
    msg = link.request(protocol.ORDER_SEND, T0, id="ab12cd-7", timeout=10.0, purpose=("order", 7),
                       request={"symbol": "EURUSD"})
    assert msg["id"] == "ab12cd-7"
    assert link.pending["ab12cd-7"].deadline == T0 + 10.0
    assert link.pending["ab12cd-7"].purpose == ("order", 7)


def test_sequence_numbers_increase(link):
    seqs = [link.request(protocol.PING, T0)["seq"] for _ in range(3)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3


# ---------------------------------------------------------------- take_reply ---
def test_take_reply_pops_the_pending_request(link):
    msg = link.request(protocol.ACCOUNT_INFO, T0, purpose="info")
    other = link.request(protocol.ORDERS_GET, T0)
    pending = link.take_reply({"id": msg["id"], "ok": True, "data": {}})
    assert pending is not None and pending.id == msg["id"] and pending.purpose == "info"
    assert msg["id"] not in link.pending
    assert other["id"] in link.pending
    assert link.take_reply({"id": msg["id"], "ok": True}) is None  # a duplicate reply


def test_take_reply_for_unknown_or_missing_id(link):
    link.request(protocol.ACCOUNT_INFO, T0)
    assert link.take_reply({"id": "r999", "ok": True}) is None
    assert link.take_reply({"ok": True}) is None
    assert len(link.pending) == 1


# ------------------------------------------------------------------- expiry ---
def test_expired_only_after_the_deadline(link):
    msg = link.request(protocol.ACCOUNT_INFO, T0)
    assert link.expired(T0 + protocol.REQUEST_TIMEOUT_S - 0.001) == []
    late = link.expired(T0 + protocol.REQUEST_TIMEOUT_S)
    assert [p.id for p in late] == [msg["id"]]
    assert link.pending == {}
    assert link.expired(T0 + 100) == []  # reported once


def test_expired_leaves_younger_requests(link):
    old = link.request(protocol.ACCOUNT_INFO, T0)
    young = link.request(protocol.ACCOUNT_INFO, T0 + 2.0)
    assert [p.id for p in link.expired(T0 + 3.0)] == [old["id"]]
    assert set(link.pending) == {young["id"]}


def test_a_reply_after_expiry_is_unknown(link):
    msg = link.request(protocol.ACCOUNT_INFO, T0)
    link.expired(T0 + 10)
    assert link.take_reply({"id": msg["id"], "ok": True}) is None


# -------------------------------------------------------------------- retry ---
def test_retry_keeps_the_same_id_and_fields(link):
    msg = link.request(protocol.ORDER_SEND, T0, id="ab12cd-7", purpose="p", request={"symbol": "EURUSD"})
    (pending,) = link.expired(T0 + protocol.REQUEST_TIMEOUT_S)
    again = link.retry(pending, T0 + 3.0)
    assert again is not None
    assert again["id"] == "ab12cd-7"
    assert again["type"] == protocol.ORDER_SEND
    assert again["request"] == {"symbol": "EURUSD"}
    assert again["seq"] > msg["seq"]  # a new envelope, the same request
    renewed = link.pending["ab12cd-7"]
    assert renewed.tries == 2
    assert renewed.deadline == T0 + 3.0 + ORDER_STATUS_INTERVAL_S
    assert renewed.purpose == "p"
    assert renewed.message is again


def test_retry_stops_after_order_status_tries(link):
    link.request(protocol.ORDER_SEND, T0, id="ab12cd-7", request={"symbol": "EURUSD"})
    now = T0
    sends = 1
    while True:
        now += 10.0
        (pending,) = link.expired(now)
        assert pending.id == "ab12cd-7"
        message = link.retry(pending, now)
        if message is None:
            break
        assert message["id"] == "ab12cd-7"
        sends += 1
        assert sends <= ORDER_STATUS_TRIES, "retried past ORDER_STATUS_TRIES"
    assert sends == ORDER_STATUS_TRIES
    assert "ab12cd-7" not in link.pending  # given up: nothing left pending


def test_retry_then_reply_is_matched(link):
    link.request(protocol.ORDER_SEND, T0, id="x-1")
    (pending,) = link.expired(T0 + 5)
    link.retry(pending, T0 + 5)
    taken = link.take_reply({"id": "x-1", "ok": True})
    assert taken is not None and taken.tries == 2


# ---------------------------------------------------------------- liveness ---
def test_is_silent_after_three_missed_beats(link):
    link.heard(T0)
    assert not link.is_silent(T0 + 1.0)
    assert not link.is_silent(T0 + 3.0)  # exactly three beats: not yet
    assert link.is_silent(T0 + 3.01)
    link.heard(T0 + 3.01)
    assert not link.is_silent(T0 + 3.5)


def test_on_hello_new_boot_only(link):
    assert not link.up
    assert link.on_hello({"type": protocol.HELLO, "boot": "b1"}, T0) is True
    assert link.up and link.boot == "b1" and link.last_heard == T0
    assert link.on_hello({"type": protocol.HELLO, "boot": "b1"}, T0 + 5) is False  # a repeated hello
    assert link.last_heard == T0 + 5
    assert link.on_hello({"type": protocol.HELLO, "boot": "b2"}, T0 + 9) is True  # the EA restarted
    assert link.boot == "b2"
    assert link.on_hello({"type": protocol.HELLO, "boot": "b2"}, T0 + 14) is False


def test_on_hello_after_link_down_same_boot(link):
    link.on_hello({"boot": "b1"}, T0)
    link.up = False  # the Terminal marks it down after silence
    assert link.on_hello({"boot": "b1"}, T0 + 60) is False
    assert link.up


def test_ping_due_once_per_interval(link):
    assert link.ping_due(T0) is True
    assert link.ping_due(T0) is False
    assert link.ping_due(T0 + 0.5) is False
    assert link.ping_due(T0 + protocol.PING_INTERVAL_S) is True
    assert link.ping_due(T0 + protocol.PING_INTERVAL_S + 0.99) is False
    assert link.ping_due(T0 + 5.0) is True  # late: one ping, not a burst
    assert link.ping_due(T0 + 5.0) is False


def test_ping_due_count_over_ten_seconds(link):
    beats = sum(link.ping_due(T0 + i * 0.1) for i in range(100))
    assert beats == 10
