"""Lane actors (actors/runtime/lanes.py): pykka semantics on a thread shared by many actors."""

from __future__ import annotations

import threading
import time

import pykka
import pytest

from actors.runtime import lanes
from actors.runtime.lanes import LaneActor, Lanes


class Recorder(LaneActor):
    def __init__(self, log: list, fail_on_start: bool = False) -> None:
        super().__init__()
        self.log = log
        self.fail_on_start = fail_on_start

    def on_start(self) -> None:
        if self.fail_on_start:
            raise RuntimeError("cannot start")
        self.log.append(("start", id(self)))

    def on_stop(self) -> None:
        self.log.append("stopped")

    def on_failure(self, exc_type, exc_value, tb) -> None:
        self.log.append(("failed", repr(exc_value)))

    def on_receive(self, message):
        if message == "thread":
            return threading.get_ident()
        if message == "boom":
            raise ValueError("boom")
        if isinstance(message, threading.Event):
            message.wait(10)
            return "released"
        self.log.append(message)
        return message


@pytest.fixture
def own_lanes(monkeypatch):
    pool = Lanes("test-lane")
    monkeypatch.setattr(Recorder, "lanes", pool)
    yield pool
    pykka.ActorRegistry.stop_all(timeout=5)


def test_many_actors_share_one_thread_and_keep_their_order(own_lanes):
    log: list = []
    refs = [Recorder.start(log) for _ in range(20)]
    threads = {ref.ask("thread", timeout=5) for ref in refs}
    assert len(threads) == 1 and threading.get_ident() not in threads
    for i in range(50):
        refs[0].tell(("a", i))
        refs[1].tell(("b", i))
    refs[0].ask("sync", timeout=5)
    refs[1].ask("sync", timeout=5)
    assert [x for x in log if isinstance(x, tuple) and x[0] == "a"] == [("a", i) for i in range(50)]
    assert [x for x in log if isinstance(x, tuple) and x[0] == "b"] == [("b", i) for i in range(50)]


def test_ask_gets_the_reply_or_the_exception(own_lanes):
    ref = Recorder.start([])
    assert ref.ask(("x", 1), timeout=5) == ("x", 1)
    with pytest.raises(ValueError, match="boom"):
        ref.ask("boom", timeout=5)
    assert ref.is_alive()  # an exception returned to the asker does not stop the actor


def test_a_crash_on_tell_calls_on_failure_and_stops_only_that_actor(own_lanes):
    log: list = []
    crashing, other = Recorder.start(log), Recorder.start([])
    crashing.tell("boom")
    deadline = time.monotonic() + 5
    while crashing.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not crashing.is_alive()
    assert ("failed", "ValueError('boom')") in log
    assert other.ask(("still", "here"), timeout=5) == ("still", "here")
    with pytest.raises(pykka.ActorDeadError):
        crashing.ask("anything", timeout=1)


def test_stop_runs_on_stop_and_later_messages_are_refused(own_lanes):
    log: list = []
    ref = Recorder.start(log)
    ref.stop(timeout=5)
    assert log[-1] == "stopped" and not ref.is_alive()
    with pytest.raises(pykka.ActorDeadError):
        ref.ask("late", timeout=1)


def test_a_failing_on_start_leaves_a_dead_actor(own_lanes):
    ref = Recorder.start([], fail_on_start=True)
    deadline = time.monotonic() + 5
    while ref.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not ref.is_alive()


def test_new_actors_go_to_a_fresh_lane_when_one_message_holds_the_lane(own_lanes, monkeypatch):
    monkeypatch.setattr(lanes, "STUCK_S", 0.2)
    blocked = Recorder.start([])
    lane_thread = blocked.ask("thread", timeout=5)
    release = threading.Event()
    held = blocked.ask(release, block=False)
    time.sleep(0.3)  # the message must have held the lane past STUCK_S: that is what is tested
    newcomer = Recorder.start([])
    assert newcomer.ask("thread", timeout=5) != lane_thread  # answered while the old lane is still held
    release.set()
    assert held.get(timeout=5) == "released"

