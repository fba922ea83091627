"""Who may connect to a socket the executor binds: pyzmq's ZAP authenticator with our rules.

`Policy` is the pure decision: the peer's IP address must be in one of the allowed ranges
(none configured: any address), and a CURVE client's public key must be on the allow-list
(actors/runtime/curve_keys.py); the user id libzmq then attaches to every frame of that
connection is the allow-list's name for the key, prefixed (`curve:laptop`, or the
terminal's routing id `mt5-<login>`), so the socket's owner knows who sent a frame.

`CurveServer` owns what a guarded socket needs: its own zmq.Context (one ZAP handler per
context, and tests run several executors in one process), the authenticator thread bound in
it, and the server's secret key. The socket pump is built on that context; `apply` makes a
socket a CURVE server (or, without CURVE, only IP-checked) before it binds. A refused peer
is dropped by libzmq during the handshake: it never sends a frame to the executor. Refusals
are counted and logged at most once per reason every few seconds.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import zmq
from loguru import logger
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils import z85

from actors.runtime.curve_keys import AllowList
from bridge.shapes.refusals import Refusals

_VERSION = b"1.0"


class ZapConfigError(ValueError):
    """An IP range that is not one; the message names it."""


def parse_networks(ranges: Sequence[str], what: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """`["10.0.0.0/8", "192.168.1.7"]` as networks; ZapConfigError naming the bad one."""
    networks = []
    for text in ranges:
        try:
            networks.append(ipaddress.ip_network(str(text).strip(), strict=False))
        except ValueError:
            raise ZapConfigError(f"{what}: {text!r} is not an IP address or range (like 10.0.0.0/8)") from None
    return tuple(networks)


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    reason: str  # why not, for the log; "" when ok
    user_id: str = ""


@dataclass(slots=True)
class Policy:
    """`name_of(z85 public key) -> name | None`: the allow-list; None: CURVE is not used."""
    name_of: Callable[[str], str | None] | None
    networks: tuple = ()
    user_prefix: str = "curve:"

    def judge(self, address: str, mechanism: bytes, credentials: Sequence[bytes]) -> Verdict:
        if self.networks:
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                return Verdict(False, f"address {address[:64]!r} is not an IP address")
            if not any(ip in network for network in self.networks):
                return Verdict(False, f"address {address} is not in an allowed range")
        if mechanism == b"NULL" and self.name_of is None:
            return Verdict(True, "", "anonymous")
        if mechanism != b"CURVE" or self.name_of is None or len(credentials) != 1 or len(credentials[0]) != 32:
            return Verdict(False, f"mechanism {mechanism[:16].decode('ascii', 'replace')} without a CURVE key")
        public = z85.encode(credentials[0]).decode("ascii")
        name = self.name_of(public)
        if name is None:
            return Verdict(False, f"CURVE key {public} is not on the allow-list")
        return Verdict(True, "", f"{self.user_prefix}{name}")


class _Authenticator(ThreadAuthenticator):
    """pyzmq's thread, our decision: every ZAP request goes to `Policy.judge`."""

    def __init__(self, context: zmq.Context, policy: Policy, name: str) -> None:
        super().__init__(context)
        self.policy = policy
        self.name = name
        self.refusals = Refusals()
        self.refused = 0
        self.last_refusal = ""

    async def handle_zap_message(self, msg: list[bytes]) -> None:
        if len(msg) < 6 or msg[0] != _VERSION:
            if len(msg) >= 2:
                self._send_zap_reply(msg[1], b"400", b"bad ZAP request")
            return
        _, request_id, domain, address, _identity, mechanism = msg[:6]
        try:
            verdict = self.policy.judge(address.decode("utf-8", "replace"), mechanism, msg[6:])
        except Exception as exc:  # noqa: BLE001 - an allow-list that cannot be read refuses, never crashes
            verdict = Verdict(False, f"{type(exc).__name__}: {exc}")
        if verdict.ok:
            self._send_zap_reply(request_id, b"200", b"OK", verdict.user_id)
            return
        self.refused += 1
        self.last_refusal = verdict.reason
        self._send_zap_reply(request_id, b"400", b"not allowed")
        kind = verdict.reason.split(" ", 1)[0]
        unsaid = self.refusals.refuse(self.name, kind, time.monotonic())
        if unsaid is not None:
            logger.warning("{}: connection from {} refused: {}{}", self.name, address.decode("utf-8", "replace"),
                           verdict.reason, f" ({unsaid} more refusals like it since the last line)" if unsaid else "")


@dataclass
class CurveServer:
    """A context whose bound sockets admit only whom `policy` allows (see the module doc)."""
    name: str
    policy: Policy
    secret: str | None = field(default=None, repr=False)  # None: no CURVE, the IP ranges only
    context: zmq.Context = field(default_factory=zmq.Context)
    _auth: _Authenticator | None = None

    def start(self) -> CurveServer:
        self._auth = _Authenticator(self.context, self.policy, self.name)
        self._auth.start()
        return self

    def apply(self, sock: zmq.Socket) -> None:
        """Before bind: every connection to `sock` is put to the policy."""
        sock.setsockopt(zmq.ZAP_DOMAIN, self.name.encode())
        if self.secret is not None:
            sock.setsockopt(zmq.CURVE_SERVER, 1)
            sock.setsockopt(zmq.CURVE_SECRETKEY, self.secret.encode("ascii"))

    @property
    def refused(self) -> int:
        return self._auth.refused if self._auth else 0

    @property
    def last_refusal(self) -> str:
        return self._auth.last_refusal if self._auth else ""

    def stop(self) -> None:
        """After the pump has closed its sockets."""
        if self._auth is not None:
            self._auth.stop()
            self._auth = None
        self.context.destroy(linger=0)


@dataclass(frozen=True, slots=True)
class GuardSpec:
    """How to guard an actor's sockets; the actor `start`s it in on_start (again after a
    restart) and stops it in on_stop. `secret` None: no CURVE, the IP ranges only."""
    name: str  # the ZAP domain, and the name in log lines
    secret: str | None = field(default=None, repr=False)
    allow_list: Path | None = None  # `PUBLIC_KEY NAME` lines (actors/runtime/curve_keys.py)
    networks: tuple = ()
    user_prefix: str = "curve:"

    def start(self) -> CurveServer:
        allow = AllowList(self.allow_list, on_error=logger.error) if self.secret is not None else None
        policy = Policy(allow.name_of if allow is not None else None, self.networks, self.user_prefix)
        return CurveServer(self.name, policy, self.secret).start()
