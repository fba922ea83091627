"""The pure rules of an account's trading state."""

import pytest

from actors.risk.trading_state import TradingState, TransitionRefused, on_breach, on_request

NOW = 1_000_000


def refused(current: TradingState, wanted: str, **kw) -> TransitionRefused:
    with pytest.raises(TransitionRefused) as caught:
        on_request(current, wanted, "", NOW, **{"breaches": [], "kill_switch_active": False, **kw})
    return caught.value


def test_a_breach_halts_and_locks_once() -> None:
    halted = on_breach(TradingState(), ["daily loss 3%"], NOW, lock_s=3600)
    assert halted == TradingState(state="HALTED", reason="daily loss 3%", by="breach", locked_until=NOW + 3_600_000)
    assert on_breach(halted, ["drawdown 7%"], NOW + 1, lock_s=3600) is None  # one flatten, one lock
    assert on_breach(TradingState(), [], NOW, lock_s=3600) is None
    assert on_breach(TradingState(state="REDUCING"), ["x"], NOW, lock_s=1).state == "HALTED"


def test_tightening_is_always_possible_and_keeps_no_lock() -> None:
    reducing = on_request(TradingState(), "REDUCING", "news", NOW, breaches=[], kill_switch_active=True)
    assert (reducing.state, reducing.reason, reducing.locked_until) == ("REDUCING", "news", 0)
    halted = on_request(reducing, "HALTED", "", NOW, breaches=[], kill_switch_active=False)
    assert (halted.state, halted.reason, halted.by) == ("HALTED", "set by operator", "operator")


def test_active_is_refused_during_a_lock_under_the_kill_switch_and_while_breached() -> None:
    locked = TradingState(state="HALTED", reason="daily loss", by="breach", locked_until=NOW + 1)
    assert refused(locked, "ACTIVE").code == "TRADING_LOCKED"
    assert refused(locked, "REDUCING").details == {"locked_until": NOW + 1}
    # An operator may still halt a locked account (the lock stays).
    assert on_request(locked, "HALTED", "x", NOW, breaches=[], kill_switch_active=False).locked_until == NOW + 1
    expired = TradingState(state="HALTED", reason="daily loss", by="breach", locked_until=NOW)
    assert refused(expired, "ACTIVE", kill_switch_active=True).code == "TRADING_LOCKED"
    still = refused(expired, "ACTIVE", breaches=["daily loss 3%"])
    assert (still.code, still.details) == ("RISK_REJECTED", {"reasons": ["daily loss 3%"]})
    assert on_request(expired, "ACTIVE", "", NOW, breaches=[], kill_switch_active=False) == TradingState()


def test_unknown_states_and_journal_rows() -> None:
    assert refused(TradingState(), "PAUSED").code == "BAD_REQUEST"
    state = TradingState(state="REDUCING", reason="r", by="operator", locked_until=0)
    assert TradingState.from_row(state.as_row()) == state
    assert TradingState.from_row(None) == TradingState.from_row({"state": "bogus"}) == TradingState()
