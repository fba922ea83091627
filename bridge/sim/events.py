"""What the simulated EA tells the executor unasked, and what it remembers of its answers.

This module owns two pieces of EA-side bookkeeping, both free of sockets and threads:
`TradeEvents` turns trade-server changes into the `trade_transaction`, `positions`,
`orders` and `account` events of MT5_BRIDGE.md (equity-only account changes throttled), and
`ReplyCache` keeps `id → order_send reply` so a repeated request is answered, not re-run.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from bridge import mt5, protocol

Event = tuple[str, dict[str, Any]]  # (event type, fields)

# A change of these is news at once; the others move with every tick (margin too, through
# the conversion rate), so they are throttled.
ACCOUNT_KEYS_NOW = ("balance", "credit", "trade_allowed", "trade_expert", "leverage")
ACCOUNT_KEYS_THROTTLED = ("equity", "profit", "margin", "margin_free", "margin_level")
EQUITY_EVENT_INTERVAL_S = 1.0


class TradeEvents:
    """Collects the events a trade server's changes call for since the last collection."""

    def __init__(self, server: Any, *, equity_interval_s: float = EQUITY_EVENT_INTERVAL_S) -> None:
        self.server = server
        self.equity_interval_s = equity_interval_s
        self._version: Any = None
        self._account_sent: dict[str, Any] | None = None
        self._account_version_sent: Any = None
        self._account_sent_at = float("-inf")

    def collect(self, wall_now_s: float, *, snapshots: bool = False) -> list[Event]:
        """Transactions, then snapshots (when anything changed or `snapshots`), then account."""
        events: list[Event] = [(protocol.TRADE_TRANSACTION, transaction_fields(tx))
                               for tx in self.server.drain_transactions()]
        version = self.server.version
        if snapshots or events or version != self._version:
            self._version = version
            events.append((protocol.POSITIONS, {"version": version, "positions": self.server.positions_get()}))
            events.append((protocol.ORDERS, {"version": version, "orders": self.server.orders_get()}))
        account = self._account_event(wall_now_s)
        if account is not None:
            events.append(account)
        return events

    def _account_event(self, wall_now_s: float) -> Event | None:
        account = self.server.account_info()
        # The server's account_version moves on trades: margin changed by a deal is news now.
        account_version = getattr(self.server, "account_version", None)
        sent = self._account_sent
        if sent is not None:
            urgent = (account_version != self._account_version_sent
                      or any(account.get(key) != sent.get(key) for key in ACCOUNT_KEYS_NOW))
            moved = any(account.get(key) != sent.get(key) for key in ACCOUNT_KEYS_THROTTLED)
            if not urgent and not (moved and wall_now_s - self._account_sent_at >= self.equity_interval_s):
                return None
        self._account_sent, self._account_sent_at = account, wall_now_s
        self._account_version_sent = account_version
        return protocol.ACCOUNT, {"account": account}


def transaction_fields(transaction: dict[str, Any]) -> dict[str, Any]:
    """A drained transaction as event fields, its `trans` carrying `type_name`."""
    trans = dict(transaction["trans"])
    trans.setdefault("type_name", mt5.TRANSACTION_TYPE_NAMES.get(trans.get("type"), "UNKNOWN"))
    return {"trans": trans, "request": transaction.get("request"), "result": transaction.get("result")}


class ReplyCache:
    """`id → reply fields` for `ttl_s` seconds (and at most `max_entries`), oldest out first."""

    def __init__(self, ttl_s: float = protocol.IDEMPOTENCY_TTL_S, max_entries: int = 100_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, request_id: str, now_s: float) -> dict[str, Any] | None:
        entry = self._entries.get(request_id)
        if entry is None or now_s - entry[0] > self.ttl_s:
            return None
        return entry[1]

    def put(self, request_id: str, fields: dict[str, Any], now_s: float) -> None:
        self._entries[request_id] = (now_s, fields)
        self._entries.move_to_end(request_id)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def entries(self, now_s: float) -> list[tuple[str, float, dict[str, Any]]]:
        """(id, age in s, fields) of every live reply, oldest first: what a restart keeps."""
        return [(request_id, now_s - at, fields) for request_id, (at, fields) in self._entries.items()
                if now_s - at <= self.ttl_s]

    def prune(self, now_s: float) -> None:
        while self._entries:
            stored_at, _ = next(iter(self._entries.values()))
            if now_s - stored_at <= self.ttl_s:
                break
            self._entries.popitem(last=False)
