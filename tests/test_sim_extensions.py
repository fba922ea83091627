"""The bridge's extension requests (`symbol_sessions`, `calendar`) answered by the simulated
terminal through real sockets, and its calendar file."""

from __future__ import annotations

import json

import pytest

from bridge import mt5
from bridge.sim.calendar import CalendarError, load_calendar
from tests.test_sim_terminal import executor, start_terminal  # noqa: F401 - fixtures

NFP = "2026-12-04T13:30:00Z"
NFP_MS = 1_796_391_000_000


def test_symbol_sessions_are_mql5s_trade_sessions_in_seconds(executor, start_terminal):
    start_terminal(enforce_sessions=True)
    reply = executor.request("symbol_sessions", symbols=["EURUSD", "XAUUSD"])
    assert reply["ok"], reply
    assert reply["data"]["EURUSD"] == [[day, 0, 86_400] for day in range(1, 6)]  # Monday..Friday, whole days
    assert reply["data"]["XAUUSD"] == [[day, 3_600, 86_400] for day in range(1, 6)]  # gold pauses 00:00-01:00
    unknown = executor.request("symbol_sessions", symbols=["EURUSD", "NOPE"])
    assert unknown["error"] == [mt5.RES_E_NOT_FOUND, "unknown symbol(s) ['NOPE']; use symbols_get to list them"]
    missing = executor.request("symbol_sessions")
    assert missing["error"] == [mt5.RES_E_INVALID_PARAMS, 'missing "symbols" argument']


def test_a_terminal_that_keeps_no_sessions_reports_always_open(executor, start_terminal):
    start_terminal(enforce_sessions=False)
    reply = executor.request("symbol_sessions", symbols=["EURUSD"])
    assert reply["data"]["EURUSD"] == [[day, 0, 86_400] for day in range(7)]


def test_the_calendar_answers_from_the_file_within_the_window(executor, start_terminal, tmp_path):
    path = tmp_path / "calendar.json"
    path.write_text(json.dumps({"events": [
        {"time": NFP, "currency": "USD", "importance": "high", "name": "Nonfarm Payrolls", "country": "US"},
        {"time": NFP_MS + 3_600_000, "currency": "eur", "importance": 1, "name": "German retail sales"}]}))
    start_terminal(calendar=load_calendar(path))
    both = executor.request("calendar", date_from=NFP_MS - 1, date_to=NFP_MS + 3_600_001)["data"]
    assert [(e["time"], e["currency"], e["importance"], e["event_name"]) for e in both] == [
        (NFP_MS, "USD", 3, "Nonfarm Payrolls"), (NFP_MS + 3_600_000, "EUR", 1, "German retail sales")]
    assert both[0]["country_code"] == "US" and both[0]["actual_value"] is None
    usd = executor.request("calendar", date_from=0, date_to=NFP_MS * 2, currency="USD")["data"]
    assert [e["event_name"] for e in usd] == ["Nonfarm Payrolls"]
    assert executor.request("calendar", date_from=0, date_to=NFP_MS - 1)["data"] == []
    # Half-open, as MQL5's CalendarValueHistory selects: from <= time < to.
    assert [e["time"] for e in executor.request("calendar", date_from=NFP_MS, date_to=NFP_MS + 3_600_000)["data"]] \
        == [NFP_MS]
    bad = executor.request("calendar", date_from="today", date_to=1)
    assert bad["error"][0] == mt5.RES_E_INVALID_PARAMS


@pytest.mark.parametrize("events, words", [
    ([{"time": "2026-12-04T13:30:00", "currency": "USD"}], "event 1: '2026-12-04T13:30:00' has no time zone"),
    ([{"time": NFP, "currency": "US"}], "event 1: currency must be a 3-letter code"),
    ([{"time": NFP, "currency": "USD", "importance": "huge"}], "event 1: importance must be 0..3"),
    ([{"time": NFP, "currency": "USD", "impact": 3}], "event 1: unknown key 'impact'"),
    ([{"currency": "USD"}], "event 1: missing 'time'"),
    ([{"time": NFP, "currency": "USD"}, 7], "calendar event 2 must be an object"),
    ({"events": 3}, "must hold a list of events"),
])
def test_a_bad_calendar_file_is_refused_whole_naming_the_event(tmp_path, events, words):
    path = tmp_path / "calendar.json"
    path.write_text(json.dumps(events))
    with pytest.raises(CalendarError, match=None) as caught:
        load_calendar(path)
    assert words in str(caught.value)


def test_an_unreadable_calendar_file_says_which(tmp_path):
    with pytest.raises(CalendarError, match="cannot read calendar file"):
        load_calendar(tmp_path / "missing.json")


def test_every_simulator_file_loader_names_a_file_it_cannot_read(tmp_path):
    from bridge.sim.config import AccountConfigError, load_account
    from bridge.symbols import SymbolConfigError, load_symbols
    for load, error in ((load_calendar, CalendarError), (load_account, AccountConfigError),
                        (load_symbols, SymbolConfigError)):
        with pytest.raises(error, match=f"cannot read .*{tmp_path.name}"):
            load(tmp_path)  # a directory, not a file
