"""Shared fixtures: a whole executor (with its simulated terminal) on free loopback ports,
a control client for it, and helpers that wait on conditions with deadlines.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pykka
import pytest

from actors.app.config import load_config
from actors.control.client import ControlClient
from actors.app.logs import setup_logging
from actors.app.ports import free_endpoint  # noqa: F401 - also used by other test modules
from actors.app.service import Service


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05,
             message: str = "condition") -> Any:
    """Poll `condition` until it returns something truthy; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


SIM_START = "2026-11-24T08:00:00Z"  # a Tuesday, 10:00 server time: every market open


def make_config(data_dir: Path, **overrides: Any):
    # A fixed weekday start (the server at UTC+2): no test depends on the wall clock's weekday.
    sim = {"speed": 600.0, "history_minutes": 600, "seed": 7, "start": SIM_START, "tz_offset_s": 7200,
           **overrides.pop("sim", {})}
    # Tests poll commands in loops; the control socket's rate limits have tests of their own.
    overrides.setdefault("rate_limits", {"trading": 100_000, "strategy": 100_000, "admin": 100_000})
    return load_config(None, data_dir=data_dir, control_endpoint=free_endpoint(),
                       events_endpoint=free_endpoint(), ea_ctl_endpoint=free_endpoint(),
                       ea_md_endpoint=free_endpoint(), sim=sim, log_level="DEBUG", **overrides)


class Executor:
    """A running service plus a client; `restart()` keeps the data dir and endpoints."""

    def __init__(self, config) -> None:
        self.config = config
        self.service = Service(config).start()
        self.client = ControlClient(config.control_endpoint, timeout_s=30.0, data_dir=config.data_dir)

    def request(self, type_: str, data: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        return self.client.request(type_, data, **kw)

    def ok(self, type_: str, data: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        reply = self.request(type_, data, **kw)
        assert reply["ok"], reply
        return reply["data"]

    def status(self) -> dict[str, Any]:
        return self.ok("STATUS_REQUEST")

    def wait_connected(self, timeout: float = 15.0) -> int:
        def connected() -> int | None:
            accounts = self.status()["accounts"]
            return accounts[0]["login"] if accounts and accounts[0]["connected"] else None
        login = wait_for(connected, timeout, message="the simulated terminal to connect")
        # Orders need a quote and a reconciled account that knows its symbols.
        wait_for(lambda: self.service.board.get(f"quote:{login}:EURUSD"), timeout, message="a EURUSD quote")
        wait_for(lambda: self.service.board.get(f"account:{login}", {}).get("ready"), timeout,
                 message="the account to be ready to trade")
        wait_for(lambda: self.service.board.get(f"risk:{login}", {}).get("account_type") != "unknown", timeout,
                 message="the account type to be known")
        return login

    @property
    def sim(self):
        return self.service.sim

    def stop(self) -> None:
        self.client.close()
        self.service.stop()

    def restart(self) -> Executor:
        """Stop and start again on the same data dir and endpoints (a new simulator, which
        continues the paper account the last one kept in the data dir)."""
        self.stop()
        self.service = Service(self.config).start()
        self.client = ControlClient(self.config.control_endpoint, timeout_s=30.0, data_dir=self.config.data_dir)
        return self


def start_second_terminal(executor: Executor, login: int, seed: int = 99):
    """Another simulated terminal (a second account) connected to `executor`, ready to trade."""
    from bridge.sim.config import parse_start
    from bridge.sim.terminal import SimTerminal

    terminal = SimTerminal(ctl_endpoint=executor.config.ea_ctl_endpoint, md_endpoint=executor.config.ea_md_endpoint,
                           login=login, seed=seed, speed=600.0, start_ms=parse_start(SIM_START),
                           history_minutes=60).start()
    board = executor.service.board
    wait_for(lambda: board.get(f"quote:{login}:EURUSD") and board.get(f"account:{login}", {}).get("ready")
             and board.get(f"risk:{login}", {}).get("account_type") == "demo", timeout=15,
             message=f"account {login} to be ready")
    return terminal


@pytest.fixture
def executor_factory(tmp_path: Path) -> Iterator[Callable[..., Executor]]:
    setup_logging(tmp_path, "DEBUG", stderr=False)
    started: list[Executor] = []

    def start(**overrides: Any) -> Executor:
        executor = Executor(make_config(tmp_path / "data", **overrides))
        started.append(executor)
        return executor

    yield start
    for executor in started:
        executor.stop()
    pykka.ActorRegistry.stop_all()


@pytest.fixture
def executor(executor_factory) -> Executor:
    ex = executor_factory()
    ex.wait_connected()
    return ex
