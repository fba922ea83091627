"""The RiskGuard's market feed: keeps its RiskContext (sessions, news, recent closes) fresh by
asking the terminal ahead of need on every tick, and adds what is known to an order's book.

It also tells the server's time: order rates and the time checks count on the server's
clock, as the market lives it, so a minute of a fast simulator or of a replay is a minute.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from actors import messages as m
from actors.risk.context import Fetch, RiskContext
from actors.risk.model import Book
from actors.runtime.directory import Directory
from actors.runtime.status_board import StatusBoard
from actors.terminal.server_clock import server_now


class GuardMarket:
    def __init__(self, *, login: int, board: StatusBoard, directory: Directory) -> None:
        self.login = login
        self.board = board
        self.directory = directory
        self.context = RiskContext()  # sessions, calendar and closes, fetched ahead of need
        self.terminal_boot: str | None = None
        self._symbols_of: tuple[Any, frozenset[str]] = (None, frozenset())  # a CheckOrder's positions, their symbols

    def tz_offset_s(self) -> int:
        return int(self.board.get(f"terminal:{self.login}", {}).get("tz_offset_s", 0))

    def server_utc_ms(self) -> int | None:
        return server_now(self.board.get(f"clock:{self.login}"), time.monotonic(),
                          latest_tick_ms=self.board.get(f"last_tick:{self.login}"))

    def with_market(self, book: Book, msg: m.CheckOrder, server_ms: int | None) -> Book:
        """The book with what the time, news and correlation checks read (None: not known yet)."""
        if self._symbols_of[0] is not msg.positions:  # the same positions as the last order's: the same symbols
            held = frozenset(p[0] for p in msg.positions)
            self.context.want(held)
            self._symbols_of = (msg.positions, held)
        symbols = self._symbols_of[1] | {msg.symbol}
        self.context.want((msg.symbol,))
        tz_offset_s = self.tz_offset_s()
        return dataclasses.replace(
            book, server_time_ms=None if server_ms is None else server_ms + tz_offset_s * 1000,
            sessions=self.context.sessions_of(msg.symbol), news=self.context.server_news(tz_offset_s),
            closes=self.context.closes_for(symbols), correlation=self.context.correlations().rho)

    def refresh(self, limits: dict[str, Any]) -> None:
        """On the guard's tick: ask the terminal for whatever is due."""
        terminal = self.board.get(f"terminal:{self.login}", {})
        if not terminal.get("connected"):
            return
        if terminal.get("boot") != self.terminal_boot:
            self.terminal_boot = terminal.get("boot")
            self.context.reset_terminal()
        self.context.set_symbols(self.board.get(f"symbols:{self.login}", {}))
        held = (p.get("symbol") for p in self.board.get(f"account:{self.login}", {}).get("positions", ()))
        traded = (s.get("symbol") for s in self.board.get("strategies", ()) if s.get("account") in (None, self.login))
        self.context.want([*held, *traded])
        self.context.set_timeframe(limits.get("correlation_timeframe") or "H1")
        count = int(limits.get("correlation_window") or 100) + 2  # + the forming bar, + one for returns
        for fetch in self.context.due(self.server_utc_ms(), time.monotonic(), count):
            self.directory.tell(f"terminal:{self.login}", self._request(fetch))

    def _request(self, fetch: Fetch) -> Any:
        me = f"risk:{self.login}"
        match fetch.kind:
            case "sessions":
                return m.FetchSessions(account=self.login, symbols=fetch.args, reply_to=me)
            case "calendar":
                return m.FetchCalendar(account=self.login, date_from=fetch.args[0], date_to=fetch.args[1],
                                       reply_to=me)
            case _:
                symbol, timeframe, count = fetch.args
                return m.FetchRates(account=self.login, symbol=symbol, timeframe=timeframe, count=count, reply_to=me)
