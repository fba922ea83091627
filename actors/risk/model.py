"""What the pre-trade checks read: the order, the account's book, and what a check answers.

A check is `(order, book, limits) -> str | RiskWarning | None`: a string refuses with that
reason, a RiskWarning lets the order through with a warning (and, when it carries a
volume, a reduced volume), None approves. A Book field left at None means "not known":
the checks that need it are skipped, so callers that do not yet provide it keep working.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ACTIVE = "ACTIVE"
REDUCING = "REDUCING"  # only closing orders
HALTED = "HALTED"


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderToCheck:
    strategy_id: str
    symbol: str
    side: str  # "buy" | "sell"
    volume: float
    closing: bool
    # The symbol's volume grid, so a reduced volume stays tradable; 0 = unknown, not rounded.
    volume_step: float = 0.0
    volume_min: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class NewsEvent:
    """An economic calendar event; `impact` "high"/"medium"/"low" or MT5's importance 1..3."""
    time_ms: int  # server time, ms
    currency: str
    impact: str | int = "high"
    title: str = ""


Session = tuple[int, int, int]  # (day of week, Sunday = 0 as in MQL5; from_s; to_s) seconds from server midnight
Position = tuple[str, str, float]  # (symbol, "buy" | "sell", volume)


@dataclass(frozen=True, slots=True, kw_only=True)
class Book:
    """What the risk checks see of the account. Money is in the deposit currency."""
    open_positions: int
    open_positions_of_strategy: int
    trading_state: str = ACTIVE
    trading_state_reason: str = ""  # why the account is REDUCING or HALTED
    kill_switch: bool = False
    balance: float | None = None
    equity: float | None = None
    day_start_balance: float | None = None  # balance at the broker-server day start
    realised_today: float | None = None  # None: balance − day_start_balance
    floating_pnl: float | None = None  # None: equity − balance
    peak_equity: float | None = None
    margin: float | None = None  # used
    margin_free: float | None = None
    margin_level: float | None = None  # %; stands in for `margin` when only it is known
    required_margin: float | None = None  # order_calc_margin of this order
    positions: tuple[Position, ...] = ()
    currencies: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # symbol -> (base, profit)
    # correlation.currency_exposure(positions, currencies), when the caller has it (None: computed by the check)
    exposure: Mapping[str, float] | None = None
    # symbol -> recent closes, oldest first. None: correlation not judged at all; a mapping
    # without a symbol involved means that symbol's history is not known (yet).
    closes: Mapping[str, Sequence[float]] | None = None
    # rho(a, b, window) of those closes, computed once per pair while they last (None: computed per order)
    correlation: Callable[[str, str, int], float | None] | None = None
    server_time_ms: int | None = None
    sessions: tuple[Session, ...] | None = None  # of the order's symbol; None = unknown, () = never open
    news: tuple[NewsEvent, ...] = ()
    orders_last_minute: int = 0  # opening orders the account sent in the last 60 s
    orders_last_minute_of_strategy: int = 0


@dataclass(frozen=True, slots=True)
class RiskWarning:
    """An approval with a remark; `volume` set = the order must be reduced to it."""
    text: str
    volume: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskResult:
    reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    volume: float = 0.0  # the volume approved (lower than asked when a check reduced it)

    @property
    def approved(self) -> bool:
        return not self.reasons


Check = Callable[[OrderToCheck, Book, Mapping[str, Any]], "str | RiskWarning | None"]
