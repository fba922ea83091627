"""Logging: loguru, readable on stderr and JSON lines in a rotating file in the data dir.

pykka and other libraries log through the standard `logging` module; an intercepting
handler sends their records (an actor's unhandled exception, for one) to the same sinks.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from loguru import logger

STDERR_FORMAT = "<green>{time:HH:mm:ss.SSS}</green> <level>{level: <8}</level> <cyan>{name}</cyan> {message}"


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
        logger.add(sys.stderr, level=level, format=STDERR_FORMAT, backtrace=False, diagnose=False)
    if data_dir is not None:
        (data_dir / "logs").mkdir(parents=True, exist_ok=True)
        logger.add(data_dir / "logs" / "executor.jsonl", level="DEBUG", serialize=True, rotation="20 MB",
                   retention=10, enqueue=True, backtrace=False, diagnose=False)
    logging.basicConfig(handlers=[_InterceptHandler()], level=logging.INFO, force=True)
