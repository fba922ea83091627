"""The performance report of PERFORMANCE_REQUEST, read from the journal's trades.

Per account and per strategy: `performance.summarize` of the closed trades, each curve
starting at its account's initial balance (kept by the Journal from `RecordBalance`).
Runs on the Journal's thread, on its connection, after its pending writes are committed.
"""

from __future__ import annotations

from typing import Any

from actors import messages as m
from actors.journal.models import TradeRow
from actors.journal.performance import summarize

# A trade in PERFORMANCE_REQUEST: CONTROL_API's fields, plus its account and why it closed.
TRADE_FIELDS = ("ticket", "account", "strategy_id", "symbol", "side", "volume", "open_time", "open_price",
                "close_time", "close_price", "profit", "reason")


def performance_report(req: m.PerformanceRequest, initial_balances: dict[int, float],
                       tz_offsets: dict[int, int]) -> dict[str, Any]:
    query = TradeRow.select()
    if req.strategy_id:
        query = query.where(TradeRow.strategy_id == req.strategy_id)
    if req.account:
        query = query.where(TradeRow.account == req.account)
    trades = [_trade_dict(r) for r in query.order_by(TradeRow.close_time, TradeRow.id)]
    by_strategy: dict[str, list[dict[str, Any]]] = {}
    by_account: dict[int, list[dict[str, Any]]] = {}
    for t in trades:
        by_strategy.setdefault(t["strategy_id"], []).append(t)
        by_account.setdefault(t["account"], []).append(t)
    if req.strategy_id and req.strategy_id not in by_strategy:
        by_strategy[req.strategy_id] = []

    def report(head: dict[str, Any], trades: list[dict[str, Any]], accounts: list[int]) -> dict[str, Any]:
        """`summarize` of `trades` made in `accounts`. A strategy trades its account's capital,
        so its curve starts at the account's initial balance (the sum, if it traded in
        several; None while one is unknown) and its days are that server's (the first
        account's, if they differ)."""
        balances = [initial_balances.get(a) for a in accounts]
        initial = sum(balances) if balances and None not in balances else None
        tz_offset_s = tz_offsets.get(accounts[0], 0) if accounts else 0
        return {**head, "initial_balance": initial,
                **summarize(trades, initial_balance=initial, tz_offset_s=tz_offset_s)}

    reply: dict[str, Any] = {
        "accounts": [report({"account": a}, ts, [a]) for a, ts in sorted(by_account.items())],
        "strategies": [report({"strategy_id": s}, ts, sorted({t["account"] for t in ts}))
                       for s, ts in sorted(by_strategy.items())],
    }
    if req.include_trades:
        reply["trades"] = [{k: t[k] for k in TRADE_FIELDS} for t in trades]
    return reply


def _trade_dict(row: TradeRow) -> dict[str, Any]:
    return {"id": row.id, "ticket": row.ticket, "account": row.account, "strategy_id": row.strategy_id,
            "symbol": row.symbol, "side": row.side, "volume": row.volume, "open_time": row.open_time,
            "open_price": row.open_price, "close_time": row.close_time, "close_price": row.close_price,
            "profit": row.profit, "reason": row.reason}
