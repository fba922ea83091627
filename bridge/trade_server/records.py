"""The simulated trade server's records: positions, orders, deals and trade transactions.

This module owns the field sets of the MetaTrader5 package's `TradePosition`, `TradeOrder`,
`TradeDeal` and `MqlTradeTransaction`, as mutable records inside the server and as the dicts
the bridge sends, and how history queries filter them. In MT5 `time*` fields are seconds and
`time*_msc` milliseconds; records keep milliseconds and derive the seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable

from bridge import mt5
from bridge.symbols import match_group

COMMENT_MAX_LEN = 31  # MT5 silently truncates longer comments


@dataclass(slots=True, kw_only=True)
class Position:
    ticket: int  # = identifier = the opening order's ticket (hedging accounts)
    symbol: str
    type: int
    volume: float
    price_open: float
    sl: float
    tp: float
    magic: int
    comment: str
    reason: int
    time_msc: int
    time_update_msc: int
    price_current: float = 0.0
    profit: float = 0.0
    swap: float = 0.0
    external_id: str = ""

    @property
    def is_long(self) -> bool:
        return self.type == mt5.POSITION_TYPE_BUY

    def to_dict(self) -> dict[str, Any]:
        return {
            "ticket": self.ticket, "time": self.time_msc // 1000, "time_msc": self.time_msc,
            "time_update": self.time_update_msc // 1000, "time_update_msc": self.time_update_msc,
            "type": self.type, "magic": self.magic, "identifier": self.ticket,
            "reason": self.reason, "volume": self.volume, "price_open": self.price_open,
            "sl": self.sl, "tp": self.tp, "price_current": self.price_current,
            "swap": self.swap, "profit": self.profit, "symbol": self.symbol,
            "comment": self.comment, "external_id": self.external_id,
        }


@dataclass(slots=True, kw_only=True)
class Order:
    ticket: int
    symbol: str
    type: int
    state: int
    volume_initial: float
    volume_current: float
    price_open: float
    sl: float
    tp: float
    magic: int
    comment: str
    reason: int
    position_id: int
    time_setup_msc: int
    time_done_msc: int = 0
    price_current: float = 0.0
    price_stoplimit: float = 0.0
    position_by_id: int = 0
    time_expiration: int = 0
    type_time: int = mt5.ORDER_TIME_GTC
    type_filling: int = mt5.ORDER_FILLING_FOK
    external_id: str = ""
    expires_msc: int = 0  # when a pending order expires (server's own, not an MT5 field)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ticket": self.ticket, "time_setup": self.time_setup_msc // 1000,
            "time_setup_msc": self.time_setup_msc, "time_done": self.time_done_msc // 1000,
            "time_done_msc": self.time_done_msc, "time_expiration": self.time_expiration,
            "type": self.type, "type_time": self.type_time, "type_filling": self.type_filling,
            "state": self.state, "magic": self.magic, "position_id": self.position_id,
            "position_by_id": self.position_by_id, "reason": self.reason,
            "volume_initial": self.volume_initial, "volume_current": self.volume_current,
            "price_open": self.price_open, "sl": self.sl, "tp": self.tp,
            "price_current": self.price_current, "price_stoplimit": self.price_stoplimit,
            "symbol": self.symbol, "comment": self.comment, "external_id": self.external_id,
        }


@dataclass(slots=True, kw_only=True)
class Deal:
    ticket: int
    order: int
    symbol: str
    type: int
    entry: int
    reason: int
    position_id: int
    volume: float
    price: float
    profit: float
    magic: int
    comment: str
    time_msc: int
    commission: float = 0.0
    swap: float = 0.0
    fee: float = 0.0
    external_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "ticket": self.ticket, "order": self.order, "time": self.time_msc // 1000,
            "time_msc": self.time_msc, "type": self.type, "entry": self.entry,
            "magic": self.magic, "reason": self.reason, "position_id": self.position_id,
            "volume": self.volume, "price": self.price, "commission": self.commission,
            "swap": self.swap, "profit": self.profit, "fee": self.fee, "symbol": self.symbol,
            "comment": self.comment, "external_id": self.external_id,
        }


def truncate_comment(comment: str) -> str:
    return comment[:COMMENT_MAX_LEN]


# --- trade transactions (MqlTradeTransaction), wrapped as the bridge's trade_transaction event ---

def transaction(type_: int, *, request: dict | None = None, result: dict | None = None,
                **fields: Any) -> dict[str, Any]:
    """One `trade_transaction` event body: {trans, request, result}; unset trans fields are 0."""
    trans = {
        "deal": 0, "order": 0, "symbol": "", "type": type_,
        "type_name": mt5.TRANSACTION_TYPE_NAMES[type_], "order_type": 0, "order_state": 0,
        "deal_type": 0, "time_type": 0, "time_expiration": 0, "price": 0.0,
        "price_trigger": 0.0, "price_sl": 0.0, "price_tp": 0.0, "volume": 0.0,
        "position": 0, "position_by": 0,
    }
    unknown = set(fields) - set(trans)
    if unknown:
        raise TypeError(f"not MqlTradeTransaction fields: {sorted(unknown)}")
    trans.update(fields)
    return {"trans": trans, "request": request, "result": result}


def order_transaction(type_: int, order: Order, state: int) -> dict[str, Any]:
    return transaction(
        type_, order=order.ticket, symbol=order.symbol, order_type=order.type,
        order_state=state, time_type=order.type_time, time_expiration=order.time_expiration,
        price=order.price_open, price_sl=order.sl, price_tp=order.tp,
        volume=order.volume_initial, position=order.position_id,
    )


def deal_transaction(deal: Deal, order: Order) -> dict[str, Any]:
    return transaction(
        mt5.TRADE_TRANSACTION_DEAL_ADD, deal=deal.ticket, order=deal.order, symbol=deal.symbol,
        order_type=order.type, order_state=order.state, deal_type=deal.type,
        time_type=order.type_time, price=deal.price, price_sl=order.sl, price_tp=order.tp,
        volume=deal.volume, position=deal.position_id,
    )


def market_order_transactions(order: Order, deal: Deal) -> list[dict[str, Any]]:
    """What MT5 emits for a filled market order, in its order (the REQUEST one comes apart)."""
    return [
        order_transaction(mt5.TRADE_TRANSACTION_ORDER_ADD, order, mt5.ORDER_STATE_STARTED),
        deal_transaction(deal, order),
        order_transaction(mt5.TRADE_TRANSACTION_ORDER_DELETE, order, mt5.ORDER_STATE_FILLED),
        order_transaction(mt5.TRADE_TRANSACTION_HISTORY_ADD, order, mt5.ORDER_STATE_FILLED),
    ]


def position_transaction(position: Position) -> dict[str, Any]:
    """A change of a position not caused by a deal (e.g. SL/TP modified)."""
    return transaction(
        mt5.TRADE_TRANSACTION_POSITION, symbol=position.symbol, order_type=position.type,
        price=position.price_open, price_sl=position.sl, price_tp=position.tp,
        volume=position.volume, position=position.ticket,
    )


def select_records(records: Iterable[Any], symbol: str | None, group: str | None,
                   ticket: int | None) -> list[Any]:
    """The positions or orders matching every filter given (None = no filter)."""
    return [r for r in records if symbol in (None, r.symbol) and match_group(r.symbol, group)
            and ticket in (None, r.ticket)]


def time_window(date_from: int | datetime | None, date_to: int | datetime | None) -> tuple[int, int]:
    """[from, to] in ms UTC; history requests give ms ints, or datetimes as in the MT5 package."""
    return to_ms(date_from, 0), to_ms(date_to, 2**63 - 1)


def to_ms(value: int | datetime | None, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return int(aware.timestamp() * 1000)
    return int(value)
