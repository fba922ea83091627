"""Tick history files: MT5's "Export ticks" CSV and a plain `time_msc,bid,ask[,last,volume]` CSV.

MT5 (Symbols window → Ticks → Export) writes tab-separated `<DATE> <TIME> <BID> <ASK> <LAST>
<VOLUME> <FLAGS>`, dates `2024.01.02`, times `00:00:00.123`, in the broker's server time
(`tz_offset_s` turns it into UTC), and leaves a field empty when the tick did not change it:
the previous value carries forward. FLAGS is the MqlTick bitmask (2 bid, 4 ask, 8 last,
16 volume, 32 buy, 64 sell). The plain format takes `time_msc` as Unix milliseconds (UTC).

A row before both bid and ask are known, and a row that changes neither (a trade-only tick:
the simulator quotes bid/ask only), are skipped and counted. Times never go back, prices
are positive and bid <= ask; every problem names the file and line. Parsing is columnar (one
split of the whole text, then numpy), so a million ticks take seconds, not minutes. Cells
are not quoted in either format.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bridge.history.bars import HistoryFileError

MT5_COLUMNS = ("DATE", "TIME", "BID", "ASK", "LAST", "VOLUME", "FLAGS")
MT5_REQUIRED = ("DATE", "TIME", "BID", "ASK")
PLAIN_COLUMNS = ("time_msc", "bid", "ask", "last", "volume")
PLAIN_REQUIRED = ("time_msc", "bid", "ask")
MT5_HEADER_TEXT = "\t".join(f"<{c}>" for c in MT5_COLUMNS)
EXPECTED = f"MT5's tick export header {MT5_HEADER_TEXT!r} or a plain CSV header 'time_msc,bid,ask[,last,volume]'"
MAX_FLAGS = 127  # every TICK_FLAG bit: 2 | 4 | 8 | 16 | 32 | 64 (and 1, unused)
_EPOCH = dt.date(1970, 1, 1)
_NAN = float("nan")


@dataclass(frozen=True, slots=True)
class TickHistory:
    """The quote ticks of a file, oldest first; times in ms UTC, bid/ask carried forward."""
    time_msc: np.ndarray  # int64
    bid: np.ndarray
    ask: np.ndarray
    last: np.ndarray  # 0 where never given
    volume: np.ndarray  # 0 where not given on that row
    flags: np.ndarray  # int64, as in the file (plain files: which of bid/ask the row gave)
    skipped_unknown: int  # rows before both bid and ask were known
    skipped_trade_only: int  # rows that changed neither bid nor ask
    format: str  # "mt5" or "plain"

    def __len__(self) -> int:
        return len(self.time_msc)


def load_ticks(path: str | Path, *, tz_offset_s: int = 0) -> TickHistory:
    """The ticks of an MT5 tick export or a plain tick CSV; HistoryFileError naming the line."""
    path = Path(path)
    lines = _read_lines(path)
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise HistoryFileError(f"{path} is empty")
    header = lines[first].strip()
    if header.startswith("<"):
        fmt, sep, names = "mt5", "\t", _mt5_header(path, first + 1, header)
    else:
        fmt, sep, names = "plain", ",", _plain_header(path, first + 1, header)
    body = lines[first + 1:]
    numbers = np.array([i for i, line in enumerate(body) if line.strip()], dtype=np.int64) + first + 2
    body = [line for line in body if line.strip()]
    if not body:
        raise HistoryFileError(f"{path} has a header but no ticks")
    columns = _columns(path, body, numbers, names, sep)
    if fmt == "mt5":
        times = _mt5_times(path, columns["DATE"], columns["TIME"], numbers) - tz_offset_s * 1000
        values = {key.lower(): columns.get(key) for key in ("BID", "ASK", "LAST", "VOLUME", "FLAGS")}
    else:
        times = _integers(path, columns["time_msc"], numbers, "time_msc", "an integer (Unix ms, UTC)")
        values = {key: columns.get(key) for key in PLAIN_COLUMNS[1:]}
    return _quotes(path, fmt, times, values, numbers)


def _read_lines(path: Path) -> list[str]:
    try:
        raw = path.read_bytes()
        # MT5 writes some exports as UTF-16 with a byte-order mark.
        text = raw.decode("utf-16") if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else raw.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise HistoryFileError(f"cannot read {path}: {exc}") from None
    return text.splitlines()


def _mt5_header(path: Path, number: int, header: str) -> list[str]:
    names = [h.strip().strip("<>").upper() for h in header.split("\t")]
    if {"OPEN", "CLOSE"} <= set(names):
        raise HistoryFileError(f"{path}:{number}: this is MT5's bars export; replay it with --csv, or export "
                               f"ticks: expected {EXPECTED}")
    unknown = [n for n in names if n not in MT5_COLUMNS]
    missing = [n for n in MT5_REQUIRED if n not in names]
    if unknown or missing or len(set(names)) != len(names):
        raise HistoryFileError(f"{path}:{number}: expected {EXPECTED}, found {header[:120]!r}")
    return names


def _plain_header(path: Path, number: int, header: str) -> list[str]:
    names = [h.strip().lower() for h in header.split(",")]
    if "open" in names and "close" in names:
        raise HistoryFileError(f"{path}:{number}: this is a bars file; replay it with --csv, or give ticks: "
                               f"expected {EXPECTED}")
    unknown = [n for n in names if n not in PLAIN_COLUMNS]
    missing = [n for n in PLAIN_REQUIRED if n not in names]
    if unknown or missing or len(set(names)) != len(names):
        raise HistoryFileError(f"{path}:{number}: expected {EXPECTED}, found {header[:120]!r}")
    return names


def _columns(path: Path, body: list[str], numbers: np.ndarray, names: list[str], sep: str) -> dict[str, list[str]]:
    """Cells by column name. One split of the whole text beats a reader per row by 3x."""
    width = len(names)
    counts = np.fromiter((line.count(sep) for line in body), dtype=np.int64, count=len(body))
    for i in np.flatnonzero(counts != width - 1):
        cells = body[i].split(sep)
        if len(cells) > width and not any(cell.strip() for cell in cells[width:]):
            body[i] = sep.join(cells[:width])  # a trailing separator
            continue
        raise HistoryFileError(f"{path}:{numbers[i]}: expected {width} fields ({', '.join(names)}) separated "
                               f"by {sep!r}, found {len(cells)}: {body[i][:80]!r}")
    # Every row now has width - 1 separators: joined by one more, the cells fall in row-major order.
    cells = sep.join(body).split(sep)
    return {name: cells[k::width] for k, name in enumerate(names)}


def _mt5_times(path: Path, dates: list[str], times: list[str], numbers: np.ndarray) -> np.ndarray:
    day_of: dict[str, int] = {}
    for text in set(dates):
        try:
            day_of[text] = (dt.datetime.strptime(text.strip(), "%Y.%m.%d").date() - _EPOCH).days
        except ValueError:
            line = numbers[dates.index(text)]
            raise HistoryFileError(f"{path}:{line}: <DATE> {text!r} is not like 2024.01.02") from None
    days = np.fromiter(map(day_of.__getitem__, dates), dtype=np.int64, count=len(dates))
    return days * 86_400_000 + _clock_ms(path, np.array(times), numbers)


def _clock_ms(path: Path, times: np.ndarray, numbers: np.ndarray) -> np.ndarray:
    """`HH:MM:SS.mmm` (or `HH:MM:SS`) as ms since midnight, vectorised over code points."""
    lengths = np.char.str_len(times)
    codes = times.astype("U12").view(np.uint32).reshape(len(times), 12).astype(np.int64)
    digits = codes - ord("0")
    ok = (lengths == 12) | (lengths == 8)
    ok &= (codes[:, 2] == ord(":")) & (codes[:, 5] == ord(":"))
    ok &= ((digits[:, [0, 1, 3, 4, 6, 7]] >= 0) & (digits[:, [0, 1, 3, 4, 6, 7]] <= 9)).all(axis=1)
    with_ms = lengths == 12
    ms_digits = digits[:, 9:12]
    ok &= ~with_ms | ((codes[:, 8] == ord(".")) & ((ms_digits >= 0) & (ms_digits <= 9)).all(axis=1))
    hours, minutes = digits[:, 0] * 10 + digits[:, 1], digits[:, 3] * 10 + digits[:, 4]
    seconds = digits[:, 6] * 10 + digits[:, 7]
    millis = np.where(with_ms, ms_digits[:, 0] * 100 + ms_digits[:, 1] * 10 + ms_digits[:, 2], 0)
    ok &= (hours < 24) & (minutes < 60) & (seconds < 60)
    bad = np.flatnonzero(~ok)
    if bad.size:
        i = int(bad[0])
        raise HistoryFileError(f"{path}:{numbers[i]}: <TIME> {str(times[i])!r} is not like 00:00:00.123")
    return ((hours * 60 + minutes) * 60 + seconds) * 1000 + millis


def _integers(path: Path, column: list[str], numbers: np.ndarray, name: str, what: str,
              empty: int | None = None) -> np.ndarray:
    """Integers of `column`; an empty cell is `empty` (an error when None)."""
    try:
        values = [int(text) if text or empty is None else empty for text in column]
    except ValueError:
        for i, text in enumerate(column):
            try:
                int(text) if text or empty is None else empty
            except ValueError:
                raise HistoryFileError(f"{path}:{numbers[i]}: {name} {text!r} is not {what}") from None
        raise
    return np.array(values, dtype=np.int64)


def _floats(path: Path, column: list[str], numbers: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Values (NaN where empty) and the mask of rows that gave one; finite and >= 0."""
    try:
        values = np.array([float(text) if text else _NAN for text in column])
    except ValueError:
        for i, text in enumerate(column):
            try:
                float(text or "nan")
            except ValueError:
                raise HistoryFileError(f"{path}:{numbers[i]}: {name} {text!r} is not a number") from None
        raise
    given = np.fromiter(map(bool, column), dtype=bool, count=len(column))
    bad = np.flatnonzero(given & ~(np.isfinite(values) & (values >= 0)))
    if bad.size:
        i = int(bad[0])
        raise HistoryFileError(f"{path}:{numbers[i]}: {name} {column[i]!r} must be a finite number >= 0")
    return values, given


def _forward_filled(values: np.ndarray, given: np.ndarray) -> np.ndarray:
    # Empty cells are NaN, so rows before the first given value stay NaN (index 0 is one).
    return values[np.maximum.accumulate(np.where(given, np.arange(len(values)), 0))]


def _quotes(path: Path, fmt: str, times: np.ndarray, values: dict[str, list[str] | None],
            numbers: np.ndarray) -> TickHistory:
    back = np.flatnonzero(np.diff(times) < 0)
    if back.size:
        i = int(back[0]) + 1
        raise HistoryFileError(f"{path}:{numbers[i]}: time goes back ({_iso(int(times[i]))} after "
                               f"{_iso(int(times[i - 1]))}); ticks must be oldest first")
    n = len(times)
    bid, bid_given = _floats(path, values["bid"], numbers, "bid")
    ask, ask_given = _floats(path, values["ask"], numbers, "ask")
    for name, prices, given in (("bid", bid, bid_given), ("ask", ask, ask_given)):
        zero = np.flatnonzero(given & (prices <= 0))
        if zero.size:
            raise HistoryFileError(f"{path}:{numbers[zero[0]]}: {name} must be positive, found {prices[zero[0]]}")
    absent = (np.zeros(n), np.zeros(n, dtype=bool))
    last, last_given = _floats(path, values["last"], numbers, "last") if values.get("last") else absent
    volume, volume_given = _floats(path, values["volume"], numbers, "volume") if values.get("volume") else absent
    derived = np.where(bid_given, 2, 0) | np.where(ask_given, 4, 0)
    flags = derived if values.get("flags") is None else _flags(path, values["flags"], numbers, derived)
    bid, ask = _forward_filled(bid, bid_given), _forward_filled(ask, ask_given)
    last = np.nan_to_num(_forward_filled(last, last_given), nan=0.0)
    known = ~(np.isnan(bid) | np.isnan(ask))
    quoted = bid_given | ask_given
    keep = known & quoted
    crossed = np.flatnonzero(keep & (bid > ask))
    if crossed.size:
        i = int(crossed[0])
        raise HistoryFileError(f"{path}:{numbers[i]}: bid {bid[i]} is above ask {ask[i]}")
    if not keep.any():
        raise HistoryFileError(f"{path}: no tick has both a bid and an ask; expected {EXPECTED}")
    return TickHistory(time_msc=times[keep], bid=bid[keep], ask=ask[keep], last=last[keep],
                       volume=np.where(volume_given, volume, 0.0)[keep], flags=flags[keep].astype(np.int64),
                       skipped_unknown=int((~known).sum()), skipped_trade_only=int((known & ~quoted).sum()),
                       format=fmt)


def _flags(path: Path, column: list[str], numbers: np.ndarray, derived: np.ndarray) -> np.ndarray:
    """The FLAGS column; an empty cell says which of bid/ask the row gave."""
    flags = _integers(path, column, numbers, "FLAGS", "an integer", empty=-1)
    bad = np.flatnonzero((flags < -1) | (flags > MAX_FLAGS))
    if bad.size:
        raise HistoryFileError(f"{path}:{numbers[bad[0]]}: FLAGS {int(flags[bad[0]])} is not MT5's TICK_FLAG "
                               f"bitmask (2 bid, 4 ask, 8 last, 16 volume, 32 buy, 64 sell)")
    return np.where(flags == -1, derived, flags)


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"
