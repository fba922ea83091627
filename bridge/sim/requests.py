"""The simulated EA's answers to executor requests: argument checks and the dispatch table.

This module owns how each request type of MT5_BRIDGE.md maps onto the trade server (or the
terminal's market history) and what a bad argument earns: `BadRequest(code, text)` with a
code from the MetaTrader5 package's `last_error()` space. Session concerns (ping, hello_ack,
idempotency, the dead-man switch) stay in the terminal shell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from bridge import mt5, protocol
from bridge.sim.calendar import SimCalendar
from bridge.sim.market import SimMarket, timeframe_name

MISSING = object()
SIM_BUILD = 4755
TERMINAL_NAME = "SimTerminal"


class BadRequest(Exception):
    """A request the terminal refuses before it reaches the trade server."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(code, text)
        self.code = code
        self.text = text


@dataclass
class RequestContext:
    """What request handlers may read and change."""
    server: Any  # bridge.trade_server.TradeServer
    market: SimMarket
    now_ms: Callable[[], int]
    subscriptions: set[tuple[str, str]] = field(default_factory=set)
    calendar: SimCalendar = field(default_factory=SimCalendar)
    # Fault hook: symbol -> how many more history requests (copy_rates_from_pos, copy_ticks_from)
    # find its history still synchronising and are answered NOT_READY, as a real EA answers them.
    unsynced: dict[str, int] = field(default_factory=dict)


_KINDS: dict[type, tuple[type, ...]] = {int: (int,), float: (int, float), str: (str,), dict: (dict,), list: (list,)}


def arg(message: dict[str, Any], name: str, kind: type, default: Any = MISSING) -> Any:
    """Argument `name` of `message`, checked to be of `kind`; None counts as absent."""
    value = message.get(name)
    if value is None:
        if default is MISSING:
            raise BadRequest(mt5.RES_E_INVALID_PARAMS, f'missing "{name}" argument')
        return default
    if isinstance(value, bool) or not isinstance(value, _KINDS[kind]):
        raise BadRequest(mt5.RES_E_INVALID_PARAMS,
                         f'Invalid "{name}" argument: expected {kind.__name__}, got {type(value).__name__}')
    return float(value) if kind is float else value


def known_symbol(ctx: RequestContext, message: dict[str, Any], name: str = "symbol") -> str:
    symbol = arg(message, name, str)
    if symbol not in ctx.market.symbols:
        raise BadRequest(mt5.RES_E_NOT_FOUND, f"symbol {symbol!r} not found; use symbols_get to list them")
    return symbol


def to_wire(value: Any) -> Any:
    """`value` with numpy scalars and arrays turned into msgpack-native Python values."""
    if isinstance(value, dict):
        return {key: to_wire(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_wire(item) for item in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def dispatch(ctx: RequestContext, message: dict[str, Any]) -> Any:
    """The reply `data` for a request; raises BadRequest (or the trade server's RequestError)."""
    handler = HANDLERS.get(message["type"])
    if handler is None:
        raise BadRequest(mt5.RES_E_INVALID_PARAMS, "unknown request type")
    return to_wire(handler(ctx, message))


# --- handlers: (ctx, message) -> data ---

def _account_info(ctx: RequestContext, message: dict[str, Any]) -> Any:
    return ctx.server.account_info()


def terminal_info(server: Any) -> dict[str, Any]:
    """The MetaTrader5 `terminal_info` dict of the simulated terminal."""
    return {
        "build": SIM_BUILD, "connected": server.connected, "trade_allowed": server.trade_allowed,
        "tradeapi_disabled": False, "name": TERMINAL_NAME, "company": "Simulated broker",
        "language": "English", "path": "", "data_path": "", "commondata_path": "", "codepage": 0,
        "maxbars": 100_000, "ping_last": 0, "dlls_allowed": True, "community_account": False,
        "community_connection": False, "community_balance": 0.0, "email_enabled": False,
        "ftp_enabled": False, "notifications_enabled": False, "mqid": False, "retransmission": 0.0,
    }


def _terminal_info(ctx: RequestContext, message: dict[str, Any]) -> Any:
    # The server's zone rides along (as in hello), so an executor that meets an EA
    # mid-session can align bars without waiting for a hello.
    return {**terminal_info(ctx.server), **ctx.market.tz_now(ctx.now_ms())}


def _symbols_get(ctx: RequestContext, message: dict[str, Any]) -> Any:
    return ctx.server.symbols_get(arg(message, "group", str, None))


def _symbol_info(ctx: RequestContext, message: dict[str, Any]) -> Any:
    return ctx.server.symbol_info(known_symbol(ctx, message))


def _symbol_info_tick(ctx: RequestContext, message: dict[str, Any]) -> Any:
    tick = ctx.server.symbol_info_tick(known_symbol(ctx, message))
    if tick is None:
        raise BadRequest(mt5.RES_E_NOT_FOUND, "no quote for this symbol yet; retry in a moment")
    return tick


INT_MAX = 2**31 - 1  # MQL5's CopyRates takes int positions and counts


def _copy_rates_from_pos(ctx: RequestContext, message: dict[str, Any]) -> Any:
    symbol = known_symbol(ctx, message)
    timeframe = _timeframe(message.get("timeframe"))
    start_pos, count = arg(message, "start_pos", int, 0), arg(message, "count", int)
    if not 0 <= start_pos <= INT_MAX or count < 0:
        raise BadRequest(mt5.RES_E_INVALID_PARAMS, f"start_pos must be 0..{INT_MAX} and count not negative")
    _synchronised(ctx, symbol)
    return ctx.market.copy_rates_from_pos(symbol, timeframe, start_pos, min(count, protocol.MAX_RATES_PER_REPLY))


def _copy_ticks_from(ctx: RequestContext, message: dict[str, Any]) -> Any:
    symbol = known_symbol(ctx, message)
    date_from, count = arg(message, "date_from", int), arg(message, "count", int)
    flags = arg(message, "flags", int, mt5.COPY_TICKS_ALL)
    if date_from < 0 or count < 0:
        raise BadRequest(mt5.RES_E_INVALID_PARAMS, "date_from and count must not be negative")
    if flags not in (mt5.COPY_TICKS_ALL, mt5.COPY_TICKS_INFO, mt5.COPY_TICKS_TRADE):
        raise BadRequest(mt5.RES_E_INVALID_PARAMS,
                         "flags must be COPY_TICKS_ALL (-1), COPY_TICKS_INFO (1) or COPY_TICKS_TRADE (2)")
    _synchronised(ctx, symbol)
    return {"symbol": symbol, **ctx.market.copy_ticks_from(symbol, date_from, min(count, protocol.MAX_TICKS_PER_REPLY),
                                                            flags)}


def _synchronised(ctx: RequestContext, symbol: str) -> None:
    """NOT_READY while the fault hook says `symbol`'s history is still synchronising."""
    left = ctx.unsynced.get(symbol, 0)
    if left > 0:
        ctx.unsynced[symbol] = left - 1
        raise BadRequest(protocol.NOT_READY, f"{symbol} history is still synchronising with the trade server; retry")


def _order_calc_margin(ctx: RequestContext, message: dict[str, Any]) -> Any:
    return _computed("margin", ctx.server.order_calc_margin(
        arg(message, "action", int), known_symbol(ctx, message),
        arg(message, "volume", float), arg(message, "price", float)))


def _order_calc_profit(ctx: RequestContext, message: dict[str, Any]) -> Any:
    return _computed("profit", ctx.server.order_calc_profit(
        arg(message, "action", int), known_symbol(ctx, message), arg(message, "volume", float),
        arg(message, "price_open", float), arg(message, "price_close", float)))


def _computed(what: str, value: float | None) -> float:
    # Like the MetaTrader5 package, data is the bare number; None means a quote was missing.
    if value is None:
        raise BadRequest(mt5.RES_E_FAIL, f"cannot compute {what}: a quote it needs has not arrived; retry shortly")
    return value


def _order_check(ctx: RequestContext, message: dict[str, Any]) -> Any:
    return ctx.server.order_check(arg(message, "request", dict), now_ms=ctx.now_ms())


def _order_send(ctx: RequestContext, message: dict[str, Any]) -> Any:
    return ctx.server.order_send(arg(message, "request", dict), now_ms=ctx.now_ms())


def _positions_get(ctx: RequestContext, message: dict[str, Any]) -> Any:
    return _filtered(ctx.server.positions_get, message)


def _orders_get(ctx: RequestContext, message: dict[str, Any]) -> Any:
    return _filtered(ctx.server.orders_get, message)


def _filtered(query: Callable[..., list[dict[str, Any]]], message: dict[str, Any]) -> Any:
    return query(symbol=arg(message, "symbol", str, None), group=arg(message, "group", str, None),
                 ticket=arg(message, "ticket", int, None))


def _history_query(query: Callable[..., list[dict[str, Any]]], message: dict[str, Any]) -> Any:
    return query(arg(message, "date_from", int, None), arg(message, "date_to", int, None),
                 group=arg(message, "group", str, None), ticket=arg(message, "ticket", int, None),
                 position=arg(message, "position", int, None))


def _history_deals_get(ctx: RequestContext, message: dict[str, Any]) -> Any:
    return _history_query(ctx.server.history_deals_get, message)


def _history_orders_get(ctx: RequestContext, message: dict[str, Any]) -> Any:
    return _history_query(ctx.server.history_orders_get, message)


def _subscribe(ctx: RequestContext, message: dict[str, Any]) -> Any:
    symbols = arg(message, "symbols", list, [])
    if not all(isinstance(name, str) for name in symbols):
        raise BadRequest(mt5.RES_E_INVALID_PARAMS, 'Invalid "symbols" argument: expected a list of names')
    timeframes = [_timeframe(value) for value in arg(message, "timeframes", list, [])]
    unknown = [name for name in symbols if name not in ctx.market.symbols]
    if unknown:
        raise BadRequest(mt5.RES_E_NOT_FOUND, f"unknown symbol(s) {unknown}; use symbols_get to list them")
    ctx.subscriptions.update((symbol, timeframe) for symbol in symbols for timeframe in timeframes)
    return {"subscriptions": sorted([symbol, timeframe] for symbol, timeframe in ctx.subscriptions)}


def _symbol_sessions(ctx: RequestContext, message: dict[str, Any]) -> Any:
    symbols = arg(message, "symbols", list)
    if not all(isinstance(name, str) for name in symbols):
        raise BadRequest(mt5.RES_E_INVALID_PARAMS, 'Invalid "symbols" argument: expected a list of names')
    unknown = [name for name in symbols if name not in ctx.market.symbols]
    if unknown:
        raise BadRequest(mt5.RES_E_NOT_FOUND, f"unknown symbol(s) {unknown}; use symbols_get to list them")
    sessions = {}
    for name in symbols:
        spec = ctx.market.symbols[name]
        # A server that does not keep sessions (a replay: the file is the whole market) trades
        # whenever it has a price, and says so, so the executor's checks agree with it.
        if spec.sessions_trade and ctx.server.enforce_sessions:
            sessions[name] = [[day, start * 60, end * 60] for day, windows in enumerate(spec.sessions_trade)
                              for start, end in windows]  # the spec keeps minutes, MQL5 seconds
        else:  # always open, as a 24/7 symbol reports it: every day 00:00-24:00
            sessions[name] = [[day, 0, 86_400] for day in range(7)]
    return sessions


def _calendar(ctx: RequestContext, message: dict[str, Any]) -> Any:
    date_from, date_to = arg(message, "date_from", int), arg(message, "date_to", int)
    return ctx.calendar.between(date_from, date_to, currency=arg(message, "currency", str, ""),
                                country=arg(message, "country", str, ""))


def _timeframe(value: Any) -> str:
    try:
        return timeframe_name(value)
    except ValueError as exc:
        raise BadRequest(mt5.RES_E_INVALID_PARAMS, str(exc)) from None


HANDLERS: dict[str, Callable[[RequestContext, dict[str, Any]], Any]] = {
    protocol.ACCOUNT_INFO: _account_info,
    protocol.TERMINAL_INFO: _terminal_info,
    protocol.SYMBOLS_GET: _symbols_get,
    protocol.SYMBOL_INFO: _symbol_info,
    protocol.SYMBOL_INFO_TICK: _symbol_info_tick,
    protocol.COPY_RATES_FROM_POS: _copy_rates_from_pos,
    protocol.COPY_TICKS_FROM: _copy_ticks_from,
    protocol.ORDER_CALC_MARGIN: _order_calc_margin,
    protocol.ORDER_CALC_PROFIT: _order_calc_profit,
    protocol.ORDER_CHECK: _order_check,
    protocol.ORDER_SEND: _order_send,
    protocol.POSITIONS_GET: _positions_get,
    protocol.ORDERS_GET: _orders_get,
    protocol.HISTORY_DEALS_GET: _history_deals_get,
    protocol.HISTORY_ORDERS_GET: _history_orders_get,
    protocol.SUBSCRIBE: _subscribe,
    protocol.SYMBOL_SESSIONS: _symbol_sessions,
    protocol.CALENDAR: _calendar,
}
