"""Pre-trade checks (actors/risk/checks.py): each rule alone, then all together."""

from __future__ import annotations

import dataclasses

import pytest

from actors.risk import checks as rc
from actors.risk.limits import LIMIT_RULES, coerce, is_looser
from actors.risk.checks import (
    ACTIVE, CHECKS, DEMO_LIMITS, HALTED, KILL_SWITCH_REASON, LIVE_LIMITS, REDUCING, Book, OrderToCheck,
    check_kill_switch, check_max_lot_size, check_max_positions, check_max_positions_per_strategy,
    check_trading_state, check_volume, default_limits, evaluate,
)

LIMITS = {"max_lot_size": 1.0, "max_positions": 3, "max_positions_per_strategy": 2}


def run_checks(order: OrderToCheck, book: Book, limits: dict, checks: tuple = CHECKS) -> list[str]:
    """Every failed check's reason, in check order: what `evaluate` refuses with."""
    return list(evaluate(order, book, limits, checks).reasons)


def order(**kw) -> OrderToCheck:
    return OrderToCheck(**{"strategy_id": "sma-1", "symbol": "EURUSD", "side": "buy", "volume": 0.1,
                           "closing": False, **kw})


def book(**kw) -> Book:
    return Book(**{"open_positions": 0, "open_positions_of_strategy": 0, **kw})


# The worst book and limits we can build: every check that can refuse, refuses an opening order.
WORST_BOOK = book(open_positions=99, open_positions_of_strategy=99, trading_state=HALTED, kill_switch=True)


# --------------------------------------------------------------- each check ---
def test_kill_switch():
    assert check_kill_switch(order(), book(kill_switch=True), LIMITS) == KILL_SWITCH_REASON
    assert check_kill_switch(order(), book(kill_switch=False), LIMITS) is None
    assert check_kill_switch(order(closing=True), book(kill_switch=True), LIMITS) is None


@pytest.mark.parametrize(("state", "expected"), [
    (ACTIVE, None),
    (HALTED, "account is HALTED: no new positions"),
    (REDUCING, "account is REDUCING: only closing orders are accepted"),
])
def test_trading_state(state, expected):
    assert check_trading_state(order(), book(trading_state=state), LIMITS) == expected
    assert check_trading_state(order(closing=True), book(trading_state=state), LIMITS) is None


@pytest.mark.parametrize("volume", [0.0, -0.1, float("nan")])
def test_volume_must_be_positive(volume):
    reason = check_volume(order(volume=volume), book(), LIMITS)
    assert reason is not None and reason.startswith("volume must be positive")
    # Even a closing order: a malformed volume is never sent.
    assert check_volume(order(volume=volume, closing=True), book(), LIMITS) == reason


def test_volume_positive_passes():
    assert check_volume(order(volume=0.01), book(), LIMITS) is None


def test_max_lot_size():
    assert check_max_lot_size(order(volume=1.5), book(), LIMITS) == "volume 1.5 exceeds max_lot_size 1"
    assert check_max_lot_size(order(volume=1.0), book(), LIMITS) is None  # at the limit: fine
    assert check_max_lot_size(order(volume=0.3), book(), {"max_lot_size": 0.1 + 0.2}) is None  # float noise
    assert check_max_lot_size(order(volume=1.5, closing=True), book(), LIMITS) is None
    assert check_max_lot_size(order(volume=1e6), book(), {}) is None  # no limit set


def test_max_positions():
    assert check_max_positions(order(), book(open_positions=2), LIMITS) is None
    assert check_max_positions(order(), book(open_positions=3), LIMITS) == "max_positions 3 reached (3 open)"
    assert check_max_positions(order(), book(open_positions=5), LIMITS) == "max_positions 3 reached (5 open)"
    assert check_max_positions(order(closing=True), book(open_positions=5), LIMITS) is None
    assert check_max_positions(order(), book(open_positions=500), {}) is None


def test_max_positions_zero_refuses_every_entry():
    assert check_max_positions(order(), book(open_positions=0), {"max_positions": 0}) is not None


def test_max_positions_per_strategy():
    assert check_max_positions_per_strategy(order(), book(open_positions_of_strategy=1), LIMITS) is None
    reason = check_max_positions_per_strategy(order(), book(open_positions_of_strategy=2), LIMITS)
    assert reason == "max_positions_per_strategy 2 reached for sma-1 (2 open)"
    assert check_max_positions_per_strategy(order(closing=True), book(open_positions_of_strategy=2), LIMITS) is None
    assert check_max_positions_per_strategy(order(), book(open_positions_of_strategy=99), {}) is None


# ------------------------------------------------------------------ closing ---
def test_closing_orders_pass_everything_but_bad_volume():
    closing = order(closing=True, volume=50.0)
    assert run_checks(closing, WORST_BOOK, LIMITS) == []
    bad = order(closing=True, volume=0.0)
    assert run_checks(bad, WORST_BOOK, LIMITS) == ["volume must be positive, got 0"]


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
def test_each_check_lets_a_closing_order_through(check):
    assert check(order(closing=True, volume=50.0), WORST_BOOK, LIMITS) is None


# --------------------------------------------------------------- run_checks ---
def test_run_checks_approves_a_clean_order():
    assert run_checks(order(), book(open_positions=1, open_positions_of_strategy=1), LIMITS) == []


def test_run_checks_returns_every_reason_in_check_order():
    reasons = run_checks(order(volume=2.0), WORST_BOOK, LIMITS)
    assert reasons == [
        KILL_SWITCH_REASON,
        "account is HALTED: no new positions",
        "volume 2 exceeds max_lot_size 1",
        "max_positions 3 reached (99 open)",
        "max_positions_per_strategy 2 reached for sma-1 (99 open)",
    ]


def test_run_checks_with_a_bad_volume_lists_it_in_its_place():
    reasons = run_checks(order(volume=-1.0), book(kill_switch=True, open_positions=3), LIMITS)
    assert reasons == [KILL_SWITCH_REASON, "volume must be positive, got -1", "max_positions 3 reached (3 open)"]


def test_run_checks_with_custom_checks():
    always = lambda o, b, lim: "no"  # noqa: E731
    never = lambda o, b, lim: None  # noqa: E731
    assert run_checks(order(), book(), LIMITS, checks=(never, always, never, always)) == ["no", "no"]
    assert run_checks(order(), WORST_BOOK, LIMITS, checks=()) == []


def test_checks_run_kill_switch_and_state_first():
    assert CHECKS[0] is check_kill_switch
    assert CHECKS[1] is check_trading_state


# ----------------------------------------------------------- default_limits ---
def test_default_limits_live():
    limits = default_limits("live")
    assert limits == LIVE_LIMITS
    assert limits["max_daily_loss_pct"] == 2.0
    assert limits["max_drawdown_pct"] == 6.0
    assert limits["max_lot_size"] == 0.1
    assert limits["max_positions"] == 3
    assert limits["max_positions_per_strategy"] == 3
    assert limits["max_correlation"] == 0.7
    assert limits["max_orders_per_minute"] == 10


def test_default_limits_demo():
    limits = default_limits("demo")
    assert limits == DEMO_LIMITS
    assert limits["max_daily_loss_pct"] == 10.0
    assert limits["max_drawdown_pct"] == 30.0
    assert limits["max_lot_size"] == 1.0
    assert limits["max_positions"] == 10
    assert limits["max_positions_per_strategy"] == 10
    assert limits["max_correlation"] == 0.8
    assert limits["max_orders_per_minute"] == 60


def test_default_limits_unknown_type_gets_demo_values():
    assert default_limits("contest") == DEMO_LIMITS


def test_live_limits_are_stricter_than_demo():
    live, demo = default_limits("live"), default_limits("demo")
    assert set(live) == set(demo) == set(LIMIT_RULES)
    for key in live:
        assert not is_looser(key, live[key], demo[key]), key


def test_default_limits_are_legal_values():
    for account_type in ("demo", "live"):
        for key, value in default_limits(account_type).items():
            coerce(key, value)


def test_default_limits_returns_a_copy():
    limits = default_limits("live")
    limits["max_lot_size"] = 99.0
    assert default_limits("live")["max_lot_size"] == 0.1
    assert rc.LIVE_LIMITS["max_lot_size"] == 0.1
    limits["no_trade_windows"] = ()
    assert default_limits("live")["no_trade_windows"] == (("23:55", "00:05"),)


def test_order_and_book_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        order().volume = 5.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        book().kill_switch = True  # type: ignore[misc]
