"""The service's config file: TOML or JSON, every value's type checked with the key named,
the commented example that documents every setting, and endpoints checked before any socket."""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from actors.app.config import ConfigError, ServiceConfig, SimSettings, load_config
from actors.app.config_example import EXAMPLE
from actors.app.endpoints import busy, check_endpoint, in_use

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_toml_file_and_its_json_twin_give_the_same_config(tmp_path):
    toml = write(tmp_path, "c.toml", 'kill_lock_s = 60\nlog_level = "DEBUG"\nno_sim = false\n'
                                     '[sim]\nspeed = 60\nseed = 3\n[risk_limits.live]\nmax_lot_size = 0.05\n')
    twin = write(tmp_path, "c.json", json.dumps({"kill_lock_s": 60, "log_level": "DEBUG",
                                                 "sim": {"speed": 60, "seed": 3},
                                                 "risk_limits": {"live": {"max_lot_size": 0.05}}}))
    config = load_config(toml)
    assert config == load_config(twin)
    assert (config.kill_lock_s, config.sim.speed, config.sim.seed) == (60, 60, 3)
    assert config.risk_limits == {"live": {"max_lot_size": 0.05}}
    assert load_config(write(tmp_path, "n.toml", "no_sim = true\n")).sim is None


@pytest.mark.parametrize("name, text, says", [
    ("a.json", '{"sim": {"speed": "fast"}}', "config key sim.speed must be a number, got 'fast'"),
    ("a.json", '{"kill_lock_s": "abc"}', "config key kill_lock_s must be a number, got 'abc'"),
    ("a.toml", 'kill_lock_s = "abc"\n', "config key kill_lock_s must be a number, got 'abc'"),
    ("a.toml", "log_level = 3\n", "config key log_level must be a string, got 3"),
    ("a.toml", '[sim]\nlogin = 1.5\n', "config key sim.login must be an integer, got 1.5"),
    ("a.toml", '[sim]\nbalance = "lots"\n', "config key sim.balance must be a number (or left out), got 'lots'"),
    ("a.toml", 'no_sim = "yes"\n', "config key no_sim must be true or false, got 'yes'"),
    ("a.toml", "risk_limits = 3\n", "config key risk_limits must be a table (a JSON object), got 3"),
    ("a.toml", "kill_lock = 5\n", "unknown config key kill_lock; allowed:"),
    ("a.toml", "[sim]\nsped = 5\n", "unknown config key sim.sped; allowed:"),
    ("a.toml", "kill_lock_s = \n", "is not valid TOML"),
    ("a.json", "{", "is not valid JSON"),
    ("a.toml", 'control_endpoint = "localhost:5555"\n', "config key control_endpoint 'localhost:5555' has no scheme"),
    ("a.toml", '[sim]\nprices_md = "tcp://127.0.0.1:99999"\n', "the port must be a number 1-65535"),
])
def test_a_bad_value_is_one_line_naming_its_key(tmp_path, name, text, says):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, name, text))
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_the_service_refuses_a_bad_config_with_exit_2_and_one_line(tmp_path):
    for name, text in (("s.toml", '[sim]\nspeed = "fast"\n'), ("k.json", '{"kill_lock_s": "abc"}')):
        result = subprocess.run([sys.executable, "run.py", "service", "--data-dir", str(tmp_path / "d"), "--config",
                                 str(write(tmp_path, name, text))], cwd=ROOT, capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 2, result
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert "must be a number" in result.stderr


def example_sections() -> dict[str, str]:
    """The example's text per TOML table ('' for the top level), commented keys included."""
    sections, current = {"": []}, ""
    for line in EXAMPLE.splitlines():
        header = re.match(r"^#?\s*\[([a-z_.]+)\]\s*$", line)
        if header:
            current = header.group(1)
            sections.setdefault(current, [])
        else:
            sections[current].append(line)
    return {name: "\n".join(lines) for name, lines in sections.items()}


def test_the_example_documents_every_setting():
    sections = example_sections()
    for cls, section in ((ServiceConfig, ""), (SimSettings, "sim")):
        for field in dataclasses.fields(cls):
            if field.name == "sim":
                continue
            as_table = section == "" and any(name.split(".")[0] == field.name for name in sections)
            documented = as_table or re.search(rf"^#?\s*{field.name}\s*=", sections[section], re.M)
            assert documented, (f"{cls.__name__}.{field.name} is not in actors/app/config_example.py: document "
                                "every setting there (commented out if its default is none)")


def test_the_example_sets_exactly_the_defaults(tmp_path):
    values = tomllib.loads(EXAMPLE)
    assert load_config(write(tmp_path, "example.toml", EXAMPLE)) == load_config(None)
    assert values["sim"]["login"] == SimSettings().login and values["kill_lock_s"] == ServiceConfig().kill_lock_s


def test_run_py_config_prints_the_example_and_checks_a_file(tmp_path):
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "run.py", "config", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
    printed = run("--example")
    assert printed.returncode == 0 and printed.stdout == EXAMPLE
    good = run("--check", str(write(tmp_path, "good.toml", printed.stdout)))
    assert good.returncode == 0 and "valid" in good.stdout
    bad = run("--check", str(write(tmp_path, "bad.toml", "[sim]\nspeed = \"fast\"\n")))
    assert bad.returncode == 2
    assert bad.stderr.strip() == "run.py config: config key sim.speed must be a number, got 'fast'"


@pytest.mark.parametrize("text, ok", [
    ("tcp://127.0.0.1:5555", True), ("tcp://*:5555", True), ("tcp://[::1]:5555", True), ("tcp://host-1.lan:1", True),
    ("ipc:///tmp/executor", True), ("inproc://x", True),
    ("localhost:5555", False), ("foo", False), ("udp://127.0.0.1:5", False), ("tcp://127.0.0.1", False),
    ("tcp://127.0.0.1:0", False), ("tcp://127.0.0.1:port", False), ("tcp://:5555", False), ("ipc://", False),
])
def test_endpoints_are_checked_in_their_form(text, ok):
    if ok:
        assert check_endpoint(text) == text
    else:
        with pytest.raises(ValueError, match="tcp://|port|names no"):
            check_endpoint(text)


def test_a_bound_port_is_seen_in_use_and_named():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        endpoint = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
        assert in_use(endpoint)
        assert busy({"--ea-md": endpoint}) == (f"{endpoint} (--ea-md) is already in use: another executor, or another "
                                               "program, listens there; stop it or choose another --ea-md")
    assert not in_use(endpoint) and busy({"--ea-md": endpoint}) is None
    assert not in_use("ipc:///tmp/whatever")
