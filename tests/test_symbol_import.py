"""A real broker's symbol_info → the simulator's SymbolSpec (bridge/sim/symbol_import.py), pure."""

from __future__ import annotations

import pytest

from bridge import mt5
from bridge.sim.symbol_import import fixture_for, import_symbol, import_symbols, sessions_from_windows
from bridge.symbols import DEFAULT_SYMBOLS, FX_SESSIONS, SymbolConfigError, SymbolSpec
from bridge.trade_server.server import TradeServer

# What `mt5.symbol_info("EURUSD")._asdict()` gives on a typical ECN broker (abridged only of
# fields the simulator has no use for; the extra ones left in must be ignored).
BROKER_EURUSD = {
    "custom": False, "chart_mode": 0, "select": True, "visible": True, "session_deals": 0,
    "session_buy_orders": 0, "session_sell_orders": 0, "volume": 0, "volumehigh": 0, "volumelow": 0,
    "time": 1732530000, "digits": 5, "spread": 3, "spread_float": True, "ticks_bookdepth": 10,
    "trade_calc_mode": 0, "trade_mode": 4, "start_time": 0, "expiration_time": 0,
    "trade_stops_level": 5, "trade_freeze_level": 2, "trade_exemode": 2, "swap_mode": 1,
    "swap_rollover3days": 5, "margin_hedged_use_leg": True, "expiration_mode": 7, "filling_mode": 2,
    "order_mode": 63, "order_gtc_mode": 0, "option_mode": 0, "option_right": 0, "bid": 1.05321,
    "bidhigh": 1.0561, "bidlow": 1.0512, "ask": 1.05324, "askhigh": 1.0562, "asklow": 1.0513, "last": 0.0,
    "point": 1e-05, "trade_tick_value": 1.0, "trade_tick_value_profit": 1.0, "trade_tick_value_loss": 1.0,
    "trade_tick_size": 1e-05, "trade_contract_size": 100000.0, "trade_accrued_interest": 0.0,
    "trade_face_value": 0.0, "trade_liquidity_rate": 0.0, "volume_min": 0.01, "volume_max": 200.0,
    "volume_step": 0.01, "volume_limit": 0.0, "swap_long": -9.43, "swap_short": 4.05,
    "margin_initial": 0.0, "margin_maintenance": 0.0, "session_volume": 0.0, "margin_hedged": 100000.0,
    "price_change": 0.1, "currency_base": "EUR", "currency_profit": "USD", "currency_margin": "EUR",
    "bank": "", "description": "Euro vs US Dollar", "exchange": "", "isin": "", "name": "EURUSD",
    "page": "", "path": "Forex\\Majors\\EURUSD",
}


def test_every_field_symbol_info_carries_is_the_brokers():
    imported = import_symbol(BROKER_EURUSD)
    spec = imported.spec
    assert imported.defaulted == () and imported.fixture == "EURUSD"
    expected = {key: BROKER_EURUSD[key] for key in (
        "digits", "point", "trade_contract_size", "trade_tick_size", "trade_calc_mode", "trade_mode",
        "trade_exemode", "filling_mode", "order_mode", "expiration_mode", "volume_min", "volume_max",
        "volume_step", "volume_limit", "trade_stops_level", "trade_freeze_level", "margin_initial",
        "margin_hedged", "margin_hedged_use_leg", "swap_long", "swap_short", "swap_rollover3days", "spread",
        "currency_base", "currency_profit", "currency_margin", "description")}
    assert {key: getattr(spec, key) for key in expected} == expected
    assert spec.sim_start_price == 1.05321 and spec.sim_spread_points == 3.0
    # What symbol_info never carries stays the fixture's.
    assert spec.sessions_trade == FX_SESSIONS


def test_fields_the_ea_leaves_out_fall_back_and_are_named():
    # The EA's symbol record has no margin_hedged(_use_leg); here also no stops level and a
    # volume step the simulator cannot use.
    info = {key: value for key, value in BROKER_EURUSD.items()
            if key not in ("margin_hedged", "margin_hedged_use_leg", "trade_stops_level")}
    info["volume_step"] = 0.0
    imported = import_symbol(info)
    spec, fixture = imported.spec, DEFAULT_SYMBOLS["EURUSD"]
    assert set(imported.defaulted) == {"margin_hedged", "margin_hedged_use_leg", "trade_stops_level", "volume_step"}
    assert spec.volume_step == fixture.volume_step and spec.trade_stops_level == fixture.trade_stops_level
    assert spec.margin_hedged == 50_000.0  # half this broker's contract, as the fixtures do
    assert spec.volume_max == 200.0  # the rest is still the broker's


@pytest.mark.parametrize("value", [True, "5", None, -1, 2.5, float("nan")])
def test_unusable_values_are_never_taken(value):
    imported = import_symbol({**BROKER_EURUSD, "trade_freeze_level": value})
    assert imported.spec.trade_freeze_level == DEFAULT_SYMBOLS["EURUSD"].trade_freeze_level
    assert imported.defaulted == ("trade_freeze_level",)


def test_a_suffixed_broker_name_uses_the_fixture_of_its_symbol():
    assert fixture_for("EURUSD.r", DEFAULT_SYMBOLS).name == "EURUSD"
    assert fixture_for("XAUUSDm", DEFAULT_SYMBOLS).name == "XAUUSD"
    assert fixture_for("US500", DEFAULT_SYMBOLS) is None
    imported = import_symbol({"name": "GBPUSD.ecn", "digits": 5, "bid": 1.26})
    assert imported.spec.name == "GBPUSD.ecn" and imported.fixture == "GBPUSD"
    assert imported.spec.sessions_trade == DEFAULT_SYMBOLS["GBPUSD"].sessions_trade
    assert imported.spec.trade_contract_size == DEFAULT_SYMBOLS["GBPUSD"].trade_contract_size


def test_an_index_cfd_without_fixture():
    info = {"name": "US500", "digits": 1, "currency_base": "USD", "currency_profit": "USD",
            "currency_margin": "USD", "trade_contract_size": 1.0, "trade_calc_mode": mt5.SYMBOL_CALC_MODE_CFDINDEX,
            "volume_min": 0.1, "volume_max": 100.0, "volume_step": 0.1, "bid": 5950.3, "ask": 5950.8,
            "swap_mode": 0, "swap_long": -3.1, "swap_short": 1.2, "filling_mode": 3}
    imported = import_symbol(info)
    spec = imported.spec
    assert imported.fixture is None
    # Index-CFD margin is not simulated: CFD (lots · contract · price) stands in, and says so.
    assert spec.trade_calc_mode == mt5.SYMBOL_CALC_MODE_CFD and "trade_calc_mode" in imported.defaulted
    assert spec.point == 0.1 and spec.trade_tick_size == 0.1  # MT5's point is 10^-digits
    assert spec.margin_hedged == 0.5
    assert (spec.swap_long, spec.swap_short) == (0.0, 0.0)  # swaps disabled (mode 0)
    assert spec.sessions_trade == ()  # no fixture: always open (the real ticks tell when it trades)


def test_swaps_in_money_are_not_simulated_so_the_fixtures_points_stand_in():
    imported = import_symbol({**BROKER_EURUSD, "swap_mode": 2, "swap_long": -1.5, "swap_short": 0.4})
    fixture = DEFAULT_SYMBOLS["EURUSD"]
    assert (imported.spec.swap_long, imported.spec.swap_short) == (fixture.swap_long, fixture.swap_short)
    assert set(imported.defaulted) == {"swap_long", "swap_short"}


def test_terms_that_cannot_be_simulated_are_refused_with_the_reason():
    with pytest.raises(SymbolConfigError, match="EURUSD.*volume_min"):
        import_symbol({**BROKER_EURUSD, "volume_min": 500.0})
    with pytest.raises(SymbolConfigError, match="without a name"):
        import_symbol({"digits": 5})
    imported, refused = import_symbols([BROKER_EURUSD, {**BROKER_EURUSD, "name": "BAD", "volume_min": 500.0}, 7])
    assert list(imported) == ["EURUSD"] and "BAD" in refused and len(refused) == 2


def test_an_imported_symbol_trades_under_the_brokers_terms():
    spec = import_symbol({**BROKER_EURUSD, "trade_contract_size": 10_000.0, "margin_hedged": 5_000.0}).spec
    server = TradeServer(login=1, symbols={"EURUSD": spec}, leverage=100)
    server.on_quote("EURUSD", 1_732_530_000_000, 1.05321, 1.05324)
    # 1 lot of a 10 000 contract at 1:100 is 100 EUR of margin, in USD at the ask.
    assert server.order_calc_margin(mt5.ORDER_TYPE_BUY, "EURUSD", 1.0, 1.05324) == pytest.approx(105.32, abs=0.01)
    assert server.symbol_info("EURUSD")["trade_tick_value"] == pytest.approx(0.1)


def test_sessions_from_the_eas_symbol_sessions():
    week = sessions_from_windows([[day, 0, 86_400] for day in range(1, 6)])
    assert week == FX_SESSIONS
    # Gold closing 23:58-01:02 (seconds round outwards to whole minutes) and a window past midnight.
    sessions = sessions_from_windows([[1, 3_720, 86_280], [2, 79_200, 3_600]])
    assert sessions[1] == ((62, 1_438),)
    assert sessions[2] == ((1_320, 1_440),) and sessions[3] == ((0, 60),)
    assert sessions[0] == () and sessions[6] == ()
    SymbolSpec(name="X", sessions_trade=sessions)  # a valid spec
    assert sessions_from_windows([[1, 0, 90_000]])[2] == ((0, 60),)  # MQL5 ends sessions up to 48:00
    for bad in ([[7, 0, 60]], [[1, 0]], [[1, -5, 60]], "Mon", [[1, 0, 172_801]], [[True, 0, 60]]):
        with pytest.raises(SymbolConfigError):
            sessions_from_windows(bad)
