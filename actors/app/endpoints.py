"""ZeroMQ endpoints as a user writes them, checked before any socket sees them.

ZeroMQ answers `localhost:5555` (no scheme) or `foo` with "Invalid argument" from deep in a
socket thread; here such a value is refused at parse time in one line showing the form
expected. Accepted: `tcp://HOST:PORT` (HOST a name, an address, `[v6]` or `*` to bind every
interface; PORT 1-65535), `ipc://PATH`, `inproc://NAME`.
"""

from __future__ import annotations

import argparse
import errno
import re
import socket

SCHEMES = ("tcp", "ipc", "inproc")
_HOST = re.compile(r"^(\*|\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)$")


def check_endpoint(text: str, what: str = "endpoint") -> str:
    """`text` if it is an endpoint ZeroMQ can bind or connect; ValueError saying the form otherwise."""
    example = "tcp://127.0.0.1:5555"
    scheme, sep, rest = str(text).partition("://")
    if not sep:
        hint = f"; did you mean tcp://{text}?" if re.fullmatch(r"[A-Za-z0-9_.*-]+:\d+", str(text)) else ""
        raise ValueError(f"{what} {text!r} has no scheme: write tcp://HOST:PORT, e.g. {example}{hint}")
    if scheme not in SCHEMES:
        raise ValueError(f"{what} {text!r}: the scheme must be one of {', '.join(SCHEMES)}, e.g. {example}")
    if scheme != "tcp":
        if not rest:
            raise ValueError(f"{what} {text!r} names no {'path' if scheme == 'ipc' else 'name'}")
        return text
    host, colon, port = rest.rpartition(":")
    if not colon or not _HOST.match(host):
        raise ValueError(f"{what} {text!r} is not tcp://HOST:PORT, e.g. {example}")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{what} {text!r}: the port must be a number 1-65535")
    return text


def endpoint_arg(text: str) -> str:
    """An argparse `type`: the error goes out as bad usage (exit 2) with the option's name."""
    try:
        return check_endpoint(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def in_use(endpoint: str) -> bool:
    """Whether a tcp endpoint is already bound by another listener (ipc and inproc: never
    judged). Probed as ZeroMQ binds, with SO_REUSEADDR, so a port in TIME_WAIT is free."""
    scheme, _, rest = endpoint.partition("://")
    if scheme != "tcp":
        return False
    host, _, port = rest.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    address = ("::" if family == socket.AF_INET6 else "0.0.0.0") if host == "*" else host
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, int(port)))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def busy(endpoints: dict[str, str]) -> str | None:
    """One line naming the first of `endpoints` (option -> endpoint) already in use, or None."""
    for option, endpoint in endpoints.items():
        if in_use(endpoint):
            return (f"{endpoint} ({option}) is already in use: another executor, or another program, listens "
                    f"there; stop it or choose another {option}")
    return None
