"""Account money on the simulated trade server: hedged margin, stop-out, swaps, commission;
trading sessions; the broker file (account and symbols); fault hooks."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from bridge import mt5
from bridge.sim.config import AccountConfigError, AccountSettings, load_account
from bridge.trade_server.sessions import day_of_week, session_open
from bridge.symbols import DEFAULT_SYMBOLS, SymbolConfigError, load_symbols
from bridge.trade_server.server import TradeServer
from test_trade_server import T0, buy, close, make_server, open_position, sell, with_spec


def utc_ms(*args) -> int:
    return int(datetime(*args, tzinfo=timezone.utc).timestamp() * 1000)


# --- margin ---

def test_hedged_margin_is_half_the_average_rate_for_fx():
    server = make_server()
    open_position(server, buy(volume=1.0))
    open_position(server, sell(volume=1.0))
    # buy leg 1100.10, sell leg 1100.00 per lot; hedged at margin_hedged 50 000 / 100 000
    assert server.account_info()["margin"] == pytest.approx((1100.10 + 1100.00) / 2 * 0.5, abs=0.01)
    open_position(server, buy(volume=0.5))  # 0.5 uncovered at the buy rate
    assert server.account_info()["margin"] == pytest.approx(550.025 + 0.5 * 1100.10, abs=0.01)


def test_hedged_margin_by_the_larger_leg():
    server = make_server(with_spec("EURUSD", margin_hedged_use_leg=True))
    open_position(server, buy(volume=1.0))
    open_position(server, sell(volume=0.4))
    assert server.account_info()["margin"] == pytest.approx(1100.10, abs=0.01)


def test_equity_margin_free_and_level_stay_consistent():
    server = make_server()
    open_position(server, buy(volume=1.0))
    open_position(server, sell("XAUUSD", volume=0.1))
    for step in range(5):
        server.on_quote("EURUSD", T0 + step * 1000, 1.1000 + step * 0.0003, 1.1001 + step * 0.0003)
        account = server.account_info()
        assert account["equity"] == pytest.approx(account["balance"] + account["profit"], abs=0.01)
        assert account["margin_free"] == pytest.approx(account["equity"] - account["margin"], abs=0.01)
        assert account["margin_level"] == pytest.approx(account["equity"] / account["margin"] * 100, abs=0.01)


# --- stop-out ---

def test_stop_out_closes_the_largest_loser_first_with_reason_so():
    server = make_server(balance=1_000.0, margin_so_so=50.0, margin_so_call=100.0)
    small = open_position(server, buy(volume=0.1))
    large = open_position(server, buy(volume=0.7))  # 0.8 lots @ 1.10010: 880.08 USD of margin
    server.on_quote("EURUSD", T0 + 1000, 1.09800, 1.09810)  # equity 832: level 94.5 % < 100
    assert server.margin_call and len(server.positions_get()) == 2
    closed = server.on_quote("EURUSD", T0 + 2000, 1.09300, 1.09310)  # equity 432: level 49.4 % < 50
    assert closed == [large["ticket"]]
    deal = server.history_deals_get(position=large["ticket"])[-1]
    assert (deal["reason"], deal["entry"], deal["price"]) == (mt5.DEAL_REASON_SO, mt5.DEAL_ENTRY_OUT, 1.09300)
    assert deal["comment"] == "[so 49.40%/432.00/874.48]"  # margin at the current EURUSD rate
    assert deal["profit"] == pytest.approx(-497.0)
    assert [p["ticket"] for p in server.positions_get()] == [small["ticket"]]
    account = server.account_info()
    assert account["margin_level"] > 100.0 and not server.margin_call


def test_no_stop_out_above_the_level():
    server = make_server()
    open_position(server, buy(volume=1.0))
    assert server.on_quote("EURUSD", T0 + 1000, 1.09000, 1.09010) == []
    assert server.positions_get() and not server.margin_call


# --- swaps ---

TUESDAY_NOON = utc_ms(2024, 3, 5, 12, 0)  # server time UTC+2: rollover at 22:00 UTC


def test_swaps_are_charged_at_each_rollover_and_tripled_on_wednesday():
    server = TradeServer(login=1, symbols=DEFAULT_SYMBOLS)
    server.on_quote("EURUSD", TUESDAY_NOON, 1.10000, 1.10010)
    long = open_position(server, buy(volume=1.0))  # swap_long -7.2 points: -7.20 USD per lot per day
    short = open_position(server, sell(volume=2.0))  # swap_short 2.1 points: +2.10 USD per lot
    swaps = lambda: {p["ticket"]: p["swap"] for p in server.positions_get()}  # noqa: E731
    server.on_quote("EURUSD", utc_ms(2024, 3, 5, 21, 59), 1.10000, 1.10010)
    assert swaps() == {long["ticket"]: 0.0, short["ticket"]: 0.0}
    server.on_quote("EURUSD", utc_ms(2024, 3, 5, 22, 0), 1.10000, 1.10010)  # Tuesday closes
    assert swaps() == {long["ticket"]: -7.2, short["ticket"]: 4.2}
    server.on_quote("EURUSD", utc_ms(2024, 3, 6, 23, 0), 1.10000, 1.10010)  # Wednesday: triple
    assert swaps() == {long["ticket"]: pytest.approx(-28.8), short["ticket"]: pytest.approx(16.8)}
    server.on_quote("EURUSD", utc_ms(2024, 3, 11, 12, 0), 1.10000, 1.10010)  # Thu, Fri; not Sat, Sun
    assert swaps()[long["ticket"]] == pytest.approx(-28.8 - 14.4)
    account = server.account_info()
    assert account["equity"] == pytest.approx(account["balance"] + account["profit"], abs=0.01)
    result = server.order_send(close(server.positions_get(ticket=long["ticket"])[0]))
    deal = server.history_deals_get(ticket=result["order"])[0]
    assert deal["swap"] == pytest.approx(-43.2)
    assert server.balance == pytest.approx(10_000 + deal["profit"] - 43.2)


def test_partial_close_realizes_its_share_of_the_swap():
    server = TradeServer(login=1, symbols=DEFAULT_SYMBOLS)
    server.on_quote("EURUSD", TUESDAY_NOON, 1.10000, 1.10010)
    position = open_position(server, buy(volume=1.0))
    server.on_quote("EURUSD", utc_ms(2024, 3, 5, 23, 0), 1.10000, 1.10010)
    result = server.order_send(close(server.positions_get()[0], 0.25))
    assert server.history_deals_get(ticket=result["order"])[0]["swap"] == pytest.approx(-1.8)
    assert server.positions_get(ticket=position["ticket"])[0]["swap"] == pytest.approx(-5.4)


# --- commission ---

def test_commission_per_lot_per_side_is_charged_in_each_deal():
    server = make_server(commission_per_lot=3.5)
    position = open_position(server, buy(volume=2.0))
    opening = server.history_deals_get()[0]
    assert opening["commission"] == -7.0 and server.balance == 10_000 - 7.0
    check = server.order_check(close(position))
    result = server.order_send(close(position))
    deal = server.history_deals_get(ticket=result["order"])[0]
    assert deal["commission"] == -7.0
    assert server.balance == pytest.approx(10_000 - 14.0 + deal["profit"])
    assert check["balance"] == pytest.approx(server.balance)


def test_a_symbols_commission_overrides_the_accounts():
    server = make_server(with_spec("XAUUSD", commission_per_lot=10.0), commission_per_lot=3.5)
    open_position(server, buy("XAUUSD", volume=0.5))
    assert server.history_deals_get()[0]["commission"] == -5.0


# --- sessions ---

@pytest.mark.parametrize("when, symbol, is_open", [
    (utc_ms(2024, 3, 6, 10, 0), "EURUSD", True),     # Wednesday
    (utc_ms(2024, 3, 9, 12, 0), "EURUSD", False),    # Saturday
    (utc_ms(2024, 3, 10, 21, 59), "EURUSD", False),  # Sunday before the open
    (utc_ms(2024, 3, 10, 22, 0), "EURUSD", True),    # Sunday 22:00 UTC = Monday 00:00 server
    (utc_ms(2024, 3, 8, 21, 59), "EURUSD", True),    # Friday before the close
    (utc_ms(2024, 3, 8, 22, 0), "EURUSD", False),    # Friday 22:00 UTC: the weekend
    (utc_ms(2024, 3, 6, 22, 30), "XAUUSD", False),   # the daily break
    (utc_ms(2024, 3, 6, 23, 0), "XAUUSD", True),
])
def test_sessions_fx_week_and_gold_break(when, symbol, is_open):
    assert session_open(DEFAULT_SYMBOLS[symbol], when, 7200) is is_open
    server = TradeServer(login=1, symbols=DEFAULT_SYMBOLS, enforce_sessions=True)
    server.on_quote(symbol, when, 1.1 if symbol == "EURUSD" else 2350.0, 1.1001 if symbol == "EURUSD" else 2350.3)
    retcode = server.order_send(buy(symbol))["retcode"]
    assert retcode == (mt5.TRADE_RETCODE_DONE if is_open else mt5.TRADE_RETCODE_MARKET_CLOSED)


def test_day_of_week_is_server_time_sunday_first():
    assert day_of_week(utc_ms(2024, 3, 10, 21, 59), 7200) == 0  # Sunday
    assert day_of_week(utc_ms(2024, 3, 10, 22, 0), 7200) == 1  # Monday at UTC+2


def test_sessions_are_not_enforced_unless_asked():
    server = TradeServer(login=1, symbols=DEFAULT_SYMBOLS)
    server.on_quote("EURUSD", utc_ms(2024, 3, 9, 12, 0), 1.1, 1.1001)
    assert server.order_send(buy())["retcode"] == mt5.TRADE_RETCODE_DONE


# --- the broker file ---

def test_broker_file_configures_account_and_symbols(tmp_path):
    path = tmp_path / "broker.json"
    path.write_text(json.dumps({
        "account": {"balance": 5000, "leverage": 30, "margin_mode": "netting", "commission_per_lot": 2.5,
                    "margin_so_so": 20, "fifo_close": True, "enforce_sessions": True},
        "symbols": {"EURUSD": {"trade_stops_level": 15, "margin_hedged_use_leg": True,
                               "sessions_trade": {"Mon": ["01:00-23:00"]}}},
    }))
    settings = load_account(path)
    assert settings == AccountSettings(balance=5000.0, leverage=30, margin_mode="netting",
                                       commission_per_lot=2.5, margin_so_so=20.0, fifo_close=True,
                                       enforce_sessions=True)
    symbols = load_symbols(path)
    eurusd = symbols["EURUSD"]
    assert (eurusd.trade_stops_level, eurusd.margin_hedged_use_leg) == (15, True)
    assert eurusd.sessions_trade[1] == ((60, 1380),) and eurusd.sessions_trade[2] == ()
    server = TradeServer(login=1, symbols=symbols, **settings.server_options())
    info = server.account_info()
    assert (info["balance"], info["leverage"], info["margin_mode"], info["fifo_close"]) == (
        5000.0, 30, mt5.ACCOUNT_MARGIN_MODE_RETAIL_NETTING, True)


@pytest.mark.parametrize("account, message", [
    ({"margin_mode": "exchange"}, "margin_mode must be one of"),
    ({"leverage": "100"}, "'leverage' must be of type int"),
    ({"stop_out": 30}, "unknown key 'stop_out'"),
    ({"leverage": 0}, "leverage must be positive"),
])
def test_broker_file_account_errors_say_what_is_wrong(tmp_path, account, message):
    path = tmp_path / "broker.json"
    path.write_text(json.dumps({"account": account}))
    with pytest.raises(AccountConfigError, match=message):
        load_account(path)


def test_broker_file_bad_sessions_are_refused(tmp_path):
    path = tmp_path / "broker.json"
    path.write_text(json.dumps({"symbols": {"EURUSD": {"sessions_trade": {"Mon": ["23:00-01:00"]}}}}))
    with pytest.raises(SymbolConfigError, match="forward"):
        load_symbols(path)


def test_fixture_symbols_and_symbol_info_fields():
    assert {"EURUSD", "GBPUSD", "USDJPY", "XAUUSD", "USDCHF", "AUDUSD", "USDRUB"} <= set(DEFAULT_SYMBOLS)
    audusd = DEFAULT_SYMBOLS["AUDUSD"]
    assert (audusd.trade_stops_level, audusd.trade_freeze_level) == (20, 10)
    info = make_server().symbol_info("EURUSD")
    assert {"order_mode", "expiration_mode", "margin_hedged", "swap_mode"} <= set(info)
    assert not {"sessions_trade", "commission_per_lot"} & set(info)


# --- faults ---

def test_fault_hooks_are_consumed_by_order_send_only():
    server = make_server()
    server.faults.requotes = 1
    assert server.order_check(buy())["retcode"] == 0
    assert server.faults.requotes == 1
    assert server.order_send(buy())["retcode"] == mt5.TRADE_RETCODE_REQUOTE
    assert server.faults.requotes == 0


def test_timeout_after_fill_still_publishes_the_real_transactions():
    server = make_server()
    server.faults.timeout_after_fill = 1
    assert server.order_send(buy())["retcode"] == mt5.TRADE_RETCODE_TIMEOUT
    transactions = server.drain_transactions()
    assert [tx["trans"]["type_name"] for tx in transactions][-1] == "REQUEST"
    assert transactions[-1]["result"]["retcode"] == mt5.TRADE_RETCODE_DONE
