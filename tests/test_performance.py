"""The performance report on hand-made trades, every figure worked out by hand in the
comments: `summarize` (actors/journal/performance.py), the journal's per strategy and per account
report with its initial balances, and how `run.py ctl` prints it.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

import pykka
import pytest

from actors import messages as m
from actors.control.views import render_performance, to_text
from actors.runtime.directory import Directory
from actors.journal.journal import Journal
from actors.journal.performance import daily_returns, longest_streak, max_drawdown, max_drawdown_pct, summarize

REPORT_KEYS = {"trades", "wins", "losses", "breakeven", "win_rate", "net_profit", "gross_profit", "gross_loss",
               "profit_factor", "max_drawdown", "max_drawdown_pct", "sharpe", "expectancy", "average_win",
               "average_loss", "largest_win", "largest_loss", "longest_winning_streak", "longest_losing_streak"}
CONTRACT_KEYS = {"trades", "wins", "losses", "win_rate", "net_profit", "gross_profit", "gross_loss", "profit_factor",
                 "max_drawdown", "sharpe", "expectancy"}  # CONTROL_API.md's


def ms(text: str) -> int:
    """ms since the epoch of an ISO time in UTC, e.g. '2024-01-01 10:00' (a Monday)."""
    return int(datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp() * 1000)


def trade(close_time: int, profit: float, id: int = 0) -> dict:
    return {"close_time": close_time, "profit": profit, "id": id, "symbol": "EURUSD"}


# In close-time order: +100, -50, -30, 0, +20, +80, -100.
#   cumulative   100,  50,  20, 20,  40, 120,  20
#   peak         100, 100, 100, 100, 100, 120, 120
#   drawdown       0,  50,  80, 80,  60,   0, 100   -> max 100
#   wins 3 (200), losses 3 (180), one flat trade; net 20; pf 200/180; expectancy 20/7
IN_TIME_ORDER = [trade(1, 100.0), trade(2, -50.0), trade(3, -30.0), trade(4, 0.0), trade(5, 20.0),
                 trade(6, 80.0), trade(7, -100.0)]
# Given shuffled: in this order the drawdown would be 180 (80, 180, 200, 150, 50, 20, 20).
SHUFFLED = [IN_TIME_ORDER[i] for i in (5, 0, 4, 1, 6, 2, 3)]


def test_summarize_hand_made_trades():
    assert max_drawdown(t["profit"] for t in SHUFFLED) == 180.0  # the order matters
    s = summarize(SHUFFLED)
    assert s["trades"] == 7
    assert s["wins"] == 3
    assert s["losses"] == 3  # the flat trade is neither
    assert s["breakeven"] == 1
    assert s["win_rate"] == pytest.approx(3 / 7)
    assert s["gross_profit"] == 200.0
    assert s["gross_loss"] == 180.0
    assert s["net_profit"] == 20.0
    assert s["profit_factor"] == pytest.approx(200 / 180)
    assert s["max_drawdown"] == 100.0  # computed in close-time order
    assert s["expectancy"] == 2.86  # 20 / 7 = 2.857...
    assert s["average_win"] == 66.67  # (100 + 20 + 80) / 3 = 66.666...
    assert s["average_loss"] == 60.0  # (50 + 30 + 100) / 3, a positive amount
    assert s["largest_win"] == 100.0
    assert s["largest_loss"] == 100.0
    # +100 | -50 -30 | 0 | +20 +80 | -100: wins run 1 then 2; losses run 2, the flat trade
    # ends that run, then 1.
    assert s["longest_winning_streak"] == 2
    assert s["longest_losing_streak"] == 2
    # Without a starting balance there is no percentage and no return.
    assert s["max_drawdown_pct"] is None
    assert s["sharpe"] is None


def test_summarize_keys():
    assert set(summarize(IN_TIME_ORDER)) == REPORT_KEYS
    assert CONTRACT_KEYS <= REPORT_KEYS


def test_drawdown_pct_of_the_running_peak():
    # Starting at 1000, in close order +100, -50, -30, 0, +20, +80, -100:
    #   equity  1100  1050  1020  1020  1040  1120  1020
    #   peak    1100  1100  1100  1100  1100  1120  1120
    #   fall       0    50    80    80    60     0   100
    #   % peak     0  4.55  7.27  7.27  5.45     0  8.93   (100 / 1120 = 8.928...%)
    s = summarize(SHUFFLED, initial_balance=1000.0)
    assert s["max_drawdown"] == 100.0
    assert s["max_drawdown_pct"] == 8.93


def test_drawdown_pct_worst_where_money_drawdown_is_not():
    # From 100: +100 -> 200, -60 -> 140 (60 below 200: 30 %), +400 -> 540,
    # -100 -> 440 (100 below 540: 18.52 %). Money: worst 100; percent: worst 30.
    profits = [100.0, -60.0, 400.0, -100.0]
    assert max_drawdown(profits) == 100.0
    assert max_drawdown_pct(profits, 100.0) == 30.0
    assert max_drawdown_pct([-10.0], 1000.0) == 1.0  # from the starting balance: 10 / 1000
    assert max_drawdown_pct([10.0, 20.0], 1000.0) == 0.0
    assert max_drawdown_pct(profits, None) is None
    assert max_drawdown_pct(profits, 0.0) is None  # no percentage of nothing


# A week of trades from 10,000 (2024-01-01 is a Monday), given out of order:
#   Mon  +100              return  100 / 10,000  =  0.01    equity 10,100
#   Tue  (none)                                      0.0
#   Wed  -60, -41 = -101           -101 / 10,100  = -0.01    equity  9,999
#   Thu  (none)                                      0.0
#   Fri  +199.98                 199.98 / 9,999   =  0.02    equity 10,198.98
# mean 0.02 / 5 = 0.004; deviations 0.006 -0.004 -0.014 -0.004 0.016; squares (in 1e-6)
# 36 + 16 + 196 + 16 + 256 = 520; sample variance 520e-6 / 4 = 130e-6; sd 0.011402;
# Sharpe 0.004 / 0.011402 * sqrt(252) = 0.35082 * 15.8745 = 5.5691.
WEEK = [
    {"close_time": ms("2024-01-05 16:00"), "profit": 199.98, "id": 4},
    {"close_time": ms("2024-01-01 10:00"), "profit": 100.0, "id": 1},
    {"close_time": ms("2024-01-03 09:00"), "profit": -60.0, "id": 2},
    {"close_time": ms("2024-01-03 15:00"), "profit": -41.0, "id": 3},
]


def test_sharpe_of_daily_returns_over_a_week():
    ordered = sorted(WEEK, key=lambda t: t["close_time"])
    assert daily_returns(ordered, 10_000.0) == pytest.approx([0.01, 0.0, -0.01, 0.0, 0.02])
    s = summarize(WEEK, initial_balance=10_000.0)
    assert s["sharpe"] == pytest.approx(0.004 / math.sqrt(130e-6) * math.sqrt(252))
    assert s["sharpe"] == pytest.approx(5.5691, abs=1e-4)
    assert s["net_profit"] == 198.98  # 100 - 101 + 199.98
    # Equity 10,100 -> 10,040 -> 9,999: 101 below the peak, 1.0 % of 10,100.
    assert s["max_drawdown"] == 101.0
    assert s["max_drawdown_pct"] == 1.0
    assert summarize(WEEK)["sharpe"] is None  # no starting balance, no returns


def test_daily_returns_weekend_days_count_only_with_a_close():
    # Fri +100 (100 / 10,000 = 0.01), Sat -101 (-101 / 10,100 = -0.01), Sun skipped (a
    # weekend day without a close), Mon +99.99 (99.99 / 9,999 = 0.01).
    trades = [{"close_time": ms("2024-01-05 12:00"), "profit": 100.0},
              {"close_time": ms("2024-01-06 12:00"), "profit": -101.0},
              {"close_time": ms("2024-01-08 12:00"), "profit": 99.99}]
    assert daily_returns(trades, 10_000.0) == pytest.approx([0.01, -0.01, 0.01])
    # mean 0.01 / 3; deviations 0.02/3, -0.04/3, 0.02/3; squares (4 + 16 + 4) / 9 * 1e-4;
    # sample variance 24/9e-4 / 2 = 4/3 * 1e-4; Sharpe (0.01/3) / sqrt(4/3 * 1e-4) * sqrt(252).
    assert summarize(trades, initial_balance=10_000.0)["sharpe"] == pytest.approx(
        (0.01 / 3) / math.sqrt(4 / 3 * 1e-4) * math.sqrt(252))


def test_daily_returns_use_the_server_day():
    # Mon 23:30 UTC is Tue 01:30 on a UTC+2 server. In UTC the days are Mon (+100: 0.01),
    # Tue, Wed (none), Thu (+50.5 / 10,100 = 0.005); on the server Tue, Wed, Thu.
    trades = [{"close_time": ms("2024-01-01 23:30"), "profit": 100.0},
              {"close_time": ms("2024-01-04 12:00"), "profit": 50.5}]
    assert daily_returns(trades, 10_000.0) == pytest.approx([0.01, 0.0, 0.0, 0.005])
    assert daily_returns(trades, 10_000.0, tz_offset_s=7200) == pytest.approx([0.01, 0.0, 0.005])


def test_sharpe_needs_two_days_and_some_deviation():
    one_day = [{"close_time": ms("2024-01-01 10:00"), "profit": 100.0},
               {"close_time": ms("2024-01-01 11:00"), "profit": -20.0}]
    assert summarize(one_day, initial_balance=10_000.0)["sharpe"] is None  # one return
    # 100 / 10,000 and 101 / 10,100: 0.01 both days, no deviation.
    steady = [{"close_time": ms("2024-01-01 10:00"), "profit": 100.0},
              {"close_time": ms("2024-01-02 10:00"), "profit": 101.0}]
    assert summarize(steady, initial_balance=10_000.0)["sharpe"] is None
    # A blown account has no returns to speak of.
    blown = [{"close_time": ms("2024-01-01 10:00"), "profit": -100.0},
             {"close_time": ms("2024-01-02 10:00"), "profit": 5.0}]
    assert daily_returns(blown, 100.0) == []
    assert summarize(blown, initial_balance=100.0)["sharpe"] is None


def test_streaks():
    # -1 -2 | 0 | -3 -4 -5 | +10 +20 | 0 | +30 | -1: losses run 2, 3, 1; wins run 2, 1.
    profits = [-1.0, -2.0, 0.0, -3.0, -4.0, -5.0, 10.0, 20.0, 0.0, 30.0, -1.0]
    assert longest_streak(profits, winning=False) == 3
    assert longest_streak(profits, winning=True) == 2
    s = summarize(trade(i, p) for i, p in enumerate(profits))
    assert (s["longest_losing_streak"], s["longest_winning_streak"], s["breakeven"]) == (3, 2, 2)
    assert longest_streak([], winning=True) == 0


def test_summarize_same_close_time_sorted_by_id():
    # In id order: +50, -20, -20 -> drawdown 40. In the given order it would be 20.
    trades = [trade(5, -20.0, id=2), trade(5, 50.0, id=1), trade(5, -20.0, id=3)]
    assert summarize(trades)["max_drawdown"] == 40.0


def test_summarize_no_trades():
    empty = {"trades": 0, "wins": 0, "losses": 0, "breakeven": 0, "win_rate": 0.0, "net_profit": 0.0,
             "gross_profit": 0.0, "gross_loss": 0.0, "profit_factor": None, "max_drawdown": 0.0,
             "max_drawdown_pct": None, "sharpe": None, "expectancy": 0.0, "average_win": 0.0, "average_loss": 0.0,
             "largest_win": 0.0, "largest_loss": 0.0, "longest_winning_streak": 0, "longest_losing_streak": 0}
    assert summarize([]) == empty
    # With a balance the curve exists but never fell; still no daily returns.
    assert summarize([], initial_balance=10_000.0) == {**empty, "max_drawdown_pct": 0.0}


def test_summarize_only_winners_has_no_profit_factor():
    s = summarize([trade(1, 10.0), trade(2, 5.5)])
    assert s["profit_factor"] is None
    assert s["win_rate"] == 1.0
    assert s["max_drawdown"] == 0.0
    assert s["net_profit"] == 15.5
    assert s["expectancy"] == 7.75
    assert (s["average_win"], s["average_loss"], s["largest_win"], s["largest_loss"]) == (7.75, 0.0, 10.0, 0.0)
    assert (s["longest_winning_streak"], s["longest_losing_streak"]) == (2, 0)


def test_summarize_only_losers():
    s = summarize([trade(1, -10.0), trade(2, -5.0)])
    assert s["profit_factor"] == 0.0
    assert s["win_rate"] == 0.0
    assert s["gross_loss"] == 15.0
    assert s["net_profit"] == -15.0
    assert s["max_drawdown"] == 15.0  # from the starting equity
    assert s["expectancy"] == -7.5
    assert (s["average_win"], s["average_loss"], s["largest_loss"]) == (0.0, 7.5, 10.0)
    assert s["longest_losing_streak"] == 2
    assert summarize([trade(1, -10.0), trade(2, -5.0)], initial_balance=100.0)["max_drawdown_pct"] == 15.0


def test_summarize_rounds_money_to_cents():
    s = summarize([trade(1, 0.1), trade(2, 0.2), trade(3, -0.123)])
    assert s["gross_profit"] == 0.3  # not 0.30000000000000004
    assert s["gross_loss"] == 0.12
    assert s["net_profit"] == 0.18  # 0.177
    assert s["max_drawdown"] == 0.12  # 0.123
    assert s["expectancy"] == 0.06  # 0.059
    assert s["average_win"] == 0.15  # 0.3 / 2
    assert s["largest_loss"] == 0.12  # 0.123


def test_summarize_reads_string_profits():
    assert summarize([{"close_time": 1, "profit": "12.5"}])["net_profit"] == 12.5


def test_summarize_accepts_a_generator():
    assert summarize(t for t in IN_TIME_ORDER)["trades"] == 7


@pytest.mark.parametrize(("profits", "expected"), [
    ([], 0.0),
    ([10.0, 20.0], 0.0),               # only up
    ([-10.0], 10.0),                   # from the starting equity
    ([10.0, -5.0, -10.0, 20.0, -3.0], 15.0),  # 10, 5, -5, 15, 12: peak 10 -> -5
    ([100.0, -30.0, 50.0, -100.0, 10.0], 100.0),  # 100, 70, 120, 20, 30: peak 120 -> 20
    ([5.0, -5.0, 5.0, -5.0], 5.0),
])
def test_max_drawdown(profits, expected):
    assert max_drawdown(profits) == pytest.approx(expected)


# --------------------------------------------------- the journal's report, per account ---
@pytest.fixture
def journal(tmp_path):
    """Start a Journal on a temporary file; `journal.restart()` reopens the same file."""
    path = tmp_path / "journal.sqlite3"
    refs = [Journal.start(path, Directory())]

    class Handle:
        def tell(self, msg):
            refs[-1].tell(msg)

        def report(self, **kw):
            return refs[-1].proxy().performance(m.PerformanceRequest(**kw)).get(timeout=5)

        def restart(self):
            refs[-1].stop(timeout=5)
            refs.append(Journal.start(path, Directory()))

    yield Handle()
    for ref in refs:
        try:
            ref.stop(timeout=5)
        except pykka.ActorDeadError:
            pass


def close(journal, *, account: int, ticket: int, profit: float, strategy_id: str = "s1") -> None:
    journal.tell(m.PositionOpened(account=account, strategy_id=strategy_id, ticket=ticket, symbol="EURUSD",
                                  side="buy", volume=0.1, price_open=1.1))
    journal.tell(m.PositionClosed(account=account, strategy_id=strategy_id, ticket=ticket, symbol="EURUSD",
                                  side="buy", volume=0.1, price_close=1.09, profit=profit, reason="sl"))


def test_journal_keeps_the_first_balance_of_each_account(journal):
    journal.tell(m.RecordBalance(account=1, balance=10_000.0, tz_offset_s=7200))
    close(journal, account=1, ticket=11, profit=-500.0)
    journal.tell(m.RecordBalance(account=1, balance=9_500.0, tz_offset_s=10_800))  # later: not the start
    report = journal.report(include_trades=True)
    [account] = report["accounts"]
    [strategy] = report["strategies"]
    # 10,000 -> 9,500: 500 below the start, 5 % of it; the strategy trades the same capital.
    for row in (account, strategy):
        assert (row["initial_balance"], row["max_drawdown"], row["max_drawdown_pct"]) == (10_000.0, 500.0, 5.0)
    assert account["account"] == 1 and strategy["strategy_id"] == "s1"
    [t] = report["trades"]
    assert set(t) == {"ticket", "account", "strategy_id", "symbol", "side", "volume", "open_time", "open_price",
                      "close_time", "close_price", "profit", "reason"}
    assert (t["ticket"], t["profit"], t["reason"], t["open_price"]) == (11, -500.0, "sl", 1.1)

    journal.restart()  # kept in the journal, not only in memory
    assert journal.report()["accounts"][0]["initial_balance"] == 10_000.0


def test_journal_initial_balance_is_before_trades_already_journaled(journal):
    # An older journal: two trades (+300, -100) were recorded before any balance, which is
    # now 10,200, so the balance before the first of them was 10,200 - 200 = 10,000.
    close(journal, account=1, ticket=11, profit=300.0)
    close(journal, account=1, ticket=12, profit=-100.0)
    journal.tell(m.RecordBalance(account=1, balance=10_200.0))
    [account] = journal.report()["accounts"]
    assert account["initial_balance"] == 10_000.0
    assert account["max_drawdown_pct"] == 0.97  # 10,300 -> 10,200: 100 / 10,300 = 0.9709 %


def test_journal_strategy_over_two_accounts_uses_both_balances(journal):
    journal.tell(m.RecordBalance(account=1, balance=10_000.0))
    close(journal, account=1, ticket=11, profit=-100.0, strategy_id="manual")
    close(journal, account=2, ticket=21, profit=-200.0, strategy_id="manual")
    report = journal.report()
    assert [(a["account"], a["initial_balance"], a["max_drawdown_pct"]) for a in report["accounts"]] == \
        [(1, 10_000.0, 1.0), (2, None, None)]  # account 2 has not reported a balance
    assert report["strategies"][0]["initial_balance"] is None
    journal.tell(m.RecordBalance(account=2, balance=4_800.0))  # 5,000 before its -200
    [manual] = journal.report()["strategies"]
    # 15,000 -> 14,900 -> 14,700: 300 / 15,000 = 2 %.
    assert (manual["initial_balance"], manual["max_drawdown_pct"]) == (15_000.0, 2.0)
    only_1 = journal.report(account=1)["strategies"][0]
    assert (only_1["initial_balance"], only_1["trades"]) == (10_000.0, 1)


# -------------------------------------------------------------- as `run.py ctl` prints it ---
def test_render_performance_is_a_readable_table():
    figures = {"trades": 4, "wins": 2, "losses": 2, "breakeven": 0, "win_rate": 0.5, "net_profit": 1198.98,
               "gross_profit": 1299.98, "gross_loss": 101.0, "profit_factor": 12.871, "max_drawdown": 101.0,
               "max_drawdown_pct": 1.0, "sharpe": 5.5691, "expectancy": 299.75, "average_win": 649.99,
               "average_loss": 50.5, "largest_win": 1199.98, "largest_loss": 60.0, "longest_winning_streak": 1,
               "longest_losing_streak": 2}
    report = {"strategies": [{"strategy_id": "sma-cross", "initial_balance": 10_000.0, **figures}],
              "accounts": [{"account": 5001234, "initial_balance": None, **summarize([])}],
              "trades": [{"ticket": 123456, "account": 5001234, "strategy_id": "sma-cross", "symbol": "EURUSD",
                          "side": "buy", "volume": 0.1, "open_time": ms("2024-01-01 09:00"), "open_price": 1.10012,
                          "close_time": ms("2024-01-01 10:00"), "close_price": 1.10112, "profit": 100.0,
                          "reason": "tp"}]}
    lines = [line.rstrip() for line in to_text(render_performance(report)).splitlines()]
    assert lines[:9] == [
        "STRATEGIES",
        "strategy id   trades   win%    net        PF      max DD   DD%   sharpe   expect   avg win   avg loss   L-run",
        "─" * 109,
        "sma-cross     4        50.0%   1,198.98   12.87   101.00   1.0   5.57     299.75   649.99    50.50      2",
        "",
        "ACCOUNTS",
        "account   trades   win%   net    PF   max DD   DD%   sharpe   expect   avg win   avg loss   L-run",
        "─" * 97,
        "5001234   0        0.0%   0.00   -    0.00     -     -        0.00     0.00      0.00       0",
    ]
    # Times as UTC dates, never epoch milliseconds.
    assert lines[-4:] == [
        "TRADES",
        "ticket   strategy    symbol   side   volume   open      opened                    close     closed"
        "                    P/L      reason",
        "─" * 133,
        "123456   sma-cross   EURUSD   buy    0.1      1.10012   2024-01-01 09:00:00 UTC   1.10112   "
        "2024-01-01 10:00:00 UTC   100.00   tp",
    ]
    assert not any(str(ms("2024-01-01 09:00")) in line for line in lines)
