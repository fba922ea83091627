"""`python -m stress` / `python stress/run.py`: run a stress scenario and report it.

    python -m stress --scenario bar50                 # 50 strategies x 10 symbols, one bar at a time
    python -m stress --scenario bar50 --terminal relay
    python -m stress --strategies 200 --symbols 5 --tick-rate 2 --bars 40 --disconnect-every 10 --disconnect-for 5
    python -m stress --scenario emergency --json out.json --plot out.png

Exit codes: 0 the run completed (targets may be missed: they are benchmarks), 1 the run could
not complete (a process did not start or answer; the message names its log), 2 bad usage.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

# As a script, Python puts stress/ first on the path, where its modules would shadow others'.
ROOT = str(Path(__file__).resolve().parents[1])
sys.path[:] = [ROOT] + [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from stress.scenarios import MAX_STRATEGIES, SCENARIOS, RunConfig, preset  # noqa: E402

FIELDS = {"strategies": "strategies", "symbols": "symbols", "tick_rate": "tick_rate", "ticks_per_bar": "ticks_per_bar",
          "bars": "bars", "duration": "duration_s", "seed": "seed", "terminal": "terminal",
          "disconnect_every": "disconnect_every_s", "disconnect_for": "disconnect_for_s",
          "drop_replies_every": "drop_replies_every_s", "delay_replies_every": "delay_replies_every_s",
          "delay_s": "delay_s", "requotes_every": "requotes_every_s",
          "restart_strategy_every": "restart_strategy_every_s", "spike_every": "spike_every_bars",
          "spike_pips": "spike_pips", "kill_executor": "kill_executor", "warmup_bars": "warmup_bars",
          "settle": "settle_s", "floor_samples": "floor_samples", "drop_order_replies": "drop_order_replies_pct",
          "delay_order_replies": "delay_order_replies_pct"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m stress", description="Stress the executor from outside and "
                                     "report latency, integrity and resources against the plan's targets.")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), help="a preset; options given win over it")
    load = parser.add_argument_group("load")
    load.add_argument("--strategies", type=int, help=f"strategies, spread over the symbols on M1 (default 50, "
                      f"up to {MAX_STRATEGIES})")
    load.add_argument("--symbols", type=int, help="symbols (default 10)")
    load.add_argument("--tick-rate", type=float, help="ticks per second per symbol (default 1)")
    load.add_argument("--ticks-per-bar", type=int, help="ticks per M1 bar (default 1: every tick closes a bar)")
    span = load.add_mutually_exclusive_group()
    span.add_argument("--bars", type=int, help="bars measured after the warm-up (default 30)")
    span.add_argument("--duration", type=float, metavar="S", help="seconds measured after the warm-up")
    load.add_argument("--seed", type=int, help="seed of the prices (default 7)")
    load.add_argument("--terminal", choices=("sim", "relay"),
                      help="sim: run.py sim as its own process (default); relay: a minimal EA, pure latency")
    faults = parser.add_argument_group("faults (sim terminal only; periods in seconds of the measured window)")
    faults.add_argument("--disconnect-every", type=float, metavar="S", help="take the EA's link down every S s")
    faults.add_argument("--disconnect-for", type=float, metavar="D", help="for D s (default 5)")
    faults.add_argument("--drop-replies-every", type=float, metavar="S", help="lose one reply every S s")
    faults.add_argument("--delay-replies-every", type=float, metavar="S", help="hold one order reply every S s")
    faults.add_argument("--delay-s", type=float, metavar="D", help="for D s (default 3)")
    faults.add_argument("--requotes-every", type=float, metavar="S", help="requote one deal every S s")
    faults.add_argument("--drop-order-replies", type=float, metavar="PCT",
                        help="lose this percentage of the first answers to orders (seeded)")
    faults.add_argument("--delay-order-replies", type=float, metavar="PCT",
                        help="hold this percentage of the first answers to orders --delay-s seconds (seeded)")
    faults.add_argument("--restart-strategy-every", type=float, metavar="S",
                        help="restart one strategy (UPDATE_STRATEGY) every S s: the control API cannot crash one")
    faults.add_argument("--spike-every", type=int, metavar="BARS", help="a volatility spike every BARS bars")
    faults.add_argument("--spike-pips", type=float, metavar="P", help="of P pips (default 30)")
    faults.add_argument("--kill-executor", action="store_true", default=None,
                        help="kill -9 the executor half way and restart it on the same data dir")
    out = parser.add_argument_group("output")
    out.add_argument("--json", type=Path, metavar="FILE", help="every figure, verdict and series as JSON")
    out.add_argument("--plot", type=Path, metavar="FILE.png", help="latency, RSS and CPU over time")
    out.add_argument("--run-dir", type=Path, help="where the data dir, logs and stamps go (default: a new temp dir)")
    out.add_argument("--quiet", action="store_true", help="no progress display")
    out.add_argument("--trace-hops", type=Path, metavar="FILE",
                     help="stamp every message the executor handles into FILE (python -m stress.hops FILE reads it)")
    tuning = parser.add_argument_group("tuning")
    tuning.add_argument("--warmup-bars", type=int, help="at most this many warm-up bars (default 6)")
    tuning.add_argument("--settle", type=float, metavar="S", help="wait at most S s for the last orders (default 20)")
    tuning.add_argument("--floor-samples", type=int, help="relay floor rounds (default 60; 0 = skip the floor)")
    return parser


def config_from(args: argparse.Namespace) -> RunConfig:
    fields = preset(args.scenario)
    given = {field: getattr(args, name) for name, field in FIELDS.items() if getattr(args, name) is not None}
    if "bars" in given:
        fields.pop("duration_s", None)
    if "duration_s" in given:
        fields.pop("bars", None)
    return RunConfig(**{**fields, **given})


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = config_from(args)
    problems = config.problems()
    if problems:
        for problem in problems:
            print(f"python -m stress: {problem}", file=sys.stderr)
        return 2
    from stress.driver import Run
    from stress.figures import compute
    from stress.procs import HarnessError
    from stress.progress import Progress
    from stress import report

    if args.trace_hops:  # the executor inherits these: stress/hop_trace/sitecustomize.py does the stamping
        os.environ["STRESS_HOP_TRACE"] = str(args.trace_hops.resolve())
        os.environ["PYTHONPATH"] = os.pathsep.join(
            [str(Path(__file__).resolve().parent / "hop_trace"), *filter(None, [os.environ.get("PYTHONPATH")])])
    run_dir = args.run_dir or Path(tempfile.mkdtemp(prefix=f"stress-{config.scenario}-{time.strftime('%H%M%S')}-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        with Progress(quiet=args.quiet) as progress:
            data = Run(config, run_dir, progress.update).run()
    except HarnessError as exc:
        print(f"python -m stress: {exc}", file=sys.stderr)
        return 1
    figures = compute(data)
    judged = report.render(data, figures)
    if args.json:
        report.write_json(args.json, data, figures, judged)
    if args.plot:
        report.write_plot(args.plot, data, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
