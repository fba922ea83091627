"""Pre-trade checks on money and rate (actors/risk/checks.py): daily loss, drawdown, margin,
order rate, the kill-switch breaches, and `evaluate` threading a reduced volume through."""

from __future__ import annotations

import pytest

from actors.risk.checks import (CHECKS, LIVE_LIMITS, Book, OrderToCheck, RiskResult, RiskWarning, breaches,
                                check_daily_loss, check_drawdown, check_margin, check_max_lot_size, check_order_rate,
                                check_strategy_order_rate, daily_pnl, drawdown_pct, evaluate, orders_in_window)
from tests.test_risk_checks import run_checks


def order(**kw) -> OrderToCheck:
    return OrderToCheck(**{"strategy_id": "sma-1", "symbol": "EURUSD", "side": "buy", "volume": 0.1,
                           "closing": False, **kw})


def book(**kw) -> Book:
    return Book(**{"open_positions": 0, "open_positions_of_strategy": 0, **kw})


# --------------------------------------------------------------- daily loss ---
DAILY = {"max_daily_loss_pct": 2.0}  # of 10 000 → 200


def test_daily_loss_reached_refuses():
    # −150 realised − 50 floating = −200 = 2 % of 10 000.
    reason = check_daily_loss(order(), book(day_start_balance=10_000.0, realised_today=-150.0, floating_pnl=-50.0),
                              DAILY)
    assert reason == ("daily loss 200.00 (2.00% of the day's starting balance 10000.00) reached "
                      "max_daily_loss_pct 2")


def test_daily_loss_under_the_limit_passes():
    assert check_daily_loss(order(), book(day_start_balance=10_000.0, realised_today=-150.0, floating_pnl=-49.0),
                            DAILY) is None
    # A realised gain offsets a floating loss: +100 − 250 = −150.
    assert check_daily_loss(order(), book(day_start_balance=10_000.0, realised_today=100.0, floating_pnl=-250.0),
                            DAILY) is None


def test_daily_loss_derived_from_balance_and_equity():
    # realised = 9 850 − 10 000 = −150; floating = 9 790 − 9 850 = −60 → −210 ≥ 200.
    full = book(day_start_balance=10_000.0, balance=9_850.0, equity=9_790.0)
    assert daily_pnl(full) == pytest.approx(-210.0)
    assert check_daily_loss(order(), full, DAILY).startswith("daily loss 210.00 (2.10%")


def test_daily_loss_skipped_without_data_or_limit_and_for_closing():
    losing = book(day_start_balance=10_000.0, realised_today=-5_000.0)
    assert check_daily_loss(order(), book(), DAILY) is None
    assert check_daily_loss(order(), losing, {}) is None
    assert check_daily_loss(order(closing=True), losing, DAILY) is None


# ----------------------------------------------------------------- drawdown ---
def test_drawdown():
    limits = {"max_drawdown_pct": 6.0}
    # (10 000 − 9 400) / 10 000 = 6 % → reached; 9 401 → 5.99 %.
    assert check_drawdown(order(), book(peak_equity=10_000.0, equity=9_400.0), limits) == (
        "drawdown 6.00% from peak equity 10000.00 (equity 9400.00) reached max_drawdown_pct 6")
    assert check_drawdown(order(), book(peak_equity=10_000.0, equity=9_401.0), limits) is None
    assert drawdown_pct(book(peak_equity=10_000.0, equity=10_500.0)) == 0.0  # a new high
    assert check_drawdown(order(), book(equity=1.0), limits) is None  # no peak known
    assert check_drawdown(order(closing=True), book(peak_equity=10_000.0, equity=1.0), limits) is None


def test_breaches_are_the_kill_switch_trigger():
    worst = book(day_start_balance=10_000.0, realised_today=-300.0, peak_equity=12_000.0, equity=9_700.0)
    found = breaches(worst, {"max_daily_loss_pct": 2.0, "max_drawdown_pct": 6.0})
    assert len(found) == 2 and found[0].startswith("daily loss 300.00") and found[1].startswith("drawdown 19.17%")
    assert breaches(book(), {"max_daily_loss_pct": 2.0, "max_drawdown_pct": 6.0}) == []


# ------------------------------------------------------------------- margin ---
def test_margin_required_beyond_free_margin():
    reason = check_margin(order(), book(required_margin=500.0, margin_free=400.0), {})
    assert reason == "required margin 500.00 exceeds free margin 400.00"
    assert check_margin(order(), book(required_margin=400.0, margin_free=400.0), {}) is None


def test_margin_level_after_the_trade():
    limits = {"min_margin_level_pct": 200.0}
    # 10 000 / (4 000 + 1 000) = 200 % → fine; with 1 001 → 199.96 % → refused.
    assert check_margin(order(), book(equity=10_000.0, margin=4_000.0, required_margin=1_000.0), limits) is None
    reason = check_margin(order(), book(equity=10_000.0, margin=4_000.0, required_margin=1_001.0), limits)
    assert reason == "margin level after the trade would be 200.0%, below min_margin_level_pct 200"
    # Only the margin level known: 250 % of 10 000 equity means 4 000 used.
    assert check_margin(order(), book(equity=10_000.0, margin_level=250.0, required_margin=1_001.0),
                        limits) is not None
    # No position yet: 10 000 / 1 000 = 1 000 %.
    assert check_margin(order(), book(equity=10_000.0, margin=0.0, required_margin=1_000.0), limits) is None


def test_margin_skipped_without_required_margin_and_for_closing():
    assert check_margin(order(), book(margin_free=0.0), {"min_margin_level_pct": 100.0}) is None
    assert check_margin(order(closing=True), book(required_margin=1e9, margin_free=0.0), {}) is None


# --------------------------------------------------------------------- rate ---
def test_order_rate_per_account():
    limits = {"max_orders_per_minute": 10}
    assert check_order_rate(order(), book(orders_last_minute=9), limits) is None
    assert check_order_rate(order(), book(orders_last_minute=10), limits) == (
        "max_orders_per_minute 10 reached (10 orders in the last minute)")
    assert check_order_rate(order(closing=True), book(orders_last_minute=99), limits) is None


def test_order_rate_per_strategy():
    limits = {"max_orders_per_minute_per_strategy": 5}
    assert check_strategy_order_rate(order(), book(orders_last_minute_of_strategy=4), limits) is None
    assert check_strategy_order_rate(order(), book(orders_last_minute_of_strategy=5), limits) == (
        "max_orders_per_minute_per_strategy 5 reached for sma-1 (5 orders in the last minute)")


def test_orders_in_window():
    now = 1_000_000
    assert orders_in_window([now - 60_000, now - 59_999, now - 1, now, now + 1], now) == 3


# ----------------------------------------------------------------- evaluate ---
def test_evaluate_threads_a_reduced_volume_through_later_checks():
    halve = lambda o, b, lim: RiskWarning("halved", o.volume / 2)  # noqa: E731
    limits = {"max_lot_size": 0.3}
    # 0.5 lots need 1 000 margin with 500 free; halved to 0.25 they need 500 and fit the 0.3 cap.
    result = evaluate(order(volume=0.5), book(required_margin=1_000.0, margin_free=500.0), limits,
                      checks=(halve, check_max_lot_size, check_margin))
    assert result == RiskResult(reasons=(), warnings=("halved",), volume=0.25)
    assert result.approved


def test_evaluate_collects_reasons_and_warnings():
    note = lambda o, b, lim: RiskWarning("just saying")  # noqa: E731
    result = evaluate(order(volume=2.0), book(), {"max_lot_size": 1.0}, checks=(note, check_max_lot_size))
    assert result.reasons == ("volume 2 exceeds max_lot_size 1",) and result.warnings == ("just saying",)
    assert not result.approved and result.volume == 2.0


def test_a_full_book_that_is_healthy_passes_every_check():
    healthy = book(balance=10_000.0, equity=10_050.0, day_start_balance=10_000.0, peak_equity=10_100.0,
                   margin=100.0, margin_free=9_950.0, required_margin=108.0, positions=(("USDJPY", "buy", 0.1),),
                   server_time_ms=1_700_000_000_000, sessions=tuple((d, 0, 86_400) for d in range(1, 6)),
                   orders_last_minute=1, orders_last_minute_of_strategy=1)
    assert evaluate(order(), healthy, LIVE_LIMITS) == RiskResult(volume=0.1)
    assert run_checks(order(), healthy, LIVE_LIMITS) == []
    assert len(CHECKS) == 16
