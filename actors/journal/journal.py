"""The Journal actor: the only writer of the SQLite journal, committing in groups.

Writes are buffered in arrival order and committed together (see `batch`): the group is
written when the mailbox is empty, when it holds `max_batch` operations, or before anything
is read or answered, so an answer never shows a row that is not committed. One transaction,
one fsync, for everything that was waiting.

Write-ahead protocol (L1 of RELIABILITY.md), two forms of `RecordIntent`:
* told with `reply_to` (a directory name) and `corr`: the intent joins the group; after the
  group commits the journal tells `reply_to` `IntentRecorded(corr, intent_id,
  client_order_id)`, or `IntentNotRecorded(corr, error)` if its row or the transaction
  failed. The order leaves only on `IntentRecorded`. This is the order path's form: nobody
  waits while other orders' intents are written.
* asked without `reply_to`: the group is committed at once and the reply is
  `(intent_id, client_order_id)`; a row that failed raises to the asker.
`LoadTradeProfits` likewise answers `TradeProfitsLoaded` when told with `reply_to`.

Intent ids are given here, not by SQLite (max id + 1 at start, then counted), so an intent
has its client order id before its group is written and needs no second statement. An id
lost with a failed group is never handed out again in this process.

A row that cannot be written (a hostile payload, a constraint) is logged and skipped, never
the group, never the actor; maps are stored with `models.to_json`, which cannot fail. A
transaction that fails as a whole (the disk) raises: the supervisor's policy applies.
The journal never calls another actor synchronously, so asking it cannot deadlock.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import peewee as pw
from loguru import logger

from actors import messages as m
from actors.account.order_ids import client_order_id, new_journal_tag
from actors.journal import audit, kill_switch_file, replies, rows
from actors.journal.backup import BACKUPS, integrity_problem, newest_backup
from actors.journal.batch import Batch
from actors.journal.models import (
    DealRow, IntentRow, KillSwitchRow, MetaRow, PositionRow, RiskLimitsRow, StrategyRow, TradeRow, open_database,
)
from actors.journal.reports import performance_report
from actors.runtime.directory import Directory
from actors.runtime.kill_switch import KillSwitchState
from actors.runtime.supervision import Supervised

# A group's size bound: with a mailbox that never empties, an intent waits for at most this
# many operations (about 10 µs each to buffer) before its commit.
MAX_BATCH = 256
FINAL_STATUSES = ("FILLED", "REJECTED")
OTP_LAST_STEP = "otp_last_step"  # MetaRow key: the TOTP time step last used, so no code is good twice
TRADING_STATE = "trading_state:{}"  # MetaRow key per account: its REDUCING/HALTED state and lock survive restarts
INITIAL_BALANCE = "initial_balance:"  # MetaRow key prefix, + the account login
TZ_OFFSET = "tz_offset_s:"
FLATTEN_PENDING = kill_switch_file.FLATTEN_PENDING  # MetaRow key: accounts the kill switch has still to flatten
# Messages answered from the database: the group is committed before they are read.
READS = (m.LoadStrategies, m.LoadKillSwitch, m.LoadRiskLimits, m.LoadTradingState, m.LoadOtpStep, m.LoadIntents,
         m.LoadTradeProfits, m.LoadOpenPositions, m.PerformanceRequest, m.LoadJournalStats, m.LoadReplies,
         m.LoadReconciliation)


class JournalDamaged(RuntimeError):
    """The journal file fails SQLite's integrity check; the text says how to restore it."""


class JournalWriteError(RuntimeError):
    """An asked-for row was not written (the journal's log says why); do not act on it."""


_POSITION_OF_SQL = "SELECT opened_at, price_open, volume FROM positions WHERE account = ? AND ticket = ?"
_TRADE_SQL = ("INSERT INTO trades (account, ticket, strategy_id, symbol, side, volume, open_time, open_price,"
              " close_time, close_price, profit, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_POSITION_SHRANK_SQL = "UPDATE positions SET volume = ? WHERE account = ? AND ticket = ?"
_POSITION_CLOSED_SQL = "UPDATE positions SET volume = 0.0, state = 'closed', closed_at = ? WHERE account = ? AND ticket = ?"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Journal(Supervised):
    def __init__(self, path: Path, directory: Directory, *, max_batch: int = MAX_BATCH) -> None:
        super().__init__(name="journal", parent="supervisor", directory=directory)
        self.path = path
        self.max_batch = max_batch  # 1: a transaction per operation, as before group commit
        self.db = None
        self.tag = ""
        self.batch = Batch()
        self.next_intent_id = 1
        self.stats = {"transactions": 0, "rows": 0, "largest_batch": 0, "failed_rows": 0}
        self.initial_balances: dict[int, float] = {}
        self.tz_offsets: dict[int, int] = {}
        self.replies_pruned_at = 0  # ms: expired control replies are deleted at most once a minute

    def on_start(self) -> None:
        try:
            self.db = open_database(self.path)
            audit.prepare(self.db)  # an older journal's audit table gets the chain's columns
            unclean = self._unclean_shutdown()
            problem = integrity_problem(self.db.connection()) if unclean else None
            problem = None if problem is None else f"integrity_check: {problem}"
        except (pw.DatabaseError, sqlite3.DatabaseError) as exc:  # not even readable
            unclean, problem = True, str(exc)
        if problem is not None:
            if self.db is not None:
                self.db.close()
            # Trading on a damaged journal would break write-ahead (L1): refuse to start.
            newest = newest_backup(self.path.parent / BACKUPS)
            raise JournalDamaged(f"journal {self.path} is damaged ({problem}); the executor will not trade on it: "
                                 f"restore a backup with `python run.py restore {newest or 'BACKUP'} "
                                 f"--data-dir {self.path.parent}`")
        if unclean:
            logger.warning("journal was not closed cleanly; integrity_check: ok")
        MetaRow.replace(key="open", value="1").execute()
        row = MetaRow.get_or_none(MetaRow.key == "tag")
        if row is None:
            self.tag = new_journal_tag()
            MetaRow.create(key="tag", value=self.tag)
        else:
            self.tag = row.value
        self.next_intent_id = (IntentRow.select(pw.fn.MAX(IntentRow.id)).scalar() or 0) + 1
        self.initial_balances = {int(k): float(v) for k, v in self._meta_with_prefix(INITIAL_BALANCE)}
        self.tz_offsets = {int(k): int(v) for k, v in self._meta_with_prefix(TZ_OFFSET)}
        logger.info("journal open at {} (tag {})", self.path, self.tag)

    @staticmethod
    def _meta_with_prefix(prefix: str) -> list[tuple[str, str]]:
        """(rest of the key, value) of every meta row whose key starts with `prefix`."""
        return [(r.key[len(prefix):], r.value) for r in MetaRow.select().where(MetaRow.key.startswith(prefix))]

    def _unclean_shutdown(self) -> bool:
        row = MetaRow.get_or_none(MetaRow.key == "open")
        return row is not None and row.value == "1"

    def on_stop(self) -> None:
        if self.db is None:
            return
        try:
            self._flush()
            MetaRow.replace(key="open", value="0").execute()  # not when the last group failed: check it next start
        finally:
            self.db.close()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, READS):
            self._flush()
            return self._read(message)
        try:
            reply = self._write(message)
        except Exception as exc:
            if isinstance(message, m.RecordIntent) and not message.reply_to:
                raise  # asked: the asker hears it
            reply = self._drop(message, exc)
        if self.batch and (len(self.batch) >= self.max_batch or self.actor_inbox.empty()):
            self._flush()
        return reply

    def _drop(self, message: Any, exc: Exception) -> None:
        """A told message whose rows cannot even be built is logged and skipped, not fatal."""
        logger.opt(exception=exc).error("journal: {} could not be written; dropped", type(message).__name__)
        self.stats["failed_rows"] += 1
        if isinstance(message, m.RecordIntent) and message.reply_to:
            self.directory.tell(message.reply_to, m.IntentNotRecorded(
                corr=message.corr, error=f"intent not written: {type(exc).__name__}: {exc}"))

    def _flush(self) -> None:
        if not self.batch:
            return
        batch, self.batch = self.batch, Batch()
        failed = batch.commit(self.db, self.directory.tell)
        self.stats["transactions"] += 1
        self.stats["rows"] += len(batch)
        self.stats["largest_batch"] = max(self.stats["largest_batch"], len(batch))
        self.stats["failed_rows"] += failed

    def _write(self, message: Any) -> Any:
        now = _now_ms()
        match message:
            case m.RecordIntent():
                return self._record_intent(message, now)
            case m.RecordOrderOutcome():
                self.batch.row(rows.OUTCOME_SQL, rows.outcome_row(message, now),
                               f"outcome of {message.client_order_id}", must_change=True)
            case m.RecordDeals():
                for params in rows.deal_rows(message):
                    self.batch.row(rows.DEAL_SQL, params, f"deal {params[2]} of account {message.account}")
            case m.AuditCommand():  # a step: it chains to the row before it (actors/journal/audit.py)
                self.batch.step(functools.partial(audit.append, self.db, message, now), f"audit of {message.type!r}")
            case m.RecordCommand():
                self.batch.row(replies.COMMAND_SQL, replies.command_row(message, now), f"command {message.key!r}")
            case m.StoreReply():
                self.batch.row(replies.REPLY_SQL, replies.reply_row(message, now), f"reply to {message.key!r}")
                if now - self.replies_pruned_at >= replies.PRUNE_EVERY_MS:
                    self.replies_pruned_at = now
                    self.batch.row(replies.PRUNE_SQL, (now,), "expired control replies")
            case _ if type(message) in m.EVENT_TYPES:
                self._record_event(message, now)
            case m.SaveStrategy() | m.SaveRiskLimits() | m.SaveTradingState() | m.SaveOtpStep() | m.RecordBalance() \
                    | m.SaveFlattenPending():
                self.batch.step(functools.partial(self._save, message, now), type(message).__name__)
            case _:
                return super().on_receive(message)
        return None

    def _read(self, message: Any) -> Any:
        match message:
            case m.LoadStrategies():
                return [self._strategy_dict(r) for r in StrategyRow.select().order_by(StrategyRow.updated_at)]
            case m.LoadKillSwitch():
                return self._load_kill_switch()
            case m.LoadRiskLimits(account=account):
                row = RiskLimitsRow.get_or_none(RiskLimitsRow.account == account)
                return None if row is None else row.limits
            case m.LoadTradingState(account=account):
                row = MetaRow.get_or_none(MetaRow.key == TRADING_STATE.format(account))
                return None if row is None else json.loads(row.value)
            case m.LoadOtpStep():
                row = MetaRow.get_or_none(MetaRow.key == OTP_LAST_STEP)
                return None if row is None else int(row.value)
            case m.LoadIntents(account=account):
                return self._load_intents(account)
            case m.LoadTradeProfits(strategy_id=strategy_id, limit=limit):
                query = (TradeRow.select(TradeRow.profit).where(TradeRow.strategy_id == strategy_id)
                         .order_by(TradeRow.close_time.desc(), TradeRow.id.desc()).limit(limit))
                profits = [r.profit for r in query][::-1]
                if not message.reply_to:
                    return profits
                self.directory.tell(message.reply_to, m.TradeProfitsLoaded(
                    corr=message.corr, strategy_id=strategy_id, profits=tuple(profits)))
            case m.LoadOpenPositions(account=account):
                query = PositionRow.select().where((PositionRow.account == account) & (PositionRow.state == "open"))
                return {r.ticket: r.strategy_id for r in query}
            case m.PerformanceRequest():
                self.directory.tell("control", m.CommandReply(corr=message.corr, ok=True, data=self.performance(message)))
            case m.LoadJournalStats():
                return dict(self.stats)
            case m.LoadReplies():
                return replies.load(_now_ms())
            case m.LoadReconciliation():
                self.directory.tell(message.reply_to, self._load_reconciliation(message))
        return None

    # --- orders ---
    def _record_intent(self, msg: m.RecordIntent, now: int) -> tuple[int, str] | None:
        intent_id = self.next_intent_id
        self.next_intent_id += 1
        coid = client_order_id(self.tag, intent_id)
        params = rows.intent_row(msg, intent_id, coid, now)
        if msg.reply_to:
            corr = msg.corr
            self.batch.row(rows.INTENT_SQL, params, f"intent {coid}", reply_to=msg.reply_to,
                           done=m.IntentRecorded(corr=corr, intent_id=intent_id, client_order_id=coid),
                           failed=lambda error: m.IntentNotRecorded(corr=corr, error=error))
            self._link_command(msg, coid)
            return None
        op = self.batch.row(rows.INTENT_SQL, params, f"intent {coid}")
        self._link_command(msg, coid)
        self._flush()
        if not op.ok:
            raise JournalWriteError(f"intent {coid} was not written; see the journal's log")
        return intent_id, coid

    def _link_command(self, msg: m.RecordIntent, coid: str) -> None:
        """The control command that made this intent learns its client order id, in the same
        transaction: a resend after a crash finds the order instead of placing another."""
        if msg.command_corr:
            self.batch.row(replies.LINK_SQL, replies.link_row(msg.command_corr, coid), f"link of {coid}")

    def _load_intents(self, account: int) -> list[dict[str, Any]]:
        query = IntentRow.select().where((IntentRow.account == account) & ~(IntentRow.status << FINAL_STATUSES))
        return [{"id": r.id, "client_order_id": r.client_order_id, "strategy_id": r.strategy_id,
                 "status": r.status, "symbol": r.symbol, "side": r.side, "closing": r.closing} for r in query]

    def _load_reconciliation(self, msg: m.LoadReconciliation) -> m.ReconciliationLoaded:
        """Reconciliation's journal side (actors/account/reconcile.py): the intents in doubt and
        those the terminal names, the open positions with the closes already traded (a deal
        read again is not a second trade), the newest deal time (where the history to read starts)."""
        doubt = ~(IntentRow.status << FINAL_STATUSES)
        named = IntentRow.id << list(msg.intent_ids) if msg.intent_ids else doubt
        intents = [{"id": r.id, "client_order_id": r.client_order_id, "strategy_id": r.strategy_id,
                    "status": r.status, "closing": r.closing, "position_ticket": r.position_ticket,
                    "request": r.request or {}, "created_at": r.created_at, "symbol": r.symbol, "side": r.side,
                    "volume": r.volume}
                   for r in IntentRow.select().where((IntentRow.account == msg.account) & (doubt | named))]
        rows = list(PositionRow.select().where((PositionRow.account == msg.account) & (PositionRow.state == "open")))
        traded: dict[int, list[int]] = {}
        if rows:
            for trade in TradeRow.select(TradeRow.ticket, TradeRow.close_time).where(
                    (TradeRow.account == msg.account) & (TradeRow.ticket << [r.ticket for r in rows])):
                traded.setdefault(trade.ticket, []).append(trade.close_time)
        positions = tuple({"ticket": r.ticket, "strategy_id": r.strategy_id, "volume": r.volume,
                           "opened_at": r.opened_at, "traded": traded.get(r.ticket, [])} for r in rows)
        last = DealRow.select(pw.fn.MAX(DealRow.time_msc)).where(DealRow.account == msg.account).scalar()
        return m.ReconciliationLoaded(corr=msg.corr, account=msg.account, intents=tuple(intents), positions=positions,
                                      last_deal_ms=None if last is None else int(last))

    # --- strategies, limits, states, balances: cold writes, run as steps of the group ---
    def _save(self, msg: Any, now: int) -> None:
        match msg:
            case m.SaveStrategy():
                StrategyRow.replace(
                    strategy_id=msg.strategy_id, account=msg.account, name=msg.definition.get("name", ""),
                    definition=msg.definition, state=msg.state, restarts=msg.restarts, updated_at=now,
                ).execute()
            case m.SaveRiskLimits(account=account, limits=limits):
                RiskLimitsRow.replace(account=account, limits=limits, updated_at=now).execute()
            case m.SaveTradingState(account=account, state=state):
                MetaRow.replace(key=TRADING_STATE.format(account), value=json.dumps(state)).execute()
            case m.SaveOtpStep(step=step):
                row = MetaRow.get_or_none(MetaRow.key == OTP_LAST_STEP)
                if row is None or int(row.value) < step:  # two actors may report out of order
                    MetaRow.replace(key=OTP_LAST_STEP, value=str(step)).execute()
            case m.RecordBalance():
                self._record_balance(msg)
            case m.SaveFlattenPending(accounts=accounts):
                MetaRow.replace(key=FLATTEN_PENDING, value=json.dumps(sorted(accounts))).execute()

    @staticmethod
    def _strategy_dict(row: StrategyRow) -> dict[str, Any]:
        return {"strategy_id": row.strategy_id, "account": row.account, "definition": row.definition,
                "state": row.state, "restarts": row.restarts}

    def _load_kill_switch(self) -> KillSwitchState:
        row = KillSwitchRow.get_or_none(KillSwitchRow.id == 1)
        if row is None or not row.active:
            return KillSwitchState()
        pending = MetaRow.get_or_none(MetaRow.key == FLATTEN_PENDING)
        return KillSwitchState(active=True, reason=row.reason, engaged_at=row.engaged_at, locked_until=row.locked_until,
                               flatten_pending=tuple(json.loads(pending.value)) if pending is not None else ())

    # --- events ---
    def _record_event(self, event: Any, now: int) -> None:
        name = type(event).__name__
        self.batch.row(rows.EVENT_SQL, rows.event_row(event, now), f"event {name}")
        match event:
            case m.PositionOpened():
                self.batch.row(rows.POSITION_OPENED_SQL, rows.position_opened_row(event, now),
                               f"position {event.ticket} of account {event.account}")
            case m.PositionModified():
                self.batch.row(rows.POSITION_MODIFIED_SQL, rows.position_modified_row(event),
                               f"stops of position {event.ticket} of account {event.account}")
            case m.PositionClosed() | m.KillSwitchEngaged() | m.KillSwitchReset() | m.StrategyStateChanged():
                self.batch.step(functools.partial(self._event_effect, event, now), name)

    def _event_effect(self, event: Any, now: int) -> None:
        match event:
            case m.PositionClosed():
                self._position_closed(event, now)
            case m.KillSwitchEngaged():
                KillSwitchRow.replace(id=1, active=True, reason=event.reason, engaged_at=event.engaged_at,
                                      locked_until=event.locked_until).execute()
            case m.KillSwitchReset():
                KillSwitchRow.replace(id=1, active=False, reason="", engaged_at=0, locked_until=0).execute()
            case m.StrategyStateChanged():
                StrategyRow.update(state=event.state, restarts=event.restarts, updated_at=now).where(
                    StrategyRow.strategy_id == event.strategy_id).execute()

    def _position_closed(self, event: m.PositionClosed, now: int) -> None:
        # Prepared statements, not models: one of these comes with every closing deal.
        cursor = self.db.cursor()
        position = cursor.execute(_POSITION_OF_SQL, (event.account, event.ticket)).fetchone()
        opened_at, price_open, volume = position if position is not None else (now, 0.0, None)
        # The terminal's deal times and prices when known; our own records otherwise.
        cursor.execute(_TRADE_SQL, (event.account, event.ticket, event.strategy_id, event.symbol, event.side,
                                    event.volume, event.open_time or opened_at, event.open_price or price_open,
                                    event.close_time or now, event.price_close, event.profit, event.reason))
        if volume is not None:
            remaining = round(volume - event.volume, 8)
            if remaining > 1e-9:
                cursor.execute(_POSITION_SHRANK_SQL, (remaining, event.account, event.ticket))
            else:
                cursor.execute(_POSITION_CLOSED_SQL, (now, event.account, event.ticket))

    # --- balances: where the performance report's equity curves start ---
    def _record_balance(self, msg: m.RecordBalance) -> None:
        """Keep the account's first balance, less what its journaled trades already made, so
        it is the balance before its first journaled trade also for a journal that has
        trades from before balances were recorded. Keep its server's latest tz offset."""
        if msg.account not in self.initial_balances:
            made = TradeRow.select(pw.fn.SUM(TradeRow.profit)).where(TradeRow.account == msg.account).scalar()
            initial = round(msg.balance - (made or 0.0), 2)
            MetaRow.replace(key=f"{INITIAL_BALANCE}{msg.account}", value=repr(initial)).execute()
            self.initial_balances[msg.account] = initial
            logger.info("account {}: initial balance {} for the performance report", msg.account, initial)
        if self.tz_offsets.get(msg.account) != msg.tz_offset_s:
            MetaRow.replace(key=f"{TZ_OFFSET}{msg.account}", value=str(msg.tz_offset_s)).execute()
            self.tz_offsets[msg.account] = msg.tz_offset_s

    # --- reports ---
    def performance(self, req: m.PerformanceRequest) -> dict[str, Any]:
        self._flush()  # also called through a proxy, which bypasses on_receive
        return performance_report(req, self.initial_balances, self.tz_offsets)
