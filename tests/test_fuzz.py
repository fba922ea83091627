"""The fuzzing campaign of stress/fuzz.py, small enough for every run: a few thousand control
frames through the decoder, envelope, signature check and command validator, a few thousand
EA frames through unpack and the shape check, a few hundred over a real socket to a running
executor (each answered, the ControlServer never restarted), and a hostile client after
which a valid signed request is still served at once."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import msgpack
import pytest
import zmq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actors.control.auth import auth_frame  # noqa: E402
from actors.control.client import ControlClient  # noqa: E402
from actors.control.keys import client_key  # noqa: E402
from stress.fuzz import run_control, run_ea, run_socket  # noqa: E402

pytestmark = pytest.mark.timeout(120)


def test_control_frames_are_refused_or_accepted_never_crash():
    counts = run_control(2_500)
    assert counts["inputs"] == 2_500
    assert counts["valid command"] > 0 and counts["refused bad_signature"] > 0, counts  # it reaches every stage


def test_ea_frames_are_refused_or_accepted_never_crash():
    counts = run_ea(2_500)
    assert counts["inputs"] == 2_500
    assert counts["accepted ctl"] > 0 and counts["accepted md"] > 0 and counts["refused undecodable"] > 0, counts


def test_every_control_frame_over_a_socket_is_answered(tmp_path):
    counts = run_socket(300, data_dir=tmp_path)
    assert counts["inputs"] == 300
    assert sum(n for outcome, n in counts.items() if outcome.startswith("answered")) == 300, counts


def nested(depth: int):
    value: object = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def test_a_hostile_client_leaves_a_valid_request_served_at_once(executor_factory):
    executor = executor_factory(no_sim=True)
    endpoint, key = executor.config.control_endpoint, client_key(executor.config.data_dir, env={})
    now = time.time_ns() // 1_000_000

    def request(data: object, **extra) -> bytes:
        return msgpack.packb({"v": 1, "id": f"h-{time.monotonic_ns()}", "type": "PING", "ts": now, "data": data,
                              **extra}, use_bin_type=True)

    hostile = [
        [b"\x00" * (2 * 1024 * 1024)],  # over the socket's 1 MiB: the connection is dropped, never read
        [request("x" * (100 * 1024))],  # over the 64 KiB request limit
        [request(nested(100))],
        [request({"deep": nested(100)})],
        [msgpack.packb({1: 2, b"bin": 3, "v": 1}, use_bin_type=True)],  # non-string keys
        [request({"list": list(range(10_000))})],
        [request({"list": list(range(10_001))})],
        [request({"map": {str(i): i for i in range(10_000)}})],
        [request({}), b"a", b"b", b"c", b"d"],  # 5 parts
        [request({}), b"{}", b"", b"", b""],
        [b""],
        [msgpack.packb([1, 2, 3])],
        [b"\xc1" * 1000],
        [b"\xdd\xff\xff\xff\xff"],  # an array claiming 4 billion items
        [b"\xdf\xff\xff\xff\xff"],
    ]
    answered = 0
    for parts in hostile:
        sock = zmq.Context.instance().socket(zmq.DEALER)  # a fresh one: the 2 MiB frame costs its connection
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(endpoint)
        try:
            signed = parts if len(parts) > 1 or len(parts[0]) > 1024 * 1024 else [parts[0], auth_frame(key, parts[0])]
            sock.send_multipart([b"", *signed])
            if sock.poll(5_000 if len(parts[0]) <= 1024 * 1024 else 500):
                _, reply = sock.recv_multipart()
                answer = msgpack.unpackb(reply, raw=False)
                assert answer["ok"] or answer["error"]["code"] in ("BAD_REQUEST", "UNAUTHORIZED"), answer
                answered += 1
        finally:
            sock.close(linger=0)
    assert answered == len(hostile) - 1, "every hostile request but the one over the socket's limit is answered"
    with ControlClient(endpoint, timeout_s=5, data_dir=executor.config.data_dir) as client:
        started = time.monotonic()
        reply = client.request("PING")
        elapsed = time.monotonic() - started
    print(f"valid signed request after the hostile client: answered in {elapsed * 1000:.1f} ms")
    assert reply["ok"] and elapsed < 1.0
