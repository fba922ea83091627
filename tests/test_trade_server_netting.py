"""Hedging and netting scenarios: MT5's tickets, identifiers, deal entries and reasons.

The expected values are what MT5 records for the same sequence: orders and deals count up
on their own counters (here from 100000000 and 50000000), a position's ticket and identifier
are its opening order's ticket and never change (partial close, averaging, reversal).
"""

from __future__ import annotations

import pytest

from bridge import mt5
from test_trade_server import T0, buy, close, make_server, sell

ORDER, DEAL = 100_000_000, 50_000_000
IN, OUT, INOUT, OUT_BY = mt5.DEAL_ENTRY_IN, mt5.DEAL_ENTRY_OUT, mt5.DEAL_ENTRY_INOUT, mt5.DEAL_ENTRY_OUT_BY


def netting(**options):
    return make_server(margin_mode=mt5.ACCOUNT_MARGIN_MODE_RETAIL_NETTING, **options)


def deals_summary(server):
    return [(d["ticket"], d["order"], d["entry"], d["type"], d["volume"], d["position_id"])
            for d in server.history_deals_get()]


def test_netting_averaging_partial_close_reversal_and_close():
    server = netting()
    first = server.order_send(buy(volume=0.1))  # 0.1 @ 1.10010
    assert (first["order"], first["deal"]) == (ORDER, DEAL)
    server.on_quote("EURUSD", T0 + 1000, 1.10030, 1.10040)
    server.order_send(buy(volume=0.2))  # averaging: 0.3 @ (0.1*1.10010 + 0.2*1.10040) / 0.3
    (position,) = server.positions_get()
    assert (position["ticket"], position["identifier"], position["volume"]) == (ORDER, ORDER, 0.3)
    assert position["price_open"] == pytest.approx(1.10030)
    server.on_quote("EURUSD", T0 + 2000, 1.10130, 1.10140)
    partial = server.order_send(sell(volume=0.1))  # partial close, no `position` needed
    assert partial["retcode"] == mt5.TRADE_RETCODE_DONE
    assert server.history_deals_get(ticket=partial["order"])[0]["profit"] == pytest.approx(10.0)
    assert server.positions_get()[0]["volume"] == 0.2
    reversal = server.order_send(sell(volume=0.5))  # closes 0.2, opens 0.3 short
    (position,) = server.positions_get()
    assert (position["ticket"], position["identifier"], position["type"], position["volume"],
            position["price_open"]) == (ORDER, ORDER, mt5.POSITION_TYPE_SELL, 0.3, 1.10130)
    reversal_deal = server.history_deals_get(ticket=reversal["order"])[0]
    assert reversal_deal["profit"] == pytest.approx(20.0)  # on the 0.2 closed only
    server.order_send(buy(volume=0.3, position=ORDER))
    assert server.positions_get() == []
    assert deals_summary(server) == [
        (DEAL, ORDER, IN, mt5.DEAL_TYPE_BUY, 0.1, ORDER),
        (DEAL + 1, ORDER + 1, IN, mt5.DEAL_TYPE_BUY, 0.2, ORDER),
        (DEAL + 2, ORDER + 2, OUT, mt5.DEAL_TYPE_SELL, 0.1, ORDER),
        (DEAL + 3, ORDER + 3, INOUT, mt5.DEAL_TYPE_SELL, 0.5, ORDER),
        (DEAL + 4, ORDER + 4, OUT, mt5.DEAL_TYPE_BUY, 0.3, ORDER),
    ]
    assert [o["position_id"] for o in server.history_orders_get()] == [ORDER] * 5
    realized = sum(d["profit"] for d in server.history_deals_get())
    assert server.account_info()["balance"] == pytest.approx(10_000 + realized)


def test_netting_keeps_one_position_per_symbol():
    server = netting()
    server.order_send(buy(volume=0.1))
    server.order_send(buy("GBPUSD", volume=0.1))
    server.order_send(buy(volume=0.1))
    assert sorted((p["symbol"], p["volume"]) for p in server.positions_get()) == [("EURUSD", 0.2), ("GBPUSD", 0.1)]


def test_netting_sltp_of_a_new_deal_replace_the_positions():
    server = netting()
    server.order_send(buy(volume=0.1, sl=1.09000))
    server.order_send(buy(volume=0.1, tp=1.12000))
    position = server.positions_get()[0]
    assert (position["sl"], position["tp"]) == (1.09000, 1.12000)


def test_netting_refuses_close_by_as_a_prohibited_order_type():
    server = netting()
    server.order_send(buy())
    request = {"action": mt5.TRADE_ACTION_CLOSE_BY, "symbol": "EURUSD", "position": ORDER, "position_by": ORDER}
    assert server.order_send(request)["retcode"] == mt5.TRADE_RETCODE_INVALID_ORDER


def test_netting_margin_follows_the_net_volume():
    server = netting()
    server.order_send(buy(volume=1.0))
    server.order_send(sell(volume=0.4))
    assert server.account_info()["margin"] == pytest.approx(
        server.order_calc_margin(mt5.ORDER_TYPE_BUY, "EURUSD", 0.6, 1.10010))


def test_hedging_partial_close_and_close_by_tickets_and_entries():
    server = make_server()
    a = server.order_send(buy(volume=0.3))  # position A = ORDER
    server.on_quote("EURUSD", T0 + 1000, 1.10200, 1.10210)
    b = server.order_send(sell(volume=0.1))  # position B = ORDER + 1 @ 1.10200
    assert (a["order"], b["order"]) == (ORDER, ORDER + 1)
    position_a = server.positions_get(ticket=ORDER)[0]
    part = server.order_send(close(position_a, 0.1))
    assert (part["order"], part["deal"]) == (ORDER + 2, DEAL + 2)
    assert server.positions_get(ticket=ORDER)[0]["volume"] == 0.2
    result = server.order_send({"action": mt5.TRADE_ACTION_CLOSE_BY, "symbol": "EURUSD",
                                "position": ORDER, "position_by": ORDER + 1, "magic": 5})
    assert (result["retcode"], result["order"], result["deal"], result["volume"]) == (
        mt5.TRADE_RETCODE_DONE, ORDER + 3, DEAL + 3, 0.1)
    (order,) = server.history_orders_get(ticket=ORDER + 3)
    assert (order["type"], order["position_id"], order["position_by_id"], order["state"]) == (
        mt5.ORDER_TYPE_CLOSE_BY, ORDER, ORDER + 1, mt5.ORDER_STATE_FILLED)
    assert order["comment"] == f"#{ORDER} by #{ORDER + 1}"
    by_deals = server.history_deals_get(ticket=ORDER + 3)
    assert [(d["ticket"], d["entry"], d["type"], d["position_id"], d["price"]) for d in by_deals] == [
        (DEAL + 3, OUT_BY, mt5.DEAL_TYPE_SELL, ORDER, 1.10200),
        (DEAL + 4, OUT_BY, mt5.DEAL_TYPE_BUY, ORDER + 1, 1.10200)]
    # The whole result is in one deal: A bought at 1.10010, closed at B's open 1.10200.
    assert by_deals[0]["profit"] == pytest.approx(19.0) and by_deals[1]["profit"] == 0.0
    (rest,) = server.positions_get()
    assert (rest["ticket"], rest["identifier"], rest["volume"], rest["price_open"]) == (ORDER, ORDER, 0.1, 1.10010)
    assert [d["entry"] for d in server.history_deals_get()] == [IN, IN, OUT, OUT_BY, OUT_BY]


def test_close_by_of_equal_volumes_closes_both_and_saves_a_spread():
    server = make_server()
    server.order_send(buy(volume=0.1))  # @ 1.10010
    server.order_send(sell(volume=0.1))  # @ 1.10000
    server.order_send({"action": mt5.TRADE_ACTION_CLOSE_BY, "position": ORDER, "position_by": ORDER + 1})
    assert server.positions_get() == []
    assert sum(d["profit"] for d in server.history_deals_get()) == pytest.approx(-1.0)  # one spread, not two


def test_hedging_opens_many_positions_per_symbol_each_with_its_own_ticket():
    server = make_server()
    tickets = [server.order_send(buy() if i % 2 else sell())["order"] for i in range(4)]
    assert sorted(p["ticket"] for p in server.positions_get()) == tickets == [ORDER + i for i in range(4)]
    assert all(p["ticket"] == p["identifier"] for p in server.positions_get())


def test_sl_close_on_netting_keeps_the_identifier_and_reason():
    server = netting()
    server.order_send(buy(volume=0.1, sl=1.09900))
    server.order_send(buy(volume=0.1))
    server.on_quote("EURUSD", T0 + 1000, 1.09890, 1.09900)
    assert server.positions_get() == []
    last = server.history_deals_get()[-1]
    assert (last["entry"], last["reason"], last["position_id"], last["volume"]) == (OUT, mt5.DEAL_REASON_SL, ORDER, 0.2)
