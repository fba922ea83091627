"""An account's trading state through the control socket: REDUCING, an operator's HALT, the
way back to ACTIVE after a breach's lock, and a breach that halts one account of two."""

from __future__ import annotations

import time

from actors.runtime.confirmation import write_secret
from actors.runtime.totp import totp
from tests.conftest import start_second_terminal, wait_for


def reasons(reply: dict) -> list[str]:
    assert reply["error"]["code"] == "RISK_REJECTED", reply
    return reply["error"]["details"]["reasons"]


def test_reducing_accepts_only_closing_orders_until_active_again(executor):
    held = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.2})
    state = executor.ok("SET_TRADING_STATE", {"state": "REDUCING", "reason": "NFP week"})
    assert (state["trading_state"], state["trading_state_reason"], state["locked_until"]) == ("REDUCING", "NFP week",
                                                                                             None)
    assert executor.status()["accounts"][0]["trading_state"] == "REDUCING"
    refused = executor.request("OPEN_POSITION", {"symbol": "GBPUSD", "side": "sell", "volume": 0.1})
    assert reasons(refused) == ["account is REDUCING (NFP week): only closing orders are accepted"]
    closed = executor.ok("CLOSE_POSITION", {"ticket": held["ticket"], "volume": 0.1})  # reducing is allowed
    assert closed["closed_volume"] == 0.1
    assert executor.ok("SET_TRADING_STATE", {"state": "ACTIVE"})["trading_state"] == "ACTIVE"
    executor.ok("OPEN_POSITION", {"symbol": "GBPUSD", "side": "sell", "volume": 0.1})
    assert len(executor.sim.server.positions_get()) == 2


def test_an_operator_halt_keeps_positions_and_survives_a_restart(executor):
    held = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
    executor.ok("SET_TRADING_STATE", {"state": "HALTED", "reason": "broker maintenance"})
    assert [p["ticket"] for p in executor.sim.server.positions_get()] == [held["ticket"]]
    executor.restart()
    executor.wait_connected()
    [account] = executor.status()["accounts"]
    assert (account["trading_state"], account["trading_state_reason"]) == ("HALTED", "broker maintenance")
    assert reasons(executor.request("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})) == [
        "account is HALTED (broker maintenance): no new positions"]
    executor.ok("SET_TRADING_STATE", {"state": "ACTIVE"})  # no lock on an operator's halt
    executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})


def test_after_the_lock_a_breach_still_holding_keeps_the_account_halted(executor_factory):
    executor = executor_factory(kill_lock_s=1.0)
    executor.wait_connected()
    # A hedge of two opposite lots loses both spreads whichever way the price walks, so the
    # day's loss is certain to outlast the lock (one lot alone could close at a profit).
    executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 1.0})
    executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "sell", "volume": 1.0})
    executor.ok("UPDATE_RISK_LIMITS", {"limits": {"max_daily_loss_pct": 0.01}})
    wait_for(lambda: executor.status()["accounts"][0]["trading_state"] == "HALTED", timeout=15,
             message="the breach to halt the account")
    wait_for(lambda: executor.sim.server.positions_get() == [], message="the account to be flat")
    # The lock (1 s here) has run out, but the day's loss is still beyond the limit.
    still = wait_for(lambda: (r := executor.request("SET_TRADING_STATE", {"state": "ACTIVE"}))["error"]["code"]
                     != "TRADING_LOCKED" and r, message="the lock to expire")
    assert any(r.startswith("daily loss") for r in reasons(still))
    executor.ok("UPDATE_RISK_LIMITS", {"limits": {"max_daily_loss_pct": 5.0}})
    assert executor.ok("SET_TRADING_STATE", {"state": "ACTIVE"})["trading_state"] == "ACTIVE"
    executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})


def test_a_breach_halts_its_own_account_and_the_other_trades_on(executor_factory):
    executor = executor_factory()
    first = executor.wait_connected()
    second = start_second_terminal(executor, first + 1)
    try:
        executor.ok("OPEN_POSITION", {"account": first + 1, "symbol": "EURUSD", "side": "sell", "volume": 0.1})
        executor.ok("UPDATE_RISK_LIMITS", {"limits": {"max_daily_loss_pct": 0.01}})  # the first account only
        executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 1.0})
        wait_for(lambda: executor.sim.server.positions_get() == [], timeout=15, message="the first account to be flat")
        states = {a["login"]: a["trading_state"] for a in executor.status()["accounts"]}
        assert states == {first: "HALTED", first + 1: "ACTIVE"}
        # Halted under the breach's lock: a new order is TRADING_LOCKED until the lock's end, not a risk refusal.
        locked = executor.request("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
        assert locked["error"]["code"] == "TRADING_LOCKED", locked
        until = next(a["locked_until"] for a in executor.status()["accounts"] if a["login"] == first)
        assert locked["error"]["details"]["locked_until"] == until > time.time() * 1000
        assert len(second.server.positions_get()) == 1
        executor.ok("OPEN_POSITION", {"account": first + 1, "symbol": "GBPUSD", "side": "buy", "volume": 0.1})
        assert executor.status()["kill_switch"]["active"] is False
    finally:
        second.stop()


def test_on_a_live_account_reducing_is_free_and_active_again_needs_a_code(executor_factory, tmp_path):
    secret = write_secret(tmp_path / "data")
    executor = executor_factory(sim={"account": "live"})
    executor.wait_connected()
    assert executor.ok("SET_TRADING_STATE", {"state": "REDUCING"})["trading_state"] == "REDUCING"
    unconfirmed = executor.request("SET_TRADING_STATE", {"state": "ACTIVE"})
    assert unconfirmed["error"]["code"] == "CONFIRMATION_REQUIRED"
    assert executor.status()["accounts"][0]["trading_state"] == "REDUCING"
    assert executor.ok("SET_TRADING_STATE", {"state": "ACTIVE"}, otp=totp(secret))["trading_state"] == "ACTIVE"
