"""The RiskGuard actor: one per account; approves or refuses every order with reasons.

It owns the account's limits (demo or live defaults by the account type the terminal
reports, then the operator's updates, journaled) and its trading state. The Account asks
it synchronously before each order; RiskGuard never calls the Account back, so the ask
cannot deadlock.
"""

from __future__ import annotations

import time
from typing import Any

from loguru import logger

from actors import messages as m
from actors import risk_checks as rc
from actors.directory import Directory
from actors.supervision import Supervised
from actors.kill_switch import KillGate
from actors.risk_book import RiskBook
from actors.risk_types import OrderToCheck
from actors.status_board import StatusBoard
from bridge import mt5

JOURNAL_TIMEOUT_S = 5.0


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class RiskGuard(Supervised):
    def __init__(self, *, login: int, directory: Directory, board: StatusBoard, gate: KillGate) -> None:
        super().__init__(name=f"risk:{login}", parent="supervisor", directory=directory)
        self.login = login
        self.board = board
        self.gate = gate
        self.overrides: dict[str, Any] = {}
        self.trading_state = rc.ACTIVE
        self.account_type = "demo"  # until the terminal says otherwise; never from user input
        self.book = RiskBook()

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
                self._on_account(info)
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

    def _kill_switch(self) -> bool:
        return self.gate.tripped or self.board.get("supervisor", {}).get("kill_switch", {}).get("active", False)

    def _check(self, msg: m.CheckOrder) -> m.RiskDecision:
        order = OrderToCheck(strategy_id=msg.strategy_id, symbol=msg.symbol, side=msg.side, volume=msg.volume,
                             closing=msg.closing, volume_step=msg.volume_step, volume_min=msg.volume_min)
        now = _now_ms()
        book = self.book.book(msg, now_ms=now, trading_state=self.trading_state, kill_switch=self._kill_switch())
        result = rc.evaluate(order, book, self.limits())
        if result.approved and not msg.closing:
            self.book.record_sent(now, msg.strategy_id)  # counted for the order-rate limits
        return m.RiskDecision(approved=result.approved, reasons=result.reasons, warnings=result.warnings,
                              volume=result.volume)

    def _on_account(self, info: dict[str, Any]) -> None:
        tz_offset_s = int(self.board.get(f"terminal:{self.login}", {}).get("tz_offset_s", 0))
        self.book.on_account(info, _now_ms(), tz_offset_s)
        if self._kill_switch():
            return
        if self.trading_state == rc.HALTED:  # the lock of the breach was reset: judge afresh
            self.trading_state = rc.ACTIVE
            self._post()
        breached = rc.breaches(self.book.account_book(trading_state=self.trading_state, kill_switch=False),
                               self.limits())
        if breached:
            # The automatic kill switch: flatten and lock exactly like EMERGENCY_STOP, with the reason.
            reason = f"account {self.login}: " + "; ".join(breached)
            logger.critical("risk limit breached: {}", reason)
            self.trading_state = rc.HALTED
            self._post()
            self.directory.tell("supervisor", m.EmergencyStop(corr="", reason=reason))

    def _post(self) -> None:
        self.board.post(f"risk:{self.login}", {"limits": self.limits(), "trading_state": self.trading_state,
                                               "account_type": self.account_type})
