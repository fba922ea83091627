"""`run.py` as a user runs it: separate processes, real ports, exit codes, signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SIM_START, free_endpoint, wait_for

ROOT = Path(__file__).resolve().parent.parent
STRATEGY = ROOT / "examples" / "sma_cross_m1.json"


def run(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


class ServiceProcess:
    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.data_dir = data_dir
        self.control = free_endpoint()
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "run.py"), "service", "--data-dir", str(data_dir),
             "--control", self.control, "--events", free_endpoint(), "--ea-ctl", free_endpoint(),
             "--ea-md", free_endpoint(), "--log-level", "WARNING", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)

    def ctl(self, *args: str) -> subprocess.CompletedProcess:
        return run("ctl", "--control", self.control, "--data-dir", str(self.data_dir), "--timeout", "10", *args)

    def status(self) -> dict:
        result = self.ctl("--json", "status")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)["data"]

    def wait_connected(self) -> None:
        wait_for(lambda: self.ctl("ping").returncode == 0, timeout=30, interval=0.2, message="the service")
        wait_for(lambda: any(a["connected"] for a in self.status()["accounts"]), timeout=30, interval=0.2,
                 message="the simulated terminal")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


@pytest.fixture
def services(tmp_path):
    started: list[ServiceProcess] = []

    def start(name: str = "a", *extra: str) -> ServiceProcess:
        service = ServiceProcess(tmp_path / name, "--sim-speed", "600", "--sim-start", SIM_START, *extra)
        started.append(service)
        return service

    yield start
    for service in started:
        if service.proc.poll() is None:
            service.proc.kill()
            service.proc.wait(timeout=10)


@pytest.mark.timeout(120)
def test_service_runs_a_strategy_started_from_ctl_and_stops_cleanly_on_sigterm(services):
    service = services()
    service.wait_connected()
    started = service.ctl("start", "demo-1", str(STRATEGY))
    assert started.returncode == 0, started.stderr
    assert started.stdout.split() == ["strategy_id", "demo-1", "state", "running"]  # a reply's fields, one a line

    def traded() -> bool:
        return any(p["strategy_id"] == "demo-1" for p in service.status()["positions"])
    wait_for(traded, timeout=60, interval=0.2, message="the strategy's first position")

    table = service.ctl("status")
    assert table.returncode == 0
    assert "demo-1" in table.stdout and "POSITIONS" in table.stdout and "running" in table.stdout
    assert service.stop() == 0
    assert (Path(service.proc.args[4]) / "journal.sqlite3").exists()


def test_two_services_run_side_by_side(services):
    first, second = services("one"), services("two")
    for service in (first, second):
        wait_for(lambda s=service: s.ctl("ping").returncode == 0, timeout=30, interval=0.2, message="a service")
    assert first.stop() == 0 and second.stop() == 0


def test_ctl_exit_codes(services):
    assert run("ctl", "frobnicate").returncode == 2  # bad usage
    assert run("ctl", "open", "EURUSD", "long").returncode == 2
    nobody = run("ctl", "--control", free_endpoint(), "--timeout", "0.3", "ping")
    assert nobody.returncode == 1 and "no reply" in nobody.stderr
    service = services()
    service.wait_connected()
    unknown = service.ctl("send", "FROBNICATE")
    assert unknown.returncode == 1 and "UNKNOWN_COMMAND" in unknown.stderr
    missing = service.ctl("close", "424242")
    assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr
    assert service.ctl("limits", "max_positions").returncode == 2  # not KEY=VALUE


def test_service_refuses_a_port_in_use_with_one_line(services, tmp_path):
    first = services("first")
    wait_for(lambda: first.ctl("ping").returncode == 0, timeout=30, interval=0.2, message="the first service")
    clash = run("service", "--data-dir", str(tmp_path / "clash"), "--control", first.control,
                "--events", free_endpoint(), "--ea-ctl", free_endpoint(), "--ea-md", free_endpoint(),
                "--log-level", "CRITICAL")
    assert clash.returncode == 1
    assert "cannot start" in clash.stderr and "control" in clash.stderr


def test_service_refuses_a_bad_config_file(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"control_endpoint": "tcp://127.0.0.1:1", "kill_lock": 5}))
    result = run("service", "--data-dir", str(tmp_path), "--config", str(config))
    assert result.returncode == 2 and "unknown config key kill_lock" in result.stderr


@pytest.mark.skipif(os.name != "posix", reason="signals")
def test_sim_runs_as_its_own_process(services, tmp_path):
    service = ServiceProcess(tmp_path / "nosim", "--no-sim")
    try:
        wait_for(lambda: service.ctl("ping").returncode == 0, timeout=30, interval=0.2, message="the service")
        assert service.status()["accounts"] == []
        ea_ctl, ea_md = service.proc.args[service.proc.args.index("--ea-ctl") + 1], \
            service.proc.args[service.proc.args.index("--ea-md") + 1]
        sim = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "sim", "--ctl", ea_ctl, "--md", ea_md,
                                "--login", "777001", "--speed", "60", "--start", SIM_START, "--fault-rejects", "1"],
                               cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: [a["login"] for a in service.status()["accounts"] if a["connected"]] == [777001],
                     timeout=30, interval=0.2, message="the separate simulator to connect")
            def first_answer():  # past UNAVAILABLE (and the unknown account type) while it reconciles
                result = service.ctl("open", "EURUSD", "buy", "--volume", "0.1")
                return None if "UNAVAILABLE" in result.stderr or "CONFIRMATION" in result.stderr else result
            rejected = wait_for(first_answer, timeout=30, interval=0.2, message="an answer to the order")
            assert rejected.returncode == 1 and "10006" in rejected.stderr  # --fault-rejects 1 at work
            assert service.ctl("open", "EURUSD", "buy", "--volume", "0.1").returncode == 0
        finally:
            sim.send_signal(signal.SIGTERM)
            assert sim.wait(timeout=15) == 0, "the simulator did not exit cleanly on SIGTERM"
    finally:
        code = service.stop()
        assert code == 0, f"the service exited {code}: {service.proc.stderr.read()[-3000:]}"


def test_a_reader_that_goes_away_is_not_an_error():
    # `run.py replay ... | head -1`, at its worst: the reader is gone before anything is written.
    process = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "replay", "--csv",
                                str(ROOT / "examples" / "EURUSD_H1_synthetic.csv"), "--strategy",
                                str(ROOT / "examples" / "sma_cross_h1.json")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


def test_a_bad_calendar_file_is_bad_usage_before_anything_starts(tmp_path):
    calendar = tmp_path / "calendar.json"
    calendar.write_text('[{"time": "2026-12-04T13:30:00", "currency": "USD"}]')
    for args in (["service", "--data-dir", str(tmp_path / "data"), "--sim-calendar", str(calendar)],
                 ["sim", "--calendar", str(calendar)]):
        done = run(*args)
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().endswith("calendar event 1: '2026-12-04T13:30:00' has no time zone: "
                                            "write it in UTC, e.g. 2026-11-27T13:30:00Z")
    assert not (tmp_path / "data").exists()  # nothing started
