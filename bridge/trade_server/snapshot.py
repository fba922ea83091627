"""The trade server's book as plain data, so a simulated account outlives its process.

This module owns `Book`, everything a broker keeps of one account between two sessions of
its terminal: money, open positions, pending orders, order and deal history, the ticket
counters (a continued account never hands out a ticket twice), server time, the last quote
of each symbol and the slippage generator's state; and its msgpack-native form
(`to_data` / `from_data`). The account's terms (leverage, margin mode, symbols) are not in
it: they are the broker's configuration and come from where they always come from.

`from_data` checks every field before anything is built, so a damaged file is refused
whole with one `SnapshotError` line saying what is wrong, never half-applied.
`TradeServer.book()` and `TradeServer.restore()` are the two ends.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from bridge.trade_server.money import Quote
from bridge.trade_server.records import Deal, Order, Position

FORMAT = 1  # bump when a field changes meaning; older files are then refused, not misread


class SnapshotError(ValueError):
    """Data that is not a trade server book this code can continue; the text says why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Book:
    login: int
    balance: float
    credit: float
    positions: list[Position]
    orders: list[Order]  # pending
    history_orders: list[Order]
    history_deals: list[Deal]
    quotes: dict[str, Quote]
    server_time_ms: int
    next_order: int
    next_deal: int
    next_request: int
    version: int
    account_version: int
    rng_state: tuple[Any, ...]  # random.Random.getstate()

    def symbols(self) -> set[str]:
        """Every symbol the book's positions, orders and quotes name."""
        return ({p.symbol for p in self.positions} | {o.symbol for o in self.orders}
                | {o.symbol for o in self.history_orders} | {d.symbol for d in self.history_deals}
                | set(self.quotes))


_SCALARS = {"login": int, "balance": float, "credit": float, "server_time_ms": int, "next_order": int,
            "next_deal": int, "next_request": int, "version": int, "account_version": int}
_RECORDS = {"positions": Position, "orders": Order, "history_orders": Order, "history_deals": Deal}


def to_data(book: Book) -> dict[str, Any]:
    """`book` as msgpack-native values (records as maps of their fields)."""
    data: dict[str, Any] = {"format": FORMAT}
    data.update({key: getattr(book, key) for key in _SCALARS})
    for key in _RECORDS:
        data[key] = [dataclasses.asdict(record) for record in getattr(book, key)]
    data["quotes"] = {symbol: [q.time_msc, q.bid, q.ask] for symbol, q in book.quotes.items()}
    version, internal, gauss = book.rng_state
    data["rng_state"] = [version, list(internal), gauss]
    return data


def from_data(data: Any) -> Book:
    """The `Book` that `to_data` made; SnapshotError naming the first field that is wrong."""
    if not isinstance(data, dict):
        raise SnapshotError("not a map of account state")
    if data.get("format") != FORMAT:
        raise SnapshotError(f"format {data.get('format')!r}, this version reads format {FORMAT}")
    values: dict[str, Any] = {}
    for key, kind in _SCALARS.items():
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
            raise SnapshotError(f"{key} is {value!r}, expected a number")
        values[key] = kind(value)
    for key, cls in _RECORDS.items():
        values[key] = [_record(cls, item, f"{key}[{i}]") for i, item in enumerate(_list(data, key))]
    values["quotes"] = _quotes(data.get("quotes"))
    values["rng_state"] = _rng_state(data.get("rng_state"))
    return Book(**values)


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list):
        raise SnapshotError(f"{key} is not a list")
    return value


def _record(cls: type, item: Any, where: str) -> Any:
    if not isinstance(item, dict):
        raise SnapshotError(f"{where} is not a map")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(item) - set(fields))
    if unknown:
        raise SnapshotError(f"{where} has unknown field {unknown[0]!r}")
    for name, value in item.items():
        expected = fields[name].type  # the annotation, as text (from __future__ import annotations)
        ok = (isinstance(value, str) if expected == "str" else
              isinstance(value, int) and not isinstance(value, bool) if expected == "int" else
              isinstance(value, (int, float)) and not isinstance(value, bool))
        if not ok:
            raise SnapshotError(f"{where}.{name} is {value!r}, expected {expected}")
    try:
        return cls(**{name: float(v) if fields[name].type == "float" else v for name, v in item.items()})
    except TypeError as exc:  # a required field missing
        raise SnapshotError(f"{where}: {exc}") from None


def _quotes(value: Any) -> dict[str, Quote]:
    if not isinstance(value, dict):
        raise SnapshotError("quotes is not a map")
    quotes = {}
    for symbol, item in value.items():
        if not (isinstance(symbol, str) and isinstance(item, list) and len(item) == 3
                and isinstance(item[0], int) and all(isinstance(x, (int, float)) for x in item[1:])):
            raise SnapshotError(f"quote of {symbol!r} is {item!r}, expected [time_msc, bid, ask]")
        quotes[symbol] = Quote(item[0], float(item[1]), float(item[2]))
    return quotes


def _rng_state(value: Any) -> tuple[Any, ...]:
    if not (isinstance(value, list) and len(value) == 3 and isinstance(value[1], list)
            and all(isinstance(x, int) for x in value[1])):
        raise SnapshotError("rng_state is not a random generator's state")
    return value[0], tuple(value[1]), value[2]
