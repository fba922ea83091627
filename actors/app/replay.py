"""Replay: a history file through the simulated terminal and the same actors as live trading.

The executor runs exactly as `run.py service` runs it (private ports, a temporary journal),
with a simulated terminal whose clock and prices come from the file. The driver releases
the history in lockstep with the executor, so every run of the same strategy on the same
file makes the same trades:

1. the open tick of bar k goes in; it closes bar k-1 (MT5's bars close on the next tick);
   if that closed a bar of the strategy's timeframe, the driver waits until the strategy
   has evaluated it and the account has settled every order it caused (filled at that
   open price, as a live order would be);
2. the rest of bar k's ticks go in (low/high/close: SL and TP may trigger) and the driver
   waits until the executor has seen the terminal's resulting positions;
3. next bar.
Steps 2. and the next 1. are one push (`ReplayFeed.push` with `hold_from`): one terminal step
and one tick batch per bar. The open waits at the terminal only if the ticks before it changed
the trade server; then the driver waits as in 2. before it lets the open go (always, for exits
that act on quotes: they need the wait of 2. on every quote).
A tick file (`replay_ticks`) goes in as it is: per bar of the strategy's timeframe, its first
tick (it closes the previous bar: wait as in 1.), then the rest in pushes of at most
`TICKS_PER_PUSH`, each followed by the wait of 2.; a bar's last push goes with the next bar's
first tick, as above. The file's first bars warm the indicators up, as in a bars replay: the
terminal starts with no history.
At the end it asks PERFORMANCE_REQUEST, through the control socket like any client.
`replay_file` is `run.py replay`: the strategy file read, the history file replayed, the
report worded for a terminal.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loguru import logger

from actors import messages as m
from bridge.candles import bar_open_time
from actors.app.config import load_config
from actors.control.client import ControlClient
from actors.app.ports import free_endpoint
from actors.app.service import Service
from actors.account.exits import ExitPlan
from bridge import mt5
from bridge.history.bars import HistoryFileError, bar_period_ms, load_bars
from bridge.history.ticks import TickHistory, load_ticks
from bridge.history.replay_feed import ReplayFeed, bar_ticks, file_ticks
from bridge.sim.clock import ManualClock
from bridge.sim.terminal import SimTerminal
from bridge.symbols import DEFAULT_SYMBOLS

REPLAY_LOGIN = 9_000_001
STRATEGY_ID = "replay"
SYNC_TIMEOUT_S = 30.0
# The board keys the driver's conditions read (StatusBoard.wait(keys=...)): the posts of every
# tick (quotes, clock, terminal) do not wake it.
ACCOUNT_KEY, POSITIONS_KEY = f"account:{REPLAY_LOGIN}", f"positions_seq:{REPLAY_LOGIN}"
RISK_KEY, STRATEGY_KEY = f"risk:{REPLAY_LOGIN}", f"strategy:{STRATEGY_ID}"
# The replay's journal is thrown away at the end: on a RAM disk where there is one with room, its
# commits (each fsync'ed, as a live journal's must be) cost no disk round trip.
SCRATCH_MIN_FREE = 256 * 2**20


def _scratch_dir() -> str | None:
    try:
        if os.access("/dev/shm", os.W_OK) and shutil.disk_usage("/dev/shm").free >= SCRATCH_MIN_FREE:
            return "/dev/shm"
    except OSError:
        pass
    return None  # the system's temporary directory
TICKS_PER_PUSH = 500  # one tick batch on the wire per push: bounded frames, exits checked as often


class ReplayError(RuntimeError):
    """A replay that cannot run or stalled; the message says why."""


def replay(csv_path: str | Path, strategy: dict[str, Any], *, symbol: str | None = None, tz_offset_s: int = 0,
           balance: float = 10_000.0, strategy_bars: bool = False) -> dict[str, Any]:
    """The PERFORMANCE_REQUEST reply (with `trades`) for `strategy` replayed over the file,
    plus `bars` (how many were replayed) and `open_positions` (still open at the end);
    with `strategy_bars`, also the closed bars the strategy holds at the end (its window)."""
    symbol, strategy = _on_symbol(strategy, symbol)
    try:
        bars = load_bars(csv_path, tz_offset_s=tz_offset_s)
        period = bar_period_ms(bars["time"])
    except HistoryFileError as exc:
        raise ReplayError(str(exc)) from None
    timeframe_ms = mt5.TIMEFRAME_SECONDS.get(strategy.get("timeframe"), 0) * 1000
    if timeframe_ms < period or timeframe_ms % period:
        raise ReplayError(f"the file has {period // 60000}-minute bars; a {strategy.get('timeframe')} strategy "
                          "needs bars of its timeframe or a finer one that divides it")
    data_dir = Path(tempfile.mkdtemp(prefix="replay-", dir=_scratch_dir()))
    try:
        with _Run(data_dir, symbol, int(bars["time"][0]), tz_offset_s, balance) as run:
            run.start_strategy(strategy)
            run.play(bars, period, timeframe_ms)
            return run.report(len(bars["time"]), strategy_bars)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def replay_ticks(ticks_path: str | Path, strategy: dict[str, Any], *, symbol: str | None = None,
                 tz_offset_s: int = 0, balance: float = 10_000.0, strategy_bars: bool = False) -> dict[str, Any]:
    """Like `replay`, over a tick file (`bridge.history_ticks`): the terminal quotes exactly its
    ticks. `bars` counts the strategy's bars the file spans; `ticks` the ticks replayed and
    `skipped_ticks` the rows left out (before both bid and ask were known, or trade-only)."""
    symbol, strategy = _on_symbol(strategy, symbol)
    try:
        history = load_ticks(ticks_path, tz_offset_s=tz_offset_s)
    except HistoryFileError as exc:
        raise ReplayError(str(exc)) from None
    data_dir = Path(tempfile.mkdtemp(prefix="replay-", dir=_scratch_dir()))
    try:
        with _Run(data_dir, symbol, int(history.time_msc[0]), tz_offset_s, balance) as run:
            run.start_strategy(strategy)
            bars = run.play_ticks(history, strategy["timeframe"])
            report = run.report(bars, strategy_bars)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    report["ticks"] = len(history)
    report["skipped_ticks"] = history.skipped_unknown + history.skipped_trade_only
    return report


def replay_file(strategy_file: str, *, csv_path: str | Path | None = None, ticks_path: str | Path | None = None,
                symbol: str | None = None, tz_offset_s: int = 0, balance: float = 10_000.0,
                plot: Path | None = None) -> tuple[dict[str, Any], Any]:
    """`run.py replay`: the strategy of `strategy_file` (a path, or inline JSON) replayed over
    a bars file (`csv_path`) or a tick file (`ticks_path`); (the report, what to print of it:
    a rich renderable). With `plot`, also the price with entries and exits and the equity
    curve as a PNG. UsageError for a strategy file that cannot be read, ReplayError for a
    replay that cannot run (or a plot that cannot be written)."""
    from rich.console import Group
    from rich.text import Text

    from actors.control.ctl import read_definition
    from actors.control.views import render_performance

    strategy = read_definition(strategy_file)
    if ticks_path is None:
        report = replay(csv_path, strategy, symbol=symbol, tz_offset_s=tz_offset_s, balance=balance)
        replayed = f"{report['bars']} bars replayed"
    else:
        report = replay_ticks(ticks_path, strategy, symbol=symbol, tz_offset_s=tz_offset_s, balance=balance)
        replayed = (f"{report['ticks']} ticks replayed over {report['bars']} {strategy['timeframe']} bars "
                    f"({report['skipped_ticks']} rows skipped: before both bid and ask were known, "
                    "or changing neither)")
    summary = f"{replayed}; {len(report['open_positions'])} position(s) open at the end\n"
    if plot is not None:
        from actors.app.plots import PlotError, replay_plot  # matplotlib: only when drawing

        if ticks_path is None:
            bars = load_bars(csv_path, tz_offset_s=tz_offset_s)
            times, prices = bars["time"], bars["close"]
        else:
            history = load_ticks(ticks_path, tz_offset_s=tz_offset_s)
            times, prices = history.time_msc, history.bid
        try:
            replay_plot(times, prices, report, plot, symbol=symbol or strategy.get("symbol", ""))
        except PlotError as exc:
            raise ReplayError(str(exc)) from None
        summary += f"price, entries, exits and equity drawn in {plot}\n"
    return report, Group(Text(summary), render_performance(report))


def _on_symbol(strategy: dict[str, Any], symbol: str | None) -> tuple[str, dict[str, Any]]:
    symbol = symbol or strategy.get("symbol")
    if symbol not in DEFAULT_SYMBOLS:
        raise ReplayError(f"symbol {symbol!r} is not simulated; choose one of {sorted(DEFAULT_SYMBOLS)}")
    return symbol, {**strategy, "symbol": symbol}


class _Run:
    """One private executor and its replay terminal."""

    def __init__(self, data_dir: Path, symbol: str, first_ms: int, tz_offset_s: int, balance: float) -> None:
        self.symbol = symbol
        self.spec = DEFAULT_SYMBOLS[symbol]
        self.tz_offset_s = tz_offset_s
        self.feed = ReplayFeed()
        self.config = load_config(None, data_dir=data_dir, control_endpoint=free_endpoint(),
                                  events_endpoint=free_endpoint(), ea_ctl_endpoint=free_endpoint(),
                                  ea_md_endpoint=free_endpoint(), no_sim=True)
        start_ms = first_ms - 1

        def terminal(config: Any) -> SimTerminal:
            sim = SimTerminal(ctl_endpoint=config.ea_ctl_endpoint, md_endpoint=config.ea_md_endpoint,
                              login=REPLAY_LOGIN, clock=ManualClock(start_ms), balance=balance,
                              tz_offset_s=tz_offset_s, history_minutes=0, feed=self.feed, poll_ms=20, md_publish_s=0.0,
                              enforce_sessions=False)  # the file is the market: its ticks, its hours
            # poll_ms: a push wakes the terminal's loop (ReplayFeed.fileno); idle, it has nothing to do.
            self.feed.clock = sim.clock
            self.feed.watch = lambda: sim.server.version  # what a hold waits on (ReplayFeed.push)
            return sim
        self.service = Service(self.config, sim_factory=terminal)
        self.client: ControlClient | None = None
        self.quotes_matter = True

    def __enter__(self) -> _Run:
        self.service.start()
        self.client = ControlClient(self.config.control_endpoint, timeout_s=SYNC_TIMEOUT_S, data_dir=self.config.data_dir)
        self._wait(lambda: self._account().get("ready") and self._synced()
                   and self.service.board.get(f"risk:{REPLAY_LOGIN}", {}).get("account_type") == "demo",
                   "the replay terminal to connect", keys=(ACCOUNT_KEY, POSITIONS_KEY, RISK_KEY))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()
        self.service.stop()
        self.feed.close()

    # --- steps ---
    def start_strategy(self, strategy: dict[str, Any]) -> None:
        # Exits decided on quotes (partials, breakeven, trailing, time): the driver must also wait
        # for the account to handle every quote before it moves the price on.
        self.quotes_matter = not ExitPlan.from_settings(strategy.get("settings") or {}).empty
        reply = self.client.request("START_STRATEGY", {"strategy_id": STRATEGY_ID, "strategy": strategy})
        if not reply["ok"]:
            raise ReplayError(f"strategy refused: {reply['error']['code']}: {reply['error']['message']}")
        self._wait(lambda: self.service.board.get(f"strategy:{STRATEGY_ID}", {}).get("ready"), "the strategy",
                   keys=STRATEGY_KEY)

    def play(self, bars: dict, period: int, timeframe_ms: int) -> None:
        timeframe = next(tf for tf, s in mt5.TIMEFRAME_SECONDS.items() if s * 1000 == timeframe_ms)
        forming: int | None = None  # open time of the strategy bar being built
        ticks_of_bars = bar_ticks(self.symbol, bars, period, point=self.spec.point, digits=self.spec.digits,
                                  default_spread_points=self.spec.sim_spread_points)
        rest: list = []  # the forming bar's ticks after its open, pushed with the next bar's open
        for ticks in ticks_of_bars:
            opening = bar_open_time(ticks[0][1], timeframe, self.tz_offset_s)
            self._push(rest + ticks[:1], hold_from=len(rest))
            if forming is not None and opening != forming:
                self._wait_bar(forming)
            forming, rest = opening, ticks[1:]
        self._push(rest)

    def play_ticks(self, history: TickHistory, timeframe: str) -> int:
        """The file's ticks in lockstep; returns how many strategy bars they span."""
        bars = 0
        forming: int | None = None
        last: list = []  # the forming bar's last push, pushed with the next bar's first tick
        for opening, ticks in file_ticks(self.symbol, history, timeframe, self.tz_offset_s):
            self._push(last + ticks[:1], hold_from=len(last))
            if forming is not None:
                self._wait_bar(forming)
            forming, bars = opening, bars + 1
            pushes = [ticks[start:start + TICKS_PER_PUSH] for start in range(1, len(ticks), TICKS_PER_PUSH)]
            for push in pushes[:-1]:
                self._push(push)
            last = pushes[-1] if pushes else []
        self._push(last)
        return bars

    def report(self, bar_count: int, strategy_bars: bool = False) -> dict[str, Any]:
        expected = sum(1 for d in self.service.sim.server.history_deals_get()
                       if d["entry"] in (mt5.DEAL_ENTRY_OUT, mt5.DEAL_ENTRY_OUT_BY, mt5.DEAL_ENTRY_INOUT))

        def performance() -> dict[str, Any] | None:
            reply = self.client.request("PERFORMANCE_REQUEST", {"strategy_id": STRATEGY_ID, "include_trades": True})
            data = reply["data"]
            return data if len(data["trades"]) == expected else None
        data = self._wait(performance, "every closed trade to be journaled")
        data["bars"] = bar_count
        data["open_positions"] = self.client.request("STATUS_REQUEST")["data"]["positions"]
        if strategy_bars:
            series = self.service.directory.get(f"strategy:{STRATEGY_ID}").proxy().bars.get(timeout=SYNC_TIMEOUT_S)
            data["strategy_bars"] = {name: values.tolist() for name, values in series.columns().items()}
        return data

    # --- synchronisation ---
    # Every wait is on the status board (StatusBoard.wait: woken by each post of the keys its
    # condition reads - not by the quotes, clock and terminal posts of every tick -, no polling,
    # no round trip through an actor's mailbox), except for plans that act on quotes (below).
    def _push(self, ticks: list, hold_from: int | None = None) -> None:
        """`ticks` into the terminal, then until the executor has settled. With `hold_from`,
        ticks[hold_from:] go in at once only if ticks[:hold_from] changed nothing at the trade
        server (or its positions matter to no exit acting on quotes); else the executor settles
        first, as if they were two pushes."""
        if hold_from is not None and self.quotes_matter:  # every quote is waited for: two pushes
            if hold_from:
                self._push(ticks[:hold_from])
            ticks, hold_from = ticks[hold_from:], None
        self.feed.push(ticks, hold_from=hold_from)
        self._drained()
        if self.feed.held:
            self._settle()
            self.feed.release()
            self._drained()
        self._settle()

    def _drained(self) -> None:
        if not self.feed.wait_drained(SYNC_TIMEOUT_S):
            raise ReplayError("the replay terminal stopped taking ticks")

    def _wait_bar(self, bar_time: int) -> None:
        """Until the strategy has evaluated the bar and the account has handled what it said
        (a strategy tells its bar after its intents), then until what that caused has settled."""
        self._wait(lambda: (self.service.board.get(f"strategy:{STRATEGY_ID}", {}).get("last_bar") or 0) >= bar_time
                   and self._account().get("bars", {}).get(STRATEGY_ID, 0) >= bar_time,
                   f"the strategy to evaluate the bar of {bar_time}", keys=(STRATEGY_KEY, ACCOUNT_KEY))
        self._settle()

    def _settle(self) -> None:
        """Until the executor has heard the terminal's last trade and has nothing in flight."""
        if self.quotes_matter:
            # Exits that act on quotes: every quote told to the account must be handled, which
            # only its mailbox can say (a Ping behind them).
            account = self.service.directory.get(f"account:{REPLAY_LOGIN}")
            for _ in range(2):  # orders sent while settling change the terminal again: settle twice
                self._wait(self._synced, "the executor to see the terminal's positions", keys=POSITIONS_KEY)
                account.ask(m.Ping(), timeout=SYNC_TIMEOUT_S)
                self._wait(self._caught_up, "orders in flight to complete", keys=(POSITIONS_KEY, ACCOUNT_KEY))
            return
        self._wait(self._caught_up, "the executor to see the terminal's positions and finish its orders",
                   keys=(POSITIONS_KEY, ACCOUNT_KEY))

    def _synced(self) -> bool:
        """The Terminal has heard the terminal's positions as they are now."""
        told = self.service.board.get(f"positions_seq:{REPLAY_LOGIN}")
        return told is not None and told[1] == self.service.sim.server.version

    def _caught_up(self) -> bool:
        """Synced, the account has applied that snapshot, and it has no order or close job running.
        (The trade server's version moves when an order fills, before its reply: an order done
        but whose snapshot is still on its way is not caught up.)"""
        told = self.service.board.get(f"positions_seq:{REPLAY_LOGIN}")
        account = self._account()
        return (told is not None and told[1] == self.service.sim.server.version
                and account.get("snapshot_seq", 0) >= told[0] and account.get("busy") == 0)

    def _account(self) -> dict[str, Any]:
        return self.service.board.get(f"account:{REPLAY_LOGIN}", {})

    def _wait(self, condition: Callable[[], Any], what: str, keys: str | tuple[str, ...] | None = None) -> Any:
        """Until `condition()`; checked again on each post of `keys` (the board keys it reads:
        StatusBoard.wait), of any key without them."""
        value = self.service.board.wait(condition, SYNC_TIMEOUT_S, keys=keys)
        if not value:
            logger.error("replay stalled waiting for {}", what)
            raise ReplayError(f"replay stalled waiting for {what}")
        return value
