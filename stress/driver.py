"""One stress run, start to end: processes up, strategies started, bars stepped, faults injected.

Life of a run: measure the relay floor; start the executor (`run.py service --no-sim`, its
own data dir and ports) and the terminal; loosen the risk limits and start N strategies over
the control API; warm up (bars until every strategy acts on the same bar); then step the
measured bars at the tick rate while the fault schedule runs; let the last orders settle;
read STATUS and PERFORMANCE; stop both processes (the terminal writes its final positions and
deals). Everything measured comes from the terminal's stamps, the events PUB and psutil;
`stress.verify` and `stress.figures` make the report of it.
"""

from __future__ import annotations

import heapq
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from actors.control.client import ControlTimeout
from bridge.sim.config import parse_start
from stress.floor import measure_floor
from stress.observe import EventsListener, ProcSampler, StampsTail
from stress.procs import STRESS_LIMITS, Endpoints, Executor, HarnessError, Terminal, wait_until
from stress.scenarios import ADDED_SYMBOLS, START, SYMBOL_NAMES, RunConfig

POLL_S = 0.25
QUIET_S = 1.0  # no new order for this long: a bar's orders are all in
BAR_WAIT_S = 30.0
CONNECT_TIMEOUT_S = 60.0
EMERGENCY_TIMEOUT_S = 60.0


def strategy_definition(symbol: str, mode: str) -> dict[str, Any]:
    """A rules-language strategy that acts on every M1 bar, deterministically.

    `close > 0` holds on every bar. The Strategy actor evaluates exits before entries and
    enters only when it holds nothing on that side, so with both rules always true it enters
    on one bar and exits on the next: one order per bar, alternately opening and closing,
    0.01 lots. `hold` has no exit rule: it enters once and keeps the position."""
    rules = {"entry_long": "close > 0"}
    if mode == "flip":
        rules["exit_long"] = "close > 0"
    return {"name": f"stress-{mode}", "symbol": symbol, "timeframe": "M1", "rules": rules,
            "settings": {"sizing": {"method": "fixed", "lots": 0.01}, "max_positions": 1}}


@dataclass
class RunData:
    config: RunConfig
    run_dir: Path
    symbols: list[str]
    start_ms: int
    strategies: list[tuple[str, str]] = field(default_factory=list)  # (strategy_id, symbol)
    floor: dict[str, Any] = field(default_factory=dict)
    warmup_steps: list[int] = field(default_factory=list)
    warmup_acted: list[int] = field(default_factory=list)  # orders per warm-up bar
    measured_from_step: int = 0
    last_step: int = 0
    measured_t0: float = 0.0  # monotonic s
    measured_t1: float = 0.0
    fault_windows: list[tuple[str, float, float]] = field(default_factory=list)  # kind, from, to (monotonic s)
    fault_counts: dict[str, int] = field(default_factory=dict)
    emergency: dict[str, Any] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)
    performance: dict[str, Any] = field(default_factory=dict)
    executor_starts: int = 0
    executor_exit: int | None = None
    terminal_exit: int | None = None
    notes: list[str] = field(default_factory=list)
    tail: StampsTail | None = None
    events: EventsListener | None = None
    samples: list[Any] = field(default_factory=list)


class Run:
    def __init__(self, config: RunConfig, run_dir: Path, on_progress: Callable[[dict[str, Any]], None] | None = None):
        self.config = config
        self.run_dir = run_dir
        self.on_progress = on_progress or (lambda snapshot: None)
        self.endpoints = Endpoints()
        start_ms = parse_start(START)
        symbols = list(SYMBOL_NAMES[:config.symbols])
        self.data = RunData(config=config, run_dir=run_dir, symbols=symbols, start_ms=start_ms)
        self.plan = {"symbols": symbols, "start_ms": start_ms, "step_ms": config.step_ms, "seed": config.seed,
                     "spike_every": config.spike_every_bars * config.ticks_per_bar, "spike_pips": config.spike_pips,
                     "stamps": str(run_dir / "stamps.jsonl"), "commands": self.endpoints.commands}
        self.tail = StampsTail(run_dir / "stamps.jsonl", start_ms, config.step_ms)
        self.data.tail = self.tail
        self.step = 0
        self.phase = "starting"
        self._restarting = threading.Event()
        self.sampler: ProcSampler | None = None

    # --- the whole run ---
    def run(self) -> RunData:
        config, data = self.config, self.data
        self._progress("relay floor")
        if config.floor_samples:
            per_symbol = -(-config.strategies // config.symbols)
            data.floor = measure_floor(data.symbols, per_symbol, config.floor_samples)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        terminal = Terminal(config.terminal, self.run_dir, self.endpoints, self.plan, config.seed)
        terminal.write_files({name: ADDED_SYMBOLS[name] for name in data.symbols if name in ADDED_SYMBOLS})
        executor = Executor(self.run_dir, self.endpoints)
        self.executor, self.terminal = executor, terminal
        events = data.events = EventsListener(self.endpoints.events).start()
        sampler = self.sampler = ProcSampler(lambda: executor.pid)
        sampler.start()
        try:
            self._progress("starting the executor")
            executor.start()
            terminal.start()
            self._progress("waiting for the terminal")
            wait_until(lambda: self._check_terminal() and executor.account_ready(), CONNECT_TIMEOUT_S,
                       f"the terminal to connect (logs: {executor.log_path}, {terminal.log_path})", 0.25)
            executor.ok("UPDATE_RISK_LIMITS", {"limits": STRESS_LIMITS})
            self._start_strategies()
            self._warm_up()
            if config.emergency:
                self._emergency()
            else:
                self._measure()
            self._settle()
            data.status = executor.ok("STATUS_REQUEST")
            data.performance = executor.ok("PERFORMANCE_REQUEST", {})
        finally:
            self._progress("stopping")
            data.executor_starts = executor.starts
            data.executor_exit = executor.stop()
            data.terminal_exit = terminal.stop()
            sampler.stop()
            events.stop()
            data.samples = list(sampler.samples)
            self._read_final()
        return data

    def _check_terminal(self) -> bool:
        if not self.terminal.alive():
            raise HarnessError(f"the terminal exited with code {self.terminal.proc.returncode}; "
                               f"see {self.terminal.log_path}")
        return True

    def _start_strategies(self) -> None:
        for i in range(self.config.strategies):
            symbol = self.data.symbols[i % len(self.data.symbols)]
            strategy_id = f"st{i:04d}"
            self.executor.ok("START_STRATEGY", {"strategy_id": strategy_id,
                                                "strategy": strategy_definition(symbol, self.config.mode)})
            self.data.strategies.append((strategy_id, symbol))
            if i % 25 == 0:
                self._progress(f"starting strategies {i + 1}/{self.config.strategies}")

    # --- stepping ---
    def _send_step(self, steps: int = 1) -> int:
        self.step += steps
        self.terminal.command(step=self.step)
        return self.step

    def _bar(self) -> int:
        """Close one bar now (with several ticks per bar, the rest of its ticks go at once)."""
        ticks = self.config.ticks_per_bar - self.step % self.config.ticks_per_bar
        return self._send_step(ticks)

    def _orders_after(self, index: int) -> list[dict[str, Any]]:
        return [o for o in self.tail.orders[index:] if not o["cached"]]

    def _wait_bar_orders(self, index: int, expected: int) -> int:
        """Wait until `expected` orders came after record `index`, or none for QUIET_S."""
        started = last_change = time.monotonic()
        seen = -1
        while time.monotonic() - started < BAR_WAIT_S:
            self.tail.poll()
            count = len(self._orders_after(index))
            if count != seen:
                seen, last_change = count, time.monotonic()
            if count >= expected or (time.monotonic() - last_change >= QUIET_S and time.monotonic() - started > 2):
                break
            self._progress(self.phase)
            time.sleep(0.05)
        time.sleep(0.2)
        self.tail.poll()
        return len(self._orders_after(index))

    def _warm_up(self) -> None:
        n = self.config.strategies
        for bar in range(1, self.config.warmup_bars + 1):
            self.phase = f"warm-up bar {bar}"
            index = len(self.tail.orders)
            self.data.warmup_steps.append(self._bar())
            expected = n if self.config.mode == "flip" else n - (self.tail.open_positions() or 0)
            acted = self._wait_bar_orders(index, expected)
            self.data.warmup_acted.append(acted)
            if self.config.mode == "flip" and acted >= n:
                return
            if self.config.mode == "hold" and (self.tail.open_positions() or 0) >= n:
                return
        self.data.notes.append(f"warm-up ended after {self.config.warmup_bars} bars with "
                               f"{self.data.warmup_acted[-1]} of {n} strategies acting on the last bar")

    def _measure(self) -> None:
        config, data = self.config, self.data
        data.measured_from_step = self.step + 1
        schedule = self._fault_schedule()
        self.phase = "measuring"
        if config.drop_order_replies_pct or config.delay_order_replies_pct:
            self.terminal.command(faults={"random_replies": {
                "drop_pct": config.drop_order_replies_pct, "delay_pct": config.delay_order_replies_pct,
                "delay_s": config.delay_s, "seed": config.seed}})
        t0 = data.measured_t0 = time.monotonic()
        kill_at = t0 + config.steps / config.tick_rate / 2 if config.kill_executor else None
        last_poll = 0.0
        for i in range(config.steps):
            due = t0 + i / config.tick_rate
            while True:
                now = time.monotonic()
                while schedule and schedule[0][0] <= now:
                    self._fault(*heapq.heappop(schedule)[2:])
                if kill_at is not None and now >= kill_at:
                    kill_at = None
                    threading.Thread(target=self._kill_executor, name="stress-kill", daemon=True).start()
                if now - last_poll >= POLL_S:
                    last_poll = now
                    self.tail.poll()
                    self._check_terminal()
                    self._progress(self.phase, done=i, total=config.steps)
                if now >= due:
                    break
                time.sleep(min(0.02, due - now))
            self._send_step()
        data.measured_t1 = time.monotonic()
        while schedule:  # links taken down must come back up
            _, _, kind, arg = heapq.heappop(schedule)
            if kind == "link_up":
                self._fault(kind, arg)

    def _fault_schedule(self) -> list[tuple[float, int, str, Any]]:
        """(when, tie-break, kind, argument) of every fault in the measured window, a heap."""
        config = self.config
        length = config.steps / config.tick_rate
        now = time.monotonic()
        events: list[tuple[float, str, Any]] = []

        def every(period: float, kind: str, arg: Any = None) -> None:
            if period > 0:
                events.extend((now + k * period, kind, arg) for k in range(1, int(length / period) + 1)
                              if k * period < length)

        every(config.disconnect_every_s, "link_down")
        if config.disconnect_every_s:
            events.extend((t + config.disconnect_for_s, "link_up", None) for t, kind, _ in list(events)
                          if kind == "link_down")
        every(config.drop_replies_every_s, "faults", {"drop_replies": 1})
        every(config.delay_replies_every_s, "faults", {"delay_replies": 1, "delay_s": config.delay_s})
        every(config.requotes_every_s, "faults", {"requotes": 1})
        every(config.restart_strategy_every_s, "restart_strategy")
        schedule = [(t, n, kind, arg) for n, (t, kind, arg) in enumerate(events)]
        heapq.heapify(schedule)
        return schedule

    def _fault(self, kind: str, arg: Any) -> None:
        counts = self.data.fault_counts
        now = time.monotonic()
        if kind == "link_down":
            self.terminal.command(link=False)
            self.data.fault_windows.append(("disconnect", now, now + self.config.disconnect_for_s))
        elif kind == "link_up":
            self.terminal.command(link=True)
        elif kind == "faults":
            self.terminal.command(faults=arg)
            name = next(iter(arg))
            counts[name] = counts.get(name, 0) + 1
            return
        elif kind == "restart_strategy" and not self._restarting.is_set():
            strategy_id, symbol = self.data.strategies[counts.get("restart_strategy", 0) % len(self.data.strategies)]
            self.executor.request("UPDATE_STRATEGY", {"strategy_id": strategy_id,
                                                      "strategy": strategy_definition(symbol, self.config.mode)})
        counts[kind] = counts.get(kind, 0) + 1

    def _kill_executor(self) -> None:
        self._restarting.set()
        started = time.monotonic()
        try:
            self.executor.kill9()
            self.executor.start()
            wait_until(self.executor.account_ready, CONNECT_TIMEOUT_S, "the restarted executor to reconnect", 0.25)
        except HarnessError as exc:
            self.data.notes.append(f"kill -9 restart: {exc}")
        finally:
            self.data.fault_windows.append(("kill -9", started, time.monotonic()))
            self.data.fault_counts["kill_executor"] = 1
            self._restarting.clear()

    def _settle(self) -> None:
        """After the last bar: wait for the orders still coming (and a restart still running)."""
        self.phase = "settling"
        deadline = time.monotonic() + self.config.settle_s
        while self._restarting.is_set() and time.monotonic() < deadline + CONNECT_TIMEOUT_S:
            time.sleep(0.1)
        count, last_change = -1, time.monotonic()
        while time.monotonic() < deadline:
            self.tail.poll()
            if len(self.tail.orders) != count:
                count, last_change = len(self.tail.orders), time.monotonic()
            elif time.monotonic() - last_change >= 2 * QUIET_S and self._converged():
                break
            self._progress(self.phase)
            time.sleep(POLL_S)
        else:
            self.data.notes.append(f"still settling after {self.config.settle_s:g} s: orders were still "
                                   "arriving or STATUS and the terminal disagreed on open positions")

    def _converged(self) -> bool:
        """STATUS shows as many open positions as the terminal holds."""
        try:
            positions = self.executor.ok("STATUS_REQUEST", timeout_s=5.0)["positions"]
        except (ControlTimeout, HarnessError):  # busy or restarting: not settled yet
            return False
        return len(positions) == (self.tail.open_positions() or 0)

    # --- the kill switch ---
    def _emergency(self) -> None:
        data, n = self.data, self.config.strategies
        self.phase = "opening positions"
        try:
            wait_until(lambda: self.tail.poll() >= 0 and (self.tail.open_positions() or 0) >= n, 30.0,
                       f"{n} open positions at the terminal")
        except HarnessError as exc:
            data.notes.append(str(exc))
        opened = self.tail.open_positions() or 0
        index = len(self.tail.orders)
        self.phase = "EMERGENCY_STOP"
        self._progress(self.phase)
        sent = time.monotonic_ns()
        reply = self.executor.request("EMERGENCY_STOP", {"reason": "stress harness"}, timeout_s=EMERGENCY_TIMEOUT_S)
        replied = time.monotonic_ns()
        try:
            wait_until(lambda: self.tail.poll() >= 0 and self.tail.open_positions() == 0, 30.0,
                       "the terminal to hold no position")
        except HarnessError as exc:
            data.notes.append(str(exc))
        after = [o for o in self.tail.orders[index:] if not o["cached"]]
        flat = next((o for o in after if o["open"] == 0), None)
        data.emergency = {"open_before": opened, "sent_ns": sent, "reply_s": (replied - sent) / 1e9,
                          "reply": reply.get("data") if reply.get("ok") else reply.get("error"),
                          "flat_s": None if flat is None else (flat["done"] - sent) / 1e9,
                          "closing_orders": len(after), "remaining_at_terminal": self.tail.open_positions()}

    # --- the end ---
    def _read_final(self) -> None:
        deadline = time.monotonic() + 10.0
        while self.tail.final is None and time.monotonic() < deadline:
            self.tail.poll()
            time.sleep(0.1)
        if self.tail.final is None:
            self.data.notes.append("the terminal wrote no final state: positions and deals not checked")
        else:  # the seeded reply faults, as the terminal counted them
            self.data.fault_counts.update({f"order_replies_{k}" if k != "order_replies" else k: v
                                           for k, v in self.tail.final.get("faults", {}).items()})
        self.data.last_step = self.step

    def _progress(self, phase: str, done: int | None = None, total: int | None = None) -> None:
        self.on_progress({"phase": phase, "done": done, "total": total, "step": self.step, "tail": self.tail,
                          "events": self.data.events, "samples": self.sampler.samples if self.sampler else [],
                          "data": self.data})
