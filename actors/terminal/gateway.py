"""The Gateway actor: the sockets EAs connect to, shared by every terminal.

It binds the CTL ROUTER and the MD SUB of MT5_BRIDGE.md, decodes what arrives, and routes
it by account login (the EA's routing id `mt5-<login>`) to that account's Terminal actor,
or ticks to MarketData. An EA of an unknown login is announced to the Supervisor, which
starts the actors for that account; its messages wait here until they exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import zmq
from loguru import logger

from actors import messages as m
from actors.runtime.directory import Directory
from actors.runtime.supervision import Supervised
from actors.runtime.socket_pump import SocketPump
from bridge import protocol

MAX_PARKED = 100


@dataclass(frozen=True, slots=True)
class _Inbound:
    socket: str
    frames: list[bytes]


class Gateway(Supervised):
    def __init__(self, *, ctl_endpoint: str, md_endpoint: str, directory: Directory) -> None:
        super().__init__(name="gateway", parent="supervisor", directory=directory)
        self.ctl_endpoint = ctl_endpoint
        self.md_endpoint = md_endpoint
        self.parked: dict[int, list[dict[str, Any]]] = {}
        self.pump: SocketPump | None = None
        self.rejected_frames = 0

    def on_start(self) -> None:
        self.pump = SocketPump("gateway", self._make_sockets, lambda s, f: self.actor_ref.tell(_Inbound(s, f)))
        self.pump.start()
        logger.info("waiting for EAs on {} (CTL) and {} (MD)", self.ctl_endpoint, self.md_endpoint)

    def on_stop(self) -> None:
        if self.pump:
            self.pump.stop()

    def _make_sockets(self, ctx: zmq.Context) -> dict[str, zmq.Socket]:
        ctl = ctx.socket(zmq.ROUTER)
        md = ctx.socket(zmq.SUB)
        try:
            for opt, value in ((zmq.LINGER, 0), (zmq.ROUTER_MANDATORY, 1), (zmq.ROUTER_HANDOVER, 1),
                               (zmq.MAXMSGSIZE, protocol.MAX_FRAME_BYTES), (zmq.SNDHWM, 10_000),
                               (zmq.RCVHWM, 10_000)):
                ctl.setsockopt(opt, value)
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
            case _Inbound(socket="ctl", frames=frames):
                self._on_ctl(frames)
            case _Inbound(socket="md", frames=frames):
                self._on_md(frames)
            case m.SendToEa(account=account, message=body):
                self.pump.send("ctl", [protocol.routing_id(account), protocol.pack(body)])
            case m.TerminalDiscovered(account=account):
                for body in self.parked.pop(account, []):
                    self.directory.tell(f"terminal:{account}", m.EaMessage(account=account, message=body))
            case _:
                return super().on_receive(message)
        return None

    def _on_ctl(self, frames: list[bytes]) -> None:
        login = protocol.login_from_routing_id(frames[0])
        if login is None or len(frames) != 2:
            self._reject(f"CTL frame from {frames[0][:40]!r}: expected routing id mt5-<login> and one payload")
            return
        try:
            body = protocol.unpack(frames[1])
        except protocol.ProtocolError as exc:
            self._reject(f"CTL frame from account {login}: {exc}")
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

    def _on_md(self, frames: list[bytes]) -> None:
        if len(frames) != 2:
            self._reject(f"MD message of {len(frames)} frames; expected [topic, payload]")
            return
        try:
            body = protocol.unpack(frames[1])
        except protocol.ProtocolError as exc:
            self._reject(f"MD frame on {frames[0][:40]!r}: {exc}")
            return
        login = body.get("term")
        if not isinstance(login, int):
            self._reject("MD message without an integer 'term' (account login)")
            return
        if body["type"] == protocol.TICK:
            try:
                batch = m.TickBatch(account=login, symbol=str(body["symbol"]), seq=int(body.get("seq", 0)),
                                    time_msc=tuple(body["time_msc"]), bid=tuple(body["bid"]), ask=tuple(body["ask"]))
            except (KeyError, TypeError, ValueError) as exc:
                self._reject(f"malformed tick batch from account {login}: {exc!r}")
                return
            self.directory.tell("market_data", batch)
        elif body["type"] == protocol.HB and self.directory.get(f"terminal:{login}") is not None:
            self.directory.tell(f"terminal:{login}", m.EaMessage(account=login, message=body))

    def _reject(self, what: str) -> None:
        self.rejected_frames += 1
        if self.rejected_frames <= 10 or self.rejected_frames % 1000 == 0:
            logger.warning("ignored {} (ignored so far: {})", what, self.rejected_frames)
