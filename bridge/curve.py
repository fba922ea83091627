"""CURVE keys as ZeroMQ spells them, and the client side of a CURVE connection.

A CURVE key is 32 bytes, written as 40 Z85 characters (what `zmq.curve_keypair` returns and
what `ZMQ_CURVE_*KEY` options accept). Key files use the ZPL certificate format of czmq and
`zmq.auth` (`name.key` holds the public key, `name.key_secret` both), so `zmq.auth.
load_certificate` reads ours and ours read theirs.

This module is below `actors` on purpose: the simulated terminal connects as a CURVE client
exactly as the EA does (`ClientKeys.apply` sets the same three options Link.mqh sets), and
the executor's files are written with the same `certificate_text`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import zmq

Z85_CHARS = 40
_Z85 = re.compile(r"[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}")
_LINE = re.compile(r'^\s*(public|secret)-key\s*=\s*"?([^"\s]*)"?\s*$')


class CurveKeyError(ValueError):
    """A key or key file that cannot be used; the message says which and what to do."""


def check_key(text: str, what: str) -> str:
    """`text` as a Z85 CURVE key (40 characters), stripped; CurveKeyError naming `what` if not."""
    key = text.strip()
    if not _Z85.fullmatch(key):
        raise CurveKeyError(f"{what} is not a CURVE key (40 Z85 characters, as `run.py keys curve-client` prints)")
    return key


def is_key(text: str) -> bool:
    return bool(_Z85.fullmatch(text))


def new_keypair() -> tuple[str, str]:
    """(public, secret), Z85 text."""
    public, secret = zmq.curve_keypair()
    return public.decode("ascii"), secret.decode("ascii")


def public_of(secret: str) -> str:
    return zmq.curve_public(secret.encode("ascii")).decode("ascii")


def certificate_text(public: str, secret: str | None = None) -> str:
    """A ZPL certificate: the public key only, or both (a `.key_secret` file)."""
    kind = "Secret" if secret else "Public"
    lines = [f"#   ZeroMQ CURVE {kind} Certificate", "#   Written by the MT5 executor (run.py keys)", "",
             "metadata", "curve", f'    public-key = "{public}"']
    if secret:
        lines.append(f'    secret-key = "{secret}"')
    return "\n".join(lines) + "\n"


def parse_certificate(text: str, where: str) -> tuple[str, str | None]:
    """(public, secret or None) of a ZPL certificate's text; a bare key line is a public key."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if match:
            found[match.group(1)] = match.group(2)
    if not found and text.strip() and "\n" not in text.strip():
        found["public"] = text.strip()
    if "public" not in found and "secret" in found:
        found["public"] = public_of(check_key(found["secret"], f"the secret key in {where}"))
    if "public" not in found:
        raise CurveKeyError(f"{where} holds no CURVE public key; give a file `run.py keys` wrote, or the key itself")
    public = check_key(found["public"], f"the public key in {where}")
    secret = check_key(found["secret"], f"the secret key in {where}") if "secret" in found else None
    if secret is not None and public_of(secret) != public:
        raise CurveKeyError(f"{where}: its public key is not the secret key's; write the file again")
    return public, secret


def read_key_argument(value: str, what: str) -> tuple[str, str | None]:
    """A key given on the command line: the 40 characters themselves, or a certificate file."""
    if _Z85.fullmatch(value.strip()):
        return value.strip(), None
    try:
        text = Path(value).read_text(encoding="utf-8")
    except OSError as exc:
        raise CurveKeyError(f"{what}: {value!r} is neither a CURVE key (40 Z85 characters) nor a readable key "
                            f"file ({exc.strerror or exc})") from None
    return parse_certificate(text, value)


@dataclass(frozen=True, slots=True)
class ClientKeys:
    """What a CURVE client needs: the server's public key and its own pair."""
    server_public: str
    public: str
    secret: str = field(repr=False)

    def apply(self, sock: zmq.Socket) -> None:
        """Make `sock` a CURVE client; before connect (Link.mqh sets the same three options)."""
        sock.setsockopt(zmq.CURVE_SERVERKEY, self.server_public.encode("ascii"))
        sock.setsockopt(zmq.CURVE_PUBLICKEY, self.public.encode("ascii"))
        sock.setsockopt(zmq.CURVE_SECRETKEY, self.secret.encode("ascii"))


def client_keys(server_key: str, client_key: str) -> ClientKeys:
    """`--server-key` (key or file) and `--client-key` (a `.key_secret` file, or the secret
    key itself) as ClientKeys; CurveKeyError in one line when either is unusable."""
    server_public, _ = read_key_argument(server_key, "--server-key")
    public, secret = read_key_argument(client_key, "--client-key")
    if secret is None:
        if _Z85.fullmatch(client_key.strip()):  # the 40 characters given were the secret key
            secret, public = client_key.strip(), public_of(client_key.strip())
        else:
            raise CurveKeyError(f"--client-key {client_key} holds no secret key; give the .key_secret file "
                                "`run.py keys curve-client` wrote")
    return ClientKeys(server_public, public, secret)
