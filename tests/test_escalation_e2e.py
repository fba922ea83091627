"""A supervisor escalation (more than 3 restarts in 60 s) engages the kill switch and ends the
service; the lock is committed to the journal before that, also when the journal itself is
what kept crashing, so the restarted service stays locked."""

from __future__ import annotations

import sqlite3

import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.timeout(90)


def crash_until_escalation(service, name: str) -> None:
    """Stop `name` again each time the supervisor has restarted it (and all after it)."""
    for _ in range(6):
        last = service.directory.get("backups")  # started last: restarted last
        service.directory.get(name).stop()
        wait_for(lambda: service.fatal.is_set() or service.directory.get("backups") not in (None, last), 15,
                 message=f"{name} restarted, or the escalation")
        if service.fatal.is_set():
            return
    pytest.fail(f"no escalation after crashing {name} 6 times")


def kill_switch_row(data_dir) -> tuple | None:
    db = sqlite3.connect(data_dir / "journal.sqlite3")
    try:
        return db.execute("SELECT active, reason, locked_until FROM kill_switch WHERE id = 1").fetchone()
    finally:
        db.close()


@pytest.mark.parametrize("crashing", ["market_data", "journal"])
def test_an_escalations_kill_switch_is_committed_before_the_exit_and_locks_the_restart(executor, crashing):
    crash_until_escalation(executor.service, crashing)
    # Read beside the service, before it stops: committed already, not left to a clean stop.
    active, reason, locked_until = kill_switch_row(executor.config.data_dir)
    assert active == 1 and reason.startswith("supervisor escalation") and locked_until > 0

    executor.restart()
    status = executor.status()
    assert status["kill_switch"] == {"active": True, "reason": reason, "locked_until": locked_until}
    executor.wait_connected()
    refused = executor.request("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
    assert refused["error"]["code"] == "TRADING_LOCKED"
