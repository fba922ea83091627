"""L1-L5 of RELIABILITY.md checked from outside the executor: its journal (read-only) against the
simulated terminal's own book, read from the terminal's state file (`run.py sim --state FILE`,
written before any reply or event that tells of a change leaves the terminal).

* L1 write-ahead: every order at the terminal that carries a client order id (its `comment`, the
  id's form `<tag>-<row>`; the executor's `magic`) has its journal intent. Read the terminal
  first, then the journal: an order the terminal holds was sent after its row was committed.
* L2 no orphans: every terminal position is a journal position held open (ours under its
  strategy, anything else adopted as `external`); one of ours maps to the one intent its magic
  names, with the same client order id.
* L3 no duplicates: per client order id at most one deal made by an order (an SL/TP/stop-out
  deal carries the position's magic, not an order's client order id).
* L4 no phantoms: every journal position held open is open at the terminal.
* L5 bounded doubt: every intent older than a given row (those in flight when the executor was
  killed) is final: FILLED or REJECTED.

L1 and L3 must hold at every moment; L2, L4 and L5 once the executor has reconciled and
nothing moves (`settled`). `wait_settled` polls until they hold or the bound passes.
"""

from __future__ import annotations

import dataclasses
import re
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from actors.account.order_ids import EXECUTOR_MAGIC
from bridge.sim.state_file import StateFile

COID = re.compile(r"^[0-9a-f]{6}-\d+$")
FINAL = ("FILLED", "REJECTED")
SHOWN = 5


@dataclass
class TerminalBook:
    positions: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    history_orders: list[dict[str, Any]]
    deals: list[dict[str, Any]]


@dataclass
class JournalView:
    intents: dict[str, dict[str, Any]]  # client order id -> row
    by_id: dict[int, dict[str, Any]]
    open_positions: dict[int, str]  # ticket -> strategy


def read_terminal(state_file: Path) -> TerminalBook:
    saved = StateFile(state_file).load()
    if saved is None:
        return TerminalBook([], [], [], [])
    book = saved.book

    def rows(records: list[Any]) -> list[dict[str, Any]]:
        return [dataclasses.asdict(r) for r in records]
    return TerminalBook(rows(book.positions), rows(book.orders), rows(book.history_orders), rows(book.history_deals))


def read_journal(data_dir: Path) -> JournalView:
    path = data_dir / "journal.sqlite3"
    if not path.exists():
        return JournalView({}, {}, {})
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0)
    con.row_factory = sqlite3.Row
    try:
        intents = [dict(r) for r in con.execute("SELECT id, client_order_id, status, strategy_id, closing "
                                                "FROM order_intents")]
        positions = {int(r["ticket"]): r["strategy_id"] for r in
                     con.execute("SELECT ticket, strategy_id FROM positions WHERE state = 'open'")}
    finally:
        con.close()
    return JournalView({r["client_order_id"]: r for r in intents if r["client_order_id"]},
                       {int(r["id"]): r for r in intents}, positions)


def integrity(data_dir: Path) -> str:
    """`PRAGMA integrity_check` of the journal: 'ok', or what SQLite found."""
    con = sqlite3.connect(f"file:{data_dir / 'journal.sqlite3'}?mode=ro", uri=True, timeout=10.0)
    try:
        return "; ".join(str(row[0]) for row in con.execute("PRAGMA integrity_check"))
    finally:
        con.close()


def max_intent_id(data_dir: Path) -> int:
    return max(read_journal(data_dir).by_id, default=0)


def ours(item: dict[str, Any]) -> bool:
    return int(item.get("magic") or 0) >> 32 == EXECUTOR_MAGIC


def coid_of(item: dict[str, Any]) -> str | None:
    comment = str(item.get("comment") or "")
    return comment if ours(item) and COID.match(comment) else None


def violations(journal: JournalView, terminal: TerminalBook, *, settled: bool,
               doubt_up_to: int = 0) -> dict[str, list[Any]]:
    """Each rule broken, with its first few culprits; {} when all hold."""
    found: dict[str, list[Any]] = {}
    sent = {c for item in (*terminal.history_orders, *terminal.orders, *terminal.deals) if (c := coid_of(item))}
    unknown = sorted(sent - set(journal.intents))
    if unknown:
        found["L1 order at the terminal without a journaled intent"] = unknown[:SHOWN]
    per_coid = Counter(c for d in terminal.deals if (c := coid_of(d)))
    twice = sorted(c for c, n in per_coid.items() if n > 1)
    if twice:
        found["L3 client order id with more than one deal"] = twice[:SHOWN]
    if not settled:
        return found
    unknown_positions, wrong_owner = [], []
    for position in terminal.positions:
        ticket = int(position["ticket"])
        if ticket not in journal.open_positions:
            unknown_positions.append(ticket)
        elif ours(position):
            intent = journal.by_id.get(int(position["magic"]) & 0xFFFFFFFF)
            if intent is None or (coid_of(position) and intent["client_order_id"] != position["comment"]):
                wrong_owner.append(ticket)
    if unknown_positions:
        found["L2 terminal position the journal does not hold open"] = unknown_positions[:SHOWN]
    if wrong_owner:
        found["L2 position of ours that maps to no intent"] = wrong_owner[:SHOWN]
    at_terminal = {int(p["ticket"]) for p in terminal.positions}
    phantoms = sorted(t for t in journal.open_positions if t not in at_terminal)
    if phantoms:
        found["L4 journal position open that the terminal closed"] = phantoms[:SHOWN]
    doubt = sorted(i for i, row in journal.by_id.items() if i <= doubt_up_to and row["status"] not in FINAL)
    if doubt:
        found["L5 intent still in doubt"] = [journal.by_id[i]["client_order_id"] for i in doubt][:SHOWN]
    return found


def read_both(state_file: Path, data_dir: Path) -> tuple[JournalView, TerminalBook]:
    """The terminal's book, then the journal (in that order: see L1 above)."""
    book = read_terminal(state_file)
    return read_journal(data_dir), book


def wait_settled(read: Callable[[], tuple[JournalView, TerminalBook]], *, doubt_up_to: int, bound_s: float = 30.0,
                 interval_s: float = 0.2) -> tuple[float, dict[str, list[Any]]]:
    """Poll until L1-L5 all hold; (seconds it took, what still failed at the bound or {})."""
    started = time.monotonic()
    while True:
        journal_view, book = read()
        found = violations(journal_view, book, settled=True, doubt_up_to=doubt_up_to)
        strict = {k: v for k, v in found.items() if k.startswith(("L1", "L3"))}
        if not found or strict or time.monotonic() - started >= bound_s:
            return time.monotonic() - started, found
        time.sleep(interval_s)
