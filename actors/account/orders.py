"""The Account's order path after the decision to trade: every order is journaled before it
is sent (write-before-send), tracked in flight, and ended by its result: journal, events and
the command's reply.

Write-before-send without waiting: `send` tells the Journal the intent with a correlation id
(the order waits in the pipeline's JOURNAL stage) and the order leaves for the terminal only
when `IntentRecorded` says the group holding its row has committed, under the client order
id given there. `IntentNotRecorded`, or no answer in time, ends the order unsent; an intent
committed after that is marked REJECTED in the journal, never sent. A close is answered once its deal, fetched from history, tells the real
profit. What did not plainly succeed goes to Recovery first.

`Orders` sends opens (built by actors.account.entries), closes, stop changes and order
removals alike; `on_done` tells the Account shell that an order ended (filled or not), for
the parts that follow orders: smart exits and close jobs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from loguru import logger

from actors import errors
from actors import messages as m
from actors.account import order_requests as orq
from actors.account.in_flight import InFlight
from actors.account.market import Market
from actors.account.order_ids import magic_for
from actors.account.pipeline import JOURNAL, Pending, Pipeline
from actors.account.recovery import NEVER_PLACED, Recovery
from actors.account.view import AccountView
from actors.runtime.directory import Directory
from bridge import mt5


def reply_ok(directory: Directory, corr: str, data: dict[str, Any]) -> None:
    if corr:
        directory.tell("control", m.CommandReply(corr=corr, ok=True, data=data))


def reply_error(directory: Directory, corr: str, code: str, message: str, details: dict[str, Any] | None = None) -> None:
    if corr:
        directory.tell("control", m.CommandReply(corr=corr, ok=False, error=errors.error(code, message, details)))


class Orders:
    def __init__(self, *, login: int, view: AccountView, market: Market, in_flight: dict[str, InFlight],
                 pipeline: Pipeline, recovery: Recovery, directory: Directory, post: Callable[[], None],
                 flush: Callable[[], None], on_done: Callable[[InFlight, bool], None], generation: int = 0,
                 ask_deals: Callable[[int, bool], None] | None = None) -> None:
        self.login = login
        self.me = f"account:{login}"
        self.view = view
        self.market = market
        self.in_flight = in_flight
        self.pipeline = pipeline
        self.recovery = recovery
        self.directory = directory
        self.post = post  # the status changed: posted when the Account's mailbox drains
        self.flush = flush  # posted now: a command's reply never gets ahead of STATUS
        self.on_done = on_done
        self.generation = generation  # this Account's incarnation, on every order: a zombie's are refused
        # (ticket, exit_needed) -> its deals fetched, and fetched again until they come (Reconciliation)
        self.ask_deals = ask_deals or (lambda ticket, _exit: self.directory.tell(
            f"terminal:{self.login}", m.FetchDeals(account=self.login, position=ticket, reply_to=self.me)))
        self.awaiting_deal: dict[int, InFlight] = {}  # deal ticket -> the close that made it

    # --- closing, modifying, removing ---
    def close_command(self, cmd: m.ClosePosition) -> None:
        position = self.view.positions.get(cmd.ticket)
        if position is None:
            return reply_error(self.directory, cmd.corr, errors.NOT_FOUND, f"no open position with ticket {cmd.ticket}")
        volume = cmd.volume if cmd.volume is not None else position["volume"]
        if volume > position["volume"] + 1e-9:
            return reply_error(self.directory, cmd.corr, errors.BAD_REQUEST, f"volume {volume:g} exceeds the "
                               f"position's {position['volume']:g} lots", {"position_volume": position["volume"]})
        self.close(position, volume, cmd.corr)

    def close(self, position: dict[str, Any], volume: float, corr: str, job: str = "", exit_action: Any = None) -> bool:
        try:
            symbol, bid, ask = self.market.quote(position["symbol"])
        except errors.ControlError as exc:
            reply_error(self.directory, corr, exc.code, exc.message)
            return False
        request = orq.market_close(symbol, position, volume, orq.closing_price(position, bid, ask))
        flight = InFlight("close", corr, self.view.strategy_of(position["ticket"]), position["symbol"],
                          orq.side_of(position["type"]), volume, ticket=position["ticket"], job=job,
                          extra={"volume_before": position["volume"], "exit_action": exit_action})
        self.send(request, flight, closing=True)
        return True

    def modify_command(self, cmd: m.ModifyPosition) -> None:
        position = self.view.positions.get(cmd.ticket)
        if position is None:
            return reply_error(self.directory, cmd.corr, errors.NOT_FOUND, f"no open position with ticket {cmd.ticket}")
        sl = position["sl"] if cmd.sl is None else cmd.sl
        tp = position["tp"] if cmd.tp is None else cmd.tp
        self.modify(position, sl, tp, cmd.corr)

    def modify(self, position: dict[str, Any], sl: float, tp: float, corr: str = "", exit_action: Any = None) -> None:
        extra: dict[str, Any] = {"sl": sl, "tp": tp}
        if exit_action is not None:
            extra["exit_action"] = exit_action
        flight = InFlight("modify", corr, self.view.strategy_of(position["ticket"]), position["symbol"],
                          orq.side_of(position["type"]), position["volume"], ticket=position["ticket"], extra=extra)
        self.send(orq.modify_stops(position, sl, tp), flight, closing=True)

    def remove(self, order: dict[str, Any], job: str) -> None:
        ticket = order["ticket"]
        flight = InFlight("remove", "", self.view.strategy_of(ticket), order["symbol"], "", 0.0, ticket=ticket, job=job)
        self.send(orq.remove_order(order), flight, closing=True)

    # --- sending: the journal first, then the terminal ---
    def send(self, request: dict[str, Any], flight: InFlight, *, closing: bool) -> None:
        """Journal the intent; the order leaves on `on_recorded`, once its row is committed."""
        pending = self.pipeline.start(JOURNAL, flight, time.monotonic(), request=request, closing=closing)
        told = self.directory.tell("journal", m.RecordIntent(
            reply_to=self.me, corr=pending.corr, account=self.login, strategy_id=flight.strategy_id,
            symbol=flight.symbol, side=flight.side, volume=flight.volume, closing=closing,
            position_ticket=flight.ticket, request=request, command_corr=flight.corr))
        if not told:
            self.pipeline.drop(pending)
            return self.unsent(pending, "the journal is not running")
        self.post()

    def on_recorded(self, msg: m.IntentRecorded) -> None:
        pending = self.pipeline.take(msg.corr, JOURNAL)
        if pending is None:
            # Committed after this Account gave up on it (or for its previous instance): the
            # order never leaves, and its row must not stay PENDING as if it might have.
            logger.warning("account {}: intent {} committed after its order was given up; marked not sent",
                           self.login, msg.client_order_id)
            self.directory.tell("journal", m.RecordOrderOutcome(
                client_order_id=msg.client_order_id, status="REJECTED", message="not sent: journaled too late"))
            return
        coid = msg.client_order_id
        self._submit({**pending.request, "magic": magic_for(msg.intent_id), "comment": coid}, coid, pending.flight,
                     pending.closing)

    def on_not_recorded(self, msg: m.IntentNotRecorded) -> None:
        pending = self.pipeline.take(msg.corr, JOURNAL)
        if pending is not None:
            self.unsent(pending, msg.error)

    def unsent(self, pending: Pending, why: str) -> None:
        """An order that never left: its journal row was not committed (or not in time)."""
        flight = pending.flight
        logger.error("account {}: {} {} {} not sent: {}", self.login, flight.kind, flight.side, flight.symbol, why)
        self._reply_error(flight.corr, errors.UNAVAILABLE, f"order not sent: {why}; nothing was traded")
        self.on_done(flight, False)
        self.post()

    def _submit(self, request: dict[str, Any], coid: str, flight: InFlight, closing: bool) -> None:
        flight.extra["request"] = request
        self.in_flight[coid] = flight
        self.directory.tell(f"terminal:{self.login}", m.SubmitOrder(
            account=self.login, client_order_id=coid, request=request, closing=closing, generation=self.generation))
        self.post()

    def _reply_ok(self, corr: str, data: dict[str, Any]) -> None:
        if corr:
            self.flush()
            reply_ok(self.directory, corr, data)

    def _reply_error(self, corr: str, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        if corr:
            self.flush()
            reply_error(self.directory, corr, code, message, details)

    # --- results ---
    def on_result(self, res: m.OrderResult) -> None:
        flight = self.in_flight.pop(res.client_order_id, None)
        if flight is None:
            logger.warning("account {}: result for unknown order {}", self.login, res.client_order_id)
            return
        if res.ok and res.retcode in mt5.SUCCESS_RETCODES:
            self._succeeded(res.client_order_id, flight, res.result or {})
        elif not self.recovery.recover(res, flight):
            self._failed(res, flight)
        self.post()

    def settle_doubts(self) -> None:
        """After a fresh snapshot: end every order in doubt as the terminal shows it."""
        for settled in self.recovery.settle_doubts():
            if settled.result is not None:
                self._succeeded(settled.coid, settled.flight, settled.result)
            else:
                self._failed(m.OrderResult(account=self.login, client_order_id=settled.coid, ok=False,
                                           error=NEVER_PLACED), settled.flight)

    def _succeeded(self, coid: str, flight: InFlight, result: dict[str, Any]) -> None:
        self.directory.tell("journal", m.RecordOrderOutcome(
            client_order_id=coid, status="FILLED", retcode=result["retcode"], order_ticket=result.get("order", 0),
            deal_ticket=result.get("deal", 0), price=result.get("price", 0.0), volume=result.get("volume", 0.0)))
        match flight.kind:
            case "open":
                self._opened(coid, flight, result)
            case "close":
                self._closed(coid, flight, result)
            case "modify":
                self._modified(flight)
        self.on_done(flight, True)

    def _opened(self, coid: str, flight: InFlight, result: dict[str, Any]) -> None:
        ticket = int(result["order"])  # hedging: the position ticket is the opening order's
        self.view.strategy_of_ticket[ticket] = flight.strategy_id
        self.view.add_filled(ticket, flight.extra["request"], result)
        self.post()
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
        self.ask_deals(ticket, False)  # journals the opening deal

    def _closed(self, coid: str, flight: InFlight, result: dict[str, Any]) -> None:
        self.directory.publish(m.OrderFilled(
            account=self.login, client_order_id=coid, strategy_id=flight.strategy_id, ticket=flight.ticket,
            symbol=flight.symbol, side=flight.side, volume=result["volume"], price=result["price"],
            closing=True, retcode=result["retcode"]))
        flight.extra.update(price=result["price"], volume=result["volume"])
        self.awaiting_deal[int(result.get("deal", 0))] = flight  # answered when its deal arrives
        self.ask_deals(flight.ticket, True)

    def _modified(self, flight: InFlight) -> None:
        sl, tp = flight.extra["sl"], flight.extra["tp"]
        position = self.view.positions.get(flight.ticket)
        if position is not None:  # before the next snapshot, so a following modify keeps these stops
            position.update(sl=sl, tp=tp)
            self.post()
        self.directory.publish(m.PositionModified(account=self.login, ticket=flight.ticket, sl=sl, tp=tp))
        self._reply_ok(flight.corr, {"ticket": flight.ticket, "sl": sl, "tp": tp})

    def _failed(self, res: m.OrderResult, flight: InFlight) -> None:
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
        self.on_done(flight, False)

    def on_deals(self, msg: m.DealsFetched) -> None:
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
