"""The server's zone (bridge/server_tz.py): the forms a user writes, offsets across DST
switches, server time <-> UTC where the clock skips or repeats an hour, period alignment, and
the table learnt and announced."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from bridge.server_tz import DAY_MS, ServerTz, ServerTzError, as_server_tz, parse_server_tz

HOUR_MS = 3_600_000
MINUTE_MS = 60_000
NY7 = parse_server_tz("NY+7")


def utc_ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=timezone.utc).timestamp() * 1000)


SPRING = utc_ms(2026, 3, 8, 7)  # 02:00 EST -> 03:00 EDT: the NY+7 clock goes 09:00 -> 10:00
AUTUMN = utc_ms(2026, 11, 1, 6)  # 02:00 EDT -> 01:00 EST: the NY+7 clock goes 09:00 -> 08:00


@pytest.mark.parametrize("text, offset_s", [
    (7200, 7200), ("7200", 7200), ("-18000", -18000), ("UTC", 0), ("UTC+2", 7200), ("utc+02:00", 7200),
    ("GMT-3:30", -12_600), ("UTC+0545", 20_700), (" UTC+3 ", 10_800),
])
def test_a_fixed_offset_in_any_of_its_forms(text: object, offset_s: int) -> None:
    zone = parse_server_tz(text)
    assert zone.is_fixed and zone.offset_at(SPRING) == offset_s == zone.offset_at(0)


def test_new_york_close_is_new_york_time_plus_seven_hours() -> None:
    new_york = ZoneInfo("America/New_York")
    for moment in range(utc_ms(2025, 1, 1), utc_ms(2027, 1, 1), 5 * HOUR_MS + 17 * MINUTE_MS):
        local = datetime.fromtimestamp(moment / 1000, new_york)
        server = datetime.fromtimestamp(NY7.to_server(moment) / 1000, timezone.utc).replace(tzinfo=None)
        assert server == local.replace(tzinfo=None) + timedelta(hours=7)
    # 17:00 in New York is midnight on the server, winter and summer.
    assert NY7.to_server(utc_ms(2026, 1, 15, 22)) % DAY_MS == 0
    assert NY7.to_server(utc_ms(2026, 7, 15, 21)) % DAY_MS == 0
    assert parse_server_tz("ny+7") == NY7 and parse_server_tz("NY").offset_at(SPRING) == -4 * 3600


def test_an_iana_zone_switches_when_its_rules_say() -> None:
    athens = parse_server_tz("Europe/Athens")
    assert athens.offset_at(utc_ms(2026, 3, 29, 0, 59)) == 7200
    assert athens.offset_at(utc_ms(2026, 3, 29, 1)) == 10_800  # 03:00 local -> 04:00
    assert athens.offset_at(utc_ms(2026, 10, 25, 1)) == 7200
    assert athens.name == "Europe/Athens"


@pytest.mark.parametrize("bad", ["", "Mars/Olympus", "NY+99", "UTC+15", "UTC+2:75", "7201", 50_401, True, None, 2.5,
                                 "+-7200"])
def test_a_bad_zone_is_one_clear_error_naming_the_forms(bad: object) -> None:
    with pytest.raises(ServerTzError) as error:
        parse_server_tz(bad)
    assert "\n" not in str(error.value) and repr(bad) in str(error.value)
    assert "NY+7" in str(error.value)


def test_conversions_where_the_clock_skips_and_repeats_an_hour() -> None:
    # Spring: server 09:30 never happens; its first reading "or later" is the switch.
    assert NY7.to_utc(NY7.to_server(SPRING - 1) + 30 * MINUTE_MS) == SPRING
    assert NY7.to_server(SPRING - 1) == utc_ms(2026, 3, 8, 9) - 1 and NY7.to_server(SPRING) == utc_ms(2026, 3, 8, 10)
    # Autumn: server 08:30 happens twice; to_utc answers the first.
    first, second = AUTUMN - 30 * MINUTE_MS, AUTUMN + 30 * MINUTE_MS
    assert NY7.to_server(first) == NY7.to_server(second)
    assert NY7.to_utc(NY7.to_server(second)) == first
    # Elsewhere server time and UTC are one to one.
    for moment in (SPRING - DAY_MS, SPRING + DAY_MS, AUTUMN + HOUR_MS, utc_ms(2026, 6, 1, 12, 34)):
        assert NY7.to_utc(NY7.to_server(moment)) == moment


@pytest.mark.parametrize("moment, period, expected", [
    (utc_ms(2026, 3, 6, 12), DAY_MS, utc_ms(2026, 3, 5, 22)),  # winter: server midnight is 22:00 UTC
    (utc_ms(2026, 3, 9, 12), DAY_MS, utc_ms(2026, 3, 8, 21)),  # summer: 21:00 UTC
    (utc_ms(2026, 3, 8, 12), DAY_MS, utc_ms(2026, 3, 7, 22)),  # the switch day: 23 hours
    (utc_ms(2026, 11, 1, 12), DAY_MS, utc_ms(2026, 10, 31, 21)),  # the autumn switch day: 25 hours
    (utc_ms(2026, 3, 8, 8), 4 * HOUR_MS, utc_ms(2026, 3, 8, 6)),  # H4 08:00-12:00 server: 3 hours
    (utc_ms(2026, 11, 1, 6, 30), HOUR_MS, utc_ms(2026, 11, 1, 5)),  # H1 08:00 server runs twice: 2 hours
    (utc_ms(2026, 11, 1, 6, 30), MINUTE_MS, utc_ms(2026, 11, 1, 6, 30)),  # M1 08:30 again: a new bar
    (utc_ms(2026, 11, 1, 5, 30), MINUTE_MS, utc_ms(2026, 11, 1, 5, 30)),
])
def test_a_period_starts_where_its_unbroken_stretch_of_server_time_begins(moment: int, period: int,
                                                                           expected: int) -> None:
    assert NY7.period_start(moment, period) == expected
    assert int(NY7.period_starts(np.array([moment]), period)[0]) == expected


def test_a_week_opens_on_sunday_server_midnight() -> None:
    sunday = 3 * DAY_MS  # 1970-01-04
    assert NY7.period_start(utc_ms(2026, 3, 11, 12), 7 * DAY_MS, sunday) == utc_ms(2026, 3, 7, 22)
    assert NY7.period_start(utc_ms(2026, 3, 16, 12), 7 * DAY_MS, sunday) == utc_ms(2026, 3, 14, 21)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(utc_ms(2025, 10, 1), utc_ms(2026, 12, 1)), min_size=1, max_size=60),
       st.sampled_from([MINUTE_MS, 5 * MINUTE_MS, HOUR_MS, 4 * HOUR_MS, DAY_MS]))
def test_period_starts_are_the_scalar_walk_and_never_after_the_time(times: list[int], period: int) -> None:
    times = sorted(times)
    starts = NY7.period_starts(np.array(times), period).tolist()
    assert starts == [NY7.period_start(t, period) for t in times]
    assert all(start <= t for start, t in zip(starts, times))
    assert starts == sorted(starts)  # bar times keep increasing


@settings(max_examples=100, deadline=None)
@given(st.integers(-10**13, 10**13), st.integers(-14 * 60, 14 * 60).map(lambda m: m * 60),
       st.sampled_from([MINUTE_MS, HOUR_MS, DAY_MS]))
def test_a_fixed_zone_aligns_as_the_plain_formula(moment: int, offset_s: int, period: int) -> None:
    local = moment + offset_s * 1000
    assert as_server_tz(offset_s).period_start(moment, period) == local - local % period - offset_s * 1000


def test_a_table_learns_announces_and_travels() -> None:
    start = utc_ms(2026, 3, 1)
    table = ServerTz.from_wire([[start, 7200]])
    assert table.learn(start + HOUR_MS, 7200) is table  # nothing new
    learnt = table.learn(SPRING, 10_800)
    assert learnt.entries == ((start, 7200), (SPRING, 10_800))
    assert learnt.offset_at(start - DAY_MS) == 7200  # before the first entry: the first offset
    assert learnt.since(SPRING + DAY_MS) == SPRING
    assert learnt.learn(SPRING - HOUR_MS, 7200).entries == ((start, 7200),)  # the newer word wins
    assert ServerTz.from_wire(learnt.to_wire()) == learnt and hash(ServerTz.from_wire(learnt.to_wire())) == hash(learnt)
    window = NY7.window(utc_ms(2026, 1, 1), utc_ms(2026, 12, 31))
    assert window.entries == ((utc_ms(2025, 11, 2, 6), 7200), (SPRING, 10_800), (AUTUMN, 7200))
    for bad in ([], [[1, 7200], [1, 3600]], [[1, 99_999]], [[1, "7200"]], "7200"):
        with pytest.raises(ServerTzError):
            ServerTz.from_wire(bad)


def test_the_executor_learns_the_zone_from_hello_and_hb() -> None:
    from actors.terminal.server_clock import zone_from_hb, zone_from_hello
    from bridge import protocol

    start = utc_ms(2026, 3, 5)
    hello = {"server_time": start, "tz_offset_s": 7200, protocol.TZ_HISTORY: [[start - DAY_MS, 7200]]}
    zone = zone_from_hello(hello)
    assert zone is not None and zone.entries == ((start - DAY_MS, 7200),)
    # An EA of before the tables: its offset now, for every time (as it converts them).
    assert zone_from_hello({"server_time": start, "tz_offset_s": 10_800}) == ServerTz.fixed(10_800)
    assert zone_from_hello({"server_time": start}) is None
    # A damaged table (refused at the boundary anyway) still leaves the offset.
    assert zone_from_hello({**hello, protocol.TZ_HISTORY: [[5, 7200], [1, 3600]]}) == ServerTz.fixed(7200)
    # hb: the same offset changes nothing; a switch is dated at tz_since (else at server_time).
    assert zone_from_hb({"server_time": SPRING - HOUR_MS, "tz_offset_s": 7200, protocol.TZ_SINCE: 0}, zone) is zone
    switched = zone_from_hb({"server_time": SPRING + 5_000, "tz_offset_s": 10_800, protocol.TZ_SINCE: SPRING}, zone)
    assert switched.entries == ((start - DAY_MS, 7200), (SPRING, 10_800))
    late = zone_from_hb({"server_time": SPRING + 5_000, "tz_offset_s": 10_800}, zone)
    assert late.entries[-1] == (SPRING + 5_000, 10_800)
    assert zone_from_hb({"server_time": SPRING, "tz_offset_s": 10_800}, None) is None  # a hello comes first
