"""The Terminal actor answers every Fetch on behalf of another actor: with the EA's data, with
its error, or with "timeout" when the EA stays silent."""

from __future__ import annotations

import queue
from typing import Any

import pykka
import pytest

from actors import messages as m
from actors.runtime.directory import Directory
from actors.runtime.kill_switch import KillGate
from actors.runtime.status_board import StatusBoard
from actors.terminal.terminal import Terminal
from bridge import protocol

LOGIN = 5_000_001


class Recorder(pykka.ThreadingActor):
    """Stands in for the gateway (requests going to the EA) and for the asking actor."""

    def __init__(self, inbox: queue.Queue) -> None:
        super().__init__()
        self.inbox = inbox

    def on_receive(self, message: Any) -> None:
        self.inbox.put(message)


@pytest.fixture
def wired():
    directory, sent, answers = Directory(), queue.Queue(), queue.Queue()
    directory.register("gateway", Recorder.start(sent))
    directory.register("probe", Recorder.start(answers))
    terminal = Terminal.start(login=LOGIN, directory=directory, board=StatusBoard(), gate=KillGate())
    yield terminal, sent, answers
    pykka.ActorRegistry.stop_all()


def request_sent(sent: queue.Queue) -> dict:
    """The next request of ours, past pings and the `terminal_info` a Terminal sends to meet an
    EA that talks to it without a hello."""
    while True:
        message = sent.get(timeout=5).message
        if message["type"] not in (protocol.PING, protocol.TERMINAL_INFO):
            return message


def reply(terminal, request: dict, **fields: Any) -> None:
    body = {"v": 1, "type": request["type"], "id": request["id"], "seq": 1, "ts": 0, "boot": "b", "term": LOGIN,
            **fields}
    terminal.tell(m.EaMessage(account=LOGIN, message=body))


def test_sessions_and_calendar_answers_carry_the_eas_data(wired):
    terminal, sent, answers = wired
    terminal.tell(m.FetchSessions(account=LOGIN, symbols=("EURUSD",), reply_to="probe"))
    asked = request_sent(sent)
    assert (asked["type"], asked["symbols"]) == ("symbol_sessions", ["EURUSD"])
    reply(terminal, asked, ok=True, data={"EURUSD": [[1, 0, 86_400]]})
    assert answers.get(timeout=5) == m.SessionsFetched(account=LOGIN, symbols=("EURUSD",), ok=True,
                                                       sessions={"EURUSD": [[1, 0, 86_400]]})
    terminal.tell(m.FetchCalendar(account=LOGIN, date_from=10, date_to=20, reply_to="probe"))
    asked = request_sent(sent)
    assert (asked["type"], asked["date_from"], asked["date_to"]) == ("calendar", 10, 20)
    reply(terminal, asked, ok=True, data=[{"time": 15, "currency": "USD"}, "not an event"])
    assert answers.get(timeout=5) == m.CalendarFetched(account=LOGIN, date_from=10, ok=True,
                                                       events=({"time": 15, "currency": "USD"},))


def test_an_error_or_a_malformed_answer_is_not_ok(wired):
    terminal, sent, answers = wired
    terminal.tell(m.FetchCalendar(account=LOGIN, date_from=10, date_to=20, reply_to="probe"))
    reply(terminal, request_sent(sent), ok=False, error=[-2, 'unknown request type'])
    assert answers.get(timeout=5) == m.CalendarFetched(account=LOGIN, date_from=10, ok=False,
                                                       error="unknown request type")
    terminal.tell(m.FetchSessions(account=LOGIN, symbols=("EURUSD",), reply_to="probe"))
    reply(terminal, request_sent(sent), ok=True, data=[["EURUSD"]])  # a list where a map belongs
    assert answers.get(timeout=5).ok is False


def test_a_silent_ea_gets_every_fetch_answered_with_timeout(wired):
    terminal, sent, answers = wired
    fetches = [m.FetchRates(account=LOGIN, symbol="EURUSD", timeframe="H1", count=10, reply_to="probe"),
               m.FetchTicks(account=LOGIN, symbol="EURUSD", date_from=5, count=10, reply_to="probe"),
               m.FetchDeals(account=LOGIN, position=7, reply_to="probe"),
               m.FetchSessions(account=LOGIN, symbols=("EURUSD",), reply_to="probe"),
               m.FetchCalendar(account=LOGIN, date_from=10, date_to=20, reply_to="probe")]
    for fetch in fetches:
        terminal.tell(fetch)
    got = [answers.get(timeout=protocol.REQUEST_TIMEOUT_S + 5) for _ in fetches]
    assert sorted(type(a).__name__ for a in got) == ["CalendarFetched", "DealsFetched", "RatesFetched",
                                                      "SessionsFetched", "TicksFetched"]
    assert all(a.ok is False and a.error == "timeout" and a.account == LOGIN for a in got)


def test_a_refused_answer_fails_its_fetch_at_once_and_is_counted(wired):
    terminal, sent, answers = wired
    board = terminal.proxy().board.get()
    terminal.tell(m.FetchRates(account=LOGIN, symbol="EURUSD", timeframe="H1", count=10, reply_to="probe"))
    asked = request_sent(sent)
    # What the Gateway tells when the EA's answer breaks the protocol's shapes.
    terminal.tell(m.PeerMessageRefused(account=LOGIN, type=asked["type"], id=asked["id"],
                                       reason="data: expected a map of columns, got list [...]"))
    answer = answers.get(timeout=1)  # at once, well before the request's timeout
    assert (answer.ok, answer.rates) == (False, None) and "expected a map of columns" in answer.error
    assert board.get(f"terminal:{LOGIN}")["rejected_peer_messages"] == 1
    terminal.tell(m.FetchDeals(account=LOGIN, position=7, reply_to="probe"))
    asked = request_sent(sent)
    reply(terminal, {**asked, "type": protocol.PING}, ok=True, data={"server_time": 1})  # not its answer
    answer = answers.get(timeout=1)
    assert answer.ok is False and "'ping' reply" in answer.error
    assert board.get(f"terminal:{LOGIN}")["rejected_by_type"] == {"copy_rates_from_pos": 1, "ping": 1}


def test_a_message_that_breaks_a_handler_is_counted_and_the_terminal_lives_on(wired):
    terminal, sent, answers = wired
    board = terminal.proxy().board.get()
    terminal.tell(m.EaMessage(account=LOGIN, message={"v": 1, "type": protocol.HELLO, "id": "ev-1", "seq": 1, "ts": 0,
                                                      "boot": "b", "term": LOGIN, "tz_offset_s": 0}))
    requests = iter(lambda: sent.get(timeout=5).message, None)
    symbols_get = next(msg for msg in requests if msg["type"] == protocol.SYMBOLS_GET)
    reply(terminal, symbols_get, ok=True, data=5)  # past the Gateway's check only in this test
    terminal.tell(m.FetchTicks(account=LOGIN, symbol="EURUSD", date_from=5, count=10, reply_to="probe"))
    asked = next(msg for msg in requests if msg["type"] == protocol.COPY_TICKS_FROM)  # it still works
    reply(terminal, asked, ok=True, data={"time_msc": [], "bid": [], "ask": []})
    assert answers.get(timeout=5).ok
    assert board.get(f"terminal:{LOGIN}")["rejected_by_type"] == {"symbols_get": 1}
    assert terminal.is_alive()
