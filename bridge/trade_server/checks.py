"""Validation of trade requests by the simulated trade server, in MT5's order.

This module owns `CHECKS`, the trade server's verdicts as an ordered list of small functions
each returning a retcode or None, in the order of MT5_BRIDGE.md "Validation order and
retcodes", and the first half of them: what the request itself and the symbol allow
(connection, permissions, shape, trade mode, session, quote, volume, filling, expiration,
price). The checks that need the account's positions and orders live in `checks_state`;
request parsing and `TradeContext` in `context` (re-exported here).
"""

from __future__ import annotations

from typing import Callable

from bridge import mt5, symbols as sym
from bridge.trade_server.checks_state import (check_account_rules, check_execution, check_freeze_level,
                                     check_limits, check_margin, check_position_state, check_stops,
                                     pending_price_ok)
from bridge.trade_server.context import (BUY_TYPES, MARKET_TYPES, PENDING_TYPES, STOP_LIMIT_TYPES, RequestError,
                                TradeContext, make_context, normalize_request)
from bridge.trade_server.sessions import day_end_ms, session_open

__all__ = ["CHECKS", "RequestError", "TradeContext", "first_failure", "make_context",
           "normalize_request"]

SUPPORTED_ACTIONS = (mt5.TRADE_ACTION_DEAL, mt5.TRADE_ACTION_PENDING, mt5.TRADE_ACTION_SLTP,
                     mt5.TRADE_ACTION_MODIFY, mt5.TRADE_ACTION_REMOVE, mt5.TRADE_ACTION_CLOSE_BY)
FILLING_FLAGS = {
    mt5.ORDER_FILLING_FOK: mt5.SYMBOL_FILLING_FOK,
    mt5.ORDER_FILLING_IOC: mt5.SYMBOL_FILLING_IOC,
    mt5.ORDER_FILLING_BOC: mt5.SYMBOL_FILLING_BOC,
}
ORDER_MODE_OF_TYPE = {
    mt5.ORDER_TYPE_BUY: sym.SYMBOL_ORDER_MARKET, mt5.ORDER_TYPE_SELL: sym.SYMBOL_ORDER_MARKET,
    mt5.ORDER_TYPE_BUY_LIMIT: sym.SYMBOL_ORDER_LIMIT, mt5.ORDER_TYPE_SELL_LIMIT: sym.SYMBOL_ORDER_LIMIT,
    mt5.ORDER_TYPE_BUY_STOP: sym.SYMBOL_ORDER_STOP, mt5.ORDER_TYPE_SELL_STOP: sym.SYMBOL_ORDER_STOP,
    mt5.ORDER_TYPE_BUY_STOP_LIMIT: sym.SYMBOL_ORDER_STOP_LIMIT,
    mt5.ORDER_TYPE_SELL_STOP_LIMIT: sym.SYMBOL_ORDER_STOP_LIMIT,
}
EXPIRATION_FLAGS = {
    mt5.ORDER_TIME_GTC: sym.SYMBOL_EXPIRATION_GTC, mt5.ORDER_TIME_DAY: sym.SYMBOL_EXPIRATION_DAY,
    mt5.ORDER_TIME_SPECIFIED: sym.SYMBOL_EXPIRATION_SPECIFIED,
    mt5.ORDER_TIME_SPECIFIED_DAY: sym.SYMBOL_EXPIRATION_SPECIFIED_DAY,
}
INSTANT_MODES = (mt5.SYMBOL_TRADE_EXECUTION_INSTANT, mt5.SYMBOL_TRADE_EXECUTION_REQUEST)


def check_connection(ctx: TradeContext) -> int | None:
    return None if ctx.server.connected else mt5.TRADE_RETCODE_CONNECTION


def check_auto_trading(ctx: TradeContext) -> int | None:
    if not ctx.server.trade_allowed:
        return mt5.TRADE_RETCODE_CLIENT_DISABLES_AT
    if not ctx.server.trade_expert:
        return mt5.TRADE_RETCODE_SERVER_DISABLES_AT
    return None


def check_rate(ctx: TradeContext) -> int | None:
    if ctx.dry_run or not ctx.server.faults.rate_limited(ctx.now):
        return None
    return mt5.TRADE_RETCODE_TOO_MANY_REQUESTS


def check_request_shape(ctx: TradeContext) -> int | None:
    """10013 for a malformed request, 10035 for an order type the symbol or account forbids."""
    request, action = ctx.request, ctx.action
    if action not in SUPPORTED_ACTIONS:
        return mt5.TRADE_RETCODE_INVALID
    if action in (mt5.TRADE_ACTION_REMOVE, mt5.TRADE_ACTION_MODIFY):
        return None if ctx.order is not None else mt5.TRADE_RETCODE_INVALID
    if ctx.spec is None:
        return mt5.TRADE_RETCODE_INVALID  # missing or unknown symbol
    if action == mt5.TRADE_ACTION_SLTP:
        return None if request["position"] else mt5.TRADE_RETCODE_INVALID
    if action == mt5.TRADE_ACTION_CLOSE_BY:
        if not (request["position"] and request["position_by"]):
            return mt5.TRADE_RETCODE_INVALID
        allowed = not ctx.netting and ctx.spec.order_mode & sym.SYMBOL_ORDER_CLOSEBY
        return None if allowed else mt5.TRADE_RETCODE_INVALID_ORDER
    expected = MARKET_TYPES if ctx.is_deal else PENDING_TYPES
    if request["type"] not in expected:
        return mt5.TRADE_RETCODE_INVALID
    if not ctx.spec.order_mode & ORDER_MODE_OF_TYPE[request["type"]]:
        return mt5.TRADE_RETCODE_INVALID_ORDER
    if (request["sl"] and not ctx.spec.order_mode & sym.SYMBOL_ORDER_SL) or (
            request["tp"] and not ctx.spec.order_mode & sym.SYMBOL_ORDER_TP):
        return mt5.TRADE_RETCODE_INVALID_ORDER
    return None


def check_symbol_trade_mode(ctx: TradeContext) -> int | None:
    if ctx.spec is None:
        return None
    mode = ctx.spec.trade_mode
    if mode == mt5.SYMBOL_TRADE_MODE_DISABLED:
        return mt5.TRADE_RETCODE_TRADE_DISABLED
    if not ctx.is_open:
        return None
    if mode == mt5.SYMBOL_TRADE_MODE_LONGONLY and not ctx.is_buy:
        return mt5.TRADE_RETCODE_LONG_ONLY
    if mode == mt5.SYMBOL_TRADE_MODE_SHORTONLY and ctx.is_buy:
        return mt5.TRADE_RETCODE_SHORT_ONLY
    if mode == mt5.SYMBOL_TRADE_MODE_CLOSEONLY:
        return mt5.TRADE_RETCODE_CLOSE_ONLY
    return None


def check_session(ctx: TradeContext) -> int | None:
    server = ctx.server
    if ctx.spec is None or not server.enforce_sessions:
        return None
    return None if session_open(ctx.spec, ctx.now, server.server_tz) else mt5.TRADE_RETCODE_MARKET_CLOSED


def check_quote(ctx: TradeContext) -> int | None:
    if ctx.spec is None:
        return None
    return None if ctx.quote is not None else mt5.TRADE_RETCODE_PRICE_OFF


def check_volume(ctx: TradeContext) -> int | None:
    if not (ctx.is_deal or ctx.is_pending):
        return None
    spec, volume = ctx.spec, ctx.request["volume"]
    assert spec is not None
    if volume <= 0 or volume < spec.volume_min - 1e-9 or volume > spec.volume_max + 1e-9:
        return mt5.TRADE_RETCODE_INVALID_VOLUME
    steps = volume / spec.volume_step
    if abs(steps - round(steps)) > 1e-6:
        return mt5.TRADE_RETCODE_INVALID_VOLUME
    return None


def check_volume_limit(ctx: TradeContext) -> int | None:
    """10034: positions and pending orders of one direction beyond the symbol's volume_limit."""
    spec = ctx.spec
    if not ctx.is_open or spec is None or spec.volume_limit <= 0:
        return None
    buy = ctx.is_buy
    held = sum(p.volume for p in ctx.server.positions.values()
               if p.symbol == spec.name and p.is_long == buy and p is not ctx.closing_position)
    waiting = sum(o.volume_current for o in ctx.server.orders.values()
                  if o.symbol == spec.name and (o.type in BUY_TYPES) == buy)
    if held + waiting + ctx.opening_volume > spec.volume_limit + 1e-9:
        return mt5.TRADE_RETCODE_LIMIT_VOLUME
    return None


def check_filling(ctx: TradeContext) -> int | None:
    spec, filling = ctx.spec, ctx.request["type_filling"]
    if ctx.is_pending:
        # A resting order may always RETURN; FOK/IOC/BOC need the symbol's flag.
        assert spec is not None
        allowed = filling == mt5.ORDER_FILLING_RETURN or bool(FILLING_FLAGS.get(filling, 0) & spec.filling_mode)
        return None if allowed else mt5.TRADE_RETCODE_INVALID_FILL
    if not ctx.is_deal:
        return None
    assert spec is not None
    if filling == mt5.ORDER_FILLING_RETURN:
        # Market orders may rest only on exchange symbols; OTC execution refuses RETURN.
        allowed = spec.trade_exemode == mt5.SYMBOL_TRADE_EXECUTION_EXCHANGE
    elif filling == mt5.ORDER_FILLING_FOK and spec.trade_exemode in INSTANT_MODES:
        allowed = True  # MQL5: instant and request execution always fill market orders FOK
    else:
        allowed = bool(FILLING_FLAGS.get(filling, 0) & spec.filling_mode)
    return None if allowed else mt5.TRADE_RETCODE_INVALID_FILL


def check_expiration(ctx: TradeContext) -> int | None:
    """10022: a lifetime the symbol does not offer, or an expiration already past."""
    if not (ctx.is_pending or ctx.action == mt5.TRADE_ACTION_MODIFY):
        return None
    assert ctx.spec is not None
    type_time, expiration_s = ctx.request["type_time"], ctx.request["expiration"]
    if not ctx.spec.expiration_mode & EXPIRATION_FLAGS.get(type_time, 0):
        return mt5.TRADE_RETCODE_INVALID_EXPIRATION
    if type_time == mt5.ORDER_TIME_SPECIFIED and expiration_s * 1000 <= ctx.now:
        return mt5.TRADE_RETCODE_INVALID_EXPIRATION
    if type_time == mt5.ORDER_TIME_SPECIFIED_DAY and (
            not expiration_s or day_end_ms(expiration_s * 1000, ctx.server.server_tz) <= ctx.now):
        return mt5.TRADE_RETCODE_INVALID_EXPIRATION
    return None


def check_price(ctx: TradeContext) -> int | None:
    """10015: no price for instant execution; a pending price on the wrong side or too near."""
    spec = ctx.spec
    if spec is None or ctx.quote is None:
        return None
    if ctx.is_deal:
        needs_price = spec.trade_exemode in INSTANT_MODES
        return mt5.TRADE_RETCODE_INVALID_PRICE if needs_price and ctx.request["price"] <= 0 else None
    if ctx.is_pending:
        order_type = ctx.request["type"]
    elif ctx.action == mt5.TRADE_ACTION_MODIFY:
        assert ctx.order is not None
        order_type = ctx.order.type
    else:
        return None
    stoplimit = ctx.request["stoplimit"] if order_type in STOP_LIMIT_TYPES else 0.0
    ok = pending_price_ok(spec, ctx.quote, order_type, ctx.request["price"], stoplimit)
    return None if ok else mt5.TRADE_RETCODE_INVALID_PRICE


Check = Callable[[TradeContext], "int | None"]

CHECKS: tuple[Check, ...] = (
    check_connection, check_auto_trading, check_rate, check_request_shape,
    check_symbol_trade_mode, check_session, check_quote, check_volume, check_volume_limit,
    check_filling, check_expiration, check_price, check_stops, check_freeze_level,
    check_position_state, check_account_rules, check_limits, check_margin, check_execution,
)


def first_failure(ctx: TradeContext, checks: tuple[Check, ...] = CHECKS) -> int | None:
    """The retcode of the first check that refuses `ctx`, or None when all pass."""
    for check in checks:
        retcode = check(ctx)
        if retcode is not None:
            return retcode
    return None
