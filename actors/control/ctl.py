"""`run.py ctl`: every control command from the shell, and readable answers.

Each subcommand builds one CONTROL_API request; the reply is printed as tables (or raw with
`--json`). Exit codes: 0 ok, 1 the executor answered with an error or did not answer,
2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

COMMANDS = {
    "status": "STATUS_REQUEST", "ping": "PING", "start": "START_STRATEGY", "stop": "STOP_STRATEGY",
    "pause": "PAUSE_STRATEGY", "resume": "RESUME_STRATEGY", "update": "UPDATE_STRATEGY",
    "open": "OPEN_POSITION", "close": "CLOSE_POSITION", "modify": "MODIFY_POSITION", "close-all": "CLOSE_ALL",
    "limits": "UPDATE_RISK_LIMITS", "emergency-stop": "EMERGENCY_STOP", "reset-kill-switch": "RESET_KILL_SWITCH",
    "performance": "PERFORMANCE_REQUEST", "trading-state": "SET_TRADING_STATE",
}


class UsageError(ValueError):
    """Bad command-line input: exit code 2."""


def add_parser(sub: Any) -> None:
    ctl = sub.add_parser("ctl", help="send a control command to a running executor")
    ctl.add_argument("--control", default="tcp://127.0.0.1:5555", help="the executor's control endpoint")
    ctl.add_argument("--data-dir", type=Path, default=Path("data"), help="the executor's data dir (for its key)")
    ctl.add_argument("--key-file", type=Path, help="sign with this key (a line KEY_ID:SECRET, as `run.py keys add` "
                     "prints) instead of the data dir's control.key; or set EXECUTOR_CONTROL_KEY")
    ctl.add_argument("--json", action="store_true", help="print the raw reply as JSON")
    ctl.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the reply")
    ctl.add_argument("--otp", help="TOTP code from your authenticator app (risky commands on live accounts)")
    cmds = ctl.add_subparsers(dest="ctl_command", required=True, metavar="COMMAND")
    cmds.add_parser("status", help="accounts, positions, strategies, kill switch")
    cmds.add_parser("ping", help="is the executor answering?")
    p = cmds.add_parser("start", help="start a strategy from a JSON definition")
    p.add_argument("strategy_id")
    p.add_argument("definition", help="path of a strategy JSON file (CONTROL_API.md format), or inline JSON")
    p.add_argument("--account", type=int)
    p = cmds.add_parser("update", help="replace a strategy's definition; open positions are kept")
    p.add_argument("strategy_id")
    p.add_argument("definition")
    p = cmds.add_parser("stop", help="stop a strategy (and close its positions)")
    p.add_argument("strategy_id")
    p.add_argument("--keep-positions", action="store_true")
    for name in ("pause", "resume"):
        cmds.add_parser(name, help=f"{name} a strategy").add_argument("strategy_id")
    p = cmds.add_parser("open", help="open a position")
    p.add_argument("symbol")
    p.add_argument("side", choices=("buy", "sell"))
    p.add_argument("--volume", type=float)
    for name in ("sl", "tp", "sl-pips", "tp-pips"):
        p.add_argument(f"--{name}", type=float)
    p.add_argument("--comment")
    p.add_argument("--account", type=int)
    p = cmds.add_parser("close", help="close (part of) a position")
    p.add_argument("ticket", type=int)
    p.add_argument("--volume", type=float)
    p = cmds.add_parser("modify", help="change a position's SL/TP")
    p.add_argument("ticket", type=int)
    p.add_argument("--sl", type=float)
    p.add_argument("--tp", type=float)
    p = cmds.add_parser("close-all", help="close every matching position")
    p.add_argument("--account", type=int)
    p.add_argument("--symbol")
    p.add_argument("--strategy", dest="strategy_id")
    p = cmds.add_parser("limits", help="update risk limits: KEY=VALUE ...")
    p.add_argument("limits", nargs="+", metavar="KEY=VALUE")
    p.add_argument("--account", type=int)
    p = cmds.add_parser("emergency-stop", help="KILL SWITCH: stop strategies, flatten, lock trading for 1 h")
    p.add_argument("reason", nargs="?", default="operator emergency stop from run.py ctl")
    cmds.add_parser("reset-kill-switch", help="unlock trading once the lock has expired")
    p = cmds.add_parser("trading-state", help="an account's state: ACTIVE, REDUCING (only closing) or HALTED")
    p.add_argument("state", type=str.upper, choices=("ACTIVE", "REDUCING", "HALTED"))
    p.add_argument("reason", nargs="?", help="why (journaled and shown in STATUS)")
    p.add_argument("--account", type=int)
    p = cmds.add_parser("performance", help="trade statistics per strategy and account")
    p.add_argument("--strategy", dest="strategy_id")
    p.add_argument("--account", type=int)
    p.add_argument("--trades", action="store_true", help="list the closed trades too")
    p = cmds.add_parser("send", help="send any command: TYPE [DATA as JSON]")
    p.add_argument("type")
    p.add_argument("data", nargs="?", default=None)


def build_request(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """(type, data) of the request the parsed arguments describe."""
    cmd = args.ctl_command
    if cmd == "send":
        return args.type, _json_arg(args.data, "DATA") if args.data else {}
    type_ = COMMANDS[cmd]
    match cmd:
        case "status" | "ping" | "reset-kill-switch":
            data = {}
        case "start" | "update":
            data = {"strategy_id": args.strategy_id, "strategy": read_definition(args.definition)}
            if getattr(args, "account", None) is not None:
                data["account"] = args.account
        case "stop":
            data = {"strategy_id": args.strategy_id, "close_positions": not args.keep_positions}
        case "pause" | "resume":
            data = {"strategy_id": args.strategy_id}
        case "open":
            data = {"symbol": args.symbol, "side": args.side}
            for key in ("volume", "sl", "tp", "sl_pips", "tp_pips", "comment", "account"):
                if getattr(args, key) is not None:
                    data[key] = getattr(args, key)
        case "close":
            data = _present({"ticket": args.ticket, "volume": args.volume})
        case "modify":
            data = _present({"ticket": args.ticket, "sl": args.sl, "tp": args.tp})
        case "close-all":
            data = _present({"account": args.account, "symbol": args.symbol, "strategy_id": args.strategy_id})
        case "limits":
            data = _present({"account": args.account, "limits": dict(_key_value(x) for x in args.limits)})
        case "emergency-stop":
            data = {"reason": args.reason}
        case "trading-state":
            data = _present({"account": args.account, "state": args.state, "reason": args.reason})
        case "performance":
            data = _present({"strategy_id": args.strategy_id, "account": args.account,
                             "include_trades": args.trades or None})
    return type_, data


def _present(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def _json_arg(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{what} is not valid JSON: {exc}") from None


def read_definition(arg: str) -> dict[str, Any]:
    """A strategy definition: inline JSON, or the path of a JSON file. UsageError if neither."""
    path = Path(arg)
    if not arg.lstrip().startswith("{"):
        try:
            arg = path.read_text()
        except OSError as exc:
            raise UsageError(f"cannot read strategy file {path}: {exc.strerror}") from None
    definition = _json_arg(arg, "the strategy definition")
    if not isinstance(definition, dict):
        raise UsageError("the strategy definition must be a JSON object")
    return definition


def _key_value(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise UsageError(f"limit {text!r} is not KEY=VALUE (e.g. max_positions=3)")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        raise UsageError(f"limit {key} needs a number, got {value!r}") from None


# --- output ---
def output(type_: str, reply: dict[str, Any], *, as_json: bool) -> tuple[str | None, str | None]:
    """What `run.py ctl` prints of `reply`: (stdout, stderr), None where nothing."""
    if as_json:
        return json.dumps(reply, indent=2, sort_keys=True), None
    if reply.get("ok"):
        return render(type_, reply.get("data") or {}), None
    error = reply.get("error") or {}
    details = f" {json.dumps(error.get('details'))}" if error.get("details") else ""
    return None, f"run.py ctl: {error.get('code')}: {error.get('message')}{details}"


def render(type_: str, data: dict[str, Any]) -> str:
    if type_ == "STATUS_REQUEST":
        return render_status(data)
    if type_ == "PERFORMANCE_REQUEST":
        return render_performance(data)
    return "\n".join(f"{k}: {v}" for k, v in data.items()) or "ok"


def render_status(s: dict[str, Any]) -> str:
    kill = s["kill_switch"]
    lines = [f"executor {s['state']}, up {s['uptime_s']:.0f} s",
             "kill switch: " + (f"ENGAGED ({kill['reason']}), locked until {_time(kill['locked_until'])}"
                                if kill["active"] else "off")]
    lines += ["", "ACCOUNTS"] + table(s["accounts"], ["login", "type", "currency", "balance", "equity", "margin",
                                                      "margin_free", "connected", "trading_state"])
    lines += ["", "POSITIONS"] + table(s["positions"], ["ticket", "account", "symbol", "side", "volume",
                                                        "price_open", "sl", "tp", "profit", "strategy_id"])
    lines += ["", "STRATEGIES"] + table(s["strategies"], ["strategy_id", "name", "symbol", "timeframe", "account",
                                                          "state", "restarts"])
    return "\n".join(lines)


# The report's most useful figures, as (header, key, format); the rest is in --json.
PERFORMANCE_COLUMNS = (
    ("trades", "trades", "{}"), ("win%", "win_rate", "{:.1%}"), ("net", "net_profit", "{:,.2f}"),
    ("PF", "profit_factor", "{:.2f}"), ("max DD", "max_drawdown", "{:,.2f}"), ("DD%", "max_drawdown_pct", "{:.1f}"),
    ("sharpe", "sharpe", "{:.2f}"), ("expect", "expectancy", "{:,.2f}"), ("avg win", "average_win", "{:,.2f}"),
    ("avg loss", "average_loss", "{:,.2f}"), ("L-run", "longest_losing_streak", "{}"),
)


def render_performance(p: dict[str, Any]) -> str:
    lines = ["STRATEGIES"] + _figures(p["strategies"], "strategy_id")
    lines += ["", "ACCOUNTS"] + _figures(p["accounts"], "account")
    lines.append("  (PF profit factor, DD% of peak equity, sharpe of daily returns, L-run longest losing streak)")
    if "trades" in p:
        trades = [{**t, "open": t.get("open_price"), "close": t.get("close_price"),
                   "closed at": _time(t.get("close_time"))[:16]} for t in p["trades"]]
        lines += ["", "TRADES"] + table(trades, ["ticket", "strategy_id", "symbol", "side", "volume", "open", "close",
                                                 "closed at", "profit", "reason"])
    return "\n".join(lines)


def _figures(rows: list[dict[str, Any]], key: str) -> list[str]:
    cells = [{key: r.get(key), **{h: "-" if r.get(k) is None else f.format(r[k]) for h, k, f in PERFORMANCE_COLUMNS}}
             for r in rows]
    return table(cells, [key, *(h for h, _, _ in PERFORMANCE_COLUMNS)])


def table(rows: list[dict[str, Any]], columns: list[str]) -> list[str]:
    if not rows:
        return ["  (none)"]
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    fmt = "  " + "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*columns), *(fmt.format(*row) for row in cells)]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        # Money reads best with separators; prices need every digit the symbol quotes.
        return f"{value:,.2f}" if abs(value) >= 1000 else f"{value:.6g}"
    return "-" if value is None else str(value)


def _time(ms: int | None) -> str:
    return "-" if not ms else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000))
