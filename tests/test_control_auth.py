"""Control authentication, keys and rate limits as pure code: `auth.authorize` for each refusal,
the key files (permissions, rotate, revoke, reload), the token buckets on a fake clock, and the
configuration that may turn authentication off."""

from __future__ import annotations

import json
import os
import stat

import msgpack
import pytest

from actors.app.config import ConfigError, is_loopback, load_config
from actors.control import keys as k
from actors.control.auth import Refusal, auth_frame, authorize, sign
from actors.control.keys import ControlKey
from actors.control.rate_limits import RateLimits, RateLimitsError, parse_limits

NOW = 1_790_000_000_000
SECRET = bytes(range(32))
KEYS = {"t1": ControlKey("t1", "trader", SECRET), "v1": ControlKey("v1", "viewer", SECRET),
        "old": ControlKey("old", "admin", SECRET, revoked=NOW - 1)}


def frame(type_: str = "OPEN_POSITION", ts: int | None = NOW) -> bytes:
    return msgpack.packb({"v": 1, "id": "a-1", "type": type_, "ts": ts}, use_bin_type=True)


def check(body: bytes, auth: bytes | None, type_: str = "OPEN_POSITION", ts: int | None = NOW) -> ControlKey | Refusal:
    return authorize(body, auth, type_, ts, KEYS.get, NOW)


# ------------------------------------------------------------------------ authorize ---
def test_a_frame_signed_by_a_trader_key_is_its_key():
    body = frame()
    assert check(body, auth_frame(KEYS["t1"], body)) is KEYS["t1"]
    # The signature is plain HMAC-SHA256 over the frame's bytes, hex: what any language computes.
    import hashlib
    import hmac
    assert sign(SECRET, body) == hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    upper = msgpack.packb({"key_id": "t1", "sig": sign(SECRET, body).upper()})
    assert check(body, upper) is KEYS["t1"]


@pytest.mark.parametrize("auth, reason", [
    (None, "unsigned"),
    (b"\xc1", "bad_auth_frame"),
    (msgpack.packb(["t1", "00" * 32]), "bad_auth_frame"),
    (msgpack.packb({"key_id": "t1"}), "bad_auth_frame"),
    (msgpack.packb({"key_id": "t1", "sig": "zz" * 32}), "bad_auth_frame"),
    (msgpack.packb({"key_id": "t1", "sig": "00" * 32, "extra": 1}), "bad_auth_frame"),
    (msgpack.packb({"key_id": "nobody", "sig": "00" * 32}), "unknown_key"),
    (msgpack.packb({"key_id": "t1", "sig": "00" * 32}), "bad_signature"),
])
def test_each_refusal_before_the_key_is_proven(auth, reason):
    refusal = check(frame(), auth)
    assert isinstance(refusal, Refusal) and refusal.reason == reason, refusal
    err = refusal.as_error()
    assert err["code"] == "UNAUTHORIZED" and err["details"] == {"reason": reason}
    assert "\n" not in err["message"] and len(err["message"]) < 200, err  # one line


def test_a_signature_over_other_bytes_is_bad():
    signed, sent = frame(), frame(type_="CLOSE_ALL")  # re-encoding or tampering changes the bytes
    assert check(sent, auth_frame(KEYS["t1"], signed)).reason == "bad_signature"


def test_a_revoked_key_is_refused_once_its_signature_holds():
    body = frame()
    assert check(body, auth_frame(KEYS["old"], body)).reason == "revoked"
    forged = msgpack.packb({"key_id": "old", "sig": "00" * 32})  # says nothing about the key to a forger
    assert check(body, forged).reason == "bad_signature"


@pytest.mark.parametrize("ts", [None, NOW - 30_001, NOW + 30_001, 0])
def test_a_ts_outside_thirty_seconds_is_stale(ts):
    body = frame(ts=ts)
    refusal = check(body, auth_frame(KEYS["t1"], body), ts=ts)
    assert refusal.reason == "stale_ts", refusal


@pytest.mark.parametrize("ts", [NOW - 30_000, NOW + 30_000])
def test_a_ts_at_the_edge_of_the_window_is_accepted(ts):
    body = frame(ts=ts)
    assert check(body, auth_frame(KEYS["t1"], body), ts=ts) is KEYS["t1"]


@pytest.mark.parametrize("role, allowed, refused", [
    ("viewer", ["PING", "STATUS_REQUEST", "PERFORMANCE_REQUEST", "EMERGENCY_STOP"],
     ["OPEN_POSITION", "START_STRATEGY", "CLOSE_ALL", "UPDATE_RISK_LIMITS", "RESET_KILL_SWITCH"]),
    ("trader", ["OPEN_POSITION", "CLOSE_POSITION", "MODIFY_POSITION", "CLOSE_ALL", "START_STRATEGY",
                "STOP_STRATEGY", "PAUSE_STRATEGY", "RESUME_STRATEGY", "UPDATE_STRATEGY", "EMERGENCY_STOP", "PING"],
     ["UPDATE_RISK_LIMITS", "SET_TRADING_STATE", "RESET_KILL_SWITCH"]),
    ("admin", ["UPDATE_RISK_LIMITS", "SET_TRADING_STATE", "RESET_KILL_SWITCH", "OPEN_POSITION", "EMERGENCY_STOP"], []),
])
def test_roles(role, allowed, refused):
    key = ControlKey("r", role, SECRET)
    for type_ in allowed + refused:
        body = frame(type_)
        verdict = authorize(body, auth_frame(key, body), type_, NOW, {"r": key}.get, NOW)
        if type_ in allowed:
            assert verdict is key, (role, type_, verdict)
        else:
            assert verdict.reason == "role" and type_ in verdict.message and role in verdict.message, verdict


# ------------------------------------------------------------------------- key files ---
def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_default_key_is_made_once_owner_only(tmp_path):
    assert k.ensure_keys(tmp_path) is True
    text = (tmp_path / "control.key").read_text()
    assert len(text.strip()) == 64 and text.endswith("\n") and text.count("\n") == 1
    assert mode(tmp_path / "control.key") == 0o600 and mode(tmp_path / "control_keys.json") == 0o600
    assert k.ensure_keys(tmp_path) is False and (tmp_path / "control.key").read_text() == text
    default = k.load_keys(tmp_path)["default"]
    assert default.role == "admin" and default.secret == bytes.fromhex(text.strip())
    assert text.strip() not in repr(default) and "secret" not in json.loads(
        (tmp_path / "control_keys.json").read_text())["keys"][0]


def test_add_rotate_revoke(tmp_path):
    key, secret = k.add_key(tmp_path, "viewer", "grafana")
    assert (key.role, key.name, key.revoked) == ("viewer", "grafana", None) and key.secret == bytes.fromhex(secret)
    assert mode(tmp_path / "control_keys.json") == 0o600 and "default" in k.load_keys(tmp_path)
    rotated, new = k.rotate_key(tmp_path, key.key_id)
    assert rotated.key_id == key.key_id and rotated.role == "viewer" and new != secret
    assert k.load_keys(tmp_path)[key.key_id].secret == bytes.fromhex(new)
    old_default = k.load_keys(tmp_path)["default"].secret
    _, new_default = k.rotate_key(tmp_path, "default")
    assert (tmp_path / "control.key").read_text().strip() == new_default != old_default.hex()
    assert k.revoke_key(tmp_path, key.key_id).revoked is not None
    with pytest.raises(k.KeysError, match="revoked"):
        k.rotate_key(tmp_path, key.key_id)
    with pytest.raises(k.KeysError, match="keys list"):
        k.revoke_key(tmp_path, "nope")
    with pytest.raises(k.KeysError, match="role"):
        k.add_key(tmp_path, "god")


def test_key_files_readable_by_others_are_refused(tmp_path):
    k.ensure_keys(tmp_path)
    os.chmod(tmp_path / "control.key", 0o644)
    with pytest.raises(k.KeysError, match="chmod 600"):
        k.load_keys(tmp_path)


def test_the_store_follows_changes_and_keeps_the_last_good_keys(tmp_path):
    k.ensure_keys(tmp_path)
    store = k.KeyStore(tmp_path)
    key, _ = k.add_key(tmp_path, "trader")
    assert store.get(key.key_id).revoked is None  # added while running: known at the next lookup
    k.revoke_key(tmp_path, key.key_id)
    assert store.get(key.key_id).revoked is not None
    path = tmp_path / "control_keys.json"
    path.write_text("{broken")
    assert store.get(key.key_id).revoked is not None  # a broken file is not a revocation
    path.unlink()
    (tmp_path / "control.key").unlink()
    assert store.get("default") is None


def test_a_client_finds_its_key(tmp_path):
    k.ensure_keys(tmp_path)
    default = k.client_key(tmp_path, env={})
    assert default.key_id == "default" and default.secret == k.load_keys(tmp_path)["default"].secret
    key, secret = k.add_key(tmp_path, "trader")
    line = tmp_path / "trader.key"
    line.write_text(f"{key.key_id}:{secret}\n")
    assert k.client_key(tmp_path, line, env={}).key_id == key.key_id
    from_env = k.client_key(tmp_path / "elsewhere", env={k.ENV_VAR: f"{key.key_id}:{secret}"})
    assert from_env.key_id == key.key_id and from_env.secret == bytes.fromhex(secret)
    with pytest.raises(k.KeyNotFound, match="--data-dir.*--key-file.*EXECUTOR_CONTROL_KEY"):
        k.client_key(tmp_path / "elsewhere", env={})
    line.write_text("not a key")
    with pytest.raises(k.KeysError, match="hex"):
        k.client_key(tmp_path, line, env={})


# ----------------------------------------------------------------------- rate limits ---
def test_a_bucket_passes_a_minutes_burst_then_says_when_to_retry():
    limits = RateLimits()
    assert all(limits.take("t1", "OPEN_POSITION", 100.0) is None for _ in range(10))
    assert limits.take("t1", "CLOSE_ALL", 100.0) == 6000  # the trading group shares one bucket
    assert limits.take("t2", "OPEN_POSITION", 100.0) is None  # another key has its own
    assert limits.take("t1", "START_STRATEGY", 100.0) is None  # and another group too
    assert limits.take("t1", "OPEN_POSITION", 103.0) == 3000
    assert limits.take("t1", "OPEN_POSITION", 106.0) is None
    assert limits.take("t1", "OPEN_POSITION", 106.0) == 6000


def test_emergency_stop_refills_at_one_a_second_at_least():
    limits = RateLimits({"emergency": 1})
    assert limits.take("v", "EMERGENCY_STOP", 0.0) is None
    assert limits.take("v", "EMERGENCY_STOP", 0.0) == 1000
    assert limits.take("v", "EMERGENCY_STOP", 1.0) is None
    defaults = RateLimits()
    assert [defaults.take("v", "EMERGENCY_STOP", 0.0) for _ in range(6)] == [None] * 5 + [1000]


def test_reads_are_generous_and_a_command_may_have_its_own_limit():
    limits = RateLimits({"OPEN_POSITION": 2})
    assert all(limits.take("v", "STATUS_REQUEST", 0.0) is None for _ in range(1000))
    assert [limits.take("t", "OPEN_POSITION", 0.0) for _ in range(3)] == [None, None, 30_000]
    assert limits.take("t", "CLOSE_POSITION", 0.0) is None  # the rest of the group is unaffected


@pytest.mark.parametrize("value, message", [
    ([], "object"), ({"trades": 5}, "neither a group"), ({"trading": 0}, "at least 1"),
    ({"trading": "10"}, "number"), ({"PING": True}, "number"),
])
def test_bad_rate_limit_settings(value, message):
    with pytest.raises(RateLimitsError, match=message):
        parse_limits(value)
    with pytest.raises(ConfigError, match="rate_limits"):
        load_config(None, rate_limits=value)


# ------------------------------------------------------------------ turning auth off ---
@pytest.mark.parametrize("endpoint, loopback", [
    ("tcp://127.0.0.1:5555", True), ("tcp://127.0.0.2:5555", True), ("tcp://localhost:5555", True),
    ("tcp://[::1]:5555", True), ("ipc:///tmp/x", True), ("inproc://x", True),
    ("tcp://0.0.0.0:5555", False), ("tcp://*:5555", False), ("tcp://eth0:5555", False),
    ("tcp://10.1.2.3:5555", False), ("tcp://127.evil.example:5555", False),
])
def test_what_counts_as_loopback(endpoint, loopback):
    assert is_loopback(endpoint) is loopback


def test_auth_may_be_off_only_on_loopback():
    assert load_config(None).control_auth is True
    assert load_config(None, control_auth=False).control_auth is False
    with pytest.raises(ConfigError, match="loopback"):
        load_config(None, control_auth=False, control_endpoint="tcp://0.0.0.0:5555")
    with pytest.raises(ConfigError, match="true or false"):
        load_config(None, control_auth="no")
