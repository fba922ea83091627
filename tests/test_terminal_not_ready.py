"""A Fetch the EA answers "not ready, retry" (protocol.NOT_READY: its history is still
synchronising) is asked again with backoff by the Terminal actor, never failed at once; and
the simulated terminal can answer NOT_READY (its `unsynced` fault hook), as a real EA does."""

from __future__ import annotations

import time

import pytest

from actors import messages as m
from actors.terminal.terminal import NOT_READY_BACKOFF_S
from bridge import mt5, protocol
from tests.test_sim_terminal import executor, start_terminal  # noqa: F401 - fixtures
from tests.test_terminal_fetches import LOGIN, reply, request_sent, wired  # noqa: F401 - fixtures

pytestmark = pytest.mark.timeout(60)
NOT_READY = [protocol.NOT_READY, "EURUSD history is still synchronising with the trade server; retry"]


def test_a_not_ready_fetch_is_asked_again_after_a_pause_then_answered(wired):
    terminal, sent, answers = wired
    terminal.tell(m.FetchRates(account=LOGIN, symbol="EURUSD", timeframe="H1", count=10, reply_to="probe"))
    first = request_sent(sent)
    asked_at = time.monotonic()
    reply(terminal, first, ok=False, error=NOT_READY)
    again = request_sent(sent)
    assert time.monotonic() - asked_at >= NOT_READY_BACKOFF_S[0] - 0.05
    assert again["id"] != first["id"]
    assert {k: again[k] for k in ("type", "symbol", "timeframe", "start_pos", "count")} == {
        "type": protocol.COPY_RATES_FROM_POS, "symbol": "EURUSD", "timeframe": "H1", "start_pos": 0, "count": 10}
    assert answers.empty()  # nobody was told of the first NOT_READY
    reply(terminal, again, ok=True, data={"time": [1], "close": [1.1]})
    answer = answers.get(timeout=5)
    assert isinstance(answer, m.RatesFetched) and answer.ok and answer.rates == {"time": [1], "close": [1.1]}


def test_a_fetch_that_stays_not_ready_fails_with_the_eas_reason(wired, monkeypatch):
    monkeypatch.setattr("actors.terminal.terminal.NOT_READY_BACKOFF_S", (0.0, 0.0))
    terminal, sent, answers = wired
    terminal.tell(m.FetchTicks(account=LOGIN, symbol="EURUSD", date_from=5, count=10, reply_to="probe"))
    for _ in range(3):  # the first ask and two retries
        reply(terminal, request_sent(sent), ok=False, error=NOT_READY)
    answer = answers.get(timeout=5)
    assert isinstance(answer, m.TicksFetched) and not answer.ok and "synchronising" in answer.error


def test_another_error_is_not_retried(wired):
    terminal, sent, answers = wired
    terminal.tell(m.FetchDeals(account=LOGIN, position=7, reply_to="probe"))
    reply(terminal, request_sent(sent), ok=False, error=[mt5.RES_E_FAIL, "HistorySelect failed"])
    assert answers.get(timeout=5) == m.DealsFetched(account=LOGIN, position=7, ok=False, error="HistorySelect failed")


def test_the_simulator_answers_not_ready_while_a_symbol_is_unsynced(executor, start_terminal):
    terminal = start_terminal()
    terminal.requests.unsynced["EURUSD"] = 2
    for _ in range(2):
        refused = executor.request("copy_rates_from_pos", symbol="EURUSD", timeframe="M1", start_pos=0, count=5)
        assert refused["error"] == NOT_READY and protocol.is_not_ready(refused)
    ticks = executor.request("copy_ticks_from", symbol="EURUSD", date_from=0, count=5, flags=mt5.COPY_TICKS_ALL)
    assert ticks["ok"], ticks
    rates = executor.request("copy_rates_from_pos", symbol="EURUSD", timeframe="M1", start_pos=0, count=5)
    assert rates["ok"] and len(rates["data"]["time"]) == 5


def test_the_simulator_validates_history_arguments_as_the_ea_does(executor, start_terminal):
    start_terminal()
    for fields in ({"date_from": -1, "count": 5}, {"date_from": 0, "count": -1}):
        refused = executor.request("copy_ticks_from", symbol="EURUSD", flags=mt5.COPY_TICKS_ALL, **fields)
        assert refused["error"][0] == mt5.RES_E_INVALID_PARAMS
    refused = executor.request("copy_rates_from_pos", symbol="EURUSD", timeframe="M1", start_pos=2**31, count=5)
    assert refused["error"][0] == mt5.RES_E_INVALID_PARAMS
