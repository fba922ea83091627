"""The stress harness (stress/) end to end, small: 20 strategies for 20 bars against the simulated
terminal as its own process, through one EA disconnect. Only integrity is asserted - nothing
lost, nothing duplicated, nothing orphaned - never timing: this machine is shared."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stress.driver import Run  # noqa: E402
from stress.figures import compute  # noqa: E402
from stress.scenarios import RunConfig  # noqa: E402

STRATEGIES, BARS = 20, 20


@pytest.mark.timeout(120)
def test_twenty_strategies_through_an_ea_disconnect_lose_and_duplicate_nothing(tmp_path):
    # 20 bars at 2 a second: 10 s measured, the link down from 5 s to 9 s (long enough for the
    # executor to see three missed heartbeats and reconcile when the EA comes back).
    config = RunConfig(scenario="smoke", strategies=STRATEGIES, symbols=4, tick_rate=2.0, bars=BARS,
                       disconnect_every_s=5.0, disconnect_for_s=4.0, floor_samples=5, settle_s=25.0)
    data = Run(config, tmp_path).run()
    figures = compute(data)

    assert data.fault_counts.get("link_down") == 1
    assert data.warmup_acted[-1] == STRATEGIES, "every strategy acts on the same bar before measuring"
    assert figures["checked"], data.notes
    assert figures["fills"] >= STRATEGIES * BARS // 2  # the bars outside the disconnect traded
    assert (figures["lost"], figures["duplicates"], figures["orphans"]) == (0, 0, 0), figures
    assert figures["unsettled"] == 0 and figures["phantoms"] == 0, figures
    assert figures["terminal_positions"] <= STRATEGIES  # a flip strategy holds at most one
