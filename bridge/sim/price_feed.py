"""Seeded random-walk quotes for the simulated terminal: live ticks and start-up history.

This module owns the simulated market's prices. Each symbol walks in log-price with a
standard deviation of `sim_volatility * sqrt(dt_seconds)`, so the statistics per unit of
simulated time do not depend on how many ticks were drawn; the spread varies a little around
`sim_spread_points`. Tick gaps are exponential. Everything is drawn from generators seeded by
(seed, symbol name), so one seed always replays the same market for the same calls.

Given the server's zone (`tz`, a ServerTz or a fixed offset), the feed keeps each symbol's trading sessions: no ticks
while a session is closed (the FX weekend, gold's daily break), and the walk stands still
meanwhile, because its variance follows trading time, not wall time. A feed started while a
symbol is closed first gives that symbol's last quote before the close (what a terminal
shows on a Saturday), and its history holds only minutes in which the symbol traded.
"""

from __future__ import annotations

import math
import zlib
from typing import Any, Mapping

import numpy as np

from bridge.trade_server.sessions import NEVER, Tz, add_open_ms, last_close_ms, open_minutes_before, open_ms_between

MS_PER_MINUTE = 60_000

# Spread points are scaled by exp(N(0, SPREAD_JITTER)): a spread that breathes, rarely doubles.
SPREAD_JITTER = 0.15
HISTORY_STREAM = 1  # sub-stream id so history draws never shift the live ticks

Tick = tuple[str, int, float, float]  # symbol, time_msc, bid, ask


def _rng(seed: int, symbol: str, stream: int = 0) -> np.random.Generator:
    # crc32, unlike hash(), is stable across processes.
    return np.random.default_rng([seed, zlib.crc32(symbol.encode()), stream])


class _SymbolWalk:
    """One symbol's live random walk: its clock, its mid price and its next tick time.

    With `tz` (and sessions in the spec) gaps are drawn in trading time, so a gap
    that runs past the close resumes at the next open; without, the symbol trades always.
    """

    def __init__(self, spec: Any, rng: np.random.Generator, start_ms: int, tz: Tz | None = None) -> None:
        self.spec = spec
        self.rng = rng
        self.tz = tz if spec.sessions_trade else None
        self.log_mid = math.log(spec.sim_start_price)
        self.last_ms = start_ms
        self.next_ms = start_ms  # the first tick comes at once: the trade server needs a quote
        self.closed_quote_ms: int | None = None
        if self.tz is not None:
            opens = add_open_ms(spec, start_ms, 0, self.tz)
            self.next_ms = NEVER if opens is None else opens
            if self.next_ms > start_ms:  # closed at the start: the last quote before the close first
                self.closed_quote_ms = last_close_ms(spec, start_ms, self.tz)
                if self.closed_quote_ms is not None:
                    self.closed_quote_ms -= 1

    def ticks_until(self, symbol: str, to_ms: int, mean_gap_ms: float, cap: int) -> list[Tick]:
        # Over a long interval the gaps widen so at most `cap` ticks are drawn; the walk's
        # variance still follows the elapsed time, so prices are statistically unchanged.
        gap_ms = max(mean_gap_ms, self._elapsed(to_ms) / cap)
        ticks: list[Tick] = []
        if self.closed_quote_ms is not None and self.closed_quote_ms <= to_ms:
            ticks.append(self._quote(symbol, self.closed_quote_ms))
            self.closed_quote_ms = None
        while self.next_ms <= to_ms and len(ticks) < cap:
            ticks.append(self._tick(symbol, self.next_ms))
            self.next_ms = self._after(self.next_ms, gap_ms)
        if self.next_ms <= to_ms:
            self.next_ms = self._after(to_ms, gap_ms)
        return ticks

    def _after(self, time_ms: int, gap_ms: float) -> int:
        gap = max(1, int(round(self.rng.exponential(gap_ms))))
        if self.tz is None:
            return time_ms + gap
        later = add_open_ms(self.spec, time_ms, gap, self.tz)
        return NEVER if later is None else later

    def _elapsed(self, to_ms: int) -> int:
        """Trading time since the last tick: what the walk's variance follows."""
        if self.tz is None:
            return to_ms - self.last_ms
        return open_ms_between(self.spec, self.last_ms, to_ms, self.tz)

    def _tick(self, symbol: str, time_ms: int) -> Tick:
        dt_s = max(0, self._elapsed(time_ms)) / 1000.0
        self.log_mid += self.spec.sim_volatility * math.sqrt(dt_s) * self.rng.standard_normal()
        self.last_ms = time_ms
        return self._quote(symbol, time_ms)

    def _quote(self, symbol: str, time_ms: int) -> Tick:
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
    """Deterministic quotes for `symbols` (name → SymbolSpec) from `start_ms` on.

    `tz` (the server's zone, or its fixed offset from UTC in seconds) makes symbols keep
    their trading sessions; None quotes every symbol round the clock.
    """

    def __init__(self, symbols: Mapping[str, Any], seed: int, start_ms: int, *,
                 mean_gap_ms: float = 700.0, max_ticks_per_symbol: int = 50,
                 tz: Tz | None = None) -> None:
        if max_ticks_per_symbol < 1:
            raise ValueError(f"max_ticks_per_symbol must be at least 1, got {max_ticks_per_symbol}")
        self.symbols = dict(symbols)
        self.seed = seed
        self.start_ms = int(start_ms)
        self.mean_gap_ms = mean_gap_ms
        self.max_ticks_per_symbol = max_ticks_per_symbol
        self.tz = tz
        self._walks = {name: _SymbolWalk(spec, _rng(seed, name), self.start_ms, tz)
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
        """M1 rate columns for the `minutes` whole minutes before the start minute (with
        sessions: the last `minutes` minutes in which the symbol traded).

        The walk runs backwards from the start price so that history flows into the live
        ticks without a jump; bars are built from the bid like live ones.
        """
        spec = self.symbols[symbol]
        if self.tz is not None and spec.sessions_trade:
            times = open_minutes_before(spec, self.start_ms, minutes, self.tz)
            minutes = len(times)
        else:
            times = (self.start_ms // MS_PER_MINUTE - minutes + np.arange(minutes, dtype=np.int64)) * MS_PER_MINUTE
        rng = _rng(self.seed, symbol, HISTORY_STREAM)
        n = minutes * ticks_per_minute
        step_s = 60.0 / ticks_per_minute
        steps = spec.sim_volatility * math.sqrt(step_s) * rng.standard_normal(n)
        log_mid = math.log(spec.sim_start_price) - np.cumsum(steps[::-1])[::-1]
        spreads = np.maximum(0, np.round(spec.sim_spread_points * np.exp(SPREAD_JITTER * rng.standard_normal(n))))
        bids = np.round(np.exp(log_mid) - spreads * spec.point / 2, spec.digits).reshape(minutes, ticks_per_minute)
        return {
            "time": times,
            "open": bids[:, 0].copy(),
            "high": bids.max(axis=1),
            "low": bids.min(axis=1),
            "close": bids[:, -1].copy(),
            "tick_volume": np.full(minutes, float(ticks_per_minute)),
            "spread": spreads.reshape(minutes, ticks_per_minute).min(axis=1),
            "real_volume": np.zeros(minutes),
        }
