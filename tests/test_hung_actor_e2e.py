"""A hung actor is found by ping and replaced (RELIABILITY.md: 3 missed pings = hung), with
those started after it (rest_for_one); STATUS shows every actor's mailbox depth."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.timeout(60)


def test_a_hung_actor_is_replaced_after_three_unanswered_pings(executor_factory):
    executor = executor_factory(ping_every_s=0.2)
    executor.wait_connected()
    directory = executor.service.directory
    hung = directory.get("backups")
    release = threading.Event()
    hung.proxy()._actor.hang = lambda: release.wait(30)
    hung.proxy().hang()  # runs in the actor's own thread: from now on it answers nothing
    try:
        replaced = wait_for(lambda: (ref := directory.get("backups")) is not None and ref is not hung and ref,
                            timeout=15, message="the hung actor to be replaced")
        assert replaced.is_alive() and executor.status()["state"] == "running"
        mailboxes = executor.status()["mailboxes"]
        assert {"journal", "gateway", "market_data", "control", "strategies", "backups"} <= set(mailboxes)
        assert all(isinstance(depth, int) and depth >= 0 for depth in mailboxes.values())
    finally:
        release.set()
    wait_for(lambda: not hung.is_alive(), timeout=10, message="the old thread, woken, to find its stop")
    executor.ok("PING")
