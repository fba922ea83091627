"""What `run.py ctl` shows of a reply: rich tables for people, one line for an error.

Pure: each function takes a reply's `data` and returns a rich renderable (or a string);
`ctl` prints it. Times are shown as UTC dates, never as epoch milliseconds; an account's
trading state is shown as it is in effect (the kill switch locks an account that its own
state still calls ACTIVE); error messages name `ctl` commands instead of wire commands.
"""

from __future__ import annotations

import io
import json
import re
import time
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

# Wire command -> the `ctl` command an operator types, for hints in error messages.
CTL_OF = {
    "STATUS_REQUEST": "ctl status", "PING": "ctl ping", "START_STRATEGY": "ctl start", "STOP_STRATEGY": "ctl stop",
    "PAUSE_STRATEGY": "ctl pause", "RESUME_STRATEGY": "ctl resume", "UPDATE_STRATEGY": "ctl update",
    "OPEN_POSITION": "ctl open", "CLOSE_POSITION": "ctl close", "MODIFY_POSITION": "ctl modify",
    "CLOSE_ALL": "ctl close-all", "UPDATE_RISK_LIMITS": "ctl limits", "EMERGENCY_STOP": "ctl emergency-stop",
    "RESET_KILL_SWITCH": "ctl reset-kill-switch", "PERFORMANCE_REQUEST": "ctl performance",
    "SET_TRADING_STATE": "ctl trading-state",
}
_WIRE_NAMES = re.compile(r"\b(" + "|".join(sorted(CTL_OF, key=len, reverse=True)) + r")\b")
# Keys whose integer values are epoch milliseconds.
_TIME_KEY = re.compile(r"(^|_)(time|until|at|bar)$|^pong$")
EPOCH_MS_FLOOR = 10**11  # 1973 in ms; a smaller number under a time key is not a date (0 = none)


def to_text(renderable: RenderableType, width: int = 200) -> str:
    """A renderable as plain text (no colour), as a pipe or a test sees it."""
    console = Console(file=io.StringIO(), width=width, no_color=True, color_system=None, highlight=False)
    console.print(renderable)
    return console.file.getvalue()


# ------------------------------------------------------------------------- cells ---
def utc(ms: int | float | None, *, seconds: bool = True) -> str:
    """A UTC date from epoch ms: '2026-11-24 08:00:00 UTC'; '-' for none."""
    if not ms:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC", time.gmtime(ms / 1000))


def cell(key: str, value: Any) -> str:
    """One value as a table shows it."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) and _TIME_KEY.search(key) and (value == 0 or value >= EPOCH_MS_FLOOR):
        return utc(value)
    if isinstance(value, float):
        # Money reads best with separators; prices need every digit the symbol quotes.
        return f"{value:,.2f}" if abs(value) >= 1000 else f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(key, v) for v in value) or "-"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def money(value: Any) -> Text:
    """Profit and loss, green or red."""
    if not isinstance(value, (int, float)):
        return Text("-")
    return Text(f"{value:,.2f}", style="green" if value > 0 else "red" if value < 0 else "")


def table(title: str, rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> Table:
    """`columns` are (header, key); a row's cell may already be a rich Text."""
    out = Table(title=title, title_justify="left", title_style="bold", header_style="bold", box=box.SIMPLE_HEAD,
                show_edge=False, pad_edge=False)
    for header, _ in columns:
        out.add_column(header)
    for row in rows:
        out.add_row(*(v if isinstance(v := row.get(key), Text) else cell(key, v) for _, key in columns))
    if not rows:
        out.add_row("(none)", *([""] * (len(columns) - 1)))
    return out


# ----------------------------------------------------------------------- status ---
def effective_state(account: dict[str, Any], kill_switch: dict[str, Any], now_ms: int | None = None) -> str:
    """The trading state in effect: the kill switch locks every account whatever its own
    state says; a breach lock shows until when."""
    now_ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    if kill_switch.get("active"):
        return f"LOCKED by kill switch until {utc(kill_switch.get('locked_until'))}"
    state = account.get("trading_state") or "ACTIVE"
    until = account.get("locked_until")
    if until and until > now_ms:
        return f"{state} (locked until {utc(until)})"
    return state


def _state_text(state: str) -> Text:
    return Text(state, style="green" if state == "ACTIVE" else "yellow" if state.startswith("REDUCING")
                else "bold red")


def skew(ms: Any) -> str:
    """Clock skew of a terminal's server clock against this machine's, readable."""
    if not isinstance(ms, (int, float)):
        return "-"
    return f"{ms / 1000:+.1f} s" if abs(ms) >= 1000 else f"{ms:+.0f} ms"


def kill_switch_line(kill: dict[str, Any]) -> Text:
    if kill.get("active"):
        return Text(f"KILL SWITCH ENGAGED ({kill.get('reason')}): trading locked until "
                    f"{utc(kill.get('locked_until'))}; `ctl reset-kill-switch` after that", style="bold red")
    return Text("kill switch: off", style="green")


def _link(account: dict[str, Any]) -> Text:
    """The EA link: up, up but still reconciling (what is awaited), or DOWN."""
    if not account.get("connected"):
        return Text("DOWN", style="bold red")
    if account.get("reconciling"):
        return Text(f"up, reconciling {', '.join(map(str, account['reconciling']))}", style="yellow")
    return Text("up", style="green")


def accounts_table(s: dict[str, Any], now_ms: int | None = None) -> Table:
    kill = s.get("kill_switch") or {}
    rows = [{**a, "link": _link(a),
             "state": _state_text(effective_state(a, kill, now_ms)), "skew": skew(a.get("clock_skew_ms"))}
            for a in s.get("accounts", [])]
    return table("ACCOUNTS", rows, [("login", "login"), ("type", "type"), ("ccy", "currency"),
                                    ("balance", "balance"), ("equity", "equity"), ("margin", "margin"),
                                    ("free margin", "margin_free"), ("EA link", "link"), ("clock skew", "skew"),
                                    ("trading", "state")])


def positions_table(s: dict[str, Any]) -> Table:
    rows = [{**p, "pl": money(p.get("profit"))} for p in s.get("positions", [])]
    return table("POSITIONS", rows, [("ticket", "ticket"), ("account", "account"), ("symbol", "symbol"),
                                     ("side", "side"), ("volume", "volume"), ("open", "price_open"), ("SL", "sl"),
                                     ("TP", "tp"), ("P/L", "pl"), ("strategy", "strategy_id")])


def strategies_table(s: dict[str, Any]) -> Table:
    rows = [{**r, "signal": _signal(r.get("last_signal"))} for r in s.get("strategies", [])]
    return table("STRATEGIES", rows, [("id", "strategy_id"), ("name", "name"), ("symbol", "symbol"),
                                      ("tf", "timeframe"), ("account", "account"), ("state", "state"),
                                      ("restarts", "restarts"), ("last bar", "last_bar"), ("last signal", "signal")])


def _signal(signal: Any) -> str:
    if not isinstance(signal, dict):
        return "-"
    return f"{signal.get('signal')} at {utc(signal.get('time'), seconds=False)}"


def render_status(s: dict[str, Any], now_ms: int | None = None) -> RenderableType:
    head = Text(f"executor {s.get('state')}, up {_duration(s.get('uptime_s', 0))}  ")
    head.append_text(kill_switch_line(s.get("kill_switch") or {}))
    parts: list[RenderableType] = [head, Text(), accounts_table(s, now_ms), Text(), positions_table(s)]
    if s.get("orders"):
        parts += [Text(), table("PENDING ORDERS", s["orders"], [(k, k) for k in ("ticket", "account", "symbol",
                                                                               "type", "volume", "price_open")])]
    parts += [Text(), strategies_table(s)]
    return Group(*parts)


def _duration(seconds: float) -> str:
    seconds = int(seconds or 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return (f"{days}d {hours}h" if days else f"{hours}h {minutes}m" if hours else
            f"{minutes}m {secs}s" if minutes else f"{secs}s")


# ---------------------------------------------------------------------- limits ---
def render_limits(s: dict[str, Any]) -> RenderableType:
    """Each account's limits in effect beside the built-in defaults of its type."""
    from actors.risk.checks import default_limits
    from actors.risk.limits import LIMIT_RULES, is_looser

    parts: list[RenderableType] = []
    for a in s.get("accounts", []):
        limits = a.get("limits") or {}
        defaults = default_limits("demo" if a.get("type") == "demo" else "live")
        rows = [{"key": k, "value": v, "default": defaults.get(k),
                 "note": Text("looser than default", style="yellow")
                 if k in LIMIT_RULES and is_looser(k, v, defaults.get(k)) else ""}
                for k, v in sorted(limits.items())]
        parts += [table(f"LIMITS of account {a.get('login')} ({a.get('type')})", rows,
                        [("limit", "key"), ("in effect", "value"), ("default", "default"), ("", "note")]), Text()]
    if not parts:
        return Text("no account connected: limits are per account; connect the EA (or the simulator) first")
    parts.append(Text("change one with `ctl limits KEY=VALUE ...`", style="dim"))
    return Group(*parts)


# ----------------------------------------------------------------- performance ---
# The report's most useful figures, as (header, key, format); the rest is in --json.
PERFORMANCE_COLUMNS = (
    ("trades", "trades", "{}"), ("win%", "win_rate", "{:.1%}"), ("net", "net_profit", "{:,.2f}"),
    ("PF", "profit_factor", "{:.2f}"), ("max DD", "max_drawdown", "{:,.2f}"), ("DD%", "max_drawdown_pct", "{:.1f}"),
    ("sharpe", "sharpe", "{:.2f}"), ("expect", "expectancy", "{:,.2f}"), ("avg win", "average_win", "{:,.2f}"),
    ("avg loss", "average_loss", "{:,.2f}"), ("L-run", "longest_losing_streak", "{}"),
)


def _figures(title: str, rows: list[dict[str, Any]], key: str) -> Table:
    cells = [{key: r.get(key), **{h: "-" if r.get(k) is None else f.format(r[k]) for h, k, f in PERFORMANCE_COLUMNS},
              "net": money(r.get("net_profit"))} for r in rows]
    return table(title, cells, [(key.replace("_", " "), key), *((h, h) for h, _, _ in PERFORMANCE_COLUMNS)])


def render_performance(p: dict[str, Any]) -> RenderableType:
    parts: list[RenderableType] = [_figures("STRATEGIES", p.get("strategies", []), "strategy_id"), Text(),
                                   _figures("ACCOUNTS", p.get("accounts", []), "account"),
                                   Text("(PF profit factor, DD% of peak equity, sharpe of daily returns, "
                                        "L-run longest losing streak)", style="dim")]
    if "trades" in p:
        trades = [{**t, "pl": money(t.get("profit"))} for t in p["trades"]]
        parts += [Text(), table("TRADES", trades, [
            ("ticket", "ticket"), ("strategy", "strategy_id"), ("symbol", "symbol"), ("side", "side"),
            ("volume", "volume"), ("open", "open_price"), ("opened", "open_time"), ("close", "close_price"),
            ("closed", "close_time"), ("P/L", "pl"), ("reason", "reason")])]
    return Group(*parts)


# ------------------------------------------------------------------ any reply ---
def render_reply(data: dict[str, Any]) -> RenderableType:
    """A reply without a view of its own: its fields, one a line."""
    if not data:
        return Text("ok")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for key, value in data.items():
        grid.add_row(key, cell(key, value))
    return grid


def render_close(data: dict[str, Any], position: dict[str, Any] | None) -> RenderableType:
    """A CLOSE_POSITION reply; against the position as it was, a partial close says what remains."""
    closed = data.get("closed_volume")
    line = (f"closed {cell('volume', closed)} lots of ticket {data.get('ticket')} at "
            f"{cell('price', data.get('price'))}, profit {cell('profit', data.get('profit'))}")
    if position and isinstance(closed, (int, float)) and closed < float(position.get("volume", 0)) - 1e-9:
        remaining = round(float(position["volume"]) - closed, 8)
        line += f"; PARTIAL close: {remaining:g} of {float(position['volume']):g} lots remain open (same ticket)"
    return Text(line)


def error_line(error: dict[str, Any]) -> str:
    """An error reply in one line: its code, its message (naming `ctl` commands) and details."""
    message = " ".join(str(error.get("message") or "").split())
    message = _WIRE_NAMES.sub(lambda found: f"`{CTL_OF[found.group(1)]}`", message)
    details = error.get("details") or {}
    # A detail the message already says (the reasons, the known symbols) is not said twice.
    shown = [f"{k}: {cell(k, v)}" for k, v in details.items()
             if not (k == "reasons" and "; ".join(map(str, v)) in message)
             and not (isinstance(v, (list, tuple)) and all(str(x) in message for x in v[:5]))]
    return f"{error.get('code')}: {message}" + (f" ({'; '.join(shown)})" if shown else "")
