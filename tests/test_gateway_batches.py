"""The Gateway's batches: of the whole-state snapshots one drain of the CTL socket held, only
the newest valid one per account and kind goes on, with those after it; everything else keeps
its place and order, and an invalid snapshot is never passed over (it is refused downstream)."""

from __future__ import annotations

from bridge import protocol
from actors.terminal.gateway import Gateway

A, B = protocol.routing_id(5_000_001), protocol.routing_id(5_000_002)


def frame(routing_id: bytes, **body) -> tuple[list[bytes], tuple[str, str]]:
    login = protocol.login_from_routing_id(routing_id)
    return [routing_id, protocol.pack({"v": 1, "id": "", "seq": 1, "ts": 1_700_000_000_000, "boot": "b", "term": login,
                                       **body})], ("127.0.0.1", "")


def kept(batch):
    return [(frames[0], body.get("type"), body.get("version", body.get("id") or None)) if body else (frames[0], None, None)
            for frames, _peer, body, _checked in Gateway._superseded_dropped(batch)]


def test_only_the_newest_valid_snapshot_of_each_kind_per_account_goes_on():
    batch = [
        frame(A, type="positions", version=1, positions=[]),
        frame(A, id="c-1", type="order_send", ok=True, data={}),
        frame(A, type="trade_transaction", trans={}),
        frame(B, type="positions", version=7, positions=[]),
        frame(A, type="orders", version=1, orders=[]),
        frame(A, type="positions", version=2, positions=[]),
        frame(A, id="r-9", type="positions_get", ok=True, data=[]),  # a reply: never dropped
        ([A, b"\xc1 not msgpack"], ("127.0.0.1", "")),
    ]
    assert kept(batch) == [
        (A, "order_send", "c-1"),
        (A, "trade_transaction", None),
        (B, "positions", 7),
        (A, "orders", 1),
        (A, "positions", 2),
        (A, "positions_get", "r-9"),
        (A, None, None),  # undecodable: kept, for _on_ctl to refuse and count
    ]
    checked = {body["version"] for _f, _p, body, done in Gateway._superseded_dropped(batch) if done}
    assert checked == {2}  # the one that replaced another was checked here, and is not checked twice


def test_an_invalid_snapshot_is_never_passed_over():
    batch = [
        frame(A, type="positions", version=1, positions=[{"ticket": "1"}]),  # invalid, replaced by a valid one
        frame(A, type="positions", version=2, positions=[]),
        frame(A, type="positions", version=3, positions=[{"ticket": "1"}]),  # invalid, newest
        frame(A, type="positions", positions=None),  # invalid, newest
    ]
    # the newest valid (2) replaces 1; those after it stay, to be refused and counted
    assert kept(batch) == [(A, "positions", 2), (A, "positions", 3), (A, "positions", None)]


def test_a_batch_without_repeats_is_kept_whole():
    batch = [frame(A, type="positions", version=1, positions=[]), frame(A, type="orders", version=1, orders=[])]
    assert [body["type"] for _f, _p, body, _c in Gateway._superseded_dropped(batch)] == ["positions", "orders"]
