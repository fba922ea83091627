"""Trading sessions at the simulated terminal's socket shell: the feed is quiet while a market
is closed (the FX weekend, gold's daily break), orders then get 10018, and the broker file
and `always_open` choose what the shell enforces. Seen through real CTL and MD sockets, with
the test playing the executor (tests/test_sim_terminal.py's `Executor`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from actors.app.config import SimSettings
from bridge import mt5, protocol
from bridge.sim.price_feed import RandomWalkFeed
from bridge.sim.clock import ManualClock
from bridge.sim.config import AccountConfigError, broker_setup, parse_start
from bridge.sim.options import build_terminal, terminal_arguments
from bridge.trade_server.sessions import add_open_ms, last_close_ms, next_open_ms, open_ms_between, session_open
from bridge.sim.terminal import SimTerminal
from bridge.symbols import DEFAULT_SYMBOLS
from tests.conftest import wait_for
from tests.test_sim_terminal import LOGIN, Executor, buy_request

ROOT = Path(__file__).resolve().parent.parent
TZ = 7200
HOUR = 3_600_000


def utc(*args: int) -> int:
    return int(datetime(*args, tzinfo=timezone.utc).timestamp() * 1000)


FRIDAY_CLOSE = utc(2026, 11, 27, 22)  # Friday 24:00 server time (UTC+2)
MONDAY_OPEN = utc(2026, 11, 29, 22)  # Monday 00:00 server time
SATURDAY_NOON = utc(2026, 11, 28, 10)
TUESDAY_2355 = utc(2026, 11, 24, 21, 55)  # server time; gold breaks 00:00-01:00


class HeldClock:
    """Stands at `start_ms` until `release()`, then runs `speed` times faster than the wall:
    the test first makes sure its MD socket hears the terminal, then lets the market run."""

    def __init__(self, start_ms: int, speed: float) -> None:
        self.start_ms, self.speed = start_ms, speed
        self._released_at: float | None = None

    def release(self) -> None:
        self._released_at = time.monotonic()

    def now_ms(self) -> int:
        if self._released_at is None:
            return self.start_ms
        return self.start_ms + int((time.monotonic() - self._released_at) * 1000 * self.speed)


@pytest.fixture
def side():
    executor = Executor()
    yield executor
    executor.close()


@pytest.fixture
def start(side):
    started: list[SimTerminal] = []

    def run(**options: Any) -> SimTerminal:
        settings = dict(ctl_endpoint=side.ctl_endpoint, md_endpoint=side.md_endpoint, login=LOGIN, seed=3,
                        history_minutes=120)
        terminal = SimTerminal(**{**settings, **options}).start()
        started.append(terminal)
        side.ctl_until(lambda m: m["type"] == protocol.HELLO)
        side.md_until(lambda topic, m: topic == b"hb", timeout_s=5.0)  # MD is connected: nothing is lost
        return terminal

    yield run
    for terminal in started:
        terminal.stop()


def tick_times_until(side: Executor, symbols: set[str], done, timeout_s: float = 20.0) -> dict[str, list[int]]:
    """Every tick time of `symbols` published until `done(times)` holds."""
    times: dict[str, list[int]] = {name: [] for name in symbols}
    deadline = time.monotonic() + timeout_s
    while not done(times):
        assert time.monotonic() < deadline, f"the feed did not get there: last ticks {[(k, v[-1:]) for k, v in times.items()]}"
        topic, message = side.md_until(lambda topic, m: topic.startswith(b"tick."), timeout_s=timeout_s)
        if message["symbol"] in symbols:
            times[message["symbol"]].extend(message["time_msc"])
    return times


# --- the calendar arithmetic ---

def test_trading_time_skips_the_weekend_and_gold_s_break():
    eurusd, gold = DEFAULT_SYMBOLS["EURUSD"], DEFAULT_SYMBOLS["XAUUSD"]
    assert next_open_ms(eurusd, SATURDAY_NOON, TZ) == MONDAY_OPEN
    assert last_close_ms(eurusd, SATURDAY_NOON, TZ) == FRIDAY_CLOSE
    assert add_open_ms(eurusd, FRIDAY_CLOSE - 1000, 3000, TZ) == MONDAY_OPEN + 2000
    assert open_ms_between(eurusd, FRIDAY_CLOSE - 1000, MONDAY_OPEN + 1000, TZ) == 2000
    assert next_open_ms(gold, utc(2026, 11, 24, 22, 30), TZ) == utc(2026, 11, 24, 23)
    assert next_open_ms(DEFAULT_SYMBOLS["EURUSD"], utc(2026, 11, 24, 22, 30), TZ) == utc(2026, 11, 24, 22, 30)


def test_a_feed_started_on_saturday_shows_friday_s_last_quote_and_friday_s_history():
    feed = RandomWalkFeed(DEFAULT_SYMBOLS, 3, SATURDAY_NOON, tz=TZ)
    ticks = feed.advance(SATURDAY_NOON + 6 * HOUR)
    assert {t[0] for t in ticks} == set(DEFAULT_SYMBOLS) and {t[1] for t in ticks} == {FRIDAY_CLOSE - 1}
    history = feed.history_m1("EURUSD", 60)
    assert history["time"][-1] == FRIDAY_CLOSE - 60_000 and len(history["time"]) == 60
    monday = [t for t in feed.advance(MONDAY_OPEN + 60_000) if t[0] == "EURUSD"]
    assert monday and all(MONDAY_OPEN <= t[1] <= MONDAY_OPEN + 60_000 for t in monday)
    friday_bid = next(t[2] for t in ticks if t[0] == "EURUSD")
    assert abs(monday[0][2] - friday_bid) < 0.0005  # the walk stood still over the weekend (spread aside)


def test_the_quiet_feed_is_seeded():
    def run(seed: int) -> list:
        feed = RandomWalkFeed(DEFAULT_SYMBOLS, seed, FRIDAY_CLOSE - HOUR, tz=TZ)
        return [t for step in range(1, 60) for t in feed.advance(FRIDAY_CLOSE - HOUR + step * HOUR)]
    assert run(3) == run(3) != run(4)


# --- the feed over MD ---

@pytest.mark.timeout(60)
def test_ticks_stop_at_friday_24_00_and_resume_monday_00_00(side, start):
    clock = HeldClock(FRIDAY_CLOSE - 10 * 60_000, speed=50_000.0)
    start(clock=clock)
    clock.release()
    times = tick_times_until(side, {"EURUSD"}, lambda t: t["EURUSD"] and t["EURUSD"][-1] >= MONDAY_OPEN)["EURUSD"]
    assert [t for t in times if FRIDAY_CLOSE <= t < MONDAY_OPEN] == []
    assert [t for t in times if t < FRIDAY_CLOSE], "no Friday ticks seen"
    first_monday = min(t for t in times if t >= MONDAY_OPEN)
    assert first_monday < MONDAY_OPEN + 10 * 60_000


@pytest.mark.timeout(60)
def test_gold_is_quiet_during_its_daily_break_while_fx_quotes_on(side, start):
    clock = HeldClock(TUESDAY_2355, speed=3600.0)
    start(clock=clock)
    clock.release()
    gold_opens = utc(2026, 11, 24, 23)
    times = tick_times_until(side, {"XAUUSD", "EURUSD"},
                             lambda t: t["XAUUSD"] and t["XAUUSD"][-1] >= gold_opens)
    assert [t for t in times["XAUUSD"] if gold_opens - HOUR <= t < gold_opens] == []
    assert [t for t in times["XAUUSD"] if t < gold_opens - HOUR], "no gold ticks before the break"
    assert [t for t in times["EURUSD"] if gold_opens - HOUR <= t < gold_opens], "FX must quote on"


def test_on_saturday_the_last_tick_is_friday_s_and_an_order_gets_10018(side, start):
    clock = ManualClock(SATURDAY_NOON)
    start(clock=clock)
    tick = side.request("symbol_info_tick", symbol="EURUSD")["data"]
    assert tick["time_msc"] == FRIDAY_CLOSE - 1
    rates = side.request("copy_rates_from_pos", symbol="EURUSD", timeframe="M1", start_pos=0, count=5)["data"]
    assert rates["time"][-1] == FRIDAY_CLOSE - 60_000
    refused = side.request("order_send", request=buy_request(side))
    assert refused["ok"] and refused["data"]["retcode"] == mt5.TRADE_RETCODE_MARKET_CLOSED
    clock.set(MONDAY_OPEN + 30_000)
    side.md_until(lambda topic, m: topic == b"tick.EURUSD" and m["time_msc"][-1] >= MONDAY_OPEN)
    filled = side.request("order_send", request=buy_request(side))
    assert filled["data"]["retcode"] == mt5.TRADE_RETCODE_DONE, filled["data"]


@pytest.mark.timeout(60)
def test_always_open_quotes_and_trades_through_the_weekend(side, start):
    clock = HeldClock(SATURDAY_NOON, speed=600.0)
    terminal = start(clock=clock, enforce_sessions=False)
    assert terminal.server.enforce_sessions is False
    clock.release()
    times = tick_times_until(side, {"EURUSD"}, lambda t: any(x > SATURDAY_NOON + 60_000 for x in t["EURUSD"]))
    assert not any(session_open(DEFAULT_SYMBOLS["EURUSD"], t, TZ) for t in times["EURUSD"])  # all weekend
    filled = side.request("order_send", request=buy_request(side))
    assert filled["data"]["retcode"] == mt5.TRADE_RETCODE_DONE, filled["data"]


# --- the broker file and the options over it ---

def broker_file(tmp_path: Path, account: dict[str, Any], symbols: dict[str, Any] | None = None) -> str:
    path = tmp_path / "broker.json"
    path.write_text(json.dumps({"account": account, "symbols": symbols or {}}))
    return str(path)


def sim_arguments(settings: SimSettings) -> dict[str, Any]:
    cls, arguments = terminal_arguments(**settings.terminal_options())
    assert cls is SimTerminal
    return arguments


def test_the_broker_file_configures_the_terminal_and_explicit_settings_win(tmp_path, side):
    path = broker_file(tmp_path, {"balance": 2500, "leverage": 30, "tz_offset_s": 10800, "trade_mode": "real",
                                  "margin_mode": "netting"},
                       {"EURUSD": {"trade_stops_level": 15}, "XYZUSD": {"sim_start_price": 2.0}})
    terminal = build_terminal(ctl_endpoint=side.ctl_endpoint, md_endpoint=side.md_endpoint,
                              **SimSettings(broker_file=path, leverage=50, start="2026-11-24T08:00:00Z").terminal_options())
    server = terminal.server
    assert (server.balance, server.leverage, server.trade_mode) == (2500.0, 50, mt5.ACCOUNT_TRADE_MODE_REAL)
    assert terminal.tz_offset_s == server.server_tz.offset_at(terminal.clock.now_ms()) == 10800 and server.netting
    assert terminal.enforce_sessions and terminal.clock.now_ms() >= utc(2026, 11, 24, 8)
    assert terminal.symbols["EURUSD"].trade_stops_level == 15 and "XYZUSD" in terminal.symbols
    demo = sim_arguments(SimSettings(broker_file=path, account="demo", tz_offset_s=7200, always_open=True))
    assert demo["server_options"]["trade_mode"] == mt5.ACCOUNT_TRADE_MODE_DEMO
    assert demo["server_options"]["server_tz"].entries == ((0, 7200),)
    assert demo["server_options"]["enforce_sessions"] is False
    default = sim_arguments(SimSettings())
    assert default["symbols"] is None and default["server_options"]["enforce_sessions"] is True
    assert default["start_ms"] is None  # now


def test_a_symbols_file_applies_over_the_broker_file(tmp_path):
    path = broker_file(tmp_path, {}, {"EURUSD": {"trade_stops_level": 15, "volume_min": 0.1}})
    extra = tmp_path / "symbols.json"
    extra.write_text(json.dumps({"EURUSD": {"trade_stops_level": 5}}))
    symbols, _ = broker_setup(path, extra)
    assert (symbols["EURUSD"].trade_stops_level, symbols["EURUSD"].volume_min) == (5, 0.1)


@pytest.mark.parametrize("value, expected", [
    ("2026-11-24T10:00:00Z", utc(2026, 11, 24, 10)), ("2026-11-24T12:00:00+02:00", utc(2026, 11, 24, 10)),
    ("2026-11-24T10:00:00", utc(2026, 11, 24, 10)), (1_795_514_400_000, 1_795_514_400_000),
    ("1795514400000", 1_795_514_400_000), (None, None)])
def test_the_start_is_iso_8601_utc_or_epoch_ms(value, expected):
    assert parse_start(value) == expected


def test_bad_account_options_are_refused_by_name(tmp_path):
    with pytest.raises(AccountConfigError, match="account must be one of"):
        broker_setup(None, account="paper")
    with pytest.raises(AccountConfigError, match="unknown key 'stop_out'"):
        broker_setup(broker_file(tmp_path, {"stop_out": 30}))


@pytest.mark.parametrize("args, message", [
    (("sim", "--broker", "{bad}"), "leverage"),
    (("sim", "--broker", "{missing}"), "not found"),
    (("sim", "--start", "tuesday"), "ISO 8601"),
    (("service", "--sim-broker", "{bad}"), "leverage"),
    (("service", "--sim-start", "tuesday"), "ISO 8601"),
])
def test_run_py_refuses_a_bad_broker_file_or_start_with_one_line_and_exit_code_2(tmp_path, args, message):
    bad = broker_file(tmp_path, {"leverage": "high"})
    args = [a.format(bad=bad, missing=tmp_path / "nope.json") for a in args]
    result = subprocess.run([sys.executable, str(ROOT / "run.py"), *args, *(
        ["--data-dir", str(tmp_path / "data")] if args[0] == "service" else [])],
        capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def wait_ready(executor) -> int:
    """Connected and reconciled (no quote needed: on a Saturday there may be none to hear)."""
    def login() -> int | None:
        accounts = executor.status()["accounts"]
        return accounts[0]["login"] if accounts and accounts[0]["connected"] else None
    found = wait_for(login, 15, message="the simulated terminal to connect")
    wait_for(lambda: executor.service.board.get(f"account:{found}", {}).get("ready"), 15, message="reconciliation")
    return found


@pytest.mark.timeout(60)
def test_the_service_s_simulator_keeps_the_weekend(executor_factory):
    executor = executor_factory(sim={"start": SATURDAY_NOON})
    wait_ready(executor)
    sim = executor.sim
    assert sim.server.enforce_sessions and sim.server.symbol_info_tick("EURUSD")["time_msc"] == FRIDAY_CLOSE - 1
    wait_for(lambda: sim.clock.now_ms() > SATURDAY_NOON + 30 * 60_000, message="half an hour of Saturday")
    assert sim.server.symbol_info_tick("EURUSD")["time_msc"] == FRIDAY_CLOSE - 1


@pytest.mark.timeout(60)
def test_the_service_s_simulator_quotes_through_the_weekend_when_always_open(executor_factory):
    executor = executor_factory(sim={"start": SATURDAY_NOON, "always_open": True})
    login = wait_ready(executor)
    assert executor.sim.server.enforce_sessions is False
    wait_for(lambda: (executor.service.board.get(f"quote:{login}:EURUSD") or (0,))[0] > SATURDAY_NOON + 60_000,
             message="weekend quotes at the executor")


def test_a_weekend_start_tells_the_operator_when_the_market_opens():
    saturday = SimTerminal(start_ms=parse_start("2026-11-28T10:00:00Z"), history_minutes=0, tz_offset_s=7200)
    assert saturday.closed_notice() == (
        "the simulated market is closed now (every symbol is outside its sessions): no quotes until "
        "Mon 2026-11-30 00:00 server time; use --sim-start to begin on a weekday or --sim-always-open to trade now")
    tuesday = SimTerminal(start_ms=parse_start("2026-11-24T08:00:00Z"), history_minutes=0, tz_offset_s=7200)
    assert tuesday.closed_notice() is None
    always = SimTerminal(start_ms=parse_start("2026-11-28T10:00:00Z"), history_minutes=0, enforce_sessions=False)
    assert always.closed_notice() is None
