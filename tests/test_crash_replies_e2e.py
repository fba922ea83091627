"""A resent request id after `kill -9` of the executor returns its first reply, and an open
the kill left unanswered resolves to its one order: never a second (CONTROL_API.md "a
repeated id never runs twice", L3). The executor and `run.py sim` are processes of their
own; the executor is killed and started again on the same data dir.
"""

from __future__ import annotations

import sqlite3
import time

import msgpack
import pytest
import zmq

from actors.control.auth import auth_frame
from actors.control.keys import client_key
from tests.conftest import SIM_START, wait_for
from tests.processes import LOOSE_LIMITS, ExecutorProcess, SimProcess

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def procs(tmp_path):
    executor = ExecutorProcess(tmp_path)
    sim = SimProcess(tmp_path, executor.ea_ctl, executor.ea_md)
    yield executor, sim
    executor.stop()
    sim.stop()


def start(executor: ExecutorProcess) -> None:
    executor.start()
    executor.wait_ready()
    executor.ok("UPDATE_RISK_LIMITS", {"limits": LOOSE_LIMITS})


def open_data(i: int) -> dict:
    return {"symbol": "EURUSD", "side": "buy" if i % 2 else "sell", "volume": 0.01 * (1 + i % 3)}


def test_answered_opens_resent_after_kill9_return_their_first_reply_and_open_nothing(procs):
    executor, _ = procs
    start(executor)
    first = {f"open-{i}": executor.request("OPEN_POSITION", open_data(i), id=f"open-{i}") for i in range(20)}
    assert all(reply["ok"] for reply in first.values()), first
    executor.kill9()  # at once: some replies may still wait for their commit

    start(executor)
    again = {rid: executor.request("OPEN_POSITION", open_data(int(rid.split("-")[1])), id=rid) for rid in first}
    assert again == first
    positions = executor.ok("STATUS_REQUEST")["positions"]
    assert sorted(p["ticket"] for p in positions) == sorted(r["data"]["ticket"] for r in first.values())


def test_opens_lost_on_their_way_at_kill9_are_placed_once_when_resent(procs):
    """Paused, the terminal never read the orders; the kill loses them with the socket. The
    resend asks the EA under each order's own client order id: placed once, now."""
    executor, sim = procs
    start(executor)
    ids = [f"lost-{i}" for i in range(6)]
    sim.pause()
    send_then_kill(executor, ids)
    sim.resume()

    start(executor)
    # The kill mostly loses them with the socket; now and then the terminal had read some, which
    # filled and were found by reconciliation. Either way each is placed once, before or now.
    assert len(executor.ok("STATUS_REQUEST")["positions"]) <= len(ids)
    replies = resend(executor, ids)
    positions = executor.ok("STATUS_REQUEST")["positions"]
    assert sorted(r["data"]["ticket"] for r in replies.values()) == sorted(p["ticket"] for p in positions)
    assert len(positions) == len(ids)
    assert resend(executor, ids) == replies  # answered now, and kept


def test_opens_filled_but_unanswered_at_kill9_resolve_to_their_position_when_resent(tmp_path):
    """The terminal fills the orders and holds the answers until the executor is dead. The
    resend finds each one's position by its magic: the first order's outcome, no second."""
    from bridge.sim.terminal import SimTerminal
    from bridge.sim.config import parse_start
    from bridge.trade_server.faults import DelayedReplies

    executor = ExecutorProcess(tmp_path)
    # In this test's process, so its faults can be set: only the order answers are held.
    sim = SimTerminal(ctl_endpoint=executor.ea_ctl, md_endpoint=executor.ea_md, login=5_000_001, seed=7,
                      speed=60.0, start_ms=parse_start(SIM_START), history_minutes=60, enforce_sessions=False).start()
    try:
        start(executor)
        ids = [f"filled-{i}" for i in range(6)]
        sim.delayed = DelayedReplies(count=len(ids), delay_s=3.0, types=frozenset({"order_send"}))
        send_then_kill(executor, ids)
        wait_for(lambda: len(sim.server.positions_get()) == len(ids), 5, message="the terminal to fill them")
        tickets = sorted(p["ticket"] for p in sim.server.positions_get())

        start(executor)
        replies = resend(executor, ids)
        assert sorted(r["data"]["ticket"] for r in replies.values()) == tickets
        assert sorted(p["ticket"] for p in sim.server.positions_get()) == tickets  # no second order
        assert len(sim.server.history_orders_get()) == len(ids)
        assert resend(executor, ids) == replies
    finally:
        executor.stop()
        sim.stop()


def send_then_kill(executor: ExecutorProcess, ids: list[str]) -> None:
    """Send the opens without waiting, and kill -9 the executor once each intent is written
    (linked to its request id), so each order has left or is about to, unanswered."""
    sender = Sender(executor)
    for i, rid in enumerate(ids):
        sender.send("OPEN_POSITION", open_data(i), rid)
    wait_for(lambda: linked(executor) == len(ids), 2.0, 0.02, "the intents linked to their request ids")
    time.sleep(0.2)
    executor.kill9()
    sender.close()


def resend(executor: ExecutorProcess, ids: list[str]) -> dict[str, dict]:
    replies = {rid: executor.request("OPEN_POSITION", open_data(i), id=rid) for i, rid in enumerate(ids)}
    assert all(r["ok"] for r in replies.values()), replies
    return replies


def linked(executor: ExecutorProcess) -> int:
    db = sqlite3.connect(executor.data_dir / "journal.sqlite3", timeout=5)
    try:
        return db.execute("SELECT COUNT(*) FROM control_replies r JOIN order_intents i"
                          " ON i.client_order_id = r.client_order_id").fetchone()[0]
    except sqlite3.OperationalError:  # the table is made at the journal's first start
        return 0
    finally:
        db.close()


class Sender:
    """A DEALER that sends signed requests without waiting for their replies."""

    def __init__(self, executor: ExecutorProcess) -> None:
        self.key = client_key(executor.data_dir, env={})
        self.socket = zmq.Context.instance().socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(executor.control)

    def send(self, type_: str, data: dict, rid: str) -> None:
        frame = msgpack.packb({"v": 1, "id": rid, "type": type_, "data": data, "ts": time.time_ns() // 1_000_000},
                              use_bin_type=True)
        self.socket.send_multipart([b"", frame, auth_frame(self.key, frame)])

    def close(self) -> None:
        self.socket.close(linger=0)
