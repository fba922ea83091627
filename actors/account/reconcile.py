"""Reconciliation (RELIABILITY.md, "fail closed"): what the journal believed against what the
terminal shows, after every start and every reconnect. Pure: the Account's Reconciliation part
(actors/account/reconciliation.py) gathers the inputs and applies the verdict.

Inputs: the journal's intents that are not final (PENDING, SENT, UNKNOWN), with the intents the
terminal's positions name by magic; the journal's open positions; the terminal's positions,
pending orders and deals since the oldest intent in doubt. Everything is matched on `magic`
(the intent's row id, actors.account.order_ids) and `comment` (its client order id; a comment
in the client order id's form that differs is another journal's order with the same row id).
Each item falls in one class:

* confirmed - the journal and the terminal agree: a journal position the terminal holds;
* filled while down - an intent not final whose deal or position is at the terminal: FILLED
  with the deal's ticket, price and volume, its position recorded if the journal lacks it
  (also a FILLED intent whose position the crash left unrecorded);
* never placed - an intent not final with no trace at the terminal: REJECTED. By then the EA
  has answered every request sent before the reconciliation's own (one connection, answered in
  order), so no earlier order is still on its way;
* orphan - a position or pending order no intent of this journal explains (opened by hand, or
  by another journal): adopted as EXTERNAL (journaled, shown in STATUS as `external`) or
  closed, as configured;
* phantom - a journal position the terminal no longer holds: closed while the executor was
  away (SL, TP, stop-out, by hand). Its exit deals give the close and the real profit; when the
  deals at hand do not show them, the caller fetches that position's deals.

Also counted: duplicates - a client order id with more than one opening deal (L3). Nothing
here can repair one; it is reported loudly.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from actors.account.order_ids import intent_id_from_magic, magic_for
from actors.account.view import EXIT_ENTRIES, EXTERNAL
from bridge import mt5

FINAL_STATUSES = ("FILLED", "REJECTED")
FILLED_WHILE_DOWN = "filled_while_down"
NEVER_PLACED = "never_placed"
NOT_PLACED_TEXT = "never placed: the terminal shows no trace of it (reconciliation)"
_COID = re.compile(r"^[0-9a-f]{6}-\d+$")  # actors.account.order_ids.client_order_id
PRICE_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Settled:
    """An intent that was not final, decided: its journal outcome."""
    client_order_id: str
    strategy_id: str
    kind: str  # FILLED_WHILE_DOWN | NEVER_PLACED
    status: str  # FILLED | REJECTED
    retcode: int = 0
    order_ticket: int = 0
    deal_ticket: int = 0
    price: float = 0.0
    volume: float = 0.0
    message: str = ""


@dataclass(frozen=True, slots=True)
class NewPosition:
    """A position the journal must record (PositionOpened): one of ours it lacks, or an orphan adopted."""
    ticket: int
    strategy_id: str
    symbol: str
    side: str
    volume: float
    price_open: float
    sl: float = 0.0
    tp: float = 0.0


@dataclass
class Verdict:
    settled: list[Settled] = field(default_factory=list)
    record: list[NewPosition] = field(default_factory=list)  # in this order, before the phantoms' closes
    orphans: list[dict[str, Any]] = field(default_factory=list)  # terminal positions no intent explains
    orphan_orders: list[dict[str, Any]] = field(default_factory=list)
    phantoms: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # ticket -> its deals at hand
    confirmed: int = 0
    unrecorded: int = 0  # positions of FILLED intents the journal lacked (a crash between the two writes)
    duplicates: list[str] = field(default_factory=list)  # client order ids with more than one opening deal

    def counts(self) -> dict[str, int]:
        kinds = [s.kind for s in self.settled]
        return {"confirmed": self.confirmed, "filled_while_down": kinds.count(FILLED_WHILE_DOWN) + self.unrecorded,
                "never_placed": kinds.count(NEVER_PLACED), "orphans": len(self.orphans) + len(self.orphan_orders),
                "phantoms": len(self.phantoms), "duplicates": len(self.duplicates)}


def looks_like_coid(comment: str) -> bool:
    return bool(_COID.match(comment or ""))


def belongs(intent: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
    """Whether a terminal position, order or deal carries this intent: its magic, and its
    comment unless the comment is not a client order id (a broker may rewrite comments)."""
    if intent_id_from_magic(int(item.get("magic") or 0)) != int(intent["id"]):
        return False
    comment = str(item.get("comment") or "")
    return comment == intent["client_order_id"] or not looks_like_coid(comment)


def deal_side(deal: Mapping[str, Any]) -> str:
    return "buy" if deal.get("type") == mt5.DEAL_TYPE_BUY else "sell"


def position_side(position: Mapping[str, Any]) -> str:
    return "buy" if position.get("type") == mt5.POSITION_TYPE_BUY else "sell"


def reconcile(*, intents: Iterable[Mapping[str, Any]], journal_positions: Mapping[int, str],
              positions: Iterable[Mapping[str, Any]], orders: Iterable[Mapping[str, Any]] = (),
              deals: Iterable[Mapping[str, Any]] = (), skip: Container[str] = ()) -> Verdict:
    """The verdict on one account. `intents`: journal rows (id, client_order_id, strategy_id,
    status, closing, position_ticket, request), the not-final ones and any the terminal's
    magics name; `journal_positions`: ticket -> strategy of the positions the journal holds
    open; `skip`: client order ids this process still follows itself (orders in flight)."""
    verdict = Verdict()
    intents = [dict(i) for i in intents]
    by_id = {int(i["id"]): i for i in intents}
    positions = {int(p["ticket"]): dict(p) for p in positions}
    orders = [dict(o) for o in orders]
    deals = [dict(d) for d in deals]
    opening_deals: dict[int, list[dict[str, Any]]] = {}
    for deal in deals:
        iid = intent_id_from_magic(int(deal.get("magic") or 0))
        if iid is not None and deal.get("entry") == mt5.DEAL_ENTRY_IN:
            opening_deals.setdefault(iid, []).append(deal)

    for intent in intents:
        if intent["status"] in FINAL_STATUSES or intent["client_order_id"] in skip:
            continue
        settled = _decide(intent, positions, orders, deals, opening_deals)
        verdict.settled.append(settled)
        if settled.deal_ticket and not intent.get("closing") \
                and settled.order_ticket not in positions and settled.order_ticket not in journal_positions:
            deal = next(d for d in opening_deals[int(intent["id"])] if belongs(intent, d))
            ticket = int(deal.get("position_id") or settled.order_ticket)  # opened and closed while down
            verdict.record.append(NewPosition(ticket, intent["strategy_id"], str(deal["symbol"]), deal_side(deal),
                                              float(deal["volume"]), float(deal["price"])))

    for intent in intents:
        matching = [d for d in opening_deals.get(int(intent["id"]), ()) if belongs(intent, d)]
        if len(matching) > 1:
            verdict.duplicates.append(intent["client_order_id"])

    for ticket, position in sorted(positions.items()):
        if ticket in journal_positions:
            verdict.confirmed += 1
            continue
        intent = by_id.get(intent_id_from_magic(int(position.get("magic") or 0)) or -1)
        if intent is not None and belongs(intent, position) and not intent.get("closing"):
            owner = intent["strategy_id"]
            verdict.unrecorded += intent["status"] in FINAL_STATUSES
        else:
            verdict.orphans.append(position)
            owner = EXTERNAL
        verdict.record.append(NewPosition(ticket, owner, str(position["symbol"]), position_side(position),
                                          float(position["volume"]), float(position["price_open"]),
                                          float(position.get("sl") or 0.0), float(position.get("tp") or 0.0)))

    for order in orders:
        intent = by_id.get(intent_id_from_magic(int(order.get("magic") or 0)) or -1)
        if intent is None or not belongs(intent, order):
            verdict.orphan_orders.append(order)

    gone = [t for t in journal_positions if t not in positions]
    gone += [r.ticket for r in verdict.record if r.ticket not in positions]
    for ticket in gone:
        verdict.phantoms[ticket] = [d for d in deals if int(d.get("position_id") or 0) == ticket]
    return verdict


def _decide(intent: dict[str, Any], positions: dict[int, dict[str, Any]], orders: list[dict[str, Any]],
            deals: list[dict[str, Any]], opening_deals: dict[int, list[dict[str, Any]]]) -> Settled:
    request = intent.get("request") or {}
    action = int(request.get("action", mt5.TRADE_ACTION_DEAL))
    coid, owner = intent["client_order_id"], intent["strategy_id"]
    if action == mt5.TRADE_ACTION_SLTP:  # no deal: the position's stops say whether it was applied
        position = positions.get(int(request.get("position") or intent.get("position_ticket") or 0))
        applied = position is not None and abs(float(position.get("sl") or 0.0) - float(request.get("sl") or 0.0)) \
            < PRICE_EPS and abs(float(position.get("tp") or 0.0) - float(request.get("tp") or 0.0)) < PRICE_EPS
        return _filled(coid, owner) if applied else _never(coid, owner)
    if action == mt5.TRADE_ACTION_REMOVE:  # gone: removed (or triggered, which ends the removal too)
        still = any(int(o["ticket"]) == int(request.get("order") or 0) for o in orders)
        return _never(coid, owner) if still else _filled(coid, owner)
    if intent.get("closing"):
        deal = next((d for d in deals if d.get("entry") in EXIT_ENTRIES and belongs(intent, d)), None)
        return _never(coid, owner) if deal is None else _filled_by(coid, owner, deal)
    deal = next((d for d in opening_deals.get(int(intent["id"]), ()) if belongs(intent, d)), None)
    if deal is not None:
        return _filled_by(coid, owner, deal)
    position = next((p for p in positions.values() if belongs(intent, p)), None)
    if position is not None:  # deals out of the range fetched: the position itself is the proof
        return Settled(coid, owner, FILLED_WHILE_DOWN, "FILLED", mt5.TRADE_RETCODE_DONE, int(position["ticket"]), 0,
                       float(position["price_open"]), float(position["volume"]), "filled (found by reconciliation)")
    order = next((o for o in orders if belongs(intent, o)), None)
    if order is not None:
        return Settled(coid, owner, FILLED_WHILE_DOWN, "FILLED", mt5.TRADE_RETCODE_PLACED, int(order["ticket"]),
                       message="placed (found by reconciliation)")
    return _never(coid, owner)


def _filled_by(coid: str, owner: str, deal: Mapping[str, Any]) -> Settled:
    order = int(deal.get("position_id") or deal.get("order") or 0) if deal.get("entry") == mt5.DEAL_ENTRY_IN \
        else int(deal.get("order") or 0)
    return Settled(coid, owner, FILLED_WHILE_DOWN, "FILLED", mt5.TRADE_RETCODE_DONE, order, int(deal["ticket"]),
                   float(deal["price"]), float(deal["volume"]), "filled (found by reconciliation)")


def _filled(coid: str, owner: str) -> Settled:
    return Settled(coid, owner, FILLED_WHILE_DOWN, "FILLED", mt5.TRADE_RETCODE_DONE,
                   message="applied (found by reconciliation)")


def _never(coid: str, owner: str) -> Settled:
    return Settled(coid, owner, NEVER_PLACED, "REJECTED", message=NOT_PLACED_TEXT)


def deals_from_ms(oldest_intent_ms: int | None, server_minus_wall_ms: int | None, last_deal_ms: int | None,
                  margin_ms: int = 86_400_000) -> int:
    """Where the deal history to read starts (server ms): before the oldest intent in doubt.
    Intents are stamped with this machine's clock, deals with the server's; the offset between
    them now, and the newest deal the journal already holds (a fast or stepped simulator's
    clock runs ahead of the wall), are each a guess, so the earlier of the two, less a day."""
    guesses = [g for g in (None if oldest_intent_ms is None or server_minus_wall_ms is None
                           else oldest_intent_ms + server_minus_wall_ms, last_deal_ms) if g is not None]
    return 0 if not guesses else max(0, min(guesses) - margin_ms)


def wants_deals(intents: Iterable[Mapping[str, Any]], skip: Container[str] = ()) -> bool:
    """Whether deciding these intents needs the deal history (an open or close in doubt)."""
    return any(i["status"] not in FINAL_STATUSES and i["client_order_id"] not in skip
               and int((i.get("request") or {}).get("action", mt5.TRADE_ACTION_DEAL)) == mt5.TRADE_ACTION_DEAL
               for i in intents)


def referenced_intents(positions: Iterable[Mapping[str, Any]], orders: Iterable[Mapping[str, Any]]) -> list[int]:
    """The journal rows the terminal's positions and orders name by magic: loaded with the rest."""
    ids = {intent_id_from_magic(int(item.get("magic") or 0)) for item in (*positions, *orders)}
    return sorted(i for i in ids if i is not None)

