"""The read side of the simulated trade server: the MetaTrader5 package's query functions.

This module owns `ServerQueries`, a mixin of `TradeServer` with what the package answers
without trading: `account_info`, `positions_get`, `orders_get`, `history_deals_get`,
`history_orders_get`, `symbol_info`, `symbol_info_tick`, `symbols_get`,
`order_calc_margin`, `order_calc_profit`, and `drain_transactions`. Field sets and filters
are the package's; money fields always come from one computation, so equity, margin,
margin_free and margin_level agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bridge import mt5
from bridge.trade_server.account import account_margin, legs_of
from bridge.trade_server.money import Quote, account_money
from bridge.trade_server.records import select_records, time_window
from bridge.symbols import match_group


class ServerQueries:
    """Queries over a TradeServer's state (mixed into TradeServer)."""

    # history_deals by position_id, and (the list, how many of its deals) it holds
    _deal_index: dict[int, list[Any]]
    _deals_indexed: tuple[list[Any] | None, int]

    # --- money ---

    def order_calc_margin(self, action: int, symbol: str, volume: float, price: float) -> float | None:
        return self.money.margin(action, symbol, volume, price)

    def order_calc_profit(self, action: int, symbol: str, volume: float, price_open: float,
                          price_close: float) -> float | None:
        return self.money.profit(action, symbol, volume, price_open, price_close)

    def floating(self) -> tuple[float, float]:
        """(profit incl. swaps, margin) of the open positions, in the deposit currency."""
        profit = sum((p.profit + p.swap for p in self.positions.values()), 0.0)
        return profit, account_margin(self, legs_of(self))

    def money_fields(self, balance: float, profit: float, margin: float) -> dict[str, float]:
        return account_money(balance=balance, credit=self.credit, profit=profit, margin=margin,
                             digits=self.money.currency_digits)

    # --- queries ---

    def account_info(self) -> dict[str, Any]:
        profit, margin = self.floating()
        return {
            "login": self.login, "trade_mode": self.trade_mode, "leverage": self.leverage,
            "limit_orders": self.limit_orders, "margin_so_mode": mt5.ACCOUNT_STOPOUT_MODE_PERCENT,
            "trade_allowed": self.trade_allowed, "trade_expert": self.trade_expert,
            "margin_mode": self.margin_mode, "currency_digits": self.money.currency_digits,
            "fifo_close": self.fifo_close, **self.money_fields(self.balance, profit, margin),
            "credit": self.credit, "margin_so_call": self.margin_so_call,
            "margin_so_so": self.margin_so_so, "margin_initial": 0.0, "margin_maintenance": 0.0,
            "assets": 0.0, "liabilities": 0.0, "commission_blocked": 0.0,
            **self.identity, "currency": self.currency,
        }

    def positions_get(self, symbol: str | None = None, group: str | None = None,
                      ticket: int | None = None) -> list[dict[str, Any]]:
        return [p.to_dict() for p in select_records(self.positions.values(), symbol, group, ticket)]

    def orders_get(self, symbol: str | None = None, group: str | None = None,
                   ticket: int | None = None) -> list[dict[str, Any]]:
        return [o.to_dict() for o in select_records(self.orders.values(), symbol, group, ticket)]

    def history_deals_get(self, date_from: int | datetime | None = None,
                          date_to: int | datetime | None = None, *, group: str | None = None,
                          ticket: int | None = None, position: int | None = None) -> list[dict[str, Any]]:
        """Deals in [date_from, date_to] (ms or datetime); `ticket` is the ORDER ticket, as in MT5."""
        low, high = time_window(date_from, date_to)
        deals = self.history_deals if position is None else self._deals_of_position(position)
        return [d.to_dict() for d in deals
                if low <= d.time_msc <= high and match_group(d.symbol, group)
                and ticket in (None, d.order) and position in (None, d.position_id)]

    def _deals_of_position(self, position: int) -> list[Any]:
        """The deals of `position`, in history order, from an index of `history_deals` by
        position that takes in the deals appended since the last call (history is only ever
        appended to; a list replaced or shortened, as `restore` does, is indexed anew)."""
        deals, index = self.history_deals, self._deal_index
        indexed_list, indexed = self._deals_indexed
        if indexed_list is not deals or indexed > len(deals):
            index, indexed = {}, 0
            self._deal_index = index
        for deal in deals[indexed:]:
            index.setdefault(deal.position_id, []).append(deal)
        self._deals_indexed = (deals, len(deals))
        return index.get(position, [])

    def history_orders_get(self, date_from: int | datetime | None = None,
                           date_to: int | datetime | None = None, *, group: str | None = None,
                           ticket: int | None = None, position: int | None = None) -> list[dict[str, Any]]:
        low, high = time_window(date_from, date_to)
        return [o.to_dict() for o in self.history_orders
                if low <= o.time_setup_msc <= high and match_group(o.symbol, group)
                and ticket in (None, o.ticket) and position in (None, o.position_id)]

    def symbol_info(self, symbol: str) -> dict[str, Any] | None:
        spec = self.symbols.get(symbol)
        if spec is None:
            return None
        quote = self.quotes.get(symbol, Quote(0, 0.0, 0.0))
        profit, loss = self.money.tick_values(symbol)
        return spec.to_info(quote.bid, quote.ask, quote.time_msc,
                            trade_tick_value_profit=profit, trade_tick_value_loss=loss)

    def symbol_info_tick(self, symbol: str) -> dict[str, Any] | None:
        quote = self.quotes.get(symbol)
        if quote is None:
            return None
        return {"time": quote.time_msc // 1000, "bid": quote.bid, "ask": quote.ask, "last": 0.0,
                "volume": 0, "time_msc": quote.time_msc,
                "flags": mt5.TICK_FLAG_BID | mt5.TICK_FLAG_ASK, "volume_real": 0.0}

    def symbols_get(self, group: str | None = None) -> list[dict[str, Any]]:
        return [self.symbol_info(name) for name in self.symbols if match_group(name, group)]

    def drain_transactions(self) -> list[dict[str, Any]]:
        """Trade transactions since the last drain, oldest first, as {trans, request, result}."""
        drained, self._transactions = self._transactions, []
        return drained
