"""The link's handshake and reconciliation over real sockets: answers the terminal loses are
asked again with backoff (STATUS says `ready: false` and what is awaited meanwhile), and after
a reconnect no order leaves before the EA has answered a ping (its dead-man would refuse it).
"""

from __future__ import annotations

import pytest

from tests.conftest import wait_for
from tests.processes import ExecutorProcess, SimProcess

pytestmark = pytest.mark.timeout(120)


def test_lost_handshake_replies_are_asked_again_and_status_says_not_ready_meanwhile(tmp_path):
    executor = ExecutorProcess(tmp_path)
    # hello_ack, the first ping, symbols, account, positions and the next pong: all lost.
    sim = SimProcess(tmp_path, executor.ea_ctl, executor.ea_md, "--fault-drop-replies", "6")
    try:
        executor.start()
        row = wait_for(lambda: next(iter(executor.ok("STATUS_REQUEST")["accounts"]), None), 15, 0.05,
                       message="the terminal's hello")
        assert row["connected"] and not row["ready"]
        assert set(row["reconciling"]) <= {"symbols", "account_info", "positions"} and row["reconciling"]
        executor.wait_ready(20)  # asked again until answered
        row = executor.ok("STATUS_REQUEST")["accounts"][0]
        assert row["ready"] and row["reconciling"] == []
        opened = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.01})
        assert [p["ticket"] for p in executor.ok("STATUS_REQUEST")["positions"]] == [opened["ticket"]]
    finally:
        executor.stop()
        sim.stop()


def test_after_a_reconnect_the_first_order_waits_for_the_pong_and_is_not_refused_by_the_dead_man(executor):
    login = executor.status()["accounts"][0]["login"]
    board = executor.service.board
    executor.sim.stop()  # its sockets close: pings sent meanwhile are lost, its dead-man trips
    wait_for(lambda: not board.get(f"account:{login}", {}).get("ready"), 10, message="the link to drop")
    wait_for(lambda: executor.sim._dead_man_tripped(__import__("time").monotonic()), 5,
             message="the simulated EA's dead-man to trip")
    executor.sim.start()  # the same EA instance: no fresh session, the dead-man still tripped
    wait_for(lambda: board.get(f"account:{login}", {}).get("ready"), 15, 0.01, "the link to come back")
    opened = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
    assert [p["ticket"] for p in executor.sim.server.positions_get()] == [opened["ticket"]]
