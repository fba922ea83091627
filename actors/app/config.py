"""The service's configuration: frozen, built from defaults, a TOML or JSON file and the command line.

Precedence: command-line options over the `--config` file over these defaults, all of it
here: `service_config` takes `run.py service`'s parsed options, `load_config` the file and
keyword overrides (tests, replay). Unknown keys in the file are refused by name, so a typo
never silently falls back to a default.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actors.app.config_file import ConfigFileError, check_types, read_file
from actors.app.endpoints import check_endpoint
from actors.runtime.kill_switch import LOCK_SECONDS
from bridge import mt5, protocol
from bridge.sim.ea_prices import DEFAULT_PRICES_CTL, DEFAULT_PRICES_MD
from bridge.sim.config import parse_start
from bridge.sim.options import SimOptionsError, terminal_arguments
from bridge.sim.terminal import DEFAULT_LOGIN

DEFAULT_CONTROL = "tcp://127.0.0.1:5555"
DEFAULT_EVENTS = "tcp://127.0.0.1:5556"
DEFAULT_SIM_LOGIN = DEFAULT_LOGIN
ACCOUNT_TYPES = {"demo": mt5.ACCOUNT_TRADE_MODE_DEMO, "live": mt5.ACCOUNT_TRADE_MODE_REAL}


class ConfigError(ValueError):
    """A configuration that cannot run; the message names the key and what is expected."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SimSettings:
    """The embedded simulated MT5 terminal (the default, and the paper broker).

    Account settings left None come from `broker_file`'s "account" object, else from
    `bridge.sim.config.AccountSettings` (10 000 USD, 1:100, UTC+2, demo); set ones win.
    """
    login: int = DEFAULT_SIM_LOGIN
    speed: float = 1.0
    seed: int = 0
    balance: float | None = None
    leverage: int | None = None
    tz_offset_s: int | None = None
    server_tz: str | int | None = None  # "NY+7", "Europe/Athens", "UTC+2", 7200 (bridge/server_tz.py)
    history_minutes: int = 7 * 24 * 60
    broker_file: str | None = None  # {"account": {...}, "symbols": {...}} (bridge/sim/config.py)
    symbols_file: str | None = None  # symbols over the broker file's
    account: str | None = None  # demo | live: the trade_mode the simulated terminal reports
    start: str | int | None = None  # ISO 8601 UTC or epoch ms: when the simulated market starts (None: now)
    always_open: bool = False  # quote and trade round the clock, ignoring the symbols' sessions
    calendar_file: str | None = None  # economic calendar the simulated terminal answers (JSON)
    # Paper trading on real prices (bridge/sim/paper_terminal.py): "sim" = the seeded random walk,
    # "ea" = the ticks of a real EA that connects to prices_ctl / prices_md instead of the executor.
    prices: str = "sim"
    prices_ctl: str = DEFAULT_PRICES_CTL
    prices_md: str = DEFAULT_PRICES_MD

    def __post_init__(self) -> None:
        try:
            parse_start(self.start)
        except ValueError as exc:
            raise ConfigError(f"sim.start: {exc}") from None
        if self.prices not in ("sim", "ea"):
            raise ConfigError(f"sim.prices must be 'sim' (random walk) or 'ea' (a real EA's), got {self.prices!r}")
        if self.prices == "ea" and (self.speed != 1.0 or self.start is not None):
            raise ConfigError("sim.prices 'ea' runs on the real clock: leave sim.speed at 1 and sim.start unset")

    def terminal_options(self) -> dict[str, Any]:
        """The keywords of `bridge.sim.options.build_terminal` but the endpoints."""
        return dict(login=self.login, seed=self.seed, speed=self.speed, history_minutes=self.history_minutes,
                    broker_file=self.broker_file, symbols_file=self.symbols_file, account=self.account,
                    balance=self.balance, leverage=self.leverage, tz_offset_s=self.tz_offset_s,
                    server_tz=self.server_tz, start=self.start,
                    always_open=self.always_open, calendar_file=self.calendar_file,
                    prices_from_ea=self.prices == "ea", prices_ctl=self.prices_ctl, prices_md=self.prices_md)


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
    # Default risk limits per account type, over the built-in ones ({"demo": {...}, "live": {...}}).
    # Live defaults may only be tightened here; loosening needs UPDATE_RISK_LIMITS with a TOTP code.
    risk_limits: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Control keys (actors/control/keys.py): off only on a loopback bind, with a warning at start.
    control_auth: bool = True
    # Commands per key and minute, by group or command (actors/control/rate_limits.py), over the defaults.
    rate_limits: dict[str, float] = field(default_factory=dict)
    # Journal backups into <data dir>/backups (actors/journal/backup.py): every this many
    # seconds (0: only the one right after the kill switch engages), the newest `backup_keep` kept.
    backup_every_s: float = 3600.0
    backup_keep: int = 48
    # CURVE (actors/runtime/zap.py): encryption, and only the keys allow-listed in the data dir
    # (curve/clients.txt: `run.py keys curve-client`; curve/terminals.txt: `keys curve-terminal`)
    # connect to the control and events sockets (`curve`) or the EA sockets (`ea_curve`).
    # Required when those endpoints are not loopback.
    curve: bool = False
    ea_curve: bool = False
    # IP ranges allowed to connect ([]: any), e.g. ["10.0.0.0/8"]: control and events, EA sockets.
    control_allow_ips: list[str] = field(default_factory=list)
    ea_allow_ips: list[str] = field(default_factory=list)
    # STATUS_REQUEST and PING audit rows: the first per key and command every this many seconds (0: every one).
    audit_reads_every_s: float = 60.0
    # Reconciliation (actors/account/reconciliation.py): positions and pending orders no intent of
    # the journal explains (opened by hand, another journal's) are adopted as EXTERNAL or closed.
    reconcile_orphans: str = "adopt"
    # The supervisor pings every child this often; 3 unanswered = hung, replaced (actors/runtime/watch.py).
    ping_every_s: float = 2.0
    # A warning when a mailbox holds this many messages (depths are in STATUS `mailboxes`).
    mailbox_warn_depth: int = 10_000


# `run.py service` options -> the keys they set. An option not given (None) leaves the
# file's value, else the default: that is the precedence.
SERVICE_OPTIONS = {"data_dir": "data_dir", "control": "control_endpoint", "events": "events_endpoint",
                   "ea_ctl": "ea_ctl_endpoint", "ea_md": "ea_md_endpoint", "log_level": "log_level",
                   "control_auth": "control_auth", "curve": "curve", "ea_curve": "ea_curve"}
SIM_OPTIONS = {"sim_speed": "speed", "sim_seed": "seed", "sim_account": "account", "sim_calendar": "calendar_file",
               "sim_broker": "broker_file", "sim_start": "start", "sim_always_open": "always_open",
               "sim_server_tz": "server_tz",
               "prices_ctl": "prices_ctl", "prices_md": "prices_md"}


def service_config(options: argparse.Namespace) -> ServiceConfig:
    """What `run.py service` runs with: defaults, then the `--config` file, then the options
    given. The `--sim-*` options change single keys of the file's "sim" object. The simulated
    terminal's broker, symbols and calendar files are read here too, so a bad one is bad usage,
    found before anything starts. ConfigError in one line naming the key, file or option."""
    if options.no_sim and options.paper_prices:
        raise ConfigError("--paper-prices needs the embedded simulated terminal; drop --no-sim")
    values = _read_file(options.config)
    sim_given = {key: getattr(options, option) for option, key in SIM_OPTIONS.items()
                 if getattr(options, option) is not None}
    if options.paper_prices:
        sim_given["prices"] = "ea"
    sim = values.get("sim", {})
    if sim_given and isinstance(sim, dict):  # null (no simulator) stays; a non-object is refused below
        values["sim"] = {**sim, **sim_given}
    given = {key: getattr(options, option) for option, key in SERVICE_OPTIONS.items()}
    config = _build(values, {**given, "no_sim": options.no_sim or None})
    if config.sim is not None:
        try:
            terminal_arguments(**sim_options(config, reset=bool(getattr(options, "sim_reset", False))))
        except SimOptionsError as exc:
            raise ConfigError(str(exc)) from None
    _make_data_dir(config.data_dir)  # last: bad usage found above leaves nothing behind
    return config


def _make_data_dir(path: Path) -> None:
    """The data dir is made here, so one that cannot be is bad usage found before anything starts."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"the data dir {path} cannot be created or written ({exc.strerror or exc}); "
                          "give a --data-dir this user can write") from None


def sim_options(config: ServiceConfig, *, reset: bool = False) -> dict[str, Any]:
    """`bridge.sim.options.build_terminal`'s keywords (but the endpoints) for the embedded
    terminal: its paper account is kept in the data dir, like a broker keeps it, so a restart
    continues it; `reset` starts a fresh one on purpose (`--sim-reset`)."""
    assert config.sim is not None
    return dict(config.sim.terminal_options(), reset_state=reset,
                state_file=config.data_dir / f"sim-state-{config.sim.login}.msgpack")


def file_values(config: ServiceConfig) -> dict[str, Any]:
    """`config` as a `--config` file's JSON values (what backups keep beside the journal)."""
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))


def load_config(path: Path | None, **overrides: Any) -> ServiceConfig:
    """Defaults, then the JSON file at `path`, then the non-None `overrides` (a `sim` one
    replaces the file's whole "sim" object)."""
    return _build(_read_file(path), overrides)


def _read_file(path: Path | None) -> dict[str, Any]:
    try:
        return read_file(path)  # TOML or JSON
    except ConfigFileError as exc:
        raise ConfigError(str(exc)) from None


def _build(values: dict[str, Any], overrides: dict[str, Any]) -> ServiceConfig:
    values = {**values, **{k: v for k, v in overrides.items() if v is not None}}
    sim = values.pop("sim", {})
    no_sim = values.pop("no_sim", False)
    _check_keys(values, ServiceConfig, "")
    _check_types({**values, "no_sim": no_sim}, _FileOnly, "")
    _check_types(values, ServiceConfig, "")
    if sim is not None:
        if not isinstance(sim, dict):
            raise ConfigError("config key 'sim' must be an object (or null for no simulator)")
        _check_keys(sim, SimSettings, "sim.")
        _check_types(sim, SimSettings, "sim.")
    _check_endpoints(values, sim or {})
    if "risk_limits" in values:
        values["risk_limits"] = _risk_defaults(values["risk_limits"])
    if "data_dir" in values:
        values["data_dir"] = Path(values["data_dir"])
    _check_control(values)
    _check_exposure(values)
    if "kill_lock_s" in values and not float(values["kill_lock_s"]) > 0:
        raise ConfigError("kill_lock_s must be a positive number of seconds")
    if not float(values.get("backup_every_s", 0)) >= 0 or not int(values.get("backup_keep", 1)) >= 1:
        raise ConfigError("backup_every_s must be 0 (no scheduled backups) or more, backup_keep at least 1")
    if values.get("reconcile_orphans", "adopt") not in ("adopt", "close"):
        raise ConfigError(f"reconcile_orphans must be 'adopt' (kept, as EXTERNAL) or 'close', "
                          f"got {values['reconcile_orphans']!r}")
    if not float(values.get("ping_every_s", 1)) > 0 or not int(values.get("mailbox_warn_depth", 1)) >= 1:
        raise ConfigError("ping_every_s must be a positive number of seconds and mailbox_warn_depth at least 1")
    sim_settings = None if (no_sim or sim is None) else SimSettings(**sim)
    if sim_settings is not None and not sim_settings.speed > 0:
        raise ConfigError(f"sim speed must be positive, got {sim_settings.speed}")
    if sim_settings is not None and sim_settings.account not in (None, *ACCOUNT_TYPES):
        raise ConfigError(f"sim account must be one of {sorted(ACCOUNT_TYPES)}, got {sim_settings.account!r}")
    return ServiceConfig(**values, sim=sim_settings)


def _check_control(values: dict[str, Any]) -> None:
    from actors.control.rate_limits import RateLimitsError, parse_limits

    if "rate_limits" in values:
        try:
            values["rate_limits"] = parse_limits(values["rate_limits"])
        except RateLimitsError as exc:
            raise ConfigError(str(exc)) from None
    auth = values.get("control_auth", True)
    if not isinstance(auth, bool):
        raise ConfigError("control_auth must be true or false")
    endpoint = values.get("control_endpoint", DEFAULT_CONTROL)
    if not auth and not is_loopback(endpoint):
        raise ConfigError(f"control authentication may be off only on a loopback bind, not {endpoint}; "
                          "keep it on and give remote clients a key (`run.py keys add`)")


def _check_exposure(values: dict[str, Any]) -> None:
    """An endpoint other hosts can reach is bound only with CURVE on (checked before any bind)."""
    from actors.runtime.zap import ZapConfigError, parse_networks

    sockets = ((("control_endpoint", DEFAULT_CONTROL), ("events_endpoint", DEFAULT_EVENTS)), "curve",
               "set curve = true (--curve) and allow-list each client with `run.py keys curve-client NAME`"), \
              ((("ea_ctl_endpoint", protocol.DEFAULT_CTL_ENDPOINT), ("ea_md_endpoint", protocol.DEFAULT_MD_ENDPOINT)),
               "ea_curve", "set ea_curve = true (--ea-curve) and give each EA a key with "
               "`run.py keys curve-terminal LOGIN`")
    for endpoints, flag, what_to_do in sockets:
        for key, default in endpoints:
            endpoint = values.get(key, default)
            if not is_loopback(endpoint) and values.get(flag) is not True:
                raise ConfigError(f"{key} {endpoint} is reachable from other hosts and {flag} is off: {what_to_do}, "
                                  "or bind 127.0.0.1")
    for key in ("control_allow_ips", "ea_allow_ips"):
        try:
            parse_networks(values.get(key, []), f"config key {key}")
        except ZapConfigError as exc:
            raise ConfigError(str(exc)) from None
    if not float(values.get("audit_reads_every_s", 0)) >= 0:
        raise ConfigError("audit_reads_every_s must be 0 (every read audited) or more seconds")


def is_loopback(endpoint: str) -> bool:
    """Whether only this host can reach `endpoint` (tcp on a loopback address, ipc, inproc)."""
    scheme, _, rest = endpoint.partition("://")
    if scheme in ("ipc", "inproc"):
        return True
    host = rest.rpartition(":")[0].strip("[]")
    try:
        return scheme == "tcp" and (host == "localhost" or ipaddress.ip_address(host).is_loopback)
    except ValueError:  # an interface name or "*": maybe reachable from elsewhere
        return False


def _risk_defaults(value: Any) -> dict[str, dict[str, Any]]:
    from actors.risk.checks import default_limits
    from actors.risk.limits import LimitsError, coerce, is_looser

    if not isinstance(value, dict) or set(value) - {"demo", "live"}:
        raise ConfigError('risk_limits must be an object with "demo" and/or "live" limit objects')
    cleaned: dict[str, dict[str, Any]] = {}
    for account_type, limits in value.items():
        if not isinstance(limits, dict):
            raise ConfigError(f"risk_limits.{account_type} must be an object of limits")
        builtin = default_limits(account_type)
        cleaned[account_type] = {}
        for key, raw in limits.items():
            try:
                cleaned[account_type][key] = coerce(key, raw)
            except LimitsError as exc:
                raise ConfigError(f"risk_limits.{account_type}: {exc}") from None
            if account_type == "live" and is_looser(key, cleaned[account_type][key], builtin.get(key)):
                raise ConfigError(f"risk_limits.live.{key} is looser than the live default {builtin.get(key)!r}: "
                                  "the config may only tighten live limits; loosen them on the running "
                                  "executor with UPDATE_RISK_LIMITS and a TOTP code")
    return cleaned


@dataclass(frozen=True)
class _FileOnly:
    """Keys a config file may hold that are no ServiceConfig field."""
    no_sim: bool = False


def _check_endpoints(values: dict[str, Any], sim: dict[str, Any]) -> None:
    """Endpoints in their form (tcp://HOST:PORT ...) before any socket is made of them."""
    named = [(key, values.get(key)) for key in ("control_endpoint", "events_endpoint", "ea_ctl_endpoint",
                                                "ea_md_endpoint")]
    named += [(f"sim.{key}", sim.get(key)) for key in ("prices_ctl", "prices_md")]
    for key, value in named:
        if value is not None:
            try:
                check_endpoint(value, f"config key {key}")
            except ValueError as exc:
                raise ConfigError(str(exc)) from None


def _check_types(values: dict[str, Any], cls: type, prefix: str) -> None:
    try:
        check_types(values, cls, prefix)
    except ConfigFileError as exc:
        raise ConfigError(str(exc)) from None


def _check_keys(values: dict[str, Any], cls: type, prefix: str) -> None:
    allowed = {f.name for f in dataclasses.fields(cls)} - {"sim"}
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ConfigError(f"unknown config key {prefix}{unknown[0]}; allowed: {', '.join(sorted(allowed))}")
