"""Supervision building blocks (Erlang/OTP semantics; pykka has none of its own).

`RestartIntensity` is the pure rule "at most N restarts in W seconds". `Supervised` (on its own
thread) and `LaneSupervised` (on a shared lane) are what every supervised actor derives from so
that a crash is reported to its parent; because pykka skips `on_failure` when `on_start`
raises, parents also poll `is_alive()`.
"""

from __future__ import annotations

import functools
import queue
import time
from collections import deque
from types import TracebackType

import pykka
from loguru import logger

from actors import messages as m
from actors.runtime.directory import Directory
from actors.runtime.lanes import LaneActor
from actors.runtime.mailbox import LanedInbox


def stop_actor(directory: Directory, name: str, ref: pykka.ActorRef | None, timeout: float) -> None:
    """Unregister and stop a child; a child that will not stop in time is abandoned, logged."""
    if ref is None:
        return
    directory.unregister(name, ref)
    try:
        ref.stop(timeout=timeout)
    except pykka.ActorDeadError:
        pass
    except pykka.Timeout:
        logger.error("{} did not stop within {} s; abandoned", name, timeout)


class RestartIntensity:
    def __init__(self, max_restarts: int = 3, window_s: float = 60.0) -> None:
        self.max_restarts = max_restarts
        self.window_s = window_s
        self._times: deque[float] = deque()

    def allow(self, now: float | None = None) -> bool:
        """Record a failure; False once the failures within the window exceed the limit."""
        now = time.monotonic() if now is None else now
        self._times.append(now)
        while self._times and now - self._times[0] > self.window_s:
            self._times.popleft()
        return len(self._times) <= self.max_restarts

    @property
    def recent(self) -> int:
        return len(self._times)


class _Supervision:
    """What makes an actor supervised, on whichever loop it runs (a thread or a lane)."""

    def __init__(self, *, name: str, parent: str, directory: Directory) -> None:
        super().__init__()
        self.name = name
        self.parent = parent
        self.directory = directory

    def __init_subclass__(cls, **kwargs: object) -> None:
        # Wrap each subclass's on_start. pykka neither calls on_failure nor tells anyone
        # when on_start raises; the parent only sees a dead actor. Record why, so the
        # parent can say it in one line.
        super().__init_subclass__(**kwargs)
        original = cls.__dict__.get("on_start")
        if original is None:
            return

        @functools.wraps(original)
        def on_start(self: _Supervision) -> None:
            # Registered before on_start runs, so replies to what on_start asks for find us.
            self.directory.register(self.name, self.actor_ref)
            try:
                original(self)
            except Exception as exc:
                self.directory.record_start_error(self.name, f"{type(exc).__name__}: {exc}")
                raise

        cls.on_start = on_start

    def on_receive(self, message: object) -> object:
        if isinstance(message, m.Ping):
            return True
        return super().on_receive(message)

    def on_failure(self, exception_type: type[BaseException] | None, exception_value: BaseException | None,
                   traceback: TracebackType | None) -> None:
        logger.opt(exception=(exception_type, exception_value, traceback)).error("{} crashed", self.name)
        self.directory.tell(self.parent, m.ActorFailed(name=self.name, error=repr(exception_value)))


class Supervised(_Supervision, pykka.ThreadingActor):
    """An actor on its own thread whose crash is told to its parent as `ActorFailed(name, error)`."""

    urgent_messages: tuple[type, ...] = ()  # handled ahead of the rest of its mailbox (actors.runtime.mailbox)

    @classmethod
    def _create_actor_inbox(cls) -> queue.Queue:
        return LanedInbox(cls.urgent_messages) if cls.urgent_messages else queue.Queue()


class LaneSupervised(_Supervision, LaneActor):
    """The same on a shared lane thread (actors.runtime.lanes): for many small actors, the strategies."""
