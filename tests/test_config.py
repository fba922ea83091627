"""Service configuration (actors/app/config.py): defaults, then the file, then overrides or
`run.py service`'s options."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from actors.app.config import (
    DEFAULT_CONTROL, DEFAULT_EVENTS, DEFAULT_SIM_LOGIN, ConfigError, ServiceConfig, SimSettings, load_config,
    service_config,
)
from actors.runtime.kill_switch import LOCK_SECONDS
from bridge import protocol


def write(tmp_path: Path, content) -> Path:
    path = tmp_path / "executor.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_defaults():
    config = load_config(None)
    assert config == ServiceConfig()
    assert config.data_dir == Path("data")
    assert config.control_endpoint == DEFAULT_CONTROL == "tcp://127.0.0.1:5555"
    assert config.events_endpoint == DEFAULT_EVENTS == "tcp://127.0.0.1:5556"
    assert config.ea_ctl_endpoint == protocol.DEFAULT_CTL_ENDPOINT
    assert config.ea_md_endpoint == protocol.DEFAULT_MD_ENDPOINT
    assert config.kill_lock_s == LOCK_SECONDS
    assert config.log_level == "INFO"
    assert config.sim == SimSettings()
    assert config.sim.login == DEFAULT_SIM_LOGIN and config.sim.speed == 1.0


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        load_config(None).log_level = "DEBUG"  # type: ignore[misc]


def test_file_values(tmp_path):
    path = write(tmp_path, {"control_endpoint": "tcp://127.0.0.1:6000", "data_dir": "/srv/executor",
                            "kill_lock_s": 120, "sim": {"speed": 60.0, "seed": 3}})
    config = load_config(path)
    assert config.control_endpoint == "tcp://127.0.0.1:6000"
    assert config.data_dir == Path("/srv/executor")
    assert isinstance(config.data_dir, Path)
    assert config.kill_lock_s == 120
    assert config.sim == SimSettings(speed=60.0, seed=3)
    assert config.events_endpoint == DEFAULT_EVENTS  # untouched keys keep their defaults


def test_overrides_win_over_the_file(tmp_path):
    path = write(tmp_path, {"control_endpoint": "tcp://127.0.0.1:6000", "log_level": "WARNING"})
    config = load_config(path, control_endpoint="tcp://127.0.0.1:7000", data_dir=tmp_path)
    assert config.control_endpoint == "tcp://127.0.0.1:7000"
    assert config.log_level == "WARNING"
    assert config.data_dir == tmp_path


def test_none_overrides_are_ignored(tmp_path):
    path = write(tmp_path, {"log_level": "WARNING"})
    config = load_config(path, log_level=None, control_endpoint=None, sim=None, no_sim=None)
    assert config.log_level == "WARNING"
    assert config.control_endpoint == DEFAULT_CONTROL
    assert config.sim == SimSettings()


def test_sim_override_without_a_file():
    config = load_config(None, sim={"speed": 600.0, "history_minutes": 600, "seed": 7})
    assert config.sim == SimSettings(speed=600.0, history_minutes=600, seed=7)


def test_unknown_file_key_is_refused_by_name(tmp_path):
    path = write(tmp_path, {"contrl_endpoint": "tcp://127.0.0.1:6000"})
    with pytest.raises(ConfigError, match="contrl_endpoint") as err:
        load_config(path)
    assert "control_endpoint" in str(err.value)  # and says what is allowed


def test_unknown_sim_key_is_refused_by_name(tmp_path):
    with pytest.raises(ConfigError, match=r"sim\.sped"):
        load_config(write(tmp_path, {"sim": {"sped": 2.0}}))


def test_unknown_override_is_refused_by_name():
    with pytest.raises(ConfigError, match="bogus"):
        load_config(None, bogus=1)


def test_no_sim():
    assert load_config(None, no_sim=True).sim is None
    assert load_config(None, no_sim=False).sim == SimSettings()


def test_no_sim_wins_over_sim_settings(tmp_path):
    assert load_config(write(tmp_path, {"sim": {"speed": 5.0}}), no_sim=True).sim is None


def test_null_sim_in_the_file_means_no_simulator(tmp_path):
    assert load_config(write(tmp_path, {"sim": None})).sim is None


def test_sim_must_be_an_object(tmp_path):
    with pytest.raises(ConfigError, match="'sim' must be an object"):
        load_config(write(tmp_path, {"sim": 5}))


@pytest.mark.parametrize("speed", [0, -1.0])
def test_sim_speed_must_be_positive(tmp_path, speed):
    with pytest.raises(ConfigError, match="speed"):
        load_config(write(tmp_path, {"sim": {"speed": speed}}))


@pytest.mark.parametrize("lock", [0, -5])
def test_kill_lock_must_be_positive(lock):
    with pytest.raises(ConfigError, match="kill_lock_s"):
        load_config(None, kill_lock_s=lock)


def test_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(ConfigError, match="nope.json"):
        load_config(missing)


def test_bad_json_names_the_path(tmp_path):
    path = write(tmp_path, "{not json")
    with pytest.raises(ConfigError, match="executor.json"):
        load_config(path)


@pytest.mark.parametrize("content", ["[]", "5", "\"text\"", "null"])
def test_file_must_hold_an_object(tmp_path, content):
    with pytest.raises(ConfigError, match="JSON object"):
        load_config(write(tmp_path, content))


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


def test_risk_limit_defaults_are_validated_and_may_only_tighten_live(tmp_path):
    config = load_config(write(tmp_path, {"risk_limits": {
        "demo": {"no_trade_windows": [], "max_positions": 20}, "live": {"max_lot_size": 0.05}}}))
    assert config.risk_limits == {"demo": {"no_trade_windows": [], "max_positions": 20},
                                  "live": {"max_lot_size": 0.05}}
    with pytest.raises(ConfigError, match=r"risk_limits.live.max_lot_size is looser than the live default 0.1"):
        load_config(write(tmp_path, {"risk_limits": {"live": {"max_lot_size": 5}}}))
    with pytest.raises(ConfigError, match=r"risk_limits.demo: unknown risk limit 'max_lots'"):
        load_config(write(tmp_path, {"risk_limits": {"demo": {"max_lots": 5}}}))
    with pytest.raises(ConfigError, match=r"risk_limits.demo: max_positions must be a whole number"):
        load_config(write(tmp_path, {"risk_limits": {"demo": {"max_positions": 2.5}}}))
    with pytest.raises(ConfigError, match=r'risk_limits must be an object with "demo" and/or "live"'):
        load_config(write(tmp_path, {"risk_limits": {"paper": {}}}))


def test_configured_defaults_reach_the_risk_guard(executor_factory):
    executor = executor_factory(risk_limits={"demo": {"max_positions": 1}})
    executor.wait_connected()
    executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
    refused = executor.request("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
    assert any("max_positions 1" in r for r in refused["error"]["details"]["reasons"])


# --------------------------------------------------- `run.py service`'s options ---
def service_options(*argv: str):
    import run
    return run.build_parser().parse_args(["service", *argv])


def test_service_options_win_over_the_file_which_wins_over_the_defaults(tmp_path):
    path = write(tmp_path, {"data_dir": str(tmp_path / "from-file"), "log_level": "WARNING",
                            "control_endpoint": "tcp://127.0.0.1:6000",
                            "sim": {"speed": 60.0, "seed": 3, "balance": 500.0}})
    config = service_config(service_options("--config", str(path), "--control", "tcp://127.0.0.1:7000",
                                            "--sim-seed", "9", "--sim-always-open"))
    assert config.control_endpoint == "tcp://127.0.0.1:7000" and config.log_level == "WARNING"
    assert config.data_dir == tmp_path / "from-file"  # no --data-dir: the file's
    assert config.events_endpoint == DEFAULT_EVENTS
    # A --sim-* option changes its key of the file's "sim" object, not the whole object.
    assert config.sim == SimSettings(speed=60.0, seed=9, balance=500.0, always_open=True)
    assert service_config(service_options("--config", str(path), "--data-dir", "elsewhere")).data_dir == \
        Path("elsewhere")
    assert service_config(service_options()) == ServiceConfig()


def test_service_options_for_the_simulator(tmp_path):
    assert service_config(service_options("--no-sim", "--sim-speed", "5")).sim is None
    assert service_config(service_options("--config", str(write(tmp_path, {"sim": None})), "--sim-seed", "2")).sim \
        is None  # null in the file: no simulator, whatever --sim-* says
    paper = service_config(service_options("--paper-prices", "--prices-ctl", "tcp://127.0.0.1:6001")).sim
    assert (paper.prices, paper.prices_ctl) == ("ea", "tcp://127.0.0.1:6001")
    with pytest.raises(ConfigError, match="--paper-prices needs the embedded simulated terminal; drop --no-sim"):
        service_config(service_options("--paper-prices", "--no-sim"))
    with pytest.raises(ConfigError, match="'sim' must be an object"):
        service_config(service_options("--config", str(write(tmp_path, {"sim": 5})), "--sim-seed", "2"))


def test_service_options_read_the_simulators_files_before_anything_starts(tmp_path):
    broker = tmp_path / "broker.json"
    broker.write_text(json.dumps({"account": {"leverage": "high"}}))
    with pytest.raises(ConfigError, match="leverage"):
        service_config(service_options("--sim-broker", str(broker)))
    with pytest.raises(ConfigError, match="cannot read calendar file .*nope.json: not found"):
        service_config(service_options("--sim-calendar", str(tmp_path / "nope.json")))
    assert service_config(service_options("--no-sim", "--sim-broker", str(broker))).sim is None  # not read
