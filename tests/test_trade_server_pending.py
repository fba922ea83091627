"""Pending orders on the simulated trade server: placing, triggering, modifying, expiring."""

from __future__ import annotations

import pytest

from bridge import mt5
from test_trade_server import T0, buy, make_server, open_position

FIRST_ORDER, FIRST_DEAL = 100_000_000, 50_000_000


def pending(order_type: int, price: float, symbol: str = "EURUSD", volume: float = 0.1, **extra) -> dict:
    request = {"action": mt5.TRADE_ACTION_PENDING, "symbol": symbol, "volume": volume,
               "type": order_type, "price": price, "type_filling": mt5.ORDER_FILLING_RETURN}
    request.update(extra)
    return request


def place(server, request) -> int:
    result = server.order_send(request)
    assert result["retcode"] == mt5.TRADE_RETCODE_PLACED, result
    return result["order"]


def quote(server, seconds: float, bid: float, ask: float) -> list[int]:
    return server.on_quote("EURUSD", T0 + int(seconds * 1000), bid, ask)


def test_buy_limit_is_placed_then_fills_on_the_ask_and_opens_a_position_with_its_ticket():
    server = make_server()
    result = server.order_send(pending(mt5.ORDER_TYPE_BUY_LIMIT, 1.09900, sl=1.09500, tp=1.10500, magic=7))
    assert (result["retcode"], result["order"], result["deal"], result["volume"]) == (
        mt5.TRADE_RETCODE_PLACED, FIRST_ORDER, 0, 0.1)
    (order,) = server.orders_get()
    assert (order["ticket"], order["type"], order["state"], order["price_open"], order["volume_current"]) == (
        FIRST_ORDER, mt5.ORDER_TYPE_BUY_LIMIT, mt5.ORDER_STATE_PLACED, 1.09900, 0.1)
    assert server.positions_get() == []
    quote(server, 1, 1.09895, 1.09905)  # the bid is below the price, the ask is not: no fill
    assert server.orders_get() and server.positions_get() == []
    quote(server, 2, 1.09890, 1.09900)
    assert server.orders_get() == []
    (position,) = server.positions_get()
    assert (position["ticket"], position["identifier"], position["price_open"], position["sl"], position["tp"],
            position["magic"]) == (FIRST_ORDER, FIRST_ORDER, 1.09900, 1.09500, 1.10500, 7)
    (deal,) = server.history_deals_get()
    assert (deal["ticket"], deal["order"], deal["entry"], deal["reason"], deal["type"], deal["position_id"]) == (
        FIRST_DEAL, FIRST_ORDER, mt5.DEAL_ENTRY_IN, mt5.DEAL_REASON_EXPERT, mt5.DEAL_TYPE_BUY, FIRST_ORDER)
    (filled,) = server.history_orders_get()
    assert (filled["state"], filled["type"], filled["volume_current"], filled["time_done_msc"]) == (
        mt5.ORDER_STATE_FILLED, mt5.ORDER_TYPE_BUY_LIMIT, 0.0, T0 + 2000)


def test_sell_stop_triggers_on_the_bid_and_a_gap_fills_at_the_first_bid():
    server = make_server()
    place(server, pending(mt5.ORDER_TYPE_SELL_STOP, 1.09900))
    quote(server, 1, 1.09901, 1.09911)
    assert server.positions_get() == []
    quote(server, 2, 1.09850, 1.09860)  # gapped through the stop
    (position,) = server.positions_get()
    assert (position["type"], position["price_open"]) == (mt5.POSITION_TYPE_SELL, 1.09850)


def test_buy_stop_triggers_on_the_ask_not_the_bid():
    server = make_server()
    place(server, pending(mt5.ORDER_TYPE_BUY_STOP, 1.10100))
    quote(server, 1, 1.10095, 1.10099)
    assert server.positions_get() == []
    quote(server, 2, 1.10092, 1.10102)
    assert server.positions_get()[0]["price_open"] == 1.10102


def test_sell_limit_gap_fills_at_the_better_bid():
    server = make_server()
    place(server, pending(mt5.ORDER_TYPE_SELL_LIMIT, 1.10100))
    quote(server, 1, 1.10150, 1.10160)
    assert server.positions_get()[0]["price_open"] == 1.10150


def test_buy_stop_limit_places_its_limit_when_the_stop_is_reached():
    server = make_server()
    ticket = place(server, pending(mt5.ORDER_TYPE_BUY_STOP_LIMIT, 1.10100, stoplimit=1.10050))
    assert server.orders_get()[0]["price_stoplimit"] == 1.10050
    quote(server, 1, 1.10095, 1.10105)  # the stop is reached: now a buy limit at 1.10050
    (order,) = server.orders_get()
    assert (order["ticket"], order["type"], order["price_open"]) == (ticket, mt5.ORDER_TYPE_BUY_LIMIT, 1.10050)
    assert server.positions_get() == []
    quote(server, 2, 1.10040, 1.10048)
    (position,) = server.positions_get()
    assert (position["ticket"], position["price_open"]) == (ticket, 1.10048)
    assert server.history_orders_get()[0]["state"] == mt5.ORDER_STATE_FILLED


def test_sell_stop_limit_whose_limit_is_already_reachable_fills_on_the_same_quote():
    server = make_server()
    place(server, pending(mt5.ORDER_TYPE_SELL_STOP_LIMIT, 1.09900, stoplimit=1.09950))
    quote(server, 1, 1.09880, 1.09890)  # stop reached; the sell limit at 1.09950 waits for the bid
    assert server.positions_get() == []
    quote(server, 2, 1.09960, 1.09970)
    assert server.positions_get()[0]["price_open"] == 1.09960


def test_modify_moves_the_order_and_remove_cancels_it_into_history():
    server = make_server()
    ticket = place(server, pending(mt5.ORDER_TYPE_BUY_LIMIT, 1.09900))
    server.drain_transactions()
    modify = {"action": mt5.TRADE_ACTION_MODIFY, "order": ticket, "price": 1.09800, "sl": 1.09700}
    assert server.order_check(modify)["retcode"] == 0
    result = server.order_send(modify)
    assert (result["retcode"], result["order"]) == (mt5.TRADE_RETCODE_DONE, ticket)
    assert (server.orders_get()[0]["price_open"], server.orders_get()[0]["sl"]) == (1.09800, 1.09700)
    assert [tx["trans"]["type_name"] for tx in server.drain_transactions()] == ["ORDER_UPDATE", "REQUEST"]
    quote(server, 1, 1.09850, 1.09860)
    assert server.positions_get() == []  # the old price would have filled
    result = server.order_send({"action": mt5.TRADE_ACTION_REMOVE, "order": ticket}, now_ms=T0 + 5000)
    assert (result["retcode"], result["order"]) == (mt5.TRADE_RETCODE_DONE, ticket)
    assert server.orders_get() == []
    (order,) = server.history_orders_get()
    assert (order["state"], order["time_done_msc"], order["volume_current"]) == (mt5.ORDER_STATE_CANCELED, T0 + 5000, 0.1)
    assert [tx["trans"]["type_name"] for tx in server.drain_transactions()] == ["ORDER_DELETE", "HISTORY_ADD", "REQUEST"]


def test_pending_placement_transactions():
    server = make_server()
    place(server, pending(mt5.ORDER_TYPE_BUY_LIMIT, 1.09900))
    add, request = server.drain_transactions()
    assert (add["trans"]["type_name"], add["trans"]["order_state"], request["trans"]["type_name"]) == (
        "ORDER_ADD", mt5.ORDER_STATE_PLACED, "REQUEST")
    quote(server, 1, 1.09890, 1.09900)
    assert [tx["trans"]["type_name"] for tx in server.drain_transactions()] == ["DEAL_ADD", "ORDER_DELETE", "HISTORY_ADD"]


def test_specified_expiration_expires_the_order_at_that_time():
    server = make_server()
    expiry_s = T0 // 1000 + 60
    place(server, pending(mt5.ORDER_TYPE_BUY_LIMIT, 1.09900, type_time=mt5.ORDER_TIME_SPECIFIED,
                          expiration=expiry_s))
    assert server.orders_get()[0]["time_expiration"] == expiry_s
    quote(server, 59, 1.10000, 1.10010)
    assert server.orders_get()
    quote(server, 61, 1.10000, 1.10010)
    assert server.orders_get() == []
    (order,) = server.history_orders_get()
    assert (order["state"], order["time_done_msc"]) == (mt5.ORDER_STATE_EXPIRED, expiry_s * 1000)


def test_day_order_expires_at_the_server_midnight():
    # T0 is 2023-11-14 22:13:20 UTC = Wednesday 00:13:20 at UTC+2; the day ends at 22:00 UTC.
    server = make_server()
    place(server, pending(mt5.ORDER_TYPE_BUY_LIMIT, 1.09900, type_time=mt5.ORDER_TIME_DAY))
    midnight = T0 - (13 * 60 + 20) * 1000 + 24 * 3_600_000  # Wednesday 22:00 UTC
    assert server.orders_get()[0]["time_expiration"] * 1000 == midnight
    server.on_quote("EURUSD", midnight - 1, 1.10000, 1.10010)
    assert server.orders_get()
    server.on_quote("EURUSD", midnight, 1.10000, 1.10010)
    assert server.history_orders_get()[0]["state"] == mt5.ORDER_STATE_EXPIRED


def test_specified_day_order_lives_to_the_end_of_that_server_day():
    server = make_server()
    place(server, pending(mt5.ORDER_TYPE_BUY_LIMIT, 1.09900, type_time=mt5.ORDER_TIME_SPECIFIED_DAY,
                          expiration=T0 // 1000 + 3600))
    end_of_day = (T0 + 7_200_000) // 86_400_000 * 86_400_000 + 86_400_000 - 7_200_000
    assert server.orders_get()[0]["time_expiration"] * 1000 == end_of_day


def test_gtc_order_never_expires():
    server = make_server()
    place(server, pending(mt5.ORDER_TYPE_BUY_LIMIT, 1.09900, type_time=mt5.ORDER_TIME_GTC))
    quote(server, 30 * 86_400, 1.10000, 1.10010)
    assert server.orders_get()[0]["time_expiration"] == 0


def test_a_pending_order_naming_a_position_closes_it_when_triggered():
    server = make_server()
    position = open_position(server, buy(volume=0.2))
    ticket = place(server, pending(mt5.ORDER_TYPE_SELL_LIMIT, 1.10100, volume=0.2, position=position["ticket"]))
    quote(server, 1, 1.10100, 1.10110)
    assert server.positions_get() == []
    deal = server.history_deals_get(ticket=ticket)[0]
    assert (deal["entry"], deal["position_id"], deal["price"]) == (mt5.DEAL_ENTRY_OUT, position["ticket"], 1.10100)
    assert deal["profit"] == pytest.approx((1.10100 - 1.10010) * 20_000)


def test_a_pending_order_without_margin_at_activation_is_rejected():
    server = make_server(balance=1_000.0)
    place(server, pending(mt5.ORDER_TYPE_BUY_LIMIT, 1.09900, volume=0.5))  # 550 USD margin: fine
    open_position(server, buy(volume=0.5))
    quote(server, 1, 1.09890, 1.09900)
    assert len(server.positions_get()) == 1
    assert server.history_orders_get()[-1]["state"] == mt5.ORDER_STATE_REJECTED


def test_pending_order_check_and_send_agree():
    server = make_server()
    request = pending(mt5.ORDER_TYPE_SELL_STOP, 1.09800)
    assert server.order_check(request)["retcode"] == 0
    assert server.positions_get() == [] and server.orders_get() == []
    assert server.order_send(request)["retcode"] == mt5.TRADE_RETCODE_PLACED
