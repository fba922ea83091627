"""Free loopback endpoints, for private runs that must not collide with a running service
(a replay, the tests). The port is free when asked; binding it is the caller's race to win.

The port is chosen below the kernel's ephemeral range. A port the kernel hands out for a bind
to port 0 lies inside that range, and any outgoing connection on the machine (ZeroMQ's own
connects included) may be given it between this check and the caller's bind. Below the range
only another explicit bind can take it. A port is handed out once per process, because two
endpoints asked for in a row are both still unbound when the second is chosen.
"""

from __future__ import annotations

import random
import socket
import threading
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")  # Linux: "32768\t60999"
IANA_DYNAMIC_LOW = 49152  # the ephemeral range's start elsewhere
LOWEST_PORT = 10_000  # clear of the well-known and most registered service ports
ATTEMPTS = 200

_handed_out: set[int] = set()
_lock = threading.Lock()
_random = random.SystemRandom()  # unaffected by a test's random.seed()


def ephemeral_low() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return IANA_DYNAMIC_LOW


def bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_endpoint() -> str:
    high = ephemeral_low() - 1
    with _lock:
        if high > LOWEST_PORT:
            for _ in range(ATTEMPTS):
                port = _random.randint(LOWEST_PORT, high)
                if port not in _handed_out and bindable(port):
                    _handed_out.add(port)
                    return f"tcp://127.0.0.1:{port}"
        # No room below the ephemeral range (an unusual kernel setting): let the kernel choose.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        _handed_out.add(port)
        return f"tcp://127.0.0.1:{port}"
