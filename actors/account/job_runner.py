"""The Account's close jobs at work (CLOSE_ALL, a strategy's exit, the kill switch's flatten):
`CloseJobs` sends each job's closes and cancels through Orders, counts what filled, retries
on the Account's tick whatever the terminal still reports, and reports each job's end: a
flatten to the Supervisor, anything else to whoever asked. One job's state is a CloseJob.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from loguru import logger

from actors import messages as m
from actors.account.close_jobs import CloseJob
from actors.account.in_flight import FlightIndex, InFlight
from actors.account.orders import Orders
from actors.account.view import AccountView
from actors.runtime.directory import Directory


class CloseJobs:
    def __init__(self, *, login: int, view: AccountView, orders: Orders, flights: FlightIndex,
                 directory: Directory, post: Callable[[], None], flush: Callable[[], None]) -> None:
        self.login = login
        self.view = view
        self.orders = orders
        self.flights = flights  # counts over every order not ended: in flight, or in the pipeline
        self.directory = directory
        self.post = post
        self.flush = flush
        self.jobs: dict[str, CloseJob] = {}

    def __len__(self) -> int:
        return len(self.jobs)

    def start(self, corr: str, kind: str, positions: list[dict[str, Any]], reason: str, *,
              cancel_orders: bool, reply_to: str = "control", orders: list[dict[str, Any]] | None = None) -> None:
        """`orders`: the pending orders to cancel, when not all of them (`cancel_orders`) or none."""
        name = corr or f"job-{time.monotonic_ns()}"
        orders = list(self.view.orders) if cancel_orders else list(orders or ())
        job = CloseJob(name=name, kind=kind, corr=corr, reason=reason, reply_to=reply_to,
                       tickets={p["ticket"] for p in positions}, orders={o["ticket"] for o in orders})
        self.jobs[name] = job
        if kind != "close_strategy":  # a strategy's exit is said once, when it is done (one line per bar each)
            logger.info("account {}: {} ({}) closes {} positions, cancels {} orders", self.login, kind, reason,
                        len(job.tickets), len(job.orders))
        self._advance(job)

    def count(self, flight: InFlight, filled: bool) -> None:
        """An order of a job ended: a filled close or removal counts as done."""
        job = self.jobs.get(flight.job)
        if job is None or not filled:
            return
        if flight.kind == "close":
            job.closed += 1
        elif flight.kind == "remove":
            job.cancelled += 1
        job.filled.add(flight.ticket)  # not sent again before a snapshot says whether it is gone

    def on_snapshot(self) -> None:
        """The terminal's fresh view: a job whose positions and orders are all gone is done."""
        if not self.jobs:
            return
        positions, orders = set(self.view.positions), {o["ticket"] for o in self.view.orders}
        sending = self._sending()
        for job in list(self.jobs.values()):
            job.forget_gone(positions, orders)
            job.snapshot_seen()
            if job.done and job.name not in sending:
                self._finish(job)
            elif job.kind == "flatten":
                self._advance(job, new_only=True)  # what appeared since it started closes now, not on the tick

    def on_opened(self) -> None:
        """A position just filled: a flatten running closes it now, not on its next tick."""
        for job in list(self.jobs.values()):
            if job.kind == "flatten":
                self._advance(job, new_only=True)

    def on_tick(self, now: float) -> None:
        sending = self._sending()
        for job in list(self.jobs.values()):
            if job.expired(now):
                self._finish(job)
            elif job.name not in sending:
                self._advance(job)  # retry whatever is still open

    def _sending(self) -> set[str]:
        """The jobs with an order not ended yet."""
        return set(self.flights.jobs)

    def _advance(self, job: CloseJob, *, new_only: bool = False) -> None:
        job.forget_gone(set(self.view.positions), {o["ticket"] for o in self.view.orders})
        if job.done:
            return self._finish(job)
        busy = self.flights.tickets  # a ticket being closed is never closed twice at once
        tickets, orders = job.to_send(busy, new_only=new_only)
        for ticket in tickets:
            position = self.view.positions[ticket]
            job.attempts += 1
            self.orders.close(position, position["volume"], "", job=job.name)
        for ticket in orders:
            self.orders.remove(next(o for o in self.view.orders if o["ticket"] == ticket), job=job.name)

    def _finish(self, job: CloseJob) -> None:
        del self.jobs[job.name]
        self.post()
        self.flush()  # STATUS agrees with the report before anyone reads it
        log = logger.info if job.done else logger.error
        log("account {}: {} ({}) finished: closed {}, cancelled {}, remaining {}", self.login, job.kind, job.reason,
            job.closed, job.cancelled, job.remaining)
        if job.kind == "flatten":
            self.directory.tell("supervisor", m.AccountFlattened(
                corr=job.corr, account=self.login, closed_positions=job.closed, cancelled_orders=job.cancelled,
                remaining=job.remaining))
        elif job.corr:
            self.directory.tell(job.reply_to, m.CommandReply(corr=job.corr, ok=True, data={
                "closed": job.closed, "remaining": job.remaining}))
