"""StatusBoard.wait: woken by posts (of its keys only, when it names keys), a value or None."""

from __future__ import annotations

import threading
import time

import pytest

from actors.runtime import status_board
from actors.runtime.status_board import StatusBoard

pytestmark = pytest.mark.timeout(30)

DEADLINE_S = 10.0
QUIET_S = 0.3  # how long a waiter that must not check again is given to do so anyway


class Waiter:
    """`board.wait` on a thread, its condition counting its checks (an event each)."""

    def __init__(self, board: StatusBoard, key: str, **options) -> None:
        self.board, self.key = board, key
        self.checked = threading.Event()
        self.checks = 0
        self.value = None
        self.thread = threading.Thread(target=self._run, kwargs=options, daemon=True)
        self.thread.start()
        assert self.checked.wait(DEADLINE_S)  # the first check, before any post

    def _condition(self):
        self.checks += 1
        self.checked.set()
        return self.board.get(self.key)

    def _run(self, **options) -> None:
        self.value = self.board.wait(self._condition, DEADLINE_S, **options)

    def checked_again(self, timeout: float) -> bool:
        self.checked.clear()
        return self.checked.wait(timeout)

    def result(self):
        self.thread.join(DEADLINE_S)
        assert not self.thread.is_alive()
        return self.value


@pytest.fixture
def no_recheck(monkeypatch):
    """No periodic check while a test runs: only posts wake a waiter."""
    monkeypatch.setattr(status_board, "RECHECK_S", 60.0)


def test_a_wait_without_keys_checks_again_on_any_post(no_recheck):
    board = StatusBoard()
    waiter = Waiter(board, "account:1")
    board.post("quote:1:EURUSD", (1, 1.1, 1.2))
    assert waiter.checked_again(DEADLINE_S)
    board.post("account:1", {"ready": True})
    assert waiter.result() == {"ready": True}


def test_a_wait_with_keys_checks_again_only_on_posts_of_its_keys(no_recheck):
    board = StatusBoard()
    waiter = Waiter(board, "account:1", keys=("account:", "positions_seq:"))
    for n in range(50):
        board.post("quote:1:EURUSD", (n, 1.1, 1.2))
        board.post("clock:1", n)
    assert not waiter.checked_again(QUIET_S)
    assert waiter.checks == 1
    board.post("positions_seq:1", (1, 1))  # one of its keys: checked again, still false
    assert waiter.checked_again(DEADLINE_S)
    board.post("account:1", {"ready": True})
    assert waiter.result() == {"ready": True}
    assert board._waiters == []  # a finished wait is told of posts no more


def test_one_key_may_be_given_as_a_string(no_recheck):
    board = StatusBoard()
    waiter = Waiter(board, "strategy:s1", keys="strategy:s1")
    board.post("strategy:s2", {"ready": True})  # "strategy:s1" is no prefix of it
    assert not waiter.checked_again(QUIET_S)
    board.post("strategy:s1", {"ready": True})
    assert waiter.result() == {"ready": True}


def test_waits_with_different_keys_are_woken_by_their_own_posts(no_recheck):
    board = StatusBoard()
    accounts = Waiter(board, "account:1", keys="account:")
    strategies = Waiter(board, "strategy:s", keys="strategy:")
    board.post("strategy:s", "ready")
    assert strategies.result() == "ready"
    assert not accounts.checked_again(QUIET_S)
    board.post("account:1", "ready")
    assert accounts.result() == "ready"


def test_a_condition_already_true_or_never_true():
    board = StatusBoard()
    board.post("account:1", 7)
    assert board.wait(lambda: board.get("account:1"), 1.0, keys="account:") == 7
    started = time.monotonic()
    assert board.wait(lambda: board.get("account:2"), 0.2, keys="account:") is None
    assert 0.2 <= time.monotonic() - started < DEADLINE_S
    assert board._waiters == []


def test_a_keyed_wait_still_checks_state_that_is_not_posted_every_recheck():
    board = StatusBoard()
    flag = threading.Event()
    done = {}
    thread = threading.Thread(target=lambda: done.setdefault("value", board.wait(flag.is_set, DEADLINE_S,
                                                                                   keys="account:")))
    thread.start()
    flag.set()  # no post at all: found by the check every RECHECK_S
    thread.join(DEADLINE_S)
    assert done == {"value": True}
