"""No secret reaches a log or the audit trail: a whole executor runs with sealed secret files,
a TOTP secret, extra HMAC keys, CURVE on every socket, signed and refused commands, and then
its log file (DEBUG and up), stderr and the audit table are searched for every secret it held."""

from __future__ import annotations

import sqlite3

import pytest

from actors.control import keys
from actors.control.client import ControlClient
from actors.runtime import confirmation, curve_keys, sealing, totp
from bridge.curve import ClientKeys
from conftest import wait_for

pytestmark = pytest.mark.timeout(90)
SEAL_KEY = "5e" * 32


def test_no_secret_is_logged_or_audited(executor_factory, tmp_path, monkeypatch, capfd):
    monkeypatch.setenv(sealing.ENV_VAR, SEAL_KEY)
    data_dir = tmp_path / "data"
    keys.ensure_keys(data_dir)
    _, trader_secret = keys.add_key(data_dir, "trader", "bot")
    otp_secret = confirmation.write_secret(data_dir)
    executor = executor_factory(curve=True, ea_curve=True)
    server_public, server_secret = curve_keys.server_keys(data_dir)
    local = ClientKeys(server_public, *curve_keys.local_client_pair(data_dir))
    sim_secret = curve_keys.terminal_pair(data_dir, executor.config.sim.login)[1]
    default_secret = keys.client_key(data_dir, env={}).secret.hex()
    code = totp.totp(otp_secret)
    with ControlClient(executor.config.control_endpoint, timeout_s=30, data_dir=data_dir, curve=local) as client:
        board = executor.service.board
        login = executor.config.sim.login
        wait_for(lambda: board.get(f"account:{login}", {}).get("ready"), timeout=30, message="the terminal")
        wait_for(lambda: board.get(f"quote:{login}:EURUSD"), timeout=30, message="a EURUSD quote")
        opened = client.request("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1}, otp=code)
        assert opened["ok"], opened
        assert client.request("UPDATE_RISK_LIMITS", {"limits": {"max_positions": 5}}, otp=code)["ok"]
        wrong = ControlClient(executor.config.control_endpoint, timeout_s=10, curve=local,
                              key=keys.ControlKey("default", "?", bytes(32)))
        assert wrong.request("PING")["error"]["code"] == "UNAUTHORIZED"
        wrong.close()
    executor.stop()
    secrets = {"default key": default_secret, "trader key": trader_secret, "TOTP secret": otp_secret,
               "TOTP code": code, "CURVE server secret": server_secret, "CURVE client secret": local.secret,
               "CURVE terminal secret": sim_secret, "seal key": SEAL_KEY}
    for name in ("control.key", "control_keys.json", "otp.secret", "curve/server.key_secret"):
        assert sealing.is_sealed((data_dir / name).read_text()), f"{name} is sealed at rest"
    logs = "".join(p.read_text() for p in (tmp_path / "logs").glob("*"))
    assert "OPEN_POSITION" in logs and "UPDATE_RISK_LIMITS" in logs, "the log holds the session's commands"
    assert "control request refused" in logs, "and the refusal"
    out, err = capfd.readouterr()
    con = sqlite3.connect(data_dir / "journal.sqlite3")
    audited = "\n".join(str(row) for row in con.execute("SELECT * FROM audit"))
    con.close()
    assert "OPEN_POSITION" in audited
    for name, secret in secrets.items():
        for where, text in (("the log file", logs), ("stdout/stderr", out + err), ("the audit table", audited)):
            assert secret not in text, f"the {name} is in {where}"
            assert secret.upper() not in text and secret.lower() not in text, f"the {name} is in {where}"
