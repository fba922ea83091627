"""Pre-trade checks on time (actors/risk/calendar.py): sessions and their close buffer, the
daily no-trade window, and news blackouts. Times are server times in a week that starts on
Sunday 2024-01-07 00:00."""

from __future__ import annotations

import pytest

from actors.risk.calendar import (check_news, check_no_trade_window, check_trading_hours, clock, parse_hhmm,
                                  seconds_to_close, week_seconds)
from actors.risk.model import Book, NewsEvent, OrderToCheck

SUNDAY = 1_704_585_600_000  # 2024-01-07 00:00, ms
DAYS = {"Sun": 0, "Mon": 1, "Tue": 2, "Wed": 3, "Thu": 4, "Fri": 5, "Sat": 6}
# An FX week: Sunday 22:05 to Friday 22:00, each day in MQL5's per-day pieces.
FX = ((0, 22 * 3600 + 300, 86_400), (1, 0, 86_400), (2, 0, 86_400), (3, 0, 86_400), (4, 0, 86_400),
      (5, 0, 22 * 3600))
BUFFER = {"session_close_buffer_min": 5}


def at(day: str, hhmm: str) -> int:
    hours, minutes = map(int, hhmm.split(":"))
    return SUNDAY + (DAYS[day] * 86_400 + hours * 3600 + minutes * 60) * 1000


def order(**kw) -> OrderToCheck:
    return OrderToCheck(**{"strategy_id": "s", "symbol": "EURUSD", "side": "buy", "volume": 0.1, "closing": False,
                           **kw})


def book(**kw) -> Book:
    return Book(**{"open_positions": 0, "open_positions_of_strategy": 0, **kw})


def test_week_seconds_and_clock():
    assert week_seconds(SUNDAY) == 0
    assert week_seconds(at("Wed", "13:45")) == 3 * 86_400 + 13 * 3600 + 45 * 60
    assert clock(week_seconds(at("Fri", "21:56"))) == "Fri 21:56"


# ------------------------------------------------------------ trading hours ---
@pytest.mark.parametrize("when", [("Wed", "12:00"), ("Mon", "23:58"), ("Sun", "22:10"), ("Fri", "21:55")])
def test_open_and_not_closing_soon(when):
    # Monday 23:58 runs on into Tuesday; at Friday 21:55 exactly 5 minutes are left: not within 5.
    assert check_trading_hours(order(), book(sessions=FX, server_time_ms=at(*when)), BUFFER) is None


def test_within_the_close_buffer():
    reason = check_trading_hours(order(), book(sessions=FX, server_time_ms=at("Fri", "21:56")), BUFFER)
    assert reason == "EURUSD's session closes at Fri 22:00 server time, within session_close_buffer_min 5"
    assert seconds_to_close(FX, at("Fri", "21:56")) == 240


@pytest.mark.parametrize(("when", "shown"), [(("Sat", "10:00"), "Sat 10:00"), (("Sun", "22:00"), "Sun 22:00"),
                                             (("Fri", "22:00"), "Fri 22:00")])
def test_outside_the_sessions(when, shown):
    reason = check_trading_hours(order(), book(sessions=FX, server_time_ms=at(*when)), BUFFER)
    assert reason == f"EURUSD is outside its trading sessions (server time {shown})"


def test_sessions_wrapping_the_week_end():
    around = ((6, 20 * 3600, 86_400), (0, 0, 2 * 3600))  # Saturday 20:00 to Sunday 02:00
    assert check_trading_hours(order(), book(sessions=around, server_time_ms=at("Sat", "23:58")), BUFFER) is None
    assert seconds_to_close(around, at("Sat", "23:58")) == 2 * 3600 + 120
    assert "closes at Sun 02:00" in check_trading_hours(order(), book(sessions=around,
                                                                      server_time_ms=at("Sun", "01:57")), BUFFER)


def test_always_open_never_closes():
    always = tuple((day, 0, 86_400) for day in range(7))
    assert seconds_to_close(always, at("Sat", "23:59")) >= 7 * 86_400
    assert check_trading_hours(order(), book(sessions=always, server_time_ms=at("Sat", "23:59")), BUFFER) is None


def test_trading_hours_skips_unknown_and_closing():
    assert check_trading_hours(order(), book(server_time_ms=at("Sat", "10:00")), BUFFER) is None  # sessions unknown
    assert check_trading_hours(order(), book(sessions=FX), BUFFER) is None  # time unknown
    assert check_trading_hours(order(closing=True), book(sessions=(), server_time_ms=at("Sat", "10:00")),
                               BUFFER) is None
    # No session at all: never open.
    assert check_trading_hours(order(), book(sessions=(), server_time_ms=at("Wed", "12:00")), {}) is not None


def test_no_buffer_limit_means_only_the_sessions():
    assert check_trading_hours(order(), book(sessions=FX, server_time_ms=at("Fri", "21:59")), {}) is None


# ----------------------------------------------------------- no-trade window ---
ROLLOVER = {"no_trade_windows": [["23:55", "00:05"]]}


@pytest.mark.parametrize(("when", "refused"), [("23:54", False), ("23:55", True), ("23:59", True), ("00:00", True),
                                               ("00:04", True), ("00:05", False), ("12:00", False)])
def test_rollover_window_wraps_midnight(when, refused):
    reason = check_no_trade_window(order(), book(server_time_ms=at("Wed", when)), ROLLOVER)
    assert (reason is not None) == refused
    if refused:
        assert reason == f"no new positions between 23:55 and 00:05 server time (no_trade_windows; now {when})"


def test_several_windows_and_tuples():
    limits = {"no_trade_windows": (("23:55", "00:05"), ("12:00", "13:00"))}
    assert check_no_trade_window(order(), book(server_time_ms=at("Tue", "12:30")), limits) is not None
    assert check_no_trade_window(order(), book(server_time_ms=at("Tue", "13:00")), limits) is None


def test_no_trade_window_skips():
    assert check_no_trade_window(order(closing=True), book(server_time_ms=at("Wed", "23:59")), ROLLOVER) is None
    assert check_no_trade_window(order(), book(), ROLLOVER) is None
    assert check_no_trade_window(order(), book(server_time_ms=at("Wed", "23:59")), {}) is None


def test_parse_hhmm():
    assert parse_hhmm("00:00") == 0 and parse_hhmm("23:55") == 1435 and parse_hhmm("24:00") == 1440
    for bad in ("24:01", "12:60", "7", "ab:cd", "12:5"):
        with pytest.raises(ValueError):
            parse_hhmm(bad)


# --------------------------------------------------------------------- news ---
NOW = at("Fri", "13:20")
NFP = NewsEvent(time_ms=at("Fri", "13:30"), currency="USD", impact="high", title="Non-Farm Payrolls")
NEWS = {"news_blackout_min": 15}


def test_news_blackout_before_and_after():
    assert check_news(order(), book(server_time_ms=NOW, news=(NFP,)), NEWS) == (
        "news blackout: high-impact USD event Non-Farm Payrolls in 10 min (news_blackout_min 15)")
    after = check_news(order(), book(server_time_ms=at("Fri", "13:45"), news=(NFP,)), NEWS)
    assert after == "news blackout: high-impact USD event Non-Farm Payrolls 15 min ago (news_blackout_min 15)"
    assert check_news(order(), book(server_time_ms=at("Fri", "13:46"), news=(NFP,)), NEWS) is None
    assert check_news(order(), book(server_time_ms=at("Fri", "13:14"), news=(NFP,)), NEWS) is None


def test_news_only_high_impact_of_the_symbols_currencies():
    medium = NewsEvent(time_ms=NOW, currency="EUR", impact="medium")
    yen = NewsEvent(time_ms=NOW, currency="JPY", impact="high")
    assert check_news(order(), book(server_time_ms=NOW, news=(medium, yen)), NEWS) is None
    mt5_high = NewsEvent(time_ms=NOW, currency="EUR", impact=3)  # CALENDAR_IMPORTANCE_HIGH
    assert check_news(order(), book(server_time_ms=NOW, news=(mt5_high,)), NEWS) is not None
    assert check_news(order(symbol="USDJPY"), book(server_time_ms=NOW, news=(yen,)), NEWS) is not None


def test_news_uses_the_symbols_currencies_when_given():
    gold = book(server_time_ms=NOW, news=(NFP,), currencies={"XAUUSD": ("XAU", "USD"), "US500": ("USD", "USD")})
    assert check_news(order(symbol="XAUUSD"), gold, NEWS) is not None
    assert check_news(order(symbol="US500"), gold, NEWS) is not None


def test_news_skips():
    assert check_news(order(closing=True), book(server_time_ms=NOW, news=(NFP,)), NEWS) is None
    assert check_news(order(), book(server_time_ms=NOW, news=(NFP,)), {"news_blackout_min": 0}) is None
    assert check_news(order(), book(news=(NFP,)), NEWS) is None
