"""The EA's msgpack codec and protocol header, verified without MetaTrader.

MQL5 cannot be compiled here, so the codec (mql5/Include/ExecutorBridge/Msgpack.mqh) is
written in the C-like subset of MQL5 and compiled *unchanged* by g++ with a small
compatibility header (tests/mql5_compat/), with AddressSanitizer and UBSan when available.
The driver is checked against golden vectors packed by Python's msgpack (tests/golden/):
byte-identical re-encoding, values read through the accessors the EA's handlers use, every
truncation refused, hostile and random frames refused without a crash. Also: the golden
files cannot drift from their generator, bridge.protocol.unpack accepts each of them, and the
generated Protocol.mqh equals what mql5/generate_protocol.py produces today.
"""

from __future__ import annotations

import importlib.util
import json
import random
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgpack
import pytest

from bridge import mt5, protocol

pytestmark = pytest.mark.timeout(180)

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
DRIVER_SOURCE = ROOT / "tests" / "mql5_compat" / "codec_driver.cpp"
MSGPACK_MQH = ROOT / "mql5" / "Include" / "ExecutorBridge" / "Msgpack.mqh"
PROTOCOL_MQH = ROOT / "mql5" / "Include" / "ExecutorBridge" / "Protocol.mqh"


def _load(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


make_golden = _load(GOLDEN / "make_golden.py", "make_golden")
generate_protocol = _load(ROOT / "mql5" / "generate_protocol.py", "generate_protocol")
MANIFEST = json.loads((GOLDEN / "manifest.json").read_text())
GOLDEN_FILES = [entry["file"] for entry in MANIFEST]


# --- the driver ---

@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ not found: the MQL5 codec is checked by compiling Msgpack.mqh with g++ "
                    "(apt-get install g++); nothing else can compile MQL5 here")
    out = tmp_path_factory.mktemp("mql5_codec") / "codec_driver"
    base = [gxx, "-std=c++17", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-o", str(out), str(DRIVER_SOURCE)]
    sanitized = subprocess.run([*base, "-fsanitize=address,undefined", "-fno-sanitize-recover=all"],
                               capture_output=True, text=True, timeout=150)
    if sanitized.returncode != 0:  # no sanitizer runtime installed: plain build, still bounds-checked
        plain = subprocess.run(base, capture_output=True, text=True, timeout=150)
        assert plain.returncode == 0, f"g++ failed on the MQL5 codec:\n{plain.stderr}"
    return out


def run(driver: Path, *args: Any, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(driver), *map(str, args)], capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, f"driver {args[0]} exited {result.returncode}: {result.stdout}{result.stderr}"
    return result


def batch(driver: Path, tmp_path: Path, frames: list[bytes], *limits: int) -> list[tuple[str, str]]:
    """Run the driver over `frames`; ('ok', hex of re-encoding) or ('err', why) for each."""
    path = tmp_path / "frames.batch"
    path.write_bytes(b"".join(struct.pack("<I", len(f)) + f for f in frames))
    lines = run(driver, "batch", path, *limits).stdout.splitlines()
    assert len(lines) == len(frames), "the driver stopped before the last frame"
    return [tuple(line.split(" ", 1)) if " " in line else (line, "") for line in lines]  # type: ignore[misc]


def python_decode(frame: bytes) -> Any:
    return msgpack.unpackb(frame, raw=False, strict_map_key=True)


def typed_dump(value: Any) -> list[str]:
    """What `codec_driver dump` prints for `value`: types, uint64 exactly, doubles as bits."""
    if value is None:
        return ["nil"]
    if isinstance(value, bool):
        return [f"bool {int(value)}"]
    if isinstance(value, int):
        return [f"int {value}" if value < 0 else f"uint {value}"]
    if isinstance(value, float):
        return [f"double {struct.pack('>d', value).hex()}"]
    if isinstance(value, str):
        return [f"str {value.encode().hex()}"]
    if isinstance(value, list):
        return [f"array {len(value)}"] + [line for item in value for line in typed_dump(item)]
    if isinstance(value, dict):
        lines = [f"map {len(value)}"]
        for key, item in value.items():
            lines += [f"key {key.encode().hex()}", *typed_dump(item)]
        return lines
    raise TypeError(type(value))


# --- golden vectors ---

def test_golden_files_are_what_the_generator_produces() -> None:
    expected = make_golden.build()
    on_disk = {path.name for path in GOLDEN.iterdir() if path.suffix in (".bin", ".json")}
    assert on_disk == set(expected), "stale or missing golden files: run python tests/golden/make_golden.py"
    for name, data in expected.items():
        assert (GOLDEN / name).read_bytes() == data, f"{name} drifted: run python tests/golden/make_golden.py"


def test_golden_vectors_cover_every_message_type() -> None:
    kinds = {entry["type"] for entry in MANIFEST}
    wanted = set(protocol.REQUESTS) | set(protocol.EVENTS) | {protocol.TICK, protocol.BAR, protocol.HB}
    assert wanted <= kinds, f"no golden vector for {sorted(wanted - kinds)}"
    replies = [python_decode((GOLDEN / entry["file"]).read_bytes()) for entry in MANIFEST if entry["reply"]]
    assert any(r["ok"] for r in replies) and any(not r["ok"] for r in replies)
    assert any(r["type"] == protocol.PING for r in replies), "no pong"
    order_send = python_decode((GOLDEN / "order_send.bin").read_bytes())["request"]
    assert order_send["magic"] > 2**63 and order_send["position"] > 2**32
    assert tuple(order_send) == mt5.TRADE_REQUEST_KEYS


@pytest.mark.parametrize("name", GOLDEN_FILES)
def test_protocol_unpack_accepts_every_golden_file(name: str) -> None:
    message = protocol.unpack((GOLDEN / name).read_bytes())
    assert set(protocol.ENVELOPE_KEYS) <= set(message)


# --- the codec on golden vectors ---

def test_every_golden_frame_reencodes_to_identical_bytes(driver: Path, tmp_path: Path) -> None:
    frames = [(GOLDEN / name).read_bytes() for name in GOLDEN_FILES]
    for name, frame, (status, detail) in zip(GOLDEN_FILES, frames, batch(driver, tmp_path, frames)):
        assert status == "ok", f"{name}: refused: {detail}"
        assert bytes.fromhex(detail) == frame, f"{name}: re-encoding differs"


@pytest.mark.parametrize("name", GOLDEN_FILES)
def test_values_survive_decoding(driver: Path, name: str) -> None:
    """Types and values as the EA's handlers read them: Find() by key, ULong, Long, Double bits."""
    frame = (GOLDEN / name).read_bytes()
    assert run(driver, "dump", GOLDEN / name).stdout.splitlines() == typed_dump(python_decode(frame))


@pytest.mark.parametrize("name", GOLDEN_FILES)
def test_every_truncation_and_trailing_byte_is_refused(driver: Path, name: str) -> None:
    assert run(driver, "prefixes", GOLDEN / name).stdout.startswith("OK")


def test_writer_api_builds_canonical_bytes(driver: Path, tmp_path: Path) -> None:
    """The message the driver builds through CMpWriter (auto-counted maps, str32, array32)."""
    run(driver, "build", tmp_path / "built.bin")
    built = (tmp_path / "built.bin").read_bytes()
    expected = {
        "v": 1, "type": "order_send", "id": "c-0001", "seq": 70000, "ts": 1718000000123,
        "boot": "a1b2c3d4e5f6", "term": 5000001, "ok": True,
        "data": {
            "retcode": 10009, "deal": 2**32 + 1, "order": 2**64 - 1, "volume": 0.1, "price": 1.08123,
            "bid": -0.0, "ask": 1e300, "comment": "Request executed é€📈", "request_id": 4000000000,
            "retcode_external": -1, "nothing": None,
            "negatives": [-1, -32, -33, -128, -129, -32768, -32769, -(2**31), -(2**31) - 1, -(2**63)],
            "unsigned": [0, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**63],
            "long_array": [i % 3 for i in range(70000)],
            "wide_map": {f"k{i:02d}": i for i in range(20)},
            "str8": "x" * 40, "str16": "y" * 300, "str32": "z" * 70000, "nested": [[{}, []]],
        },
    }
    assert built == msgpack.packb(expected, use_bin_type=True)
    [(status, detail)] = batch(driver, tmp_path, [built])
    assert status == "ok" and bytes.fromhex(detail) == built


# --- hostile input ---

HOSTILE = {
    "empty": b"",
    "reserved 0xc1": b"\xc1",
    "bin8": b"\xc4\x01a",
    "fixext1": b"\xd4\x00\x00",
    "array32 claiming 4G items": b"\xdd\xff\xff\xff\xff\xc0",
    "map32 claiming 4G pairs": b"\xdf\xff\xff\xff\xff\xc0\xc0",
    "str32 claiming 4 GiB": b"\xdb\xff\xff\xff\xffabc",
    "array16 longer than the frame": b"\xdc\x01\x00" + b"\xc0" * 10,
    "nesting 100 deep": b"\x91" * 100 + b"\xc0",
    "integer map key": b"\x81\x01\x02",
    "nil map key": b"\x81\xc0\x02",
    "invalid UTF-8": b"\xa2\xc3\x28",
    "overlong UTF-8": b"\xa2\xc0\xaf",
    "UTF-16 surrogate in UTF-8": b"\xa3\xed\xa0\x80",
    "code point above U+10FFFF": b"\xa4\xf4\x90\x80\x80",
    "NUL inside a string": b"\xa3a\x00b",
    "two values": b"\xc0\xc0",
    "truncated float64": b"\xcb\x3f\xf0",
    "truncated uint64": b"\xcf\x00\x00",
    "map missing its last value": b"\x82\xa1a\x01\xa1b",
}


def test_hostile_frames_are_refused_without_crashing(driver: Path, tmp_path: Path) -> None:
    results = batch(driver, tmp_path, list(HOSTILE.values()))
    accepted = [name for name, (status, _) in zip(HOSTILE, results) if status != "err"]
    assert not accepted, f"accepted hostile frames: {accepted}"


def test_random_and_mutated_frames_never_crash_and_never_lie(driver: Path, tmp_path: Path) -> None:
    """Whatever the codec accepts, Python's msgpack reads the same value (same canonical bytes)."""
    rng = random.Random(20240611)
    seeds = [(GOLDEN / name).read_bytes() for name in GOLDEN_FILES if name != "edge_values.bin"]
    frames: list[bytes] = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 48))) for _ in range(400)]
    for _ in range(1200):
        frame = bytearray(rng.choice(seeds))
        for _ in range(rng.randrange(1, 4)):
            at = rng.randrange(len(frame))
            match rng.randrange(4):
                case 0:
                    frame[at] ^= 1 << rng.randrange(8)
                case 1:
                    frame[at] = rng.randrange(256)
                case 2:
                    del frame[at:at + rng.randrange(1, 8)]
                case _:
                    frame[at:at] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4)))
        frames.append(bytes(frame))
    results = batch(driver, tmp_path, frames)
    accepted = 0
    for frame, (status, detail) in zip(frames, results):
        if status != "ok":
            continue
        accepted += 1
        try:
            value = python_decode(frame)
        except Exception as exc:  # msgpack raises several types
            pytest.fail(f"codec accepted {frame.hex()} which Python's msgpack refuses: {exc}")
        assert bytes.fromhex(detail) == msgpack.packb(value, use_bin_type=True), frame.hex()
    assert accepted > 50, "the mutations hardly ever produced valid frames: the test checks nothing"


def test_oversize_frame_is_refused(driver: Path, tmp_path: Path) -> None:
    chunk = "s" * (protocol.MAX_STR_LEN - 16)
    oversize = msgpack.packb([chunk] * 5, use_bin_type=True)
    assert len(oversize) > protocol.MAX_FRAME_BYTES
    [(status, detail)] = batch(driver, tmp_path, [oversize])
    assert status == "err" and "exceeds" in detail
    with pytest.raises(protocol.ProtocolError):
        protocol.unpack(oversize)


@pytest.mark.parametrize(("limits", "frame"), [
    ((100, 1000, 1000, 1000, 1000), msgpack.packb("a" * 120)),               # frame bytes
    ((1000, 10, 1000, 1000, 1000), msgpack.packb("a" * 11)),                 # string length
    ((1000, 1000, 3, 1000, 1000), msgpack.packb([1, 2, 3, 4])),              # array length
    ((1000, 1000, 1000, 2, 1000), msgpack.packb({"a": 1, "b": 2, "c": 3})),  # map length
    ((1000, 1000, 1000, 1000, 5), msgpack.packb([[1, 2], [3, 4]])),          # values per frame
])
def test_configured_limits_are_enforced(driver: Path, tmp_path: Path, limits: tuple[int, ...],
                                        frame: bytes) -> None:
    [(status, _)] = batch(driver, tmp_path, [frame], *limits)
    assert status == "err"
    [(status, _)] = batch(driver, tmp_path, [frame])  # and accepted under the protocol's limits
    assert status == "ok"


# --- the idempotency file (IdempotencyFile.mqh, compiled unchanged into the driver) ---

IDEM_MAGIC, IDEM_VERSION, IDEM_MAX_ID = 0x43494245, 1, 256
LONG_IDS = ["c-0001", "é" * 128, "€" * 85, "📈" * 64, "日本語の注文-" * 5]  # 6, 256, 255, 256, 95 UTF-8 bytes


def idem_file(entries: list[tuple[str, int, bytes]]) -> bytes:
    """The file as IdempotencyFile.mqh documents it (and FileWriteInteger/FileWriteLong wrote it)."""
    out = struct.pack("<III", IDEM_MAGIC, IDEM_VERSION, len(entries))
    for id_, stored_at, data in entries:
        raw = id_.encode()
        out += struct.pack("<I", len(raw)) + raw + struct.pack("<qI", stored_at, len(data)) + data
    return out


def idem_encode(driver: Path, tmp_path: Path, entries: list[tuple[str, int, bytes]]) -> tuple[list[int], bytes]:
    spec = tmp_path / "entries.txt"
    spec.write_text("".join(f"{i.encode().hex() or '-'} {t} {d.hex() or '-'}\n" for i, t, d in entries))
    lines = run(driver, "idem_encode", spec, tmp_path / "idem.bin").stdout.splitlines()
    return [int(line.split()[1]) for line in lines], (tmp_path / "idem.bin").read_bytes()


def idem_decode(driver: Path, path: Path) -> list[str]:
    return run(driver, "idem_decode", path).stdout.splitlines()


def order_send_data() -> bytes:
    return msgpack.packb(python_decode((GOLDEN / "reply_order_send.bin").read_bytes())["data"], use_bin_type=True)


def test_idempotency_file_keeps_long_non_ascii_ids(driver: Path, tmp_path: Path) -> None:
    assert [len(i.encode()) for i in LONG_IDS] == [6, 256, 255, 256, 95]
    entries = [(id_, 1718000000123 + k, order_send_data()) for k, id_ in enumerate(LONG_IDS)]
    storable, written = idem_encode(driver, tmp_path, entries)
    assert storable == [1] * len(entries)
    assert written == idem_file(entries), "the writer's bytes differ from the documented format"
    assert idem_decode(driver, tmp_path / "idem.bin") == [f"ok {len(entries)}"] + [
        f"entry {i.encode().hex()} {t} {d.hex()}" for i, t, d in entries]


def test_an_id_too_long_in_utf8_bytes_is_not_stored_and_the_file_still_reads(driver: Path, tmp_path: Path) -> None:
    """The old writer measured ids in UTF-16 characters (100 for "€" * 100) and the reader in UTF-8
    bytes (300): one such id made the whole file read as damaged. Now both count bytes."""
    first, last = ("c-0001", 1, b"\x80"), ("c-0004", 4, b"")
    entries = [first, ("€" * 100, 2, b"\x80"), ("é" * 128 + "x", 3, b"\x80"), last]
    storable, written = idem_encode(driver, tmp_path, entries)
    assert storable == [1, 0, 0, 1]
    assert written == idem_file([first, last])
    assert idem_decode(driver, tmp_path / "idem.bin")[0] == "ok 2"


ONE = idem_file([("a", 1, b"")])
DAMAGED = {
    "an id the old writer stored": (idem_file([("€" * 100, 1, b"")]), "entry 1: id of 300 bytes"),
    "an empty id": (idem_file([("", 1, b"")]), "entry 1: id of 0 bytes"),
    "a NUL in an id": (idem_file([("a\x00b", 1, b"")]), "entry 1: id holds a NUL"),
    "another magic": (b"EBIX" + ONE[4:], "not an idempotency file of version 1"),
    "a count beyond the entries": (ONE[:8] + struct.pack("<I", 2) + ONE[12:], "entry 2: truncated"),
    "a count beyond the limit": (struct.pack("<III", IDEM_MAGIC, IDEM_VERSION, 10_001), "claims 10001 entries"),
    "data beyond the limit": (ONE[:-4] + struct.pack("<I", 65_537), "entry 1: data of 65537 bytes"),
    "trailing bytes": (ONE + b"\x00", "1 bytes after the last entry"),
}


@pytest.mark.parametrize("name", DAMAGED)
def test_a_damaged_idempotency_file_is_refused_whole(driver: Path, tmp_path: Path, name: str) -> None:
    damaged, words = DAMAGED[name]
    path = tmp_path / "damaged.bin"
    path.write_bytes(damaged)
    assert idem_decode(driver, path) == [f"err {words}"]


def test_every_truncation_of_an_idempotency_file_is_refused(driver: Path, tmp_path: Path) -> None:
    path = tmp_path / "idem.bin"
    path.write_bytes(idem_file([(id_, k, order_send_data()[:40]) for k, id_ in enumerate(LONG_IDS[:3])]))
    assert run(driver, "idem_prefixes", path).stdout.startswith("OK")


# --- the extensions' golden replies read as the executor reads them ---

def test_not_ready_and_sessions_past_midnight_read_by_the_bridge_rules() -> None:
    not_ready = protocol.unpack((GOLDEN / "reply_error_not_ready.bin").read_bytes())
    assert protocol.is_not_ready(not_ready) and not_ready["error"][0] == protocol.NOT_READY
    assert not protocol.is_not_ready(protocol.unpack((GOLDEN / "reply_error_timeout.bin").read_bytes()))
    assert f"#define PROTO_NOT_READY {protocol.NOT_READY}" in PROTOCOL_MQH.read_text()
    windows = protocol.unpack((GOLDEN / "reply_symbol_sessions_past_midnight.bin").read_bytes())["data"]["GER40"]
    assert [protocol.session_span(f, t) for _, f, t in windows] == [(79_200, 93_600), (3_600, 172_800),
                                                                    (79_200, 86_400)]


# --- the generated protocol header ---

def test_protocol_header_is_generated_from_the_python_modules() -> None:
    assert PROTOCOL_MQH.read_text(encoding="ascii") == generate_protocol.render(), \
        "Protocol.mqh is stale: run python mql5/generate_protocol.py"


def test_protocol_header_compiles_and_carries_the_python_values(driver: Path) -> None:
    lines = run(driver, "protocol").stdout.splitlines()
    assert lines == [str(protocol.MAX_FRAME_BYTES), protocol.HELLO, mt5.retcode_text(mt5.TRADE_RETCODE_DONE),
                     str(mt5.TRADE_RETCODE_HEDGE_PROHIBITED), protocol.ENVELOPE_KEYS[-1],
                     str(mt5.TIMEFRAME_SECONDS["H4"])]


# --- the EA's sources follow the Python protocol (a text check: MQL5 is not compiled here) ---

INCLUDE = ROOT / "mql5" / "Include" / "ExecutorBridge"


def _constant_name(value: str) -> str:
    return next(name for name, v in vars(protocol).items() if name.isupper() and v == value)


def test_ea_answers_every_request_and_sends_every_event_type() -> None:
    source = "\n".join(path.read_text() for path in INCLUDE.glob("*.mqh") if path.name != "Protocol.mqh")
    for kind in sorted(set(protocol.REQUESTS) | set(protocol.EVENTS) | {protocol.TICK, protocol.BAR, protocol.HB}):
        assert f"PROTO_{_constant_name(kind)}" in source, f"the EA never handles or sends {kind!r}"


def test_ea_reads_every_trade_request_key() -> None:
    handlers = (INCLUDE / "Handlers.mqh").read_text()
    for key in mt5.TRADE_REQUEST_KEYS:
        assert f'"{key}"' in handlers, f"Handlers.mqh ignores order_send request key {key!r}"


def _defines(path: Path) -> dict[str, int]:
    return {name: int(value) for name, value in re.findall(r"^#define (\w+)\s+(-?\d+)\b", path.read_text(), re.M)}


def test_zmq_constants_are_libzmqs() -> None:
    """Option and flag numbers are zmq.h's (pyzmq carries the same); error numbers are those of
    the Windows DLL: MSVC's errno.h where it has the name, ZMQ_HAUSNUMERO + n where it has not."""
    zmq = pytest.importorskip("zmq")
    consts = _defines(INCLUDE / "ZmqImport.mqh")
    for name in ("PUB", "DEALER", "ROUTING_ID", "RCVMORE", "LINGER", "MAXMSGSIZE", "SNDHWM", "RCVHWM", "IMMEDIATE",
                 "DONTWAIT", "SNDMORE", "ETERM", "EFSM", "EMTHREAD"):
        assert consts[f"ZMQ_{name}"] == getattr(zmq, name), name
    assert consts["ZMQ_ETERM"] == consts["ZMQ_HAUSNUMERO"] + 53 == 156_384_765
    assert (consts["ZMQ_EAGAIN"], consts["ZMQ_EINTR"], consts["ZMQ_EHOSTUNREACH"], consts["ZMQ_ENOTSOCK"]) \
        == (11, 4, 110, 128)  # MSVC's errno.h (its "POSIX supplement" since VS2010)
    link = (INCLUDE / "Link.mqh").read_text()
    assert "SetLong(m_ctl, ZMQ_MAXMSGSIZE, EB_MAX_REQUEST_BYTES)" in link, "ZMQ_MAXMSGSIZE is an int64 option"
    assert "zmq_errno()" in link.split("void SocketError", 1)[1].split("}", 1)[0]


def test_every_history_copy_goes_through_the_copy_gate() -> None:
    """CopyTicks/CopyRates/CopyTime can wait in an EA: only CopyGate.mqh calls them, timed and gated."""
    calls = re.compile(r"(?<![\w.])(CopyTicks|CopyTicksRange|CopyRates|CopyTime|CopyClose|iTime|iBars)\s*\(")
    for path in [*INCLUDE.glob("*.mqh"), ROOT / "mql5" / "Experts" / "ExecutorBridge.mq5"]:
        code = "\n".join(line.split("//", 1)[0] for line in path.read_text().splitlines())
        found = calls.findall(code)
        assert path.name == "CopyGate.mqh" or not found, f"{path.name} calls {found} outside CopyGate.mqh"
    handlers = (INCLUDE / "Handlers.mqh").read_text()
    assert handlers.count("m_gate.Ready(") == 2 and "PROTO_NOT_READY" in handlers


def test_the_ea_is_never_unloaded_for_a_terminal_that_is_not_ready() -> None:
    expert = (ROOT / "mql5" / "Experts" / "ExecutorBridge.mq5").read_text()
    on_init = expert.split("int OnInit(void)", 1)[1].split("\n  }\n", 1)[0]
    assert on_init.count("INIT_FAILED") == 1 and "EventSetMillisecondTimer" in on_init.split("INIT_FAILED")[0]
    session = (INCLUDE / "Session.mqh").read_text()
    assert "TryOpen();" in session.split("void OnTimer(void)", 1)[1]
