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
