"""The pure account view (actors/account/view.py): snapshots, ownership, exit deals, status."""

from __future__ import annotations

import pytest

from actors.account import view as av
from actors import messages as m
from actors.account.view import EXTERNAL, AccountView
from actors.account.order_ids import magic_for
from bridge import mt5

LOGIN = 5_000_001
OURS = magic_for(42)


def position(ticket: int, *, symbol: str = "EURUSD", type_: int = mt5.POSITION_TYPE_BUY, volume: float = 0.1,
             magic: int = 0, **kw) -> dict:
    return {"ticket": ticket, "symbol": symbol, "type": type_, "volume": volume, "price_open": 1.1,
            "sl": 1.09, "tp": 1.12, "profit": 3.5, "magic": magic, **kw}


def pending(ticket: int, *, magic: int = 0) -> dict:
    return {"ticket": ticket, "symbol": "EURUSD", "type": mt5.ORDER_TYPE_BUY_LIMIT, "volume_current": 0.2,
            "price_open": 1.05, "sl": 0.0, "tp": 0.0, "magic": magic}


def exit_deal(ticket: int = 900, *, position_id: int = 1, **kw) -> dict:
    return {"ticket": ticket, "position_id": position_id, "entry": mt5.DEAL_ENTRY_OUT, "type": mt5.DEAL_TYPE_SELL,
            "symbol": "EURUSD", "volume": 0.1, "price": 1.1010, "profit": 10.0, "swap": -0.5,
            "commission": -0.7, "fee": -0.1, "reason": mt5.DEAL_REASON_SL, **kw}


@pytest.fixture
def view() -> AccountView:
    return AccountView(login=LOGIN)


# ----------------------------------------------------------- apply_snapshot ---
def test_first_snapshot_changes_nothing_and_syncs(view):
    assert not view.synced
    assert view.apply_snapshot([position(1), position(2)], [pending(7)]) == []
    assert view.synced
    assert set(view.positions) == {1, 2}
    assert [o["ticket"] for o in view.orders] == [7]


def test_snapshot_returns_shrunk_and_vanished_tickets(view):
    view.apply_snapshot([position(1, volume=0.3), position(2), position(3), position(5, volume=0.1)], [])
    changed = view.apply_snapshot(
        [position(1, volume=0.1), position(3), position(4), position(5, volume=0.2)], [])
    assert sorted(changed) == [1, 2]  # 1 shrank, 2 vanished; 3 same, 4 new, 5 grew
    assert set(view.positions) == {1, 3, 4, 5}
    assert view.positions[1]["volume"] == 0.1


def test_snapshot_ignores_float_noise_in_volume(view):
    view.apply_snapshot([position(1, volume=0.3)], [])
    assert view.apply_snapshot([position(1, volume=0.1 + 0.2 - 1e-12)], []) == []


def test_empty_snapshot_reports_every_ticket(view):
    view.apply_snapshot([position(1), position(2)], [pending(7)])
    assert sorted(view.apply_snapshot([], [])) == [1, 2]
    assert view.positions == {} and view.orders == []


def test_snapshot_copies_its_input(view):
    raw = position(1)
    order = pending(7)
    view.apply_snapshot([raw], [order])
    raw["volume"] = 99.0
    order["symbol"] = "GBPUSD"
    assert view.positions[1]["volume"] == 0.1
    assert view.orders[0]["symbol"] == "EURUSD"


def test_snapshot_keys_positions_by_int_ticket(view):
    view.apply_snapshot([position("11")], [])  # type: ignore[arg-type]
    assert list(view.positions) == [11]


# --------------------------------------------------------------- strategy_of ---
def test_strategy_of_known_ticket_wins(view):
    view.apply_snapshot([position(1, magic=0), position(2, magic=OURS)], [])
    view.strategy_of_ticket.update({1: "sma-1", 2: "rsi-2"})
    assert view.strategy_of(1) == "sma-1"
    assert view.strategy_of(2) == "rsi-2"
    assert view.strategy_of(3) == EXTERNAL


def test_strategy_of_known_even_when_not_open(view):
    view.strategy_of_ticket[9] = "sma-1"
    assert view.strategy_of(9) == "sma-1"


def test_strategy_of_our_magic_is_unknown(view):
    view.apply_snapshot([position(1, magic=OURS), position(2, magic=magic_for(0xFFFFFFFF))], [])
    assert view.strategy_of(1) == "unknown"
    assert view.strategy_of(2) == "unknown"


def test_strategy_of_pending_order_with_our_magic_is_unknown(view):
    view.apply_snapshot([], [pending(7, magic=OURS), pending(8, magic=0)])
    assert view.strategy_of(7) == "unknown"
    assert view.strategy_of(8) == EXTERNAL


@pytest.mark.parametrize("magic", [0, 123456, magic_for(42, executor_magic=0x1234), (0x4D544558 + 1) << 32])
def test_strategy_of_foreign_magic_is_external(view, magic):
    view.apply_snapshot([position(1, magic=magic)], [])
    assert view.strategy_of(1) == EXTERNAL == "external"


def test_strategy_of_without_magic_or_unseen_ticket_is_external(view):
    raw = position(1)
    del raw["magic"]
    view.apply_snapshot([raw], [])
    assert view.strategy_of(1) == EXTERNAL
    assert view.strategy_of(404) == EXTERNAL


# -------------------------------------------------------------------- select ---
@pytest.fixture
def busy(view) -> AccountView:
    view.apply_snapshot([
        position(1, symbol="EURUSD", type_=mt5.POSITION_TYPE_BUY),
        position(2, symbol="EURUSD", type_=mt5.POSITION_TYPE_SELL),
        position(3, symbol="USDJPY", type_=mt5.POSITION_TYPE_BUY),
        position(4, symbol="EURUSD", type_=mt5.POSITION_TYPE_BUY, magic=OURS),
        position(5, symbol="USDJPY", type_=mt5.POSITION_TYPE_SELL),
    ], [])
    view.strategy_of_ticket.update({1: "a", 2: "a", 3: "b"})
    return view


def tickets(rows: list[dict]) -> list[int]:
    return sorted(r["ticket"] for r in rows)


def test_select_all(busy):
    assert tickets(busy.select()) == [1, 2, 3, 4, 5]


def test_select_by_symbol(busy):
    assert tickets(busy.select(symbol="EURUSD")) == [1, 2, 4]
    assert busy.select(symbol="GBPUSD") == []


def test_select_by_strategy(busy):
    assert tickets(busy.select(strategy_id="a")) == [1, 2]
    assert tickets(busy.select(strategy_id="unknown")) == [4]
    assert tickets(busy.select(strategy_id=EXTERNAL)) == [5]


def test_select_by_side(busy):
    assert tickets(busy.select(side="buy")) == [1, 3, 4]
    assert tickets(busy.select(side="sell")) == [2, 5]


def test_select_combined(busy):
    assert tickets(busy.select(symbol="EURUSD", strategy_id="a", side="sell")) == [2]
    assert busy.select(symbol="USDJPY", strategy_id="a") == []


def test_count_by_strategy(busy):
    assert busy.count("a") == 2
    assert busy.count("b") == 1
    assert busy.count("c") == 0


# ---------------------------------------------------------- record_exit_deal ---
def test_exit_deal_makes_position_closed(view):
    view.apply_snapshot([position(1, type_=mt5.POSITION_TYPE_BUY)], [])
    view.strategy_of_ticket[1] = "sma-1"
    closed = view.record_exit_deal(exit_deal(900, position_id=1))
    assert closed == m.PositionClosed(account=LOGIN, strategy_id="sma-1", ticket=1, symbol="EURUSD", side="buy",
                                      volume=0.1, price_close=1.1010, profit=8.7, reason="sl", deal=900)


def test_exit_deal_is_recorded_once_per_deal_ticket(view):
    view.strategy_of_ticket[1] = "sma-1"
    assert view.record_exit_deal(exit_deal(900)) is not None
    assert view.record_exit_deal(exit_deal(900)) is None
    assert view.record_exit_deal(exit_deal(901)) is not None  # a second partial close: its own deal


def test_exit_deal_net_profit_sums_profit_swap_commission_fee(view):
    closed = view.record_exit_deal(exit_deal(profit=-20.0, swap=-1.25, commission=-3.5, fee=-0.25))
    assert closed.profit == pytest.approx(-25.0)
    closed = view.record_exit_deal(exit_deal(901, profit=5.0, swap=0.0, commission=0.0, fee=0.0))
    assert closed.profit == 5.0


def test_exit_deal_missing_costs_count_as_zero(view):
    deal = exit_deal()
    for key in ("swap", "commission", "fee"):
        del deal[key]
    assert view.record_exit_deal(deal).profit == 10.0


def test_exit_deal_profit_is_rounded_to_cents(view):
    closed = view.record_exit_deal(exit_deal(profit=0.1, swap=0.2, commission=0.0, fee=0.0))
    assert closed.profit == 0.3


@pytest.mark.parametrize(("deal_type", "side"), [(mt5.DEAL_TYPE_SELL, "buy"), (mt5.DEAL_TYPE_BUY, "sell")])
def test_exit_deal_side_is_that_of_the_closed_position(view, deal_type, side):
    assert view.record_exit_deal(exit_deal(type=deal_type)).side == side


@pytest.mark.parametrize(("reason", "name"), [
    (mt5.DEAL_REASON_CLIENT, "client"), (mt5.DEAL_REASON_MOBILE, "mobile"), (mt5.DEAL_REASON_WEB, "web"),
    (mt5.DEAL_REASON_EXPERT, "expert"), (mt5.DEAL_REASON_SL, "sl"), (mt5.DEAL_REASON_TP, "tp"),
    (mt5.DEAL_REASON_SO, "stop_out"), (mt5.DEAL_REASON_ROLLOVER, str(mt5.DEAL_REASON_ROLLOVER)),
])
def test_exit_deal_reason_names(view, reason, name):
    assert view.record_exit_deal(exit_deal(reason=reason)).reason == name


@pytest.mark.parametrize("entry", [mt5.DEAL_ENTRY_OUT, mt5.DEAL_ENTRY_OUT_BY, mt5.DEAL_ENTRY_INOUT])
def test_every_exit_entry_counts(view, entry):
    assert isinstance(view.record_exit_deal(exit_deal(entry=entry)), m.PositionClosed)


def test_in_deals_are_ignored_and_not_remembered(view):
    assert view.record_exit_deal(exit_deal(900, entry=mt5.DEAL_ENTRY_IN)) is None
    assert view.record_exit_deal({"ticket": 901, "type": mt5.DEAL_TYPE_BALANCE, "profit": 100.0}) is None
    # The ticket was not marked seen, so its (hypothetical) exit form still counts.
    assert view.record_exit_deal(exit_deal(900)) is not None


def test_exit_deal_of_an_unknown_position(view):
    assert view.record_exit_deal(exit_deal(position_id=77)).strategy_id == EXTERNAL
    view.apply_snapshot([position(78, magic=OURS)], [])
    assert view.record_exit_deal(exit_deal(901, position_id=78)).strategy_id == "unknown"


def test_exit_deal_of_a_vanished_position_is_attributed_by_its_magic(view):
    view.apply_snapshot([], [])  # the position already left the snapshot
    assert view.record_exit_deal(exit_deal(902, position_id=79, magic=OURS)).strategy_id == "unknown"
    assert view.record_exit_deal(exit_deal(903, position_id=80, magic=12345)).strategy_id == EXTERNAL


def test_seen_deals_are_bounded(view, monkeypatch):
    monkeypatch.setattr(av, "SEEN_DEALS_KEPT", 3)
    for ticket in (1, 2, 3, 4):
        assert view.record_exit_deal(exit_deal(ticket)) is not None
    assert view.record_exit_deal(exit_deal(4)) is None  # recent: still remembered
    assert view.record_exit_deal(exit_deal(1)) is not None  # the oldest was forgotten
    assert len(view._seen_deals) <= 3


# ------------------------------------------------------------------ snapshot ---
POSITION_KEYS = {"ticket", "account", "symbol", "side", "volume", "price_open", "sl", "tp", "profit", "strategy_id"}
ACCOUNT_KEYS = {"login", "type", "currency", "balance", "equity", "margin", "margin_free", "connected"}


def test_snapshot_shape(view):
    view.info = {"trade_mode": mt5.ACCOUNT_TRADE_MODE_DEMO, "currency": "USD", "balance": 10_000.0,
                 "equity": 10_003.5, "margin": 110.0, "margin_free": 9_893.5}
    view.connected = True
    view.apply_snapshot([position(2, type_=mt5.POSITION_TYPE_SELL, magic=OURS), position(1)], [pending(7, magic=0)])
    view.strategy_of_ticket[1] = "sma-1"
    snap = view.snapshot()
    assert set(snap) == ACCOUNT_KEYS | {"positions", "orders"}
    assert {k: snap[k] for k in ACCOUNT_KEYS} == {
        "login": LOGIN, "type": "demo", "currency": "USD", "balance": 10_000.0, "equity": 10_003.5,
        "margin": 110.0, "margin_free": 9_893.5, "connected": True}
    assert [p["ticket"] for p in snap["positions"]] == [1, 2]  # sorted by ticket
    for row in snap["positions"]:
        assert set(row) == POSITION_KEYS
    assert snap["positions"][0] == {"ticket": 1, "account": LOGIN, "symbol": "EURUSD", "side": "buy",
                                    "volume": 0.1, "price_open": 1.1, "sl": 1.09, "tp": 1.12, "profit": 3.5,
                                    "strategy_id": "sma-1"}
    assert snap["positions"][1]["side"] == "sell"
    assert snap["positions"][1]["strategy_id"] == "unknown"
    assert snap["orders"] == [{"ticket": 7, "account": LOGIN, "symbol": "EURUSD", "type": mt5.ORDER_TYPE_BUY_LIMIT,
                               "volume": 0.2, "price_open": 1.05, "sl": 0.0, "tp": 0.0, "strategy_id": EXTERNAL}]


def test_snapshot_live_account_type(view):
    view.info = {"trade_mode": mt5.ACCOUNT_TRADE_MODE_REAL}
    assert view.snapshot()["type"] == "live"
    view.info = {"trade_mode": mt5.ACCOUNT_TRADE_MODE_CONTEST}
    assert view.snapshot()["type"] == "demo"


def test_snapshot_of_an_empty_view(view):
    snap = view.snapshot()
    assert snap == {"login": LOGIN, "type": "demo", "currency": "", "balance": 0.0, "equity": 0.0, "margin": 0.0,
                    "margin_free": 0.0, "connected": False, "positions": [], "orders": []}


def test_snapshot_position_without_profit_reports_zero(view):
    raw = position(1)
    del raw["profit"]
    view.apply_snapshot([raw], [])
    assert view.snapshot()["positions"][0]["profit"] == 0.0
