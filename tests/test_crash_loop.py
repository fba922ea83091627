"""kill -9 of the executor at random points of the order path, 10 times on the same data dir,
the simulated terminal its own process (stress/crash_loop.py; `--runs 100` is the stress
version): after each restart L1-L5 hold and `PRAGMA integrity_check` is ok. And the checker
itself: it finds an order the journal does not know, a duplicate, an orphan and a phantom."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stress import crash_loop, invariants  # noqa: E402
from actors.account.order_ids import client_order_id, magic_for  # noqa: E402


@pytest.mark.timeout(120)
def test_ten_kills_at_random_points_of_the_order_path_break_no_rule(tmp_path):
    report_path = tmp_path / "report.json"
    code = crash_loop.main(["--runs", "10", "--seed", "11", "--run-dir", str(tmp_path / "run"), "--quiet",
                            "--json", str(report_path)])
    assert code == 0, (tmp_path / "run").glob("*.log")
    report = json.loads(report_path.read_text())
    assert len(report["runs"]) == 10 and report["intents"] > 50
    assert set(report["statuses"]) <= {"FILLED", "REJECTED"}  # nothing left in doubt
    assert sum(run["requests"] for run in report["runs"]) > 100  # the kills landed among orders


def test_the_checker_finds_each_broken_rule():
    tag = "abc123"
    ours = lambda i, **kw: {"magic": magic_for(i), "comment": client_order_id(tag, i), **kw}  # noqa: E731
    journal = invariants.JournalView(
        intents={client_order_id(tag, 1): {"id": 1, "client_order_id": client_order_id(tag, 1), "status": "FILLED"},
                 client_order_id(tag, 2): {"id": 2, "client_order_id": client_order_id(tag, 2), "status": "SENT"}},
        by_id={1: {"id": 1, "client_order_id": client_order_id(tag, 1), "status": "FILLED"},
               2: {"id": 2, "client_order_id": client_order_id(tag, 2), "status": "SENT"}},
        open_positions={500: "s1", 501: "s1"})
    book = invariants.TerminalBook(
        positions=[ours(1, ticket=500), {"ticket": 777, "magic": 0, "comment": ""}],
        orders=[], history_orders=[ours(9, ticket=900)], deals=[ours(1, ticket=1), ours(1, ticket=2)])
    strict = invariants.violations(journal, book, settled=False)
    assert set(strict) == {"L1 order at the terminal without a journaled intent",
                           "L3 client order id with more than one deal"}
    found = invariants.violations(journal, book, settled=True, doubt_up_to=2)
    assert found["L2 terminal position the journal does not hold open"] == [777]
    assert found["L4 journal position open that the terminal closed"] == [501]
    assert found["L5 intent still in doubt"] == [client_order_id(tag, 2)]
