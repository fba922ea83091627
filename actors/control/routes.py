"""Where each control command goes, and what the executor answers to STATUS_REQUEST.

`route` turns a validated command into the internal message for the actor that owns it
(the strategy supervisor for strategies, the Supervisor for the kill switch, an Account for trading, a RiskGuard
for limits, the Journal for reports). Commands that need no owner (PING, STATUS_REQUEST)
are answered here from the status board. `live_accounts_concerned` says which live
accounts a risk-increasing command touches: those need the operator's TOTP code. Every
command but the reads is logged at INFO with its arguments, so a manual order is in the log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from loguru import logger

from actors import messages as m
from actors.errors import CONFLICT, NOT_FOUND, TRADING_LOCKED, UNAVAILABLE, ControlError
from actors.runtime.kill_switch import KillGate
from actors.runtime.status_board import StatusBoard
from actors.terminal.server_clock import server_now

TRADE_TIMEOUT_S = 20.0
EMERGENCY_TIMEOUT_S = 90.0
DEFAULT_TIMEOUT_S = 10.0


QUIET_COMMANDS = frozenset({"PING", "STATUS_REQUEST", "PERFORMANCE_REQUEST"})  # reads: polled, not logged


def _brief(data: dict[str, Any]) -> str:
    """A command's arguments for the log: a strategy definition by its name and symbol only."""
    shown = {k: (f"{v.get('name')} on {v.get('symbol')} {v.get('timeframe')}" if k == "strategy" and isinstance(v, dict)
                 else v) for k, v in data.items()}
    return ", ".join(f"{k}={v}" for k, v in shown.items()) or "-"


@dataclass(frozen=True, slots=True)
class Route:
    destination: str
    message: Any
    timeout_s: float = DEFAULT_TIMEOUT_S


# Risk-increasing commands that need a TOTP code on a live account (issue 5). UPDATE_RISK_LIMITS
# needs one only when it loosens, which only the account's RiskGuard can judge.
CONFIRMED_COMMANDS = frozenset({"START_STRATEGY", "RESUME_STRATEGY", "UPDATE_STRATEGY", "OPEN_POSITION",
                                "RESET_KILL_SWITCH"})


def route(type_: str, data: dict[str, Any], corr: str, board: StatusBoard, gate: KillGate,
          otp: str | None = None) -> Route | dict[str, Any]:
    """The owner and message of a command, or the reply data when it needs no owner."""
    if type_ not in QUIET_COMMANDS:  # every command that may change something is in the log at INFO
        logger.info("command {}: {}", type_, _brief(data))
    match type_:
        case "PING":
            return {"pong": time.time_ns() // 1_000_000}
        case "STATUS_REQUEST":
            return status(board)
        case "START_STRATEGY":
            _refuse_if_locked(board, gate)
            account = resolve_account(board, data.get("account"))
            return Route("strategies", m.StartStrategy(corr=corr, strategy_id=data["strategy_id"], account=account,
                                                       definition=data["strategy"]))
        case "STOP_STRATEGY":
            return Route("strategies", m.StopStrategy(corr=corr, strategy_id=data["strategy_id"],
                                                      close_positions=data["close_positions"]), TRADE_TIMEOUT_S)
        case "PAUSE_STRATEGY":
            return Route("strategies", m.PauseStrategy(corr=corr, strategy_id=data["strategy_id"]))
        case "RESUME_STRATEGY":
            _refuse_if_locked(board, gate)
            return Route("strategies", m.ResumeStrategy(corr=corr, strategy_id=data["strategy_id"]))
        case "UPDATE_STRATEGY":
            return Route("strategies", m.UpdateStrategy(corr=corr, strategy_id=data["strategy_id"],
                                                        definition=data["strategy"]))
        case "OPEN_POSITION":
            _refuse_if_locked(board, gate)
            account = resolve_account(board, data.get("account"))
            fields = {k: data.get(k) for k in ("volume", "sizing", "sl", "tp", "sl_pips", "tp_pips")}
            return Route(f"account:{account}", m.OpenPosition(
                corr=corr, account=account, symbol=data["symbol"], side=data["side"],
                comment=data.get("comment") or "", **fields), TRADE_TIMEOUT_S)
        case "CLOSE_POSITION":
            account = account_of_ticket(board, data["ticket"], data.get("account"))
            return Route(f"account:{account}", m.ClosePosition(corr=corr, account=account, ticket=data["ticket"],
                                                               volume=data.get("volume")), TRADE_TIMEOUT_S)
        case "MODIFY_POSITION":
            account = account_of_ticket(board, data["ticket"], data.get("account"))
            return Route(f"account:{account}", m.ModifyPosition(corr=corr, account=account, ticket=data["ticket"],
                                                                sl=data.get("sl"), tp=data.get("tp")), TRADE_TIMEOUT_S)
        case "CLOSE_ALL":
            account = resolve_account(board, data.get("account"))
            return Route(f"account:{account}", m.CloseAll(corr=corr, account=account, symbol=data.get("symbol"),
                                                          strategy_id=data.get("strategy_id")), EMERGENCY_TIMEOUT_S)
        case "UPDATE_RISK_LIMITS":
            account = resolve_account(board, data.get("account"))
            return Route(f"risk:{account}", m.UpdateRiskLimits(corr=corr, account=account, limits=data["limits"],
                                                                      otp=otp))
        case "SET_TRADING_STATE":
            account = resolve_account(board, data.get("account"))
            return Route(f"risk:{account}", m.SetTradingState(corr=corr, account=account, state=data["state"],
                                                              reason=data.get("reason") or "", otp=otp))
        case "EMERGENCY_STOP":
            return Route("supervisor", m.EmergencyStop(corr=corr, reason=data["reason"]), EMERGENCY_TIMEOUT_S)
        case "RESET_KILL_SWITCH":
            return Route("supervisor", m.ResetKillSwitch(corr=corr))
        case "PERFORMANCE_REQUEST":
            return Route("journal", m.PerformanceRequest(
                corr=corr, strategy_id=data.get("strategy_id"), account=data.get("account"),
                include_trades=data["include_trades"]))
    raise AssertionError(f"validated command {type_} has no route")  # the schema and this table disagree


def live_accounts_concerned(type_: str, data: dict[str, Any], board: StatusBoard) -> list[int]:
    """The live accounts whose risk `type_` would raise (empty: no code needed). Called after
    `route`, so an addressed account is known to be connected."""
    if type_ not in CONFIRMED_COMMANDS:
        return []
    live = [a["login"] for a in accounts(board) if is_live(board, a["login"])]
    if type_ in ("START_STRATEGY", "OPEN_POSITION"):
        login = resolve_account(board, data.get("account"))
        return [login] if login in live else []
    if type_ in ("RESUME_STRATEGY", "UPDATE_STRATEGY"):
        rows = [s for s in board.get("strategies", []) if s["strategy_id"] == data["strategy_id"]]
        if rows:
            return [rows[0]["account"]] if rows[0]["account"] in live else []
    # RESET_KILL_SWITCH re-enables every account; an unlisted strategy may be one the board
    # has not shown yet: fail closed on any live account.
    return live


def is_live(board: StatusBoard, login: int) -> bool:
    """Whether the terminal reported a real account, or has not said yet. Either owner may have
    heard it first (the Account forwards the terminal's info to the RiskGuard), so either one
    saying live counts."""
    risk_type = board.get(f"risk:{login}", {}).get("account_type", "unknown")
    # Not yet told by the terminal counts as live: a confirmation too many beats one too few.
    return risk_type in ("live", "unknown") or board.get(f"account:{login}", {}).get("type") == "live"


def accounts(board: StatusBoard) -> list[dict[str, Any]]:
    return [snap for _, snap in sorted(board.with_prefix("account:").items(), key=lambda kv: kv[1]["login"])]


def resolve_account(board: StatusBoard, login: int | None) -> int:
    known = [a["login"] for a in accounts(board)]
    if login is None:
        if not known:
            raise ControlError(UNAVAILABLE, "no MT5 terminal is connected yet; start the EA (or the simulator) and retry")
        return known[0]
    if login not in known:
        raise ControlError(NOT_FOUND, f"account {login} is not connected; connected accounts: {known}",
                           {"accounts": known})
    return login


def account_of_ticket(board: StatusBoard, ticket: int, login: int | None = None) -> int:
    holders = [snap["login"] for snap in accounts(board) if (login is None or snap["login"] == login)
               and any(p["ticket"] == ticket for p in snap["positions"])]
    if not holders:
        raise ControlError(NOT_FOUND, f"no open position with ticket {ticket}"
                           f"{'' if login is None else f' on account {login}'}; STATUS_REQUEST lists the open ones",
                           {"ticket": ticket})
    if len(holders) > 1:
        raise ControlError(CONFLICT, f"ticket {ticket} is open on accounts {holders}; say which with `account`",
                           {"accounts": holders})
    return holders[0]


def _refuse_if_locked(board: StatusBoard, gate: KillGate) -> None:
    kill = board.get("supervisor", {}).get("kill_switch", {})
    if gate.tripped or kill.get("active"):
        raise ControlError(TRADING_LOCKED, f"trading is locked by the kill switch ({kill.get('reason') or gate.reason}); "
                           "RESET_KILL_SWITCH once the lock expires", {"locked_until": kill.get("locked_until")})


def _trading_state(board: StatusBoard, login: int) -> dict[str, Any]:
    """An extension of the STATUS account rows: the RiskGuard's trading state and its lock."""
    risk = board.get(f"risk:{login}", {})
    return {"trading_state": risk.get("trading_state", "ACTIVE"),
            "trading_state_reason": risk.get("trading_state_reason"), "locked_until": risk.get("locked_until")}


def _link_health(board: StatusBoard, login: int) -> dict[str, Any]:
    """An extension of the STATUS account rows: EA messages refused for breaking the protocol."""
    return {"rejected_peer_messages": board.get(f"terminal:{login}", {}).get("rejected_peer_messages", 0)}


def _readiness(board: StatusBoard, login: int) -> dict[str, Any]:
    """An extension of the STATUS account rows: `connected` is the link; `ready` says the
    handshake and reconciliation are done too (orders are taken), `reconciling` what is still
    awaited from the terminal (asked again with backoff until it answers), `reconciliation` the
    last one's counts (the `Reconciled` event: reason, confirmed, filled while down, never
    placed, orphans and what was done with them, phantoms, when)."""
    account = board.get(f"account:{login}", {})
    reconciling = list(board.get(f"terminal:{login}", {}).get("reconciling", []))
    if account.get("reconciling"):  # the account's own step: the journal's side or the deal history
        reconciling.append(account["reconciling"])
    return {"ready": bool(account.get("ready")), "reconciling": reconciling,
            "reconciliation": account.get("reconciliation") or None}


def _operator_view(board: StatusBoard, login: int) -> dict[str, Any]:
    """An extension of the STATUS account rows for `ctl top`, `ctl limits` and `run.py doctor`:
    the limits in effect, and the terminal's server clock minus this machine's (ms)."""
    server_ms = server_now(board.get(f"clock:{login}"), time.monotonic())
    return {"limits": board.get(f"risk:{login}", {}).get("limits"),
            "clock_skew_ms": None if server_ms is None else server_ms - time.time_ns() // 1_000_000}


def _last_signal(board: StatusBoard, strategy_id: str) -> dict[str, Any]:
    """An extension of the STATUS strategy rows: the last bar evaluated and the last signal acted on."""
    snap = board.get(f"strategy:{strategy_id}", {})
    return {"last_bar": snap.get("last_bar"), "last_signal": snap.get("last_signal")}


def status(board: StatusBoard) -> dict[str, Any]:
    sup = board.get("supervisor", {})
    accts = accounts(board)
    return {
        "state": sup.get("state", "starting"),
        "uptime_s": round(time.monotonic() - sup.get("started_monotonic", time.monotonic()), 1),
        "kill_switch": sup.get("kill_switch", {"active": False, "reason": None, "locked_until": None}),
        "accounts": [{**{k: a[k] for k in ("login", "type", "currency", "balance", "equity", "margin",
                                           "margin_free", "connected")}, **_trading_state(board, a["login"]),
                      **_link_health(board, a["login"]), **_readiness(board, a["login"]),
                      **_operator_view(board, a["login"])} for a in accts],
        "positions": [p for a in accts for p in a["positions"]],
        "orders": [o for a in accts for o in a["orders"]],
        "strategies": [{**row, **_last_signal(board, row["strategy_id"])} for row in board.get("strategies", [])],
        "mailboxes": dict(sup.get("mailboxes", {})),  # messages waiting per actor (actors/runtime/watch.py)
    }
