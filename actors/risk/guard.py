"""The RiskGuard actor: one per account; approves or refuses every order with reasons.

Each decision carries its error code, chosen here by the rule that refused: TRADING_LOCKED
when the kill switch did or the account is halted under a breach lock, RISK_REJECTED
otherwise. The Account tells it each `CheckOrder` with a correlation id and goes on with
other work; the decision is told back carrying that id (a CheckOrder asked without one, at
the edges and in tests, gets the decision as the reply).

This module is the actor shell. It owns the account's limits (GuardLimits: defaults by the
account type the terminal reports, the operator's updates, validated and journaled), its
trading state (TradingStateControl), what it knows of the account's money and recent orders
(RiskBook) and of the market (GuardMarket), and routes each message to one of them.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from loguru import logger

from actors import errors
from actors import messages as m
from actors.risk import checks as rc
from actors.risk.book import RiskBook
from actors.risk.guard_limits import GuardLimits
from actors.risk.guard_market import GuardMarket
from actors.risk.guard_state import TradingStateControl
from actors.risk.model import OrderToCheck
from actors.runtime.confirmation import OtpVerifier
from actors.runtime.directory import Directory
from actors.runtime.kill_switch import LOCK_SECONDS, KillGate
from actors.runtime.status_board import StatusBoard
from actors.runtime.supervision import Supervised
from actors.runtime.ticker import Ticker

JOURNAL_TIMEOUT_S = 5.0
CONTEXT_REFRESH_S = 1.0


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class RiskGuard(Supervised):
    def __init__(self, *, login: int, directory: Directory, board: StatusBoard, gate: KillGate,
                 otp: OtpVerifier | None = None, defaults: dict[str, dict[str, Any]] | None = None,
                 lock_s: float = LOCK_SECONDS) -> None:
        super().__init__(name=f"risk:{login}", parent="supervisor", directory=directory)
        self.login = login
        self.board = board
        self.gate = gate
        otp = otp or OtpVerifier(None)
        self.limits = GuardLimits(login=login, otp=otp, configured_defaults=defaults or {})
        self.book = RiskBook()
        self.market = GuardMarket(login=login, board=board, directory=directory)
        self.trading = TradingStateControl(login=login, directory=directory, book=self.book, limits=self.limits,
                                           otp=otp, lock_s=lock_s, kill_switch=self._kill_switch, post=self._post)
        self.ticker: Ticker | None = None

    def on_start(self) -> None:
        saved = self.directory.ask("journal", m.LoadRiskLimits(account=self.login), timeout=JOURNAL_TIMEOUT_S)
        self.limits.overrides = dict(saved or {})
        self.trading.restore(
            self.directory.ask("journal", m.LoadTradingState(account=self.login), timeout=JOURNAL_TIMEOUT_S))
        self._post()
        self.ticker = Ticker(self.actor_ref, CONTEXT_REFRESH_S).start()

    def on_stop(self) -> None:
        if self.ticker:
            self.ticker.stop()

    def on_receive(self, message: Any) -> Any:
        match message:
            case m.CheckOrder(reply_to=reply_to) if reply_to:
                self.directory.tell(reply_to, self._check(message))
            case m.CheckOrder():
                return self._check(message)
            case m.AccountInfoUpdated(info=info):
                self._on_account(info)
            case m.UpdateRiskLimits():
                self._answer(message.corr, lambda: self._update_limits(message))
            case m.SetTradingState():
                self._answer(message.corr, lambda: self.trading.request(message))
            case m.Tick():
                self.market.refresh(self.limits.current())
            case m.SessionsFetched(symbols=symbols, sessions=sessions):
                self.market.context.on_sessions(symbols, sessions if message.ok else None)
                self._post()
            case m.CalendarFetched(date_from=date_from, events=events):
                self.market.context.on_calendar(date_from, events if message.ok else None)
                self._post()
            case m.RatesFetched(symbol=symbol, rates=rates):
                self.market.context.on_rates(symbol, rates if message.ok else None)
                self._post()
            case _:
                return super().on_receive(message)
        return None

    def _check(self, msg: m.CheckOrder) -> m.RiskDecision:
        order = OrderToCheck(strategy_id=msg.strategy_id, symbol=msg.symbol, side=msg.side, volume=msg.volume,
                             closing=msg.closing, volume_step=msg.volume_step, volume_min=msg.volume_min)
        # Order rates count on the server's clock (GuardMarket says why).
        server_ms = self.market.server_utc_ms()
        now = _now_ms() if server_ms is None else server_ms
        state = self.trading.state
        book = self.book.book(msg, now_ms=now, trading_state=state.state, kill_switch=self._kill_switch())
        book = dataclasses.replace(self.market.with_market(book, msg, server_ms), trading_state_reason=state.reason)
        limits = self.limits.current()
        result = rc.evaluate(order, book, limits)
        if result.approved and not msg.closing:
            self.book.record_sent(now, msg.strategy_id)  # counted for the order-rate limits
        # The code is decided here, by the rule that refused, so no reader needs the reasons' text:
        # the kill switch, or this account's breach lock (HALTED until locked_until), is a lock.
        locked = rc.check_kill_switch(order, book, limits) is not None or (
            not msg.closing and state.locked(_now_ms()))
        return m.RiskDecision(corr=msg.corr, approved=result.approved, reasons=result.reasons,
                              warnings=result.warnings, volume=result.volume,
                              code=errors.TRADING_LOCKED if locked else errors.RISK_REJECTED)

    def _kill_switch(self) -> bool:
        return self.gate.tripped or self.board.get("supervisor", {}).get("kill_switch", {}).get("active", False)

    def _on_account(self, info: dict[str, Any]) -> None:
        if self.limits.learn_type(info):
            logger.info("account {} is {}: {} limits apply", self.login, self.limits.account_type,
                        self.limits.account_type)
            self._post()
        server_ms = self.market.server_utc_ms()
        self.book.on_account(info, _now_ms() if server_ms is None else server_ms, self.market.tz_offset_s())
        self.trading.judge_breaches()

    def _update_limits(self, msg: m.UpdateRiskLimits) -> dict[str, Any]:
        self.limits.update(msg.limits, msg.otp)
        limits = self.limits.current()
        self.market.context.set_timeframe(limits.get("correlation_timeframe") or "H1")
        self.directory.tell("journal", m.SaveRiskLimits(account=self.login, limits=self.limits.overrides))
        logger.info("account {} risk limits now {}", self.login, limits)
        self._post()
        return {"account": self.login, "limits": self.limits.current()}

    def _answer(self, corr: str, command: Callable[[], dict[str, Any]]) -> None:
        """Run an operator's command and reply: its data, or the ControlError it raised."""
        try:
            data = command()
        except errors.ControlError as exc:
            reply = m.CommandReply(corr=corr, ok=False, error=exc.as_error())
        else:
            reply = m.CommandReply(corr=corr, ok=True, data=data)
        self.directory.tell("control", reply)

    def _post(self) -> None:
        self.board.post(f"risk:{self.login}", {"limits": self.limits.current(), "account_type": self.limits.account_type,
                                               **self.trading.state.as_status(), "market": self.market.context.summary()})
