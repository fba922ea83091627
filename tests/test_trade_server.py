"""The simulated trade server, without sockets: fills, SL/TP, money, retcodes, history, events."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone

import pytest

from bridge import mt5
from bridge.symbols import DEFAULT_SYMBOLS, SymbolConfigError, SymbolSpec, load_symbols, match_group
from bridge.trade_server.server import RequestError, TradeServer

T0 = 1_700_000_000_000
QUOTES = {
    "EURUSD": (1.10000, 1.10010),
    "GBPUSD": (1.27000, 1.27014),
    "USDJPY": (150.000, 150.012),
    "XAUUSD": (2350.00, 2350.25),
}


def make_server(symbols: dict[str, SymbolSpec] | None = None, *, quoted=tuple(QUOTES), **options) -> TradeServer:
    server = TradeServer(login=5551234, symbols=symbols or DEFAULT_SYMBOLS, **options)
    for name in quoted:
        server.on_quote(name, T0, *QUOTES[name])
    return server


def with_spec(name: str, **changes) -> dict[str, SymbolSpec]:
    symbols = dict(DEFAULT_SYMBOLS)
    symbols[name] = dataclasses.replace(symbols[name], **changes)
    return symbols


def market(type_: int, symbol: str = "EURUSD", volume: float = 0.1, **extra) -> dict:
    request = {"action": mt5.TRADE_ACTION_DEAL, "symbol": symbol, "volume": volume, "type": type_,
               "type_filling": mt5.ORDER_FILLING_IOC, "deviation": 10}
    request.update(extra)
    return request


def buy(symbol: str = "EURUSD", volume: float = 0.1, **extra) -> dict:
    return market(mt5.ORDER_TYPE_BUY, symbol, volume, **extra)


def sell(symbol: str = "EURUSD", volume: float = 0.1, **extra) -> dict:
    return market(mt5.ORDER_TYPE_SELL, symbol, volume, **extra)


def close(position: dict, volume: float | None = None, **extra) -> dict:
    opposite = mt5.ORDER_TYPE_SELL if position["type"] == mt5.POSITION_TYPE_BUY else mt5.ORDER_TYPE_BUY
    return market(opposite, position["symbol"], volume or position["volume"],
                  position=position["ticket"], **extra)


def open_position(server: TradeServer, request: dict) -> dict:
    result = server.order_send(request)
    assert result["retcode"] == mt5.TRADE_RETCODE_DONE, result
    return server.positions_get(ticket=result["order"])[0]


def sltp(position: dict, sl: float = 0.0, tp: float = 0.0) -> dict:
    return {"action": mt5.TRADE_ACTION_SLTP, "symbol": position["symbol"],
            "position": position["ticket"], "sl": sl, "tp": tp}


# --- fills ---

def test_buy_fills_at_ask_and_sell_at_bid():
    server = make_server()
    bought = server.order_send(buy())
    sold = server.order_send(sell())
    assert (bought["retcode"], bought["price"], bought["volume"]) == (mt5.TRADE_RETCODE_DONE, 1.10010, 0.1)
    assert (sold["retcode"], sold["price"]) == (mt5.TRADE_RETCODE_DONE, 1.10000)
    long, short = server.positions_get()
    assert (long["type"], long["price_open"], long["price_current"]) == (mt5.POSITION_TYPE_BUY, 1.10010, 1.10000)
    assert (short["type"], short["price_open"], short["price_current"]) == (mt5.POSITION_TYPE_SELL, 1.10000, 1.10010)
    assert long["profit"] == pytest.approx(-1.0) and short["profit"] == pytest.approx(-1.0)


def test_hedging_position_ticket_is_the_opening_order_ticket():
    server = make_server()
    result = server.order_send(buy())
    position = server.positions_get()[0]
    assert position["ticket"] == position["identifier"] == result["order"]
    assert result["deal"] != result["order"]
    assert result["order"] > 2**26 and result["deal"] > 2**25  # realistic, high tickets


def test_seeded_slippage_is_adverse_and_never_beyond_deviation():
    server = make_server(slippage_points=10, seed=3)
    prices = [server.order_send(buy(deviation=3))["price"] for _ in range(30)]
    assert all(1.10010 <= price <= 1.10013 + 1e-12 for price in prices)
    assert len(set(prices)) > 1
    sells = [server.order_send(sell(deviation=3))["price"] for _ in range(30)]
    assert all(1.09997 - 1e-12 <= price <= 1.10000 for price in sells)
    assert server.order_send(buy(deviation=0))["price"] == 1.10010


def test_no_slippage_by_default():
    server = make_server()
    assert {server.order_send(buy(deviation=50))["price"] for _ in range(10)} == {1.10010}


# --- SL / TP ---

def test_long_sl_triggers_on_bid_even_while_ask_stays_above():
    server = make_server()
    position = open_position(server, buy(sl=1.09900))
    assert server.on_quote("EURUSD", T0 + 1000, 1.09905, 1.09935) == []
    assert server.on_quote("EURUSD", T0 + 2000, 1.09900, 1.09930) == [position["ticket"]]
    assert server.positions_get() == []
    deal = server.history_deals_get(position=position["ticket"])[-1]
    assert (deal["reason"], deal["entry"], deal["price"]) == (mt5.DEAL_REASON_SL, mt5.DEAL_ENTRY_OUT, 1.09900)


def test_long_tp_ignores_the_ask_crossing_it_while_the_bid_does_not():
    server = make_server()
    position = open_position(server, buy(tp=1.10200))
    assert server.on_quote("EURUSD", T0 + 1000, 1.10190, 1.10210) == []  # ask above tp, bid below
    assert server.positions_get()[0]["ticket"] == position["ticket"]
    assert server.on_quote("EURUSD", T0 + 2000, 1.10200, 1.10215) == [position["ticket"]]
    deal = server.history_deals_get(position=position["ticket"])[-1]
    assert (deal["reason"], deal["price"]) == (mt5.DEAL_REASON_TP, 1.10200)


def test_short_sl_triggers_on_ask_while_the_bid_stays_below():
    server = make_server()
    position = open_position(server, sell(sl=1.10100))
    assert server.on_quote("EURUSD", T0 + 1000, 1.10050, 1.10099) == []
    assert server.on_quote("EURUSD", T0 + 2000, 1.10060, 1.10100) == [position["ticket"]]
    deal = server.history_deals_get(position=position["ticket"])[-1]
    assert (deal["reason"], deal["type"], deal["price"]) == (mt5.DEAL_REASON_SL, mt5.DEAL_TYPE_BUY, 1.10100)


def test_short_tp_ignores_the_bid_crossing_it_while_the_ask_does_not():
    server = make_server()
    position = open_position(server, sell(tp=1.09800))
    assert server.on_quote("EURUSD", T0 + 1000, 1.09790, 1.09810) == []  # bid below tp, ask above
    assert server.on_quote("EURUSD", T0 + 2000, 1.09785, 1.09800) == [position["ticket"]]
    deal = server.history_deals_get(position=position["ticket"])[-1]
    assert (deal["reason"], deal["price"]) == (mt5.DEAL_REASON_TP, 1.09800)


def test_gap_through_sl_fills_at_the_first_available_price():
    server = make_server()
    position = open_position(server, buy(volume=1.0, sl=1.09900))
    server.on_quote("EURUSD", T0 + 1000, 1.09500, 1.09510)
    deal = server.history_deals_get(position=position["ticket"])[-1]
    assert deal["price"] == 1.09500
    assert deal["comment"] == "[sl 1.09900]"
    assert deal["profit"] == pytest.approx((1.09500 - 1.10010) * 100_000)
    assert server.account_info()["balance"] == pytest.approx(10_000 - 510.0)


def test_gap_through_tp_of_a_short_fills_at_the_ask_beyond_it():
    server = make_server()
    position = open_position(server, sell(volume=1.0, tp=1.09000))
    server.on_quote("EURUSD", T0 + 1000, 1.08500, 1.08520)
    deal = server.history_deals_get(position=position["ticket"])[-1]
    assert (deal["price"], deal["reason"], deal["comment"]) == (1.08520, mt5.DEAL_REASON_TP, "[tp 1.09000]")
    assert deal["profit"] == pytest.approx((1.10000 - 1.08520) * 100_000)


# --- closing ---

def test_partial_close_keeps_the_ticket_and_leaves_the_rest():
    server = make_server()
    position = open_position(server, buy(volume=0.3))
    result = server.order_send(close(position, 0.1))
    assert result["retcode"] == mt5.TRADE_RETCODE_DONE and result["volume"] == 0.1
    (rest,) = server.positions_get()
    assert (rest["ticket"], rest["identifier"], rest["volume"]) == (position["ticket"], position["ticket"], 0.2)
    assert rest["price_open"] == position["price_open"]
    deal = server.history_deals_get(ticket=result["order"])[0]
    assert (deal["entry"], deal["volume"], deal["position_id"]) == (mt5.DEAL_ENTRY_OUT, 0.1, position["ticket"])
    assert server.order_send(close(rest, 0.2))["retcode"] == mt5.TRADE_RETCODE_DONE
    assert server.positions_get() == []


def test_deal_entries_and_reasons_for_expert_sl_and_tp_closes():
    server = make_server()
    by_hand = open_position(server, buy())
    stopped = open_position(server, buy(sl=1.09900))
    taken = open_position(server, sell(tp=1.09950))
    server.order_send(close(by_hand))
    server.on_quote("EURUSD", T0 + 1000, 1.09890, 1.09898)  # long SL on bid, short TP on ask
    assert server.positions_get() == []
    outcome = {}
    for deal in server.history_deals_get():
        outcome.setdefault(deal["position_id"], []).append((deal["entry"], deal["reason"]))
    assert outcome == {
        by_hand["ticket"]: [(mt5.DEAL_ENTRY_IN, mt5.DEAL_REASON_EXPERT), (mt5.DEAL_ENTRY_OUT, mt5.DEAL_REASON_EXPERT)],
        stopped["ticket"]: [(mt5.DEAL_ENTRY_IN, mt5.DEAL_REASON_EXPERT), (mt5.DEAL_ENTRY_OUT, mt5.DEAL_REASON_SL)],
        taken["ticket"]: [(mt5.DEAL_ENTRY_IN, mt5.DEAL_REASON_EXPERT), (mt5.DEAL_ENTRY_OUT, mt5.DEAL_REASON_TP)],
    }
    realized = sum(deal["profit"] for deal in server.history_deals_get())
    assert server.account_info()["balance"] == pytest.approx(10_000 + realized)
    assert server.account_info()["equity"] == server.account_info()["balance"]


def test_sltp_modifies_a_position_and_its_new_sl_then_fires():
    server = make_server()
    position = open_position(server, buy())
    result = server.order_send(sltp(position, sl=1.09950, tp=1.10500), now_ms=T0 + 500)
    assert result["retcode"] == mt5.TRADE_RETCODE_DONE
    moved = server.positions_get()[0]
    assert (moved["sl"], moved["tp"], moved["time_update_msc"]) == (1.09950, 1.10500, T0 + 500)
    server.on_quote("EURUSD", T0 + 1000, 1.09950, 1.09960)
    assert server.positions_get() == []


def test_closing_is_allowed_on_a_close_only_symbol():
    server = make_server()
    position = open_position(server, buy())
    server.symbols["EURUSD"] = dataclasses.replace(server.symbols["EURUSD"],
                                                   trade_mode=mt5.SYMBOL_TRADE_MODE_CLOSEONLY)
    assert server.order_send(buy())["retcode"] == mt5.TRADE_RETCODE_CLOSE_ONLY
    assert server.order_send(close(position))["retcode"] == mt5.TRADE_RETCODE_DONE


# --- money ---

def test_forex_margin_eurusd_one_lot_at_1_1_leverage_100_is_1100_usd():
    server = make_server()
    assert server.order_calc_margin(mt5.ORDER_TYPE_BUY, "EURUSD", 1.0, 1.1) == pytest.approx(1100.0)
    assert server.order_calc_margin(mt5.ORDER_TYPE_SELL, "GBPUSD", 2.0, 1.27) == pytest.approx(2540.0)
    assert make_server(leverage=500).order_calc_margin(mt5.ORDER_TYPE_BUY, "EURUSD", 1.0, 1.1) == pytest.approx(220.0)


def test_usdjpy_margin_is_in_usd_without_conversion():
    server = make_server()
    assert server.order_calc_margin(mt5.ORDER_TYPE_BUY, "USDJPY", 1.0, 150.0) == pytest.approx(1000.0)
    assert make_server(leverage=50).order_calc_margin(mt5.ORDER_TYPE_SELL, "USDJPY", 0.5, 150.0) == pytest.approx(1000.0)


def test_xauusd_cfd_leverage_margin():
    server = make_server()
    # lots * contract 100 * price / leverage
    assert server.order_calc_margin(mt5.ORDER_TYPE_BUY, "XAUUSD", 1.0, 2350.0) == pytest.approx(2350.0)
    assert server.order_calc_margin(mt5.ORDER_TYPE_BUY, "XAUUSD", 0.1, 2400.0) == pytest.approx(240.0)


def test_cfd_margin_has_no_leverage():
    server = make_server(with_spec("XAUUSD", trade_calc_mode=mt5.SYMBOL_CALC_MODE_CFD))
    assert server.order_calc_margin(mt5.ORDER_TYPE_BUY, "XAUUSD", 0.1, 2350.0) == pytest.approx(23_500.0)


def test_margin_and_profit_convert_into_a_eur_deposit_currency():
    server = make_server(currency="EUR")
    assert server.order_calc_margin(mt5.ORDER_TYPE_BUY, "EURUSD", 1.0, 1.1) == pytest.approx(1000.0)
    # 100 USD of gold profit buys EUR at the EURUSD ask; a loss converts at the bid.
    assert server.order_calc_profit(mt5.ORDER_TYPE_BUY, "XAUUSD", 1.0, 2350.0, 2351.0) == pytest.approx(100 / 1.10010, abs=0.01)
    assert server.order_calc_profit(mt5.ORDER_TYPE_BUY, "XAUUSD", 1.0, 2351.0, 2350.0) == pytest.approx(-100 / 1.10000, abs=0.01)
    # JPY -> EUR needs two crosses, via USD.
    jpy = server.order_calc_profit(mt5.ORDER_TYPE_BUY, "USDJPY", 1.0, 150.0, 151.0)
    assert jpy == pytest.approx(100_000 / 151.0 / 1.10010, abs=0.01)


def test_tick_value_eurusd_is_one_usd_per_point_per_lot():
    info = make_server().symbol_info("EURUSD")
    assert info["trade_tick_value"] == pytest.approx(1.0)
    assert info["trade_tick_value_profit"] == pytest.approx(1.0)
    assert info["trade_tick_value_loss"] == pytest.approx(1.0)
    assert make_server().symbol_info("XAUUSD")["trade_tick_value"] == pytest.approx(1.0)


def test_tick_value_usdjpy_is_derived_from_the_quote_and_side_dependent():
    server = make_server()
    info = server.symbol_info("USDJPY")
    assert info["trade_tick_value_profit"] == pytest.approx(100 / 150.012)  # 0.001 JPY * 100 000
    assert info["trade_tick_value_loss"] == pytest.approx(100 / 150.000)
    assert info["trade_tick_value_profit"] < info["trade_tick_value_loss"]
    server.on_quote("USDJPY", T0 + 1000, 160.000, 160.010)
    assert server.symbol_info("USDJPY")["trade_tick_value"] == pytest.approx(100 / 160.010)


def test_tick_value_is_zero_until_a_conversion_quote_exists():
    server = make_server(quoted=("EURUSD",))
    assert server.symbol_info("USDJPY")["trade_tick_value"] == 0.0


def test_profit_conversion_jpy_to_usd():
    server = make_server()
    gain = server.order_calc_profit(mt5.ORDER_TYPE_BUY, "USDJPY", 1.0, 150.0, 151.0)
    loss = server.order_calc_profit(mt5.ORDER_TYPE_SELL, "USDJPY", 1.0, 150.0, 151.0)
    assert gain == pytest.approx(100_000 / 151.0, abs=0.01)  # 100 000 JPY at the close price
    assert loss == pytest.approx(-100_000 / 151.0, abs=0.01)


def test_usdjpy_position_profit_and_realized_deal_agree_with_order_calc_profit():
    server = make_server()
    position = open_position(server, buy("USDJPY", 1.0))
    server.on_quote("USDJPY", T0 + 1000, 151.000, 151.012)
    expected = server.order_calc_profit(mt5.ORDER_TYPE_BUY, "USDJPY", 1.0, 150.012, 151.000)
    assert server.positions_get()[0]["profit"] == pytest.approx(expected)
    assert server.account_info()["equity"] == pytest.approx(10_000 + expected)
    result = server.order_send(close(position))
    assert server.history_deals_get(ticket=result["order"])[0]["profit"] == pytest.approx(expected)
    assert server.account_info()["balance"] == pytest.approx(10_000 + expected)


def test_account_margin_and_margin_level_follow_open_positions():
    server = make_server()
    open_position(server, buy(volume=1.0))
    open_position(server, buy("XAUUSD", 0.1))
    account = server.account_info()
    expected_margin = (server.order_calc_margin(mt5.ORDER_TYPE_BUY, "EURUSD", 1.0, 1.10010)
                       + server.order_calc_margin(mt5.ORDER_TYPE_BUY, "XAUUSD", 0.1, 2350.25))
    assert account["margin"] == pytest.approx(expected_margin, abs=0.01)
    assert account["margin_free"] == pytest.approx(account["equity"] - account["margin"], abs=0.01)
    assert account["margin_level"] == pytest.approx(account["equity"] / account["margin"] * 100, abs=0.01)
    assert account["profit"] == pytest.approx(-10.0 - 2.5)  # the spreads


# --- retcodes, each with its trigger; order_check must agree with order_send ---

def respec(server: TradeServer, **changes) -> None:
    server.symbols["EURUSD"] = dataclasses.replace(server.symbols["EURUSD"], **changes)


def _disconnected(s):
    s.connected = False
    return buy()


def _auto_trading_off(s):
    s.trade_allowed = False
    return buy()


def _server_disables_experts(s):
    s.trade_expert = False
    return buy()


def _unknown_action(s):
    return {**buy(), "action": 99}


def _market_type_in_pending(s):
    return {**buy(), "action": mt5.TRADE_ACTION_PENDING, "price": 1.09}


def _missing_symbol(s):
    return {key: value for key, value in buy().items() if key != "symbol"}


def _unknown_symbol(s):
    return buy("NOSUCH")


def _pending_type_in_deal(s):
    return market(mt5.ORDER_TYPE_BUY_LIMIT)


def _sltp_without_position(s):
    return {"action": mt5.TRADE_ACTION_SLTP, "symbol": "EURUSD", "sl": 1.09}


def _remove_unknown_order(s):
    return {"action": mt5.TRADE_ACTION_REMOVE, "order": 123}


def _remove_without_order(s):
    return {"action": mt5.TRADE_ACTION_REMOVE}


def _disabled_symbol(s):
    respec(s, trade_mode=mt5.SYMBOL_TRADE_MODE_DISABLED)
    return buy()


def _sell_on_long_only(s):
    respec(s, trade_mode=mt5.SYMBOL_TRADE_MODE_LONGONLY)
    return sell()


def _buy_on_short_only(s):
    respec(s, trade_mode=mt5.SYMBOL_TRADE_MODE_SHORTONLY)
    return buy()


def _open_on_close_only(s):
    respec(s, trade_mode=mt5.SYMBOL_TRADE_MODE_CLOSEONLY)
    return buy()


def _no_quote_yet(s):
    del s.quotes["GBPUSD"]
    return buy("GBPUSD")


def _volume_below_min(s):
    return buy(volume=0.001)


def _volume_zero(s):
    return buy(volume=0.0)


def _volume_above_max(s):
    return buy(volume=100.01)


def _volume_off_step(s):
    return buy(volume=0.015)


def _volume_limit_reached(s):
    respec(s, volume_limit=1.0)
    open_position(s, buy(volume=0.6))
    return buy(volume=0.5)


def _fill_ioc_on_fok_only(s):
    respec(s, filling_mode=mt5.SYMBOL_FILLING_FOK)
    return buy(type_filling=mt5.ORDER_FILLING_IOC)


def _fill_return_on_market_execution(s):
    return buy(type_filling=mt5.ORDER_FILLING_RETURN)


def _fill_boc_not_in_flags(s):
    return buy(type_filling=mt5.ORDER_FILLING_BOC)


def _instant_without_price(s):
    respec(s, trade_exemode=mt5.SYMBOL_TRADE_EXECUTION_INSTANT)
    return buy()


def _buy_sl_above_bid(s):
    return buy(sl=1.10005)


def _buy_sl_at_bid(s):
    return buy(sl=1.10000)


def _buy_tp_below_bid(s):
    return buy(tp=1.09990)


def _sell_sl_below_ask(s):
    return sell(sl=1.10005)


def _sell_tp_above_ask(s):
    return sell(tp=1.10020)


def _sl_inside_stops_level(s):
    respec(s, trade_stops_level=50)
    return buy(sl=1.09951)


def _sltp_on_wrong_side(s):
    return sltp(open_position(s, buy()), sl=1.10050)


def _close_unknown_position(s):
    return {**sell(), "position": 999}


def _close_already_closed(s):
    position = open_position(s, buy())
    s.order_send(close(position))
    return close(position)


def _close_more_than_held(s):
    return close(open_position(s, buy(volume=0.1)), 0.2)


def _close_with_same_direction(s):
    return {**buy(), "position": open_position(s, buy())["ticket"]}


def _close_on_other_symbol(s):
    return {**sell("GBPUSD"), "position": open_position(s, buy())["ticket"]}


def _sltp_unknown_position(s):
    return {"action": mt5.TRADE_ACTION_SLTP, "symbol": "EURUSD", "position": 999, "sl": 1.09}


def _sltp_without_changes(s):
    return sltp(open_position(s, buy(sl=1.09, tp=1.11)), sl=1.09, tp=1.11)


def _margin_beyond_free_margin(s):
    return buy(volume=10.0)  # 11 000 USD of margin on a 10 000 USD account


def _instant_price_beyond_deviation(s):
    respec(s, trade_exemode=mt5.SYMBOL_TRADE_EXECUTION_INSTANT)
    return buy(price=1.10000, deviation=5)


def _instant_price_within_deviation(s):
    respec(s, trade_exemode=mt5.SYMBOL_TRADE_EXECUTION_INSTANT)
    return buy(price=1.10005, deviation=5)


def _plain_buy(s):
    return buy()


def _sl_exactly_at_stops_level(s):
    respec(s, trade_stops_level=50)
    return buy(sl=1.09950, tp=1.10050)


def _partial_close(s):
    return close(open_position(s, buy(volume=0.2)), 0.1)


RETCODE_CASES = [
    (_disconnected, mt5.TRADE_RETCODE_CONNECTION),
    (_auto_trading_off, mt5.TRADE_RETCODE_CLIENT_DISABLES_AT),
    (_server_disables_experts, mt5.TRADE_RETCODE_SERVER_DISABLES_AT),
    (_unknown_action, mt5.TRADE_RETCODE_INVALID),
    (_market_type_in_pending, mt5.TRADE_RETCODE_INVALID),
    (_missing_symbol, mt5.TRADE_RETCODE_INVALID),
    (_unknown_symbol, mt5.TRADE_RETCODE_INVALID),
    (_pending_type_in_deal, mt5.TRADE_RETCODE_INVALID),
    (_sltp_without_position, mt5.TRADE_RETCODE_INVALID),
    (_remove_unknown_order, mt5.TRADE_RETCODE_INVALID),
    (_remove_without_order, mt5.TRADE_RETCODE_INVALID),
    (_disabled_symbol, mt5.TRADE_RETCODE_TRADE_DISABLED),
    (_sell_on_long_only, mt5.TRADE_RETCODE_LONG_ONLY),
    (_buy_on_short_only, mt5.TRADE_RETCODE_SHORT_ONLY),
    (_open_on_close_only, mt5.TRADE_RETCODE_CLOSE_ONLY),
    (_no_quote_yet, mt5.TRADE_RETCODE_PRICE_OFF),
    (_volume_below_min, mt5.TRADE_RETCODE_INVALID_VOLUME),
    (_volume_zero, mt5.TRADE_RETCODE_INVALID_VOLUME),
    (_volume_above_max, mt5.TRADE_RETCODE_INVALID_VOLUME),
    (_volume_off_step, mt5.TRADE_RETCODE_INVALID_VOLUME),
    (_volume_limit_reached, mt5.TRADE_RETCODE_LIMIT_VOLUME),
    (_fill_ioc_on_fok_only, mt5.TRADE_RETCODE_INVALID_FILL),
    (_fill_return_on_market_execution, mt5.TRADE_RETCODE_INVALID_FILL),
    (_fill_boc_not_in_flags, mt5.TRADE_RETCODE_INVALID_FILL),
    (_instant_without_price, mt5.TRADE_RETCODE_INVALID_PRICE),
    (_buy_sl_above_bid, mt5.TRADE_RETCODE_INVALID_STOPS),
    (_buy_sl_at_bid, mt5.TRADE_RETCODE_INVALID_STOPS),
    (_buy_tp_below_bid, mt5.TRADE_RETCODE_INVALID_STOPS),
    (_sell_sl_below_ask, mt5.TRADE_RETCODE_INVALID_STOPS),
    (_sell_tp_above_ask, mt5.TRADE_RETCODE_INVALID_STOPS),
    (_sl_inside_stops_level, mt5.TRADE_RETCODE_INVALID_STOPS),
    (_sltp_on_wrong_side, mt5.TRADE_RETCODE_INVALID_STOPS),
    (_close_unknown_position, mt5.TRADE_RETCODE_POSITION_CLOSED),
    (_close_already_closed, mt5.TRADE_RETCODE_POSITION_CLOSED),
    (_close_more_than_held, mt5.TRADE_RETCODE_INVALID_CLOSE_VOLUME),
    (_close_with_same_direction, mt5.TRADE_RETCODE_INVALID),
    (_close_on_other_symbol, mt5.TRADE_RETCODE_INVALID),
    (_sltp_unknown_position, mt5.TRADE_RETCODE_POSITION_CLOSED),
    (_sltp_without_changes, mt5.TRADE_RETCODE_NO_CHANGES),
    (_margin_beyond_free_margin, mt5.TRADE_RETCODE_NO_MONEY),
    (_instant_price_beyond_deviation, mt5.TRADE_RETCODE_REQUOTE),
    (_instant_price_within_deviation, mt5.TRADE_RETCODE_DONE),
    (_plain_buy, mt5.TRADE_RETCODE_DONE),
    (_sl_exactly_at_stops_level, mt5.TRADE_RETCODE_DONE),
    (_partial_close, mt5.TRADE_RETCODE_DONE),
]


@pytest.mark.parametrize("setup, expected", RETCODE_CASES,
                         ids=[setup.__name__.strip("_") for setup, _ in RETCODE_CASES])
def test_retcode_and_order_check_agrees_with_order_send(setup, expected):
    server = make_server()
    request = setup(server)
    positions_before = server.positions_get()
    balance_before = server.balance
    check = server.order_check(request)
    assert server.positions_get() == positions_before  # order_check never trades
    result = server.order_send(request)
    assert result["retcode"] == expected, result["comment"]
    assert check["retcode"] == (0 if expected == mt5.TRADE_RETCODE_DONE else expected)
    if expected == mt5.TRADE_RETCODE_DONE:
        assert result["order"] and result["deal"] and result["price"] > 0
        assert (check["comment"], result["comment"]) == ("Done", "Request executed")
    else:
        assert (result["order"], result["deal"], result["volume"]) == (0, 0, 0.0)
        assert server.positions_get() == positions_before and server.balance == balance_before
        assert result["comment"] == check["comment"] == mt5.retcode_text(expected)


def test_the_first_failing_check_wins_in_mt5_order():
    server = make_server()
    server.connected = False
    server.trade_allowed = False
    assert server.order_send(buy(volume=0.001))["retcode"] == mt5.TRADE_RETCODE_CONNECTION
    server.connected = True
    assert server.order_send(buy(volume=0.001))["retcode"] == mt5.TRADE_RETCODE_CLIENT_DISABLES_AT
    server.trade_allowed = True
    # volume (10014) is checked before filling (10030) and stops (10016)
    request = buy(volume=0.001, type_filling=mt5.ORDER_FILLING_RETURN, sl=1.2)
    assert server.order_send(request)["retcode"] == mt5.TRADE_RETCODE_INVALID_VOLUME
    assert server.order_send({**request, "volume": 0.1})["retcode"] == mt5.TRADE_RETCODE_INVALID_FILL


def test_requote_reports_the_current_prices():
    server = make_server(with_spec("EURUSD", trade_exemode=mt5.SYMBOL_TRADE_EXECUTION_INSTANT))
    result = server.order_send(buy(price=1.09000, deviation=5))
    assert (result["retcode"], result["bid"], result["ask"]) == (mt5.TRADE_RETCODE_REQUOTE, 1.10000, 1.10010)


def test_order_check_projects_the_account_after_the_trade():
    server = make_server()
    check = server.order_check(buy(volume=1.0))
    margin = server.order_calc_margin(mt5.ORDER_TYPE_BUY, "EURUSD", 1.0, 1.10010)
    assert check["balance"] == 10_000.0
    assert check["profit"] == pytest.approx(-10.0)  # the spread, once marked at the bid
    assert check["equity"] == pytest.approx(9990.0)
    assert check["margin"] == pytest.approx(margin)
    assert check["margin_free"] == pytest.approx(9990.0 - margin)
    assert check["margin_level"] == pytest.approx(9990.0 / margin * 100, abs=0.01)
    assert check["request"]["volume"] == 1.0 and check["request"]["position"] == 0
    server.order_send(buy(volume=1.0))
    account = server.account_info()
    assert (account["equity"], account["margin"]) == pytest.approx((check["equity"], check["margin"]))


def test_order_check_of_a_close_projects_the_realized_profit():
    server = make_server()
    position = open_position(server, buy(volume=1.0))
    server.on_quote("EURUSD", T0 + 1000, 1.10110, 1.10120)
    check = server.order_check(close(position, 0.5))
    assert check["retcode"] == 0
    assert check["balance"] == pytest.approx(10_000 + 50.0)
    assert check["profit"] == pytest.approx(50.0)
    server.order_send(close(position, 0.5))
    account = server.account_info()
    assert (account["balance"], account["profit"], account["margin"]) == pytest.approx(
        (check["balance"], check["profit"], check["margin"]))


def test_order_check_shows_the_shortfall_on_no_money():
    check = make_server().order_check(buy(volume=10.0))
    assert check["retcode"] == mt5.TRADE_RETCODE_NO_MONEY
    assert check["margin_free"] < 0


# --- request shape, as the MetaTrader5 package refuses it ---

@pytest.mark.parametrize("method", ["order_send", "order_check"])
def test_unknown_request_key_is_refused_with_minus_2(method):
    server = make_server()
    with pytest.raises(RequestError) as caught:
        getattr(server, method)({**buy(), "stop_loss": 1.0})
    assert (caught.value.code, caught.value.text) == (mt5.RES_E_INVALID_PARAMS, 'Invalid "stop_loss" argument')
    assert server.drain_transactions() == []


@pytest.mark.parametrize("key, value", [("volume", "0.1"), ("magic", -1), ("magic", 2**64),
                                        ("position", 1.5), ("symbol", 5), ("sl", float("nan")),
                                        ("type", True)])
def test_badly_typed_request_value_is_refused_with_minus_2(key, value):
    with pytest.raises(RequestError) as caught:
        make_server().order_send({**buy(), key: value})
    assert (caught.value.code, caught.value.text) == (-2, f'Invalid "{key}" argument')


def test_missing_keys_take_mt5_defaults_and_ints_are_accepted_as_floats():
    server = make_server()
    result = server.order_send({"action": 1, "symbol": "EURUSD", "volume": 1, "type": 0})
    assert result["retcode"] == mt5.TRADE_RETCODE_DONE  # type_filling defaults to FOK, allowed
    assert result["request"] == {
        "action": 1, "symbol": "EURUSD", "volume": 1.0, "type": 0, "price": 0.0, "stoplimit": 0.0,
        "sl": 0.0, "tp": 0.0, "deviation": 0, "magic": 0, "comment": "", "type_time": 0,
        "type_filling": 0, "expiration": 0, "position": 0, "position_by": 0, "order": 0}


# --- carried fields, records, transactions ---

def test_magic_and_comment_are_carried_to_order_deal_and_position():
    server = make_server()
    magic = 2**63 + 12345  # uint64, never cast to 32 bits
    comment = "coid-0123456789abcdef0123456789abcdef"
    result = server.order_send(buy(magic=magic, comment=comment))
    (position,) = server.positions_get()
    (order,) = server.history_orders_get(ticket=result["order"])
    (deal,) = server.history_deals_get(ticket=result["order"])
    for record in (position, order, deal):
        assert record["magic"] == magic
        assert record["comment"] == comment[:31]
    assert result["request"]["comment"] == comment[:31]


def test_record_field_sets_are_those_of_the_metatrader5_package():
    server = make_server()
    server.order_send(buy())
    assert set(server.account_info()) == {
        "login", "trade_mode", "leverage", "limit_orders", "margin_so_mode", "trade_allowed",
        "trade_expert", "margin_mode", "currency_digits", "fifo_close", "balance", "credit",
        "profit", "equity", "margin", "margin_free", "margin_level", "margin_so_call",
        "margin_so_so", "margin_initial", "margin_maintenance", "assets", "liabilities",
        "commission_blocked", "name", "server", "currency", "company"}
    assert set(server.positions_get()[0]) == {
        "ticket", "time", "time_msc", "time_update", "time_update_msc", "type", "magic",
        "identifier", "reason", "volume", "price_open", "sl", "tp", "price_current", "swap",
        "profit", "symbol", "comment", "external_id"}
    assert set(server.history_deals_get()[0]) == {
        "ticket", "order", "time", "time_msc", "type", "entry", "magic", "reason", "position_id",
        "volume", "price", "commission", "swap", "profit", "fee", "symbol", "comment", "external_id"}
    assert set(server.history_orders_get()[0]) == {
        "ticket", "time_setup", "time_setup_msc", "time_done", "time_done_msc", "time_expiration",
        "type", "type_time", "type_filling", "state", "magic", "position_id", "position_by_id",
        "reason", "volume_initial", "volume_current", "price_open", "sl", "tp", "price_current",
        "price_stoplimit", "symbol", "comment", "external_id"}
    assert server.orders_get() == []
    order = server.history_orders_get()[0]
    assert (order["state"], order["volume_initial"], order["volume_current"]) == (mt5.ORDER_STATE_FILLED, 0.1, 0.0)


def test_times_are_seconds_and_milliseconds_from_the_given_server_time():
    server = make_server()
    server.order_send(buy(), now_ms=T0 + 1_234)
    position = server.positions_get()[0]
    assert (position["time"], position["time_msc"]) == ((T0 + 1_234) // 1000, T0 + 1_234)
    server.order_send(buy())  # without now_ms: the latest server time
    assert server.positions_get()[1]["time_msc"] == T0 + 1_234


def test_history_queries_by_order_ticket_position_and_time_window():
    server = make_server()
    first = server.order_send(buy(), now_ms=T0 + 1000)
    second = server.order_send(sell(), now_ms=T0 + 5000)
    closing = server.order_send(close(server.positions_get(ticket=first["order"])[0]), now_ms=T0 + 9000)
    assert [d["ticket"] for d in server.history_deals_get(ticket=second["order"])] == [second["deal"]]
    assert [d["ticket"] for d in server.history_deals_get(position=first["order"])] == [first["deal"], closing["deal"]]
    assert [d["ticket"] for d in server.history_deals_get(T0 + 2000, T0 + 9000)] == [second["deal"], closing["deal"]]
    since = datetime.fromtimestamp((T0 + 6000) / 1000, tz=timezone.utc)
    assert [o["ticket"] for o in server.history_orders_get(since)] == [closing["order"]]
    assert [o["ticket"] for o in server.history_orders_get(position=first["order"])] == [first["order"], closing["order"]]
    assert server.positions_get(symbol="GBPUSD") == []
    assert [p["ticket"] for p in server.positions_get(group="*USD*,!GBP*")] == [second["order"]]


def test_deals_of_a_position_are_those_of_a_scan_of_the_history_in_its_order():
    server = make_server(margin_mode=mt5.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING)

    def scanned(position: int, **window) -> list[dict]:
        low, high = window.get("date_from", 0), window.get("date_to", 2**62)
        return [d.to_dict() for d in server.history_deals if d.position_id == position and low <= d.time_msc <= high]

    def check() -> None:
        for position in {d.position_id for d in server.history_deals} | {0, 123}:
            assert server.history_deals_get(position=position) == scanned(position)
            assert server.history_deals_get(T0 + 3000, T0 + 9000, position=position) == scanned(
                position, date_from=T0 + 3000, date_to=T0 + 9000)
    tickets = [server.order_send(buy(volume=0.3), now_ms=T0 + 1000)["order"],
               server.order_send(sell("GBPUSD", volume=0.3), now_ms=T0 + 2000)["order"]]
    check()
    for step, ticket in enumerate(tickets * 2):
        position = server.positions_get(ticket=ticket)[0]
        server.order_send(close(position, 0.1), now_ms=T0 + 4000 + step * 2000)
        check()  # the index takes in the deals appended since
    assert [d["entry"] for d in server.history_deals_get(position=tickets[0])] == [
        mt5.DEAL_ENTRY_IN, mt5.DEAL_ENTRY_OUT, mt5.DEAL_ENTRY_OUT]
    twin = make_server()  # as many deals, of other positions
    for step in range(len(server.history_deals)):
        twin.order_send(sell("USDJPY"), now_ms=T0 + 3000 + step)
    server.restore(twin.book())  # another list of deals: indexed anew
    check()
    assert [d["symbol"] for d in server.history_deals_get(position=tickets[0])] == ["USDJPY"]  # the twin's
    server.order_send(buy(), now_ms=T0 + 20_000)
    check()


def _types(transactions):
    return [tx["trans"]["type_name"] for tx in transactions]


def test_market_order_transactions_come_in_mt5_order():
    server = make_server()
    result = server.order_send(buy(sl=1.09))
    drained = server.drain_transactions()
    assert _types(drained) == ["ORDER_ADD", "DEAL_ADD", "ORDER_DELETE", "HISTORY_ADD", "REQUEST"]
    order_add, deal_add, _, history_add, request = drained
    assert order_add["trans"]["order_state"] == mt5.ORDER_STATE_STARTED
    assert history_add["trans"]["order_state"] == mt5.ORDER_STATE_FILLED
    assert (deal_add["trans"]["deal"], deal_add["trans"]["order"]) == (result["deal"], result["order"])
    assert deal_add["trans"]["position"] == result["order"] and deal_add["trans"]["price_sl"] == 1.09
    assert request["request"] == result["request"] and request["result"] == result
    assert all(tx["request"] is None and tx["result"] is None for tx in drained[:4])
    assert all(tx["trans"]["type"] == getattr(mt5, "TRADE_TRANSACTION_" + tx["trans"]["type_name"]) for tx in drained)
    assert server.drain_transactions() == []


def test_sl_close_transactions_have_no_request_and_sltp_emits_position_then_request():
    server = make_server()
    position = open_position(server, buy(sl=1.09))
    server.order_send(sltp(position, sl=1.095))
    server.drain_transactions()
    server.on_quote("EURUSD", T0 + 1000, 1.0940, 1.0941)
    assert _types(server.drain_transactions()) == ["ORDER_ADD", "DEAL_ADD", "ORDER_DELETE", "HISTORY_ADD"]
    position = open_position(server, buy())
    server.drain_transactions()
    server.order_send(sltp(position, tp=1.2))
    position_tx, request_tx = server.drain_transactions()
    assert (position_tx["trans"]["type_name"], position_tx["trans"]["price_tp"]) == ("POSITION", 1.2)
    assert request_tx["trans"]["type_name"] == "REQUEST"


def test_a_rejection_reaching_the_server_emits_only_a_request_transaction():
    server = make_server()
    server.order_send(buy(volume=0.001))
    (tx,) = server.drain_transactions()
    assert (tx["trans"]["type_name"], tx["result"]["retcode"]) == ("REQUEST", mt5.TRADE_RETCODE_INVALID_VOLUME)
    server.connected = False  # refused by the terminal itself: nothing reaches the server
    server.order_send(buy())
    assert server.drain_transactions() == []


def test_versions_bump_on_trading_and_permission_changes():
    server = make_server()
    version, account_version = server.version, server.account_version
    position = open_position(server, buy())
    assert server.version > version and server.account_version > account_version
    version, account_version = server.version, server.account_version
    server.on_quote("EURUSD", T0 + 1000, 1.10001, 1.10011)  # marks only
    assert (server.version, server.account_version) == (version, account_version)
    server.order_send(sltp(position, sl=1.09))
    assert server.version > version
    server.trade_allowed = False
    assert server.account_version > account_version and server.account_info()["trade_allowed"] is False


def test_same_seed_and_inputs_give_the_same_history():
    def run(seed):
        server = make_server(seed=seed, slippage_points=5)
        for step in range(40):
            bid = 1.10000 + 0.00007 * ((step * 7) % 11 - 5)
            server.on_quote("EURUSD", T0 + step * 1000, round(bid, 5), round(bid + 0.0001, 5))
            server.order_send(buy(deviation=5, sl=round(bid - 0.0003, 5)) if step % 2 else sell(deviation=5))
        return server.history_deals_get(), server.drain_transactions(), server.account_info()

    assert run(7) == run(7)
    assert run(7)[0] != run(8)[0]


# --- quotes and symbols ---

def test_quotes_feed_symbol_info_and_tick():
    server = make_server()
    tick = server.symbol_info_tick("EURUSD")
    assert tick == {"time": T0 // 1000, "bid": 1.1, "ask": 1.1001, "last": 0.0, "volume": 0,
                    "time_msc": T0, "flags": mt5.TICK_FLAG_BID | mt5.TICK_FLAG_ASK, "volume_real": 0.0}
    info = server.symbol_info("EURUSD")
    assert (info["bid"], info["ask"], info["spread"], info["digits"], info["filling_mode"]) == (1.1, 1.1001, 10, 5, 3)
    assert not any(key.startswith("sim_") for key in info)
    assert server.symbol_info("NOSUCH") is None and server.symbol_info_tick("NOSUCH") is None
    assert make_server(quoted=()).symbol_info_tick("EURUSD") is None
    assert [s["name"] for s in server.symbols_get("*JPY")] == ["USDJPY"]


@pytest.mark.parametrize("symbol, bid, ask", [("NOSUCH", 1.0, 1.1), ("EURUSD", 0.0, 1.1), ("EURUSD", 1.2, 1.1)])
def test_bad_quotes_are_refused(symbol, bid, ask):
    with pytest.raises(ValueError):
        make_server().on_quote(symbol, T0, bid, ask)


def test_exchange_accounts_are_refused():
    with pytest.raises(ValueError, match="not simulated"):
        TradeServer(login=1, symbols=DEFAULT_SYMBOLS, margin_mode=mt5.ACCOUNT_MARGIN_MODE_EXCHANGE)


def test_default_symbols_are_realistic():
    eurusd, usdjpy, xauusd = DEFAULT_SYMBOLS["EURUSD"], DEFAULT_SYMBOLS["USDJPY"], DEFAULT_SYMBOLS["XAUUSD"]
    assert (eurusd.digits, eurusd.trade_contract_size, eurusd.trade_calc_mode, eurusd.trade_exemode) == (
        5, 100_000, mt5.SYMBOL_CALC_MODE_FOREX, mt5.SYMBOL_TRADE_EXECUTION_MARKET)
    assert eurusd.filling_mode == mt5.SYMBOL_FILLING_FOK | mt5.SYMBOL_FILLING_IOC
    assert (eurusd.volume_min, eurusd.volume_max, eurusd.volume_step) == (0.01, 100.0, 0.01)
    assert (usdjpy.digits, usdjpy.currency_profit, usdjpy.sim_start_price) == (3, "JPY", 150.0)
    assert (xauusd.digits, xauusd.trade_contract_size, xauusd.trade_calc_mode) == (2, 100, mt5.SYMBOL_CALC_MODE_CFDLEVERAGE)
    assert DEFAULT_SYMBOLS["GBPUSD"].sim_start_price == 1.27


def test_load_symbols_overrides_a_fixture_and_adds_a_new_symbol(tmp_path):
    path = tmp_path / "symbols.json"
    path.write_text(json.dumps({
        "EURUSD": {"trade_stops_level": 10, "volume_min": 0.1, "description": "my broker"},
        "EURGBP": {"currency_profit": "GBP", "sim_start_price": 0.85, "digits": 5},
    }))
    symbols = load_symbols(path)
    assert symbols["EURUSD"].trade_stops_level == 10 and symbols["EURUSD"].volume_min == 0.1
    assert symbols["EURUSD"].digits == 5 and symbols["EURUSD"].description == "my broker"
    assert symbols["EURGBP"].currency_profit == "GBP" and symbols["EURGBP"].name == "EURGBP"
    assert symbols["XAUUSD"] == DEFAULT_SYMBOLS["XAUUSD"]
    assert DEFAULT_SYMBOLS["EURUSD"].trade_stops_level == 0


@pytest.mark.parametrize("document, message", [
    ({"EURUSD": {"stops_level": 10}}, "unknown key 'stops_level'"),
    ({"EURUSD": {"digits": "5"}}, "'digits' must be of type int"),
    ({"EURUSD": {"volume_min": 5.0, "volume_max": 1.0}}, "volume_min 5.0 exceeds volume_max"),
    ({"EURUSD": {"name": "GBPUSD"}}, "differs from its key"),
    ({"EURUSD": 3}, "expected an object"),
    ([1, 2], "expected an object of symbol name"),
])
def test_load_symbols_names_what_is_wrong(tmp_path, document, message):
    path = tmp_path / "symbols.json"
    path.write_text(json.dumps(document))
    with pytest.raises(SymbolConfigError, match=message) as caught:
        load_symbols(path)
    assert str(path) in str(caught.value)


def test_load_symbols_reports_a_missing_or_broken_file(tmp_path):
    with pytest.raises(SymbolConfigError, match="not found"):
        load_symbols(tmp_path / "absent.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(SymbolConfigError, match="not valid JSON"):
        load_symbols(tmp_path / "bad.json")


@pytest.mark.parametrize("name, group, expected", [
    ("EURUSD", None, True), ("EURUSD", "*USD*", True), ("EURUSD", "*USD*,!EUR*", False),
    ("USDJPY", "*USD*,!EUR*", True), ("XAUUSD", "!XAU*", False), ("EURUSD", "!XAU*", True),
    ("GBPUSD", "EUR*,GBP*", True), ("USDJPY", "EUR*,GBP*", False),
])
def test_match_group_follows_mt5_group_syntax(name, group, expected):
    assert match_group(name, group) is expected
