"""The Account actor: one per MT5 account; its view of the account and every order's life.

Life of an order here: intent (from a strategy or OPEN_POSITION) -> size from the symbol's
real properties -> RiskGuard (told, its decision told back; refusal = RiskRejected event) ->
journal row committed (told, IntentRecorded told back after the commit: write-before-send)
-> Terminal -> OrderResult -> journal, events, the command's reply. The Account waits for
nobody: while one order waits for an answer, others move (actors.account.pipeline). Positions are whatever the terminal last reported; a position that shrinks or
disappears (our close, SL, TP, stop-out) is explained by its deals, fetched from history,
so every close is recorded once with its real profit.

This module is the actor shell: it owns the parts and routes each message to one of them.
Entries (opening), Orders (sending and results), Recovery (retries and doubts), ExitManager
(smart exits), CloseJobs (close-all, strategy exits, flatten) and EntrySizing share the
view, the dict of orders in flight and the pipeline of orders not yet sent, all held here
and handed to each explicitly.

The mailbox has an urgent lane (actors.runtime.mailbox): the answers that let an order leave
(a risk decision, a committed intent) and the kill switch's flatten go before the bookkeeping
queued ahead of them (results, snapshots, deals, quotes), in their own order.

The account's status (`account:<login>` on the board: positions, `busy`) is posted once the
mailbox has drained, at most every POST_EVERY_S under a mailbox that never drains, and at
once before a command's reply or a Ping: building it costs a row per position, and a burst
of orders changes it many times over.
"""

from __future__ import annotations

import time
from typing import Any

from actors import errors
from actors import messages as m
from actors.account.entries import Entries
from actors.account.entry_sizing import EntrySizing
from actors.account.exit_manager import ExitManager
from actors.account.in_flight import FlightIndex, Flights, InFlight
from actors.account.job_runner import CloseJobs
from actors.account.market import Market
from actors.account.orders import Orders
from actors.account.pipeline import JOURNAL, Pipeline
from actors.account.reconciliation import Reconciliation
from actors.account.recovery import Recovery
from actors.account.resolutions import Resolutions
from actors.account.view import AccountView
from actors.runtime.directory import Directory
from actors.runtime.status_board import StatusBoard
from actors.runtime.supervision import Supervised
from actors.runtime.ticker import Ticker

START_TIMEOUT_S = 5.0
POST_EVERY_S = 0.05
# What goes before the bookkeeping queued ahead of it: answers that let an order leave, and
# the kill switch's (or a breach's) flatten.
URGENT = (m.RiskDecision, m.IntentRecorded, m.IntentNotRecorded, m.TradeProfitsLoaded, m.Flatten)


class Account(Supervised):
    urgent_messages = URGENT

    def __init__(self, *, login: int, directory: Directory, board: StatusBoard, generation: int = 0,
                 orphans: str = "adopt") -> None:
        """`generation`: this incarnation's number, on every order it sends (actors/runtime/generations.py);
        `orphans`: what reconciliation does with positions no intent explains (adopt | close)."""
        super().__init__(name=f"account:{login}", parent="supervisor", directory=directory)
        self.login = login
        self.board = board
        self.view = AccountView(login)
        self.flights = FlightIndex()  # counts over every order not ended, in flight or in the pipeline
        self.in_flight = Flights(self.flights)  # client order id -> an order sent and not yet answered
        self.pipeline = Pipeline(self.flights)  # orders not sent yet, each waiting for an answer (by correlation id)
        market = Market(login=login, view=self.view, board=board)
        self.recovery = Recovery(login=login, view=self.view, market=market, in_flight=self.in_flight,
                                 directory=directory, generation=generation)
        self.orders = Orders(login=login, view=self.view, market=market, in_flight=self.in_flight,
                             pipeline=self.pipeline, recovery=self.recovery, directory=directory, post=self._post,
                             flush=self._flush_post, on_done=self._order_done, generation=generation,
                             ask_deals=lambda ticket, exit_needed: self.reconciliation.want_deals(ticket, exit_needed))
        sizing = EntrySizing(login=login, view=self.view, board=board, flights=self.flights)
        self.entries = Entries(login=login, market=market, sizing=sizing, orders=self.orders, pipeline=self.pipeline,
                               board=board, directory=directory, ready=self._ready)
        self.exits = ExitManager(login=login, view=self.view, board=board, orders=self.orders, directory=directory)
        self.jobs = CloseJobs(login=login, view=self.view, orders=self.orders, flights=self.flights,
                              directory=directory, post=self._post, flush=self._flush_post)
        self.resolutions = Resolutions(login=login, view=self.view, orders=self.orders, in_flight=self.in_flight,
                                       directory=directory, ready=self._ready,
                                       generation=generation)  # resent OPEN_POSITIONs after a crash
        # On start and every reconnect (fail closed: `_ready` waits for it), the deals owed, L5's bound.
        self.reconciliation = Reconciliation(login=login, view=self.view, orders=self.orders, jobs=self.jobs,
                                             in_flight=self.in_flight, directory=directory, board=board,
                                             orphans=orphans, on_done=self._reconciled)
        self.ticker: Ticker | None = None
        self._balance_told: int | None = None  # the tz offset of the last RecordBalance told
        self.snapshot_seq = 0  # of the newest positions snapshot applied
        self.bars_handled: dict[str, int] = {}  # strategy id -> the newest bar it told it had acted on
        self._dirty = False  # the status changed since it was last posted
        self._posted_at = 0.0
        self._posted_busy = -1

    def on_start(self) -> None:
        known = self.directory.ask("journal", m.LoadOpenPositions(account=self.login), timeout=START_TIMEOUT_S)
        self.view.strategy_of_ticket.update(known or {})
        self.ticker = Ticker(self.actor_ref, 1.0).start()
        self._flush_post()

    def on_stop(self) -> None:
        if self.ticker:
            self.ticker.stop()
        self.board.remove(f"account:{self.login}")

    def on_receive(self, message: Any) -> Any:
        try:
            return self._route(message)
        finally:
            if self._busy() != self._posted_busy:
                self._dirty = True  # an order entered or left the pipeline, the flights or the jobs
            if self._dirty and (isinstance(message, m.Ping) or self.actor_inbox.empty()
                                or time.monotonic() - self._posted_at >= POST_EVERY_S):
                self._flush_post()

    def _route(self, message: Any) -> Any:
        match message:
            case m.LinkStateChanged(connected=connected):
                self.view.connected = connected
                self.view.synced = False  # fail closed until the terminal's positions arrive, and reconciliation
                self.reconciliation.link_changed(connected)
                self._post()
            case m.AccountInfoUpdated(info=info):
                self._on_account_info(message, info)
            case m.SymbolsUpdated(symbols=symbols):
                self.view.symbols = dict(symbols)
                self._post()
            case m.PositionsSnapshot(seq=seq) if seq and seq < self.board.get(f"positions_seq:{self.login}", (0,))[0]:
                pass  # a newer snapshot is queued behind this one: it says all this one does
            case m.PositionsSnapshot():
                self._on_snapshot(message)
            case m.OrderIntent() if (why := self.reconciliation.blocked(message.strategy_id)):
                self.entries.refuse(message, "", [f"strategy {message.strategy_id} waits: {why}"], errors.UNAVAILABLE)
            case m.OrderIntent():
                self.entries.open(message, corr="")
            case m.OpenPosition():
                self.entries.open_command(message)
            case m.ResolveOrder():
                self.resolutions.resolve(message)
            case m.ClosePosition():
                self.orders.close_command(message)
            case m.ModifyPosition():
                self.orders.modify_command(message)
            case m.CloseAll():
                self.jobs.start(message.corr, "close_all", self.view.select(symbol=message.symbol,
                                strategy_id=message.strategy_id), message.reason, cancel_orders=False)
            case m.CloseStrategyPositions():
                self.jobs.start(message.corr, "close_strategy", self.view.select(
                    strategy_id=message.strategy_id, side=message.side), message.reason or "strategy exit",
                    cancel_orders=False, reply_to=message.reply_to)
            case m.Flatten():
                self.jobs.start(message.corr, "flatten", self.view.select(), message.reason, cancel_orders=True)
            case m.RiskDecision():
                self.entries.on_decision(message)
            case m.TradeProfitsLoaded():
                self.entries.on_profits(message)
            case m.IntentRecorded():
                self.orders.on_recorded(message)
            case m.IntentNotRecorded():
                self.orders.on_not_recorded(message)
            case m.OrderResult():
                self.orders.on_result(message)
            case m.DealsFetched():
                self.reconciliation.deals_answered(message)
                self.orders.on_deals(message)
            case m.ReconciliationLoaded():
                self.reconciliation.on_loaded(message)
            case m.DealsSinceFetched():
                self.reconciliation.on_deals(message)
            case m.Tick():
                self.reconciliation.on_tick(time.monotonic())
                self._expire(time.monotonic())
                self.recovery.retry_due()
                self.jobs.on_tick(time.monotonic())
            case m.TickBatch():
                self.exits.on_quote(message)
            case m.RegisterExits():
                self.exits.register(message)
            case m.StrategyBar(strategy_id=strategy_id, time=bar_time):
                self.exits.on_bar(message)
                # A strategy tells its bar after its intents: the bar handled here, so are they.
                self.bars_handled[strategy_id] = bar_time
                self._post()
            case _:
                return super().on_receive(message)
        return None

    def _on_account_info(self, message: m.AccountInfoUpdated, info: dict[str, Any]) -> None:
        self.view.info = dict(info)
        self.directory.tell(f"risk:{self.login}", message)  # type, balance, equity: its limits
        tz_offset_s = int(self.board.get(f"terminal:{self.login}", {}).get("tz_offset_s", 0))
        # The journal keeps the first balance (where the performance report's equity starts) and the
        # latest offset: told once, and again when the offset changes, not on every equity tick.
        if "balance" in info and tz_offset_s != self._balance_told:
            self._balance_told = tz_offset_s
            self.directory.tell("journal", m.RecordBalance(account=self.login, balance=float(info["balance"]),
                                                           tz_offset_s=tz_offset_s))
        self._post()

    def _on_snapshot(self, snap: m.PositionsSnapshot) -> None:
        self.snapshot_seq = max(self.snapshot_seq, snap.seq)
        first = not self.view.synced  # the first since the link came up: reconcile before trading
        changed = self.view.apply_snapshot(snap.positions, snap.orders)
        if first:
            self.reconciliation.begin()
        elif self.reconciliation.done:  # while it runs, it decides the orders in doubt, from the deals too
            self.orders.settle_doubts()
        self.resolutions.settle()
        self.exits.sync()
        for ticket in changed:  # shrank or vanished: its deals say why and for how much
            self.reconciliation.want_deals(ticket, exit_needed=True)
        self.jobs.on_snapshot()
        self._post()

    def _reconciled(self) -> None:
        """Reconciliation is done: orders may go, and resent OPEN_POSITIONs waiting are settled."""
        self.resolutions.settle()
        self.exits.sync()
        self._post()

    def _order_done(self, flight: InFlight, filled: bool) -> None:
        """An order ended: the parts that follow orders learn of it."""
        if not filled:
            self.exits.failed(flight.extra)  # an exit action refused is decided again on a later tick
        elif flight.kind == "open":
            self.exits.sync()  # the new position, managed from its fill on
        self.jobs.count(flight, filled)
        if filled and flight.kind == "open":
            self.jobs.on_opened()  # a flatten running takes it on at once

    def _expire(self, now: float) -> None:
        """Orders whose question went unanswered in time end unsent (their peer restarting or gone)."""
        for pending in self.pipeline.expired(now):
            if pending.stage == JOURNAL:
                self.orders.unsent(pending, "the journal did not confirm its row in time")
            else:
                self.entries.expired(pending)
            self._post()

    def _post(self) -> None:
        self._dirty = True

    def _busy(self) -> int:
        """Orders in the pipeline or in flight and close jobs running (a replay waits for 0)."""
        return len(self.pipeline) + len(self.in_flight) + len(self.jobs)

    def _flush_post(self) -> None:
        self._dirty, self._posted_at, self._posted_busy = False, time.monotonic(), self._busy()
        snapshot = self.view.snapshot()
        # `held`: strategy id -> {side: positions}, what each Strategy reads on every bar.
        held: dict[str, dict[str, int]] = {}
        for row in snapshot["positions"]:
            sides = held.setdefault(row["strategy_id"], {})
            sides[row["side"]] = sides.get(row["side"], 0) + 1
        # `snapshot_seq`, `bars`: the newest snapshot applied and each strategy's newest bar handled
        # (a replay knows from them that the account has caught up with the terminal and a bar).
        self.board.post(f"account:{self.login}", {**snapshot, "held": held, "ready": self._ready(),
                                                  "busy": self._posted_busy, "snapshot_seq": self.snapshot_seq,
                                                  "bars": dict(self.bars_handled),
                                                  "reconciliation": self.reconciliation.last,
                                                  "reconciling": self.reconciliation.waiting_for})

    def _ready(self) -> bool:
        """Connected, reconciled and knowing its symbols: orders can be priced and sent."""
        return self.view.connected and self.view.synced and self.reconciliation.done and bool(self.view.symbols)
