"""The terminal's clock as seen from the executor: readings, the measured rate, restarts."""

from actors.server_clock import ServerClock, server_now


def test_no_reading_no_time() -> None:
    clock = ServerClock()
    assert clock.now_ms(10.0) is None
    assert clock.snapshot() is None
    assert server_now(None, 10.0) is None


def test_a_real_terminal_runs_at_wall_speed_between_readings() -> None:
    clock = ServerClock()
    clock.observe(1_000_000, at=100.0)
    assert clock.now_ms(100.5) == 1_000_500
    clock.observe(1_003_000, at=103.0)
    assert clock.rate == 1.0
    assert clock.now_ms(104.25) == 1_004_250


def test_a_fast_simulator_is_followed_at_its_speed() -> None:
    clock = ServerClock()
    for second in range(6):
        clock.observe(1_000_000 + second * 600_000, at=50.0 + second)
    assert abs(clock.rate - 600.0) < 1e-9
    # half a second after the last reading, 300 simulated seconds have passed
    assert clock.now_ms(55.5) == 1_000_000 + 5 * 600_000 + 300_000
    assert server_now(clock.snapshot(), 55.5) == clock.now_ms(55.5)


def test_a_clock_that_goes_back_starts_a_fresh_measurement() -> None:
    clock = ServerClock()
    for second in range(5):
        clock.observe(10_000_000 + second * 60_000, at=float(second))
    assert abs(clock.rate - 60.0) < 1e-9
    clock.observe(5_000_000, at=5.0)  # a new terminal with an earlier clock
    assert clock.now_ms(5.0) == 5_000_000
    clock.observe(5_002_000, at=7.0)
    assert clock.rate == 1.0


def test_readings_too_close_together_keep_the_last_rate() -> None:
    clock = ServerClock()
    clock.observe(0, at=0.0)
    clock.observe(10_000, at=0.5)  # 20x over half a second: too noisy to believe yet
    assert clock.rate == 1.0
