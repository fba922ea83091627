"""How fills change positions, on hedging and netting accounts, with MT5's tickets and entries.

This module owns the bookkeeping of a filled order: the deal(s) it makes, their `entry`
(IN, OUT, INOUT for a netting reversal, OUT_BY for close-by), `reason`, commission and
realized swap, and the positions they open, grow, shrink, reverse or close. Tickets follow
MT5: orders and deals have their own counters; a position's ticket and identifier are the
ticket of the order that opened it, and stay through partial closes, netting averaging and
reversal. Every function takes the server (`state.ServerState`) whose state it changes.
"""

from __future__ import annotations

from bridge import mt5
from bridge.trade_server.records import Deal, Order, Position, deal_transaction, order_transaction
from bridge.trade_server.state import ServerState

VOLUME_DIGITS = 8
PRICE_DIGITS_EXTRA = 5  # an averaged netting price keeps more digits than the symbol, as MT5


def new_order(server: ServerState, symbol: str, order_type: int, volume: float, price: float,
              now: int, *, magic: int, comment: str, reason: int, position_id: int = 0,
              type_filling: int = mt5.ORDER_FILLING_FOK) -> Order:
    ticket = server.next_order_ticket()
    return Order(ticket=ticket, symbol=symbol, type=order_type, state=mt5.ORDER_STATE_FILLED,
                 volume_initial=volume, volume_current=0.0, price_open=price, sl=0.0, tp=0.0,
                 magic=magic, comment=comment, reason=reason, position_id=position_id,
                 time_setup_msc=now, time_done_msc=now, price_current=price,
                 type_filling=type_filling)


def _deal(server: ServerState, order: Order, *, deal_type: int, entry: int, volume: float,
          price: float, position_id: int, profit: float, swap: float = 0.0,
          commission: bool = True) -> Deal:
    charge = server.commission(order.symbol, volume) if commission else 0.0
    deal = Deal(ticket=server.next_deal_ticket(), order=order.ticket, symbol=order.symbol,
                type=deal_type, entry=entry, reason=order.reason, position_id=position_id,
                volume=volume, price=price, profit=profit, magic=order.magic,
                comment=order.comment, time_msc=order.time_done_msc, commission=charge, swap=swap)
    digits = server.money.currency_digits
    server.balance = round(server.balance + deal.profit + deal.swap + deal.commission, digits)
    return deal


def _opposite(position: Position) -> int:
    return mt5.ORDER_TYPE_SELL if position.is_long else mt5.ORDER_TYPE_BUY


def _profit(server: ServerState, position: Position, volume: float, price: float) -> float:
    return server.money.profit(position.type, position.symbol, volume, position.price_open, price) or 0.0


def _realize_swap(position: Position, volume: float) -> float:
    """The share of a position's accrued swap that leaves with `volume` lots."""
    share = round(position.swap * volume / position.volume, 2) if position.volume else 0.0
    position.swap = round(position.swap - share, 2)
    return share


def _new_position(server: ServerState, order: Order, volume: float, price: float, now: int,
                  sl: float, tp: float) -> Position:
    position = Position(
        ticket=order.ticket, symbol=order.symbol, type=order.type % 2, volume=volume,
        price_open=price, sl=sl, tp=tp, magic=order.magic, comment=order.comment,
        reason=order.reason, time_msc=now, time_update_msc=now)
    server.positions[position.ticket] = position
    return position


def _shrink(server: ServerState, position: Position, volume: float, now: int) -> None:
    position.volume = round(position.volume - volume, VOLUME_DIGITS)
    if position.volume <= 0:
        del server.positions[position.ticket]
    else:
        position.time_update_msc = now  # a partial close keeps the ticket


def fill(server: ServerState, order: Order, volume: float, price: float, now: int, *,
         sl: float = 0.0, tp: float = 0.0) -> list[Deal]:
    """Fill an opening order (market or triggered pending) of `order.type` % 2 direction."""
    if server.netting:
        return _fill_netting(server, order, volume, price, now, sl, tp)
    order.position_id = order.ticket  # hedging: the position takes its opening order's ticket
    position = _new_position(server, order, volume, price, now, sl, tp)
    server.mark(position)
    return [_deal(server, order, deal_type=order.type % 2, entry=mt5.DEAL_ENTRY_IN,
                  volume=volume, price=price, position_id=position.ticket, profit=0.0)]


def _fill_netting(server: ServerState, order: Order, volume: float, price: float, now: int,
                  sl: float, tp: float) -> list[Deal]:
    direction = order.type % 2
    net = next((p for p in server.positions.values() if p.symbol == order.symbol), None)
    if net is None:
        order.position_id = order.ticket
        position = _new_position(server, order, volume, price, now, sl, tp)
        entry, profit, swap = mt5.DEAL_ENTRY_IN, 0.0, 0.0
    elif net.type == direction:  # averaging: one position, volume-weighted price
        order.position_id = net.ticket
        total = round(net.volume + volume, VOLUME_DIGITS)
        digits = server.symbols[net.symbol].digits + PRICE_DIGITS_EXTRA
        net.price_open = round((net.price_open * net.volume + price * volume) / total, digits)
        net.volume, net.time_update_msc = total, now
        net.sl, net.tp = (sl or net.sl), (tp or net.tp)
        position, entry, profit, swap = net, mt5.DEAL_ENTRY_IN, 0.0, 0.0
    else:
        order.position_id = net.ticket
        closed = min(volume, net.volume)
        profit = _profit(server, net, closed, price)
        swap = _realize_swap(net, closed)
        position = net
        if volume > net.volume + 1e-9:  # reversal: the identifier stays, the side turns
            entry = mt5.DEAL_ENTRY_INOUT
            net.type, net.volume = direction, round(volume - net.volume, VOLUME_DIGITS)
            net.price_open, net.sl, net.tp, net.time_update_msc = price, sl, tp, now
        else:
            entry = mt5.DEAL_ENTRY_OUT
            _shrink(server, net, volume, now)
    if position.ticket in server.positions:
        server.mark(position)
    return [_deal(server, order, deal_type=direction, entry=entry, volume=volume, price=price,
                  position_id=order.position_id, profit=profit, swap=swap)]


def close(server: ServerState, position: Position, volume: float, price: float, now: int, *,
          reason: int, magic: int, comment: str, order: Order | None = None) -> tuple[Order, Deal]:
    """Close `volume` lots of `position` at `price` (by a request, SL/TP, stop-out or a
    triggered closing order); the rest keeps its ticket."""
    if order is None:
        order = new_order(server, position.symbol, _opposite(position), volume, price, now,
                          magic=magic, comment=comment, reason=reason)
    order.position_id = position.ticket
    profit = _profit(server, position, volume, price)
    swap = _realize_swap(position, volume)
    deal = _deal(server, order, deal_type=_opposite(position), entry=mt5.DEAL_ENTRY_OUT,
                 volume=volume, price=price, position_id=position.ticket, profit=profit, swap=swap)
    _shrink(server, position, volume, now)
    if position.ticket in server.positions:
        server.mark(position)
    return order, deal


def close_by(server: ServerState, first: Position, second: Position, now: int, *, magic: int,
             comment: str) -> tuple[Order, list[Deal]]:
    """Close two opposite positions against each other: one CLOSE_BY order, two OUT_BY deals
    at the open price of `second`, so the whole result lands in the deal of `first`."""
    volume = min(first.volume, second.volume)
    price = second.price_open
    order = new_order(server, first.symbol, mt5.ORDER_TYPE_CLOSE_BY, volume, price, now,
                      magic=magic, comment=comment or f"#{first.ticket} by #{second.ticket}",
                      reason=mt5.DEAL_REASON_EXPERT, position_id=first.ticket)
    order.position_by_id = second.ticket
    deals = []
    for position in (first, second):
        deals.append(_deal(server, order, deal_type=_opposite(position), entry=mt5.DEAL_ENTRY_OUT_BY,
                           volume=volume, price=price, position_id=position.ticket,
                           profit=_profit(server, position, volume, price),
                           swap=_realize_swap(position, volume), commission=False))
        _shrink(server, position, volume, now)
        if position.ticket in server.positions:
            server.mark(position)
    return order, deals


def record(server: ServerState, order: Order, deals: list[Deal], *, was_pending: bool = False) -> None:
    """File a finished order and its deals in history and queue their transactions, in MT5's
    order: ORDER_ADD (not for a pending order, added when placed), DEAL_ADD per deal,
    ORDER_DELETE, HISTORY_ADD."""
    server.history_orders.append(order)
    server.history_deals.extend(deals)
    transactions = [] if was_pending else [
        order_transaction(mt5.TRADE_TRANSACTION_ORDER_ADD, order, mt5.ORDER_STATE_STARTED)]
    transactions += [deal_transaction(deal, order) for deal in deals]
    transactions += [order_transaction(mt5.TRADE_TRANSACTION_ORDER_DELETE, order, order.state),
                     order_transaction(mt5.TRADE_TRANSACTION_HISTORY_ADD, order, order.state)]
    server.emit(transactions)
    server.changed()
