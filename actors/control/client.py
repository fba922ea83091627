"""A small REQ client for the control API: what `run.py ctl`, the tests and the stress
tools use. One request, one reply; a request that gets no reply in time closes the socket
(a REQ socket that missed its reply is stuck) and raises ControlTimeout.

Requests are signed (actors/control/auth.py) with `key`, or with the data dir's control.key,
read when a request is sent: a client made before the executor's first start still finds it.
Over CURVE (`curve`) the connection is encrypted and the executor admits allow-listed keys only.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path
from typing import Any

import msgpack
import zmq

from actors.control.auth import auth_frame
from actors.control.keys import ControlKey, KeyNotFound, client_key
from bridge.curve import ClientKeys

_ids = itertools.count(1)


class ControlTimeout(TimeoutError):
    """No reply within the timeout: the executor is down, busy, or at another endpoint."""


class ControlClient:
    def __init__(self, endpoint: str, timeout_s: float = 10.0, context: zmq.Context | None = None, *,
                 key: ControlKey | None = None, data_dir: Path | None = None, curve: ClientKeys | None = None) -> None:
        """Neither `key` nor `data_dir`: requests go unsigned (an executor with auth off).
        `curve`: the executor's server key and this client's pair, when its socket is CURVE."""
        self.endpoint = endpoint
        self.curve = curve
        self.key = key
        self.data_dir = data_dir
        self.timeout_s = timeout_s
        self._context = context or zmq.Context.instance()
        self._socket: zmq.Socket | None = None

    def _connect(self) -> zmq.Socket:
        if self._socket is None:
            self._socket = self._context.socket(zmq.REQ)
            self._socket.setsockopt(zmq.LINGER, 0)
            if self.curve is not None:
                self.curve.apply(self._socket)
            self._socket.connect(self.endpoint)
        return self._socket

    def new_id(self) -> str:
        return f"{os.getpid()}-{time.time_ns()}-{next(_ids)}"

    def request(self, type_: str, data: dict[str, Any] | None = None, *, id: str | None = None,
                timeout_s: float | None = None, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"v": 1, "id": id or self.new_id(), "type": type_, "ts": time.time_ns() // 1_000_000}
        if data is not None:
            body["data"] = data
        body.update(extra)
        frame = msgpack.packb(body, use_bin_type=True)
        key = self._signing_key()
        frames = (frame,) if key is None else (frame, auth_frame(key, frame))
        return self.send_raw(*frames, timeout_s=timeout_s)

    def _signing_key(self) -> ControlKey | None:
        if self.key is not None or self.data_dir is None:
            return self.key
        try:  # read per request, so a rotated control.key is followed; never the environment's key
            return client_key(self.data_dir, env={})
        except KeyNotFound:
            return None  # not made yet: the executor answers UNAUTHORIZED, saying how to sign

    def send_raw(self, *frames: bytes, timeout_s: float | None = None) -> dict[str, Any]:
        """Send arbitrary frames (tests send hostile ones) and decode the reply."""
        sock = self._connect()
        sock.send_multipart(list(frames))
        if not sock.poll(int((timeout_s or self.timeout_s) * 1000)):
            self.close()
            raise ControlTimeout(f"no reply from {self.endpoint} within {timeout_s or self.timeout_s:g} s; "
                                 "is the executor running there?")
        return msgpack.unpackb(sock.recv(), raw=False)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
