"""A stepped market for the stress harness (`stress/`): server time moves on command, and the
terminal time-stamps what latency is measured from and to.

This module owns the simulated terminal's stress mode (`run.py sim --stepped PLAN`):
* `StepPlan` - the JSON plan the harness writes: symbols, first step, step length, seed,
  volatility spikes, where to write the stamps and where to take commands from;
* `StepClock` and `StepFeed` - server time is `start_ms + step * step_ms`, and every step
  quotes one tick per plan symbol at that time, so with one-minute steps every published
  tick closes an M1 bar of every plan symbol (all strategies act on the same bar);
* `Stamps` - a JSON-lines recorder on the terminal's own clock (`time.monotonic_ns`,
  system-wide on Linux, so comparable with the harness's): when a bar-closing tick was
  published, when each `order_send` was read and answered, link changes, and at the end the
  terminal's positions and deals;
* `run_stepped` - the process loop: a PULL socket takes `{"step": n}`, `{"link": bool}`,
  `{"faults": {...}}`, `{"shock": pips}` (every price jumps at the next step), `{"open":
  request}` (a trade by hand while the link is down) and `{"stop": true}` from the harness
  while the terminal runs in its thread; with the link down, steps still move the market.
Nothing here is used unless a plan is given; the terminal's only hooks are `recorder` calls.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import msgpack
import numpy as np
import zmq

from bridge.sim.price_feed import RandomWalkFeed, Tick, quote
from bridge.trade_server.faults import RandomReplies

MS_PER_MINUTE = 60_000
MAX_CATCH_UP_STEPS = 10_000  # a terminal that was away quotes at most this many missed steps
COMMAND_POLL_MS = 50
FLUSH_EVERY_S = 0.1


@dataclass(frozen=True, slots=True, kw_only=True)
class StepPlan:
    symbols: tuple[str, ...]
    start_ms: int  # server time of step 0, a whole minute
    step_ms: int = MS_PER_MINUTE
    seed: int = 0
    spike_every: int = 0  # every Nth step jumps `spike_pips` (up or down, seeded); 0 = never
    spike_pips: float = 0.0
    stamps: str = "stamps.jsonl"
    commands: str = ""  # the harness's PUSH endpoint

    def __post_init__(self) -> None:
        if not self.symbols:
            raise ValueError("a stepped plan needs at least one symbol")
        if self.start_ms % MS_PER_MINUTE or not 0 < self.step_ms <= MS_PER_MINUTE or MS_PER_MINUTE % self.step_ms:
            raise ValueError("start_ms must be a whole minute and step_ms divide a minute")



def attach(terminal: Any, plan: StepPlan) -> None:
    """Put a SimTerminal that has not started yet on the stepped clock and feed.

    The terminal must have been built with `start = plan.start_ms`, the plan's seed and no
    sessions (`run.py sim --start MS --seed N --always-open`): its history is then the same
    random walk the stepped feed continues from."""
    unknown = sorted(set(plan.symbols) - set(terminal.symbols))
    if unknown:
        raise ValueError(f"stepped plan symbols {unknown} are not offered by the simulated broker")
    if terminal.enforce_sessions:
        raise ValueError("a stepped terminal trades round the clock: add --always-open")
    if abs(terminal.clock.now_ms() - plan.start_ms) > MS_PER_MINUTE:
        raise ValueError(f"start the stepped terminal at the plan's start: --start {plan.start_ms}")
    terminal.clock = StepClock(plan.start_ms, plan.step_ms)
    terminal.feed = StepFeed(plan, terminal.symbols)
    terminal.requests.now_ms = terminal.clock.now_ms


def load_plan(path: str | Path) -> StepPlan:
    """The plan in a JSON file; ValueError (or OSError) in one line when it cannot be used."""
    try:
        raw = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"stepped plan {path}: not JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"stepped plan {path}: expected a JSON object")
    try:
        return StepPlan(**{**raw, "symbols": tuple(raw.get("symbols", ()))})
    except TypeError as exc:
        raise ValueError(f"stepped plan {path}: {exc}") from None


class StepClock:
    """Server time that moves only when the harness says which step it is (never back)."""

    speed = 1.0

    def __init__(self, start_ms: int, step_ms: int) -> None:
        self.start_ms, self.step_ms = int(start_ms), int(step_ms)
        self.step = 0

    def now_ms(self) -> int:
        return self.start_ms + self.step * self.step_ms

    def to_step(self, step: int) -> None:
        if step > self.step:
            self.step = int(step)  # one assignment: read from the terminal's thread


class StepFeed:
    """One tick per plan symbol at every step time; history from the seeded random walk."""

    def __init__(self, plan: StepPlan, symbols: Mapping[str, Any]) -> None:
        self.plan = plan
        self.specs = {name: symbols[name] for name in plan.symbols}
        self.history = RandomWalkFeed(symbols, plan.seed, plan.start_ms)
        self.rng = np.random.default_rng([plan.seed, 0x57E9])
        self.log_mid = {name: math.log(spec.sim_start_price) for name, spec in self.specs.items()}
        self.next_step = 0
        self.shock_pips = 0.0  # a jump of every price at the next step (the harness's `shock` command)

    def advance(self, to_ms: int) -> list[Tick]:
        last = (to_ms - self.plan.start_ms) // self.plan.step_ms
        first = max(self.next_step, last - MAX_CATCH_UP_STEPS + 1)
        ticks: list[Tick] = []
        shock = self.shock_pips if first <= last else 0.0
        for step in range(first, last + 1):
            time_ms = self.plan.start_ms + step * self.plan.step_ms
            for name, spec in self.specs.items():
                ticks.append(self._tick(name, spec, step, time_ms, shock if step == first else 0.0))
        if first <= last:
            self.shock_pips = 0.0
        self.next_step = max(self.next_step, last + 1)
        return ticks

    def _tick(self, name: str, spec: Any, step: int, time_ms: int, shock_pips: float = 0.0) -> Tick:
        if step:
            dt_s = self.plan.step_ms / 1000
            move = spec.sim_volatility * math.sqrt(dt_s) * self.rng.standard_normal()
            if self.plan.spike_every and step % self.plan.spike_every == 0:
                pip = spec.point * (10 if spec.digits in (3, 5) else 1)
                mid = math.exp(self.log_mid[name])
                move += math.copysign(self.plan.spike_pips * pip / mid, self.rng.standard_normal())
            self.log_mid[name] += move
            if shock_pips:
                pip = spec.point * (10 if spec.digits in (3, 5) else 1)
                self.log_mid[name] += shock_pips * pip / math.exp(self.log_mid[name])
        bid, ask = quote(math.exp(self.log_mid[name]), int(spec.sim_spread_points), spec.point, spec.digits)
        return name, time_ms, bid, ask

    def history_m1(self, symbol: str, minutes: int) -> dict[str, np.ndarray]:
        return self.history.history_m1(symbol, minutes)


class Stamps:
    """Time stamps as JSON lines; written from the terminal's thread, flushed from another."""

    def __init__(self, path: str | Path) -> None:
        self._file = open(path, "a", buffering=1 << 16)
        self._lock = threading.Lock()
        self._minute: dict[str, int] = {}

    def _write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":"))
        with self._lock:
            self._file.write(line + "\n")

    def ticks_published(self, symbol: str, times: list[int]) -> None:
        """Called just before a tick batch is published: a tick in a new minute closed a bar."""
        t = time.monotonic_ns()
        previous = self._minute.get(symbol)
        for time_ms in times:
            minute = time_ms - time_ms % MS_PER_MINUTE
            if previous is not None and minute > previous:
                self._write({"k": "bar", "sym": symbol, "bar": previous, "t": t})
            previous = minute
        self._minute[symbol] = previous

    def order_send(self, message: dict[str, Any], reply: dict[str, Any], arrived_ns: int, *, cached: bool,
                   open_positions: int) -> None:
        request = message.get("request") if isinstance(message.get("request"), dict) else {}
        data = reply.get("data") if isinstance(reply.get("data"), dict) else {}
        self._write({
            "k": "order", "id": message.get("id"), "coid": request.get("comment"), "magic": request.get("magic"),
            "sym": request.get("symbol"), "type": request.get("type"), "position": request.get("position", 0),
            "vol": request.get("volume"), "t": arrived_ns, "done": time.monotonic_ns(), "sent_ms": message.get("ts"),
            "ok": bool(reply.get("ok")), "retcode": data.get("retcode", 0), "deal": data.get("deal", 0),
            "order": data.get("order", 0), "error": reply.get("error"), "cached": cached, "open": open_positions})

    def event(self, kind: str, **fields: Any) -> None:
        self._write({"k": kind, "t": time.monotonic_ns(), **fields})

    def final(self, server: Any, faults: dict[str, int] | None = None) -> None:
        self._write({"k": "final", "t": time.monotonic_ns(), "positions": server.positions_get(),
                     "deals": server.history_deals_get(0, 2**62), "faults": faults or {}})
        self.flush()

    def flush(self) -> None:
        with self._lock:
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


def apply_faults(terminal: Any, faults: Mapping[str, Any]) -> None:
    """Arm counted faults now (the next N occurrences), as `run.py sim --fault-*` does at start."""
    server_faults = terminal.server.faults
    server_faults.requotes += int(faults.get("requotes", 0))
    server_faults.rejects += int(faults.get("rejects", 0))
    terminal.drop_replies += int(faults.get("drop_replies", 0))
    if faults.get("random_replies"):  # {drop_pct, delay_pct, delay_s, seed}: from now on
        terminal.random_replies = RandomReplies(**faults["random_replies"])
    if faults.get("delay_replies"):
        terminal.delayed.types = frozenset({"order_send"})
        terminal.delayed.delay_s = float(faults.get("delay_s", terminal.delayed.delay_s))
        terminal.delayed.count += int(faults["delay_replies"])


def run_stepped(terminal: Any, plan_path: str | Path) -> int:
    """`run.py sim --stepped PLAN`: run `terminal` (built, not started) under the harness's
    commands until told to stop or SIGTERM; the stamps end with the terminal's final state.
    Exit code 2 with one line when the plan cannot be used."""
    try:
        plan = load_plan(plan_path)
        attach(terminal, plan)
    except (OSError, ValueError) as exc:
        print(f"run.py sim: --stepped: {exc}", file=sys.stderr)
        return 2
    stamps = Stamps(plan.stamps)
    terminal.recorder = stamps
    terminal.md_publish_s = 0.0  # a step's ticks go out at once, not on the 50 ms timer
    context = zmq.Context()
    commands = context.socket(zmq.PULL)
    commands.setsockopt(zmq.LINGER, 0)
    commands.connect(plan.commands)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    terminal.start()
    stamps.event("link", up=True)
    try:
        last_flush = time.monotonic()
        while not stopping.is_set():
            if commands.poll(COMMAND_POLL_MS):
                _command(terminal, stamps, msgpack.unpackb(commands.recv(), raw=False), stopping)
            if time.monotonic() - last_flush >= FLUSH_EVERY_S:
                stamps.flush()
                last_flush = time.monotonic()
    finally:
        terminal.stop()
        stamps.final(terminal.server, terminal.random_replies.counts() if terminal.random_replies else None)
        stamps.close()
        context.destroy(linger=0)
    return 0


def _command(terminal: Any, stamps: Stamps, command: dict[str, Any], stopping: threading.Event) -> None:
    if "shock" in command:  # every price jumps this many pips at the next step
        terminal.feed.shock_pips = float(command["shock"])
    if "step" in command:
        terminal.clock.to_step(int(command["step"]))
        if not terminal.running:  # the EA is cut off; the broker's market goes on
            terminal.advance_offline()
    if "open" in command:  # a trade made by hand in the terminal, while the EA is cut off
        try:
            result = terminal.open_by_hand(command["open"])
        except RuntimeError as exc:
            result = {"error": str(exc)}
        stamps.event("by_hand", request=command["open"], result=result)
    if "faults" in command:
        apply_faults(terminal, command["faults"])
        stamps.event("faults", **command["faults"])
    if "link" in command:
        if command["link"]:
            terminal.start()
        else:
            terminal.stop()
        stamps.event("link", up=bool(command["link"]))
    if command.get("stop"):
        stopping.set()
