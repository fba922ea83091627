"""Tick history files: MT5's "Export ticks" CSV, the plain tick CSV, and every way they can be wrong."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from bridge.history.bars import HistoryFileError
from bridge.history.ticks import load_ticks

HEADER = "<DATE>\t<TIME>\t<BID>\t<ASK>\t<LAST>\t<VOLUME>\t<FLAGS>\n"
# Line 2 knows only the ask (skipped), 4 changes only the ask, 5 only the bid at the same
# millisecond, 6 is a trade-only tick (skipped), 7 has no milliseconds.
MT5_TICKS = HEADER + (
    "2024.01.02\t00:00:00.100\t\t1.10020\t\t\t4\n"
    "2024.01.02\t00:00:00.123\t1.10000\t1.10012\t\t\t6\n"
    "2024.01.02\t00:00:01.500\t\t1.10015\t\t\t4\n"
    "2024.01.02\t00:00:01.500\t1.10003\t\t\t\t2\n"
    "2024.01.02\t00:00:02.000\t\t\t1.10010\t3\t56\n"
    "2024.01.02\t00:01:00\t1.10010\t1.10020\t\t\t6\n"
)


def ms(text: str, offset_s: int = 0) -> int:
    stamp = dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=dt.timezone.utc)
    return int(stamp.timestamp() * 1000) - offset_s * 1000


def write(tmp_path: Path, text: str, name: str = "t.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_mt5_export_carries_empty_fields_forward_in_server_time(tmp_path):
    ticks = load_ticks(write(tmp_path, MT5_TICKS), tz_offset_s=7200)
    # Server time 2024-01-02 00:00 at UTC+2 is 2024-01-01 22:00 UTC.
    assert ticks.time_msc.tolist() == [ms("2024-01-02 00:00:00.123", 7200), ms("2024-01-02 00:00:01.500", 7200),
                                       ms("2024-01-02 00:00:01.500", 7200), ms("2024-01-02 00:01:00.000", 7200)]
    assert ticks.bid.tolist() == [1.1, 1.1, 1.10003, 1.1001]
    assert ticks.ask.tolist() == [1.10012, 1.10015, 1.10015, 1.1002]
    assert ticks.flags.tolist() == [6, 4, 2, 6]
    assert ticks.last.tolist() == [0.0, 0.0, 0.0, 1.1001]  # the trade-only row's last carries on
    assert (ticks.skipped_unknown, ticks.skipped_trade_only, ticks.format, len(ticks)) == (1, 1, "mt5", 4)


def test_mt5_export_in_utf16_with_crlf_and_blank_lines_reads_the_same(tmp_path):
    plain = load_ticks(write(tmp_path, MT5_TICKS))
    text = "\ufeff" + MT5_TICKS.replace("\n", "\r\n").replace("6\r\n2024", "6\r\n\r\n2024", 1)
    other = load_ticks(write(tmp_path, text, "u16.csv", "utf-16-le"))
    for name in ("time_msc", "bid", "ask", "flags"):
        assert getattr(other, name).tolist() == getattr(plain, name).tolist()


def test_an_empty_flags_cell_says_which_of_bid_and_ask_the_row_gave(tmp_path):
    ticks = load_ticks(write(tmp_path, HEADER + "2024.01.02\t00:00:00.000\t1.1\t1.2\t\t\t\n"
                                                "2024.01.02\t00:00:00.001\t\t1.3\t\t\t\n"))
    assert ticks.flags.tolist() == [6, 4]


def test_plain_csv_with_and_without_last_and_volume(tmp_path):
    ticks = load_ticks(write(tmp_path, "time_msc,bid,ask\n1704153600000,1.1,1.1001\n1704153600500,,1.1003\n"),
                       tz_offset_s=7200)  # plain times are UTC already: the offset does not apply
    assert ticks.time_msc.tolist() == [1704153600000, 1704153600500] and ticks.format == "plain"
    assert ticks.bid.tolist() == [1.1, 1.1] and ticks.ask.tolist() == [1.1001, 1.1003]
    assert ticks.flags.tolist() == [6, 4]
    full = load_ticks(write(tmp_path, "time_msc, bid, ask, last, volume\n1704153600000, 1.1, 1.1001, 1.10005, 2\n"))
    assert full.last.tolist() == [1.10005] and full.volume.tolist() == [2.0]


@pytest.mark.parametrize(("text", "says"), [
    ("", "t.csv is empty"),
    (HEADER, "has a header but no ticks"),
    ("<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n", "t.csv:1: this is MT5's bars export"),
    ("time,open,high,low,close,volume\n1,1,1,1,1,1\n", "t.csv:1: this is a bars file; replay it with --csv"),
    ("when,price\n1,1\n", "t.csv:1: expected MT5's tick export header"),
    ("<DATE>\t<TIME>\t<BID>\t<LAST>\n", "t.csv:1: expected MT5's tick export header"),
    ("time_msc,bid,ask,bid\n", "t.csv:1: expected"),
    (HEADER + "2024.01.02\t00:00:00.000\t1.1\t1.2\t\t\t6\n2024.01.02\t00:00:01.000\t1.1\n",
     "t.csv:3: expected 7 fields"),
    (HEADER + "02/01/2024\t00:00:00.000\t1.1\t1.2\t\t\t6\n", "t.csv:2: <DATE> '02/01/2024' is not like 2024.01.02"),
    (HEADER + "2024.01.02\t00:00:00.000\t1.1\t1.2\t\t\t6\n2024.01.02\t00:00:61.000\t1.1\t1.2\t\t\t6\n",
     "t.csv:3: <TIME> '00:00:61.000' is not like 00:00:00.123"),
    (HEADER + "2024.01.02\t0:00:00.123\t1.1\t1.2\t\t\t6\n", "t.csv:2: <TIME> '0:00:00.123'"),
    (HEADER + "2024.01.02\t00:00:00.123\tabc\t1.2\t\t\t6\n", "t.csv:2: bid 'abc' is not a number"),
    (HEADER + "2024.01.02\t00:00:00.123\t1.1\tinf\t\t\t6\n", "t.csv:2: ask 'inf' must be a finite number"),
    (HEADER + "2024.01.02\t00:00:00.123\t-1.1\t1.2\t\t\t6\n", "t.csv:2: bid '-1.1' must be a finite number >= 0"),
    (HEADER + "2024.01.02\t00:00:00.123\t1.1\t0\t\t\t6\n", "t.csv:2: ask must be positive"),
    (HEADER + "2024.01.02\t00:00:00.123\t1.1\t1.2\t\t\tsix\n", "t.csv:2: FLAGS 'six' is not an integer"),
    (HEADER + "2024.01.02\t00:00:00.123\t1.1\t1.2\t\t\t300\n", "t.csv:2: FLAGS 300 is not MT5's TICK_FLAG"),
    (HEADER + "2024.01.02\t00:00:00.123\t1.1\t1.2\t\t\t6\n\n2024.01.02\t00:00:00.122\t1.1\t1.2\t\t\t6\n",
     "t.csv:4: time goes back"),
    (HEADER + "2024.01.02\t00:00:00.123\t1.3\t1.2\t\t\t6\n", "t.csv:2: bid 1.3 is above ask 1.2"),
    # Carried forward: the ask alone drops below the bid of the row before.
    (HEADER + "2024.01.02\t00:00:00.123\t1.1\t1.2\t\t\t6\n2024.01.02\t00:00:00.124\t\t1.05\t\t\t4\n",
     "t.csv:3: bid 1.1 is above ask 1.05"),
    (HEADER + "2024.01.02\t00:00:00.123\t\t1.2\t\t\t4\n", "no tick has both a bid and an ask"),
    ("time_msc,bid,ask\n1704153600000,1.1,1.2\n17041536x0500,1.1,1.2\n", "t.csv:3: time_msc '17041536x0500' is not"),
    ("time_msc,bid,ask\n1704153600000,1.1,1.2,7\n", "t.csv:2: expected 3 fields"),
])
def test_bad_tick_files_name_the_line_and_what_was_expected(tmp_path, text, says):
    with pytest.raises(HistoryFileError) as caught:
        load_ticks(write(tmp_path, text))
    assert says in str(caught.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(HistoryFileError, match="cannot read .*nope.csv"):
        load_ticks(tmp_path / "nope.csv")


def test_a_trailing_separator_is_not_a_field(tmp_path):
    ticks = load_ticks(write(tmp_path, HEADER + "2024.01.02\t00:00:00.123\t1.1\t1.2\t\t\t6\t\n"))
    assert ticks.bid.tolist() == [1.1]


def test_a_long_export_parses_whole(tmp_path):
    # How fast is stress/bench_history.py's business; here: every row of a long file arrives.
    n = 50_000
    t = np.arange(n) * 97  # 80 minutes at ~10 ticks a second
    rows = [f"2024.01.02\t{(v // 3_600_000):02d}:{(v // 60_000) % 60:02d}:{(v // 1000) % 60:02d}.{v % 1000:03d}"
            f"\t{1.1 + (v % 500) * 1e-5:.5f}\t{1.1002 + (v % 500) * 1e-5:.5f}\t\t\t6" for v in t.tolist()]
    ticks = load_ticks(write(tmp_path, HEADER + "\n".join(rows) + "\n"))
    assert len(ticks) == n and ticks.time_msc[-1] - ticks.time_msc[0] == t[-1]
    assert ticks.bid[-1] == pytest.approx(1.1 + (t[-1] % 500) * 1e-5)
