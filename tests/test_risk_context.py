"""The RiskGuard's market context: what it asks the terminal for, when, and what the checks see."""

from actors.risk.context import CALENDAR_REFRESH_MS, HOUR_MS, RETRY_S, Fetch, RiskContext

TUESDAY_10H = 1_795_514_400_000  # 2026-11-24 10:00:00 UTC, a Tuesday


def kinds(fetches: list[Fetch]) -> list[str]:
    return [f.kind for f in fetches]


def test_nothing_is_asked_before_the_terminal_lists_its_symbols_and_clock() -> None:
    assert RiskContext().due(None, 0.0, 102) == []


def test_sessions_are_asked_once_then_calendar_and_closes_with_the_clock() -> None:
    ctx = RiskContext()
    ctx.set_symbols(["EURUSD", "GBPUSD"])
    assert ctx.due(None, 0.0, 102) == [Fetch("sessions", ("EURUSD", "GBPUSD"))]
    assert ctx.due(None, 1.0, 102) == []  # in flight
    ctx.on_sessions(("EURUSD", "GBPUSD"), {"EURUSD": [[1, 0, 86_400]], "GBPUSD": [[1, 0, 86_400]]})
    assert ctx.sessions_of("EURUSD") == ((1, 0, 86_400),)
    due = ctx.due(TUESDAY_10H, 2.0, 102)
    assert kinds(due) == ["calendar", "rates", "rates"]
    assert due[0].args == (TUESDAY_10H - 2 * HOUR_MS, TUESDAY_10H + 26 * HOUR_MS)
    assert due[1].args == ("EURUSD", "H1", 102)


def test_a_failed_answer_is_asked_again_after_the_retry_delay_only() -> None:
    ctx = RiskContext()
    ctx.set_symbols(["EURUSD"])
    ctx.due(None, 0.0, 102)
    ctx.on_sessions(("EURUSD",), None)
    assert ctx.due(None, RETRY_S / 2, 102) == []
    assert ctx.due(None, RETRY_S, 102) == [Fetch("sessions", ("EURUSD",))]


def test_closes_are_fetched_once_per_bar_and_exclude_the_forming_bar() -> None:
    ctx = RiskContext(symbols=("EURUSD",), sessions={"EURUSD": ()})
    ctx.due(TUESDAY_10H, 0.0, 4)
    ctx.on_rates("EURUSD", {"time": [1, 2, 3], "close": [1.1, 1.2, 1.3]})
    assert ctx.closes_for(["EURUSD", "GBPUSD"]) == {"EURUSD": (1.1, 1.2)}
    assert "rates" not in kinds(ctx.due(TUESDAY_10H + 59 * 60_000, 10.0, 4))
    assert "rates" in kinds(ctx.due(TUESDAY_10H + HOUR_MS, 20.0, 4))


def test_the_calendar_is_refreshed_every_hour_of_server_time_and_read_on_the_server_clock() -> None:
    ctx = RiskContext()
    (fetch,) = ctx.due(TUESDAY_10H, 0.0, 4)
    ctx.on_calendar(fetch.args[0], [{"time": TUESDAY_10H + 600_000, "currency": "USD", "importance": 3,
                                     "event_name": "Nonfarm Payrolls"}, {"bad": "row"}])
    assert ctx.due(TUESDAY_10H + CALENDAR_REFRESH_MS - 1, 1.0, 4) == []
    assert kinds(ctx.due(TUESDAY_10H + CALENDAR_REFRESH_MS, 2.0, 4)) == ["calendar"]
    (event,) = ctx.server_news(7200)
    assert (event.time_ms, event.currency, event.impact, event.title) == (
        TUESDAY_10H + 600_000 + 7_200_000, "USD", 3, "Nonfarm Payrolls")


def test_a_large_terminal_gets_closes_only_for_the_symbols_that_matter() -> None:
    ctx = RiskContext()
    ctx.set_symbols([f"SYM{i:03d}" for i in range(300)])
    ctx.on_sessions(tuple(f"SYM{i:03d}" for i in range(200)), {f"SYM{i:03d}": [] for i in range(300)})
    ctx.want(["SYM007", "NOTLISTED"])
    rates = [f.args[0] for f in ctx.due(TUESDAY_10H, 0.0, 4) if f.kind == "rates"]
    assert rates == ["SYM007"]


def test_a_new_terminal_instance_asks_everything_again() -> None:
    ctx = RiskContext(symbols=("EURUSD",))
    ctx.on_sessions(("EURUSD",), {"EURUSD": []})
    ctx.reset_terminal()
    assert kinds(ctx.due(None, 0.0, 4)) == ["sessions"]
