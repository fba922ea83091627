"""MetaTrader5 `order_send` request dicts for what the executor does (pure).

Every request names its filling mode explicitly, chosen from the symbol's `filling_mode`
flags (MT5_BRIDGE.md: a hard-coded filling mode is the classic 10030), and carries the
client order id in `comment` and the journal row in `magic` (see order_ids).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge import mt5

DEVIATION_POINTS = 20


def filling_for(symbol: Mapping[str, Any]) -> int:
    flags = int(symbol.get("filling_mode", 0))
    if flags & mt5.SYMBOL_FILLING_FOK:
        return mt5.ORDER_FILLING_FOK
    if flags & mt5.SYMBOL_FILLING_IOC:
        return mt5.ORDER_FILLING_IOC
    return mt5.ORDER_FILLING_RETURN


def side_of(position_type: int) -> str:
    return "buy" if position_type == mt5.POSITION_TYPE_BUY else "sell"


def market_open(symbol: Mapping[str, Any], side: str, volume: float, price: float, *, sl: float = 0.0,
                tp: float = 0.0, magic: int = 0, comment: str = "") -> dict[str, Any]:
    return {
        "action": mt5.TRADE_ACTION_DEAL, "symbol": symbol["name"], "volume": float(volume),
        "type": mt5.ORDER_TYPE_BUY if side == "buy" else mt5.ORDER_TYPE_SELL, "price": float(price),
        "sl": float(sl), "tp": float(tp), "deviation": DEVIATION_POINTS, "magic": magic, "comment": comment,
        "type_time": mt5.ORDER_TIME_GTC, "type_filling": filling_for(symbol),
    }


def market_close(symbol: Mapping[str, Any], position: Mapping[str, Any], volume: float, price: float, *,
                 magic: int = 0, comment: str = "") -> dict[str, Any]:
    """Close (part of) a position: the opposite deal, naming the position (hedging-safe)."""
    closing_type = mt5.ORDER_TYPE_SELL if position["type"] == mt5.POSITION_TYPE_BUY else mt5.ORDER_TYPE_BUY
    return {
        "action": mt5.TRADE_ACTION_DEAL, "symbol": position["symbol"], "volume": float(volume),
        "type": closing_type, "price": float(price), "position": int(position["ticket"]),
        "deviation": DEVIATION_POINTS, "magic": magic, "comment": comment,
        "type_time": mt5.ORDER_TIME_GTC, "type_filling": filling_for(symbol),
    }


def modify_stops(position: Mapping[str, Any], sl: float, tp: float, *, magic: int = 0,
                 comment: str = "") -> dict[str, Any]:
    return {"action": mt5.TRADE_ACTION_SLTP, "symbol": position["symbol"], "position": int(position["ticket"]),
            "sl": float(sl), "tp": float(tp), "magic": magic, "comment": comment}


def remove_order(order: Mapping[str, Any], *, magic: int = 0, comment: str = "") -> dict[str, Any]:
    return {"action": mt5.TRADE_ACTION_REMOVE, "order": int(order["ticket"]), "magic": magic, "comment": comment}


def closing_price(position: Mapping[str, Any], bid: float, ask: float) -> float:
    """A long closes by selling at the bid, a short by buying at the ask."""
    return bid if position["type"] == mt5.POSITION_TYPE_BUY else ask


def entry_price(side: str, bid: float, ask: float) -> float:
    return ask if side == "buy" else bid
