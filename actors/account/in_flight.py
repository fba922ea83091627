"""An order sent and not yet answered: what the Account remembers of it until its result.

The Account keeps these in one dict (client order id -> InFlight, a `Flights`) that its parts
share by reference: the order path adds and settles them, recovery keeps the doubtful ones,
sizing counts the openings, close jobs skip the tickets already being closed.

What sizing and close jobs ask of them (the openings of a strategy, the tickets being closed,
the jobs with an order out) they ask of every order not ended, in flight or still in the
pipeline (actors.account.pipeline), for every order of a burst: `FlightIndex` keeps those
counts as orders come and go, so each question costs the same with 500 orders out as with one.
"""

from __future__ import annotations

from collections import Counter
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


class FlightIndex:
    """Counts over the orders not ended, kept as they are added and removed (by identity: an
    order moving from the pipeline to the flights is removed, then added)."""

    def __init__(self) -> None:
        self._held: dict[int, InFlight] = {}
        self.openings: Counter[str] = Counter()  # strategy id -> its opening orders
        self.opening_total = 0
        self.closing: Counter[int] = Counter()  # ticket -> closes of it
        self.tickets: Counter[int] = Counter()  # ticket -> orders on it (close, modify, remove)
        self.jobs: Counter[str] = Counter()  # close job -> its orders

    def add(self, flight: InFlight) -> None:
        if id(flight) in self._held:
            return
        self._held[id(flight)] = flight
        self._count(flight, 1)

    def remove(self, flight: InFlight) -> None:
        if self._held.pop(id(flight), None) is not None:
            self._count(flight, -1)

    def _count(self, flight: InFlight, step: int) -> None:
        keys: list[tuple[Counter, Any]] = []
        if flight.kind == "open":
            keys.append((self.openings, flight.strategy_id))
            self.opening_total += step
        if flight.kind == "close":
            keys.append((self.closing, flight.ticket))
        if flight.ticket:
            keys.append((self.tickets, flight.ticket))
        if flight.job:
            keys.append((self.jobs, flight.job))
        for counter, key in keys:
            counter[key] += step
            if counter[key] <= 0:  # a Counter keeps its keys: the sets read from it would grow
                del counter[key]


class Flights(dict):
    """The orders sent and unanswered, by client order id, kept in a FlightIndex as they change."""

    def __init__(self, index: FlightIndex) -> None:
        super().__init__()
        self.index = index

    def __setitem__(self, coid: str, flight: InFlight) -> None:
        old = super().get(coid)
        if old is not None and old is not flight:
            self.index.remove(old)
        super().__setitem__(coid, flight)
        self.index.add(flight)

    def __delitem__(self, coid: str) -> None:
        flight = super().pop(coid)
        self.index.remove(flight)

    def pop(self, coid: str, *default: Any) -> Any:
        if coid not in self:
            return super().pop(coid, *default)
        flight = super().pop(coid)
        self.index.remove(flight)
        return flight

    def clear(self) -> None:
        for flight in self.values():
            self.index.remove(flight)
        super().clear()

    def setdefault(self, *args: Any) -> Any:
        raise NotImplementedError("Flights: set an order with flights[coid] = flight")

    def update(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("Flights: set each order with flights[coid] = flight")

    def popitem(self) -> Any:
        raise NotImplementedError("Flights: remove an order with pop(coid)")
