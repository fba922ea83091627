"""The simulated MT5 trade server of one account, as a pure class: no sockets, no threads.

This module owns the account's trading state (balance, positions, pending orders, order and
deal history, the trade transactions not yet published) and the entry points that change it:
quotes (`on_quote`: time moves on - swaps at rollover, pending expiry -, positions are marked
to market, SL/TP and pending orders fire, stop-out closes the largest losers) and requests
(`order_send`). It is driven only by the quotes and requests it is given, never by a wall
clock, so a seed and an input sequence always give the same history. Functions, arguments
and result fields are those of the MetaTrader5 Python package.

Where the rest lives, each a module of this package: validation in `checks`/`checks_state`
(request parsing in `context`), fills on hedging and netting accounts in `fills`, pending
orders in `pending`, account money (hedged margin, swaps, stop-out) in `account`, per-trade
money in `money`, queries in `queries` (mixed into the server), sessions and server days in
`sessions`, injected faults in `faults`, the records in `records`, the book as data (a
continued account) in `snapshot`. The helpers take the
server as an argument typed `state.ServerState`, the protocol of what they may touch, so
this is the only module that imports them all and none imports it.
"""

from __future__ import annotations

import bisect
import copy
import math
import random
from typing import Any

from bridge import mt5
from bridge.trade_server.account import MarginBound, charge_swaps, legs_of, projection, stop_out, stop_out_clear
from bridge.trade_server.checks import RequestError, TradeContext, first_failure, make_context, normalize_request
from bridge.trade_server.faults import Faults
from bridge.trade_server.fills import close, close_by, fill, new_order, record
from bridge.trade_server.money import Money, Quote
from bridge.trade_server.pending import expire, finish, modify, place, trigger
from bridge.trade_server.queries import ServerQueries
from bridge.trade_server.records import Position, position_transaction, transaction
from bridge.trade_server.sessions import day_end_ms
from bridge.trade_server.snapshot import Book
from bridge.server_tz import ServerTz, as_server_tz, parse_server_tz
from bridge.symbols import SymbolSpec

__all__ = ["RequestError", "TradeServer"]

FIRST_ORDER_TICKET = 100_000_000
FIRST_DEAL_TICKET = 50_000_000
# Rejections the terminal itself makes: they never reach the server, so no REQUEST transaction.
LOCAL_REJECTIONS = frozenset({mt5.TRADE_RETCODE_CONNECTION, mt5.TRADE_RETCODE_CLIENT_DISABLES_AT})
# order_check shows the account after the trade only when the trade got that far.
PROJECTED_RETCODES = frozenset({0, mt5.TRADE_RETCODE_NO_MONEY, mt5.TRADE_RETCODE_REQUOTE})
FILLED_RETCODES = frozenset({mt5.TRADE_RETCODE_DONE, mt5.TRADE_RETCODE_DONE_PARTIAL,
                             mt5.TRADE_RETCODE_PLACED})
MARGIN_MODES = (mt5.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING, mt5.ACCOUNT_MARGIN_MODE_RETAIL_NETTING)
DEFAULT_TZ_OFFSET_S = 7200  # UTC+2: the FX week runs Monday 00:00 to Friday 24:00 server time


class TradeServer(ServerQueries):
    """One simulated trading account (hedging or netting), with MetaTrader5-package methods.

    Fault hooks (set by tests or the socket shell): `connected` (False → 10031),
    `trade_allowed` (False → 10027), `trade_expert` (False → 10026) and `faults`
    (a `faults.Faults`: rate limit → 10024, timeout after fill → 10012, requotes → 10004,
    dealer rejects → 10006). `margin_call` is True while the margin level is under
    `margin_so_call`. Sessions (10018) are enforced only with `enforce_sessions=True`: a
    random-walk feed quotes round the clock, so the shell opts in when its prices keep hours.
    """

    def __init__(self, *, login: int, symbols: dict[str, SymbolSpec], balance: float = 10_000.0,
                 currency: str = "USD", leverage: int = 100,
                 margin_mode: int = mt5.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING,
                 trade_mode: int = mt5.ACCOUNT_TRADE_MODE_DEMO, seed: int = 0,
                 slippage_points: int = 0, name: str = "Simulated Trader",
                 server: str = "Simulator-Demo", company: str = "MT5 Executor Simulator",
                 margin_so_call: float = 100.0, margin_so_so: float = 50.0,
                 limit_orders: int = 200, limit_positions: int = 0, fifo_close: bool = False,
                 hedge_allowed: bool = True, commission_per_lot: float = 0.0,
                 server_tz: ServerTz | int | str = DEFAULT_TZ_OFFSET_S, enforce_sessions: bool = False) -> None:
        if margin_mode not in MARGIN_MODES:
            raise ValueError(f"margin_mode {margin_mode} is not simulated; use "
                             "ACCOUNT_MARGIN_MODE_RETAIL_HEDGING (2) or _NETTING (0)")
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
        self.margin_call = False
        self.limit_orders = limit_orders
        self.limit_positions = limit_positions
        self.fifo_close = fifo_close
        self.hedge_allowed = hedge_allowed
        self.commission_per_lot = commission_per_lot
        self.server_tz = parse_server_tz(server_tz)  # its clock: the offset from UTC at each moment
        self.enforce_sessions = enforce_sessions
        self.faults = Faults()
        self.positions: dict[int, Position] = {}
        self.orders = {}  # pending orders by ticket
        self.history_orders = []
        self.history_deals = []
        self._deal_index, self._deals_indexed = {}, (None, 0)  # history_deals by position (queries)
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
        # (zone, from, until, rollover): the next rollover after any instant in [from, until)
        self._rollover: tuple[ServerTz | None, int, int, int] = (None, 0, 0, 0)
        self._margin_bound: MarginBound | None = None  # for the stop-out check of each quote

    @property
    def netting(self) -> bool:
        return self.margin_mode == mt5.ACCOUNT_MARGIN_MODE_RETAIL_NETTING

    @property
    def trade_allowed(self) -> bool:
        return self._trade_allowed

    @trade_allowed.setter
    def trade_allowed(self, allowed: bool) -> None:
        if allowed != self._trade_allowed:
            self._trade_allowed = allowed
            self.account_version += 1

    # --- bookkeeping used by the helpers (see state.ServerState) ---

    def next_order_ticket(self) -> int:
        self._next_order += 1
        return self._next_order - 1

    def next_deal_ticket(self) -> int:
        self._next_deal += 1
        return self._next_deal - 1

    def emit(self, transactions: list[dict[str, Any]]) -> None:
        self._transactions.extend(transactions)

    def changed(self) -> None:
        """Positions or orders changed (and with them, money)."""
        self.version += 1
        self.account_version += 1

    def commission(self, symbol: str, volume: float) -> float:
        """The (negative) commission of one deal of `volume` lots: the symbol's rate or the account's."""
        rate = self.symbols[symbol].commission_per_lot or self.commission_per_lot
        return -round(rate * volume, self.money.currency_digits) if rate else 0.0

    def mark(self, position: Position) -> None:
        quote = self.quotes.get(position.symbol)
        if quote is None:
            return
        position.price_current = quote.bid if position.is_long else quote.ask
        profit = self.money.profit(position.type, position.symbol, position.volume,
                                   position.price_open, position.price_current)
        position.profit = profit if profit is not None else 0.0

    # --- persistence: the book a continued account starts from (see snapshot.py) ---

    def book(self) -> Book:
        """What a broker keeps of this account between sessions (copies of the records:
        the caller may serialise it while the server trades on)."""
        return Book(login=self.login, balance=self.balance, credit=self.credit,
                    positions=[copy.copy(p) for p in self.positions.values()],
                    orders=[copy.copy(o) for o in self.orders.values()],
                    history_orders=list(self.history_orders), history_deals=list(self.history_deals),
                    quotes=dict(self.quotes), server_time_ms=self.server_time_ms, next_order=self._next_order,
                    next_deal=self._next_deal, next_request=self._next_request_id, version=self.version,
                    account_version=self.account_version, rng_state=self._rng.getstate())

    def restore(self, book: Book) -> None:
        """Continue the account `book` describes, before any quote or request. ValueError if it
        is another account's or names a symbol this server does not simulate."""
        if book.login != self.login:
            raise ValueError(f"the saved account is {book.login}, this terminal is {self.login}")
        unknown = sorted(book.symbols() - set(self.symbols))
        if unknown:
            raise ValueError(f"the saved account trades {unknown[0]}, a symbol this terminal does not simulate")
        self.balance, self.credit = book.balance, book.credit
        self.positions = {p.ticket: copy.copy(p) for p in book.positions}
        self.orders = {o.ticket: copy.copy(o) for o in book.orders}
        self.history_orders, self.history_deals = list(book.history_orders), list(book.history_deals)
        self.quotes.clear()  # in place: Money reads this very dict
        self.quotes.update(book.quotes)
        self.server_time_ms = book.server_time_ms
        self._next_order, self._next_deal = book.next_order, book.next_deal
        self._next_request_id = book.next_request
        self.version, self.account_version = book.version, book.account_version
        self._rng.setstate(book.rng_state)
        for position in self.positions.values():
            self.mark(position)

    # --- time and quotes ---

    def on_time(self, now_ms: int) -> None:
        """Move server time on: charge swaps at each rollover passed, expire pending orders."""
        if now_ms <= self.server_time_ms:
            return
        previous, self.server_time_ms = self.server_time_ms, now_ms
        if previous and now_ms >= self._next_rollover(previous):
            charge_swaps(self, previous, now_ms)
        if self.orders:
            expire(self, now_ms)

    def _next_rollover(self, after_ms: int) -> int:
        """The first rollover (server midnight) after `after_ms`: `sessions.day_end_ms`, computed
        once per server day. The answer for one instant holds for every later one before it, and
        before the zone's next change of offset (while the offset stays, the server clock reads
        the same day)."""
        zone, start, until, end = self._rollover
        if zone is self.server_tz and start <= after_ms < until:
            return end
        end = day_end_ms(after_ms, self.server_tz)
        entries = as_server_tz(self.server_tz).entries  # (from, offset), in time order
        following = bisect.bisect_right(entries, after_ms, key=lambda entry: entry[0])
        until = min(end, entries[following][0]) if following < len(entries) else end
        self._rollover = (self.server_tz, after_ms, until, end)
        return end

    def on_quote(self, symbol: str, time_msc: int, bid: float, ask: float) -> list[int]:
        """Record a quote and act on it; returns the tickets of positions the server closed
        (SL, TP, stop-out)."""
        if symbol not in self.symbols:
            raise ValueError(f"quote for unknown symbol {symbol!r}; add it to the simulator's symbols")
        if not (bid > 0 and ask >= bid and math.isfinite(ask)):
            raise ValueError(f"bad quote for {symbol}: bid {bid}, ask {ask}")
        quote = Quote(time_msc, bid, ask)
        self.quotes[symbol] = quote
        self.on_time(time_msc)
        for position in self.positions.values():
            if symbol in self._depends_on(position.symbol):
                self.mark(position)
        fired = self._triggered(symbol, quote)
        for ticket, reason in fired:
            self.close_by_server(self.positions[ticket], reason, time_msc)
        if self.orders:
            trigger(self, symbol, quote, time_msc)
        closed = [ticket for ticket, _ in fired]
        if self.positions and stop_out_clear(self, self._margin_bound):
            self.margin_call = False  # what stop_out finds at a level above margin_so_call
            return closed
        closed += stop_out(self, time_msc)
        # The margin at these quotes, to bound it at the next ones (MarginBound): computed again
        # only when the bound no longer proves the level safe, or the positions changed.
        self._margin_bound = MarginBound.of(self, legs_of(self)) if self.positions else None
        return closed

    def _depends_on(self, symbol: str) -> frozenset[str]:
        """Symbols whose quotes move the profit of a `symbol` position."""
        found = self._dependencies.get(symbol)
        if found is None:
            spec = self.symbols[symbol]
            found = self.money.conversion_symbols(spec.currency_profit) | {symbol}
            self._dependencies[symbol] = found
        return found

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

    def close_by_server(self, position: Position, reason: int, now: int, comment: str = "") -> None:
        """Close a whole position at its current price (SL, TP, stop-out): a gap fills at the
        first available price, not at the level."""
        if not comment:
            spec = self.symbols[position.symbol]
            level, tag = (position.sl, "sl") if reason == mt5.DEAL_REASON_SL else (position.tp, "tp")
            comment = f"[{tag} {level:.{spec.digits}f}]"
        order, deal = close(self, position, position.volume, position.price_current, now,
                            reason=reason, magic=position.magic, comment=comment)
        record(self, order, [deal])

    # --- requests ---

    def order_send(self, request: dict, now_ms: int | None = None) -> dict[str, Any]:
        """Validate and execute a trade request; an MqlTradeResult dict."""
        normalized = normalize_request(request)
        now = self._now(now_ms)
        ctx = make_context(self, normalized, now)
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
        if result["retcode"] in FILLED_RETCODES and self.faults.take("timeout_after_fill"):
            # The trade stands; only its answer is lost on the way back.
            return self._result(normalized, mt5.TRADE_RETCODE_TIMEOUT)
        return result

    def order_check(self, request: dict, now_ms: int | None = None) -> dict[str, Any]:
        """What order_send would answer, without trading; an MqlTradeCheckResult dict."""
        normalized = normalize_request(request)
        ctx = make_context(self, normalized, self._now(now_ms), dry_run=True)
        retcode = first_failure(ctx) or 0
        money = projection(ctx) if retcode in PROJECTED_RETCODES else dict.fromkeys(
            ("balance", "equity", "profit", "margin", "margin_free", "margin_level"), 0.0)
        comment = "Done" if retcode == 0 else mt5.retcode_text(retcode)
        return {"retcode": retcode, **money, "comment": comment, "request": normalized}

    def _now(self, now_ms: int | None) -> int:
        if now_ms is None:
            return self.server_time_ms
        self.on_time(now_ms)
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
        request, action, done = ctx.request, ctx.action, mt5.TRADE_RETCODE_DONE
        if action == mt5.TRADE_ACTION_SLTP:
            assert ctx.position is not None
            self._modify_stops(ctx.position, request["sl"], request["tp"], now)
            return self._result(request, done)
        if action == mt5.TRADE_ACTION_PENDING:
            order = place(self, ctx, now)
            return self._result(request, mt5.TRADE_RETCODE_PLACED, order=order.ticket,
                                volume=order.volume_initial)
        if action == mt5.TRADE_ACTION_MODIFY:
            return self._result(request, done, order=modify(self, ctx, now).ticket)
        if action == mt5.TRADE_ACTION_REMOVE:
            assert ctx.order is not None
            finish(self, ctx.order, mt5.ORDER_STATE_CANCELED, now)
            return self._result(request, done, order=ctx.order.ticket)
        if action == mt5.TRADE_ACTION_CLOSE_BY:
            assert ctx.position is not None and ctx.position_by is not None
            order, deals = close_by(self, ctx.position, ctx.position_by, now,
                                    magic=request["magic"], comment=request["comment"])
            record(self, order, deals)
            return self._result(request, done, order=order.ticket, deal=deals[0].ticket,
                                volume=order.volume_initial, price=order.price_open)
        if action != mt5.TRADE_ACTION_DEAL:
            raise AssertionError(f"action {action} passed the checks but has no execution")
        return self._deal(ctx, now)

    def _deal(self, ctx: TradeContext, now: int) -> dict[str, Any]:
        request = ctx.request
        price, volume = self._fill_price(ctx), ctx.fill_volume or request["volume"]
        if not self.netting and ctx.position is not None:
            order, deal = close(self, ctx.position, volume, price, now, reason=mt5.DEAL_REASON_EXPERT,
                                magic=request["magic"], comment=request["comment"])
            order.type_filling = request["type_filling"]
            deals = [deal]
        else:
            spec = ctx.spec
            assert spec is not None
            order = new_order(self, spec.name, request["type"], volume, price, now,
                              magic=request["magic"], comment=request["comment"],
                              reason=mt5.DEAL_REASON_EXPERT, type_filling=request["type_filling"])
            order.sl, order.tp = round(request["sl"], spec.digits), round(request["tp"], spec.digits)
            deals = fill(self, order, volume, price, now, sl=order.sl, tp=order.tp)
        partial = volume < request["volume"] - 1e-9
        if partial:  # IOC: the rest of the order is canceled
            order.volume_initial = request["volume"]
            order.volume_current = round(request["volume"] - volume, 8)
            order.state = mt5.ORDER_STATE_PARTIAL
        record(self, order, deals)
        retcode = mt5.TRADE_RETCODE_DONE_PARTIAL if partial else mt5.TRADE_RETCODE_DONE
        return self._result(request, retcode, deal=deals[0].ticket, order=order.ticket,
                            volume=volume, price=deals[0].price)

    def _fill_price(self, ctx: TradeContext) -> float:
        """Market price, worsened by seeded slippage up to the request's deviation."""
        assert ctx.spec is not None
        price = ctx.market_price()
        if ctx.spec.trade_exemode != mt5.SYMBOL_TRADE_EXECUTION_MARKET or self.slippage_points <= 0:
            return price
        slip = min(self._rng.randint(0, self.slippage_points), ctx.request["deviation"])
        adverse = slip * ctx.spec.point * (1 if ctx.is_buy else -1)
        return round(price + adverse, ctx.spec.digits)

    def _modify_stops(self, position: Position, sl: float, tp: float, now: int) -> None:
        digits = self.symbols[position.symbol].digits
        position.sl, position.tp = round(sl, digits), round(tp, digits)
        position.time_update_msc = now
        self._transactions.append(position_transaction(position))
        self.version += 1
