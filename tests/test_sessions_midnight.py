"""A trading session that ends after midnight (MQL5 counts a session's end up to 48:00): one
rule for the wire (bridge.protocol.session_span), understood by the executor's pre-trade check
(actors/risk) and by the paper terminal's trade server (bridge/sim/symbol_import.py)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import pytest

from actors.risk.calendar import check_trading_hours
from actors.risk.context import RiskContext
from actors.risk.model import Book, OrderToCheck
from bridge import mt5, protocol
from bridge.sim.symbol_import import sessions_from_windows
from bridge.symbols import DEFAULT_SYMBOLS, SymbolConfigError
from bridge.trade_server.sessions import session_open
from bridge.trade_server.server import TradeServer

MON, TUE, SAT = 1, 2, 6
LATE = [MON, 22 * 3600, (24 + 2) * 3600]  # Monday 22:00 - Tuesday 02:00, as MQL5 gives it
LATE_WRAPPED = [MON, 22 * 3600, 2 * 3600]  # the same with the date part dropped on the way


def server_ms(day: int, hhmm: str) -> int:
    """Server time (tz offset 0) on the week of Sunday 2024-03-03."""
    hours, minutes = map(int, hhmm.split(":"))
    sunday = int(datetime(2024, 3, 3, tzinfo=timezone.utc).timestamp() * 1000)
    return sunday + (day * 86_400 + hours * 3600 + minutes * 60) * 1000


# --- the rule ---

@pytest.mark.parametrize("window, span", [
    ((79_200, 93_600), (79_200, 93_600)),    # ends 02:00 the next day
    ((79_200, 7_200), (79_200, 93_600)),     # `to` before `from`: the next day
    ((0, 86_400), (0, 86_400)),              # a whole day
    ((0, 0), (0, 86_400)),                   # 24:00 read as 0
    ((3_600, 172_800), (3_600, 172_800)),    # MQL5's largest end
])
def test_session_span_reads_mql5_windows(window, span):
    assert protocol.session_span(*window) == span


@pytest.mark.parametrize("window", [(-1, 60), (86_400, 90_000), (0, 172_801), (0.0, 60), (True, 60), ("0", 60)])
def test_session_span_refuses_what_mql5_never_sends(window):
    with pytest.raises(ValueError, match="not MQL5's"):
        protocol.session_span(*window)


# --- the executor's pre-trade check ---

def check_at(ctx: RiskContext, day: int, hhmm: str) -> str | None:
    order = OrderToCheck(strategy_id="s", symbol="GER40", side="buy", volume=1.0, closing=False)
    book = Book(open_positions=0, open_positions_of_strategy=0, sessions=ctx.sessions_of("GER40"),
                server_time_ms=server_ms(day, hhmm))
    return check_trading_hours(order, book, {"session_close_buffer_min": 5})


@pytest.mark.parametrize("window", [LATE, LATE_WRAPPED])
def test_the_pre_trade_check_trades_after_midnight_inside_the_session(window):
    ctx = RiskContext()
    ctx.on_sessions(("GER40",), {"GER40": [window]})
    assert ctx.sessions_of("GER40") == ((MON, 79_200, 93_600),)
    assert check_at(ctx, MON, "22:30") is None
    assert check_at(ctx, TUE, "00:30") is None
    assert "closes at Tue 02:00" in check_at(ctx, TUE, "01:57")
    assert "outside its trading sessions" in check_at(ctx, TUE, "02:30")
    assert "outside its trading sessions" in check_at(ctx, MON, "21:59")


def test_a_saturday_session_past_midnight_runs_into_sunday():
    ctx = RiskContext()
    ctx.on_sessions(("GER40",), {"GER40": [[SAT, 22 * 3600, (24 + 2) * 3600]]})
    assert check_at(ctx, 0, "00:30") is None
    assert "outside" in check_at(ctx, 0, "02:30")


def test_malformed_windows_are_left_out_and_the_symbol_looks_closed():
    ctx = RiskContext()
    ctx.on_sessions(("GER40",), {"GER40": [[MON, 0, 172_801], [7, 0, 60], [MON, "0", 60], "Mon", [TUE, 0, 86_400]]})
    assert ctx.sessions_of("GER40") == ((TUE, 0, 86_400),)
    assert "outside" in check_at(ctx, MON, "12:00")


# --- the paper terminal (the simulated trade server on a real broker's sessions) ---

@pytest.mark.parametrize("window", [LATE, LATE_WRAPPED])
def test_imported_sessions_fold_into_the_next_day(window):
    sessions = sessions_from_windows([window])
    assert sessions[MON] == ((1_320, 1_440),) and sessions[TUE] == ((0, 120),)


def test_imported_sessions_merge_and_wrap_the_week():
    sessions = sessions_from_windows([LATE, [TUE, 0, 22 * 3600], [SAT, 22 * 3600, 172_800]])
    assert sessions[TUE] == ((0, 1_320),)  # 00:00-02:00 from Monday and Tuesday's own 00:00-22:00: one window
    assert sessions[0] == ((0, 1_440),)  # Saturday 22:00 to Monday 00:00
    with pytest.raises(SymbolConfigError, match="not MQL5's"):
        sessions_from_windows([[MON, 0, 172_801]])


@pytest.mark.parametrize("day, hhmm, retcode", [
    (MON, "22:30", mt5.TRADE_RETCODE_DONE),
    (TUE, "00:30", mt5.TRADE_RETCODE_DONE),
    (TUE, "02:30", mt5.TRADE_RETCODE_MARKET_CLOSED),
    (MON, "21:30", mt5.TRADE_RETCODE_MARKET_CLOSED),
])
def test_the_paper_terminal_trades_after_midnight_inside_the_session(day, hhmm, retcode):
    spec = dataclasses.replace(DEFAULT_SYMBOLS["EURUSD"], sessions_trade=sessions_from_windows([LATE]))
    when = server_ms(day, hhmm)
    assert session_open(spec, when, 0) is (retcode == mt5.TRADE_RETCODE_DONE)
    server = TradeServer(login=1, symbols={"EURUSD": spec}, enforce_sessions=True, server_tz=0)
    server.on_quote("EURUSD", when, 1.1, 1.1001)
    request = {"action": mt5.TRADE_ACTION_DEAL, "symbol": "EURUSD", "volume": 0.1, "type": mt5.ORDER_TYPE_BUY,
               "price": 1.1001, "deviation": 10, "type_filling": mt5.ORDER_FILLING_FOK}
    assert server.order_send(request, now_ms=when)["retcode"] == retcode
