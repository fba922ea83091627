"""Control keys: who may send commands, and with which role (CONTROL_API.md, "Security").

Two files in the data dir, both owner-only (0600):
* `control.key`: the default key's secret, 64 hex characters on one line, key id `default`,
  role `admin`. Created on the executor's first start, so a local operator needs no setup.
* `control_keys.json`: every key's id, role, name, created and revoked (ms), and the secrets of
  the keys `run.py keys add` made (the default key's secret stays in control.key only).

The HMAC key is the 32 bytes the 64 hex characters spell; both files may be sealed at rest
(actors/runtime/sealing.py). Secrets never reach a log: a
`ControlKey` does not show its secret in its repr. `KeyStore` is the executor's view of the
files; it reloads them when they change, so `run.py keys revoke` takes effect on a running
executor at its next request, without a restart.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger

from actors.runtime.sealing import SealError, read_secret_text, write_secret_text

KEY_FILE = "control.key"
STORE_FILE = "control_keys.json"
DEFAULT_KEY_ID = "default"
ROLES = ("viewer", "trader", "admin")
ENV_VAR = "EXECUTOR_CONTROL_KEY"  # "KEY_ID:SECRET", or a bare SECRET of the default key
SECRET_HEX_CHARS = 64


class KeysError(ValueError):
    """A key file, store or key id that cannot be used; the message says what to do."""


class KeyNotFound(KeysError):
    """A client found no key anywhere it looks; the message says where to get one."""


@dataclass(frozen=True, slots=True)
class ControlKey:
    key_id: str
    role: str
    secret: bytes = field(repr=False)
    name: str = ""
    created: int = 0
    revoked: int | None = None


def key_path(data_dir: Path) -> Path:
    return Path(data_dir) / KEY_FILE


def store_path(data_dir: Path) -> Path:
    return Path(data_dir) / STORE_FILE


def new_secret() -> str:
    return secrets.token_hex(SECRET_HEX_CHARS // 2)


def parse_secret(text: str, where: str) -> bytes:
    text = text.strip()
    if len(text) != SECRET_HEX_CHARS or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise KeysError(f"{where} does not hold a key of {SECRET_HEX_CHARS} hex characters; "
                        "delete it to have a new one made, or `run.py keys rotate` it")
    return bytes.fromhex(text)


# --- files ---
def _write_private(path: Path, text: str) -> None:
    """Write `path` atomically and owner-only from its first byte; sealed when a seal key is
    configured (actors/runtime/sealing.py)."""
    write_secret_text(path, text)


def _read_private(path: Path) -> str:
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise KeysError(f"{path} is readable by other users; run `chmod 600 {path}`")
    return _unsealed(path)


def _unsealed(path: Path) -> str:
    try:
        return read_secret_text(path)
    except SealError as exc:
        raise KeysError(str(exc)) from None


def _read_entries(data_dir: Path) -> list[dict[str, Any]]:
    path = store_path(data_dir)
    try:
        document = json.loads(_read_private(path))
    except FileNotFoundError:
        return []
    except (OSError, json.JSONDecodeError) as exc:
        raise KeysError(f"cannot read the key store {path} ({exc}); restore it or delete it to keep only "
                        "control.key") from None
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) and isinstance(e.get("key_id"), str)
                                                and e.get("role") in ROLES for e in entries):
        raise KeysError(f"key store {path} is not {{\"keys\": [{{key_id, role, ...}}]}}; restore it from a backup")
    return entries


def _write_entries(data_dir: Path, entries: list[dict[str, Any]]) -> None:
    _write_private(store_path(data_dir), json.dumps({"version": 1, "keys": entries}, indent=2) + "\n")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def ensure_keys(data_dir: Path) -> bool:
    """Create the default key (and the store naming it) if missing; True when created now."""
    created = False
    if not key_path(data_dir).exists():
        _write_private(key_path(data_dir), new_secret() + "\n")
        created = True
    entries = _read_entries(data_dir)
    if not any(e["key_id"] == DEFAULT_KEY_ID for e in entries):
        entries.insert(0, {"key_id": DEFAULT_KEY_ID, "role": "admin", "name": "local operator (control.key)",
                           "created": _now_ms(), "revoked": None})
        _write_entries(data_dir, entries)
    return created


def load_keys(data_dir: Path) -> dict[str, ControlKey]:
    """Every key by id, revoked ones too (so a refusal can say "revoked"). KeysError if unusable."""
    keys: dict[str, ControlKey] = {}
    for e in _read_entries(data_dir):
        if e["key_id"] == DEFAULT_KEY_ID:
            try:
                secret = parse_secret(_read_private(key_path(data_dir)), str(key_path(data_dir)))
            except FileNotFoundError:
                continue  # no file, no default key: nobody can sign with it
        else:
            secret = parse_secret(str(e.get("secret", "")), f"key {e['key_id']} in {store_path(data_dir)}")
        keys[e["key_id"]] = ControlKey(e["key_id"], e["role"], secret, str(e.get("name") or ""),
                                       int(e.get("created") or 0), e.get("revoked"))
    return keys


# --- `run.py keys` ---
def add_key(data_dir: Path, role: str, name: str = "") -> tuple[ControlKey, str]:
    """A new key of `role`; returns it and its secret (hex), which is shown once."""
    if role not in ROLES:
        raise KeysError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    ensure_keys(data_dir)
    entries = _read_entries(data_dir)
    key_id = f"k{secrets.token_hex(4)}"
    secret = new_secret()
    entries.append({"key_id": key_id, "role": role, "name": name, "created": _now_ms(), "revoked": None,
                    "secret": secret})
    _write_entries(data_dir, entries)
    return load_keys(data_dir)[key_id], secret


def revoke_key(data_dir: Path, key_id: str) -> ControlKey:
    entries = _read_entries(data_dir)
    entry = _entry(entries, key_id, data_dir)
    if entry.get("revoked") is None:
        entry["revoked"] = _now_ms()
        _write_entries(data_dir, entries)
    return load_keys(data_dir)[key_id]


def rotate_key(data_dir: Path, key_id: str) -> tuple[ControlKey, str]:
    """A new secret for `key_id` (same id and role); the old secret stops working at once."""
    entries = _read_entries(data_dir)
    entry = _entry(entries, key_id, data_dir)
    if entry.get("revoked") is not None:
        raise KeysError(f"key {key_id} is revoked; make a new one with `run.py keys add --role {entry['role']}`")
    secret = new_secret()
    if key_id == DEFAULT_KEY_ID:
        _write_private(key_path(data_dir), secret + "\n")
    else:
        entry["secret"] = secret
        _write_entries(data_dir, entries)
    return load_keys(data_dir)[key_id], secret


def _entry(entries: list[dict[str, Any]], key_id: str, data_dir: Path) -> dict[str, Any]:
    for entry in entries:
        if entry["key_id"] == key_id:
            return entry
    raise KeysError(f"no key {key_id!r} in {store_path(data_dir)}; `run.py keys list` shows the ids")


# --- the executor's view ---
class KeyStore:
    """The keys of a data dir, reloaded when a file changes (a stat of each per lookup)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self._seen: tuple[Any, ...] | None = None
        self._keys: dict[str, ControlKey] = {}
        self.refresh(strict=True)

    def get(self, key_id: str) -> ControlKey | None:
        self.refresh()
        return self._keys.get(key_id)

    def refresh(self, strict: bool = False) -> None:
        """Reload if a file changed. A file broken while running keeps the last good keys (a broken
        file is no revocation) and is logged once; at start (`strict`) it raises KeysError."""
        seen = tuple(_signature(p) for p in (key_path(self.data_dir), store_path(self.data_dir)))
        if seen == self._seen:
            return
        self._seen = seen
        try:
            self._keys = load_keys(self.data_dir)
        except (KeysError, OSError) as exc:
            if strict:
                raise KeysError(str(exc)) from None
            logger.error("control keys not reloaded, the previous ones stay in force: {}", exc)
            return
        logger.info("control keys loaded: {}", ", ".join(f"{k.key_id} ({k.role}{', revoked' if k.revoked else ''})"
                                                        for k in self._keys.values()) or "none")


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


# --- the client's key (`run.py ctl`, tests, tools) ---
def parse_client_key(text: str, where: str) -> ControlKey:
    """`KEY_ID:SECRET` or a bare SECRET (the default key), as a signing key."""
    key_id, sep, secret = text.strip().rpartition(":")
    return ControlKey(key_id if sep else DEFAULT_KEY_ID, "?", parse_secret(secret, where))


def client_key(data_dir: Path | None, key_file: Path | None = None,
               env: dict[str, str] | None = None) -> ControlKey:
    """The key a client signs with: `key_file`, else the environment variable, else the data
    dir's control.key. KeysError in one line saying where to find one when there is none."""
    env = os.environ if env is None else env
    if key_file is not None:
        try:
            return parse_client_key(_unsealed(Path(key_file)), str(key_file))
        except OSError as exc:
            raise KeysError(f"cannot read key file {key_file}: {exc.strerror}") from None
    if env.get(ENV_VAR):
        return parse_client_key(env[ENV_VAR], f"${ENV_VAR}")
    path = key_path(data_dir or Path("data"))
    try:
        return parse_client_key(_unsealed(path), str(path))
    except FileNotFoundError:
        raise KeyNotFound(f"no control key at {path}: pass the executor's --data-dir (its first start makes the "
                        f"key), --key-file FILE, or set {ENV_VAR}=KEY_ID:SECRET") from None
    except OSError as exc:
        raise KeysError(f"cannot read control key {path}: {exc.strerror}") from None


# --- what `run.py keys` prints ---
def show_keys(keys: list[ControlKey]) -> str:
    """One line per key, secrets never: id, role, created, revoked, name."""
    if not keys:
        return "no keys yet: the executor makes control.key (admin) on its first start; `run.py keys add` makes others"
    rows = [("KEY_ID", "ROLE", "CREATED", "REVOKED", "NAME")]
    rows += [(k.key_id, k.role, _when(k.created), _when(k.revoked) if k.revoked else "-", k.name or "-")
             for k in keys]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r[:4], widths)) + "  " + r[4] for r in rows)


def show_secret(key: ControlKey, secret: str, done: str) -> str:
    """The only time a secret is shown: the line to save, and how to use it."""
    name = f" ({key.name})" if key.name else ""
    return "\n".join([
        f"key {key.key_id}{name}, role {key.role}: {done}. Its secret is shown only now:",
        f"{key.key_id}:{secret}",
        f"Save that line in a file only you can read (chmod 600) and use `run.py ctl --key-file FILE`, "
        f"or set {ENV_VAR} to it." if key.key_id != DEFAULT_KEY_ID else
        f"It is in {KEY_FILE} of the data dir too, where `run.py ctl --data-dir DIR` finds it."])


def _when(ms: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(ms / 1000)) if ms else "-"
