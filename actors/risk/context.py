"""What the RiskGuard knows of the market (pure): sessions, the news calendar, recent closes.

The time, news and correlation checks need the terminal's view of the world, which only
arrives asynchronously (the RiskGuard answers the Account synchronously and cannot wait on
the terminal). So this context is refreshed ahead of need: `due()` says what to ask the
terminal for, the answers are folded in with `on_*`, and `for_order()` gives the checks what
is known now, computed once per change and shared by every order until the next: the closes
(and the correlation of each pair of them, `correlations`) change once per bar of the
correlation timeframe, the news on the server's clock once per calendar answer or offset
change. Every refresh is bounded: sessions once per terminal symbol list, the calendar
a day ahead refreshed every hour of server time, closes once per bar of `timeframe` for the
symbols that matter (all of them on a small terminal, else those traded or held).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bridge import protocol
from bridge.candles import bar_open_time
from actors.risk.correlation import Correlations
from actors.risk.model import NewsEvent, Session

HOUR_MS = 3_600_000
CALENDAR_BEHIND_MS = 2 * HOUR_MS  # events just past still blank the minutes after them
CALENDAR_AHEAD_MS = 26 * HOUR_MS
CALENDAR_REFRESH_MS = HOUR_MS  # of server time
RETRY_S = 5.0  # wall seconds before asking again for what did not come back
ALL_SYMBOLS_UP_TO = 50  # a terminal listing more: only the symbols traded or held get closes
SESSIONS_PER_REQUEST = 200


@dataclass(frozen=True, slots=True)
class Fetch:
    """One request to the terminal: kind "sessions" (symbols), "calendar" (from, to) or
    "rates" (symbol, timeframe, count)."""
    kind: str
    args: tuple


@dataclass
class RiskContext:
    timeframe: str = "H1"
    symbols: tuple[str, ...] = ()  # the terminal's
    wanted: set[str] = field(default_factory=set)  # traded, held or asked about
    sessions: dict[str, tuple[Session, ...]] = field(default_factory=dict)
    news: tuple[NewsEvent, ...] = ()  # times in ms UTC
    closes: dict[str, tuple[float, ...]] = field(default_factory=dict)
    _calendar_from_ms: int | None = None  # server time (UTC) of the last calendar answer's start
    _closes_bar: dict[str, int] = field(default_factory=dict)  # the bar (server clock) the closes are fresh for
    _bar_asked: dict[str, int] = field(default_factory=dict)
    _asked: dict[tuple, float] = field(default_factory=dict)  # what is in flight, since when (wall s)
    _correlations: Correlations | None = None  # over `closes` as they are now; None once they change
    _server_news: tuple[int, tuple[NewsEvent, ...]] | None = None  # (tz offset, `news` on that clock)

    # --- what the terminal offers and what matters ---
    def set_symbols(self, names: Iterable[str]) -> None:
        names = tuple(sorted(names))
        if names != self.symbols:
            self.symbols = names
            self.sessions = {k: v for k, v in self.sessions.items() if k in names}

    def set_timeframe(self, timeframe: str) -> None:
        """The correlation timeframe changed: the closes held are of the wrong bars."""
        if timeframe != self.timeframe:
            self.timeframe = timeframe
            self.closes.clear()
            self._correlations = None
            self._closes_bar.clear()
            self._asked = {k: v for k, v in self._asked.items() if k[0] != "rates"}

    def want(self, names: Iterable[str]) -> None:
        self.wanted.update(n for n in names if n)

    def reset_terminal(self) -> None:
        """A new terminal instance: sessions and history may differ; ask again."""
        self.sessions.clear()
        self._closes_bar.clear()
        self._calendar_from_ms = None
        self._asked.clear()

    # --- what to ask for ---
    def due(self, server_ms: int | None, wall_s: float, count: int) -> list[Fetch]:
        fetches: list[Fetch] = []
        missing = [s for s in self.symbols if s not in self.sessions]
        for start in range(0, len(missing), SESSIONS_PER_REQUEST):
            self._ask(fetches, Fetch("sessions", tuple(missing[start:start + SESSIONS_PER_REQUEST])), wall_s)
        if server_ms is None:
            return fetches
        if self._calendar_from_ms is None or server_ms - self._calendar_from_ms >= CALENDAR_REFRESH_MS:
            self._ask(fetches, Fetch("calendar", (server_ms - CALENDAR_BEHIND_MS, server_ms + CALENDAR_AHEAD_MS)),
                      wall_s, key=("calendar",))
        bar = bar_open_time(server_ms, self.timeframe)
        for symbol in self._closes_symbols():
            if self._closes_bar.get(symbol, -1) < bar:
                self._bar_asked[symbol] = bar
                self._ask(fetches, Fetch("rates", (symbol, self.timeframe, count)), wall_s, key=("rates", symbol))
        return fetches

    def _closes_symbols(self) -> list[str]:
        if len(self.symbols) <= ALL_SYMBOLS_UP_TO:
            return list(self.symbols)
        return sorted(self.wanted & set(self.symbols))

    def _ask(self, fetches: list[Fetch], fetch: Fetch, wall_s: float, key: tuple | None = None) -> None:
        key = key or (fetch.kind, fetch.args)
        asked = self._asked.get(key)
        if asked is None or wall_s - asked >= RETRY_S:
            self._asked[key] = wall_s
            fetches.append(fetch)

    # --- answers (a failed request, None, is asked again after RETRY_S) ---
    def on_sessions(self, symbols: Sequence[str], answer: Mapping[str, Any] | None) -> None:
        if answer is None:
            return
        self._asked.pop(("sessions", tuple(symbols)), None)
        for symbol, rows in (answer or {}).items():
            self.sessions[symbol] = tuple(_sessions(rows))

    def on_calendar(self, date_from: int, events: Sequence[Mapping[str, Any]] | None) -> None:
        """The answer for the window starting at `date_from` (None: the request failed)."""
        if events is None:
            return
        self._asked.pop(("calendar",), None)
        self._calendar_from_ms = date_from + CALENDAR_BEHIND_MS
        self._server_news = None
        self.news = tuple(NewsEvent(time_ms=int(e["time"]), currency=str(e.get("currency", "")),
                                    impact=int(e.get("importance", 0)), title=str(e.get("event_name", "")))
                          for e in events if isinstance(e, Mapping) and isinstance(e.get("time"), int))

    def on_rates(self, symbol: str, rates: Mapping[str, Sequence[Any]] | None) -> None:
        if rates is None:
            return
        self._asked.pop(("rates", symbol), None)
        # Fresh for the bar it was asked in, even when the market is closed and the last bar is
        # Friday's: asking again before the next bar would bring the same closes.
        self._closes_bar[symbol] = self._bar_asked.get(symbol, 0)
        closes = list(rates.get("close") or ())
        self.closes[symbol] = tuple(float(c) for c in closes[:-1])  # the last bar is still forming
        self._correlations = None

    def summary(self) -> dict[str, int]:
        """How much the checks know: symbols with sessions and with closes, calendar events."""
        return {"sessions": len(self.sessions), "closes": len(self.closes), "news": len(self.news)}

    # --- what the checks see ---
    def server_news(self, tz_offset_s: int) -> tuple[NewsEvent, ...]:
        """The events on the server's clock, as the checks compare them with server time."""
        if self._server_news is None or self._server_news[0] != tz_offset_s:
            shift = tz_offset_s * 1000
            self._server_news = (tz_offset_s, tuple(
                NewsEvent(time_ms=e.time_ms + shift, currency=e.currency, impact=e.impact, title=e.title)
                for e in self.news))
        return self._server_news[1]

    def sessions_of(self, symbol: str) -> tuple[Session, ...] | None:
        return self.sessions.get(symbol)

    def closes_for(self, names: Iterable[str]) -> dict[str, tuple[float, ...]]:
        return {n: self.closes[n] for n in names if n in self.closes}

    def correlations(self) -> Correlations:
        """The pairs' correlations over the closes held now, shared until they change."""
        if self._correlations is None:
            self._correlations = Correlations(dict(self.closes))
        return self._correlations


def _sessions(rows: Any) -> list[Session]:
    """The EA's windows read by the bridge's rule (protocol.session_span): (day, start, end) with
    an end past 86 400 in the next day. A malformed window is left out: the symbol looks closed
    then, which refuses orders rather than letting one through."""
    out: list[Session] = []
    for row in rows if isinstance(rows, (list, tuple)) else ():
        try:
            day, from_s, to_s = row
            if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
                raise ValueError(f"day {day!r}")
            out.append((day, *protocol.session_span(from_s, to_s)))
        except (TypeError, ValueError):
            continue
    return out
