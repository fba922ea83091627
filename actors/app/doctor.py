"""`run.py doctor`: is this executor ready for production? Checked against its data dir and
configuration, and against the running service when there is one.

Each check is a function that returns a `Finding`: passed, failed (with what to do, one
line) or skipped (it needs the running service, and none answered). The score counts the
checks done; the exit code is 0 only when none failed. The checks read files and one
STATUS_REQUEST; they never change anything.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actors.app.config import ConfigError, ServiceConfig, load_config
from actors.app.logs import LOG_FILE, LOG_RETENTION, LOG_ROTATION
from actors.risk.checks import default_limits
from actors.risk.limits import LIMIT_RULES, is_looser

JOURNAL = "journal.sqlite3"
BACKUPS = "backups"
KEY_FILE = "control.key"
KEY_STORE = "control_keys.json"
OTP_SECRET = "otp.secret"
MAX_CLOCK_SKEW_MS = 2_000  # judged on the broker's clock: sessions, rollover and news windows are minutes wide
MIN_FREE_BYTES = 1 << 30  # 1 GiB: a day of logs and journal with room to spare
BACKUP_GRACE = 2.0  # a backup older than this many scheduled intervals is overdue
NO_SCHEDULE_MAX_AGE_S = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    ok: bool | None  # None: skipped
    detail: str
    fix: str = ""


@dataclass
class Subject:
    """What the checks look at: the data dir, the configuration and, when the service
    answers, its STATUS_REQUEST reply."""
    data_dir: Path
    config: ServiceConfig
    config_error: str | None = None
    status: dict[str, Any] | None = None
    status_error: str | None = None
    now_ms: int = 0


def passed(check: str, detail: str) -> Finding:
    return Finding(check, True, detail)


def failed(check: str, detail: str, fix: str) -> Finding:
    return Finding(check, False, detail, fix)


def skipped(check: str, s: Subject) -> Finding:
    return Finding(check, None, f"skipped: {s.status_error or 'the service is not running'}")


# ---------------------------------------------------------------- configuration ---
def check_config(s: Subject) -> Finding:
    if s.config_error:
        return failed("configuration", s.config_error, "fix the key it names (`run.py config --example` shows "
                      "every setting), then `run.py config --check FILE`")
    return passed("configuration", "valid")


def check_real_terminal(s: Subject) -> Finding:
    if s.config.sim is not None:
        return failed("real terminal", "the embedded simulated terminal is on",
                      "set no_sim = true in the config (or run the service with --no-sim) and attach the EA "
                      "to the MT5 terminal")
    return passed("real terminal", "no simulator: waits for the EA")


def check_limits(s: Subject) -> Finding:
    """Live limits no looser than the built-in live defaults: the configured ones (refused at
    load anyway) and those in effect on every live account of the running service."""
    live = default_limits("live")
    looser = [f"config {k}" for k, v in s.config.risk_limits.get("live", {}).items()
              if k in LIMIT_RULES and is_looser(k, v, live.get(k))]
    accounts = (s.status or {}).get("accounts", [])
    for account in accounts:
        if account.get("type") == "live":
            looser += [f"account {account.get('login')} {k} = {v} (default {live.get(k)})"
                       for k, v in (account.get("limits") or {}).items()
                       if k in LIMIT_RULES and is_looser(k, v, live.get(k))]
    if looser:
        return failed("risk limits", "looser than the live defaults: " + "; ".join(looser),
                      "tighten them with `run.py ctl limits KEY=VALUE` (`ctl limits` shows them all)")
    where = "configured and in effect" if s.status is not None else "configured (service not running)"
    return passed("risk limits", f"live limits no looser than the defaults, {where}")


# ---------------------------------------------------------------------- secrets ---
def check_auth(s: Subject) -> Finding:
    if not getattr(s.config, "control_auth", False):
        return failed("authentication", "control authentication is off (control_auth = false or --no-auth)",
                      "remove control_auth = false / --no-auth: every command must be signed")
    if not (s.data_dir / KEY_FILE).exists() and not (s.data_dir / KEY_STORE).exists():
        return failed("authentication", f"no key in {s.data_dir} ({KEY_FILE} or {KEY_STORE})",
                      "start the service once (it creates control.key) or `run.py keys add --role admin`")
    return passed("authentication", "on, keys present")


def check_secret_modes(s: Subject) -> Finding:
    if os.name != "posix":
        return Finding("secret permissions", None, "skipped: owner-only modes are checked on POSIX systems")
    present = [s.data_dir / name for name in (KEY_FILE, KEY_STORE, OTP_SECRET) if (s.data_dir / name).exists()]
    loose = [p for p in present if stat.S_IMODE(p.stat().st_mode) & 0o077]
    if loose:
        return failed("secret permissions", "readable by others: " + ", ".join(map(str, loose)),
                      f"chmod 600 {' '.join(map(str, loose))}")
    return passed("secret permissions", f"owner-only ({len(present)} file(s))")


def check_totp(s: Subject) -> Finding:
    if not (s.data_dir / OTP_SECRET).exists():
        return failed("TOTP confirmation", "no otp.secret: risky commands on a live account would be refused",
                      f"`run.py otp-setup --data-dir {s.data_dir}`, then restart the service")
    return passed("TOTP confirmation", "secret set up")


# ---------------------------------------------------------------- running service ---
def check_ea_link(s: Subject) -> Finding:
    if s.status is None:
        return skipped("EA link", s)
    accounts = s.status.get("accounts", [])
    down = [str(a.get("login")) for a in accounts if not a.get("connected")]
    if not accounts or down:
        return failed("EA link", f"EA of account(s) {', '.join(down)} not connected" if down else
                      "no EA has connected", "attach ExecutorBridge to a chart with DLL imports and AutoTrading "
                      "allowed, and check its endpoints (docs/troubleshooting.md)")
    return passed("EA link", f"{len(accounts)} account(s) connected")


def check_clock_skew(s: Subject) -> Finding:
    if s.status is None:
        return skipped("clock skew", s)
    skews = {a.get("login"): a.get("clock_skew_ms") for a in s.status.get("accounts", [])}
    off = {login: ms for login, ms in skews.items() if isinstance(ms, (int, float)) and abs(ms) > MAX_CLOCK_SKEW_MS}
    if off:
        return failed("clock skew", "; ".join(f"account {k}: server clock {v / 1000:+.1f} s from this machine's"
                                              for k, v in off.items()),
                      "sync both machines' clocks (NTP: `w32tm /resync` on Windows, chrony/timesyncd on Linux)")
    known = [v for v in skews.values() if isinstance(v, (int, float))]
    if not known:
        return Finding("clock skew", None, "skipped: no terminal clock reading yet")
    return passed("clock skew", f"within {MAX_CLOCK_SKEW_MS / 1000:g} s (worst {max(map(abs, known)):.0f} ms)")


def check_kill_switch(s: Subject) -> Finding:
    if s.status is not None:
        kill = s.status.get("kill_switch") or {}
        halted = [f"{a.get('login')} {a.get('trading_state')}" for a in s.status.get("accounts", [])
                  if a.get("trading_state") not in (None, "ACTIVE")]
    else:
        kill, halted = _journal_kill_switch(s.data_dir / JOURNAL), []
    if kill.get("active"):  # locked or not, it stays engaged until reset
        return failed("kill switch", f"ENGAGED ({kill.get('reason')}), locked until {_utc(kill.get('locked_until'))}",
                      "find out why (`run.py ctl logs`), then `run.py ctl reset-kill-switch` once the lock expires")
    if halted:
        return failed("kill switch", f"off, but account(s) not ACTIVE: {', '.join(halted)}",
                      "`run.py ctl trading-state ACTIVE --account LOGIN` once the cause is fixed")
    return passed("kill switch", "off")


# ------------------------------------------------------------------- data dir ---
def check_journal(s: Subject) -> Finding:
    path = s.data_dir / JOURNAL
    if not path.exists():
        return failed("journal", f"no journal at {path}", "start the service once with this --data-dir")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0) as db:
            rows = [r[0] for r in db.execute("PRAGMA integrity_check").fetchall()]
    except sqlite3.Error as exc:
        return failed("journal", f"{path} cannot be read: {exc}", "restore the newest backup (`run.py restore`)")
    if rows != ["ok"]:
        return failed("journal", f"integrity_check: {'; '.join(rows[:3])}", "stop the service and restore the "
                      "newest backup (`run.py restore`); keep the damaged file for analysis")
    return passed("journal", "integrity_check ok")


def check_backups(s: Subject) -> Finding:
    every = float(getattr(s.config, "backup_every_s", 0) or 0)
    max_age = every * BACKUP_GRACE if every > 0 else NO_SCHEDULE_MAX_AGE_S
    folder = s.data_dir / BACKUPS
    backups = [p for p in folder.iterdir() if not p.name.startswith(".")] if folder.is_dir() else []
    if not backups:
        return failed("backups", f"no backup in {folder}", "`run.py backup` (and keep backup_every_s > 0)")
    newest = max(p.stat().st_mtime for p in backups)
    age = s.now_ms / 1000 - newest
    if age > max_age:
        return failed("backups", f"newest backup is {_age(age)} old (more than {_age(max_age)})",
                      "`run.py backup`, and check the service's backup schedule in its log")
    return passed("backups", f"newest is {_age(age)} old")


def check_disk(s: Subject) -> Finding:
    free = shutil.disk_usage(s.data_dir).free
    if free < MIN_FREE_BYTES:
        return failed("disk space", f"{free / 2**20:.0f} MiB free under {s.data_dir}",
                      f"free at least {MIN_FREE_BYTES >> 30} GiB (old backups, rotated logs)")
    return passed("disk space", f"{free / 2**30:.1f} GiB free")


def check_log_rotation(s: Subject) -> Finding:
    logs = (s.data_dir / LOG_FILE).parent
    if logs.exists() and not (logs.is_dir() and os.access(logs, os.W_OK)):
        return failed("log rotation", f"{logs} is not a writable folder: the log cannot rotate there",
                      f"make {logs} a folder the service's user can write")
    return passed("log rotation", f"{LOG_FILE}: a new file every {LOG_ROTATION}, {LOG_RETENTION} kept")


CHECKS: tuple[Callable[[Subject], Finding], ...] = (
    check_config, check_real_terminal, check_limits, check_auth, check_secret_modes, check_totp, check_ea_link,
    check_clock_skew, check_journal, check_backups, check_disk, check_log_rotation, check_kill_switch,
)


def diagnose(s: Subject) -> list[Finding]:
    return [check(s) for check in CHECKS]


def subject(data_dir: Path | None, config_path: Path | None,
            ask_status: Callable[[ServiceConfig], dict[str, Any]]) -> Subject:
    """The data dir (the option's, else the config's), the config (defaults when it is not
    valid: the failure is a finding) and the running service's status, if it answers.
    `ask_status` raises OSError/TimeoutError (or returns an error reply) when it does not."""
    overrides = {"data_dir": data_dir} if data_dir is not None else {}
    try:
        config, error = load_config(config_path, **overrides), None
    except ConfigError as exc:
        config, error = _what_can_be_read(config_path, overrides), str(exc)
    s = Subject(data_dir=Path(config.data_dir), config=config, config_error=error, now_ms=time.time_ns() // 1_000_000)
    try:
        reply = ask_status(config)
    except (OSError, TimeoutError) as exc:
        s.status_error = f"no answer at {config.control_endpoint} ({exc.__class__.__name__}); the service is stopped?"
        return s
    if reply.get("ok"):
        s.status = reply["data"]
    else:
        error = reply.get("error") or {}
        s.status_error = f"the service answered {error.get('code')}: {error.get('message')}"
    return s


# Settings the other checks need; from a config that fails as a whole, each is kept if it is valid alone.
_KEYS_KEPT = ("data_dir", "no_sim", "control_auth", "control_endpoint", "backup_every_s")


def _what_can_be_read(config_path: Path | None, overrides: dict[str, Any]) -> ServiceConfig:
    from actors.app.config_file import ConfigFileError, read_file

    try:
        values = read_file(config_path)
    except ConfigFileError:
        values = {}
    kept: dict[str, Any] = {}
    for key in _KEYS_KEPT:
        if key in values:
            try:
                load_config(None, **{**kept, key: values[key]})
                kept[key] = values[key]
            except (ConfigError, TypeError):
                pass
    return load_config(None, **{**kept, **overrides})


def score(findings: list[Finding]) -> tuple[int, int]:
    done = [f for f in findings if f.ok is not None]
    return sum(1 for f in done if f.ok), len(done)


def _journal_kill_switch(path: Path) -> dict[str, Any]:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0) as db:
            row = db.execute("SELECT active, reason, locked_until FROM kill_switch WHERE id = 1").fetchone()
    except sqlite3.Error:
        return {}
    return {"active": bool(row[0]), "reason": row[1], "locked_until": row[2]} if row else {}


def _utc(ms: Any) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000)) if ms else "-"


def _age(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


# ------------------------------------------------------------------------ shell ---
STATUS_TIMEOUT_S = 2.0


def status_of(config: ServiceConfig) -> dict[str, Any]:
    """The running service's STATUS_REQUEST reply, signed with the data dir's key; ControlTimeout
    (a TimeoutError) when nothing answers."""
    from actors.control.client import ControlClient

    with ControlClient(config.control_endpoint, timeout_s=STATUS_TIMEOUT_S, data_dir=config.data_dir) as client:
        return client.request("STATUS_REQUEST")


def run(data_dir: Path | None, config_path: Path | None) -> int:
    """`run.py doctor`: every check, a score, what to do for each failure; 0 only when ready."""
    from rich.console import Console

    findings = diagnose(subject(data_dir, config_path, status_of))
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(width=200, highlight=False, no_color=True)
    console.print(render(findings))
    return 0 if all(f.ok is not False for f in findings) else 1


def render(findings: list[Finding]) -> Any:
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    marks = {True: Text("pass", style="green"), False: Text("FAIL", style="bold red"), None: Text("skip", style="dim")}
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for column in ("", "check", "finding"):
        table.add_column(column)
    for f in findings:
        table.add_row(marks[f.ok], f.check, f.detail)
    good, done = score(findings)
    ready = good == done
    verdict = Text(f"score {good}/{done} ({100 * good // max(done, 1)} %): " +
                   ("READY for production" if ready else "NOT READY"), style="bold green" if ready else "bold red")
    todo = [Text(f"  {f.check}: {f.fix}") for f in findings if f.ok is False]
    return Group(table, Text(), verdict, *([Text("What to do:")] + todo if todo else []))
