"""Secure by default, as a user meets it: a fresh `run.py service` makes its key and refuses
unsigned requests, `run.py ctl` signs without any setup, and `run.py keys` adds, lists,
rotates and revokes keys that `ctl --key-file` (or the environment) then uses."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import msgpack
import pytest

from actors.control.client import ControlClient
from tests.conftest import free_endpoint, wait_for

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 30.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env={**os.environ, **(env or {})})


@pytest.fixture
def service(tmp_path):
    """`run.py service --no-sim` on a fresh data dir: nothing set up beforehand."""
    data_dir, control = tmp_path / "data", free_endpoint()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "run.py"), "service", "--no-sim", "--data-dir", str(data_dir),
         "--control", control, "--events", free_endpoint(), "--ea-ctl", free_endpoint(), "--ea-md", free_endpoint(),
         "--log-level", "WARNING"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        wait_for(lambda: (data_dir / "control.key").exists() or proc.poll() is not None, timeout=30,
                 message="the service's first start")
        yield data_dir, control
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def ctl(data_dir: Path, control: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return run("ctl", "--control", control, "--data-dir", str(data_dir), "--timeout", "10", *args, env=env)


@pytest.mark.timeout(120)
def test_a_fresh_service_is_authenticated_and_ctl_signs_without_setup(service, tmp_path):
    data_dir, control = service
    key = data_dir / "control.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((data_dir / "control_keys.json").stat().st_mode) == 0o600
    status = wait_for(lambda: (r := ctl(data_dir, control, "--json", "status")).returncode == 0 and r, timeout=30,
                      interval=0.2, message="ctl status to answer")
    assert json.loads(status.stdout)["ok"] is True
    assert ctl(data_dir, control, "status").returncode == 0
    # Anyone else, without the key, is refused.
    with ControlClient(control, timeout_s=10) as stranger:
        reply = stranger.request("STATUS_REQUEST")
    assert reply["error"]["code"] == "UNAUTHORIZED" and reply["error"]["details"]["reason"] == "unsigned"
    # ctl without a key says, in one line, where to find one.
    lost = run("ctl", "--control", control, "--data-dir", str(tmp_path / "elsewhere"), "--timeout", "10", "ping",
               env={"EXECUTOR_CONTROL_KEY": ""})
    assert lost.returncode == 1 and lost.stderr.count("\n") == 1, lost.stderr
    assert "no control key at" in lost.stderr and "--key-file" in lost.stderr
    broken = tmp_path / "broken.key"
    broken.write_text("nonsense\n")
    bad = run("ctl", "--control", control, "--key-file", str(broken), "ping")
    assert bad.returncode == 2 and "hex" in bad.stderr


@pytest.mark.timeout(120)
def test_keys_add_list_rotate_revoke_with_a_running_service(service, tmp_path):
    data_dir, control = service
    wait_for(lambda: ctl(data_dir, control, "ping").returncode == 0, timeout=30, interval=0.2, message="the service")
    added = run("keys", "add", "--role", "viewer", "--name", "dashboard", "--data-dir", str(data_dir))
    assert added.returncode == 0, added.stderr
    line = next(x for x in added.stdout.splitlines() if ":" in x and len(x.split(":")[-1]) == 64)
    key_id, secret = line.split(":")
    key_file = tmp_path / "viewer.key"
    key_file.write_text(line + "\n")

    listed = run("keys", "list", "--data-dir", str(data_dir))
    assert listed.returncode == 0 and key_id in listed.stdout and "viewer" in listed.stdout
    assert "dashboard" in listed.stdout and "default" in listed.stdout and "admin" in listed.stdout
    assert secret not in listed.stdout and (data_dir / "control.key").read_text().strip() not in listed.stdout

    viewer = ("--control", control, "--key-file", str(key_file), "--timeout", "10")
    assert run("ctl", *viewer, "status").returncode == 0
    trade = run("ctl", *viewer, "open", "EURUSD", "buy", "--volume", "0.1")
    assert trade.returncode == 1 and "UNAUTHORIZED" in trade.stderr and "viewer" in trade.stderr
    from_env = run("ctl", "--control", control, "--data-dir", str(tmp_path / "none"), "ping",
                   env={"EXECUTOR_CONTROL_KEY": line})
    assert from_env.returncode == 0, from_env.stderr

    rotated = run("keys", "rotate", key_id, "--data-dir", str(data_dir))
    assert rotated.returncode == 0 and f"{key_id}:" in rotated.stdout and secret not in rotated.stdout
    old = run("ctl", *viewer, "ping")
    assert old.returncode == 1 and "bad signature" in old.stderr
    key_file.write_text(next(x for x in rotated.stdout.splitlines() if x.startswith(f"{key_id}:")) + "\n")
    assert run("ctl", *viewer, "ping").returncode == 0

    revoked = run("keys", "revoke", key_id, "--data-dir", str(data_dir))
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    gone = run("ctl", *viewer, "ping")
    assert gone.returncode == 1 and "revoked" in gone.stderr
    row = next(r for r in run("keys", "list", "--data-dir", str(data_dir)).stdout.splitlines() if r.startswith(key_id))
    assert row.count("Z ") == 2, row  # created and revoked: two times
    missing = run("keys", "revoke", "k00000000", "--data-dir", str(data_dir))
    assert missing.returncode == 1 and missing.stderr.startswith("run.py keys: no key")
    assert run("keys", "add", "--role", "root", "--data-dir", str(data_dir)).returncode == 2  # bad usage


def test_keys_on_an_empty_data_dir(tmp_path):
    listed = run("keys", "list", "--data-dir", str(tmp_path))
    assert listed.returncode == 0 and "first start" in listed.stdout
    added = run("keys", "add", "--role", "trader", "--data-dir", str(tmp_path))
    assert added.returncode == 0 and (tmp_path / "control.key").exists()  # the default key is made with the first


def test_auth_off_is_refused_on_a_non_loopback_bind(tmp_path):
    result = run("service", "--no-auth", "--control", "tcp://0.0.0.0:5555", "--data-dir", str(tmp_path))
    assert result.returncode == 2 and "loopback" in result.stderr


def test_unsigned_frames_never_reach_a_command(service):
    data_dir, control = service
    wait_for(lambda: ctl(data_dir, control, "ping").returncode == 0, timeout=30, interval=0.2, message="the service")
    with ControlClient(control, timeout_s=10) as raw:
        frame = msgpack.packb({"v": 1, "id": "x-1", "type": "EMERGENCY_STOP", "ts": 0}, use_bin_type=True)
        assert raw.send_raw(frame)["error"]["details"]["reason"] == "unsigned"
    status = json.loads(ctl(data_dir, control, "--json", "status").stdout)["data"]
    assert status["kill_switch"]["active"] is False
