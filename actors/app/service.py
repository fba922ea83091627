"""The executor as one object: start the supervision tree (and the embedded simulator), wait,
stop in reverse order. `run.py service` and the tests use exactly this.

It holds its data dir for its whole life (`data_dir_lock`: one service per journal) and
leaves its configuration there as it runs (`running-config.json`, which backups carry). The
embedded simulated terminal keeps its paper account in the data dir too, so a restart
continues it (`config.sim_options`); `sim_reset` starts a fresh one on purpose.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pykka
from loguru import logger

from actors import messages as m
from actors.app.config import ServiceConfig, file_values, sim_options
from actors.app.data_dir_lock import DataDirLock
from actors.app.logs import flush_logs
from actors.journal.backup import RUNNING_CONFIG
from actors.app import curve_setup
from actors.control.keys import KeysError, ensure_keys, key_path
from actors.runtime.curve_keys import CurveKeysError
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
    def __init__(self, config: ServiceConfig, sim_factory: Callable[[ServiceConfig], SimTerminal] | None = None,
                 *, sim_reset: bool = False) -> None:
        """`sim_factory` builds a custom simulated terminal (the replay's); default: from config.sim,
        continuing its saved paper account unless `sim_reset`."""
        self.config = config
        self._sim_factory = sim_factory
        self._sim_reset = sim_reset
        self.lock = DataDirLock(config.data_dir)
        self.directory = Directory()
        self.board = StatusBoard()
        self.gate = KillGate()
        self.fatal = threading.Event()
        # Codes used are journaled (the Supervisor restores the last one at start) against replay.
        self.otp = OtpVerifier(None, persist=lambda step: self.directory.tell("journal", m.SaveOtpStep(step=step)))
        self.supervisor: pykka.ActorRef | None = None
        self.sim: SimTerminal | None = None

    def start(self) -> Service:
        """DataDirBusy if another service holds the data dir; ServiceError if it cannot start."""
        self.lock.acquire()  # first: nothing of the data dir is touched by a second service
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> Service:
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        _write_json(self.config.data_dir / RUNNING_CONFIG, file_values(self.config))
        self.otp.secret = read_secret(self.config.data_dir)
        if self.config.control_auth:
            try:
                if ensure_keys(self.config.data_dir):
                    logger.info("control key created at {} (admin); `run.py ctl --data-dir {}` signs with it",
                                key_path(self.config.data_dir), self.config.data_dir)
            except (KeysError, OSError) as exc:
                raise ServiceError(f"control keys: {exc}") from None
        try:
            curve_setup.ensure_keys(self.config)
        except (CurveKeysError, OSError) as exc:
            raise ServiceError(f"CURVE keys: {exc}") from None
        self.supervisor = Supervisor.start(config=self.config, directory=self.directory, board=self.board,
                                           gate=self.gate, fatal=self.fatal, otp=self.otp)
        try:
            self.supervisor.ask(m.Ping(), timeout=START_TIMEOUT_S)
        except (pykka.ActorDeadError, pykka.Timeout):
            raise ServiceError(self.directory.start_error("supervisor") or "the supervisor did not start") from None
        if self._sim_factory is not None or self.config.sim is not None:
            try:  # a bad broker, symbols or calendar file fails here, with the file's own message
                self.sim = (self._sim_factory or (partial(_default_sim, reset=True) if self._sim_reset
                                                  else _default_sim))(self.config)
                self.sim.start()
                if notice := getattr(self.sim, "closed_notice", lambda: None)():
                    logger.warning(notice)
            except Exception as exc:
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
        if self.lock.held:
            self.lock.release()
            logger.info("executor stopped")
        flush_logs()

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _default_sim(config: ServiceConfig, *, reset: bool = False) -> SimTerminal | PaperTerminal:
    return build_terminal(ctl_endpoint=config.ea_ctl_endpoint, md_endpoint=config.ea_md_endpoint,
                          curve=curve_setup.sim_curve(config), **sim_options(config, reset=reset))


def _write_json(path: Path, values: dict) -> None:
    """Replace `path` whole (a reader, a backup, never sees half a file)."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(values, indent=2, sort_keys=True) + "\n")
    os.replace(temporary, path)
