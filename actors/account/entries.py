"""Opening a position, from a strategy's OrderIntent or the operator's OPEN_POSITION:

  gate (max_positions, a ready account) -> [Kelly: the strategy's trade profits] -> price and
  size from the symbol's real properties -> the RiskGuard's decision -> the request with its
  stops -> Orders.send.

Each step is its own method so the order path reads in order. The questions to the Journal
and the RiskGuard are told with a correlation id (actors.account.pipeline) and their answers
resume the entry, so the Account opens many entries at once and blocks on nobody.

A refusal at any step is a RiskRejected event and the command's error reply, with the code
decided where the refusal was: the sizing or market error's own, or the RiskGuard decision's
(TRADING_LOCKED when the kill switch refused), never read back from the reasons' text.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loguru import logger

from actors import errors
from actors import messages as m
from actors.account import order_requests as orq
from actors.account.entry_sizing import EntrySizing
from actors.account.in_flight import InFlight
from actors.account.market import Market
from actors.account.orders import Orders, reply_error
from actors.account.pipeline import PROFITS, RISK, Pending, Pipeline
from actors.account.sizing import SizeResult, SizingError, pip_size, stop_prices
from actors.runtime.directory import Directory
from actors.runtime.status_board import StatusBoard

MANUAL = "manual"


@dataclass
class Entry:
    """An entry priced and sized, waiting for the RiskGuard's decision."""
    intent: m.OrderIntent
    corr: str
    symbol: dict[str, Any]
    price: float
    size: SizeResult
    sl: float | None = None  # absolute stops an OPEN_POSITION gave; they win over the pips
    tp: float | None = None


class Entries:
    def __init__(self, *, login: int, market: Market, sizing: EntrySizing, orders: Orders, pipeline: Pipeline,
                 board: StatusBoard, directory: Directory, ready: Callable[[], bool]) -> None:
        self.login = login
        self.me = f"account:{login}"
        self.market = market
        self.sizing = sizing
        self.orders = orders
        self.pipeline = pipeline
        self.board = board
        self.directory = directory
        self.ready = ready

    def open_command(self, cmd: m.OpenPosition) -> None:
        sizing = cmd.sizing or {"method": "fixed", "lots": cmd.volume if cmd.volume is not None else 0.01}
        intent = m.OrderIntent(strategy_id=MANUAL, account=self.login, symbol=cmd.symbol, side=cmd.side,
                               sizing=sizing, sl_pips=cmd.sl_pips, tp_pips=cmd.tp_pips, comment=cmd.comment)
        limit = self.board.get(f"risk:{self.login}", {}).get("limits", {}).get("max_lot_size")
        if cmd.volume is not None and limit is not None and cmd.volume > limit + 1e-9:
            # The operator's own volume: cut down to the limit, it would trade a size nobody asked for.
            return self.refuse(intent, cmd.corr, [f"volume {cmd.volume:g} exceeds max_lot_size {limit:g}; ask for "
                                                  f"at most {limit:g} lots or raise the limit"], errors.RISK_REJECTED)
        self.open(intent, corr=cmd.corr, sl=cmd.sl, tp=cmd.tp)

    def open(self, intent: m.OrderIntent, *, corr: str, sl: float | None = None, tp: float | None = None) -> None:
        if self._at_max_positions(intent):
            return
        if intent.sizing.get("method") != "kelly_criterion":
            return self._size(intent, corr, sl, tp, [])
        if not self.ready():
            return self.refuse(intent, corr, [self._not_ready()], errors.UNAVAILABLE)
        # Kelly sizes from the strategy's closed trades. Asked now, behind every trade this
        # Account has told the Journal so far: the answer is as fresh as a blocking read.
        pending = self.pipeline.start(PROFITS, InFlight("open", corr, intent.strategy_id, intent.symbol, intent.side,
                                                        0.0), time.monotonic(), intent=intent, sl=sl, tp=tp)
        if not self.directory.tell("journal", m.LoadTradeProfits(reply_to=self.me, corr=pending.corr,
                                                                 strategy_id=intent.strategy_id)):
            self.pipeline.drop(pending)
            self.refuse(intent, corr, ["the journal is not running; retry in a moment"], errors.UNAVAILABLE)

    def on_profits(self, msg: m.TradeProfitsLoaded) -> None:
        pending = self.pipeline.take(msg.corr, PROFITS)
        if pending is None:
            logger.warning("account {}: trade profits for no entry waiting ({}); ignored", self.login, msg.corr)
            return
        self._size(pending.intent, pending.flight.corr, pending.sl, pending.tp, list(msg.profits))

    def _size(self, intent: m.OrderIntent, corr: str, sl: float | None, tp: float | None,
              trades: list[float]) -> None:
        """Price and size the entry, then tell the RiskGuard; its decision resumes it (`on_decision`)."""
        try:
            entry = self._prepare(intent, corr, sl, tp, trades)
        except (SizingError, errors.ControlError) as exc:
            return self.refuse(intent, corr, [str(exc)], getattr(exc, "code", errors.RISK_REJECTED))
        # Built before this entry joins the pipeline: the entries ahead of it count as opening, it does not.
        check = self.sizing.check_order(intent, entry.symbol, entry.size.volume, entry.price)
        pending = self.pipeline.start(RISK, InFlight("open", corr, intent.strategy_id, intent.symbol, intent.side,
                                                     entry.size.volume), time.monotonic(), entry=entry)
        if not self.directory.tell(f"risk:{self.login}", dataclasses.replace(check, reply_to=self.me,
                                                                             corr=pending.corr)):
            self.pipeline.drop(pending)
            self.refuse(intent, corr, [f"the RiskGuard of account {self.login} is not running; retry in a moment"],
                        errors.UNAVAILABLE)

    def on_decision(self, decision: m.RiskDecision) -> None:
        pending = self.pipeline.take(decision.corr, RISK)
        if pending is None:
            logger.warning("account {}: a risk decision for no entry waiting ({}); ignored", self.login,
                           decision.corr)
            return
        self.decided(pending.entry, decision)

    def expired(self, pending: Pending) -> None:
        """An entry whose question went unanswered in time (its peer restarting or gone): refused."""
        who = "the journal" if pending.stage == PROFITS else f"the RiskGuard of account {self.login}"
        intent = pending.intent if pending.entry is None else pending.entry.intent
        self.refuse(intent, pending.flight.corr, [f"{who} did not answer in time; retry in a moment"], errors.TIMEOUT)

    def _at_max_positions(self, intent: m.OrderIntent) -> bool:
        if intent.max_positions and self.sizing.held_by(intent.strategy_id) >= intent.max_positions:
            logger.info("account {}: {} already holds its max_positions {}; entry skipped", self.login,
                        intent.strategy_id, intent.max_positions)
            return True
        return False

    def _prepare(self, intent: m.OrderIntent, corr: str, sl: float | None, tp: float | None,
                 trades: list[float]) -> Entry:
        if not self.ready():
            raise errors.ControlError(errors.UNAVAILABLE, self._not_ready())
        symbol, bid, ask = self.market.quote(intent.symbol)
        price = orq.entry_price(intent.side, bid, ask)
        return Entry(intent=intent, corr=corr, symbol=symbol, price=price,
                     size=self.sizing.size(intent, symbol, price, trades), sl=sl, tp=tp)

    def _not_ready(self) -> str:
        return f"account {self.login} is not connected or is still reconciling with its terminal; retry in a moment"

    def decided(self, entry: Entry, decision: m.RiskDecision) -> None:
        """The RiskGuard's decision on an entry: refuse it, or send it at the volume approved."""
        intent = entry.intent
        if not decision.approved:
            return self.refuse(intent, entry.corr, list(decision.reasons), decision.code)
        volume = decision.volume or entry.size.volume  # a check may have reduced it (correlation, exposure)
        for warning in decision.warnings:
            logger.warning("account {}: {} {} {}: {}", self.login, intent.strategy_id, intent.side, intent.symbol,
                           warning)
        sl_pips = intent.sl_pips
        if sl_pips is None and entry.size.stop_distance:  # atr_based sizing chose the stop
            sl_pips = entry.size.stop_distance / pip_size(entry.symbol)
        auto_sl, auto_tp = stop_prices(intent.side, entry.price, entry.symbol, sl_pips=sl_pips,
                                       tp_pips=intent.tp_pips, tp_rr=intent.tp_rr)
        request = orq.market_open(entry.symbol, intent.side, volume, entry.price, sl=entry.sl or auto_sl,
                                  tp=entry.tp or auto_tp)
        self.orders.send(request, InFlight("open", entry.corr, intent.strategy_id, intent.symbol, intent.side, volume),
                         closing=False)

    def refuse(self, intent: m.OrderIntent, corr: str, reasons: list[str], code: str) -> None:
        logger.warning("account {}: {} {} {} refused: {}", self.login, intent.strategy_id, intent.side,
                       intent.symbol, "; ".join(reasons))
        self.directory.publish(m.RiskRejected(account=self.login, strategy_id=intent.strategy_id,
                                              symbol=intent.symbol, side=intent.side, reasons=tuple(reasons)))
        details: dict[str, Any] = {"reasons": reasons}
        if code == errors.TRADING_LOCKED:  # the kill switch's lock, else this account's breach lock
            kill = self.board.get("supervisor", {}).get("kill_switch", {})
            details["locked_until"] = kill.get("locked_until") if kill.get("active") else \
                self.board.get(f"risk:{self.login}", {}).get("locked_until")
        reply_error(self.directory, corr, code, "; ".join(reasons), details)
