"""The Account's smart-exit shell: feeds quotes and closed bars to the exit book and sends
what it decides as ordinary orders (partial close keeping the ticket, SL/TP change, close).

A mixin of the Account actor, kept apart so the Account module stays about orders; it uses
the Account's `_close`, `_send` and `view`. Every action is journaled (as an order intent)
and published (`ExitActionTaken`); a refused one is forgotten so a later tick asks again.
"""

from __future__ import annotations

import time
from typing import Any

from loguru import logger

from actors import messages as m
from actors.account import order_requests as orq
from actors.account.exit_book import ExitBook
from actors.account.exits import Action, ClosePosition, ModifyStops, PartialClose


class AccountExits:
    exits: ExitBook

    def _register_exits(self, msg: m.RegisterExits) -> None:
        try:
            self.exits.register(msg.strategy_id, msg.settings)
        except ValueError as exc:
            logger.error("account {}: exits of {} not managed: {}", self.login, msg.strategy_id, exc)
            return
        self._sync_exits()

    def _sync_exits(self) -> None:
        # A position the view learnt from its fill has no time yet: it opened "now" on the
        # terminal's clock (its newest quote), never this machine's, which a fast simulator or
        # a replay leaves far behind.
        quotes = self.board.with_prefix(f"quote:{self.login}:").values()
        now_ms = max((q[0] for q in quotes if q), default=time.time_ns() // 1_000_000)
        self.exits.sync(self.view.positions, self.view.strategy_of, now_ms, self._tz_offset())

    def _exits_on_quote(self, batch: m.TickBatch) -> None:
        symbol = self.view.symbols.get(batch.symbol)
        if not self.exits.states or symbol is None or not batch.time_msc:
            return
        quote = (batch.time_msc[-1], batch.bid[-1], batch.ask[-1])
        self._take(self.exits.on_quote(batch.symbol, quote, self.view.positions, symbol, self._tz_offset()))

    def _exits_on_bar(self, msg: m.StrategyBar) -> None:
        def quote_of(name: str) -> tuple[int, float, float] | None:
            return self.board.get(f"quote:{self.login}:{name}")
        self._take(self.exits.on_bar(msg.strategy_id, quote_of, self.view.positions, self.view.symbols.get,
                                     self._tz_offset()))

    def _take(self, actions: list[Action]) -> None:
        for action in actions:
            position = self.view.positions.get(action.ticket)
            if position is None:
                self.exits.failed(action)  # gone meanwhile: nothing to do, or decide again
                continue
            strategy_id = self.view.strategy_of(action.ticket)
            event = dict(account=self.login, strategy_id=strategy_id, ticket=action.ticket, reason=action.reason)
            match action:
                case PartialClose(volume=volume):
                    self._close(position, volume, "", exit_action=action)
                    event.update(action="partial_close", volume=volume)
                case ClosePosition():
                    self._close(position, position["volume"], "", exit_action=action)
                    event.update(action="close", volume=position["volume"])
                case ModifyStops(sl=sl, tp=tp):
                    flight = self._flight("modify", strategy_id, position, extra={"sl": sl, "tp": tp,
                                                                                   "exit_action": action})
                    self._send(orq.modify_stops(position, sl, tp), flight, closing=True)
                    event.update(action="modify_stops", sl=sl, tp=tp)
            logger.info("account {}: exit {} on {} ({})", self.login, event["action"], action.ticket, action.reason)
            self.directory.publish(m.ExitActionTaken(**event))

    def _exit_failed(self, extra: dict[str, Any]) -> None:
        action = extra.get("exit_action")
        if action is not None:
            self.exits.failed(action)

    def _tz_offset(self) -> int:
        return int(self.board.get(f"terminal:{self.login}", {}).get("tz_offset_s", 0))
