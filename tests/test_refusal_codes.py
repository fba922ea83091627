"""A refusal's error code travels with it from where it is decided (actors/errors.py): the
RiskGuard's decision carries TRADING_LOCKED when the kill switch refused and RISK_REJECTED
for a risk rule, and the Account replies with that code whatever the reasons say."""

from __future__ import annotations

import dataclasses
import queue
import time
from typing import Any

import pykka
import pytest

from actors import errors
from actors import messages as m
from actors.account.account import Account
from actors.risk import checks as rc
from actors.risk.guard import RiskGuard
from actors.runtime.directory import Directory
from actors.runtime.kill_switch import KillGate
from actors.runtime.status_board import StatusBoard
from bridge.symbols import DEFAULT_SYMBOLS
from bridge.trade_server.server import TradeServer

LOGIN = 5_000_002
LOCKED_UNTIL = 1_900_000_000_000


class Recorder(pykka.ThreadingActor):
    """Stands in for the control server: collects what it is told."""

    def __init__(self, inbox: queue.Queue) -> None:
        super().__init__()
        self.inbox = inbox

    def on_receive(self, message: Any) -> None:
        self.inbox.put(message)


class Stub(pykka.ThreadingActor):
    """Stands in for the journal or a RiskGuard: answers each message type as scripted, to
    an ask as its reply, to a CheckOrder told with `reply_to` as a told decision with its `corr`."""

    def __init__(self, answers: dict[type, Any], directory: Directory | None = None) -> None:
        super().__init__()
        self.answers = answers
        self.directory = directory

    def on_receive(self, message: Any) -> Any:
        answer = self.answers.get(type(message))
        if isinstance(message, m.CheckOrder) and message.reply_to:
            self.directory.tell(message.reply_to, dataclasses.replace(answer, corr=message.corr))
            return None
        if isinstance(message, m.LoadReconciliation):  # an empty journal: nothing to reconcile
            self.directory.tell(message.reply_to, m.ReconciliationLoaded(corr=message.corr, account=message.account,
                                                                         intents=(), positions=()))
            return None
        return answer


def reply_to(inbox: queue.Queue, corr: str) -> m.CommandReply:
    while True:
        message = inbox.get(timeout=5)
        if isinstance(message, m.CommandReply) and message.corr == corr:
            return message


@pytest.fixture
def wired():
    directory, board, inbox = Directory(), StatusBoard(), queue.Queue()
    directory.register("control", Recorder.start(inbox))
    directory.register("journal", Stub.start({m.LoadOpenPositions: {}, m.LoadRiskLimits: {},
                                              m.LoadTradingState: None}, directory))
    yield directory, board, inbox
    pykka.ActorRegistry.stop_all()


# ---------------------------------------------------------------- the Account ---
def ready_account(directory: Directory, board: StatusBoard, decision: m.RiskDecision) -> pykka.ActorRef:
    """An Account ready to price EURUSD, whose RiskGuard answers `decision`, under an engaged kill switch."""
    server = TradeServer(login=LOGIN, symbols=DEFAULT_SYMBOLS, balance=10_000.0, currency="USD")
    server.on_quote("EURUSD", 1_000, 1.08000, 1.08010)
    board.post(f"quote:{LOGIN}:EURUSD", (1_000, 1.08000, 1.08010))
    board.post("supervisor", {"kill_switch": {"active": True, "reason": "test", "locked_until": LOCKED_UNTIL}})
    directory.register(f"risk:{LOGIN}", Stub.start({m.CheckOrder: decision}, directory))
    account = Account.start(login=LOGIN, directory=directory, board=board)
    account.tell(m.LinkStateChanged(account=LOGIN, connected=True))
    account.tell(m.SymbolsUpdated(account=LOGIN, symbols={"EURUSD": server.symbol_info("EURUSD")}))
    account.tell(m.PositionsSnapshot(account=LOGIN, positions=()))
    deadline = time.monotonic() + 5  # reconciled (the journal's answer) before it takes orders
    while not board.get(f"account:{LOGIN}", {}).get("ready") and time.monotonic() < deadline:
        account.ask(m.Ping(), timeout=5)  # a Ping posts the account's status
        time.sleep(0.01)
    return account


def open_buy(account: pykka.ActorRef, corr: str) -> None:
    account.tell(m.OpenPosition(corr=corr, account=LOGIN, symbol="EURUSD", side="buy", volume=0.01))


def test_a_risk_rule_refusal_is_risk_rejected_even_if_its_text_names_the_kill_switch(wired):
    directory, board, inbox = wired
    account = ready_account(directory, board, m.RiskDecision(
        approved=False, reasons=("account is HALTED (kill switch drill): no new positions",),
        code=errors.RISK_REJECTED))
    open_buy(account, "c1")
    error = reply_to(inbox, "c1").error
    assert error["code"] == errors.RISK_REJECTED
    assert "locked_until" not in error["details"]


def test_a_kill_switch_refusal_is_trading_locked_whatever_its_text(wired):
    directory, board, inbox = wired
    account = ready_account(directory, board, m.RiskDecision(
        approved=False, reasons=("orders are off",), code=errors.TRADING_LOCKED))
    open_buy(account, "c2")
    error = reply_to(inbox, "c2").error
    assert (error["code"], error["message"]) == (errors.TRADING_LOCKED, "orders are off")
    assert error["details"] == {"reasons": ["orders are off"], "locked_until": LOCKED_UNTIL}


# -------------------------------------------------------------- the RiskGuard ---
def check(volume: float = 0.01, closing: bool = False) -> m.CheckOrder:
    return m.CheckOrder(account=LOGIN, strategy_id="s", symbol="EURUSD", side="buy", volume=volume,
                        closing=closing, open_positions=0, open_positions_of_strategy=0)


def test_the_guard_decides_trading_locked_by_the_kill_switch_rule_not_its_text(wired, monkeypatch):
    directory, board, _ = wired
    monkeypatch.setattr(rc, "KILL_SWITCH_REASON", "orders are off")
    gate = KillGate()
    guard = RiskGuard.start(login=LOGIN, directory=directory, board=board, gate=gate)
    assert guard.ask(check(), timeout=5).code == errors.RISK_REJECTED  # approved: the code is unused
    gate.trip("test")
    decision = guard.ask(check(), timeout=5)
    assert (decision.approved, decision.code) == (False, errors.TRADING_LOCKED)
    assert "orders are off" in decision.reasons
    closing = guard.ask(check(closing=True), timeout=5)
    assert closing.approved


def test_the_guard_calls_a_halt_naming_the_kill_switch_risk_rejected(wired):
    directory, board, inbox = wired
    guard = RiskGuard.start(login=LOGIN, directory=directory, board=board, gate=KillGate())
    guard.tell(m.SetTradingState(corr="h", account=LOGIN, state="HALTED", reason="kill switch drill"))
    assert reply_to(inbox, "h").ok
    decision = guard.ask(check(volume=50.0), timeout=5)
    assert not decision.approved and decision.code == errors.RISK_REJECTED
    assert any("kill switch drill" in reason for reason in decision.reasons)
