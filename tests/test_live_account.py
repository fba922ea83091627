"""Live accounts over real sockets: risk-increasing commands need the operator's TOTP code.

The simulator presents a real (live) account; the secret is written into the data dir
before start, as `run.py otp-setup` would. The verifier's clock is moved a time step per
code (instead of sleeping 30 s), since a code, once used, never works again.
"""

from __future__ import annotations

import re
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from actors.runtime import totp
from actors.runtime.confirmation import secret_path, write_secret
from actors.control.routes import live_accounts_concerned
from actors.risk.checks import LIVE_LIMITS
from actors.runtime.status_board import StatusBoard
from tests.test_control_api import NEVER, error_of, sim_positions

REPO = Path(__file__).resolve().parent.parent
CONFIRMED = "CONFIRMATION_REQUIRED"


class Codes:
    """The operator's authenticator app, on a clock the executor's verifier shares."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.now = time.time()

    def clock(self) -> float:
        return self.now

    def next(self) -> str:
        self.now += totp.STEP_S
        return totp.totp(self.secret, self.now)

    def wrong(self) -> str:
        good = {totp.totp(self.secret, self.now + k * totp.STEP_S) for k in range(-2, 3)}
        return next(c for c in (f"{n:06d}" for n in range(1_000_000)) if c not in good)


@pytest.fixture
def live(executor_factory, tmp_path, monkeypatch):
    codes = Codes(write_secret(tmp_path / "data"))
    executor = executor_factory(sim={"account": "live"})
    executor.wait_connected()
    monkeypatch.setattr(executor.service.otp, "clock", codes.clock)
    return executor, codes


def confirmed(executor, codes: Codes, type_: str, data: dict[str, Any]) -> dict[str, Any]:
    """Refused without a code and with a wrong one, run with a good one, refused when replayed."""
    missing = error_of(executor.request(type_, data), CONFIRMED)
    assert "TOTP" in missing["message"] and "live account" in missing["message"], missing
    error_of(executor.request(type_, data, otp=codes.wrong()), CONFIRMED)
    code = codes.next()
    reply = executor.ok(type_, data, otp=code)
    replayed = error_of(executor.request(type_, data, otp=code), CONFIRMED)
    assert "already used" in replayed["message"], replayed
    return reply


def test_every_risk_increasing_command_needs_a_fresh_code(live):
    executor, codes = live
    started = confirmed(executor, codes, "START_STRATEGY", {"strategy_id": "live-1", "strategy": NEVER})
    assert started == {"strategy_id": "live-1", "state": "running"}
    updated = confirmed(executor, codes, "UPDATE_STRATEGY", {"strategy_id": "live-1", "strategy": NEVER})
    assert updated["state"] == "running"
    assert executor.ok("PAUSE_STRATEGY", {"strategy_id": "live-1"})["state"] == "paused"  # reduces risk: no code
    assert confirmed(executor, codes, "RESUME_STRATEGY", {"strategy_id": "live-1"})["state"] == "running"

    opened = confirmed(executor, codes, "OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.01})
    assert [p["ticket"] for p in sim_positions(executor)] == [opened["ticket"]]  # refusals opened nothing
    executor.ok("CLOSE_POSITION", {"ticket": opened["ticket"]})  # reduces risk: no code

    assert confirmed(executor, codes, "RESET_KILL_SWITCH", {}) == {"state": "ACTIVE"}
    executor.ok("STOP_STRATEGY", {"strategy_id": "live-1"})


def test_an_older_code_is_refused_after_a_newer_one_and_after_a_restart(live):
    executor, codes = live
    older, newer = codes.next(), codes.next()
    executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.01}, otp=newer)
    error_of(executor.request("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.01}, otp=older),
             CONFIRMED)
    executor.restart()  # the used step is journaled: a code seen on the wire stays used
    executor.wait_connected()
    executor.service.otp.clock = codes.clock
    error_of(executor.request("RESET_KILL_SWITCH", {}, otp=newer), CONFIRMED)
    assert executor.ok("RESET_KILL_SWITCH", {}, otp=codes.next()) == {"state": "ACTIVE"}


def test_update_risk_limits_tightens_freely_and_loosens_past_the_live_defaults_with_a_code(live):
    executor, codes = live
    assert executor.ok("UPDATE_RISK_LIMITS", {"limits": {"max_positions": 2, "max_lot_size": 0.05}})["limits"][
        "max_positions"] == 2
    # Back up to the live defaults needs no code either.
    back = executor.ok("UPDATE_RISK_LIMITS", {"limits": {"max_positions": LIVE_LIMITS["max_positions"]}})
    assert back["limits"]["max_positions"] == LIVE_LIMITS["max_positions"]

    beyond = {"limits": {"max_lot_size": 0.5, "max_daily_loss_pct": 1.0}}  # one loosens, one tightens
    err = error_of(executor.request("UPDATE_RISK_LIMITS", beyond), CONFIRMED)
    assert "max_lot_size" in err["message"] and "max_daily_loss_pct" not in err["message"], err
    assert "otp-setup" in err["message"], err
    assert err["details"]["keys"] == ["max_lot_size"]
    error_of(executor.request("UPDATE_RISK_LIMITS", beyond, otp=codes.wrong()), CONFIRMED)
    login = executor.status()["accounts"][0]["login"]
    assert executor.service.board.get(f"risk:{login}")["limits"]["max_lot_size"] == 0.05  # nothing applied

    code = codes.next()
    reply = executor.ok("UPDATE_RISK_LIMITS", beyond, otp=code)
    assert reply["account"] == login
    assert (reply["limits"]["max_lot_size"], reply["limits"]["max_daily_loss_pct"]) == (0.5, 1.0)
    assert set(reply["limits"]) == set(LIVE_LIMITS)  # the effective limits, not the update
    error_of(executor.request("UPDATE_RISK_LIMITS", {"limits": {"max_positions": 9}}, otp=code), CONFIRMED)
    # Already loosened: staying there, or tightening towards the defaults, needs no new code.
    executor.ok("UPDATE_RISK_LIMITS", {"limits": {"max_lot_size": 0.4}})

    err = error_of(executor.request("UPDATE_RISK_LIMITS", {"limits": {"max_lot_size": 0}}), "BAD_REQUEST")
    assert err["details"]["field"] == "data.limits.max_lot_size"
    err = error_of(executor.request("UPDATE_RISK_LIMITS", {"limits": {"correlation_action": "allow"}}), "BAD_REQUEST")
    assert "correlation_action" in err["message"]


def test_a_live_account_without_a_secret_tells_the_operator_to_run_otp_setup(executor_factory):
    executor = executor_factory(sim={"account": "live"})
    executor.wait_connected()
    for type_, data in (("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.01}),
                        ("RESET_KILL_SWITCH", {}), ("UPDATE_RISK_LIMITS", {"limits": {"max_positions": 50}})):
        err = error_of(executor.request(type_, data, otp="123456"), CONFIRMED)
        assert "otp-setup" in err["message"], err
    executor.ok("UPDATE_RISK_LIMITS", {"limits": {"max_positions": 1}})  # tightening still works
    assert sim_positions(executor) == []


def test_a_demo_account_needs_no_code_for_anything(executor):
    executor.ok("START_STRATEGY", {"strategy_id": "demo-1", "strategy": NEVER})
    executor.ok("UPDATE_STRATEGY", {"strategy_id": "demo-1", "strategy": NEVER})
    executor.ok("PAUSE_STRATEGY", {"strategy_id": "demo-1"})
    executor.ok("RESUME_STRATEGY", {"strategy_id": "demo-1"})
    executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.01})
    executor.ok("RESET_KILL_SWITCH", {})
    loose = executor.ok("UPDATE_RISK_LIMITS", {"limits": {"max_lot_size": 50.0, "max_positions": 500}})["limits"]
    assert (loose["max_lot_size"], loose["max_positions"]) == (50.0, 500)
    executor.ok("STOP_STRATEGY", {"strategy_id": "demo-1"})


def test_only_live_accounts_concerned_need_a_code():
    board = StatusBoard()
    for login, kind in ((1, "demo"), (2, "live")):
        board.post(f"account:{login}", {"login": login, "type": kind})
        board.post(f"risk:{login}", {"account_type": kind})
    board.post("strategies", [{"strategy_id": "d", "account": 1}, {"strategy_id": "l", "account": 2}])
    assert live_accounts_concerned("OPEN_POSITION", {"account": 1}, board) == []
    assert live_accounts_concerned("OPEN_POSITION", {"account": 2}, board) == [2]
    assert live_accounts_concerned("OPEN_POSITION", {}, board) == []  # the default is the first: demo
    assert live_accounts_concerned("RESUME_STRATEGY", {"strategy_id": "d"}, board) == []
    assert live_accounts_concerned("UPDATE_STRATEGY", {"strategy_id": "l"}, board) == [2]
    assert live_accounts_concerned("RESUME_STRATEGY", {"strategy_id": "unlisted"}, board) == [2]  # fail closed
    assert live_accounts_concerned("RESET_KILL_SWITCH", {}, board) == [2]  # any live account
    assert live_accounts_concerned("CLOSE_ALL", {}, board) == []
    # Either owner having heard "live" from the terminal is enough.
    board.post("risk:1", {"account_type": "live"})
    assert live_accounts_concerned("OPEN_POSITION", {"account": 1}, board) == [1]


def otp_setup(data_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run.py", "otp-setup", "--data-dir", str(data_dir), *extra],
                          cwd=REPO, capture_output=True, text=True, timeout=30)


def test_otp_setup_writes_an_owner_only_secret_and_prints_its_uri(tmp_path):
    data_dir = tmp_path / "data"
    done = otp_setup(data_dir, "--account-name", "desk-1")
    assert done.returncode == 0, done.stderr
    path = secret_path(data_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    secret = path.read_text().strip()
    uri = re.search(r"otpauth://totp/\S+", done.stdout).group(0)
    assert f"secret={secret}" in uri and "desk-1" in uri
    assert secret in done.stdout.replace(uri, "")
    assert totp.verify(secret, totp.totp(secret)) is not None

    again = otp_setup(data_dir)
    assert again.returncode != 0 and "--force" in again.stderr
    assert path.read_text().strip() == secret  # the authenticator app's secret is kept

    forced = otp_setup(data_dir, "--force")
    assert forced.returncode == 0, forced.stderr
    assert path.read_text().strip() != secret and stat.S_IMODE(path.stat().st_mode) == 0o600
