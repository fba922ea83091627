"""Account money on the simulated trade server: hedged margin, stop-out, swaps, commission;
trading sessions; the broker file (account and symbols); fault hooks."""

from __future__ import annotations

import dataclasses
import json
import random
from datetime import datetime, timezone

import pytest

from bridge import mt5
from bridge.sim.config import AccountConfigError, AccountSettings, load_account
from bridge.trade_server.sessions import day_of_week, session_open
from bridge.symbols import DEFAULT_SYMBOLS, SymbolConfigError, load_symbols
from bridge.trade_server import server as server_module
from bridge.trade_server.server import TradeServer
from test_trade_server import T0, buy, close, make_server, market, open_position, sell, with_spec


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


class FullChecks(TradeServer):
    """The trade server with every quote's work done in full, as before it skipped any: the
    stop-out check by account_info (no MarginBound), a rollover looked for at every quote."""

    _margin_bound = property(lambda self: None, lambda self, value: None)

    def _next_rollover(self, after_ms: int) -> int:
        return after_ms


TRADED = ("EURUSD", "GBPUSD", "USDJPY", "XAUUSD", "USDCHF", "AUDUSD")


def scripted_account(seed: int) -> tuple[dict, list[tuple]]:
    """A small account's terms and a script of quotes (random walks with jumps, hours apart:
    rollovers, DST) and trades on six symbols, opposite legs included: margin calls and
    stop-outs happen."""
    rng = random.Random(seed)
    symbols = dict(DEFAULT_SYMBOLS)
    if rng.random() < 0.3:
        symbols["EURUSD"] = dataclasses.replace(symbols["EURUSD"], margin_hedged_use_leg=True)
    terms = {"symbols": symbols, "balance": rng.choice([300.0, 1_000.0, 3_000.0]),
             "leverage": rng.choice([30, 100, 500]), "server_tz": "NY+7",
             "margin_mode": rng.choice([mt5.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING,
                                        mt5.ACCOUNT_MARGIN_MODE_RETAIL_NETTING]),
             "margin_so_call": rng.choice([60.0, 100.0, 120.0]), "margin_so_so": rng.choice([30.0, 50.0, 80.0])}
    mids = {name: DEFAULT_SYMBOLS[name].sim_start_price for name in TRADED}
    now = utc_ms(2024, 3, 4, 0, 0)
    script: list[tuple] = []
    for step in range(300):
        now += rng.choice([1_000, 60_000, 3_600_000, 5 * 3_600_000])
        if step >= len(TRADED) and rng.random() < 0.2:
            kind = rng.choice((mt5.ORDER_TYPE_BUY, mt5.ORDER_TYPE_SELL))
            script.append(("trade", rng.choice(TRADED), kind, rng.choice([0.01, 0.1, 0.5, 1.0]), now,
                           rng.random() < 0.3))
            continue
        name = TRADED[step] if step < len(TRADED) else rng.choice(TRADED)
        spec = DEFAULT_SYMBOLS[name]
        mids[name] *= 1.0 + rng.gauss(0.0, 0.02 if rng.random() < 0.1 else 0.002)
        bid = round(mids[name], spec.digits)
        script.append(("quote", name, now, bid, round(bid + spec.point * spec.spread, spec.digits)))
    return terms, script


def play_script(server: TradeServer, script: list[tuple]) -> list:
    """What the server did at each step of `script`: closes, margin call, money, positions."""
    seen = []
    for action in script:
        if action[0] == "quote":
            done = server.on_quote(*action[1:])
        else:
            _, name, kind, volume, now, closing = action
            positions = server.positions_get(symbol=name)
            request = (close(positions[0]) if closing and positions
                       else market(kind, name, volume))
            done = server.order_send(request, now_ms=now)["retcode"]
        seen.append((action, done, server.margin_call, server.account_info(), server.positions_get()))
    return seen


def test_a_quote_skips_the_full_stop_out_check_only_when_it_would_find_nothing(monkeypatch):
    full_checks: dict[type, int] = {}
    real_stop_out = server_module.stop_out

    def counted(server, now):
        full_checks[type(server)] = full_checks.get(type(server), 0) + 1
        return real_stop_out(server, now)
    monkeypatch.setattr(server_module, "stop_out", counted)
    stop_outs = margin_calls = 0
    for seed in range(25):
        terms, script = scripted_account(seed)
        fast, full = TradeServer(login=1, **terms), FullChecks(login=1, **terms)
        seen = play_script(fast, script)
        assert seen == play_script(full, script), f"seed {seed}"
        assert fast.history_deals_get() == full.history_deals_get()
        stop_outs += sum(d["reason"] == mt5.DEAL_REASON_SO for d in fast.history_deals_get())
        margin_calls += sum(margin_call for _, _, margin_call, _, _ in seen)
    # The scripts reach margin calls and stop-outs, and the bound spared most quotes their account_info.
    assert stop_outs > 5 and margin_calls > 5
    assert full_checks[TradeServer] < full_checks[FullChecks] / 2


def test_the_margin_bound_is_at_least_the_margin_after_any_move():
    server = make_server(with_spec("EURUSD", margin_hedged_use_leg=True), leverage=50)
    open_position(server, buy(volume=1.0))
    open_position(server, sell(volume=0.4))
    open_position(server, sell("USDJPY", volume=0.7))
    open_position(server, buy("XAUUSD", volume=0.3))
    legs = server_module.legs_of(server)
    bound = server_module.MarginBound.of(server, legs)
    assert bound is not None and bound.bound(server, legs) >= server.account_info()["margin"]
    rng, checked = random.Random(3), 0
    quotes = {"EURUSD": (1.10000, 1.10010), "USDJPY": (150.000, 150.012), "XAUUSD": (2350.00, 2350.25)}
    for step in range(200):
        name = rng.choice(sorted(quotes))
        bid, ask = (round(p * (1 + rng.gauss(0, 0.02)), DEFAULT_SYMBOLS[name].digits) for p in quotes[name])
        if not 0 < bid <= ask:
            continue
        quotes[name] = (bid, ask)
        server.on_quote(name, T0 + step, bid, ask)
        if server_module.legs_of(server) != legs:
            break  # a stop-out changed the legs: the bound says no more
        assert bound.bound(server, legs) >= server.account_info()["margin"]
        checked += 1
    assert checked > 100
    assert bound.bound(server, legs + [("EURUSD", True, 0.01)]) is None  # other legs: no bound


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


def test_the_next_rollover_is_found_once_a_server_day_and_swaps_stay_those_of_every_quote(monkeypatch):
    ends = []
    real_day_end = server_module.day_end_ms
    monkeypatch.setattr(server_module, "day_end_ms", lambda at, tz: ends.append(at) or real_day_end(at, tz))
    servers = [cls(login=1, symbols=DEFAULT_SYMBOLS, server_tz="NY+7") for cls in (TradeServer, FullChecks)]
    start = utc_ms(2024, 3, 7, 12, 0)  # Thursday; New York's clocks go forward on Sunday the 10th
    for server in servers:
        server.on_quote("EURUSD", start, 1.10000, 1.10010)
        open_position(server, buy(volume=1.0))
        open_position(server, sell(volume=2.0))
    ends.clear()
    for minute in range(1, 7 * 1440, 7):
        for server in servers:
            server.on_quote("EURUSD", start + minute * 60_000, 1.10000, 1.10010)
    fast, full = servers
    assert fast.positions_get() == full.positions_get()
    # Thursday, Friday, (no Saturday, Sunday), Monday, Tuesday, Wednesday triple: 7 days' swaps
    assert [p["swap"] for p in fast.positions_get()] == [pytest.approx(-7.2 * 7), pytest.approx(2 * 2.1 * 7)]
    # 1 440 quotes; the rollover looked for once a server day, and again at the change of offset
    # (FullChecks leaves it to charge_swaps, at every quote)
    assert len(ends) <= 7 + 2, ends


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
