"""Paper trading on real prices: the simulated trade server fed by a real EA's ticks.

This module owns `PaperTerminal`: an `EaPriceSource` (the real EA's prices, symbols and
history) and, once that source is ready, a `SimTerminal` that trades on them under the real
broker's symbol terms, on the real clock, with a paper account. It starts and stops like a
`SimTerminal`, so the service and `run.py sim` use either the same way.

The simulated terminal is created only when the real EA has said hello and given its
symbols and history; until then nothing connects to the executor, so it never hears a hello
(nor a heartbeat, which would make it introduce itself). A hello before that would announce
an account whose symbols, history and quotes do not exist yet: the executor would reconcile
and let strategies fetch history from a terminal that cannot answer. Waiting is what a real
terminal does while it logs in.

When the real prices go stale (three missed heartbeats) the simulated terminal quotes
nothing rather than invent prices, and reports its trade server disconnected (10031), as a
real terminal that lost its broker does: no paper fill at a stale price.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Mapping

from loguru import logger

from bridge import protocol
from bridge.sim.ea_prices import DEFAULT_PRICES_CTL, DEFAULT_PRICES_MD, EaPriceSource, Tick
from bridge.sim.clock import SimClock
from bridge.sim.terminal import DEFAULT_LOGIN, START_TIMEOUT_S, SimTerminal
from bridge.symbols import SymbolSpec

WAIT_SLICE_S = 0.2
NOT_OPTIONS = frozenset({"clock", "speed", "start_ms", "feed", "symbols", "tz_offset_s"})


class PaperTerminal:
    """A simulated terminal for paper account `login`, quoting what one real EA quotes."""

    def __init__(self, *, ctl_endpoint: str = protocol.DEFAULT_CTL_ENDPOINT,
                 md_endpoint: str = protocol.DEFAULT_MD_ENDPOINT, prices_ctl: str = DEFAULT_PRICES_CTL,
                 prices_md: str = DEFAULT_PRICES_MD, login: int = DEFAULT_LOGIN, history_minutes: int = 1000,
                 fixtures: Mapping[str, SymbolSpec] | None = None,
                 on_started: Callable[[SimTerminal], None] | None = None, **sim_options: Any) -> None:
        """`fixtures` stand in for what the real symbol_info lacks (default: the built-in
        symbols); `on_started` is called with the SimTerminal once it exists (to set faults);
        `sim_options` go to SimTerminal (seed, server_options, calendar...), but not what the
        real EA decides: the clock, the symbols, the prices and the broker's UTC offset."""
        fixed = sorted(set(sim_options) & NOT_OPTIONS)
        if fixed:
            raise ValueError(f"a paper terminal takes {', '.join(fixed)} from the real EA, not as an option")
        self.ctl_endpoint, self.md_endpoint, self.login = ctl_endpoint, md_endpoint, login
        self.source = EaPriceSource(ctl_endpoint=prices_ctl, md_endpoint=prices_md,
                                    history_minutes=history_minutes, fixtures=fixtures)
        self.clock = SimClock(1.0)  # real prices run on the real clock
        self.sim: SimTerminal | None = None
        self._sim_args = dict(sim_options, history_minutes=history_minutes)
        self._on_started = on_started
        self._quoting = True
        self._stop = threading.Event()
        self._starter: threading.Thread | None = None

    @property
    def server(self) -> Any:
        """The paper trade server, or None until the real EA is ready."""
        return self.sim.server if self.sim is not None else None

    # --- lifecycle ---
    def start(self, timeout_s: float = START_TIMEOUT_S) -> PaperTerminal:
        """Bind the price endpoints (RuntimeError if they are taken) and wait for the real EA
        in the background; the simulated terminal starts as soon as it is ready."""
        self._stop.clear()
        self.source.start(timeout_s)
        self._starter = threading.Thread(target=self._start_when_ready, name=f"paper-{self.login}", daemon=True)
        self._starter.start()
        logger.info("paper terminal {}: waiting for the real EA's prices on {} / {} before it connects to {}",
                    self.login, self.source.ctl_endpoint, self.source.md_endpoint, self.ctl_endpoint)
        return self

    def stop(self, timeout_s: float = START_TIMEOUT_S) -> None:
        self._stop.set()
        starter, self._starter = self._starter, None
        if starter is not None and starter is not threading.current_thread():
            starter.join(timeout_s)
        if self.sim is not None:
            self.sim.stop(timeout_s)
        self.source.stop(timeout_s)

    def run_forever(self) -> None:
        """Run until `stop()` or Ctrl-C (the `run.py sim --prices-from-ea` process)."""
        self.start()
        try:
            while not self._stop.wait(WAIT_SLICE_S):
                pass
        except KeyboardInterrupt:
            logger.info("paper terminal {} stopped by keyboard interrupt", self.login)
        finally:
            self.stop()

    def _start_when_ready(self) -> None:
        while not self.source.ready.wait(WAIT_SLICE_S):
            if self._stop.is_set():
                return
        if self._stop.is_set():
            return
        source = self.source
        try:
            # The broker's UTC offset: bars, DAY expiry, swaps and sessions follow its midnight.
            sim = SimTerminal(ctl_endpoint=self.ctl_endpoint, md_endpoint=self.md_endpoint, login=self.login,
                              clock=self.clock, symbols=source.symbols, tz_offset_s=source.tz_offset_s,
                              feed=self, **self._sim_args)
            if self._on_started is not None:
                self._on_started(sim)
            self.sim = sim  # before its loop runs: advance() may switch its connection
            sim.start()
        except Exception:
            self.sim = None
            logger.exception("paper terminal {} could not start its simulated terminal", self.login)
            return
        logger.info("paper terminal {} trading on real prices of account {}: {}", self.login, source.login,
                    ", ".join(sorted(source.symbols)))

    # --- the feed interface of its SimTerminal (called in the terminal's thread) ---
    def advance(self, to_ms: int) -> list[Tick]:
        quoting = not self.source.stale
        if quoting != self._quoting:
            self._quoting = quoting
            self._on_quoting_changed(quoting)
        return self.source.advance(to_ms)

    def history_m1(self, symbol: str, minutes: int) -> Any:
        return self.source.history_m1(symbol, minutes)

    def _on_quoting_changed(self, quoting: bool) -> None:
        if self.sim is not None:
            self.sim.connected = quoting
        symbols = ", ".join(sorted(self.source.symbols))
        if quoting:
            logger.info("paper terminal {}: real prices are back; ticking {} again", self.login, symbols)
        else:
            logger.warning("paper terminal {}: real prices stale (the real EA is silent): no ticks for {} until it "
                           "is back, none invented; trade requests get 10031 meanwhile", self.login, symbols)

