"""Every retcode of MT5_BRIDGE.md "Validation order and retcodes", one test each, named for
its trigger; `order_check` gives the same verdict (0 for success) unless the cause is one the
trade server only meets when a request really arrives (rate limit, injected faults)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bridge import mt5
from bridge.symbols import DEFAULT_SYMBOLS, SYMBOL_ORDER_CLOSEBY, ALL_ORDER_MODES, SYMBOL_ORDER_STOP_LIMIT
from test_trade_server import T0, buy, close, make_server, open_position, respec, sell, sltp
from test_trade_server_pending import pending

NETTING = mt5.ACCOUNT_MARGIN_MODE_RETAIL_NETTING


def expect(server, request, retcode, *, check=True):
    """order_send answers `retcode`; order_check agrees (0 for success) when `check`."""
    if check:
        verdict = server.order_check(request)["retcode"]
        assert verdict == (0 if retcode in (mt5.TRADE_RETCODE_DONE, mt5.TRADE_RETCODE_PLACED,
                                            mt5.TRADE_RETCODE_DONE_PARTIAL) else retcode)
    result = server.order_send(request)
    assert result["retcode"] == retcode, result["comment"]
    assert result["comment"] == ("Request executed" if retcode == mt5.TRADE_RETCODE_DONE else mt5.retcode_text(retcode))
    return result


def test_10031_connection_trade_server_disconnected():
    server = make_server()
    server.connected = False
    expect(server, buy(), mt5.TRADE_RETCODE_CONNECTION)


def test_10027_client_disables_at_autotrading_off_in_terminal():
    server = make_server()
    server.trade_allowed = False
    expect(server, buy(), mt5.TRADE_RETCODE_CLIENT_DISABLES_AT)


def test_10026_server_disables_at_experts_forbidden_by_server():
    server = make_server()
    server.trade_expert = False
    expect(server, buy(), mt5.TRADE_RETCODE_SERVER_DISABLES_AT)


def test_10024_too_many_requests_beyond_the_rate_limit():
    server = make_server()
    server.faults.rate_limit_per_s = 2
    assert [server.order_send(buy(), now_ms=T0 + i)["retcode"] for i in range(3)] == [
        mt5.TRADE_RETCODE_DONE, mt5.TRADE_RETCODE_DONE, mt5.TRADE_RETCODE_TOO_MANY_REQUESTS]
    assert server.order_send(buy(), now_ms=T0 + 1000)["retcode"] == mt5.TRADE_RETCODE_DONE  # a new second
    assert len(server.positions_get()) == 3


def test_10013_invalid_close_by_without_position_by():
    server = make_server()
    open_position(server, buy())
    expect(server, {"action": mt5.TRADE_ACTION_CLOSE_BY, "symbol": "EURUSD", "position": 100_000_000},
           mt5.TRADE_RETCODE_INVALID)


def test_10035_invalid_order_stop_limit_not_in_symbol_order_mode():
    server = make_server()
    respec(server, order_mode=ALL_ORDER_MODES & ~SYMBOL_ORDER_STOP_LIMIT)
    expect(server, pending(mt5.ORDER_TYPE_BUY_STOP_LIMIT, 1.10100, stoplimit=1.10050),
           mt5.TRADE_RETCODE_INVALID_ORDER)


def test_10035_invalid_order_close_by_not_allowed_for_symbol():
    server = make_server()
    respec(server, order_mode=ALL_ORDER_MODES & ~SYMBOL_ORDER_CLOSEBY)
    open_position(server, buy())
    open_position(server, sell())
    expect(server, {"action": mt5.TRADE_ACTION_CLOSE_BY, "position": 100_000_000, "position_by": 100_000_001},
           mt5.TRADE_RETCODE_INVALID_ORDER)


def test_10017_trade_disabled_symbol_trade_mode_disabled():
    server = make_server()
    respec(server, trade_mode=mt5.SYMBOL_TRADE_MODE_DISABLED)
    expect(server, buy(), mt5.TRADE_RETCODE_TRADE_DISABLED)


def test_10042_long_only_sell_limit_on_long_only_symbol():
    server = make_server()
    respec(server, trade_mode=mt5.SYMBOL_TRADE_MODE_LONGONLY)
    expect(server, pending(mt5.ORDER_TYPE_SELL_LIMIT, 1.10100), mt5.TRADE_RETCODE_LONG_ONLY)
    expect(server, buy(), mt5.TRADE_RETCODE_DONE)


def test_10043_short_only_buy_on_short_only_symbol():
    server = make_server()
    respec(server, trade_mode=mt5.SYMBOL_TRADE_MODE_SHORTONLY)
    expect(server, buy(), mt5.TRADE_RETCODE_SHORT_ONLY)
    expect(server, sell(), mt5.TRADE_RETCODE_DONE)


def test_10044_close_only_opening_on_the_close_only_fixture_usdrub():
    server = make_server()
    server.on_quote("USDRUB", T0, 92.000, 92.300)
    assert DEFAULT_SYMBOLS["USDRUB"].trade_mode == mt5.SYMBOL_TRADE_MODE_CLOSEONLY
    expect(server, buy("USDRUB"), mt5.TRADE_RETCODE_CLOSE_ONLY)


def test_10044_close_only_netting_may_reduce_but_not_reverse():
    server = make_server(margin_mode=NETTING)
    open_position(server, buy(volume=0.2))
    respec(server, trade_mode=mt5.SYMBOL_TRADE_MODE_CLOSEONLY)
    expect(server, sell(volume=0.3), mt5.TRADE_RETCODE_CLOSE_ONLY)
    expect(server, sell(volume=0.1), mt5.TRADE_RETCODE_DONE)


def test_10018_market_closed_during_the_gold_daily_break():
    # Wednesday 22:30 UTC = Thursday 00:30 server time: XAUUSD's 00:00-01:00 break.
    at = int(datetime(2024, 3, 6, 22, 30, tzinfo=timezone.utc).timestamp() * 1000)
    server = make_server(enforce_sessions=True, quoted=())
    server.on_quote("XAUUSD", at, 2350.00, 2350.25)
    expect(server, buy("XAUUSD"), mt5.TRADE_RETCODE_MARKET_CLOSED)


def test_10021_price_off_no_quote_yet():
    server = make_server(quoted=("EURUSD",))
    expect(server, buy("GBPUSD"), mt5.TRADE_RETCODE_PRICE_OFF)


def test_10014_invalid_volume_below_volume_min():
    expect(make_server(), buy(volume=0.001), mt5.TRADE_RETCODE_INVALID_VOLUME)


def test_10034_limit_volume_positions_and_pending_orders_beyond_volume_limit():
    server = make_server()
    respec(server, volume_limit=1.0)
    open_position(server, buy(volume=0.5))
    expect(server, pending(mt5.ORDER_TYPE_BUY_LIMIT, 1.09900, volume=0.4), mt5.TRADE_RETCODE_PLACED)
    expect(server, buy(volume=0.2), mt5.TRADE_RETCODE_LIMIT_VOLUME)


def test_10030_invalid_fill_ioc_on_a_fok_only_symbol():
    server = make_server()
    respec(server, filling_mode=mt5.SYMBOL_FILLING_FOK)
    expect(server, buy(type_filling=mt5.ORDER_FILLING_IOC), mt5.TRADE_RETCODE_INVALID_FILL)


def test_10022_invalid_expiration_mode_not_offered_by_symbol():
    server = make_server()
    respec(server, expiration_mode=1 | 2)  # GTC and DAY only
    expect(server, pending(mt5.ORDER_TYPE_BUY_LIMIT, 1.09900, type_time=mt5.ORDER_TIME_SPECIFIED,
                           expiration=T0 // 1000 + 3600), mt5.TRADE_RETCODE_INVALID_EXPIRATION)


def test_10022_invalid_expiration_specified_time_already_past():
    expect(make_server(), pending(mt5.ORDER_TYPE_BUY_LIMIT, 1.09900, type_time=mt5.ORDER_TIME_SPECIFIED,
                                  expiration=T0 // 1000 - 1), mt5.TRADE_RETCODE_INVALID_EXPIRATION)


def test_10015_invalid_price_instant_execution_with_price_zero():
    server = make_server(quoted=("EURUSD",))
    server.on_quote("USDCHF", T0, 0.88000, 0.88015)
    assert DEFAULT_SYMBOLS["USDCHF"].trade_exemode == mt5.SYMBOL_TRADE_EXECUTION_INSTANT
    expect(server, buy("USDCHF", type_filling=mt5.ORDER_FILLING_FOK), mt5.TRADE_RETCODE_INVALID_PRICE)


def test_10015_invalid_price_buy_limit_above_the_ask():
    expect(make_server(), pending(mt5.ORDER_TYPE_BUY_LIMIT, 1.10020), mt5.TRADE_RETCODE_INVALID_PRICE)


def test_10015_invalid_price_pending_inside_the_stops_level():
    server = make_server(quoted=("EURUSD",))
    server.on_quote("AUDUSD", T0, 0.66000, 0.66012)  # stops level 20 points
    expect(server, pending(mt5.ORDER_TYPE_BUY_STOP, 0.66025, symbol="AUDUSD"), mt5.TRADE_RETCODE_INVALID_PRICE)
    expect(server, pending(mt5.ORDER_TYPE_BUY_STOP, 0.66032, symbol="AUDUSD"), mt5.TRADE_RETCODE_PLACED)


def test_10016_invalid_stops_sl_inside_stops_level():
    server = make_server(quoted=("EURUSD",))
    server.on_quote("AUDUSD", T0, 0.66000, 0.66012)
    expect(server, buy("AUDUSD", sl=0.65990), mt5.TRADE_RETCODE_INVALID_STOPS)  # 10 points < 20
    expect(server, buy("AUDUSD", sl=0.65980), mt5.TRADE_RETCODE_DONE)


def test_10016_invalid_stops_pending_tp_below_its_buy_price():
    expect(make_server(), pending(mt5.ORDER_TYPE_BUY_LIMIT, 1.09900, tp=1.09800), mt5.TRADE_RETCODE_INVALID_STOPS)


def test_10029_frozen_sl_within_freeze_level_cannot_be_modified():
    server = make_server(quoted=("EURUSD",))
    server.on_quote("AUDUSD", T0, 0.66000, 0.66012)
    position = open_position(server, buy("AUDUSD", sl=0.65970))
    server.on_quote("AUDUSD", T0 + 1000, 0.65975, 0.65987)  # bid 5 points above the SL, freeze 10
    expect(server, sltp(position, sl=0.65900), mt5.TRADE_RETCODE_FROZEN)


def test_10029_frozen_pending_order_near_its_trigger_cannot_be_removed():
    server = make_server(quoted=("EURUSD",))
    server.on_quote("AUDUSD", T0, 0.66000, 0.66012)
    ticket = server.order_send(pending(mt5.ORDER_TYPE_BUY_STOP, 0.66040, symbol="AUDUSD"))["order"]
    server.on_quote("AUDUSD", T0 + 1000, 0.66023, 0.66035)  # 5 points from the trigger
    expect(server, {"action": mt5.TRADE_ACTION_REMOVE, "order": ticket}, mt5.TRADE_RETCODE_FROZEN)


def test_10036_position_closed_closing_an_unknown_position():
    expect(make_server(), {**sell(), "position": 999}, mt5.TRADE_RETCODE_POSITION_CLOSED)


def test_10038_invalid_close_volume_more_than_the_position():
    server = make_server()
    expect(server, close(open_position(server, buy(volume=0.1)), 0.2), mt5.TRADE_RETCODE_INVALID_CLOSE_VOLUME)


def test_10039_close_order_exist_a_closing_limit_order_is_pending():
    server = make_server()
    position = open_position(server, buy())
    server.order_send(pending(mt5.ORDER_TYPE_SELL_LIMIT, 1.10200, position=position["ticket"]))
    expect(server, close(position), mt5.TRADE_RETCODE_CLOSE_ORDER_EXIST)


def test_10025_no_changes_sltp_with_the_same_levels():
    server = make_server()
    expect(server, sltp(open_position(server, buy(sl=1.09, tp=1.11)), sl=1.09, tp=1.11), mt5.TRADE_RETCODE_NO_CHANGES)


def test_10025_no_changes_modify_with_the_same_price():
    server = make_server()
    ticket = server.order_send(pending(mt5.ORDER_TYPE_BUY_LIMIT, 1.09900))["order"]
    expect(server, {"action": mt5.TRADE_ACTION_MODIFY, "order": ticket, "price": 1.09900},
           mt5.TRADE_RETCODE_NO_CHANGES)


def test_10045_fifo_close_closing_the_younger_position_first():
    server = make_server(fifo_close=True)
    older = open_position(server, buy())
    younger = open_position(server, buy())
    expect(server, close(younger), mt5.TRADE_RETCODE_FIFO_CLOSE)
    expect(server, close(older), mt5.TRADE_RETCODE_DONE)
    expect(server, close(younger), mt5.TRADE_RETCODE_DONE)


def test_10046_hedge_prohibited_opening_against_an_open_position():
    server = make_server(hedge_allowed=False)
    open_position(server, buy())
    expect(server, sell(), mt5.TRADE_RETCODE_HEDGE_PROHIBITED)
    expect(server, buy(), mt5.TRADE_RETCODE_DONE)


def test_10033_limit_orders_pending_orders_at_the_account_limit():
    server = make_server(limit_orders=2)
    for price in (1.09900, 1.09800):
        expect(server, pending(mt5.ORDER_TYPE_BUY_LIMIT, price), mt5.TRADE_RETCODE_PLACED)
    expect(server, pending(mt5.ORDER_TYPE_BUY_LIMIT, 1.09700), mt5.TRADE_RETCODE_LIMIT_ORDERS)


def test_10040_limit_positions_open_positions_at_the_account_limit():
    server = make_server(limit_positions=2)
    open_position(server, buy())
    position = open_position(server, sell())
    expect(server, buy(), mt5.TRADE_RETCODE_LIMIT_POSITIONS)
    expect(server, close(position), mt5.TRADE_RETCODE_DONE)  # closing is always allowed


def test_10019_no_money_margin_beyond_free_margin():
    expect(make_server(), buy(volume=10.0), mt5.TRADE_RETCODE_NO_MONEY)


def test_10019_no_money_counts_hedged_margin_so_a_hedge_fits():
    server = make_server(balance=1_200.0)
    open_position(server, buy(volume=1.0))  # 1100.10 USD of margin
    expect(server, buy(volume=0.1), mt5.TRADE_RETCODE_NO_MONEY)
    expect(server, sell(volume=1.0), mt5.TRADE_RETCODE_DONE)  # hedged: margin falls


def test_10004_requote_instant_execution_price_beyond_deviation():
    server = make_server(quoted=("EURUSD",))
    server.on_quote("USDCHF", T0, 0.88000, 0.88015)
    result = expect(server, buy("USDCHF", price=0.87990, deviation=10), mt5.TRADE_RETCODE_REQUOTE)
    assert (result["bid"], result["ask"]) == (0.88000, 0.88015)
    expect(server, buy("USDCHF", price=0.88010, deviation=10), mt5.TRADE_RETCODE_DONE)


def test_10004_requote_injected_on_demand():
    server = make_server()
    server.faults.requotes = 1
    expect(server, buy(), mt5.TRADE_RETCODE_REQUOTE, check=False)
    expect(server, buy(), mt5.TRADE_RETCODE_DONE)


def test_10020_price_changed_request_execution_price_moved():
    server = make_server()
    respec(server, trade_exemode=mt5.SYMBOL_TRADE_EXECUTION_REQUEST)
    expect(server, buy(price=1.09950, deviation=5), mt5.TRADE_RETCODE_PRICE_CHANGED)


def test_10006_reject_fok_beyond_the_symbols_liquidity():
    server = make_server()
    respec(server, sim_liquidity_lots=0.5, filling_mode=mt5.SYMBOL_FILLING_FOK | mt5.SYMBOL_FILLING_IOC)
    expect(server, buy(volume=0.8, type_filling=mt5.ORDER_FILLING_FOK), mt5.TRADE_RETCODE_REJECT)


def test_10006_reject_injected_dealer_reject():
    server = make_server()
    server.faults.rejects = 1
    expect(server, buy(), mt5.TRADE_RETCODE_REJECT, check=False)


def test_10009_done_market_buy():
    result = expect(make_server(), buy(), mt5.TRADE_RETCODE_DONE)
    assert result["order"] and result["deal"] and result["volume"] == 0.1


def test_10010_done_partial_ioc_beyond_the_symbols_liquidity():
    server = make_server()
    respec(server, sim_liquidity_lots=0.5)
    result = expect(server, buy(volume=0.8, type_filling=mt5.ORDER_FILLING_IOC), mt5.TRADE_RETCODE_DONE_PARTIAL)
    assert result["volume"] == 0.5
    assert server.positions_get()[0]["volume"] == 0.5
    order = server.history_orders_get(ticket=result["order"])[0]
    assert (order["volume_initial"], order["volume_current"], order["state"]) == (0.8, pytest.approx(0.3), mt5.ORDER_STATE_PARTIAL)


def test_10008_placed_pending_order():
    result = expect(make_server(), pending(mt5.ORDER_TYPE_SELL_LIMIT, 1.10100), mt5.TRADE_RETCODE_PLACED)
    assert result["order"] and result["deal"] == 0


def test_10012_timeout_after_fill_the_trade_stands():
    server = make_server()
    server.faults.timeout_after_fill = 1
    result = server.order_send(buy(magic=77, comment="coid-1"))
    assert (result["retcode"], result["order"], result["deal"]) == (mt5.TRADE_RETCODE_TIMEOUT, 0, 0)
    (position,) = server.positions_get()  # exactly one position, findable by magic/comment
    assert (position["magic"], position["comment"]) == (77, "coid-1")
    assert server.order_send(buy())["retcode"] == mt5.TRADE_RETCODE_DONE


def test_order_check_returns_0_on_success():
    check = make_server().order_check(buy())
    assert (check["retcode"], check["comment"]) == (0, "Done")


def test_the_checks_run_in_mt5_order():
    """Fix one fault at a time: each fix reveals the next stage's retcode."""
    server = make_server(limit_positions=1)
    open_position(server, sell("GBPUSD"))
    respec(server, trade_mode=mt5.SYMBOL_TRADE_MODE_SHORTONLY, filling_mode=mt5.SYMBOL_FILLING_FOK)
    server.connected, server.trade_allowed = False, False
    request = {**buy(volume=0.001, sl=1.2, type_filling=mt5.ORDER_FILLING_IOC), "action": 99}
    steps = [
        (mt5.TRADE_RETCODE_CONNECTION, lambda: setattr(server, "connected", True)),
        (mt5.TRADE_RETCODE_CLIENT_DISABLES_AT, lambda: setattr(server, "trade_allowed", True)),
        (mt5.TRADE_RETCODE_INVALID, lambda: request.update(action=mt5.TRADE_ACTION_DEAL)),
        (mt5.TRADE_RETCODE_SHORT_ONLY, lambda: respec(server, trade_mode=mt5.SYMBOL_TRADE_MODE_FULL)),
        (mt5.TRADE_RETCODE_INVALID_VOLUME, lambda: request.update(volume=0.1)),
        (mt5.TRADE_RETCODE_INVALID_FILL, lambda: request.update(type_filling=mt5.ORDER_FILLING_FOK)),
        (mt5.TRADE_RETCODE_INVALID_STOPS, lambda: request.update(sl=0.0)),
        (mt5.TRADE_RETCODE_LIMIT_POSITIONS, lambda: setattr(server, "limit_positions", 0)),
        (mt5.TRADE_RETCODE_DONE, None),
    ]
    for retcode, fix in steps:
        assert server.order_send(dict(request))["retcode"] == retcode
        if fix:
            fix()
