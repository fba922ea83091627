"""The Account's smart exits: feeds quotes and closed bars to the exit book and sends what it
decides as ordinary orders through Orders (partial close keeping the ticket, SL/TP change,
close). Every action is journaled (as an order intent) and published (`ExitActionTaken`); a
refused one is forgotten (`failed`) so a later tick asks again.
"""

from __future__ import annotations

import time
from typing import Any

from loguru import logger

from actors import messages as m
from actors.account.exit_book import ExitBook
from actors.account.exits import Action, ClosePosition, ModifyStops, PartialClose
from actors.account.orders import Orders
from actors.account.view import AccountView
from actors.runtime.directory import Directory
from actors.runtime.status_board import StatusBoard


class ExitManager:
    def __init__(self, *, login: int, view: AccountView, board: StatusBoard, orders: Orders,
                 directory: Directory) -> None:
        self.login = login
        self.view = view
        self.board = board
        self.orders = orders
        self.directory = directory
        self.book = ExitBook()

    def register(self, msg: m.RegisterExits) -> None:
        try:
            self.book.register(msg.strategy_id, msg.settings)
        except ValueError as exc:
            logger.error("account {}: exits of {} not managed: {}", self.login, msg.strategy_id, exc)
            return
        self.sync()

    def sync(self) -> None:
        if not self.book.plans and not self.book.states:
            return  # no strategy asked for exits: nothing to start or forget (this runs on every fill)
        # A position the view learnt from its fill has no time yet: it opened "now" on the
        # terminal's clock (its newest quote), never this machine's, which a fast simulator or
        # a replay leaves far behind.
        now_ms = self.board.get(f"last_tick:{self.login}") or time.time_ns() // 1_000_000
        self.book.sync(self.view.positions, self.view.strategy_of, now_ms, self._tz_offset())

    def on_quote(self, batch: m.TickBatch) -> None:
        symbol = self.view.symbols.get(batch.symbol)
        if not self.book.states or symbol is None or not batch.time_msc:
            return
        quote = (batch.time_msc[-1], batch.bid[-1], batch.ask[-1])
        self._take(self.book.on_quote(batch.symbol, quote, self.view.positions, symbol, self._tz_offset()))

    def on_bar(self, msg: m.StrategyBar) -> None:
        def quote_of(name: str) -> tuple[int, float, float] | None:
            return self.board.get(f"quote:{self.login}:{name}")
        self._take(self.book.on_bar(msg.strategy_id, quote_of, self.view.positions, self.view.symbols.get,
                                    self._tz_offset()))

    def failed(self, extra: dict[str, Any]) -> None:
        """An order ended unfilled: if an exit action sent it, decide that action again later."""
        action = extra.get("exit_action")
        if action is not None:
            self.book.failed(action)

    def _take(self, actions: list[Action]) -> None:
        for action in actions:
            position = self.view.positions.get(action.ticket)
            if position is None:
                self.book.failed(action)  # gone meanwhile: nothing to do, or decide again
                continue
            event = dict(account=self.login, strategy_id=self.view.strategy_of(action.ticket), ticket=action.ticket,
                         reason=action.reason)
            match action:
                case PartialClose(volume=volume):
                    self.orders.close(position, volume, "", exit_action=action)
                    event.update(action="partial_close", volume=volume,
                                 remaining=round(float(position["volume"]) - volume, 8))
                case ClosePosition():
                    self.orders.close(position, position["volume"], "", exit_action=action)
                    event.update(action="close", volume=position["volume"])
                case ModifyStops(sl=sl, tp=tp):
                    self.orders.modify(position, sl, tp, exit_action=action)
                    event.update(action="modify_stops", sl=sl, tp=tp)
            logger.info("account {}: exit {} on {} ({})", self.login, event["action"], action.ticket, action.reason)
            self.directory.publish(m.ExitActionTaken(**event))

    def _tz_offset(self) -> int:
        return int(self.board.get(f"terminal:{self.login}", {}).get("tz_offset_s", 0))
