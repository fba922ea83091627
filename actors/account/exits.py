"""Smart exits (pure): what to do with one open position on each quote or closed bar.

This module owns the exit manager's decisions for the strategy `settings` `partial_exits`,
`breakeven`, `trailing_stop` and `time_exit` (CONTROL_API.md; shapes checked by
control_schema's validators). `stop_loss`/`take_profit` are set at entry by the Account and
the strategy's own exit rules are evaluated by the strategy; neither is handled here.

    plan = ExitPlan.from_settings(settings)                       # ValueError if malformed
    state = PositionState.open(position, opened_ms=server_ms)     # once per new position
    actions, state = decide(plan, state, (t, bid, ask), symbol, position, server_ms, bar_closed)

Each call returns the actions to send now (in order) and the state to keep for the next.
The state remembers what was already asked for, so a repeated quote, or a quote that
arrives before the terminal's next snapshot, asks for nothing twice.

Rules and the choices made:
* Longs are judged on the bid, shorts on the ask; pips via `sizing.pip_size`.
* Order on a tick: a due time exit closes everything and nothing else is done; then the
  partial exits in list order; then at most one ModifyStops, the tightest valid SL wanted
  by breakeven (its trigger, or a done partial with `move_to_breakeven`) and the trailing
  stop. TP is passed through unchanged.
* Partials fire on the current profit (a market close realises the current price); the
  breakeven trigger and trailing activation on the best price seen (once earned, kept).
  `at_r` uses R = |entry - initial SL|; a position without an initial SL never reaches R.
* Partial volume = `close_pct` of the ORIGINAL volume rounded down to `volume_step`. Below
  `volume_min`: nothing can be closed, the partial is skipped (counted done). If it would
  leave less than `volume_min` open, the whole position is closed instead (ClosePosition).
* Stops level: SL at least `trade_stops_level` points (and at least one point) from the
  price, on the loss side. A trailing SL beyond that is clamped to the nearest allowed
  price; a breakeven SL (a fixed target) waits for a tick where it is allowed as is. When
  the position's own TP is nearer than the stops level, no modification is sent (MT5
  re-checks both stops and would refuse it).
* Freeze level: while the price is within `trade_freeze_level` points of the position's SL
  or TP, MT5 refuses modifications and closes (10029), so nothing is sent; the pending
  partials, stop moves and time exit are retried on a later tick.
* SL moves never loosen (long: only up, short: only down), never reach the price, and a
  trailing move must improve the SL by `step_pips` (default: one point).
* Time exit: `max_bars` closed bars since entry (each call with `bar_closed=True` counts
  one), or the first `at_time` HH:MM after the opening. `server_time_ms` and `opened_ms`
  are the broker server's wall clock: UTC ms + tz_offset_s * 1000.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from actors.control import schema as cs
from actors.schema import ListOf, show
from actors.account.sizing import pip_size
from bridge import mt5

DAY_MS = 86_400_000
PIPS_EPS = 1e-6  # float noise in profit measured in pips
PRICE_EPS = 1e-3  # in points: prices on the symbol's grid compare within this


# ---------------------------------------------------------------------- the plan ---
@dataclass(frozen=True, slots=True, kw_only=True)
class PartialExit:
    close_pct: float  # of the original volume
    at_pips: float | None = None
    at_r: float | None = None  # multiples of the initial stop distance
    move_to_breakeven: bool = False

    def describe(self) -> str:
        return f"{self.at_pips:g} pips" if self.at_pips is not None else f"{self.at_r:g} R"


@dataclass(frozen=True, slots=True, kw_only=True)
class Breakeven:
    trigger_pips: float
    offset_pips: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class TrailingStop:
    pips: float  # trail distance behind the best price
    start_pips: float = 0.0  # profit (best price) at which trailing starts
    step_pips: float = 0.0  # minimum SL improvement; 0 = one point


@dataclass(frozen=True, slots=True, kw_only=True)
class TimeExit:
    max_bars: int | None = None
    at_time: str | None = None  # "HH:MM", server time

    @property
    def minute_of_day(self) -> int | None:
        if self.at_time is None:
            return None
        hours, minutes = self.at_time.split(":")
        return int(hours) * 60 + int(minutes)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExitPlan:
    partial_exits: tuple[PartialExit, ...] = ()
    breakeven: Breakeven | None = None
    trailing_stop: TrailingStop | None = None
    time_exit: TimeExit | None = None

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> ExitPlan:
        """The plan in a strategy's `settings`; other keys are ignored. ValueError names the field."""
        if settings is None:
            return cls()
        if not isinstance(settings, Mapping):
            raise ValueError(f"settings must be a map, got {show(settings)}")

        def check(key: str, validator: Any) -> dict[str, Any] | None:
            return None if settings.get(key) is None else validator(settings[key], f"settings.{key}")

        partials = check("partial_exits", ListOf(cs.PARTIAL_EXIT, max_items=5)) or []
        breakeven = check("breakeven", cs.BREAKEVEN)
        trailing = check("trailing_stop", cs.TRAILING_STOP)
        time_exit = check("time_exit", cs.TIME_EXIT)
        return cls(partial_exits=tuple(PartialExit(**p) for p in partials),
                   breakeven=Breakeven(**breakeven) if breakeven else None,
                   trailing_stop=TrailingStop(**trailing) if trailing else None,
                   time_exit=TimeExit(**time_exit) if time_exit else None)

    @property
    def empty(self) -> bool:
        return not (self.partial_exits or self.breakeven or self.trailing_stop or self.time_exit)


# ------------------------------------------------------------------- the actions ---
@dataclass(frozen=True, slots=True, kw_only=True)
class PartialClose:
    """Close `volume` lots of the position; MT5 keeps the ticket for the rest."""
    ticket: int
    volume: float
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ModifyStops:
    ticket: int
    sl: float
    tp: float  # the position's TP, unchanged
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ClosePosition:
    ticket: int
    reason: str


Action = PartialClose | ModifyStops | ClosePosition


# ------------------------------------------------------------ per-position state ---
@dataclass(frozen=True, slots=True, kw_only=True)
class PositionState:
    ticket: int
    side: str  # "buy" | "sell"
    entry: float
    original_volume: float
    initial_sl: float  # 0.0: none (R undefined)
    opened_ms: int  # server clock
    best_price: float  # highest bid (long) / lowest ask (short) seen
    bars_held: int = 0
    partials_done: tuple[int, ...] = ()  # indexes into plan.partial_exits
    volume_closed: float = 0.0  # by the partials asked for
    breakeven_armed: bool = False  # a partial with move_to_breakeven is done
    breakeven_done: bool = False
    sl_requested: float = 0.0  # asked for, not yet seen on the position
    closing: bool = False  # a ClosePosition was asked for: nothing more to do

    @classmethod
    def open(cls, position: Mapping[str, Any], *, opened_ms: int, initial_sl: float | None = None,
             original_volume: float | None = None) -> PositionState:
        """The state of a position first seen; the overrides restore what a restart forgot."""
        entry = float(position["price_open"])
        return cls(ticket=int(position["ticket"]),
                   side="buy" if int(position["type"]) == mt5.POSITION_TYPE_BUY else "sell",
                   entry=entry, opened_ms=int(opened_ms), best_price=entry,
                   original_volume=float(position["volume"] if original_volume is None else original_volume),
                   initial_sl=float(position.get("sl", 0.0) if initial_sl is None else initial_sl))

    @property
    def long(self) -> bool:
        return self.side == "buy"

    def seen(self, price: float, bar_closed: bool = False) -> PositionState:
        """After a quote at `price` (bid for longs, ask for shorts) and maybe a closed bar."""
        best = max(self.best_price, price) if self.long else min(self.best_price, price)
        return replace(self, best_price=best, bars_held=self.bars_held + int(bar_closed))

    def after_failure(self, action: Action) -> PositionState:
        """Forget an action MT5 refused, so a later tick asks again. A refused PartialClose
        stays done: retrying that close is the sender's job."""
        if isinstance(action, ModifyStops):
            return replace(self, sl_requested=0.0, breakeven_done=False)
        if isinstance(action, ClosePosition):
            return replace(self, closing=False)
        return self


# -------------------------------------------------------------------- decisions ---
@dataclass(frozen=True, slots=True)
class _Market:
    """The prices and symbol properties one decision needs, oriented by the position's side."""
    sign: float  # +1 long, -1 short: sign * (a - b) > 0 means a is the better price
    price: float  # bid for longs, ask for shorts
    pip: float
    point: float
    digits: int
    stops: float  # price distances
    freeze: float

    def tighter(self, a: float, b: float) -> bool:
        """SL `a` protects more than SL `b` (0 = none)."""
        return not b or self.sign * (a - b) > self.point * PRICE_EPS

    def sl_limit(self) -> float:
        """The tightest SL the stops level allows now."""
        return round(self.price - self.sign * max(self.stops, self.point), self.digits)

    def sl_allowed(self, sl: float) -> bool:
        return self.sign * (self.sl_limit() - sl) >= -self.point * PRICE_EPS

    def tp_allowed(self, tp: float) -> bool:
        return not tp or self.sign * (tp - self.price) >= max(self.stops, self.point) - self.point * PRICE_EPS

    def frozen(self, sl: float, tp: float) -> bool:
        if self.freeze <= 0:
            return False
        near = self.freeze + self.point * PRICE_EPS
        return bool((sl and self.sign * (self.price - sl) <= near) or (tp and self.sign * (tp - self.price) <= near))


def decide(plan: ExitPlan, state: PositionState, quote: tuple[int, float, float], symbol: Mapping[str, Any],
           position: Mapping[str, Any], server_time_ms: int,
           bar_closed: bool = False) -> tuple[list[Action], PositionState]:
    """The actions for one position on one quote (and maybe a closed bar), and its new state."""
    if "ticket" in position and int(position["ticket"]) != state.ticket:
        raise ValueError(f"position {position['ticket']} was given the exit state of position {state.ticket}")
    _, bid, ask = quote
    if state.closing or not (bid > 0 and ask > 0):
        return [], state
    point = float(symbol["point"])
    mk = _Market(sign=1.0 if state.long else -1.0, price=float(bid if state.long else ask),
                 pip=pip_size(symbol), point=point, digits=int(symbol["digits"]),
                 stops=float(symbol.get("trade_stops_level", 0)) * point,
                 freeze=float(symbol.get("trade_freeze_level", 0)) * point)
    state = state.seen(mk.price, bar_closed)
    sl, tp = float(position.get("sl") or 0.0), float(position.get("tp") or 0.0)
    if state.sl_requested and not mk.tighter(state.sl_requested, sl):
        state = replace(state, sl_requested=0.0)  # the terminal shows it now
    frozen = mk.frozen(sl, tp)

    why = _time_exit_due(plan.time_exit, state, server_time_ms)
    if why:
        if frozen:
            return [], state
        return [ClosePosition(ticket=state.ticket, reason=why)], replace(state, closing=True)
    actions, state = _partials(plan, state, mk, symbol, float(position["volume"]), frozen)
    if state.closing:
        return actions, state
    modify, state = _stops(plan, state, mk, sl, tp, frozen)
    if modify is not None:
        actions.append(modify)
    return actions, state


def _time_exit_due(rule: TimeExit | None, state: PositionState, server_time_ms: int) -> str:
    if rule is None:
        return ""
    if rule.max_bars is not None and state.bars_held >= rule.max_bars:
        return f"time exit: {state.bars_held} bars held (max_bars {rule.max_bars})"
    minute = rule.minute_of_day
    if minute is not None:
        due = state.opened_ms - state.opened_ms % DAY_MS + minute * 60_000
        if due <= state.opened_ms:
            due += DAY_MS  # the first HH:MM after the opening
        if server_time_ms >= due:
            return f"time exit: at_time {rule.at_time}"
    return ""


def _partials(plan: ExitPlan, state: PositionState, mk: _Market, symbol: Mapping[str, Any], volume: float,
              frozen: bool) -> tuple[list[Action], PositionState]:
    actions: list[Action] = []
    profit = mk.sign * (mk.price - state.entry)
    risk = abs(state.entry - state.initial_sl) if state.initial_sl else 0.0
    step, minimum = float(symbol["volume_step"]), float(symbol["volume_min"])
    remaining = min(volume, state.original_volume - state.volume_closed)
    for index, rule in enumerate(plan.partial_exits):
        if index in state.partials_done:
            continue
        if rule.at_pips is not None:
            reached = profit / mk.pip >= rule.at_pips - PIPS_EPS
        else:
            reached = risk > 0 and profit >= rule.at_r * risk - mk.point * PRICE_EPS
        if not reached:
            continue
        if frozen:
            break  # MT5 would refuse the close: try again on a later tick
        state = replace(state, partials_done=state.partials_done + (index,),
                        breakeven_armed=state.breakeven_armed or rule.move_to_breakeven)
        lots = _floor_to_step(state.original_volume * rule.close_pct / 100.0, step)
        reason = f"partial exit {index + 1} at {rule.describe()}: {rule.close_pct:g}% of {state.original_volume:g} lots"
        if lots < minimum - 1e-9:
            continue  # smaller than the symbol's minimum lot: nothing to close
        if remaining - lots < minimum - 1e-9:
            actions.append(ClosePosition(ticket=state.ticket, reason=f"{reason}; the rest would be below the "
                                                                     f"minimum of {minimum:g} lots, closing all"))
            return actions, replace(state, closing=True)
        actions.append(PartialClose(ticket=state.ticket, volume=lots, reason=reason))
        remaining = round(remaining - lots, 8)
        state = replace(state, volume_closed=round(state.volume_closed + lots, 8))
    return actions, state


def _stops(plan: ExitPlan, state: PositionState, mk: _Market, sl: float, tp: float,
           frozen: bool) -> tuple[ModifyStops | None, PositionState]:
    current = state.sl_requested or sl  # decide() dropped a request the position already shows
    best_pips = mk.sign * (state.best_price - state.entry) / mk.pip
    candidates: list[tuple[float, str]] = []
    breakeven_target = None
    be = plan.breakeven
    if not state.breakeven_done and (state.breakeven_armed or (be and best_pips >= be.trigger_pips - PIPS_EPS)):
        offset = be.offset_pips if be else 0.0
        breakeven_target = round(state.entry + mk.sign * offset * mk.pip, mk.digits)
        if not mk.tighter(breakeven_target, current):
            state = replace(state, breakeven_done=True)  # the SL is already there or beyond
        elif mk.sl_allowed(breakeven_target):
            candidates.append((breakeven_target, f"breakeven{f' + {offset:g} pips' if offset else ''}"))
    trail = plan.trailing_stop
    if trail and best_pips >= trail.start_pips - PIPS_EPS:
        wanted = round(state.best_price - mk.sign * trail.pips * mk.pip, mk.digits)
        limit = mk.sl_limit()
        clamped = limit if mk.tighter(wanted, limit) else wanted
        need = trail.step_pips * mk.pip if trail.step_pips else mk.point
        if not current or mk.sign * (clamped - current) >= need - mk.point * PRICE_EPS:
            note = "" if clamped == wanted else f" (clamped to the stops level from {wanted:.{mk.digits}f})"
            candidates.append((clamped, f"trailing stop {trail.pips:g} pips{note}"))
    if not candidates or frozen or not mk.tp_allowed(tp):
        return None, state
    new_sl, reason = max(candidates, key=lambda c: mk.sign * c[0])  # the first of equals wins
    if breakeven_target is not None and not mk.tighter(breakeven_target, new_sl):
        state = replace(state, breakeven_done=True)
    return ModifyStops(ticket=state.ticket, sl=new_sl, tp=tp, reason=reason), replace(state, sl_requested=new_sl)


def _floor_to_step(volume: float, step: float) -> float:
    # The epsilon keeps 0.3 / 0.01 = 29.999999 from rounding a valid 0.3 down to 0.29.
    return round(math.floor(volume / step + 1e-9) * step, 8)
