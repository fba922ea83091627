"""Secrets at rest (actors/runtime/sealing.py): owner-only files, AES-256-GCM sealing under a
key from the environment or the OS keyring, the key files and the TOTP secret read through
it, and the warnings `run.py doctor` and `run.py secrets check` print."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend

from actors.control import keys
from actors.runtime import confirmation, sealing
from actors.runtime.sealing import SealError

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parent.parent
KEY = "11" * 32
OTHER_KEY = "22" * 32


@pytest.fixture(autouse=True)
def no_keyring_key(monkeypatch):
    """Every test starts with no seal key anywhere: not in the environment, not in a keyring."""
    monkeypatch.delenv(sealing.ENV_VAR, raising=False)
    sealing._keyring_key.cache_clear()
    yield
    sealing._keyring_key.cache_clear()


def test_a_seal_opens_with_its_key_and_label_only():
    key = bytes.fromhex(KEY)
    sealed = sealing.seal("the secret", key, "control.key")
    assert sealing.is_sealed(sealed) and "the secret" not in sealed
    assert sealing.unseal(sealed, key, "control.key", "f") == "the secret"
    assert sealing.seal("the secret", key, "control.key") != sealed, "a fresh nonce per seal"
    with pytest.raises(SealError, match="does not open"):
        sealing.unseal(sealed, bytes.fromhex(OTHER_KEY), "control.key", "f")
    with pytest.raises(SealError, match="does not open"):
        sealing.unseal(sealed, key, "otp.secret", "f")  # the file's name is the associated data
    flipped = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    with pytest.raises(SealError, match="does not open"):
        sealing.unseal(flipped, key, "control.key", "f")


def test_files_are_owner_only_and_sealed_when_a_key_is_set(tmp_path, monkeypatch):
    plain = tmp_path / "plain.secret"
    sealing.write_secret_text(plain, "abc\n")
    assert plain.read_text() == "abc\n"
    if os.name == "posix":
        assert stat.S_IMODE(plain.stat().st_mode) == 0o600
    monkeypatch.setenv(sealing.ENV_VAR, KEY)
    sealed = tmp_path / "sealed.secret"
    sealing.write_secret_text(sealed, "abc\n")
    assert sealing.is_sealed(sealed.read_text()) and "abc" not in sealed.read_text()
    assert sealing.read_secret_text(sealed) == "abc\n" and sealing.read_secret_text(plain) == "abc\n"
    monkeypatch.delenv(sealing.ENV_VAR)
    with pytest.raises(SealError, match=sealing.ENV_VAR):
        sealing.read_secret_text(sealed)
    monkeypatch.setenv(sealing.ENV_VAR, "not hex")
    with pytest.raises(SealError, match="64 hex"):
        sealing.seal_key()


def test_control_keys_and_the_totp_secret_work_sealed(tmp_path, monkeypatch):
    monkeypatch.setenv(sealing.ENV_VAR, KEY)
    assert keys.ensure_keys(tmp_path)
    _, secret = keys.add_key(tmp_path, "viewer", "ops")
    otp = confirmation.write_secret(tmp_path)
    for name in ("control.key", "control_keys.json", "otp.secret"):
        text = (tmp_path / name).read_text()
        assert sealing.is_sealed(text), name
        assert secret not in text and otp not in text
    loaded = keys.load_keys(tmp_path)
    assert loaded["default"].secret == keys.client_key(tmp_path, env={}).secret
    assert [k.secret.hex() for k in loaded.values() if k.role == "viewer"] == [secret]
    assert confirmation.read_secret(tmp_path) == otp
    monkeypatch.setenv(sealing.ENV_VAR, OTHER_KEY)
    with pytest.raises(keys.KeysError, match="does not open"):
        keys.load_keys(tmp_path)
    assert confirmation.read_secret(tmp_path) is None  # logged, never raised: live accounts refuse then


class MemoryKeyring(KeyringBackend):
    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.values.get((service, username))

    def set_password(self, service, username, password):
        self.values[(service, username)] = password

    def delete_password(self, service, username):
        self.values.pop((service, username), None)


def test_the_seal_key_may_live_in_the_os_keyring(tmp_path):
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    try:
        assert sealing.seal_key() is None
        sealing.store_in_keyring(KEY)
        assert sealing.seal_key() == bytes.fromhex(KEY)
        sealing.write_secret_text(tmp_path / "x.secret", "abc")
        assert sealing.is_sealed((tmp_path / "x.secret").read_text())
        assert sealing.seal_key({sealing.ENV_VAR: OTHER_KEY}) == bytes.fromhex(OTHER_KEY), "the environment wins"
    finally:
        keyring.set_keyring(previous)


def test_warnings_name_each_problem_and_what_to_do(tmp_path, monkeypatch):
    keys.ensure_keys(tmp_path)
    confirmation.write_secret(tmp_path)
    os.chmod(tmp_path, 0o700)
    assert sealing.secret_file_warnings(tmp_path) == []
    if os.name == "posix":
        os.chmod(tmp_path / "otp.secret", 0o644)
        [line] = sealing.secret_file_warnings(tmp_path)
        assert "otp.secret is readable by other users" in line and "chmod 600" in line
        os.chmod(tmp_path / "otp.secret", 0o600)
    monkeypatch.setenv(sealing.ENV_VAR, KEY)
    [line] = sealing.secret_file_warnings(tmp_path)
    assert "not sealed" in line and "secrets seal" in line
    assert {p.name for p in sealing.reseal(tmp_path, sealed=True)} == {"control.key", "control_keys.json", "otp.secret"}
    assert sealing.secret_file_warnings(tmp_path) == []
    monkeypatch.delenv(sealing.ENV_VAR)
    [line] = sealing.secret_file_warnings(tmp_path)
    assert "no seal key configured" in line


def run(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != sealing.ENV_VAR} | (env or {})
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *argv], capture_output=True, text=True, timeout=30,
                          env=environment)


def test_run_secrets_seals_checks_and_unseals(tmp_path):
    data = str(tmp_path)
    keys.ensure_keys(tmp_path)
    refused = run("secrets", "seal", "--data-dir", data)
    assert refused.returncode == 2 and sealing.ENV_VAR in refused.stderr
    new = run("secrets", "new-key")
    key = new.stdout.strip()
    assert new.returncode == 0 and len(key) == 64 and sealing.ENV_VAR in new.stderr
    sealed = run("secrets", "seal", "--data-dir", data, env={sealing.ENV_VAR: key})
    assert sealed.returncode == 0 and "sealed 2 file(s)" in sealed.stdout
    assert sealing.is_sealed((tmp_path / "control.key").read_text())
    assert run("secrets", "check", "--data-dir", data, env={sealing.ENV_VAR: key}).returncode == 0
    unsealed = run("secrets", "unseal", "--data-dir", data, env={sealing.ENV_VAR: key})
    assert unsealed.returncode == 0 and not sealing.is_sealed((tmp_path / "control.key").read_text())
    listed = run("keys", "list", "--data-dir", data)
    assert listed.returncode == 0 and "default" in listed.stdout
