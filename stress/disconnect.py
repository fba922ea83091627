"""`python -m stress.disconnect --down 60`: a long EA disconnect with open positions, stops hit and
an orphan opened by hand meanwhile; after the reconnect all of it must be settled and reported.

The executor (`run.py service --no-sim`) and the stepped simulated terminal (`run.py sim
--stepped`, its own process) as in `python -m stress`. Four strategies each hold one position:
two with stops 5 pips away (a long and a short on EURUSD), two with stops 300 pips away
(GBPUSD). Then the EA's link goes down for `--down` seconds while the broker's market goes on:
every price jumps +40 pips, someone opens 0.05 lots of EURUSD by hand in the terminal, every
price jumps -80 pips (both tight stops are hit), and the market keeps stepping once a second.
When the link is back the executor must reconcile (RELIABILITY.md) and then:

* report it: STATUS's `reconciliation` (the `Reconciled` event) counts the two stops as
  phantoms and the hand-made position as an orphan;
* have journaled each stop hit as a trade with the terminal's own profit (L4: no journal
  position open that the terminal closed), the orphan as an `external` position (L2), and
  hold L1-L5 (stress/invariants.py) against the terminal's final book.

Exit code 0 when all of it held, 1 otherwise (what broke is printed), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bridge import mt5  # noqa: E402
from bridge.sim.config import parse_start  # noqa: E402
from stress import invariants  # noqa: E402
from stress.observe import StampsTail  # noqa: E402
from stress.procs import STRESS_LIMITS, Endpoints, Executor, HarnessError, Terminal, wait_until  # noqa: E402
from stress.scenarios import START  # noqa: E402

SYMBOLS = ["EURUSD", "GBPUSD"]
STEP_MS = 60_000
TIGHT, WIDE = 5, 300  # stop distances in pips
HAND = {"action": mt5.TRADE_ACTION_DEAL, "symbol": "EURUSD", "volume": 0.05, "type": mt5.ORDER_TYPE_BUY,
        "type_filling": mt5.ORDER_FILLING_IOC, "deviation": 50}


def holder(symbol: str, side: str, stop_pips: int) -> dict[str, Any]:
    """Enters once on `side` with a stop `stop_pips` away and holds (no exit rule)."""
    return {"name": f"hold-{side}", "symbol": symbol, "timeframe": "M1", "rules": {f"entry_{side}": "close > 0"},
            "settings": {"sizing": {"method": "fixed", "lots": 0.01}, "max_positions": 1,
                         "stop_loss": {"pips": stop_pips}}}


STRATEGIES = {"tight-long": holder("EURUSD", "long", TIGHT), "tight-short": holder("EURUSD", "short", TIGHT),
              "wide-long": holder("GBPUSD", "long", WIDE), "wide-short": holder("GBPUSD", "short", WIDE)}


class Broken(RuntimeError):
    """What did not hold after the reconnect."""


class Disconnect:
    def __init__(self, run_dir: Path, down_s: float, seed: int, say: Any) -> None:
        self.run_dir, self.down_s, self.seed, self.say = run_dir, down_s, seed, say
        self.endpoints = Endpoints()
        start_ms = parse_start(START)
        self.plan = {"symbols": SYMBOLS, "start_ms": start_ms, "step_ms": STEP_MS, "seed": seed,
                     "stamps": str(run_dir / "stamps.jsonl"), "commands": self.endpoints.commands}
        self.tail = StampsTail(run_dir / "stamps.jsonl", start_ms, STEP_MS)
        self.terminal = Terminal("sim", run_dir, self.endpoints, self.plan, seed)
        self.executor = Executor(run_dir, self.endpoints)
        self.step = 0
        self.report: dict[str, Any] = {"down_s": down_s, "seed": seed, "run_dir": str(run_dir)}

    def run(self) -> dict[str, Any]:
        self.terminal.write_files({})
        try:
            self.executor.start()
            self.terminal.start()
            wait_until(self._ready, 60, f"the account to be ready (logs in {self.run_dir})", 0.2)
            self.executor.ok("UPDATE_RISK_LIMITS", {"limits": STRESS_LIMITS})
            for strategy_id, definition in STRATEGIES.items():
                self.executor.ok("START_STRATEGY", {"strategy_id": strategy_id, "strategy": definition})
            self._warm_up()
            held = {p["strategy_id"]: p["ticket"] for p in self.executor.ok("STATUS_REQUEST")["positions"]}
            self.report["held_before"] = held
            self._away()
            back = time.monotonic()
            wait_until(self._reconciled_again, 30, "the account to reconcile after the reconnect", 0.1)
            self.report["ready_after_reconnect_s"] = round(time.monotonic() - back, 2)
            self._settle(held)
        finally:
            self.executor.stop()
            self.terminal.stop()
        self._verdict(held)
        return self.report

    def _ready(self) -> bool:
        try:
            accounts = self.executor.ok("STATUS_REQUEST", timeout_s=5.0)["accounts"]
        except Exception:  # noqa: BLE001 - starting or busy: not yet
            return False
        return bool(accounts) and bool(accounts[0].get("ready"))

    def _step(self) -> None:
        self.step += 1
        self.terminal.command(step=self.step)

    def _warm_up(self) -> None:
        for _ in range(15):
            self._step()
            time.sleep(0.5)
            if len(self.executor.ok("STATUS_REQUEST")["positions"]) == len(STRATEGIES):
                return
        raise HarnessError("the four strategies did not each open their position")

    def _away(self) -> None:
        self.terminal.command(link=False)
        wait_until(lambda: not self.executor.ok("STATUS_REQUEST")["accounts"][0]["connected"], 10,
                   "the executor to see the link down", 0.1)
        went = time.monotonic()
        self.say(f"EA link down for {self.down_s:g} s: stops hit and a trade by hand meanwhile")
        self.terminal.command(shock=40)
        self._step()
        self.terminal.command(open=HAND)
        self.terminal.command(shock=-80)
        self._step()
        while time.monotonic() - went < self.down_s:
            time.sleep(min(1.0, max(0.0, self.down_s - (time.monotonic() - went))))
            self._step()  # the broker's market goes on
        self.terminal.command(link=True)

    def _reconciled_again(self) -> bool:
        if not self._ready():
            return False
        row = self.executor.ok("STATUS_REQUEST")["accounts"][0].get("reconciliation") or {}
        if row.get("reason") == "reconnect":
            self.report["reconciled"] = {k: row[k] for k in ("confirmed", "filled_while_down", "never_placed",
                                                             "orphans", "phantoms", "duplicates", "orphan_policy",
                                                             "duration_ms")}
            return True
        return False

    def _settle(self, held: dict[str, int]) -> None:
        """The stops' trades journaled and the orphan adopted, as STATUS and the journal say."""
        def settled() -> bool:
            trades = self._journal("SELECT ticket FROM trades")
            return {held["tight-long"], held["tight-short"]} <= {t for (t,) in trades}
        try:
            wait_until(settled, 30, "the stops hit while away to be journaled", 0.2)
        except HarnessError as exc:
            self.report.setdefault("broken", []).append(str(exc))

    def _journal(self, sql: str) -> list[tuple]:
        with sqlite3.connect(f"file:{self.executor.data_dir / 'journal.sqlite3'}?mode=ro", uri=True) as db:
            return db.execute(sql).fetchall()

    def _verdict(self, held: dict[str, int]) -> None:
        broken: list[str] = self.report.setdefault("broken", [])
        wait_until(lambda: self.tail.poll() >= 0 and self.tail.final is not None, 15, "the terminal's final book")
        final = self.tail.final
        book = invariants.TerminalBook(final["positions"], [], [], final["deals"])
        journal = invariants.read_journal(self.executor.data_dir)
        found = invariants.violations(journal, book, settled=True, doubt_up_to=max(journal.by_id, default=0))
        broken += [f"{rule}: {culprits}" for rule, culprits in found.items()]
        hand = [p for p in final["positions"] if not p["magic"] and p["volume"] == HAND["volume"]]
        if len(hand) != 1 or journal.open_positions.get(hand[0]["ticket"]) != "external":
            broken.append(f"the position opened by hand is not journaled as external: {hand}")
        trades = {t: (profit, reason) for t, profit, reason in self._journal(
            "SELECT ticket, profit, reason FROM trades")}
        for name in ("tight-long", "tight-short"):
            ticket = held.get(name)
            exits = [d for d in final["deals"] if d["position_id"] == ticket and d["entry"] == mt5.DEAL_ENTRY_OUT]
            real = round(sum(d["profit"] + d["swap"] + d["commission"] + d["fee"] for d in exits), 2)
            if not exits or exits[0]["reason"] != mt5.DEAL_REASON_SL:
                broken.append(f"{name}'s position {ticket} was not stopped out while away: {exits}")
            elif trades.get(ticket) != (real, "sl"):
                broken.append(f"{name}'s stop: journal {trades.get(ticket)}, terminal profit {real}")
        wide = [held.get("wide-long"), held.get("wide-short")]
        if any(journal.open_positions.get(t) is None for t in wide):
            broken.append(f"the positions whose stops were not hit are not open in the journal: {wide}")
        counts = self.report.get("reconciled", {})
        if counts.get("phantoms", 0) < 2 or counts.get("orphans", 0) < 1:
            broken.append(f"Reconciled does not report the stops and the orphan: {counts}")
        self.report["stops_journaled"] = {name: trades.get(held.get(name)) for name in ("tight-long", "tight-short")}
        self.report["orphan"] = hand[0]["ticket"] if hand else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stress.disconnect", description=__doc__.splitlines()[0])
    parser.add_argument("--down", type=float, default=60.0, help="seconds the EA's link stays down (default 60)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--run-dir", type=Path, help="data dir, logs and stamps (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if not args.down >= 4:
        print("python -m stress.disconnect: --down must be at least 4 s (3 missed heartbeats take the link down)",
              file=sys.stderr)
        return 2
    run_dir = args.run_dir or Path(tempfile.mkdtemp(prefix="disconnect-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    try:
        report = Disconnect(run_dir, args.down, args.seed, say).run()
    except HarnessError as exc:
        print(f"python -m stress.disconnect: {exc}", file=sys.stderr)
        return 1
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    if report["broken"]:
        print("disconnect FAILED:\n  " + "\n  ".join(report["broken"]), file=sys.stderr)
        return 1
    print(f"disconnect of {args.down:g} s: reconciled {report['ready_after_reconnect_s']} s after the link was back; "
          f"{report['reconciled']}; stops journaled (profit, reason) {report['stops_journaled']}; orphan "
          f"{report['orphan']} adopted as external; L1-L5 held")
    return 0


if __name__ == "__main__":
    sys.exit(main())
