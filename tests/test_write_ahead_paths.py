"""L1 write-ahead on every path that sends an order: each SubmitOrder that reaches the Terminal
must name an intent already committed in the journal (read through a connection of its own,
so only what is on disk counts), and carry the running Account's generation. The paths: a
strategy's entry and exit, OPEN/CLOSE/MODIFY_POSITION, a smart exit, a requote retried,
CLOSE_ALL, STOP_STRATEGY's close and the kill switch's flatten. A path that sent before its
row was committed (or without one) fails here."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from actors import messages as m
from actors.terminal.terminal import Terminal
from tests.conftest import wait_for

pytestmark = pytest.mark.timeout(120)

FLIP = {"name": "flip", "symbol": "EURUSD", "timeframe": "M1",
        "rules": {"entry_long": "close > 0", "exit_long": "close > 0"},
        "settings": {"sizing": {"method": "fixed", "lots": 0.1}, "max_positions": 1}}
PARTIAL = {"name": "partial", "symbol": "GBPUSD", "timeframe": "M1", "rules": {"entry_long": "close > 0"},
           "settings": {"sizing": {"method": "fixed", "lots": 0.2}, "max_positions": 1, "stop_loss": {"pips": 300},
                        "partial_exits": [{"at_pips": 0.1, "close_pct": 50}]}}


class Spy:
    """Wraps Terminal._submit: each order checked against the journal file before it goes on."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.lock = threading.Lock()
        self.seen: list[m.SubmitOrder] = []
        self.broken: list[str] = []
        self.path = None
        original = Terminal._submit
        spy = self

        def submit(terminal: Terminal, order: m.SubmitOrder, now: float) -> None:
            spy.check(terminal, order)
            original(terminal, order, now)
        monkeypatch.setattr(Terminal, "_submit", submit)

    def check(self, terminal: Terminal, order: m.SubmitOrder) -> None:
        with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5) as db:
            row = db.execute("SELECT status FROM order_intents WHERE client_order_id = ?",
                             (order.client_order_id,)).fetchone()
        with self.lock:
            self.seen.append(order)
            if row is None:
                self.broken.append(f"{order.client_order_id}: sent with no committed intent")
            if order.generation != terminal.generations.current(terminal.account_name) or not order.generation:
                self.broken.append(f"{order.client_order_id}: generation {order.generation}, not the running one")

    def count(self) -> int:
        with self.lock:
            return len(self.seen)


def sends(spy: Spy, what: str, action, at_least: int = 1, timeout: float = 20) -> None:
    before = spy.count()
    action()
    wait_for(lambda: spy.count() >= before + at_least, timeout=timeout, message=f"{what} to send an order")


def test_every_path_that_sends_writes_its_intent_first(executor_factory, monkeypatch):
    spy = Spy(monkeypatch)
    executor = executor_factory()
    spy.path = executor.config.data_dir / "journal.sqlite3"
    login = executor.wait_connected()
    server = executor.sim.server

    sends(spy, "a strategy's entries and exits", lambda: executor.ok(
        "START_STRATEGY", {"strategy_id": "flip", "strategy": FLIP}), at_least=3)
    sends(spy, "a smart exit (partial close)", lambda: executor.ok(
        "START_STRATEGY", {"strategy_id": "partial", "strategy": PARTIAL}), at_least=2)
    opened = executor.ok("OPEN_POSITION", {"symbol": "USDJPY", "side": "buy", "volume": 0.1})
    sends(spy, "MODIFY_POSITION", lambda: executor.ok("MODIFY_POSITION", {"ticket": opened["ticket"], "tp": 0.0,
                                                                          "sl": opened["price"] - 1.0}))
    # The requote fault takes the next deal of any origin: the flipping strategy, trading every
    # bar, would otherwise race the close for it.
    executor.ok("PAUSE_STRATEGY", {"strategy_id": "flip"})
    server.faults.requotes = 1  # the next deal is requoted: retried under the same client order id
    sends(spy, "a requote retried", lambda: executor.ok("CLOSE_POSITION", {"ticket": opened["ticket"]}),
          at_least=2)
    for side in ("buy", "sell"):
        executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": side, "volume": 0.1})
    sends(spy, "CLOSE_ALL", lambda: executor.ok("CLOSE_ALL", {"symbol": "EURUSD"}), at_least=2)
    sends(spy, "STOP_STRATEGY's close", lambda: executor.ok("STOP_STRATEGY", {"strategy_id": "partial"}))
    executor.ok("OPEN_POSITION", {"symbol": "XAUUSD", "side": "sell", "volume": 0.1})
    sends(spy, "the kill switch's flatten", lambda: executor.ok("EMERGENCY_STOP", {"reason": "test"}))
    wait_for(lambda: not server.positions_get(), timeout=20, message="the account to be flat")

    assert spy.broken == []
    actions = {o.request.get("action") for o in spy.seen}
    assert {1, 6} <= actions  # deals (opens, closes) and stop changes went through the check
    assert any(o.attempt for o in spy.seen), "the requote's retry was checked too"
    assert executor.service.board.get(f"account:{login}", {}).get("ready")
