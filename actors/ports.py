"""Free loopback endpoints, for private runs that must not collide with a running service
(a replay, the tests). The port is free when asked; binding it is the caller's race to win.
"""

from __future__ import annotations

import socket


def free_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"
