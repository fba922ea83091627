"""The RiskGuard actor: one per account; approves or refuses every order with reasons.

It owns the account's limits (demo or live defaults by the account type the terminal
reports, then the operator's updates, validated and journaled) and its trading state. An
update that loosens a live account beyond the live defaults needs the request's TOTP code,
checked here because only the owner of the current limits can tell loosening from tightening. The Account asks
it synchronously before each order; RiskGuard never calls the Account back, so the ask
cannot deadlock.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from loguru import logger

from actors import messages as m
from actors import errors
from actors.risk import checks as rc
from actors.runtime.confirmation import ConfirmationRequired, OtpVerifier
from actors.runtime.directory import Directory
from actors.runtime.supervision import Supervised
from actors.runtime.kill_switch import LOCK_SECONDS, KillGate
from actors.risk.book import RiskBook
from actors.risk.guard_state import TradingStateControl
from actors.risk.context import Fetch, RiskContext
from actors.terminal.server_clock import server_now
from actors.risk.limits import LimitsError, coerce, loosened_keys, validate_limits
from actors.risk.model import OrderToCheck
from actors.runtime.status_board import StatusBoard
from actors.risk.trading_state import TradingState
from actors.runtime.ticker import Ticker
from bridge import mt5

JOURNAL_TIMEOUT_S = 5.0
CONTEXT_REFRESH_S = 1.0


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class RiskGuard(TradingStateControl, Supervised):
    def __init__(self, *, login: int, directory: Directory, board: StatusBoard, gate: KillGate,
                 otp: OtpVerifier | None = None, defaults: dict[str, dict[str, Any]] | None = None,
                 lock_s: float = LOCK_SECONDS) -> None:
        super().__init__(name=f"risk:{login}", parent="supervisor", directory=directory)
        self.login = login
        self.board = board
        self.gate = gate
        self.otp = otp or OtpVerifier(None)
        self.overrides: dict[str, Any] = {}
        self.configured_defaults = defaults or {}  # the service config's, per account type
        self.state = TradingState()  # ACTIVE / REDUCING / HALTED, with the breach lock
        self.lock_s = lock_s
        # Never from user input: the terminal tells. Until it has, the live rules apply (fail closed).
        self.account_type = "unknown"
        self.book = RiskBook()
        self.context = RiskContext()  # sessions, calendar and closes, fetched ahead of need
        self.terminal_boot: str | None = None
        self.ticker: Ticker | None = None

    def on_start(self) -> None:
        saved = self.directory.ask("journal", m.LoadRiskLimits(account=self.login), timeout=JOURNAL_TIMEOUT_S)
        self.overrides = dict(saved or {})
        self.state = TradingState.from_row(
            self.directory.ask("journal", m.LoadTradingState(account=self.login), timeout=JOURNAL_TIMEOUT_S))
        if self.state.state != rc.ACTIVE:
            logger.warning("account {} restored {}: {}", self.login, self.state.state, self.state.reason)
        self._post()
        self.ticker = Ticker(self.actor_ref, CONTEXT_REFRESH_S).start()

    def on_stop(self) -> None:
        if self.ticker:
            self.ticker.stop()

    def limits(self) -> dict[str, Any]:
        return {**self.defaults(), **self.overrides}

    def defaults(self) -> dict[str, Any]:
        account_type = self._rules_type()
        return {**rc.default_limits(account_type), **self.configured_defaults.get(account_type, {})}

    def _rules_type(self) -> str:
        return "demo" if self.account_type == "demo" else "live"

    def on_receive(self, message: Any) -> Any:
        match message:
            case m.CheckOrder():
                return self._check(message)
            case m.AccountInfoUpdated(info=info):
                account_type = "live" if info.get("trade_mode") == mt5.ACCOUNT_TRADE_MODE_REAL else "demo"
                if account_type != self.account_type:
                    self.account_type = account_type
                    logger.info("account {} is {}: {} limits apply", self.login, account_type, account_type)
                    self._post()
                self._on_account(info)
            case m.UpdateRiskLimits():
                self._update_limits(message)
            case m.SetTradingState():
                self._set_trading_state(message)
            case m.Tick():
                self._refresh_context()
            case m.SessionsFetched(symbols=symbols, sessions=sessions):
                self.context.on_sessions(symbols, sessions if message.ok else None)
                self._post()
            case m.CalendarFetched(date_from=date_from, events=events):
                self.context.on_calendar(date_from, events if message.ok else None)
                self._post()
            case m.RatesFetched(symbol=symbol, rates=rates):
                self.context.on_rates(symbol, rates if message.ok else None)
                self._post()
            case _:
                return super().on_receive(message)
        return None

    def _update_limits(self, msg: m.UpdateRiskLimits) -> None:
        current, defaults = self.limits(), self.defaults()
        cleaned: dict[str, Any] = {}
        try:
            for key, value in msg.limits.items():
                field = f"data.limits.{key}"
                cleaned[key] = coerce(key, value)
            field = "data.limits"
            _, needs_otp = validate_limits(current, cleaned, self._rules_type(), defaults)
        except LimitsError as exc:
            return self._reply_error(msg.corr, errors.BAD_REQUEST, str(exc), {"field": field})
        if needs_otp:
            keys = loosened_keys(current, cleaned, defaults)
            try:
                self.otp.confirm(msg.otp, f"UPDATE_RISK_LIMITS loosens {', '.join(keys)} on live account "
                                          f"{self.login} beyond the live defaults")
            except ConfirmationRequired as exc:
                return self._reply_error(msg.corr, errors.CONFIRMATION_REQUIRED, str(exc),
                                         {"accounts": [self.login], "keys": keys})
        self.overrides.update(cleaned)
        self.context.set_timeframe(self.limits().get("correlation_timeframe") or "H1")
        self.directory.tell("journal", m.SaveRiskLimits(account=self.login, limits=self.overrides))
        logger.info("account {} risk limits now {}", self.login, self.limits())
        self._post()
        self.directory.tell("control", m.CommandReply(corr=msg.corr, ok=True, data={
            "account": self.login, "limits": self.limits()}))

    def _kill_switch(self) -> bool:
        return self.gate.tripped or self.board.get("supervisor", {}).get("kill_switch", {}).get("active", False)

    def _check(self, msg: m.CheckOrder) -> m.RiskDecision:
        order = OrderToCheck(strategy_id=msg.strategy_id, symbol=msg.symbol, side=msg.side, volume=msg.volume,
                             closing=msg.closing, volume_step=msg.volume_step, volume_min=msg.volume_min)
        # Order rates count on the server's clock, as the market lives it: a minute of a fast
        # simulator or of a replay is a minute, not the wall-clock instant it took.
        server_ms = self._server_utc_ms()
        now = _now_ms() if server_ms is None else server_ms
        book = self.book.book(msg, now_ms=now, trading_state=self.state.state, kill_switch=self._kill_switch())
        book = dataclasses.replace(self._with_market(book, msg, server_ms), trading_state_reason=self.state.reason)
        result = rc.evaluate(order, book, self.limits())
        if result.approved and not msg.closing:
            self.book.record_sent(now, msg.strategy_id)  # counted for the order-rate limits
        # The code is decided here, by the rule that refused, so no reader needs the reasons' text.
        locked = rc.check_kill_switch(order, book, self.limits()) is not None
        return m.RiskDecision(approved=result.approved, reasons=result.reasons, warnings=result.warnings,
                              volume=result.volume, code=errors.TRADING_LOCKED if locked else errors.RISK_REJECTED)

    # --- the market context of the time, news and correlation checks ---
    def _tz_offset_s(self) -> int:
        return int(self.board.get(f"terminal:{self.login}", {}).get("tz_offset_s", 0))

    def _server_utc_ms(self) -> int | None:
        quotes = self.board.with_prefix(f"quote:{self.login}:")
        latest_tick = max((q[0] for q in quotes.values() if q), default=None)
        return server_now(self.board.get(f"clock:{self.login}"), time.monotonic(), latest_tick_ms=latest_tick)

    def _with_market(self, book: Any, msg: m.CheckOrder, server_ms: int | None) -> Any:
        """The book with what the time, news and correlation checks read (None: not known yet)."""
        symbols = {msg.symbol, *(p[0] for p in msg.positions)}
        self.context.want(symbols)
        tz_offset_s = self._tz_offset_s()
        return dataclasses.replace(
            book, server_time_ms=None if server_ms is None else server_ms + tz_offset_s * 1000,
            sessions=self.context.sessions_of(msg.symbol), news=self.context.server_news(tz_offset_s),
            closes=self.context.closes_for(symbols))

    def _refresh_context(self) -> None:
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
        limits = self.limits()
        self.context.set_timeframe(limits.get("correlation_timeframe") or "H1")
        count = int(limits.get("correlation_window") or 100) + 2  # + the forming bar, + one for returns
        for fetch in self.context.due(self._server_utc_ms(), time.monotonic(), count):
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

    def _on_account(self, info: dict[str, Any]) -> None:
        server_ms = self._server_utc_ms()
        self.book.on_account(info, _now_ms() if server_ms is None else server_ms, self._tz_offset_s())
        self._judge_breaches()

    def _post(self) -> None:
        self.board.post(f"risk:{self.login}", {"limits": self.limits(), "account_type": self.account_type,
                                               **self.state.as_status(), "market": self.context.summary()})
