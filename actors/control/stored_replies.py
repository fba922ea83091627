"""What the ControlServer makes of the replies the journal kept (actors/journal/replies.py),
and how it answers a resent OPEN_POSITION whose first run a crash left unanswered. Pure.

A kept row is one of:
* a reply: served again from the cache, for what is left of its 10 minutes;
* a *doubt*: an OPEN_POSITION linked to its intent (so its order may have left) with no
  reply, or only TIMEOUT (which promises that a resend returns the outcome). A resend is
  answered from the intent when the journal knows how it ended (FILLED, REJECTED), else the
  Account finds the order at the terminal by its magic or asks again under the same client
  order id (`m.ResolveOrder`): one client order id, never a second order;
* a command with neither: it made no intent, so by write-ahead nothing left; a resend runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgpack

from actors import errors
from actors import messages as m
from actors.control import protocol as cp

# Reads are not kept in the journal: running one again is harmless, and STATUS is polled.
READS = frozenset({"PING", "STATUS_REQUEST", "PERFORMANCE_REQUEST"})
# Commands recorded before they run, so their intent can be linked to their request id.
ORDERING = frozenset({"OPEN_POSITION"})


@dataclass
class Kept:
    replies: list[tuple[str, bytes, float]] = field(default_factory=list)  # key, frame, seconds left
    doubts: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> its intent (journal.replies._intent)


def sort_rows(rows: list[dict[str, Any]], now_ms: int) -> Kept:
    kept = Kept()
    for row in rows:
        left_s = (row["expires_at"] - now_ms) / 1000.0
        if left_s <= 0:
            continue
        reply, intent = row["reply"], row["intent"]
        if intent is not None and (reply is None or is_timeout(reply)):
            kept.doubts[row["key"]] = intent
        elif reply is not None:
            kept.replies.append((row["key"], msgpack.packb(reply, use_bin_type=True), left_s))
    return kept


def is_timeout(reply: dict[str, Any]) -> bool:
    return not reply.get("ok") and (reply.get("error") or {}).get("code") == errors.TIMEOUT


def answer(request_id: str, intent: dict[str, Any]) -> bytes | None:
    """The reply the order's journaled outcome gives, as its first run would have; None when
    the journal does not know the outcome (the terminal decides)."""
    match intent["status"]:
        case "FILLED":
            return cp.reply_ok(request_id, {"ticket": intent["order_ticket"], "price": intent["price"],
                                            "volume": intent["filled_volume"]})
        case "REJECTED" if intent["retcode"]:
            return cp.reply_error(request_id, errors.error(
                errors.BROKER_ERROR, f"MT5 refused the order: {intent['retcode']} {intent['message']}",
                {"retcode": intent["retcode"], "client_order_id": intent["client_order_id"]}))
        case "REJECTED":
            return cp.reply_error(request_id, errors.error(
                errors.UNAVAILABLE, intent["message"] or "the order was not placed",
                {"client_order_id": intent["client_order_id"]}))
    return None


def resolve_order(corr: str, intent: dict[str, Any]) -> m.ResolveOrder:
    return m.ResolveOrder(corr=corr, account=intent["account"], client_order_id=intent["client_order_id"],
                          intent_id=intent["id"], symbol=intent["symbol"], side=intent["side"],
                          volume=intent["volume"], request=intent["request"] or {})


def decoded(frame: bytes) -> dict[str, Any]:
    return msgpack.unpackb(frame, raw=False)
