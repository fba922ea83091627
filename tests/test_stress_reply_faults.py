"""100 orders (10 strategies x 10 bars) against the simulated terminal as its own process, with
10% of the first answers to orders lost and 5% held past the request timeout (seeded): every
order once, none lost, none orphaned, none left in doubt (`python -m stress --scenario faults`
is the 1 000-order version)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stress.driver import Run  # noqa: E402
from stress.figures import compute  # noqa: E402
from stress.scenarios import RunConfig, preset  # noqa: E402

STRATEGIES, BARS = 10, 10


@pytest.mark.timeout(150)
def test_a_hundred_orders_with_answers_lost_and_late_are_each_placed_once_and_settled(tmp_path):
    fields = {**preset("faults"), "strategies": STRATEGIES, "symbols": 2, "bars": BARS, "settle_s": 30.0}
    data = Run(RunConfig(**fields), tmp_path).run()
    figures = compute(data)

    assert figures["checked"], data.notes
    assert data.fault_counts.get("order_replies_dropped", 0) >= 3, data.fault_counts
    assert data.fault_counts.get("order_replies_delayed", 0) >= 1, data.fault_counts
    assert figures["intents"] >= STRATEGIES * BARS // 2
    assert (figures["lost"], figures["duplicates"], figures["orphans"]) == (0, 0, 0), figures
    assert figures["unsettled"] == 0 and figures["phantoms"] == 0, figures
