"""Money arithmetic of the simulated trade server: margin, profit, tick value, conversion.

This module owns how amounts in a symbol's margin or profit currency become amounts in the
account's deposit currency, through the current quotes of the other symbols (a cross, or two
crosses via USD), and the margin formula of each `trade_calc_mode`.

Which side of a cross quote converts an amount is chosen against the trader, as MT5 does:
a profit converts at the rate that makes it smaller, a loss at the rate that makes it larger,
and margin of a buy at the ask, of a sell at the bid. When the cross is the traded symbol
itself and the caller supplies a price (`order_calc_margin`'s price, `order_calc_profit`'s
close price), that price is the rate, so results agree with the fill.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from bridge import mt5
from bridge.symbols import SymbolSpec

PIVOT_CURRENCY = "USD"  # brokers quote every currency against USD, so two crosses always do


@dataclass(frozen=True, slots=True)
class Quote:
    time_msc: int
    bid: float
    ask: float


class Money:
    """Margin and profit in the deposit currency, from live views of specs and quotes."""

    def __init__(self, *, symbols: Mapping[str, SymbolSpec], quotes: Mapping[str, Quote],
                 currency: str, leverage: int, currency_digits: int = 2) -> None:
        self.symbols = symbols
        self.quotes = quotes
        self.currency = currency
        self.leverage = leverage
        self.currency_digits = currency_digits

    # --- conversion ---

    def rate(self, source: str, target: str, *, high: bool, own: str = "",
             own_price: float = 0.0) -> float | None:
        """Units of `target` per unit of `source`; `high` picks the dearer side of each cross."""
        if source == target:
            return 1.0
        direct = self._cross_rate(source, target, high, own, own_price)
        if direct is not None or PIVOT_CURRENCY in (source, target):
            return direct
        first = self._cross_rate(source, PIVOT_CURRENCY, high, own, own_price)
        second = self._cross_rate(PIVOT_CURRENCY, target, high, own, own_price)
        return None if first is None or second is None else first * second

    def _cross_rate(self, source: str, target: str, high: bool, own: str,
                    own_price: float) -> float | None:
        for name, spec in self.symbols.items():
            if spec.currency_base == source and spec.currency_profit == target:
                return self._price(name, high, own, own_price)
            if spec.currency_base == target and spec.currency_profit == source:
                # Dividing by the bid gives more target per source than dividing by the ask.
                price = self._price(name, not high, own, own_price)
                return None if price is None else 1.0 / price
        return None

    def _price(self, name: str, high: bool, own: str, own_price: float) -> float | None:
        if name == own and own_price > 0:
            return own_price
        quote = self.quotes.get(name)
        if quote is None:
            return None
        return quote.ask if high else quote.bid

    def conversion_symbols(self, source: str) -> frozenset[str]:
        """Symbols whose quotes move the value of `source` money in the deposit currency."""
        if source == self.currency:
            return frozenset()
        pairs = ({source, self.currency}, {source, PIVOT_CURRENCY}, {PIVOT_CURRENCY, self.currency})
        return frozenset(name for name, spec in self.symbols.items()
                         if {spec.currency_base, spec.currency_profit} in pairs)

    def to_deposit(self, amount: float, source: str, *, own: str = "",
                   own_price: float = 0.0) -> float | None:
        """A profit (amount >= 0) or loss (amount < 0) in `source`, in the deposit currency."""
        rate = self.rate(source, self.currency, high=amount < 0, own=own, own_price=own_price)
        return None if rate is None else amount * rate

    # --- trade arithmetic (the order_calc_* functions of the MetaTrader5 package) ---

    def margin(self, order_type: int, symbol: str, volume: float, price: float) -> float | None:
        """Margin of `volume` lots of `symbol` opened at `price`, in the deposit currency."""
        spec = self.symbols.get(symbol)
        if spec is None or order_type not in (mt5.ORDER_TYPE_BUY, mt5.ORDER_TYPE_SELL):
            return None
        amount = self._margin_in_margin_currency(spec, volume, price)
        if amount is None:
            return None
        rate = self.rate(spec.currency_margin, self.currency, high=order_type == mt5.ORDER_TYPE_BUY,
                         own=symbol, own_price=price)
        return None if rate is None else round(amount * rate, self.currency_digits)

    def _margin_in_margin_currency(self, spec: SymbolSpec, volume: float, price: float) -> float | None:
        mode = spec.trade_calc_mode
        if spec.margin_initial > 0:
            return volume * spec.margin_initial
        lots = volume * spec.trade_contract_size
        if mode == mt5.SYMBOL_CALC_MODE_FOREX:
            return lots / self.leverage
        if mode == mt5.SYMBOL_CALC_MODE_FOREX_NO_LEVERAGE:
            return lots
        if mode == mt5.SYMBOL_CALC_MODE_CFD:
            return lots * price
        if mode == mt5.SYMBOL_CALC_MODE_CFDLEVERAGE:
            return lots * price / self.leverage
        return None  # futures and index CFDs arrive with the exchange-symbol fixtures

    def profit(self, order_type: int, symbol: str, volume: float, price_open: float,
               price_close: float) -> float | None:
        """Profit of `volume` lots of `symbol` from `price_open` to `price_close`, in deposit currency."""
        spec = self.symbols.get(symbol)
        if spec is None or order_type not in (mt5.ORDER_TYPE_BUY, mt5.ORDER_TYPE_SELL):
            return None
        direction = 1.0 if order_type == mt5.ORDER_TYPE_BUY else -1.0
        amount = direction * (price_close - price_open) * volume * spec.trade_contract_size
        converted = self.to_deposit(amount, spec.currency_profit, own=symbol, own_price=price_close)
        return None if converted is None else round(converted, self.currency_digits)

    def tick_values(self, symbol: str) -> tuple[float, float]:
        """(trade_tick_value_profit, trade_tick_value_loss) per lot; 0.0 while unconvertible."""
        spec = self.symbols[symbol]
        per_tick = spec.trade_tick_size * spec.trade_contract_size
        profit = self.to_deposit(per_tick, spec.currency_profit)
        loss = self.to_deposit(-per_tick, spec.currency_profit)
        return (profit or 0.0, -loss if loss else 0.0)


def account_money(*, balance: float, credit: float, profit: float, margin: float,
                  digits: int) -> dict[str, float]:
    """The money fields of AccountInfo (and MqlTradeCheckResult) from their four sources."""
    equity = balance + credit + profit
    level = equity / margin * 100.0 if margin > 0 else 0.0
    return {"balance": round(balance, digits), "equity": round(equity, digits),
            "profit": round(profit, digits), "margin": round(margin, digits),
            "margin_free": round(equity - margin, digits), "margin_level": round(level, 2)}
