"""The executor as one object: start the supervision tree (and the embedded simulator), wait,
stop in reverse order. `run.py service` and the tests use exactly this.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pykka
from loguru import logger

from actors import messages as m
from actors.app.config import ServiceConfig
from actors.runtime.confirmation import OtpVerifier, read_secret
from actors.runtime.directory import Directory
from actors.runtime.kill_switch import KillGate
from actors.runtime.status_board import StatusBoard
from actors.app.supervisor import Supervisor
from bridge.sim.options import build_terminal
from bridge.sim.paper_terminal import PaperTerminal
from bridge.sim.terminal import SimTerminal

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0


class ServiceError(RuntimeError):
    """The executor could not start; the message says why in one line."""


class Service:
    def __init__(self, config: ServiceConfig, sim_factory: Callable[[ServiceConfig], SimTerminal] | None = None) -> None:
        """`sim_factory` builds a custom simulated terminal (the replay's); default: from config.sim."""
        self.config = config
        self._sim_factory = sim_factory
        self.directory = Directory()
        self.board = StatusBoard()
        self.gate = KillGate()
        self.fatal = threading.Event()
        # Codes used are journaled (the Supervisor restores the last one at start) against replay.
        self.otp = OtpVerifier(None, persist=lambda step: self.directory.tell("journal", m.SaveOtpStep(step=step)))
        self.supervisor: pykka.ActorRef | None = None
        self.sim: SimTerminal | None = None

    def start(self) -> Service:
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        self.otp.secret = read_secret(self.config.data_dir)
        self.supervisor = Supervisor.start(config=self.config, directory=self.directory, board=self.board,
                                           gate=self.gate, fatal=self.fatal, otp=self.otp)
        try:
            self.supervisor.ask(m.Ping(), timeout=START_TIMEOUT_S)
        except (pykka.ActorDeadError, pykka.Timeout):
            raise ServiceError(self.directory.start_error("supervisor") or "the supervisor did not start") from None
        if self._sim_factory is not None or self.config.sim is not None:
            try:  # a bad broker, symbols or calendar file fails here, with the file's own message
                self.sim = (self._sim_factory or _default_sim)(self.config)
                self.sim.start()
                if notice := getattr(self.sim, "closed_notice", lambda: None)():
                    logger.warning(notice)
            except Exception as exc:
                self.stop()
                raise ServiceError(f"simulated terminal failed to start: {exc}") from exc
        logger.info("executor running: control {}, events {}{}", self.config.control_endpoint,
                    self.config.events_endpoint,
                    f", simulated terminal {self.sim.login} at {self.sim.clock.speed:g}x" if self.sim else
                    f", waiting for EAs on {self.config.ea_ctl_endpoint}")
        return self

    def wait(self, stop_requested: threading.Event) -> int:
        """Block until a stop is requested (0) or the supervisor gives up (1)."""
        while not stop_requested.wait(0.2):
            if self.fatal.is_set():
                logger.critical("supervisor escalated; stopping with exit code 1 so the service manager restarts us")
                return 1
        return 0

    def stop(self) -> None:
        if self.sim is not None:
            self.sim.stop()
            self.sim = None
        if self.supervisor is not None:
            try:
                self.supervisor.stop(timeout=STOP_TIMEOUT_S)
            except pykka.ActorDeadError:
                pass
            self.supervisor = None
        logger.info("executor stopped")

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _default_sim(config: ServiceConfig) -> SimTerminal | PaperTerminal:
    return build_terminal(ctl_endpoint=config.ea_ctl_endpoint, md_endpoint=config.ea_md_endpoint,
                          **config.sim.terminal_options())
