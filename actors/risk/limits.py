"""Validating risk-limit updates (pure): which values are legal, which loosen, which need a TOTP.

Tightening is always allowed. Loosening is allowed on a demo account; on a live account it
is allowed without a code only back up to the live defaults; a value looser than both the
current one and the live default needs a valid TOTP (`otp` in the request). "Looser" is per
key: a higher maximum, a lower minimum or buffer, "reduce" rather than "refuse", or
no-trade windows that no longer cover every minute they covered. Keys with no direction
(`correlation_window`) change freely.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from actors.risk.calendar import in_window, parse_hhmm

UP, DOWN, ACTION, WINDOWS, NEUTRAL = "up", "down", "action", "windows", "neutral"  # which way loosens
ACTIONS = ("refuse", "reduce")  # strictest first
# The bars whose closes the correlation check compares (MT5's timeframes, M1 to D1).
CORRELATION_TIMEFRAMES = ("M1", "M5", "M15", "M30", "H1", "H4", "D1")


class LimitsError(ValueError):
    """A risk-limit update that cannot be applied; the message names the key and the legal values."""


@dataclass(frozen=True, slots=True)
class Rule:
    kind: str  # number | int | action | windows
    low: float = 0.0
    high: float = math.inf
    low_open: bool = False  # low itself excluded
    looser: str = UP


LIMIT_RULES: dict[str, Rule] = {
    "max_daily_loss_pct": Rule("number", 0, 100, low_open=True),
    "max_drawdown_pct": Rule("number", 0, 100, low_open=True),
    "max_lot_size": Rule("number", 0, 100_000, low_open=True),
    "max_positions": Rule("int", 0, 100_000),
    "max_positions_per_strategy": Rule("int", 0, 100_000),
    "max_correlation": Rule("number", 0, 1),
    "correlation_action": Rule("action", looser=ACTION),
    "correlation_window": Rule("int", 20, 10_000, looser=NEUTRAL),
    "correlation_timeframe": Rule("timeframe", looser=NEUTRAL),
    "max_currency_exposure_lots": Rule("number", 0, 1_000_000, low_open=True),
    "max_orders_per_minute": Rule("int", 1, 100_000),
    "max_orders_per_minute_per_strategy": Rule("int", 1, 100_000),
    "min_margin_level_pct": Rule("number", 0, 100_000, looser=DOWN),
    "session_close_buffer_min": Rule("number", 0, 1440, looser=DOWN),
    "no_trade_windows": Rule("windows", looser=WINDOWS),
    "news_blackout_min": Rule("number", 0, 1440, looser=DOWN),
}


def validate_limits(current: Mapping[str, Any], update: Mapping[str, Any], account_type: str,
                    defaults: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """(the effective limits after `update`, whether applying them needs a TOTP code).

    `current` is the effective limits now, `defaults` the account type's defaults (for a live
    account, the live ones: the line beyond which loosening needs a code). LimitsError on an
    unknown key or an illegal value; nothing is applied then.
    """
    if not update:
        raise LimitsError("no limits given; send at least one of " + ", ".join(LIMIT_RULES))
    cleaned = {key: coerce(key, value) for key, value in update.items()}
    needs_otp = account_type == "live" and bool(loosened_keys(current, cleaned, defaults))
    return {**current, **cleaned}, needs_otp


def loosened_keys(current: Mapping[str, Any], cleaned: Mapping[str, Any], defaults: Mapping[str, Any]) -> list[str]:
    """The keys of a coerced update that go beyond both the current value and the default:
    what a live account's CONFIRMATION_REQUIRED names."""
    return [key for key, value in cleaned.items()
            if is_looser(key, value, current.get(key, defaults.get(key))) and is_looser(key, value, defaults.get(key))]


def coerce(key: str, value: Any) -> Any:
    """`value` as the limit's type; LimitsError when it is not legal."""
    rule = LIMIT_RULES.get(key)
    if rule is None:
        raise LimitsError(f"unknown risk limit {key!r}; known: {', '.join(LIMIT_RULES)}")
    if rule.kind == "action":
        if value not in ACTIONS:
            raise LimitsError(f"{key} must be one of {', '.join(ACTIONS)}, got {value!r}")
        return value
    if rule.kind == "windows":
        return _windows(key, value)
    if rule.kind == "timeframe":
        if value not in CORRELATION_TIMEFRAMES:
            raise LimitsError(f"{key} must be one of {', '.join(CORRELATION_TIMEFRAMES)}, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise LimitsError(f"{key} must be a number, got {value!r}")
    if rule.kind == "int" and value != int(value):
        raise LimitsError(f"{key} must be a whole number, got {value!r}")
    too_low = value <= rule.low if rule.low_open else value < rule.low
    if too_low or value > rule.high:
        low = f"> {rule.low:g}" if rule.low_open else f">= {rule.low:g}"
        raise LimitsError(f"{key} must be {low} and <= {rule.high:g}, got {value!r}")
    return int(value) if rule.kind == "int" else float(value)


def _windows(key: str, value: Any) -> list[list[str]]:
    if not isinstance(value, (list, tuple)) or len(value) > 10:
        raise LimitsError(f"{key} must be a list of up to 10 [\"HH:MM\", \"HH:MM\"] pairs, got {value!r}")
    windows = []
    for pair in value:
        try:
            start, end = pair
            parse_hhmm(start), parse_hhmm(end)
        except (TypeError, ValueError):
            raise LimitsError(f"{key}: {pair!r} is not a [\"HH:MM\", \"HH:MM\"] pair (server time)") from None
        windows.append([str(start), str(end)])
    return windows


def covered_minutes(windows: Any) -> frozenset[int]:
    spans = [(parse_hhmm(start), parse_hhmm(end)) for start, end in windows or ()]
    return frozenset(m for m in range(24 * 60) if any(in_window(m, s, e) for s, e in spans))


def is_looser(key: str, new: Any, old: Any) -> bool:
    """Whether `new` allows more than `old` for limit `key` (no old value: nothing to loosen)."""
    if old is None or new is None:
        return False
    looser = LIMIT_RULES[key].looser
    if looser == UP:
        return float(new) > float(old) + 1e-12
    if looser == DOWN:
        return float(new) < float(old) - 1e-12
    if looser == ACTION:
        return ACTIONS.index(new) > ACTIONS.index(old)
    if looser == WINDOWS:
        return not covered_minutes(new) >= covered_minutes(old)
    return False
