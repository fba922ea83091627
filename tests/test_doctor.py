"""`run.py doctor`: a good setup passes; each misconfiguration it names fails, and says what to do."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from actors.app import doctor
from tests.conftest import free_endpoint

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parent.parent
NOW_MS = time.time_ns() // 1_000_000


def not_running(config):
    raise TimeoutError("nobody there")


def good_setup(tmp_path: Path, config_text: str = "") -> tuple[Path, Path]:
    """A stopped production setup: real terminal, auth on with a key, TOTP, an intact journal,
    a fresh backup, the kill switch off."""
    data = tmp_path / "data"
    (data / "logs").mkdir(parents=True)
    for name, text in (("control.key", "ab" * 32 + "\n"), ("otp.secret", "JBSWY3DPEHPK3PXP\n")):
        (data / name).write_text(text)
        os.chmod(data / name, 0o600)
    with sqlite3.connect(data / "journal.sqlite3") as db:
        db.execute("CREATE TABLE kill_switch (id INTEGER PRIMARY KEY, active INTEGER, reason TEXT, engaged_at INTEGER, "
                   "locked_until INTEGER)")
        db.execute("INSERT INTO kill_switch VALUES (1, 0, '', 0, 0)")
    (data / "backups" / "20261124T080000Z-scheduled").mkdir(parents=True)
    config = tmp_path / "executor.toml"
    config.write_text(f'data_dir = "{data}"\ncontrol_endpoint = "{free_endpoint()}"\nno_sim = true\n{config_text}')
    return data, config


def live_account(**row) -> dict:
    return {"login": 7, "type": "live", "connected": True, "trading_state": "ACTIVE", "clock_skew_ms": 120,
            "limits": {"max_lot_size": 0.1}, **row}


def findings_of(data: Path | None, config: Path, status: dict | None = None) -> dict[str, doctor.Finding]:
    ask = not_running if status is None else (lambda c: {"ok": True, "data": status})
    return {f.check: f for f in doctor.diagnose(doctor.subject(data, config, ask))}


def test_a_good_setup_is_ready(tmp_path):
    data, config = good_setup(tmp_path)
    findings = findings_of(None, config)
    assert [f for f in findings.values() if f.ok is False] == []
    assert findings["EA link"].ok is None and "skipped" in findings["EA link"].detail  # stopped: not judged
    running = findings_of(None, config, {"kill_switch": {"active": False}, "accounts": [live_account()]})
    assert all(f.ok for f in running.values()), running
    good, done = doctor.score(list(running.values()))
    assert good == done == len(doctor.CHECKS)


def break_journal(data: Path) -> None:
    (data / "journal.sqlite3").write_bytes(b"SQLite format 3\x00" + b"\xff" * 4096)


def engage_kill_switch(data: Path) -> None:
    with sqlite3.connect(data / "journal.sqlite3") as db:
        db.execute("UPDATE kill_switch SET active = 1, reason = 'operator', locked_until = ?", (NOW_MS + 3_600_000,))


def age_backups(data: Path) -> None:
    folder = data / "backups" / "20261124T080000Z-scheduled"
    old = time.time() - 3 * 86400
    os.utime(folder, (old, old))


MISCONFIGURATIONS = [
    ("configuration", "kill_lock = 5\n", None, "unknown config key kill_lock"),
    ("real terminal", "", lambda d, c: c.write_text(c.read_text().replace("no_sim = true", "")), "simulated"),
    ("authentication", "control_auth = false\n", None, "authentication is off"),
    ("authentication", "", lambda d, c: (d / "control.key").unlink(), "no key"),
    ("secret permissions", "", lambda d, c: os.chmod(d / "control.key", 0o644), "readable by others"),
    ("TOTP confirmation", "", lambda d, c: (d / "otp.secret").unlink(), "no otp.secret"),
    ("journal", "", lambda d, c: break_journal(d), "journal.sqlite3"),
    ("journal", "", lambda d, c: (d / "journal.sqlite3").unlink(), "no journal"),
    ("backups", "", lambda d, c: (d / "backups" / "20261124T080000Z-scheduled").rmdir(), "no backup"),
    ("backups", "", lambda d, c: age_backups(d), "old (more than 2.0 h)"),
    ("kill switch", "", lambda d, c: engage_kill_switch(d), "ENGAGED (operator)"),
    ("log rotation", "", lambda d, c: ((d / "logs").rmdir(), (d / "logs").write_text("")), "not a writable folder"),
]


@pytest.mark.parametrize("check, config_text, damage, says", MISCONFIGURATIONS)
def test_each_misconfiguration_fails_its_check_and_says_what_to_do(tmp_path, check, config_text, damage, says):
    data, config = good_setup(tmp_path, config_text)
    if damage:
        damage(data, config)
    findings = findings_of(None, config)
    failed = {name: f for name, f in findings.items() if f.ok is False}
    assert list(failed) == [check], failed
    assert says in failed[check].detail and failed[check].fix


@pytest.mark.parametrize("check, account, kill, says", [
    ("risk limits", {"limits": {"max_lot_size": 5.0}}, {}, "account 7 max_lot_size = 5.0 (default 0.1)"),
    ("EA link", {"connected": False}, {}, "account(s) 7 not connected"),
    ("clock skew", {"clock_skew_ms": -9500}, {}, "account 7: server clock -9.5 s"),
    ("kill switch", {}, {"active": True, "reason": "breach", "locked_until": NOW_MS + 60_000}, "ENGAGED (breach)"),
    ("kill switch", {"trading_state": "HALTED"}, {}, "7 HALTED"),
])
def test_a_running_service_is_judged_on_its_status(tmp_path, check, account, kill, says):
    data, config = good_setup(tmp_path)
    findings = findings_of(None, config, {"kill_switch": {"active": False, **kill},
                                          "accounts": [live_account(**account)]})
    failed = {name: f for name, f in findings.items() if f.ok is False}
    assert list(failed) == [check] and says in failed[check].detail, failed


def test_too_little_disk_fails(tmp_path, monkeypatch):
    data, config = good_setup(tmp_path)
    monkeypatch.setattr(doctor, "MIN_FREE_BYTES", 1 << 62)
    assert [n for n, f in findings_of(None, config).items() if f.ok is False] == ["disk space"]


def test_the_command_scores_and_exits_0_only_when_ready(tmp_path):
    data, config = good_setup(tmp_path)

    def run() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "run.py", "doctor", "--config", str(config)], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
    ready = run()
    assert ready.returncode == 0, ready.stdout + ready.stderr
    assert "score 11/11 (100 %): READY for production" in ready.stdout
    os.chmod(data / "otp.secret", 0o640)
    (data / "control.key").unlink()
    not_ready = run()
    assert not_ready.returncode == 1
    assert "score 9/11 (81 %): NOT READY" in not_ready.stdout
    assert "secret permissions: chmod 600" in not_ready.stdout and "authentication: start the service once" in \
        not_ready.stdout


def test_doctor_reads_a_running_service(executor_factory, tmp_path):
    executor = executor_factory()
    executor.wait_connected()
    config = tmp_path / "running.toml"
    config.write_text(f'data_dir = "{executor.config.data_dir}"\ncontrol_endpoint = '
                      f'"{executor.config.control_endpoint}"\n')
    s = doctor.subject(None, config, doctor.status_of)
    assert s.status is not None, s.status_error
    findings = {f.check: f for f in doctor.diagnose(s)}
    assert findings["EA link"].ok and findings["EA link"].detail == "1 account(s) connected"
    assert findings["real terminal"].ok is False  # the test's service runs the simulator
    assert findings["kill switch"].ok and findings["journal"].ok
