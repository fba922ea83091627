"""The strategy supervisor ("strategies"): every strategy's lifecycle and its restarts.

Each strategy is `transient`: a crash restarts it with the same definition and state, at
most 3 times in 60 s, after which it is marked `failed` and retired while the others run
on. Five retirements within 60 s mean something systemic is wrong, so this supervisor then
fails itself and the root supervisor escalates. Definitions and states are journaled, so a
restarted service brings back what was running.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import pykka
from loguru import logger

from actors import errors
from actors import messages as m
from actors.runtime.directory import Directory
from actors.indicators.cache import IndicatorCache
from actors.rules.program import RuleError, compile_rules
from actors.runtime.status_board import StatusBoard
from actors.strategy.strategy import Strategy
from actors.runtime.supervision import RestartIntensity, Supervised, stop_actor
from actors.runtime.ticker import Ticker

RUNNING, PAUSED, STOPPED, FAILED = "running", "paused", "stopped", "failed"
LIVE_STATES = (RUNNING, PAUSED)
STOP_TIMEOUT_S = 5.0


@dataclass
class StrategySpec:
    strategy_id: str
    account: int
    definition: dict[str, Any]
    state: str
    restarts: int = 0
    intensity: RestartIntensity = field(default_factory=RestartIntensity)
    ref: pykka.ActorRef | None = None


class StrategySupervisor(Supervised):
    def __init__(self, *, directory: Directory, board: StatusBoard) -> None:
        super().__init__(name="strategies", parent="supervisor", directory=directory)
        self.board = board
        self.specs: dict[str, StrategySpec] = {}
        self.retirements = RestartIntensity(max_restarts=5, window_s=60.0)
        self.cache = IndicatorCache()  # shared by every strategy this supervisor runs
        self.waiting_close: dict[str, tuple[str, str]] = {}  # internal corr -> (STOP_STRATEGY corr, strategy id)
        self._corr = itertools.count(1)
        self.ticker: Ticker | None = None

    def on_start(self) -> None:
        for row in self.directory.ask("journal", m.LoadStrategies(), timeout=STOP_TIMEOUT_S):
            spec = StrategySpec(row["strategy_id"], row["account"], row["definition"], row["state"], row["restarts"])
            self.specs[spec.strategy_id] = spec
            if spec.state in LIVE_STATES:
                logger.info("restoring strategy {} ({})", spec.strategy_id, spec.state)
                self._spawn(spec)
        self.ticker = Ticker(self.actor_ref, 1.0).start()
        self._post()

    def on_stop(self) -> None:
        if self.ticker:
            self.ticker.stop()
        for spec in self.specs.values():
            self._halt(spec)  # states stay as journaled: the next start restores them

    def on_receive(self, message: Any) -> Any:
        match message:
            case m.StartStrategy():
                self._start(message)
            case m.StopStrategy():
                self._stop_strategy(message)
            case m.PauseStrategy() | m.ResumeStrategy():
                self._pause_or_resume(message)
            case m.UpdateStrategy():
                self._update(message)
            case m.StopAllStrategies(reason=reason, account=account):
                for spec in self.specs.values():
                    if spec.state in LIVE_STATES and account in (None, spec.account):
                        self._halt(spec)
                        self._set_state(spec, STOPPED, reason)
            case m.CommandReply(corr=corr) if corr in self.waiting_close:
                self._closed_for_stop(message)
            case m.ActorFailed(name=name, error=error):
                self._on_crash(name.removeprefix("strategy:"), error)
            case m.Tick():
                self._poll()
            case _:
                return super().on_receive(message)
        return None

    # --- commands ---
    def _start(self, cmd: m.StartStrategy) -> None:
        old = self.specs.get(cmd.strategy_id)
        if old is not None and old.state in LIVE_STATES:
            return self._error(cmd.corr, errors.CONFLICT, f"strategy {cmd.strategy_id} is already {old.state}; "
                               "STOP_STRATEGY it first or use UPDATE_STRATEGY")
        if not self._compiles(cmd.corr, cmd.definition) or not self._offered(cmd.corr, cmd.account, cmd.definition):
            return
        spec = StrategySpec(cmd.strategy_id, cmd.account, cmd.definition, RUNNING)
        self.specs[spec.strategy_id] = spec
        self._spawn(spec)
        self._set_state(spec, RUNNING, "started")
        self._ok(cmd.corr, {"strategy_id": spec.strategy_id, "state": RUNNING})

    def _stop_strategy(self, cmd: m.StopStrategy) -> None:
        spec = self._find(cmd.corr, cmd.strategy_id)
        if spec is None:
            return
        self._halt(spec)
        self._set_state(spec, STOPPED, "stopped by command")
        if not cmd.close_positions:
            return self._ok(cmd.corr, {"strategy_id": spec.strategy_id, "state": STOPPED, "closed": 0})
        internal = f"stop-{next(self._corr)}"
        self.waiting_close[internal] = (cmd.corr, spec.strategy_id)
        self.directory.tell(f"account:{spec.account}", m.CloseStrategyPositions(
            strategy_id=spec.strategy_id, account=spec.account, reason="STOP_STRATEGY", corr=internal,
            reply_to="strategies"))

    def _closed_for_stop(self, reply: m.CommandReply) -> None:
        corr, strategy_id = self.waiting_close.pop(reply.corr)
        if not reply.ok:
            return self.directory.tell("control", m.CommandReply(corr=corr, ok=False, error=reply.error))
        data = reply.data or {}
        self._ok(corr, {"strategy_id": strategy_id, "state": STOPPED,
                        "closed": data.get("closed", 0), "remaining": data.get("remaining", 0)})

    def _pause_or_resume(self, cmd: m.PauseStrategy | m.ResumeStrategy) -> None:
        spec = self._find(cmd.corr, cmd.strategy_id)
        if spec is None:
            return
        if spec.state not in LIVE_STATES:
            return self._error(cmd.corr, errors.CONFLICT, f"strategy {spec.strategy_id} is {spec.state}; "
                               "START_STRATEGY it again")
        state = PAUSED if isinstance(cmd, m.PauseStrategy) else RUNNING
        if spec.ref is not None:
            spec.ref.tell(type(cmd)(strategy_id=spec.strategy_id))
        self._set_state(spec, state, "paused by command" if state == PAUSED else "resumed by command")
        self._ok(cmd.corr, {"strategy_id": spec.strategy_id, "state": state})

    def _update(self, cmd: m.UpdateStrategy) -> None:
        spec = self._find(cmd.corr, cmd.strategy_id)
        if spec is None or not self._compiles(cmd.corr, cmd.definition) \
                or not self._offered(cmd.corr, spec.account, cmd.definition):
            return
        spec.definition = cmd.definition
        if spec.state in LIVE_STATES:
            self._halt(spec)
            self._spawn(spec)  # open positions stay: they belong to the strategy id, not the actor
        self._save(spec)
        self._post()  # STATUS_REQUEST shows the new name, symbol and timeframe
        self._ok(cmd.corr, {"strategy_id": spec.strategy_id, "state": spec.state})

    # --- supervision ---
    def _spawn(self, spec: StrategySpec) -> None:
        spec.ref = Strategy.start(strategy_id=spec.strategy_id, account=spec.account, definition=spec.definition,
                                  paused=spec.state == PAUSED, directory=self.directory, board=self.board,
                                  cache=self.cache)
        self.directory.register(f"strategy:{spec.strategy_id}", spec.ref)

    def _halt(self, spec: StrategySpec) -> None:
        ref, spec.ref = spec.ref, None
        stop_actor(self.directory, f"strategy:{spec.strategy_id}", ref, STOP_TIMEOUT_S)

    def _poll(self) -> None:
        # pykka skips on_failure when on_start raises: a dead actor we did not stop is a crash too.
        for spec in list(self.specs.values()):
            if spec.ref is not None and not spec.ref.is_alive():
                self._on_crash(spec.strategy_id, "actor died")

    def _on_crash(self, strategy_id: str, error: str) -> None:
        spec = self.specs.get(strategy_id)
        if spec is None or spec.ref is None or spec.ref.is_alive():
            return  # already handled, or a stale report about an actor we replaced
        self.directory.unregister(f"strategy:{strategy_id}", spec.ref)
        spec.ref = None
        if spec.intensity.allow():
            spec.restarts += 1
            logger.warning("strategy {} crashed ({}); restart {}", strategy_id, error, spec.restarts)
            self._spawn(spec)
            self._set_state(spec, spec.state, f"restarted after crash: {error}")
            return
        logger.error("strategy {} crashed {} times in {} s: marked failed", strategy_id,
                     spec.intensity.recent, spec.intensity.window_s)
        self._set_state(spec, FAILED, f"crash loop: {error}")
        if not self.retirements.allow():
            raise RuntimeError("too many strategies failed within 60 s; escalating")

    # --- helpers ---
    def _compiles(self, corr: str, definition: dict[str, Any]) -> bool:
        try:
            compile_rules(definition["rules"])
        except RuleError as exc:
            self._error(corr, errors.BAD_REQUEST, str(exc), {"field": f"strategy.{exc.rule or 'rules'}",
                                                        "position": exc.position})
            return False
        return True

    def _offered(self, corr: str, account: int, definition: dict[str, Any]) -> bool:
        """Whether the account's terminal offers the strategy's symbol. A symbol it does not
        would wait for its history forever; until the terminal has listed its symbols,
        nothing can be judged and the strategy is accepted."""
        symbols = self.board.get(f"symbols:{account}")
        if not symbols or definition["symbol"] in symbols:
            return True
        known = sorted(symbols)
        self._error(corr, errors.NOT_FOUND, f"symbol {definition['symbol']} is not offered by account {account}; "
                    f"known: {', '.join(known[:30])}{' ...' if len(known) > 30 else ''}",
                    {"field": "strategy.symbol", "symbols": known[:100]})
        return False

    def _find(self, corr: str, strategy_id: str) -> StrategySpec | None:
        spec = self.specs.get(strategy_id)
        if spec is None:
            self._error(corr, errors.NOT_FOUND, f"no strategy {strategy_id!r}; STATUS_REQUEST lists them")
        return spec

    def _set_state(self, spec: StrategySpec, state: str, reason: str) -> None:
        spec.state = state
        self._save(spec)
        self.directory.publish(m.StrategyStateChanged(strategy_id=spec.strategy_id, state=state, reason=reason,
                                                      restarts=spec.restarts))
        self._post()

    def _save(self, spec: StrategySpec) -> None:
        self.directory.tell("journal", m.SaveStrategy(strategy_id=spec.strategy_id, account=spec.account,
                                                      definition=spec.definition, state=spec.state,
                                                      restarts=spec.restarts))

    def _post(self) -> None:
        self.board.post("strategies", [
            {"strategy_id": s.strategy_id, "name": s.definition.get("name", ""), "symbol": s.definition.get("symbol"),
             "timeframe": s.definition.get("timeframe"), "account": s.account, "state": s.state,
             "restarts": s.restarts} for s in self.specs.values()])

    def _ok(self, corr: str, data: dict[str, Any]) -> None:
        if corr:
            self.directory.tell("control", m.CommandReply(corr=corr, ok=True, data=data))

    def _error(self, corr: str, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        if corr:
            self.directory.tell("control", m.CommandReply(corr=corr, ok=False, error=errors.error(code, message, details)))
