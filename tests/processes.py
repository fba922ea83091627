"""The executor and the simulated terminal as processes of their own, for tests that kill
one of them (`kill -9`), pause one (SIGSTOP: its link goes silent) or restart one on the
same data dir. Both speak only through their sockets, as in production.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from actors.app.ports import free_endpoint
from actors.control.client import ControlClient, ControlTimeout
from tests.conftest import SIM_START, wait_for

ROOT = Path(__file__).resolve().parents[1]
LOGIN = 5_000_001
# Loosened so that only what a test is about can refuse an order.
LOOSE_LIMITS = {"max_positions": 1000, "max_positions_per_strategy": 1000, "max_orders_per_minute": 10_000,
                "max_orders_per_minute_per_strategy": 10_000, "max_correlation": 1.0,
                "max_currency_exposure_lots": 100_000, "news_blackout_min": 0, "no_trade_windows": [],
                "max_daily_loss_pct": 100, "max_drawdown_pct": 100}


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


class SimProcess:
    """`run.py sim` on the executor's EA endpoints; `pause()`/`resume()` silence it (SIGSTOP/SIGCONT)."""

    def __init__(self, run_dir: Path, ea_ctl: str, ea_md: str, *extra: str) -> None:
        self.log_path = run_dir / "sim.log"
        argv = [sys.executable, str(ROOT / "run.py"), "sim", "--ctl", ea_ctl, "--md", ea_md, "--login", str(LOGIN),
                "--seed", "7", "--speed", "60", "--start", SIM_START, "--always-open", *extra]
        with self.log_path.open("a") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=_env())

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)


class ExecutorProcess:
    """`run.py service --no-sim` on `data_dir`; `kill9()` then `start()` keeps the data dir and endpoints."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.data_dir = run_dir / "data"
        self.control, self.events = free_endpoint(), free_endpoint()
        self.ea_ctl, self.ea_md = free_endpoint(), free_endpoint()
        self.log_path = run_dir / "executor.log"
        self.config = run_dir / "executor.json"
        self.config.write_text(json.dumps({"rate_limits": {"trading": 10_000, "emergency": 600}}))
        self.proc: subprocess.Popen | None = None
        self.client: ControlClient | None = None

    def start(self) -> ExecutorProcess:
        argv = [sys.executable, str(ROOT / "run.py"), "service", "--no-sim", "--data-dir", str(self.data_dir),
                "--control", self.control, "--events", self.events, "--ea-ctl", self.ea_ctl, "--ea-md", self.ea_md,
                "--config", str(self.config), "--log-level", "INFO"]
        with self.log_path.open("a") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=_env())
        self.client = ControlClient(self.control, timeout_s=30.0, data_dir=self.data_dir)
        wait_for(self._answers, 60, 0.2, f"the executor to answer PING (log: {self.log_path})")
        return self

    def _answers(self) -> bool:
        assert self.proc.poll() is None, f"the executor exited with {self.proc.returncode}; see {self.log_path}"
        try:
            return bool(self.client.request("PING", timeout_s=1.0).get("ok"))
        except ControlTimeout:
            return False

    def request(self, type_: str, data: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        return self.client.request(type_, data, **kw)

    def ok(self, type_: str, data: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        reply = self.request(type_, data, **kw)
        assert reply["ok"], reply
        return reply["data"]

    def ready(self) -> bool:
        accounts = self.ok("STATUS_REQUEST")["accounts"]
        return bool(accounts) and bool(accounts[0].get("ready"))

    def wait_ready(self, timeout: float = 30.0) -> None:
        wait_for(self.ready, timeout, 0.1, "the account to be reconciled and ready")
        wait_for(self.quoted, timeout, 0.1, "a EURUSD quote")

    def quoted(self) -> bool:
        """Whether an order could be priced: an entry sized by risk without a stop is refused
        for that (RISK_REJECTED) once a quote is in, for the missing quote (UNAVAILABLE) before."""
        probe = self.request("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy",
                                               "sizing": {"method": "percentage_risk", "risk_pct": 1.0}})
        return probe["error"]["code"] != "UNAVAILABLE"

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(15)
        if self.client is not None:
            self.client.close()

    def stop(self) -> int | None:
        if self.client is not None:
            self.client.close()
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)
        return self.proc.returncode
