"""One service per data dir: an operating-system lock on `<data dir>/service.lock`.

Two executors on one journal would interleave their writes and both trade the same
accounts. The lock is the OS's own (`fcntl.flock` on POSIX, `msvcrt.locking` on Windows,
where the product also runs), held as long as the file stays open, so the OS releases it
when the process ends in any way, `kill -9` and power loss included: a stale lock file
never blocks a restart. The file also records the holder's PID, for the one line that
tells a second service (or `run.py restore`) who holds it.

Windows locks are mandatory: a locked byte cannot even be read by another process. So the
lock is taken on one byte far past the PID (`_WINDOWS_LOCK_OFFSET`), and the PID at the
start of the file stays readable.
"""

from __future__ import annotations

import os
from pathlib import Path

LOCK_NAME = "service.lock"
_WINDOWS_LOCK_OFFSET = 1 << 30


class DataDirBusy(RuntimeError):
    """Another process holds the data dir; `pid` is its PID when it could be read."""

    def __init__(self, data_dir: Path, pid: int | None) -> None:
        self.data_dir, self.pid = data_dir, pid
        holder = f"the service with PID {pid}" if pid else "another service"
        super().__init__(f"data dir {data_dir} is in use by {holder} ({data_dir / LOCK_NAME}); "
                         "stop that service first, or give this one its own --data-dir")


class DataDirLock:
    """`acquire()` or DataDirBusy; `release()` (also on close of the process)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> DataDirLock:
        if self._fd is not None:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Opened without truncating: the holder's PID must survive our failed attempt.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock(fd)
        except OSError:
            pid = _read_pid(fd)
            os.close(fd)
            raise DataDirBusy(self.data_dir, pid) from None
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)  # no PID left behind to mislead a reader
            _unlock(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> DataDirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 32).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


if os.name == "nt":
    import msvcrt

    def _lock(fd: int) -> None:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # OSError when another process holds it

    def _unlock(fd: int) -> None:
        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError when held

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
