"""The Gateway's batches: of the whole-state snapshots one drain of the CTL socket held, only
the newest per account and kind goes on; everything else keeps its place and order."""

from __future__ import annotations

from bridge import protocol
from actors.terminal.gateway import Gateway

A, B = protocol.routing_id(5_000_001), protocol.routing_id(5_000_002)


def frame(routing_id: bytes, **body) -> tuple[list[bytes], tuple[str, str]]:
    return [routing_id, protocol.pack({"v": 1, **body})], ("127.0.0.1", "")


def test_only_the_newest_snapshot_of_each_kind_per_account_goes_on():
    batch = [
        frame(A, type="positions", version=1, positions=[]),
        frame(A, type="order_send", id="c-1", ok=True, data={}),
        frame(A, type="trade_transaction", trans={}),
        frame(B, type="positions", version=7, positions=[]),
        frame(A, type="orders", version=1, orders=[]),
        frame(A, type="positions", version=2, positions=[]),
        frame(A, type="positions_get", id="r-9", ok=True, data=[]),  # a reply: never dropped
        [A, b"\xc1 not msgpack"], ("127.0.0.1", ""),
    ]
    batch = batch[:-2] + [(batch[-2], batch[-1])]
    kept = Gateway._superseded_dropped(batch)
    said = [(frames[0], body.get("type"), body.get("version") or body.get("id")) if body else (frames[0], None, None)
            for frames, _peer, body in kept]
    assert said == [
        (A, "order_send", "c-1"),
        (A, "trade_transaction", None),
        (B, "positions", 7),
        (A, "orders", 1),
        (A, "positions", 2),
        (A, "positions_get", "r-9"),
        (A, None, None),  # undecodable: kept, for _on_ctl to refuse and count
    ]


def test_a_batch_without_repeats_is_kept_whole():
    batch = [frame(A, type="positions", version=1, positions=[]), frame(A, type="orders", version=1, orders=[])]
    assert [body["type"] for _f, _p, body in Gateway._superseded_dropped(batch)] == ["positions", "orders"]
