"""`ctl logs [-n N] [-f]`: the executor's JSON lines log (`<data dir>/logs/executor.jsonl`),
readable: UTC time, level, where, message, and the exception's type and text when a line
has one (the traceback stays in the file).

The file is read from the end, so a 20 MB log costs no more than its last lines. `-f` keeps
reading as the file grows, and reopens it when loguru rotates it (the file got smaller or
is another file). It needs no running executor: the log of one that stopped is what you
want most.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

LOG_FILE = Path("logs") / "executor.jsonl"
FOLLOW_POLL_S = 0.25  # how often -f looks for new lines
LEVELS = {"TRACE": 5, "DEBUG": 10, "INFO": 20, "SUCCESS": 25, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
_TAIL_BLOCK = 64 * 1024


class LogError(RuntimeError):
    """No log to read; the message says where it was looked for."""


def log_path(data_dir: Path) -> Path:
    return Path(data_dir) / LOG_FILE


def readable(line: str) -> str | None:
    """One JSON log line as a person reads it; None for a line that is not one of loguru's."""
    try:
        record = json.loads(line)["record"]
        stamp = float(record["time"]["timestamp"])
        level = record["level"]["name"]
    except (ValueError, KeyError, TypeError):
        return None
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(stamp)) + f".{int(stamp * 1000) % 1000:03d} UTC"
    text = f"{when} {level:<8} {record.get('name', '')}: {record.get('message', '')}"
    exception = record.get("exception")
    if isinstance(exception, dict) and exception.get("type"):
        text += f" [{exception['type']}: {exception.get('value')}]"
    return text


def level_of(line: str) -> int:
    try:
        return int(json.loads(line)["record"]["level"]["no"])
    except (ValueError, KeyError, TypeError):
        return 0


def last_lines(path: Path, count: int) -> list[str]:
    """The last `count` lines of `path`, read backwards block by block."""
    if count <= 0:
        return []
    with path.open("rb") as f:
        position = f.seek(0, os.SEEK_END)
        data = b""
        while position > 0 and data.count(b"\n") <= count:
            step = min(_TAIL_BLOCK, position)
            position -= step
            f.seek(position)
            data = f.read(step) + data
    return [line for line in data.decode("utf-8", "replace").splitlines() if line.strip()][-count:]


def follow(path: Path, stop: Callable[[], bool] = lambda: False) -> Iterator[str]:
    """New lines of `path` as they are written, across rotations, until `stop()`."""
    handle = path.open("r", encoding="utf-8", errors="replace")
    handle.seek(0, os.SEEK_END)
    inode = os.fstat(handle.fileno()).st_ino
    partial = ""
    try:
        while not stop():
            chunk = handle.readline()
            if chunk:
                partial += chunk
                if partial.endswith("\n"):
                    yield partial
                    partial = ""
                continue
            try:
                current = os.stat(path)
            except FileNotFoundError:
                current = None  # being rotated: look again
            if current is not None and (current.st_ino != inode or current.st_size < handle.tell()):
                handle.close()
                handle = path.open("r", encoding="utf-8", errors="replace")
                inode = os.fstat(handle.fileno()).st_ino
                continue
            time.sleep(FOLLOW_POLL_S)
    finally:
        handle.close()


def run(data_dir: Path, *, lines: int, follow_: bool, level: str, as_json: bool,
        out: Callable[[str], Any] = print) -> int:
    path = log_path(data_dir)
    if level not in LEVELS:
        raise ValueError(f"--level {level} is none of {', '.join(LEVELS)}")
    if not path.exists():
        raise LogError(f"no log at {path}: give the service's --data-dir (the log is <data dir>/{LOG_FILE})")
    floor = LEVELS[level]

    def emit(line: str) -> None:
        if level_of(line) < floor:
            return
        shown = line.rstrip("\n") if as_json else readable(line)
        if shown is not None:
            out(shown)
            sys.stdout.flush()

    for line in _last_at_level(path, lines, floor):
        emit(line)
    if follow_:
        for line in follow(path):
            emit(line)
    return 0


def _last_at_level(path: Path, count: int, floor: int) -> list[str]:
    """The last `count` lines at `floor` or above (reads further back until it has them)."""
    want = count
    while True:
        lines = last_lines(path, want)
        kept = [line for line in lines if level_of(line) >= floor]
        if len(kept) >= count or len(lines) < want:
            return kept[-count:] if count else []
        want *= 4
