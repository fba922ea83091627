"""Benchmark: batch indicator time on 100k bars against TA-Lib, and incremental update cost.

Prints, for each indicator, our best-of-N batch time as a multiple of TA-Lib's on the same
data (goal: at most 3x), measured with a warm heap and, for reference, with a cold one;
then the microseconds one closed bar costs in the incremental state classes.
Runs standalone in a few seconds: `python stress/bench_indicators.py`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actors.indicators import batch as ind  # noqa: E402

BARS = 100_000
REPEATS = 7
GOAL_RATIO = 3.0
INCREMENTAL_BARS = 20_000


def random_walk_bars(n: int, seed: int = 11) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 1.1 * np.exp(np.cumsum(rng.normal(0.0, 0.0006, n)))
    open_ = np.concatenate(([1.1], close[:-1]))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0.0, 0.0003, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0.0, 0.0003, n)))
    volume = np.round(rng.lognormal(6.0, 0.5, n))
    time_ms = 1_700_000_000_000 + np.arange(n, dtype=np.int64) * 60_000
    return {"open": open_, "high": high, "low": low, "close": close, "volume": volume,
            "time": time_ms.astype(np.float64)}


def best_time(call) -> float:
    call()
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


def batch_cases(b, talib):
    h, l, c, v = b["high"], b["low"], b["close"], b["volume"]
    cases = [
        ("sma(20)", lambda: ind.sma(c, 20), lambda: talib.SMA(c, 20)),
        ("ema(20)", lambda: ind.ema(c, 20), lambda: talib.EMA(c, 20)),
        ("rsi(14)", lambda: ind.rsi(c), lambda: talib.RSI(c, 14)),
        ("macd(12,26,9)", lambda: ind.macd(c), lambda: talib.MACD(c)),
        ("atr(14)", lambda: ind.atr(h, l, c), lambda: talib.ATR(h, l, c)),
        ("bb(20,2)", lambda: ind.bollinger(c), lambda: talib.BBANDS(c, 20, 2.0, 2.0, 0)),
        ("stoch(14,3,3)", lambda: ind.stochastic(h, l, c, 14, 3, 3),
         lambda: talib.STOCH(h, l, c, 14, 3, 0, 3, 0)),
        ("adx(14)", lambda: ind.adx(h, l, c),
         lambda: (talib.ADX(h, l, c), talib.PLUS_DI(h, l, c), talib.MINUS_DI(h, l, c))),
        ("cci(20)", lambda: ind.cci(h, l, c, 20), lambda: talib.CCI(h, l, c, 20)),
        ("willr(14)", lambda: ind.williams_r(h, l, c), lambda: talib.WILLR(h, l, c)),
        ("obv()", lambda: ind.obv(c, v), lambda: talib.OBV(c, v)),
        ("volume_ma(20)", lambda: ind.volume_ma(v), lambda: talib.SMA(v, 20)),
        ("ichimoku()", lambda: ind.ichimoku(h, l, c), None),
        ("vwap()", lambda: ind.vwap(h, l, c, v, b["time"]), None),
    ]
    return cases if talib else [(name, ours, None) for name, ours, _ in cases]


def time_cases(cases) -> list[tuple[float, float | None]]:
    return [(best_time(ours), None if theirs is None else best_time(theirs))
            for _, ours, theirs in cases]


def warm_the_heap() -> None:
    # glibc hands a freed heap top back to the OS once it exceeds a threshold that grows
    # with the largest mmap'd block freed so far; until then every call re-faults fresh
    # pages (~3 us each in a VM), which swamps the arithmetic of both libraries. A
    # long-running service reaches the warm state after its first big temporary.
    np.ones(2 * 2**20)


def report_batch(bars) -> None:
    try:
        import talib
    except ImportError:
        talib = None
        print("TA-Lib is not installed (pip install ta-lib): printing our times only")
    cases = batch_cases(bars, talib)
    cold = time_cases(cases)
    warm_the_heap()
    warm = time_cases(cases)
    print(f"batch on {BARS:,} bars, best of {REPEATS}; ratio = our time / TA-Lib's time")
    print(f"  {'indicator':15s} {'ours, ms':>9s} {'ratio':>7s} {'cold heap':>10s}")
    over_goal = []
    for (name, _, _), (ours_s, theirs_s), (cold_ours, cold_theirs) in zip(cases, warm, cold):
        if theirs_s is None:
            print(f"  {name:15s} {ours_s * 1e3:9.3f}     (no TA-Lib counterpart)")
            continue
        ratio = ours_s / theirs_s
        if ratio > GOAL_RATIO:
            over_goal.append(name)
        print(f"  {name:15s} {ours_s * 1e3:9.3f} {ratio:6.2f}x {cold_ours / cold_theirs:9.2f}x")
    if over_goal:
        print(f"  over the {GOAL_RATIO:g}x goal: {', '.join(over_goal)}")


def report_incremental(bars) -> None:
    h, l, c = (bars[k][:INCREMENTAL_BARS].tolist() for k in ("high", "low", "close"))
    cases = [
        ("SmaState(20)", ind.SmaState(20), lambda s, i: s.update(c[i])),
        ("EmaState(20)", ind.EmaState(20), lambda s, i: s.update(c[i])),
        ("RsiState(14)", ind.RsiState(14), lambda s, i: s.update(c[i])),
        ("AtrState(14)", ind.AtrState(14), lambda s, i: s.update(h[i], l[i], c[i])),
        ("MacdState()", ind.MacdState(), lambda s, i: s.update(c[i])),
    ]
    print(f"incremental, per closed bar (mean over {INCREMENTAL_BARS:,} updates)")
    for name, state, step in cases:
        started = time.perf_counter()
        for i in range(INCREMENTAL_BARS):
            step(state, i)
        per_bar = (time.perf_counter() - started) / INCREMENTAL_BARS
        print(f"  {name:15s} {per_bar * 1e6:8.2f} us")


def main() -> None:
    bars = random_walk_bars(BARS)
    report_batch(bars)
    report_incremental(bars)


if __name__ == "__main__":
    main()
