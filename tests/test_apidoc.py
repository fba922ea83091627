"""docs/api-reference.md is generated from the code (`python -m actors.control.apidoc`): these
tests fail when the committed file and the schemas, error codes or events disagree."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from actors import errors
from actors import messages as m
from actors.control import apidoc
from actors.control import schema as cs
from actors.schema import Int, opt

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "api-reference.md"


def test_the_committed_reference_is_what_the_code_generates():
    assert REFERENCE.read_text(encoding="utf-8") == apidoc.reference(), (
        "docs/api-reference.md is stale: run `python -m actors.control.apidoc > docs/api-reference.md`")


def test_the_module_prints_the_reference():
    printed = subprocess.run([sys.executable, "-m", "actors.control.apidoc"], cwd=ROOT, capture_output=True,
                             text=True, timeout=60, check=True).stdout
    assert printed == apidoc.reference()


def test_every_command_error_code_and_event_is_in_it():
    text = apidoc.reference()
    assert set(apidoc.ERROR_MEANINGS) == errors.ERROR_CODES, "describe every error code in apidoc.ERROR_MEANINGS"
    for type_ in cs.COMMANDS:
        assert f"### `{type_}`" in text
    for code in errors.ERROR_CODES:
        assert f"| `{code}` |" in text
    for event in m.EVENT_TYPES:
        line = next(line for line in text.splitlines() if line.startswith(f"* `{event.__name__}`"))
        assert all(f"`{f.name}`" in line for f in dataclasses.fields(event))
    assert "| `strategy.settings.sizing` | no | a sizing ([below](#sizing)) |" in text
    assert "| `sizing{method=atr_based}.atr_period` | no | an integer >= 1 and <= 1000 | `14` |" in text
    assert "`volume` and `sizing` exclude each other." in text


def test_a_field_added_to_a_schema_changes_the_reference(monkeypatch):
    before = apidoc.reference()
    pause = cs._COMMAND_SCHEMAS[cs.PAUSE_STRATEGY]
    monkeypatch.setitem(cs._COMMAND_SCHEMAS, cs.PAUSE_STRATEGY,
                        dataclasses.replace(pause, keys={**pause.keys, "minutes": opt(Int(ge=1, le=60), 5)}))
    after = apidoc.reference()
    assert after != before
    assert "| `minutes` | no | an integer >= 1 and <= 60 | `5` |" in after


@pytest.mark.parametrize("ctl, type_", [("ctl open", "OPEN_POSITION"), ("ctl limits", "UPDATE_RISK_LIMITS")])
def test_commands_name_their_ctl_command(ctl, type_):
    text = apidoc.reference()
    section = text[text.index(f"### `{type_}`"):]
    assert section.splitlines()[2] == f"From the shell: `run.py {ctl}`."
