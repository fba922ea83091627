"""Pre-trade checks (pure): each a function `(order, book, limits) -> reason | None`.

Every check runs for every order, so a refusal lists all its reasons at once. Closing
orders reduce risk and pass everything but a malformed volume: an operator must always be
able to get flat. The account's trading state (ACTIVE, REDUCING, HALTED) and the kill
switch come first, because they refuse regardless of the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

ACTIVE = "ACTIVE"
REDUCING = "REDUCING"  # only closing orders
HALTED = "HALTED"

KILL_SWITCH_REASON = "kill switch engaged: trading is locked"

DEMO_LIMITS = {"max_daily_loss_pct": 10.0, "max_drawdown_pct": 30.0, "max_lot_size": 1.0, "max_positions": 10,
               "max_positions_per_strategy": 10, "max_correlation": 0.8, "max_orders_per_minute": 60}
LIVE_LIMITS = {"max_daily_loss_pct": 2.0, "max_drawdown_pct": 6.0, "max_lot_size": 0.1, "max_positions": 3,
               "max_positions_per_strategy": 3, "max_correlation": 0.7, "max_orders_per_minute": 10}


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderToCheck:
    strategy_id: str
    symbol: str
    side: str
    volume: float
    closing: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Book:
    """What the risk checks see of the account."""
    open_positions: int
    open_positions_of_strategy: int
    trading_state: str = ACTIVE
    kill_switch: bool = False


Check = Callable[[OrderToCheck, Book, Mapping[str, Any]], str | None]


def check_kill_switch(order: OrderToCheck, book: Book, limits: Mapping[str, Any]) -> str | None:
    if book.kill_switch and not order.closing:
        return KILL_SWITCH_REASON
    return None


def check_trading_state(order: OrderToCheck, book: Book, limits: Mapping[str, Any]) -> str | None:
    if order.closing:
        return None
    if book.trading_state == HALTED:
        return "account is HALTED: no new positions"
    if book.trading_state == REDUCING:
        return "account is REDUCING: only closing orders are accepted"
    return None


def check_volume(order: OrderToCheck, book: Book, limits: Mapping[str, Any]) -> str | None:
    if not order.volume > 0:
        return f"volume must be positive, got {order.volume:g}"
    return None


def check_max_lot_size(order: OrderToCheck, book: Book, limits: Mapping[str, Any]) -> str | None:
    limit = limits.get("max_lot_size")
    if not order.closing and limit is not None and order.volume > limit + 1e-9:
        return f"volume {order.volume:g} exceeds max_lot_size {limit:g}"
    return None


def check_max_positions(order: OrderToCheck, book: Book, limits: Mapping[str, Any]) -> str | None:
    limit = limits.get("max_positions")
    if not order.closing and limit is not None and book.open_positions >= limit:
        return f"max_positions {limit} reached ({book.open_positions} open)"
    return None


def check_max_positions_per_strategy(order: OrderToCheck, book: Book, limits: Mapping[str, Any]) -> str | None:
    limit = limits.get("max_positions_per_strategy")
    if not order.closing and limit is not None and book.open_positions_of_strategy >= limit:
        return (f"max_positions_per_strategy {limit} reached for {order.strategy_id} "
                f"({book.open_positions_of_strategy} open)")
    return None


CHECKS: tuple[Check, ...] = (
    check_kill_switch, check_trading_state, check_volume, check_max_lot_size, check_max_positions,
    check_max_positions_per_strategy,
)


def run_checks(order: OrderToCheck, book: Book, limits: Mapping[str, Any],
               checks: tuple[Check, ...] = CHECKS) -> list[str]:
    """Every failed check's reason, in check order; empty means approved."""
    return [reason for check in checks if (reason := check(order, book, limits)) is not None]


def default_limits(account_type: str) -> dict[str, Any]:
    return dict(LIVE_LIMITS if account_type == "live" else DEMO_LIMITS)
