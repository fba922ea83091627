"""The Account actor: one per MT5 account; its view of the account and every order's life.

Life of an order here: intent (from a strategy or OPEN_POSITION) -> size from the symbol's
real properties -> RiskGuard (asked; refusal = RiskRejected event) -> journal row committed
(asked; write-before-send) -> Terminal -> OrderResult -> journal, events, the command's
reply. Positions are whatever the terminal last reported; a position that shrinks or
disappears (our close, SL, TP, stop-out) is explained by its deals, fetched from history,
so every close is recorded once with its real profit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from loguru import logger

from actors import errors
from actors import messages as m
from actors.account import order_requests as orq
from actors.account.exit_manager import AccountExits
from actors.account.recovery import AccountRecovery, Retry
from actors.account.entry_sizing import ASK_TIMEOUT_S, AccountSizing
from actors.account.view import AccountView
from actors.account.close_jobs import CloseJob
from actors.runtime.directory import Directory
from actors.account.exit_book import ExitBook
from actors.runtime.supervision import Supervised
from actors.account.order_ids import magic_for
from actors.account.sizing import SizingError, pip_size, stop_prices
from actors.runtime.status_board import StatusBoard
from actors.runtime.ticker import Ticker
from bridge import mt5

MANUAL = "manual"


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


class Account(AccountSizing, AccountRecovery, AccountExits, Supervised):
    def __init__(self, *, login: int, directory: Directory, board: StatusBoard) -> None:
        super().__init__(name=f"account:{login}", parent="supervisor", directory=directory)
        self.login = login
        self.board = board
        self.view = AccountView(login)
        self.in_flight: dict[str, InFlight] = {}
        self.jobs: dict[str, CloseJob] = {}
        self.awaiting_deal: dict[int, InFlight] = {}  # deal ticket -> the close that made it
        self.exits = ExitBook()
        self.retries: list[Retry] = []  # retry-safe refusals waiting for their backoff
        self.ticker: Ticker | None = None

    def on_start(self) -> None:
        known = self.directory.ask("journal", m.LoadOpenPositions(account=self.login), timeout=ASK_TIMEOUT_S)
        self.view.strategy_of_ticket.update(known or {})
        self.ticker = Ticker(self.actor_ref, 1.0).start()
        self._post()

    def on_stop(self) -> None:
        if self.ticker:
            self.ticker.stop()
        self.board.remove(f"account:{self.login}")

    def on_receive(self, message: Any) -> Any:
        match message:
            case m.LinkStateChanged(connected=connected):
                self.view.connected = connected
                self.view.synced = False  # fail closed until the terminal's positions arrive
                self._post()
            case m.AccountInfoUpdated(info=info):
                self.view.info = dict(info)
                self.directory.tell(f"risk:{self.login}", message)  # type, balance, equity: its limits
                if "balance" in info:  # the journal keeps the first: where the performance report's equity starts
                    self.directory.tell("journal", m.RecordBalance(account=self.login, balance=float(info["balance"]),
                        tz_offset_s=int(self.board.get(f"terminal:{self.login}", {}).get("tz_offset_s", 0))))
                self._post()
            case m.SymbolsUpdated(symbols=symbols):
                self.view.symbols = dict(symbols)
                self._post()
            case m.PositionsSnapshot():
                self._on_snapshot(message)
            case m.TradeTransaction():
                pass  # a positions snapshot follows every change; deals are read from history
            case m.OrderIntent():
                self._open(message, corr="")
            case m.OpenPosition():
                self._open_command(message)
            case m.ClosePosition():
                self._close_command(message)
            case m.ModifyPosition():
                self._modify(message)
            case m.CloseAll():
                self._start_job(message.corr, "close_all", self.view.select(symbol=message.symbol,
                                strategy_id=message.strategy_id), message.reason, cancel_orders=False)
            case m.CloseStrategyPositions():
                self._start_job(message.corr, "close_strategy", self.view.select(
                    strategy_id=message.strategy_id, side=message.side), message.reason or "strategy exit",
                    cancel_orders=False, reply_to=message.reply_to)
            case m.Flatten():
                self._start_job(message.corr, "flatten", self.view.select(), message.reason, cancel_orders=True)
            case m.OrderResult():
                self._on_result(message)
            case m.DealsFetched():
                self._on_deals(message)
            case m.Tick():
                self._on_tick()
            case m.TickBatch():
                self._exits_on_quote(message)
            case m.RegisterExits():
                self._register_exits(message)
            case m.StrategyBar():
                self._exits_on_bar(message)
            case _:
                return super().on_receive(message)
        return None

    # --- opening ---
    def _open_command(self, cmd: m.OpenPosition) -> None:
        sizing = cmd.sizing or {"method": "fixed", "lots": cmd.volume if cmd.volume is not None else 0.01}
        intent = m.OrderIntent(strategy_id=MANUAL, account=self.login, symbol=cmd.symbol, side=cmd.side,
                               sizing=sizing, sl_pips=cmd.sl_pips, tp_pips=cmd.tp_pips, comment=cmd.comment)
        self._open(intent, corr=cmd.corr, sl=cmd.sl, tp=cmd.tp)

    def _open(self, intent: m.OrderIntent, *, corr: str, sl: float | None = None, tp: float | None = None) -> None:
        if intent.max_positions and self._held_by(intent.strategy_id) >= intent.max_positions:
            logger.info("account {}: {} already holds its max_positions {}; entry skipped", self.login,
                        intent.strategy_id, intent.max_positions)
            return
        try:
            if not self._ready():
                raise errors.ControlError(errors.UNAVAILABLE, f"account {self.login} is not connected or is still "
                                      "reconciling with its terminal; retry in a moment")
            symbol, bid, ask = self._market(intent.symbol)
            price = orq.entry_price(intent.side, bid, ask)
            size = self._size(intent, symbol, price)
        except (SizingError, errors.ControlError) as exc:
            return self._refuse(intent, corr, [str(exc)], getattr(exc, "code", errors.RISK_REJECTED))
        decision: m.RiskDecision = self.directory.ask(f"risk:{self.login}", self._check_order(intent, symbol, size.volume,
                                                                                              price),
                                                      timeout=ASK_TIMEOUT_S)
        if not decision.approved:
            return self._refuse(intent, corr, list(decision.reasons))
        volume = decision.volume or size.volume  # a check may have reduced it (correlation, exposure)
        for warning in decision.warnings:
            logger.warning("account {}: {} {} {}: {}", self.login, intent.strategy_id, intent.side, intent.symbol,
                           warning)
        sl_pips = intent.sl_pips
        if sl_pips is None and size.stop_distance:  # atr_based sizing chose the stop
            sl_pips = size.stop_distance / pip_size(symbol)
        auto_sl, auto_tp = stop_prices(intent.side, price, symbol, sl_pips=sl_pips, tp_pips=intent.tp_pips,
                                       tp_rr=intent.tp_rr)
        request = orq.market_open(symbol, intent.side, volume, price, sl=sl or auto_sl, tp=tp or auto_tp)
        self._send(request, InFlight("open", corr, intent.strategy_id, intent.symbol, intent.side, volume),
                   closing=False)

    def _refuse(self, intent: m.OrderIntent, corr: str, reasons: list[str], code: str = errors.RISK_REJECTED) -> None:
        logger.warning("account {}: {} {} {} refused: {}", self.login, intent.strategy_id, intent.side,
                       intent.symbol, "; ".join(reasons))
        self.directory.publish(m.RiskRejected(account=self.login, strategy_id=intent.strategy_id,
                                              symbol=intent.symbol, side=intent.side, reasons=tuple(reasons)))
        kill = self.board.get("supervisor", {}).get("kill_switch", {})
        if code == errors.RISK_REJECTED and kill.get("active") and any("kill switch" in r for r in reasons):
            code = errors.TRADING_LOCKED
        details = {"reasons": reasons} if code != errors.TRADING_LOCKED else {"reasons": reasons,
                                                                            "locked_until": kill.get("locked_until")}
        self._reply_error(corr, code, "; ".join(reasons), details)

    def _market(self, name: str) -> tuple[dict[str, Any], float, float]:
        symbol = self.view.symbols.get(name)
        if symbol is None:
            raise errors.ControlError(errors.NOT_FOUND, f"symbol {name} is not offered by account {self.login}; "
                                  f"known: {sorted(self.view.symbols)[:20]}")
        quote = self.board.get(f"quote:{self.login}:{name}")
        if quote is None:
            raise errors.ControlError(errors.UNAVAILABLE, f"no quote for {name} yet; retry once prices arrive")
        return symbol, quote[1], quote[2]

    # --- closing and modifying ---
    def _close_command(self, cmd: m.ClosePosition) -> None:
        position = self.view.positions.get(cmd.ticket)
        if position is None:
            return self._reply_error(cmd.corr, errors.NOT_FOUND, f"no open position with ticket {cmd.ticket}")
        volume = cmd.volume if cmd.volume is not None else position["volume"]
        if volume > position["volume"] + 1e-9:
            return self._reply_error(cmd.corr, errors.BAD_REQUEST, f"volume {volume:g} exceeds the position's "
                                     f"{position['volume']:g} lots", {"position_volume": position["volume"]})
        self._close(position, volume, cmd.corr)

    def _close(self, position: dict[str, Any], volume: float, corr: str, job: str = "",
               exit_action: Any = None) -> bool:
        try:
            symbol, bid, ask = self._market(position["symbol"])
        except errors.ControlError as exc:
            self._reply_error(corr, exc.code, exc.message)
            return False
        request = orq.market_close(symbol, position, volume, orq.closing_price(position, bid, ask))
        flight = InFlight("close", corr, self.view.strategy_of(position["ticket"]), position["symbol"],
                          orq.side_of(position["type"]), volume, ticket=position["ticket"], job=job,
                          extra={"volume_before": position["volume"], "exit_action": exit_action})
        self._send(request, flight, closing=True)
        return True

    def _flight(self, kind: str, strategy_id: str, position: dict[str, Any], extra: dict[str, Any]) -> InFlight:
        return InFlight(kind, "", strategy_id, position["symbol"], orq.side_of(position["type"]), position["volume"],
                        ticket=position["ticket"], extra=extra)

    def _modify(self, cmd: m.ModifyPosition) -> None:
        position = self.view.positions.get(cmd.ticket)
        if position is None:
            return self._reply_error(cmd.corr, errors.NOT_FOUND, f"no open position with ticket {cmd.ticket}")
        sl = position["sl"] if cmd.sl is None else cmd.sl
        tp = position["tp"] if cmd.tp is None else cmd.tp
        flight = InFlight("modify", cmd.corr, self.view.strategy_of(cmd.ticket), position["symbol"],
                          orq.side_of(position["type"]), position["volume"], ticket=cmd.ticket, extra={"sl": sl, "tp": tp})
        self._send(orq.modify_stops(position, sl, tp), flight, closing=True)

    # --- jobs: close several positions and retry until the terminal reports them gone ---
    def _start_job(self, corr: str, kind: str, positions: list[dict[str, Any]], reason: str, *,
                   cancel_orders: bool, reply_to: str = "control") -> None:
        name = corr or f"job-{time.monotonic_ns()}"
        orders = list(self.view.orders) if cancel_orders else []
        job = CloseJob(name=name, kind=kind, corr=corr, reason=reason, reply_to=reply_to,
                       tickets={p["ticket"] for p in positions}, orders={o["ticket"] for o in orders})
        self.jobs[name] = job
        logger.info("account {}: {} ({}) closes {} positions, cancels {} orders", self.login, kind, reason,
                    len(job.tickets), len(job.orders))
        self._advance_job(job)

    def _advance_job(self, job: CloseJob) -> None:
        job.forget_gone(set(self.view.positions), {o["ticket"] for o in self.view.orders})
        if job.done:
            return self._finish_job(job)
        busy = {f.ticket for f in self.in_flight.values()}
        for ticket in job.tickets - busy:
            position = self.view.positions[ticket]
            job.attempts += 1
            self._close(position, position["volume"], "", job=job.name)
        for ticket in job.orders - busy:
            order = next(o for o in self.view.orders if o["ticket"] == ticket)
            flight = InFlight("remove", "", self.view.strategy_of(ticket), order["symbol"], "", 0.0, ticket=ticket,
                              job=job.name)
            self._send(orq.remove_order(order), flight, closing=True)

    def _finish_job(self, job: CloseJob) -> None:
        del self.jobs[job.name]
        log = logger.info if job.done else logger.error
        log("account {}: {} finished: closed {}, cancelled {}, remaining {}", self.login, job.kind, job.closed,
            job.cancelled, job.remaining)
        if job.kind == "flatten":
            self.directory.tell("supervisor", m.AccountFlattened(
                corr=job.corr, account=self.login, closed_positions=job.closed, cancelled_orders=job.cancelled,
                remaining=job.remaining))
        elif job.corr:
            self.directory.tell(job.reply_to, m.CommandReply(corr=job.corr, ok=True, data={
                "closed": job.closed, "remaining": job.remaining}))
        self._post()

    # --- sending and results ---
    def _send(self, request: dict[str, Any], flight: InFlight, *, closing: bool) -> None:
        intent_id, coid = self.directory.ask("journal", m.RecordIntent(
            account=self.login, strategy_id=flight.strategy_id, symbol=flight.symbol, side=flight.side,
            volume=flight.volume, closing=closing, position_ticket=flight.ticket, request=request),
            timeout=ASK_TIMEOUT_S)
        request = {**request, "magic": magic_for(intent_id), "comment": coid}
        flight.extra["request"] = request
        self.in_flight[coid] = flight
        self.directory.tell(f"terminal:{self.login}", m.SubmitOrder(
            account=self.login, client_order_id=coid, request=request, closing=closing))
        self._post()

    def _on_result(self, res: m.OrderResult) -> None:
        flight = self.in_flight.pop(res.client_order_id, None)
        if flight is None:
            logger.warning("account {}: result for unknown order {}", self.login, res.client_order_id)
            return
        result = res.result or {}
        if res.ok and res.retcode in mt5.SUCCESS_RETCODES:
            self._on_success(res.client_order_id, flight, result)
        elif self._recover(res, flight):
            self._post()
            return
        else:
            self._on_failure(res, flight)
        job = self.jobs.get(flight.job)
        if job is not None and flight.kind == "remove" and res.ok and res.retcode in mt5.SUCCESS_RETCODES:
            job.cancelled += 1
        self._post()

    def _on_success(self, coid: str, flight: InFlight, result: dict[str, Any]) -> None:
        self.directory.tell("journal", m.RecordOrderOutcome(
            client_order_id=coid, status="FILLED", retcode=result["retcode"], order_ticket=result.get("order", 0),
            deal_ticket=result.get("deal", 0), price=result.get("price", 0.0), volume=result.get("volume", 0.0)))
        if flight.kind == "open":
            ticket = int(result["order"])  # hedging: the position ticket is the opening order's
            self.view.strategy_of_ticket[ticket] = flight.strategy_id
            self.view.add_filled(ticket, flight.extra["request"], result)
            self._sync_exits()
            self._post()
            self.directory.publish(m.OrderFilled(
                account=self.login, client_order_id=coid, strategy_id=flight.strategy_id, ticket=ticket,
                symbol=flight.symbol, side=flight.side, volume=result["volume"], price=result["price"],
                closing=False, retcode=result["retcode"]))
            request = flight.extra["request"]
            self.directory.publish(m.PositionOpened(
                account=self.login, strategy_id=flight.strategy_id, ticket=ticket, symbol=flight.symbol,
                side=flight.side, volume=result["volume"], price_open=result["price"],
                sl=float(request.get("sl", 0.0)), tp=float(request.get("tp", 0.0))))
            self._reply_ok(flight.corr, {"ticket": ticket, "price": result["price"], "volume": result["volume"]})
            self.directory.tell(f"terminal:{self.login}", m.FetchDeals(  # journals the opening deal
                account=self.login, position=ticket, reply_to=f"account:{self.login}"))
        elif flight.kind == "close":
            self.directory.publish(m.OrderFilled(
                account=self.login, client_order_id=coid, strategy_id=flight.strategy_id, ticket=flight.ticket,
                symbol=flight.symbol, side=flight.side, volume=result["volume"], price=result["price"],
                closing=True, retcode=result["retcode"]))
            if flight.job in self.jobs:
                self.jobs[flight.job].closed += 1
            flight.extra.update(price=result["price"], volume=result["volume"])
            self.awaiting_deal[int(result.get("deal", 0))] = flight
            self.directory.tell(f"terminal:{self.login}", m.FetchDeals(
                account=self.login, position=flight.ticket, reply_to=f"account:{self.login}"))
        elif flight.kind == "modify":
            position = self.view.positions.get(flight.ticket)
            if position is not None:  # before the next snapshot, so a following modify keeps these stops
                position.update(sl=flight.extra["sl"], tp=flight.extra["tp"])
                self._post()
            self.directory.publish(m.PositionModified(account=self.login, ticket=flight.ticket,
                                                      sl=flight.extra["sl"], tp=flight.extra["tp"]))
            self._reply_ok(flight.corr, {"ticket": flight.ticket, "sl": flight.extra["sl"], "tp": flight.extra["tp"]})

    def _on_failure(self, res: m.OrderResult, flight: InFlight) -> None:
        self._exit_failed(flight.extra)
        text = mt5.retcode_text(res.retcode) if res.ok else res.error
        status = "UNKNOWN" if res.error.startswith("UNKNOWN") else "REJECTED"
        self.directory.tell("journal", m.RecordOrderOutcome(client_order_id=res.client_order_id, status=status,
                                                            retcode=res.retcode, message=text))
        self.directory.publish(m.OrderRejected(account=self.login, client_order_id=res.client_order_id,
                                               strategy_id=flight.strategy_id, symbol=flight.symbol,
                                               retcode=res.retcode, message=text))
        logger.error("account {}: {} {} {} failed: {} {}", self.login, flight.kind, flight.side, flight.symbol,
                     res.retcode or "", text)
        if res.ok:
            self._reply_error(flight.corr, errors.BROKER_ERROR, f"MT5 refused the order: {res.retcode} {text}",
                              {"retcode": res.retcode})
        elif status == "UNKNOWN":
            self._reply_error(flight.corr, errors.TIMEOUT, text)
        else:
            self._reply_error(flight.corr, errors.UNAVAILABLE, text)

    def _on_deals(self, msg: m.DealsFetched) -> None:
        if not msg.ok:
            logger.warning("account {}: deals of position {} unavailable: {}", self.login, msg.position, msg.error)
            return
        if msg.deals:
            self.directory.tell("journal", m.RecordDeals(account=self.login, strategy_id=self.view.strategy_of(
                msg.position), deals=msg.deals))
        entry = next((d for d in msg.deals if d.get("entry") == mt5.DEAL_ENTRY_IN), None)
        for deal in msg.deals:
            closed = self.view.record_exit_deal(deal, entry)
            if closed is None:
                continue
            self.directory.publish(closed)
            flight = self.awaiting_deal.pop(closed.deal, None)
            if flight is None and self.awaiting_deal.get(0) is not None and self.awaiting_deal[0].ticket == closed.ticket:
                flight = self.awaiting_deal.pop(0)  # a close settled by reconciliation: its deal was unknown
            if flight is not None:
                self._reply_ok(flight.corr, {"ticket": closed.ticket, "closed_volume": closed.volume,
                                             "price": closed.price_close, "profit": closed.profit})

    # --- the terminal's view ---
    def _on_snapshot(self, snap: m.PositionsSnapshot) -> None:
        changed = self.view.apply_snapshot(snap.positions, snap.orders)
        self._settle_doubts()
        self._sync_exits()
        for ticket in changed:  # shrank or vanished: its deals say why and for how much
            self.directory.tell(f"terminal:{self.login}", m.FetchDeals(
                account=self.login, position=ticket, reply_to=f"account:{self.login}"))
        for job in list(self.jobs.values()):
            job.forget_gone(set(self.view.positions), {o["ticket"] for o in self.view.orders})
            if job.done and not any(f.job == job.name for f in self.in_flight.values()):
                self._finish_job(job)
        self._post()

    def _on_tick(self) -> None:
        self._retry_due()
        now = time.monotonic()
        for job in list(self.jobs.values()):
            if job.expired(now):
                self._finish_job(job)
            elif not any(f.job == job.name for f in self.in_flight.values()):
                self._advance_job(job)  # retry whatever is still open

    # --- replies and status ---
    def _reply_ok(self, corr: str, data: dict[str, Any]) -> None:
        if corr:
            self.directory.tell("control", m.CommandReply(corr=corr, ok=True, data=data))

    def _reply_error(self, corr: str, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        if corr:
            self.directory.tell("control", m.CommandReply(corr=corr, ok=False, error=errors.error(code, message, details)))

    def _post(self) -> None:
        # `busy`: orders in flight and close jobs running (a replay waits for it to reach 0).
        self.board.post(f"account:{self.login}", {**self.view.snapshot(),
                                                  "busy": len(self.in_flight) + len(self.jobs),
                                                  "ready": self._ready()})

    def _ready(self) -> bool:
        """Connected, reconciled and knowing its symbols: orders can be priced and sent."""
        return self.view.connected and self.view.synced and bool(self.view.symbols)
