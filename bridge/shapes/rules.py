"""The rule kit the message shapes are written in, and the vocabulary of MT5 values.

A rule is a function of one decoded msgpack value that returns nothing when the value fits
and raises `Bad` when it does not; `Bad.line()` names where (`positions[3].volume`) and
what is wrong, in one line. Composite rules (`record`, `list_of`, `columns`, ...) descend
only into the keys they list, so a hostile value costs no more than its listed parts.
Number rules exclude bools and strings, NaN and infinities, and anything outside a range
that a real market can reach; `Num.column` checks a whole column at numpy speed.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from bridge import protocol

MIN_TIME_MS = 946_684_800_000  # 2000-01-01 UTC: older is a wrong clock or a wrong unit
MAX_TIME_MS = 4_102_444_800_000  # 2100-01-01 UTC: fixed, as a simulated clock may run years ahead
MAX_PRICE = 1e12
MAX_AMOUNT = 1e15  # volumes, counts and money: anything larger is garbage, not a market
UINT64 = 2**64 - 1
INT64_MIN = -(2**63)
MAX_TZ_OFFSET_S = 14 * 3600
MAX_SYMBOL_LEN = 64

Rule = Callable[[Any], None]  # raises Bad when the value does not fit
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 40
_REPR.maxlist = _REPR.maxtuple = 4
_REPR.maxdict, _REPR.maxlevel = 3, 2


class Bad(Exception):
    """A value that does not fit; `path` grows outwards as the rules unwind."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text
        self.path: list[str | int] = []

    def line(self) -> str:
        # A key is the peer's text: one that is not a plain printable name is shown quoted and
        # escaped (a key "\n" must not break the one line this makes).
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" if str(p).isprintable() and str(p)
                        else f"[{_REPR.repr(str(p))}]" for p in reversed(self.path)).lstrip(".")
        return f"{where}: {self.text}" if where else self.text


def _show(value: Any) -> str:
    # reprlib: a value of a million items is shown by its first few, in microseconds.
    return f"{type(value).__name__} {_REPR.repr(value)}"


# --- rules for single values ---

class Num:
    """A number in [lo, hi] (above lo when `above`), finite; `integral` wants an int. Also
    checks whole columns at numpy speed, falling back to one by one to name the bad row."""

    def __init__(self, lo: float, hi: float, *, integral: bool = False, above: bool = False,
                 zero: bool = False, what: str = "") -> None:
        self.lo, self.hi, self.integral, self.above, self.zero = lo, hi, integral, above, zero
        show = (lambda n: str(int(n))) if integral else (lambda n: f"{n:g}")
        low = f"above {show(lo)}" if above else f"at least {show(lo)}"
        self.what = what or f"{low} and at most {show(hi)}{' (or 0)' * zero}"
        self.types = frozenset({int}) if integral else frozenset({int, float})

    def __call__(self, value: Any) -> None:
        if type(value) not in self.types:  # bool is not a number here, nor "1.5"
            raise Bad(f"expected {'an integer' if self.integral else 'a number'}, got {_show(value)}")
        if self.zero and value == 0:
            return
        if isinstance(value, float) and not math.isfinite(value):
            raise Bad(f"{value} is not a finite number")
        if value > self.hi or value < self.lo or (self.above and value == self.lo):
            raise Bad(f"{value!r} is out of range: expected {self.what}")

    def column(self, values: list) -> None:
        if set(map(type, values)) <= self.types:
            try:
                array = np.asarray(values, dtype=np.int64 if self.integral and self.hi <= 2**63 - 1 else np.float64)
            except (OverflowError, ValueError):
                array = None
            if array is not None:
                ok = array if not self.zero else array[array != 0]
                if not len(ok) or (np.isfinite(ok).all() and ok.max() <= self.hi
                                   and (ok.min() > self.lo if self.above else ok.min() >= self.lo)):
                    return
        for index, value in enumerate(values):
            try:
                self(value)
            except Bad as bad:
                bad.path.append(index)
                raise


def text(max_len: int = protocol.MAX_STR_LEN, *, min_len: int = 0) -> Rule:
    def rule(value: Any) -> None:
        if type(value) is not str:
            raise Bad(f"expected text, got {_show(value)}")
        if not min_len <= len(value) <= max_len:
            raise Bad(f"text of {len(value)} characters; expected {min_len}..{max_len}")
    return rule


def flag(value: Any) -> None:
    if type(value) is not bool:
        raise Bad(f"expected true or false, got {_show(value)}")


def nullable(rule: Rule) -> Rule:
    def check(value: Any) -> None:
        if value is not None:
            rule(value)
    return check


def _at(key: str | int, rule: Rule, value: Any) -> None:
    try:
        rule(value)
    except Bad as bad:
        bad.path.append(key)
        raise


def record(required: Mapping[str, Rule], optional: Mapping[str, Rule] | None = None) -> Rule:
    """A map holding every `required` key; `optional` keys are checked when present."""
    def rule(value: Any) -> None:
        if type(value) is not dict:
            raise Bad(f"expected a map, got {_show(value)}")
        for key, check in required.items():
            if key not in value:
                raise Bad(f"missing {key!r}")
            _at(key, check, value[key])
        for key, check in (optional or {}).items():
            if key in value:
                _at(key, check, value[key])
    return rule


def list_of(item: Rule, max_len: int = protocol.MAX_ARRAY_LEN) -> Rule:
    def rule(value: Any) -> None:
        if type(value) not in (list, tuple):
            raise Bad(f"expected a list, got {_show(value)}")
        if len(value) > max_len:
            raise Bad(f"list of {len(value)} items; at most {max_len}")
        for index, element in enumerate(value):
            _at(index, item, element)
    return rule


def map_of(key: Rule, item: Rule) -> Rule:
    def rule(value: Any) -> None:
        if type(value) is not dict:
            raise Bad(f"expected a map, got {_show(value)}")
        for name, element in value.items():
            _at(str(name), key, name)
            _at(str(name), item, element)
    return rule


def columns(required: Mapping[str, Num], optional: Mapping[str, Num] | None = None) -> Rule:
    """Columns (lists of equal length, never rows) among the keys of a map; others pass."""
    def rule(value: Any) -> None:
        if type(value) is not dict:
            raise Bad(f"expected a map of columns, got {_show(value)}")
        missing = [name for name in required if name not in value]
        if missing:
            raise Bad(f"missing column(s) {', '.join(missing)}")
        present = {**required, **{k: v for k, v in (optional or {}).items() if k in value}}
        size = None
        for name, num in present.items():
            column = value[name]
            if type(column) not in (list, tuple):
                raise Bad(f"column {name!r} is {_show(column)}; expected a list (columns, never rows)")
            if size is not None and len(column) != size:
                raise Bad(f"ragged columns: {name!r} has {len(column)} rows, the others {size}")
            size = len(column)
            _at(name, num.column, column)
    return rule


def all_of(*rules: Rule) -> Rule:
    def rule(value: Any) -> None:
        for check in rules:
            check(value)
    return rule


def one_of(*values: Any) -> Rule:
    def rule(value: Any) -> None:
        if type(value) not in (int, str) or value not in values:
            raise Bad(f"expected one of {', '.join(map(str, values))}, got {_show(value)}")
    return rule


# --- the vocabulary of MT5 values ---
PRICE = Num(0, MAX_PRICE, above=True)  # a quote or a fill: MT5's are positive
PRICE0 = Num(0, MAX_PRICE)  # 0 = none (no SL, no quote yet)
AMOUNT = Num(0, MAX_AMOUNT)  # volumes and counts
POSITIVE = Num(0, MAX_AMOUNT, above=True)
MONEY = Num(-MAX_AMOUNT, MAX_AMOUNT)
TICKET = Num(0, UINT64, integral=True)
INT = Num(INT64_MIN, UINT64, integral=True)
ENUM = Num(0, 2**31 - 1, integral=True)
TIME_MS = Num(MIN_TIME_MS, MAX_TIME_MS, integral=True, what="a time in ms UTC from 2000 to 2100")
TIME_MS0 = Num(MIN_TIME_MS, MAX_TIME_MS, integral=True, zero=True,  # 0 = not set
               what="a time in ms UTC from 2000 to 2100, or 0")
TIME_S0 = Num(MIN_TIME_MS // 1000, MAX_TIME_MS // 1000, integral=True, zero=True,
              what="a time in seconds UTC from 2000 to 2100, or 0")
TZ_OFFSET = Num(-MAX_TZ_OFFSET_S, MAX_TZ_OFFSET_S, integral=True)
SYMBOL = text(MAX_SYMBOL_LEN, min_len=1)
SYMBOL0 = text(MAX_SYMBOL_LEN)  # "" on a balance deal or a transaction without one
TEXT = text()
MAP = record({})
