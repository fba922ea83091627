"""The price source towards a real EA: the pure session (bridge/sim/ea_price_session.py), then the
socket shell (bridge/sim/ea_prices.py) against a simulated terminal speaking the EA protocol."""

from __future__ import annotations

import math

import pytest

from bridge import mt5, protocol
from bridge.sim.ea_price_session import (
    BACKFILL_COUNT, HISTORY_TRIES, READ_ONLY_REQUESTS, NotAPriceRequest, PriceSession, check_read_only,
)
from bridge.sim.ea_prices import EaPriceSource
from bridge.sim.terminal import SimTerminal
from bridge.symbols import DEFAULT_SYMBOLS
from bridge.trade_server.server import TradeServer
from tests.conftest import free_endpoint, wait_for

LOGIN = 7_000_123
T0 = 1_795_000_000_000  # ms UTC
TRADING = frozenset({protocol.ORDER_SEND, protocol.ORDER_CHECK})


class FakeEa:
    """Messages as the EA writes them (envelope, replies, tick batches)."""

    def __init__(self, boot: str = "boot-1", login: int = LOGIN) -> None:
        self.boot, self.login = boot, login
        self.env = protocol.Envelope(boot=boot, term=login)
        server = TradeServer(login=login, symbols=DEFAULT_SYMBOLS)
        for name, spec in DEFAULT_SYMBOLS.items():
            server.on_quote(name, T0, spec.sim_start_price, spec.sim_start_price + 10 * spec.point)
        self.server = server

    def hello(self, symbols=("EURUSD", "USDJPY"), tz: int = 10_800) -> dict:
        return self.env.message(protocol.HELLO, id="ev-1",
                                terminal={"build": 4755, "connected": True, "trade_allowed": True},
                                account=self.server.account_info(), server_time=T0, tz_offset_s=tz,
                                symbols=list(symbols))

    def reply(self, request: dict, data) -> dict:
        return self.env.reply(request, data)

    def error(self, request: dict, text: str = "no") -> dict:
        return self.env.error(request, mt5.RES_E_FAIL, text)

    def ticks(self, symbol: str, seq: int, rows: list[tuple[int, float, float]]) -> dict:
        return {"v": 1, "type": protocol.TICK, "id": "", "seq": seq, "ts": 0, "boot": self.boot, "term": self.login,
                "symbol": symbol, "time_msc": [r[0] for r in rows], "bid": [r[1] for r in rows],
                "ask": [r[2] for r in rows], "last": [0.0] * len(rows), "volume_real": [0.0] * len(rows),
                "flags": [6] * len(rows)}

    def hb(self) -> dict:
        return self.env.message(protocol.HB, seq_key="hb", server_time=T0)


def rates(count: int, start_ms: int = T0 - 3_600_000) -> dict:
    return {"time": [start_ms + 60_000 * i for i in range(count)], "open": [1.08] * count,
            "high": [1.081] * count, "low": [1.079] * count, "close": [1.0805] * count,
            "tick_volume": [30] * count, "spread": [10] * count, "real_volume": [0] * count}


def answer(session: PriceSession, ea: FakeEa, now: float, respond) -> list[dict]:
    """Answer every request the session has queued with `respond(request)`; returns them."""
    requests = session.take_outbound()
    for request in requests:
        reply = respond(request)
        if reply is not None:
            session.on_ctl(ea.login, reply, now)
    return requests


def standard(ea: FakeEa):
    def respond(request: dict):
        match request["type"]:
            case protocol.SYMBOLS_GET:
                names = request["group"].split(",")
                return ea.reply(request, [ea.server.symbol_info(n) for n in names])
            case protocol.SYMBOL_INFO:
                return ea.reply(request, ea.server.symbol_info(request["symbol"]))
            case protocol.COPY_RATES_FROM_POS:
                return ea.reply(request, rates(5))
            case protocol.SYMBOL_SESSIONS:
                return ea.reply(request, {n: [[d, 0, 86_400] for d in range(7)] for n in request["symbols"]})
            case protocol.PING:
                return ea.reply(request, {"ts": T0, "server_time": T0})
            case _:
                return ea.reply(request, {})
    return respond


def ready_session(ea: FakeEa | None = None, **kw) -> tuple[PriceSession, FakeEa]:
    ea = ea or FakeEa()
    session = PriceSession(history_minutes=kw.pop("history_minutes", 4), **kw)
    session.on_ctl(ea.login, ea.hello(), 0.0)
    for _ in range(5):
        answer(session, ea, 0.0, standard(ea))
    assert session.ready
    return session, ea


def test_handshake_learns_symbols_history_sessions_then_subscribes():
    ea = FakeEa()
    session = PriceSession(history_minutes=4)
    session.on_ctl(LOGIN, ea.hello(), 0.0)
    first = session.take_outbound()
    assert [m["type"] for m in first] == [protocol.HELLO_ACK, protocol.SYMBOLS_GET]
    assert first[1]["group"] == "EURUSD,USDJPY" and all(m["term"] == LOGIN for m in first)
    session.on_ctl(LOGIN, ea.reply(first[1], [ea.server.symbol_info("EURUSD"), ea.server.symbol_info("USDJPY")]), 0.0)
    history = session.take_outbound()
    assert [(m["type"], m["symbol"], m["timeframe"], m["start_pos"], m["count"]) for m in history] == [
        (protocol.COPY_RATES_FROM_POS, "EURUSD", "M1", 0, 5), (protocol.COPY_RATES_FROM_POS, "USDJPY", "M1", 0, 5)]
    for request in history:
        session.on_ctl(LOGIN, ea.reply(request, rates(5)), 0.0)
    [sessions] = session.take_outbound()
    assert sessions["type"] == protocol.SYMBOL_SESSIONS and sessions["symbols"] == ["EURUSD", "USDJPY"]
    assert not session.ready  # not before the sessions are known
    session.on_ctl(LOGIN, ea.reply(sessions, {"EURUSD": [[d, 0, 86_400] for d in range(1, 6)]}), 0.0)
    assert session.ready and session.tz_offset_s == 10_800 and session.login == LOGIN
    [subscribe] = session.take_outbound()
    assert subscribe["type"] == protocol.SUBSCRIBE and subscribe["symbols"] == ["EURUSD", "USDJPY"]
    assert subscribe["timeframes"] == ["M1"]
    eurusd = session.symbols["EURUSD"].spec
    assert eurusd.sessions_trade[0] == () and eurusd.sessions_trade[1] == ((0, 1440),)  # the broker's week
    assert session.symbols["USDJPY"].spec.digits == 3
    assert session.history["EURUSD"]["time"].tolist() == rates(5)["time"]
    assert session.history["EURUSD"]["close"].dtype.kind == "f"


def test_symbols_left_out_are_asked_one_by_one():
    ea = FakeEa()
    session = PriceSession(history_minutes=0)
    session.on_ctl(LOGIN, ea.hello(symbols=("EURUSD", "XAUUSD")), 0.0)
    _, symbols_get = session.take_outbound()
    session.on_ctl(LOGIN, ea.error(symbols_get, "reply too large for one frame"), 0.0)
    infos = session.take_outbound()
    assert sorted((m["type"], m["symbol"]) for m in infos) == [
        (protocol.SYMBOL_INFO, "EURUSD"), (protocol.SYMBOL_INFO, "XAUUSD")]
    for request in infos:
        session.on_ctl(LOGIN, ea.reply(request, ea.server.symbol_info(request["symbol"])), 0.0)
    answer(session, ea, 0.0, standard(ea))
    assert session.ready and set(session.symbols) == {"EURUSD", "XAUUSD"}
    assert session.history == {}


def test_history_still_loading_is_asked_again_then_the_symbol_starts_without():
    ea = FakeEa()
    session = PriceSession(history_minutes=4)
    session.on_ctl(LOGIN, ea.hello(symbols=("EURUSD",)), 0.0)
    answer(session, ea, 0.0, standard(ea))  # ack, symbols_get
    now, asked = 0.0, 0
    while not session.ready and now < 60:
        for request in session.take_outbound():
            if request["type"] == protocol.COPY_RATES_FROM_POS:
                asked += 1
                session.on_ctl(LOGIN, ea.error(request, "CopyRates failed; history may still be loading"), now)
            elif request["type"] != protocol.PING:
                session.on_ctl(LOGIN, standard(ea)(request), now)
        now += 0.5
        session.on_timer(now)
    assert session.ready and asked == HISTORY_TRIES
    assert len(session.history["EURUSD"]["time"]) == 0


def test_not_ready_answers_are_asked_again_with_backoff_until_answered():
    """A real EA answers NOT_READY while a symbol's history synchronises; it is not a failure."""
    ea = FakeEa()
    session = PriceSession(history_minutes=4)
    session.on_ctl(LOGIN, ea.hello(symbols=("EURUSD",)), 0.0)
    asked_at: list[float] = []

    def syncing(now: float):
        def respond(request: dict):
            if request["type"] == protocol.COPY_RATES_FROM_POS:
                asked_at.append(now)
                if len(asked_at) < 4:
                    return ea.env.error(request, protocol.NOT_READY, "EURUSD history is still synchronising; retry")
            return standard(ea)(request)
        return respond
    now = 0.0
    while not session.ready and now < 30:
        session.on_timer(now)
        answer(session, ea, now, syncing(now))
        now += 0.25
    assert session.ready and len(session.history["EURUSD"]["time"]) == 5
    assert [b - a for a, b in zip(asked_at, asked_at[1:])] == [1.0, 2.0, 4.0]  # backoff, then the answer


def test_an_ea_without_symbol_sessions_keeps_the_fixtures_sessions():
    ea = FakeEa()
    session = PriceSession(history_minutes=0)
    session.on_ctl(LOGIN, ea.hello(symbols=("EURUSD",)), 0.0)

    def old_ea(request):
        if request["type"] == protocol.SYMBOL_SESSIONS:
            return ea.env.error(request, mt5.RES_E_INVALID_PARAMS, "unknown request type")
        return standard(ea)(request)
    for _ in range(3):
        answer(session, ea, 0.0, old_ea)
    assert session.ready
    assert session.symbols["EURUSD"].spec.sessions_trade == DEFAULT_SYMBOLS["EURUSD"].sessions_trade


def test_what_breaks_the_protocol_is_refused_counted_and_fails_its_request_at_once():
    ea = FakeEa()
    session = PriceSession(history_minutes=4)
    session.on_ctl(LOGIN, ea.hello(symbols=("EURUSD",)), 0.0)
    _, symbols_get = session.take_outbound()
    session.on_ctl(LOGIN, ea.reply(symbols_get, [{"name": "EURUSD", "point": "0.00001"}]), 0.0)
    [info] = session.take_outbound()  # at once, not after a timeout: asked one by one
    assert (info["type"], info["symbol"]) == (protocol.SYMBOL_INFO, "EURUSD")
    session.on_ctl(LOGIN, ea.reply(info, ea.server.symbol_info("EURUSD")), 0.0)
    [history] = session.take_outbound()
    columns = rates(5)
    session.on_ctl(LOGIN, ea.reply(history, [dict(zip(columns, row)) for row in zip(*columns.values())]), 0.0)
    assert not session.take_outbound() and session.history == {}  # history is asked again a moment later
    session.on_timer(1.5)
    [again] = [m for m in session.take_outbound() if m["type"] == protocol.COPY_RATES_FROM_POS]
    session.on_ctl(LOGIN, {**ea.reply(again, rates(5)), "type": protocol.SYMBOL_INFO}, 1.5)  # not its answer
    session.on_timer(3.0)
    for _ in range(3):
        answer(session, ea, 3.0, standard(ea))
    assert session.ready and len(session.history["EURUSD"]["time"]) == 5
    session.on_md(ea.ticks("EURUSD", 1, [(T0 + 10, math.nan, 1.0803)]), 3.1)
    session.on_md({**ea.ticks("EURUSD", 2, [(T0 + 20, 1.0802, 1.0803)]), "ask": [1.08, 1.09]}, 3.2)  # ragged
    session.on_md(ea.ticks("EURUSD", 3, [(T0 + 30, 1.0802, 1.0803)]), 3.3)
    assert session.take_ticks() == [("EURUSD", T0 + 30, 1.0802, 1.0803)]
    assert session.refusals.by_kind(LOGIN) == {"copy_rates_from_pos": 1, "symbol_info": 1, "symbols_get": 1,
                                               "tick": 2}


def test_it_pings_every_second_and_can_send_nothing_that_trades():
    session, ea = ready_session()
    sent = []
    for step in range(1, 101):
        session.on_timer(step * 0.1)
        sent += answer(session, ea, step * 0.1, standard(ea))
    assert sum(m["type"] == protocol.PING for m in sent) == 10
    assert {m["type"] for m in sent} <= READ_ONLY_REQUESTS and not READ_ONLY_REQUESTS & TRADING
    for kind in TRADING:
        with pytest.raises(NotAPriceRequest):
            session._request(kind, "sneaky", 0.0, request={})
        with pytest.raises(NotAPriceRequest):
            check_read_only({"type": kind})


def test_ticks_flow_once_ready_and_never_run_backwards():
    ea = FakeEa()
    session = PriceSession(history_minutes=4)
    session.on_ctl(LOGIN, ea.hello(), 0.0)
    session.on_md(ea.ticks("EURUSD", 1, [(T0, 1.08, 1.0801)]), 0.0)  # before the history: in it already
    for _ in range(5):
        answer(session, ea, 0.0, standard(ea))
    session.on_md(ea.ticks("EURUSD", 2, [(T0 + 10, 1.0802, 1.0803), (T0 + 20, 0.0, 1.0804)]), 0.1)
    session.on_md(ea.ticks("USDJPY", 1, [(T0 + 15, 150.1, 150.11)]), 0.1)
    session.on_md(ea.ticks("GBPUSD", 1, [(T0 + 15, 1.27, 1.2701)]), 0.1)  # not one of ours
    session.on_md(ea.ticks("EURUSD", 3, [(T0 + 5, 1.09, 1.0901)]), 0.2)  # older than what was released
    assert session.take_ticks() == [("EURUSD", T0 + 10, 1.0802, 1.0803), ("USDJPY", T0 + 15, 150.1, 150.11)]


def test_a_seq_gap_is_backfilled_and_released_in_order():
    session, ea = ready_session()
    session.on_md(ea.ticks("EURUSD", 1, [(T0 + 100, 1.0800, 1.0801)]), 1.0)
    session.on_md(ea.ticks("EURUSD", 4, [(T0 + 400, 1.0804, 1.0805)]), 1.1)  # 2 and 3 were lost
    session.on_md(ea.ticks("EURUSD", 5, [(T0 + 500, 1.0805, 1.0806)]), 1.2)
    assert session.take_ticks() == [("EURUSD", T0 + 100, 1.08, 1.0801)]
    [backfill] = session.take_outbound()
    assert (backfill["type"], backfill["symbol"], backfill["date_from"], backfill["count"]) == (
        protocol.COPY_TICKS_FROM, "EURUSD", T0 + 101, BACKFILL_COUNT)
    missing = {"symbol": "EURUSD", "time_msc": [T0 + 200, T0 + 300, T0 + 400], "bid": [1.0802, 1.0803, 1.0804],
               "ask": [1.0803, 1.0804, 1.0805]}
    session.on_ctl(LOGIN, ea.reply(backfill, missing), 1.3)
    assert [t[1] for t in session.take_ticks()] == [T0 + 200, T0 + 300, T0 + 400, T0 + 500]
    assert session.gaps == 1


def test_a_backfill_that_never_comes_releases_the_held_ticks():
    session, ea = ready_session()
    session.on_md(ea.ticks("EURUSD", 1, [(T0 + 100, 1.08, 1.0801)]), 1.0)
    session.on_md(ea.ticks("EURUSD", 3, [(T0 + 300, 1.0803, 1.0804)]), 1.1)
    session.take_ticks()
    session.on_timer(10.0)
    assert session.take_ticks() == [("EURUSD", T0 + 300, 1.0803, 1.0804)]


def test_three_missed_heartbeats_make_prices_stale_until_market_data_returns():
    session, ea = ready_session()
    session.on_md(ea.hb(), 1.0)
    session.on_timer(3.9)
    assert not session.stale
    session.on_timer(4.1)
    assert session.stale
    session.on_md(ea.hb(), 5.0)
    session.on_timer(5.0)
    assert not session.stale


def test_a_new_ea_instance_backfills_what_the_outage_missed():
    session, ea = ready_session()
    session.on_md(ea.ticks("EURUSD", 7, [(T0 + 100, 1.08, 1.0801)]), 1.0)
    session.take_ticks()
    session.take_outbound()
    reborn = FakeEa(boot="boot-2")
    session.on_ctl(LOGIN, reborn.hello(), 9.0)
    assert [m["type"] for m in session.take_outbound()] == [protocol.HELLO_ACK, protocol.SUBSCRIBE]
    assert session.restarts == 1 and session.ready
    session.on_md(reborn.ticks("EURUSD", 1, [(T0 + 9_000, 1.0810, 1.0811)]), 9.1)
    assert session.take_ticks() == []  # held until the outage is backfilled
    [backfill] = session.take_outbound()
    assert backfill["type"] == protocol.COPY_TICKS_FROM and backfill["date_from"] == T0 + 101
    outage = {"symbol": "EURUSD", "time_msc": [T0 + 5_000], "bid": [1.0805], "ask": [1.0806]}
    session.on_ctl(LOGIN, reborn.reply(backfill, outage), 9.2)
    assert [t[1] for t in session.take_ticks()] == [T0 + 5_000, T0 + 9_000]
    # Seq counts from 1 again in the new instance: no gap.
    session.on_md(reborn.ticks("EURUSD", 2, [(T0 + 9_500, 1.0812, 1.0813)]), 9.3)
    assert [t[1] for t in session.take_ticks()] == [T0 + 9_500] and session.gaps == 0


def test_only_the_first_account_is_listened_to():
    session, ea = ready_session()
    other = FakeEa(boot="x", login=LOGIN + 1)
    session.on_ctl(other.login, other.hello(), 1.0)
    session.on_md(other.ticks("EURUSD", 1, [(T0 + 100, 2.0, 2.0001)]), 1.0)
    assert session.take_outbound() == [] and session.take_ticks() == []
    assert session.login == LOGIN and session.boot == "boot-1"


# --- the socket shell, against a simulated terminal playing the real EA ---

@pytest.fixture
def source_and_ea():
    ctl, md = free_endpoint(), free_endpoint()
    source = EaPriceSource(ctl_endpoint=ctl, md_endpoint=md, history_minutes=30).start()
    real = SimTerminal(ctl_endpoint=ctl, md_endpoint=md, login=LOGIN, seed=11, history_minutes=60,
                       enforce_sessions=False, md_publish_s=0.02)
    seen: list[str] = []
    answer_ = real._answer

    def recording(message, now):
        seen.append(message["type"])
        return answer_(message, now)
    real._answer = recording
    real.start()
    yield source, real, seen
    real.stop()
    source.stop()


def collect(source: EaPriceSource, ticks: list, symbol: str, until) -> bool:
    ticks.extend(t for t in source.advance(0) if t[0] == symbol)
    return until()


def test_the_source_learns_the_simulated_ea_and_loses_no_tick(source_and_ea):
    source, real, seen = source_and_ea
    assert source.ready.wait(10)
    assert source.login == LOGIN and source.tz_offset_s == real.tz_offset_s
    assert set(source.symbols) == set(real.symbols)
    assert source.symbols["XAUUSD"].trade_contract_size == real.symbols["XAUUSD"].trade_contract_size
    history = source.history_m1("EURUSD", 30)
    assert len(history["time"]) == 31  # 30 closed minutes and the forming one
    real_rates = real.market.copy_rates_from_pos("EURUSD", "M1", 0, 31)
    assert history["time"].tolist()[:-1] == real_rates["time"][:-1]
    assert history["close"].tolist()[:-1] == real_rates["close"][:-1]

    ticks: list = []
    wait_for(lambda: collect(source, ticks, "EURUSD", lambda: len(ticks) >= 3), message="real EURUSD ticks")
    real.drop_tick_batches = 3  # lost publishes: seq gaps the source must backfill
    first_after = ticks[-1][1]
    wait_for(lambda: collect(source, ticks, "EURUSD", lambda: source.gaps >= 1 and ticks[-1][1] > first_after + 3000),
             timeout=15, message="a gap and ticks after it")
    published = real.market.copy_ticks_from("EURUSD", ticks[0][1], 100_000, mt5.COPY_TICKS_ALL)
    got = [(t, b, a) for _, t, b, a in ticks]
    expected = list(zip(published["time_msc"], published["bid"], published["ask"]))[:len(got)]
    assert got == expected  # every published tick, gaps backfilled, in order
    assert protocol.COPY_TICKS_FROM in seen and not TRADING & set(seen)


def test_a_taken_port_is_a_clear_start_error(source_and_ea):
    source, _, _ = source_and_ea
    twin = EaPriceSource(ctl_endpoint=source.ctl_endpoint, md_endpoint=free_endpoint())
    with pytest.raises(RuntimeError, match="cannot bind"):
        twin.start()
    assert math.isfinite(source.gaps)
