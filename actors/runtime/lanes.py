"""Lane actors: many pykka actors sharing one thread, for the strategies.

A strategy is an actor: its own state, its own mailbox, one message at a time, supervised,
stopped and restarted alone. It need not be a thread. With a thread each, a closed bar woke
fifty threads, and they queued for the interpreter lock ahead of the Account that should be
sending the first of their orders: the profile showed ≈0.1 ms per strategy spent in thread
hand-overs and the order path starting only after the last strategy had run. On a lane the
strategies of a bar run back to back on one thread, and their intents reach the Account while
the lane is still working.

Only the strategies: the order path (Account, RiskGuard, Terminal, Gateway, MarketData) was
tried on the lane too, and measured worse (bar50 p99 ≈ 60-100 ms against ≈ 30-50 ms with
threads): a lane busy with a bar's strategies holds the interpreter lock for up to the switch
interval at a time, and the Journal's commit and the socket pump, which must stay threads,
waited behind it at every turn.

`LaneActor` is a pykka actor type built on pykka's extension points for new actor types
(`_create_actor_inbox`, `_create_future`, `_start_actor_loop`): its mailbox schedules the actor
on a `Lane` when a message arrives, and the lane's thread runs `on_start`, then the messages,
each with pykka's semantics (a reply to `ask`, `on_failure` on a crash, `_ActorStop`, the
remaining asks failed on stop). An actor on a lane must never block on another actor of its
lane (an `ask` would wait for itself); strategies only `tell`.

A message that runs for long holds up its lane: `Lanes.lane()` gives new actors a fresh lane
when the current one has been busy on one message for `STUCK_S`, and says which actor held it.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from typing import Any

import pykka
from loguru import logger
from pykka import ActorDeadError, ActorRegistry, messages as pykka_messages

STUCK_S = 2.0  # one message running this long: the lane is taken out of rotation for new actors
SLICE = 8  # messages an actor handles before the lane moves on, so one busy actor cannot hold it


class Lane:
    """One thread running the ready actors' messages in the order they became ready."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._ready: deque[LaneActor] = deque()
        self._wake = threading.Condition(threading.Lock())
        self.busy_with: str | None = None
        self.busy_since = 0.0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def schedule(self, actor: LaneActor) -> None:
        with self._wake:
            self._ready.append(actor)
            self._wake.notify()

    def stuck_for(self, now: float) -> float:
        return now - self.busy_since if self.busy_with is not None else 0.0

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._ready:
                    self._wake.wait()
                actor = self._ready.popleft()
            self.busy_since, self.busy_with = time.monotonic(), str(actor)
            try:
                actor._run_slice()  # noqa: SLF001 - the lane is the actor's loop
            finally:
                self.busy_with = None


class Lanes:
    """The lanes of one process; new actors go to the newest lane that is not stuck."""

    def __init__(self, prefix: str = "lane") -> None:
        self.prefix = prefix
        self._lock = threading.Lock()
        self._lanes: list[Lane] = []

    def lane(self) -> Lane:
        with self._lock:
            current = self._lanes[-1] if self._lanes else None
            if current is not None and (stuck := current.stuck_for(time.monotonic())) >= STUCK_S:
                logger.error("{} has been running one message of {} for {:.1f} s; new actors go to a new lane",
                             current.name, current.busy_with, stuck)
                current = None
            if current is None:
                current = Lane(f"{self.prefix}-{len(self._lanes) + 1}")
                self._lanes.append(current)
            return current


LANES = Lanes()


class LaneInbox:
    """An actor's mailbox that schedules its actor on the lane when work arrives."""

    def __init__(self) -> None:
        self._messages: deque[Any] = deque()
        self._lock = threading.Lock()
        self._scheduled = False
        self.actor: LaneActor | None = None

    def put(self, envelope: Any, /) -> None:
        with self._lock:
            self._messages.append(envelope)
            if self._scheduled or self.actor is None:
                return
            self._scheduled = True
        self.actor._lane.schedule(self.actor)  # noqa: SLF001

    def get(self) -> Any:
        with self._lock:
            return self._messages.popleft()

    def take(self, limit: int) -> list[Any]:
        with self._lock:
            return [self._messages.popleft() for _ in range(min(limit, len(self._messages)))]

    def empty(self) -> bool:
        with self._lock:
            return not self._messages

    def qsize(self) -> int:
        with self._lock:
            return len(self._messages)

    def release(self) -> bool:
        """After a slice: True if more messages wait (the actor stays scheduled)."""
        with self._lock:
            self._scheduled = bool(self._messages)
            return self._scheduled

    def start(self, actor: LaneActor) -> None:
        with self._lock:
            self.actor = actor
            self._scheduled = True  # the first slice runs on_start, then whatever is queued
        actor._lane.schedule(actor)  # noqa: SLF001


class LaneActor(pykka.Actor):
    """A pykka actor whose loop is a lane's thread shared with other lane actors."""

    lanes: Lanes = LANES

    @staticmethod
    def _create_actor_inbox() -> LaneInbox:
        return LaneInbox()

    @staticmethod
    def _create_future() -> pykka.Future[Any]:
        return pykka.ThreadingFuture()

    def _start_actor_loop(self) -> None:
        self._lane = self.lanes.lane()
        self._lane_started = False
        self.actor_inbox.start(self)

    def _run_slice(self) -> None:
        inbox = self.actor_inbox
        if not self._lane_started:
            self._lane_started = True
            self._actor_loop_setup()  # on_start; a failure stops the actor as on a thread
        for envelope in inbox.take(SLICE):
            if self.actor_stopped.is_set():
                self._refuse(envelope)
                continue
            self._handle(envelope)
        if self.actor_stopped.is_set():
            self._actor_loop_teardown()  # the asks still queued fail with ActorDeadError
            inbox.release()
            return
        if inbox.release():
            self._lane.schedule(self)

    def _handle(self, envelope: Any) -> None:
        # pykka's actor loop for one message: the reply, or on_failure and the stop.
        try:
            response = self._handle_receive(envelope.message)
            if envelope.reply_to is not None:
                envelope.reply_to.set(response)
        except Exception:
            if envelope.reply_to is not None:
                envelope.reply_to.set_exception()
            else:
                self._handle_failure(*sys.exc_info())
                try:
                    self.on_failure(*sys.exc_info())
                except Exception:  # noqa: BLE001
                    self._handle_failure(*sys.exc_info())
        except BaseException:  # noqa: BLE001 - as pykka: an interpreter exit stops every actor
            logger.debug("{!r} in {}; stopping all actors", sys.exc_info()[1], self)
            self._stop()
            ActorRegistry.stop_all()

    @staticmethod
    def _refuse(envelope: Any) -> None:
        if envelope.reply_to is None:
            return
        if isinstance(envelope.message, pykka_messages._ActorStop):  # noqa: SLF001 - a second stop: done
            envelope.reply_to.set(None)
            return
        envelope.reply_to.set_exception(exc_info=(ActorDeadError, ActorDeadError("actor stopped"), None))
