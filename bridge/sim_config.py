"""The simulated account's settings, and reading them from the user's broker file.

This module owns `AccountSettings` (what a broker fixes about an account: deposit, currency,
leverage, hedging or netting, demo or real, margin call and stop-out levels, commission,
FIFO and hedging rules, limits, server time zone, whether sessions are enforced) and
`load_account`, which reads the `"account"` object of a JSON broker file
`{"account": {...}, "symbols": {...}}` (the symbols part is `bridge.symbols.load_symbols`).
`AccountSettings.server_options()` gives the keyword arguments of `TradeServer`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge import mt5

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
    tz_offset_s: int = 7200
    enforce_sessions: bool = False

    def server_options(self) -> dict[str, Any]:
        """Keyword arguments of `TradeServer` (all but login and symbols)."""
        options = dataclasses.asdict(self)
        options["margin_mode"] = MARGIN_MODES[self.margin_mode]
        options["trade_mode"] = TRADE_MODES[self.trade_mode]
        return options


FIELDS = {field.name: field for field in dataclasses.fields(AccountSettings)}
CHOICES = {"margin_mode": MARGIN_MODES, "trade_mode": TRADE_MODES}


def load_account(path: str | Path) -> AccountSettings:
    """The `"account"` object of a broker file, over AccountSettings' defaults."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AccountConfigError(f"{path}: broker file not found; check the path") from None
    except json.JSONDecodeError as exc:
        raise AccountConfigError(f"{path}: not valid JSON ({exc}); fix the file") from None
    section = document.get("account", {}) if isinstance(document, dict) else None
    if not isinstance(section, dict):
        raise AccountConfigError(f'{path}: "account" must be an object of account settings')
    return account_settings(section, where=f"{path}: account")


def account_settings(fields: dict[str, Any], where: str = "account") -> AccountSettings:
    for key, value in fields.items():
        field = FIELDS.get(key)
        if field is None:
            raise AccountConfigError(f"{where}: unknown key {key!r}; allowed keys: {', '.join(sorted(FIELDS))}")
        if key in CHOICES:
            if value not in CHOICES[key]:
                raise AccountConfigError(f"{where}: {key} must be one of {', '.join(CHOICES[key])}, got {value!r}")
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
