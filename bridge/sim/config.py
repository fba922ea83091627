"""The simulated account's settings, and reading them from the user's broker file.

This module owns `AccountSettings` (what a broker fixes about an account: deposit, currency,
leverage, hedging or netting, demo or real, margin call and stop-out levels, commission,
FIFO and hedging rules, limits, server time zone, whether sessions are enforced) and
`load_account`, which reads the `"account"` object of a JSON broker file
`{"account": {...}, "symbols": {...}}` (the symbols part is `bridge.symbols.load_symbols`).
`AccountSettings.server_options()` gives the keyword arguments of `TradeServer`. The server's
zone is `server_tz` (anything `bridge.server_tz.parse_server_tz` reads: 7200, "UTC+2",
"Europe/Athens", "NY+7"); a fixed `tz_offset_s` is still accepted, but not both.
`broker_setup` reads a whole broker file (account and symbols) under the options a user gave
explicitly, which win over the file; `parse_start` reads when the simulated market starts.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bridge import mt5
from bridge.json_file import read_json
from bridge.server_tz import ServerTzError, parse_server_tz
from bridge.symbols import load_symbols

MARGIN_MODES = {"hedging": mt5.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING,
                "netting": mt5.ACCOUNT_MARGIN_MODE_RETAIL_NETTING}
TRADE_MODES = {"demo": mt5.ACCOUNT_TRADE_MODE_DEMO, "contest": mt5.ACCOUNT_TRADE_MODE_CONTEST,
               "real": mt5.ACCOUNT_TRADE_MODE_REAL}


class AccountConfigError(ValueError):
    """An account description that cannot be simulated."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountSettings:
    balance: float = 10_000.0
    currency: str = "USD"
    leverage: int = 100
    margin_mode: str = "hedging"  # or "netting"
    trade_mode: str = "demo"  # or "contest", "real"
    margin_so_call: float = 100.0  # margin level % that raises the margin call
    margin_so_so: float = 50.0  # margin level % that stops out
    commission_per_lot: float = 0.0  # per lot per side, deposit currency; a symbol's own wins
    fifo_close: bool = False
    hedge_allowed: bool = True
    limit_orders: int = 200
    limit_positions: int = 0
    tz_offset_s: int = 7200  # a fixed zone; server_tz, when set, says more
    server_tz: str | int | None = None  # "NY+7", "Europe/Athens", "UTC+2", 7200 (bridge.server_tz)
    enforce_sessions: bool = True  # as MT5: 10018 outside a symbol's sessions, no ticks either

    def server_options(self) -> dict[str, Any]:
        """Keyword arguments of `TradeServer` (all but login and symbols)."""
        options = dataclasses.asdict(self)
        options["margin_mode"] = MARGIN_MODES[self.margin_mode]
        options["trade_mode"] = TRADE_MODES[self.trade_mode]
        del options["tz_offset_s"]
        options["server_tz"] = parse_server_tz(self.tz_offset_s if self.server_tz is None else self.server_tz)
        return options


FIELDS = {field.name: field for field in dataclasses.fields(AccountSettings)}
CHOICES = {"margin_mode": MARGIN_MODES, "trade_mode": TRADE_MODES}
ZONE_KEYS = ("tz_offset_s", "server_tz")


def load_account(path: str | Path) -> AccountSettings:
    """The `"account"` object of a broker file, over AccountSettings' defaults."""
    path = Path(path)
    document = read_json(path, "broker file", AccountConfigError)
    section = document.get("account", {}) if isinstance(document, dict) else None
    if not isinstance(section, dict):
        raise AccountConfigError(f'{path}: "account" must be an object of account settings')
    _one_zone(section, f"{path}: account")
    return account_settings(section, where=f"{path}: account")


def _one_zone(fields: dict[str, Any], where: str) -> None:
    if all(fields.get(key) is not None for key in ZONE_KEYS):
        raise AccountConfigError(f"{where}: give the server's zone once: server_tz or tz_offset_s, not both")


def account_settings(fields: dict[str, Any], where: str = "account") -> AccountSettings:
    for key, value in fields.items():
        field = FIELDS.get(key)
        if field is None:
            raise AccountConfigError(f"{where}: unknown key {key!r}; allowed keys: {', '.join(sorted(FIELDS))}")
        if key in CHOICES:
            if value not in CHOICES[key]:
                raise AccountConfigError(f"{where}: {key} must be one of {', '.join(CHOICES[key])}, got {value!r}")
            continue
        if key in ZONE_KEYS:
            if value is not None and (key == "server_tz" or isinstance(value, int)):
                try:
                    parse_server_tz(value)
                except ServerTzError as exc:
                    raise AccountConfigError(f"{where}: {key}: {exc}") from None
                continue
            if key == "server_tz":
                continue
        if field.type == "bool":
            ok = isinstance(value, bool)
        elif field.type == "str":
            ok = isinstance(value, str) and bool(value)
        elif field.type == "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not ok:
            raise AccountConfigError(f"{where}: {key!r} must be of type {field.type}, got {value!r}")
    settings = AccountSettings(**{k: float(v) if FIELDS[k].type == "float" else v for k, v in fields.items()})
    if settings.leverage <= 0 or settings.balance < 0 or settings.commission_per_lot < 0:
        raise AccountConfigError(f"{where}: leverage must be positive, balance and commission not negative")
    return settings


ACCOUNT_TYPES = {"demo": "demo", "live": "real"}  # the executor's words for trade_mode


def broker_setup(broker_file: str | Path | None = None, symbols_file: str | Path | None = None, *,
                 account: str | None = None, **explicit: Any) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(symbols or None for the fixtures, TradeServer keyword arguments) of a simulated terminal.

    Precedence: the `explicit` AccountSettings fields and `account` ("demo" or "live") that
    are not None, then the broker file's "account" object, then AccountSettings' defaults.
    Symbols: the fixtures, with the broker file's "symbols" over them, with `symbols_file`
    over those. Errors are AccountConfigError or SymbolConfigError naming the file.
    """
    settings = load_account(broker_file) if broker_file else AccountSettings()
    given = {key: value for key, value in explicit.items() if value is not None}
    _one_zone(given, "account options")
    if any(key in given for key in ZONE_KEYS):  # a zone given explicitly replaces the file's, whichever key
        settings = dataclasses.replace(settings, tz_offset_s=FIELDS["tz_offset_s"].default, server_tz=None)
    if account is not None:
        if account not in ACCOUNT_TYPES:
            raise AccountConfigError(f"account must be one of {', '.join(ACCOUNT_TYPES)}, got {account!r}")
        given["trade_mode"] = ACCOUNT_TYPES[account]
    unknown = sorted(set(given) - set(FIELDS))
    if unknown:
        raise AccountConfigError(f"unknown account option {unknown[0]!r}; allowed: {', '.join(sorted(FIELDS))}")
    merged = account_settings({**dataclasses.asdict(settings), **given}, where="account options")
    symbols = load_symbols(broker_file) if broker_file else None
    if symbols_file:
        symbols = load_symbols(symbols_file, base=symbols)
    return symbols, merged.server_options()


def parse_start(value: Any) -> int | None:
    """When the simulated market starts, in ms UTC: None (now), epoch ms (an int or digits) or
    ISO 8601 like "2026-11-24T10:00:00Z" (without an offset: UTC). ValueError in one line."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            pass
        else:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            return int(moment.timestamp() * 1000)
    raise ValueError(f"start {value!r} is neither ISO 8601 UTC like 2026-11-24T10:00:00Z nor epoch ms")
