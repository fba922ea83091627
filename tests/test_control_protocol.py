"""The control protocol's wire rules (actors/control/protocol.py): hostile frames, replies, envelopes."""

from __future__ import annotations

import msgpack
import pytest

from actors.control import protocol as cp
from actors.control.protocol import MAX_FRAME_BYTES, decode_request, reply_error, reply_ok, split_envelope
from actors.errors import BAD_REQUEST, ERROR_CODES, TRADING_LOCKED, ControlError, error


def padded_frame(size: int) -> bytes:
    """A valid request map whose encoding is exactly `size` bytes."""
    base = {"v": 1, "id": "a", "type": "PING", "pad": ""}
    overhead = len(msgpack.packb(base)) + 2  # a str of 256..65535 characters has a 3-byte header, not 1
    frame = msgpack.packb({**base, "pad": "x" * (size - overhead)})
    assert len(frame) == size
    return frame


def bad_request(frame: bytes) -> ControlError:
    with pytest.raises(ControlError) as err:
        decode_request(frame)
    assert err.value.code == BAD_REQUEST
    return err.value


# ------------------------------------------------------------ decode_request ---
def test_limit_is_64_kib():
    assert MAX_FRAME_BYTES == 65_536
    assert cp.SOCKET_MAX_MSG_BYTES == 1_048_576


def test_decodes_a_request_map():
    frame = msgpack.packb({"v": 1, "id": "r1", "type": "PING", "data": {}, "ts": 1_700_000_000_000})
    assert decode_request(frame) == {"v": 1, "id": "r1", "type": "PING", "data": {}, "ts": 1_700_000_000_000}


def test_a_frame_of_exactly_64_kib_is_accepted():
    assert decode_request(padded_frame(MAX_FRAME_BYTES))["type"] == "PING"


def test_a_frame_over_64_kib_is_refused():
    err = bad_request(padded_frame(MAX_FRAME_BYTES + 1))
    assert str(MAX_FRAME_BYTES + 1) in err.message and str(MAX_FRAME_BYTES) in err.message
    assert err.details == {"limit": MAX_FRAME_BYTES}


def test_a_huge_frame_is_refused_before_decoding():
    bad_request(b"\x00" * (10 * MAX_FRAME_BYTES))  # garbage too: the size is checked first


@pytest.mark.parametrize("value", [[1, 2], "PING", 5, None, True, 1.5, b"bytes"],
                         ids=["list", "str", "int", "nil", "bool", "float", "bin"])
def test_a_non_map_is_refused(value):
    err = bad_request(msgpack.packb(value, use_bin_type=True))
    assert "map" in err.message
    assert type(value).__name__ in err.message


@pytest.mark.parametrize("frame", [
    b"",                                     # empty
    b"\xc1",                                 # a byte msgpack never uses
    b"\x82\xa1a",                            # truncated map
    msgpack.packb({"a": 1}) + b"\x00",       # trailing data
    b"{\"type\": \"PING\"}",                 # JSON, not msgpack
    msgpack.packb({1: "int key"}),           # keys must be strings
    msgpack.packb({"data": {2: "x"}}),       # ...at every depth
    msgpack.packb(msgpack.ExtType(1, b"x")),  # no ext types
    msgpack.packb({"x": msgpack.ExtType(5, b"abc")}),
], ids=["empty", "c1", "truncated", "trailing", "json", "int-key", "nested-int-key", "ext", "nested-ext"])
def test_garbage_is_refused(frame):
    err = bad_request(frame)
    assert "msgpack" in err.message or "map" in err.message


def test_garbage_message_says_what_to_send():
    err = bad_request(b"\xc1")
    assert "send one msgpack map per request" in err.message


def test_too_many_elements_are_refused():
    bad_request(msgpack.packb({"data": list(range(10_001))}))
    assert decode_request(msgpack.packb({"data": list(range(10_000))}))["data"][-1] == 9_999


def test_bomb_declaring_a_huge_array_is_refused():
    # array32 header claiming 4 billion elements, then nothing.
    bad_request(b"\x81\xa1a\xdd\xff\xff\xff\xff")


# ----------------------------------------------------------------- replies ---
def test_reply_ok():
    assert msgpack.unpackb(reply_ok("r1", {"pong": 5})) == {"v": 1, "id": "r1", "ok": True, "data": {"pong": 5}}


def test_reply_error_with_null_id():
    body = msgpack.unpackb(reply_error(None, error(BAD_REQUEST, "bad")))
    assert body == {"v": 1, "id": None, "ok": False,
                    "error": {"code": BAD_REQUEST, "message": "bad", "details": {}}}


def test_control_error_as_error():
    err = ControlError(TRADING_LOCKED, "locked", {"locked_until": 5})
    assert err.as_error() == {"code": "TRADING_LOCKED", "message": "locked", "details": {"locked_until": 5}}
    assert str(err) == "locked"


def test_control_error_needs_a_known_code():
    with pytest.raises(AssertionError):
        ControlError("NOPE", "x")


def test_error_codes_are_those_of_control_api():
    assert ERROR_CODES == {"BAD_REQUEST", "UNKNOWN_COMMAND", "UNAUTHORIZED", "RATE_LIMITED", "NOT_FOUND",
                           "CONFLICT", "RISK_REJECTED", "TRADING_LOCKED", "CONFIRMATION_REQUIRED",
                           "BROKER_ERROR", "UNAVAILABLE", "TIMEOUT", "INTERNAL"}


# ----------------------------------------------------------- split_envelope ---
def test_split_req_envelope():
    assert split_envelope([b"client-1", b"", b"body"]) == ([b"client-1", b""], [b"body"])


def test_split_req_envelope_with_auth_frame():
    assert split_envelope([b"client-1", b"", b"body", b"auth"]) == ([b"client-1", b""], [b"body", b"auth"])


def test_split_bare_dealer():
    assert split_envelope([b"client-1", b"body"]) == ([b"client-1"], [b"body"])


def test_split_bare_dealer_with_auth_frame():
    assert split_envelope([b"client-1", b"body", b"auth"]) == ([b"client-1"], [b"body", b"auth"])


def test_split_routing_id_only():
    assert split_envelope([b"client-1"]) == ([b"client-1"], [])


def test_split_req_with_no_body():
    assert split_envelope([b"client-1", b""]) == ([b"client-1", b""], [])
