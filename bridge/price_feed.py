"""Seeded random-walk quotes for the simulated terminal: live ticks and start-up history.

This module owns the simulated market's prices. Each symbol walks in log-price with a
standard deviation of `sim_volatility * sqrt(dt_seconds)`, so the statistics per unit of
simulated time do not depend on how many ticks were drawn; the spread varies a little around
`sim_spread_points`. Tick gaps are exponential. Everything is drawn from generators seeded by
(seed, symbol name), so one seed always replays the same market for the same calls.
"""

from __future__ import annotations

import math
import zlib
from typing import Any, Mapping

import numpy as np

MS_PER_MINUTE = 60_000

# Spread points are scaled by exp(N(0, SPREAD_JITTER)): a spread that breathes, rarely doubles.
SPREAD_JITTER = 0.15
HISTORY_STREAM = 1  # sub-stream id so history draws never shift the live ticks

Tick = tuple[str, int, float, float]  # symbol, time_msc, bid, ask


def _rng(seed: int, symbol: str, stream: int = 0) -> np.random.Generator:
    # crc32, unlike hash(), is stable across processes.
    return np.random.default_rng([seed, zlib.crc32(symbol.encode()), stream])


class _SymbolWalk:
    """One symbol's live random walk: its clock, its mid price and its next tick time."""

    def __init__(self, spec: Any, rng: np.random.Generator, start_ms: int) -> None:
        self.spec = spec
        self.rng = rng
        self.log_mid = math.log(spec.sim_start_price)
        self.last_ms = start_ms
        self.next_ms = start_ms  # the first tick comes at once: the trade server needs a quote

    def ticks_until(self, symbol: str, to_ms: int, mean_gap_ms: float, cap: int) -> list[Tick]:
        # Over a long interval the gaps widen so at most `cap` ticks are drawn; the walk's
        # variance still follows the elapsed time, so prices are statistically unchanged.
        gap_ms = max(mean_gap_ms, (to_ms - self.last_ms) / cap)
        ticks: list[Tick] = []
        while self.next_ms <= to_ms and len(ticks) < cap:
            ticks.append(self._tick(symbol, self.next_ms))
            self.next_ms += max(1, int(round(self.rng.exponential(gap_ms))))
        if self.next_ms <= to_ms:
            self.next_ms = to_ms + max(1, int(round(self.rng.exponential(gap_ms))))
        return ticks

    def _tick(self, symbol: str, time_ms: int) -> Tick:
        dt_s = (time_ms - self.last_ms) / 1000.0
        self.log_mid += self.spec.sim_volatility * math.sqrt(dt_s) * self.rng.standard_normal()
        self.last_ms = time_ms
        spread = spread_points(self.spec.sim_spread_points, self.rng.standard_normal())
        bid, ask = quote(math.exp(self.log_mid), spread, self.spec.point, self.spec.digits)
        return symbol, time_ms, bid, ask

    @property
    def mid(self) -> float:
        return math.exp(self.log_mid)


def spread_points(typical: float, z: float) -> int:
    return max(0, int(round(typical * math.exp(SPREAD_JITTER * z))))


def quote(mid: float, spread_pts: int, point: float, digits: int) -> tuple[float, float]:
    """Bid and ask around `mid`, `spread_pts` apart, on the symbol's price grid."""
    bid = round(mid - spread_pts * point / 2, digits)
    return bid, round(bid + spread_pts * point, digits)


class RandomWalkFeed:
    """Deterministic quotes for `symbols` (name → SymbolSpec) from `start_ms` on."""

    def __init__(self, symbols: Mapping[str, Any], seed: int, start_ms: int, *,
                 mean_gap_ms: float = 700.0, max_ticks_per_symbol: int = 50) -> None:
        if max_ticks_per_symbol < 1:
            raise ValueError(f"max_ticks_per_symbol must be at least 1, got {max_ticks_per_symbol}")
        self.symbols = dict(symbols)
        self.seed = seed
        self.start_ms = int(start_ms)
        self.mean_gap_ms = mean_gap_ms
        self.max_ticks_per_symbol = max_ticks_per_symbol
        self._walks = {name: _SymbolWalk(spec, _rng(seed, name), self.start_ms)
                       for name, spec in sorted(self.symbols.items())}

    def advance(self, to_ms: int) -> list[Tick]:
        """All ticks with `time_msc <= to_ms` not returned before, in time order."""
        ticks: list[Tick] = []
        for name, walk in self._walks.items():
            ticks.extend(walk.ticks_until(name, to_ms, self.mean_gap_ms, self.max_ticks_per_symbol))
        ticks.sort(key=lambda tick: tick[1])  # stable: same-ms ticks keep symbol order
        return ticks

    def mid(self, symbol: str) -> float:
        return self._walks[symbol].mid

    def history_m1(self, symbol: str, minutes: int, ticks_per_minute: int = 6) -> dict[str, np.ndarray]:
        """M1 rate columns for the `minutes` whole minutes before the start minute.

        The walk runs backwards from the start price so that history flows into the live
        ticks without a jump; bars are built from the bid like live ones.
        """
        spec = self.symbols[symbol]
        rng = _rng(self.seed, symbol, HISTORY_STREAM)
        n = minutes * ticks_per_minute
        step_s = 60.0 / ticks_per_minute
        steps = spec.sim_volatility * math.sqrt(step_s) * rng.standard_normal(n)
        log_mid = math.log(spec.sim_start_price) - np.cumsum(steps[::-1])[::-1]
        spreads = np.maximum(0, np.round(spec.sim_spread_points * np.exp(SPREAD_JITTER * rng.standard_normal(n))))
        bids = np.round(np.exp(log_mid) - spreads * spec.point / 2, spec.digits).reshape(minutes, ticks_per_minute)
        first_minute = (self.start_ms // MS_PER_MINUTE - minutes) * MS_PER_MINUTE
        return {
            "time": first_minute + MS_PER_MINUTE * np.arange(minutes, dtype=np.int64),
            "open": bids[:, 0].copy(),
            "high": bids.max(axis=1),
            "low": bids.min(axis=1),
            "close": bids[:, -1].copy(),
            "tick_volume": np.full(minutes, float(ticks_per_minute)),
            "spread": spreads.reshape(minutes, ticks_per_minute).min(axis=1),
            "real_volume": np.zeros(minutes),
        }
