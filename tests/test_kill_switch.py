"""The kill switch state and the kill gate (actors/runtime/kill_switch.py)."""

from __future__ import annotations

import dataclasses

import pytest

from actors.runtime.kill_switch import LOCK_SECONDS, KillGate, KillSwitchState

NOW_MS = 1_700_000_000_000


def test_starts_inactive():
    state = KillSwitchState()
    assert not state.active
    assert state.reason == "" and state.engaged_at == 0 and state.locked_until == 0
    assert state.can_reset(NOW_MS)
    assert state.as_status() == {"active": False, "reason": None, "locked_until": None}


def test_engage_locks_for_an_hour_by_default():
    assert LOCK_SECONDS == 3600.0
    state = KillSwitchState().engage("operator", NOW_MS)
    assert state.active
    assert state.reason == "operator"
    assert state.engaged_at == NOW_MS
    assert state.locked_until == NOW_MS + 3_600_000


def test_engage_with_a_custom_lock():
    state = KillSwitchState().engage("daily loss", NOW_MS, lock_seconds=1.5)
    assert state.locked_until == NOW_MS + 1_500
    assert isinstance(state.locked_until, int)


def test_engage_does_not_mutate_the_old_state():
    before = KillSwitchState()
    after = before.engage("x", NOW_MS)
    assert not before.active and after is not before
    with pytest.raises(dataclasses.FrozenInstanceError):
        after.active = False  # type: ignore[misc]


def test_engaging_twice_keeps_the_first_reason_and_lock():
    first = KillSwitchState().engage("operator", NOW_MS)
    second = first.engage("max drawdown", NOW_MS + 600_000, lock_seconds=7200)
    assert second == first
    assert second.reason == "operator"
    assert second.engaged_at == NOW_MS
    assert second.locked_until == NOW_MS + 3_600_000


def test_engaging_again_never_shortens_the_lock():
    first = KillSwitchState().engage("operator", NOW_MS)
    assert first.engage("again", NOW_MS + 1, lock_seconds=1).locked_until == first.locked_until


def test_can_reset_before_and_after_the_lock():
    state = KillSwitchState().engage("operator", NOW_MS)
    assert not state.can_reset(NOW_MS)
    assert not state.can_reset(state.locked_until - 1)
    assert state.can_reset(state.locked_until)
    assert state.can_reset(state.locked_until + 1)


def test_as_status_when_active():
    state = KillSwitchState().engage("operator", NOW_MS)
    assert state.as_status() == {"active": True, "reason": "operator", "locked_until": NOW_MS + 3_600_000}


def test_a_reset_state_can_engage_anew():
    state = KillSwitchState().engage("first", NOW_MS)
    reset = KillSwitchState()  # what the Supervisor keeps after RESET_KILL_SWITCH
    again = reset.engage("second", state.locked_until + 5)
    assert again.reason == "second"
    assert again.locked_until == state.locked_until + 5 + 3_600_000


# ------------------------------------------------------------------ KillGate ---
def test_gate_starts_open():
    gate = KillGate()
    assert not gate.tripped
    assert gate.reason == ""


def test_gate_trip_and_clear():
    gate = KillGate()
    gate.trip("EMERGENCY_STOP")
    assert gate.tripped
    assert gate.reason == "EMERGENCY_STOP"
    gate.clear()
    assert not gate.tripped
    assert gate.reason == ""


def test_gate_keeps_the_first_reason():
    gate = KillGate()
    gate.trip("first")
    gate.trip("second")
    assert gate.tripped and gate.reason == "first"


def test_gate_after_clear_takes_a_new_reason():
    gate = KillGate()
    gate.trip("first")
    gate.clear()
    gate.trip("second")
    assert gate.reason == "second"
