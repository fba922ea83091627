"""Nothing lost, nothing twice, nothing unknown: the executor's journal against the terminal's
own positions and deals (RELIABILITY.md L1-L4), after the run.

The journal is read, read-only, from the executor's data dir (`order_intents`: one row per
order the executor meant, its client order id `<tag>-<row>`); the terminal's side is its
final `positions_get` and `history_deals_get`, where a deal carries the client order id in
`comment` and the row in the low bits of `magic`:

* duplicate - a client order id with more than one deal at the terminal (L3);
* lost - an intent journaled FILLED that has no deal at the terminal;
* unsettled - an intent still PENDING, SENT or UNKNOWN at the end (L5: doubt is bounded);
* orphan - a deal or position of ours whose client order id the journal does not have as
  FILLED: the terminal traded what the executor does not know it traded (L2);
* phantom - a position the journal holds open that the terminal does not have (L4).
Each figure must be 0; the lists name the first few culprits.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

from actors.account.order_ids import EXECUTOR_MAGIC

SHOWN = 5
UNSETTLED = ("PENDING", "SENT", "UNKNOWN")


def read_journal(data_dir: Path) -> dict[str, list[dict[str, Any]]]:
    path = data_dir / "journal.sqlite3"
    if not path.exists():
        return {"intents": [], "positions": []}
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0)
    con.row_factory = sqlite3.Row
    try:
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        read = {name: [dict(row) for row in con.execute(f"SELECT * FROM {name}")]  # noqa: S608 - fixed names
                for name in ("order_intents", "positions") if name in tables}
    finally:
        con.close()
    return {"intents": read.get("order_intents", []), "positions": read.get("positions", [])}


def ours(record: dict[str, Any]) -> bool:
    return int(record.get("magic") or 0) >> 32 == EXECUTOR_MAGIC


def check(journal: dict[str, list[dict[str, Any]]], final: dict[str, Any] | None) -> dict[str, Any]:
    """The figures above; `final` is the terminal's last word (None: not checked)."""
    intents = journal["intents"]
    status = {row["client_order_id"]: row["status"] for row in intents if row.get("client_order_id")}
    found: dict[str, Any] = {"intents": len(intents), "intent_status": dict(Counter(status.values())),
                             "unsettled_ids": [coid for coid, s in status.items() if s in UNSETTLED]}
    found["unsettled"] = len(found["unsettled_ids"])
    if final is None:
        return {**found, "checked": False}
    deals = [d for d in final["deals"] if ours(d)]
    positions = [p for p in final["positions"] if ours(p)]
    per_coid = Counter(d["comment"] for d in deals)
    filled = {coid for coid, s in status.items() if s == "FILLED"}
    found.update(
        checked=True, terminal_deals=len(deals), terminal_positions=len(positions),
        duplicate_ids=[coid for coid, n in per_coid.items() if n > 1],
        lost_ids=sorted(filled - set(per_coid)),
        orphan_ids=sorted({d["comment"] for d in deals if d["comment"] not in filled}
                          | {p["comment"] for p in positions if p["comment"] not in filled}),
    )
    terminal_tickets = {int(p["ticket"]) for p in final["positions"]}
    open_rows = [row for row in journal["positions"] if row.get("state") == "open"]
    found["phantom_tickets"] = [int(row["ticket"]) for row in open_rows if int(row["ticket"]) not in terminal_tickets]
    for name in ("duplicate", "lost", "orphan"):
        found[f"{name}s" if name != "lost" else "lost"] = len(found[f"{name}_ids"])
    found["phantoms"] = len(found["phantom_tickets"])
    for key in ("duplicate_ids", "lost_ids", "orphan_ids", "unsettled_ids", "phantom_tickets"):
        found[key] = found[key][:SHOWN]
    return found
