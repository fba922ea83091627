"""The simulated MT5 trade server of one account, as a pure class: no sockets, no threads.

This module owns the account's trading state (balance, positions, pending orders, order and
deal history, the trade transactions not yet published) and how it changes: by quotes
(`on_quote`: marks positions to market and fires SL/TP) and by requests (`order_send`).
It is driven only by the quotes and requests it is given, never by a wall clock, so a seed
and an input sequence always give the same history. Functions, arguments and result fields
are those of the MetaTrader5 Python package. Validation lives in `sim_checks`, money in
`sim_money`, record field sets in `sim_records`.
"""

from __future__ import annotations

import math
import random
from datetime import datetime
from typing import Any

from bridge import mt5
from bridge.sim_checks import RequestError, TradeContext, first_failure, make_context, normalize_request
from bridge.sim_money import Money, Quote, account_money
from bridge.sim_records import (Deal, Order, Position, market_order_transactions, position_transaction,
                                select_records, time_window, transaction)
from bridge.symbols import SymbolSpec, match_group

__all__ = ["RequestError", "TradeServer"]

FIRST_ORDER_TICKET = 100_000_000
FIRST_DEAL_TICKET = 50_000_000
VOLUME_DIGITS = 8
# Rejections the terminal itself makes: they never reach the server, so no REQUEST transaction.
LOCAL_REJECTIONS = frozenset({mt5.TRADE_RETCODE_CONNECTION, mt5.TRADE_RETCODE_CLIENT_DISABLES_AT})
# order_check shows the account after the trade only when the trade got that far.
PROJECTED_RETCODES = frozenset({0, mt5.TRADE_RETCODE_NO_MONEY, mt5.TRADE_RETCODE_REQUOTE})


class TradeServer:
    """One simulated trading account (hedging), with MetaTrader5-package methods."""

    def __init__(self, *, login: int, symbols: dict[str, SymbolSpec], balance: float = 10_000.0,
                 currency: str = "USD", leverage: int = 100,
                 margin_mode: int = mt5.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING,
                 trade_mode: int = mt5.ACCOUNT_TRADE_MODE_DEMO, seed: int = 0,
                 slippage_points: int = 0, name: str = "Simulated Trader",
                 server: str = "Simulator-Demo", company: str = "MT5 Executor Simulator",
                 margin_so_call: float = 100.0, margin_so_so: float = 50.0,
                 limit_orders: int = 200) -> None:
        if margin_mode != mt5.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING:
            raise ValueError("only hedging accounts are simulated so far; "
                             "use margin_mode=ACCOUNT_MARGIN_MODE_RETAIL_HEDGING")
        if leverage <= 0:
            raise ValueError(f"leverage must be positive, got {leverage}")
        self.login = login
        self.symbols = dict(symbols)
        self.quotes: dict[str, Quote] = {}
        self.money = Money(symbols=self.symbols, quotes=self.quotes, currency=currency, leverage=leverage)
        self.balance = float(balance)
        self.credit = 0.0
        self.currency = currency
        self.leverage = leverage
        self.margin_mode = margin_mode
        self.trade_mode = trade_mode
        self.slippage_points = slippage_points
        self.identity = {"name": name, "server": server, "company": company}
        self.margin_so_call = margin_so_call
        self.margin_so_so = margin_so_so
        self.limit_orders = limit_orders
        self.positions: dict[int, Position] = {}
        self.orders: dict[int, Order] = {}  # pending orders
        self.history_orders: list[Order] = []
        self.history_deals: list[Deal] = []
        self.connected = True
        self.trade_expert = True  # the server's permission for expert advisors
        self._trade_allowed = True
        self.version = 0  # bumps whenever positions or pending orders change
        self.account_version = 0  # bumps whenever balance, margin or permissions change
        self.server_time_ms = 0
        self._rng = random.Random(seed)
        self._next_order = FIRST_ORDER_TICKET
        self._next_deal = FIRST_DEAL_TICKET
        self._next_request_id = 1
        self._transactions: list[dict[str, Any]] = []
        self._dependencies: dict[str, frozenset[str]] = {}

    # --- toggles the socket shell and fault injection flip ---

    @property
    def trade_allowed(self) -> bool:
        return self._trade_allowed

    @trade_allowed.setter
    def trade_allowed(self, allowed: bool) -> None:
        if allowed != self._trade_allowed:
            self._trade_allowed = allowed
            self._account_changed()

    # --- quotes ---

    def on_quote(self, symbol: str, time_msc: int, bid: float, ask: float) -> list[int]:
        """Record a quote, mark positions to market and fire SL/TP; returns tickets closed."""
        if symbol not in self.symbols:
            raise ValueError(f"quote for unknown symbol {symbol!r}; add it to the simulator's symbols")
        if not (bid > 0 and ask >= bid and math.isfinite(ask)):
            raise ValueError(f"bad quote for {symbol}: bid {bid}, ask {ask}")
        quote = Quote(time_msc, bid, ask)
        self.quotes[symbol] = quote
        self.server_time_ms = max(self.server_time_ms, time_msc)
        for position in self.positions.values():
            if symbol in self._depends_on(position.symbol):
                self._mark(position)
        fired = self._triggered(symbol, quote)
        for ticket, reason in fired:
            self._close_by_server(self.positions[ticket], reason, time_msc)
        return [ticket for ticket, _ in fired]

    def _depends_on(self, symbol: str) -> frozenset[str]:
        """Symbols whose quotes move the profit of a `symbol` position."""
        found = self._dependencies.get(symbol)
        if found is None:
            spec = self.symbols[symbol]
            found = self.money.conversion_symbols(spec.currency_profit) | {symbol}
            self._dependencies[symbol] = found
        return found

    def _mark(self, position: Position) -> None:
        quote = self.quotes.get(position.symbol)
        if quote is None:
            return
        position.price_current = quote.bid if position.is_long else quote.ask
        profit = self.money.profit(position.type, position.symbol, position.volume,
                                   position.price_open, position.price_current)
        position.profit = profit if profit is not None else 0.0

    def _triggered(self, symbol: str, quote: Quote) -> list[tuple[int, int]]:
        """(ticket, reason) of the positions on `symbol` whose SL or TP this quote reaches."""
        fired = []
        for position in self.positions.values():
            if position.symbol != symbol:
                continue
            if position.is_long:
                hit_sl = position.sl > 0 and quote.bid <= position.sl
                hit_tp = position.tp > 0 and quote.bid >= position.tp
            else:
                hit_sl = position.sl > 0 and quote.ask >= position.sl
                hit_tp = position.tp > 0 and quote.ask <= position.tp
            if hit_sl or hit_tp:
                fired.append((position.ticket, mt5.DEAL_REASON_SL if hit_sl else mt5.DEAL_REASON_TP))
        return fired

    def _close_by_server(self, position: Position, reason: int, now: int) -> None:
        spec = self.symbols[position.symbol]
        level, tag = (position.sl, "sl") if reason == mt5.DEAL_REASON_SL else (position.tp, "tp")
        # A gap fills at the current price, not at the level: price_current is that price.
        self._close(position, position.volume, position.price_current, now, reason=reason,
                    magic=position.magic, comment=f"[{tag} {level:.{spec.digits}f}]")

    # --- requests ---

    def order_send(self, request: dict, now_ms: int | None = None) -> dict[str, Any]:
        """Validate and execute a trade request; an MqlTradeResult dict."""
        normalized = normalize_request(request)
        now = self._now(now_ms)
        ctx = make_context(self, normalized)
        retcode = first_failure(ctx)
        if retcode is not None:
            result = self._result(normalized, retcode)
            if retcode == mt5.TRADE_RETCODE_REQUOTE:
                assert ctx.quote is not None
                result.update(bid=ctx.quote.bid, ask=ctx.quote.ask)
        else:
            result = self._execute(ctx, now)
        if result["retcode"] not in LOCAL_REJECTIONS:
            self._transactions.append(
                transaction(mt5.TRADE_TRANSACTION_REQUEST, request=normalized, result=result))
        return result

    def order_check(self, request: dict, now_ms: int | None = None) -> dict[str, Any]:
        """What order_send would answer, without trading; an MqlTradeCheckResult dict."""
        normalized = normalize_request(request)
        self._now(now_ms)
        ctx = make_context(self, normalized)
        retcode = first_failure(ctx) or 0
        money = self._projection(ctx) if retcode in PROJECTED_RETCODES else dict.fromkeys(
            ("balance", "equity", "profit", "margin", "margin_free", "margin_level"), 0.0)
        comment = "Done" if retcode == 0 else mt5.retcode_text(retcode)
        return {"retcode": retcode, **money, "comment": comment, "request": normalized}

    def _now(self, now_ms: int | None) -> int:
        if now_ms is None:
            return self.server_time_ms
        self.server_time_ms = max(self.server_time_ms, now_ms)
        return now_ms

    def _result(self, request: dict, retcode: int, *, deal: int = 0, order: int = 0,
                volume: float = 0.0, price: float = 0.0) -> dict[str, Any]:
        request_id = self._next_request_id
        self._next_request_id += 1
        comment = "Request executed" if retcode == mt5.TRADE_RETCODE_DONE else mt5.retcode_text(retcode)
        return {"retcode": retcode, "deal": deal, "order": order, "volume": volume, "price": price,
                "bid": 0.0, "ask": 0.0, "comment": comment, "request_id": request_id,
                "retcode_external": 0, "request": dict(request)}

    def _execute(self, ctx: TradeContext, now: int) -> dict[str, Any]:
        request = ctx.request
        if ctx.action == mt5.TRADE_ACTION_SLTP:
            assert ctx.position is not None
            self._modify_stops(ctx.position, request["sl"], request["tp"], now)
            return self._result(request, mt5.TRADE_RETCODE_DONE)
        if ctx.action != mt5.TRADE_ACTION_DEAL:
            raise AssertionError(f"action {ctx.action} passed the checks but has no execution")
        price = self._fill_price(ctx)
        if ctx.position is not None:
            order, deal = self._close(ctx.position, request["volume"], price, now,
                                      reason=mt5.DEAL_REASON_EXPERT, magic=request["magic"],
                                      comment=request["comment"])
        else:
            order, deal = self._open(request, price, now)
        return self._result(request, mt5.TRADE_RETCODE_DONE, deal=deal.ticket, order=order.ticket,
                            volume=deal.volume, price=deal.price)

    def _fill_price(self, ctx: TradeContext) -> float:
        """Market price, worsened by seeded slippage up to the request's deviation."""
        assert ctx.spec is not None
        price = ctx.market_price()
        if ctx.spec.trade_exemode != mt5.SYMBOL_TRADE_EXECUTION_MARKET or self.slippage_points <= 0:
            return price
        slip = min(self._rng.randint(0, self.slippage_points), ctx.request["deviation"])
        adverse = slip * ctx.spec.point * (1 if ctx.is_buy else -1)
        return round(price + adverse, ctx.spec.digits)

    def _open(self, request: dict, price: float, now: int) -> tuple[Order, Deal]:
        spec = self.symbols[request["symbol"]]
        order = self._filled_order(request["symbol"], request["type"], request["volume"], price,
                                   now, magic=request["magic"], comment=request["comment"],
                                   reason=mt5.DEAL_REASON_EXPERT, position_id=0,
                                   type_filling=request["type_filling"])
        order.position_id = order.ticket  # hedging: the position takes its opening order's ticket
        order.sl, order.tp = round(request["sl"], spec.digits), round(request["tp"], spec.digits)
        position = Position(
            ticket=order.ticket, symbol=order.symbol, type=request["type"], volume=request["volume"],
            price_open=price, sl=order.sl, tp=order.tp, magic=order.magic, comment=order.comment,
            reason=mt5.DEAL_REASON_EXPERT, time_msc=now, time_update_msc=now)
        self.positions[position.ticket] = position
        self._mark(position)
        deal = self._deal(order, mt5.DEAL_ENTRY_IN, profit=0.0)
        self._record(order, deal)
        return order, deal

    def _close(self, position: Position, volume: float, price: float, now: int, *, reason: int,
               magic: int, comment: str) -> tuple[Order, Deal]:
        closing_type = mt5.ORDER_TYPE_SELL if position.is_long else mt5.ORDER_TYPE_BUY
        order = self._filled_order(position.symbol, closing_type, volume, price, now, magic=magic,
                                   comment=comment, reason=reason, position_id=position.ticket)
        profit = self.money.profit(position.type, position.symbol, volume, position.price_open, price)
        deal = self._deal(order, mt5.DEAL_ENTRY_OUT, profit=profit or 0.0)
        self.balance = round(self.balance + deal.profit, self.money.currency_digits)
        position.volume = round(position.volume - volume, VOLUME_DIGITS)
        if position.volume <= 0:
            del self.positions[position.ticket]
        else:
            position.time_update_msc = now  # a partial close keeps the ticket
            self._mark(position)
        self._record(order, deal)
        return order, deal

    def _filled_order(self, symbol: str, order_type: int, volume: float, price: float, now: int, *,
                      magic: int, comment: str, reason: int, position_id: int,
                      type_filling: int = mt5.ORDER_FILLING_FOK) -> Order:
        ticket = self._next_order
        self._next_order += 1
        return Order(ticket=ticket, symbol=symbol, type=order_type, state=mt5.ORDER_STATE_FILLED,
                     volume_initial=volume, volume_current=0.0, price_open=price, sl=0.0, tp=0.0,
                     magic=magic, comment=comment, reason=reason, position_id=position_id,
                     time_setup_msc=now, time_done_msc=now, price_current=price,
                     type_filling=type_filling)

    def _deal(self, order: Order, entry: int, *, profit: float) -> Deal:
        ticket = self._next_deal
        self._next_deal += 1
        # DEAL_TYPE_BUY/SELL share their numbers with ORDER_TYPE_BUY/SELL.
        return Deal(ticket=ticket, order=order.ticket, symbol=order.symbol, type=order.type,
                    entry=entry, reason=order.reason, position_id=order.position_id,
                    volume=order.volume_initial, price=order.price_open, profit=profit,
                    magic=order.magic, comment=order.comment, time_msc=order.time_done_msc)

    def _record(self, order: Order, deal: Deal) -> None:
        self.history_orders.append(order)
        self.history_deals.append(deal)
        self._transactions.extend(market_order_transactions(order, deal))
        self.version += 1
        self._account_changed()

    def _modify_stops(self, position: Position, sl: float, tp: float, now: int) -> None:
        digits = self.symbols[position.symbol].digits
        position.sl, position.tp = round(sl, digits), round(tp, digits)
        position.time_update_msc = now
        self._transactions.append(position_transaction(position))
        self.version += 1

    def _account_changed(self) -> None:
        self.account_version += 1

    # --- money ---

    def order_calc_margin(self, action: int, symbol: str, volume: float, price: float) -> float | None:
        return self.money.margin(action, symbol, volume, price)

    def order_calc_profit(self, action: int, symbol: str, volume: float, price_open: float,
                          price_close: float) -> float | None:
        return self.money.profit(action, symbol, volume, price_open, price_close)

    def _position_margin(self, position: Position) -> float:
        quote = self.quotes.get(position.symbol)
        if quote is None:
            return 0.0
        price = quote.ask if position.is_long else quote.bid
        return self.money.margin(position.type, position.symbol, position.volume, price) or 0.0

    def _floating(self) -> tuple[float, float]:
        """(profit, margin) of the open positions, in the deposit currency."""
        positions = self.positions.values()
        return (sum((p.profit + p.swap for p in positions), 0.0),
                sum((self._position_margin(p) for p in positions), 0.0))

    def _projection(self, ctx: TradeContext) -> dict[str, float]:
        """The account's money as it would be after the request of `ctx`."""
        balance = self.balance
        profit, margin = self._floating()
        if ctx.is_open and ctx.quote is not None and ctx.margin_required is not None:
            close_price = ctx.quote.bid if ctx.is_buy else ctx.quote.ask
            profit += self.money.profit(ctx.request["type"], ctx.request["symbol"],
                                        ctx.request["volume"], ctx.market_price(), close_price) or 0.0
            margin += ctx.margin_required
        elif ctx.is_close and ctx.position is not None:
            share = ctx.request["volume"] / ctx.position.volume
            realized = round(ctx.position.profit * share, self.money.currency_digits)
            balance += realized
            profit -= realized
            margin -= self._position_margin(ctx.position) * share
        return self._money(balance, profit, margin)

    def _money(self, balance: float, profit: float, margin: float) -> dict[str, float]:
        return account_money(balance=balance, credit=self.credit, profit=profit, margin=margin,
                             digits=self.money.currency_digits)

    # --- queries ---

    def account_info(self) -> dict[str, Any]:
        profit, margin = self._floating()
        return {
            "login": self.login, "trade_mode": self.trade_mode, "leverage": self.leverage,
            "limit_orders": self.limit_orders, "margin_so_mode": mt5.ACCOUNT_STOPOUT_MODE_PERCENT,
            "trade_allowed": self.trade_allowed, "trade_expert": self.trade_expert,
            "margin_mode": self.margin_mode, "currency_digits": self.money.currency_digits,
            "fifo_close": False, **self._money(self.balance, profit, margin),
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
        return [d.to_dict() for d in self.history_deals
                if low <= d.time_msc <= high and match_group(d.symbol, group)
                and ticket in (None, d.order) and position in (None, d.position_id)]

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

