"""Golden msgpack vectors of MT5_BRIDGE.md: one .bin per message type, packed by Python's msgpack.

This script owns the reference bytes the EA's codec (mql5/Include/ExecutorBridge/Msgpack.mqh)
is tested against in tests/test_mql5_codec.py: every request, reply, event and market-data
message of the protocol, with the values that break naive codecs (uint64 magic above 2^63,
tickets above 2^32, negatives of every width, -0.0, NaN, infinities, nil, nested arrays,
multi-byte UTF-8, map16/array16/str8/str16 headers; str32/array32 are exercised by the
codec driver's `build` message instead, to keep these files small). Values are fixed literals, never the
clock or the simulator, so the output is the same on every run; the test checks the
checked-in files equal `build()`.

    python tests/golden/make_golden.py     # rewrite tests/golden/*.bin and manifest.json
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import msgpack

HERE = Path(__file__).resolve().parent
BOOT = "5f3c9a01d2e4"
LOGIN = 5000001
TS = 1718000000123
MAGIC = 2**63 + 12345  # a client order id folded into magic: above int64
TICKET = 2**32 + 7     # tickets above 2^32 are real on busy servers

REQUEST = {  # the exact MetaTrader5 order_send dict, every key
    "action": 1, "symbol": "EURUSD", "volume": 0.1, "type": 0, "price": 1.08123,
    "stoplimit": 0.0, "sl": 1.07923, "tp": 1.08523, "deviation": 10, "magic": MAGIC,
    "comment": "c-0001", "type_time": 0, "type_filling": 1, "expiration": 0,
    "position": TICKET, "position_by": 0, "order": 0,
}
ACCOUNT = {
    "login": LOGIN, "trade_mode": 0, "leverage": 100, "limit_orders": 200, "margin_so_mode": 0,
    "trade_allowed": True, "trade_expert": True, "margin_mode": 2, "currency_digits": 2,
    "fifo_close": False, "balance": 10000.0, "credit": 0.0, "profit": -12.5, "equity": 9987.5,
    "margin": 108.12, "margin_free": 9879.38, "margin_level": 9237.42, "margin_so_call": 50.0,
    "margin_so_so": 30.0, "margin_initial": 0.0, "margin_maintenance": 0.0, "assets": 0.0,
    "liabilities": 0.0, "commission_blocked": 0.0, "name": "Démo Trader", "server": "Broker-Demo",
    "currency": "USD", "company": "Broker Ltd",
}
POSITION = {
    "ticket": TICKET, "time": 1718000000, "time_msc": TS, "time_update": 1718000000,
    "time_update_msc": TS, "type": 0, "magic": MAGIC, "identifier": TICKET, "reason": 3,
    "volume": 0.1, "price_open": 1.08123, "sl": 1.07923, "tp": 1.08523, "price_current": 1.08098,
    "swap": -0.35, "profit": -2.5, "symbol": "EURUSD", "comment": "c-0001", "external_id": "",
}
ORDER = {
    "ticket": TICKET + 1, "time_setup": 1718000000, "time_setup_msc": TS, "time_done": 0,
    "time_done_msc": 0, "time_expiration": 0, "type": 2, "type_time": 0, "type_filling": 2,
    "state": 1, "magic": MAGIC, "position_id": 0, "position_by_id": 0, "reason": 3,
    "volume_initial": 0.2, "volume_current": 0.2, "price_open": 1.075, "sl": 0.0, "tp": 0.0,
    "price_current": 1.08098, "price_stoplimit": 0.0, "symbol": "EURUSD", "comment": "c-0002",
    "external_id": "",
}
DEAL = {
    "ticket": TICKET + 2, "order": TICKET, "time": 1718000000, "time_msc": TS, "type": 0,
    "entry": 0, "magic": MAGIC, "reason": 3, "position_id": TICKET, "volume": 0.1,
    "price": 1.08123, "commission": -0.7, "swap": 0.0, "profit": 0.0, "fee": 0.0,
    "symbol": "EURUSD", "comment": "c-0001", "external_id": "",
}
RESULT = {
    "retcode": 10009, "deal": TICKET + 2, "order": TICKET, "volume": 0.1, "price": 1.08123,
    "bid": 0.0, "ask": 0.0, "comment": "Request executed", "request_id": 4000000001,
    "retcode_external": 0, "request": REQUEST,
}
TRANS = {
    "deal": TICKET + 2, "order": TICKET, "symbol": "EURUSD", "type": 6, "type_name": "DEAL_ADD",
    "order_type": 0, "order_state": 4, "deal_type": 0, "time_type": 0, "time_expiration": 0,
    "price": 1.08123, "price_trigger": 0.0, "price_sl": 1.07923, "price_tp": 1.08523,
    "volume": 0.1, "position": TICKET, "position_by": 0,
}
SYMBOL = {
    "name": "EURUSD", "description": "Euro vs US Dollar", "currency_base": "EUR",
    "currency_profit": "USD", "currency_margin": "EUR", "digits": 5, "point": 1e-05,
    "trade_contract_size": 100000.0, "trade_tick_size": 1e-05, "trade_calc_mode": 0,
    "trade_mode": 4, "trade_exemode": 2, "filling_mode": 3, "volume_min": 0.01,
    "volume_max": 100.0, "volume_step": 0.01, "volume_limit": 0.0, "trade_stops_level": 0,
    "trade_freeze_level": 0, "margin_initial": 0.0, "swap_long": -6.5, "swap_short": 1.2,
    "swap_rollover3days": 3, "spread": 10, "bid": 1.08098, "ask": 1.08108, "last": 0.0,
    "time": 1718000000, "time_msc": TS, "spread_float": True, "select": True, "visible": True,
    "custom": False, "trade_tick_value": 1.0, "trade_tick_value_profit": 1.0,
    "trade_tick_value_loss": 1.0,
}
TICKS = {
    "time_msc": [TS, TS + 37, TS + 37, TS + 410], "bid": [1.08098, 1.08101, 1.081, 1.08097],
    "ask": [1.08108, 1.08111, 1.0811, 1.08107], "last": [0.0, 0.0, 0.0, 0.0],
    "volume_real": [0.0, 0.0, 0.0, 0.0], "flags": [6, 6, 2, 6],
}
RATES = {
    "time": [1717999800000, 1717999860000, 1717999920000],
    "open": [1.0809, 1.08095, 1.08101], "high": [1.08112, 1.08105, 1.08121],
    "low": [1.08085, 1.0809, 1.08099], "close": [1.08095, 1.08101, 1.08117],
    "tick_volume": [57, 43, 61], "spread": [10, 10, 11], "real_volume": [0.0, 0.0, 0.0],
}


def envelope(type_: str, seq: int, id_: str = "", **fields: Any) -> dict[str, Any]:
    return {"v": 1, "type": type_, "id": id_, "seq": seq, "ts": TS, "boot": BOOT, "term": LOGIN, **fields}


def request(type_: str, seq: int, **fields: Any) -> dict[str, Any]:
    message = envelope(type_, seq, f"req-{seq}", **fields)
    message["boot"] = "executor"
    return message


# name -> (channel, direction, topic or None, message)
MESSAGES: dict[str, tuple[str, str, str | None, dict[str, Any]]] = {
    # --- session and liveness ---
    "hello": ("ctl", "ea->executor", None, envelope(
        "hello", 1, "ev-1", terminal={"build": 4755, "connected": True, "trade_allowed": True,
                                      "name": "MetaTrader 5"},
        account=ACCOUNT, server_time=TS, tz_offset_s=10800, symbols=["EURUSD", "GBPUSD", "XAUUSD"])),
    "hello_ack": ("ctl", "executor->ea", None, request("hello_ack", 1)),
    "ping": ("ctl", "executor->ea", None, request("ping", 2)),
    "pong": ("ctl", "ea->executor", None, envelope(
        "ping", 2, "req-2", ok=True, data={"ts": TS, "server_time": TS - 5})),
    # --- requests ---
    "account_info": ("ctl", "executor->ea", None, request("account_info", 3)),
    "terminal_info": ("ctl", "executor->ea", None, request("terminal_info", 4)),
    "symbols_get": ("ctl", "executor->ea", None, request("symbols_get", 5, group="*USD*,!EUR*")),
    "symbol_info": ("ctl", "executor->ea", None, request("symbol_info", 6, symbol="EURUSD")),
    "symbol_info_tick": ("ctl", "executor->ea", None, request("symbol_info_tick", 7, symbol="EURUSD")),
    "copy_rates_from_pos": ("ctl", "executor->ea", None, request(
        "copy_rates_from_pos", 8, symbol="EURUSD", timeframe=16385, start_pos=0, count=500)),
    "copy_ticks_from": ("ctl", "executor->ea", None, request(
        "copy_ticks_from", 9, symbol="EURUSD", date_from=TS - 60_000, count=10_000, flags=-1)),
    "order_calc_margin": ("ctl", "executor->ea", None, request(
        "order_calc_margin", 10, action=0, symbol="EURUSD", volume=0.1, price=1.08108)),
    "order_calc_profit": ("ctl", "executor->ea", None, request(
        "order_calc_profit", 11, action=1, symbol="EURUSD", volume=0.1, price_open=1.08098,
        price_close=1.07598)),
    "order_check": ("ctl", "executor->ea", None, request("order_check", 12, request=REQUEST)),
    "order_send": ("ctl", "executor->ea", None, request("order_send", 13, request=REQUEST)),
    "positions_get": ("ctl", "executor->ea", None, request("positions_get", 14, symbol="EURUSD", group=None,
                                                           ticket=TICKET)),
    "orders_get": ("ctl", "executor->ea", None, request("orders_get", 15, group="*")),
    "history_deals_get": ("ctl", "executor->ea", None, request(
        "history_deals_get", 16, date_from=TS - 86_400_000, date_to=TS)),
    "history_orders_get": ("ctl", "executor->ea", None, request("history_orders_get", 17, position=TICKET)),
    "subscribe": ("ctl", "executor->ea", None, request(
        "subscribe", 18, symbols=["EURUSD", "XAUUSD"], timeframes=["M1", 16385])),
    # Extensions of the EA (not in MT5_BRIDGE.md): the economic calendar for news filters and
    # the symbols' trading sessions for trading hours.
    "calendar": ("ctl", "executor->ea", None, request(
        "calendar", 19, date_from=TS, date_to=TS + 86_400_000, currency="USD", country="")),
    "symbol_sessions": ("ctl", "executor->ea", None, request("symbol_sessions", 20, symbols=["EURUSD", "XAUUSD"])),
    # --- replies ---
    "reply_order_send": ("ctl", "ea->executor", None, envelope("order_send", 3, "req-13", ok=True, data=RESULT)),
    "reply_order_check": ("ctl", "ea->executor", None, envelope("order_check", 4, "req-12", ok=True, data={
        "retcode": 0, "balance": 10000.0, "equity": 9987.5, "profit": -12.5, "margin": 216.24,
        "margin_free": 9771.26, "margin_level": 4618.71, "comment": "Done", "request": REQUEST})),
    "reply_account_info": ("ctl", "ea->executor", None, envelope("account_info", 5, "req-3", ok=True, data=ACCOUNT)),
    "reply_symbol_info": ("ctl", "ea->executor", None, envelope("symbol_info", 6, "req-6", ok=True, data=SYMBOL)),
    "reply_copy_rates_from_pos": ("ctl", "ea->executor", None, envelope(
        "copy_rates_from_pos", 7, "req-8", ok=True, data=RATES)),
    "reply_copy_ticks_from": ("ctl", "ea->executor", None, envelope(
        "copy_ticks_from", 8, "req-9", ok=True, data={"symbol": "EURUSD", **TICKS})),
    "reply_order_calc_margin": ("ctl", "ea->executor", None, envelope(
        "order_calc_margin", 9, "req-10", ok=True, data=108.108)),
    "reply_history_deals_get": ("ctl", "ea->executor", None, envelope(
        "history_deals_get", 10, "req-16", ok=True, data=[DEAL])),
    "reply_symbol_sessions": ("ctl", "ea->executor", None, envelope("symbol_sessions", 12, "req-20", ok=True, data={
        "EURUSD": [[day, 0, 86_400] for day in range(1, 6)],
        "XAUUSD": [[day, 3_600, 86_400] for day in range(1, 6)]})),
    "reply_calendar": ("ctl", "ea->executor", None, envelope("calendar", 13, "req-19", ok=True, data=[{
        "id": 168_200_001, "event_id": 840_030_016, "time": TS + 3_600_000, "period": TS - 2_592_000_000,
        "revision": 0, "actual_value": None, "prev_value": 150.0, "revised_prev_value": None,
        "forecast_value": 180.5, "impact_type": 0, "event_name": "Nonfarm Payrolls", "importance": 3,
        "country_code": "US", "currency": "USD"}])),
    # A session past midnight travels as MQL5 gives it: `to` up to 172 800 (protocol.session_span).
    "reply_symbol_sessions_past_midnight": ("ctl", "ea->executor", None, envelope(
        "symbol_sessions", 14, "req-21", ok=True, data={"GER40": [[1, 79_200, 93_600], [5, 3_600, 172_800],
                                                                  [6, 79_200, 0]]})),
    "reply_empty_list": ("ctl", "ea->executor", None, envelope("orders_get", 11, "req-15", ok=True, data=[])),
    "reply_error": ("ctl", "ea->executor", None, envelope(
        "order_send", 12, "req-13", ok=False, error=[-2, 'Invalid "volume_typo" argument'])),
    "reply_error_timeout": ("ctl", "ea->executor", None, envelope(
        "symbol_info", 13, "req-6", ok=False, error=[-10005, "IPC timeout"])),
    # Extension: "not ready, retry" (protocol.NOT_READY) instead of a timer that waits.
    "reply_error_not_ready": ("ctl", "ea->executor", None, envelope(
        "copy_ticks_from", 15, "req-9", ok=False,
        error=[-20001, "EURUSD is still synchronising with the trade server; retry"])),
    "reply_error_bad_history_args": ("ctl", "ea->executor", None, envelope(
        "copy_rates_from_pos", 16, "req-22", ok=False,
        error=[-2, "start_pos must be 0..2147483647 and count not negative"])),
    "copy_rates_from_pos_out_of_int": ("ctl", "executor->ea", None, request(
        "copy_rates_from_pos", 22, symbol="EURUSD", timeframe="M1", start_pos=2**31, count=10)),
    "copy_ticks_from_negative_date": ("ctl", "executor->ea", None, request(
        "copy_ticks_from", 23, symbol="EURUSD", date_from=-1, count=10, flags=-1)),
    # --- events ---
    "trade_transaction": ("ctl", "ea->executor", None, envelope(
        "trade_transaction", 14, "ev-2", trans=TRANS, request=None, result=None)),
    "trade_transaction_request": ("ctl", "ea->executor", None, envelope(
        "trade_transaction", 15, "ev-3", trans={**TRANS, "type": 10, "type_name": "REQUEST"},
        request=REQUEST, result=RESULT)),
    "positions": ("ctl", "ea->executor", None, envelope(
        "positions", 16, "ev-4", version=42, positions=[POSITION, {**POSITION, "ticket": 7, "identifier": 7,
                                                                   "type": 1, "magic": 0}])),
    "orders": ("ctl", "ea->executor", None, envelope("orders", 17, "ev-5", version=42, orders=[ORDER])),
    "account": ("ctl", "ea->executor", None, envelope("account", 18, "ev-6", account=ACCOUNT)),
    "terminal_status": ("ctl", "ea->executor", None, envelope(
        "terminal_status", 19, "ev-7", connected=False, trade_allowed=True)),
    "log": ("ctl", "ea->executor", None, envelope(
        "log", 20, "ev-8", level="WARNING", text="outbox full: oldest frame dropped ✓")),
    # --- market data ---
    "tick": ("md", "ea->executor", "tick.EURUSD", envelope("tick", 1, symbol="EURUSD", **TICKS)),
    "bar": ("md", "ea->executor", "bar.EURUSD.M1", envelope(
        "bar", 1, symbol="EURUSD", timeframe="M1", time=1717999920000, open=1.08101, high=1.08121,
        low=1.08099, close=1.08117, tick_volume=61, spread=11, real_volume=0.0, closed=True)),
    "hb": ("md", "ea->executor", "hb", envelope("hb", 1, server_time=TS)),
    # --- values that break naive codecs, in one envelope ---
    "edge_values": ("ctl", "ea->executor", None, envelope(
        "log", 21, "ev-9", level="DEBUG", text="", values={
            "uint": [0, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1],
            "int": [-1, -32, -33, -128, -129, -32768, -32769, -(2**31), -(2**31) - 1, -(2**63)],
            "float": [0.0, -0.0, 1.5, -2.25, 1e-300, 5e-324, 1.7976931348623157e308, math.inf, -math.inf,
                      math.nan, 0.1, 1.08123],
            "str": ["", "a", "x" * 31, "y" * 32, "z" * 255, "w" * 256, "€uro ünïcode 📈 日本"],
            "nested": [[], [[]], [{}], [[1, [2, [3, [None, True, False]]]]]],
            "wide_map": {f"key{i:03d}": i for i in range(300)},
            "long_array": list(range(0, 3000, 7)),
            "nil": None, "true": True, "false": False,
        })),
}


def pack(message: dict[str, Any]) -> bytes:
    return msgpack.packb(message, use_bin_type=True)  # exactly bridge.protocol.pack


def build() -> dict[str, bytes]:
    """File name -> bytes, the manifest included."""
    files: dict[str, bytes] = {}
    manifest = []
    for name, (channel, direction, topic, message) in MESSAGES.items():
        data = pack(message)
        files[f"{name}.bin"] = data
        manifest.append({"file": f"{name}.bin", "type": message["type"],
                         "reply": "ok" in message, "channel": channel, "direction": direction,
                         "topic": topic, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    files["manifest.json"] = (json.dumps(manifest, indent=1, ensure_ascii=True) + "\n").encode()
    return files


def main() -> int:
    for stale in HERE.glob("*.bin"):
        stale.unlink()
    for name, data in build().items():
        (HERE / name).write_bytes(data)
    print(f"wrote {len(MESSAGES)} vectors and manifest.json to {HERE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
