"""Validation of trade requests by the simulated trade server.

This module owns what `order_send` and `order_check` refuse, and in which order: the request
dict's keys and types (a bad one raises `RequestError`, as the MetaTrader5 package does
before anything reaches the server), then `CHECKS`, the trade server's verdicts as an ordered
list of small functions each returning a retcode or None, in the order of MT5_BRIDGE.md.
Stages that arrive with later features (sessions, expiration, freeze level, FIFO and hedge
rules, order limits) are present as checks that pass, so they slot in without reordering.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from bridge import mt5
from bridge.sim_money import Quote
from bridge.sim_records import Order, Position, truncate_comment
from bridge.symbols import SymbolSpec

if TYPE_CHECKING:
    from bridge.trade_server import TradeServer

UINT64_MAX = 2**64 - 1
INT_KEYS = ("action", "type", "deviation", "magic", "type_time", "type_filling", "expiration",
            "position", "position_by", "order")
UNSIGNED_KEYS = frozenset({"deviation", "magic", "expiration", "position", "position_by", "order"})
FLOAT_KEYS = ("volume", "price", "stoplimit", "sl", "tp")
STR_KEYS = ("symbol", "comment")
MARKET_TYPES = (mt5.ORDER_TYPE_BUY, mt5.ORDER_TYPE_SELL)
SUPPORTED_ACTIONS = (mt5.TRADE_ACTION_DEAL, mt5.TRADE_ACTION_SLTP, mt5.TRADE_ACTION_REMOVE)
FILLING_FLAGS = {
    mt5.ORDER_FILLING_FOK: mt5.SYMBOL_FILLING_FOK,
    mt5.ORDER_FILLING_IOC: mt5.SYMBOL_FILLING_IOC,
    mt5.ORDER_FILLING_BOC: mt5.SYMBOL_FILLING_BOC,
}
PRICE_EPSILON = 1e-9  # of a point: float noise, not a distance


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


@dataclass(slots=True)
class TradeContext:
    """One request on its way through CHECKS, with what the checks looked up."""

    server: TradeServer
    request: dict[str, Any]
    spec: SymbolSpec | None = None
    quote: Quote | None = None
    position: Position | None = None
    order: Order | None = None
    margin_required: float | None = None

    @property
    def action(self) -> int:
        return self.request["action"]

    @property
    def is_deal(self) -> bool:
        return self.action == mt5.TRADE_ACTION_DEAL

    @property
    def is_close(self) -> bool:
        return self.is_deal and self.request["position"] != 0

    @property
    def is_open(self) -> bool:
        return self.is_deal and self.request["position"] == 0

    @property
    def is_buy(self) -> bool:
        return self.request["type"] == mt5.ORDER_TYPE_BUY

    def market_price(self) -> float:
        """The price a market order of this request fills at before slippage."""
        assert self.quote is not None
        return self.quote.ask if self.is_buy else self.quote.bid


def make_context(server: TradeServer, request: dict[str, Any]) -> TradeContext:
    ctx = TradeContext(server=server, request=request)
    ctx.spec = server.symbols.get(request["symbol"])
    ctx.quote = server.quotes.get(request["symbol"])
    if request["position"]:
        ctx.position = server.positions.get(request["position"])
    if request["order"]:
        ctx.order = server.orders.get(request["order"])
    return ctx


# --- the checks, in the trade server's order ---

def check_connection(ctx: TradeContext) -> int | None:
    return None if ctx.server.connected else mt5.TRADE_RETCODE_CONNECTION


def check_auto_trading(ctx: TradeContext) -> int | None:
    if not ctx.server.trade_allowed:
        return mt5.TRADE_RETCODE_CLIENT_DISABLES_AT
    if not ctx.server.trade_expert:
        return mt5.TRADE_RETCODE_SERVER_DISABLES_AT
    return None


def check_request_shape(ctx: TradeContext) -> int | None:
    request = ctx.request
    if ctx.action not in SUPPORTED_ACTIONS:
        return mt5.TRADE_RETCODE_INVALID  # pending orders and close-by arrive later
    if ctx.action == mt5.TRADE_ACTION_REMOVE:
        return None if request["order"] else mt5.TRADE_RETCODE_INVALID
    if ctx.spec is None:
        return mt5.TRADE_RETCODE_INVALID  # missing or unknown symbol
    if ctx.is_deal and request["type"] not in MARKET_TYPES:
        return mt5.TRADE_RETCODE_INVALID
    if ctx.action == mt5.TRADE_ACTION_SLTP and not request["position"]:
        return mt5.TRADE_RETCODE_INVALID
    return None


def check_symbol_trade_mode(ctx: TradeContext) -> int | None:
    if ctx.spec is None:
        return None
    mode = ctx.spec.trade_mode
    if mode == mt5.SYMBOL_TRADE_MODE_DISABLED:
        return mt5.TRADE_RETCODE_TRADE_DISABLED
    if not ctx.is_open:
        return None
    if mode == mt5.SYMBOL_TRADE_MODE_CLOSEONLY:
        return mt5.TRADE_RETCODE_CLOSE_ONLY
    if mode == mt5.SYMBOL_TRADE_MODE_LONGONLY and not ctx.is_buy:
        return mt5.TRADE_RETCODE_LONG_ONLY
    if mode == mt5.SYMBOL_TRADE_MODE_SHORTONLY and ctx.is_buy:
        return mt5.TRADE_RETCODE_SHORT_ONLY
    return None


def check_session(ctx: TradeContext) -> int | None:
    return None  # trading sessions and the FX weekend (10018) arrive with sessions


def check_quote(ctx: TradeContext) -> int | None:
    if ctx.spec is None:
        return None
    return None if ctx.quote is not None else mt5.TRADE_RETCODE_PRICE_OFF


def check_volume(ctx: TradeContext) -> int | None:
    if not ctx.is_deal:
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
    spec = ctx.spec
    if not ctx.is_open or spec is None or spec.volume_limit <= 0:
        return None
    side = mt5.POSITION_TYPE_BUY if ctx.is_buy else mt5.POSITION_TYPE_SELL
    held = sum(p.volume for p in ctx.server.positions.values()
               if p.symbol == spec.name and p.type == side)
    if held + ctx.request["volume"] > spec.volume_limit + 1e-9:
        return mt5.TRADE_RETCODE_LIMIT_VOLUME
    return None


def check_filling(ctx: TradeContext) -> int | None:
    if not ctx.is_deal:
        return None
    spec, filling = ctx.spec, ctx.request["type_filling"]
    assert spec is not None
    if filling == mt5.ORDER_FILLING_RETURN:
        # Market orders may rest only on exchange symbols; OTC execution refuses RETURN.
        allowed = spec.trade_exemode == mt5.SYMBOL_TRADE_EXECUTION_EXCHANGE
    elif filling == mt5.ORDER_FILLING_FOK and spec.trade_exemode in (
            mt5.SYMBOL_TRADE_EXECUTION_INSTANT, mt5.SYMBOL_TRADE_EXECUTION_REQUEST):
        allowed = True  # MQL5: instant and request execution always fill market orders FOK
    else:
        allowed = bool(FILLING_FLAGS.get(filling, 0) & spec.filling_mode)
    return None if allowed else mt5.TRADE_RETCODE_INVALID_FILL


def check_expiration(ctx: TradeContext) -> int | None:
    return None  # expiration (10022) concerns pending orders, which arrive later


def check_price(ctx: TradeContext) -> int | None:
    spec = ctx.spec
    if not ctx.is_deal or spec is None:
        return None
    needs_price = spec.trade_exemode in (mt5.SYMBOL_TRADE_EXECUTION_INSTANT,
                                         mt5.SYMBOL_TRADE_EXECUTION_REQUEST)
    return mt5.TRADE_RETCODE_INVALID_PRICE if needs_price and ctx.request["price"] <= 0 else None


def check_stops(ctx: TradeContext) -> int | None:
    if ctx.is_open:
        long = ctx.is_buy
    elif ctx.action == mt5.TRADE_ACTION_SLTP and ctx.position is not None:
        long = ctx.position.is_long
    else:
        return None  # a hedging close ignores the request's sl/tp
    assert ctx.spec is not None and ctx.quote is not None
    return stops_retcode(ctx.spec, ctx.quote, long, ctx.request["sl"], ctx.request["tp"])


def stops_retcode(spec: SymbolSpec, quote: Quote, long: bool, sl: float, tp: float) -> int | None:
    """10016 when sl/tp sit on the wrong side of, or nearer than the stops level to, the
    price the position would close at (bid for longs, ask for shorts)."""
    close_price = quote.bid if long else quote.ask
    minimum = spec.trade_stops_level * spec.point
    tolerance = spec.point * PRICE_EPSILON
    sign = 1.0 if long else -1.0
    if sl and not sign * (close_price - sl) > max(minimum - tolerance, tolerance):
        return mt5.TRADE_RETCODE_INVALID_STOPS
    if tp and not sign * (tp - close_price) > max(minimum - tolerance, tolerance):
        return mt5.TRADE_RETCODE_INVALID_STOPS
    return None


def check_freeze_level(ctx: TradeContext) -> int | None:
    return None  # the freeze level (10029) arrives with the stops/freeze fixture symbol


def check_position_state(ctx: TradeContext) -> int | None:
    request = ctx.request
    if ctx.action == mt5.TRADE_ACTION_REMOVE:
        return None if ctx.order is not None else mt5.TRADE_RETCODE_INVALID
    if not (ctx.is_close or ctx.action == mt5.TRADE_ACTION_SLTP):
        return None
    position = ctx.position
    if position is None:
        return mt5.TRADE_RETCODE_POSITION_CLOSED
    if position.symbol != request["symbol"]:
        return mt5.TRADE_RETCODE_INVALID
    if ctx.action == mt5.TRADE_ACTION_SLTP:
        same_sl = _same_price(position.sl, request["sl"], ctx)
        same_tp = _same_price(position.tp, request["tp"], ctx)
        return mt5.TRADE_RETCODE_NO_CHANGES if same_sl and same_tp else None
    closes_long = request["type"] == mt5.ORDER_TYPE_SELL
    if closes_long != position.is_long:
        return mt5.TRADE_RETCODE_INVALID  # a close must be the opposite of the position
    if request["volume"] > position.volume + 1e-9:
        return mt5.TRADE_RETCODE_INVALID_CLOSE_VOLUME
    return None


def _same_price(a: float, b: float, ctx: TradeContext) -> bool:
    assert ctx.spec is not None
    return abs(a - b) < ctx.spec.point / 2


def check_account_rules(ctx: TradeContext) -> int | None:
    return None  # FIFO close (10045) and hedge prohibition (10046) arrive with netting


def check_limits(ctx: TradeContext) -> int | None:
    return None  # limit_orders (10033) and position limits (10040) arrive with pending orders


def check_margin(ctx: TradeContext) -> int | None:
    if not ctx.is_open:
        return None
    required = ctx.server.money.margin(ctx.request["type"], ctx.request["symbol"],
                                       ctx.request["volume"], ctx.market_price())
    if required is None:
        return mt5.TRADE_RETCODE_PRICE_OFF  # no quote to convert the margin currency
    ctx.margin_required = required
    free = ctx.server.account_info()["margin_free"]
    return mt5.TRADE_RETCODE_NO_MONEY if free < required else None


def check_execution(ctx: TradeContext) -> int | None:
    spec = ctx.spec
    if not ctx.is_deal or spec is None:
        return None
    if spec.trade_exemode not in (mt5.SYMBOL_TRADE_EXECUTION_INSTANT,
                                  mt5.SYMBOL_TRADE_EXECUTION_REQUEST):
        return None
    off_points = abs(ctx.market_price() - ctx.request["price"]) / spec.point
    return mt5.TRADE_RETCODE_REQUOTE if off_points > ctx.request["deviation"] + 1e-6 else None


Check = Callable[[TradeContext], "int | None"]

CHECKS: tuple[Check, ...] = (
    check_connection, check_auto_trading, check_request_shape, check_symbol_trade_mode,
    check_session, check_quote, check_volume, check_volume_limit, check_filling,
    check_expiration, check_price, check_stops, check_freeze_level, check_position_state,
    check_account_rules, check_limits, check_margin, check_execution,
)


def first_failure(ctx: TradeContext, checks: tuple[Check, ...] = CHECKS) -> int | None:
    """The retcode of the first check that refuses `ctx`, or None when all pass."""
    for check in checks:
        retcode = check(ctx)
        if retcode is not None:
            return retcode
    return None
