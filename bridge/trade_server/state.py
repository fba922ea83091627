"""What the trade server's helpers may see of it: the `ServerState` protocol.

The helpers (`account`, `checks`, `checks_state`, `context`, `fills`, `pending`) take the
server as an argument and change its state; `server.TradeServer` is built from them. Typing
that argument as `TradeServer` would make every helper import the module that imports it.
This protocol declares exactly the attributes and methods the helpers read, write or call,
no more, so it is also the list of what a helper may touch: a new `server.x` in a helper
means a new line here (tests/test_trade_server_state.py holds both sides to it).

Only the records, money and faults modules sit below this one; nothing here knows a helper.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from bridge.server_tz import ServerTz
from bridge.symbols import SymbolSpec
from bridge.trade_server.faults import Faults
from bridge.trade_server.money import Money, Quote
from bridge.trade_server.records import Deal, Order, Position


@runtime_checkable
class ServerState(Protocol):
    """One simulated account as its helpers see it (implemented by `server.TradeServer`)."""

    # --- the book: changed in place by fills and pending orders ---
    positions: dict[int, Position]
    orders: dict[int, Order]  # pending orders by ticket
    history_orders: list[Order]
    history_deals: list[Deal]
    balance: float
    credit: float
    margin_call: bool  # set by stop-out while the margin level is under margin_so_call

    # --- the market and the account's terms: read only ---
    symbols: dict[str, SymbolSpec]
    quotes: dict[str, Quote]
    money: Money
    margin_mode: int
    margin_so_call: float
    margin_so_so: float
    server_tz: ServerTz  # the server's clock: its offset from UTC at each moment
    limit_orders: int
    limit_positions: int
    fifo_close: bool
    hedge_allowed: bool
    enforce_sessions: bool

    # --- switches and injected faults the checks consult ---
    connected: bool
    trade_expert: bool
    faults: Faults

    @property
    def netting(self) -> bool: ...

    @property
    def trade_allowed(self) -> bool: ...

    # --- bookkeeping ---
    def next_order_ticket(self) -> int: ...

    def next_deal_ticket(self) -> int: ...

    def emit(self, transactions: list[dict[str, Any]]) -> None: ...

    def changed(self) -> None: ...

    def commission(self, symbol: str, volume: float) -> float: ...

    def mark(self, position: Position) -> None: ...

    def close_by_server(self, position: Position, reason: int, now: int, comment: str = "") -> None: ...

    # --- money of the whole account ---
    def floating(self) -> tuple[float, float]: ...

    def money_fields(self, balance: float, profit: float, margin: float) -> dict[str, float]: ...

    def account_info(self) -> dict[str, Any]: ...
