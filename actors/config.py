"""The service's configuration: frozen, built from defaults, a JSON file and the command line.

Precedence: command-line options over the `--config` file over these defaults. Unknown
keys in the file are refused by name, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actors.kill_switch import LOCK_SECONDS
from bridge import mt5, protocol

DEFAULT_CONTROL = "tcp://127.0.0.1:5555"
DEFAULT_EVENTS = "tcp://127.0.0.1:5556"
DEFAULT_SIM_LOGIN = 5_000_001
ACCOUNT_TYPES = {"demo": mt5.ACCOUNT_TRADE_MODE_DEMO, "live": mt5.ACCOUNT_TRADE_MODE_REAL}


class ConfigError(ValueError):
    """A configuration that cannot run; the message names the key and what is expected."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SimSettings:
    """The embedded simulated MT5 terminal (the default, and the paper broker)."""
    login: int = DEFAULT_SIM_LOGIN
    speed: float = 1.0
    seed: int = 0
    balance: float = 10_000.0
    leverage: int = 100
    tz_offset_s: int = 7200
    history_minutes: int = 7 * 24 * 60
    symbols_file: str | None = None
    account: str = "demo"  # demo | live: the trade_mode the simulated terminal reports


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceConfig:
    data_dir: Path = Path("data")
    control_endpoint: str = DEFAULT_CONTROL
    events_endpoint: str = DEFAULT_EVENTS
    ea_ctl_endpoint: str = protocol.DEFAULT_CTL_ENDPOINT
    ea_md_endpoint: str = protocol.DEFAULT_MD_ENDPOINT
    kill_lock_s: float = LOCK_SECONDS
    log_level: str = "INFO"
    sim: SimSettings | None = field(default_factory=SimSettings)


def load_config(path: Path | None, **overrides: Any) -> ServiceConfig:
    """Defaults, then the JSON file at `path`, then the non-None `overrides`."""
    values: dict[str, Any] = {}
    if path is not None:
        try:
            values = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from None
        if not isinstance(values, dict):
            raise ConfigError(f"config file {path} must hold a JSON object")
    values.update({k: v for k, v in overrides.items() if v is not None})
    sim = values.pop("sim", {})
    no_sim = values.pop("no_sim", False)
    _check_keys(values, ServiceConfig, "")
    if sim is not None:
        if not isinstance(sim, dict):
            raise ConfigError("config key 'sim' must be an object (or null for no simulator)")
        _check_keys(sim, SimSettings, "sim.")
    if "data_dir" in values:
        values["data_dir"] = Path(values["data_dir"])
    if "kill_lock_s" in values and not float(values["kill_lock_s"]) > 0:
        raise ConfigError("kill_lock_s must be a positive number of seconds")
    sim_settings = None if (no_sim or sim is None) else SimSettings(**sim)
    if sim_settings is not None and not sim_settings.speed > 0:
        raise ConfigError(f"sim speed must be positive, got {sim_settings.speed}")
    if sim_settings is not None and sim_settings.account not in ACCOUNT_TYPES:
        raise ConfigError(f"sim account must be one of {sorted(ACCOUNT_TYPES)}, got {sim_settings.account!r}")
    return ServiceConfig(**values, sim=sim_settings)


def _check_keys(values: dict[str, Any], cls: type, prefix: str) -> None:
    allowed = {f.name for f in dataclasses.fields(cls)} - {"sim"}
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ConfigError(f"unknown config key {prefix}{unknown[0]}; allowed: {', '.join(sorted(allowed))}")
