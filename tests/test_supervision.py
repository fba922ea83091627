"""RestartIntensity (actors/runtime/supervision.py): at most N restarts in W seconds, OTP-style."""

from __future__ import annotations

from actors.runtime.supervision import RestartIntensity


def test_defaults_three_in_sixty():
    r = RestartIntensity()
    assert (r.max_restarts, r.window_s) == (3, 60.0)


def test_allows_up_to_the_limit_then_refuses():
    r = RestartIntensity(3, 60.0)
    assert [r.allow(t) for t in (0.0, 10.0, 20.0)] == [True, True, True]
    assert r.allow(30.0) is False
    assert r.recent == 4


def test_old_failures_leave_the_window():
    r = RestartIntensity(3, 60.0)
    for t in (0.0, 10.0, 20.0):
        r.allow(t)
    assert r.allow(61.0) is True  # 0.0 is now outside the window
    assert r.recent == 3


def test_a_failure_exactly_window_old_still_counts():
    r = RestartIntensity(3, 60.0)
    for t in (0.0, 10.0, 20.0):
        r.allow(t)
    assert r.allow(60.0) is False  # 60.0 - 0.0 is not more than the window


def test_a_crash_loop_is_refused_and_stays_refused():
    r = RestartIntensity(3, 60.0)
    results = [r.allow(t * 0.5) for t in range(10)]
    assert results == [True] * 3 + [False] * 7


def test_quiet_period_resets():
    r = RestartIntensity(3, 60.0)
    for t in (0.0, 1.0, 2.0, 3.0):
        r.allow(t)
    assert r.allow(200.0) is True
    assert r.recent == 1


def test_strategy_supervisor_intensity_five_in_sixty():
    r = RestartIntensity(max_restarts=5, window_s=60.0)
    assert all(r.allow(float(t)) for t in range(5))
    assert r.allow(5.0) is False


def test_zero_restarts_refuses_the_first_failure():
    assert RestartIntensity(0, 60.0).allow(0.0) is False


def test_uses_the_monotonic_clock_when_no_time_is_given():
    r = RestartIntensity(1, 60.0)
    assert r.allow() is True
    assert r.allow() is False
