"""The RiskGuard actor: one per account; approves or refuses every order with reasons.

It owns the account's limits (demo or live defaults by the account type the terminal
reports, then the operator's updates, journaled) and its trading state. The Account asks
it synchronously before each order; RiskGuard never calls the Account back, so the ask
cannot deadlock.
"""

from __future__ import annotations

from typing import Any

from loguru import logger

from actors import messages as m
from actors import risk_checks as rc
from actors.directory import Directory
from actors.supervision import Supervised
from actors.kill_switch import KillGate
from actors.status_board import StatusBoard
from bridge import mt5

JOURNAL_TIMEOUT_S = 5.0


class RiskGuard(Supervised):
    def __init__(self, *, login: int, directory: Directory, board: StatusBoard, gate: KillGate) -> None:
        super().__init__(name=f"risk:{login}", parent="supervisor", directory=directory)
        self.login = login
        self.board = board
        self.gate = gate
        self.overrides: dict[str, Any] = {}
        self.trading_state = rc.ACTIVE
        self.account_type = "demo"  # until the terminal says otherwise; never from user input

    def on_start(self) -> None:
        saved = self.directory.ask("journal", m.LoadRiskLimits(account=self.login), timeout=JOURNAL_TIMEOUT_S)
        self.overrides = dict(saved or {})
        self._post()

    def limits(self) -> dict[str, Any]:
        return {**rc.default_limits(self.account_type), **self.overrides}

    def on_receive(self, message: Any) -> Any:
        match message:
            case m.CheckOrder():
                return self._check(message)
            case m.AccountInfoUpdated(info=info):
                account_type = "live" if info.get("trade_mode") == mt5.ACCOUNT_TRADE_MODE_REAL else "demo"
                if account_type != self.account_type:
                    self.account_type = account_type
                    logger.info("account {} is {}: {} limits apply", self.login, account_type, account_type)
                    self._post()
            case m.UpdateRiskLimits(corr=corr, limits=limits):
                self.overrides.update(limits)
                self.directory.tell("journal", m.SaveRiskLimits(account=self.login, limits=self.overrides))
                logger.info("account {} risk limits now {}", self.login, self.limits())
                self._post()
                self.directory.tell("control", m.CommandReply(corr=corr, ok=True, data={
                    "account": self.login, "limits": self.limits()}))
            case _:
                return super().on_receive(message)
        return None

    def _check(self, msg: m.CheckOrder) -> m.RiskDecision:
        kill = self.gate.tripped or self.board.get("supervisor", {}).get("kill_switch", {}).get("active", False)
        order = rc.OrderToCheck(strategy_id=msg.strategy_id, symbol=msg.symbol, side=msg.side, volume=msg.volume,
                                closing=msg.closing)
        book = rc.Book(open_positions=msg.open_positions, open_positions_of_strategy=msg.open_positions_of_strategy,
                       trading_state=self.trading_state, kill_switch=kill)
        reasons = rc.run_checks(order, book, self.limits())
        return m.RiskDecision(approved=not reasons, reasons=tuple(reasons))

    def _post(self) -> None:
        self.board.post(f"risk:{self.login}", {"limits": self.limits(), "trading_state": self.trading_state,
                                               "account_type": self.account_type})
