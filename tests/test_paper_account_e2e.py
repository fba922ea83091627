"""The embedded simulated terminal keeps its paper account in the data dir, like a broker:
a restarted service finds the same positions, balance and history, and tickets carry on;
a fill is on disk before its reply reaches the executor; `sim_reset` starts afresh on purpose.
And the service backs its journal up right after the kill switch engages."""

from __future__ import annotations

import pytest

import contextlib
import sqlite3

from actors.app.config import sim_options
from actors.app.service import Service
from actors.journal.backup import BACKUPS, backup_folders
from bridge.sim.state_file import StateFile
from tests.conftest import wait_for

pytestmark = pytest.mark.timeout(120)


def state_file(executor) -> StateFile:
    return StateFile(sim_options(executor.config)["state_file"])


def test_the_paper_account_survives_a_restart(executor_factory):
    executor = executor_factory()
    executor.wait_connected()
    kept = executor.ok("OPEN_POSITION", {"symbol": "GBPUSD", "side": "buy", "volume": 0.1})
    # The reply came: the fill is already in the state file (a crash now would not lose it).
    assert kept["ticket"] in {p.ticket for p in state_file(executor).load().book.positions}
    closed = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "sell", "volume": 0.1})
    executor.ok("CLOSE_POSITION", {"ticket": closed["ticket"]})
    server = executor.sim.server
    balance, deals = server.balance, server.history_deals_get()
    [position] = server.positions_get()
    assert balance != 10_000.0

    executor.restart()
    executor.wait_connected()
    server = executor.sim.server
    assert server.balance == balance
    [again] = server.positions_get()
    assert {k: again[k] for k in ("ticket", "symbol", "type", "volume", "price_open", "magic", "comment")} == \
        {k: position[k] for k in ("ticket", "symbol", "type", "volume", "price_open", "magic", "comment")}
    assert server.history_deals_get()[:len(deals)] == deals
    status = executor.status()
    assert [p["ticket"] for p in status["positions"]] == [kept["ticket"]]  # the journal's open row, still there

    later = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
    assert later["ticket"] > max(d["order"] for d in deals)
    tickets = [d["ticket"] for d in server.history_deals_get()]
    assert len(tickets) == len(set(tickets)) == len(deals) + 1


def test_sim_reset_starts_a_fresh_paper_account_and_keeps_the_old_one_aside(executor_factory):
    executor = executor_factory()
    executor.wait_connected()
    executor.ok("OPEN_POSITION", {"symbol": "GBPUSD", "side": "buy", "volume": 0.1})
    executor.stop()
    path = state_file(executor).path
    saved = path.read_bytes()

    service = Service(executor.config, sim_reset=True).start()
    try:
        assert service.sim.server.positions == {} and service.sim.server.balance == 10_000.0
        assert service.sim.server.history_deals_get() == []
        [aside] = path.parent.glob(path.name + ".*.old")
        assert aside.read_bytes() == saved
    finally:
        service.stop()
    assert state_file(executor).load().book.positions == []  # the fresh account is the one kept now


def test_the_kill_switch_leaves_a_backup_of_the_journal_as_trading_stopped(executor_factory):
    executor = executor_factory()
    executor.wait_connected()
    executor.ok("EMERGENCY_STOP", {"reason": "test: backup"})
    into = executor.config.data_dir / BACKUPS
    folder = wait_for(lambda: next((p for p in backup_folders(into) if p.name.endswith("-kill-switch")), None),
                      message="the kill switch's backup")
    with contextlib.closing(sqlite3.connect(folder / "journal.sqlite3")) as con:
        assert con.execute("SELECT active, reason FROM kill_switch").fetchall() == [(1, "test: backup")]
    assert (folder / "config.json").is_file()
