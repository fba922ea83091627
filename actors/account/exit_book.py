"""The Account's exit management, as plain state (pure): which strategy's exit plan applies
to which open position, each position's exit state, and the actions a quote or a closed bar
calls for. The Account turns the actions into orders; this module only decides.

Plans belong to strategies (registered by each strategy actor when it starts), positions to
strategies (by the Account's attribution), so a position keeps being managed while its
strategy is paused, stopped without closing, or restarting.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from actors.account.exits import Action, ExitPlan, PositionState, decide

Quote = tuple[int, float, float]  # time_ms (UTC), bid, ask


class ExitBook:
    def __init__(self) -> None:
        self.plans: dict[str, ExitPlan] = {}
        self.states: dict[int, PositionState] = {}
        self.strategy_of: dict[int, str] = {}

    def register(self, strategy_id: str, settings: Mapping[str, Any]) -> None:
        """The strategy's plan from its settings (ValueError if malformed); an empty plan unmanages."""
        plan = ExitPlan.from_settings(settings)
        if plan.empty:
            self.plans.pop(strategy_id, None)
        else:
            self.plans[strategy_id] = plan

    def sync(self, positions: Mapping[int, Mapping[str, Any]], owner: Callable[[int], str],
             now_ms: int, tz_offset_s: int) -> None:
        """Start states for new managed positions; forget those that closed."""
        for ticket in list(self.states):
            if ticket not in positions:
                del self.states[ticket]
                self.strategy_of.pop(ticket, None)
        for ticket, position in positions.items():
            strategy_id = owner(ticket)
            if ticket not in self.states and strategy_id in self.plans:
                self.states[ticket] = PositionState.open(position, opened_ms=_opened_ms(position, now_ms, tz_offset_s),
                                                         initial_sl=float(position.get("sl") or 0.0) or None)
                self.strategy_of[ticket] = strategy_id

    def on_quote(self, symbol_name: str, quote: Quote, positions: Mapping[int, Mapping[str, Any]],
                 symbol: Mapping[str, Any], tz_offset_s: int) -> list[Action]:
        return self._run([t for t in self.states if positions.get(t, {}).get("symbol") == symbol_name],
                         lambda _: quote, positions, lambda _: symbol, tz_offset_s, bar_closed=False)

    def on_bar(self, strategy_id: str, quote_of: Callable[[str], Quote | None],
               positions: Mapping[int, Mapping[str, Any]], symbol_of: Callable[[str], Mapping[str, Any] | None],
               tz_offset_s: int) -> list[Action]:
        tickets = [t for t, s in self.strategy_of.items() if s == strategy_id and t in positions]
        return self._run(tickets, lambda t: quote_of(positions[t]["symbol"]), positions,
                         lambda t: symbol_of(positions[t]["symbol"]), tz_offset_s, bar_closed=True)

    def failed(self, action: Action) -> None:
        state = self.states.get(action.ticket)
        if state is not None:
            self.states[action.ticket] = state.after_failure(action)

    def _run(self, tickets: list[int], quote_of: Callable[[int], Quote | None],
             positions: Mapping[int, Mapping[str, Any]], symbol_of: Callable[[int], Mapping[str, Any] | None],
             tz_offset_s: int, *, bar_closed: bool) -> list[Action]:
        actions: list[Action] = []
        for ticket in tickets:
            quote, symbol = quote_of(ticket), symbol_of(ticket)
            plan = self.plans.get(self.strategy_of.get(ticket, ""))
            if quote is None or symbol is None or plan is None:
                continue
            server_ms = quote[0] + tz_offset_s * 1000
            done, self.states[ticket] = decide(plan, self.states[ticket], quote, symbol, positions[ticket],
                                               server_ms, bar_closed)
            actions.extend(done)
        return actions


def _opened_ms(position: Mapping[str, Any], now_ms: int, tz_offset_s: int) -> int:
    """The opening on the server's wall clock (the bridge carries UTC); a position we only
    just filled, not yet in a snapshot, has no time and opened now."""
    return int(position.get("time_msc") or now_ms) + tz_offset_s * 1000
