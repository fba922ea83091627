"""The EA's offset table (mql5/Include/ExecutorBridge/TzTable.mqh), verified without MetaTrader.

TzTable.mqh is pure arithmetic, compiled unchanged by g++ into tests/mql5_compat/tz_driver.cpp
(as the codec is, see test_mql5_codec.py). A New York close server ("NY+7": UTC+2 in the US
winter, UTC+3 in the summer) is sampled the way the EA samples it, TimeTradeServer() -
TimeGMT() with the calls straddling a second now and then, through both 2026 switches: the
table learnt must date each switch exactly, and every conversion must be bridge/server_tz.py's
for that table, so the executor reads back exactly what the EA meant.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bridge import protocol
from bridge.server_tz import DAY_MS, ServerTz, parse_server_tz

pytestmark = pytest.mark.timeout(180)

ROOT = Path(__file__).resolve().parent.parent
DRIVER_SOURCE = ROOT / "tests" / "mql5_compat" / "tz_driver.cpp"
NY7 = parse_server_tz("NY+7")
HOUR_MS = 3_600_000
MINUTE_MS = 60_000


def utc_ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=timezone.utc).timestamp() * 1000)


SPRING = utc_ms(2026, 3, 8, 7)  # 02:00 EST: the server clock goes from 09:00 to 10:00
AUTUMN = utc_ms(2026, 11, 1, 6)  # 02:00 EDT: the server clock goes from 09:00 back to 08:00


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ not found: TzTable.mqh is checked by compiling it with g++ (apt-get install g++)")
    out = tmp_path_factory.mktemp("mql5_tz") / "tz_driver"
    base = [gxx, "-std=c++17", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-o", str(out), str(DRIVER_SOURCE)]
    sanitized = subprocess.run([*base, "-fsanitize=address,undefined", "-fno-sanitize-recover=all"],
                               capture_output=True, text=True, timeout=150)
    if sanitized.returncode != 0:
        plain = subprocess.run(base, capture_output=True, text=True, timeout=150)
        assert plain.returncode == 0, f"g++ failed on TzTable.mqh:\n{plain.stderr}"
    return out


def ask(driver: Path, commands: list[str]) -> list[str]:
    result = subprocess.run([str(driver)], input="\n".join(commands) + "\n", capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(commands)
    return lines


def samples(zone: ServerTz, start_ms: int, end_ms: int, every_ms: int, seed: int = 1) -> list[str]:
    """What the EA's timer sees: now, and TimeTradeServer() - TimeGMT() off by a second when
    the two calls straddle a second boundary."""
    rng = random.Random(seed)
    return [f"observe {t} {zone.offset_at(t) + rng.choice((-1, 0, 0, 0, 1))}" for t in range(start_ms, end_ms, every_ms)]


def learnt(driver: Path, commands: list[str]) -> tuple[ServerTz, list[str]]:
    lines = ask(driver, [*commands, "table"])
    numbers = [int(word) for word in lines[-1].split()[1:]]
    count, flat = numbers[0], numbers[1:]
    table = ServerTz.from_wire([flat[i:i + 2] for i in range(0, 2 * count, 2)])
    return table, lines[:-1]


@pytest.mark.parametrize("switch, before, after", [(SPRING, 7200, 10800), (AUTUMN, 10800, 7200)])
def test_a_week_of_samples_learns_each_switch_at_its_instant(driver: Path, switch: int, before: int,
                                                               after: int) -> None:
    start = switch - 4 * DAY_MS + 123_456
    table, answers = learnt(driver, samples(NY7, start, switch + 3 * DAY_MS, MINUTE_MS))
    assert table.entries == ((start, before), (switch, after))
    assert answers.count("changed 1") == 1  # one announcement: the hb at once and a fresh hello
    # From its start on, the learnt table is the zone's own.
    for t in range(start, switch + 3 * DAY_MS, 7 * MINUTE_MS + 13):
        assert table.offset_at(t) == NY7.offset_at(t)


def test_every_conversion_is_bridge_server_tz_s(driver: Path) -> None:
    """The executor converts back with ServerTz: same offsets, same server time, and the bar
    opens (UtcMsFirst) are ServerTz.to_utc, across a skipped and a repeated hour."""
    start = SPRING - 3 * DAY_MS
    commands = samples(NY7, start, AUTUMN + 2 * DAY_MS, 10 * MINUTE_MS)
    table, _ = learnt(driver, commands)
    assert [entry for entry in table.entries[1:]] == [(SPRING, 10800), (AUTUMN, 7200)]
    rng = random.Random(7)
    utc = [rng.randrange(start - 30 * DAY_MS, AUTUMN + 30 * DAY_MS) for _ in range(300)]
    utc += [switch + delta for switch in (SPRING, AUTUMN) for delta in range(-2 * HOUR_MS, 2 * HOUR_MS, 15 * MINUTE_MS)]
    server = [NY7.to_server(t) for t in utc]
    queries = [f"offset {t}" for t in utc] + [f"server {t}" for t in utc] + [f"first {s}" for s in server] + \
              [f"since {t}" for t in utc]
    answers = [int(line) for line in ask(driver, [*commands, *queries])[len(commands):]]
    n = len(utc)
    assert answers[:n] == [table.offset_at(t) for t in utc]
    assert answers[n:2 * n] == [table.to_server(t) for t in utc]
    assert answers[2 * n:3 * n] == [table.to_utc(s) for s in server]
    assert answers[3 * n:] == [table.since(t) for t in utc]


def test_ticks_of_the_repeated_hour_keep_increasing_and_bar_opens_read_first(driver: Path) -> None:
    commands = samples(NY7, AUTUMN - DAY_MS, AUTUMN + DAY_MS, MINUTE_MS)
    first_pass = AUTUMN - 30 * MINUTE_MS  # server 08:30, the first time
    second_pass = AUTUMN + 30 * MINUTE_MS  # server 08:30 again
    server = NY7.to_server(second_pass)
    assert server == NY7.to_server(first_pass)
    answers = ask(driver, [*commands, f"latest {server}", f"first {server}",
                           f"latest {NY7.to_server(AUTUMN + 2 * HOUR_MS)}"])[len(commands):]
    assert [int(a) for a in answers] == [second_pass, first_pass, AUTUMN + 2 * HOUR_MS]


def test_a_time_the_clock_skipped_maps_to_the_switch(driver: Path) -> None:
    commands = samples(NY7, SPRING - DAY_MS, SPRING + DAY_MS, MINUTE_MS)
    skipped = NY7.to_server(SPRING - 1) + 30 * MINUTE_MS  # server 09:30 on 2026-03-08: never read
    answers = ask(driver, [*commands, f"latest {skipped}", f"first {skipped}"])[len(commands):]
    assert [int(a) for a in answers] == [SPRING, SPRING] == [NY7.to_utc(skipped)] * 2


def test_history_before_the_start_uses_the_first_offset_and_still_opens_at_server_midnight(driver: Path) -> None:
    """The documented limitation: an EA started after the spring switch sends a D1 bar of the
    week before an hour off in UTC; read back with its table, that bar still opens at server
    midnight (the executor's D1 edges agree with the EA's bars)."""
    start = SPRING + 2 * DAY_MS
    commands = samples(NY7, start, start + HOUR_MS, MINUTE_MS)
    table, _ = learnt(driver, commands)
    assert table.entries == ((start, 10800),)
    midnight = utc_ms(2026, 3, 6)  # read as server time: 2026-03-06 00:00 on the server clock, a D1 open
    sent = int(ask(driver, [*commands, f"first {midnight}"])[-1])
    assert sent == midnight - 3 * HOUR_MS  # the true instant is midnight - 2 h: an hour off
    assert table.period_start(sent + 5 * HOUR_MS, DAY_MS) == sent


@pytest.mark.parametrize("after, at, expected", [
    (SPRING - 20_000, SPRING + 40_000, SPRING),  # sampled every minute: the whole hour between
    (SPRING - 3 * HOUR_MS, SPRING + 2 * HOUR_MS + 5, SPRING + 2 * HOUR_MS),  # a silent EA: the latest hour
    (utc_ms(2026, 4, 5, 15, 20), utc_ms(2026, 4, 5, 15, 31), utc_ms(2026, 4, 5, 15, 30)),  # a half-hour zone
    (SPRING + 5_000, SPRING + 9_000, SPRING + 9_000),  # no quarter hour between: when it was seen
])
def test_a_switch_is_dated_at_the_hour_or_quarter_hour_between_two_samples(driver: Path, after: int, at: int,
                                                                             expected: int) -> None:
    assert int(ask(driver, [f"switch {after} {at}"])[0]) == expected


@pytest.mark.parametrize("raw, offset", [(7199, 7200), (7201, 7200), (10_799, 10_800), (-18_001, -18_000),
                                         (-3599, -3600), (19_800, 19_800), (20_699, 20_700), (0, 0), (-1, 0)])
def test_the_raw_difference_is_rounded_to_the_quarter_hour(driver: Path, raw: int, offset: int) -> None:
    assert int(ask(driver, [f"rounded {raw}"])[0]) == offset


def test_a_full_table_gives_way_oldest_first_and_stays_sendable(driver: Path) -> None:
    commands, t = [], utc_ms(2026, 1, 1)
    for switch in range(protocol.TZ_HISTORY_MAX + 6):
        commands.append(f"observe {t} {7200 + 3600 * (switch % 2)}")
        t += DAY_MS
    table, answers = learnt(driver, commands)
    assert answers.count("changed 1") == protocol.TZ_HISTORY_MAX + 5
    assert len(table.entries) == protocol.TZ_HISTORY_MAX
    assert table.entries[-1] == (t - DAY_MS, 7200 + 3600 * ((protocol.TZ_HISTORY_MAX + 5) % 2))
