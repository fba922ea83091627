"""The account's money over its positions: margin (hedged), projections, swaps, stop-out.

This module owns the account-level arithmetic of the simulated trade server, on top of the
per-trade arithmetic of `money`:

* margin of all positions at current prices; on hedging accounts opposite positions of one
  symbol are margined as MT5 does: the uncovered volume at the full rate, the hedged volume
  at `margin_hedged / trade_contract_size` of the average per-lot rate of both legs (or, with
  `margin_hedged_use_leg`, the larger leg's margin alone);
* the margin and money an account would have after a request (`order_check`, check 10019);
* swaps at each server-midnight rollover, in points per lot per day, none for the days that
  close on Saturday or Sunday and triple for `swap_rollover3days`;
* stop-out: while the margin level is under `margin_so_so` %, close the largest loser; on a
  quote, skipped when a bound of the margin (`MarginBound`, no leg's margin computed) proves
  the level above both `margin_so_call` and `margin_so_so`: the same outcome, cheaper.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from bridge import mt5
from bridge.trade_server.context import TradeContext
from bridge.trade_server.money import Quote
from bridge.trade_server.sessions import rollovers_between
from bridge.trade_server.state import ServerState

Leg = tuple[str, bool, float]  # symbol, is long, volume
NO_SWAP_DAYS = (0, 6)  # rollovers closing Sunday or Saturday: the Wednesday triple covers them
MAX_STOP_OUTS = 1000


def legs_of(server: ServerState) -> list[Leg]:
    return [(p.symbol, p.is_long, p.volume) for p in server.positions.values()]


def leg_margin(server: ServerState, symbol: str, long: bool, volume: float) -> float | None:
    quote = server.quotes.get(symbol)
    if quote is None:
        return None
    order_type = mt5.ORDER_TYPE_BUY if long else mt5.ORDER_TYPE_SELL
    return server.money.margin(order_type, symbol, volume, quote.ask if long else quote.bid)


def account_margin(server: ServerState, legs: Iterable[Leg]) -> float:
    """Margin of `legs` in the deposit currency (legs without a quote count nothing)."""
    legs = list(legs)
    return combined_margin(server, legs, [leg_margin(server, *leg) or 0.0 for leg in legs])


def combined_margin(server: ServerState, legs: list[Leg], margins: list[float]) -> float:
    """The account's margin from each leg's own: hedged legs of a symbol margined together.
    Given the legs, it grows with each leg's margin, at most in proportion (`MarginBound`)."""
    sides: dict[str, list[float]] = {}  # symbol -> [buy volume, buy margin, sell volume, sell margin]
    for (symbol, long, volume), margin in zip(legs, margins):
        side = sides.setdefault(symbol, [0.0, 0.0, 0.0, 0.0])
        at = 0 if long else 2
        side[at] += volume
        side[at + 1] += margin
    total = 0.0
    for symbol, (buy_volume, buy_margin, sell_volume, sell_margin) in sides.items():
        if server.netting or not (buy_volume and sell_volume):
            total += buy_margin + sell_margin
            continue
        spec = server.symbols[symbol]
        if spec.margin_hedged_use_leg:
            total += max(buy_margin, sell_margin)
            continue
        hedged = min(buy_volume, sell_volume)
        buy_rate, sell_rate = buy_margin / buy_volume, sell_margin / sell_volume
        uncovered_rate = buy_rate if buy_volume > sell_volume else sell_rate
        hedged_share = spec.margin_hedged / spec.trade_contract_size
        total += (max(buy_volume, sell_volume) - hedged) * uncovered_rate
        total += hedged * (buy_rate + sell_rate) / 2 * hedged_share
    return round(total, server.money.currency_digits)


def legs_after(ctx: TradeContext) -> list[Leg]:
    """The account's legs once the request of `ctx` is filled (pending: as if triggered)."""
    server = ctx.server
    symbol, volume = ctx.spec.name, ctx.request["volume"]
    legs = [(p.symbol, p.is_long, p.volume) for p in server.positions.values()
            if p is not ctx.closing_position and p is not ctx.position_by]
    closing = ctx.closing_position
    if ctx.action == mt5.TRADE_ACTION_CLOSE_BY and ctx.position and ctx.position_by:
        left = ctx.position.volume - ctx.position_by.volume
        legs = [(p.symbol, p.is_long, p.volume) for p in server.positions.values()
                if p not in (ctx.position, ctx.position_by)]
        if abs(left) > 1e-9:
            keeper = ctx.position if left > 0 else ctx.position_by
            legs.append((symbol, keeper.is_long, abs(left)))
    elif closing is not None:
        rest = round(closing.volume - volume, 8)
        if rest > 1e-9:
            legs.append((symbol, closing.is_long, rest))
        elif rest < -1e-9:  # netting reversal
            legs.append((symbol, ctx.is_buy, -rest))
    elif ctx.is_open:
        legs.append((symbol, ctx.is_buy, volume))
    return legs


def margin_after(ctx: TradeContext) -> float | None:
    """Account margin after the request, None when the new volume cannot be margined."""
    if ctx.is_open and leg_margin(ctx.server, ctx.spec.name, ctx.is_buy, ctx.opening_volume) is None:
        return None
    return account_margin(ctx.server, legs_after(ctx))


def projection(ctx: TradeContext) -> dict[str, float]:
    """The account's money as it would be after the request of `ctx` (order_check)."""
    server = ctx.server
    balance = server.balance
    profit, margin = server.floating()
    if ctx.is_deal and ctx.quote is not None:
        volume = ctx.request["volume"]
        balance += server.commission(ctx.spec.name, volume)
        closing = ctx.closing_position
        if closing is not None:
            share = min(1.0, volume / closing.volume)
            realized = round((closing.profit + closing.swap) * share, server.money.currency_digits)
            balance += realized
            profit -= realized
        if ctx.opening_volume > 0:
            close_price = ctx.quote.bid if ctx.is_buy else ctx.quote.ask
            profit += server.money.profit(ctx.request["type"], ctx.spec.name, ctx.opening_volume,
                                          ctx.market_price(), close_price) or 0.0
        margin = account_margin(server, legs_after(ctx))
    elif ctx.is_pending and ctx.spec is not None:
        margin = account_margin(server, legs_after(ctx))
    return server.money_fields(balance, profit, margin)


def charge_swaps(server: ServerState, after_ms: int, upto_ms: int) -> int:
    """Swaps of every rollover in (after_ms, upto_ms]; returns how many rollovers charged."""
    charged = 0
    for _, closed_day in rollovers_between(after_ms, upto_ms, server.server_tz):
        if closed_day in NO_SWAP_DAYS:
            continue
        charged += 1
        for position in server.positions.values():
            spec = server.symbols[position.symbol]
            days = 3 if closed_day == spec.swap_rollover3days else 1
            points = spec.swap_long if position.is_long else spec.swap_short
            amount = points * spec.point * spec.trade_contract_size * position.volume * days
            converted = server.money.to_deposit(amount, spec.currency_profit)
            if converted:
                position.swap = round(position.swap + converted, server.money.currency_digits)
    if charged and server.positions:
        server.changed()
    return charged


def stop_out(server: ServerState, now: int) -> list[int]:
    """Close the largest loser while the margin level is below `margin_so_so`; tickets closed."""
    if not server.positions:  # no margin used: nothing to stop out (and no account_info on every quote)
        server.margin_call = False
        return []
    closed: list[int] = []
    for _ in range(MAX_STOP_OUTS):
        info = server.account_info()
        level, margin = info["margin_level"], info["margin"]
        server.margin_call = margin > 0 and level < server.margin_so_call
        if not (margin > 0 and level < server.margin_so_so):
            break
        quoted = [p for p in server.positions.values() if p.symbol in server.quotes]
        if not quoted:
            break
        loser = min(quoted, key=lambda p: (p.profit + p.swap, p.ticket))
        comment = f"[so {level:.2f}%/{info['equity']:.2f}/{margin:.2f}]"
        server.close_by_server(loser, mt5.DEAL_REASON_SO, now, comment)
        closed.append(loser.ticket)
    return closed


@dataclass(frozen=True, slots=True, eq=False)
class MarginBound:
    """An upper bound of the account's margin at the current quotes, from its margin at the
    quotes of one moment (`of`), valid while the legs, the symbols' specs and the account's
    terms stay as they were then (`bound` answers None otherwise).

    Why it holds: a leg's margin (before rounding) is a constant times at most two of its
    dependencies' prices, each to the power +1 or -1 - the leg's own price in a CFD's amount,
    and the rate of its margin currency, one cross or two through USD, the leg's own price
    when it is the cross -, the price of each side fixed by the leg's direction. So if every
    price (bid and ask) of a dependency moved by a factor within [1/r, r], a leg's margin moved
    by at most r**2 per dependency (`growth`: their product). Given the legs, the combination
    (`combined_margin`: sums, hedged rates with non-negative shares, the larger leg) grows with
    each leg's margin, at most in proportion and at most by the sum of the parts; each rounding
    (each leg's, the total's) moves it by half a unit of the deposit currency: `slack` covers
    them all, `count` (the combination of a margin of 1 on every leg) each leg's.
    """

    legs: list[Leg]
    terms: tuple  # what else the margin depends on: the symbols' specs, leverage, currency, ...
    quotes: dict[str, Quote]  # every dependency's quote at that moment
    margin: float  # the account's margin then
    slack: float

    @classmethod
    def of(cls, server: ServerState, legs: list[Leg]) -> MarginBound | None:
        """The bound from the current quotes; None while a dependency has no quote (a leg
        without a quote counts nothing, and would count when its quote comes) or a symbol's
        hedged margin is negative (the combination would not grow with the legs' margins)."""
        money = server.money
        names = {symbol for symbol, _, _ in legs}
        dependencies = set(names)
        for name in names:
            spec = server.symbols[name]
            if spec.margin_hedged < 0:
                return None
            dependencies |= money.conversion_symbols(spec.currency_margin)
        quotes = {name: server.quotes.get(name) for name in sorted(dependencies)}
        if any(quote is None or quote.bid <= 0 or quote.ask <= 0 for quote in quotes.values()):
            return None
        margins = [leg_margin(server, *leg) or 0.0 for leg in legs]
        unit = 10.0 ** -money.currency_digits
        count = combined_margin(server, legs, [1.0] * len(legs)) + 1.0  # + 1: its own rounding
        return cls(legs=legs, terms=_terms(server), quotes=quotes,
                   margin=combined_margin(server, legs, margins), slack=unit * (count + 1.0))

    def bound(self, server: ServerState, legs: list[Leg]) -> float | None:
        """At least the account's margin now; None when the legs, specs or terms changed."""
        if legs != self.legs or _terms(server) != self.terms:
            return None
        quotes, growth = server.quotes, 1.0
        for name, then in self.quotes.items():
            now = quotes.get(name)
            if now is None:
                return None
            if now is not then:
                r = max(now.bid / then.bid, then.bid / now.bid, now.ask / then.ask, then.ask / now.ask)
                growth *= r * r
        return (growth * (self.margin + self.slack) + self.slack) * (1.0 + 1e-9)


def _terms(server: ServerState) -> tuple:
    """The specs (which cross converts a currency, each leg's formula) and the account's terms:
    equal (the same spec objects, mostly: compared by identity first), the same margins."""
    money = server.money
    return tuple(server.symbols.items()), money.leverage, money.currency, server.netting, money.currency_digits


def stop_out_clear(server: ServerState, bound: MarginBound | None) -> bool:
    """True when `stop_out` would close nothing and leave `margin_call` False: the margin level
    (equity / margin) is surely at least `margin_so_call` and `margin_so_so`, the margin taken
    at `bound`'s upper bound (False: not known, call `stop_out`)."""
    if bound is None:
        return False
    upper = bound.bound(server, legs_of(server))
    if upper is None:
        return False
    profit = sum((p.profit + p.swap for p in server.positions.values()), 0.0)  # as `floating`
    equity = server.balance + server.credit + profit
    # + 0.01: the level is rounded to 2 digits before it is compared.
    threshold = max(server.margin_so_call, server.margin_so_so, 0.0) + 0.01
    return equity > 0 and equity * 100.0 >= threshold * upper
