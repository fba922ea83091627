"""What the Account does with an order that did not plainly succeed (RELIABILITY.md):

* retry-safe (requote, price changed, no quote, too many requests): the same order again,
  re-priced, under the same client order id, after a short backoff, a few times;
* uncertain (timeout after sending, lost trade-server connection, no answer at all): never
  resent blindly. The order stays in flight (so its strategy sends nothing more) while the
  terminal is asked for its positions; the first snapshot asked for after the doubt decides:
  a position carrying the order's magic means it filled, none means it was never placed;
* everything else is final: a rejection with MT5's text.

`Recovery` keeps the retries and the doubts; the order path (actors.account.orders) asks it
about each failed result and applies what a snapshot settles.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from loguru import logger

from actors import errors
from actors import messages as m
from actors.account import order_requests as orq
from actors.account.in_flight import InFlight
from actors.account.market import Market
from actors.account.view import AccountView
from actors.runtime.directory import Directory
from bridge import mt5

RETRY_DELAYS_S = (0.2, 0.5, 1.0)
NEVER_PLACED = "never placed: the terminal shows no trace of it"


@dataclass
class Retry:
    due: float
    coid: str


@dataclass
class Settled:
    """An order in doubt, decided by a snapshot: `result` is what filled, None if it never was."""
    coid: str
    flight: InFlight
    result: dict[str, Any] | None


class Recovery:
    def __init__(self, *, login: int, view: AccountView, market: Market, in_flight: dict[str, InFlight],
                 directory: Directory, generation: int = 0) -> None:
        self.login = login
        self.view = view
        self.market = market
        self.in_flight = in_flight
        self.directory = directory
        self.generation = generation  # this Account's incarnation, on every retry
        self.retries: list[Retry] = []  # retry-safe refusals waiting for their backoff

    def recover(self, res: m.OrderResult, flight: InFlight) -> bool:
        """Handle a non-success result if it is retry-safe or uncertain; False if it is final."""
        attempt = flight.extra.get("attempt", 0)
        if res.ok and res.retcode in mt5.RETRY_SAFE_RETCODES and flight.kind in ("open", "close") \
                and attempt < len(RETRY_DELAYS_S):
            logger.warning("account {}: {} {} got {} ({}); retrying", self.login, flight.kind, res.client_order_id,
                           res.retcode, mt5.retcode_text(res.retcode))
            flight.extra["attempt"] = attempt + 1
            self.in_flight[res.client_order_id] = flight
            self.retries.append(Retry(time.monotonic() + RETRY_DELAYS_S[attempt], res.client_order_id))
            return True
        uncertain = (res.ok and res.retcode in mt5.UNCERTAIN_RETCODES) or res.error.startswith("UNKNOWN")
        if uncertain and flight.kind in ("open", "close"):
            logger.error("account {}: outcome of {} uncertain ({}); asking the terminal", self.login,
                         res.client_order_id, res.retcode or res.error)
            flight.extra["doubt"] = True
            flight.extra.setdefault("doubt_since", time.monotonic())  # L5: decided within 30 s (Reconciliation)
            self.in_flight[res.client_order_id] = flight
            self.directory.tell(f"terminal:{self.login}", m.RefreshPositions(account=self.login))
            return True
        return False

    def retry_due(self) -> None:
        now = time.monotonic()
        due, self.retries = [r for r in self.retries if r.due <= now], [r for r in self.retries if r.due > now]
        for retry in due:
            flight = self.in_flight.get(retry.coid)
            if flight is None:
                continue
            request = dict(flight.extra["request"])
            try:
                _, bid, ask = self.market.quote(flight.symbol)
            except errors.ControlError:
                bid = ask = 0.0
            if bid and ask:  # re-price: a requote means the old price is gone
                position = self.view.positions.get(flight.ticket)
                request["price"] = orq.closing_price(position, bid, ask) if position and flight.kind == "close" \
                    else orq.entry_price(flight.side, bid, ask)
            flight.extra["request"] = request
            self.directory.tell(f"terminal:{self.login}", m.SubmitOrder(
                account=self.login, client_order_id=retry.coid, request=request, closing=flight.kind == "close",
                attempt=flight.extra["attempt"], generation=self.generation))

    def settle_doubts(self) -> Iterator[Settled]:
        """After a fresh snapshot: decide every order in doubt by what the terminal shows.
        Lazy, so the caller applies each before the next is judged."""
        for coid, flight in list(self.in_flight.items()):
            if not flight.extra.pop("doubt", False):
                continue
            magic = flight.extra["request"].get("magic")
            del self.in_flight[coid]
            if flight.kind == "open":
                position = next((p for p in self.view.positions.values() if p.get("magic") == magic), None)
                if position is not None:
                    logger.warning("account {}: {} did fill (found by its magic)", self.login, coid)
                    yield Settled(coid, flight, {"retcode": mt5.TRADE_RETCODE_DONE, "order": position["ticket"],
                                                 "price": position["price_open"], "volume": position["volume"]})
                    continue
            else:
                position = self.view.positions.get(flight.ticket)
                if position is None or position["volume"] < flight.extra.get("volume_before", 0) - 1e-9:
                    logger.warning("account {}: close {} did happen", self.login, coid)
                    yield Settled(coid, flight, {"retcode": mt5.TRADE_RETCODE_DONE, "deal": 0, "order": 0,
                                                 "price": 0.0, "volume": flight.volume})
                    continue
            yield Settled(coid, flight, None)
