"""An EA disconnect with open positions, stops hit and an orphan opened by hand meanwhile, the
simulated terminal its own process (stress/disconnect.py; `--down 60` is the stress version,
5 s here): after the reconnect each is settled and reported, and L1-L5 hold."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stress import disconnect  # noqa: E402


@pytest.mark.timeout(120)
def test_stops_hit_and_an_orphan_made_while_the_ea_was_away_are_settled_and_reported(tmp_path):
    out = tmp_path / "report.json"
    code = disconnect.main(["--down", "5", "--seed", "3", "--run-dir", str(tmp_path / "run"), "--quiet",
                            "--json", str(out)])
    report = json.loads(out.read_text()) if out.exists() else {}
    assert code == 0, report.get("broken")
    assert report["reconciled"]["phantoms"] == 2 and report["reconciled"]["orphans"] == 1
    assert all(reason == "sl" and profit < 0 for profit, reason in report["stops_journaled"].values())
