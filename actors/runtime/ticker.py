"""A metronome for actors: pykka has no timers, so a small thread tells `Tick` periodically.

Actors with deadlines (heartbeats, request timeouts, reply timeouts, retries) own one,
start it in `on_start` and stop it in `on_stop`. A tick that finds the actor gone stops the
ticker. Handlers must be idempotent per tick: they compare deadlines with the clock, so a
late or doubled tick does no harm.
"""

from __future__ import annotations

import threading
import time

import pykka

from actors.messages import Tick


class Ticker:
    def __init__(self, ref: pykka.ActorRef, interval: float) -> None:
        self._ref = ref
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"ticker-{ref.actor_class.__name__}", daemon=True)

    def start(self) -> Ticker:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(2.0)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._ref.tell(Tick(now=time.monotonic()))
            except pykka.ActorDeadError:
                return
