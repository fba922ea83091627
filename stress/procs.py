"""The processes of a stress run: the executor (`run.py service --no-sim`) and the terminal
(`run.py sim --stepped` or the relay EA), each on its own free loopback ports and data dir.

The harness talks to them only as a platform and an EA would: the control API (REQ), the
events PUB, and for the terminal a PUSH of step commands (bridge/sim/stepped.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import zmq

from actors.app.ports import free_endpoint
from actors.control.client import ControlClient, ControlTimeout

ROOT = Path(__file__).resolve().parents[1]
LOGIN = 5_000_001
BALANCE = 10_000_000.0
STOP_TIMEOUT_S = 15.0
# Risk limits loosened so that only the order path is measured: N strategies x 0.01 lots on
# a demo account of 10 M. Sent with UPDATE_RISK_LIMITS, as an operator would.
STRESS_LIMITS = {"max_positions": 100_000, "max_positions_per_strategy": 100_000,
                 "max_orders_per_minute": 100_000, "max_orders_per_minute_per_strategy": 100_000,
                 "max_correlation": 1.0, "max_currency_exposure_lots": 1_000_000, "news_blackout_min": 0,
                 "no_trade_windows": [], "max_daily_loss_pct": 100, "max_drawdown_pct": 100}

# The control socket's rate limits (per key and minute) raised for the same reason.
STRESS_RATE_LIMITS = {"strategy": 100_000, "trading": 100_000, "admin": 1_000}


class HarnessError(RuntimeError):
    """The run cannot go on (a process did not start or answer); the message says which and where its log is."""


@dataclass
class Endpoints:
    control: str = field(default_factory=free_endpoint)
    events: str = field(default_factory=free_endpoint)
    ea_ctl: str = field(default_factory=free_endpoint)
    ea_md: str = field(default_factory=free_endpoint)
    commands: str = field(default_factory=free_endpoint)


def wait_until(condition: Any, timeout_s: float, what: str, interval_s: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise HarnessError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(interval_s)


class Executor:
    """`run.py service --no-sim` on `run_dir/data`; `kill9()` then `start()` keeps the data dir."""

    def __init__(self, run_dir: Path, endpoints: Endpoints) -> None:
        self.run_dir, self.endpoints = run_dir, endpoints
        self.data_dir = run_dir / "data"
        self.log_path = run_dir / "executor.log"
        self.proc: subprocess.Popen | None = None
        self.client = ControlClient(endpoints.control, timeout_s=30.0, data_dir=self.data_dir)  # signs with its key
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def start(self, timeout_s: float = 60.0) -> None:
        e = self.endpoints
        config = self.run_dir / "executor-config.json"  # the harness starts hundreds of strategies at once
        config.write_text(json.dumps({"rate_limits": STRESS_RATE_LIMITS}))
        argv = [sys.executable, str(ROOT / "run.py"), "service", "--no-sim", "--data-dir", str(self.data_dir),
                "--control", e.control, "--events", e.events, "--ea-ctl", e.ea_ctl, "--ea-md", e.ea_md,
                "--log-level", "WARNING", "--config", str(config)]
        with self.log_path.open("a") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        self.starts += 1
        wait_until(self._answers, timeout_s, f"the executor to answer PING (log: {self.log_path})", 0.2)

    def _answers(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise HarnessError(f"the executor exited with code {self.proc.returncode}; see {self.log_path}")
        try:
            return bool(self.client.request("PING", timeout_s=1.0).get("ok"))
        except ControlTimeout:
            return False

    def request(self, type_: str, data: dict[str, Any] | None = None, timeout_s: float = 30.0) -> dict[str, Any]:
        return self.client.request(type_, data, timeout_s=timeout_s)

    def ok(self, type_: str, data: dict[str, Any] | None = None, timeout_s: float = 30.0) -> dict[str, Any]:
        reply = self.request(type_, data, timeout_s)
        if not reply.get("ok"):
            raise HarnessError(f"{type_} refused: {reply.get('error')}")
        return reply["data"]

    def account_ready(self) -> bool:
        try:
            accounts = self.ok("STATUS_REQUEST", timeout_s=5.0)["accounts"]
        except (ControlTimeout, HarnessError):
            return False
        return bool(accounts) and bool(accounts[0].get("connected"))

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(STOP_TIMEOUT_S)
        self.client.close()

    def stop(self) -> int | None:
        self.client.close()
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT_S)
        return self.proc.returncode


class Terminal:
    """The terminal process under step commands: `run.py sim --stepped` or `stress.relay_ea`."""

    def __init__(self, kind: str, run_dir: Path, endpoints: Endpoints, plan: dict[str, Any], seed: int) -> None:
        self.kind, self.run_dir, self.endpoints, self.seed = kind, run_dir, endpoints, seed
        self.plan_path = run_dir / "plan.json"
        self.broker_path = run_dir / "broker.json"
        self.stamps_path = Path(plan["stamps"])
        self.log_path = run_dir / f"terminal-{kind}.log"
        self.plan = plan
        self.proc: subprocess.Popen | None = None
        self._context = zmq.Context.instance()
        self._push = self._context.socket(zmq.PUSH)
        self._push.setsockopt(zmq.LINGER, 0)
        self._push.setsockopt(zmq.SNDTIMEO, 2000)
        self._push.bind(endpoints.commands)

    def write_files(self, added_symbols: dict[str, Any]) -> None:
        self.plan_path.write_text(json.dumps(self.plan, indent=1))
        self.broker_path.write_text(json.dumps({"account": {"balance": BALANCE, "enforce_sessions": False},
                                                "symbols": added_symbols}, indent=1))

    def start(self) -> None:
        e = self.endpoints
        if self.kind == "sim":
            argv = [sys.executable, str(ROOT / "run.py"), "sim", "--ctl", e.ea_ctl, "--md", e.ea_md,
                    "--login", str(LOGIN), "--seed", str(self.seed), "--start", str(self.plan["start_ms"]),
                    "--always-open", "--broker", str(self.broker_path), "--stepped", str(self.plan_path)]
        else:
            argv = [sys.executable, "-m", "stress.relay_ea", "--ctl", e.ea_ctl, "--md", e.ea_md,
                    "--login", str(LOGIN), "--broker", str(self.broker_path), "--plan", str(self.plan_path)]
        with self.log_path.open("a") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                         env={**os.environ, "PYTHONPATH": str(ROOT)})

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def command(self, **command: Any) -> None:
        self._push.send(msgpack.packb(command, use_bin_type=True))

    def stop(self) -> int | None:
        """Ask for a clean stop (the final positions and deals go to the stamps), then insist."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.command(stop=True)
            except zmq.Again:
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(STOP_TIMEOUT_S)
        self._push.close(linger=0)
        return self.proc.returncode
