"""What the supervisor watches besides death (actors/runtime/watch.py): pings (3 missed = hung)
and mailbox depths; and generation fencing (actors/runtime/generations.py), which keeps a
replaced hung actor from trading if it wakes."""

from __future__ import annotations

import queue
from typing import Any

import pykka
import pytest

from actors import messages as m
from actors.runtime.directory import Directory
from actors.runtime.generations import Generations
from actors.runtime.kill_switch import KillGate
from actors.runtime.status_board import StatusBoard
from actors.runtime.watch import HUNG, PING, WAIT, MailboxWatch, PingWatch
from actors.terminal.terminal import Terminal

pytestmark = pytest.mark.timeout(20)
LOGIN = 5_000_001


def test_three_pings_missed_in_a_row_is_hung_and_an_answer_resets_the_count():
    watch = PingWatch()
    assert watch.beat("a", answered=False) == PING  # none out yet: the first goes
    assert [watch.beat("a", answered=False) for _ in range(2)] == [WAIT, WAIT]
    assert watch.beat("a", answered=True) == PING  # answered late: not hung, counting starts over
    assert [watch.beat("a", answered=False) for _ in range(3)] == [WAIT, WAIT, HUNG]
    assert watch.beat("a", answered=False) == PING  # replaced: a fresh start


def test_a_deep_mailbox_is_warned_about_once_until_it_drains():
    watch = MailboxWatch(warn_depth=100)
    assert watch.check({"journal": 10, "account:1": 150}) == ["account:1"]
    assert watch.check({"account:1": 400}) == []  # still deep: said already
    assert watch.check({"account:1": 60}) == []  # below the line, not yet drained
    assert watch.check({"account:1": 120}) == []
    assert watch.check({"account:1": 20}) == []  # drained below half
    assert watch.check({"account:1": 100}) == ["account:1"]


def test_generations_grow_and_only_the_current_one_is_not_stale():
    generations = Generations()
    assert not generations.stale("account:1", 0)  # never numbered: nothing is fenced
    first = generations.begin("account:1")
    second = generations.begin("account:1")
    assert second > first and generations.current("account:1") == second
    assert generations.stale("account:1", first) and generations.stale("account:1", 0)
    assert not generations.stale("account:1", second)


class Recorder(pykka.ThreadingActor):
    def __init__(self, inbox: queue.Queue) -> None:
        super().__init__()
        self.inbox = inbox

    def on_receive(self, message: Any) -> None:
        self.inbox.put(message)


def test_the_terminal_refuses_an_order_from_a_replaced_account_and_answers_the_current_one():
    directory, sent, results = Directory(), queue.Queue(), queue.Queue()
    generations = Generations()
    zombie = generations.begin(f"account:{LOGIN}")
    current = generations.begin(f"account:{LOGIN}")
    directory.register("gateway", Recorder.start(sent))
    directory.register(f"account:{LOGIN}", Recorder.start(results))
    terminal = Terminal.start(login=LOGIN, directory=directory, board=StatusBoard(), gate=KillGate(),
                              generations=generations)
    try:
        order = {"action": 1, "symbol": "EURUSD", "volume": 0.1, "type": 0, "price": 1.1}
        terminal.tell(m.SubmitOrder(account=LOGIN, client_order_id="z-1", request=order, closing=False,
                                    generation=zombie))
        terminal.tell(m.SubmitOrder(account=LOGIN, client_order_id="c-1", request=order, closing=False,
                                    generation=current))
        assert terminal.ask(m.Ping(), timeout=5)
        # The current Account's order is answered (the link is down here: not sent, and told so);
        # the zombie's is neither sent nor answered.
        answered = results.get(timeout=5)
        assert isinstance(answered, m.OrderResult) and answered.client_order_id == "c-1" and not answered.ok
        assert results.empty()
        assert all(s.message.get("type") != "order_send" for s in list(sent.queue))
    finally:
        pykka.ActorRegistry.stop_all()
