"""The Journal actor: the only writer of the SQLite journal.

Writes that protect money are asked for (`RecordIntent` returns only once the row is
committed: write-before-send); everything else is told and written in arrival order. The
journal never calls another actor synchronously, so asking it cannot deadlock.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import peewee as pw
from loguru import logger

from actors import messages as m
from actors.runtime.directory import Directory
from actors.runtime.supervision import Supervised
from actors.journal.models import (
    AuditRow, DealRow, EventRow, IntentRow, KillSwitchRow, MetaRow, PositionRow, RiskLimitsRow,
    StrategyRow, TradeRow, open_database,
)
from actors.runtime.kill_switch import KillSwitchState
from actors.account.order_ids import client_order_id, new_journal_tag
from actors.journal.performance import summarize

FINAL_STATUSES = ("FILLED", "REJECTED")
MAX_AUDIT_DATA = 4096
OTP_LAST_STEP = "otp_last_step"  # MetaRow key: the TOTP time step last used, so no code is good twice
TRADING_STATE = "trading_state:{}"  # MetaRow key per account: its REDUCING/HALTED state and lock survive restarts
INITIAL_BALANCE = "initial_balance:"  # MetaRow key prefix, + the account login
TZ_OFFSET = "tz_offset_s:"
# A trade in PERFORMANCE_REQUEST: CONTROL_API's fields, plus its account and why it closed.
TRADE_FIELDS = ("ticket", "account", "strategy_id", "symbol", "side", "volume", "open_time", "open_price",
                "close_time", "close_price", "profit", "reason")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Journal(Supervised):
    def __init__(self, path: Path, directory: Directory) -> None:
        super().__init__(name="journal", parent="supervisor", directory=directory)
        self.path = path
        self.db = None
        self.tag = ""
        self.initial_balances: dict[int, float] = {}
        self.tz_offsets: dict[int, int] = {}

    def on_start(self) -> None:
        self.db = open_database(self.path)
        if self._unclean_shutdown():
            result = self.db.execute_sql("PRAGMA integrity_check").fetchone()[0]
            logger.warning("journal was not closed cleanly; integrity_check: {}", result)
        MetaRow.replace(key="open", value="1").execute()
        row = MetaRow.get_or_none(MetaRow.key == "tag")
        if row is None:
            self.tag = new_journal_tag()
            MetaRow.create(key="tag", value=self.tag)
        else:
            self.tag = row.value
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
        if self.db is not None:
            MetaRow.replace(key="open", value="0").execute()
            self.db.close()

    def on_receive(self, message: Any) -> Any:
        match message:
            case m.RecordIntent():
                return self._record_intent(message)
            case m.RecordOrderOutcome():
                self._record_outcome(message)
            case m.RecordDeals():
                self._record_deals(message)
            case m.SaveStrategy():
                self._save_strategy(message)
            case m.LoadStrategies():
                return [self._strategy_dict(r) for r in StrategyRow.select().order_by(StrategyRow.updated_at)]
            case m.LoadKillSwitch():
                return self._load_kill_switch()
            case m.SaveRiskLimits(account=account, limits=limits):
                RiskLimitsRow.replace(account=account, limits=limits, updated_at=_now_ms()).execute()
            case m.LoadRiskLimits(account=account):
                row = RiskLimitsRow.get_or_none(RiskLimitsRow.account == account)
                return None if row is None else row.limits
            case m.SaveTradingState(account=account, state=state):
                MetaRow.replace(key=TRADING_STATE.format(account), value=json.dumps(state)).execute()
            case m.LoadTradingState(account=account):
                row = MetaRow.get_or_none(MetaRow.key == TRADING_STATE.format(account))
                return None if row is None else json.loads(row.value)
            case m.LoadOtpStep():
                row = MetaRow.get_or_none(MetaRow.key == OTP_LAST_STEP)
                return None if row is None else int(row.value)
            case m.SaveOtpStep(step=step):
                row = MetaRow.get_or_none(MetaRow.key == OTP_LAST_STEP)
                if row is None or int(row.value) < step:  # two actors may report out of order
                    MetaRow.replace(key=OTP_LAST_STEP, value=str(step)).execute()
            case m.LoadIntents(account=account):
                return self._load_intents(account)
            case m.LoadTradeProfits(strategy_id=strategy_id, limit=limit):
                rows = (TradeRow.select(TradeRow.profit).where(TradeRow.strategy_id == strategy_id)
                        .order_by(TradeRow.close_time.desc(), TradeRow.id.desc()).limit(limit))
                return [r.profit for r in rows][::-1]
            case m.LoadOpenPositions(account=account):
                rows = PositionRow.select().where((PositionRow.account == account) & (PositionRow.state == "open"))
                return {r.ticket: r.strategy_id for r in rows}
            case m.AuditCommand():
                self._audit(message)
            case m.RecordBalance():
                self._record_balance(message)
            case m.PerformanceRequest():
                self.directory.tell("control", m.CommandReply(corr=message.corr, ok=True, data=self.performance(message)))
            case _ if type(message) in m.EVENT_TYPES:
                self._record_event(message)
            case _:
                return super().on_receive(message)
        return None

    # --- orders ---
    def _record_intent(self, msg: m.RecordIntent) -> tuple[int, str]:
        now = _now_ms()
        with self.db.atomic():
            row = IntentRow.create(
                account=msg.account, strategy_id=msg.strategy_id, symbol=msg.symbol, side=msg.side,
                volume=msg.volume, closing=msg.closing, position_ticket=msg.position_ticket,
                request=msg.request, status="PENDING", created_at=now, updated_at=now,
            )
            row.client_order_id = client_order_id(self.tag, row.id)
            row.save()
        return row.id, row.client_order_id

    def _record_outcome(self, msg: m.RecordOrderOutcome) -> None:
        fields = {"status": msg.status, "retcode": msg.retcode, "updated_at": _now_ms(), "message": msg.message}
        if msg.order_ticket:
            fields["order_ticket"] = msg.order_ticket
        if msg.deal_ticket:
            fields["deal_ticket"] = msg.deal_ticket
        if msg.volume:
            fields.update(price=msg.price, filled_volume=msg.volume)
        updated = IntentRow.update(**fields).where(IntentRow.client_order_id == msg.client_order_id).execute()
        if not updated:
            logger.error("outcome for unknown client order id {}", msg.client_order_id)

    def _record_deals(self, msg: m.RecordDeals) -> None:
        fields = ("ticket", "order", "position_id", "symbol", "type", "entry", "reason", "volume", "price", "profit",
                  "swap", "commission", "fee", "magic", "comment", "time_msc")
        rows = [{"account": msg.account, "strategy_id": msg.strategy_id,
                 **{f: deal.get(f, 0 if f not in ("symbol", "comment") else "") for f in fields}}
                for deal in msg.deals]
        for row in rows:
            row["magic"] = str(row["magic"])
        with self.db.atomic():
            for row in rows:
                DealRow.replace(**row).execute()

    def _load_intents(self, account: int) -> list[dict[str, Any]]:
        rows = IntentRow.select().where((IntentRow.account == account) & ~(IntentRow.status << FINAL_STATUSES))
        return [{"id": r.id, "client_order_id": r.client_order_id, "strategy_id": r.strategy_id,
                 "status": r.status, "symbol": r.symbol, "side": r.side, "closing": r.closing} for r in rows]

    # --- strategies, limits, kill switch ---
    def _save_strategy(self, msg: m.SaveStrategy) -> None:
        StrategyRow.replace(
            strategy_id=msg.strategy_id, account=msg.account, name=msg.definition.get("name", ""),
            definition=msg.definition, state=msg.state, restarts=msg.restarts, updated_at=_now_ms(),
        ).execute()

    @staticmethod
    def _strategy_dict(row: StrategyRow) -> dict[str, Any]:
        return {"strategy_id": row.strategy_id, "account": row.account, "definition": row.definition,
                "state": row.state, "restarts": row.restarts}

    def _load_kill_switch(self) -> KillSwitchState:
        row = KillSwitchRow.get_or_none(KillSwitchRow.id == 1)
        if row is None or not row.active:
            return KillSwitchState()
        return KillSwitchState(active=True, reason=row.reason, engaged_at=row.engaged_at, locked_until=row.locked_until)

    # --- events ---
    def _record_event(self, event: Any) -> None:
        with self.db.atomic():
            EventRow.create(ts=_now_ms(), type=type(event).__name__, payload=m.to_map(event))
            match event:
                case m.PositionOpened():
                    PositionRow.replace(
                        account=event.account, ticket=event.ticket, strategy_id=event.strategy_id,
                        symbol=event.symbol, side=event.side, volume=event.volume, price_open=event.price_open,
                        sl=event.sl, tp=event.tp, opened_at=_now_ms(), closed_at=None, state="open",
                    ).execute()
                case m.PositionClosed():
                    self._position_closed(event)
                case m.PositionModified():
                    PositionRow.update(sl=event.sl, tp=event.tp).where(
                        (PositionRow.account == event.account) & (PositionRow.ticket == event.ticket)).execute()
                case m.KillSwitchEngaged():
                    KillSwitchRow.replace(id=1, active=True, reason=event.reason, engaged_at=event.engaged_at,
                                          locked_until=event.locked_until).execute()
                case m.KillSwitchReset():
                    KillSwitchRow.replace(id=1, active=False, reason="", engaged_at=0, locked_until=0).execute()
                case m.StrategyStateChanged():
                    StrategyRow.update(state=event.state, restarts=event.restarts, updated_at=_now_ms()).where(
                        StrategyRow.strategy_id == event.strategy_id).execute()

    def _position_closed(self, event: m.PositionClosed) -> None:
        where = (PositionRow.account == event.account) & (PositionRow.ticket == event.ticket)
        position = PositionRow.get_or_none(where)
        now = _now_ms()
        # The terminal's deal times and prices when known; our own records otherwise.
        TradeRow.create(
            account=event.account, ticket=event.ticket, strategy_id=event.strategy_id, symbol=event.symbol,
            side=event.side, volume=event.volume, close_price=event.price_close, close_time=event.close_time or now,
            open_time=event.open_time or (position.opened_at if position else now),
            open_price=event.open_price or (position.price_open if position else 0.0),
            profit=event.profit, reason=event.reason,
        )
        if position is not None:
            remaining = round(position.volume - event.volume, 8)
            if remaining > 1e-9:
                PositionRow.update(volume=remaining).where(where).execute()
            else:
                PositionRow.update(volume=0.0, state="closed", closed_at=now).where(where).execute()

    def _audit(self, msg: m.AuditCommand) -> None:
        data = msg.data
        if data is not None and len(repr(data)) > MAX_AUDIT_DATA:
            data = {"truncated": repr(data)[:MAX_AUDIT_DATA]}
        AuditRow.create(ts=_now_ms(), request_id=msg.request_id, type=msg.type[:32], data=data, ok=msg.ok,
                        error_code=msg.error_code, client=msg.client[:64])

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
        query = TradeRow.select()
        if req.strategy_id:
            query = query.where(TradeRow.strategy_id == req.strategy_id)
        if req.account:
            query = query.where(TradeRow.account == req.account)
        trades = [self._trade_dict(r) for r in query.order_by(TradeRow.close_time, TradeRow.id)]
        by_strategy: dict[str, list[dict[str, Any]]] = {}
        by_account: dict[int, list[dict[str, Any]]] = {}
        for t in trades:
            by_strategy.setdefault(t["strategy_id"], []).append(t)
            by_account.setdefault(t["account"], []).append(t)
        if req.strategy_id and req.strategy_id not in by_strategy:
            by_strategy[req.strategy_id] = []
        reply: dict[str, Any] = {
            "accounts": [self._report({"account": a}, ts, [a]) for a, ts in sorted(by_account.items())],
            "strategies": [self._report({"strategy_id": s}, ts, sorted({t["account"] for t in ts}))
                           for s, ts in sorted(by_strategy.items())],
        }
        if req.include_trades:
            reply["trades"] = [{k: t[k] for k in TRADE_FIELDS} for t in trades]
        return reply

    def _report(self, head: dict[str, Any], trades: list[dict[str, Any]], accounts: list[int]) -> dict[str, Any]:
        """`summarize` of `trades` made in `accounts`. A strategy trades its account's capital,
        so its curve starts at the account's initial balance (the sum, if it traded in
        several; None while one is unknown) and its days are that server's (the first
        account's, if they differ)."""
        balances = [self.initial_balances.get(a) for a in accounts]
        initial = sum(balances) if balances and None not in balances else None
        tz_offset_s = self.tz_offsets.get(accounts[0], 0) if accounts else 0
        return {**head, "initial_balance": initial,
                **summarize(trades, initial_balance=initial, tz_offset_s=tz_offset_s)}

    @staticmethod
    def _trade_dict(row: TradeRow) -> dict[str, Any]:
        return {"id": row.id, "ticket": row.ticket, "account": row.account, "strategy_id": row.strategy_id,
                "symbol": row.symbol, "side": row.side, "volume": row.volume, "open_time": row.open_time,
                "open_price": row.open_price, "close_time": row.close_time, "close_price": row.close_price,
                "profit": row.profit, "reason": row.reason}
