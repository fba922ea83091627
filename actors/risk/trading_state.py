"""An account's trading state (pure): ACTIVE, REDUCING (only closing orders), HALTED.

Two ways in, one way out:
* a breach of the daily loss or drawdown limit HALTS the account automatically and locks it
  for the kill switch's lock time (the RiskGuard then flattens it and stops its strategies);
* an operator may set REDUCING or HALTED at any time (tightening needs no confirmation; an
  operator's halt keeps positions, which exits still manage);
* back to ACTIVE only by an operator, never while a breach lock runs, never while a limit is
  still breached, and on a live account only with a TOTP code (the RiskGuard checks it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from actors.risk.model import ACTIVE, HALTED, REDUCING

STATES = (ACTIVE, REDUCING, HALTED)
BREACH = "breach"
OPERATOR = "operator"


class TransitionRefused(Exception):
    """A state change that may not happen now; `code` is the control error code."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.details = details or {}


@dataclass(frozen=True, slots=True)
class TradingState:
    state: str = ACTIVE
    reason: str = ""
    by: str = ""  # BREACH | OPERATOR | "" (never changed)
    locked_until: int = 0  # ms, wall clock; only a breach locks

    def locked(self, now_ms: int) -> bool:
        return self.state == HALTED and now_ms < self.locked_until

    def as_status(self) -> dict[str, Any]:
        return {"trading_state": self.state, "trading_state_reason": self.reason or None,
                "locked_until": self.locked_until or None}

    def as_row(self) -> dict[str, Any]:
        return {"state": self.state, "reason": self.reason, "by": self.by, "locked_until": self.locked_until}

    @classmethod
    def from_row(cls, row: dict[str, Any] | None) -> TradingState:
        if not row or row.get("state") not in STATES:
            return cls()
        return cls(state=row["state"], reason=str(row.get("reason", "")), by=str(row.get("by", "")),
                   locked_until=int(row.get("locked_until") or 0))


def on_breach(current: TradingState, reasons: list[str], now_ms: int, lock_s: float) -> TradingState | None:
    """The HALT a breach causes, or None when the account is already halted (one flatten, one lock)."""
    if current.state == HALTED or not reasons:
        return None
    return TradingState(state=HALTED, reason="; ".join(reasons), by=BREACH, locked_until=now_ms + int(lock_s * 1000))


def on_request(current: TradingState, wanted: str, reason: str, now_ms: int, *,
               breaches: list[str], kill_switch_active: bool) -> TradingState:
    """The state an operator's request leads to; TransitionRefused says why not."""
    if wanted not in STATES:
        raise TransitionRefused("BAD_REQUEST", f"state must be one of {', '.join(STATES)}, got {wanted!r}",
                                {"field": "data.state"})
    if wanted != ACTIVE:
        if current.locked(now_ms) and wanted == REDUCING:
            raise TransitionRefused("TRADING_LOCKED", f"the account is HALTED after a breach ({current.reason}) "
                                    "until the lock expires", {"locked_until": current.locked_until})
        keep_lock = current.locked_until if current.state == HALTED and wanted == HALTED else 0
        return TradingState(state=wanted, reason=reason or "set by operator", by=OPERATOR,
                            locked_until=keep_lock if keep_lock > now_ms else 0)
    if current.state == ACTIVE:
        return current
    if current.locked(now_ms):
        raise TransitionRefused("TRADING_LOCKED", f"the account is HALTED after a breach ({current.reason}) "
                                "until the lock expires", {"locked_until": current.locked_until})
    if kill_switch_active:
        raise TransitionRefused("TRADING_LOCKED", "the kill switch is engaged: RESET_KILL_SWITCH first")
    if breaches:
        raise TransitionRefused("RISK_REJECTED", "a risk limit is still breached: "
                                + "; ".join(breaches) + " (raise the limit with UPDATE_RISK_LIMITS, or wait "
                                "for the next server day for the daily loss)", {"reasons": breaches})
    return replace(TradingState(), reason=reason or "")
