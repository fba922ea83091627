"""Fuzzing campaign over what the executor decodes from outside, with Hypothesis.

    python -m stress.fuzz                          # 60 000 control, 60 000 EA, 2 000 over a socket (~4 min)
    python -m stress.fuzz --control 20000 --ea 20000 --socket 500 --seed 7

Targets, each run as the executor runs it:
* control: `decode_request` -> `validate_envelope` -> `authorize` (signed frames with the
  right key and with wrong ones) -> `validate_command`, and the error reply built as the
  ControlServer builds it. Refusals (ControlError, SchemaError, UnknownCommand, a Refusal)
  are outcomes; any other exception is a crash.
* EA: `bridge.protocol.unpack` -> `check_message` (CTL or MD) -> the Gateway's login check.
  A ProtocolError or a refusal line is an outcome; an exception is a crash.
* socket: a sample of control frames (1 to 5 parts, half of them signed) sent to a running
  executor over a real DEALER socket: every one must be answered, and the ControlServer
  never restarted.

Prints the inputs run and their outcomes per target; exits 1 on a crash (Hypothesis shrinks
it to a minimal input first and prints it), 0 otherwise. tests/test_fuzz.py runs the same
targets with a few thousand inputs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])
sys.path[:] = [ROOT] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import msgpack  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import seed as hypothesis_seed  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from actors import errors  # noqa: E402
from actors.control import protocol as cp  # noqa: E402
from actors.control.auth import Refusal, auth_frame, authorize  # noqa: E402
from actors.control.keys import ControlKey  # noqa: E402
from actors.control.schema import SchemaError, UnknownCommand, request_id_of, validate_command, validate_envelope  # noqa: E402
from actors.terminal.gateway import claimed_login  # noqa: E402
from bridge import protocol  # noqa: E402
from bridge.shapes.messages import check_message, kind_of  # noqa: E402
from stress.fuzz_inputs import control_frames, ea_frames  # noqa: E402

KEY = ControlKey("fuzz", "admin", bytes(range(32)))
WRONG = ControlKey("fuzz", "admin", bytes(32))
AUTH = st.sampled_from(["right", "right", "wrong", "none", "garbage"])


def _settings(n: int, seed: int | None):
    """Hypothesis for a campaign: `n` inputs, no example database, no deadline; `seed`: the
    same inputs every run."""
    configure = settings(max_examples=n, database=None, deadline=None, suppress_health_check=list(HealthCheck),
                         print_blob=True)
    return configure if seed is None else (lambda test: hypothesis_seed(seed)(configure(test)))


def control_once(frame: bytes, auth: str, counts: Counter) -> None:
    """One frame through the control path; counts its outcome, raises only on a crash."""
    auth_bytes = {"right": lambda: auth_frame(KEY, frame), "wrong": lambda: auth_frame(WRONG, frame),
                  "none": lambda: None, "garbage": lambda: frame[:64]}[auth]()
    request = None
    try:
        request = cp.decode_request(frame)
        envelope = validate_envelope(request)
        verdict = authorize(frame, auth_bytes, envelope.type, envelope.ts, {"fuzz": KEY}.get,
                            time.time_ns() // 1_000_000)
        if isinstance(verdict, Refusal):
            counts[f"refused {verdict.reason}"] += 1
            cp.reply_error(envelope.id, verdict.as_error())
        validate_command(envelope.type, envelope.data)  # also after a refusal: the validator is a target too
        counts["valid command"] += 1
        cp.reply_ok(envelope.id, {})
    except errors.ControlError as exc:
        counts[f"refused {exc.code}"] += 1
        cp.reply_error(request_id_of(request), exc.as_error())
    except UnknownCommand:
        counts["refused UNKNOWN_COMMAND"] += 1
    except SchemaError as exc:
        counts["refused schema"] += 1
        cp.reply_error(request_id_of(request), errors.error(errors.BAD_REQUEST, str(exc), {"field": exc.field}))


def ea_once(channel: str, frame: bytes, counts: Counter) -> None:
    try:
        body = protocol.unpack(frame)
    except protocol.ProtocolError:
        counts["refused undecodable"] += 1
        return
    why = check_message(body, channel)
    assert why is None or isinstance(why, str), f"check_message returned {why!r}"
    kind_of(body)
    if why is not None:
        counts[f"refused {channel} shape"] += 1
    elif channel == "ctl" and claimed_login(body) != 5_000_001:
        counts["refused login mismatch"] += 1
    else:
        counts[f"accepted {channel}"] += 1


def run_control(n: int, seed: int | None = None) -> Counter:
    counts: Counter = Counter()

    @_settings(n, seed)
    @given(frame=control_frames(), auth=AUTH)
    def target(frame: bytes, auth: str) -> None:
        counts["inputs"] += 1
        control_once(frame, auth, counts)

    target()
    return counts


def run_ea(n: int, seed: int | None = None) -> Counter:
    counts: Counter = Counter()

    @_settings(n, seed)
    @given(item=ea_frames())
    def target(item: tuple[str, bytes]) -> None:
        counts["inputs"] += 1
        ea_once(*item, counts)

    target()
    return counts


def run_socket(n: int, seed: int | None = None, data_dir: Path | None = None) -> Counter:
    """`n` control frames to a real executor (no terminal) over a DEALER; each must be answered."""
    import zmq

    from actors.app.config import load_config
    from actors.app.ports import free_endpoint
    from actors.app.service import Service
    from actors.control.keys import client_key

    counts: Counter = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = data_dir or Path(tmp)
        config = load_config(None, data_dir=folder, control_endpoint=free_endpoint(), events_endpoint=free_endpoint(),
                             ea_ctl_endpoint=free_endpoint(), ea_md_endpoint=free_endpoint(), no_sim=True,
                             rate_limits={"trading": 1e6, "strategy": 1e6, "admin": 1e6, "reads": 1e6,
                                          "emergency": 1e6})
        with Service(config) as service:
            key = client_key(folder, env={})
            control = service.directory.get("control")
            sock = zmq.Context.instance().socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(config.control_endpoint)
            try:
                @_settings(n, seed)
                @given(frame=control_frames(), signed=st.booleans(), extra=st.integers(0, 4))
                def target(frame: bytes, signed: bool, extra: int) -> None:
                    counts["inputs"] += 1
                    parts = [frame] + ([auth_frame(key, frame)] if signed else []) + [b"x"] * (extra if extra > 2 else 0)
                    sock.send_multipart([b"", *parts])
                    assert sock.poll(15_000), f"no reply to a {len(parts)}-part request: {frame[:80]!r}"
                    delimiter, reply = sock.recv_multipart()
                    answer = msgpack.unpackb(reply, raw=False)
                    counts["answered ok" if answer.get("ok") else f"answered {answer['error']['code']}"] += 1

                target()
            finally:
                sock.close(linger=0)
            assert service.directory.get("control") is control, "the ControlServer was restarted during the run"
    return counts


def report(name: str, counts: Counter, seconds: float) -> str:
    lines = [f"{name}: {counts['inputs']} inputs in {seconds:.1f} s, 0 crashes"]
    lines += [f"  {outcome:<28} {count:>8}" for outcome, count in counts.most_common() if outcome != "inputs"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stress.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--control", type=int, default=60_000, help="control frames (decoder, validator, auth)")
    parser.add_argument("--ea", type=int, default=60_000, help="EA frames (unpack, check_message)")
    parser.add_argument("--socket", type=int, default=2_000, help="control frames over a real socket")
    parser.add_argument("--seed", type=int, help="the same inputs every run")
    args = parser.parse_args(argv)
    from loguru import logger
    logger.remove()  # the executor's own lines would drown the counts
    total = 0
    for name, run, n in (("control", run_control, args.control), ("EA", run_ea, args.ea),
                         ("socket", run_socket, args.socket)):
        if n <= 0:
            continue
        started = time.monotonic()
        try:
            counts = run(n, args.seed)
        except Exception as exc:  # a crash: Hypothesis has printed the minimal input
            print(f"{name}: CRASH: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        total += counts["inputs"]
        print(report(name, counts, time.monotonic() - started), flush=True)
    print(f"total: {total} inputs, 0 crashes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
