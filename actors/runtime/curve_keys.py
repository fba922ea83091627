"""The data dir's CURVE keys: the executor's keypair and who may connect with which key.

    curve/server.key, server.key_secret   the executor's keypair, made on first use; the
                                          public half is what clients and EAs are given
    curve/clients.txt                     control and events allow-list: `PUBLIC_KEY NAME`
    curve/clients/NAME.key[_secret]       a client's pair (`run.py keys curve-client NAME`);
                                          `local` is made at start, for `run.py ctl` here
    curve/terminals.txt                   EA allow-list: `PUBLIC_KEY LOGIN`; a terminal's key
                                          is bound to its login (the Gateway checks it)
    curve/terminals/LOGIN.key[_secret]    a terminal's pair (`run.py keys curve-terminal LOGIN`)

Secret halves are owner-only and sealed like every secret (actors/runtime/sealing.py);
allow-lists are plain text an operator may edit (a line starting with `#` is a comment), and a running
executor follows them: `AllowList` rereads its file when it changes, so removing a line
refuses that key from its next connection.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from bridge.curve import ClientKeys, CurveKeyError, certificate_text, check_key, client_keys, is_key, new_keypair, \
    parse_certificate
from actors.runtime.sealing import SealError, read_secret_text, write_secret_text

CURVE_DIR = "curve"
SERVER = "server"
CLIENTS, TERMINALS = "clients", "terminals"
LOCAL = "local"  # the client key `run.py ctl` uses on the executor's own host
RUNNING_CONFIG = "running-config.json"  # the service writes it at start (actors/app/service.py)
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class CurveKeysError(ValueError):
    """A CURVE key file or allow-list that cannot be used; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Made:
    """A keypair `run.py keys curve-*` made: where its files are, and its public key."""
    name: str
    public: str
    public_file: Path
    secret_file: Path


def curve_dir(data_dir: Path) -> Path:
    return Path(data_dir) / CURVE_DIR


def allow_list_path(data_dir: Path, kind: str) -> Path:
    return curve_dir(data_dir) / f"{kind}.txt"


def _write_pair(folder: Path, name: str, public: str, secret: str) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    public_file, secret_file = folder / f"{name}.key", folder / f"{name}.key_secret"
    public_file.write_text(certificate_text(public), encoding="utf-8")
    write_secret_text(secret_file, certificate_text(public, secret))
    return public_file, secret_file


def read_pair(secret_file: Path) -> tuple[str, str]:
    """(public, secret) of a `.key_secret` file, sealed or not."""
    try:
        public, secret = parse_certificate(read_secret_text(secret_file), str(secret_file))
    except (CurveKeyError, SealError) as exc:
        raise CurveKeysError(str(exc)) from None
    if secret is None:
        raise CurveKeysError(f"{secret_file} holds no secret key; delete it to have a new pair made")
    return public, secret


def server_keys(data_dir: Path) -> tuple[str, str]:
    """The executor's (public, secret), made now when there is none (owner-only)."""
    folder = curve_dir(data_dir)
    secret_file = folder / f"{SERVER}.key_secret"
    if not secret_file.exists():
        public, secret = new_keypair()
        _write_pair(folder, SERVER, public, secret)
        return public, secret
    if os.name == "posix" and secret_file.stat().st_mode & 0o077:
        raise CurveKeysError(f"{secret_file} is readable by other users; run `chmod 600 {secret_file}`")
    return read_pair(secret_file)


def server_public(data_dir: Path) -> str:
    """The executor's public key (made with its pair when there is none yet)."""
    return server_keys(data_dir)[0]


# --- allow-lists ---
def read_allow_list(path: Path) -> dict[str, str]:
    """{public key: name} of an allow-list file ({} when there is none)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CurveKeysError(f"cannot read the allow-list {path}: {exc.strerror or exc}") from None
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words or _comment(words[0]):
            continue
        try:
            key = check_key(words[0], f"{path} line {number}")
        except CurveKeyError as exc:
            raise CurveKeysError(f"{exc}; fix or delete that line") from None
        entries[key] = words[1] if len(words) > 1 else f"line-{number}"
    return entries


def _comment(word: str) -> bool:
    """A line whose first word starts with `#` is a comment, unless that word is a key (Z85 has '#')."""
    return word.startswith("#") and not is_key(word)


def _append(path: Path, public: str, name: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        if f.tell() == 0:
            f.write("# CURVE public keys allowed to connect, one `PUBLIC_KEY NAME` a line (run.py keys)\n")
        f.write(f"{public} {name}\n")


def remove_entry(data_dir: Path, kind: str, name: str) -> int:
    """Drop every line of `name` from the `kind` allow-list; how many were dropped."""
    path = allow_list_path(data_dir, kind)
    try:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    except FileNotFoundError:
        lines = []
    kept = [line for line in lines if not line.split() or _comment(line.split()[0]) or line.split()[1:2] != [name]]
    if len(kept) == len(lines):
        raise CurveKeysError(f"no key named {name!r} in {path}; `run.py keys curve-list` shows the names")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(kept), encoding="utf-8")
    os.replace(tmp, path)
    return len(lines) - len(kept)


def add_client(data_dir: Path, name: str, out: Path | None = None) -> Made:
    """A keypair for a remote control client, allow-listed on the control and events sockets."""
    return _add(data_dir, CLIENTS, name, out)


def add_terminal(data_dir: Path, login: int, out: Path | None = None) -> Made:
    """A keypair for the EA of account `login`, allow-listed on the EA sockets for that login only."""
    if login <= 0:
        raise CurveKeysError(f"a terminal's login is a positive account number, got {login}")
    return _add(data_dir, TERMINALS, str(login), out)


def _add(data_dir: Path, kind: str, name: str, out: Path | None) -> Made:
    if not _NAME.fullmatch(name):
        raise CurveKeysError(f"key name {name!r}: use 1-64 letters, digits, '.', '_' or '-'")
    if name in read_allow_list(allow_list_path(data_dir, kind)).values():
        raise CurveKeysError(f"{kind[:-1]} {name!r} already has a key; `run.py keys curve-revoke {name}` first "
                             "to replace it")
    server_keys(data_dir)  # the pair a client will need the public half of
    public, secret = new_keypair()
    public_file, secret_file = _write_pair(Path(out) if out else curve_dir(data_dir) / kind, name, public, secret)
    _append(allow_list_path(data_dir, kind), public, name)
    return Made(name, public, public_file, secret_file)


def terminal_pair(data_dir: Path, login: int) -> tuple[str, str]:
    """The keypair of terminal `login` in the data dir, made and allow-listed when missing
    (the embedded simulated terminal's, so a service with EA CURVE on still starts alone)."""
    if login <= 0:
        raise CurveKeysError(f"a terminal's login is a positive account number, got {login}")
    return _ensure_pair(data_dir, TERMINALS, str(login))


def local_client_pair(data_dir: Path) -> tuple[str, str]:
    """The `local` client's keypair, made and allow-listed when missing: `run.py ctl` on the
    executor's host finds it in the data dir, so turning CURVE on never locks the operator out."""
    return _ensure_pair(data_dir, CLIENTS, LOCAL)


def _ensure_pair(data_dir: Path, kind: str, name: str) -> tuple[str, str]:
    secret_file = curve_dir(data_dir) / kind / f"{name}.key_secret"
    listed = read_allow_list(allow_list_path(data_dir, kind))
    if secret_file.exists():
        public, secret = read_pair(secret_file)
        if listed.get(public) == name:
            return public, secret
    if name in listed.values():
        remove_entry(data_dir, kind, name)
    _add(data_dir, kind, name, None)
    return read_pair(secret_file)


def client_keys_for(data_dir: Path, server_key: str | None, client_key: str | None) -> ClientKeys | None:
    """The CURVE keys `run.py ctl` connects with: `--server-key` and `--client-key` (either
    one missing comes from the data dir), else the data dir's `local` pair when the service
    there runs with curve on (its running-config.json says so), else None: no CURVE."""
    folder = curve_dir(data_dir)
    try:
        if server_key or client_key:
            server = server_key or str(folder / f"{SERVER}.key")
            client = client_key or str(folder / CLIENTS / f"{LOCAL}.key_secret")
            return client_keys(server, client)
        if not _runs_with_curve(data_dir) or not (folder / CLIENTS / f"{LOCAL}.key_secret").exists():
            return None
        server_public, _ = parse_certificate((folder / f"{SERVER}.key").read_text(encoding="utf-8"),
                                             str(folder / f"{SERVER}.key"))
        return ClientKeys(server_public, *read_pair(folder / CLIENTS / f"{LOCAL}.key_secret"))
    except (CurveKeyError, OSError) as exc:
        raise CurveKeysError(str(exc)) from None


def _runs_with_curve(data_dir: Path) -> bool:
    try:
        return json.loads((Path(data_dir) / RUNNING_CONFIG).read_text(encoding="utf-8")).get("curve") is True
    except (OSError, ValueError, AttributeError):
        return False


class AllowList:
    """An allow-list file as the ZAP thread reads it: reread when it changes. A file broken
    while running keeps the last good list (a typo is no reason to let everyone in, nor to
    lock everyone out); at construction it raises."""

    def __init__(self, path: Path, on_error=None) -> None:
        self.path = Path(path)
        self._on_error = on_error or (lambda message: None)
        self._seen: tuple[int, int, int] | None = (-1, -1, -1)
        self._entries: dict[str, str] = {}
        self._load(strict=True)

    def name_of(self, public: str) -> str | None:
        self._load()
        return self._entries.get(public)

    def _load(self, strict: bool = False) -> None:
        try:
            st = self.path.stat()
            seen = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            seen = None
        if seen == self._seen:
            return
        self._seen = seen
        try:
            self._entries = read_allow_list(self.path)
        except CurveKeysError as exc:
            if strict:
                raise
            self._on_error(f"CURVE allow-list not reloaded, the previous one stays in force: {exc}")


# --- what `run.py keys curve-*` prints ---
def show_made(made: Made, data_dir: Path, *, terminal: bool = False) -> str:
    server = server_public(data_dir)
    if terminal:
        _, secret = read_pair(made.secret_file)
        return "\n".join([
            f"terminal {made.name}: a CURVE key allow-listed for account {made.name} only "
            f"({allow_list_path(data_dir, TERMINALS)}).",
            "Set these inputs of the ExecutorBridge EA on that account's chart (the secret is shown only now; it is "
            f"also in {made.secret_file}, owner-only):",
            f"  InpServerKey = {server}", f"  InpPublicKey = {made.public}", f"  InpSecretKey = {secret}",
            "and start the service with ea_curve = true (--ea-curve). A simulated terminal: `run.py sim --server-key "
            f"{curve_dir(data_dir) / (SERVER + '.key')} --client-key {made.secret_file} --login {made.name}`."])
    return "\n".join([
        f"client {made.name}: CURVE keys written to {made.secret_file} (secret, owner-only) and {made.public_file}; "
        f"its public key is allow-listed in {allow_list_path(data_dir, CLIENTS)}.",
        f"Copy {made.secret_file.name} to that client only, with the executor's public key file "
        f"{curve_dir(data_dir) / (SERVER + '.key')} ({server}), and use there "
        f"`run.py ctl --control tcp://HOST:5555 --server-key {SERVER}.key --client-key {made.secret_file.name} "
        "--key-file KEYFILE status` (KEYFILE: a signing key, `run.py keys add`).",
        "The service needs curve = true (--curve)."])


def show_lists(data_dir: Path) -> str:
    public_file = curve_dir(data_dir) / f"{SERVER}.key"
    lines = [f"executor: {parse_certificate(public_file.read_text(encoding='utf-8'), str(public_file))[0]}"
             if public_file.exists() else "executor: no CURVE keypair yet (made on the first start with curve on)"]
    for kind in (CLIENTS, TERMINALS):
        entries = read_allow_list(allow_list_path(data_dir, kind))
        lines.append(f"{kind} ({allow_list_path(data_dir, kind)}):" + ("" if entries else " none"))
        lines += [f"  {name:<20} {key}" for key, name in entries.items()]
    return "\n".join(lines)
