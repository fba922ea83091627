"""The root Supervisor: starts the actors in order, restarts the ones that crash, owns the
kill switch, and stops everything in reverse order.

Core actors start in dependency order (Journal, Gateway, MarketData, ControlServer, the
strategy supervisor, the journal's BackupSchedule), each confirmed alive with a `Ping`
before the next. Each account's actors (RiskGuard, Account, Terminal) start when its EA
first says hello and take their place before MarketData. A crashed actor is restarted
together with every actor started after it (rest_for_one, at most 3 restarts in 60 s); past
that the supervisor escalates: it engages the kill switch and marks the service fatal, so
the process exits non-zero and the OS service manager restarts it into a clean
reconciliation. The kill switch is on disk before that exit, whatever failed.

The kill switch's flatten (actors/app/flattening.py) waits only for accounts it can reach:
one whose link is down is named in the reply at once, journaled as pending, and flattened
as soon as it is linked and reconciled again.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pykka
from loguru import logger

from actors import errors
from actors import messages as m
from actors.account.account import Account
from actors.app.flattening import Flattening, Round
from actors.runtime.confirmation import OtpVerifier
from actors.control.server import ControlServer
from actors.app.curve_setup import control_guard, ea_guard
from actors.journal.audit import Sampler
from actors.control.keys import KeyStore
from actors.control.rate_limits import RateLimits
from actors.runtime.directory import Directory
from actors.runtime.generations import Generations
from actors.terminal.gateway import Gateway
from actors.journal.backup import BACKUPS
from actors.journal.backup_schedule import BackupSchedule
from actors.journal.journal import Journal
from actors.journal.kill_switch_file import write_kill_switch
from actors.runtime.kill_switch import KillGate, KillSwitchState
from actors.terminal.market_data import MarketData
from actors.risk.guard import RiskGuard
from actors.runtime.status_board import StatusBoard
from actors.strategy.supervisor import StrategySupervisor
from actors.runtime.supervision import RestartIntensity, stop_actor
from actors.runtime.watch import HUNG, PING, MailboxWatch, PingWatch
from actors.terminal.terminal import Terminal
from actors.runtime.ticker import Ticker

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


@dataclass
class Child:
    name: str
    start: Callable[[], pykka.ActorRef]
    ref: pykka.ActorRef | None = None


class Supervisor(pykka.ThreadingActor):
    def __init__(self, *, config: Any, directory: Directory, board: StatusBoard, gate: KillGate,
                 fatal: threading.Event, otp: OtpVerifier | None = None) -> None:
        super().__init__()
        self.otp = otp or OtpVerifier(None)
        self.config = config
        self.directory = directory
        self.board = board
        self.gate = gate
        self.fatal = fatal
        self.children: list[Child] = []
        self.intensity = RestartIntensity(3, 60.0)
        self.kill = KillSwitchState()
        self.flattening = Flattening()
        self.started = time.monotonic()
        self.state = "starting"
        self.ticker: Ticker | None = None
        self.generations = Generations()  # each Account start numbered; its Terminal refuses older numbers
        # Hung children (pings unanswered) and deep mailboxes: actors/runtime/watch.py.
        self.pings = PingWatch()
        self.mailboxes = MailboxWatch(getattr(config, "mailbox_warn_depth", MailboxWatch.warn_depth))
        self.ping_every_s = float(getattr(config, "ping_every_s", 2.0))
        self._ping_futures: dict[str, pykka.Future] = {}
        self._next_ping_at = 0.0
        self._depths: dict[str, int] = {}

    # --- lifecycle ---
    def on_start(self) -> None:
        self.directory.register("supervisor", self.actor_ref)
        try:
            self._start_core()
        except Exception as exc:
            # pykka will not call on_stop after a failed on_start: undo what did start.
            self.directory.record_start_error("supervisor", str(exc))
            for child in reversed(self.children):
                self._stop_child(child)
            raise
        self.state = "running"
        self.ticker = Ticker(self.actor_ref, 1.0).start()
        self._post()

    def _start_core(self) -> None:
        c, d, b = self.config, self.directory, self.board
        self._start_child(Child("journal", lambda: Journal.start(c.data_dir / "journal.sqlite3", d)))
        self.kill = self.directory.ask("journal", m.LoadKillSwitch(), timeout=STOP_TIMEOUT_S)
        if self.kill.active:
            self.gate.trip(self.kill.reason)
            logger.warning("kill switch is engaged ({}); trading locked until {}", self.kill.reason,
                           _iso(self.kill.locked_until))
            self.flattening = Flattening(self.kill.flatten_pending)
            if self.kill.flatten_pending:
                logger.warning("kill switch: accounts {} are still to be flattened; each is flattened once its "
                               "terminal is back", list(self.kill.flatten_pending))
        self.otp.restore(self.directory.ask("journal", m.LoadOtpStep(), timeout=STOP_TIMEOUT_S))
        self._start_child(Child("gateway", lambda: Gateway.start(ctl_endpoint=c.ea_ctl_endpoint,
                                                                 md_endpoint=c.ea_md_endpoint, directory=d,
                                                                 guard=ea_guard(c))))
        self._start_child(Child("market_data", lambda: MarketData.start(directory=d, board=b)))
        self._start_child(Child("control", lambda: ControlServer.start(
            control_endpoint=c.control_endpoint, events_endpoint=c.events_endpoint, directory=d, board=b,
            gate=self.gate, otp=self.otp, keys=KeyStore(c.data_dir) if c.control_auth else None,
            rate_limits=RateLimits(c.rate_limits), guard=control_guard(c),
            audit_sampler=Sampler(c.audit_reads_every_s))))
        self._start_child(Child("strategies", lambda: StrategySupervisor.start(directory=d, board=b)))
        self._start_child(Child("backups", lambda: BackupSchedule.start(
            data_dir=c.data_dir, into=c.data_dir / BACKUPS, every_s=c.backup_every_s, keep=c.backup_keep,
            directory=d)))

    def on_stop(self) -> None:
        self.state = "stopping"
        if self.ticker:
            self.ticker.stop()
        for child in reversed(self.children):
            self._stop_child(child)
        self.directory.unregister("supervisor", self.actor_ref)

    def on_failure(self, *exc_info: Any) -> None:
        logger.opt(exception=exc_info).critical("supervisor crashed")
        self.fatal.set()

    def _start_child(self, child: Child) -> None:
        """Start and confirm alive; a core actor that cannot start stops the service start."""
        child.ref = child.start()
        self.directory.register(child.name, child.ref)
        if child not in self.children:
            self._place(child)  # before the ping: a failed start is still stopped
        try:
            child.ref.ask(m.Ping(), timeout=START_TIMEOUT_S)
        except (pykka.ActorDeadError, pykka.Timeout) as exc:
            why = self.directory.start_error(child.name) or "see the log above"
            raise RuntimeError(f"{child.name} failed to start: {why}") from exc

    def _place(self, child: Child) -> None:
        """Start order is RELIABILITY.md's: journal, gateway, then each account's RiskGuard,
        Account and Terminal, then MarketData, ControlServer and the strategies."""
        if child.name.split(":")[0] in ("risk", "account", "terminal"):
            first_after_accounts = next((i for i, c in enumerate(self.children) if c.name == "market_data"),
                                        len(self.children))
            self.children.insert(first_after_accounts, child)
        else:
            self.children.append(child)

    def _stop_child(self, child: Child) -> None:
        ref, child.ref = child.ref, None
        stop_actor(self.directory, child.name, ref, STOP_TIMEOUT_S)

    # --- messages ---
    def on_receive(self, message: Any) -> Any:
        match message:
            case m.TerminalDiscovered(account=login):
                self._start_account(login)
            case m.ActorFailed(name=name, error=error):
                self._on_failure(name, error)
            case m.Tick():
                self._poll()
            case m.EmergencyStop():
                self._emergency_stop(message)
            case m.AccountFlattened():
                self._on_flattened(message)
            case m.ResetKillSwitch(corr=corr):
                self._reset_kill_switch(corr)
            case m.Ping():
                return True
            case _:
                return super().on_receive(message)
        return None

    def _start_account(self, login: int) -> None:
        d, b = self.directory, self.board
        if self.directory.get(f"terminal:{login}") is None:
            for child in (Child(f"risk:{login}", lambda: RiskGuard.start(login=login, directory=d, board=b,
                                                                           gate=self.gate, otp=self.otp,
                                                                           defaults=self.config.risk_limits,
                                                                           lock_s=self.config.kill_lock_s)),
                          Child(f"account:{login}", lambda: Account.start(
                              login=login, directory=d, board=b, orphans=self.config.reconcile_orphans,
                              generation=self.generations.begin(f"account:{login}"))),
                          Child(f"terminal:{login}", lambda: Terminal.start(login=login, directory=d, board=b,
                                                                            gate=self.gate,
                                                                            generations=self.generations))):
                try:
                    self._start_child(child)
                except RuntimeError as exc:
                    logger.error("account {}: {}", login, exc)
                    return
        self.directory.tell("gateway", m.TerminalDiscovered(account=login))

    # --- supervision ---
    def _poll(self) -> None:
        for child in self.children:
            if child.ref is not None and not child.ref.is_alive():
                self._on_failure(child.name, "actor died")
        if self.state == "running":
            self._watch(time.monotonic())
            self._flatten_tick()

    def _watch(self, now: float) -> None:
        """Mailbox depths every second (STATUS, a warning past the threshold); pings every
        `ping_every_s`: a child that leaves MISSED_LIMIT of them unanswered is hung, and replaced."""
        depths = {c.name: c.ref.actor_inbox.qsize() for c in self.children if c.ref is not None}
        for name in self.mailboxes.check(depths):
            logger.warning("{} has {} messages waiting in its mailbox (threshold {})", name, depths[name],
                           self.mailboxes.warn_depth)
        if depths != self._depths:
            self._depths = depths
            self._post()
        if now < self._next_ping_at:
            return
        self._next_ping_at = now + self.ping_every_s
        for child in list(self.children):
            if child.ref is None:
                continue
            verdict = self.pings.beat(child.name, self._answered(child.name))
            if verdict == PING:
                self._ping_futures[child.name] = child.ref.ask(m.Ping(), block=False)
            elif verdict == HUNG:
                return self._hung(child, depths.get(child.name, 0))
            elif self.pings.missed[child.name] > 1:
                logger.warning("{} has not answered a ping for {:g} s ({} messages waiting)", child.name,
                               self.pings.missed[child.name] * self.ping_every_s, depths.get(child.name, 0))

    def _answered(self, name: str) -> bool:
        future = self._ping_futures.get(name)
        if future is None:
            return True
        try:
            future.get(timeout=0)
        except pykka.Timeout:
            return False
        except Exception:  # noqa: BLE001 - dead: the is_alive poll deals with it
            pass
        return True

    def _hung(self, child: Child, depth: int) -> None:
        """Replaced like a crashed child (rest_for_one); its thread cannot be killed and is left
        with a stop to find if it ever wakes, fenced off from trading by its generation."""
        ref = child.ref
        logger.error("{} is hung: {} pings unanswered in {:g} s ({} messages waiting); replacing it", child.name,
                     self.pings.limit, self.pings.limit * self.ping_every_s, depth)
        self.directory.unregister(child.name, ref)
        child.ref = None
        try:
            ref.stop(block=False)
        except pykka.ActorDeadError:
            pass
        self._restart(child.name, "hung: pings unanswered")

    def _on_failure(self, name: str, error: str) -> None:
        """rest_for_one: restart the crashed child and every child started after it, since
        those may hold references to, or subscriptions with, the one that died."""
        index = next((i for i, c in enumerate(self.children) if c.name == name), None)
        if index is None or self.state != "running":
            return
        child = self.children[index]
        if child.ref is None or child.ref.is_alive():
            return
        self.directory.unregister(name, child.ref)
        child.ref = None
        self._restart(name, error)

    def _restart(self, name: str, error: str) -> None:
        index = next(i for i, c in enumerate(self.children) if c.name == name)
        for child in self.children[index:]:
            self.pings.forget(child.name)
            self._ping_futures.pop(child.name, None)
        if not self.intensity.allow():
            return self._escalate(f"{name} crashed ({error}) and restarts exceeded 3 in 60 s")
        later = self.children[index + 1:]
        logger.warning("{} crashed ({}); restarting it and {}", name, error, [c.name for c in later] or "nothing else")
        for other in reversed(later):
            self._stop_child(other)
        try:
            for restarted in self.children[index:]:
                self._start_child(restarted)
        except RuntimeError as exc:
            self._escalate(str(exc))

    def _escalate(self, why: str) -> None:
        logger.critical("escalating: {}; engaging the kill switch and stopping the service", why)
        self._engage(f"supervisor escalation: {why}")
        self._commit_kill_switch()
        self.state = "failed"
        self._post()
        self.fatal.set()

    # --- kill switch ---
    def _engage(self, reason: str) -> None:
        self.gate.trip(reason)
        if self.kill.active:
            return
        self.kill = self.kill.engage(reason, _now_ms(), self.config.kill_lock_s)
        logger.critical("KILL SWITCH engaged: {}; trading locked until {}", reason, _iso(self.kill.locked_until))
        event = m.KillSwitchEngaged(reason=reason, locked_until=self.kill.locked_until, engaged_at=self.kill.engaged_at)
        self.directory.publish(event)
        self.directory.tell("backups", event)  # the journal as it stood when trading stopped
        self._post()

    def _commit_kill_switch(self) -> None:
        """The process exits next: the lock must be committed now. A read commits the
        Journal's group first; when the Journal is what failed, the row is written directly."""
        if not self.kill.active:
            return
        try:
            if self.directory.ask("journal", m.LoadKillSwitch(), timeout=STOP_TIMEOUT_S).active:
                return
        except Exception as exc:  # noqa: BLE001 - dead, hung or failing: write it ourselves
            logger.error("the journal cannot record the kill switch ({}); writing it directly", exc)
        path = self.config.data_dir / "journal.sqlite3"
        try:
            write_kill_switch(path, dataclasses.replace(self.kill, flatten_pending=tuple(self.flattening.pending)))
            logger.critical("kill switch written to {}: the next start stays locked until {}", path,
                            _iso(self.kill.locked_until))
        except Exception as exc:  # noqa: BLE001 - nothing else to try; said loudly
            logger.critical("the kill switch could NOT be written to {} ({}); after the restart engage it again "
                            "(EMERGENCY_STOP)", path, exc)

    def _emergency_stop(self, cmd: m.EmergencyStop) -> None:
        self._engage(cmd.reason)
        self.directory.tell("strategies", m.StopAllStrategies(reason=f"kill switch: {cmd.reason}"))
        logins = {int(n.split(":")[1]) for n in self.directory.names("account:")}
        before = set(self.flattening.pending)
        round_, now = self.flattening.start(cmd.corr, logins, self._account_ready, self._account_holds)
        self._save_pending(before)
        for login in now:
            self.directory.tell(f"account:{login}", m.Flatten(corr=cmd.corr, account=login, reason=cmd.reason))
        if not round_.waiting:
            self._reply_flattened(round_)

    def _on_flattened(self, msg: m.AccountFlattened) -> None:
        before = set(self.flattening.pending)
        round_ = self.flattening.reported(msg)
        self._save_pending(before)
        if round_ is not None:
            self._reply_flattened(round_)

    def _flatten_tick(self) -> None:
        """Every second: rounds stop waiting for accounts whose link went down (they become
        pending), and pending accounts that are back are flattened (K2 across link losses)."""
        before = set(self.flattening.pending)
        for round_ in self.flattening.unreachable(self._account_ready, self._account_holds):
            self._reply_flattened(round_)
        self._save_pending(before)
        for login, corr in self.flattening.resumes(self._account_ready):
            logger.warning("kill switch: account {} is back; flattening it now", login)
            self.directory.tell(f"account:{login}", m.Flatten(corr=corr, account=login,
                                                              reason=f"kill switch: {self.kill.reason}"))

    def _save_pending(self, before: set[int]) -> None:
        if self.flattening.pending == before:
            return
        for login in sorted(before - self.flattening.pending):
            logger.warning("kill switch: account {} is flat", login)
        self.directory.tell("journal", m.SaveFlattenPending(accounts=tuple(sorted(self.flattening.pending))))
        if self.flattening.pending - before:
            logger.critical("kill switch: accounts {} cannot be flattened now (terminal link down); each is "
                            "flattened once it is back", sorted(self.flattening.pending - before))
            try:  # committed before the reply says so: a crash right after must not forget it (a read commits)
                self.directory.ask("journal", m.LoadKillSwitch(), timeout=STOP_TIMEOUT_S)
            except Exception as exc:  # noqa: BLE001 - the flatten still resumes in this process
                logger.error("the journal did not confirm the pending flatten ({}); it resumes in this process only",
                             exc)

    def _account_ready(self, login: int) -> bool:
        """Linked and reconciled: a Flatten sent now reaches the terminal."""
        return self.directory.get(f"account:{login}") is not None and \
            bool(self.board.get(f"account:{login}", {}).get("ready"))

    def _account_holds(self, login: int) -> dict[str, Any]:
        snap = self.board.get(f"account:{login}", {})
        return {"account": login, "positions": [p["ticket"] for p in snap.get("positions", [])],
                "orders": [o["ticket"] for o in snap.get("orders", [])]}

    def _reply_flattened(self, round_: Round) -> None:
        logger.critical("kill switch: closed {closed_positions}, cancelled {cancelled_orders}, remaining {remaining}",
                        **round_.totals)
        if round_.corr:
            self.directory.tell("control", m.CommandReply(corr=round_.corr, ok=True,
                                                          data=round_.reply(self.kill.locked_until)))

    def _reset_kill_switch(self, corr: str) -> None:
        now = _now_ms()
        if not self.kill.can_reset(now):
            self.directory.tell("control", m.CommandReply(corr=corr, ok=False, error=errors.error(
                errors.TRADING_LOCKED, f"the kill switch stays locked until {_iso(self.kill.locked_until)}",
                {"locked_until": self.kill.locked_until})))
            return
        was_active = self.kill.active
        self.kill = KillSwitchState()
        self.gate.clear()
        if self.flattening.pending:
            self.flattening.clear()
            self.directory.tell("journal", m.SaveFlattenPending(accounts=()))
        if was_active:
            logger.warning("kill switch reset; trading may resume")
            self.directory.publish(m.KillSwitchReset(reset_at=now))
        self._post()
        self.directory.tell("control", m.CommandReply(corr=corr, ok=True, data={"state": "ACTIVE"}))

    def _post(self) -> None:
        self.board.post("supervisor", {"state": self.state, "started_monotonic": self.started,
                                       "kill_switch": self.kill.as_status(), "mailboxes": dict(self._depths)})


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000))
