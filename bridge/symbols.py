"""Symbol specifications of the simulated trade server: the fixtures and the user's overrides.

This module owns `SymbolSpec` (a symbol as the trade server knows it, with the field names of
the MetaTrader5 package's `symbol_info`, plus the random-walk parameters of the price
generator), the symbols the simulator ships (`DEFAULT_SYMBOLS`), loading a broker's symbols
from a JSON file, and MT5's `group` filter syntax.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge import mt5
from bridge.json_file import read_json

FILLING_FOK_IOC = mt5.SYMBOL_FILLING_FOK | mt5.SYMBOL_FILLING_IOC
WEDNESDAY = 3  # swap_rollover3days counts days from Sunday = 0, as MQL5's ENUM_DAY_OF_WEEK
# SymbolInfo.order_mode flags (SYMBOL_ORDER_*), missing from the MetaTrader5 package.
SYMBOL_ORDER_MARKET = 1
SYMBOL_ORDER_LIMIT = 2
SYMBOL_ORDER_STOP = 4
SYMBOL_ORDER_STOP_LIMIT = 8
SYMBOL_ORDER_SL = 16
SYMBOL_ORDER_TP = 32
SYMBOL_ORDER_CLOSEBY = 64
ALL_ORDER_MODES = 127
# SymbolInfo.expiration_mode flags (SYMBOL_EXPIRATION_*).
SYMBOL_EXPIRATION_GTC = 1
SYMBOL_EXPIRATION_DAY = 2
SYMBOL_EXPIRATION_SPECIFIED = 4
SYMBOL_EXPIRATION_SPECIFIED_DAY = 8
ALL_EXPIRATION_MODES = 15
SYMBOL_SWAP_MODE_POINTS = 1  # the only swap mode simulated: points per lot per day
DAY_NAMES = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")  # index = MQL5 day of week
MINUTES_PER_DAY = 1440
Sessions = tuple[tuple[tuple[int, int], ...], ...]  # per day (Sun=0): ((from_min, to_min), ...)
# Fields of SymbolSpec that are the simulator's, not MT5's: kept out of symbol_info.
NOT_IN_INFO = frozenset({"sessions_trade", "commission_per_lot"})


class SymbolConfigError(ValueError):
    """A symbol description (a fixture or the user's JSON file) that cannot be simulated."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolSpec:
    """A tradable symbol. Prices in the profit currency, volumes in lots, distances in points."""

    name: str
    description: str = ""
    currency_base: str = "EUR"
    currency_profit: str = "USD"
    currency_margin: str = "EUR"
    digits: int = 5
    point: float = 0.00001
    trade_contract_size: float = 100_000.0
    trade_tick_size: float = 0.00001
    trade_calc_mode: int = mt5.SYMBOL_CALC_MODE_FOREX
    trade_mode: int = mt5.SYMBOL_TRADE_MODE_FULL
    trade_exemode: int = mt5.SYMBOL_TRADE_EXECUTION_MARKET
    filling_mode: int = FILLING_FOK_IOC
    volume_min: float = 0.01
    volume_max: float = 100.0
    volume_step: float = 0.01
    volume_limit: float = 0.0  # 0 = no aggregate limit per direction
    order_mode: int = ALL_ORDER_MODES
    expiration_mode: int = ALL_EXPIRATION_MODES
    trade_stops_level: int = 0
    trade_freeze_level: int = 0
    margin_initial: float = 0.0
    margin_hedged: float = 50_000.0  # contract size of hedged volume (0 = hedged volume is free)
    margin_hedged_use_leg: bool = False  # hedged margin = the larger leg's margin instead
    swap_mode: int = SYMBOL_SWAP_MODE_POINTS
    swap_long: float = 0.0  # points per lot per day
    swap_short: float = 0.0
    swap_rollover3days: int = WEDNESDAY
    spread: int = 10
    # The broker's commission, deposit currency per lot per side (0: the account's applies).
    commission_per_lot: float = 0.0
    # Trading sessions in server time per day of week, Sunday first; () = always open.
    sessions_trade: Sessions = ()
    # Liquidity of one market order, in lots (0 = unlimited); IOC beyond it fills partially.
    sim_liquidity_lots: float = 0.0
    # Random-walk parameters of the price generator (bridge.price_feed).
    sim_start_price: float = 1.0
    sim_volatility: float = 0.000013  # relative standard deviation per sqrt(second)
    sim_spread_points: float = 10.0

    def __post_init__(self) -> None:
        problem = _spec_problem(self)
        if problem:
            raise SymbolConfigError(f"symbol {self.name!r}: {problem}")

    def to_info(self, bid: float, ask: float, time_ms: int, *,
                trade_tick_value_profit: float = 0.0, trade_tick_value_loss: float = 0.0) -> dict[str, Any]:
        """The MetaTrader5 `symbol_info` dict at quote (bid, ask, time_ms).

        Tick values depend on the account's deposit currency and other symbols' quotes, so
        the trade server computes them and passes them in.
        """
        info = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)
                if not field.name.startswith("sim_") and field.name not in NOT_IN_INFO}
        current_spread = round((ask - bid) / self.point) if bid > 0 and ask > 0 else self.spread
        info.update(
            bid=bid, ask=ask, last=0.0, time=time_ms // 1000, time_msc=time_ms,
            spread=current_spread, spread_float=True, select=True, visible=True, custom=False,
            trade_tick_value=trade_tick_value_profit,
            trade_tick_value_profit=trade_tick_value_profit,
            trade_tick_value_loss=trade_tick_value_loss,
        )
        return info


def _spec_problem(spec: SymbolSpec) -> str | None:
    """Why `spec` cannot be simulated, or None."""
    if not spec.name or not isinstance(spec.name, str):
        return "name must be a non-empty string"
    if not 0 <= spec.digits <= 10:
        return f"digits must be within 0..10, got {spec.digits}"
    positive = ("point", "trade_contract_size", "trade_tick_size", "volume_min", "volume_max",
                "volume_step", "sim_start_price")
    for name in positive:
        value = getattr(spec, name)
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            return f"{name} must be a positive number, got {value!r}"
    if spec.volume_min > spec.volume_max:
        return f"volume_min {spec.volume_min} exceeds volume_max {spec.volume_max}"
    if spec.sim_volatility < 0 or spec.sim_spread_points < 0:
        return "sim_volatility and sim_spread_points must not be negative"
    if spec.trade_stops_level < 0 or spec.trade_freeze_level < 0:
        return "trade_stops_level and trade_freeze_level must not be negative"
    if spec.swap_mode != SYMBOL_SWAP_MODE_POINTS:
        return f"swap_mode {spec.swap_mode} is not simulated; use {SYMBOL_SWAP_MODE_POINTS} (points)"
    if spec.sessions_trade and len(spec.sessions_trade) != 7:
        return "sessions_trade must give all 7 days, Sunday first"
    if spec.margin_hedged < 0 or spec.commission_per_lot < 0 or spec.sim_liquidity_lots < 0:
        return "margin_hedged, commission_per_lot and sim_liquidity_lots must not be negative"
    return None


def weekly_sessions(days: dict[str, list[str]]) -> Sessions:
    """Sessions from {"Mon": ["00:00-24:00"], ...} (server time); missing days are closed."""
    unknown = set(days) - set(DAY_NAMES)
    if unknown:
        raise SymbolConfigError(f"sessions_trade: unknown days {sorted(unknown)}; use {', '.join(DAY_NAMES)}")
    return tuple(tuple(_window(text) for text in days.get(name, ())) for name in DAY_NAMES)


def _window(text: Any) -> tuple[int, int]:
    try:
        start, end = (int(h) * 60 + int(m) for h, m in (part.split(":") for part in text.split("-")))
    except (AttributeError, ValueError):
        raise SymbolConfigError(f"sessions_trade: {text!r} is not like '01:00-24:00'") from None
    if not 0 <= start < end <= MINUTES_PER_DAY:
        raise SymbolConfigError(f"sessions_trade: {text!r} must run forward within one day")
    return start, end


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri")
# FX trades 24/5: Sunday 22:00 to Friday 22:00 UTC, i.e. Monday 00:00 to Friday 24:00 at UTC+2.
FX_SESSIONS = weekly_sessions({day: ["00:00-24:00"] for day in WEEKDAYS})
# Gold stops for an hour every day (00:00-01:00 server time).
METALS_SESSIONS = weekly_sessions({day: ["01:00-24:00"] for day in WEEKDAYS})


def _forex(name: str, description: str, base: str, quote: str, *, digits: int, start: float,
           spread: int, volatility: float, swap_long: float, swap_short: float,
           **extra: Any) -> SymbolSpec:
    point = 10.0 ** -digits
    return SymbolSpec(
        name=name, description=description, currency_base=base, currency_profit=quote,
        currency_margin=base, digits=digits, point=point, trade_tick_size=point,
        trade_contract_size=100_000.0, trade_calc_mode=mt5.SYMBOL_CALC_MODE_FOREX,
        swap_long=swap_long, swap_short=swap_short, spread=spread, sessions_trade=FX_SESSIONS,
        sim_start_price=start, sim_volatility=volatility, sim_spread_points=float(spread), **extra,
    )


DEFAULT_SYMBOLS: dict[str, SymbolSpec] = {
    "EURUSD": _forex("EURUSD", "Euro vs US Dollar", "EUR", "USD", digits=5, start=1.08,
                     spread=10, volatility=0.000013, swap_long=-7.2, swap_short=2.1),
    "GBPUSD": _forex("GBPUSD", "Great Britain Pound vs US Dollar", "GBP", "USD", digits=5,
                     start=1.27, spread=14, volatility=0.000015, swap_long=-4.5, swap_short=-1.1),
    "USDJPY": _forex("USDJPY", "US Dollar vs Japanese Yen", "USD", "JPY", digits=3, start=150.0,
                     spread=12, volatility=0.000016, swap_long=14.5, swap_short=-25.3),
    "XAUUSD": SymbolSpec(
        name="XAUUSD", description="Gold vs US Dollar", currency_base="XAU",
        currency_profit="USD", currency_margin="USD", digits=2, point=0.01,
        trade_contract_size=100.0, trade_tick_size=0.01,
        trade_calc_mode=mt5.SYMBOL_CALC_MODE_CFDLEVERAGE, volume_min=0.01, volume_max=50.0,
        volume_step=0.01, swap_long=-55.0, swap_short=30.0, spread=25, margin_hedged=50.0,
        sessions_trade=METALS_SESSIONS,
        sim_start_price=2350.0, sim_volatility=0.000025, sim_spread_points=25.0,
    ),
    # Instant execution: the request's price is a condition; beyond deviation it is requoted.
    "USDCHF": _forex("USDCHF", "US Dollar vs Swiss Franc", "USD", "CHF", digits=5, start=0.88,
                     spread=15, volatility=0.000014, swap_long=3.1, swap_short=-9.8,
                     trade_exemode=mt5.SYMBOL_TRADE_EXECUTION_INSTANT),
    # Stops and freeze levels: SL/TP/pending prices keep 20 points away, 10 points freeze.
    "AUDUSD": _forex("AUDUSD", "Australian Dollar vs US Dollar", "AUD", "USD", digits=5,
                     start=0.66, spread=12, volatility=0.000016, swap_long=-3.0, swap_short=0.4,
                     trade_stops_level=20, trade_freeze_level=10),
    # Close-only: existing positions may be closed, none opened.
    "USDRUB": _forex("USDRUB", "US Dollar vs Russian Ruble", "USD", "RUB", digits=3, start=92.0,
                     spread=300, volatility=0.00002, swap_long=-60.0, swap_short=-90.0,
                     trade_mode=mt5.SYMBOL_TRADE_MODE_CLOSEONLY),
}

BROKER_KEYS = frozenset({"account", "symbols"})
SPEC_FIELDS = {field.name: field for field in dataclasses.fields(SymbolSpec)}


def load_symbols(path: str | Path, base: dict[str, SymbolSpec] | None = None) -> dict[str, SymbolSpec]:
    """The symbols of `base` (default: DEFAULT_SYMBOLS) with the overrides of a JSON file.

    The file is an object of symbol name → object of SymbolSpec fields, e.g.
    `{"EURUSD": {"trade_stops_level": 10, "volume_min": 0.1}}`, or a broker file
    `{"account": {...}, "symbols": {...}}` (the account part is read by
    `bridge.sim_config.load_account`). Sessions are written `{"Mon": ["00:00-24:00"], ...}`. A name not in `base` makes a
    new symbol from SymbolSpec's defaults (a 5-digit EUR/USD-like FX pair) plus its fields.
    """
    path = Path(path)
    document = read_json(path, "symbol file", SymbolConfigError)
    if isinstance(document, dict) and BROKER_KEYS & set(document):
        document = document.get("symbols", {})  # a broker file: {"account": ..., "symbols": ...}
    if not isinstance(document, dict):
        raise SymbolConfigError(f"{path}: expected an object of symbol name -> fields")
    symbols = dict(DEFAULT_SYMBOLS if base is None else base)
    for name, overrides in document.items():
        symbols[name] = _apply_overrides(path, name, symbols.get(name), overrides)
    return symbols


def _apply_overrides(path: Path, name: str, spec: SymbolSpec | None, overrides: Any) -> SymbolSpec:
    where = f"{path}: symbol {name!r}"
    if not isinstance(overrides, dict):
        raise SymbolConfigError(f"{where}: expected an object of fields")
    for key, value in overrides.items():
        _check_field(where, key, value)
    if overrides.get("name", name) != name:
        raise SymbolConfigError(f"{where}: 'name' {overrides['name']!r} differs from its key")
    try:
        fields = {key: _coerce(key, value) for key, value in overrides.items() if key != "name"}
        if spec is None:
            return SymbolSpec(name=name, **fields)
        return dataclasses.replace(spec, **fields)
    except SymbolConfigError as exc:
        raise SymbolConfigError(f"{path}: {exc}") from None


def _check_field(where: str, key: str, value: Any) -> None:
    field = SPEC_FIELDS.get(key)
    if field is None:
        allowed = ", ".join(sorted(SPEC_FIELDS))
        raise SymbolConfigError(f"{where}: unknown key {key!r}; allowed keys: {allowed}")
    expected = field.type
    if key == "sessions_trade":
        ok = isinstance(value, dict)
        expected = 'object like {"Mon": ["00:00-24:00"]}'
    elif expected == "bool":
        ok = isinstance(value, bool)
    elif expected == "str":
        ok = isinstance(value, str)
    elif expected == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok:
        raise SymbolConfigError(f"{where}: {key!r} must be of type {expected}, got {value!r}")


def _coerce(key: str, value: Any) -> Any:
    if key == "sessions_trade":
        return weekly_sessions(value)
    return float(value) if SPEC_FIELDS[key].type == "float" else value


def match_group(name: str, group: str | None) -> bool:
    """Whether `name` passes an MT5 `group` filter such as "*USD*,!EUR*".

    As in MT5: comma-separated masks, `*` wildcards, a `!` mask excludes; a name must match
    an including mask and no excluding one. Without any including mask, everything is included.
    """
    if not group:
        return True
    masks = [mask.strip() for mask in group.split(",") if mask.strip()]
    excludes = [mask[1:] for mask in masks if mask.startswith("!")]
    includes = [mask for mask in masks if not mask.startswith("!")]
    if any(fnmatch.fnmatchcase(name, mask) for mask in excludes):
        return False
    return not includes or any(fnmatch.fnmatchcase(name, mask) for mask in includes)
