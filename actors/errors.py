"""The error codes a command can end with (CONTROL_API.md), and the exception that carries one.

Every actor on a command's path raises or answers with these; the control server only puts
them on the wire. A refusal's code is chosen where the refusal is decided, never read back
from its text.
"""

from __future__ import annotations

from typing import Any

BAD_REQUEST = "BAD_REQUEST"
UNKNOWN_COMMAND = "UNKNOWN_COMMAND"
UNAUTHORIZED = "UNAUTHORIZED"
RATE_LIMITED = "RATE_LIMITED"
NOT_FOUND = "NOT_FOUND"
CONFLICT = "CONFLICT"
RISK_REJECTED = "RISK_REJECTED"
TRADING_LOCKED = "TRADING_LOCKED"
CONFIRMATION_REQUIRED = "CONFIRMATION_REQUIRED"
BROKER_ERROR = "BROKER_ERROR"
UNAVAILABLE = "UNAVAILABLE"
TIMEOUT = "TIMEOUT"
INTERNAL = "INTERNAL"

ERROR_CODES = frozenset({
    BAD_REQUEST, UNKNOWN_COMMAND, UNAUTHORIZED, RATE_LIMITED, NOT_FOUND, CONFLICT,
    RISK_REJECTED, TRADING_LOCKED, CONFIRMATION_REQUIRED, BROKER_ERROR, UNAVAILABLE,
    TIMEOUT, INTERNAL,
})


class ControlError(Exception):
    """A command that ends in an error reply; raised anywhere on the command's path."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        assert code in ERROR_CODES, code
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}

    def as_error(self) -> dict[str, Any]:
        return error(self.code, self.message, self.details)


def error(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details or {}}
