"""The operator at the shell: `run.py ctl` against a real service process (tables, --json,
watch, top, logs, limits, plots), and every mistake a new user makes answered in one line."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import SIM_START, free_endpoint, wait_for
from tests.test_plots import png_size

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).resolve().parent.parent
EPOCH_MS = re.compile(r"\b1\d{12}\b")


def run(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def one_line(result: subprocess.CompletedProcess) -> str:
    """The error output, which must be exactly one line and no traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    return result.stderr.strip()


class Service:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.control, self.events = free_endpoint(), free_endpoint()
        self.log = (data_dir.parent / "service.stderr").open("w")
        config = data_dir.parent / "executor.toml"
        config.write_text("[rate_limits]\ntrading = 6000\n")  # these tests trade more than an operator would
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "run.py"), "service", "--config", str(config), "--data-dir", str(data_dir),
             "--control", self.control,
             "--events", self.events, "--ea-ctl", free_endpoint(), "--ea-md", free_endpoint(), "--log-level", "INFO",
             "--sim-speed", "600", "--sim-start", SIM_START],
            stdout=subprocess.DEVNULL, stderr=self.log, cwd=ROOT)

    def ctl_args(self, *args: str) -> list[str]:
        return ["ctl", "--control", self.control, "--events", self.events, "--data-dir", str(self.data_dir), *args]

    def ctl(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
        return run(*self.ctl_args(*args), timeout=timeout)

    def status(self) -> dict:
        result = self.ctl("status", "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)["data"]

    def stderr(self) -> str:
        self.log.flush()
        return (self.data_dir.parent / "service.stderr").read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    started = Service(tmp_path_factory.mktemp("operator") / "data")
    try:
        wait_for(lambda: started.ctl("ping").returncode == 0, timeout=60, interval=0.2, message="the service")

        def ready() -> bool:
            accounts = started.status()["accounts"]
            return bool(accounts) and accounts[0]["connected"] and accounts[0]["limits"] is not None
        wait_for(ready, timeout=60, interval=0.2, message="the simulated terminal")
        # Past UNAVAILABLE while the account reconciles: the first order that goes through.
        wait_for(lambda: started.ctl("open", "EURUSD", "buy", "--volume", "0.1").returncode == 0, timeout=60,
                 interval=0.2, message="a first order")
        yield started
    finally:
        started.stop()


def test_json_goes_before_or_after_the_command(service):
    before, after = service.ctl("--json", "status"), service.ctl("status", "--json")
    assert before.returncode == after.returncode == 0
    assert json.loads(before.stdout)["ok"] and json.loads(after.stdout)["ok"]
    assert json.loads(service.ctl("ping", "--json").stdout)["data"]["pong"] > 0


def test_status_is_tables_with_dates_and_the_effective_state(service):
    shown = service.ctl("status")
    assert shown.returncode == 0, shown.stderr
    for part in ("ACCOUNTS", "POSITIONS", "STRATEGIES", "EA link", "kill switch: off", "ACTIVE", "EURUSD"):
        assert part in shown.stdout
    assert not EPOCH_MS.search(shown.stdout), shown.stdout


def test_open_never_guesses_a_size(service):
    result = service.ctl("open", "EURUSD", "buy")
    assert result.returncode == 2
    assert one_line(result) == "run.py: ctl open needs --volume LOTS or --sizing JSON: the size is never guessed"
    sized = service.ctl("open", "EURUSD", "sell", "--sizing", '{"method": "fixed", "lots": 0.02}')
    assert sized.returncode == 0, sized.stderr
    assert "volume" in sized.stdout and "0.02" in sized.stdout


def test_a_partial_close_says_what_remains(service):
    opened = json.loads(service.ctl("open", "GBPUSD", "buy", "--volume", "0.1", "--json").stdout)["data"]
    closed = service.ctl("close", str(opened["ticket"]), "--volume", "0.04")
    assert closed.returncode == 0, closed.stderr
    assert f"closed 0.04 lots of ticket {opened['ticket']}" in closed.stdout
    assert "PARTIAL close: 0.06 of 0.1 lots remain open (same ticket)" in closed.stdout


def test_limits_shows_them_and_changes_nothing(service):
    before = service.status()["accounts"][0]["limits"]
    shown = service.ctl("limits")
    assert shown.returncode == 0, shown.stderr
    assert re.search(r"^max_lot_size\s+1\s+1\s*$", shown.stdout, re.M), shown.stdout
    assert "ctl limits KEY=VALUE" in shown.stdout
    assert service.status()["accounts"][0]["limits"] == before


def test_an_explicit_volume_over_the_limit_is_refused_with_the_reason(service):
    refused = service.ctl("open", "EURUSD", "buy", "--volume", "1.5")  # demo max_lot_size is 1
    assert refused.returncode == 1
    assert one_line(refused).startswith("run.py ctl: RISK_REJECTED: volume 1.5 exceeds max_lot_size 1")


def test_a_strategy_on_an_unknown_symbol_is_refused_listing_the_symbols(service):
    definition = json.dumps({"name": "x", "symbol": "EURUSDX", "timeframe": "M1", "rules": {"entry_long": "close > 0"}})
    refused = service.ctl("start", "bad-symbol", definition)
    assert refused.returncode == 1
    line = one_line(refused)
    assert line.startswith("run.py ctl: NOT_FOUND: symbol EURUSDX is not offered by account") and "EURUSD," in line
    assert all(s["strategy_id"] != "bad-symbol" for s in service.status()["strategies"])


def test_hints_name_ctl_commands(service):
    missing = service.ctl("close", "424242")
    assert one_line(missing) == ("run.py ctl: NOT_FOUND: no open position with ticket 424242; `ctl status` lists the "
                                 "open ones (ticket: 424242)")


def test_watch_streams_events_with_their_time(service):
    watcher = subprocess.Popen([sys.executable, str(ROOT / "run.py"), *service.ctl_args("watch", "OrderFilled",
                                                                                        "--count", "1")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert "watching OrderFilled" in watcher.stderr.readline()
        # A subscription takes effect a moment after it is made: trade until the watcher has seen a fill.
        deadline = time.monotonic() + 60
        while watcher.poll() is None and time.monotonic() < deadline:
            assert service.ctl("open", "USDJPY", "buy", "--volume", "0.01").returncode == 0
            try:
                watcher.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        out = watcher.stdout.read()
        assert watcher.returncode == 0, out
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC  OrderFilled +account \d+: manual order buy 0.01 USDJPY "
                    r"filled at [\d.]+ \(ticket \d+\)$", out.strip()), out


def test_top_once_is_the_whole_dashboard(service):
    frame = service.ctl("top", "--once")
    assert frame.returncode == 0, frame.stderr
    for part in ("ACCOUNTS", "POSITIONS", "STRATEGIES", "EVENTS", "EA link", "clock skew", "kill switch: off", "up"):
        assert part in frame.stdout
    assert not EPOCH_MS.search(frame.stdout)


def read_pty_until(fd: int, wanted: str, deadline: float) -> str:
    seen = ""
    while wanted not in seen:
        assert time.monotonic() < deadline, f"{wanted!r} not shown; got {seen[-2000:]!r}"
        if select.select([fd], [], [], 0.5)[0]:
            try:
                seen += os.read(fd, 65536).decode("utf-8", "replace")
            except OSError:
                break
    return seen


def ctrl_c_default() -> None:
    """In the child, before exec: SIGINT as a terminal gives it. A suite started as a background
    job of a shell (`bash .ci/run &`) runs with SIGINT ignored, the children inherit that, and
    Python then never turns Ctrl-C into KeyboardInterrupt: the test would see a CLI that
    does not stop."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_top_runs_live_in_a_terminal_until_ctrl_c(service):
    leader, follower = pty.openpty()
    top = subprocess.Popen([sys.executable, str(ROOT / "run.py"), *service.ctl_args("top", "--interval", "0.2")],
                           stdin=follower, stdout=follower, stderr=follower, cwd=ROOT, preexec_fn=ctrl_c_default,
                           env={**os.environ, "COLUMNS": "160", "LINES": "60", "TERM": "xterm"})
    os.close(follower)
    try:
        shown = read_pty_until(leader, "EVENTS", time.monotonic() + 30)
        assert "ACCOUNTS" in shown and "POSITIONS" in shown
        service.ctl("open", "EURUSD", "buy", "--volume", "0.01")  # an event the dashboard then lists
        read_pty_until(leader, "manual order buy 0.01 EURUSD filled", time.monotonic() + 30)
        top.send_signal(signal.SIGINT)
        assert top.wait(timeout=15) == 0
    finally:
        if top.poll() is None:
            top.kill()
            top.wait()
        os.close(leader)


def test_logs_are_readable_and_followed(service):
    tail = service.ctl("logs", "-n", "5", "--level", "INFO")
    assert tail.returncode == 0, tail.stderr
    lines = tail.stdout.strip().splitlines()
    assert len(lines) == 5 and all(re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC \w+ ", line) for line in lines)
    follower = subprocess.Popen([sys.executable, str(ROOT / "run.py"), *service.ctl_args("logs", "-n", "0", "-f")],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                preexec_fn=ctrl_c_default)
    try:
        deadline = time.monotonic() + 30
        found = ""
        while "PositionOpened" not in found:  # the follower may start reading after the first order
            assert time.monotonic() < deadline, found
            service.ctl("open", "AUDUSD", "sell", "--volume", "0.01")
            if select.select([follower.stdout], [], [], 1.0)[0]:
                found += follower.stdout.readline()
        follower.send_signal(signal.SIGINT)
        assert follower.wait(timeout=10) == 0
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()


def test_logs_at_info_show_fills_and_manual_orders_and_no_start_noise(service):
    log = service.stderr()
    assert "command OPEN_POSITION: symbol=EURUSD, side=buy, volume=0.1" in log
    assert "OrderFilled: account" in log and "manual order buy 0.1 EURUSD filled" in log
    assert "PositionOpened: account" in log
    assert "dropped TickBatch" not in log


def test_logs_at_info_show_a_strategys_signals_and_status_its_last_one(service):
    assert service.ctl("start", "op-1", str(ROOT / "examples" / "sma_cross_m1.json")).returncode == 0
    row = wait_for(lambda: next((s for s in service.status()["strategies"] if s["strategy_id"] == "op-1"
                                 and s["last_signal"]), None), timeout=90, interval=0.5, message="a first signal")
    assert row["last_signal"]["signal"] in ("entry_long", "entry_short", "exit_long", "exit_short")
    assert re.search(r"strategy:op-1: (entry|exit)_(long|short) on the EURUSD M1 bar of \d{4}-\d\d-\d\d \d\d:\d\d UTC",
                     service.stderr())
    shown = service.ctl("status").stdout
    assert re.search(r"op-1 .* (entry|exit)_(long|short) at \d{4}-\d\d-\d\d \d\d:\d\d UTC", shown), shown
    assert "command START_STRATEGY: strategy_id=op-1, strategy=sma-cross on EURUSD M1" in service.stderr()
    assert service.ctl("stop", "op-1").returncode == 0


def test_performance_draws_a_png(service, tmp_path):
    wait_for(lambda: service.ctl("close-all", "--symbol", "GBPUSD").returncode == 0, timeout=30, interval=0.5,
             message="a closed trade")
    plot = tmp_path / "performance.png"
    result = service.ctl("performance", "--plot", str(plot))
    assert result.returncode == 0, result.stderr
    assert f"equity and drawdown curves written to {plot}" in result.stdout
    assert "STRATEGIES" in result.stdout and "TRADES" not in result.stdout  # the plot, not the trade list
    assert png_size(plot) == (1300, 700)


def test_the_kill_switch_shows_beside_accounts_that_say_active(service):
    """Last in this module: it locks trading for the hour."""
    assert service.ctl("emergency-stop", "operator test").returncode == 0
    status = service.ctl("status")
    assert "KILL SWITCH ENGAGED (operator test)" in status.stdout
    assert "LOCKED by kill switch until" in status.stdout and not EPOCH_MS.search(status.stdout)
    assert service.status()["accounts"][0]["trading_state"] == "ACTIVE"  # its own state did not change
    locked = service.ctl("open", "EURUSD", "buy", "--volume", "0.01")
    line = one_line(locked)
    assert line.startswith("run.py ctl: TRADING_LOCKED: ") and "`ctl reset-kill-switch`" in line
    assert re.search(r"locked_until: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", line) and not EPOCH_MS.search(line)


# ------------------------------------------------------------- new-user mistakes ---
def test_no_service_says_the_wait_and_what_to_check():
    started = time.monotonic()
    result = run("ctl", "--control", free_endpoint(), "status")
    assert result.returncode == 1 and time.monotonic() - started < 15
    line = one_line(result)
    assert "within 3 s" in line and "run.py service" in line and "--control" in line


@pytest.mark.parametrize("args, says", [
    (("service", "--control", "localhost:5555"), "endpoint 'localhost:5555' has no scheme: write tcp://HOST:PORT"),
    (("service", "--control", "foo"), "endpoint 'foo' has no scheme"),
    (("ctl", "--control", "localhost:5555", "ping"), "did you mean tcp://localhost:5555?"),
    (("sim", "--md", "tcp://127.0.0.1:70000"), "the port must be a number 1-65535"),
    (("service", "--data-dir", "/proc/no/such/dir"), "the data dir /proc/no/such/dir cannot be created or written"),
    (("ctl", "frobnicate"), "invalid choice: 'frobnicate'"),
])
def test_bad_usage_is_one_line_and_exit_2(args, says):
    result = run(*args)
    assert result.returncode == 2, result
    assert says in one_line(result)


def test_a_second_service_on_busy_ports_is_one_line(service, tmp_path):
    clash = run("service", "--data-dir", str(tmp_path / "other"), "--control", service.control,
                "--events", free_endpoint(), "--ea-ctl", free_endpoint(), "--ea-md", free_endpoint())
    assert clash.returncode == 1
    assert one_line(clash) == (f"run.py service: cannot start: {service.control} (--control) is already in use: "
                               "another executor, or another program, listens there; stop it or choose another "
                               "--control")


def test_a_bar_file_whose_time_goes_back_stops_the_replay(tmp_path):
    bars = tmp_path / "back.csv"
    bars.write_text("time,open,high,low,close,volume\n1767571200,1.1,1.2,1.0,1.1,7\n1767574800,1.1,1.2,1.0,1.1,7\n"
                    "1767571260,1.1,1.2,1.0,1.1,7\n")
    result = run("replay", "--csv", str(bars), "--strategy", str(ROOT / "examples" / "sma_cross_m1.json"))
    assert result.returncode == 1
    assert one_line(result).startswith(f"run.py replay: {bars}:4: time goes back")
