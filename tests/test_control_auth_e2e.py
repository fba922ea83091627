"""Only key holders trade: each refusal over the real control socket of a running executor,
and, for each, proof that nothing ran (no position at the simulated terminal).

One test per refusal: unsigned, unknown key, bad signature, a role that may not run the
command, a stale `ts`, a revoked key, a rate limit (with `retry_after_ms`); and a replayed
frame answered from the reply cache without running twice.
"""

from __future__ import annotations

import time
from typing import Any

import msgpack
import pytest
from loguru import logger

from actors.control import keys
from actors.control.auth import auth_frame
from actors.control.client import ControlClient
from actors.control.keys import ControlKey, client_key
from tests.conftest import wait_for

OPEN = {"symbol": "EURUSD", "side": "buy", "volume": 0.1}


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def body(type_: str, data: dict[str, Any] | None = None, *, id: str, ts: int | None = None) -> bytes:
    request = {"v": 1, "id": id, "type": type_, "ts": now_ms() if ts is None else ts}
    if data is not None:
        request["data"] = data
    return msgpack.packb(request, use_bin_type=True)


def send(executor, *frames: bytes) -> dict[str, Any]:
    return executor.client.send_raw(*frames)


def refused(reply: dict[str, Any], reason: str, code: str = "UNAUTHORIZED") -> dict[str, Any]:
    assert reply["ok"] is False and reply["error"]["code"] == code, reply
    if code == "UNAUTHORIZED":
        assert reply["error"]["details"]["reason"] == reason, reply
    assert "\n" not in reply["error"]["message"]
    return reply["error"]


def positions(executor) -> list[dict[str, Any]]:
    return executor.sim.server.positions_get()


def default_key(executor) -> ControlKey:
    return client_key(executor.config.data_dir, env={})


def new_key(executor, role: str) -> ControlKey:
    key, _ = keys.add_key(executor.config.data_dir, role, f"test {role}")
    return key


def audited(executor, request_id: str) -> list[tuple]:
    import sqlite3
    from contextlib import closing
    path = executor.config.data_dir / "journal.sqlite3"

    def rows():
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)) as db:
            return db.execute("SELECT type, ok, error_code FROM audit WHERE request_id = ?", (request_id,)).fetchall()
    return wait_for(rows, timeout=10, message=f"the audit row of {request_id}")


def test_an_unsigned_order_is_refused_and_its_id_stays_usable(executor):
    frame = body("OPEN_POSITION", OPEN, id="unsigned-1")
    err = refused(send(executor, frame), "unsigned")
    assert "second frame" in err["message"]
    assert positions(executor) == []
    assert audited(executor, "unsigned-1") == [("OPEN_POSITION", 0, "UNAUTHORIZED")]
    # The refusal is not cached: the key holder's request with the same id runs.
    reply = send(executor, frame, auth_frame(default_key(executor), frame))
    assert reply["ok"], reply
    assert [p["ticket"] for p in positions(executor)] == [reply["data"]["ticket"]]


def test_an_unknown_key_is_refused(executor):
    frame = body("OPEN_POSITION", OPEN, id="unknown-1")
    stranger = ControlKey("stranger", "admin", default_key(executor).secret)
    assert "keys list" in refused(send(executor, frame, auth_frame(stranger, frame)), "unknown_key")["message"]
    assert positions(executor) == []


def test_a_bad_signature_is_refused(executor):
    frame = body("OPEN_POSITION", OPEN, id="badsig-1")
    forged = ControlKey("default", "admin", bytes(32))
    refused(send(executor, frame, auth_frame(forged, frame)), "bad_signature")
    tampered = body("OPEN_POSITION", {**OPEN, "volume": 5.0}, id="badsig-2")
    refused(send(executor, tampered, auth_frame(default_key(executor), frame)), "bad_signature")
    assert positions(executor) == []


def test_a_viewer_may_look_and_stop_but_not_trade(executor):
    viewer = new_key(executor, "viewer")  # added while the executor runs: no restart needed
    frame = body("OPEN_POSITION", OPEN, id="viewer-1")
    err = refused(send(executor, frame, auth_frame(viewer, frame)), "role")
    assert "viewer" in err["message"] and "OPEN_POSITION" in err["message"]
    assert positions(executor) == []
    trader = new_key(executor, "trader")
    limits = body("UPDATE_RISK_LIMITS", {"limits": {"max_positions": 50}}, id="trader-1")
    refused(send(executor, limits, auth_frame(trader, limits)), "role")
    for type_ in ("STATUS_REQUEST", "PERFORMANCE_REQUEST", "PING"):
        frame = body(type_, id=f"viewer-{type_}")
        assert send(executor, frame, auth_frame(viewer, frame))["ok"], type_
    stop = body("EMERGENCY_STOP", {"reason": "a viewer saw trouble"}, id="viewer-stop")
    assert send(executor, stop, auth_frame(viewer, stop))["ok"]
    assert executor.status()["kill_switch"]["active"]


def test_a_stale_ts_is_refused(executor):
    for ts in (now_ms() - 31_000, now_ms() + 31_000):
        frame = body("OPEN_POSITION", OPEN, id=f"stale-{ts}", ts=ts)
        assert "clock" in refused(send(executor, frame, auth_frame(default_key(executor), frame)), "stale_ts")["message"]
    assert positions(executor) == []


def test_a_replayed_frame_is_answered_from_the_cache_and_runs_once(executor):
    frame = body("OPEN_POSITION", OPEN, id="replay-1")
    auth = auth_frame(default_key(executor), frame)
    first = send(executor, frame, auth)
    assert first["ok"], first
    assert send(executor, frame, auth) == first  # the very same bytes again, within the ts window
    assert [p["ticket"] for p in positions(executor)] == [first["data"]["ticket"]]
    # Replies are kept per key: another key's request with the same id is its own.
    viewer = new_key(executor, "viewer")
    status = body("STATUS_REQUEST", id="replay-1")
    mine = send(executor, status, auth_frame(viewer, status))
    assert mine["ok"] and "positions" in mine["data"], mine


def test_a_revoked_key_is_refused_from_its_next_request(executor):
    trader = new_key(executor, "trader")
    ping = body("PING", id="revoked-0")
    assert send(executor, ping, auth_frame(trader, ping))["ok"]
    keys.revoke_key(executor.config.data_dir, trader.key_id)
    frame = body("OPEN_POSITION", OPEN, id="revoked-1")
    refused(send(executor, frame, auth_frame(trader, frame)), "revoked")
    assert positions(executor) == []


def test_trading_is_rate_limited_per_key_with_a_time_to_retry(executor_factory):
    executor = executor_factory(rate_limits={})  # the defaults, not conftest's generous ones
    executor.wait_connected()
    trader = new_key(executor, "trader")
    for n in range(10):  # the minute's allowance: 10 trading commands (refused ones count too)
        frame = body("CLOSE_POSITION", {"ticket": 424242 + n}, id=f"rl-close-{n}")
        assert send(executor, frame, auth_frame(trader, frame))["error"]["code"] == "NOT_FOUND"
    frame = body("OPEN_POSITION", OPEN, id="rl-open")
    err = refused(send(executor, frame, auth_frame(trader, frame)), "", code="RATE_LIMITED")
    assert 3000 < err["details"]["retry_after_ms"] <= 6000, err  # 10 a minute: one every 6 s
    assert positions(executor) == []
    assert executor.ok("OPEN_POSITION", OPEN)["ticket"]  # another key has its own bucket
    assert executor.ok("STATUS_REQUEST")  # and reads are not held back
    # Not cached: the same id, re-signed once the time has passed, runs.
    def resent():
        again = body("OPEN_POSITION", OPEN, id="rl-open")
        reply = send(executor, again, auth_frame(trader, again))
        return reply if reply["ok"] else None
    assert wait_for(resent, timeout=err["details"]["retry_after_ms"] / 1000 + 5, interval=0.25,
                    message="the trader's bucket to refill")["data"]["ticket"]
    assert len(positions(executor)) == 2


def test_auth_off_on_loopback_takes_unsigned_requests_and_warns(executor_factory):
    warnings: list[str] = []
    sink = logger.add(lambda m: warnings.append(str(m)), level="WARNING")
    try:
        executor = executor_factory(control_auth=False)
        with ControlClient(executor.config.control_endpoint, timeout_s=10) as unsigned:
            assert unsigned.request("PING")["ok"]
    finally:
        logger.remove(sink)
    assert any("authentication is OFF" in w for w in warnings), warnings
    assert not (executor.config.data_dir / "control.key").exists()


@pytest.mark.parametrize("auth", [b"", b"\x80"])
def test_a_malformed_auth_frame_is_refused(executor, auth):
    frame = body("OPEN_POSITION", OPEN, id=f"malformed-{auth.hex()}")
    refused(send(executor, frame, auth), "bad_auth_frame")
    assert positions(executor) == []
