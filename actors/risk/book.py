"""What the RiskGuard knows of its account between orders (pure): money, the day's start,
the equity peak, recent order times. It turns a CheckOrder into the `Book` the checks read.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from actors.risk.checks import orders_in_window
from actors.risk.model import Book

DAY_MS = 86_400_000
RATE_WINDOW_MS = 60_000


@dataclass
class RiskBook:
    info: dict[str, Any] = field(default_factory=dict)
    peak_equity: float | None = None
    day: int | None = None  # the broker-server day the day-start balance belongs to
    day_start_balance: float | None = None
    sent: deque = field(default_factory=lambda: deque(maxlen=10_000))  # (time_ms, strategy_id) of openings

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
        self.sent.append((now_ms, strategy_id))

    def book(self, order: Any, *, now_ms: int, trading_state: str, kill_switch: bool) -> Book:
        times = [t for t, _ in self.sent]
        own = [t for t, s in self.sent if s == order.strategy_id]
        info = self.info
        return Book(
            open_positions=order.open_positions, open_positions_of_strategy=order.open_positions_of_strategy,
            trading_state=trading_state, kill_switch=kill_switch,
            balance=info.get("balance"), equity=info.get("equity"), day_start_balance=self.day_start_balance,
            peak_equity=self.peak_equity, margin=info.get("margin"), margin_free=info.get("margin_free"),
            margin_level=info.get("margin_level") or None, required_margin=order.required_margin,
            positions=tuple(tuple(p) for p in order.positions),
            currencies={k: tuple(v) for k, v in (order.currencies or {}).items()},
            orders_last_minute=orders_in_window(times, now_ms, RATE_WINDOW_MS),
            orders_last_minute_of_strategy=orders_in_window(own, now_ms, RATE_WINDOW_MS),
        )

    def account_book(self, *, trading_state: str, kill_switch: bool) -> Book:
        """The book without an order: for the breach checks after every account update."""
        info = self.info
        return Book(open_positions=0, open_positions_of_strategy=0, trading_state=trading_state,
                    kill_switch=kill_switch, balance=info.get("balance"), equity=info.get("equity"),
                    day_start_balance=self.day_start_balance, peak_equity=self.peak_equity)
