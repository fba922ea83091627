"""What a run shows while it goes on: a rich live panel on a terminal, a line every few seconds
otherwise (CI logs), nothing with `--quiet`. Cheap on purpose: the machine is the one measured."""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from stress.figures import percentile

REFRESH_S = 0.5
PLAIN_EVERY_S = 5.0
RECENT = 1000


class Progress:
    def __init__(self, quiet: bool = False, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.quiet = quiet
        self.live: Live | None = None
        self.started = time.monotonic()
        self._last = 0.0
        self._last_plain = 0.0

    def __enter__(self) -> "Progress":
        if not self.quiet and self.console.is_terminal:
            self.live = Live(console=self.console, refresh_per_second=4, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    def update(self, snapshot: dict[str, Any]) -> None:
        now = time.monotonic()
        if self.quiet or now - self._last < REFRESH_S:
            return
        self._last = now
        figures = self._figures(snapshot)
        if self.live is not None:
            table = Table.grid(padding=(0, 2))
            for key, value in figures.items():
                table.add_row(f"[bold]{key}[/bold]", str(value))
            self.live.update(table)
        elif now - self._last_plain >= PLAIN_EVERY_S:
            self._last_plain = now
            print("stress: " + ", ".join(f"{k} {v}" for k, v in figures.items()), file=sys.stderr, flush=True)

    def _figures(self, snapshot: dict[str, Any]) -> dict[str, Any]:
        tail, data = snapshot["tail"], snapshot["data"]
        figures: dict[str, Any] = {"phase": snapshot["phase"], "elapsed": f"{time.monotonic() - self.started:.0f} s"}
        if snapshot.get("total"):
            figures["steps"] = f"{snapshot['done']}/{snapshot['total']}"
        orders = tail.orders
        figures["orders at terminal"] = len(orders)
        figures["open positions"] = tail.open_positions()
        first = data.measured_from_step
        recent = [o["lat"] / 1e6 for o in orders[-RECENT:] if first and o["lat"] is not None and o["step"] is not None
                  and o["step"] >= first and not o["cached"]]
        if recent:
            p50, p99 = percentile(recent, 50), percentile(recent, 99)
            figures["tick->order (recent)"] = f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
        samples = snapshot.get("samples") or []
        if samples:
            figures["executor RSS"] = f"{samples[-1].rss / 1024 / 1024:.0f} MB"
            if len(samples) > 1 and samples[-1].pid == samples[-2].pid and samples[-1].t > samples[-2].t:
                cpu = 100 * (samples[-1].cpu_s - samples[-2].cpu_s) / (samples[-1].t - samples[-2].t)
                figures["executor CPU"] = f"{cpu:.0f} %"
        events = snapshot.get("events")
        if events is not None and events.reasons:
            figures["executor refusals"] = sum(events.reasons.values())
        if data.fault_counts:
            figures["faults"] = data.fault_counts
        return figures
