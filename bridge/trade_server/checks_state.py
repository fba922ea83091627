"""The second half of the trade server's checks: those that read the account's state.

This module owns the stages of `checks.CHECKS` from the stops level on: SL/TP distance
(10016), freeze level (10029), the state of the position or order a request names
(10036/10038/10039/10025), account rules (FIFO 10045, hedge prohibition 10046), limits
(pending orders 10033, positions 10040), margin (10019) and execution (requote 10004, price
changed 10020, dealer reject 10006, and the liquidity that makes an IOC fill partial).
"""

from __future__ import annotations

import math

from bridge import mt5
from bridge.trade_server.account import margin_after
from bridge.trade_server.context import STOP_LIMIT_TYPES, TradeContext, is_buy_type
from bridge.trade_server.money import Quote
from bridge.trade_server.records import Position
from bridge.symbols import SymbolSpec

PRICE_EPSILON = 1e-9  # of a point: float noise, not a distance
LIMIT_TYPES = (mt5.ORDER_TYPE_BUY_LIMIT, mt5.ORDER_TYPE_SELL_LIMIT)


def trigger_distance(order_type: int, price: float, quote: Quote) -> float:
    """How far the market is from triggering a pending order (positive: not yet)."""
    buy = is_buy_type(order_type)
    market = quote.ask if buy else quote.bid
    toward_lower = (order_type in LIMIT_TYPES) == buy  # buy limits and sell stops wait below
    return market - price if toward_lower else price - market


def pending_price_ok(spec: SymbolSpec, quote: Quote, order_type: int, price: float,
                     stoplimit: float) -> bool:
    """A pending price on the right side of the market and at least the stops level away;
    a stop-limit's limit price below its stop (buy) or above it (sell)."""
    if price <= 0:
        return False
    tolerance = spec.point * PRICE_EPSILON
    distance = trigger_distance(order_type, price, quote)
    if not (distance > tolerance and distance >= spec.trade_stops_level * spec.point - tolerance):
        return False
    if order_type == mt5.ORDER_TYPE_BUY_STOP_LIMIT:
        return 0 < stoplimit < price
    if order_type == mt5.ORDER_TYPE_SELL_STOP_LIMIT:
        return stoplimit > price
    return True


def stops_retcode(spec: SymbolSpec, reference: float, long: bool, sl: float, tp: float) -> int | None:
    """10016 when sl/tp sit on the wrong side of, or nearer than the stops level to,
    `reference`: the price the position would close at (bid for longs, ask for shorts), or
    a pending order's price."""
    minimum = spec.trade_stops_level * spec.point
    tolerance = spec.point * PRICE_EPSILON
    sign = 1.0 if long else -1.0
    if sl and not sign * (reference - sl) > max(minimum - tolerance, tolerance):
        return mt5.TRADE_RETCODE_INVALID_STOPS
    if tp and not sign * (tp - reference) > max(minimum - tolerance, tolerance):
        return mt5.TRADE_RETCODE_INVALID_STOPS
    return None


def _entry_price(order_type: int, price: float, stoplimit: float) -> float:
    return stoplimit if order_type in STOP_LIMIT_TYPES else price


def check_stops(ctx: TradeContext) -> int | None:
    spec, quote, request = ctx.spec, ctx.quote, ctx.request
    if ctx.is_pending or ctx.action == mt5.TRADE_ACTION_MODIFY:
        order_type = request["type"] if ctx.is_pending else ctx.order.type
        assert spec is not None
        entry = _entry_price(order_type, request["price"], request["stoplimit"])
        return stops_retcode(spec, entry, is_buy_type(order_type), request["sl"], request["tp"])
    if ctx.is_deal and ctx.is_open:
        long = ctx.is_buy
    elif ctx.action == mt5.TRADE_ACTION_SLTP and ctx.position is not None:
        long = ctx.position.is_long
    else:
        return None  # a close ignores the request's sl/tp
    assert spec is not None and quote is not None
    return stops_retcode(spec, quote.bid if long else quote.ask, long, request["sl"], request["tp"])


def check_freeze_level(ctx: TradeContext) -> int | None:
    """10029: SL/TP of a position, or a pending order, within the freeze level of the market."""
    spec, quote = ctx.spec, ctx.quote
    if spec is None or quote is None or spec.trade_freeze_level <= 0:
        return None
    freeze = spec.trade_freeze_level * spec.point
    if ctx.action == mt5.TRADE_ACTION_SLTP and ctx.position is not None:
        position = ctx.position
        price = quote.bid if position.is_long else quote.ask
        near = [abs(price - level) < freeze for level in (position.sl, position.tp) if level]
        return mt5.TRADE_RETCODE_FROZEN if any(near) else None
    if ctx.action in (mt5.TRADE_ACTION_MODIFY, mt5.TRADE_ACTION_REMOVE) and ctx.order is not None:
        distance = trigger_distance(ctx.order.type, ctx.order.price_open, quote)
        return mt5.TRADE_RETCODE_FROZEN if distance < freeze else None
    return None


def _closing_order_exists(ctx: TradeContext, position: Position) -> bool:
    return any(o.position_id == position.ticket for o in ctx.server.orders.values())


def check_position_state(ctx: TradeContext) -> int | None:
    request, action = ctx.request, ctx.action
    if action == mt5.TRADE_ACTION_MODIFY:
        order = ctx.order
        assert order is not None and ctx.spec is not None
        same = all(abs(a - b) < ctx.spec.point / 2 for a, b in (
            (order.price_open, request["price"]), (order.sl, request["sl"]), (order.tp, request["tp"]),
            (order.price_stoplimit, request["stoplimit"] if order.type in STOP_LIMIT_TYPES else 0.0)))
        same = same and (order.type_time, order.time_expiration) == (request["type_time"], request["expiration"])
        return mt5.TRADE_RETCODE_NO_CHANGES if same else None
    if action == mt5.TRADE_ACTION_CLOSE_BY:
        first, second = ctx.position, ctx.position_by
        if first is None or second is None:
            return mt5.TRADE_RETCODE_POSITION_CLOSED
        if first is second or first.symbol != second.symbol or first.is_long == second.is_long:
            return mt5.TRADE_RETCODE_INVALID
        if ctx.request["symbol"] and first.symbol != ctx.request["symbol"]:
            return mt5.TRADE_RETCODE_INVALID
        return None
    names_position = action == mt5.TRADE_ACTION_SLTP or (
        (ctx.is_deal or ctx.is_pending) and request["position"])
    if not names_position:
        return None
    position = ctx.position
    if position is None:
        return mt5.TRADE_RETCODE_POSITION_CLOSED
    if position.symbol != request["symbol"]:
        return mt5.TRADE_RETCODE_INVALID
    if action == mt5.TRADE_ACTION_SLTP:
        same_sl = _same_price(position.sl, request["sl"], ctx)
        same_tp = _same_price(position.tp, request["tp"], ctx)
        return mt5.TRADE_RETCODE_NO_CHANGES if same_sl and same_tp else None
    if ctx.is_buy == position.is_long:
        return mt5.TRADE_RETCODE_INVALID  # a close must be the opposite of the position
    if request["volume"] > position.volume + 1e-9:
        return mt5.TRADE_RETCODE_INVALID_CLOSE_VOLUME
    if _closing_order_exists(ctx, position):
        return mt5.TRADE_RETCODE_CLOSE_ORDER_EXIST
    return None


def _same_price(a: float, b: float, ctx: TradeContext) -> bool:
    assert ctx.spec is not None
    return abs(a - b) < ctx.spec.point / 2


def check_account_rules(ctx: TradeContext) -> int | None:
    server = ctx.server
    if ctx.netting:
        return None
    if server.fifo_close:
        closing = [p for p in (ctx.position, ctx.position_by) if p is not None] if (
            ctx.action == mt5.TRADE_ACTION_CLOSE_BY or ctx.request["position"]) else []
        for position in closing:
            if any(p.symbol == position.symbol and (p.time_msc, p.ticket) < (position.time_msc, position.ticket)
                   for p in server.positions.values() if p not in closing):
                return mt5.TRADE_RETCODE_FIFO_CLOSE
    if not server.hedge_allowed and ctx.is_open and ctx.spec is not None:
        if any(p.symbol == ctx.spec.name and p.is_long != ctx.is_buy for p in server.positions.values()):
            return mt5.TRADE_RETCODE_HEDGE_PROHIBITED
    return None


def check_limits(ctx: TradeContext) -> int | None:
    server = ctx.server
    if ctx.is_pending and server.limit_orders > 0 and len(server.orders) >= server.limit_orders:
        return mt5.TRADE_RETCODE_LIMIT_ORDERS
    new_position = ctx.is_deal and ctx.is_open and (not ctx.netting or ctx.net is None)
    if new_position and 0 < server.limit_positions <= len(server.positions):
        return mt5.TRADE_RETCODE_LIMIT_POSITIONS
    return None


def check_margin(ctx: TradeContext) -> int | None:
    if not ctx.is_open or ctx.opening_volume <= 0:
        return None
    after = margin_after(ctx)
    if after is None:
        return mt5.TRADE_RETCODE_PRICE_OFF  # no quote to convert the margin currency
    before = ctx.server.account_info()
    ctx.margin_required = max(0.0, after - before["margin"])
    return mt5.TRADE_RETCODE_NO_MONEY if before["equity"] - after < -1e-9 else None


def check_execution(ctx: TradeContext) -> int | None:
    spec, server = ctx.spec, ctx.server
    if not ctx.is_deal or spec is None:
        return None
    ctx.fill_volume = ctx.request["volume"]
    if not ctx.dry_run and server.faults.take("requotes"):
        return mt5.TRADE_RETCODE_REQUOTE
    off_points = abs(ctx.market_price() - ctx.request["price"]) / spec.point
    if off_points > ctx.request["deviation"] + 1e-6:
        if spec.trade_exemode == mt5.SYMBOL_TRADE_EXECUTION_INSTANT:
            return mt5.TRADE_RETCODE_REQUOTE
        if spec.trade_exemode == mt5.SYMBOL_TRADE_EXECUTION_REQUEST:
            return mt5.TRADE_RETCODE_PRICE_CHANGED
    if not ctx.dry_run and server.faults.take("rejects"):
        return mt5.TRADE_RETCODE_REJECT
    liquidity = spec.sim_liquidity_lots
    if liquidity > 0 and ctx.fill_volume > liquidity + 1e-9:
        if ctx.request["type_filling"] != mt5.ORDER_FILLING_IOC:
            return mt5.TRADE_RETCODE_REJECT  # fill-or-kill cannot be filled in full
        steps = math.floor(liquidity / spec.volume_step + 1e-9)
        ctx.fill_volume = round(steps * spec.volume_step, 8)
    return None
