"""Logging: loguru, readable on stderr and JSON lines in a rotating file in the data dir.

pykka and other libraries log through the standard `logging` module; an intercepting
handler sends their records (an actor's unhandled exception, for one) to the same sinks.

A traceback is for the developer: stderr shows an exception as one line (its type and text)
unless the level is DEBUG or TRACE; the JSON file always keeps the whole traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from loguru import logger

STDERR_FORMAT = "<green>{time:HH:mm:ss.SSS}</green> <level>{level: <8}</level> <cyan>{name}</cyan> {message}"
VERBOSE_LEVELS = ("TRACE", "DEBUG")
LOG_FILE = Path("logs") / "executor.jsonl"
LOG_ROTATION = "20 MB"  # a new file past this size; `run.py doctor` reports both
LOG_RETENTION = 10  # rotated files kept


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


class _InterceptHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.opt(depth=6, exception=record.exc_info).log(level, record.getMessage())


def setup_logging(data_dir: Path | None, level: str = "INFO", *, stderr: bool = True) -> None:
    logger.remove()
    if stderr:
        logger.add(sys.stderr, level=level, format=stderr_format(level), backtrace=False, diagnose=False)
    if data_dir is not None:
        (data_dir / LOG_FILE).parent.mkdir(parents=True, exist_ok=True)
        logger.add(data_dir / LOG_FILE, level="DEBUG", serialize=True, rotation=LOG_ROTATION,
                   retention=LOG_RETENTION, enqueue=True, backtrace=False, diagnose=False)
    logging.basicConfig(handlers=[_InterceptHandler()], level=logging.INFO, force=True)
