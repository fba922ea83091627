"""The control protocol's wire rules (CONTROL_API.md): limits, frame decoding, replies.

Pure: no sockets and no actors, so every hostile-input rule is unit-testable. The
ControlServer actor calls `decode_request` on each frame and `reply_*` to answer.
"""

from __future__ import annotations

from typing import Any

import msgpack

from actors.errors import BAD_REQUEST, ControlError

VERSION = 1
MAX_FRAME_BYTES = 64 * 1024
SOCKET_MAX_MSG_BYTES = 1024 * 1024  # ZMQ_MAXMSGSIZE: the socket drops anything larger
REPLY_CACHE_TTL_S = 600.0


def decode_request(frame: bytes) -> Any:
    """The request map of one frame, or ControlError(BAD_REQUEST) saying what is wrong."""
    if len(frame) > MAX_FRAME_BYTES:
        raise ControlError(BAD_REQUEST, f"request frame of {len(frame)} bytes exceeds the {MAX_FRAME_BYTES}-byte limit",
                           {"limit": MAX_FRAME_BYTES})
    try:
        request = msgpack.unpackb(
            frame, raw=False, strict_map_key=True, max_str_len=MAX_FRAME_BYTES,
            max_bin_len=MAX_FRAME_BYTES, max_array_len=10_000, max_map_len=10_000, max_ext_len=0,
        )
    except Exception as exc:  # msgpack raises several unrelated exception types
        raise ControlError(BAD_REQUEST, f"request is not valid msgpack ({type(exc).__name__}); send one msgpack map per request") from None
    if not isinstance(request, dict):
        raise ControlError(BAD_REQUEST, f"request must be a msgpack map, got {type(request).__name__}")
    return request


def reply_ok(request_id: str | None, data: dict[str, Any]) -> bytes:
    return msgpack.packb({"v": VERSION, "id": request_id, "ok": True, "data": data}, use_bin_type=True)


def reply_error(request_id: str | None, err: dict[str, Any]) -> bytes:
    return msgpack.packb({"v": VERSION, "id": request_id, "ok": False, "error": err}, use_bin_type=True)


def split_envelope(frames: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """ROUTER frames -> (routing prefix to echo, body frames).

    REQ clients (and DEALERs that mimic them) put an empty delimiter after the routing id;
    a bare DEALER does not. Either way the reply goes back with the same prefix.
    """
    if len(frames) >= 2 and frames[1] == b"":
        return frames[:2], frames[2:]
    return frames[:1], frames[1:]
