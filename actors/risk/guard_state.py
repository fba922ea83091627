"""The RiskGuard's trading state: the automatic halt on a breach, and SET_TRADING_STATE.

A breach of the daily loss or drawdown limit halts only its own account: it is flattened, its
strategies stop, and it stays locked for the kill switch's lock time, journaled so a restart
keeps it; the other accounts trade on. `TradingStateControl` holds the state and applies the
pure rules of actors.risk.trading_state; a refused request is a ControlError.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from loguru import logger

from actors import errors
from actors import messages as m
from actors.risk import checks as rc
from actors.risk.book import RiskBook
from actors.risk.guard_limits import GuardLimits
from actors.risk.trading_state import TradingState, TransitionRefused, on_breach, on_request
from actors.runtime.confirmation import ConfirmationRequired, OtpVerifier
from actors.runtime.directory import Directory


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class TradingStateControl:
    def __init__(self, *, login: int, directory: Directory, book: RiskBook, limits: GuardLimits, otp: OtpVerifier,
                 lock_s: float, kill_switch: Callable[[], bool], post: Callable[[], None]) -> None:
        self.login = login
        self.directory = directory
        self.book = book
        self.limits = limits
        self.otp = otp
        self.lock_s = lock_s
        self.kill_switch = kill_switch
        self.post = post
        self.state = TradingState()  # ACTIVE / REDUCING / HALTED, with the breach lock

    def restore(self, row: dict[str, Any] | None) -> None:
        self.state = TradingState.from_row(row)
        if self.state.state != rc.ACTIVE:
            logger.warning("account {} restored {}: {}", self.login, self.state.state, self.state.reason)

    def judge_breaches(self) -> None:
        """After every account update: a breach halts, flattens and locks this account."""
        if self.kill_switch():
            return  # the global kill switch is flattening everything already
        halted = on_breach(self.state, self._breaches(), _now_ms(), self.lock_s)
        if halted is None:
            return
        reason = f"account {self.login}: {halted.reason}"
        logger.critical("risk limit breached: {}; halting the account, flattening it, trading locked until {}",
                        reason, _iso(halted.locked_until))
        self._change(halted)
        self.directory.tell("strategies", m.StopAllStrategies(reason=f"account halted: {reason}", account=self.login))
        self.directory.tell(f"account:{self.login}", m.Flatten(corr="", account=self.login, reason=reason))

    def request(self, msg: m.SetTradingState) -> dict[str, Any]:
        """An operator's SET_TRADING_STATE: the state after it, or ControlError saying why not."""
        try:
            new = on_request(self.state, msg.state, msg.reason, _now_ms(), breaches=self._breaches(),
                             kill_switch_active=self.kill_switch())
            if new.state == rc.ACTIVE and self.state.state != rc.ACTIVE and self.limits.rules_type() == "live":
                self.otp.confirm(msg.otp, f"SET_TRADING_STATE ACTIVE re-enables live account {self.login}")
        except TransitionRefused as exc:
            raise errors.ControlError(exc.code, str(exc), exc.details) from None
        except ConfirmationRequired as exc:
            raise errors.ControlError(errors.CONFIRMATION_REQUIRED, str(exc), {"accounts": [self.login]}) from None
        if new != self.state:
            logger.warning("account {} trading state {} -> {} ({})", self.login, self.state.state, new.state,
                           new.reason or "operator")
            self._change(new)
        return {"account": self.login, **self.state.as_status()}

    def _breaches(self) -> list[str]:
        book = self.book.account_book(trading_state=self.state.state, kill_switch=False)
        return rc.breaches(book, self.limits.current())

    def _change(self, new: TradingState) -> None:
        self.state = new
        self.directory.tell("journal", m.SaveTradingState(account=self.login, state=new.as_row()))
        self.directory.publish(m.TradingStateChanged(account=self.login, state=new.state, reason=new.reason,
                                                     locked_until=new.locked_until))
        self.post()


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000))
