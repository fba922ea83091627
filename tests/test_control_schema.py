"""Control-request validation: the envelope and every command's data (CONTROL_API.md)."""

from __future__ import annotations

import copy
import dataclasses
import math

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.control import schema as cs
from actors.risk.limits import LIMIT_RULES
from actors.control.schema import (
    COMMANDS, Envelope, SchemaError, UnknownCommand, request_id_of, validate_command,
    validate_envelope,
)


def validate_request(request: object) -> Envelope:
    """The envelope, then its data, as the control server checks a request."""
    envelope = validate_envelope(request)
    return dataclasses.replace(envelope, data=validate_command(envelope.type, envelope.data))

# The strategy definition exactly as CONTROL_API.md shows it.
API_STRATEGY = {
    "name": "sma-cross", "symbol": "EURUSD", "timeframe": "M5",
    "rules": {
        "entry_long": "cross_above(sma(10), sma(20))",
        "entry_short": "cross_below(sma(10), sma(20))",
        "exit_long": "cross_below(sma(10), sma(20))",
        "exit_short": "cross_above(sma(10), sma(20))",
        "filters": ["adx(14) > 20"]},
    "settings": {
        "sizing": {"method": "fixed", "lots": 0.1},
        "stop_loss": {"pips": 20}, "take_profit": {"rr": 2.0},
        "trailing_stop": {"pips": 15, "start_pips": 10},
        "breakeven": {"trigger_pips": 10, "offset_pips": 1},
        "partial_exits": [{"at_pips": 20, "close_pct": 50, "move_to_breakeven": True}],
        "time_exit": {"max_bars": 48},
        "max_positions": 1}}

# One valid `data` per command; every optional key given, so validation changes no value.
VALID = {
    "START_STRATEGY": {"strategy_id": "sma-1", "account": 5001, "strategy": API_STRATEGY},
    "STOP_STRATEGY": {"strategy_id": "sma-1", "close_positions": False},
    "PAUSE_STRATEGY": {"strategy_id": "sma-1"},
    "RESUME_STRATEGY": {"strategy_id": "sma-1"},
    "UPDATE_STRATEGY": {"strategy_id": "sma-1", "strategy": API_STRATEGY},
    "OPEN_POSITION": {"account": 5001, "symbol": "EURUSD", "side": "buy", "volume": 0.1,
                      "sl": 1.095, "tp": 1.11, "comment": "manual hedge"},
    "CLOSE_POSITION": {"ticket": 123456789, "volume": 0.05},
    "MODIFY_POSITION": {"ticket": 123456789, "sl": 1.096, "tp": 1.112},
    "CLOSE_ALL": {"account": 5001, "symbol": "EURUSD", "strategy_id": "sma-1"},
    "UPDATE_RISK_LIMITS": {"account": 5001, "limits": {
        "max_daily_loss_pct": 3.0, "max_drawdown_pct": 10.0, "max_lot_size": 2.0,
        "max_positions": 10, "max_positions_per_strategy": 2, "max_correlation": 0.8,
        "max_orders_per_minute": 30}},
    "EMERGENCY_STOP": {"reason": "operator: news spike"},
    "RESET_KILL_SWITCH": {},
    "SET_TRADING_STATE": {"account": 5001, "state": "REDUCING", "reason": "news week"},
    "STATUS_REQUEST": {},
    "PERFORMANCE_REQUEST": {"strategy_id": "sma-1", "account": 5001, "include_trades": True},
    "PING": {},
}
MINIMAL_STRATEGY = {"name": "s", "symbol": "EURUSD", "timeframe": "H1",
                    "rules": {"entry_long": "close > sma(20)"}}


def with_value(data: dict, path: str, value: object) -> dict:
    """A deep copy of `data` with the dotted `path` set (digits index lists)."""
    changed = copy.deepcopy(data)
    *parents, last = path.split(".")
    node = changed
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[int(last) if last.isdigit() else last] = value
    return changed


def without(data: dict, key: str) -> dict:
    return {name: value for name, value in data.items() if name != key}


def refusal(command: str, data: object) -> SchemaError:
    with pytest.raises(SchemaError) as caught:
        validate_command(command, data)
    return caught.value


# ------------------------------------------------------------------ valid examples ---
def test_every_command_has_a_schema_and_an_example():
    assert COMMANDS == frozenset(VALID)
    assert {getattr(cs, name) for name in VALID} == COMMANDS  # the named constants


@pytest.mark.parametrize("command", sorted(VALID))
def test_valid_example_passes_unchanged_as_a_copy(command):
    data = copy.deepcopy(VALID[command])
    result = validate_command(command, data)
    assert result == VALID[command]
    assert data == VALID[command]  # the input is not touched
    if result:
        assert result is not data


def test_result_shares_no_mutable_parts_with_the_input():
    data = copy.deepcopy(VALID["START_STRATEGY"])
    result = validate_command("START_STRATEGY", data)
    result["strategy"]["rules"]["filters"].append("rsi(14) < 70")
    result["strategy"]["settings"]["sizing"]["lots"] = 5.0
    assert data == VALID["START_STRATEGY"]


def test_ints_become_floats_where_numbers_are_expected():
    result = validate_command("OPEN_POSITION", {"symbol": "EURUSD", "side": "sell", "volume": 1,
                                                "sl_pips": 20, "tp_pips": 40})
    assert [type(result[key]) for key in ("volume", "sl_pips", "tp_pips")] == [float] * 3
    settings_ = validate_command("START_STRATEGY", VALID["START_STRATEGY"])["strategy"]["settings"]
    assert type(settings_["stop_loss"]["pips"]) is float
    assert type(settings_["max_positions"]) is int


def test_every_sizing_method_is_accepted():
    sizings = [
        {"method": "fixed", "lots": 0.5},
        {"method": "percentage_risk", "risk_pct": 1},
        {"method": "atr_based", "risk_pct": 1, "atr_mult": 1.5, "atr_period": 20},
        {"method": "kelly_criterion", "fraction": 0.25, "max_risk_pct": 2},
        {"method": "volatility_based", "target_vol_pct": 12},
    ]
    assert tuple(sizing["method"] for sizing in sizings) == tuple(cs.SIZING.variants)
    for sizing in sizings:
        data = {"symbol": "XAUUSD", "side": "buy", "sizing": sizing}
        assert validate_command("OPEN_POSITION", data)["sizing"] == sizing


def test_other_exit_shapes_are_accepted():
    settings_ = {"stop_loss": {"atr_mult": 2, "atr_period": 10}, "take_profit": {"pips": 30},
                 "partial_exits": [{"at_r": 1, "close_pct": 30}, {"at_pips": 50, "close_pct": 30}],
                 "time_exit": {"at_time": "21:45"}, "magic": 2**64 - 1, "allow_hedge": True,
                 "trailing_stop": {"pips": 10, "start_pips": 0, "step_pips": 2}}
    strategy = {**MINIMAL_STRATEGY, "settings": settings_}
    result = validate_command("UPDATE_STRATEGY", {"strategy_id": "a", "strategy": strategy})
    assert result["strategy"]["settings"]["stop_loss"] == {"atr_mult": 2.0, "atr_period": 10}
    assert result["strategy"]["settings"]["magic"] == 2**64 - 1


def test_rule_expressions_are_not_parsed_here_and_may_span_lines():
    rules = {"entry_short": "this is (not checked here\n  and spans lines", "filters": []}
    strategy = {**MINIMAL_STRATEGY, "rules": rules}
    result = validate_command("START_STRATEGY", {"strategy_id": "a", "strategy": strategy})
    assert result["strategy"]["rules"] == rules


# ------------------------------------------------------------------------- defaults ---
def test_defaults_are_filled_in():
    assert validate_command("STOP_STRATEGY", {"strategy_id": "a"}) == {
        "strategy_id": "a", "close_positions": True}
    assert validate_command("PERFORMANCE_REQUEST", {}) == {"include_trades": False}
    assert validate_command("CLOSE_ALL", {}) == {}
    strategy = validate_command("START_STRATEGY",
                                {"strategy_id": "a", "strategy": MINIMAL_STRATEGY})["strategy"]
    assert strategy["settings"] == {"sizing": {"method": "fixed", "lots": 0.01},
                                    "max_positions": 1}


def test_nested_defaults_are_filled_in():
    settings_ = {"sizing": {"method": "atr_based", "risk_pct": 1, "atr_mult": 2},
                 "stop_loss": {"atr_mult": 3},
                 "partial_exits": [{"at_pips": 10, "close_pct": 50}]}
    strategy = {**MINIMAL_STRATEGY, "settings": settings_}
    result = validate_command("START_STRATEGY", {"strategy_id": "a", "strategy": strategy})
    filled = result["strategy"]["settings"]
    assert filled["sizing"]["atr_period"] == 14
    assert filled["stop_loss"] == {"atr_mult": 3.0, "atr_period": 14}
    assert filled["partial_exits"][0]["move_to_breakeven"] is False


def test_defaults_are_fresh_copies_on_every_call():
    data = {"strategy_id": "a", "strategy": MINIMAL_STRATEGY}
    first = validate_command("START_STRATEGY", data)
    first["strategy"]["settings"]["sizing"]["lots"] = 99.0
    second = validate_command("START_STRATEGY", data)
    assert second["strategy"]["settings"]["sizing"]["lots"] == 0.01
    assert cs.DEFAULT_SIZING == {"method": "fixed", "lots": 0.01}


# ------------------------------------------------------------------ refused values ---
S = "strategy"
SET = "strategy.settings"
# (command, dotted path inside data, bad value, words the message must contain)
BAD_VALUES = [
    ("SET_TRADING_STATE", "state", "PAUSED", "ACTIVE"),
    ("SET_TRADING_STATE", "state", "reducing", "REDUCING"),
    ("START_STRATEGY", "strategy_id", 7, "a string"),
    ("START_STRATEGY", "strategy_id", "x" * 65, "65 characters"),
    ("START_STRATEGY", "strategy_id", "", "0 characters"),
    ("START_STRATEGY", "strategy_id", "has space", "[A-Za-z0-9_.:-]"),
    ("START_STRATEGY", "account", "5001", "an integer"),
    ("START_STRATEGY", "account", 5001.0, "an integer"),
    ("START_STRATEGY", "account", 0, ">= 1"),
    ("START_STRATEGY", "strategy", "sma-cross", "a map {name, symbol, timeframe, rules, settings?}"),
    ("START_STRATEGY", f"{S}.name", 1, "a non-blank string"),
    ("START_STRATEGY", f"{S}.name", "n" * 65, "65 characters"),
    ("START_STRATEGY", f"{S}.name", "   ", "non-blank"),
    ("START_STRATEGY", f"{S}.name", "tab\there", "printable"),
    ("START_STRATEGY", f"{S}.symbol", ["EURUSD"], "a string"),
    ("START_STRATEGY", f"{S}.symbol", "EUR USD", "[A-Za-z0-9._#+-]"),
    ("START_STRATEGY", f"{S}.symbol", "E" * 33, "33 characters"),
    ("START_STRATEGY", f"{S}.timeframe", 5, "one of 'M1', 'M5'"),
    ("START_STRATEGY", f"{S}.timeframe", "M2", "'D1'"),
    ("START_STRATEGY", f"{S}.rules", "close > open", "a map {entry_long?"),
    ("START_STRATEGY", f"{S}.rules.entry_long", 1, "a non-blank string"),
    ("START_STRATEGY", f"{S}.rules.entry_short", "x" * 2001, "2001 characters"),
    ("START_STRATEGY", f"{S}.rules.exit_long", "", "0 characters"),
    ("START_STRATEGY", f"{S}.rules.exit_short", "a\x00b", "printable"),
    ("START_STRATEGY", f"{S}.rules.filters", "adx(14) > 20", "a list"),
    ("START_STRATEGY", f"{S}.rules.filters", ["adx(14) > 20"] * 21, "at most 20"),
    ("START_STRATEGY", f"{S}.settings", [], "a map {sizing?"),
    ("START_STRATEGY", f"{SET}.sizing", "fixed", "a map with method"),
    ("START_STRATEGY", f"{SET}.sizing.lots", "0.1", "a number"),
    ("START_STRATEGY", f"{SET}.sizing.lots", 0, "> 0"),
    ("START_STRATEGY", f"{SET}.sizing.lots", 1000.01, "<= 1000"),
    ("START_STRATEGY", f"{SET}.stop_loss", 20, "exactly one of pips, atr_mult"),
    ("START_STRATEGY", f"{SET}.stop_loss.pips", "20", "a number"),
    ("START_STRATEGY", f"{SET}.stop_loss.pips", 0, "> 0"),
    ("START_STRATEGY", f"{SET}.stop_loss.pips", 100_001, "<= 100000"),
    ("START_STRATEGY", f"{SET}.take_profit", "2R", "exactly one of pips, rr"),
    ("START_STRATEGY", f"{SET}.take_profit.rr", None, "a number"),
    ("START_STRATEGY", f"{SET}.take_profit.rr", -2, "> 0"),
    ("START_STRATEGY", f"{SET}.trailing_stop", 15, "a map {pips, start_pips?, step_pips?}"),
    ("START_STRATEGY", f"{SET}.trailing_stop.pips", "15", "a number"),
    ("START_STRATEGY", f"{SET}.trailing_stop.pips", 0, "> 0"),
    ("START_STRATEGY", f"{SET}.trailing_stop.start_pips", -1, ">= 0"),
    ("START_STRATEGY", f"{SET}.breakeven", True, "a map {trigger_pips, offset_pips?}"),
    ("START_STRATEGY", f"{SET}.breakeven.trigger_pips", [10], "a number"),
    ("START_STRATEGY", f"{SET}.breakeven.trigger_pips", 0, "> 0"),
    ("START_STRATEGY", f"{SET}.breakeven.offset_pips", -0.5, ">= 0"),
    ("START_STRATEGY", f"{SET}.partial_exits", {"at_pips": 20}, "a list of at most 5"),
    ("START_STRATEGY", f"{SET}.partial_exits", [{"at_pips": 1, "close_pct": 10}] * 6,
     "at most 5"),
    ("START_STRATEGY", f"{SET}.partial_exits.0.at_pips", "20", "a number"),
    ("START_STRATEGY", f"{SET}.partial_exits.0.at_pips", 0, "> 0"),
    ("START_STRATEGY", f"{SET}.partial_exits.0.close_pct", 100, "< 100"),
    ("START_STRATEGY", f"{SET}.partial_exits.0.close_pct", "50", "a number"),
    ("START_STRATEGY", f"{SET}.partial_exits.0.move_to_breakeven", 1, "true or false"),
    ("START_STRATEGY", f"{SET}.time_exit", 48, "a map {max_bars?, at_time?}"),
    ("START_STRATEGY", f"{SET}.time_exit.max_bars", 4.5, "an integer"),
    ("START_STRATEGY", f"{SET}.time_exit.max_bars", 0, ">= 1"),
    ("START_STRATEGY", f"{SET}.time_exit.at_time", 2145, "'HH:MM'"),
    ("START_STRATEGY", f"{SET}.time_exit.at_time", "24:00", "00:00..23:59"),
    ("START_STRATEGY", f"{SET}.time_exit.at_time", "9:30", "'HH:MM'"),
    ("START_STRATEGY", f"{SET}.max_positions", 1.0, "an integer"),
    ("START_STRATEGY", f"{SET}.max_positions", 0, ">= 1"),
    ("START_STRATEGY", f"{SET}.magic", "77", "an integer"),
    ("START_STRATEGY", f"{SET}.magic", 0, ">= 1"),
    ("START_STRATEGY", f"{SET}.magic", 2**64, "<= 18446744073709551615"),
    ("START_STRATEGY", f"{SET}.allow_hedge", "yes", "true or false"),
    ("STOP_STRATEGY", "close_positions", 1, "true or false"),
    ("STOP_STRATEGY", "close_positions", "false", "true or false"),
    ("PAUSE_STRATEGY", "strategy_id", None, "a string"),
    ("RESUME_STRATEGY", "strategy_id", "a/b", "[A-Za-z0-9_.:-]"),
    ("UPDATE_STRATEGY", "strategy", None, "a map {name"),
    ("UPDATE_STRATEGY", f"{S}.timeframe", "W1", "one of"),
    ("OPEN_POSITION", "account", -1, ">= 1"),
    ("OPEN_POSITION", "symbol", 1, "a string"),
    ("OPEN_POSITION", "symbol", "", "0 characters"),
    ("OPEN_POSITION", "side", "long", "'buy' or 'sell', got 'long'"),
    ("OPEN_POSITION", "side", 0, "'buy' or 'sell'"),
    ("OPEN_POSITION", "volume", "0.1", "a number"),
    ("OPEN_POSITION", "volume", 0, "> 0"),
    ("OPEN_POSITION", "volume", 1000.5, "<= 1000"),
    ("OPEN_POSITION", "volume", math.inf, "got inf"),
    ("OPEN_POSITION", "volume", 10**400, "<= 1000"),
    ("OPEN_POSITION", "sl", "1.09", "a number"),
    ("OPEN_POSITION", "sl", -1.0, ">= 0"),
    ("OPEN_POSITION", "tp", -math.inf, ">= 0"),
    ("OPEN_POSITION", "tp", {}, "a number"),
    ("OPEN_POSITION", "comment", 5, "a string"),
    ("OPEN_POSITION", "comment", "c" * 32, "32 characters"),
    ("OPEN_POSITION", "comment", "two\nlines", "printable"),
    ("CLOSE_POSITION", "ticket", "123", "an integer"),
    ("CLOSE_POSITION", "ticket", 123.0, "an integer"),
    ("CLOSE_POSITION", "ticket", 0, ">= 1"),
    ("CLOSE_POSITION", "ticket", 2**64, "<= 18446744073709551615"),
    ("CLOSE_POSITION", "volume", "all", "a number"),
    ("CLOSE_POSITION", "volume", -0.01, "> 0"),
    ("MODIFY_POSITION", "ticket", -5, ">= 1"),
    ("MODIFY_POSITION", "sl", "1.1", "a number"),
    ("MODIFY_POSITION", "tp", -0.0001, ">= 0"),
    ("CLOSE_ALL", "account", "5001", "an integer"),
    ("CLOSE_ALL", "symbol", "EURUSD!", "[A-Za-z0-9._#+-]"),
    ("CLOSE_ALL", "strategy_id", "x" * 65, "65 characters"),
    ("UPDATE_RISK_LIMITS", "account", 0, ">= 1"),
    ("UPDATE_RISK_LIMITS", "limits", [1], "a map {max_daily_loss_pct?"),
    ("UPDATE_RISK_LIMITS", "limits.max_daily_loss_pct", "3%", "a number"),
    ("UPDATE_RISK_LIMITS", "limits.max_daily_loss_pct", 0, "> 0"),
    ("UPDATE_RISK_LIMITS", "limits.max_drawdown_pct", 100.1, "<= 100"),
    ("UPDATE_RISK_LIMITS", "limits.max_drawdown_pct", None, "a number"),
    ("UPDATE_RISK_LIMITS", "limits.max_lot_size", 0, "> 0"),
    ("UPDATE_RISK_LIMITS", "limits.max_lot_size", "2", "a number"),
    ("UPDATE_RISK_LIMITS", "limits.max_positions", -1, ">= 0"),
    ("UPDATE_RISK_LIMITS", "limits.max_positions", 2.5, "an integer"),
    ("UPDATE_RISK_LIMITS", "limits.max_positions_per_strategy", -1, ">= 0"),
    ("UPDATE_RISK_LIMITS", "limits.max_positions_per_strategy", "2", "an integer"),
    ("UPDATE_RISK_LIMITS", "limits.max_correlation", 1.01, "<= 1"),
    ("UPDATE_RISK_LIMITS", "limits.max_correlation", -0.1, ">= 0"),
    ("UPDATE_RISK_LIMITS", "limits.max_correlation", "high", "a number"),
    ("UPDATE_RISK_LIMITS", "limits.max_orders_per_minute", 0, ">= 1"),
    ("UPDATE_RISK_LIMITS", "limits.max_orders_per_minute", 30.0, "an integer"),
    ("UPDATE_RISK_LIMITS", "limits.correlation_action", "ignore", "'refuse' or 'reduce'"),
    ("UPDATE_RISK_LIMITS", "limits.correlation_window", 19, ">= 20"),
    ("UPDATE_RISK_LIMITS", "limits.max_currency_exposure_lots", 0, "> 0"),
    ("UPDATE_RISK_LIMITS", "limits.min_margin_level_pct", -1, ">= 0"),
    ("UPDATE_RISK_LIMITS", "limits.session_close_buffer_min", 1441, "<= 1440"),
    ("UPDATE_RISK_LIMITS", "limits.news_blackout_min", "5", "a number"),
    ("UPDATE_RISK_LIMITS", "limits.no_trade_windows", "22:00-23:00", "a list of at most 10 items"),
    ("EMERGENCY_STOP", "reason", "", "0 characters"),
    ("EMERGENCY_STOP", "reason", "   ", "non-blank"),
    ("EMERGENCY_STOP", "reason", "r" * 201, "201 characters"),
    ("EMERGENCY_STOP", "reason", 42, "a non-blank string"),
    ("PERFORMANCE_REQUEST", "strategy_id", 1, "a string"),
    ("PERFORMANCE_REQUEST", "account", "5001", "an integer"),
    ("PERFORMANCE_REQUEST", "include_trades", 0, "true or false"),
]


def _data_path(path: str) -> str:
    """The field name an error carries: `data.` prefix, list indexes as `[i]`."""
    parts = ["data"]
    for part in path.split("."):
        if part.isdigit():
            parts[-1] += f"[{part}]"
        else:
            parts.append(part)
    return ".".join(parts)


@pytest.mark.parametrize(("command", "path", "value", "words"), BAD_VALUES,
                         ids=[f"{row[0]}:{row[1]}={row[2]!r:.20}" for row in BAD_VALUES])
def test_bad_value_is_refused_naming_the_field(command, path, value, words):
    error = refusal(command, with_value(VALID[command], path, value))
    field = _data_path(path)
    assert error.field == field
    message = str(error)
    assert message.startswith(f"{field} must be ")
    assert words in message
    assert ", got " in message


# Where sizing sits in each command that has one, and a value for each method's keys.
SIZING_PATHS = [("OPEN_POSITION", "sizing"), ("START_STRATEGY", f"{SET}.sizing")]
BAD_SIZINGS = [
    ({"method": "martingale", "lots": 1}, "method", "one of 'fixed', 'percentage_risk'"),
    ({"method": 1}, "method", "one of 'fixed'"),
    ({"method": "fixed", "lots": True}, "lots", "a number > 0"),
    ({"method": "percentage_risk", "risk_pct": 0}, "risk_pct", "> 0 and <= 100"),
    ({"method": "percentage_risk", "risk_pct": 101}, "risk_pct", "<= 100"),
    ({"method": "percentage_risk", "risk_pct": "1"}, "risk_pct", "a number"),
    ({"method": "atr_based", "risk_pct": 1, "atr_mult": 0}, "atr_mult", "> 0"),
    ({"method": "atr_based", "risk_pct": 1, "atr_mult": "2"}, "atr_mult", "a number"),
    ({"method": "atr_based", "risk_pct": 1, "atr_mult": 2, "atr_period": 0}, "atr_period", ">= 1"),
    ({"method": "atr_based", "risk_pct": 1, "atr_mult": 2, "atr_period": 14.0}, "atr_period",
     "an integer"),
    ({"method": "kelly_criterion", "fraction": 1.5}, "fraction", "<= 1"),
    ({"method": "kelly_criterion", "fraction": "half"}, "fraction", "a number"),
    ({"method": "kelly_criterion", "fraction": 0.5, "max_risk_pct": 0}, "max_risk_pct", "> 0"),
    ({"method": "volatility_based", "target_vol_pct": -1}, "target_vol_pct", "> 0"),
    ({"method": "volatility_based", "target_vol_pct": None}, "target_vol_pct", "a number"),
]


@pytest.mark.parametrize(("command", "path"), SIZING_PATHS)
@pytest.mark.parametrize(("sizing", "key", "words"), BAD_SIZINGS)
def test_bad_sizing_is_refused_naming_the_field(command, path, sizing, key, words):
    data = with_value(VALID[command], path, sizing)
    if command == "OPEN_POSITION":
        data = without(data, "volume")
    error = refusal(command, data)
    assert error.field == f"{_data_path(path)}.{key}"
    assert words in str(error)


@pytest.mark.parametrize(("windows", "field", "words"), [
    ([["22:00"]], "no_trade_windows[0]", "a list of 2 items"),
    ([["22:00", "24:00"]], "no_trade_windows[0][1]", "'HH:MM'"),
])
def test_no_trade_windows_are_pairs_of_times(windows, field, words):
    error = refusal("UPDATE_RISK_LIMITS", {"limits": {"no_trade_windows": windows}})
    assert error.field == f"data.limits.{field}"
    assert words in str(error)


def test_every_limit_the_risk_guard_knows_is_accepted():
    limits = {"correlation_action": "refuse", "correlation_window": 50, "max_currency_exposure_lots": 2.5,
              "min_margin_level_pct": 150, "session_close_buffer_min": 3, "news_blackout_min": 10,
              "no_trade_windows": [["22:00", "23:00"]], "max_orders_per_minute_per_strategy": 4}
    assert validate_command("UPDATE_RISK_LIMITS", {"limits": limits})["limits"] == limits


@pytest.mark.parametrize("value", [True, False])
@pytest.mark.parametrize(("command", "path"), [
    ("OPEN_POSITION", "volume"), ("OPEN_POSITION", "sl"), ("OPEN_POSITION", "account"),
    ("CLOSE_POSITION", "ticket"), ("START_STRATEGY", f"{SET}.max_positions"),
    ("UPDATE_RISK_LIMITS", "limits.max_correlation"), ("START_STRATEGY", f"{SET}.magic"),
])
def test_bool_is_not_a_number(command, path, value):
    error = refusal(command, with_value(VALID[command], path, value))
    assert error.field == _data_path(path)
    assert f"got {value!r}" in str(error)


@pytest.mark.parametrize("value", [math.nan, -math.nan, math.inf])
@pytest.mark.parametrize("path", ["volume", "sl", "tp"])
def test_nan_and_infinity_are_refused(path, value):
    data = with_value(VALID["OPEN_POSITION"], path, value)
    assert refusal("OPEN_POSITION", data).field == f"data.{path}"


# ---------------------------------------------------------- missing and contradictory ---
REQUIRED = [
    ("START_STRATEGY", "strategy_id"), ("START_STRATEGY", "strategy"),
    ("STOP_STRATEGY", "strategy_id"), ("PAUSE_STRATEGY", "strategy_id"),
    ("RESUME_STRATEGY", "strategy_id"), ("UPDATE_STRATEGY", "strategy_id"),
    ("UPDATE_STRATEGY", "strategy"), ("OPEN_POSITION", "symbol"), ("OPEN_POSITION", "side"),
    ("CLOSE_POSITION", "ticket"), ("MODIFY_POSITION", "ticket"),
    ("UPDATE_RISK_LIMITS", "limits"),
]


def test_emergency_stop_without_a_reason_is_still_an_emergency_stop():
    assert validate_command("EMERGENCY_STOP", {}) == {"reason": "EMERGENCY_STOP"}


@pytest.mark.parametrize(("command", "key"), REQUIRED)
def test_missing_required_key_is_named(command, key):
    error = refusal(command, without(VALID[command], key))
    assert error.field == f"data.{key}"
    assert str(error).startswith(f"data.{key} is required: ")


@pytest.mark.parametrize("key", ["name", "symbol", "timeframe", "rules"])
def test_strategy_definition_requires_its_keys(key):
    data = {"strategy_id": "a", "strategy": without(API_STRATEGY, key)}
    error = refusal("START_STRATEGY", data)
    assert error.field == f"data.strategy.{key}"
    assert "is required" in str(error)


@pytest.mark.parametrize(("command", "data", "field", "words"), [
    ("START_STRATEGY", with_value(VALID["START_STRATEGY"], f"{S}.rules",
                                  {"exit_long": "close < open"}),
     "data.strategy.rules", "at least one of entry_long, entry_short"),
    ("UPDATE_RISK_LIMITS", {"limits": {}}, "data.limits", "at least one of max_daily_loss_pct"),
    ("MODIFY_POSITION", {"ticket": 1}, "data", "at least one of sl, tp"),
    ("START_STRATEGY", with_value(VALID["START_STRATEGY"], f"{SET}.time_exit", {}),
     "data.strategy.settings.time_exit", "at least one of max_bars, at_time"),
    ("OPEN_POSITION", {**VALID["OPEN_POSITION"], "sizing": {"method": "fixed", "lots": 1}},
     "data.sizing", "volume or sizing, not both"),
    ("OPEN_POSITION", {**VALID["OPEN_POSITION"], "sl_pips": 20}, "data.sl_pips",
     "sl or sl_pips, not both"),
    ("OPEN_POSITION", {**VALID["OPEN_POSITION"], "tp_pips": 20}, "data.tp_pips",
     "tp or tp_pips, not both"),
    ("START_STRATEGY", with_value(VALID["START_STRATEGY"], f"{SET}.stop_loss",
                                  {"pips": 20, "atr_mult": 2}),
     "data.strategy.settings.stop_loss", "exactly one of pips, atr_mult, got pips and atr_mult"),
    ("START_STRATEGY", with_value(VALID["START_STRATEGY"], f"{SET}.take_profit", {}),
     "data.strategy.settings.take_profit", "exactly one of pips, rr, got none"),
    ("START_STRATEGY", with_value(VALID["START_STRATEGY"], f"{SET}.partial_exits",
                                  [{"close_pct": 50}]),
     "data.strategy.settings.partial_exits[0]", "exactly one of at_pips, at_r"),
    ("START_STRATEGY", with_value(VALID["START_STRATEGY"], f"{SET}.sizing", {"lots": 1}),
     "data.strategy.settings.sizing.method", "is required: one of 'fixed'"),
    ("START_STRATEGY", with_value(VALID["START_STRATEGY"], f"{SET}.sizing",
                                  {"method": "percentage_risk"}),
     "data.strategy.settings.sizing.risk_pct", "is required: a number > 0 and <= 100"),
])
def test_combination_rules(command, data, field, words):
    error = refusal(command, data)
    assert error.field == field
    assert words in str(error)


# ------------------------------------------------------------------- unknown keys ---
# (command, the map's dotted path inside data ("" = data itself), its allowed keys)
MAPS = [(command, "", ", ".join(VALID[command]) or "none") for command in sorted(VALID)
        if command not in ("OPEN_POSITION", "PERFORMANCE_REQUEST", "CLOSE_POSITION", "MODIFY_POSITION")] + [
    ("OPEN_POSITION", "", "account, symbol, side, volume, sizing, sl, tp, sl_pips, tp_pips, "
                          "comment"),
    ("CLOSE_POSITION", "", "ticket, volume, account"),
    ("MODIFY_POSITION", "", "ticket, sl, tp, account"),
    ("PERFORMANCE_REQUEST", "", "strategy_id, account, include_trades"),
    ("START_STRATEGY", S, "name, symbol, timeframe, rules, settings"),
    ("UPDATE_STRATEGY", S, "name, symbol, timeframe, rules, settings"),
    ("START_STRATEGY", f"{S}.rules", "entry_long, entry_short, exit_long, exit_short, filters"),
    ("START_STRATEGY", SET, "sizing, stop_loss, take_profit, trailing_stop, breakeven, "
                            "partial_exits, time_exit, max_positions, magic, allow_hedge"),
    ("START_STRATEGY", f"{SET}.sizing", "method, lots"),
    ("START_STRATEGY", f"{SET}.stop_loss", "pips"),
    ("START_STRATEGY", f"{SET}.take_profit", "rr"),
    ("START_STRATEGY", f"{SET}.trailing_stop", "pips, start_pips, step_pips"),
    ("START_STRATEGY", f"{SET}.breakeven", "trigger_pips, offset_pips"),
    ("START_STRATEGY", f"{SET}.partial_exits.0", "at_pips, close_pct, move_to_breakeven"),
    ("START_STRATEGY", f"{SET}.time_exit", "max_bars, at_time"),
    ("UPDATE_RISK_LIMITS", "limits", ", ".join(LIMIT_RULES)),  # every limit the RiskGuard knows
]


@pytest.mark.parametrize(("command", "path", "allowed"), MAPS,
                         ids=[f"{row[0]}:{row[1] or 'data'}" for row in MAPS])
def test_unknown_key_is_refused_listing_the_allowed_ones(command, path, allowed):
    key_path = f"{path}.bogus" if path else "bogus"
    error = refusal(command, with_value(VALID[command], key_path, 1))
    field = _data_path(key_path)
    assert error.field == field
    assert str(error) == f"{field} is not allowed; allowed keys: {allowed}"


@pytest.mark.parametrize(("sizing", "allowed"), [
    ({"method": "percentage_risk", "risk_pct": 1, "lots": 1}, "method, risk_pct"),
    ({"method": "atr_based", "risk_pct": 1, "atr_mult": 2, "fraction": 1},
     "method, risk_pct, atr_mult, atr_period"),
    ({"method": "kelly_criterion", "fraction": 0.5, "lots": 1}, "method, fraction, max_risk_pct, min_trades, floor_risk_pct"),
    ({"method": "volatility_based", "target_vol_pct": 10, "risk_pct": 1},
     "method, target_vol_pct"),
])
def test_a_sizing_method_refuses_another_methods_parameters(sizing, allowed):
    error = refusal("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "sizing": sizing})
    assert error.field.startswith("data.sizing.")
    assert str(error).endswith(f"allowed keys: {allowed}")


def test_a_shape_refuses_the_other_shapes_keys():
    data = with_value(VALID["START_STRATEGY"], f"{SET}.stop_loss", {"pips": 20, "atr_period": 14})
    error = refusal("START_STRATEGY", data)
    assert error.field == "data.strategy.settings.stop_loss.atr_period"


def test_non_string_keys_are_refused():
    error = refusal("PING", {1: 2})
    assert error.field == "data"
    assert "keys must be strings" in str(error)


@pytest.mark.parametrize("data", [None, [], "x", 1])
def test_data_must_be_a_map(data):
    error = refusal("PING", data)
    assert error.field == "data"
    assert str(error).startswith("data must be a map {}")


def test_hostile_values_are_not_echoed_whole():
    huge = "A" * 65_536
    for data in ({"symbol": huge, "side": "buy"}, {"symbol": "EURUSD", "side": huge},
                 {"symbol": "EURUSD", "side": "buy", huge + "\n": 1}):
        assert len(str(refusal("OPEN_POSITION", data))) < 300


# ----------------------------------------------------------------- unknown command ---
@pytest.mark.parametrize("command", ["FOO", "ping", "", None, 5])
def test_unknown_command(command):
    with pytest.raises(UnknownCommand) as caught:
        validate_command(command, {})
    assert caught.value.type == command
    assert "use one of CLOSE_ALL" in str(caught.value)
    assert not isinstance(caught.value, SchemaError)  # it maps to UNKNOWN_COMMAND, not BAD_REQUEST


# ------------------------------------------------------------------------ envelope ---
REQUEST = {"v": 1, "id": "req-1", "type": "PING", "data": {}, "ts": 1_700_000_000_000,
           "otp": "123456"}


def test_envelope_is_returned_frozen():
    envelope = validate_envelope(REQUEST)
    assert envelope == Envelope(v=1, id="req-1", type="PING", data={}, ts=1_700_000_000_000,
                                otp="123456")
    with pytest.raises(dataclasses.FrozenInstanceError):
        envelope.id = "other"


def test_envelope_optional_keys():
    envelope = validate_envelope({"v": 1, "id": "x", "type": "STATUS_REQUEST"})
    assert (envelope.data, envelope.ts, envelope.otp) == ({}, None, None)


def test_envelope_does_not_judge_the_command():
    envelope = validate_envelope({"v": 1, "id": "x", "type": "NOPE", "data": {"any": [1]}})
    assert (envelope.type, envelope.data) == ("NOPE", {"any": [1]})


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"id": None}, "id", "id is required"),
    ({"id": "i" * 65}, "id", "65 characters"),
    ({"id": ""}, "id", "0 characters"),
    ({"id": 17}, "id", "a non-blank string of 1..64 printable characters, got 17"),
    ({"id": "a\x00b"}, "id", "printable"),
    ({"v": None}, "v", "v is required: 1"),
    ({"v": 2}, "v", "v must be 1, got 2"),
    ({"v": True}, "v", "v must be 1, got True"),
    ({"v": "1"}, "v", "got '1'"),
    ({"v": 1.0}, "v", "got 1.0"),
    ({"type": None}, "type", "type is required"),
    ({"type": 3}, "type", "a non-blank string"),
    ({"data": []}, "data", "data must be a map with string keys, got a list"),
    ({"data": "PING"}, "data", "a map"),
    ({"data": {1: 2}}, "data", "a map with string keys"),
    ({"ts": "now"}, "ts", "an integer"),
    ({"ts": True}, "ts", "an integer"),
    ({"ts": -1}, "ts", ">= 0"),
    ({"ts": 1.7e12}, "ts", "an integer"),
    ({"otp": 123456}, "otp", "a non-blank string"),
    ({"otp": "1" * 17}, "otp", "17 characters"),
    ({"sig": "ab"}, "sig", "sig is not allowed; allowed keys: v, id, type, data, ts, otp"),
])
def test_bad_envelope(change, field, words):
    request = {key: value for key, value in {**REQUEST, **change}.items() if value is not None}
    with pytest.raises(SchemaError) as caught:
        validate_envelope(request)
    assert caught.value.field == field
    assert words in str(caught.value)


@pytest.mark.parametrize("request_", [None, [], "PING", b"\x81", 1])
def test_request_must_be_a_map(request_):
    with pytest.raises(SchemaError) as caught:
        validate_envelope(request_)
    assert caught.value.field == ""
    assert str(caught.value).startswith("the request must be a map with keys v, id, type")


@pytest.mark.parametrize(("request_", "expected"), [
    ({"v": 99, "id": "keep-me", "bogus": 1}, "keep-me"),
    (REQUEST, "req-1"),
    ({"id": "i" * 65}, None),
    ({"id": 7}, None),
    ({"id": ""}, None),
    ({"v": 1}, None),
    ([("id", "x")], None),
    (None, None),
])
def test_request_id_of(request_, expected):
    assert request_id_of(request_) == expected


def test_validate_request_checks_and_normalises_the_data():
    envelope = validate_request({"v": 1, "id": "r", "type": "STOP_STRATEGY",
                                 "data": {"strategy_id": "sma-1"}})
    assert envelope.data == {"strategy_id": "sma-1", "close_positions": True}
    with pytest.raises(UnknownCommand):
        validate_request({"v": 1, "id": "r", "type": "LAUNCH_ROCKETS"})
    with pytest.raises(SchemaError) as caught:
        validate_request({"v": 1, "id": "r", "type": "CLOSE_POSITION", "data": {"ticket": "1"}})
    assert caught.value.field == "data.ticket"


def test_a_decoded_msgpack_frame_validates():
    frame = msgpack.packb({"v": 1, "id": "m-1", "type": "START_STRATEGY",
                           "data": VALID["START_STRATEGY"]})
    # use_list=False turns arrays into tuples: lists must still be accepted (and come back as lists)
    request = msgpack.unpackb(frame, raw=False, use_list=False)
    envelope = validate_request(request)
    assert envelope.data == VALID["START_STRATEGY"]
    assert envelope.data["strategy"]["rules"]["filters"] == ["adx(14) > 20"]


# --------------------------------------------------------------------------- fuzz ---
msgpack_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats() | st.text(max_size=40) | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                  max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(command=st.sampled_from(sorted(COMMANDS)), data=msgpack_values)
def test_any_data_is_accepted_or_refused_cleanly(command, data):
    try:
        validate_command(command, data)
    except SchemaError as error:
        assert error.field.startswith("data")


def _leaf_paths(node, prefix=""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaf_paths(value, f"{prefix}.{key}" if prefix else key)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaf_paths(value, f"{prefix}.{index}")
    if prefix:
        yield prefix


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_single_corruption_of_a_valid_example_is_handled(data):
    command = data.draw(st.sampled_from(sorted(c for c in VALID if VALID[c])))
    path = data.draw(st.sampled_from(sorted(_leaf_paths(VALID[command]))))
    corrupted = with_value(VALID[command], path, data.draw(msgpack_values))
    try:
        result = validate_command(command, corrupted)
    except SchemaError as error:
        assert error.field.startswith("data")
    else:
        assert isinstance(result, dict)
