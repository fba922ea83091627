"""The retcode triggers of tests/test_trade_server_retcodes.py as data, for any transport.

Each `Trigger` says how to build the trade server (`options`, the symbols it has quotes for),
how to bring it to the brink (`setup(server)`, pure calls on the server, run before a socket
shell starts) and which request then earns `retcode`. A pure test runs it on `make_server`;
tests/test_retcodes_over_sockets.py runs it on a SimTerminal and sends the request over CTL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from bridge import mt5
from bridge.symbols import ALL_ORDER_MODES, SYMBOL_ORDER_CLOSEBY, SYMBOL_ORDER_STOP_LIMIT
from bridge.trade_server.server import TradeServer
from test_trade_server import QUOTES, T0, buy, close, make_server, open_position, respec, sell, sltp
from test_trade_server_pending import pending

NETTING = mt5.ACCOUNT_MARGIN_MODE_RETAIL_NETTING
SUCCESS = (mt5.TRADE_RETCODE_DONE, mt5.TRADE_RETCODE_PLACED, mt5.TRADE_RETCODE_DONE_PARTIAL)
# Wednesday 22:30 UTC = Thursday 00:30 server time: XAUUSD's 00:00-01:00 daily break.
GOLD_BREAK_MS = int(datetime(2024, 3, 6, 22, 30, tzinfo=timezone.utc).timestamp() * 1000)

Setup = Callable[[TradeServer], dict[str, Any]]


@dataclass(frozen=True)
class Trigger:
    id: str  # "<retcode>-<trigger>", the test id
    retcode: int  # what order_send answers (for `call="order_check"`: what order_check answers)
    setup: Setup  # prepares the server, returns the request that trips the retcode
    options: dict[str, Any] = field(default_factory=dict)  # make_server / TradeServer options
    quoted: tuple[str, ...] = tuple(QUOTES)  # symbols quoted at T0 before `setup`
    check: bool = True  # order_check agrees (0 for success); False where only order_send meets the cause
    call: str = "order_send"  # or "order_check"
    error: bool = False  # `retcode` is a last_error() code (the request is refused, no MqlTradeResult)

    @property
    def check_retcode(self) -> int:
        return 0 if self.retcode in SUCCESS else self.retcode


def build(trigger: Trigger, server: TradeServer | None = None) -> tuple[TradeServer, dict[str, Any]]:
    """Quote `server` (or a new `make_server`) as the trigger wants, run its setup."""
    if server is None:
        server = make_server(quoted=trigger.quoted, **trigger.options)
    else:
        for name in trigger.quoted:
            server.on_quote(name, T0, *QUOTES[name])
    return server, trigger.setup(server)


def server_options(trigger: Trigger) -> tuple[dict[str, Any], dict[str, Any]]:
    """The trigger's options split into SimTerminal arguments and TradeServer `server_options`."""
    terminal = {key: value for key, value in trigger.options.items() if key in ("balance", "leverage")}
    return terminal, {key: value for key, value in trigger.options.items() if key not in terminal}


# --- setups: each mirrors the test of the same retcode in test_trade_server_retcodes.py ---

def _set(**attributes: Any) -> Setup:
    def setup(server: TradeServer) -> dict[str, Any]:
        for name, value in attributes.items():
            setattr(server, name, value)
        return buy()
    return setup


def _faults(**counters: Any) -> Setup:
    def setup(server: TradeServer) -> dict[str, Any]:
        for name, value in counters.items():
            setattr(server.faults, name, value)
        return buy()
    return setup


def _respec(request: Callable[[], dict[str, Any]], **changes: Any) -> Setup:
    def setup(server: TradeServer) -> dict[str, Any]:
        respec(server, **changes)
        return request()
    return setup


def _rate_limited(server):
    server.faults.rate_limit_per_s = 2
    for _ in range(2):
        assert server.order_send(buy(), now_ms=T0)["retcode"] == mt5.TRADE_RETCODE_DONE
    return buy()  # the third request within the same second of server time


def _close_by_without_position_by(server):
    position = open_position(server, buy())
    return {"action": mt5.TRADE_ACTION_CLOSE_BY, "symbol": "EURUSD", "position": position["ticket"]}


def _close_by_not_allowed(server):
    respec(server, order_mode=ALL_ORDER_MODES & ~SYMBOL_ORDER_CLOSEBY)
    long, short = open_position(server, buy()), open_position(server, sell())
    return {"action": mt5.TRADE_ACTION_CLOSE_BY, "position": long["ticket"], "position_by": short["ticket"]}


def _close_only_usdrub(server):
    server.on_quote("USDRUB", T0, 92.000, 92.300)
    return buy("USDRUB")


def _close_only_netting_reverse(server):
    open_position(server, buy(volume=0.2))
    respec(server, trade_mode=mt5.SYMBOL_TRADE_MODE_CLOSEONLY)
    return sell(volume=0.3)


def _gold_break(server):
    server.on_quote("XAUUSD", GOLD_BREAK_MS, 2350.00, 2350.25)
    return buy("XAUUSD")


def _volume_limit(server):
    respec(server, volume_limit=1.0)
    open_position(server, buy(volume=0.5))
    placed = server.order_send(pending(mt5.ORDER_TYPE_BUY_LIMIT, 1.09900, volume=0.4))
    assert placed["retcode"] == mt5.TRADE_RETCODE_PLACED, placed
    return buy(volume=0.2)


def _usdchf(request: Callable[[], dict[str, Any]]) -> Setup:
    def setup(server: TradeServer) -> dict[str, Any]:
        server.on_quote("USDCHF", T0, 0.88000, 0.88015)  # the INSTANT-execution fixture
        return request()
    return setup


def _audusd(request: Callable[[], dict[str, Any]]) -> Setup:
    def setup(server: TradeServer) -> dict[str, Any]:
        server.on_quote("AUDUSD", T0, 0.66000, 0.66012)  # stops level 20 points, freeze level 10
        return request()
    return setup


def _frozen_sl(server):
    server.on_quote("AUDUSD", T0, 0.66000, 0.66012)
    position = open_position(server, buy("AUDUSD", sl=0.65970))
    server.on_quote("AUDUSD", T0 + 1000, 0.65975, 0.65987)  # bid 5 points above the SL, freeze 10
    return sltp(position, sl=0.65900)


def _frozen_pending(server):
    server.on_quote("AUDUSD", T0, 0.66000, 0.66012)
    ticket = server.order_send(pending(mt5.ORDER_TYPE_BUY_STOP, 0.66040, symbol="AUDUSD"))["order"]
    server.on_quote("AUDUSD", T0 + 1000, 0.66023, 0.66035)  # 5 points from the trigger
    return {"action": mt5.TRADE_ACTION_REMOVE, "order": ticket}


def _close_too_much(server):
    return close(open_position(server, buy(volume=0.1)), 0.2)


def _closing_limit_pending(server):
    position = open_position(server, buy())
    server.order_send(pending(mt5.ORDER_TYPE_SELL_LIMIT, 1.10200, position=position["ticket"]))
    return close(position)


def _same_sltp(server):
    return sltp(open_position(server, buy(sl=1.09, tp=1.11)), sl=1.09, tp=1.11)


def _same_price(server):
    ticket = server.order_send(pending(mt5.ORDER_TYPE_BUY_LIMIT, 1.09900))["order"]
    return {"action": mt5.TRADE_ACTION_MODIFY, "order": ticket, "price": 1.09900}


def _younger_first(server):
    open_position(server, buy())
    return close(open_position(server, buy()))


def _opposite_of_open(server):
    open_position(server, buy())
    return sell()


def _orders_at_limit(server):
    for price in (1.09900, 1.09800):
        assert server.order_send(pending(mt5.ORDER_TYPE_BUY_LIMIT, price))["retcode"] == mt5.TRADE_RETCODE_PLACED
    return pending(mt5.ORDER_TYPE_BUY_LIMIT, 1.09700)


def _positions_at_limit(server):
    open_position(server, buy())
    open_position(server, sell())
    return buy()


def _hedged_margin(server):
    open_position(server, buy(volume=1.0))  # 1100.10 USD of margin
    return buy(volume=0.1)


def _request(build_request: Callable[[], dict[str, Any]]) -> Setup:
    return lambda server: build_request()


R = mt5
TRIGGERS: list[Trigger] = [
    Trigger("10031-trade-server-disconnected", R.TRADE_RETCODE_CONNECTION, _set(connected=False)),
    Trigger("10027-autotrading-off-in-terminal", R.TRADE_RETCODE_CLIENT_DISABLES_AT, _set(trade_allowed=False)),
    Trigger("10026-experts-forbidden-by-server", R.TRADE_RETCODE_SERVER_DISABLES_AT, _set(trade_expert=False)),
    Trigger("10024-beyond-the-rate-limit", R.TRADE_RETCODE_TOO_MANY_REQUESTS, _rate_limited, check=False),
    Trigger("10013-close-by-without-position-by", R.TRADE_RETCODE_INVALID, _close_by_without_position_by),
    Trigger("10035-stop-limit-not-in-symbol-order-mode", R.TRADE_RETCODE_INVALID_ORDER,
            _respec(lambda: pending(mt5.ORDER_TYPE_BUY_STOP_LIMIT, 1.10100, stoplimit=1.10050),
                    order_mode=ALL_ORDER_MODES & ~SYMBOL_ORDER_STOP_LIMIT)),
    Trigger("10035-close-by-not-allowed-for-symbol", R.TRADE_RETCODE_INVALID_ORDER, _close_by_not_allowed),
    Trigger("10017-symbol-trade-mode-disabled", R.TRADE_RETCODE_TRADE_DISABLED,
            _respec(buy, trade_mode=mt5.SYMBOL_TRADE_MODE_DISABLED)),
    Trigger("10042-sell-limit-on-long-only-symbol", R.TRADE_RETCODE_LONG_ONLY,
            _respec(lambda: pending(mt5.ORDER_TYPE_SELL_LIMIT, 1.10100), trade_mode=mt5.SYMBOL_TRADE_MODE_LONGONLY)),
    Trigger("10043-buy-on-short-only-symbol", R.TRADE_RETCODE_SHORT_ONLY,
            _respec(buy, trade_mode=mt5.SYMBOL_TRADE_MODE_SHORTONLY)),
    Trigger("10044-opening-on-close-only-usdrub", R.TRADE_RETCODE_CLOSE_ONLY, _close_only_usdrub),
    Trigger("10044-netting-close-only-reverse", R.TRADE_RETCODE_CLOSE_ONLY, _close_only_netting_reverse,
            options={"margin_mode": NETTING}),
    Trigger("10018-gold-daily-break", R.TRADE_RETCODE_MARKET_CLOSED, _gold_break,
            options={"enforce_sessions": True}, quoted=()),
    Trigger("10021-no-quote-yet", R.TRADE_RETCODE_PRICE_OFF, _request(lambda: buy("GBPUSD")), quoted=("EURUSD",)),
    Trigger("10014-volume-below-volume-min", R.TRADE_RETCODE_INVALID_VOLUME, _request(lambda: buy(volume=0.001))),
    Trigger("10034-positions-and-orders-beyond-volume-limit", R.TRADE_RETCODE_LIMIT_VOLUME, _volume_limit),
    Trigger("10030-ioc-on-fok-only-symbol", R.TRADE_RETCODE_INVALID_FILL,
            _respec(lambda: buy(type_filling=mt5.ORDER_FILLING_IOC), filling_mode=mt5.SYMBOL_FILLING_FOK)),
    Trigger("10022-expiration-mode-not-offered", R.TRADE_RETCODE_INVALID_EXPIRATION,
            _respec(lambda: pending(mt5.ORDER_TYPE_BUY_LIMIT, 1.09900, type_time=mt5.ORDER_TIME_SPECIFIED,
                                    expiration=T0 // 1000 + 3600), expiration_mode=1 | 2)),
    Trigger("10022-specified-expiration-already-past", R.TRADE_RETCODE_INVALID_EXPIRATION,
            _request(lambda: pending(mt5.ORDER_TYPE_BUY_LIMIT, 1.09900, type_time=mt5.ORDER_TIME_SPECIFIED,
                                     expiration=T0 // 1000 - 1))),
    Trigger("10015-instant-execution-price-zero", R.TRADE_RETCODE_INVALID_PRICE,
            _usdchf(lambda: buy("USDCHF", type_filling=mt5.ORDER_FILLING_FOK)), quoted=("EURUSD",)),
    Trigger("10015-buy-limit-above-the-ask", R.TRADE_RETCODE_INVALID_PRICE,
            _request(lambda: pending(mt5.ORDER_TYPE_BUY_LIMIT, 1.10020))),
    Trigger("10015-pending-inside-stops-level", R.TRADE_RETCODE_INVALID_PRICE,
            _audusd(lambda: pending(mt5.ORDER_TYPE_BUY_STOP, 0.66025, symbol="AUDUSD")), quoted=("EURUSD",)),
    Trigger("10016-sl-inside-stops-level", R.TRADE_RETCODE_INVALID_STOPS,
            _audusd(lambda: buy("AUDUSD", sl=0.65990)), quoted=("EURUSD",)),
    Trigger("10016-pending-tp-below-its-buy-price", R.TRADE_RETCODE_INVALID_STOPS,
            _request(lambda: pending(mt5.ORDER_TYPE_BUY_LIMIT, 1.09900, tp=1.09800))),
    Trigger("10029-sl-within-freeze-level", R.TRADE_RETCODE_FROZEN, _frozen_sl, quoted=("EURUSD",)),
    Trigger("10029-pending-near-trigger-removed", R.TRADE_RETCODE_FROZEN, _frozen_pending, quoted=("EURUSD",)),
    Trigger("10036-closing-an-unknown-position", R.TRADE_RETCODE_POSITION_CLOSED,
            _request(lambda: {**sell(), "position": 999})),
    Trigger("10038-close-volume-more-than-position", R.TRADE_RETCODE_INVALID_CLOSE_VOLUME, _close_too_much),
    Trigger("10039-closing-limit-order-pending", R.TRADE_RETCODE_CLOSE_ORDER_EXIST, _closing_limit_pending),
    Trigger("10025-sltp-with-same-levels", R.TRADE_RETCODE_NO_CHANGES, _same_sltp),
    Trigger("10025-modify-with-same-price", R.TRADE_RETCODE_NO_CHANGES, _same_price),
    Trigger("10045-fifo-closing-younger-first", R.TRADE_RETCODE_FIFO_CLOSE, _younger_first,
            options={"fifo_close": True}),
    Trigger("10046-hedge-prohibited-opposite-open", R.TRADE_RETCODE_HEDGE_PROHIBITED, _opposite_of_open,
            options={"hedge_allowed": False}),
    Trigger("10033-pending-orders-at-account-limit", R.TRADE_RETCODE_LIMIT_ORDERS, _orders_at_limit,
            options={"limit_orders": 2}),
    Trigger("10040-positions-at-account-limit", R.TRADE_RETCODE_LIMIT_POSITIONS, _positions_at_limit,
            options={"limit_positions": 2}),
    Trigger("10019-margin-beyond-free-margin", R.TRADE_RETCODE_NO_MONEY, _request(lambda: buy(volume=10.0))),
    Trigger("10019-hedged-margin-counted", R.TRADE_RETCODE_NO_MONEY, _hedged_margin, options={"balance": 1_200.0}),
    Trigger("10004-instant-price-beyond-deviation", R.TRADE_RETCODE_REQUOTE,
            _usdchf(lambda: buy("USDCHF", price=0.87990, deviation=10)), quoted=("EURUSD",)),
    Trigger("10004-requote-injected", R.TRADE_RETCODE_REQUOTE, _faults(requotes=1), check=False),
    Trigger("10020-request-execution-price-moved", R.TRADE_RETCODE_PRICE_CHANGED,
            _respec(lambda: buy(price=1.09950, deviation=5), trade_exemode=mt5.SYMBOL_TRADE_EXECUTION_REQUEST)),
    Trigger("10006-fok-beyond-liquidity", R.TRADE_RETCODE_REJECT,
            _respec(lambda: buy(volume=0.8, type_filling=mt5.ORDER_FILLING_FOK), sim_liquidity_lots=0.5,
                    filling_mode=mt5.SYMBOL_FILLING_FOK | mt5.SYMBOL_FILLING_IOC)),
    Trigger("10006-dealer-reject-injected", R.TRADE_RETCODE_REJECT, _faults(rejects=1), check=False),
    Trigger("10009-market-buy", R.TRADE_RETCODE_DONE, _request(buy)),
    Trigger("10010-ioc-beyond-liquidity", R.TRADE_RETCODE_DONE_PARTIAL,
            _respec(lambda: buy(volume=0.8, type_filling=mt5.ORDER_FILLING_IOC), sim_liquidity_lots=0.5)),
    Trigger("10008-pending-order-placed", R.TRADE_RETCODE_PLACED,
            _request(lambda: pending(mt5.ORDER_TYPE_SELL_LIMIT, 1.10100))),
    Trigger("10012-timeout-after-fill", R.TRADE_RETCODE_TIMEOUT,
            _faults(timeout_after_fill=1), check=False),
    Trigger("0-order-check-success", 0, _request(buy), call="order_check"),
]

# Not in test_trade_server_retcodes.py: the MetaTrader5 package's own refusal (last_error() -2).
INVALID_PARAMS = Trigger("-2-unknown-request-field", mt5.RES_E_INVALID_PARAMS,
                         _request(lambda: {**buy(), "lots": 0.1}), error=True)
