"""The RiskGuard's trading state: the automatic halt on a breach, and SET_TRADING_STATE.

A mixin of the RiskGuard actor (it reads the guard's `state`, `book`, `limits()`, `otp`). A
breach of the daily loss or drawdown limit halts only its own account: it is flattened, its
strategies stop, and it stays locked for the kill switch's lock time, journaled so a restart
keeps it; the other accounts trade on. The pure rules live in actors.trading_state.
"""

from __future__ import annotations

import time
from typing import Any

from loguru import logger

from actors import errors
from actors import messages as m
from actors.risk import checks as rc
from actors.runtime.confirmation import ConfirmationRequired
from actors.risk.trading_state import TradingState, TransitionRefused, on_breach, on_request


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class TradingStateControl:
    def _breaches(self) -> list[str]:
        book = self.book.account_book(trading_state=self.state.state, kill_switch=False)
        return rc.breaches(book, self.limits())

    def _judge_breaches(self) -> None:
        """After every account update: a breach halts, flattens and locks this account."""
        if self._kill_switch():
            return  # the global kill switch is flattening everything already
        halted = on_breach(self.state, self._breaches(), _now_ms(), self.lock_s)
        if halted is None:
            return
        reason = f"account {self.login}: {halted.reason}"
        logger.critical("risk limit breached: {}; halting the account, flattening it, trading locked until {}",
                        reason, _iso(halted.locked_until))
        self._change_state(halted)
        self.directory.tell("strategies", m.StopAllStrategies(reason=f"account halted: {reason}", account=self.login))
        self.directory.tell(f"account:{self.login}", m.Flatten(corr="", account=self.login, reason=reason))

    def _set_trading_state(self, msg: m.SetTradingState) -> None:
        now = _now_ms()
        try:
            new = on_request(self.state, msg.state, msg.reason, now, breaches=self._breaches(),
                             kill_switch_active=self._kill_switch())
            if new.state == rc.ACTIVE and self.state.state != rc.ACTIVE and self._rules_type() == "live":
                self.otp.confirm(msg.otp, f"SET_TRADING_STATE ACTIVE re-enables live account {self.login}")
        except TransitionRefused as exc:
            return self._reply_error(msg.corr, exc.code, str(exc), exc.details)
        except ConfirmationRequired as exc:
            return self._reply_error(msg.corr, errors.CONFIRMATION_REQUIRED, str(exc), {"accounts": [self.login]})
        if new != self.state:
            logger.warning("account {} trading state {} -> {} ({})", self.login, self.state.state, new.state,
                           new.reason or "operator")
            self._change_state(new)
        self.directory.tell("control", m.CommandReply(corr=msg.corr, ok=True, data={
            "account": self.login, **self.state.as_status()}))

    def _change_state(self, new: TradingState) -> None:
        self.state = new
        self.directory.tell("journal", m.SaveTradingState(account=self.login, state=new.as_row()))
        self.directory.publish(m.TradingStateChanged(account=self.login, state=new.state, reason=new.reason,
                                                     locked_until=new.locked_until))
        self._post()

    def _reply_error(self, corr: str, code: str, message: str, details: dict[str, Any]) -> None:
        self.directory.tell("control", m.CommandReply(corr=corr, ok=False, error=errors.error(code, message, details)))


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000))
