"""Where a user says the simulated server's zone: the broker file's "server_tz" (or the older
"tz_offset_s"), `run.py sim --server-tz`, the service's `--sim-server-tz` and `sim.server_tz`;
a zone that cannot be used is one clear line (exit code 2 on the command line)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.server_tz import ServerTz, parse_server_tz
from bridge.sim.config import AccountConfigError, broker_setup
from bridge.sim.options import SimOptionsError, terminal_arguments


def broker(tmp_path: Path, account: dict) -> Path:
    path = tmp_path / "broker.json"
    path.write_text(json.dumps({"account": account}))
    return path


@pytest.mark.parametrize("account, zone", [
    ({}, ServerTz.fixed(7200)), ({"tz_offset_s": 10_800}, ServerTz.fixed(10_800)),
    ({"server_tz": "NY+7"}, parse_server_tz("NY+7")), ({"server_tz": "Europe/Athens"}, parse_server_tz("Europe/Athens")),
    ({"server_tz": 3600}, ServerTz.fixed(3600)), ({"server_tz": "UTC-5"}, ServerTz.fixed(-18_000)),
])
def test_the_broker_file_names_the_server_s_zone(tmp_path: Path, account: dict, zone: ServerTz) -> None:
    _, options = broker_setup(broker(tmp_path, account))
    assert options["server_tz"] == zone and "tz_offset_s" not in options


def test_a_zone_given_explicitly_wins_over_the_file_s_whichever_key(tmp_path: Path) -> None:
    path = broker(tmp_path, {"server_tz": "NY+7"})
    assert broker_setup(path, tz_offset_s=0)[1]["server_tz"] == ServerTz.fixed(0)
    assert broker_setup(broker(tmp_path, {"tz_offset_s": 0}), server_tz="NY+7")[1]["server_tz"] == parse_server_tz("NY+7")


@pytest.mark.parametrize("account, words", [
    ({"server_tz": "Mars/Olympus"}, "no such IANA zone"),
    ({"server_tz": "NY+25"}, "UTC-14 to UTC+14"),
    ({"server_tz": True}, "NY+7"),
    ({"tz_offset_s": 7201}, "whole minutes"),
    ({"server_tz": "NY+7", "tz_offset_s": 7200}, "not both"),
])
def test_a_zone_that_cannot_be_used_is_one_line_naming_the_file(tmp_path: Path, account: dict, words: str) -> None:
    with pytest.raises(AccountConfigError) as error:
        broker_setup(broker(tmp_path, account))
    assert words in str(error.value) and "broker.json" in str(error.value) and "\n" not in str(error.value)


def test_the_simulated_terminal_s_options_take_the_zone(tmp_path: Path) -> None:
    cls, arguments = terminal_arguments(server_tz="NY+7")
    assert arguments["server_options"]["server_tz"] == parse_server_tz("NY+7")
    with pytest.raises(SimOptionsError, match="server time zone 'New York'"):
        terminal_arguments(server_tz="New York")
    with pytest.raises(SimOptionsError, match="not both"):
        terminal_arguments(server_tz="NY+7", tz_offset_s=7200)


# --- the command line and the service's config ---

def test_run_py_sim_takes_the_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    import run
    from bridge.sim import options as sim_options

    given: dict = {}

    class Terminal:
        def run_forever(self) -> None:
            pass

    monkeypatch.setattr(sim_options, "build_terminal", lambda **kw: given.update(kw) or Terminal())
    assert run.main(["sim", "--server-tz", "NY+7"]) == 0
    assert given["server_tz"] == "NY+7"


@pytest.mark.parametrize("argv", [["sim", "--server-tz", "Mars/Olympus"], ["sim", "--server-tz", "NY+7", "--tz-offset-s",
                                                                          "7200"]])
def test_run_py_sim_refuses_a_bad_zone_with_exit_code_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    import run

    assert run.main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("run.py sim:") and "\n" not in error
    assert "server time zone 'Mars/Olympus'" in error or "not both" in error


def test_the_service_takes_the_zone_from_its_option_and_its_config(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import run
    from actors.app.config import load_config, service_config

    def options(*argv: str):
        return run.build_parser().parse_args(["service", "--data-dir", str(tmp_path / "data"), *argv])

    assert service_config(options("--sim-server-tz", "Europe/Athens")).sim.server_tz == "Europe/Athens"
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"sim": {"server_tz": "NY+7"}}))
    config = service_config(options("--config", str(path)))
    assert config.sim.server_tz == "NY+7" and config.sim.terminal_options()["server_tz"] == "NY+7"
    assert service_config(options("--config", str(path), "--sim-server-tz", "UTC+3")).sim.server_tz == "UTC+3"
    assert load_config(None, sim={"server_tz": 7200}).sim.server_tz == 7200
    assert run.main(["service", "--data-dir", str(tmp_path / "data"), "--sim-server-tz", "NY+99"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("run.py service:") and "server time zone 'NY+99'" in error and "\n" not in error
