"""Smart exits (actors/account/exits.py): partials, breakeven, trailing stop, time exit, and the
symbol's stops and freeze levels. Expected prices are worked out by hand in the comments.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from actors.account.exits import (
    Breakeven, ClosePosition, ExitPlan, ModifyStops, PartialClose, PartialExit, PositionState, TimeExit,
    TrailingStop, decide,
)
from bridge import mt5

# A pip is 10 points on 5 and 3 digits: EURUSD 0.0001, USDJPY 0.01.
EURUSD = {"name": "EURUSD", "digits": 5, "point": 0.00001, "trade_stops_level": 0, "trade_freeze_level": 0,
          "volume_step": 0.01, "volume_min": 0.01}
USDJPY = {**EURUSD, "name": "USDJPY", "digits": 3, "point": 0.001}
BUY, SELL = mt5.POSITION_TYPE_BUY, mt5.POSITION_TYPE_SELL
T0 = 1_700_000_000_000
SPREAD = 0.00010


def position(*, type: int = BUY, volume: float = 0.10, price_open: float = 1.10000, sl: float = 1.09800,
             tp: float = 0.0, ticket: int = 7) -> dict:
    return {"ticket": ticket, "type": type, "volume": volume, "price_open": price_open, "sl": sl, "tp": tp}


class Run:
    """One position driven quote by quote; the terminal applies what was asked unless told not to."""

    def __init__(self, settings: dict, pos: dict, symbol: dict = EURUSD, opened_ms: int = T0) -> None:
        self.plan = ExitPlan.from_settings(settings)
        self.pos = dict(pos)
        self.symbol = symbol
        self.state = PositionState.open(self.pos, opened_ms=opened_ms)

    def tick(self, *, bid: float | None = None, ask: float | None = None, bar: bool = False, now: int = T0,
             apply: bool = True) -> list:
        bid = ask - SPREAD if bid is None else bid
        ask = bid + SPREAD if ask is None else ask
        actions, self.state = decide(self.plan, self.state, (now, bid, ask), self.symbol, self.pos, now, bar)
        if apply:
            for action in actions:
                match action:
                    case PartialClose(volume=volume):
                        self.pos["volume"] = round(self.pos["volume"] - volume, 8)
                    case ModifyStops(sl=sl, tp=tp):
                        self.pos.update(sl=sl, tp=tp)
        return actions

    def sl_moves(self, prices: list[float], side: str = "bid") -> list[float]:
        return [a.sl for p in prices for a in self.tick(**{side: p}) if isinstance(a, ModifyStops)]


# ----------------------------------------------------------------------- settings ---
def test_plan_from_the_control_api_example():
    plan = ExitPlan.from_settings({
        "sizing": {"method": "fixed", "lots": 0.1}, "stop_loss": {"pips": 20}, "take_profit": {"rr": 2.0},
        "trailing_stop": {"pips": 15, "start_pips": 10}, "breakeven": {"trigger_pips": 10, "offset_pips": 1},
        "partial_exits": [{"at_pips": 20, "close_pct": 50, "move_to_breakeven": True}],
        "time_exit": {"max_bars": 48}, "max_positions": 1})
    assert plan == ExitPlan(partial_exits=(PartialExit(at_pips=20.0, close_pct=50.0, move_to_breakeven=True),),
                            breakeven=Breakeven(trigger_pips=10.0, offset_pips=1.0),
                            trailing_stop=TrailingStop(pips=15.0, start_pips=10.0),
                            time_exit=TimeExit(max_bars=48))
    assert ExitPlan.from_settings({}).empty and ExitPlan.from_settings(None).empty


@pytest.mark.parametrize(("settings", "message"), [
    ({"trailing_stop": {"pips": -1}}, "settings.trailing_stop.pips must be"),
    ({"trailing_stop": {"pips": 10, "stepp_pips": 2}}, "settings.trailing_stop.stepp_pips is not allowed"),
    ({"breakeven": {"offset_pips": 1}}, "settings.breakeven"),
    ({"partial_exits": [{"at_pips": 20, "at_r": 1, "close_pct": 50}]}, "settings.partial_exits[0]"),
    ({"partial_exits": [{"at_pips": 20, "close_pct": 100}]}, "settings.partial_exits[0].close_pct"),
    ({"time_exit": {"at_time": "25:00"}}, "settings.time_exit.at_time must be a time of day"),
    ({"time_exit": {}}, "settings.time_exit"),
    ({"time_exit": {"max_bars": True}}, "settings.time_exit.max_bars"),
    ([], "settings must be a map"),
])
def test_bad_settings_raise_value_error_naming_the_field(settings, message):
    with pytest.raises(ValueError) as error:
        ExitPlan.from_settings(settings)
    assert message in str(error.value)


def test_an_empty_plan_does_nothing():
    run = Run({}, position())
    assert run.tick(bid=1.11000, bar=True) == [] and run.tick(bid=1.09000) == []


def test_state_of_another_ticket_is_refused():
    run = Run({}, position(ticket=7))
    with pytest.raises(ValueError, match="position 8"):
        decide(run.plan, run.state, (T0, 1.1, 1.1001), EURUSD, position(ticket=8), T0)


# ----------------------------------------------------------------------- partials ---
def test_partial_at_pips_keeps_the_rest_and_moves_to_breakeven():
    run = Run({"partial_exits": [{"at_pips": 20, "close_pct": 50, "move_to_breakeven": True}]}, position())
    assert run.tick(bid=1.10199) == []  # 19.9 pips
    actions = run.tick(bid=1.10200)  # 20 pips: half of 0.10, SL to the entry
    assert [type(a) for a in actions] == [PartialClose, ModifyStops]
    assert actions[0].ticket == 7 and actions[0].volume == 0.05 and "partial exit 1 at 20 pips" in actions[0].reason
    assert actions[1].sl == 1.10000 and actions[1].tp == 0.0 and actions[1].reason == "breakeven"
    assert run.pos["volume"] == 0.05 and run.state.partials_done == (0,)
    assert run.tick(bid=1.10300) == []  # done once


def test_move_to_breakeven_uses_the_breakeven_offset():
    run = Run({"partial_exits": [{"at_pips": 20, "close_pct": 50, "move_to_breakeven": True}],
               "breakeven": {"trigger_pips": 30, "offset_pips": 1}}, position())
    actions = run.tick(bid=1.10200)  # before the breakeven trigger, thanks to the partial
    assert actions[1] == ModifyStops(ticket=7, sl=1.10010, tp=0.0, reason="breakeven + 1 pips")


def test_partials_at_r_multiples():
    # R = 1.10000 - 1.09800 = 20 pips: 1.5 R at 1.10300, 3 R at 1.10600.
    run = Run({"partial_exits": [{"at_r": 1.5, "close_pct": 25}, {"at_r": 3, "close_pct": 50}]},
              position(volume=0.20))
    assert run.tick(bid=1.10299) == []
    assert run.tick(bid=1.10300) == [PartialClose(ticket=7, volume=0.05,
                                                  reason="partial exit 1 at 1.5 R: 25% of 0.2 lots")]
    assert run.tick(bid=1.10599) == []
    assert [a.volume for a in run.tick(bid=1.10600)] == [0.10]  # 50 % of the ORIGINAL 0.20
    assert run.pos["volume"] == 0.05


def test_partial_at_r_on_a_short_judged_on_the_ask():
    # Short at 1.10000, SL 1.10200: R = 20 pips, 1 R at ask 1.09800 (the bid is lower still).
    run = Run({"partial_exits": [{"at_r": 1, "close_pct": 50}]}, position(type=SELL, sl=1.10200))
    assert run.tick(ask=1.09801, bid=1.09700) == []
    assert [a.volume for a in run.tick(ask=1.09800)] == [0.05]


def test_at_r_never_fires_without_an_initial_stop():
    run = Run({"partial_exits": [{"at_r": 1, "close_pct": 50}]}, position(sl=0.0))
    assert run.tick(bid=1.20000) == []


def test_partial_volume_rounds_down_to_the_step():
    run = Run({"partial_exits": [{"at_pips": 10, "close_pct": 50}]}, position(volume=0.03))
    assert [a.volume for a in run.tick(bid=1.10100)] == [0.01]  # 0.015 -> 0.01
    assert run.pos["volume"] == 0.02


def test_partial_below_the_minimum_is_skipped_but_still_moves_to_breakeven():
    run = Run({"partial_exits": [{"at_pips": 10, "close_pct": 50, "move_to_breakeven": True}]},
              position(volume=0.01))
    assert run.tick(bid=1.10100) == [ModifyStops(ticket=7, sl=1.10000, tp=0.0, reason="breakeven")]  # 0.005 -> 0
    assert run.pos["volume"] == 0.01 and run.state.partials_done == (0,)


def test_partial_that_would_leave_less_than_the_minimum_closes_all():
    symbol = {**EURUSD, "volume_min": 0.10}
    run = Run({"partial_exits": [{"at_pips": 10, "close_pct": 70}]}, position(volume=0.25), symbol)
    [action] = run.tick(bid=1.10100)  # 0.175 -> 0.17 would leave 0.08 < 0.10
    assert isinstance(action, ClosePosition) and "below the minimum of 0.1 lots" in action.reason
    assert run.tick(bid=1.10200) == []  # closing: nothing more


def test_two_halves_close_the_whole_position_at_the_second():
    symbol = {**EURUSD, "volume_min": 0.10}
    run = Run({"partial_exits": [{"at_pips": 10, "close_pct": 50}, {"at_pips": 20, "close_pct": 50}]},
              position(volume=0.30), symbol)
    assert run.tick(bid=1.10100) == [PartialClose(ticket=7, volume=0.15,
                                                  reason="partial exit 1 at 10 pips: 50% of 0.3 lots")]
    [action] = run.tick(bid=1.10200)
    assert isinstance(action, ClosePosition)


# ---------------------------------------------------------------------- breakeven ---
def test_breakeven_long_trigger_and_offset():
    run = Run({"breakeven": {"trigger_pips": 10, "offset_pips": 2}}, position(tp=1.10500))
    assert run.tick(bid=1.10099) == []
    assert run.tick(bid=1.10100) == [ModifyStops(ticket=7, sl=1.10020, tp=1.10500, reason="breakeven + 2 pips")]
    assert run.state.breakeven_done
    assert run.tick(bid=1.10300) == [] and run.tick(bid=1.10050) == []


def test_breakeven_short_trigger_and_offset():
    run = Run({"breakeven": {"trigger_pips": 10, "offset_pips": 2}}, position(type=SELL, sl=1.10200))
    assert run.tick(ask=1.09901) == []
    assert run.tick(ask=1.09900) == [ModifyStops(ticket=7, sl=1.09980, tp=0.0, reason="breakeven + 2 pips")]


def test_breakeven_never_loosens_a_tighter_stop():
    run = Run({"breakeven": {"trigger_pips": 10}}, position(sl=1.10050))
    assert run.tick(bid=1.10200) == [] and run.state.breakeven_done


# ------------------------------------------------------------------ trailing stop ---
def test_trailing_stop_follows_a_rising_price_in_steps_and_never_moves_back():
    # Trail 15 pips once 10 pips up, in steps of at least 5 pips.
    run = Run({"trailing_stop": {"pips": 15, "start_pips": 10, "step_pips": 5}}, position())
    assert run.tick(bid=1.10090) == []  # 9 pips: not started
    assert run.sl_moves([1.10100]) == [1.09950]  # 1.10100 - 15 pips
    assert run.sl_moves([1.10130]) == []  # 1.09980 would improve by 3 pips only
    assert run.sl_moves([1.10150]) == [1.10000]  # 5 pips better
    assert run.sl_moves([1.10120, 1.10000, 1.10140]) == []  # falls, then back below the best
    assert run.sl_moves([1.10210]) == [1.10060]  # best 1.10210: 6 pips better
    assert run.sl_moves([1.10100, 1.10070]) == []
    assert run.pos["sl"] == 1.10060


def test_trailing_stop_on_a_short():
    # USDJPY: a pip is 0.01. Trail 20 pips from the lowest ask; any improvement counts.
    run = Run({"trailing_stop": {"pips": 20}}, position(type=SELL, price_open=150.000, sl=150.300), USDJPY)
    assert run.sl_moves([149.950, 149.900, 149.960, 149.899, 150.050], side="ask") == [150.150, 150.100, 150.099]


def test_trailing_stop_never_reaches_the_price():
    run = Run({"trailing_stop": {"pips": 0.05}}, position())  # half a point behind the bid
    assert run.sl_moves([1.10100]) == [1.10099]  # at least one point below the bid


# --------------------------------------------------------- stops and freeze level ---
def test_stops_level_clamps_the_trailing_stop():
    symbol = {**EURUSD, "trade_stops_level": 200}  # 20 pips
    run = Run({"trailing_stop": {"pips": 10}}, position(sl=1.09700), symbol)
    [action] = run.tick(bid=1.10100)  # wants 1.10000; the nearest allowed is 1.10100 - 20 pips
    assert action.sl == 1.09900 and "clamped" in action.reason


def test_stops_level_clamps_a_short():
    symbol = {**EURUSD, "trade_stops_level": 200}
    run = Run({"trailing_stop": {"pips": 10}}, position(type=SELL, sl=1.10300), symbol)
    assert run.sl_moves([1.09900], side="ask") == [1.10100]  # wants 1.10000; ask + 20 pips


def test_stops_level_makes_breakeven_wait():
    symbol = {**EURUSD, "trade_stops_level": 200}
    run = Run({"breakeven": {"trigger_pips": 10}}, position(), symbol)
    assert run.tick(bid=1.10100) == []  # the entry is only 10 pips away
    assert run.tick(bid=1.10199) == []
    assert run.sl_moves([1.10200]) == [1.10000]  # exactly 20 pips: allowed


def test_a_take_profit_inside_the_stops_level_blocks_modifications():
    symbol = {**EURUSD, "trade_stops_level": 200}  # MT5 re-checks the TP sent with the new SL
    run = Run({"trailing_stop": {"pips": 10}}, position(sl=1.09700, tp=1.10350), symbol)
    assert run.tick(bid=1.10200) == []  # TP only 15 pips away
    assert run.sl_moves([1.10150]) == [1.09950]  # TP 20 pips away; 1.10100 clamped to bid - 20 pips


def test_freeze_level_blocks_then_the_move_is_made_once_it_lifts():
    symbol = {**EURUSD, "trade_freeze_level": 50}  # 5 pips
    run = Run({"trailing_stop": {"pips": 10}}, position(tp=1.10300), symbol)
    assert run.tick(bid=1.10260) == []  # TP 4 pips away: frozen
    assert run.tick(bid=1.10250) == []  # 5 pips: still frozen
    assert run.sl_moves([1.10240]) == [1.10160]  # from the best bid seen, 1.10260


def test_freeze_level_near_the_stop_loss_of_a_short():
    symbol = {**EURUSD, "trade_freeze_level": 50}
    run = Run({"breakeven": {"trigger_pips": 10}}, position(type=SELL, sl=1.10040), symbol)
    run.state = run.state.seen(1.09800)  # it was 20 pips in profit
    assert run.tick(ask=1.10000) == []  # SL 4 pips above the ask
    assert run.tick(ask=1.09990) == []  # 5 pips: still frozen
    assert run.sl_moves([1.09980], side="ask") == [1.10000]


def test_freeze_level_defers_partials_and_time_exits():
    symbol = {**EURUSD, "trade_freeze_level": 50}
    run = Run({"partial_exits": [{"at_pips": 20, "close_pct": 50}], "time_exit": {"max_bars": 1}},
              position(tp=1.10300), symbol)
    assert run.tick(bid=1.10260) == [] and run.state.partials_done == ()
    assert [type(a) for a in run.tick(bid=1.10240)] == [PartialClose]
    assert run.tick(bid=1.10270, bar=True) == []  # due, but frozen
    assert [type(a) for a in run.tick(bid=1.10200)] == [ClosePosition]


# ---------------------------------------------------------------------- time exit ---
def test_time_exit_after_max_bars():
    run = Run({"time_exit": {"max_bars": 3}}, position())
    assert run.tick(bid=1.10010, bar=True) == [] and run.tick(bid=1.10020) == []
    assert run.tick(bid=1.10030, bar=True) == []
    assert run.tick(bid=1.10040, bar=True) == [ClosePosition(ticket=7, reason="time exit: 3 bars held (max_bars 3)")]
    assert run.tick(bid=1.10050, bar=True) == []  # once


def _server_ms(day: int, hour: int, minute: int) -> int:
    return int(datetime(2024, 3, day, hour, minute, tzinfo=timezone.utc).timestamp() * 1000)


def test_time_exit_at_a_time_of_day():
    run = Run({"time_exit": {"at_time": "21:00"}}, position(), opened_ms=_server_ms(1, 20, 30))
    assert run.tick(bid=1.1, now=_server_ms(1, 21, 0) - 1) == []
    assert run.tick(bid=1.1, now=_server_ms(1, 21, 0)) == [ClosePosition(ticket=7, reason="time exit: at_time 21:00")]


def test_time_exit_at_a_time_of_day_already_past_waits_for_the_next_day():
    run = Run({"time_exit": {"at_time": "21:00"}}, position(), opened_ms=_server_ms(1, 21, 30))
    assert run.tick(bid=1.1, now=_server_ms(1, 23, 59)) == []
    assert run.tick(bid=1.1, now=_server_ms(2, 20, 59)) == []
    assert [type(a) for a in run.tick(bid=1.1, now=_server_ms(2, 21, 0))] == [ClosePosition]


def test_time_exit_comes_before_everything_else():
    run = Run({"time_exit": {"max_bars": 1}, "partial_exits": [{"at_pips": 10, "close_pct": 50}],
               "trailing_stop": {"pips": 10}}, position())
    assert [type(a) for a in run.tick(bid=1.10200, bar=True)] == [ClosePosition]


# ---------------------------------------------------------- several rules at once ---
def test_several_actions_on_one_tick_and_a_single_tightest_stop():
    # A gap to +30 pips: the partial, its breakeven (1.10000) and the trailing stop (1.10150)
    # all fire; one ModifyStops with the tightest SL.
    run = Run({"partial_exits": [{"at_pips": 20, "close_pct": 50, "move_to_breakeven": True}],
               "trailing_stop": {"pips": 15, "start_pips": 10}}, position(tp=1.10800))
    actions = run.tick(bid=1.10300)
    assert actions == [PartialClose(ticket=7, volume=0.05, reason="partial exit 1 at 20 pips: 50% of 0.1 lots"),
                       ModifyStops(ticket=7, sl=1.10150, tp=1.10800, reason="trailing stop 15 pips")]
    assert run.state.breakeven_done


def test_two_partials_on_one_tick():
    run = Run({"partial_exits": [{"at_pips": 10, "close_pct": 30}, {"at_pips": 20, "close_pct": 30}]}, position())
    assert [a.volume for a in run.tick(bid=1.10200)] == [0.03, 0.03]
    assert run.pos["volume"] == 0.04


def test_breakeven_wins_over_a_looser_trailing_stop():
    run = Run({"breakeven": {"trigger_pips": 10, "offset_pips": 1}, "trailing_stop": {"pips": 20}}, position())
    assert run.tick(bid=1.10100) == [ModifyStops(ticket=7, sl=1.10010, tp=0.0, reason="breakeven + 1 pips")]


# -------------------------------------------------------------------- idempotency ---
def test_the_same_quote_twice_asks_once_even_before_the_terminal_catches_up():
    run = Run({"partial_exits": [{"at_pips": 20, "close_pct": 50}], "breakeven": {"trigger_pips": 10},
               "trailing_stop": {"pips": 10}}, position())
    first = run.tick(bid=1.10200, apply=False)
    assert [type(a) for a in first] == [PartialClose, ModifyStops] and first[1].sl == 1.10100
    assert run.tick(bid=1.10200, apply=False) == []  # the terminal still shows 0.10 lots and SL 1.09800
    assert run.tick(bid=1.10200) == []
    assert run.sl_moves([1.10210]) == [1.10110]  # a new high still trails


def test_a_refused_modification_is_asked_again():
    run = Run({"breakeven": {"trigger_pips": 10}}, position())
    [modify] = run.tick(bid=1.10100, apply=False)
    run.state = run.state.after_failure(modify)
    assert run.tick(bid=1.10100, apply=False) == [modify]


def test_a_refused_close_is_asked_again():
    run = Run({"time_exit": {"max_bars": 1}}, position())
    [close] = run.tick(bid=1.1, bar=True)
    assert run.tick(bid=1.1) == []
    run.state = run.state.after_failure(close)
    assert run.tick(bid=1.1) == [close]


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("side", [BUY, SELL])
def test_random_walks_never_loosen_or_cross_the_price(seed, side):
    import random
    rng = random.Random(seed)
    symbol = {**EURUSD, "trade_stops_level": rng.choice([0, 30, 150]), "trade_freeze_level": rng.choice([0, 20])}
    sign = 1 if side == BUY else -1
    run = Run({"breakeven": {"trigger_pips": 8, "offset_pips": 1}, "trailing_stop": {"pips": 12, "step_pips": 2},
               "partial_exits": [{"at_pips": 15, "close_pct": 40, "move_to_breakeven": True}]},
              position(type=side, sl=round(1.10000 - sign * 0.00300, 5)), symbol)
    bid, last_sl = 1.10000, run.pos["sl"]
    for _ in range(400):
        bid = round(bid + rng.choice([-3, -2, -1, 0, 1, 2, 3, 4]) * sign * 0.00001, 5)
        for action in run.tick(bid=bid):
            if isinstance(action, ModifyStops):
                price = bid if side == BUY else bid + SPREAD
                assert sign * (action.sl - last_sl) > 0  # tighter only
                assert sign * (price - action.sl) >= max(symbol["trade_stops_level"], 1) * 0.00001 - 1e-9
                last_sl = action.sl
    assert run.pos["volume"] == (0.06 if run.state.partials_done == (0,) else 0.10)  # 40 % of 0.10, once
