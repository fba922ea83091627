"""The hot rows of the journal as prepared statements and plain tuples.

Intents, order outcomes, deals and events arrive with every order; building a
peewee model per row costs more than the row. These statements name the columns of the
tables in `models` (which still create the tables and serve the reads) and every NOT NULL
column is bound: peewee's defaults live in Python, not in the schema.
"""

from __future__ import annotations

from typing import Any

from actors import messages as m
from actors.journal.models import to_json

INTENT_SQL = (
    "INSERT INTO order_intents (id, client_order_id, account, strategy_id, symbol, side, volume, closing,"
    " position_ticket, request, status, retcode, order_ticket, deal_ticket, price, filled_volume, message,"
    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'PENDING', 0, 0, 0, 0.0, 0.0, '', ?, ?)"
)

# Tickets are kept when the outcome has none; price and filled volume only come with a fill.
OUTCOME_SQL = (
    "UPDATE order_intents SET status = ?, retcode = ?, updated_at = ?, message = ?,"
    " order_ticket = COALESCE(NULLIF(?, 0), order_ticket), deal_ticket = COALESCE(NULLIF(?, 0), deal_ticket),"
    " price = CASE WHEN ? THEN ? ELSE price END, filled_volume = CASE WHEN ? THEN ? ELSE filled_volume END"
    " WHERE client_order_id = ?"
)

DEAL_FIELDS = ("ticket", "order", "position_id", "symbol", "type", "entry", "reason", "volume", "price", "profit",
               "swap", "commission", "fee", "magic", "comment", "time_msc")
_TEXT_DEAL_FIELDS = ("symbol", "comment")
DEAL_SQL = (
    "INSERT OR REPLACE INTO deals (account, strategy_id, "
    + ", ".join(f'"{f}"' for f in DEAL_FIELDS)
    + ") VALUES (" + ", ".join("?" * (len(DEAL_FIELDS) + 2)) + ")"
)

EVENT_SQL = "INSERT INTO events (ts, type, payload) VALUES (?, ?, ?)"

POSITION_OPENED_SQL = (
    "INSERT OR REPLACE INTO positions (account, ticket, strategy_id, symbol, side, volume, price_open, sl, tp,"
    " opened_at, closed_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 'open')"
)
POSITION_MODIFIED_SQL = "UPDATE positions SET sl = ?, tp = ? WHERE account = ? AND ticket = ?"


def intent_row(msg: m.RecordIntent, intent_id: int, coid: str, now: int) -> tuple:
    return (intent_id, coid, msg.account, msg.strategy_id, msg.symbol, msg.side, msg.volume, msg.closing,
            msg.position_ticket, to_json(msg.request), now, now)


def outcome_row(msg: m.RecordOrderOutcome, now: int) -> tuple:
    filled = bool(msg.volume)
    return (msg.status, msg.retcode, now, msg.message, msg.order_ticket, msg.deal_ticket,
            filled, msg.price, filled, msg.volume, msg.client_order_id)


def deal_rows(msg: m.RecordDeals) -> list[tuple]:
    rows = []
    for deal in msg.deals:
        values = [deal.get(f, "" if f in _TEXT_DEAL_FIELDS else 0) for f in DEAL_FIELDS]
        values[DEAL_FIELDS.index("magic")] = str(values[DEAL_FIELDS.index("magic")])  # a uint64 overflows int64
        rows.append((msg.account, msg.strategy_id, *values))
    return rows


def event_row(event: Any, now: int) -> tuple:
    return now, type(event).__name__, to_json(m.to_map(event))


def position_opened_row(event: m.PositionOpened, now: int) -> tuple:
    return (event.account, event.ticket, event.strategy_id, event.symbol, event.side, event.volume,
            event.price_open, event.sl, event.tp, now)


def position_modified_row(event: m.PositionModified) -> tuple:
    return event.sl, event.tp, event.account, event.ticket
