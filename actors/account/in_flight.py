"""An order sent and not yet answered: what the Account remembers of it until its result.

The Account keeps these in one dict (client order id -> InFlight) that its parts share by
reference: the order path adds and settles them, recovery keeps the doubtful ones, sizing
counts the openings, close jobs skip the tickets already being closed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class InFlight:
    """An order sent and not yet answered."""
    kind: str  # open | close | modify | remove
    corr: str
    strategy_id: str
    symbol: str
    side: str
    volume: float
    ticket: int = 0
    job: str = ""  # the close job this order belongs to
    extra: dict[str, Any] = field(default_factory=dict)
