"""Risk-limit updates (actors/risk/limits.py): legal values, tightening, loosening and the TOTP line."""

from __future__ import annotations

import pytest

from actors.risk.checks import default_limits
from actors.risk.limits import LIMIT_RULES, LimitsError, covered_minutes, is_looser, validate_limits

LIVE = default_limits("live")
DEMO = default_limits("demo")


def test_tightening_a_live_account_needs_no_code():
    effective, needs_otp = validate_limits(LIVE, {"max_daily_loss_pct": 1.0, "max_positions": 2}, "live", LIVE)
    assert not needs_otp
    assert effective == {**LIVE, "max_daily_loss_pct": 1.0, "max_positions": 2}


def test_loosening_a_live_account_beyond_its_defaults_needs_a_code():
    for update in ({"max_daily_loss_pct": 3.0}, {"max_lot_size": 0.5}, {"max_positions": 4},
                   {"min_margin_level_pct": 150.0}, {"news_blackout_min": 0}, {"session_close_buffer_min": 1},
                   {"correlation_action": "reduce"}, {"no_trade_windows": []},
                   {"no_trade_windows": [["23:58", "00:02"]]}):
        assert validate_limits(LIVE, update, "live", LIVE)[1], update


def test_loosening_back_up_to_the_live_defaults_needs_no_code():
    current = {**LIVE, "max_daily_loss_pct": 1.0}
    assert validate_limits(current, {"max_daily_loss_pct": 2.0}, "live", LIVE) == (
        {**LIVE, "max_daily_loss_pct": 2.0}, False)
    assert validate_limits(current, {"max_daily_loss_pct": 2.5}, "live", LIVE)[1]


def test_tightening_a_limit_already_beyond_the_defaults_needs_no_code():
    current = {**LIVE, "max_lot_size": 1.0}  # loosened earlier, with a code
    assert validate_limits(current, {"max_lot_size": 0.5}, "live", LIVE)[1] is False


def test_demo_accounts_loosen_freely():
    effective, needs_otp = validate_limits(DEMO, {"max_daily_loss_pct": 50.0, "no_trade_windows": []}, "demo", DEMO)
    assert not needs_otp and effective["max_daily_loss_pct"] == 50.0 and effective["no_trade_windows"] == []


def test_a_wider_window_is_tightening():
    assert not validate_limits(LIVE, {"no_trade_windows": [["23:50", "00:10"], ["12:00", "12:30"]]}, "live",
                               LIVE)[1]


def test_neutral_keys_change_freely():
    assert validate_limits(LIVE, {"correlation_window": 500}, "live", LIVE)[1] is False


def test_values_are_coerced():
    effective, _ = validate_limits(LIVE, {"max_positions": 2.0, "max_daily_loss_pct": 1}, "live", LIVE)
    assert effective["max_positions"] == 2 and isinstance(effective["max_positions"], int)
    assert isinstance(effective["max_daily_loss_pct"], float)


@pytest.mark.parametrize(("update", "named"), [
    ({"max_leverage": 3}, "unknown risk limit 'max_leverage'"),
    ({"max_daily_loss_pct": 0}, "max_daily_loss_pct must be > 0"),
    ({"max_daily_loss_pct": 101}, "max_daily_loss_pct must be > 0 and <= 100"),
    ({"max_positions": 1.5}, "max_positions must be a whole number"),
    ({"max_positions": -1}, "max_positions must be >= 0"),
    ({"max_positions": "1"}, "max_positions must be a number"),
    ({"max_positions": True}, "max_positions must be a number"),
    ({"max_lot_size": float("nan")}, "max_lot_size must be a number"),
    ({"max_correlation": 1.1}, "max_correlation must be >= 0 and <= 1"),
    ({"correlation_action": "ignore"}, "correlation_action must be one of refuse, reduce"),
    ({"no_trade_windows": [["23:55"]]}, "no_trade_windows"),
    ({"no_trade_windows": [["25:00", "01:00"]]}, "no_trade_windows"),
    ({"no_trade_windows": "23:55-00:05"}, "no_trade_windows"),
    ({}, "no limits given"),
])
def test_illegal_updates_are_refused_by_name(update, named):
    with pytest.raises(LimitsError, match=named.replace("(", r"\(")):
        validate_limits(LIVE, update, "live", LIVE)


def test_is_looser_by_direction():
    assert is_looser("max_lot_size", 0.2, 0.1) and not is_looser("max_lot_size", 0.1, 0.1)
    assert is_looser("min_margin_level_pct", 100.0, 200.0) and not is_looser("min_margin_level_pct", 300.0, 200.0)
    assert is_looser("correlation_action", "reduce", "refuse") and not is_looser("correlation_action", "refuse",
                                                                                 "reduce")
    assert not is_looser("max_lot_size", 5.0, None)  # nothing to loosen


def test_covered_minutes():
    assert len(covered_minutes([["23:55", "00:05"]])) == 10
    assert len(covered_minutes([["12:00", "13:00"], ["12:30", "13:30"]])) == 90
    assert covered_minutes([]) == frozenset()


def test_every_default_key_has_a_rule():
    assert set(LIVE) == set(DEMO) == set(LIMIT_RULES)
