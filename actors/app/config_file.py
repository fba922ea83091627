"""The `--config` file: TOML (by its `.toml` suffix, read with the standard `tomllib`) or
JSON (anything else), and the type of every value checked against the setting it names.

A value of the wrong type is refused in one line naming the key and the type expected
(`config key sim.speed must be a number, got 'fast'`), before anything starts, so no
Python error leaks from deep inside the service. The types come from the dataclasses of
`actors.app.config`, so a setting added there is checked here without another list.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
import typing
from pathlib import Path
from typing import Any


class ConfigFileError(ValueError):
    """A config file that cannot be read or a value of the wrong type; one line."""


def read_file(path: Path | None) -> dict[str, Any]:
    """The settings in the file at `path` ({} for None): TOML for `*.toml`, JSON otherwise."""
    if path is None:
        return {}
    path = Path(path)
    is_toml = path.suffix.lower() == ".toml"
    try:
        text = path.read_text(encoding="utf-8")
        values = tomllib.loads(text) if is_toml else json.loads(text)
    except OSError as exc:
        raise ConfigFileError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigFileError(f"config file {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"config file {path} is not valid TOML: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigFileError(f"config file {path} is not valid JSON ({exc}); a TOML file must end in .toml") from None
    if not isinstance(values, dict):
        raise ConfigFileError(f"config file {path} must hold a JSON object")
    return values


def check_types(values: dict[str, Any], cls: type, prefix: str = "") -> None:
    """Every value in `values` has the type of `cls`'s field of that name (unknown keys are
    the caller's to refuse). Lenient where a file cannot be exact: an int is a fine float, a
    string a fine path."""
    hints = typing.get_type_hints(cls)
    for key, value in values.items():
        if key in hints and not _fits(value, hints[key]):
            raise ConfigFileError(f"config key {prefix}{key} must be {describe(hints[key])}, got {_show(value)}")


def _fits(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, arm) for arm in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is Any:
        return True
    if dataclasses.is_dataclass(hint):
        return isinstance(value, dict)  # its own keys are checked by its own rules
    if origin is dict:
        key_type, value_type = typing.get_args(hint) or (Any, Any)
        return isinstance(value, dict) and all(_fits(k, key_type) and _fits(v, value_type) for k, v in value.items())
    if origin in (list, tuple):
        (item,) = typing.get_args(hint)[:1] or (Any,)
        return isinstance(value, (list, tuple)) and all(_fits(v, item) for v in value)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is Path:
        return isinstance(value, (str, Path))
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True  # a hint this checker does not know: the setting's own validation decides


def describe(hint: Any) -> str:
    """A type as the error says it: 'a number', 'an integer or none', 'a table (object)'."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        arms = [a for a in typing.get_args(hint) if a is not type(None)]
        text = " or ".join(describe(a) for a in arms)
        return f"{text} (or left out)" if len(arms) < len(typing.get_args(hint)) else text
    if origin is dict or dataclasses.is_dataclass(hint):
        return "a table (a JSON object)"
    if origin in (list, tuple):
        return "a list"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string",
            Path: "a path (a string)"}.get(hint, getattr(hint, "__name__", str(hint)))


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    return repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
