"""End to end: strategies trading on the simulated terminal, the kill switch, supervision.

Everything here runs the real executor (actors, ZeroMQ sockets, SQLite journal) against the
simulated MT5 terminal at 600x: an M1 bar closes every 0.1 s of wall time.
"""

from __future__ import annotations

import sqlite3

import pytest

from actors import messages as m
from actors.account.order_ids import intent_id_from_magic
from tests.conftest import wait_for

SMA_CROSS = {
    "name": "sma-cross", "symbol": "EURUSD", "timeframe": "M1",
    "rules": {"entry_long": "cross_above(sma(3), sma(8))", "entry_short": "cross_below(sma(3), sma(8))",
              "exit_long": "cross_below(sma(3), sma(8))", "exit_short": "cross_above(sma(3), sma(8))"},
    "settings": {"sizing": {"method": "fixed", "lots": 0.1}, "max_positions": 1},
}


def sim_positions(executor, strategy_id=None):
    positions = executor.sim.server.positions_get()
    if strategy_id is None:
        return positions
    return [p for p in executor.status()["positions"] if p["strategy_id"] == strategy_id]


def trades_of(executor, strategy_id):
    data = executor.ok("PERFORMANCE_REQUEST", {"strategy_id": strategy_id, "include_trades": True})
    return data["trades"]


def test_sma_cross_strategy_opens_and_closes_trades(executor):
    executor.ok("START_STRATEGY", {"strategy_id": "sma", "strategy": SMA_CROSS})
    closed = wait_for(lambda: trades_of(executor, "sma"), timeout=30, message="a closed trade of the strategy")
    assert all(t["strategy_id"] == "sma" and t["symbol"] == "EURUSD" for t in closed)
    # The strategy reverses on every cross, so after a close it holds a position again.
    wait_for(lambda: sim_positions(executor, "sma"), timeout=30, message="the strategy's next position")
    deals = executor.sim.server.history_deals_get(position=closed[0]["ticket"])
    assert [d["entry"] for d in deals] == [0, 1]  # DEAL_ENTRY_IN, then OUT: one open, one close
    assert closed[0]["profit"] == pytest.approx(deals[1]["profit"], abs=0.01)

    def journaled_deals():
        with sqlite3.connect(executor.config.data_dir / "journal.sqlite3") as db:
            return db.execute("SELECT ticket, entry, strategy_id, magic FROM deals WHERE position_id = ? "
                              "ORDER BY ticket", (closed[0]["ticket"],)).fetchall()
    rows = wait_for(lambda: len(journaled_deals()) == 2 and journaled_deals(), message="both deals journaled")
    assert [(r[0], r[1], r[2]) for r in rows] == [(d["ticket"], d["entry"], "sma") for d in deals]
    assert int(rows[0][3]) == deals[0]["magic"]


def test_orders_are_journaled_before_they_reach_the_terminal(executor):
    opened = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "sell", "volume": 0.2})
    [position] = executor.sim.server.positions_get(ticket=opened["ticket"])
    intent_id = intent_id_from_magic(position["magic"])

    def intent_row():
        with sqlite3.connect(executor.config.data_dir / "journal.sqlite3") as db:
            return db.execute("SELECT client_order_id, status, volume, side, order_ticket FROM order_intents "
                              "WHERE id = ?", (intent_id,)).fetchone()
    # The intent row was committed before the order left; its outcome is written after the fill.
    client_order_id, status, volume, side, order_ticket = wait_for(
        lambda: (row := intent_row()) and row[1] == "FILLED" and row, message="the outcome in the journal")
    assert position["comment"] == client_order_id  # the client order id travels in the comment too
    assert (status, volume, side, order_ticket) == ("FILLED", 0.2, "sell", opened["ticket"])


def test_stop_strategy_closes_its_positions(executor):
    executor.ok("START_STRATEGY", {"strategy_id": "stopper", "strategy": SMA_CROSS})
    wait_for(lambda: sim_positions(executor, "stopper"), timeout=30, message="a position of the strategy")
    manual = executor.ok("OPEN_POSITION", {"symbol": "GBPUSD", "side": "buy", "volume": 0.1})
    reply = executor.ok("STOP_STRATEGY", {"strategy_id": "stopper"})
    assert reply["state"] == "stopped" and reply["closed"] >= 1
    wait_for(lambda: not sim_positions(executor, "stopper"), timeout=10, message="the strategy to be flat")
    # Only the strategy's positions: the manual one is untouched.
    assert [p["ticket"] for p in executor.sim.server.positions_get()] == [manual["ticket"]]
    strategy = next(s for s in executor.status()["strategies"] if s["strategy_id"] == "stopper")
    assert strategy["state"] == "stopped"


def test_emergency_stop_flattens_and_locks_across_a_restart(executor_factory):
    executor = executor_factory()
    executor.wait_connected()
    executor.ok("START_STRATEGY", {"strategy_id": "runner", "strategy": SMA_CROSS})
    for symbol, side in (("EURUSD", "buy"), ("USDJPY", "sell"), ("XAUUSD", "buy")):
        executor.ok("OPEN_POSITION", {"symbol": symbol, "side": side, "volume": 0.1})
    assert len(executor.sim.server.positions_get()) >= 3

    reply = executor.ok("EMERGENCY_STOP", {"reason": "test: market went mad"})
    assert reply["remaining"] == 0 and reply["closed_positions"] >= 3
    assert executor.sim.server.positions_get() == [] and executor.sim.server.orders_get() == []
    refused = executor.request("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
    assert refused["error"]["code"] == "TRADING_LOCKED"
    assert refused["error"]["details"]["locked_until"] == reply["locked_until"]
    status = executor.status()
    assert status["kill_switch"]["active"] and status["kill_switch"]["reason"] == "test: market went mad"
    assert {s["state"] for s in status["strategies"]} == {"stopped"}

    executor.restart()
    executor.wait_connected()
    status = executor.status()
    assert status["kill_switch"] == {"active": True, "reason": "test: market went mad",
                                     "locked_until": reply["locked_until"]}
    refused = executor.request("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
    assert refused["error"]["code"] == "TRADING_LOCKED"
    assert executor.request("RESET_KILL_SWITCH")["error"]["code"] == "TRADING_LOCKED"
    assert executor.sim.server.positions_get() == []


def test_kill_gate_stops_orders_already_queued_for_the_terminal(executor):
    """K1: once tripped, the Terminal refuses any risk-increasing order still in a mailbox."""
    login = executor.status()["accounts"][0]["login"]
    terminal = executor.service.directory.get(f"terminal:{login}")
    executor.service.gate.trip("test")
    terminal.tell(m.SubmitOrder(account=login, client_order_id="queued-1", closing=False, request={
        "action": 1, "symbol": "EURUSD", "volume": 0.1, "type": 0, "price": 1.1, "type_filling": 0}))
    assert terminal.ask(m.Ping(), timeout=5)  # mailboxes are FIFO: the order was handled before this
    executor.service.gate.clear()
    executor.ok("PING")
    assert executor.sim.server.positions_get() == []
    assert executor.sim.server.history_orders_get() == []


def test_a_crashing_strategy_is_restarted_then_retired(executor):
    executor.ok("START_STRATEGY", {"strategy_id": "fragile", "strategy": SMA_CROSS})
    directory = executor.service.directory

    def strategy_row():
        return next(s for s in executor.status()["strategies"] if s["strategy_id"] == "fragile")

    def crash() -> None:
        ref = wait_for(lambda: directory.get("strategy:fragile"), message="the strategy actor")
        wait_for(lambda: ref.proxy().ready.get(timeout=5), message="the strategy to load its history")
        # A malformed bar (prices that are not numbers) makes the actor raise.
        ref.tell(m.BarClosed(account=1, symbol="EURUSD", timeframe="M1", time=2**62, open=None, high=None,
                             low=None, close=None, tick_volume=0.0, spread=0.0))
        wait_for(lambda: not ref.is_alive(), message="the strategy actor to die")

    crash()
    wait_for(lambda: strategy_row()["restarts"] == 1 and directory.get("strategy:fragile"),
             message="the first restart")
    assert strategy_row()["state"] == "running"
    crash()
    crash()
    wait_for(lambda: strategy_row()["restarts"] == 3, message="three restarts")
    crash()  # the fourth crash within 60 s retires it
    wait_for(lambda: strategy_row()["state"] == "failed", message="the strategy to be marked failed")
    assert directory.get("strategy:fragile") is None
    assert executor.ok("PING")["pong"] > 0  # the rest of the executor is untouched


def test_running_strategies_are_restored_after_a_restart(executor_factory):
    executor = executor_factory()
    executor.wait_connected()
    executor.ok("START_STRATEGY", {"strategy_id": "keeper", "strategy": SMA_CROSS})
    executor.ok("PAUSE_STRATEGY", {"strategy_id": "keeper"})
    executor.restart()
    executor.wait_connected()
    [row] = executor.status()["strategies"]
    assert (row["strategy_id"], row["state"]) == ("keeper", "paused")
    assert executor.service.directory.get("strategy:keeper") is not None


def test_a_crashed_core_actor_is_restarted_with_the_actors_that_depend_on_it(executor):
    """rest_for_one: MarketData dies; it, the control server and the strategies come back."""
    executor.ok("START_STRATEGY", {"strategy_id": "survivor", "strategy": SMA_CROSS})
    directory = executor.service.directory
    strategy = wait_for(lambda: directory.get("strategy:survivor"), message="the strategy")
    wait_for(lambda: strategy.proxy().ready.get(timeout=5), message="the strategy's history")
    market_data = directory.get("market_data")
    login = executor.status()["accounts"][0]["login"]
    # A subscription whose history is not a number (an actor's bug, not the EA's: those are
    # caught, see test_peer_garbage_e2e.py) makes MarketData raise.
    market_data.tell(m.SubscribeBars(subscriber="strategy:survivor", account=login, symbol="EURUSD", timeframe="H4",
                                     history="many"))
    wait_for(lambda: not market_data.is_alive(), message="MarketData to die")

    new_market_data = wait_for(lambda: directory.get("market_data"), message="a new MarketData")
    assert new_market_data is not market_data
    executor.client.close()  # the control server was restarted too: a fresh REQ socket
    assert wait_for(lambda: executor.ok("PING"), message="the control server")
    restored = wait_for(lambda: (ref := directory.get("strategy:survivor")) is not strategy and ref,
                        message="the strategy to be restarted")
    wait_for(lambda: restored.proxy().ready.get(timeout=5), message="the restarted strategy's history")
    assert directory.get(f"account:{login}") is not None and executor.status()["accounts"][0]["connected"]
    [row] = executor.status()["strategies"]
    assert row["state"] == "running"
