"""A New York close server ("NY+7": UTC+2 in the US winter, UTC+3 in the summer) across the
2026 US daylight-time switches, end to end.

2026-03-08 07:00 UTC the server clock goes from 09:00 to 10:00, 2026-11-01 06:00 UTC from
09:00 back to 08:00. D1 bars open at server midnight on both sides: 22:00 UTC in the winter,
21:00 UTC in the summer. Checked on a week of ticks (pure), through the simulator's sockets
(its copy_rates_from_pos answer, its hb and hello at the switch), and through the executor
(its candles built from ticks across the switch equal the simulator's own bars).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np
import pykka
import pytest

from actors.app.config import load_config
from actors.app.logs import setup_logging
from actors.app.ports import free_endpoint
from bridge import protocol
from bridge.candles import CandleBuilder, aggregate
from bridge.server_tz import DAY_MS, ServerTz, parse_server_tz
from bridge.sim.clock import ManualClock
from bridge.sim.terminal import SimTerminal
from bridge.symbols import DEFAULT_SYMBOLS
from tests.conftest import Executor as Service, wait_for
from tests.test_sim_terminal import LOGIN, Executor as Peer

pytestmark = pytest.mark.timeout(120)

NY7 = parse_server_tz("NY+7")
HOUR_MS = 3_600_000
MINUTE_MS = 60_000


def utc_ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=timezone.utc).timestamp() * 1000)


SPRING = utc_ms(2026, 3, 8, 7)
AUTUMN = utc_ms(2026, 11, 1, 6)


def hours(times: Any) -> list[str]:
    return [datetime.fromtimestamp(t / 1000, timezone.utc).strftime("%a %H:%M") for t in times]


# --- a week of ticks, no sockets ---

@pytest.mark.parametrize("switch, before, after", [(SPRING, 22, 21), (AUTUMN, 21, 22)])
def test_a_week_of_ticks_across_a_switch_opens_every_d1_bar_at_server_midnight(switch: int, before: int,
                                                                                after: int) -> None:
    start, end = switch - 4 * DAY_MS, switch + 3 * DAY_MS
    times = np.arange(start, end, 20_000, dtype=np.int64)  # round the clock, a tick every 20 s
    builders = {tf: CandleBuilder(tf, NY7, capacity=20_000) for tf in ("M1", "H1", "H4", "D1")}
    for i, t in enumerate(times.tolist()):
        price = 1.1 + 0.0001 * np.sin(i / 50)
        for builder in builders.values():
            builder.on_tick(t, price, price + 0.0001)
    for builder in builders.values():
        builder.on_tick(end + 2 * DAY_MS, 1.1, 1.1001)  # closes every forming bar
    d1 = builders["D1"].series.columns()
    opens = d1["time"].tolist()
    # One bar per server day, each opening when the server clock reads midnight.
    midnights = sorted({NY7.to_server(int(t)) // DAY_MS * DAY_MS for t in times})
    assert opens == [NY7.to_utc(m) for m in midnights]
    assert {datetime.fromtimestamp(t / 1000, timezone.utc).hour for t in opens if t < switch} == {before}
    assert {datetime.fromtimestamp(t / 1000, timezone.utc).hour for t in opens if t > switch} == {after}
    # No tick lost, none counted twice, in any timeframe; bar times keep increasing.
    for builder in builders.values():
        columns = builder.series.columns()
        assert int(columns["tick_volume"].sum()) == len(times)
        assert np.all(np.diff(columns["time"]) > 0)
    # The switch day lasts 23 or 25 hours; the H4 bar across the switch 3 or 5.
    lengths = np.diff(opens)
    assert sorted(set(lengths.tolist())) == sorted({DAY_MS, DAY_MS + (after - before) * HOUR_MS})
    h4 = builders["H4"].series.columns()["time"].tolist()
    across = max(t for t in h4 if t < switch)
    assert h4[h4.index(across) + 1] - across == 4 * HOUR_MS + (after - before) * HOUR_MS
    # Rolling M1 bars up gives the very bars built from the ticks (the simulator's history path).
    m1 = builders["M1"].series.columns()
    for timeframe in ("H1", "H4", "D1"):
        rolled = aggregate(m1, timeframe, NY7)
        direct = builders[timeframe].series.columns()
        for name in ("time", "open", "high", "low", "close", "tick_volume"):
            assert np.array_equal(rolled[name], direct[name]), (timeframe, name)


# --- the simulator over its sockets ---

@pytest.fixture
def peer():
    side = Peer()
    yield side
    side.close()


def test_the_simulator_answers_d1_bars_across_the_spring_switch_at_server_midnight(peer: Peer) -> None:
    """The issue's acceptance check, over real sockets: copy_rates_from_pos D1 across
    2026-03-08 opens at 22:00 UTC before the switch and 21:00 UTC after."""
    terminal = SimTerminal(ctl_endpoint=peer.ctl_endpoint, md_endpoint=peer.md_endpoint, login=LOGIN, seed=5,
                           clock=ManualClock(utc_ms(2026, 3, 11, 12)), server_tz="NY+7",
                           history_minutes=7 * 1440, symbols={"EURUSD": DEFAULT_SYMBOLS["EURUSD"]}).start()
    try:
        hello = peer.ctl_until(lambda m: m["type"] == protocol.HELLO)
        reply = peer.request(protocol.COPY_RATES_FROM_POS, symbol="EURUSD", timeframe="D1", start_pos=0, count=10)
        info = peer.request(protocol.TERMINAL_INFO)["data"]
    finally:
        terminal.stop()
    assert reply["ok"], reply
    # The FX week runs Monday to Friday on the server's clock: the history reaches back into
    # Monday 2026-03-02; no bar is lost or doubled across the weekend's switch.
    assert hours(reply["data"]["time"]) == [
        "Sun 22:00", "Mon 22:00", "Tue 22:00", "Wed 22:00", "Thu 22:00",  # 2026-03-02..06, UTC+2
        "Sun 21:00", "Mon 21:00", "Tue 21:00"]  # 2026-03-09..11 (forming), UTC+3
    assert reply["data"]["time"][4:6] == [utc_ms(2026, 3, 5, 22), utc_ms(2026, 3, 8, 21)]
    for said in (hello, info):
        assert said["tz_offset_s"] == 10_800
        table = ServerTz.from_wire(said[protocol.TZ_HISTORY])
        assert table.entries[-1] == (SPRING, 10_800) and table.offset_at(SPRING - 1) == 7200


def test_the_switch_is_told_at_once_before_the_ticks_after_it_and_a_fresh_hello_follows(peer: Peer) -> None:
    clock = ManualClock(SPRING - 10 * MINUTE_MS)
    terminal = SimTerminal(ctl_endpoint=peer.ctl_endpoint, md_endpoint=peer.md_endpoint, login=LOGIN, seed=5,
                           clock=clock, server_tz="NY+7", enforce_sessions=False, history_minutes=30,
                           symbols={"EURUSD": DEFAULT_SYMBOLS["EURUSD"]}, hello_repeat_s=0.2).start()
    try:
        first = peer.ctl_until(lambda m: m["type"] == protocol.HELLO)
        peer.send(protocol.HELLO_ACK)
        assert first["tz_offset_s"] == 7200 and ServerTz.from_wire(first[protocol.TZ_HISTORY]).offset_at(SPRING) == 7200
        peer.md_until(lambda topic, m: m["type"] == protocol.HB and m["tz_offset_s"] == 7200)
        seen: list[dict[str, Any]] = []

        def after_the_switch(topic: bytes, message: dict[str, Any]) -> bool:
            seen.append(message)
            return message["type"] == protocol.TICK and max(message["time_msc"]) >= SPRING

        for _ in range(20):  # a minute at a time across the switch
            clock.advance(MINUTE_MS)
        tick_topic, first_tick_after = peer.md_until(after_the_switch)
        hello = peer.ctl_until(lambda m: m["type"] == protocol.HELLO)
    finally:
        terminal.stop()
    told = [m for m in seen if m["type"] == protocol.HB and m["tz_offset_s"] == 10_800]
    assert told and told[0][protocol.TZ_SINCE] == SPRING
    assert seen.index(told[0]) < seen.index(first_tick_after)
    assert hello["tz_offset_s"] == 10_800 and hello[protocol.TZ_HISTORY][-1] == [SPRING, 10_800]


# --- the executor's candles ---

NEVER_TRADES = {"symbol": "EURUSD", "settings": {"sizing": {"method": "fixed", "lots": 0.1}, "max_positions": 1},
                "rules": {"entry_long": "close < 0", "entry_short": "close < 0", "exit_long": "close < 0",
                          "exit_short": "close < 0"}}


def executor_bars(service: Service, login: int, timeframe: str) -> dict[int, tuple]:
    market_data = service.service.directory.get("market_data")
    series = market_data.proxy().series.get(timeout=5).get((login, "EURUSD", timeframe))
    if series is None or series.builder is None:
        return {}
    c = series.builder.series.columns()
    return {int(t): (o, h, lo, cl, int(v)) for t, o, h, lo, cl, v in zip(
        c["time"], c["open"], c["high"], c["low"], c["close"], c["tick_volume"])}


def simulator_bars(terminal: SimTerminal, timeframe: str, start_pos: int = 2) -> dict[int, tuple]:
    # Read from this thread while it runs: skip the forming bar and (unless it closed long
    # enough ago) the newest closed one, which a tick may be closing while we read.
    r = terminal.market.copy_rates_from_pos("EURUSD", timeframe, start_pos, 500)
    return {int(t): (o, h, lo, cl, int(v)) for t, o, h, lo, cl, v in zip(
        r["time"], r["open"], r["high"], r["low"], r["close"], r["tick_volume"])}


START = utc_ms(2026, 3, 7, 21)  # Saturday, an hour before the switch day's D1 bar opens


def test_the_executor_builds_from_ticks_across_the_switch_the_simulator_s_own_bars(tmp_path) -> None:
    """Round the clock (sessions off), from Saturday evening to past Sunday's server midnight:
    every H4 and D1 bar the executor builds from the ticks is the simulator's own. (Bars that
    opened before the simulator started hold history it has no ticks of: not compared.)"""
    setup_logging(tmp_path, "DEBUG", stderr=False)
    config = load_config(None, data_dir=tmp_path / "data", control_endpoint=free_endpoint(),
                         events_endpoint=free_endpoint(), ea_ctl_endpoint=free_endpoint(),
                         ea_md_endpoint=free_endpoint(), no_sim=True, log_level="DEBUG")
    service = Service(config)
    terminal = SimTerminal(ctl_endpoint=config.ea_ctl_endpoint, md_endpoint=config.ea_md_endpoint, login=LOGIN,
                           seed=9, speed=8000.0, start_ms=START, server_tz="NY+7",
                           enforce_sessions=False, history_minutes=600, poll_ms=20,
                           symbols={"EURUSD": DEFAULT_SYMBOLS["EURUSD"]})
    try:
        terminal.start()
        board = service.service.board
        wait_for(lambda: board.get(f"quote:{LOGIN}:EURUSD") and board.get(f"risk:{LOGIN}", {}).get(
            "account_type") == "demo", 15, message="a quote on a demo account")
        for timeframe in ("H4", "D1"):
            service.ok("START_STRATEGY", {"strategy_id": f"watch-{timeframe}",
                                          "strategy": {**NEVER_TRADES, "name": timeframe, "timeframe": timeframe}})
        # D1 of Sunday 2026-03-08 opens Saturday 22:00 UTC and closes Sunday 21:00 UTC (23 hours).
        sunday = utc_ms(2026, 3, 7, 22)
        wait_for(lambda: sunday in executor_bars(service, LOGIN, "D1") and
                 max(executor_bars(service, LOGIN, "H4")) > SPRING + 6 * HOUR_MS, timeout=60,
                 message="the switch day's D1 bar to close")
        zone = board.get(f"tz:{LOGIN}")
        assert zone is not None and zone.offset_at(SPRING) == 10_800 and zone.offset_at(SPRING - 1) == 7200
        assert board.get(f"terminal:{LOGIN}")["tz_offset_s"] == 10_800
        ours = {tf: executor_bars(service, LOGIN, tf) for tf in ("H4", "D1")}
        # The executor heard the Sunday bar close, so the simulator closed it before; the
        # next D1 bar closes a simulated day later.
        theirs = {"H4": simulator_bars(terminal, "H4"), "D1": simulator_bars(terminal, "D1", start_pos=1)}
    finally:
        terminal.stop()
        service.stop()
        pykka.ActorRegistry.stop_all()
    # The H4 bar of server 08:00 runs 06:00-09:00 UTC on the switch day: three hours.
    assert {SPRING - HOUR_MS, SPRING + 2 * HOUR_MS, SPRING + 6 * HOUR_MS} <= set(ours["H4"])
    assert SPRING + 3 * HOUR_MS not in ours["H4"]
    for timeframe in ("H4", "D1"):
        newest = max(ours[timeframe])  # its slot may be mid-write while read from this thread
        common = [t for t in sorted(ours[timeframe])
                  if t >= START and (t < newest or t == sunday) and t in theirs[timeframe]]
        for t in common:
            assert ours[timeframe][t] == theirs[timeframe][t], f"{timeframe} bar {hours([t])} differs"
        built = {"H4": {SPRING - HOUR_MS, SPRING + 2 * HOUR_MS}, "D1": {sunday}}[timeframe]  # from ticks
        assert built <= set(common), (timeframe, hours(common))
