"""What the executor knows of one account (pure): the terminal's positions and orders,
which strategy owns each position, and which exit deals were already recorded.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from actors import messages as m
from actors.account.order_ids import intent_id_from_magic
from bridge import mt5

EXTERNAL = "external"  # a position this executor did not open
EXIT_ENTRIES = (mt5.DEAL_ENTRY_OUT, mt5.DEAL_ENTRY_OUT_BY, mt5.DEAL_ENTRY_INOUT)
REASON_NAMES = {mt5.DEAL_REASON_CLIENT: "client", mt5.DEAL_REASON_MOBILE: "mobile", mt5.DEAL_REASON_WEB: "web",
                mt5.DEAL_REASON_EXPERT: "expert", mt5.DEAL_REASON_SL: "sl", mt5.DEAL_REASON_TP: "tp",
                mt5.DEAL_REASON_SO: "stop_out"}
SEEN_DEALS_KEPT = 10_000


@dataclass
class AccountView:
    login: int
    info: dict[str, Any] = field(default_factory=dict)
    symbols: dict[str, dict[str, Any]] = field(default_factory=dict)
    positions: dict[int, dict[str, Any]] = field(default_factory=dict)
    orders: list[dict[str, Any]] = field(default_factory=list)
    connected: bool = False
    synced: bool = False  # a positions snapshot arrived since the link came up: safe to trade
    strategy_of_ticket: dict[int, str] = field(default_factory=dict)
    _seen_deals: set[int] = field(default_factory=set)
    _seen_order: deque = field(default_factory=deque)
    # (position, close time ms) of closes the journal already holds as trades: a deal read again
    # after a restart (reconciliation reads a position's whole history) is not a second trade.
    traded: set[tuple[int, int]] = field(default_factory=set)
    # strategy id -> tickets of its open positions, rebuilt when the positions or what is known
    # of their owners changed (keyed by the positions dict itself, its size and the owners'):
    # a strategy's exit or entry check reads its own positions, not all of them.
    _owners: dict[str, list[int]] = field(default_factory=dict)
    _owners_of: tuple[Any, int, int] | None = None

    def apply_snapshot(self, positions: Iterable[Mapping[str, Any]], orders: Iterable[Mapping[str, Any]]) -> list[int]:
        """Replace the view with the terminal's; return the tickets that shrank or vanished."""
        fresh = {int(p["ticket"]): dict(p) for p in positions}
        changed = [t for t, old in self.positions.items()
                   if t not in fresh or fresh[t]["volume"] < old["volume"] - 1e-9]
        self.positions = fresh
        self.orders = [dict(o) for o in orders]
        self.synced = True
        return changed

    def add_filled(self, ticket: int, request: Mapping[str, Any], result: Mapping[str, Any]) -> None:
        """Show a position we just opened before the terminal's next snapshot confirms it,
        so a close-all or flatten issued in between does not miss it."""
        if ticket in self.positions:
            return
        self.positions[ticket] = {
            "ticket": ticket, "symbol": request["symbol"], "type": request["type"], "volume": result["volume"],
            "price_open": result["price"], "sl": request.get("sl", 0.0), "tp": request.get("tp", 0.0),
            "magic": request.get("magic", 0), "profit": 0.0, "comment": request.get("comment", ""),
        }

    def strategy_of(self, ticket: int, magic: int = 0) -> str:
        """The owner of a position or order; `magic` helps once it has left the snapshot."""
        known = self.strategy_of_ticket.get(ticket)
        if known is not None:
            return known
        if not magic:
            item = self.positions.get(ticket) or next((o for o in self.orders if o["ticket"] == ticket), None)
            magic = int(item.get("magic", 0)) if item is not None else 0
        if intent_id_from_magic(magic) is not None:
            return "unknown"  # ours by magic, opened by a journal this process has not read
        return EXTERNAL

    def select(self, *, symbol: str | None = None, strategy_id: str | None = None,
               side: str | None = None) -> list[dict[str, Any]]:
        tickets = self.positions if strategy_id is None else self.tickets_of(strategy_id)
        return [p for t in tickets if (p := self.positions[t]) is not None
                and (symbol is None or p["symbol"] == symbol)
                and (side is None or _side(p["type"]) == side)]

    def count(self, strategy_id: str) -> int:
        return len(self.tickets_of(strategy_id))

    def tickets_of(self, strategy_id: str) -> list[int]:
        """The strategy's open positions, in the positions' order."""
        key = self._owners_of
        if key is None or key[0] is not self.positions or key[1:] != (len(self.positions),
                                                                      len(self.strategy_of_ticket)):
            owners: dict[str, list[int]] = {}
            for ticket in self.positions:
                owners.setdefault(self.strategy_of(ticket), []).append(ticket)
            self._owners, self._owners_of = owners, (self.positions, len(self.positions), len(self.strategy_of_ticket))
        return self._owners.get(strategy_id, [])

    def record_exit_deal(self, deal: Mapping[str, Any],
                         entry: Mapping[str, Any] | None = None) -> m.PositionClosed | None:
        """The close an exit deal represents, once per deal ticket; None for other deals.
        `entry`, the position's opening deal when known, gives the trade its open time and price."""
        ticket = int(deal["ticket"])
        if deal.get("entry") not in EXIT_ENTRIES or ticket in self._seen_deals:
            return None
        self._remember(ticket)
        position = int(deal["position_id"])
        if (position, int(deal.get("time_msc", 0))) in self.traded:
            return None
        # A closing SELL deal ends a long position, and vice versa.
        side = "buy" if deal["type"] == mt5.DEAL_TYPE_SELL else "sell"
        net = float(deal.get("profit", 0.0)) + float(deal.get("swap", 0.0)) + float(deal.get("commission", 0.0)) \
            + float(deal.get("fee", 0.0))
        return m.PositionClosed(account=self.login, strategy_id=self.strategy_of(position, int(deal.get("magic", 0))),
                                ticket=position,
                                symbol=str(deal["symbol"]), side=side, volume=float(deal["volume"]),
                                price_close=float(deal["price"]), profit=round(net, 2),
                                reason=REASON_NAMES.get(deal.get("reason"), str(deal.get("reason"))), deal=ticket,
                                open_time=int(entry["time_msc"]) if entry else 0,
                                open_price=float(entry["price"]) if entry else 0.0,
                                close_time=int(deal.get("time_msc", 0)))

    def _remember(self, deal: int) -> None:
        self._seen_deals.add(deal)
        self._seen_order.append(deal)
        if len(self._seen_order) > SEEN_DEALS_KEPT:
            self._seen_deals.discard(self._seen_order.popleft())

    def snapshot(self) -> dict[str, Any]:
        info = self.info
        trade_mode = info.get("trade_mode", mt5.ACCOUNT_TRADE_MODE_DEMO)
        return {
            "login": self.login,
            "type": "live" if trade_mode == mt5.ACCOUNT_TRADE_MODE_REAL else "demo",
            "currency": info.get("currency", ""),
            "balance": info.get("balance", 0.0), "equity": info.get("equity", 0.0),
            "margin": info.get("margin", 0.0), "margin_free": info.get("margin_free", 0.0),
            "connected": self.connected,
            "positions": [self._position_row(t, p) for t, p in sorted(self.positions.items())],
            "orders": [self._order_row(o) for o in self.orders],
        }

    def _position_row(self, ticket: int, p: Mapping[str, Any]) -> dict[str, Any]:
        return {"ticket": ticket, "account": self.login, "symbol": p["symbol"], "side": _side(p["type"]),
                "volume": p["volume"], "price_open": p["price_open"], "sl": p["sl"], "tp": p["tp"],
                "profit": p.get("profit", 0.0), "strategy_id": self.strategy_of(ticket)}

    def _order_row(self, o: Mapping[str, Any]) -> dict[str, Any]:
        return {"ticket": o["ticket"], "account": self.login, "symbol": o["symbol"], "type": o["type"],
                "volume": o.get("volume_current", 0.0), "price_open": o.get("price_open", 0.0),
                "sl": o.get("sl", 0.0), "tp": o.get("tp", 0.0), "strategy_id": self.strategy_of(o["ticket"])}


def _side(position_type: int) -> str:
    return "buy" if position_type == mt5.POSITION_TYPE_BUY else "sell"
