"""The shape of every message and reply an EA sends (MT5_BRIDGE.md), and the one check of it.

`check_message(message, channel)` judges one decoded message as it arrives: its envelope,
then an event or market data message by its `type`, or a reply by the request type it
echoes (its `ok`, then its `data` or its `error`). It returns None for the right shape, or
one line saying what is wrong (`data[2].volume: expected a number, got str '0.1'`); it
never raises, whatever value it is given. Whoever matches a reply to its request still
checks that the reply answers that request's type.

Record fields are those of the MetaTrader5 package (and of mql5/Include/ExecutorBridge/
Records.mqh); each record lists every field a reader in the executor uses, with MT5's
types: tickets and magic uint64, times ms UTC (`time*_msc`, bars, ticks) or seconds
(`time`, `time_setup`, ...), 0 where MT5 leaves a time or a price unset.
"""

from __future__ import annotations

from typing import Any

from bridge import protocol
from bridge.shapes.rules import (
    AMOUNT, ENUM, INT, MAP, MONEY, POSITIVE, PRICE, PRICE0, SYMBOL, SYMBOL0, TEXT, TICKET, TIME_MS,
    TIME_MS0, TIME_S0, TZ_OFFSET, Bad, Num, Rule, all_of, columns, flag, list_of, map_of, nullable, one_of,
    record, text,
)

CTL, MD = "ctl", "md"
UNKNOWN = "unknown"  # the kind under which messages of unknown types are counted
DAY_S = 86_400
SESSION_END_MAX_S = 2 * DAY_S  # MQL5 counts a session's end up to 48:00

# --- records ---
ENVELOPE = record({"v": one_of(protocol.VERSION), "type": text(64, min_len=1), "id": text(256), "seq": INT,
                   "ts": INT, "boot": text(256), "term": TICKET})

ACCOUNT_INFO = record(
    {"login": TICKET, "trade_mode": ENUM, "leverage": ENUM, "currency": text(16), "balance": MONEY,
     "equity": MONEY, "margin": MONEY, "margin_free": MONEY},
    {"margin_level": MONEY, "profit": MONEY, "credit": MONEY, "limit_orders": ENUM, "margin_so_mode": ENUM,
     "trade_allowed": flag, "trade_expert": flag, "margin_mode": ENUM, "currency_digits": ENUM,
     "fifo_close": flag, "margin_so_call": MONEY, "margin_so_so": MONEY, "margin_initial": MONEY,
     "margin_maintenance": MONEY, "assets": MONEY, "liabilities": MONEY, "commission_blocked": MONEY,
     "name": TEXT, "server": TEXT, "company": TEXT})

TERMINAL = {"build": ENUM, "connected": flag, "trade_allowed": flag}


def _tz_table(value: Any) -> None:
    """`tz_history` (bridge/protocol.py): [[utc_from_ms, offset_s], ...] at increasing instants."""
    list_of(tuple_of(INT, TZ_OFFSET, names="utc_from_ms, offset_s"), protocol.TZ_HISTORY_MAX)(value)
    if not value:
        raise Bad("expected at least one [utc_from_ms, offset_s] entry")
    for index in range(1, len(value)):
        if value[index][0] <= value[index - 1][0]:
            raise Bad(f"[{index}]: entries must start at increasing instants")


TZ = {"tz_offset_s": TZ_OFFSET, protocol.TZ_HISTORY: _tz_table}
TERMINAL_INFO = record(TERMINAL, {"name": TEXT, "company": TEXT, **TZ})

SYMBOL_INFO = record(
    {"name": SYMBOL, "digits": Num(0, 10, integral=True), "point": PRICE, "trade_contract_size": POSITIVE,
     "volume_min": POSITIVE, "volume_max": POSITIVE, "volume_step": POSITIVE, "filling_mode": ENUM},
    {"description": TEXT, "path": TEXT, "currency_base": text(16), "currency_profit": text(16),
     "currency_margin": text(16), "trade_tick_size": AMOUNT, "trade_tick_value": AMOUNT,
     "trade_tick_value_profit": AMOUNT, "trade_tick_value_loss": AMOUNT, "trade_calc_mode": ENUM,
     "trade_mode": ENUM, "trade_exemode": ENUM, "expiration_mode": ENUM, "order_mode": ENUM,
     "volume_limit": AMOUNT, "trade_stops_level": ENUM, "trade_freeze_level": ENUM, "margin_initial": AMOUNT,
     "margin_maintenance": AMOUNT, "swap_mode": ENUM, "swap_long": MONEY, "swap_short": MONEY,
     "swap_rollover3days": ENUM, "spread": ENUM, "spread_float": flag, "bid": PRICE0, "ask": PRICE0,
     "last": PRICE0, "time": TIME_S0, "time_msc": TIME_MS0, "select": flag, "visible": flag, "custom": flag})

TICK = record({"time_msc": TIME_MS, "bid": PRICE0, "ask": PRICE0},
              {"time": TIME_S0, "last": PRICE0, "volume": AMOUNT, "flags": ENUM, "volume_real": AMOUNT})

POSITION = record(
    {"ticket": TICKET, "symbol": SYMBOL, "type": one_of(0, 1), "volume": AMOUNT, "price_open": PRICE,
     "sl": PRICE0, "tp": PRICE0, "magic": TICKET, "time_msc": TIME_MS},
    {"time": TIME_S0, "time_update": TIME_S0, "time_update_msc": TIME_MS0, "identifier": TICKET, "reason": ENUM,
     "price_current": PRICE0, "swap": MONEY, "profit": MONEY, "comment": TEXT, "external_id": TEXT})

ORDER = record(
    {"ticket": TICKET, "symbol": SYMBOL, "type": Num(0, 8, integral=True), "state": ENUM,
     "volume_initial": AMOUNT, "volume_current": AMOUNT, "price_open": PRICE0, "sl": PRICE0, "tp": PRICE0,
     "magic": TICKET, "time_setup_msc": TIME_MS},
    {"time_setup": TIME_S0, "time_done": TIME_S0, "time_done_msc": TIME_MS0, "time_expiration": TIME_S0,
     "type_time": ENUM, "type_filling": ENUM, "reason": ENUM, "position_id": TICKET, "position_by_id": TICKET,
     "price_current": PRICE0, "price_stoplimit": PRICE0, "comment": TEXT, "external_id": TEXT})

DEAL = record(
    {"ticket": TICKET, "order": TICKET, "symbol": SYMBOL0, "type": ENUM, "entry": ENUM, "position_id": TICKET,
     "volume": AMOUNT, "price": PRICE0, "profit": MONEY, "magic": TICKET, "time_msc": TIME_MS},
    {"time": TIME_S0, "commission": MONEY, "swap": MONEY, "fee": MONEY, "reason": ENUM, "comment": TEXT,
     "external_id": TEXT})

TRADE_REQUEST = record({}, {
    "action": ENUM, "symbol": SYMBOL0, "volume": AMOUNT, "type": ENUM, "price": PRICE0, "stoplimit": PRICE0,
    "sl": PRICE0, "tp": PRICE0, "deviation": TICKET, "magic": TICKET, "comment": TEXT, "type_time": ENUM,
    "type_filling": ENUM, "expiration": TIME_S0, "position": TICKET, "position_by": TICKET, "order": TICKET})

RESULT_FIELDS = {"retcode": ENUM, "deal": TICKET, "order": TICKET, "volume": AMOUNT, "price": PRICE0}
RESULT_EXTRA = {"bid": PRICE0, "ask": PRICE0, "comment": TEXT, "request_id": TICKET, "retcode_external": INT,
                "request": TRADE_REQUEST}
ORDER_SEND_RESULT = record(RESULT_FIELDS, RESULT_EXTRA)
ORDER_CHECK_RESULT = record({"retcode": ENUM}, {
    "balance": MONEY, "equity": MONEY, "profit": MONEY, "margin": MONEY, "margin_free": MONEY,
    "margin_level": MONEY, "comment": TEXT, "request": TRADE_REQUEST})

TRANSACTION = record({"type": ENUM}, {
    "deal": TICKET, "order": TICKET, "position": TICKET, "position_by": TICKET, "symbol": SYMBOL0,
    "type_name": TEXT, "order_type": ENUM, "order_state": ENUM, "deal_type": ENUM, "time_type": ENUM,
    "time_expiration": TIME_S0, "price": PRICE0, "price_trigger": PRICE0, "price_sl": PRICE0,
    "price_tp": PRICE0, "volume": AMOUNT})

# Columns of equal length, never rows: the `tick` topic, copy_ticks_from, copy_rates_from_pos.
# A tick's bid or ask is 0 when MT5 has no price for that side (an exchange symbol's trade tick).
TICK_COLUMNS = columns({"time_msc": TIME_MS, "bid": PRICE0, "ask": PRICE0},
                       {"last": PRICE0, "volume_real": AMOUNT, "flags": ENUM})
RATES = columns({"time": TIME_MS, "open": PRICE, "high": PRICE, "low": PRICE, "close": PRICE,
                 "tick_volume": AMOUNT, "spread": AMOUNT, "real_volume": AMOUNT})
TICKS = all_of(TICK_COLUMNS, record({}, {"symbol": SYMBOL}))

CALENDAR_EVENT = record({"time": TIME_MS}, {
    "id": TICKET, "event_id": TICKET, "period": TIME_MS0, "revision": INT, "actual_value": nullable(MONEY),
    "prev_value": nullable(MONEY), "revised_prev_value": nullable(MONEY), "forecast_value": nullable(MONEY),
    "impact_type": ENUM, "event_name": TEXT, "importance": Num(0, 3, integral=True), "country_code": text(16),
    "currency": text(16)})

_DAY, _FROM, _TO = Num(0, 6, integral=True), Num(0, DAY_S - 1, integral=True), Num(0, SESSION_END_MAX_S, integral=True)


def tuple_of(*rules: Rule, names: str) -> Rule:
    """A list of exactly len(rules) items, item i fitting rules[i]; `names` says what they are."""
    def rule(value: Any) -> None:
        if type(value) not in (list, tuple) or len(value) != len(rules):
            raise Bad(f"expected [{names}]")
        for index, (check, part) in enumerate(zip(rules, value)):
            try:
                check(part)
            except Bad as bad:
                bad.path.append(index)
                raise
    return rule


# [day_of_week (Sunday = 0), from_s, to_s] of SymbolInfoSessionTrade; a reply's [code, text].
session_window = tuple_of(_DAY, _FROM, _TO, names="day_of_week, from_s, to_s")
error_pair = tuple_of(INT, TEXT, names="code, text")


# --- what each message type carries besides its envelope ---
HB = record({"server_time": TIME_MS}, {"tz_offset_s": TZ_OFFSET, protocol.TZ_SINCE: INT})
CTL_MESSAGES: dict[str, Rule] = {
    protocol.HELLO: record({"terminal": record(TERMINAL, {"name": TEXT}), "account": ACCOUNT_INFO,
                            "server_time": TIME_MS, "tz_offset_s": TZ_OFFSET, "symbols": list_of(SYMBOL)},
                           {protocol.TZ_HISTORY: _tz_table}),
    protocol.TRADE_TRANSACTION: record({"trans": TRANSACTION}, {
        "request": nullable(TRADE_REQUEST), "result": nullable(record({}, {**RESULT_FIELDS, **RESULT_EXTRA}))}),
    protocol.POSITIONS: record({"positions": list_of(POSITION)}, {"version": INT}),
    protocol.ORDERS: record({"orders": list_of(ORDER)}, {"version": INT}),
    protocol.ACCOUNT: record({"account": ACCOUNT_INFO}),
    protocol.TERMINAL_STATUS: record({"connected": flag, "trade_allowed": flag}),
    protocol.LOG: record({"level": text(32), "text": TEXT}),
    protocol.HB: HB,
}
MD_MESSAGES: dict[str, Rule] = {
    protocol.TICK: all_of(record({"symbol": SYMBOL}), TICK_COLUMNS),
    protocol.BAR: record({"symbol": SYMBOL, "timeframe": text(8, min_len=1), "time": TIME_MS, "open": PRICE,
                          "high": PRICE, "low": PRICE, "close": PRICE, "closed": flag},
                         {"tick_volume": AMOUNT, "spread": AMOUNT, "real_volume": AMOUNT}),
    protocol.HB: HB,
}
# The `data` of an `ok` reply, by the request it answers.
REPLIES: dict[str, Rule] = {
    protocol.PING: record({"server_time": TIME_MS}, {"ts": INT}),
    protocol.HELLO_ACK: MAP,
    protocol.ACCOUNT_INFO: ACCOUNT_INFO,
    protocol.TERMINAL_INFO: TERMINAL_INFO,
    protocol.SYMBOLS_GET: list_of(SYMBOL_INFO),
    protocol.SYMBOL_INFO: SYMBOL_INFO,
    protocol.SYMBOL_INFO_TICK: TICK,
    protocol.COPY_RATES_FROM_POS: RATES,
    "copy_rates_range": RATES,  # the MetaTrader5 package's other rates query, should it be asked
    protocol.COPY_TICKS_FROM: TICKS,
    protocol.ORDER_CALC_MARGIN: AMOUNT,
    protocol.ORDER_CALC_PROFIT: MONEY,
    protocol.ORDER_CHECK: ORDER_CHECK_RESULT,
    protocol.ORDER_SEND: ORDER_SEND_RESULT,
    protocol.POSITIONS_GET: list_of(POSITION),
    protocol.ORDERS_GET: list_of(ORDER),
    protocol.HISTORY_DEALS_GET: list_of(DEAL),
    protocol.HISTORY_ORDERS_GET: list_of(ORDER),
    protocol.SUBSCRIBE: record({}, {"subscriptions": list_of(list_of(text(64), 2))}),
    protocol.SYMBOL_SESSIONS: map_of(SYMBOL, list_of(session_window, 7 * 24)),
    protocol.CALENDAR: list_of(CALENDAR_EVENT),
}
KNOWN = frozenset(CTL_MESSAGES) | frozenset(MD_MESSAGES) | frozenset(REPLIES)


def check_message(message: Any, channel: str = CTL) -> str | None:
    """None when `message` has the shape its type calls for on `channel` (CTL or MD), else
    one line saying what is wrong. Never raises."""
    try:
        _check(message, channel)
    except Bad as bad:
        return bad.line()
    except Exception as exc:  # noqa: BLE001 - a bug in a rule must not become the caller's crash
        return f"could not be checked ({type(exc).__name__}: {exc})"
    return None


def kind_of(message: Any) -> str:
    """The message's type when it is one of the protocol's, else UNKNOWN: what refusals are
    counted under, a bounded set whatever a peer invents."""
    kind = message.get("type") if type(message) is dict else None
    return kind if type(kind) is str and kind in KNOWN else UNKNOWN


def _check(message: Any, channel: str) -> None:
    ENVELOPE(message)
    kind = message["type"]
    if "ok" not in message:
        shape = (CTL_MESSAGES if channel == CTL else MD_MESSAGES).get(kind)
        if shape is None:
            raise Bad(f"unknown message type {kind!r} on {channel.upper()}")
        shape(message)
        return
    if channel != CTL:
        raise Bad("a reply on the market data channel")
    shape = REPLIES.get(kind)
    if shape is None:
        raise Bad(f"a reply to {kind!r}, which is not a request of the protocol")
    try:
        flag(message["ok"])
    except Bad as bad:
        bad.path.append("ok")
        raise
    key, rule = ("data", shape) if message["ok"] else ("error", error_pair)
    if key not in message:
        raise Bad(f"missing {key!r} (ok: {str(message['ok']).lower()})")
    try:
        rule(message[key])
    except Bad as bad:
        bad.path.append(key)
        raise
