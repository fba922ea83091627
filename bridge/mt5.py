"""MetaTrader 5 constants, named and numbered exactly as in the MetaTrader5 Python package.

This module owns the numbers both sides of the bridge agree on: trade actions, order and
position types, filling and expiration modes, deal entries and reasons, account and symbol
modes, trade-transaction types and the trade server's return codes. The simulator, the
executor and (through a generated header) the EA all read them from here.
"""

from __future__ import annotations

# --- trade request actions (ENUM_TRADE_REQUEST_ACTIONS) ---
TRADE_ACTION_DEAL = 1
TRADE_ACTION_PENDING = 5
TRADE_ACTION_SLTP = 6
TRADE_ACTION_MODIFY = 7
TRADE_ACTION_REMOVE = 8
TRADE_ACTION_CLOSE_BY = 10

# --- order types (ENUM_ORDER_TYPE) ---
ORDER_TYPE_BUY = 0
ORDER_TYPE_SELL = 1
ORDER_TYPE_BUY_LIMIT = 2
ORDER_TYPE_SELL_LIMIT = 3
ORDER_TYPE_BUY_STOP = 4
ORDER_TYPE_SELL_STOP = 5
ORDER_TYPE_BUY_STOP_LIMIT = 6
ORDER_TYPE_SELL_STOP_LIMIT = 7
ORDER_TYPE_CLOSE_BY = 8

# --- order filling (ENUM_ORDER_TYPE_FILLING): an enum in requests ... ---
ORDER_FILLING_FOK = 0
ORDER_FILLING_IOC = 1
ORDER_FILLING_RETURN = 2
ORDER_FILLING_BOC = 3
# ... but a bit set in SymbolInfo.filling_mode.
SYMBOL_FILLING_FOK = 1
SYMBOL_FILLING_IOC = 2
SYMBOL_FILLING_BOC = 4

# --- order lifetime (ENUM_ORDER_TYPE_TIME) ---
ORDER_TIME_GTC = 0
ORDER_TIME_DAY = 1
ORDER_TIME_SPECIFIED = 2
ORDER_TIME_SPECIFIED_DAY = 3

# --- order states (ENUM_ORDER_STATE) ---
ORDER_STATE_STARTED = 0
ORDER_STATE_PLACED = 1
ORDER_STATE_CANCELED = 2
ORDER_STATE_PARTIAL = 3
ORDER_STATE_FILLED = 4
ORDER_STATE_REJECTED = 5
ORDER_STATE_EXPIRED = 6
ORDER_STATE_REQUEST_ADD = 7
ORDER_STATE_REQUEST_MODIFY = 8
ORDER_STATE_REQUEST_CANCEL = 9

# --- positions ---
POSITION_TYPE_BUY = 0
POSITION_TYPE_SELL = 1

# --- reasons (ENUM_DEAL_REASON; orders and positions use the same numbers up to SO) ---
DEAL_REASON_CLIENT = 0
DEAL_REASON_MOBILE = 1
DEAL_REASON_WEB = 2
DEAL_REASON_EXPERT = 3
DEAL_REASON_SL = 4
DEAL_REASON_TP = 5
DEAL_REASON_SO = 6
DEAL_REASON_ROLLOVER = 7
DEAL_REASON_VMARGIN = 8
DEAL_REASON_SPLIT = 9

# --- deals ---
DEAL_TYPE_BUY = 0
DEAL_TYPE_SELL = 1
DEAL_TYPE_BALANCE = 2
DEAL_TYPE_CREDIT = 3
DEAL_TYPE_CHARGE = 4
DEAL_TYPE_CORRECTION = 5
DEAL_TYPE_BONUS = 6
DEAL_TYPE_COMMISSION = 7

DEAL_ENTRY_IN = 0
DEAL_ENTRY_OUT = 1
DEAL_ENTRY_INOUT = 2
DEAL_ENTRY_OUT_BY = 3

# --- account ---
ACCOUNT_TRADE_MODE_DEMO = 0
ACCOUNT_TRADE_MODE_CONTEST = 1
ACCOUNT_TRADE_MODE_REAL = 2

ACCOUNT_MARGIN_MODE_RETAIL_NETTING = 0
ACCOUNT_MARGIN_MODE_EXCHANGE = 1
ACCOUNT_MARGIN_MODE_RETAIL_HEDGING = 2

ACCOUNT_STOPOUT_MODE_PERCENT = 0
ACCOUNT_STOPOUT_MODE_MONEY = 1

# --- symbols ---
SYMBOL_CALC_MODE_FOREX = 0
SYMBOL_CALC_MODE_FUTURES = 1
SYMBOL_CALC_MODE_CFD = 2
SYMBOL_CALC_MODE_CFDINDEX = 3
SYMBOL_CALC_MODE_CFDLEVERAGE = 4
SYMBOL_CALC_MODE_FOREX_NO_LEVERAGE = 5

SYMBOL_TRADE_EXECUTION_REQUEST = 0
SYMBOL_TRADE_EXECUTION_INSTANT = 1
SYMBOL_TRADE_EXECUTION_MARKET = 2
SYMBOL_TRADE_EXECUTION_EXCHANGE = 3

SYMBOL_TRADE_MODE_DISABLED = 0
SYMBOL_TRADE_MODE_LONGONLY = 1
SYMBOL_TRADE_MODE_SHORTONLY = 2
SYMBOL_TRADE_MODE_CLOSEONLY = 3
SYMBOL_TRADE_MODE_FULL = 4

# --- trade transactions (ENUM_TRADE_TRANSACTION_TYPE) ---
TRADE_TRANSACTION_ORDER_ADD = 0
TRADE_TRANSACTION_ORDER_UPDATE = 1
TRADE_TRANSACTION_ORDER_DELETE = 2
TRADE_TRANSACTION_HISTORY_ADD = 3
TRADE_TRANSACTION_HISTORY_UPDATE = 4
TRADE_TRANSACTION_HISTORY_DELETE = 5
TRADE_TRANSACTION_DEAL_ADD = 6
TRADE_TRANSACTION_DEAL_UPDATE = 7
TRADE_TRANSACTION_DEAL_DELETE = 8
TRADE_TRANSACTION_POSITION = 9
TRADE_TRANSACTION_REQUEST = 10

TRANSACTION_TYPE_NAMES = {
    value: name.removeprefix("TRADE_TRANSACTION_")
    for name, value in list(globals().items())
    if name.startswith("TRADE_TRANSACTION_") and isinstance(value, int)
}

# --- copy_ticks flags ---
COPY_TICKS_ALL = -1
COPY_TICKS_INFO = 1
COPY_TICKS_TRADE = 2

# --- tick flags (MqlTick.flags): which fields of the tick changed ---
TICK_FLAG_BID = 2
TICK_FLAG_ASK = 4
TICK_FLAG_LAST = 8
TICK_FLAG_VOLUME = 16
TICK_FLAG_BUY = 32
TICK_FLAG_SELL = 64

# --- timeframes, as the MetaTrader5 package numbers them ---
TIMEFRAME_M1 = 1
TIMEFRAME_M5 = 5
TIMEFRAME_M15 = 15
TIMEFRAME_M30 = 30
TIMEFRAME_H1 = 1 | 0x4000
TIMEFRAME_H4 = 4 | 0x4000
TIMEFRAME_D1 = 24 | 0x4000

TIMEFRAME_SECONDS = {"M1": 60, "M5": 300, "M15": 900, "M30": 1800, "H1": 3600, "H4": 14400, "D1": 86400}

# --- trade server return codes (MqlTradeResult.retcode) ---
TRADE_RETCODE_REQUOTE = 10004
TRADE_RETCODE_REJECT = 10006
TRADE_RETCODE_CANCEL = 10007
TRADE_RETCODE_PLACED = 10008
TRADE_RETCODE_DONE = 10009
TRADE_RETCODE_DONE_PARTIAL = 10010
TRADE_RETCODE_ERROR = 10011
TRADE_RETCODE_TIMEOUT = 10012
TRADE_RETCODE_INVALID = 10013
TRADE_RETCODE_INVALID_VOLUME = 10014
TRADE_RETCODE_INVALID_PRICE = 10015
TRADE_RETCODE_INVALID_STOPS = 10016
TRADE_RETCODE_TRADE_DISABLED = 10017
TRADE_RETCODE_MARKET_CLOSED = 10018
TRADE_RETCODE_NO_MONEY = 10019
TRADE_RETCODE_PRICE_CHANGED = 10020
TRADE_RETCODE_PRICE_OFF = 10021
TRADE_RETCODE_INVALID_EXPIRATION = 10022
TRADE_RETCODE_ORDER_CHANGED = 10023
TRADE_RETCODE_TOO_MANY_REQUESTS = 10024
TRADE_RETCODE_NO_CHANGES = 10025
TRADE_RETCODE_SERVER_DISABLES_AT = 10026
TRADE_RETCODE_CLIENT_DISABLES_AT = 10027
TRADE_RETCODE_LOCKED = 10028
TRADE_RETCODE_FROZEN = 10029
TRADE_RETCODE_INVALID_FILL = 10030
TRADE_RETCODE_CONNECTION = 10031
TRADE_RETCODE_ONLY_REAL = 10032
TRADE_RETCODE_LIMIT_ORDERS = 10033
TRADE_RETCODE_LIMIT_VOLUME = 10034
TRADE_RETCODE_INVALID_ORDER = 10035
TRADE_RETCODE_POSITION_CLOSED = 10036
TRADE_RETCODE_INVALID_CLOSE_VOLUME = 10038
TRADE_RETCODE_CLOSE_ORDER_EXIST = 10039
TRADE_RETCODE_LIMIT_POSITIONS = 10040
TRADE_RETCODE_REJECT_CANCEL = 10041
TRADE_RETCODE_LONG_ONLY = 10042
TRADE_RETCODE_SHORT_ONLY = 10043
TRADE_RETCODE_CLOSE_ONLY = 10044
TRADE_RETCODE_FIFO_CLOSE = 10045
# Missing from the MetaTrader5 package's constants, present in MQL5: defined here.
TRADE_RETCODE_HEDGE_PROHIBITED = 10046

RETCODE_TEXT = {
    TRADE_RETCODE_REQUOTE: "Requote",
    TRADE_RETCODE_REJECT: "Request rejected",
    TRADE_RETCODE_CANCEL: "Request canceled by trader",
    TRADE_RETCODE_PLACED: "Order placed",
    TRADE_RETCODE_DONE: "Request completed",
    TRADE_RETCODE_DONE_PARTIAL: "Only part of the request was completed",
    TRADE_RETCODE_ERROR: "Request processing error",
    TRADE_RETCODE_TIMEOUT: "Request canceled by timeout",
    TRADE_RETCODE_INVALID: "Invalid request",
    TRADE_RETCODE_INVALID_VOLUME: "Invalid volume in the request",
    TRADE_RETCODE_INVALID_PRICE: "Invalid price in the request",
    TRADE_RETCODE_INVALID_STOPS: "Invalid stops in the request",
    TRADE_RETCODE_TRADE_DISABLED: "Trade is disabled",
    TRADE_RETCODE_MARKET_CLOSED: "Market is closed",
    TRADE_RETCODE_NO_MONEY: "There is not enough money to complete the request",
    TRADE_RETCODE_PRICE_CHANGED: "Prices changed",
    TRADE_RETCODE_PRICE_OFF: "There are no quotes to process the request",
    TRADE_RETCODE_INVALID_EXPIRATION: "Invalid order expiration date in the request",
    TRADE_RETCODE_ORDER_CHANGED: "Order state changed",
    TRADE_RETCODE_TOO_MANY_REQUESTS: "Too frequent requests",
    TRADE_RETCODE_NO_CHANGES: "No changes in request",
    TRADE_RETCODE_SERVER_DISABLES_AT: "Autotrading disabled by server",
    TRADE_RETCODE_CLIENT_DISABLES_AT: "Autotrading disabled by client terminal",
    TRADE_RETCODE_LOCKED: "Request locked for processing",
    TRADE_RETCODE_FROZEN: "Order or position frozen",
    TRADE_RETCODE_INVALID_FILL: "Invalid order filling type",
    TRADE_RETCODE_CONNECTION: "No connection with the trade server",
    TRADE_RETCODE_ONLY_REAL: "Operation is allowed only for live accounts",
    TRADE_RETCODE_LIMIT_ORDERS: "The number of pending orders has reached the limit",
    TRADE_RETCODE_LIMIT_VOLUME: "The volume of orders and positions for the symbol has reached the limit",
    TRADE_RETCODE_INVALID_ORDER: "Incorrect or prohibited order type",
    TRADE_RETCODE_POSITION_CLOSED: "Position with the specified POSITION_IDENTIFIER has already been closed",
    TRADE_RETCODE_INVALID_CLOSE_VOLUME: "A close volume exceeds the current position volume",
    TRADE_RETCODE_CLOSE_ORDER_EXIST: "A close order already exists for a specified position",
    TRADE_RETCODE_LIMIT_POSITIONS: "The number of open positions has reached the limit",
    TRADE_RETCODE_REJECT_CANCEL: "The pending order activation request is rejected, the order is canceled",
    TRADE_RETCODE_LONG_ONLY: "Only long positions are allowed",
    TRADE_RETCODE_SHORT_ONLY: "Only short positions are allowed",
    TRADE_RETCODE_CLOSE_ONLY: "Only position closing is allowed",
    TRADE_RETCODE_FIFO_CLOSE: "Position closing is allowed only by FIFO rule",
    TRADE_RETCODE_HEDGE_PROHIBITED: "Opposite positions on a single symbol are disabled",
}

# How the executor treats a retcode (RELIABILITY.md "Bridge to MT5").
RETRY_SAFE_RETCODES = frozenset({
    TRADE_RETCODE_REQUOTE, TRADE_RETCODE_PRICE_CHANGED, TRADE_RETCODE_PRICE_OFF,
    TRADE_RETCODE_TOO_MANY_REQUESTS,
})
UNCERTAIN_RETCODES = frozenset({TRADE_RETCODE_TIMEOUT, TRADE_RETCODE_CONNECTION})
SUCCESS_RETCODES = frozenset({
    TRADE_RETCODE_PLACED, TRADE_RETCODE_DONE, TRADE_RETCODE_DONE_PARTIAL,
})

# --- last_error() space, used in bridge error replies ---
RES_S_OK = 1
RES_E_FAIL = -1
RES_E_INVALID_PARAMS = -2
RES_E_NOT_FOUND = -4
RES_E_AUTO_TRADING_DISABLED = -8
RES_E_INTERNAL_FAIL_TIMEOUT = -10005

# The keys of MetaTrader5's order_send request dict: nothing else is accepted.
TRADE_REQUEST_KEYS = (
    "action", "symbol", "volume", "type", "price", "stoplimit", "sl", "tp", "deviation",
    "magic", "comment", "type_time", "type_filling", "expiration", "position",
    "position_by", "order",
)


def retcode_text(retcode: int) -> str:
    """The trade server's description of `retcode`, as MT5 prints it."""
    return RETCODE_TEXT.get(retcode, f"Unknown retcode {retcode}")
