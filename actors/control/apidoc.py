"""The API reference, generated from the code: `python -m actors.control.apidoc > docs/api-reference.md`.

Every command with each field of its `data` (path, required or not, type and bounds,
default) from the whitelist schemas of `actors/control/schema.py`; the request envelope;
the error codes of `actors/errors.py`; the events of `actors/messages.py` with their
fields. `tests/test_apidoc.py` fails when the committed file differs from what this prints,
so the reference cannot drift from the code. The prose (what a command does, its reply)
stays in docs/control-api.md.
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from collections.abc import Iterator
from typing import Any

from actors import errors
from actors import messages as m
from actors.control import schema as cs
from actors.control.views import CTL_OF
from actors.schema import _ABSENT, Key, ListOf, Map, ShapeByKey, Tagged

# What each error code means; a code added to actors/errors.py without a line here fails the test.
ERROR_MEANINGS = {
    errors.BAD_REQUEST: "the frame, the envelope or `data` is outside its schema (`details.field` names the "
                        "path), a rule does not compile (`details.position`), or a limit value is illegal",
    errors.UNKNOWN_COMMAND: "`type` names no command (`details.type`)",
    errors.UNAUTHORIZED: "a missing or wrong signature, or a key whose role may not send the command",
    errors.RATE_LIMITED: "over the command's rate limit for this key (`details.retry_after_ms`)",
    errors.NOT_FOUND: "an unknown strategy id, ticket, account or symbol",
    errors.CONFLICT: "a strategy already running, stopped or failed; a ticket open on several accounts",
    errors.RISK_REJECTED: "the pre-trade checks or the sizing refused the order (`details.reasons`)",
    errors.TRADING_LOCKED: "the kill switch, or the account's breach lock, is on (`details.locked_until`, ms)",
    errors.CONFIRMATION_REQUIRED: "a risk-increasing command on a live account without a valid TOTP code "
                                  "(`details.accounts`; `details.keys` for limits)",
    errors.BROKER_ERROR: "MT5 refused the order (`details.retcode`)",
    errors.UNAVAILABLE: "the terminal link is down, the account is not ready, the owner is not running, or "
                        "the executor is shutting down: retry",
    errors.TIMEOUT: "the owner did not answer in time, or MT5 never answered an order; STATUS_REQUEST shows "
                    "the outcome",
    errors.INTERNAL: "an owner answered an error without a code",
}

HEADER = """\
# API reference

Generated from the code by `python -m actors.control.apidoc > docs/api-reference.md`; do not
edit by hand (`tests/test_apidoc.py` fails when this file and the code disagree). What each
command does and what it answers: [control-api.md](control-api.md).

Field paths are those of `data` (`strategy.settings.sizing.lots`); `[]` is an item of a list,
`{method=fixed}` a variant chosen by a key's value, `{pips}` a shape chosen by the key present.
"""


def rows(check: Any, path: str) -> Iterator[tuple[str, bool, str, str]]:
    """(path, required, type, default) of every field under `check` at `path`."""
    if isinstance(check, Map):
        for name, key in check.keys.items():
            yield from _key_rows(key, f"{path}.{name}" if path else name)
    elif isinstance(check, Tagged):
        yield f"{path}.{check.tag}", True, check.choice.expected, "-"
        for variant, schema in check.variants.items():
            yield from rows(schema, f"{path}{{{check.tag}={variant}}}")
    elif isinstance(check, ShapeByKey):
        for shape, schema in check.shapes.items():
            yield from rows(schema, f"{path}{{{shape}}}")
    elif isinstance(check, ListOf) and isinstance(check.item, (Map, Tagged, ShapeByKey)):
        yield from rows(check.item, f"{path}[]")


# Shapes used by several commands: described once, in their own section, and linked.
SHARED = {id(cs.STRATEGY): ("a strategy definition", "strategy-definition"), id(cs.SIZING): ("a sizing", "sizing")}


def _key_rows(key: Key, path: str) -> Iterator[tuple[str, bool, str, str]]:
    check = key.check
    default = "-" if key.default is _ABSENT else f"`{_show(key.default)}`"
    if id(check) in SHARED:
        what, anchor = SHARED[id(check)]
        yield path, key.required, f"{what} ([below](#{anchor}))", default
        return
    nested = isinstance(check, (Map, Tagged, ShapeByKey)) or (
        isinstance(check, ListOf) and isinstance(check.item, (Map, Tagged, ShapeByKey)))
    kind = ("a list of maps, at most " f"{check.max_items}" if isinstance(check, ListOf) else "a map") if nested \
        else check.expected
    yield path, key.required, kind, default
    if nested:
        yield from rows(check, path)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    return repr(value) if isinstance(value, str) else str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def commands() -> list[str]:
    out = ["## Commands", ""]
    for type_, schema in cs._COMMAND_SCHEMAS.items():
        ctl = CTL_OF.get(type_)
        out += [f"### `{type_}`", "", f"From the shell: `run.py {ctl}`." if ctl else "From the shell: `run.py ctl "
                f"send {type_}`.", ""]
        fields = list(rows(schema, ""))
        if not fields:
            out += ["No fields: `data` is `{}` or left out.", ""]
            continue
        out += ["| field | required | type | default |", "|---|---|---|---|"]
        out += [f"| `{p}` | {'yes' if r else 'no'} | {_cell(t)} | {_cell(d)} |" for p, r, t, d in fields]
        notes = []
        if schema.at_least_one_of:
            notes.append(f"At least one of {', '.join(f'`{n}`' for n in schema.at_least_one_of)}.")
        notes += [f"`{a}` and `{b}` exclude each other." for a, b in schema.exclusive]
        out += [""] + ([" ".join(notes), ""] if notes else [])
    return out


def envelope() -> list[str]:
    out = ["## Request envelope", "", "| key | required | type | default |", "|---|---|---|---|"]
    out += [f"| `{p}` | {'yes' if r else 'no'} | {_cell(t)} | {_cell(d)} |" for p, r, t, d in rows(cs._ENVELOPE, "")]
    return out + ["", "Any other key is `BAD_REQUEST`.", ""]


def shared() -> list[str]:
    out = []
    for title, check, path in (("Strategy definition", cs.STRATEGY, "strategy"), ("Sizing", cs.SIZING, "sizing")):
        out += [f"## {title}", "", "| field | required | type | default |", "|---|---|---|---|"]
        out += [f"| `{p}` | {'yes' if r else 'no'} | {_cell(t)} | {_cell(d)} |" for p, r, t, d in rows(check, path)]
        out.append("")
    return out


def error_codes() -> list[str]:
    out = ["## Error codes", "", "| code | when |", "|---|---|"]
    out += [f"| `{code}` | {ERROR_MEANINGS[code]} |" for code in sorted(errors.ERROR_CODES)]
    return out + [""]


def events() -> list[str]:
    out = ["## Events", "", "On the events socket: `[topic, msgpack map]`, the topic is the event's name. Every "
           "event also carries `time` (int, ms UTC: when the executor published it).", ""]
    for event in sorted(m.EVENT_TYPES, key=lambda t: t.__name__):
        hints = typing.get_type_hints(event)
        fields = ", ".join(f"`{f.name}` ({_type_name(hints[f.name])})" for f in dataclasses.fields(event))
        doc = " ".join((event.__doc__ or "").split())
        out.append(f"* `{event.__name__}`: {fields}." + (f" {doc}" if doc and not doc.startswith(event.__name__)
                                                          else ""))
    return out + [""]


def _type_name(hint: Any) -> str:
    text = getattr(hint, "__name__", None) if not typing.get_args(hint) else None
    return text or str(hint).replace("typing.", "")


def reference() -> str:
    return "\n".join([HEADER, *envelope(), *commands(), *shared(), *error_codes(), *events()]).rstrip("\n") + "\n"


if __name__ == "__main__":
    sys.stdout.write(reference())
