"""Pre-trade checks (pure): each a function `(order, book, limits) -> reason | warning | None`.

Every check runs for every order, so a refusal lists all its reasons at once, with the
warnings of the checks that passed. Closing orders reduce risk and pass everything but a
malformed volume: an operator must always be able to get flat. The account's trading state
(ACTIVE, REDUCING, HALTED) and the kill switch come first, because they refuse regardless of
the rest; the exposure checks come before the volume-dependent ones, so the lot size and
margin checks judge an order already reduced for correlation. A limit that is absent, or a
Book field that is None, skips its check. Time checks live in risk_calendar, exposure
checks in risk_exposure, the types in risk_types.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from typing import Any

from actors.risk.calendar import check_news, check_no_trade_window, check_trading_hours
from actors.risk.exposure import check_correlation, check_currency_exposure
from actors.risk.model import (ACTIVE, HALTED, REDUCING, Book, Check, NewsEvent, OrderToCheck, RiskResult,
                               RiskWarning)

__all__ = ["ACTIVE", "CHECKS", "DEMO_LIMITS", "HALTED", "KILL_SWITCH_REASON", "LIVE_LIMITS", "REDUCING", "Book",
           "Check", "NewsEvent", "OrderToCheck", "RiskResult", "RiskWarning", "breaches", "daily_pnl",
           "default_limits", "drawdown_pct", "evaluate", "orders_in_window"]

KILL_SWITCH_REASON = "kill switch engaged: trading is locked"
ROLLOVER = (("23:55", "00:05"),)

DEMO_LIMITS = {"max_daily_loss_pct": 10.0, "max_drawdown_pct": 30.0, "max_lot_size": 1.0, "max_positions": 10,
               "max_positions_per_strategy": 10, "max_correlation": 0.8, "max_orders_per_minute": 60,
               "max_orders_per_minute_per_strategy": 30, "correlation_action": "reduce", "correlation_window": 100,
               "correlation_timeframe": "H1",
               "max_currency_exposure_lots": 10.0, "min_margin_level_pct": 100.0, "session_close_buffer_min": 2,
               "no_trade_windows": ROLLOVER, "news_blackout_min": 5}
LIVE_LIMITS = {"max_daily_loss_pct": 2.0, "max_drawdown_pct": 6.0, "max_lot_size": 0.1, "max_positions": 3,
               "max_positions_per_strategy": 3, "max_correlation": 0.7, "max_orders_per_minute": 10,
               "max_orders_per_minute_per_strategy": 5, "correlation_action": "refuse", "correlation_window": 100,
               "correlation_timeframe": "H1",
               "max_currency_exposure_lots": 0.3, "min_margin_level_pct": 200.0, "session_close_buffer_min": 5,
               "no_trade_windows": ROLLOVER, "news_blackout_min": 15}


def check_kill_switch(order: OrderToCheck, book: Book, limits: Mapping[str, Any]) -> str | None:
    if book.kill_switch and not order.closing:
        return KILL_SWITCH_REASON
    return None


def check_trading_state(order: OrderToCheck, book: Book, limits: Mapping[str, Any]) -> str | None:
    if order.closing:
        return None
    why = f" ({book.trading_state_reason})" if book.trading_state_reason else ""
    if book.trading_state == HALTED:
        return f"account is HALTED{why}: no new positions"
    if book.trading_state == REDUCING:
        return f"account is REDUCING{why}: only closing orders are accepted"
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


# ------------------------------------------------------------------ money ---
def daily_pnl(book: Book) -> float | None:
    """Realised + floating profit since the server day start; None when not known."""
    realised = book.realised_today
    if realised is None and book.balance is not None and book.day_start_balance is not None:
        realised = book.balance - book.day_start_balance
    floating = book.floating_pnl
    if floating is None and book.equity is not None and book.balance is not None:
        floating = book.equity - book.balance
    if realised is None:
        return None
    return realised + (floating or 0.0)


def drawdown_pct(book: Book) -> float | None:
    if book.peak_equity is None or book.equity is None or not book.peak_equity > 0:
        return None
    return max(0.0, (book.peak_equity - book.equity) / book.peak_equity * 100.0)


def _daily_loss_breach(book: Book, limits: Mapping[str, Any]) -> str | None:
    limit = limits.get("max_daily_loss_pct")
    pnl = daily_pnl(book)
    if limit is None or pnl is None or not book.day_start_balance or book.day_start_balance <= 0:
        return None
    allowed = book.day_start_balance * float(limit) / 100.0
    if -pnl >= allowed - 1e-9:
        return (f"daily loss {-pnl:.2f} ({-pnl / book.day_start_balance * 100:.2f}% of the day's starting balance "
                f"{book.day_start_balance:.2f}) reached max_daily_loss_pct {limit:g}")
    return None


def _drawdown_breach(book: Book, limits: Mapping[str, Any]) -> str | None:
    limit = limits.get("max_drawdown_pct")
    drawdown = drawdown_pct(book)
    if limit is None or drawdown is None:
        return None
    if drawdown >= float(limit) - 1e-9:
        return (f"drawdown {drawdown:.2f}% from peak equity {book.peak_equity:.2f} (equity {book.equity:.2f}) "
                f"reached max_drawdown_pct {limit:g}")
    return None


def check_daily_loss(order: OrderToCheck, book: Book, limits: Mapping[str, Any]) -> str | None:
    return None if order.closing else _daily_loss_breach(book, limits)


def check_drawdown(order: OrderToCheck, book: Book, limits: Mapping[str, Any]) -> str | None:
    return None if order.closing else _drawdown_breach(book, limits)


def breaches(book: Book, limits: Mapping[str, Any]) -> list[str]:
    """The daily loss and drawdown limits the account has hit, order or not: the kill switch's trigger."""
    return [reason for reason in (_daily_loss_breach(book, limits), _drawdown_breach(book, limits)) if reason]


def check_margin(order: OrderToCheck, book: Book, limits: Mapping[str, Any]) -> str | None:
    """The order's margin within free margin, and the margin level after it above `min_margin_level_pct`."""
    required = book.required_margin
    if order.closing or required is None:
        return None
    if book.margin_free is not None and required > book.margin_free + 1e-9:
        return f"required margin {required:.2f} exceeds free margin {book.margin_free:.2f}"
    floor = limits.get("min_margin_level_pct")
    used = book.margin
    if used is None and book.margin_level and book.equity is not None:
        used = book.equity / book.margin_level * 100.0
    if floor is None or book.equity is None or used is None or used + required <= 0:
        return None
    level = book.equity / (used + required) * 100.0
    if level < float(floor):
        return f"margin level after the trade would be {level:.1f}%, below min_margin_level_pct {floor:g}"
    return None


# ------------------------------------------------------------------- rate ---
def orders_in_window(times_ms: list[int] | tuple[int, ...], now_ms: int, window_ms: int = 60_000) -> int:
    """How many of `times_ms` fall in the `window_ms` before `now_ms`: the Book's order counts."""
    return sum(1 for t in times_ms if now_ms - window_ms < t <= now_ms)


def check_order_rate(order: OrderToCheck, book: Book, limits: Mapping[str, Any]) -> str | None:
    limit = limits.get("max_orders_per_minute")
    if not order.closing and limit is not None and book.orders_last_minute >= limit:
        return f"max_orders_per_minute {limit} reached ({book.orders_last_minute} orders in the last minute)"
    return None


def check_strategy_order_rate(order: OrderToCheck, book: Book, limits: Mapping[str, Any]) -> str | None:
    limit = limits.get("max_orders_per_minute_per_strategy")
    if not order.closing and limit is not None and book.orders_last_minute_of_strategy >= limit:
        return (f"max_orders_per_minute_per_strategy {limit} reached for {order.strategy_id} "
                f"({book.orders_last_minute_of_strategy} orders in the last minute)")
    return None


CHECKS: tuple[Check, ...] = (
    check_kill_switch, check_trading_state, check_volume, check_correlation, check_currency_exposure,
    check_max_lot_size, check_max_positions, check_max_positions_per_strategy, check_daily_loss, check_drawdown,
    check_margin, check_trading_hours, check_no_trade_window, check_news, check_order_rate,
    check_strategy_order_rate,
)


def evaluate(order: OrderToCheck, book: Book, limits: Mapping[str, Any],
             checks: tuple[Check, ...] = CHECKS) -> RiskResult:
    """Run every check in order. A warning with a volume reduces the order for the checks after
    it (and scales `required_margin` with it: margin is linear in volume)."""
    reasons: list[str] = []
    warnings: list[str] = []
    for check in checks:
        found = check(order, book, limits)
        if isinstance(found, str):
            reasons.append(found)
        elif isinstance(found, RiskWarning):
            warnings.append(found.text)
            if found.volume is not None and 0 < found.volume < order.volume:
                if book.required_margin is not None:
                    book = dataclasses.replace(book, required_margin=book.required_margin * found.volume / order.volume)
                order = dataclasses.replace(order, volume=found.volume)
    return RiskResult(reasons=tuple(reasons), warnings=tuple(warnings), volume=order.volume)


def default_limits(account_type: str) -> dict[str, Any]:
    return copy.deepcopy(LIVE_LIMITS if account_type == "live" else DEMO_LIMITS)
