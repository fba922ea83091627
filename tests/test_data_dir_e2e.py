"""One service per data dir, and what an operator does with it, as separate processes:
a second service exits 2 naming the holder; `kill -9` releases the lock; a damaged journal
after a crash, or a damaged simulator state, stops the start with one line saying what to
do; `run.py backup` works beside a running service, `run.py restore` refuses until it stops,
and the service starts on what was restored."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from actors.journal.backup import check_file
from actors.journal.models import open_database
from tests.conftest import SIM_START, free_endpoint, wait_for
from tests.test_journal_backup import corrupt_an_index

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def service_args(data_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, str(ROOT / "run.py"), "service", "--data-dir", str(data_dir),
            "--control", free_endpoint(), "--events", free_endpoint(), "--ea-ctl", free_endpoint(),
            "--ea-md", free_endpoint(), "--log-level", "WARNING", "--sim-speed", "600", "--sim-start", SIM_START,
            *extra]


class Service:
    """`run.py service` in its own process."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.data_dir = data_dir
        self.proc = subprocess.Popen(service_args(data_dir, *extra), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, cwd=ROOT)

    def log(self) -> str:
        path = self.data_dir / "logs" / "executor.jsonl"
        return path.read_text(errors="replace") if path.exists() else ""

    def runs(self) -> int:
        """How many times the log says an executor started running in this data dir."""
        return sum('"executor running' in line for line in self.log().splitlines())

    def wait_running(self, times: int = 1) -> None:
        """Until the log says the executor is running for the `times`-th time (one log per data dir)."""
        wait_for(lambda: self.runs() >= times or self.proc.poll() is not None,
                 timeout=60, interval=0.1, message="the service to run")
        assert self.proc.poll() is None, self.proc.communicate()[1]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)


@pytest.fixture
def services():
    started: list[Service] = []

    def start(data_dir: Path, *extra: str) -> Service:
        started.append(Service(data_dir, *extra))
        return started[-1]

    yield start
    for service in started:
        if service.proc.poll() is None:
            service.proc.kill()
            service.proc.wait(timeout=10)


def only_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def test_a_second_service_on_the_same_data_dir_exits_2_naming_the_pid(tmp_path, services):
    first = services(tmp_path / "data")
    first.wait_running()
    second = subprocess.run(service_args(tmp_path / "data"), capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert second.returncode == 2
    line = only_line(second.stderr)
    assert f"data dir {tmp_path / 'data'} is in use by the service with PID {first.proc.pid}" in line
    assert first.runs() == 1  # the second never got as far as the log
    assert first.stop() == 0


def test_kill_9_releases_the_lock_and_the_next_start_checks_the_journal(tmp_path, services):
    crashed = services(tmp_path / "data")
    crashed.wait_running()
    crashed.proc.send_signal(signal.SIGKILL)
    crashed.proc.wait(timeout=10)
    assert (tmp_path / "data" / "service.lock").read_text().strip() == str(crashed.proc.pid)  # stale, not held

    again = services(tmp_path / "data")
    again.wait_running(times=2)
    assert "journal was not closed cleanly; integrity_check: ok" in again.log()
    assert (tmp_path / "data" / "service.lock").read_text().strip() == str(again.proc.pid)
    assert again.stop() == 0


def test_a_damaged_journal_after_an_unclean_stop_refuses_to_trade(tmp_path):
    data_dir = tmp_path / "data"
    open_database(data_dir / "journal.sqlite3").close()
    corrupt_an_index(data_dir / "journal.sqlite3")
    result = run(*service_args(data_dir)[2:])
    assert result.returncode == 1
    line = [line for line in result.stderr.splitlines() if line.startswith("run.py service:")]
    assert len(line) == 1, result.stderr
    assert f"journal {data_dir / 'journal.sqlite3'} is damaged (integrity_check:" in line[0]
    assert "python run.py restore" in line[0]


def test_a_damaged_sim_state_exits_2_pointing_at_sim_reset(tmp_path, services):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    state = data_dir / "sim-state-5000001.msgpack"
    state.write_bytes(b"\x93torn")
    result = run(*service_args(data_dir)[2:])
    assert result.returncode == 2
    assert f"simulated terminal state {state}" in only_line(result.stderr)
    assert "--sim-reset" in result.stderr

    sim = run("sim", "--state", str(state), "--ctl", free_endpoint(), "--md", free_endpoint())
    assert sim.returncode == 2 and "--reset" in only_line(sim.stderr)

    fresh = services(data_dir, "--sim-reset")
    fresh.wait_running()
    assert [p.read_bytes() for p in data_dir.glob("sim-state-5000001.msgpack.*.old")] == [b"\x93torn"]
    assert fresh.stop() == 0
    assert state.exists()  # the fresh account, saved on stop


def test_backup_beside_the_service_restore_only_once_it_stops_then_start_on_it(tmp_path, services):
    data_dir = tmp_path / "data"
    service = services(data_dir)
    service.wait_running()
    made = run("backup", "--data-dir", str(data_dir))
    assert made.returncode == 0, made.stderr
    folder = Path(made.stdout.strip())
    assert folder.parent == data_dir / "backups" and check_file(folder / "journal.sqlite3") is None
    assert (folder / "config.json").is_file()

    refused = run("restore", str(folder), "--data-dir", str(data_dir))
    assert refused.returncode == 2
    assert f"PID {service.proc.pid}" in only_line(refused.stderr)
    assert service.stop() == 0

    done = run("restore", str(folder), "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr
    assert "reconciles against the terminal" in done.stdout
    assert list((data_dir / "replaced").glob("journal-*.sqlite3"))
    with contextlib.closing(sqlite3.connect(data_dir / "journal.sqlite3")) as con:
        assert con.execute("SELECT value FROM meta WHERE key = 'restored_from'").fetchone()[0].endswith(
            "journal.sqlite3")

    again = services(data_dir)
    again.wait_running(times=2)
    assert again.stop() == 0
