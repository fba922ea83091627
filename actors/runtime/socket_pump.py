"""A thread that owns an actor's network sockets, so the actor can keep its mailbox loop.

A pykka actor blocks on its inbox; a ZeroMQ socket must be polled; and a socket belongs to
one thread. The pump resolves the three: it creates the network sockets inside its own
thread and polls them together with one inproc PAIR. Inbound frames are handed to a
callback (which `tell`s the actor); outbound frames go from the actor's end of the PAIR,
created in the actor's thread, to the pump, which writes them to the named socket. Every
socket thus has exactly one owning thread, and the actor never blocks on the network.
"""

from __future__ import annotations

import errno
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import zmq
from loguru import logger

_STOP = b"\x00stop"
_MANY = b"\x00many"  # [_MANY, socket name, frames per message, frames...]: send_many
OUTBOUND_PER_ROUND = 1000  # frames written per poll round before the inbound sockets are read
BIND_RETRY_S = 2.0
_ids = itertools.count(1)

SocketSetup = Callable[[zmq.Context], dict[str, zmq.Socket]]
Receiver = Callable[..., None]
Peer = tuple[str, str]  # (IP address, ZAP user id), "" where the transport has none


class PumpStartError(RuntimeError):
    """The pump could not create its sockets (typically: the endpoint is already in use)."""


class SocketPump:
    def __init__(self, name: str, setup: SocketSetup, on_receive: Receiver,
                 context: zmq.Context | None = None, *, peers: tuple[str, ...] = (), batched: bool = False) -> None:
        """`peers`: sockets whose frames come to `on_receive` with a third argument, the
        sender's (IP address, ZAP user id), "" where the transport has none: the control
        socket's audit says who sent a command, the Gateway which key an EA holds.
        `batched`: `on_receive(socket name, [(frames, peer), ...])` once per drain of a socket,
        everything that was waiting: one message to the actor instead of one per frame, and
        the actor sees what a burst holds (a snapshot superseded by the next one in it)."""
        self.name = name
        self._setup = setup
        self._on_receive = on_receive
        self._peers = frozenset(peers)
        self._batched = batched
        self._context = context or zmq.Context.instance()
        self._address = f"inproc://pump-{name}-{next(_ids)}"
        self._actor_end: zmq.Socket | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # --- called from the owning actor's thread ---
    def start(self, timeout: float = 5.0) -> None:
        self._actor_end = self._context.socket(zmq.PAIR)
        self._actor_end.setsockopt(zmq.LINGER, 0)
        self._actor_end.bind(self._address)
        self._thread = threading.Thread(target=self._run, name=f"pump-{self.name}", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise PumpStartError(f"{self.name}: sockets not ready after {timeout} s")
        if self._error is not None:
            self._close_actor_end()
            raise PumpStartError(f"{self.name}: {self._error}") from self._error

    def send(self, socket_name: str, frames: list[bytes]) -> None:
        if self._actor_end is None:
            raise RuntimeError(f"pump {self.name} is not started")
        self._actor_end.send_multipart([socket_name.encode(), *frames])

    def send_many(self, socket_name: str, messages: list[list[bytes]]) -> None:
        """Several messages of the same number of frames in one hand-over to the pump: each
        send to the pump lets go of the interpreter lock and waits to get it back, which in
        a burst of orders cost more than writing the frames."""
        if len(messages) == 1:
            return self.send(socket_name, messages[0])
        if self._actor_end is None:
            raise RuntimeError(f"pump {self.name} is not started")
        width = len(messages[0])
        assert all(len(frames) == width for frames in messages), "send_many: messages of different widths"
        self._actor_end.send_multipart([_MANY, socket_name.encode(), str(width).encode(),
                                        *(frame for frames in messages for frame in frames)])

    def stop(self, timeout: float = 5.0) -> None:
        if self._actor_end is None:
            return
        if self._thread is not None and self._thread.is_alive():
            self._actor_end.send(_STOP)
            self._thread.join(timeout)
        self._close_actor_end()

    def _close_actor_end(self) -> None:
        if self._actor_end is not None:
            self._actor_end.close(linger=0)
            self._actor_end = None

    # --- the pump's own thread ---
    def _run(self) -> None:
        sockets: dict[str, zmq.Socket] = {}
        pump_end = self._context.socket(zmq.PAIR)
        pump_end.setsockopt(zmq.LINGER, 0)
        try:
            pump_end.connect(self._address)
            sockets = self._setup_with_retry()
        except BaseException as exc:  # noqa: BLE001 - reported to start() and re-raised there
            self._error = exc
            for sock in sockets.values():
                sock.close(linger=0)
            pump_end.close(linger=0)
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop(pump_end, sockets)
        finally:
            for sock in sockets.values():
                sock.close(linger=0)
            pump_end.close(linger=0)

    def _setup_with_retry(self) -> dict[str, zmq.Socket]:
        # A restarted actor rebinds the port its predecessor just closed; ZeroMQ releases it
        # asynchronously, so "in use" is retried briefly before it counts as a real conflict.
        deadline = time.monotonic() + BIND_RETRY_S
        while True:
            try:
                return self._setup(self._context)
            except zmq.ZMQError as exc:
                if exc.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _loop(self, pump_end: zmq.Socket, sockets: dict[str, zmq.Socket]) -> None:
        poller = zmq.Poller()
        poller.register(pump_end, zmq.POLLIN)
        names = {}
        for name, sock in sockets.items():
            if sock.type in (zmq.PUB,):
                continue  # write-only
            poller.register(sock, zmq.POLLIN)
            names[sock] = name
        while True:
            ready = dict(poller.poll())
            # Outbound first, everything queued (bounded): an order must not wait behind a
            # thousand inbound frames per frame it sends, as one frame per poll round made it.
            if pump_end in ready:
                for _ in range(OUTBOUND_PER_ROUND):
                    try:
                        frames = pump_end.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    if frames[0] == _STOP:
                        return
                    if frames[0] == _MANY:
                        width = int(frames[2])
                        for at in range(3, len(frames), width):
                            self._write(sockets, frames[1].decode(), frames[at:at + width])
                        continue
                    self._write(sockets, frames[0].decode(), frames[1:])
            for sock in ready:
                if sock is not pump_end:
                    self._drain(sock, names[sock])

    def _drain(self, sock: zmq.Socket, name: str, limit: int = 1000) -> None:
        # Bounded so one chatty socket cannot starve the outbound queue.
        with_peer = name in self._peers
        batch: list[tuple[list[bytes], Peer]] = []
        for _ in range(limit):
            try:
                if with_peer:  # zero-copy frames carry the connection's properties
                    parts = sock.recv_multipart(zmq.NOBLOCK, copy=False)
                    item = ([p.bytes for p in parts], (_property(parts[-1], "Peer-Address"),
                                                      _property(parts[-1], "User-Id")))
                else:
                    item = (sock.recv_multipart(zmq.NOBLOCK), ("", ""))
            except zmq.Again:
                break
            if self._batched:
                batch.append(item)
            else:
                self._deliver(name, *item, with_peer)
        if batch:
            self._deliver(name, batch, None, False)

    def _deliver(self, name: str, frames: Any, peer: Peer | None, with_peer: bool) -> None:
        try:
            if with_peer:
                self._on_receive(name, frames, peer)
            else:
                self._on_receive(name, frames)
        except Exception:  # noqa: BLE001 - a receiver bug must not kill the pump
            logger.exception("{}: receiver failed on frames from {}", self.name, name)

    def _write(self, sockets: dict[str, zmq.Socket], name: str, frames: list[bytes]) -> None:
        sock = sockets.get(name)
        if sock is None:
            logger.error("{}: no socket named {}", self.name, name)
            return
        try:
            sock.send_multipart(frames, zmq.NOBLOCK)
        except zmq.Again:
            logger.warning("{}: {} is full; message to {!r} dropped", self.name, name, frames[0][:32])
        except zmq.ZMQError as exc:
            # ROUTER_MANDATORY: the peer is gone. The sender's timeout deals with it.
            logger.warning("{}: cannot send on {} to {!r}: {}", self.name, name, frames[0][:32], exc)


def _property(frame: zmq.Frame, name: str) -> str:
    try:
        value = frame.get(name)
    except zmq.ZMQError:  # the transport has none (inproc, ipc) or no ZAP handler named the peer
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
