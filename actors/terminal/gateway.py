"""The Gateway actor: the sockets EAs connect to, shared by every terminal.

It binds the CTL ROUTER and the MD SUB of MT5_BRIDGE.md, decodes what arrives, and routes
it by account login (the EA's routing id `mt5-<login>`) to that account's Terminal actor,
or ticks to MarketData. An EA of an unknown login is announced to the Supervisor, which
starts the actors for that account; its messages wait here until they exist.

It is the executor's boundary: every message is checked against the protocol's shapes
(bridge.shapes) before any actor sees it, and must say the login of its routing id (a
hello's account too), else it is refused and logged. With CURVE (`guard`), only terminals
whose key is on the allow-list connect, and each key speaks for its own login only. A refused one goes no further; its account's
Terminal is told (it counts, logs and fails the request it answered), or, while that
Terminal does not exist yet, the refusal is logged here.

Frames for an EA (`SendToEa`: orders among them) go out before the EA's messages still
waiting to be checked (actors.runtime.mailbox): after a burst of trades the EA's replies and
snapshots queue up here, and an order that waited behind them would leave late for nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import zmq
from loguru import logger

from actors import messages as m
from actors.runtime.directory import Directory
from actors.runtime.supervision import Supervised
from actors.runtime.socket_pump import SocketPump
from actors.runtime.zap import CurveServer, GuardSpec
from bridge import protocol
from bridge.shapes.messages import CTL, MD, check_message, kind_of
from bridge.shapes.refusals import Refusals

MAX_PARKED = 100
SNAPSHOTS = (protocol.POSITIONS, protocol.ORDERS)  # events that carry the whole state: the newest replaces the rest


@dataclass(frozen=True, slots=True)
class _Inbound:
    socket: str
    # What one drain of the socket held: each message's frames and its peer, the (IP address,
    # ZAP user id: mt5-<login> of the CURVE key) of the connection it came on.
    batch: list[tuple[list[bytes], tuple[str, str]]]


class Gateway(Supervised):
    urgent_messages = (m.SendToEa,)

    def __init__(self, *, ctl_endpoint: str, md_endpoint: str, directory: Directory,
                 guard: GuardSpec | None = None) -> None:
        """`guard`: CURVE with an allow-list of terminal keys, each bound to its login, and
        IP ranges (actors/runtime/zap.py)."""
        super().__init__(name="gateway", parent="supervisor", directory=directory)
        self.ctl_endpoint = ctl_endpoint
        self.md_endpoint = md_endpoint
        self.guard_spec = guard
        self.guard: CurveServer | None = None
        self.keys_bound = guard is not None and guard.secret is not None  # a frame's key must be its login's
        self.parked: dict[int, list[dict[str, Any]]] = {}
        self.pump: SocketPump | None = None
        self.rejected_frames = 0  # refused here: no account to tell, or not decodable
        self.refusals = Refusals()

    def on_start(self) -> None:
        self.guard = self.guard_spec.start() if self.guard_spec else None
        self.pump = SocketPump("gateway", self._make_sockets,
                               lambda socket, batch: self.actor_ref.tell(_Inbound(socket, batch)),
                               context=self.guard.context if self.guard else None,
                               peers=("ctl", "md") if self.keys_bound else (), batched=True)
        try:
            self.pump.start()
        except BaseException:
            if self.guard:  # no on_stop after a failed start: its thread must not outlive us
                self.guard.stop()
            raise
        logger.info("waiting for EAs on {} (CTL) and {} (MD)", self.ctl_endpoint, self.md_endpoint)

    def on_stop(self) -> None:
        if self.pump:
            self.pump.stop()
        if self.guard:  # after the pump: its sockets live in the guard's context
            self.guard.stop()

    def _make_sockets(self, ctx: zmq.Context) -> dict[str, zmq.Socket]:
        ctl = ctx.socket(zmq.ROUTER)
        md = ctx.socket(zmq.SUB)
        try:
            for opt, value in ((zmq.LINGER, 0), (zmq.ROUTER_MANDATORY, 1), (zmq.ROUTER_HANDOVER, 1),
                               (zmq.MAXMSGSIZE, protocol.MAX_FRAME_BYTES), (zmq.SNDHWM, 10_000),
                               (zmq.RCVHWM, 10_000)):
                ctl.setsockopt(opt, value)
            if self.guard:
                self.guard.apply(ctl)
                self.guard.apply(md)
            ctl.bind(self.ctl_endpoint)
            for opt, value in ((zmq.LINGER, 0), (zmq.MAXMSGSIZE, protocol.MAX_FRAME_BYTES), (zmq.RCVHWM, 100_000),
                               (zmq.SUBSCRIBE, b"")):
                md.setsockopt(opt, value)
            md.bind(self.md_endpoint)
        except zmq.ZMQError:
            ctl.close(linger=0)
            md.close(linger=0)
            raise
        return {"ctl": ctl, "md": md}

    def on_receive(self, message: Any) -> Any:
        match message:
            case _Inbound(socket="ctl", batch=batch):
                for frames, peer, body, checked in self._superseded_dropped(batch):
                    self._guarded("ctl", self._on_ctl, frames, peer, body, checked)
            case _Inbound(socket=socket, batch=batch):
                for frames, peer in batch:
                    self._guarded(socket, self._on_md, frames, peer)
            case m.SendToEa():
                # With the ones queued right behind it: a burst of orders goes to the pump at once.
                burst = [message, *self.actor_inbox.take_urgent(m.SendToEa)]
                self.pump.send_many("ctl", [[protocol.routing_id(s.account), protocol.pack(s.message)] for s in burst])
            case m.TerminalDiscovered(account=account):
                for body in self.parked.pop(account, []):
                    self.directory.tell(f"terminal:{account}", m.EaMessage(account=account, message=body))
            case _:
                return super().on_receive(message)
        return None

    def _guarded(self, socket: str, handler: Any, *args: Any) -> None:
        try:
            handler(*args)
        except Exception as exc:  # noqa: BLE001 - the last line: one frame never stops the Gateway
            logger.opt(exception=True).debug("gateway failed on a {} frame", socket)
            self._reject(f"{socket.upper()} frame that broke the Gateway: {type(exc).__name__}: {exc}")

    @staticmethod
    def _superseded_dropped(batch: list[tuple[list[bytes], tuple[str, str]]]) -> list[tuple[Any, ...]]:
        """The batch without the snapshots a later valid one in it replaces: (frames, peer,
        decoded body or None where it does not decode, True when the body is already checked).

        A positions or orders event is the whole state (MT5_BRIDGE.md), and the EA sends one
        after every change: after a burst of fills a batch holds dozens, each listing every
        position. Checking each field by field was the Gateway's largest cost; only the newest
        valid one per account says anything. An invalid one is never passed over: it is
        refused and counted like any bad message."""
        decoded = []
        for frames, peer in batch:
            try:
                body = protocol.unpack(frames[1]) if len(frames) == 2 else None
            except protocol.ProtocolError:
                body = None
            decoded.append([frames, peer, body, False])
        by_key: dict[tuple[bytes, str], list[int]] = {}
        for i, (frames, _peer, body, _checked) in enumerate(decoded):
            if isinstance(body, dict) and body.get("type") in SNAPSHOTS and not protocol.is_reply(body):
                by_key.setdefault((frames[0], body["type"]), []).append(i)
        dropped: set[int] = set()
        for indices in by_key.values():
            for n in range(len(indices) - 1, 0, -1):  # the newest valid one replaces those before it
                item = decoded[indices[n]]
                if check_message(item[2], CTL) is None:
                    item[3] = True
                    dropped.update(indices[:n])
                    break
        return [tuple(item) for i, item in enumerate(decoded) if i not in dropped]

    def _on_ctl(self, frames: list[bytes], peer: tuple[str, str] = ("", ""), body: Any = None,
                checked: bool = False) -> None:
        login = protocol.login_from_routing_id(frames[0])
        if login is None or len(frames) != 2:
            self._reject(f"CTL frame from {frames[0][:40]!r}: expected routing id mt5-<login> and one payload")
            return
        if self._impostor(login, peer, "CTL"):
            return
        if body is None:
            try:
                body = protocol.unpack(frames[1])
            except protocol.ProtocolError as exc:
                self._refuse(login, "undecodable", str(exc))
                return
        why = None if checked else check_message(body, CTL)
        if why is not None:
            request_id = body.get("id") if protocol.is_reply(body) and isinstance(body.get("id"), str) else ""
            self._refuse(login, kind_of(body), why, request_id)
            return
        if (claimed := claimed_login(body)) != login:
            self._mismatch(login, claimed, body.get("type"), peer)
            return
        if self.directory.get(f"terminal:{login}") is not None:
            self.directory.tell(f"terminal:{login}", m.EaMessage(account=login, message=body))
            return
        parked = self.parked.setdefault(login, [])
        if not parked:
            logger.info("new terminal: account {} (boot {})", login, body.get("boot"))
            self.directory.tell("supervisor", m.TerminalDiscovered(account=login))
        if len(parked) < MAX_PARKED:
            parked.append(body)

    def _on_md(self, frames: list[bytes], peer: tuple[str, str] = ("", "")) -> None:
        if len(frames) != 2:
            self._reject(f"MD message of {len(frames)} frames; expected [topic, payload]")
            return
        try:
            body = protocol.unpack(frames[1])
        except protocol.ProtocolError as exc:
            self._reject(f"MD frame on {frames[0][:40]!r}: {exc}")
            return
        login = body.get("term")
        if type(login) is not int:
            self._reject("MD message without an integer 'term' (account login)")
            return
        if self._impostor(login, peer, "MD"):
            return
        why = check_message(body, MD)
        if why is not None:
            self._refuse(login, kind_of(body), why)
        elif body["type"] == protocol.TICK:
            self.directory.tell("market_data", m.TickBatch(
                account=login, symbol=body["symbol"], seq=body["seq"], time_msc=tuple(body["time_msc"]),
                bid=tuple(body["bid"]), ask=tuple(body["ask"])))
        elif body["type"] == protocol.HB and self.directory.get(f"terminal:{login}") is not None:
            self.directory.tell(f"terminal:{login}", m.EaMessage(account=login, message=body))
        # A valid bar goes no further: MarketData builds its own from the ticks.

    def _refuse(self, login: int, kind: str, reason: str, request_id: str = "") -> None:
        """A message of account `login` that breaks the protocol: its Terminal counts it, logs
        it and fails the request it answered; with no Terminal yet, it is logged here."""
        if self.directory.get(f"terminal:{login}") is not None:
            self.directory.tell(f"terminal:{login}", m.PeerMessageRefused(account=login, type=kind, reason=reason,
                                                                          id=request_id))
            return
        self.rejected_frames += 1
        unsaid = self.refusals.refuse(login, kind, time.monotonic())
        if unsaid is not None:
            logger.warning("refused {} from the EA of account {}: {}{}", kind, login, reason,
                           f" ({unsaid} more like it since the last line)" if unsaid else "")

    def _impostor(self, login: int, peer: tuple[str, str], channel: str) -> bool:
        """With CURVE, a terminal's key is bound to its login: a frame for another login is refused."""
        if not self.keys_bound or peer[1] == protocol.routing_id(login).decode():
            return False
        self.rejected_frames += 1
        unsaid = self.refusals.refuse(login, "wrong-key", time.monotonic())
        if unsaid is not None:
            logger.warning("refused {} frames for account {} from {} holding the key of {}: a terminal's CURVE key "
                           "is its own login's (`run.py keys curve-terminal {}` makes one){}", channel, login,
                           peer[0] or "?", peer[1] or "no listed key", login,
                           f" ({unsaid} more since the last line)" if unsaid else "")
        return True

    def _mismatch(self, login: int, claimed: Any, kind: Any, peer: tuple[str, str]) -> None:
        """A terminal whose messages say another login than its routing id: refused, never
        discovered, never routed (it would act on, or report for, another account)."""
        self.rejected_frames += 1
        unsaid = self.refusals.refuse(login, "login-mismatch", time.monotonic())
        if unsaid is not None:
            logger.warning("refused {} from routing id mt5-{} ({}): it says it is account {}; an EA connects as "
                           "mt5-<its login>{}", kind, login, peer[0] or "no address", claimed,
                           f" ({unsaid} more since the last line)" if unsaid else "")

    def _reject(self, what: str) -> None:
        self.rejected_frames += 1
        if self.rejected_frames <= 10 or self.rejected_frames % 1000 == 0:
            logger.warning("ignored {} (ignored so far: {})", what, self.rejected_frames)


def claimed_login(body: dict[str, Any]) -> Any:
    """The login a checked CTL message says it is from: its envelope's `term`, and a hello's
    account login too when they differ (either one not the routing id's is a refusal)."""
    term = body.get("term")
    if body.get("type") == protocol.HELLO:
        account = (body.get("account") or {}).get("login", term)
        return term if account == term else account
    return term
