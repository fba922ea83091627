"""What an entry needs before it goes: its size from the symbol's real properties and the
account's money, and the RiskGuard's question with the account's exposure in it.

`EntrySizing` reads the Account's view, the orders in flight (openings count as held) and
the RiskGuard's limits on the board; only the kelly method asks the journal (past trades).
"""

from __future__ import annotations

from typing import Any

from actors import messages as m
from actors.account import order_requests as orq
from actors.account.in_flight import InFlight
from actors.account.sizing import SizeResult, compute_size, estimate_margin
from actors.account.view import AccountView
from actors.runtime.directory import Directory
from actors.runtime.status_board import StatusBoard

ASK_TIMEOUT_S = 5.0


class EntrySizing:
    def __init__(self, *, login: int, view: AccountView, board: StatusBoard, in_flight: dict[str, InFlight],
                 directory: Directory) -> None:
        self.login = login
        self.view = view
        self.board = board
        self.in_flight = in_flight
        self.directory = directory

    def size(self, intent: m.OrderIntent, symbol: dict[str, Any], price: float) -> SizeResult:
        limits = self.board.get(f"risk:{self.login}", {}).get("limits", {})
        trades: list[float] = []
        if intent.sizing.get("method") == "kelly_criterion":
            trades = self.directory.ask("journal", m.LoadTradeProfits(strategy_id=intent.strategy_id),
                                        timeout=ASK_TIMEOUT_S)
        return compute_size(intent.sizing, symbol, limits.get("max_lot_size"), balance=self.view.info.get("balance"),
                            equity=self.view.info.get("equity"), stop_pips=intent.sl_pips, atr=intent.atr,
                            price=price, trades=trades)

    def check_order(self, intent: m.OrderIntent, symbol: dict[str, Any], volume: float, price: float) -> m.CheckOrder:
        positions = [(p["symbol"], orq.side_of(p["type"]), p["volume"]) for p in self.view.positions.values()]
        names = {intent.symbol, *(p[0] for p in positions)}
        currencies = {n: (s.get("currency_base", ""), s.get("currency_profit", ""))
                      for n in names if (s := self.view.symbols.get(n))}
        margin = estimate_margin(symbol, volume, price, leverage=float(self.view.info.get("leverage", 0) or 0),
                                 deposit_currency=self.view.info.get("currency", ""))
        return m.CheckOrder(
            account=self.login, strategy_id=intent.strategy_id, symbol=intent.symbol, side=intent.side,
            volume=volume, closing=False, open_positions=len(self.view.positions) + self.opening(),
            open_positions_of_strategy=self.view.count(intent.strategy_id) + self.opening(intent.strategy_id),
            positions=tuple(positions), currencies=currencies, required_margin=margin,
            volume_step=float(symbol.get("volume_step", 0.0)), volume_min=float(symbol.get("volume_min", 0.0)))

    def held_by(self, strategy_id: str) -> int:
        """Positions the strategy holds or is opening, not counting those being closed."""
        closing = {f.ticket for f in self.in_flight.values() if f.kind == "close"}
        held = sum(1 for p in self.view.select(strategy_id=strategy_id) if p["ticket"] not in closing)
        return held + self.opening(strategy_id)

    def opening(self, strategy_id: str | None = None) -> int:
        return sum(1 for f in self.in_flight.values()
                   if f.kind == "open" and (strategy_id is None or f.strategy_id == strategy_id))
