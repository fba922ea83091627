"""A trade request as the simulated trade server sees it: typed, defaulted, with its lookups.

This module owns what the MetaTrader5 package refuses before anything reaches the server
(unknown keys, badly typed values: `RequestError`, `last_error()` -2), the MT5 defaults of
missing keys, and `TradeContext`: the request plus what the checks and the execution look up
(symbol, quote, the position or order it names, and on netting accounts the symbol's net
position), with the derived facts both need (does it open exposure, close, reverse).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bridge import mt5
from bridge.symbols import SymbolSpec
from bridge.trade_server.money import Quote
from bridge.trade_server.records import Order, Position, truncate_comment
from bridge.trade_server.state import ServerState

UINT64_MAX = 2**64 - 1
UNSIGNED_KEYS = frozenset({"deviation", "magic", "expiration", "position", "position_by", "order"})
FLOAT_KEYS = ("volume", "price", "stoplimit", "sl", "tp")
STR_KEYS = ("symbol", "comment")
MARKET_TYPES = (mt5.ORDER_TYPE_BUY, mt5.ORDER_TYPE_SELL)
PENDING_TYPES = tuple(range(mt5.ORDER_TYPE_BUY_LIMIT, mt5.ORDER_TYPE_SELL_STOP_LIMIT + 1))
BUY_TYPES = frozenset({mt5.ORDER_TYPE_BUY, mt5.ORDER_TYPE_BUY_LIMIT, mt5.ORDER_TYPE_BUY_STOP,
                       mt5.ORDER_TYPE_BUY_STOP_LIMIT})
STOP_LIMIT_TYPES = (mt5.ORDER_TYPE_BUY_STOP_LIMIT, mt5.ORDER_TYPE_SELL_STOP_LIMIT)
VOLUME_EPSILON = 1e-9


class RequestError(ValueError):
    """A request the MetaTrader5 package itself refuses: `last_error()` code and text."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


def normalize_request(request: Any) -> dict[str, Any]:
    """The request with every key of TRADE_REQUEST_KEYS, MT5 defaults for missing ones."""
    if not isinstance(request, dict):
        raise RequestError(mt5.RES_E_INVALID_PARAMS, 'Invalid "request" argument')
    for key in request:
        if key not in mt5.TRADE_REQUEST_KEYS:
            raise RequestError(mt5.RES_E_INVALID_PARAMS, f'Invalid "{key}" argument')
    normalized: dict[str, Any] = {}
    for key in mt5.TRADE_REQUEST_KEYS:
        normalized[key] = _typed_value(key, request.get(key))
    normalized["comment"] = truncate_comment(normalized["comment"])
    return normalized


def _typed_value(key: str, value: Any) -> Any:
    invalid = RequestError(mt5.RES_E_INVALID_PARAMS, f'Invalid "{key}" argument')
    if key in STR_KEYS:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise invalid
        return value
    if value is None:
        return 0.0 if key in FLOAT_KEYS else 0
    if isinstance(value, bool):
        raise invalid
    if key in FLOAT_KEYS:
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise invalid
        return float(value)
    if not isinstance(value, int) or value > UINT64_MAX or (key in UNSIGNED_KEYS and value < 0):
        raise invalid
    return value


def is_buy_type(order_type: int) -> bool:
    return order_type in BUY_TYPES


@dataclass(slots=True)
class TradeContext:
    """One request on its way through the checks, with what the checks looked up."""

    server: ServerState
    request: dict[str, Any]
    now: int = 0
    dry_run: bool = False  # order_check: no fault counters consumed, nothing changes
    spec: SymbolSpec | None = None
    quote: Quote | None = None
    position: Position | None = None  # named by request["position"]
    position_by: Position | None = None
    order: Order | None = None  # named by request["order"]
    net: Position | None = None  # netting: the symbol's position
    margin_required: float | None = None
    fill_volume: float = 0.0  # what the execution fills (less than asked: a partial IOC fill)

    @property
    def action(self) -> int:
        return self.request["action"]

    @property
    def netting(self) -> bool:
        return self.server.margin_mode != mt5.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING

    @property
    def is_deal(self) -> bool:
        return self.action == mt5.TRADE_ACTION_DEAL

    @property
    def is_pending(self) -> bool:
        return self.action == mt5.TRADE_ACTION_PENDING

    @property
    def is_buy(self) -> bool:
        return is_buy_type(self.request["type"])

    @property
    def reduces_net(self) -> bool:
        """Netting: a deal against the symbol's position."""
        return (self.netting and self.is_deal and self.net is not None
                and self.net.is_long != self.is_buy)

    @property
    def is_close(self) -> bool:
        """A deal that only closes (part of) a position, opening nothing."""
        if not self.is_deal:
            return False
        if self.netting:
            return self.reduces_net and self.request["volume"] <= self.net.volume + VOLUME_EPSILON
        return self.request["position"] != 0

    @property
    def is_open(self) -> bool:
        """A deal or a pending order that adds exposure (on netting: adds or reverses)."""
        if self.is_pending:
            return not self.request["position"]
        return self.is_deal and not self.is_close

    @property
    def opening_volume(self) -> float:
        """The volume that adds exposure: on a netting reversal, what exceeds the position."""
        volume = self.request["volume"]
        if self.reduces_net:
            return max(0.0, round(volume - self.net.volume, 8))
        return volume if self.is_open else 0.0

    @property
    def closing_position(self) -> Position | None:
        """The position a closing deal (or the closing part of a reversal) acts on."""
        if self.netting:
            return self.net if self.reduces_net else None
        return self.position if self.is_deal else None

    def market_price(self) -> float:
        """The price a market order of this request fills at before slippage."""
        assert self.quote is not None
        return self.quote.ask if self.is_buy else self.quote.bid


def make_context(server: ServerState, request: dict[str, Any], now: int,
                 dry_run: bool = False) -> TradeContext:
    ctx = TradeContext(server=server, request=request, now=now, dry_run=dry_run)
    if request["position"]:
        ctx.position = server.positions.get(request["position"])
    if request["position_by"]:
        ctx.position_by = server.positions.get(request["position_by"])
    if request["order"]:
        ctx.order = server.orders.get(request["order"])
    symbol = request["symbol"]
    if not symbol:  # MODIFY, REMOVE and CLOSE_BY may leave the symbol to their ticket
        named = ctx.order if ctx.action in (mt5.TRADE_ACTION_MODIFY, mt5.TRADE_ACTION_REMOVE) else (
            ctx.position if ctx.action == mt5.TRADE_ACTION_CLOSE_BY else None)
        symbol = named.symbol if named is not None else ""
    ctx.spec = server.symbols.get(symbol)
    ctx.quote = server.quotes.get(symbol)
    if ctx.netting and ctx.spec is not None:
        ctx.net = next((p for p in server.positions.values() if p.symbol == symbol), None)
    return ctx
