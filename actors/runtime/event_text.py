"""One line of text per event, for the log (every published event at INFO) and `ctl watch`.

Pure: an event's name and its field map (as on the events socket) in, a sentence out that
says what happened, to which account, ticket and strategy, and why; times as UTC dates.
An event this module has no sentence for is shown as its fields, so a new event type is
never hidden.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any


def utc(ms: Any) -> str:
    if not isinstance(ms, (int, float)) or not ms:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000))


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def _stops(e: Mapping[str, Any]) -> str:
    parts = [f"{name} {_num(e[key])}" for name, key in (("SL", "sl"), ("TP", "tp")) if e.get(key)]
    return f", {', '.join(parts)}" if parts else ""


def describe(name: str, e: Mapping[str, Any]) -> str:
    """What the event `name` with fields `e` says, in one line (no time: the caller adds it)."""
    account = f"account {e.get('account')}: " if "account" in e else ""
    who = e.get("strategy_id") or "-"
    match name:
        case "OrderFilled":
            what = "closing order" if e.get("closing") else "order"
            return (f"{account}{who} {what} {e.get('side')} {_num(e.get('volume'))} {e.get('symbol')} filled at "
                    f"{_num(e.get('price'))} (ticket {e.get('ticket')})")
        case "OrderRejected":
            return (f"{account}{who} order on {e.get('symbol')} REJECTED by MT5: retcode {e.get('retcode')} "
                    f"{e.get('message')}")
        case "RiskRejected":
            return (f"{account}{who} {e.get('side')} {e.get('symbol')} REFUSED: "
                    f"{'; '.join(map(str, e.get('reasons') or ())) or 'no reason given'}")
        case "PositionOpened":
            return (f"{account}{who} opened {e.get('side')} {_num(e.get('volume'))} {e.get('symbol')} at "
                    f"{_num(e.get('price_open'))} (ticket {e.get('ticket')}{_stops(e)})")
        case "PositionClosed":
            return (f"{account}{who} closed {_num(e.get('volume'))} lots of ticket {e.get('ticket')} "
                    f"({e.get('side')} {e.get('symbol')}) at {_num(e.get('price_close'))}: profit "
                    f"{e.get('profit', 0):+,.2f}{f' ({r})' if (r := e.get('reason')) else ''}")
        case "ExitActionTaken":
            action = e.get("action")
            if action == "partial_close":
                left = f"{_num(e['remaining'])} lots stay open" if e.get("remaining") else "the rest stays open"
                done = (f"PARTIAL close of {_num(e.get('volume'))} lots of ticket {e.get('ticket')} "
                        f"({left}, same ticket)")
            elif action == "modify_stops":
                done = f"stops of ticket {e.get('ticket')} moved{_stops(e)}"
            else:
                done = f"{action} ticket {e.get('ticket')}"
            return f"{account}{who} exit: {done}: {e.get('reason')}"
        case "PositionModified":
            return f"{account}ticket {e.get('ticket')} now SL {_num(e.get('sl'))}, TP {_num(e.get('tp'))}"
        case "KillSwitchEngaged":
            return (f"KILL SWITCH ENGAGED: {e.get('reason')}; strategies stopped, accounts flattened, trading "
                    f"locked until {utc(e.get('locked_until'))}")
        case "KillSwitchReset":
            return "kill switch reset: trading unlocked"
        case "StrategyStateChanged":
            restarts = f", {e.get('restarts')} restarts" if e.get("restarts") else ""
            return f"strategy {who} is {e.get('state')}: {e.get('reason') or '-'}{restarts}"
        case "LinkStateChanged":
            if e.get("connected"):
                return f"{account}EA link up (EA boot {e.get('boot') or '-'}): reconciling positions and orders"
            return f"{account}EA link DOWN: {e.get('reason') or 'no reason given'}; orders wait until it is back"
        case "Reconciled":
            closed = "closed" if e.get("orphan_policy") == "close" else "adopted as external"
            dup = f", {e.get('duplicates')} DUPLICATED" if e.get("duplicates") else ""
            return (f"{account}reconciled ({e.get('reason')}): {e.get('confirmed')} confirmed, "
                    f"{e.get('filled_while_down')} filled while away, {e.get('never_placed')} never placed, "
                    f"{e.get('orphans')} orphans {closed}, {e.get('phantoms')} closed while away{dup}")
        case "TradingStateChanged":
            until = f", locked until {utc(e.get('locked_until'))}" if e.get("locked_until") else ""
            return f"{account}trading state {e.get('state')}: {e.get('reason') or '-'}{until}"
    fields = ", ".join(f"{k} {utc(v) if k.endswith(('_time', '_at', '_until')) else v}"
                       for k, v in e.items() if k != "time")
    return f"{name}: {fields}"
