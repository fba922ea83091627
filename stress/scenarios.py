"""What a stress run does (`RunConfig`), the named scenarios, and the targets they are held to.

A scenario is a preset of `RunConfig` fields plus the targets its report compares figures
with; options given on the command line win over the preset. Targets are the plan's numbers
(see the module docstring of `stress`): benchmarks, not assertions - a miss is reported.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

MAX_STRATEGIES = 1000
START = "2026-11-24T00:00:00Z"  # a Tuesday; with --always-open the weekday only names the bars


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    scenario: str = "custom"
    strategies: int = 50
    symbols: int = 10
    tick_rate: float = 1.0  # steps (one tick per symbol) per second
    ticks_per_bar: int = 1  # 1: every published tick closes an M1 bar
    bars: int = 30  # bars measured after the warm-up (ignored when `duration_s` is set)
    duration_s: float | None = None
    seed: int = 7
    terminal: str = "sim"  # sim: `run.py sim` as its own process; relay: stress/relay_ea.py
    mode: str = "flip"  # flip: enter, exit, enter... on every bar; hold: enter once (emergency)
    warmup_bars: int = 6  # at most this many bars until every strategy has acted once
    # faults (seconds between occurrences; 0 = never)
    disconnect_every_s: float = 0.0
    disconnect_for_s: float = 5.0
    drop_replies_every_s: float = 0.0
    delay_replies_every_s: float = 0.0
    delay_s: float = 3.0
    requotes_every_s: float = 0.0
    # Seeded, per first answer to an order during the measured window: lost, or held `delay_s`
    # (past the executor's 2.5 s request timeout when delay_s > 2.5).
    drop_order_replies_pct: float = 0.0
    delay_order_replies_pct: float = 0.0
    restart_strategy_every_s: float = 0.0
    spike_every_bars: int = 0
    spike_pips: float = 30.0
    kill_executor: bool = False  # kill -9 once, half way, and restart on the same data dir
    emergency: bool = False  # after the warm-up: EMERGENCY_STOP and time the way to flat
    settle_s: float = 20.0  # at most this long for the last orders after the last bar
    floor_samples: int = 60
    targets: dict[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        """Measured steps (ticks per symbol) after the warm-up."""
        if self.duration_s is not None:
            return max(1, int(round(self.duration_s * self.tick_rate)))
        return self.bars * self.ticks_per_bar

    @property
    def step_ms(self) -> int:
        return 60_000 // self.ticks_per_bar

    def problems(self) -> list[str]:
        found = []
        if not 1 <= self.strategies <= MAX_STRATEGIES:
            found.append(f"--strategies must be 1 to {MAX_STRATEGIES}")
        if not 1 <= self.symbols <= len(SYMBOL_NAMES):
            found.append(f"--symbols must be 1 to {len(SYMBOL_NAMES)}")
        if not 0 < self.tick_rate <= 200:
            found.append("--tick-rate must be above 0 and at most 200 ticks/s")
        if self.ticks_per_bar < 1 or 60_000 % self.ticks_per_bar:
            found.append("--ticks-per-bar must divide 60000 (a bar's milliseconds)")
        if not (0 <= self.drop_order_replies_pct and 0 <= self.delay_order_replies_pct
                and self.drop_order_replies_pct + self.delay_order_replies_pct <= 100):
            found.append("--drop-order-replies and --delay-order-replies are percentages that add up to 100 at most")
        if self.terminal not in ("sim", "relay"):
            found.append("--terminal must be sim or relay")
        if self.terminal == "relay" and self.fault_options():
            found.append(f"the relay terminal measures pure latency and injects no faults; drop "
                         f"{', '.join(self.fault_options())} or use --terminal sim")
        return found

    def fault_options(self) -> list[str]:
        names = {"disconnect_every_s": "--disconnect-every", "drop_replies_every_s": "--drop-replies-every",
                 "delay_replies_every_s": "--delay-replies-every", "requotes_every_s": "--requotes-every",
                 "restart_strategy_every_s": "--restart-strategy-every", "kill_executor": "--kill-executor",
                 "drop_order_replies_pct": "--drop-order-replies", "delay_order_replies_pct": "--delay-order-replies"}
        return [flag for key, flag in names.items() if getattr(self, key)]

    def replace(self, **changes: Any) -> "RunConfig":
        return dataclasses.replace(self, **changes)


# The four fixtures that trade like majors, then EUR/USD-like pairs the harness adds to the
# simulated broker (bridge.symbols: a new name is a 5-digit EUR/USD-like FX pair).
SYMBOL_NAMES = ("EURUSD", "GBPUSD", "USDJPY", "XAUUSD") + tuple(f"STRESS{i:02d}" for i in range(5, 51))
ADDED_SYMBOLS = {name: {"sim_start_price": round(0.8 + 0.01 * i, 5), "description": "stress harness pair"}
                 for i, name in enumerate(SYMBOL_NAMES[4:], start=5)}

# Targets: figure key -> (comparison, bound). Keys are those of stress.figures.
SCENARIOS: dict[str, dict[str, Any]] = {
    "bar50": dict(strategies=50, symbols=10, tick_rate=0.5, bars=30,
                  targets={"latency_p50_ms": ("<=", 5.0), "latency_p99_ms": ("<=", 15.0), "lost": ("==", 0),
                           "duplicates": ("==", 0), "orphans": ("==", 0), "missed_actions": ("==", 0)}),
    "bar500": dict(strategies=500, symbols=10, tick_rate=0.1, bars=8,
                   targets={"last_order_out_max_ms": ("<=", 150.0), "rss_peak_mb": ("<=", 300.0), "lost": ("==", 0),
                            "duplicates": ("==", 0)}),
    "steady": dict(strategies=50, symbols=10, tick_rate=20.0, ticks_per_bar=100, duration_s=60.0,
                   targets={"cpu_mean_pct": ("<=", 30.0), "rss_peak_mb": ("<=", 150.0), "lost": ("==", 0),
                            "duplicates": ("==", 0)}),
    "emergency": dict(strategies=200, symbols=10, tick_rate=0.5, bars=0, mode="hold", emergency=True,
                      targets={"flat_s": ("<=", 1.0), "remaining_after_stop": ("==", 0), "lost": ("==", 0),
                               "duplicates": ("==", 0)}),
    "soak": dict(strategies=50, symbols=10, tick_rate=1.0, ticks_per_bar=5, duration_s=3600.0,
                 disconnect_every_s=300.0, disconnect_for_s=20.0, settle_s=40.0,
                 targets={"rss_growth_mb": ("<", 5.0), "lost": ("==", 0), "duplicates": ("==", 0),
                          "orphans": ("==", 0)}),
    # 1 000 orders and more (50 strategies x 22 bars) with 10% of the order answers lost and 5% late past the
    # request timeout: every order once, nothing lost, nothing unknown (RELIABILITY.md L2-L5).
    "faults": dict(strategies=50, symbols=10, tick_rate=0.5, bars=22, drop_order_replies_pct=10.0,
                   delay_order_replies_pct=5.0, delay_s=4.0, settle_s=40.0, floor_samples=0,
                   targets={"lost": ("==", 0), "duplicates": ("==", 0), "orphans": ("==", 0), "unsettled": ("==", 0),
                            "phantoms": ("==", 0)}),
    "paper": dict(strategies=50, symbols=10, tick_rate=0.5, bars=44,
                  targets={"trades": (">=", 1000), "lost": ("==", 0), "duplicates": ("==", 0), "orphans": ("==", 0),
                           "unsettled": ("==", 0)}),
}
DEFAULT_TARGETS = {"lost": ("==", 0), "duplicates": ("==", 0), "orphans": ("==", 0)}


def preset(name: str | None) -> dict[str, Any]:
    """The RunConfig fields of scenario `name` (None: the custom defaults)."""
    if name is None:
        return {"targets": dict(DEFAULT_TARGETS)}
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}")
    return {"scenario": name, **SCENARIOS[name]}


def meets(value: Any, comparison: str, bound: float) -> bool | None:
    """Whether `value` meets the target; None when there is no value to judge."""
    if value is None:
        return None
    return {"<=": value <= bound, "<": value < bound, ">=": value >= bound, "==": value == bound}[comparison]
