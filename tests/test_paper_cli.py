"""`run.py service --paper-prices` and `run.py sim --prices-from-ea` as a user runs them:
separate processes, real ports, a simulated terminal playing the real EA, exit codes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bridge import protocol
from bridge.sim.ea_prices import EaPriceSource
from bridge.sim.terminal import SimTerminal
from tests.conftest import free_endpoint, wait_for

ROOT = Path(__file__).resolve().parent.parent
REAL_LOGIN = 61_000_042
PAPER_LOGIN = 5_000_777


def run(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "run.py"), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)


def stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=30)


@pytest.fixture
def real_ea():
    """The 'real' terminal on its own price ports, recording what it is asked."""
    ctl, md = free_endpoint(), free_endpoint()
    terminal = SimTerminal(ctl_endpoint=ctl, md_endpoint=md, login=REAL_LOGIN, seed=9, history_minutes=60,
                           enforce_sessions=False)
    asked: list[str] = []
    answer = terminal._answer
    terminal._answer = lambda message, now: (asked.append(message["type"]), answer(message, now))[1]
    terminal.start()
    yield terminal, ctl, md, asked
    terminal.stop()


def status(control: str, data_dir: Path) -> dict | None:
    result = run("ctl", "--control", control, "--data-dir", str(data_dir), "--timeout", "5", "--json", "status")
    return json.loads(result.stdout)["data"] if result.returncode == 0 else None


def connected_account(control: str, data_dir: Path) -> dict | None:
    data = status(control, data_dir)
    accounts = data["accounts"] if data else []
    return accounts[0] if accounts and accounts[0]["connected"] else None


def test_service_with_paper_prices(tmp_path, real_ea):
    real, prices_ctl, prices_md, asked = real_ea
    control = free_endpoint()
    service = start("service", "--data-dir", str(tmp_path), "--control", control, "--events", free_endpoint(),
                    "--ea-ctl", free_endpoint(), "--ea-md", free_endpoint(), "--log-level", "WARNING",
                    "--paper-prices", "--prices-ctl", prices_ctl, "--prices-md", prices_md, "--sim-always-open")
    try:
        account = wait_for(lambda: connected_account(control, tmp_path), timeout=40, interval=0.3,
                           message="the paper account at the executor")
        assert account["login"] != REAL_LOGIN
        def open_position():  # refused (NO_QUOTE) until the first real EURUSD tick has come through
            result = run("ctl", "--control", control, "--data-dir", str(tmp_path), "--json", "open", "EURUSD", "buy", "--volume", "0.1")
            return result.returncode == 0 and json.loads(result.stdout)["data"]
        assert wait_for(open_position, timeout=20, interval=0.3, message="a paper fill")["price"] > 0
    finally:
        assert stop(service) == 0
    assert real.server.positions_get() == [] and not {protocol.ORDER_SEND, protocol.ORDER_CHECK} & set(asked)


def test_sim_process_with_prices_from_ea(executor_factory, real_ea):
    real, prices_ctl, prices_md, asked = real_ea
    executor = executor_factory(no_sim=True)
    paper = start("sim", "--prices-from-ea", "--prices-ctl", prices_ctl, "--prices-md", prices_md,
                  "--ctl", executor.config.ea_ctl_endpoint, "--md", executor.config.ea_md_endpoint,
                  "--login", str(PAPER_LOGIN), "--always-open")
    try:
        assert executor.wait_connected(timeout=30) == PAPER_LOGIN
        opened = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "sell", "volume": 0.1})
        assert opened["price"] in set(real.market.copy_ticks_from("EURUSD", 0, 1_000_000, -1)["bid"])
    finally:
        assert stop(paper) == 0
    assert real.server.positions_get() == [] and not {protocol.ORDER_SEND, protocol.ORDER_CHECK} & set(asked)


@pytest.mark.parametrize("args, message", [
    (("service", "--paper-prices", "--sim-speed", "60"), "real clock"),
    (("service", "--paper-prices", "--no-sim"), "drop --no-sim"),
    (("sim", "--prices-from-ea", "--speed", "5"), "real clock"),
])
def test_paper_options_that_cannot_work_are_usage_errors(tmp_path, args, message):
    result = run(*args, "--data-dir", str(tmp_path)) if args[0] == "service" else run(*args)
    assert result.returncode == 2 and message in result.stderr


def test_a_taken_price_port_fails_the_sim_process():
    holder = EaPriceSource(ctl_endpoint=free_endpoint(), md_endpoint=free_endpoint()).start()
    try:
        result = run("sim", "--prices-from-ea", "--prices-ctl", holder.ctl_endpoint, "--prices-md", free_endpoint(),
                     "--ctl", free_endpoint(), "--md", free_endpoint())
    finally:
        holder.stop()
    assert result.returncode == 1 and "cannot start" in result.stderr and "cannot bind" in result.stderr


def test_paper_settings_in_the_config():
    from actors.app.config import ConfigError, SimSettings, load_config

    assert (SimSettings().prices, SimSettings().prices_ctl, SimSettings().prices_md) == (
        "sim", "tcp://127.0.0.1:5567", "tcp://127.0.0.1:5568")  # loopback, off the executor's ports
    config = load_config(None, sim={"prices": "ea", "prices_ctl": "tcp://127.0.0.1:6001"})
    assert config.sim.prices == "ea" and config.sim.prices_ctl == "tcp://127.0.0.1:6001"
    with pytest.raises(ConfigError, match="sim.prices must be"):
        load_config(None, sim={"prices": "EA"})
    with pytest.raises(ConfigError, match="real clock"):
        load_config(None, sim={"prices": "ea", "speed": 60})
