"""Pending orders of the simulated trade server: placing, modifying, removing, triggering.

This module owns the life of BUY/SELL LIMIT, STOP and STOP_LIMIT orders: placed
(ORDER_STATE_PLACED, in `orders_get`), modified, removed (CANCELED) or expired (EXPIRED) into
history, and triggered by quotes: buy orders on the ask, sell orders on the bid; a stop-limit
becomes a limit order at its `stoplimit` price when its stop price is reached; a triggered
order fills at the first available price (a gap fills beyond the order's price). An order
that names a `position` (hedging) closes that position when triggered. Expiration: GTC never,
DAY at the end of the server day, SPECIFIED at `expiration` (seconds, the clock of the
records' `time` fields), SPECIFIED_DAY at the end of the server day of `expiration`.
"""

from __future__ import annotations

from bridge import mt5
from bridge.trade_server.account import account_margin, legs_of
from bridge.trade_server.checks_state import trigger_distance
from bridge.trade_server.context import STOP_LIMIT_TYPES, TradeContext, is_buy_type
from bridge.trade_server.fills import close, fill, record
from bridge.trade_server.money import Quote
from bridge.trade_server.records import Order, order_transaction
from bridge.trade_server.sessions import day_end_ms
from bridge.trade_server.state import ServerState

LIMIT_OF_STOP_LIMIT = {mt5.ORDER_TYPE_BUY_STOP_LIMIT: mt5.ORDER_TYPE_BUY_LIMIT,
                       mt5.ORDER_TYPE_SELL_STOP_LIMIT: mt5.ORDER_TYPE_SELL_LIMIT}


def _expiry(server: ServerState, type_time: int, expiration_s: int, now: int) -> tuple[int, int]:
    """(time_expiration in seconds as MT5 reports it, the instant in ms the order expires)."""
    if type_time == mt5.ORDER_TIME_DAY:
        end = day_end_ms(now, server.server_tz)
        return end // 1000, end
    if type_time == mt5.ORDER_TIME_SPECIFIED:
        return expiration_s, expiration_s * 1000
    if type_time == mt5.ORDER_TIME_SPECIFIED_DAY:
        end = day_end_ms(expiration_s * 1000, server.server_tz)
        return end // 1000, end
    return 0, 0


def place(server: ServerState, ctx: TradeContext, now: int) -> Order:
    request, spec = ctx.request, ctx.spec
    assert spec is not None and ctx.quote is not None
    order_type = request["type"]
    digits = spec.digits
    time_expiration, expires = _expiry(server, request["type_time"], request["expiration"], now)
    order = Order(
        ticket=server.next_order_ticket(), symbol=spec.name, type=order_type,
        state=mt5.ORDER_STATE_PLACED, volume_initial=request["volume"],
        volume_current=request["volume"], price_open=round(request["price"], digits),
        sl=round(request["sl"], digits), tp=round(request["tp"], digits), magic=request["magic"],
        comment=request["comment"], reason=mt5.DEAL_REASON_EXPERT, position_id=request["position"],
        time_setup_msc=now, price_current=ctx.market_price(),
        price_stoplimit=round(request["stoplimit"], digits) if order_type in STOP_LIMIT_TYPES else 0.0,
        type_time=request["type_time"], type_filling=request["type_filling"],
        time_expiration=time_expiration, expires_msc=expires)
    server.orders[order.ticket] = order
    server.emit([order_transaction(mt5.TRADE_TRANSACTION_ORDER_ADD, order, order.state)])
    server.changed()
    return order


def modify(server: ServerState, ctx: TradeContext, now: int) -> Order:
    order, request = ctx.order, ctx.request
    assert order is not None and ctx.spec is not None
    digits = ctx.spec.digits
    order.price_open = round(request["price"], digits)
    order.sl, order.tp = round(request["sl"], digits), round(request["tp"], digits)
    if order.type in STOP_LIMIT_TYPES:
        order.price_stoplimit = round(request["stoplimit"], digits)
    order.type_time = request["type_time"]
    order.time_expiration, order.expires_msc = _expiry(server, order.type_time, request["expiration"], now)
    server.emit([order_transaction(mt5.TRADE_TRANSACTION_ORDER_UPDATE, order, order.state)])
    server.changed()
    return order


def finish(server: ServerState, order: Order, state: int, now: int) -> None:
    """Take a pending order off the book unfilled: CANCELED, EXPIRED or REJECTED."""
    del server.orders[order.ticket]
    order.state, order.time_done_msc = state, now
    server.history_orders.append(order)
    server.emit([order_transaction(mt5.TRADE_TRANSACTION_ORDER_DELETE, order, state),
                 order_transaction(mt5.TRADE_TRANSACTION_HISTORY_ADD, order, state)])
    server.changed()


def expire(server: ServerState, now: int) -> list[int]:
    due = [o for o in server.orders.values() if o.expires_msc and o.expires_msc <= now]
    for order in due:
        finish(server, order, mt5.ORDER_STATE_EXPIRED, order.expires_msc)
    return [o.ticket for o in due]


def trigger(server: ServerState, symbol: str, quote: Quote, now: int) -> list[int]:
    """Fire the pending orders of `symbol` this quote reaches; their tickets, oldest first."""
    fired = []
    for order in sorted((o for o in server.orders.values() if o.symbol == symbol), key=lambda o: o.ticket):
        order.price_current = quote.ask if is_buy_type(order.type) else quote.bid
        if order.type in STOP_LIMIT_TYPES:
            if trigger_distance(order.type, order.price_open, quote) > 0:
                continue
            # The stop price is reached: the order becomes a limit order at its stoplimit price.
            order.type = LIMIT_OF_STOP_LIMIT[order.type]
            order.price_open, order.price_stoplimit = order.price_stoplimit, order.price_open
            server.emit([order_transaction(mt5.TRADE_TRANSACTION_ORDER_UPDATE, order, order.state)])
            server.changed()
        if trigger_distance(order.type, order.price_open, quote) > 0:
            continue
        _execute(server, order, order.price_current, now)
        fired.append(order.ticket)
    return fired


def _execute(server: ServerState, order: Order, price: float, now: int) -> None:
    if order.position_id:  # a closing order
        position = server.positions.get(order.position_id)
        if position is None:
            finish(server, order, mt5.ORDER_STATE_CANCELED, now)
            return
    elif not _margin_allows(server, order):
        finish(server, order, mt5.ORDER_STATE_REJECTED, now)  # no money at activation
        return
    del server.orders[order.ticket]
    order.state, order.time_done_msc, order.price_current = mt5.ORDER_STATE_FILLED, now, price
    volume, order.volume_current = order.volume_current, 0.0
    if order.position_id:
        _, deal = close(server, position, min(volume, position.volume), price, now,
                        reason=order.reason, magic=order.magic, comment=order.comment, order=order)
        deals = [deal]
    else:
        deals = fill(server, order, volume, price, now, sl=order.sl, tp=order.tp)
    record(server, order, deals, was_pending=True)


def _margin_allows(server: ServerState, order: Order) -> bool:
    long = is_buy_type(order.type)
    net = next((p for p in server.positions.values() if p.symbol == order.symbol), None)
    if server.netting and net is not None and net.is_long != long:
        return True  # reduces (or reverses) the netting position: checked no further
    legs = legs_of(server) + [(order.symbol, long, order.volume_current)]
    equity = server.account_info()["equity"]
    return equity - account_margin(server, legs) >= 0
