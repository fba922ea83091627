"""The report of a run: a table on the terminal (each figure beside its target, PASS or MISS),
`--json FILE` with every figure and the raw series, `--plot FILE.png` of latency, RSS and CPU.

Targets are benchmarks, not assertions: a MISS is reported, never raised.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from stress.driver import RunData
from stress.figures import measured_orders
from stress.scenarios import meets

# (figure key, label, unit, decimals); the floor ratio of a latency figure is shown beside it.
ROWS = (
    ("Latency (tick published -> order_send read, at the terminal)", None, "", 0),
    ("latency_p50_ms", "tick->order p50", "ms", 1),
    ("latency_p90_ms", "tick->order p90", "ms", 1),
    ("latency_p99_ms", "tick->order p99", "ms", 1),
    ("latency_max_ms", "tick->order max", "ms", 1),
    ("last_order_out_p50_ms", "last order out p50 (per bar)", "ms", 1),
    ("last_order_out_max_ms", "last order out max (per bar)", "ms", 1),
    ("latency_n", "orders timed", "", 0),
    ("terminal_read_to_answer_p50_ms", "terminal: order read -> answered p50", "ms", 2),
    ("Orders", None, "", 0),
    ("orders", "order_send at the terminal", "", 0),
    ("fills", "fills", "", 0),
    ("terminal_rejections", "not filled at the terminal", "", 0),
    ("executor_refusals", "refused at the executor (events)", "", 0),
    ("answered_from_cache", "resends answered from the EA cache", "", 0),
    ("trades", "round trips closed (terminal deals OUT)", "", 0),
    ("missed_actions", "strategy-bars without an order", "", 0),
    ("missed_in_fault_windows", "  of which in fault windows", "", 0),
    ("Integrity (journal vs the terminal's positions and deals)", None, "", 0),
    ("lost", "lost (journal FILLED, no deal)", "", 0),
    ("duplicates", "duplicate (>1 deal per client order id)", "", 0),
    ("orphans", "orphan (deal/position unknown as FILLED)", "", 0),
    ("unsettled", "unsettled intents at the end", "", 0),
    ("phantoms", "phantom (journal open, terminal not)", "", 0),
    ("Executor process", None, "", 0),
    ("rss_peak_mb", "RSS peak", "MB", 1),
    ("rss_growth_mb", "RSS growth over the window", "MB", 1),
    ("cpu_mean_pct", "CPU mean (% of one core)", "%", 1),
    ("threads_max", "threads max", "", 0),
    ("mailboxes", "mailbox depths", "", 0),
    ("Kill switch", None, "", 0),
    ("open_before_stop", "positions open before EMERGENCY_STOP", "", 0),
    ("flat_s", "EMERGENCY_STOP -> terminal flat", "s", 3),
    ("emergency_reply_s", "EMERGENCY_STOP reply", "s", 3),
    ("remaining_after_stop", "positions left at the terminal", "", 0),
)


def verdicts(figures: dict[str, Any], targets: dict[str, tuple[str, float]]) -> dict[str, str]:
    out = {}
    for key, (comparison, bound) in targets.items():
        ok = meets(figures.get(key), comparison, bound)
        out[key] = "n/a" if ok is None else "PASS" if ok else "MISS"
    return out


def _value(value: Any, unit: str, decimals: int) -> str:
    if value is None:
        return "-"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:,.{decimals}f}{' ' + unit if unit else ''}"
    return str(value)


def render(data: RunData, figures: dict[str, Any], console: Console | None = None) -> dict[str, str]:
    console = console or Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 130))  # a log file is not an 80-column screen
    config = data.config
    judged = verdicts(figures, config.targets)
    floor = figures.get("floor") or {}
    title = (f"stress {config.scenario}: {config.strategies} strategies x {config.symbols} symbols, terminal "
             f"{config.terminal}, {config.tick_rate:g} ticks/s, {config.ticks_per_bar} tick(s)/bar, "
             f"{figures.get('bars_measured', 0)} bars measured; {os.cpu_count()} CPUs")
    table = Table(title=title, title_justify="left")
    for column, justify in (("figure", "left"), ("value", "right"), ("x floor", "right"), ("target", "right"),
                            ("", "left")):
        table.add_column(column, justify=justify)
    heading = None
    for key, label, unit, decimals in ROWS:
        if label is None:
            heading = key
            continue
        if figures.get(key) in (None, 0) and key.startswith("latency") and key not in config.targets:
            continue  # nothing was timed (the emergency scenario steps no measured bar)
        if key not in figures and key not in config.targets:
            continue
        if heading is not None:  # a section is shown only when it has a figure
            if table.row_count:
                table.add_section()
            table.add_row(f"[bold]{heading}[/bold]", "", "", "", "")
            heading = None
        ratio = figures.get(key.replace("_ms", "_x_floor")) if key.endswith("_ms") else None
        target = config.targets.get(key)
        verdict = judged.get(key, "")
        style = {"PASS": "green", "MISS": "red"}.get(verdict, "")
        shown = f"[{style}]{verdict}[/{style}]" if style else verdict
        table.add_row(label, _value(figures.get(key), unit, decimals), f"{ratio:,.0f}x" if ratio else "",
                      f"{target[0]} {target[1]:g}" if target else "", shown)
    console.print(table)
    if floor.get("per_order_p50_ms") is not None:
        console.print(f"relay floor (python SUB->DEALER, {floor['orders_per_round']} orders per round of "
                      f"{floor['symbols']} ticks): per order p50 {floor['per_order_p50_ms']:.2f} ms, "
                      f"p99 {floor['per_order_p99_ms']:.2f} ms, last order out p50 "
                      f"{floor['last_out_p50_ms'] or 0:.2f} ms")
    reasons = figures.get("rejections_by_reason") or {}
    if reasons:
        rt = Table(title="rejections by reason", title_justify="left")
        rt.add_column("count", justify="right")
        rt.add_column("reason")
        for reason, count in list(reasons.items())[:15]:
            rt.add_row(str(count), reason)
        console.print(rt)
    for key in ("duplicate_ids", "lost_ids", "orphan_ids", "unsettled_ids", "phantom_tickets"):
        if figures.get(key):
            console.print(f"[red]{key}[/red]: {figures[key]}")
    for note in figures.get("notes") or []:
        console.print(f"note: {note}")
    if figures.get("fault_counts"):
        console.print(f"faults injected: {figures['fault_counts']}")
    missed = [k for k, v in judged.items() if v == "MISS"]
    console.print(f"targets: {sum(v == 'PASS' for v in judged.values())} PASS, {len(missed)} MISS"
                  + (f" ({', '.join(missed)})" if missed else "") + f"; artefacts in {data.run_dir}")
    return judged


def series(data: RunData) -> dict[str, Any]:
    t0 = data.measured_t0 or (data.samples[0].t if data.samples else 0.0)
    orders = measured_orders(data)
    return {"latency": [[round(o["t"] / 1e9 - t0, 4), round(o["lat"] / 1e6, 3), o["sym"], o["step"]] for o in orders],
            "process": [[round(s.t - t0, 3), s.pid, round(s.rss / 1024 / 1024, 2), round(s.cpu_s, 3)]
                        for s in data.samples],
            "fault_windows": [[kind, round(a - t0, 3), round(b - t0, 3)] for kind, a, b in data.fault_windows]}


def write_json(path: Path, data: RunData, figures: dict[str, Any], judged: dict[str, str]) -> None:
    document = {"config": dataclasses.asdict(data.config), "machine": {"cpus": os.cpu_count(),
                                                                      "platform": platform.platform(),
                                                                      "python": platform.python_version()},
                "figures": figures, "verdicts": judged, "series": series(data), "run_dir": str(data.run_dir)}
    path.write_text(json.dumps(document, indent=1, default=str))


def write_plot(path: Path, data: RunData, figures: dict[str, Any]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = series(data)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), sharex=True)
    if s["latency"]:
        top.scatter([p[0] for p in s["latency"]], [p[1] for p in s["latency"]], s=4, alpha=0.5, label="order")
        top.set_yscale("log")
    for key, style in (("latency_p50_ms", "--"), ("latency_p99_ms", ":")):
        if figures.get(key) is not None:
            top.axhline(figures[key], linestyle=style, color="black", linewidth=1,
                        label=f"{key[8:11]} {figures[key]:.1f} ms")
    floor = (figures.get("floor") or {}).get("per_order_p50_ms")
    if floor:
        top.axhline(floor, color="green", linewidth=1, label=f"relay floor p50 {floor:.2f} ms")
    top.set_ylabel("tick -> order_send (ms)")
    top.legend(loc="upper right", fontsize=8)
    top.set_title(f"stress {data.config.scenario}: {data.config.strategies} strategies x {data.config.symbols} symbols "
                  f"({data.config.terminal})")
    proc = s["process"]
    if proc:
        bottom.plot([p[0] for p in proc], [p[2] for p in proc], color="tab:blue", label="RSS (MB)")
        bottom.set_ylabel("RSS (MB)")
        cpu = bottom.twinx()
        pct = [100 * (b[3] - a[3]) / (b[0] - a[0]) if b[1] == a[1] and b[0] > a[0] else 0.0
               for a, b in zip(proc, proc[1:])]
        cpu.plot([p[0] for p in proc[1:]], pct, color="tab:red", linewidth=0.8, alpha=0.7, label="CPU (% of a core)")
        cpu.set_ylabel("CPU (% of one core)")
    for kind, a, b in s["fault_windows"]:
        for axis in (top, bottom):
            axis.axvspan(a, b, color="orange", alpha=0.2)
    bottom.set_xlabel("seconds since the measured window began (shaded: faults)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
