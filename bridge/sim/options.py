"""A simulated terminal built from plain options: `run.py sim`'s process and the service's embedded one.

This module owns the one mapping from what a user gives (a broker file, a symbols file,
account options, a start time, a calendar file, paper trading on a real EA's prices, the
faults to inject, the state file its paper account is kept in) to a `SimTerminal` or a
`PaperTerminal`. Options given win over the broker
file, which wins over `AccountSettings`' defaults (bridge/sim/config.py). Plain values in,
never argparse nor the executor's config: `bridge` stands on its own, so `run.py sim` and
`actors.app.service` each map their own option names onto these keywords.

Every mistake a user can make here is one `SimOptionsError` line (bad usage: exit code 2).
Its words name `run.py sim`'s options; the service's config refuses the same mistakes first,
in its own keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loguru import logger

from bridge.sim.calendar import load_calendar
from bridge.sim.config import broker_setup, parse_start
from bridge.sim.ea_prices import DEFAULT_PRICES_CTL, DEFAULT_PRICES_MD
from bridge.sim.paper_terminal import PaperTerminal
from bridge.sim.state_file import StateFile, StateFileError
from bridge.sim.terminal import DEFAULT_LOGIN, SimTerminal
from bridge.symbols import DEFAULT_SYMBOLS

DEFAULT_HISTORY_MINUTES = 1000


class SimOptionsError(ValueError):
    """Options or files that cannot be simulated; the message says which and what to do."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InjectedFaults:
    """`run.py sim --fault-*`: what the terminal does wrong, counted over the next occurrences.

    The trade server's counters (bridge/trade_server/faults.py) and the socket shell's hooks
    (`SimTerminal.drop_replies`, `drop_tick_batches`, `delayed`) are set in one place so a
    paper terminal, whose SimTerminal exists only once the real EA is ready, gets the same."""
    requotes: int = 0  # 10004 on the next N deals
    rejects: int = 0  # 10006 on the next N deals
    timeout_after_fill: int = 0  # the next N orders fill but answer 10012
    rate_limit_per_s: int = 0  # 10024 beyond this many trade requests a second (0: no limit)
    drop_replies: int = 0  # the next N replies are lost
    drop_ticks: int = 0  # the next N tick publishes are lost
    delay_replies: int = 0  # the next N replies are held `delay_s`, then sent
    delay_s: float = 5.0

    def inject(self, terminal: SimTerminal) -> None:
        faults = terminal.server.faults
        faults.requotes, faults.rejects = self.requotes, self.rejects
        faults.timeout_after_fill, faults.rate_limit_per_s = self.timeout_after_fill, self.rate_limit_per_s
        terminal.drop_replies, terminal.drop_tick_batches = self.drop_replies, self.drop_ticks
        terminal.delayed.count, terminal.delayed.delay_s = self.delay_replies, self.delay_s


def terminal_arguments(*, login: int | None = None, seed: int = 0, speed: float = 1.0,
                       history_minutes: int = DEFAULT_HISTORY_MINUTES, broker_file: str | Path | None = None,
                       symbols_file: str | Path | None = None, account: str | None = None,
                       balance: float | None = None, leverage: int | None = None, tz_offset_s: int | None = None,
                       server_tz: str | int | None = None,
                       start: str | int | None = None, always_open: bool = False,
                       calendar_file: str | Path | None = None, prices_from_ea: bool = False,
                       prices_ctl: str | None = None, prices_md: str | None = None,
                       faults: InjectedFaults | None = None, state_file: str | Path | None = None,
                       reset_state: bool = False, reset_hint: str = "--sim-reset") -> tuple[type, dict[str, Any]]:
    """(SimTerminal or PaperTerminal, its keyword arguments but the endpoints), every file read.

    Options left None take the broker file's value, else the default (`server_tz`, the
    server's zone, as bridge.server_tz reads it: "NY+7", "Europe/Athens", 7200); sessions are kept
    unless `always_open`. With `state_file` the account saved there is continued (unless
    `reset_state`: a fresh one, see `build_terminal`) and kept there. SimOptionsError, naming
    the file or option, for a file that cannot be read or holds what cannot be simulated
    (a damaged state file points at `reset_hint`), a bad start time, or options that clash."""
    try:
        symbols, server_options = broker_setup(broker_file, symbols_file, account=account, balance=balance,
                                               leverage=leverage, tz_offset_s=tz_offset_s, server_tz=server_tz,
                                               enforce_sessions=False if always_open else None)
        start_ms = parse_start(start)
        calendar = load_calendar(calendar_file) if calendar_file else None
    except (OSError, ValueError) as exc:
        raise SimOptionsError(str(exc)) from None
    if not speed > 0 or (faults is not None and faults.delay_s < 0):
        raise SimOptionsError("--speed must be positive and --fault-delay-s not negative")
    login = DEFAULT_LOGIN if login is None else login
    common = dict(login=login, seed=seed, history_minutes=history_minutes,
                  server_options=server_options, calendar=calendar)
    if state_file is not None:
        store = StateFile(Path(state_file), reset_hint=reset_hint)
        try:
            saved = None if reset_state else store.load()
        except StateFileError as exc:
            raise SimOptionsError(str(exc)) from None
        # A paper terminal's symbols are the real EA's, known only once it is there.
        simulated = set(DEFAULT_SYMBOLS if symbols is None else symbols)
        unknown = sorted(saved.book.symbols() - simulated) if saved is not None and not prices_from_ea else []
        if saved is not None and (saved.book.login != login or unknown):
            why = f"account {saved.book.login}, not {login}" if saved.book.login != login else \
                f"trades {unknown[0]}, a symbol not simulated here (--broker/--symbols changed?)"
            raise SimOptionsError(f"simulated terminal state {state_file} holds {why}: give the same options "
                                  f"as before, or start a fresh paper account on purpose with {reset_hint}")
        common.update(state_file=store, saved=saved)
    if not prices_from_ea:
        return SimTerminal, dict(common, speed=speed, symbols=symbols, start_ms=start_ms)
    if speed != 1.0 or start:
        raise SimOptionsError("--prices-from-ea runs on the real clock; drop --speed and --start")
    # The broker and symbols files only fill in what the real EA's symbol_info lacks.
    return PaperTerminal, dict(common, fixtures=symbols, prices_ctl=prices_ctl or DEFAULT_PRICES_CTL,
                               prices_md=prices_md or DEFAULT_PRICES_MD,
                               on_started=faults.inject if faults is not None else None)


def build_terminal(*, ctl_endpoint: str, md_endpoint: str, **options: Any) -> SimTerminal | PaperTerminal:
    """The simulated terminal the `options` of `terminal_arguments` describe, faults set,
    connecting to the executor at `ctl_endpoint` / `md_endpoint` once started. With
    `reset_state` the saved state file is first moved aside (kept, never deleted)."""
    curve = options.pop("curve", None)  # ClientKeys: the executor's EA sockets are CURVE
    cls, arguments = terminal_arguments(**options)
    if curve is not None:
        arguments["curve"] = curve
    if options.get("reset_state") and "state_file" in arguments:
        aside = arguments["state_file"].set_aside()
        logger.warning("simulated terminal {}: a fresh paper account on purpose{}", arguments["login"],
                       f"; the previous state is kept at {aside}" if aside else "")
    terminal = cls(ctl_endpoint=ctl_endpoint, md_endpoint=md_endpoint, **arguments)
    if cls is SimTerminal and options.get("faults") is not None:
        options["faults"].inject(terminal)
    return terminal
