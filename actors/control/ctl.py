"""`run.py ctl`: every control command from the shell, and readable answers.

Each subcommand builds one CONTROL_API request; the reply is printed as tables
(`actors.control.views`), or raw with `--json` (before or after the subcommand). `watch`,
`top` and `logs` are not one request: they live in `actors.control.live` and
`actors.control.logtail`. Exit codes: 0 ok, 1 the executor answered with an error or did not
answer, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from actors.app.endpoints import endpoint_arg
from actors.control import views

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
    ctl.add_argument("--control", type=endpoint_arg, default="tcp://127.0.0.1:5555",
                     help="the executor's control endpoint")
    ctl.add_argument("--data-dir", type=Path, default=Path("data"), help="the executor's data dir (for its key)")
    ctl.add_argument("--key-file", type=Path, help="sign with this key (a line KEY_ID:SECRET, as `run.py keys add` "
                     "prints) instead of the data dir's control.key; or set EXECUTOR_CONTROL_KEY")
    ctl.add_argument("--server-key", metavar="KEY|FILE", help="the executor's CURVE public key (its curve/server.key, "
                     "or the 40 characters) when it runs with curve on; default: the data dir's")
    ctl.add_argument("--client-key", metavar="FILE", help="this client's CURVE keys (the .key_secret file `run.py keys "
                     "curve-client NAME` wrote); default: the data dir's curve/clients/local.key_secret")
    ctl.add_argument("--events", type=endpoint_arg, default="tcp://127.0.0.1:5556",
                     help="the executor's events endpoint (watch, top)")
    ctl.add_argument("--json", action="store_true", help="print the raw reply as JSON (also after the subcommand)")
    ctl.add_argument("--timeout", type=float, help=f"seconds to wait for the reply (default {READ_TIMEOUT_S:g} for "
                     f"reads, {TRADE_TIMEOUT_S:g} for trading commands, {LONG_TIMEOUT_S:g} for close-all and "
                     "emergency-stop)")
    ctl.add_argument("--otp", help="TOTP code from your authenticator app (risky commands on live accounts)")
    cmds = ctl.add_subparsers(dest="ctl_command", required=True, metavar="COMMAND")
    cmds.add_parser = _with_common_options(cmds.add_parser)
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
    p.add_argument("--volume", type=float, help="lots (or --sizing; one of them is required)")
    p.add_argument("--sizing", help='a sizing method as JSON, e.g. \'{"method": "percentage_risk", "risk_pct": 1}\'')
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
    p = cmds.add_parser("limits", help="show the risk limits in effect; with KEY=VALUE ... change them")
    p.add_argument("limits", nargs="*", metavar="KEY=VALUE")
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
    p.add_argument("--plot", type=Path, metavar="FILE.png", help="draw equity and drawdown curves per strategy "
                   "and account into a PNG")
    p = cmds.add_parser("send", help="send any command: TYPE [DATA as JSON]")
    p.add_argument("type")
    p.add_argument("data", nargs="?", default=None)
    p = cmds.add_parser("watch", help="stream events live: fills, rejections, kill switch, link state ...")
    p.add_argument("topics", nargs="*", metavar="TOPIC", help="event names to show (default all), e.g. OrderFilled")
    p.add_argument("--count", type=int, help="exit after this many events")
    p = cmds.add_parser("top", help="live dashboard: accounts, positions, strategies, EA link, kill switch")
    p.add_argument("--once", action="store_true", help="print one frame and exit")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes")
    p = cmds.add_parser("logs", help="the executor's log (the JSON lines file in the data dir), readable")
    p.add_argument("-n", type=int, default=20, dest="lines", help="how many of the last lines (default 20)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    p.add_argument("--level", default="DEBUG", type=str.upper, help="the lowest level shown (default DEBUG)")


# Seconds `ctl` waits: a read answers at once or the executor is not there; the executor
# gives trading commands 20 s and close-all/emergency-stop 90 s, so ctl waits a little longer.
READ_TIMEOUT_S = 3.0
TRADE_TIMEOUT_S = 30.0
LONG_TIMEOUT_S = 95.0
READS = frozenset({"STATUS_REQUEST", "PING", "PERFORMANCE_REQUEST"})
LOCAL_COMMANDS = frozenset({"watch", "top", "logs"})  # not one request and one reply


def _with_common_options(add_parser: Any) -> Any:
    """Every subcommand also takes --json, --control, --data-dir and --timeout, so they read
    well after the subcommand too (`ctl status --json`); there they win over the same before it."""
    def add(*args: Any, **kwargs: Any) -> argparse.ArgumentParser:
        parser = add_parser(*args, **kwargs)
        parser.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                            help="print the raw reply as JSON")
        parser.add_argument("--control", type=endpoint_arg, default=argparse.SUPPRESS,
                            help="the executor's control endpoint")
        parser.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS,
                            help="the executor's data dir (its key, its log)")
        parser.add_argument("--timeout", type=float, default=argparse.SUPPRESS, help="seconds to wait for the reply")
        return parser
    return add


def timeout_s(args: argparse.Namespace, type_: str) -> float:
    """How long to wait for the reply to `type_`: --timeout, else by the kind of command."""
    if args.timeout is not None:
        return args.timeout
    if type_ in READS:
        return READ_TIMEOUT_S
    return LONG_TIMEOUT_S if type_ in ("CLOSE_ALL", "EMERGENCY_STOP") else TRADE_TIMEOUT_S


def no_reply(args: argparse.Namespace, waited_s: float) -> str:
    """What to say when the executor did not answer: the wait, and what to check."""
    return (f"no reply from {args.control} within {waited_s:g} s: is `run.py service` running and listening "
            f"there (its --control)? Check the service's output or `run.py ctl logs`; a busy executor may "
            "need a longer --timeout")


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
            if args.volume is None and args.sizing is None:
                raise UsageError("ctl open needs --volume LOTS or --sizing JSON: the size is never guessed")
            if args.volume is not None and args.sizing is not None:
                raise UsageError("ctl open takes --volume or --sizing, not both")
            data = {"symbol": args.symbol, "side": args.side}
            if args.sizing is not None:
                data["sizing"] = _json_arg(args.sizing, "--sizing")
            for key in ("volume", "sl", "tp", "sl_pips", "tp_pips", "comment", "account"):
                if getattr(args, key) is not None:
                    data[key] = getattr(args, key)
        case "close":
            data = _present({"ticket": args.ticket, "volume": args.volume})
        case "modify":
            data = _present({"ticket": args.ticket, "sl": args.sl, "tp": args.tp})
        case "close-all":
            data = _present({"account": args.account, "symbol": args.symbol, "strategy_id": args.strategy_id})
        case "limits" if not args.limits:
            return "STATUS_REQUEST", {}  # shown as the limits in effect; nothing is changed
        case "limits":
            data = _present({"account": args.account, "limits": dict(_key_value(x) for x in args.limits)})
        case "emergency-stop":
            data = {"reason": args.reason}
        case "trading-state":
            data = _present({"account": args.account, "state": args.state, "reason": args.reason})
        case "performance":
            data = _present({"strategy_id": args.strategy_id, "account": args.account,
                             "include_trades": args.trades or args.plot is not None or None})
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


# --- the commands that are not one request ---
def run_logs(args: argparse.Namespace) -> int:
    from actors.control import logtail

    try:
        return logtail.run(args.data_dir, lines=args.lines, follow_=args.follow, level=args.level,
                           as_json=args.json)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except logtail.LogError as exc:
        print(f"run.py ctl logs: {exc}", file=sys.stderr)
        return 1


def run_live(args: argparse.Namespace, client: Any) -> int:
    """`watch` or `top`; `client(timeout_s)` makes a (signing) ControlClient."""
    from actors.control import live

    try:
        if args.ctl_command == "watch":
            return live.watch(args)
        return live.top(args, client)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except live.LiveError as exc:
        print(f"run.py ctl {args.ctl_command}: {exc}", file=sys.stderr)
        return 1


def before(args: argparse.Namespace, client: Any) -> dict[str, Any] | None:
    """What a reply is read against, asked before the command: for `close`, the position
    (a partial close then says what remains). None for the other commands."""
    if args.ctl_command != "close" or getattr(args, "json", False):
        return None
    reply = client.request("STATUS_REQUEST", timeout_s=READ_TIMEOUT_S)
    return next((p for p in (reply.get("data") or {}).get("positions", []) if p.get("ticket") == args.ticket), None)


# --- output ---
def output(type_: str, reply: dict[str, Any], *, as_json: bool, args: argparse.Namespace | None = None,
           before: dict[str, Any] | None = None) -> tuple[Any | None, str | None]:
    """What `run.py ctl` prints of `reply`: (stdout: a rich renderable or text, stderr: one
    line), None where nothing. `args` are the parsed options (`limits` shows STATUS its way,
    `performance --plot` draws a PNG); `before` what `before()` found."""
    command = getattr(args, "ctl_command", None)
    data = reply.get("data") or {}
    note = None
    if reply.get("ok") and (plot := getattr(args, "plot", None)) is not None:
        from actors.app.plots import PlotError, performance_plot
        try:
            performance_plot(data, plot)
            note = f"equity and drawdown curves written to {plot}"
        except PlotError as exc:
            return None, f"run.py ctl: {exc}"
        if not args.trades:
            data = {k: v for k, v in data.items() if k != "trades"}  # asked for the plot, not the list
    if as_json:
        return json.dumps(reply, indent=2, sort_keys=True), None
    if not reply.get("ok"):
        return None, f"run.py ctl: {views.error_line(reply.get('error') or {})}"
    if type_ == "CLOSE_POSITION":
        return views.render_close(data, before), None
    shown = render(type_, data, command)
    return (shown if note is None else views.Group(shown, views.Text(note))), None


def render(type_: str, data: dict[str, Any], command: str | None = None) -> Any:
    if command == "limits" and type_ == "STATUS_REQUEST":
        return views.render_limits(data)
    if type_ == "STATUS_REQUEST":
        return views.render_status(data)
    if type_ == "PERFORMANCE_REQUEST":
        return views.render_performance(data)
    return views.render_reply(data)


def show(renderable: Any) -> None:
    """Print to stdout: rich tables at the terminal's width, or wide enough in a pipe."""
    from rich.console import Console

    console = Console(highlight=False)
    if isinstance(renderable, str):
        print(renderable)  # JSON and plain text: no markup read into it, no wrapping
    elif console.is_terminal:
        console.print(renderable)
    else:
        sys.stdout.write(views.to_text(renderable))
