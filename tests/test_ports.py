"""Free endpoints for tests and replays: out of the kernel's ephemeral range, never handed out twice."""

from __future__ import annotations

import socket

from actors.app import ports
from actors.app.ports import LOWEST_PORT, ephemeral_low, free_endpoint


def port_of(endpoint: str) -> int:
    assert endpoint.startswith("tcp://127.0.0.1:")
    return int(endpoint.rsplit(":", 1)[1])


def test_endpoints_lie_below_the_ephemeral_range_and_are_all_different():
    ports = [port_of(free_endpoint()) for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert all(LOWEST_PORT <= p < ephemeral_low() for p in ports)


def test_a_port_taken_by_a_listener_is_skipped(monkeypatch):
    for _ in range(50):  # whichever port whose next one is free now (another process may hold it)
        held = socket.socket()
        held.bind(("127.0.0.1", 0))
        taken = held.getsockname()[1]
        if ports.bindable(taken + 1):
            break
        held.close()
    try:
        held.listen()  # then narrow the choice to it and the next one
        monkeypatch.setattr(ports, "LOWEST_PORT", taken)
        monkeypatch.setattr(ports, "ephemeral_low", lambda: taken + 2)
        monkeypatch.setattr(ports, "_handed_out", set())
        assert port_of(free_endpoint()) == taken + 1  # never the listener's port
    finally:
        held.close()


def test_the_endpoint_can_be_bound():
    port = port_of(free_endpoint())
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
