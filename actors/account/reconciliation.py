"""The Account's reconciliation at work, on start and after every reconnect (fail closed): the
Account takes no order until it is done.

  first snapshot after the link came up -> the journal's side (`LoadReconciliation`, told) ->
  [the deals since the oldest order in doubt (`FetchDealsSince`, asked again with backoff
  until answered)] -> the verdict (actors/account/reconcile.py, pure) -> applied -> ready,
  `Reconciled` published with the counts.

Applying the verdict: intents in doubt get their outcome (FILLED with the deal, or REJECTED:
never placed), an order this process still had in doubt ends through the ordinary order path
(its reply and events); positions the journal lacks are recorded (PositionOpened) under their
strategy, orphans under EXTERNAL and, with `orphans = "close"`, closed by a close job; phantoms
(closed while the executor was away: SL, TP, stop-out, by hand) are closed in the journal from
their exit deals, with the real profit, the deals fetched by position when the ones at hand do
not show them. A lost answer is asked again; the link dropping midway starts it over.

Orders in doubt while the executor runs are settled by Recovery on the next snapshot; one
still in doubt after DOUBT_BOUND_S (L5) starts a reconciliation, which decides it from the
deal history. Meanwhile its strategy opens nothing (`blocked`); closing is never held back.

It also keeps the deals the journal is owed (actors/account/deal_fetches.py): every position
that opened, shrank or vanished has its deals fetched, and fetched again when the answer is
lost or lacks the exit (`want_deals`, `deals_answered`, retried on the Account's tick).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from loguru import logger

from actors import messages as m
from actors.account import reconcile as rc
from actors.account.deal_fetches import DealFetches
from actors.account.in_flight import InFlight
from actors.account.job_runner import CloseJobs
from actors.account.orders import Orders
from actors.account.recovery import NEVER_PLACED
from actors.account.view import EXIT_ENTRIES, EXTERNAL, AccountView
from actors.runtime.directory import Directory
from actors.runtime.status_board import StatusBoard
from actors.terminal.server_clock import server_now

ASK_TIMEOUT_S = 5.0  # the journal's answer; asked again after this
BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0)
DOUBT_BOUND_S = 30.0  # L5: an order in doubt this long is decided by a reconciliation
ORPHAN_POLICIES = ("adopt", "close")


class Reconciliation:
    def __init__(self, *, login: int, view: AccountView, orders: Orders, jobs: CloseJobs,
                 in_flight: dict[str, InFlight], directory: Directory, board: StatusBoard, orphans: str = "adopt",
                 on_done: Callable[[], None] = lambda: None) -> None:
        self.login = login
        self.me = f"account:{login}"
        self.view = view
        self.orders = orders
        self.jobs = jobs
        self.in_flight = in_flight
        self.deal_fetches = DealFetches()
        self.directory = directory
        self.board = board
        self.orphans = orphans if orphans in ORPHAN_POLICIES else "adopt"
        self.on_done = on_done
        self.done = False
        self.rounds = 0  # finished: the first one is the start's
        self.last: dict[str, Any] = {}  # the last Reconciled, for STATUS
        self._corr = 0
        self._phase = ""  # "" | journal | deals
        self._reason = ""
        self._started = 0.0
        self._again_at: float | None = None
        self._tries = 0
        self._loaded: m.ReconciliationLoaded | None = None
        self._date_from = 0

    # --- the round ---
    def begin(self, reason: str = "") -> None:
        """A fresh snapshot after the link came up (or a doubt past its bound): start over."""
        self.done = False
        self._reason = reason or ("start" if self.rounds == 0 else "reconnect")
        self._started = time.monotonic()
        self._tries = 0
        self._load()

    def link_changed(self, connected: bool) -> None:
        """Up or down, whatever was under way is void: orders wait for the next round, which the
        first snapshot after the link came up starts."""
        self.done = False
        self._phase = ""
        self._corr += 1
        self._again_at = None
        if not connected:
            self.deal_fetches.link_lost(time.monotonic())

    def _load(self) -> None:
        self._corr += 1
        self._phase = "journal"
        self._again_at = time.monotonic() + ASK_TIMEOUT_S
        ids = tuple(rc.referenced_intents(self.view.positions.values(), self.view.orders))
        self.directory.tell("journal", m.LoadReconciliation(reply_to=self.me, corr=str(self._corr), account=self.login,
                                                            intent_ids=ids))

    def on_loaded(self, msg: m.ReconciliationLoaded) -> None:
        if self._phase != "journal" or msg.corr != str(self._corr):
            return  # an earlier round's
        self._loaded = msg
        self.view.strategy_of_ticket.update({int(p["ticket"]): p["strategy_id"] for p in msg.positions})
        self.view.traded.update((int(p["ticket"]), int(t)) for p in msg.positions for t in p.get("traded", ()))
        if not rc.wants_deals(msg.intents, self._skip()):
            return self._decide(())
        in_doubt = [i["created_at"] for i in msg.intents if i["status"] not in rc.FINAL_STATUSES]
        server_ms = server_now(self.board.get(f"clock:{self.login}"), time.monotonic())
        offset = None if server_ms is None else server_ms - time.time_ns() // 1_000_000
        self._date_from = rc.deals_from_ms(min(in_doubt, default=None), offset, msg.last_deal_ms)
        self._tries = 0
        self._fetch_deals()

    def _fetch_deals(self) -> None:
        self._corr += 1
        self._phase = "deals"
        self._again_at = None  # the Terminal answers every question, a timeout too
        self.directory.tell(f"terminal:{self.login}", m.FetchDealsSince(
            account=self.login, date_from=self._date_from, reply_to=self.me, corr=str(self._corr)))

    def on_deals(self, msg: m.DealsSinceFetched) -> None:
        if self._phase != "deals" or msg.corr != str(self._corr):
            return
        if msg.ok:
            return self._decide(msg.deals)
        delay = BACKOFF_S[min(self._tries, len(BACKOFF_S) - 1)]
        self._tries += 1
        logger.warning("account {}: reconciliation could not read the deal history ({}); asking again in {:g} s, "
                       "orders wait", self.login, msg.error, delay)
        self._again_at = time.monotonic() + delay

    def on_tick(self, now: float) -> None:
        if not self.view.connected:
            return
        if self._again_at is not None and now >= self._again_at:
            if self._phase == "journal":
                logger.warning("account {}: the journal did not answer reconciliation's read; asking again", self.login)
                self._load()
            elif self._phase == "deals":
                self._fetch_deals()
        for ticket in self.deal_fetches.due(now):
            self._ask_deals(ticket)
        overdue = doubts_overdue(self.in_flight, now)
        if overdue and self.done:
            logger.error("account {}: orders {} in doubt for {:g} s (L5): reconciling to decide them from the deal "
                         "history", self.login, overdue, DOUBT_BOUND_S)
            self.begin("doubt")

    # --- what may go meanwhile ---
    def blocked(self, strategy_id: str) -> str | None:
        """Why `strategy_id` may open nothing now: an order of its own in doubt (L5)."""
        coid = next((c for c, f in self.in_flight.items() if f.extra.get("doubt") and f.strategy_id == strategy_id),
                    None)
        return None if coid is None else f"its order {coid} is in doubt until the terminal settles it"

    # --- the deals owed ---
    def want_deals(self, ticket: int, exit_needed: bool) -> None:
        """`ticket` opened (exit_needed False), shrank or vanished: the journal needs its deals."""
        if self.deal_fetches.want(ticket, exit_needed=exit_needed):
            self._ask_deals(ticket)

    def deals_answered(self, msg: m.DealsFetched) -> None:
        outcome = self.deal_fetches.answered(msg.position, msg.ok, msg.deals, time.monotonic())
        if outcome == "again":
            logger.warning("account {}: deals of position {} {}; asking again", self.login, msg.position,
                           msg.error or "do not show its close yet")
        elif outcome == "gave_up":
            logger.error("account {}: deals of position {} still unavailable ({}); the next reconciliation reads "
                         "them", self.login, msg.position, msg.error or "no close in its history")

    def _ask_deals(self, ticket: int) -> None:
        self.directory.tell(f"terminal:{self.login}", m.FetchDeals(account=self.login, position=ticket,
                                                                  reply_to=self.me))

    # --- the verdict ---
    def _skip(self) -> set[str]:
        """Orders this process follows itself: in flight, not in doubt (their answer is coming)."""
        return {coid for coid, f in self.in_flight.items() if not f.extra.get("doubt")}

    def _decide(self, deals: Any) -> None:
        loaded = self._loaded
        assert loaded is not None
        self._phase, self._again_at = "", None
        journal = {int(p["ticket"]): p["strategy_id"] for p in loaded.positions}
        verdict = rc.reconcile(intents=loaded.intents, journal_positions=journal,
                               positions=self.view.positions.values(), orders=self.view.orders, deals=deals,
                               skip=self._skip())
        for settled in verdict.settled:
            self._settle(settled)
        for new in verdict.record:
            self._record(new)
        self._orphans(verdict)
        for ticket, found in verdict.phantoms.items():
            self._phantom(ticket, found)
        volumes = {int(p["ticket"]): float(p["volume"]) for p in loaded.positions}
        for ticket, volume in volumes.items():  # partly closed while away: the exit deals say how much
            position = self.view.positions.get(ticket)
            if position is not None and position["volume"] < volume - 1e-9:
                self.want_deals(ticket, exit_needed=True)
        self._finish(verdict)

    def _settle(self, settled: rc.Settled) -> None:
        flight = self.in_flight.get(settled.client_order_id)
        if flight is not None:  # in doubt in this process: ended as its own result, reply and events
            if settled.status == "FILLED":
                result = {"retcode": settled.retcode, "order": settled.order_ticket, "deal": settled.deal_ticket,
                          "price": settled.price, "volume": settled.volume}
                self.orders.on_result(m.OrderResult(account=self.login, client_order_id=settled.client_order_id,
                                                    ok=True, retcode=settled.retcode, result=result))
            else:
                flight.extra.pop("doubt", None)
                self.orders.on_result(m.OrderResult(account=self.login, client_order_id=settled.client_order_id,
                                                    ok=False, error=NEVER_PLACED))
            return
        log = logger.warning if settled.status == "FILLED" else logger.info
        log("account {}: order {} of {} {} (reconciliation)", self.login, settled.client_order_id,
            settled.strategy_id, "filled while the executor was away" if settled.status == "FILLED" else
            "was never placed")
        self.directory.tell("journal", m.RecordOrderOutcome(
            client_order_id=settled.client_order_id, status=settled.status, retcode=settled.retcode,
            order_ticket=settled.order_ticket, deal_ticket=settled.deal_ticket, price=settled.price,
            volume=settled.volume, message=settled.message))

    def _record(self, new: rc.NewPosition) -> None:
        known = self.view.strategy_of_ticket.get(new.ticket)
        if known is not None and known == new.strategy_id and new.ticket in self.view.positions:
            return  # recorded by the order path meanwhile
        self.view.strategy_of_ticket[new.ticket] = new.strategy_id
        self.directory.publish(m.PositionOpened(
            account=self.login, strategy_id=new.strategy_id, ticket=new.ticket, symbol=new.symbol, side=new.side,
            volume=new.volume, price_open=new.price_open, sl=new.sl, tp=new.tp))

    def _orphans(self, verdict: rc.Verdict) -> None:
        if not verdict.orphans and not verdict.orphan_orders:
            return
        tickets = [p["ticket"] for p in verdict.orphans] + [o["ticket"] for o in verdict.orphan_orders]
        if self.orphans == "adopt":
            logger.warning("account {}: {} orphan(s) no order of this journal explains, adopted as {}: {}",
                           self.login, len(tickets), EXTERNAL, tickets)
            return
        logger.warning("account {}: closing {} orphan(s) no order of this journal explains (orphans = close): {}",
                       self.login, len(tickets), tickets)
        self.jobs.start("", "close_orphans", [self.view.positions[p["ticket"]] for p in verdict.orphans
                                              if p["ticket"] in self.view.positions],
                        "reconciliation: orphan", cancel_orders=False,
                        orders=[o for o in self.view.orders if o in verdict.orphan_orders])

    def _phantom(self, ticket: int, found: list[dict[str, Any]]) -> None:
        if any(d.get("entry") in EXIT_ENTRIES for d in found):
            self.orders.on_deals(m.DealsFetched(account=self.login, position=ticket, ok=True, deals=tuple(found)))
        else:
            self.want_deals(ticket, exit_needed=True)

    def _finish(self, verdict: rc.Verdict) -> None:
        counts = verdict.counts()
        event = m.Reconciled(account=self.login, reason=self._reason, orphan_policy=self.orphans,
                             duration_ms=int((time.monotonic() - self._started) * 1000), **counts)
        if verdict.duplicates:
            logger.critical("account {}: client order ids with more than one opening deal at the terminal (L3): {}",
                            self.login, verdict.duplicates)
        logger.info("account {}: reconciled ({}): {}", self.login, self._reason,
                    ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items()))
        self.done = True
        self.rounds += 1
        self.last = {**m.to_map(event), "at": time.time_ns() // 1_000_000}
        self.directory.publish(event)
        self.on_done()

    @property
    def waiting_for(self) -> str:
        """What the round waits for (STATUS `reconciling`), or '' when idle."""
        return {"journal": "journal", "deals": "deals"}.get(self._phase, "")


def doubts_overdue(in_flight: dict[str, InFlight], now: float) -> list[str]:
    """Orders in doubt past L5's bound."""
    return [coid for coid, f in in_flight.items()
            if f.extra.get("doubt") and now - f.extra.get("doubt_since", now) >= DOUBT_BOUND_S]
