"""The shape check of EA messages (bridge/shapes): what the simulator (the EA's twin) sends
passes, each kind of garbage is refused with a line naming the spot, and no msgpack value at
all makes the check raise (Hypothesis)."""

from __future__ import annotations

import copy
import math
from datetime import datetime, timezone
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge import mt5, protocol
from bridge.candles import CandleBuilder
from bridge.shapes.messages import CTL, CTL_MESSAGES, MD, MD_MESSAGES, REPLIES, UNKNOWN, check_message, kind_of
from bridge.shapes.refusals import Refusals
from bridge.shapes.rules import MAX_TIME_MS, MIN_TIME_MS, PRICE, TIME_MS, Bad, Num
from bridge.sim.calendar import CalendarEvent, SimCalendar
from bridge.sim.clock import ManualClock
from bridge.sim.events import TradeEvents
from bridge.sim.market import tick_columns
from bridge.sim.requests import dispatch, to_wire
from bridge.sim.terminal import SimTerminal

pytestmark = pytest.mark.timeout(120)

LOGIN = 5_000_001
T0 = int(datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc).timestamp() * 1000)  # a Tuesday
EA = protocol.Envelope(boot="b00t", term=LOGIN)


def _simulated() -> tuple[SimTerminal, dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """A simulated terminal (never started) with quotes, a position, a pending order and a
    calendar event; the reply it gives to every request type, and every event it sends."""
    sim = SimTerminal(login=LOGIN, clock=ManualClock(T0), history_minutes=30, calendar=SimCalendar(
        [CalendarEvent(time_ms=T0 + 3_600_000, currency="USD", importance=3, name="Payrolls", country="US")]))
    for step in range(1, 40):
        sim.clock.advance(1500)
        for name, spec in sim.symbols.items():
            bid = spec.sim_start_price + (step % 5) * spec.point
            sim.server.on_quote(name, sim.clock.now_ms(), bid, bid + 10 * spec.point)
            sim.market.on_tick(name, sim.clock.now_ms(), bid, bid + 10 * spec.point)
    ask = sim.server.symbol_info_tick("EURUSD")["ask"]
    trade = {"action": mt5.TRADE_ACTION_DEAL, "symbol": "EURUSD", "volume": 0.1, "type": mt5.ORDER_TYPE_BUY,
             "price": ask, "deviation": 20, "magic": 42, "comment": "cid", "type_filling": mt5.ORDER_FILLING_FOK}
    pending = {"action": mt5.TRADE_ACTION_PENDING, "symbol": "EURUSD", "volume": 0.1,
               "type": mt5.ORDER_TYPE_BUY_LIMIT, "price": round(ask - 0.005, 5), "type_filling": mt5.ORDER_FILLING_FOK,
               "type_time": mt5.ORDER_TIME_GTC}
    requests = {
        protocol.ACCOUNT_INFO: {}, protocol.TERMINAL_INFO: {}, protocol.SYMBOLS_GET: {},
        protocol.SYMBOL_INFO: {"symbol": "EURUSD"}, protocol.SYMBOL_INFO_TICK: {"symbol": "EURUSD"},
        protocol.COPY_RATES_FROM_POS: {"symbol": "EURUSD", "timeframe": "M1", "start_pos": 0, "count": 20},
        protocol.COPY_TICKS_FROM: {"symbol": "EURUSD", "date_from": T0, "count": 100},
        protocol.ORDER_CALC_MARGIN: {"action": mt5.ORDER_TYPE_BUY, "symbol": "EURUSD", "volume": 1.0, "price": ask},
        protocol.ORDER_CALC_PROFIT: {"action": mt5.ORDER_TYPE_BUY, "symbol": "EURUSD", "volume": 1.0,
                                     "price_open": ask, "price_close": ask - 0.001},
        protocol.ORDER_CHECK: {"request": trade}, protocol.ORDER_SEND: {"request": trade},
        protocol.POSITIONS_GET: {}, protocol.ORDERS_GET: {}, protocol.HISTORY_DEALS_GET: {},
        protocol.HISTORY_ORDERS_GET: {}, protocol.SUBSCRIBE: {"symbols": ["EURUSD"], "timeframes": ["M1"]},
        protocol.SYMBOL_SESSIONS: {"symbols": ["EURUSD", "XAUUSD"]},
        protocol.CALENDAR: {"date_from": T0, "date_to": T0 + 86_400_000},
    }
    replies = {}
    for kind, fields in requests.items():
        if kind == protocol.ORDERS_GET:
            dispatch(sim.requests, EA.message(protocol.ORDER_SEND, request=pending))
        replies[kind] = EA.reply({"type": kind, "id": f"r-{kind}"}, dispatch(sim.requests, EA.message(kind, **fields)))
    replies[protocol.PING] = EA.reply({"type": protocol.PING, "id": "p1"}, {"ts": T0, "server_time": T0})
    replies[protocol.HELLO_ACK] = EA.reply({"type": protocol.HELLO_ACK, "id": "h1"}, {})
    events = {}
    for kind, fields in TradeEvents(sim.server).collect(0.0, snapshots=True):
        events.setdefault(kind, EA.message(kind, id="ev", **to_wire(fields)))
    terminal = {"build": 4755, "connected": True, "trade_allowed": True, "name": "Sim"}
    events[protocol.HELLO] = EA.message(protocol.HELLO, id="ev", terminal=terminal,
                                        account=to_wire(sim.server.account_info()), server_time=T0, tz_offset_s=7200,
                                        symbols=sorted(sim.symbols))
    events[protocol.TERMINAL_STATUS] = EA.message(protocol.TERMINAL_STATUS, connected=True, trade_allowed=False)
    events[protocol.LOG] = EA.message(protocol.LOG, level="info", text="hello from the EA")
    market = {
        protocol.TICK: EA.message(protocol.TICK, seq_key="tick.EURUSD", symbol="EURUSD",
                                  **tick_columns([T0, T0 + 5], [1.1, 1.1001], [1.1002, 1.1003], [6, 2])),
        protocol.BAR: EA.message(protocol.BAR, symbol="EURUSD", timeframe="M1", closed=True, time=T0, open=1.1,
                                 high=1.2, low=1.0, close=1.15, tick_volume=12, spread=10, real_volume=0.0),
        protocol.HB: EA.message(protocol.HB, seq_key="hb", server_time=T0),
    }
    return replies, events, market


REPLY_SAMPLES, EVENT_SAMPLES, MD_SAMPLES = _simulated()
# A valid message of every kind, as its channel and the message.
ALL_SAMPLES = ([(CTL, m) for m in REPLY_SAMPLES.values()] + [(CTL, m) for m in EVENT_SAMPLES.values()]
               + [(MD, m) for m in MD_SAMPLES.values()])


def test_the_samples_cover_every_shape_and_hold_real_data():
    assert set(REPLY_SAMPLES) == set(REPLIES) - {"copy_rates_range"}
    assert set(EVENT_SAMPLES) == set(CTL_MESSAGES) - {protocol.HB}  # hb travels on MD
    assert set(MD_SAMPLES) == set(MD_MESSAGES)
    assert REPLY_SAMPLES[protocol.POSITIONS_GET]["data"] and REPLY_SAMPLES[protocol.ORDERS_GET]["data"]
    assert REPLY_SAMPLES[protocol.HISTORY_DEALS_GET]["data"] and REPLY_SAMPLES[protocol.CALENDAR]["data"]
    assert len(REPLY_SAMPLES[protocol.COPY_RATES_FROM_POS]["data"]["time"]) == 20


@pytest.mark.parametrize("channel, message", ALL_SAMPLES, ids=lambda v: v if isinstance(v, str) else v["type"])
def test_what_the_simulated_ea_sends_passes(channel, message):
    assert check_message(message, channel) is None
    assert check_message(msgpack.unpackb(protocol.pack(message)), channel) is None  # also as it arrives
    assert kind_of(message) == message["type"]


def reply(kind: str, data: Any) -> dict[str, Any]:
    return EA.reply({"type": kind, "id": "r1"}, data)


def rates_rows() -> list[dict]:
    columns = REPLY_SAMPLES[protocol.COPY_RATES_FROM_POS]["data"]
    return [dict(zip(columns, row)) for row in zip(*columns.values())]


def with_(message: dict, path: tuple, value: Any) -> dict:
    changed = copy.deepcopy(message)
    target = changed
    for step in path[:-1]:
        target = target[step]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return changed


DELETE = object()
R, E = REPLY_SAMPLES, EVENT_SAMPLES
GARBAGE = [  # (what, channel, message, words the refusal must say)
    ("rates as rows", CTL, reply(protocol.COPY_RATES_FROM_POS, rates_rows()), "data: expected a map of columns"),
    ("rates ragged", CTL, with_(R[protocol.COPY_RATES_FROM_POS], ("data", "close"), [1.1]), "ragged columns"),
    ("rates missing a column", CTL, with_(R[protocol.COPY_RATES_FROM_POS], ("data", "open"), DELETE), "open"),
    ("a NaN close", CTL, with_(R[protocol.COPY_RATES_FROM_POS], ("data", "close", 3), math.nan), "data.close[3]"),
    ("time in seconds", CTL, with_(R[protocol.COPY_RATES_FROM_POS], ("data", "time", 0), T0 // 1000), "2000"),
    ("ticks as rows", CTL, reply(protocol.COPY_TICKS_FROM, [{"time_msc": T0, "bid": 1.1, "ask": 1.2}]), "columns"),
    ("an infinite ask", MD, with_(MD_SAMPLES[protocol.TICK], ("ask", 1), math.inf), "ask[1]"),
    ("a negative bid", MD, with_(MD_SAMPLES[protocol.TICK], ("bid", 0), -1.1), "bid[0]"),
    ("a string for a volume", CTL, with_(R[protocol.POSITIONS_GET], ("data", 0, "volume"), "0.1"), "data[0].volume"),
    ("a float ticket", CTL, with_(R[protocol.POSITIONS_GET], ("data", 0, "ticket"), 3.0), "ticket"),
    ("a bool price", CTL, with_(R[protocol.ORDER_SEND], ("data", "price"), True), "data.price"),
    ("a huge volume", CTL, with_(R[protocol.ORDER_SEND], ("data", "volume"), 1e300), "data.volume"),
    ("a ticket beyond uint64", CTL, with_(R[protocol.ORDER_SEND], ("data", "order"), -5), "data.order"),
    ("an order_send without retcode", CTL, with_(R[protocol.ORDER_SEND], ("data", "retcode"), DELETE), "retcode"),
    ("nested garbage", CTL, with_(R[protocol.ACCOUNT_INFO], ("data", "currency"), {"a": [[{}]]}), "data.currency"),
    ("a symbol with no step", CTL, with_(R[protocol.SYMBOLS_GET], ("data", 1, "volume_step"), 0.0), "volume_step"),
    ("deals as a map", CTL, reply(protocol.HISTORY_DEALS_GET, {"ticket": 1}), "expected a list"),
    ("a session of 30 hours", CTL, reply(protocol.SYMBOL_SESSIONS, {"EURUSD": [[1, 0, 200_000]]}), "EURUSD[0][2]"),
    ("a calendar event without time", CTL, with_(R[protocol.CALENDAR], ("data", 0, "time"), DELETE), "time"),
    ("a pong without server time", CTL, reply(protocol.PING, {"ts": 1}), "server_time"),
    ("ok without data", CTL, with_(R[protocol.ACCOUNT_INFO], ("data",), DELETE), "missing 'data'"),
    ("an error that is text", CTL, {**EA.error({"type": "orders_get", "id": "x"}, -1, "x"), "error": "bad"},
     "[code, text]"),
    ("ok that is not a bool", CTL, with_(R[protocol.ORDERS_GET], ("ok",), 1), "ok"),
    ("a reply to no request", CTL, reply("format_disk", {}), "not a request"),
    ("an unknown event", CTL, EA.message("surprise", payload=[1, 2]), "unknown message type 'surprise'"),
    ("a reply on MD", MD, R[protocol.PING], "market data channel"),
    ("a hello without symbols", CTL, with_(E[protocol.HELLO], ("symbols",), DELETE), "symbols"),
    ("positions not a list", CTL, with_(E[protocol.POSITIONS], ("positions",), {"1": {}}), "positions"),
    ("a transaction without type", CTL, with_(E[protocol.TRADE_TRANSACTION], ("trans", "type"), DELETE), "trans"),
    ("an account with NaN equity", CTL, with_(E[protocol.ACCOUNT], ("account", "equity"), math.nan), "equity"),
    ("a terminal status of strings", CTL, with_(E[protocol.TERMINAL_STATUS], ("connected",), "yes"), "connected"),
    ("no envelope", CTL, {"type": "hb", "server_time": T0}, "missing 'v'"),
    ("a text login", MD, with_(MD_SAMPLES[protocol.HB], ("term",), "5000001"), "term"),
    ("a bar with a zero low", MD, with_(MD_SAMPLES[protocol.BAR], ("low",), 0.0), "low"),
    ("not a map", CTL, [1, 2, 3], "expected a map"),
]


@pytest.mark.parametrize("what, channel, message, words", GARBAGE, ids=[g[0] for g in GARBAGE])
def test_garbage_is_refused_with_one_line_naming_the_spot(what, channel, message, words):
    why = check_message(message, channel)
    assert why is not None and words in why and "\n" not in why, why


def test_unknown_types_count_under_one_kind():
    assert kind_of(EA.message("surprise")) == kind_of({"type": 7}) == kind_of(None) == UNKNOWN
    assert kind_of(R[protocol.ORDER_SEND]) == protocol.ORDER_SEND


def test_ticks_may_lack_a_side_as_in_mt5_but_a_bar_may_not():
    one_sided = with_(MD_SAMPLES[protocol.TICK], ("bid", 0), 0.0)  # an exchange symbol's trade tick
    assert check_message(one_sided, MD) is None


def test_unset_times_are_zero_as_in_mt5():
    pending = with_(R[protocol.ORDERS_GET], ("data", 0, "time_done_msc"), 0)
    assert check_message(pending, CTL) is None
    assert "time_setup_msc" in check_message(with_(pending, ("data", 0, "time_setup_msc"), 0), CTL)


# --- Hypothesis: nothing makes the check raise ---
INTS = st.integers(min_value=-(2**63), max_value=2**64 - 1)
SCALARS = st.none() | st.booleans() | INTS | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20) \
    | st.binary(max_size=20)
MSGPACK = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=5)
                       | st.dictionaries(st.text(max_size=12), inner, max_size=5), max_leaves=30)
KEYS = st.sampled_from(sorted({*protocol.ENVELOPE_KEYS, "ok", "data", "error", "time", "time_msc", "bid", "ask",
                               "close", "ticket", "volume", "positions", "trans", "account", "symbols"}))


@st.composite
def mutated(draw) -> tuple[str, Any]:
    """A valid sample with one value somewhere in it replaced by an arbitrary msgpack value."""
    channel, message = draw(st.sampled_from(ALL_SAMPLES))
    message = copy.deepcopy(message)
    target: Any = message
    for _ in range(draw(st.integers(0, 3))):
        children = list(target) if isinstance(target, dict) else range(len(target)) if isinstance(target, list) else []
        if not children:
            break
        step = draw(st.sampled_from(list(children)))
        if not isinstance(target[step], (dict, list)) or not target[step]:
            break
        target = target[step]
    if isinstance(target, dict):
        target[draw(KEYS | st.sampled_from(sorted(target)))] = draw(MSGPACK)
    elif isinstance(target, list) and target:
        target[draw(st.integers(0, len(target) - 1))] = draw(MSGPACK)
    return channel, message


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([CTL, MD]), MSGPACK)
def test_any_msgpack_value_is_accepted_or_refused_never_raised(channel, value):
    why = check_message(value, channel)
    assert why is None or (isinstance(why, str) and why)
    assert isinstance(kind_of(value), str)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_a_message_with_any_value_anywhere_is_accepted_or_refused_never_raised(sample):
    channel, message = sample
    why = check_message(message, channel)
    assert why is None or (isinstance(why, str) and why and "\n" not in why)


NEAR_MISSES = MSGPACK | st.floats(-1.0, 2e12) | st.integers(MIN_TIME_MS - 10, MAX_TIME_MS + 10)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["time", "open", "high", "low", "close", "tick_volume", "spread", "real_volume"]),
       st.integers(0, 19), NEAR_MISSES)
def test_rates_that_pass_can_be_built_into_bars(column, row, value):
    message = with_(R[protocol.COPY_RATES_FROM_POS], ("data", column, row), value)
    if check_message(message, CTL) is None:
        assert CandleBuilder("M1", 7200, 100, 0.00001).seed(message["data"]) > 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.none() | st.booleans() | INTS | st.floats() | st.text(max_size=3), max_size=8),
       st.sampled_from([PRICE, TIME_MS, Num(-5, 5), Num(0, 10, integral=True, zero=True)]))
def test_a_column_is_refused_exactly_when_one_of_its_values_is(values, num):
    def refused(check, value) -> bool:
        try:
            check(value)
        except Bad:
            return True
        return False
    assert refused(num.column, values) == any(refused(num, v) for v in values)


def test_refusals_are_counted_all_and_said_once_per_interval():
    refusals = Refusals(log_every_s=10.0)
    assert refusals.refuse(1, "tick", 0.0) == 0  # the first is said
    assert [refusals.refuse(1, "tick", t) for t in (1.0, 2.0, 9.9)] == [None, None, None]
    assert refusals.refuse(1, "ping", 3.0) == 0  # another kind has its own line
    assert refusals.refuse(1, "tick", 10.5) == 3  # said again, with the three unsaid
    assert refusals.refuse(2, "tick", 10.6) == 0
    assert (refusals.total(1), refusals.total(2), refusals.total()) == (6, 1, 7)
    assert refusals.by_kind(1) == {"ping": 1, "tick": 5}
