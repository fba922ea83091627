"""Several accounts at once, and demo versus live by what the terminal reports."""

from __future__ import annotations

from actors.runtime.confirmation import write_secret
from actors.runtime.totp import totp
from tests.conftest import start_second_terminal


def test_the_account_type_comes_from_the_terminal_and_picks_the_live_limits(executor_factory, tmp_path):
    secret = write_secret(tmp_path / "data")  # a live account confirms OPEN_POSITION with a TOTP code
    executor = executor_factory(sim={"account": "live"})
    executor.wait_connected()
    [account] = executor.status()["accounts"]
    assert account["type"] == "live"
    limits = executor.service.board.get(f"risk:{account['login']}")["limits"]
    assert (limits["max_lot_size"], limits["max_positions"], limits["max_daily_loss_pct"]) == (0.1, 3, 2.0)
    opened = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy",
                                           "sizing": {"method": "fixed", "lots": 0.5}}, otp=totp(secret))
    assert opened["volume"] == 0.1  # a sizing's result is clamped to the live account's max_lot_size


def test_two_terminals_are_two_accounts_addressed_by_login(executor_factory):
    executor = executor_factory()
    first = executor.wait_connected()
    second = start_second_terminal(executor, first + 1)
    try:
        assert [a["login"] for a in executor.status()["accounts"] if a["connected"]] == [first, first + 1]
        on_second = executor.ok("OPEN_POSITION", {"account": first + 1, "symbol": "EURUSD", "side": "sell",
                                                  "volume": 0.2})
        on_default = executor.ok("OPEN_POSITION", {"symbol": "EURUSD", "side": "buy", "volume": 0.1})
        assert [p["ticket"] for p in second.server.positions_get()] == [on_second["ticket"]]
        assert [p["ticket"] for p in executor.sim.server.positions_get()] == [on_default["ticket"]]
        rows = {(p["account"], p["ticket"]) for p in executor.status()["positions"]}
        assert rows == {(first + 1, on_second["ticket"]), (first, on_default["ticket"])}
        # Two brokers' tickets can collide: then the account must be named.
        assert on_second["ticket"] == on_default["ticket"]
        ambiguous = executor.request("CLOSE_POSITION", {"ticket": on_second["ticket"]})
        assert ambiguous["error"]["code"] == "CONFLICT"
        assert ambiguous["error"]["details"]["accounts"] == [first, first + 1]
        closed = executor.ok("CLOSE_POSITION", {"ticket": on_second["ticket"], "account": first + 1})
        assert closed["closed_volume"] == 0.2 and second.server.positions_get() == []
        assert len(executor.sim.server.positions_get()) == 1
        closed = executor.ok("CLOSE_POSITION", {"ticket": on_default["ticket"]})  # unambiguous again
        assert closed["closed_volume"] == 0.1
        unknown = executor.request("OPEN_POSITION", {"account": 424242, "symbol": "EURUSD", "side": "buy"})
        assert unknown["error"]["code"] == "NOT_FOUND"
    finally:
        second.stop()
