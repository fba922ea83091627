"""What an entry needs before it goes: its size from the symbol's real properties and the
account's money, and the RiskGuard's question with the account's exposure in it.

`EntrySizing` reads the Account's view, its orders not yet ended (in flight or still in the
pipeline: openings count as held) and the RiskGuard's limits on the board; the kelly method
sizes from past trades the Entries fetched from the Journal.

The exposure part of the question (every open position's symbol, side and volume, and the
currencies involved) is the same for every entry until the positions change, so it is built
once per change of the view's positions, not once per order.
"""

from __future__ import annotations

from typing import Any

from actors import messages as m
from actors.account import order_requests as orq
from actors.account.in_flight import FlightIndex
from actors.account.sizing import SizeResult, compute_size, estimate_margin
from actors.account.view import AccountView
from actors.runtime.status_board import StatusBoard

class EntrySizing:
    def __init__(self, *, login: int, view: AccountView, board: StatusBoard, flights: FlightIndex) -> None:
        self.login = login
        self.view = view
        self.board = board
        self.flights = flights  # counts over every order not ended: in flight, or in the pipeline
        self._exposure_of: tuple[Any, int, Any] | None = None  # (positions dict, its size, symbols dict)
        self._exposure: tuple[tuple[tuple[str, str, float], ...], dict[str, tuple[str, str]]] = ((), {})

    def size(self, intent: m.OrderIntent, symbol: dict[str, Any], price: float, trades: list[float]) -> SizeResult:
        limits = self.board.get(f"risk:{self.login}", {}).get("limits", {})
        return compute_size(intent.sizing, symbol, limits.get("max_lot_size"), balance=self.view.info.get("balance"),
                            equity=self.view.info.get("equity"), stop_pips=intent.sl_pips, atr=intent.atr,
                            price=price, trades=trades)

    def check_order(self, intent: m.OrderIntent, symbol: dict[str, Any], volume: float, price: float) -> m.CheckOrder:
        positions, held_currencies = self._positions_exposure()
        currencies = held_currencies
        if intent.symbol not in held_currencies and (s := self.view.symbols.get(intent.symbol)):
            currencies = {**held_currencies, intent.symbol: (s.get("currency_base", ""), s.get("currency_profit", ""))}
        margin = estimate_margin(symbol, volume, price, leverage=float(self.view.info.get("leverage", 0) or 0),
                                 deposit_currency=self.view.info.get("currency", ""))
        return m.CheckOrder(
            account=self.login, strategy_id=intent.strategy_id, symbol=intent.symbol, side=intent.side,
            volume=volume, closing=False, open_positions=len(self.view.positions) + self.opening(),
            open_positions_of_strategy=len(self._tickets_of(intent.strategy_id)) + self.opening(intent.strategy_id),
            positions=positions, currencies=currencies, required_margin=margin,
            volume_step=float(symbol.get("volume_step", 0.0)), volume_min=float(symbol.get("volume_min", 0.0)))

    def _positions_exposure(self) -> tuple[tuple[tuple[str, str, float], ...], dict[str, tuple[str, str]]]:
        """(symbol, side, volume) of every open position and the currencies of their symbols,
        rebuilt only when the view's positions or symbols changed: a snapshot or a symbols
        update replaces the dict, a fill adds to it (volumes change only by snapshot)."""
        positions, symbols = self.view.positions, self.view.symbols
        key = self._exposure_of
        if key is None or key[0] is not positions or key[1] != len(positions) or key[2] is not symbols:
            held = tuple((p["symbol"], orq.side_of(p["type"]), p["volume"]) for p in positions.values())
            currencies = {n: (s.get("currency_base", ""), s.get("currency_profit", ""))
                          for n in {p[0] for p in held} if (s := symbols.get(n))}
            self._exposure_of, self._exposure = (positions, len(positions), symbols), (held, currencies)
        return self._exposure

    def held_by(self, strategy_id: str) -> int:
        """Positions the strategy holds or is opening, not counting those being closed."""
        closing = self.flights.closing
        held = sum(1 for ticket in self._tickets_of(strategy_id) if ticket not in closing)
        return held + self.opening(strategy_id)

    def _tickets_of(self, strategy_id: str) -> list[int]:
        return self.view.tickets_of(strategy_id)

    def opening(self, strategy_id: str | None = None) -> int:
        return self.flights.opening_total if strategy_id is None else self.flights.openings.get(strategy_id, 0)
