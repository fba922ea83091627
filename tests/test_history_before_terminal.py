"""A strategy that asks for history before its account's Terminal is up (a start or a restart:
strategies come back before the EA's hello) is served as soon as the link is up, not at the
next retry seconds later."""

from __future__ import annotations

import queue
import time
from typing import Any

import pykka
import pytest

from actors import messages as m
from actors.runtime.directory import Directory
from actors.runtime.status_board import StatusBoard
from actors.terminal.market_data import HISTORY_RETRY_S, MarketData

LOGIN = 5_000_001


class Recorder(pykka.ThreadingActor):
    def __init__(self, inbox: queue.Queue) -> None:
        super().__init__()
        self.inbox = inbox

    def on_receive(self, message: Any) -> None:
        self.inbox.put(message)


@pytest.fixture
def directory():
    directory = Directory()
    directory.register("market_data", MarketData.start(directory=directory, board=StatusBoard()))
    yield directory
    pykka.ActorRegistry.stop_all()


def test_history_asked_before_the_terminal_runs_is_fetched_when_its_link_comes_up(directory):
    directory.ask("market_data", m.SubscribeBars(subscriber="strategy:s1", account=LOGIN, symbol="EURUSD",
                                                 timeframe="M5", history=50), timeout=5)  # no terminal: not sent
    asked: queue.Queue = queue.Queue()
    directory.register(f"terminal:{LOGIN}", Recorder.start(asked))
    started = time.monotonic()
    directory.tell("market_data", m.LinkStateChanged(account=LOGIN, connected=True, reason="hello"))
    fetch = asked.get(timeout=HISTORY_RETRY_S / 3)  # well before the retry would have asked again
    assert isinstance(fetch, m.FetchRates) and (fetch.symbol, fetch.timeframe, fetch.count) == ("EURUSD", "M5", 51)
    assert time.monotonic() - started < 1.0
