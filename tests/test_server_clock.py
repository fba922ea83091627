"""The terminal's clock as seen from the executor: readings, extrapolation, ticks, restarts."""

from actors.terminal.server_clock import MAX_EXTRAPOLATION_S, ServerClock, server_now


def test_no_reading_no_time() -> None:
    clock = ServerClock()
    assert clock.now_ms(10.0) is None
    assert clock.snapshot() is None
    assert server_now(None, 10.0) is None
    assert server_now(None, 10.0, latest_tick_ms=5) == 5


def test_between_readings_the_clock_runs_at_wall_speed_for_one_heartbeat_at_most() -> None:
    clock = ServerClock()
    clock.observe(1_000_000, at=100.0)
    assert clock.now_ms(100.5) == 1_000_500
    assert clock.now_ms(100.0 + MAX_EXTRAPOLATION_S + 30) == 1_000_000 + int(MAX_EXTRAPOLATION_S * 1000)
    assert clock.now_ms(99.0) == 1_000_000  # a reading from "the future" of the caller's clock


def test_a_newer_tick_is_a_fresher_reading_than_the_heartbeat() -> None:
    clock = ServerClock()
    clock.observe(1_000_000, at=50.0)
    # A fast simulator (or a replay) has moved on: its ticks say so before the next heartbeat.
    assert server_now(clock.snapshot(), 50.2, latest_tick_ms=1_120_000) == 1_120_000
    assert server_now(clock.snapshot(), 50.2, latest_tick_ms=900_000) == 1_000_200


def test_a_clock_that_goes_back_is_believed() -> None:
    clock = ServerClock()
    clock.observe(10_000_000, at=1.0)
    clock.observe(5_000_000, at=2.0)  # a new terminal with an earlier clock, or a replay restarted
    assert clock.now_ms(2.0) == 5_000_000
