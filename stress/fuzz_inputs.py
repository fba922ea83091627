"""What the fuzzing campaign (stress/fuzz.py) feeds the decoders: seeds and Hypothesis strategies.

Four kinds of input, mixed: raw bytes; msgpack of any value (deep, wide, non-string keys,
integers past int64, NaN, bytes, extension types); maps with the envelope's keys holding any
value; and valid frames mutated (a value anywhere replaced, a key dropped or added, bytes
flipped, cut or spliced). The seeds are one valid request per control command and one valid
message of each main kind an EA sends, so mutations start deep inside the validators.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import msgpack
from hypothesis import strategies as st

from bridge import protocol

STRATEGY = {
    "name": "sma-cross", "symbol": "EURUSD", "timeframe": "M5",
    "rules": {"entry_long": "cross_above(sma(10), sma(20))", "entry_short": "cross_below(sma(10), sma(20))",
              "exit_long": "rsi(14) > 70", "exit_short": "rsi(14) < 30", "filters": ["adx(14) > 20"]},
    "settings": {"sizing": {"method": "percentage_risk", "risk_pct": 1.0}, "stop_loss": {"pips": 20},
                 "take_profit": {"rr": 2.0}, "trailing_stop": {"pips": 15, "start_pips": 10},
                 "breakeven": {"trigger_pips": 10, "offset_pips": 1},
                 "partial_exits": [{"at_pips": 20, "close_pct": 50, "move_to_breakeven": True}],
                 "time_exit": {"max_bars": 48}, "max_positions": 1}}

CONTROL_DATA = {
    "START_STRATEGY": {"strategy_id": "sma-1", "account": 5001, "strategy": STRATEGY},
    "STOP_STRATEGY": {"strategy_id": "sma-1", "close_positions": False},
    "PAUSE_STRATEGY": {"strategy_id": "sma-1"},
    "RESUME_STRATEGY": {"strategy_id": "sma-1"},
    "UPDATE_STRATEGY": {"strategy_id": "sma-1", "strategy": STRATEGY},
    "OPEN_POSITION": {"account": 5001, "symbol": "EURUSD", "side": "buy", "volume": 0.1, "sl_pips": 20,
                      "comment": "fuzz"},
    "CLOSE_POSITION": {"ticket": 123456789, "volume": 0.05},
    "MODIFY_POSITION": {"ticket": 123456789, "sl": 1.096, "tp": 1.112},
    "CLOSE_ALL": {"account": 5001, "symbol": "EURUSD"},
    "UPDATE_RISK_LIMITS": {"account": 5001, "limits": {"max_daily_loss_pct": 3.0, "max_lot_size": 2.0}},
    "EMERGENCY_STOP": {"reason": "fuzz"},
    "RESET_KILL_SWITCH": {},
    "SET_TRADING_STATE": {"account": 5001, "state": "REDUCING", "reason": "fuzz"},
    "STATUS_REQUEST": {},
    "PERFORMANCE_REQUEST": {"strategy_id": "sma-1", "include_trades": True},
    "PING": {},
}


_seeds: tuple[int, list[dict[str, Any]]] = (0, [])


def control_seeds() -> list[dict[str, Any]]:
    """One request per command, `ts` now (made again every 10 s: signed ones must not go stale)."""
    global _seeds
    now = time.time_ns() // 1_000_000
    if now - _seeds[0] > 10_000:
        _seeds = (now, [{"v": 1, "id": f"fuzz-{i}", "type": kind, "ts": now, "data": copy.deepcopy(data)}
                        for i, (kind, data) in enumerate(sorted(CONTROL_DATA.items()))])
    return _seeds[1]


T0 = 1_795_510_800_000  # 2026-11-24 09:00 UTC


def ea_seeds() -> list[tuple[str, dict[str, Any]]]:
    """(channel, message) of the main kinds: market data, a hello, replies to requests."""
    ea = protocol.Envelope(boot="b00t", term=5_000_001)
    account = {"login": 5_000_001, "trade_mode": 0, "leverage": 100, "currency": "USD", "balance": 10_000.0,
               "equity": 10_000.0, "margin": 0.0, "margin_free": 10_000.0, "name": "fuzz", "server": "Sim"}
    return [
        ("md", ea.message(protocol.TICK, seq_key="tick.EURUSD", symbol="EURUSD", time_msc=[T0, T0 + 5],
                          bid=[1.1, 1.1001], ask=[1.1002, 1.1003], last=[0.0, 0.0], volume_real=[0.0, 0.0],
                          flags=[6, 2])),
        ("md", ea.message(protocol.BAR, symbol="EURUSD", timeframe="M1", closed=True, time=T0, open=1.1, high=1.2,
                          low=1.0, close=1.15, tick_volume=12, spread=10, real_volume=0.0)),
        ("md", ea.message(protocol.HB, seq_key="hb", server_time=T0, tz_offset_s=7200)),
        ("ctl", ea.message(protocol.HELLO, id="ev", terminal={"build": 4755, "connected": True,
                                                              "trade_allowed": True, "name": "Sim"},
                           account=account, server_time=T0, tz_offset_s=7200, symbols=["EURUSD", "XAUUSD"])),
        ("ctl", ea.reply({"type": protocol.PING, "id": "p1"}, {"ts": T0, "server_time": T0})),
        ("ctl", ea.reply({"type": protocol.ACCOUNT_INFO, "id": "a1"}, account)),
        ("ctl", ea.reply({"type": protocol.ORDER_SEND, "id": "o1"}, {
            "retcode": 10009, "deal": 7, "order": 8, "volume": 0.1, "price": 1.1002, "bid": 1.1, "ask": 1.1002,
            "comment": "done", "request_id": 1, "retcode_external": 0})),
        ("ctl", ea.reply({"type": protocol.POSITIONS_GET, "id": "g1"}, [])),
    ]


# --- strategies ---
INTS = st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.sampled_from([0, 1, -1, 2**31, 2**53 + 1])
SCALARS = (st.none() | st.booleans() | INTS | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=40) | st.binary(max_size=40))
# Deep values are dear to draw (Hypothesis builds them leaf by leaf): a few, small ones, and
# mostly scalars where a mutation puts something, so the campaign runs at ~1000 inputs a second.
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=8) | INTS | st.binary(max_size=4), inner, max_size=4),
                      max_leaves=6)
REPLACEMENTS = SCALARS | SCALARS | SCALARS | VALUES
KEYS = st.sampled_from(["v", "id", "type", "data", "ts", "otp", "seq", "boot", "term", "ok", "error", "symbol",
                        "strategy", "rules", "settings", "sizing", "limits", "account", "volume", "ticket"])


# Most inputs start from a valid frame, so most of them get past the decoder into the checks.
KINDS = st.sampled_from(["mutated"] * 7 + ["flipped", "flipped", "envelope", "value", "bytes"])


def pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


@st.composite
def mutated_value(draw, value: Any, depth: int = 0) -> Any:
    """`value` with one thing changed somewhere inside: a value replaced, a key dropped or added."""
    if isinstance(value, dict) and value and depth < 8:
        key = draw(st.sampled_from(sorted(value, key=str)))
        action = draw(st.sampled_from(["descend", "descend", "replace", "drop", "add"]))
        out = dict(value)
        if action == "descend":
            out[key] = draw(mutated_value(value[key], depth + 1))
        elif action == "replace":
            out[key] = draw(REPLACEMENTS)
        elif action == "drop":
            del out[key]
        else:
            out[draw(KEYS | st.text(max_size=8))] = draw(REPLACEMENTS)
        return out
    if isinstance(value, list) and value and depth < 8:
        index = draw(st.integers(0, len(value) - 1))
        out = list(value)
        out[index] = draw(mutated_value(value[index], depth + 1))
        return out
    return draw(REPLACEMENTS)


@st.composite
def mutated_bytes(draw, frame: bytes) -> bytes:
    data = bytearray(frame)
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["flip", "cut", "splice", "insert"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if action == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "cut":
            del data[at:]
        elif action == "splice":
            data[at:at + draw(st.integers(0, 8))] = draw(st.binary(max_size=8))
        else:
            data[at:at] = draw(st.sampled_from([b"\xc1", b"\xdd\xff\xff\xff\xff", b"\xdf\x00\x01\x00\x00",
                                                b"\xc7\xff\x01", b"\xcf" + b"\xff" * 8, b"\x91" * 64]))
    return bytes(data)


@st.composite
def control_frames(draw) -> bytes:
    kind = draw(KINDS)
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "value":
        return pack(draw(VALUES))
    if kind == "envelope":
        return pack(draw(st.dictionaries(KEYS, VALUES, max_size=7)))
    seed = draw(st.sampled_from(control_seeds()))
    if kind == "mutated":
        return pack(draw(mutated_value(seed)))
    return draw(mutated_bytes(pack(seed)))


@st.composite
def ea_frames(draw) -> tuple[str, bytes]:
    channel, seed = draw(st.sampled_from(ea_seeds()))
    kind = draw(KINDS)
    if kind == "bytes":
        return channel, draw(st.binary(max_size=200))
    if kind == "value":
        return channel, pack(draw(VALUES))
    if kind == "envelope":
        return channel, pack({"v": 1, "type": draw(st.sampled_from(sorted(protocol.REQUESTS | protocol.EVENTS))),
                              **draw(st.dictionaries(KEYS, VALUES, max_size=7))})
    if kind == "mutated":
        return channel, pack(draw(mutated_value(seed)))
    return channel, draw(mutated_bytes(pack(seed)))
