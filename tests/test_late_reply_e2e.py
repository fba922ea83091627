"""A command answered TIMEOUT that completes later: its outcome lands in the reply cache and
the journal, so resending the same id returns it (the TIMEOUT reply's promise), also after a
restart."""

from __future__ import annotations

import pytest

from actors.control import routes
from bridge.trade_server.faults import DelayedReplies
from tests.conftest import wait_for

pytestmark = pytest.mark.timeout(90)


def test_an_open_answered_timeout_returns_its_fill_when_resent_also_after_a_restart(executor, monkeypatch):
    monkeypatch.setattr(routes, "TRADE_TIMEOUT_S", 1.0)  # the owner's answer comes after this
    # The first answer is held 4 s; the Terminal asks again under the same id at 2.5 s.
    executor.sim.delayed = DelayedReplies(count=1, delay_s=4.0, types=frozenset({"order_send"}))
    data = {"symbol": "EURUSD", "side": "buy", "volume": 0.1}
    first = executor.request("OPEN_POSITION", data, id="slow-open")
    assert first["error"]["code"] == "TIMEOUT" and "resending the same id returns it" in first["error"]["message"]

    late = wait_for(lambda: (r := executor.request("OPEN_POSITION", data, id="slow-open"))["ok"] and r, 10,
                    message="the resend to return the late fill")
    [position] = executor.sim.server.positions_get()
    assert late["data"]["ticket"] == position["ticket"] and late["id"] == "slow-open"

    executor.restart()
    executor.wait_connected()
    assert executor.request("OPEN_POSITION", data, id="slow-open") == late
    assert len(executor.sim.server.positions_get()) == 1
