"""Secrets at rest: the data dir's secret files, written owner-only and optionally sealed.

The files: control.key and control_keys.json (HMAC keys), otp.secret (TOTP), and the CURVE
secret keys under curve/ (the executor's, and the clients' and terminals' that `run.py keys`
made). Every reader and writer of them goes through `read_secret_text` / `write_secret_text`,
so a sealed file works wherever a plain one does.

Sealed: AES-256-GCM (`cryptography`) under a 32-byte seal key from $EXECUTOR_SEAL_KEY (64 hex
characters) or, when that is unset, the OS keyring (`keyring`: service "mt5-executor", user
"seal-key"). A fresh 96-bit nonce per seal; the file's name is the associated data, so a
sealed control.key moved over otp.secret does not open. On disk: one line,
`sealed:aes-256-gcm:v1:<base64 of nonce + ciphertext + tag>`. Without a seal key files are
written plain, as before; `run.py secrets seal` seals the ones there.

A secret's value never reaches a log: errors name the file, never its content.
`secret_file_warnings` is what `run.py doctor` and `run.py secrets check` print: files
readable by others, plain files while a seal key is configured, a data dir others can enter.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import secrets
import stat
from pathlib import Path

ENV_VAR = "EXECUTOR_SEAL_KEY"
KEYRING_SERVICE, KEYRING_USER = "mt5-executor", "seal-key"
PREFIX = "sealed:aes-256-gcm:v1:"
NONCE_BYTES = 12
FIXED_FILES = ("control.key", "control_keys.json", "otp.secret", "curve/server.key_secret")
SECRET_GLOBS = ("curve/clients/*.key_secret", "curve/terminals/*.key_secret")


class SealError(ValueError):
    """A sealed file that cannot be opened, or a seal key that cannot be used; says what to do."""


# --- the seal key ---
def parse_seal_key(text: str, where: str) -> bytes:
    text = text.strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise SealError(f"{where} is not a seal key of 64 hex characters; make one with `run.py secrets new-key`")
    return key


def new_seal_key() -> str:
    return secrets.token_hex(32)


def seal_key(env: dict[str, str] | None = None) -> bytes | None:
    """The configured seal key: $EXECUTOR_SEAL_KEY, else the OS keyring's, else None."""
    env = os.environ if env is None else env
    if env.get(ENV_VAR):
        return parse_seal_key(env[ENV_VAR], f"${ENV_VAR}")
    stored = _keyring_key()
    return parse_seal_key(stored, f"the OS keyring's {KEYRING_SERVICE}/{KEYRING_USER}") if stored else None


@functools.lru_cache(maxsize=1)
def _keyring_key() -> str | None:
    """Asked once per process: a keyring behind D-Bus is slow, and the key does not change."""
    try:
        import keyring

        return keyring.get_password(KEYRING_SERVICE, KEYRING_USER)
    except Exception:  # noqa: BLE001 - no backend, a locked one, no keyring package: not configured
        return None


def store_in_keyring(key_hex: str) -> None:
    """Keep the seal key in the OS keyring; SealError when there is no usable keyring."""
    parse_seal_key(key_hex, "the seal key")
    try:
        import keyring

        keyring.set_password(KEYRING_SERVICE, KEYRING_USER, key_hex)
    except Exception as exc:  # noqa: BLE001 - the backend's own error types vary
        raise SealError(f"the OS keyring cannot store the seal key ({type(exc).__name__}); set {ENV_VAR} in the "
                        "service's environment instead") from None
    _keyring_key.cache_clear()


# --- sealing ---
def seal(plaintext: str, key: bytes, label: str) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(NONCE_BYTES)  # never reused: 96 random bits per seal
    blob = nonce + AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), label.encode("utf-8"))
    return PREFIX + base64.b64encode(blob).decode("ascii") + "\n"


def unseal(text: str, key: bytes, label: str, where: str) -> str:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        blob = base64.b64decode(text.strip()[len(PREFIX):], validate=True)
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], label.encode("utf-8")).decode("utf-8")
    except (InvalidTag, binascii.Error, ValueError, UnicodeDecodeError):
        raise SealError(f"{where} does not open with the configured seal key (another key, or the file was "
                        "changed); set the key it was sealed with, or restore the file") from None


def is_sealed(text: str) -> bool:
    return text.startswith(PREFIX)


# --- the files ---
def read_secret_text(path: Path, env: dict[str, str] | None = None) -> str:
    """The content of a secret file, unsealed when sealed. FileNotFoundError passes through."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if not is_sealed(text):
        return text
    key = seal_key(env)
    if key is None:
        raise SealError(f"{path} is sealed and no seal key is configured: set {ENV_VAR} (or keep it in the OS "
                        "keyring with `run.py secrets new-key --keyring`)")
    return unseal(text, key, path.name, str(path))


def write_secret_text(path: Path, text: str, *, exclusive: bool = False, env: dict[str, str] | None = None,
                      sealed: bool | None = None) -> None:
    """Write `path` atomically and owner-only (0600 from its first byte), sealed when a seal
    key is configured (or as `sealed` says). `exclusive`: FileExistsError if it exists."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = seal_key(env) if sealed is not False else None
    if sealed and key is None:
        raise SealError(f"no seal key to seal {path} with: set {ENV_VAR} or keep one in the OS keyring")
    content = seal(text, key, path.name) if key is not None else text
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(content)
    if exclusive:
        try:
            os.link(tmp, path)  # fails when `path` exists: no second writer replaces the first
        finally:
            tmp.unlink(missing_ok=True)
    else:
        os.replace(tmp, path)


def secret_files(data_dir: Path) -> list[Path]:
    """The secret files present in `data_dir`."""
    data_dir = Path(data_dir)
    found = [data_dir / name for name in FIXED_FILES if (data_dir / name).exists()]
    for pattern in SECRET_GLOBS:
        found += sorted(data_dir.glob(pattern))
    return found


def reseal(data_dir: Path, *, sealed: bool, env: dict[str, str] | None = None) -> list[Path]:
    """Seal (or unseal) every secret file of `data_dir`; the files changed."""
    if sealed and seal_key(env) is None:
        raise SealError(f"no seal key: set {ENV_VAR} (64 hex characters, `run.py secrets new-key` makes one) or "
                        "keep one in the OS keyring (`run.py secrets new-key --keyring`)")
    changed = []
    for path in secret_files(data_dir):
        raw = path.read_text(encoding="utf-8")
        if is_sealed(raw) == sealed:
            continue
        write_secret_text(path, read_secret_text(path, env), env=env, sealed=sealed)
        changed.append(path)
    return changed


def secret_file_warnings(data_dir: Path, env: dict[str, str] | None = None) -> list[str]:
    """One line per problem with the data dir's secrets, saying what to do; [] when none.
    Pure of the service: `run.py doctor` calls it, so does `run.py secrets check`."""
    data_dir = Path(data_dir)
    warnings: list[str] = []
    files = secret_files(data_dir)
    if os.name == "posix":
        for path in files:
            if stat.S_IMODE(path.stat().st_mode) & 0o077:
                warnings.append(f"{path} is readable by other users; run `chmod 600 {path}`")
        if data_dir.exists() and stat.S_IMODE(data_dir.stat().st_mode) & 0o007:
            warnings.append(f"the data dir {data_dir} is open to every user; run `chmod o-rwx {data_dir}`")
    try:
        key = seal_key(env)
    except SealError as exc:
        return warnings + [str(exc)]
    plain = [p for p in files if not is_sealed(p.read_text(encoding="utf-8", errors="replace"))]
    if key is not None and plain:
        warnings.append(f"{len(plain)} secret file(s) not sealed although a seal key is configured "
                        f"({', '.join(p.name for p in plain)}); run `run.py secrets seal --data-dir {data_dir}`")
    if key is None and any(is_sealed(p.read_text(encoding="utf-8", errors="replace")) for p in files):
        warnings.append(f"sealed secret files in {data_dir} but no seal key configured: set {ENV_VAR} "
                        "before starting the service")
    return warnings
