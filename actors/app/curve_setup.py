"""The service's CURVE set-up: which sockets are guarded, with which keys and ranges.

`ensure_keys` runs at start, before any socket exists: the executor's keypair, the `local`
client pair (`run.py ctl` on this host) when the control socket is CURVE, and the embedded
simulated terminal's pair when the EA sockets are. `control_guard` and `ea_guard` are what
the Supervisor hands the ControlServer and the Gateway (actors/runtime/zap.py); each reads
the key files again, so a restarted actor sees the files as they are now.
"""

from __future__ import annotations

from actors.app.config import ServiceConfig
from actors.runtime import curve_keys
from actors.runtime.zap import GuardSpec, parse_networks
from bridge import protocol
from bridge.curve import ClientKeys

CONTROL_DOMAIN, EA_DOMAIN = "control", "ea"


def ensure_keys(config: ServiceConfig) -> None:
    """CurveKeysError (or OSError) when a key file cannot be made or read."""
    if not (config.curve or config.ea_curve):
        return
    curve_keys.server_keys(config.data_dir)
    if config.curve:
        curve_keys.local_client_pair(config.data_dir)
    if config.ea_curve and config.sim is not None:
        curve_keys.terminal_pair(config.data_dir, config.sim.login)


def control_guard(config: ServiceConfig) -> GuardSpec | None:
    networks = parse_networks(config.control_allow_ips, "control_allow_ips")
    if not (config.curve or networks):
        return None
    secret = curve_keys.server_keys(config.data_dir)[1] if config.curve else None
    return GuardSpec(CONTROL_DOMAIN, secret, curve_keys.allow_list_path(config.data_dir, curve_keys.CLIENTS),
                     networks)


def ea_guard(config: ServiceConfig) -> GuardSpec | None:
    networks = parse_networks(config.ea_allow_ips, "ea_allow_ips")
    if not (config.ea_curve or networks):
        return None
    secret = curve_keys.server_keys(config.data_dir)[1] if config.ea_curve else None
    # A terminal's ZAP name is its routing id: the Gateway refuses a key speaking for another login.
    return GuardSpec(EA_DOMAIN, secret, curve_keys.allow_list_path(config.data_dir, curve_keys.TERMINALS),
                     networks, user_prefix=protocol.ROUTING_ID_PREFIX)


def sim_curve(config: ServiceConfig) -> ClientKeys | None:
    """The embedded simulated terminal's CURVE keys, as a real EA would hold them."""
    if not config.ea_curve or config.sim is None:
        return None
    return ClientKeys(curve_keys.server_public(config.data_dir),
                      *curve_keys.terminal_pair(config.data_dir, config.sim.login))
