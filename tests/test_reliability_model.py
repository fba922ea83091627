"""A Hypothesis state machine over the order path's faults, on the pure reconciliation
(actors/account/reconcile.py) and the pure trade server as the terminal, with a model of the
executor around them: a journal that commits intents before an order leaves (L1) and the rest
in groups a crash can lose, orders on the wire, answers on their way back, the kill gate.

Steps: submit, close, deliver an order, lose its answer, answer it, commit the journal, crash
(what is on the wire may still arrive), restart, disconnect, reconnect, a snapshot, a price move
(stops hit, also while down), a trade by hand, the kill switch (flatten). After every step:
L1 (no order at the terminal without its committed intent), L3 (one deal per client order id)
and K1 (no opening order reaches the terminal after the kill); once reconciled and quiet, L2
(every terminal position held open in the journal), L4 (every journal position open at the
terminal) and L5 (no intent in doubt)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from actors.account import reconcile as rc
from actors.account.order_ids import client_order_id, magic_for
from bridge import mt5
from bridge.symbols import DEFAULT_SYMBOLS
from bridge.trade_server.server import TradeServer

TAG = "abc123"
T0 = 1_700_000_000_000
PIP = 0.0001


def coid_of(deal_or_order: dict) -> str | None:
    comment = str(deal_or_order.get("comment") or "")
    return comment if rc.looks_like_coid(comment) else None


class Executor(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.server = TradeServer(login=1, symbols=DEFAULT_SYMBOLS, balance=1_000_000.0)
        self.t, self.mid = T0, 1.10000
        self._quote()
        self.intents: dict[int, dict] = {}  # committed
        self.positions: dict[int, str] = {}  # committed: ticket -> strategy
        self.writes: list = []  # the journal's group not yet committed: lost with a crash
        self.next_id = 1
        self.alive, self.link, self.ready, self.settled = True, True, True, True
        self.killed_after: int | None = None  # K1: intents after this id may not open at the terminal
        self.wire: list[tuple[int, dict]] = []  # past the kill gate, not yet at the terminal
        self.replies: list[tuple[int, dict]] = []  # answers on their way back

    # --- helpers ---
    def _quote(self) -> None:
        self.server.on_quote("EURUSD", self.t, round(self.mid, 5), round(self.mid + 0.0001, 5))

    def _intent(self, strategy: str, closing: bool, request: dict) -> int:
        iid, self.next_id = self.next_id, self.next_id + 1
        coid = client_order_id(TAG, iid)
        self.intents[iid] = {"id": iid, "client_order_id": coid, "strategy_id": strategy, "status": "PENDING",
                             "closing": closing, "position_ticket": request.get("position", 0), "request": request}
        return iid

    def _send(self, strategy: str, request: dict, closing: bool) -> None:
        """Journal first (committed: write-ahead), then past the kill gate onto the wire."""
        iid = self._intent(strategy, closing, request)
        request = {**request, "magic": magic_for(iid), "comment": client_order_id(TAG, iid)}
        if self.killed_after is not None and not closing:
            self.writes.append(lambda: self.intents[iid].update(status="REJECTED"))  # the gate refused it
        else:
            self.wire.append((iid, request))
        self.settled = False

    def _reconcile(self) -> None:
        verdict = rc.reconcile(intents=list(self.intents.values()), journal_positions=self.positions,
                               positions=self.server.positions_get(), orders=self.server.orders_get(),
                               deals=self.server.history_deals_get(0, 2**62))
        by_coid = {i["client_order_id"]: i for i in self.intents.values()}
        for settled in verdict.settled:
            by_coid[settled.client_order_id]["status"] = settled.status
        for new in verdict.record:
            self.positions[new.ticket] = new.strategy_id
        for ticket, deals in verdict.phantoms.items():
            assert any(d["entry"] == mt5.DEAL_ENTRY_OUT for d in deals), f"phantom {ticket} has no exit deal"
            self.positions.pop(ticket)
        assert not verdict.duplicates
        self.ready = self.settled = True

    def _lose_the_wire(self, arrives: list[bool]) -> None:
        """A crash or a lost link: what was written to the socket arrives, or is lost with it."""
        for (iid, request), arrived in zip(self.wire, arrives + [False] * len(self.wire)):
            if arrived:
                self.server.order_send(request, now_ms=self.t)
        self.wire, self.replies = [], []

    # --- the order path ---
    @precondition(lambda self: self.alive and self.link and self.ready)
    @rule(side=st.sampled_from(["buy", "sell"]), stop_pips=st.sampled_from([0, 5, 30]))
    def submit(self, side: str, stop_pips: int) -> None:
        buy = side == "buy"
        sl = 0.0 if not stop_pips else round(self.mid + (-1 if buy else 1) * stop_pips * PIP, 5)
        self._send("s1", {"action": mt5.TRADE_ACTION_DEAL, "symbol": "EURUSD", "volume": 0.1,
                          "type": mt5.ORDER_TYPE_BUY if buy else mt5.ORDER_TYPE_SELL, "sl": sl,
                          "type_filling": mt5.ORDER_FILLING_IOC, "deviation": 50}, closing=False)

    @precondition(lambda self: self.alive and self.link and self.ready and self.positions)
    @rule(data=st.data())
    def close(self, data: st.DataObject) -> None:
        ticket = data.draw(st.sampled_from(sorted(self.positions)))
        held = next((p for p in self.server.positions_get() if p["ticket"] == ticket), None)
        if held is None:
            return
        self._send(self.positions[ticket], _closing(held), closing=True)

    @precondition(lambda self: self.wire)
    @rule()
    def deliver(self) -> None:
        iid, request = self.wire.pop(0)
        self.replies.append((iid, self.server.order_send(request, now_ms=self.t)))

    @precondition(lambda self: self.replies)
    @rule()
    def lose_answer(self) -> None:
        self.replies.pop(0)  # the order stands at the terminal; its outcome is in doubt

    @precondition(lambda self: self.replies and self.alive)
    @rule()
    def answer(self) -> None:
        iid, result = self.replies.pop(0)
        intent = self.intents[iid]
        if result["retcode"] != mt5.TRADE_RETCODE_DONE:
            self.writes.append(lambda: intent.update(status="REJECTED"))
        elif intent["closing"]:
            ticket = intent["position_ticket"]
            self.writes.append(lambda: (intent.update(status="FILLED"), self.positions.pop(ticket, None)))
        else:
            self.writes.append(lambda: (intent.update(status="FILLED"),
                                        self.positions.__setitem__(result["order"], intent["strategy_id"])))

    @rule()
    def commit(self) -> None:
        for write in self.writes:
            write()
        self.writes = []

    # --- faults ---
    @precondition(lambda self: self.alive)
    @rule(arrives=st.lists(st.booleans(), max_size=4))
    def crash(self, arrives: list[bool]) -> None:
        self.alive = self.ready = self.settled = False
        self.writes = []  # the group in memory dies with the process
        self._lose_the_wire(arrives)

    @precondition(lambda self: not self.alive)
    @rule()
    def restart(self) -> None:
        self.alive = True
        if self.link:
            self._reconcile()  # on start

    @precondition(lambda self: self.link and self.alive)
    @rule(arrives=st.lists(st.booleans(), max_size=4))
    def disconnect(self, arrives: list[bool]) -> None:
        self.link = self.ready = self.settled = False
        self._lose_the_wire(arrives)

    @precondition(lambda self: not self.link)
    @rule()
    def reconnect(self) -> None:
        self.link = True
        if self.alive:
            self._reconcile()  # after every reconnect

    @precondition(lambda self: self.alive and self.link and not self.wire and not self.replies)
    @rule()
    def snapshot(self) -> None:
        self.commit()
        self._reconcile()  # the running executor's view and doubts, from the terminal's word

    @rule(pips=st.integers(-40, 40))
    def move(self, pips: int) -> None:
        self.t += 60_000
        self.mid = max(0.5, self.mid + pips * PIP)
        self._quote()  # stops are hit here, whether anyone is listening or not
        self.settled = False

    @rule()
    def by_hand(self) -> None:
        self.server.order_send({"action": mt5.TRADE_ACTION_DEAL, "symbol": "EURUSD", "volume": 0.2,
                                "type": mt5.ORDER_TYPE_BUY, "type_filling": mt5.ORDER_FILLING_IOC}, now_ms=self.t)
        self.settled = False

    @precondition(lambda self: self.alive and self.link and self.ready)
    @rule()
    def kill_switch(self) -> None:
        if self.killed_after is None:
            self.killed_after = self.next_id - 1
        for position in self.server.positions_get():  # the flatten: closing orders, journaled like any
            self._send(self.positions.get(position["ticket"], "external"), _closing(position), closing=True)

    # --- the rules ---
    @invariant()
    def write_ahead_and_no_duplicates(self) -> None:
        known = {i["client_order_id"] for i in self.intents.values()}
        sent = [c for item in (*self.server.history_deals_get(0, 2**62), *self.server.history_orders_get(0, 2**62))
                if (c := coid_of(item))]
        assert set(sent) <= known, "L1: an order at the terminal without its committed intent"
        deals = [c for d in self.server.history_deals_get(0, 2**62) if (c := coid_of(d))]
        assert len(deals) == len(set(deals)), "L3: a client order id with two deals"

    @invariant()
    def kill_gate(self) -> None:
        if self.killed_after is None:
            return
        for deal in self.server.history_deals_get(0, 2**62):
            iid = rc.intent_id_from_magic(int(deal.get("magic") or 0))
            if iid is not None and coid_of(deal) and iid > self.killed_after:
                assert deal["entry"] != mt5.DEAL_ENTRY_IN, "K1: an opening order after the kill switch"

    @invariant()
    def reconciled(self) -> None:
        if not (self.settled and self.alive and self.link):
            return
        at_terminal = {p["ticket"] for p in self.server.positions_get()}
        assert at_terminal <= set(self.positions), "L2: a terminal position the journal does not hold open"
        assert set(self.positions) <= at_terminal, "L4: a journal position open that the terminal closed"
        doubt = [i["client_order_id"] for i in self.intents.values() if i["status"] not in rc.FINAL_STATUSES]
        assert not doubt, f"L5: intents in doubt after reconciliation: {doubt}"
        dealt = {c for d in self.server.history_deals_get(0, 2**62) if (c := coid_of(d))}
        for intent in self.intents.values():  # the journal's outcome is the terminal's: none lost, none orphaned
            assert (intent["status"] == "FILLED") == (intent["client_order_id"] in dealt), \
                f"L2: {intent['client_order_id']} is {intent['status']} in the journal, the terminal says otherwise"


def _closing(position: dict) -> dict:
    buy = position["type"] == mt5.POSITION_TYPE_BUY
    return {"action": mt5.TRADE_ACTION_DEAL, "symbol": position["symbol"], "volume": position["volume"],
            "type": mt5.ORDER_TYPE_SELL if buy else mt5.ORDER_TYPE_BUY, "position": position["ticket"],
            "type_filling": mt5.ORDER_FILLING_IOC, "deviation": 50}


Executor.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None,
                                      suppress_health_check=[HealthCheck.too_slow])
test_the_order_path_keeps_l1_to_l5_and_k1_through_any_faults = pytest.mark.timeout(120)(Executor.TestCase)
