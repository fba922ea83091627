"""What the RiskGuard knows of its account between orders (pure): money, the day's start,
the equity peak, recent order times. It turns a CheckOrder into the `Book` the checks read.

The open positions and their currencies come with every order; while they are the same
objects (the Account builds them once per change of its positions), their Book form and net
currency exposure are built once and shared by every order.

Order times are kept only for the rate window (a minute of server time), per account and per
strategy, so a check costs the same after a million orders as after ten. Times are pruned
against the newest time seen; a server clock that goes back (a new terminal, a replay run
again) may then count fewer of the orders from before it went back.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from actors.risk.correlation import currency_exposure
from actors.risk.model import Book

DAY_MS = 86_400_000
RATE_WINDOW_MS = 60_000


@dataclass
class RiskBook:
    info: dict[str, Any] = field(default_factory=dict)
    peak_equity: float | None = None
    day: int | None = None  # the broker-server day the day-start balance belongs to
    day_start_balance: float | None = None
    sent: deque = field(default_factory=deque)  # time_ms of the openings in the rate window, oldest first
    sent_by_strategy: dict[str, deque] = field(default_factory=dict)  # the same, per strategy
    # (positions, currencies) as the last CheckOrder had them, and their Book form and exposure
    _exposure_of: tuple[Any, Any] = (None, None)
    _exposure: tuple[tuple, dict, dict] = ((), {}, {})

    def on_account(self, info: Mapping[str, Any], now_ms: int, tz_offset_s: int) -> None:
        """A new AccountInfo: track the equity peak and the balance the server day started with."""
        self.info = dict(info)
        equity = info.get("equity")
        if isinstance(equity, (int, float)):
            self.peak_equity = equity if self.peak_equity is None else max(self.peak_equity, equity)
        day = (now_ms + tz_offset_s * 1000) // DAY_MS
        if day != self.day and isinstance(info.get("balance"), (int, float)):
            self.day, self.day_start_balance = day, float(info["balance"])

    def record_sent(self, now_ms: int, strategy_id: str) -> None:
        self.sent.append(now_ms)
        self.sent_by_strategy.setdefault(strategy_id, deque()).append(now_ms)

    def _in_window(self, times: deque, now_ms: int) -> int:
        """How many of `times` fall in the rate window ending at `now_ms` (older ones are dropped)."""
        while times and times[0] <= now_ms - RATE_WINDOW_MS:
            times.popleft()
        later = 0  # after now: recorded before the clock went back, not counted (orders_in_window's rule)
        for t in reversed(times):
            if t <= now_ms:
                break
            later += 1
        return len(times) - later

    def book(self, order: Any, *, now_ms: int, trading_state: str, kill_switch: bool) -> Book:
        own = self.sent_by_strategy.get(order.strategy_id)
        own_count = 0 if own is None else self._in_window(own, now_ms)
        if own is not None and not own:
            del self.sent_by_strategy[order.strategy_id]
        info = self.info
        positions, currencies, exposure = self._positions_of(order)
        return Book(
            open_positions=order.open_positions, open_positions_of_strategy=order.open_positions_of_strategy,
            trading_state=trading_state, kill_switch=kill_switch,
            balance=info.get("balance"), equity=info.get("equity"), day_start_balance=self.day_start_balance,
            peak_equity=self.peak_equity, margin=info.get("margin"), margin_free=info.get("margin_free"),
            margin_level=info.get("margin_level") or None, required_margin=order.required_margin,
            positions=positions, currencies=currencies, exposure=exposure,
            orders_last_minute=self._in_window(self.sent, now_ms),
            orders_last_minute_of_strategy=own_count,
        )

    def _positions_of(self, order: Any) -> tuple[tuple, dict, dict]:
        if self._exposure_of[0] is not order.positions or self._exposure_of[1] is not order.currencies:
            positions = tuple(tuple(p) for p in order.positions)
            currencies = {k: tuple(v) for k, v in (order.currencies or {}).items()}
            self._exposure_of = (order.positions, order.currencies)  # held: their ids stay theirs
            self._exposure = (positions, currencies, currency_exposure(positions, currencies))
        return self._exposure

    def account_book(self, *, trading_state: str, kill_switch: bool) -> Book:
        """The book without an order: for the breach checks after every account update."""
        info = self.info
        return Book(open_positions=0, open_positions_of_strategy=0, trading_state=trading_state,
                    kill_switch=kill_switch, balance=info.get("balance"), equity=info.get("equity"),
                    day_start_balance=self.day_start_balance, peak_equity=self.peak_equity)
