"""Price history files: MT5's "Export bars" CSV and a plain `time,open,high,low,close,volume` CSV.

MT5 writes tab-separated columns `<DATE> <TIME> <OPEN> <HIGH> <LOW> <CLOSE> <TICKVOL> <VOL>
<SPREAD>` (no `<TIME>` for daily bars) in the broker's server time; `tz_offset_s` turns that
into UTC. The plain format takes `time` as Unix seconds, Unix milliseconds or an ISO 8601
date-time (UTC unless it says otherwise). Every problem names the file and line.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np

COLUMNS = ("time", "open", "high", "low", "close", "tick_volume", "spread")
MT5_HEADER = "<DATE>"


class HistoryFileError(ValueError):
    """A history file that cannot be read; the message names the line and what is wrong."""


def load_bars(path: str | Path, *, tz_offset_s: int = 0) -> dict[str, np.ndarray]:
    """Bars of the file as MetaTrader5 rate columns (time in ms UTC), oldest first."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise HistoryFileError(f"cannot read {path}: {exc}") from None
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise HistoryFileError(f"{path} is empty")
    if lines[0][1].lstrip().startswith(MT5_HEADER):
        rows = _mt5_rows(path, lines, tz_offset_s)
    else:
        rows = _plain_rows(path, lines)
    if not rows:
        raise HistoryFileError(f"{path} has a header but no bars")
    _check_order(path, rows)
    columns = list(zip(*rows))[1:]  # without the line numbers
    bars = {name: np.asarray(values, dtype=np.int64 if name == "time" else np.float64)
            for name, values in zip(COLUMNS, columns)}
    _check_prices(path, bars)
    return bars


def _check_order(path: Path, rows: list[tuple[Any, ...]]) -> None:
    """Bars oldest first, as MT5 exports them: a time that goes back or repeats is a damaged
    or concatenated file, and replaying it in another order would be another market."""
    for (line_a, time_a, *_), (line_b, time_b, *_) in zip(rows, rows[1:]):
        if time_b < time_a:
            raise HistoryFileError(f"{path}:{line_b}: time goes back ({_iso(time_b)} after {_iso(time_a)} "
                                   f"on line {line_a}); bars must be oldest first")
        if time_b == time_a:
            raise HistoryFileError(f"{path}:{line_b}: a second bar at {_iso(time_b)} (the first on line {line_a})")


def bar_period_ms(times: np.ndarray) -> int:
    """The file's timeframe: the most common gap between consecutive bars."""
    if len(times) < 2:
        raise HistoryFileError("need at least two bars to tell the timeframe")
    gaps, counts = np.unique(np.diff(times), return_counts=True)
    return int(gaps[np.argmax(counts)])


# Rows are (line number, time ms, open, high, low, close, tick volume, spread).
def _mt5_rows(path: Path, lines: list[tuple[int, str]], tz_offset_s: int) -> list[tuple[Any, ...]]:
    header = lines[0][1].split("\t")
    names = [h.strip().strip("<>").upper() for h in header]
    required = {"DATE", "OPEN", "HIGH", "LOW", "CLOSE", "TICKVOL"}
    if not required <= set(names):
        raise HistoryFileError(f"{path}: MT5 export needs columns {sorted(required)}, found {names}")
    rows = []
    for number, line in lines[1:]:
        cells = dict(zip(names, (c.strip() for c in line.split("\t"))))
        try:
            stamp = dt.datetime.strptime(f"{cells['DATE']} {cells.get('TIME') or '00:00:00'}", "%Y.%m.%d %H:%M:%S")
            server_ms = int(stamp.replace(tzinfo=dt.timezone.utc).timestamp() * 1000)
            rows.append((number, server_ms - tz_offset_s * 1000, float(cells["OPEN"]), float(cells["HIGH"]),
                         float(cells["LOW"]), float(cells["CLOSE"]), float(cells["TICKVOL"]),
                         float(cells.get("SPREAD") or 0)))
        except (KeyError, ValueError) as exc:
            raise HistoryFileError(f"{path}:{number}: not an MT5 bar line ({exc}): {line[:80]!r}") from None
    return rows


def _plain_rows(path: Path, lines: list[tuple[int, str]]) -> list[tuple[Any, ...]]:
    header = [h.strip().lower() for h in next(csv.reader([lines[0][1]]))]
    required = ["time", "open", "high", "low", "close"]
    missing = [c for c in required if c not in header]
    if missing:
        raise HistoryFileError(f"{path}: plain CSV needs a header with {required + ['volume']}, missing {missing}")
    index = {name: header.index(name) for name in header}
    rows = []
    for number, line in lines[1:]:
        cells = next(csv.reader([line]))
        try:
            volume = float(cells[index["volume"]]) if "volume" in index else 0.0
            rows.append((number, _parse_time(cells[index["time"]].strip()),
                         *(float(cells[index[c]]) for c in required[1:]), volume, 0.0))
        except (IndexError, ValueError) as exc:
            raise HistoryFileError(f"{path}:{number}: bad row ({exc}): {','.join(cells)[:80]!r}") from None
    return rows


def _parse_time(text: str) -> int:
    if text.lstrip("-").isdigit():
        value = int(text)
        return value if abs(value) >= 10**11 else value * 1000  # seconds until year 5138; ms after
    stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.timezone.utc)
    return int(stamp.timestamp() * 1000)


def _check_prices(path: Path, bars: dict[str, np.ndarray]) -> None:
    o, h, lo, c = bars["open"], bars["high"], bars["low"], bars["close"]
    bad = np.flatnonzero(~((lo <= np.minimum(o, c)) & (np.maximum(o, c) <= h) & (lo > 0) & np.isfinite(h)))
    if bad.size:
        i = int(bad[0])
        raise HistoryFileError(f"{path}: bar at {_iso(int(bars['time'][i]))} is not a valid OHLC "
                               f"(open {o[i]}, high {h[i]}, low {lo[i]}, close {c[i]})")


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
