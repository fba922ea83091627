"""Control replies in the journal: what makes a resent request id safe across a crash.

The ControlServer keeps replies in memory (actors/control/reply_cache.py) and writes each
one through to the `control_replies` table (told, in the journal's group commit). An
OPEN_POSITION also gets a row *before* it runs (`RecordCommand`), and the intent it makes
carries the command's corr (`RecordIntent.command_corr`): the row is given the intent's
client order id in the intent's own transaction. So after a crash a resent id finds one of:

* its reply: answered again as it was;
* its client order id but no reply: the order may have left; its outcome is looked up
  (the intent's status here, else the terminal), never placed a second time;
* neither: nothing was sent (write-ahead: no intent, no order), so it may simply run.

Rows live as long as the reply cache (10 min): pruned when loaded, and at most once a minute
as replies are written.
"""

from __future__ import annotations

from typing import Any

from actors import messages as m
from actors.journal.models import ControlReplyRow, IntentRow, to_json

COMMAND_SQL = (
    "INSERT OR REPLACE INTO control_replies (key, corr, type, reply, client_order_id, created_at, expires_at)"
    " VALUES (?, ?, ?, NULL, NULL, ?, ?)"
)
# A reply keeps the client order id its command was linked to: a TIMEOUT then the late answer.
REPLY_SQL = (
    "INSERT INTO control_replies (key, corr, type, reply, client_order_id, created_at, expires_at)"
    " VALUES (?, ?, ?, ?, NULL, ?, ?)"
    " ON CONFLICT(key) DO UPDATE SET reply = excluded.reply, expires_at = excluded.expires_at"
)
LINK_SQL = "UPDATE control_replies SET client_order_id = ? WHERE corr = ?"
PRUNE_SQL = "DELETE FROM control_replies WHERE expires_at <= ?"
PRUNE_EVERY_MS = 60_000


def command_row(msg: m.RecordCommand, now: int) -> tuple:
    return msg.key, msg.corr, msg.type, now, msg.expires_at


def reply_row(msg: m.StoreReply, now: int) -> tuple:
    return msg.key, msg.corr, msg.type, to_json(msg.reply), now, msg.expires_at


def link_row(corr: str, client_order_id: str) -> tuple:
    return client_order_id, corr


def load(now: int) -> list[dict[str, Any]]:
    """Prune what expired, then every row left, oldest first, with its intent's outcome."""
    ControlReplyRow.delete().where(ControlReplyRow.expires_at <= now).execute()
    rows = list(ControlReplyRow.select().order_by(ControlReplyRow.expires_at))
    linked = [r.client_order_id for r in rows if r.client_order_id]
    intents = {i.client_order_id: i for i in IntentRow.select().where(IntentRow.client_order_id << linked)} \
        if linked else {}
    return [{"key": r.key, "type": r.type, "reply": r.reply, "expires_at": r.expires_at,
             "intent": _intent(intents.get(r.client_order_id)) if r.client_order_id else None} for r in rows]


def _intent(row: IntentRow | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"id": row.id, "client_order_id": row.client_order_id, "account": row.account, "symbol": row.symbol,
            "side": row.side, "volume": row.volume, "request": row.request, "status": row.status,
            "retcode": row.retcode, "order_ticket": row.order_ticket, "price": row.price,
            "filled_volume": row.filled_volume, "message": row.message}
