"""The RiskGuard's limits for its account: the defaults of its type (demo or live, as the
terminal reports it; live until it has), the service config's, and the operator's updates.

An update is validated whole before any of it applies. One that loosens a live account
beyond the live defaults needs the request's TOTP code, checked here because only the owner
of the current limits can tell loosening from tightening. A refused update is a
ControlError naming the field or the keys.
"""

from __future__ import annotations

from typing import Any

from actors import errors
from actors.risk import checks as rc
from actors.risk.limits import LimitsError, coerce, loosened_keys, validate_limits
from actors.runtime.confirmation import ConfirmationRequired, OtpVerifier
from bridge import mt5


class GuardLimits:
    def __init__(self, *, login: int, otp: OtpVerifier, configured_defaults: dict[str, dict[str, Any]]) -> None:
        self.login = login
        self.otp = otp
        self.configured_defaults = configured_defaults  # the service config's, per account type
        self._overrides: dict[str, Any] = {}
        # Never from user input: the terminal tells. Until it has, the live rules apply (fail closed).
        self.account_type = "unknown"
        self._current: tuple[str, dict[str, Any]] | None = None  # (rules type, limits) until they change

    @property
    def overrides(self) -> dict[str, Any]:
        return self._overrides

    @overrides.setter
    def overrides(self, value: dict[str, Any]) -> None:
        self._overrides, self._current = value, None

    def current(self) -> dict[str, Any]:
        """The limits in force: built once per change (every order is checked against them),
        handed out as a copy nobody's edit can reach."""
        if self._current is None or self._current[0] != self.rules_type():
            self._current = (self.rules_type(), {**self.defaults(), **self._overrides})
        return dict(self._current[1])

    def defaults(self) -> dict[str, Any]:
        account_type = self.rules_type()
        return {**rc.default_limits(account_type), **self.configured_defaults.get(account_type, {})}

    def rules_type(self) -> str:
        return "demo" if self.account_type == "demo" else "live"

    def learn_type(self, info: dict[str, Any]) -> bool:
        """The account type from the terminal's account info; True if it changed."""
        account_type = "live" if info.get("trade_mode") == mt5.ACCOUNT_TRADE_MODE_REAL else "demo"
        changed = account_type != self.account_type
        self.account_type = account_type
        return changed

    def update(self, requested: dict[str, Any], otp_code: str | None) -> None:
        """Apply an operator's update, or raise ControlError and apply nothing."""
        current, defaults = self.current(), self.defaults()
        cleaned: dict[str, Any] = {}
        try:
            for key, value in requested.items():
                field = f"data.limits.{key}"
                cleaned[key] = coerce(key, value)
            field = "data.limits"
            _, needs_otp = validate_limits(current, cleaned, self.rules_type(), defaults)
        except LimitsError as exc:
            raise errors.ControlError(errors.BAD_REQUEST, str(exc), {"field": field}) from None
        if needs_otp:
            keys = loosened_keys(current, cleaned, defaults)
            try:
                self.otp.confirm(otp_code, f"UPDATE_RISK_LIMITS loosens {', '.join(keys)} on live account "
                                           f"{self.login} beyond the live defaults")
            except ConfirmationRequired as exc:
                raise errors.ControlError(errors.CONFIRMATION_REQUIRED, str(exc),
                                          {"accounts": [self.login], "keys": keys}) from None
        self._overrides.update(cleaned)
        self._current = None
