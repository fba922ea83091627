"""`python -m stress.crash_loop --runs 100 --seed 7`: kill -9 the executor at random points of the
order path, again and again, on the same data dir, and check L1-L5 after each restart.

The executor (`run.py service --no-sim`) and the simulated terminal (`run.py sim --state FILE`,
its own process, which outlives every kill) talk over their sockets only. Each run:

1. the executor is started on the data dir the last one was killed on, and must become ready
   (reconciled: RELIABILITY.md's "on start") within READY_S;
2. L1-L5 are checked (stress/invariants.py), the journal against the terminal's state file:
   L1 and L3 at once, L2, L4 and L5 (every intent from before the kill final) within 30 s;
3. a burst of orders from WORKERS control clients - opens (some with stops a few pips away, so
   stops are hit, also while the executor is down), closes, stop changes, the odd CLOSE_ALL;
4. after a seeded random delay, kill -9 in the middle of it: an order may be anywhere between
   the control socket, the journal, the terminal and its answer;
5. `PRAGMA integrity_check` of the journal must say ok.

Exit code 0 when every run held, 1 when a rule broke (the run, the rule and the culprits are
printed), 2 on bad usage. Seeded: the same seed, the same orders and kill times (the processes'
timing still varies, which is the point of running it many times).
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from actors.app.ports import free_endpoint  # noqa: E402
from actors.control.client import ControlClient, ControlTimeout  # noqa: E402
from stress import invariants  # noqa: E402

LOGIN = 5_000_001
SIM_START = "2026-11-24T08:00:00Z"  # a Tuesday
SYMBOLS = ("EURUSD", "GBPUSD", "USDJPY")
READY_S = 30.0
SETTLE_S = 30.0  # L5: nothing in doubt longer than this
WORKERS = 4
LIMITS = {"max_positions": 1000, "max_positions_per_strategy": 1000, "max_orders_per_minute": 100_000,
          "max_orders_per_minute_per_strategy": 100_000, "max_correlation": 1.0,
          "max_currency_exposure_lots": 100_000, "news_blackout_min": 0, "no_trade_windows": [],
          "max_daily_loss_pct": 100, "max_drawdown_pct": 100}


class Failed(RuntimeError):
    """A rule broke, or a process would not come up; the text says which and where to look."""


@dataclass
class Procs:
    run_dir: Path
    seed: int
    control: str = field(default_factory=free_endpoint)
    events: str = field(default_factory=free_endpoint)
    ea_ctl: str = field(default_factory=free_endpoint)
    ea_md: str = field(default_factory=free_endpoint)
    executor: subprocess.Popen | None = None
    sim: subprocess.Popen | None = None

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "data"

    @property
    def state_file(self) -> Path:
        return self.run_dir / "sim-state.msgpack"

    def start_sim(self) -> None:
        argv = [sys.executable, str(ROOT / "run.py"), "sim", "--ctl", self.ea_ctl, "--md", self.ea_md, "--login",
                str(LOGIN), "--seed", str(self.seed), "--speed", "60", "--start", SIM_START, "--always-open",
                "--state", str(self.state_file)]
        with (self.run_dir / "sim.log").open("a") as log:
            self.sim = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)

    def start_executor(self) -> None:
        config = self.run_dir / "executor.json"
        config.write_text(json.dumps({"rate_limits": {"trading": 100_000, "reads": 100_000, "admin": 1000}}))
        argv = [sys.executable, str(ROOT / "run.py"), "service", "--no-sim", "--data-dir", str(self.data_dir),
                "--control", self.control, "--events", self.events, "--ea-ctl", self.ea_ctl, "--ea-md", self.ea_md,
                "--config", str(config), "--log-level", "WARNING"]
        with (self.run_dir / "executor.log").open("a") as log:
            self.executor = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)

    def kill9(self) -> None:
        if self.executor is not None and self.executor.poll() is None:
            self.executor.send_signal(signal.SIGKILL)
            self.executor.wait(15)

    def stop(self) -> None:
        for proc in (self.executor, self.sim):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(15)

    def client(self, timeout_s: float = 5.0) -> ControlClient:
        return ControlClient(self.control, timeout_s=timeout_s, data_dir=self.data_dir)


def wait_ready(procs: Procs, client: ControlClient, timeout_s: float = READY_S) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if procs.executor is not None and procs.executor.poll() is not None:
            raise Failed(f"the executor exited with {procs.executor.returncode}; see {procs.run_dir / 'executor.log'}")
        try:
            reply = client.request("STATUS_REQUEST", timeout_s=1.0)
            accounts = reply.get("data", {}).get("accounts", []) if reply.get("ok") else []
            if accounts and accounts[0].get("ready"):
                return time.monotonic() - started
        except ControlTimeout:
            pass
        time.sleep(0.05)
    raise Failed(f"the executor was not ready (reconciled) within {timeout_s:g} s; see {procs.run_dir}")


class Burst:
    """WORKERS threads sending seeded orders until told to stop (or the executor is gone)."""

    def __init__(self, procs: Procs, rng: random.Random) -> None:
        self.procs, self.stop, self.sent = procs, threading.Event(), 0
        self.seeds = [rng.randrange(2**32) for _ in range(WORKERS)]
        self.threads = [threading.Thread(target=self._work, args=(s,), daemon=True) for s in self.seeds]

    def __enter__(self) -> Burst:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(5)

    def _work(self, seed: int) -> None:
        rng, client = random.Random(seed), self.procs.client(timeout_s=1.0)
        tickets: list[int] = []
        try:
            while not self.stop.is_set():
                kind = rng.random()
                try:
                    if kind < 0.12 or not tickets:
                        status = client.request("STATUS_REQUEST", timeout_s=1.0)
                        tickets = [p["ticket"] for p in status.get("data", {}).get("positions", [])]
                    if kind < 0.55 or not tickets:
                        data = {"symbol": rng.choice(SYMBOLS), "side": rng.choice(("buy", "sell")), "volume": 0.01}
                        if rng.random() < 0.4:
                            data["sl_pips"] = rng.choice((2.0, 5.0))  # hit soon, maybe while the executor is down
                        client.request("OPEN_POSITION", data, timeout_s=1.0)
                    elif kind < 0.85:
                        client.request("CLOSE_POSITION", {"ticket": tickets.pop(rng.randrange(len(tickets)))},
                                       timeout_s=1.0)
                    elif kind < 0.97:
                        client.request("MODIFY_POSITION", {"ticket": rng.choice(tickets), "tp": 0.0}, timeout_s=1.0)
                    else:
                        client.request("CLOSE_ALL", {}, timeout_s=1.0)
                    self.sent += 1
                except ControlTimeout:
                    if self.procs.executor is None or self.procs.executor.poll() is not None:
                        return  # killed: this burst is over
        finally:
            client.close()


def check(procs: Procs, run: int, doubt_up_to: int) -> dict[str, Any]:
    took, found = invariants.wait_settled(lambda: invariants.read_both(procs.state_file, procs.data_dir),
                                          doubt_up_to=doubt_up_to, bound_s=SETTLE_S)
    if found:
        raise Failed(f"run {run}: {json.dumps(found)} (after {took:.1f} s; logs in {procs.run_dir})")
    return {"settled_s": round(took, 2)}


def crash_loop(runs: int, seed: int, run_dir: Path, quiet: bool = False) -> dict[str, Any]:
    rng = random.Random(seed)
    procs = Procs(run_dir, seed)
    report: dict[str, Any] = {"runs": [], "seed": seed, "run_dir": str(run_dir)}
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    procs.start_sim()
    try:
        for run in range(1, runs + 1):
            doubt_up_to = invariants.max_intent_id(procs.data_dir)
            procs.start_executor()
            client = procs.client()
            try:
                ready_s = wait_ready(procs, client)
                if run == 1:
                    client.request("UPDATE_RISK_LIMITS", {"limits": LIMITS}, timeout_s=5.0)
                row = {"run": run, "ready_s": round(ready_s, 2), **check(procs, run, doubt_up_to)}
                kill_after = rng.uniform(0.05, 1.0)
                with Burst(procs, rng) as burst:
                    time.sleep(kill_after)
                    procs.kill9()
                row.update(kill_after_ms=int(kill_after * 1000), requests=burst.sent)
            finally:
                client.close()
            verdict = invariants.integrity(procs.data_dir)
            if verdict != "ok":
                raise Failed(f"run {run}: integrity_check after kill -9: {verdict}")
            book = invariants.read_terminal(procs.state_file)
            row.update(positions=len(book.positions), deals=len(book.deals))
            report["runs"].append(row)
            say(f"run {run}/{runs}: ready in {row['ready_s']:.2f} s, L1-L5 held (settled in {row['settled_s']:.2f} s), "
                f"{row['requests']} requests, kill -9 after {row['kill_after_ms']} ms; integrity ok; terminal: "
                f"{row['positions']} positions, {row['deals']} deals")
        doubt_up_to = invariants.max_intent_id(procs.data_dir)
        procs.start_executor()
        client = procs.client()
        try:
            wait_ready(procs, client)
            report["final"] = check(procs, runs + 1, doubt_up_to)
        finally:
            client.close()
        journal = invariants.read_journal(procs.data_dir)
        report["intents"] = len(journal.by_id)
        report["statuses"] = dict(sorted({s: sum(1 for r in journal.by_id.values() if r["status"] == s)
                                          for s in {r["status"] for r in journal.by_id.values()}}.items()))
    finally:
        procs.stop()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stress.crash_loop", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="kill -9 and restart this many times (default 100)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the orders and kill times (default 7)")
    parser.add_argument("--run-dir", type=Path, help="data dir, logs and the terminal's state (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.runs < 1:
        print("python -m stress.crash_loop: --runs must be at least 1", file=sys.stderr)
        return 2
    run_dir = args.run_dir or Path(tempfile.mkdtemp(prefix="crash-loop-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        report = crash_loop(args.runs, args.seed, run_dir, quiet=args.quiet)
    except Failed as exc:
        print(f"crash loop FAILED: {exc}", file=sys.stderr)
        return 1
    report["elapsed_s"] = round(time.monotonic() - started, 1)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    print(f"crash loop: {args.runs} kill -9 at random points of the order path, L1-L5 and integrity_check held "
          f"after every restart; {report['intents']} intents {report['statuses']}; {report['elapsed_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
