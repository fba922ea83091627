"""A real broker's symbols for the simulated trade server: MetaTrader5 `symbol_info` → SymbolSpec.

Paper trading on real prices trades the simulated server under the real broker's contract
terms. This module owns that conversion (pure): every SymbolSpec field that `symbol_info`
carries is taken from it (digits, point, contract and tick size, calculation, trade and
execution modes, filling/order/expiration flags, volumes, stops and freeze levels, margin,
swaps, currencies); a field it lacks, or gives in a form the simulator cannot use, falls back
to the built-in fixture of the same symbol (else SymbolSpec's default), and the result names
those fields so the log can say what is not the broker's. What `symbol_info` never carries
(commission, liquidity; trading sessions unless the EA's `symbol_sessions` gives them, see
`sessions_from_windows`) comes from the fixture. The tick value is not kept: the trade
server derives it from quotes, as MT5 does, so it follows the paper account's currency.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Mapping

from bridge import mt5, protocol
from bridge.symbols import (
    DEFAULT_SYMBOLS, MINUTES_PER_DAY, SYMBOL_SWAP_MODE_POINTS, Sessions, SymbolConfigError, SymbolSpec,
)

SYMBOL_SWAP_MODE_DISABLED = 0
# Margin rules the simulated trade server computes (bridge.sim_money); others fall back.
SIMULATED_CALC_MODES = frozenset({mt5.SYMBOL_CALC_MODE_FOREX, mt5.SYMBOL_CALC_MODE_FOREX_NO_LEVERAGE,
                                  mt5.SYMBOL_CALC_MODE_CFD, mt5.SYMBOL_CALC_MODE_CFDLEVERAGE})
TEXT_FIELDS = ("description", "currency_base", "currency_profit", "currency_margin")
POSITIVE_FIELDS = ("point", "trade_contract_size", "trade_tick_size", "volume_min", "volume_max", "volume_step")
NON_NEGATIVE_FIELDS = ("volume_limit", "margin_initial", "margin_hedged")
FLAG_FIELDS = ("filling_mode", "order_mode", "expiration_mode", "trade_stops_level", "trade_freeze_level", "spread")
CHOICE_FIELDS: dict[str, frozenset[int]] = {
    "digits": frozenset(range(0, 11)),
    "trade_mode": frozenset(range(mt5.SYMBOL_TRADE_MODE_DISABLED, mt5.SYMBOL_TRADE_MODE_FULL + 1)),
    "trade_exemode": frozenset(range(mt5.SYMBOL_TRADE_EXECUTION_REQUEST, mt5.SYMBOL_TRADE_EXECUTION_EXCHANGE + 1)),
    "trade_calc_mode": SIMULATED_CALC_MODES,
    "swap_rollover3days": frozenset(range(0, 7)),
}
BOOL_FIELDS = ("margin_hedged_use_leg",)


@dataclass(frozen=True, slots=True)
class ImportedSymbol:
    """A broker symbol as the simulator will trade it."""
    spec: SymbolSpec
    defaulted: tuple[str, ...]  # SymbolSpec fields not taken from symbol_info (missing or unusable)
    fixture: str | None  # the built-in symbol those fields came from, or None (SymbolSpec defaults)


def fixture_for(name: str, fixtures: Mapping[str, SymbolSpec]) -> SymbolSpec | None:
    """The fixture of `name`, also for a broker's suffixed name ("EURUSD.r", "EURUSDm")."""
    if name in fixtures:
        return fixtures[name]
    prefixes = [fixture for fixture in fixtures if name.startswith(fixture)]
    return fixtures[max(prefixes, key=len)] if prefixes else None


def import_symbol(info: Mapping[str, Any], fixtures: Mapping[str, SymbolSpec] | None = None) -> ImportedSymbol:
    """The SymbolSpec of one `symbol_info` dict; SymbolConfigError when it cannot be simulated."""
    name = info.get("name")
    if not isinstance(name, str) or not name:
        raise SymbolConfigError(f"symbol_info without a name: {dict(info)!r:.120}")
    fixture = fixture_for(name, DEFAULT_SYMBOLS if fixtures is None else fixtures)
    base = fixture if fixture is not None else SymbolSpec(name=name)
    values: dict[str, Any] = {}
    defaulted: list[str] = []

    def take(field: str, value: Any) -> None:
        if value is None:
            defaulted.append(field)
        else:
            values[field] = value

    for field in TEXT_FIELDS:
        take(field, _text(info.get(field)))
    for field in POSITIVE_FIELDS:
        take(field, _number(info.get(field), minimum=0.0, strict=True))
    for field in NON_NEGATIVE_FIELDS:
        take(field, _number(info.get(field), minimum=0.0))
    for field in FLAG_FIELDS:
        take(field, _integer(info.get(field), frozenset()))
    for field, allowed in CHOICE_FIELDS.items():
        take(field, _integer(info.get(field), allowed))
    for field in BOOL_FIELDS:
        take(field, info.get(field) if isinstance(info.get(field), bool) else None)
    _fill_derived(values, defaulted, base, fixture)
    _take_swaps(info, values, defaulted)
    _take_prices(info, values)
    try:
        spec = dataclasses.replace(base, name=name, **values)
    except SymbolConfigError as exc:
        raise SymbolConfigError(f"{name}: the broker's terms cannot be simulated: {exc}") from None
    return ImportedSymbol(spec, tuple(defaulted), fixture.name if fixture is not None else None)


def import_symbols(infos: list[Any], fixtures: Mapping[str, SymbolSpec] | None = None
                   ) -> tuple[dict[str, ImportedSymbol], dict[str, str]]:
    """(imported symbols by name, refused names → why) of a `symbols_get` reply."""
    imported: dict[str, ImportedSymbol] = {}
    refused: dict[str, str] = {}
    for info in infos:
        if not isinstance(info, Mapping):
            refused[repr(info)[:40]] = "not a symbol_info map"
            continue
        try:
            symbol = import_symbol(info, fixtures)
        except SymbolConfigError as exc:
            refused[str(info.get("name"))] = str(exc)
            continue
        imported[symbol.spec.name] = symbol
    return imported, refused


def sessions_from_windows(windows: Any) -> Sessions:
    """SymbolSpec.sessions_trade of a `symbol_sessions` entry: [[day (Sunday = 0), from_s, to_s], ...]
    in seconds from the server's midnight (MQL5's SymbolInfoSessionTrade), read by the bridge's
    one rule, `protocol.session_span`: a session ending after midnight (`to` up to 172 800, or
    at or before `from`) continues into the next day, where it is folded as a window from 00:00,
    so the simulated trade server, which checks each day's windows, trades at 00:30 inside a
    22:00-26:00 session. Windows that overlap or touch within a day are merged.
    SymbolConfigError if malformed."""
    days: list[list[tuple[int, int]]] = [[] for _ in range(7)]
    if not isinstance(windows, list):
        raise SymbolConfigError(f"sessions must be a list of [day, from_s, to_s], got {windows!r:.80}")
    for window in windows:
        if (not isinstance(window, (list, tuple)) or len(window) != 3
                or isinstance(window[0], bool) or not isinstance(window[0], int) or not 0 <= window[0] <= 6):
            raise SymbolConfigError(f"session window {window!r:.80} is not [day 0..6, from_s, to_s]")
        try:
            start_s, end_s = protocol.session_span(window[1], window[2])
        except ValueError as exc:
            raise SymbolConfigError(f"session window {window!r:.80}: {exc}") from None
        day, start, end = window[0], start_s // 60, -(-end_s // 60)  # whole minutes, never narrower
        days[day].append((start, min(end, MINUTES_PER_DAY)))
        if end > MINUTES_PER_DAY:
            days[(day + 1) % 7].append((0, end - MINUTES_PER_DAY))
    return tuple(_merged(windows_of_day) for windows_of_day in days)


def _merged(windows: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def _fill_derived(values: dict[str, Any], defaulted: list[str], base: SymbolSpec, fixture: SymbolSpec | None) -> None:
    """Fallbacks that depend on other fields, where a fixed default would be wrong."""
    if fixture is None:
        digits = values.get("digits", base.digits)
        if "point" not in values:
            values["point"] = 10.0 ** -digits  # MT5's point is always 10^-digits
        if "trade_tick_size" not in values:
            values["trade_tick_size"] = values["point"]
        if "currency_margin" not in values and "currency_base" in values:
            values["currency_margin"] = values["currency_base"]
    if "margin_hedged" not in values and "trade_contract_size" in values:
        # MT5 brokers commonly charge hedged volume at half a contract (as the fixtures do),
        # scaled to this broker's contract size rather than the fixture's.
        values["margin_hedged"] = values["trade_contract_size"] / 2.0
    if "trade_calc_mode" in defaulted and fixture is None:
        values["trade_calc_mode"] = mt5.SYMBOL_CALC_MODE_CFD  # lots · contract · price: the general rule


def _take_swaps(info: Mapping[str, Any], values: dict[str, Any], defaulted: list[str]) -> None:
    mode = _integer(info.get("swap_mode"), frozenset())
    long_, short = _number(info.get("swap_long")), _number(info.get("swap_short"))
    if mode == SYMBOL_SWAP_MODE_DISABLED:
        values.update(swap_long=0.0, swap_short=0.0)
    elif mode == SYMBOL_SWAP_MODE_POINTS and long_ is not None and short is not None:
        values.update(swap_long=long_, swap_short=short)
    else:
        # Swaps in money or as interest are not simulated: the fixture's points stand in.
        defaulted.extend(("swap_long", "swap_short"))
    values["swap_mode"] = SYMBOL_SWAP_MODE_POINTS


def _take_prices(info: Mapping[str, Any], values: dict[str, Any]) -> None:
    # The random walk is not used on real prices, but the spec must be valid and a sensible
    # start price keeps any fallback quote near the market.
    for key in ("bid", "ask"):
        price = _number(info.get(key), minimum=0.0, strict=True)
        if price is not None:
            values["sim_start_price"] = price
            break
    if values.get("spread"):
        values["sim_spread_points"] = float(values["spread"])


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: Any, *, minimum: float | None = None, strict: bool = False) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    if minimum is not None and (value <= minimum if strict else value < minimum):
        return None
    return float(value)


def _integer(value: Any, allowed: frozenset[int]) -> int | None:
    """A non-negative int (an integral float counts), within `allowed` when given."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    value = int(value)
    if value < 0 or (allowed and value not in allowed):
        return None
    return value
