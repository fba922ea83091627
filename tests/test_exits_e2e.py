"""Smart exits managed by the Account against the simulated terminal."""

from __future__ import annotations

from tests.conftest import wait_for

ALWAYS_LONG = {"name": "always-long", "symbol": "EURUSD", "timeframe": "M1",
               "rules": {"entry_long": "close > 0"}}


def strategy(settings):
    return {**ALWAYS_LONG, "settings": {"sizing": {"method": "fixed", "lots": 0.2}, "max_positions": 1, **settings}}


def test_a_trailing_stop_follows_a_rising_price_and_never_moves_back(executor):
    executor.ok("START_STRATEGY", {"strategy_id": "trail", "strategy": strategy({
        "stop_loss": {"pips": 100}, "trailing_stop": {"pips": 3, "start_pips": 0}})})
    ticket = wait_for(lambda: next((p["ticket"] for p in executor.status()["positions"]
                                    if p["strategy_id"] == "trail"), None), timeout=20, message="the entry")
    seen: list[float] = []

    def trailed_twice() -> bool:
        positions = executor.sim.server.positions_get(ticket=ticket)
        if positions and (not seen or positions[0]["sl"] != seen[-1]):
            seen.append(positions[0]["sl"])
        return len(set(seen)) >= 3 or not positions
    wait_for(trailed_twice, timeout=30, interval=0.01, message="the stop to trail twice")
    assert seen == sorted(seen), f"the stop loosened: {seen}"  # a long's stop only ever rises
    assert len(set(seen)) >= 2


def test_a_partial_exit_closes_half_and_keeps_the_ticket(executor):
    executor.ok("START_STRATEGY", {"strategy_id": "part", "strategy": strategy({
        "stop_loss": {"pips": 200}, "partial_exits": [{"at_pips": 1, "close_pct": 50}]})})
    ticket = wait_for(lambda: next((p["ticket"] for p in executor.status()["positions"]
                                    if p["strategy_id"] == "part"), None), timeout=20, message="the entry")
    halved = wait_for(lambda: [p for p in executor.sim.server.positions_get(ticket=ticket) if p["volume"] == 0.1],
                      timeout=30, message="the partial exit")
    assert halved[0]["ticket"] == ticket  # MT5 keeps the ticket on a partial close
    deals = executor.sim.server.history_deals_get(position=ticket)
    assert [(d["entry"], d["volume"]) for d in deals] == [(0, 0.2), (1, 0.1)]
