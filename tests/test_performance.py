"""Performance figures (actors/performance.py) on hand-made trades, numbers worked out by hand."""

from __future__ import annotations

import pytest

from actors.performance import max_drawdown, summarize


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
    assert s["win_rate"] == pytest.approx(3 / 7)
    assert s["gross_profit"] == 200.0
    assert s["gross_loss"] == 180.0
    assert s["net_profit"] == 20.0
    assert s["profit_factor"] == pytest.approx(200 / 180)
    assert s["max_drawdown"] == 100.0  # computed in close-time order
    assert s["expectancy"] == 2.86  # 20 / 7 = 2.857...
    assert s["sharpe"] is None


def test_summarize_keys_match_performance_request():
    keys = {"trades", "wins", "losses", "win_rate", "net_profit", "gross_profit", "gross_loss", "profit_factor",
            "max_drawdown", "sharpe", "expectancy"}
    assert set(summarize(IN_TIME_ORDER)) == keys


def test_summarize_same_close_time_sorted_by_id():
    # In id order: +50, -20, -20 -> drawdown 40. In the given order it would be 20.
    trades = [trade(5, -20.0, id=2), trade(5, 50.0, id=1), trade(5, -20.0, id=3)]
    assert summarize(trades)["max_drawdown"] == 40.0


def test_summarize_no_trades():
    assert summarize([]) == {"trades": 0, "wins": 0, "losses": 0, "win_rate": 0.0, "net_profit": 0.0,
                             "gross_profit": 0.0, "gross_loss": 0.0, "profit_factor": None, "max_drawdown": 0.0,
                             "sharpe": None, "expectancy": 0.0}


def test_summarize_only_winners_has_no_profit_factor():
    s = summarize([trade(1, 10.0), trade(2, 5.5)])
    assert s["profit_factor"] is None
    assert s["win_rate"] == 1.0
    assert s["max_drawdown"] == 0.0
    assert s["net_profit"] == 15.5
    assert s["expectancy"] == 7.75


def test_summarize_only_losers():
    s = summarize([trade(1, -10.0), trade(2, -5.0)])
    assert s["profit_factor"] == 0.0
    assert s["win_rate"] == 0.0
    assert s["gross_loss"] == 15.0
    assert s["net_profit"] == -15.0
    assert s["max_drawdown"] == 15.0  # from the starting equity
    assert s["expectancy"] == -7.5


def test_summarize_rounds_money_to_cents():
    s = summarize([trade(1, 0.1), trade(2, 0.2), trade(3, -0.123)])
    assert s["gross_profit"] == 0.3  # not 0.30000000000000004
    assert s["gross_loss"] == 0.12
    assert s["net_profit"] == 0.18  # 0.177
    assert s["max_drawdown"] == 0.12  # 0.123
    assert s["expectancy"] == 0.06  # 0.059


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
