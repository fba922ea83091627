"""EMERGENCY_STOP while the terminal's link is down (K2 of RELIABILITY.md): the reply comes at
once and says what could not be closed; the executor flattens by itself within 5 s of the
link's return, also across a `kill -9` and restart of the executor in between. The executor
and `run.py sim` are processes of their own; SIGSTOP silences the terminal."""

from __future__ import annotations

import time

import pytest

from tests.conftest import wait_for
from tests.processes import LOOSE_LIMITS, LOGIN, ExecutorProcess, SimProcess

pytestmark = pytest.mark.timeout(150)


@pytest.fixture
def procs(tmp_path):
    executor = ExecutorProcess(tmp_path)
    sim = SimProcess(tmp_path, executor.ea_ctl, executor.ea_md)
    yield executor, sim
    executor.stop()
    sim.stop()


def open_two_then_lose_the_link(executor: ExecutorProcess, sim: SimProcess) -> list[int]:
    executor.start()
    executor.wait_ready()
    executor.ok("UPDATE_RISK_LIMITS", {"limits": LOOSE_LIMITS})
    tickets = [executor.ok("OPEN_POSITION", {"symbol": s, "side": "buy", "volume": 0.1})["ticket"]
               for s in ("EURUSD", "GBPUSD")]
    sim.pause()
    wait_for(lambda: not executor.ok("STATUS_REQUEST")["accounts"][0]["connected"], 10, 0.1, "the link to drop")
    return tickets


def emergency_stop_answers_at_once(executor: ExecutorProcess, tickets: list[int]) -> dict:
    started = time.monotonic()
    reply = executor.ok("EMERGENCY_STOP", {"reason": "test: link down"})
    assert time.monotonic() - started < 2.0
    assert reply["remaining"] == 2 and reply["closed_positions"] == 0
    assert reply["not_flattened"] == [{"account": LOGIN, "positions": sorted(tickets), "orders": []}]
    return reply


def flat_within(executor: ExecutorProcess, seconds: float) -> None:
    back = time.monotonic()
    wait_for(lambda: executor.ok("STATUS_REQUEST")["accounts"] and executor.ready()
             and executor.ok("STATUS_REQUEST")["positions"] == [], seconds + 1.0, 0.1, "the account to be flat")
    assert time.monotonic() - back < seconds
    status = executor.ok("STATUS_REQUEST")
    assert status["kill_switch"]["active"]  # and it stays locked
    refused = executor.request("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
    assert refused["error"]["code"] == "TRADING_LOCKED"


def test_emergency_stop_with_the_link_down_answers_at_once_and_flattens_when_it_is_back(procs):
    executor, sim = procs
    tickets = open_two_then_lose_the_link(executor, sim)
    emergency_stop_answers_at_once(executor, tickets)
    assert len(executor.ok("STATUS_REQUEST")["positions"]) == 2  # still held: the terminal is unreachable
    sim.resume()
    flat_within(executor, 5.0)


def test_a_pending_flatten_survives_a_kill9_of_the_executor(procs):
    executor, sim = procs
    tickets = open_two_then_lose_the_link(executor, sim)
    emergency_stop_answers_at_once(executor, tickets)
    executor.kill9()
    executor.start()  # the terminal is still silent: nothing to flatten yet, but it is remembered
    assert executor.ok("STATUS_REQUEST")["kill_switch"]["active"]
    sim.resume()
    flat_within(executor, 5.0)
