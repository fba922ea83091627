"""A small declarative whitelist-schema kit for maps that arrive from outside the process.

This module owns the validators (`Str`, `Num`, `Int`, `Bool`, `Choice`, `Const`, `Match`,
`ListOf`, `AnyMap`, `Map`, `ShapeByKey`, `Tagged`) and `SchemaError`. A validator is called
as `check(value, path)`, returns a normalised copy (ints become floats where a number is
expected, defaults are filled in) and raises `SchemaError` naming the dotted path of the
offending field (list items as `path[i]`) and what was expected. No third-party schema
library: the rules are few, and errors must read well for an operator.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

_SHOWN_CHARS = 40  # a hostile 64 KiB string must not be echoed back whole
_LINE_BREAKS = str.maketrans("", "", "\t\r\n")


class SchemaError(ValueError):
    """A request that breaks its schema; `field` is the dotted path of the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def show(value: Any) -> str:
    """A short, safe rendering of a client value for error messages."""
    if value is None or isinstance(value, (bool, int, float, str)):
        text = repr(value)
        return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a value of type {type(value).__name__}"


def _fail(path: str, expected: str, value: Any) -> SchemaError:
    return SchemaError(path, f"{path} must be {expected}, got {show(value)}")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _key_text(name: str) -> str:
    """A key for a field path: as is when short and printable, else quoted and cut."""
    return name if len(name) <= _SHOWN_CHARS and name.isprintable() else show(name)


def either(names: tuple[str, ...]) -> str:
    quoted = [repr(name) for name in names]
    return " or ".join(quoted) if len(quoted) == 2 else "one of " + ", ".join(quoted)


# --------------------------------------------------------------------- validators ---
Validator = Callable[[Any, str], Any]


def _bounds_text(gt: Any, ge: Any, lt: Any, le: Any) -> str:
    pairs = ((">", gt), (">=", ge), ("<", lt), ("<=", le))
    return " and ".join(f"{op} {bound}" for op, bound in pairs if bound is not None)


@dataclass(frozen=True)
class Num:
    """A finite float; ints are accepted and converted, bools are not numbers here."""

    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None

    @property
    def expected(self) -> str:
        bounds = _bounds_text(self.gt, self.ge, self.lt, self.le)
        return f"a number {bounds}" if bounds else "a finite number"

    def in_bounds(self, number: float) -> bool:
        return ((self.gt is None or number > self.gt)
                and (self.ge is None or number >= self.ge)
                and (self.lt is None or number < self.lt)
                and (self.le is None or number <= self.le))

    def __call__(self, value: Any, path: str) -> float:
        # bool is an int subclass: `True` must not pass as 1 lot
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(path, self.expected, value)
        try:
            number = float(value)
        except OverflowError:
            raise _fail(path, self.expected, value) from None
        if not math.isfinite(number) or not self.in_bounds(number):
            raise _fail(path, self.expected, value)
        return number


@dataclass(frozen=True)
class Int(Num):
    """An integer; floats are refused (a ticket or a count is never 5.0)."""

    @property
    def expected(self) -> str:
        bounds = _bounds_text(self.gt, self.ge, self.lt, self.le)
        return f"an integer {bounds}" if bounds else "an integer"

    def __call__(self, value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not self.in_bounds(value):
            raise _fail(path, self.expected, value)
        return value


@dataclass(frozen=True)
class Str:
    """A string of bounded length; printable, or from `charset` (a regex class body)."""

    min_len: int = 1
    max_len: int = 64
    charset: str | None = None
    multiline: bool = False  # rule expressions may be laid out over several lines

    @property
    def expected(self) -> str:
        blank = "non-blank " if self.min_len > 0 and not self.charset else ""
        size = f"a {blank}string of {self.min_len}..{self.max_len}"
        if self.charset:
            return f"{size} characters from [{self.charset}]"
        return f"{size} printable characters{' or line breaks' if self.multiline else ''}"

    def __call__(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise _fail(path, self.expected, value)
        if not self.min_len <= len(value) <= self.max_len:
            raise SchemaError(path, f"{path} must be {self.expected}, "
                                    f"got a string of {len(value)} characters")
        if (self.min_len > 0 and not value.strip()) or not self._chars_ok(value):
            raise _fail(path, self.expected, value)
        return value

    def _chars_ok(self, value: str) -> bool:
        if self.charset:
            return re.fullmatch(f"[{self.charset}]*", value) is not None
        if self.multiline:
            value = value.translate(_LINE_BREAKS)
        return value.isprintable()


@dataclass(frozen=True)
class Match:
    """A string matching `regex` in full, described to the user as `expected`."""

    regex: str
    expected: str

    def __call__(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or re.fullmatch(self.regex, value) is None:
            raise _fail(path, self.expected, value)
        return value


@dataclass(frozen=True)
class Choice:
    """One of a fixed set of strings."""

    options: tuple[str, ...]

    @property
    def expected(self) -> str:
        return either(self.options)

    def __call__(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or value not in self.options:
            raise _fail(path, self.expected, value)
        return value


@dataclass(frozen=True)
class Const:
    """Exactly `value`, of exactly its type (so `True` is not `1`)."""

    value: Any

    @property
    def expected(self) -> str:
        return repr(self.value)

    def __call__(self, value: Any, path: str) -> Any:
        if type(value) is not type(self.value) or value != self.value:
            raise _fail(path, self.expected, value)
        return value


@dataclass(frozen=True)
class Bool:
    expected: str = "true or false"

    def __call__(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise _fail(path, self.expected, value)
        return value


@dataclass(frozen=True)
class ListOf:
    item: Validator
    max_items: int
    min_items: int = 0

    @property
    def expected(self) -> str:
        if self.min_items == self.max_items:
            return f"a list of {self.max_items} items, each {self.item.expected}"
        return f"a list of at most {self.max_items} items, each {self.item.expected}"

    def __call__(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, (list, tuple)) or not self.min_items <= len(value) <= self.max_items:
            raise _fail(path, self.expected, value)
        return [self.item(item, f"{path}[{index}]") for index, item in enumerate(value)]


@dataclass(frozen=True)
class AnyMap:
    """A map with string keys whose contents another schema checks later."""

    expected: str = "a map with string keys"

    def __call__(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
            raise _fail(path, self.expected, value)
        return dict(value)


_ABSENT = object()


@dataclass(frozen=True)
class Key:
    check: Validator
    required: bool = False
    default: Any = _ABSENT  # goes through `check`: comes out normalised, as a fresh copy


def req(check: Validator) -> Key:
    return Key(check, required=True)


def opt(check: Validator, default: Any = _ABSENT) -> Key:
    return Key(check, default=default)


@dataclass(frozen=True)
class Map:
    """A map that allows only the declared keys (a whitelist) and fills in defaults."""

    keys: Mapping[str, Key]
    at_least_one_of: tuple[str, ...] = ()
    exclusive: tuple[tuple[str, str], ...] = ()  # pairs that contradict each other

    @property
    def expected(self) -> str:
        """The keys in CONTROL_API.md's notation: `{strategy_id, account?, strategy}`."""
        names = [name if key.required else f"{name}?" for name, key in self.keys.items()]
        return f"a map {{{', '.join(names)}}}"

    def __call__(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _fail(path, self.expected, value)
        self._refuse_unknown(value, path)
        self._check_combinations(value, path)
        normalised = {}
        for name, key in self.keys.items():
            key_path = _join(path, name)
            if name in value:
                normalised[name] = key.check(value[name], key_path)
            elif key.required:
                raise SchemaError(key_path, f"{key_path} is required: {key.check.expected}")
            elif key.default is not _ABSENT:
                normalised[name] = key.check(key.default, key_path)
        return normalised

    def _refuse_unknown(self, value: dict, path: str) -> None:
        for name in value:
            if not isinstance(name, str):
                raise SchemaError(path, f"{path} has a key {show(name)}; keys must be strings")
            if name not in self.keys:
                key_path = _join(path, _key_text(name))
                allowed = ", ".join(self.keys) or "none"
                raise SchemaError(key_path, f"{key_path} is not allowed; allowed keys: {allowed}")

    def _check_combinations(self, value: dict, path: str) -> None:
        if self.at_least_one_of and not any(name in value for name in self.at_least_one_of):
            names = ", ".join(self.at_least_one_of)
            raise SchemaError(path, f"{path} needs at least one of {names}")
        for first, second in self.exclusive:
            if first in value and second in value:
                raise SchemaError(_join(path, second),
                                  f"{path} takes {first} or {second}, not both; drop one of them")


@dataclass(frozen=True)
class ShapeByKey:
    """A map in one of several shapes, told apart by which of `shapes`' keys it carries."""

    shapes: Mapping[str, Map]

    @property
    def expected(self) -> str:
        return f"a map with exactly one of {', '.join(self.shapes)}"

    def __call__(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _fail(path, self.expected, value)
        present = [name for name in self.shapes if name in value]
        if len(present) != 1:
            got = " and ".join(present) or "none"
            raise SchemaError(path, f"{path} must be {self.expected}, got {got}")
        return self.shapes[present[0]](value, path)


@dataclass(frozen=True)
class Tagged:
    """A map whose `tag` key picks the variant schema for the rest of its keys."""

    tag: str
    variants: Mapping[str, Map]
    choice: Choice = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "choice", Choice(tuple(self.variants)))

    @property
    def expected(self) -> str:
        return f"a map with {self.tag} {self.choice.expected} and that {self.tag}'s parameters"

    def __call__(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _fail(path, self.expected, value)
        tag_path = _join(path, self.tag)
        if self.tag not in value:
            raise SchemaError(tag_path, f"{tag_path} is required: {self.choice.expected}")
        variant = self.choice(value[self.tag], tag_path)
        schema = self.variants[variant]
        tagged = replace(schema, keys={self.tag: req(Const(variant)), **schema.keys})
        return tagged(value, path)
