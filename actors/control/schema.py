"""Whitelist schemas for the control API (CONTROL_API.md): the request envelope and the
`data` of every command.

This module owns the answer to "is this request well formed?": types, bounds, allowed
keys and defaults. It does not decide whether a request may run (auth, rate limits, risk)
and does not parse rule expressions (actors/rules/program.py does; here they are only strings of
bounded length). It is pure: the ControlServer calls it after decoding a frame and maps
`SchemaError` to `BAD_REQUEST` and `UnknownCommand` to `UNKNOWN_COMMAND`.

Field paths in errors are the request's own keys: `id`, `v`, `data.side`,
`data.strategy.settings.sizing.lots`, `data.strategy.rules.filters[2]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.schema import (
    AnyMap, Bool, Choice, Const, Int, ListOf, Map, Match, Num, SchemaError, ShapeByKey, Str,
    Tagged, opt, req, show,
)
from actors.risk.limits import ACTIONS, CORRELATION_TIMEFRAMES, LIMIT_RULES, Rule
from bridge.mt5 import TIMEFRAME_SECONDS

__all__ = [
    "COMMANDS", "Envelope", "SchemaError", "UnknownCommand", "request_id_of",
    "validate_command", "validate_envelope",
]

PROTOCOL_VERSION = 1
UINT64_MAX = 2**64 - 1
INT64_MAX = 2**63 - 1

# --- command types ---
START_STRATEGY = "START_STRATEGY"
STOP_STRATEGY = "STOP_STRATEGY"
PAUSE_STRATEGY = "PAUSE_STRATEGY"
RESUME_STRATEGY = "RESUME_STRATEGY"
UPDATE_STRATEGY = "UPDATE_STRATEGY"
OPEN_POSITION = "OPEN_POSITION"
CLOSE_POSITION = "CLOSE_POSITION"
MODIFY_POSITION = "MODIFY_POSITION"
CLOSE_ALL = "CLOSE_ALL"
UPDATE_RISK_LIMITS = "UPDATE_RISK_LIMITS"
EMERGENCY_STOP = "EMERGENCY_STOP"
RESET_KILL_SWITCH = "RESET_KILL_SWITCH"
SET_TRADING_STATE = "SET_TRADING_STATE"  # an extension of CONTROL_API.md: an account's ACTIVE/REDUCING/HALTED
STATUS_REQUEST = "STATUS_REQUEST"
PERFORMANCE_REQUEST = "PERFORMANCE_REQUEST"
PING = "PING"

TIMEFRAMES = tuple(TIMEFRAME_SECONDS)
DEFAULT_SIZING = {"method": "fixed", "lots": 0.01}
DEFAULT_ATR_PERIOD = 14  # TA-Lib's ATR default


class UnknownCommand(ValueError):
    """A `type` that names no command; `type` is what the client sent."""

    def __init__(self, type: str) -> None:
        self.type = type
        super().__init__(f"unknown command {show(type)}; use one of {', '.join(sorted(COMMANDS))}")


# ------------------------------------------------------------------- field types ---
STRATEGY_ID = Str(1, 64, charset="A-Za-z0-9_.:-")
ACCOUNT = Int(ge=1, le=UINT64_MAX)  # an MT5 login
SYMBOL = Str(1, 32, charset="A-Za-z0-9._#+-")
SIDE = Choice(("buy", "sell"))
VOLUME = Num(gt=0, le=1000)  # lots
PRICE = Num(ge=0)  # absolute SL/TP; 0 means none, as in MT5
PIPS = Num(gt=0, le=100_000)
PIPS_OR_ZERO = Num(ge=0, le=100_000)
TICKET = Int(ge=1, le=UINT64_MAX)  # tickets are uint64 on the wire: never narrowed
COMMENT = Str(0, 31)  # MT5 truncates order comments at 31 characters
REASON = Str(1, 200)
PERCENT = Num(gt=0, le=100)
RATIO = Num(gt=0, le=100)  # reward:risk, R multiples, ATR multiples
ATR_PERIOD = Int(ge=1, le=1000)
RULE = Str(1, 2000, multiline=True)
HHMM = Match(r"([01][0-9]|2[0-3]):[0-5][0-9]", "a time of day 'HH:MM' (00:00..23:59)")

SIZING = Tagged("method", {
    "fixed": Map({"lots": req(VOLUME)}),
    "percentage_risk": Map({"risk_pct": req(PERCENT)}),
    "atr_based": Map({"risk_pct": req(PERCENT), "atr_mult": req(RATIO),
                      "atr_period": opt(ATR_PERIOD, DEFAULT_ATR_PERIOD)}),
    # min_trades and floor_risk_pct extend the contract: how much history Kelly needs, and what
    # to risk until the strategy has it (sizing.KELLY_MIN_TRADES, KELLY_FLOOR_RISK_PCT by default).
    "kelly_criterion": Map({"fraction": req(Num(gt=0, le=1)), "max_risk_pct": opt(PERCENT),
                            "min_trades": opt(Int(ge=2, le=10_000)), "floor_risk_pct": opt(PERCENT)}),
    "volatility_based": Map({"target_vol_pct": req(PERCENT)}),
})

# ------------------------------------------------------------ strategy definition ---
RULES = Map({
    "entry_long": opt(RULE),
    "entry_short": opt(RULE),
    "exit_long": opt(RULE),
    "exit_short": opt(RULE),
    "filters": opt(ListOf(RULE, max_items=20)),
}, at_least_one_of=("entry_long", "entry_short"))

STOP_LOSS = ShapeByKey({
    "pips": Map({"pips": req(PIPS)}),
    "atr_mult": Map({"atr_mult": req(RATIO), "atr_period": opt(ATR_PERIOD, DEFAULT_ATR_PERIOD)}),
})
TAKE_PROFIT = ShapeByKey({
    "pips": Map({"pips": req(PIPS)}),
    "rr": Map({"rr": req(RATIO)}),
})
TRAILING_STOP = Map({"pips": req(PIPS), "start_pips": opt(PIPS_OR_ZERO), "step_pips": opt(PIPS)})
BREAKEVEN = Map({"trigger_pips": req(PIPS), "offset_pips": opt(PIPS_OR_ZERO)})

_PARTIAL_EXIT_REST = {
    "close_pct": req(Num(gt=0, lt=100)),  # 100 % would be a full exit, not a partial one
    "move_to_breakeven": opt(Bool(), False),
}
PARTIAL_EXIT = ShapeByKey({
    "at_pips": Map({"at_pips": req(PIPS), **_PARTIAL_EXIT_REST}),
    "at_r": Map({"at_r": req(RATIO), **_PARTIAL_EXIT_REST}),
})
TIME_EXIT = Map({"max_bars": opt(Int(ge=1, le=1_000_000)), "at_time": opt(HHMM)},
                at_least_one_of=("max_bars", "at_time"))

SETTINGS = Map({
    "sizing": opt(SIZING, DEFAULT_SIZING),
    "stop_loss": opt(STOP_LOSS),
    "take_profit": opt(TAKE_PROFIT),
    "trailing_stop": opt(TRAILING_STOP),
    "breakeven": opt(BREAKEVEN),
    "partial_exits": opt(ListOf(PARTIAL_EXIT, max_items=5)),
    "time_exit": opt(TIME_EXIT),
    "max_positions": opt(Int(ge=1, le=1000), 1),
    "magic": opt(Int(ge=1, le=UINT64_MAX)),  # 0 is what MT5 gives manual trades
    "allow_hedge": opt(Bool()),
})

STRATEGY = Map({
    "name": req(Str(1, 64)),
    "symbol": req(SYMBOL),
    "timeframe": req(Choice(TIMEFRAMES)),
    "rules": req(RULES),
    "settings": opt(SETTINGS, {}),
})


def _limit_check(rule: Rule) -> Any:
    """The wire check of one risk limit, from the rule RiskGuard applies, so the two agree."""
    match rule.kind:
        case "action":
            return Choice(ACTIONS)
        case "timeframe":
            return Choice(CORRELATION_TIMEFRAMES)
        case "windows":
            return ListOf(ListOf(HHMM, max_items=2, min_items=2), max_items=10)  # [["HH:MM", "HH:MM"], ...]
        case _:
            kind = Int if rule.kind == "int" else Num
            return kind(gt=rule.low, le=rule.high) if rule.low_open else kind(ge=rule.low, le=rule.high)


_RISK_LIMIT_KEYS = {key: opt(_limit_check(rule)) for key, rule in LIMIT_RULES.items()}
RISK_LIMITS = Map(_RISK_LIMIT_KEYS, at_least_one_of=tuple(_RISK_LIMIT_KEYS))

# ----------------------------------------------------------------- command data ---
_STRATEGY_ONLY = Map({"strategy_id": req(STRATEGY_ID)})
_NO_ARGUMENTS = Map({})

_COMMAND_SCHEMAS: dict[str, Map] = {
    START_STRATEGY: Map({"strategy_id": req(STRATEGY_ID), "account": opt(ACCOUNT),
                         "strategy": req(STRATEGY)}),
    STOP_STRATEGY: Map({"strategy_id": req(STRATEGY_ID), "close_positions": opt(Bool(), True)}),
    PAUSE_STRATEGY: _STRATEGY_ONLY,
    RESUME_STRATEGY: _STRATEGY_ONLY,
    UPDATE_STRATEGY: Map({"strategy_id": req(STRATEGY_ID), "strategy": req(STRATEGY)}),
    OPEN_POSITION: Map({
        "account": opt(ACCOUNT), "symbol": req(SYMBOL), "side": req(SIDE),
        "volume": opt(VOLUME), "sizing": opt(SIZING),
        "sl": opt(PRICE), "tp": opt(PRICE), "sl_pips": opt(PIPS), "tp_pips": opt(PIPS),
        "comment": opt(COMMENT),
    }, exclusive=(("volume", "sizing"), ("sl", "sl_pips"), ("tp", "tp_pips"))),
    # `account` extends the contract: tickets of two brokers can collide.
    CLOSE_POSITION: Map({"ticket": req(TICKET), "volume": opt(VOLUME), "account": opt(ACCOUNT)}),
    MODIFY_POSITION: Map({"ticket": req(TICKET), "sl": opt(PRICE), "tp": opt(PRICE), "account": opt(ACCOUNT)},
                         at_least_one_of=("sl", "tp")),
    CLOSE_ALL: Map({"account": opt(ACCOUNT), "symbol": opt(SYMBOL),
                    "strategy_id": opt(STRATEGY_ID)}),
    UPDATE_RISK_LIMITS: Map({"account": opt(ACCOUNT), "limits": req(RISK_LIMITS)}),
    # In an emergency a missing reason must not cost a round trip: it defaults.
    EMERGENCY_STOP: Map({"reason": opt(REASON, "EMERGENCY_STOP")}),
    RESET_KILL_SWITCH: _NO_ARGUMENTS,
    SET_TRADING_STATE: Map({"account": opt(ACCOUNT), "state": req(Choice(("ACTIVE", "REDUCING", "HALTED"))),
                            "reason": opt(REASON)}),
    STATUS_REQUEST: _NO_ARGUMENTS,
    PERFORMANCE_REQUEST: Map({"strategy_id": opt(STRATEGY_ID), "account": opt(ACCOUNT),
                              "include_trades": opt(Bool(), False)}),
    PING: _NO_ARGUMENTS,
}

COMMANDS: frozenset[str] = frozenset(_COMMAND_SCHEMAS)


def validate_command(type: str, data: dict) -> dict:
    """A normalised copy of `data` for command `type`, defaults filled in.

    Raises `UnknownCommand` for a type not in `COMMANDS`, `SchemaError` otherwise.
    """
    schema = _COMMAND_SCHEMAS.get(type) if isinstance(type, str) else None
    if schema is None:
        raise UnknownCommand(type)
    return schema(data, "data")


# ---------------------------------------------------------------------- envelope ---
REQUEST_ID = Str(1, 64)

_ENVELOPE = Map({
    "v": req(Const(PROTOCOL_VERSION)),
    "id": req(REQUEST_ID),
    "type": req(Str(1, 64)),
    "data": opt(AnyMap(), {}),
    "ts": opt(Int(ge=0, le=INT64_MAX)),  # ms since the Unix epoch
    "otp": opt(Str(1, 16)),
})


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope:
    """A request whose envelope is well formed; `data` is not yet checked by its command."""

    v: int
    id: str
    type: str
    data: dict[str, Any]
    ts: int | None = None
    otp: str | None = None


def validate_envelope(request: object) -> Envelope:
    """Check the request map of CONTROL_API "Request"; `data` absent becomes {}."""
    if not isinstance(request, dict):
        raise SchemaError("", f"the request must be a map with keys {', '.join(_ENVELOPE.keys)}, "
                              f"got {show(request)}")
    return Envelope(**_ENVELOPE(request, ""))


def request_id_of(request: object) -> str | None:
    """The request's `id` if it is a valid one, else None: what an error reply echoes."""
    if not isinstance(request, dict) or "id" not in request:
        return None
    try:
        return REQUEST_ID(request["id"], "id")
    except SchemaError:
        return None
