"""Benchmark: what one closed bar costs a strategy with 5 indicators, alone and shared.

Reproduces the Strategy actor's work per bar (append to its ring buffer, take the bounded
window, evaluate the compiled rules) without the actor plumbing, on a random-walk M1
series, and prints microseconds per bar-close:
* one strategy (EMA 12/26, RSI 14, ATR 14, Bollinger 20, ADX 14);
* N strategies with the same indicators on the same series, sharing the indicator cache
  (per strategy), against the same N without it.
Run: `python stress/bench_strategy.py [N]` (default N = 50; about 20 s).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.candles import Bar, BarSeries  # noqa: E402
from actors.indicators.cache import IndicatorCache  # noqa: E402
from actors.rules.program import compile_rules  # noqa: E402
from actors.strategy.strategy import HISTORY_MARGIN, MIN_HISTORY, WINDOW_STEP  # noqa: E402

RULES = {
    "entry_long": "cross_above(ema(12), ema(26)) and rsi(14) < 70 and atr(14) > 0",
    "entry_short": "cross_below(ema(12), ema(26)) and rsi(14) > 30",
    "exit_long": "close < bb(20, 2).lower",
    "exit_short": "close > bb(20, 2).upper",
    "filters": ["adx(14) > 20"],
}
BARS = 3_000
SERIES = (1, "EURUSD", "M1")


def random_bars(n: int, seed: int = 5) -> list[Bar]:
    rng = np.random.default_rng(seed)
    close = 1.1 * np.exp(np.cumsum(rng.normal(0, 0.0004, n)))
    open_ = np.r_[1.1, close[:-1]]
    high = np.maximum(open_, close) + np.abs(rng.normal(0, 0.0002, n))
    low = np.minimum(open_, close) - np.abs(rng.normal(0, 0.0002, n))
    t0 = 1_700_000_000_000
    return [Bar(t0 + i * 60_000, open_[i], high[i], low[i], close[i], int(rng.integers(10, 200)), 10)
            for i in range(n)]


class MiniStrategy:
    """The per-bar work of actors.strategy.Strategy, without the actor."""

    def __init__(self, cache: IndicatorCache | None) -> None:
        self.rules = compile_rules(RULES)
        history = max(MIN_HISTORY, self.rules.required_bars + HISTORY_MARGIN)
        self.window = -(-history // WINDOW_STEP) * WINDOW_STEP
        self.bars = BarSeries(self.window)
        self.cache = cache

    def on_bar(self, bar: Bar) -> None:
        self.bars.append(bar)
        shared = None if self.cache is None else self.cache.for_bars(SERIES, bar.time, len(self.bars))
        self.rules.evaluate(self.bars.arrays(), cache=shared)


def per_bar_us(strategies: list[MiniStrategy], bars: list[Bar]) -> float:
    warm = strategies[0].window
    for bar in bars[:warm]:
        for s in strategies:
            s.on_bar(bar)
    start = time.perf_counter()
    for bar in bars[warm:]:
        for s in strategies:
            s.on_bar(bar)
    return (time.perf_counter() - start) / (len(bars) - warm) / len(strategies) * 1e6


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    bars = random_bars(BARS)
    single = MiniStrategy(None)
    print(f"strategy with 5 indicators, window {single.window} bars (required {single.rules.required_bars}):")
    print(f"  one strategy:                     {per_bar_us([single], bars):8.1f} us per bar-close")
    shared_cache = IndicatorCache()
    unshared = per_bar_us([MiniStrategy(None) for _ in range(n)], bars[:1000])
    shared = per_bar_us([MiniStrategy(shared_cache) for _ in range(n)], bars[:1000])
    print(f"  {n} strategies, no shared cache:   {unshared:8.1f} us per strategy per bar-close")
    print(f"  {n} strategies, shared cache:      {shared:8.1f} us per strategy per bar-close "
          f"({unshared / shared:.1f}x less)")


if __name__ == "__main__":
    main()
