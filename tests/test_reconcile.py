"""Reconciliation's classes, one by one, on a real (pure) trade server: confirmed, filled while
down, never placed, orphan, phantom (an SL hit while down), and duplicates (actors/account/reconcile.py)."""

from __future__ import annotations

import pytest

from actors.account.order_ids import client_order_id, magic_for
from actors.account.reconcile import (
    FILLED_WHILE_DOWN, NEVER_PLACED, deals_from_ms, looks_like_coid, reconcile, referenced_intents, wants_deals,
)
from actors.account.view import EXTERNAL
from bridge import mt5
from bridge.symbols import DEFAULT_SYMBOLS
from bridge.trade_server.server import TradeServer

pytestmark = pytest.mark.timeout(10)
TAG = "abc123"
T0 = 1_700_000_000_000


@pytest.fixture
def server() -> TradeServer:
    srv = TradeServer(login=1, symbols=DEFAULT_SYMBOLS)
    srv.on_quote("EURUSD", T0, 1.10000, 1.10010)
    return srv


def intent(iid: int, status: str = "PENDING", *, strategy: str = "s1", closing: bool = False, request=None) -> dict:
    return {"id": iid, "client_order_id": client_order_id(TAG, iid), "strategy_id": strategy, "status": status,
            "closing": closing, "position_ticket": 0, "request": request or {"action": mt5.TRADE_ACTION_DEAL}}


def send(server: TradeServer, iid: int | None, type_: int = mt5.ORDER_TYPE_BUY, **extra) -> dict:
    request = {"action": mt5.TRADE_ACTION_DEAL, "symbol": "EURUSD", "volume": 0.1, "type": type_,
               "type_filling": mt5.ORDER_FILLING_IOC, **extra}
    if iid is not None:
        request.update(magic=magic_for(iid), comment=client_order_id(TAG, iid))
    result = server.order_send(request)
    assert result["retcode"] == mt5.TRADE_RETCODE_DONE, result
    return result


def verdict_of(server: TradeServer, intents, journal_positions=None, **kw):
    return reconcile(intents=intents, journal_positions=journal_positions or {}, positions=server.positions_get(),
                     orders=server.orders_get(), deals=server.history_deals_get(0, 2**62), **kw)


def test_a_journal_position_the_terminal_holds_is_confirmed(server):
    result = send(server, 1)
    verdict = verdict_of(server, [intent(1, "FILLED")], {result["order"]: "s1"})
    assert verdict.counts() == {"confirmed": 1, "filled_while_down": 0, "never_placed": 0, "orphans": 0,
                                "phantoms": 0, "duplicates": 0}
    assert verdict.record == [] and verdict.settled == []


def test_an_intent_in_doubt_whose_deal_is_there_filled_while_down(server):
    result = send(server, 7)
    verdict = verdict_of(server, [intent(7, "UNKNOWN", strategy="trend")])
    [settled] = verdict.settled
    assert (settled.kind, settled.status, settled.order_ticket, settled.deal_ticket) == \
        (FILLED_WHILE_DOWN, "FILLED", result["order"], result["deal"])
    assert settled.price == pytest.approx(1.10010) and settled.volume == 0.1
    [recorded] = verdict.record
    assert (recorded.ticket, recorded.strategy_id, recorded.side) == (result["order"], "trend", "buy")
    assert verdict.counts()["filled_while_down"] == 1 and verdict.orphans == []


def test_an_intent_without_trace_was_never_placed(server):
    verdict = verdict_of(server, [intent(3), intent(4, "SENT")])
    assert [(s.client_order_id, s.kind, s.status) for s in verdict.settled] == [
        (client_order_id(TAG, 3), NEVER_PLACED, "REJECTED"), (client_order_id(TAG, 4), NEVER_PLACED, "REJECTED")]


def test_orders_still_followed_by_this_process_are_left_to_it(server):
    verdict = verdict_of(server, [intent(3)], skip={client_order_id(TAG, 3)})
    assert verdict.settled == []


def test_a_position_no_intent_explains_is_an_orphan_adopted_as_external(server):
    by_hand = send(server, None)  # no magic: opened in the terminal by hand
    other_journal = server.order_send({"action": mt5.TRADE_ACTION_DEAL, "symbol": "EURUSD", "volume": 0.1,
                                       "type": mt5.ORDER_TYPE_SELL, "type_filling": mt5.ORDER_FILLING_IOC,
                                       "magic": magic_for(9), "comment": client_order_id("ffffff", 9)})
    verdict = verdict_of(server, [intent(9, "FILLED")])  # our row 9 is another order with the same row id
    assert sorted(p["ticket"] for p in verdict.orphans) == sorted([by_hand["order"], other_journal["order"]])
    assert {r.ticket: r.strategy_id for r in verdict.record} == {by_hand["order"]: EXTERNAL,
                                                                 other_journal["order"]: EXTERNAL}
    # Adopted once, the journal holds it: the next reconciliation confirms it.
    again = verdict_of(server, [], {r.ticket: r.strategy_id for r in verdict.record})
    assert again.orphans == [] and again.confirmed == 2


def test_a_pending_order_placed_by_hand_is_an_orphan_order(server):
    server.order_send({"action": mt5.TRADE_ACTION_PENDING, "symbol": "EURUSD", "volume": 0.1,
                       "type": mt5.ORDER_TYPE_BUY_LIMIT, "price": 1.05, "type_filling": mt5.ORDER_FILLING_RETURN,
                       "type_time": mt5.ORDER_TIME_GTC})
    verdict = verdict_of(server, [])
    assert len(verdict.orphan_orders) == 1 and verdict.counts()["orphans"] == 1


def test_a_journal_position_closed_by_its_stop_while_down_is_a_phantom_with_its_real_profit(server):
    result = send(server, 1, sl=1.09500)
    ticket = result["order"]
    server.on_quote("EURUSD", T0 + 60_000, 1.09400, 1.09410)  # the stop is hit while we are away
    assert server.positions_get() == []
    verdict = verdict_of(server, [], {ticket: "s1"})
    assert list(verdict.phantoms) == [ticket]
    exits = [d for d in verdict.phantoms[ticket] if d["entry"] == mt5.DEAL_ENTRY_OUT]
    assert len(exits) == 1 and exits[0]["reason"] == mt5.DEAL_REASON_SL and exits[0]["profit"] < 0


def test_an_open_filled_and_stopped_out_while_down_is_recorded_then_closed(server):
    result = send(server, 5, sl=1.09500)
    server.on_quote("EURUSD", T0 + 60_000, 1.09400, 1.09410)
    verdict = verdict_of(server, [intent(5, "SENT")])
    assert [s.kind for s in verdict.settled] == [FILLED_WHILE_DOWN]
    assert [r.ticket for r in verdict.record] == [result["order"]]  # recorded first ...
    assert list(verdict.phantoms) == [result["order"]]  # ... then closed from its deals


def test_a_close_in_doubt_is_settled_by_its_exit_deal_or_never_placed(server):
    opened = send(server, 1)
    position = server.positions_get()[0]
    closed = send(server, 2, mt5.ORDER_TYPE_SELL, position=position["ticket"])
    verdict = verdict_of(server, [intent(2, "UNKNOWN", closing=True), intent(3, "PENDING", closing=True)],
                         {opened["order"]: "s1"})
    decided = {s.client_order_id: (s.status, s.deal_ticket) for s in verdict.settled}
    assert decided == {client_order_id(TAG, 2): ("FILLED", closed["deal"]), client_order_id(TAG, 3): ("REJECTED", 0)}
    assert list(verdict.phantoms) == [opened["order"]]


def test_a_stop_change_in_doubt_is_settled_by_the_positions_stops(server):
    send(server, 1)
    ticket = server.positions_get()[0]["ticket"]
    server.order_send({"action": mt5.TRADE_ACTION_SLTP, "symbol": "EURUSD", "position": ticket, "sl": 1.09, "tp": 0.0})
    applied = intent(2, request={"action": mt5.TRADE_ACTION_SLTP, "position": ticket, "sl": 1.09, "tp": 0.0})
    not_applied = intent(3, request={"action": mt5.TRADE_ACTION_SLTP, "position": ticket, "sl": 1.08, "tp": 0.0})
    verdict = verdict_of(server, [applied, not_applied], {ticket: "s1"})
    assert [s.status for s in verdict.settled] == ["FILLED", "REJECTED"]


def test_a_filled_intent_whose_position_the_crash_left_unrecorded_is_recorded(server):
    result = send(server, 4)
    verdict = verdict_of(server, [intent(4, "FILLED", strategy="late")])
    assert verdict.settled == [] and verdict.orphans == []
    assert [(r.ticket, r.strategy_id) for r in verdict.record] == [(result["order"], "late")]
    assert verdict.counts()["filled_while_down"] == 1


def test_two_opening_deals_under_one_client_order_id_are_reported_as_duplicates(server):
    send(server, 6)
    send(server, 6)
    verdict = verdict_of(server, [intent(6, "FILLED")])
    assert verdict.duplicates == [client_order_id(TAG, 6)]


def test_helpers():
    assert looks_like_coid("abc123-17") and not looks_like_coid("[sl 1.09500]") and not looks_like_coid("")
    assert referenced_intents([{"magic": magic_for(3)}, {"magic": 0}], [{"magic": magic_for(8)}]) == [3, 8]
    assert wants_deals([intent(1)]) and not wants_deals([intent(1, "FILLED")])
    assert not wants_deals([intent(1)], skip={client_order_id(TAG, 1)})
    assert not wants_deals([intent(2, request={"action": mt5.TRADE_ACTION_SLTP})])
    day = 86_400_000
    assert deals_from_ms(None, None, None) == 0
    assert deals_from_ms(10 * day, 5 * day, None) == 14 * day
    assert deals_from_ms(10 * day, 5 * day, 12 * day) == 11 * day  # the earlier guess wins
