"""Logging: loguru, readable on stderr and JSON lines in a rotating file in the data dir.

pykka and other libraries log through the standard `logging` module; an intercepting
handler sends their records (an actor's unhandled exception, for one) to the same sinks.

A traceback is for the developer: stderr shows an exception as one line (its type and text)
unless the level is DEBUG or TRACE; the JSON file always keeps the whole traceback.

The JSON file is written by a thread of its own (`_FileWriter`): a line costs the actor that
logs it the record loguru makes and a queue put, never its JSON, a file write, a rotation, or
a wait behind a slow disk. (loguru's `enqueue=True` pickles every line through a
multiprocessing pipe, about four times dearer, and the order path logs every event.) The
writer wakes at most every WRITE_EVERY_S, so a burst of orders is not competing with it for
the interpreter, turns what is waiting into loguru's own JSON lines (`serialize=True`'s) and
writes them at once through loguru's own file sink: same file, same rotation and retention.
"""

from __future__ import annotations

import atexit
import copy
import logging
import queue
import sys
import threading
import time
from pathlib import Path
from typing import Any

from loguru import logger
from loguru._handler import Handler  # its _serialize_record: the JSON of serialize=True, made in the writer

STDERR_FORMAT = "<green>{time:HH:mm:ss.SSS}</green> <level>{level: <8}</level> <cyan>{name}</cyan> {message}"
VERBOSE_LEVELS = ("TRACE", "DEBUG")
LOG_FILE = Path("logs") / "executor.jsonl"
LOG_ROTATION = "20 MB"  # a new file past this size; `run.py doctor` reports both
LOG_RETENTION = 10  # rotated files kept
WRITE_EVERY_S = 0.05  # the writer's pace: lines reach the file at most this late (and at exit)


def stderr_format(level: str):
    """The stderr sink's format: with the traceback at a verbose level, one line otherwise."""
    verbose = str(level).upper() in VERBOSE_LEVELS

    def format_(record: dict) -> str:
        if record["exception"] is None or record["exception"].type is None:
            return STDERR_FORMAT + "\n"
        if verbose:
            return STDERR_FORMAT + "\n{exception}\n"
        exception = record["exception"]
        # In the format string {exception} is the whole traceback: the one line goes through extra.
        record["extra"]["exception_line"] = f"{exception.type.__name__}: {exception.value}"
        return STDERR_FORMAT + " <red>[{extra[exception_line]}]</red>\n"
    return format_


class _FileWriter:
    """The JSON lines file, written from its own thread; `put` is the sink the logger calls."""

    _STOP = object()

    def __init__(self, path: Path) -> None:
        # An independent logger (loguru's documented way: a deep copy of the logger while it has
        # no handler) whose one handler is the rotating file; lines go out raw, as serialized here.
        self._file = copy.deepcopy(logger)
        self._file.add(path, level=0, format="{message}", rotation=LOG_ROTATION, retention=LOG_RETENTION,
                       backtrace=False, diagnose=False, catch=True)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self._thread.start()

    def put(self, message: Any) -> None:
        """The sink: loguru's formatted text (its default format) with its record. `extra` is
        copied now: another sink's formatting may add to it after this one."""
        record = message.record
        self._queue.put((str(message), {**record, "extra": dict(record["extra"])}))

    def flush(self, timeout_s: float = 5.0) -> None:
        """Return once every line logged before the call is in the file."""
        written = threading.Event()
        self._queue.put(written)
        written.wait(timeout_s)

    def stop(self) -> None:
        """Write what is waiting, then end the thread."""
        if self._thread.is_alive():
            self._queue.put(self._STOP)
            self._thread.join(5.0)
        self._file.remove()

    def _run(self) -> None:
        while True:
            items = [self._queue.get()]
            time.sleep(WRITE_EVERY_S)  # what the next moments log joins this write
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(item is self._STOP for item in items)
            flushes = [item for item in items if isinstance(item, threading.Event)]
            text = "".join(Handler._serialize_record(text, record) for item in items if isinstance(item, tuple)
                           for text, record in (item,))
            if text:
                self._file.opt(raw=True).log("DEBUG", text)
            for written in flushes:
                written.set()
            if stop:
                return


_writer: _FileWriter | None = None


def _stop_writer() -> None:
    global _writer
    if _writer is not None:
        _writer.stop()
        _writer = None


atexit.register(_stop_writer)


def flush_logs() -> None:
    """Everything logged so far is in the log file when this returns (a service stopping in a
    process that goes on, as in the tests, must leave its last lines readable)."""
    if _writer is not None:
        _writer.flush()


class _InterceptHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(depth=6, exception=record.exc_info).log(level, record.getMessage())


def setup_logging(data_dir: Path | None, level: str = "INFO", *, stderr: bool = True) -> None:
    global _writer
    logger.remove()
    _stop_writer()
    if data_dir is not None:  # first: the writer's logger is a copy of this one while it has no handler
        (data_dir / LOG_FILE).parent.mkdir(parents=True, exist_ok=True)
        _writer = _FileWriter(data_dir / LOG_FILE)
        logger.add(_writer.put, level="DEBUG", backtrace=False, diagnose=False)  # loguru's default format
    if stderr:
        logger.add(sys.stderr, level=level, format=stderr_format(level), backtrace=False, diagnose=False)
    logging.basicConfig(handlers=[_InterceptHandler()], level=logging.INFO, force=True)
