"""Orders a crash left unanswered, settled for a resent OPEN_POSITION (`m.ResolveOrder`).

The first run journaled the intent and may have sent the order; its reply was lost with the
process. The resend must get that order's outcome, never a second order (L3):

* still in flight in this Account (only the ControlServer restarted): the answer goes to
  the resend;
* a position carrying the intent's magic: it filled, and that position is the answer;
* none: the order is asked again under its own client order id. The EA answers an id it
  knows from its idempotency cache (10 minutes, the reply cache's span too); one it does
  not know never reached it, so this is its first and only execution.

Decided once the account is reconciled (a fresh snapshot), so the magic search reads the
terminal's positions, not the last ones before the crash. The results take the ordinary
path (Orders.on_result): journal outcome, events, the command's reply.
"""

from __future__ import annotations

from collections.abc import Callable

from loguru import logger

from actors import messages as m
from actors.account.in_flight import InFlight
from actors.account.order_ids import magic_for
from actors.account.orders import Orders
from actors.account.view import AccountView
from actors.runtime.directory import Directory
from bridge import mt5

MANUAL = "manual"  # OPEN_POSITION's strategy id (actors.account.entries)


class Resolutions:
    def __init__(self, *, login: int, view: AccountView, orders: Orders, in_flight: dict[str, InFlight],
                 directory: Directory, ready: Callable[[], bool], generation: int = 0) -> None:
        self.login = login
        self.view = view
        self.orders = orders
        self.in_flight = in_flight
        self.directory = directory
        self.ready = ready
        self.generation = generation  # this Account's incarnation, on the order asked again
        self.waiting: dict[str, m.ResolveOrder] = {}  # client order id -> the resend waiting for it

    def resolve(self, msg: m.ResolveOrder) -> None:
        self.waiting[msg.client_order_id] = msg
        self.settle()

    def settle(self) -> None:
        """Called on every snapshot too: the first one after the link is back decides."""
        if not self.waiting or not self.ready():
            return
        for coid, msg in list(self.waiting.items()):
            del self.waiting[coid]
            running = self.in_flight.get(coid)
            if running is not None:
                running.corr = msg.corr
                continue
            request = {**msg.request, "magic": magic_for(msg.intent_id), "comment": coid}
            flight = InFlight("open", msg.corr, MANUAL, msg.symbol, msg.side, msg.volume, extra={"request": request})
            self.in_flight[coid] = flight
            position = next((p for p in self.view.positions.values() if p.get("magic") == request["magic"]), None)
            if position is not None:
                logger.warning("account {}: order {} of a resent request had filled (found by its magic)", self.login,
                               coid)
                self.orders.on_result(m.OrderResult(
                    account=self.login, client_order_id=coid, ok=True, retcode=mt5.TRADE_RETCODE_DONE,
                    result={"retcode": mt5.TRADE_RETCODE_DONE, "order": position["ticket"], "deal": 0,
                            "price": position["price_open"], "volume": position["volume"]}))
                continue
            logger.warning("account {}: order {} of a resent request is not at the terminal; asking the EA under "
                           "its own id", self.login, coid)
            self.directory.tell(f"terminal:{self.login}", m.SubmitOrder(
                account=self.login, client_order_id=coid, request=request, closing=False, generation=self.generation))
