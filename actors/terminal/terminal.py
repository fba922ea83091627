"""The Terminal actor: one MT5 connection (one account), speaking the bridge protocol.

It turns the account's intentions (`SubmitOrder`, `FetchRates`, `FetchDeals`) into bridge
requests with ids, keeps the link alive (pings, silence detection), reconciles the account
view on every new EA instance, and turns what the EA reports into messages for the Account
and MarketData. Orders pass the kill gate here, the last point before they leave.

What reaches it was checked by the Gateway (bridge.shapes); it checks in addition that a
reply answers the type of request it was sent for. A refused message is counted (the
`rejected_peer_messages` of its status), logged at most once per type every few seconds,
and the request it answered fails at once with the reason. Should a checked message still
break a handler, that is caught, counted and logged the same way: one EA message never
restarts the actor.
"""

from __future__ import annotations

import time
from typing import Any

from loguru import logger

from actors import messages as m
from actors.runtime.directory import Directory
from actors.runtime.generations import Generations
from actors.runtime.supervision import Supervised
from actors.terminal.ea_link import EaLink, PendingRequest
from actors.terminal.handshake import Handshake, step_of
from actors.runtime.kill_switch import KillGate
from actors.terminal.server_clock import ServerClock, zone_from_hb, zone_from_hello
from actors.runtime.status_board import StatusBoard
from actors.runtime.ticker import Ticker
from bridge import mt5, protocol
from bridge.server_tz import ServerTz
from bridge.shapes.messages import kind_of
from bridge.shapes.refusals import Refusals

# A Fetch answered NOT_READY ("not ready, retry": the EA's history is still synchronising) is
# asked again after these delays, then answered with the EA's last reason.
NOT_READY_BACKOFF_S = (0.5, 1.0, 2.0, 4.0)
FETCHES = (m.FetchRates, m.FetchTicks, m.FetchDeals, m.FetchDealsSince, m.FetchSessions, m.FetchCalendar)
# After the link comes up, orders wait for the first pong: the EA's dead-man refuses trade
# requests until it has heard a ping again. One not confirmed in this time is not sent.
HOLD_ORDERS_S = 5.0


class Terminal(Supervised):
    # Orders leave before the EA's messages queued ahead of them (actors.runtime.mailbox): after a
    # burst of fills the replies and events of the first orders would hold up the last ones.
    urgent_messages = (m.SubmitOrder,)

    def __init__(self, *, login: int, directory: Directory, board: StatusBoard, gate: KillGate,
                 generations: Generations | None = None) -> None:
        super().__init__(name=f"terminal:{login}", parent="supervisor", directory=directory)
        self.login = login
        self.board = board
        self.gate = gate
        self.generations = generations or Generations()  # the Account's incarnation: older ones are fenced off
        self.link = EaLink(login)
        self._introducing = False
        self.positions: tuple = ()  # the terminal's last word on open positions and orders
        self.orders: tuple = ()
        self.positions_version: int | None = None  # the EA's counter of that word
        self.ticker: Ticker | None = None
        self.account_name = f"account:{login}"
        self.clock = ServerClock()  # the terminal's server time, for the time-based risk checks
        self.zone: ServerTz | None = None  # the server's offsets over time, as the EA has used them
        self._not_ready_tries: dict[str, int] = {}  # request id -> NOT_READY answers before it
        self._not_ready_later: list[tuple[float, int, PendingRequest]] = []  # (when, tries, request)
        self.refusals = Refusals()  # EA messages refused or unusable, by type
        self._tracebacks = Refusals()  # when a handler's traceback is worth the debug log again
        self._answering: PendingRequest | None = None  # the request whose reply is being handled
        self.handshake = Handshake()  # the reconciliation's answers still awaited, asked again when lost
        self._held: list[tuple[float, m.SubmitOrder]] = []  # (until, order) waiting for the link's first pong

    def on_start(self) -> None:
        self.ticker = Ticker(self.actor_ref, 0.25).start()
        self._post_status(connected=False)

    def on_stop(self) -> None:
        if self.ticker:
            self.ticker.stop()

    def on_receive(self, message: Any) -> Any:
        match message:
            case m.EaMessage(message=body):
                self._guarded(body, time.monotonic())
            case m.PeerMessageRefused(type=kind, reason=reason, id=request_id):
                self._refused(kind, reason, time.monotonic(), request_id)
            case m.SubmitOrder():
                self._submit(message, time.monotonic())
            case m.RefreshPositions():
                self._send(protocol.POSITIONS_GET, purpose="positions")
            case m.FetchRates():
                self._send(protocol.COPY_RATES_FROM_POS, purpose=message, symbol=message.symbol,
                           timeframe=message.timeframe, start_pos=0, count=message.count)
            case m.FetchTicks():
                self._send(protocol.COPY_TICKS_FROM, purpose=message, symbol=message.symbol,
                           date_from=message.date_from, count=message.count, flags=mt5.COPY_TICKS_ALL)
            case m.FetchDeals():
                self._send(protocol.HISTORY_DEALS_GET, purpose=message, position=message.position)
            case m.FetchDealsSince():
                self._send(protocol.HISTORY_DEALS_GET, purpose=message, date_from=message.date_from)
            case m.FetchSessions():
                self._send(protocol.SYMBOL_SESSIONS, purpose=message, symbols=list(message.symbols))
            case m.FetchCalendar():
                self._send(protocol.CALENDAR, purpose=message, date_from=message.date_from, date_to=message.date_to)
            case m.Tick():
                self._on_tick(time.monotonic())
            case _:
                return super().on_receive(message)
        return None

    # --- inbound ---
    def _guarded(self, body: dict[str, Any], now: float) -> None:
        """The last line of defence: a checked message that still breaks a handler is refused
        like a malformed one (and the request it answered fails); the actor keeps running."""
        try:
            self._on_ea(body, now)
        except Exception as exc:  # noqa: BLE001 - one EA message must not restart the actor
            kind = kind_of(body)
            if self._tracebacks.refuse(self.login, kind, now) is not None:
                logger.opt(exception=True).debug("terminal {}: handling a {} message failed", self.login, kind)
            pending, self._answering = self._answering, None
            self._refused(kind, f"could not be handled: {type(exc).__name__}: {exc}", now)
            if pending is not None:
                self._fail(pending, f"its answer could not be handled ({type(exc).__name__}: {exc})")

    def _refused(self, kind: str, reason: str, now: float, request_id: str = "") -> None:
        """Count and (rate-limited) log one refused EA message; fail the request it answered.
        A refused message does not count as hearing from the EA: an EA that says nothing usable
        lets the link drop, and order entry pauses."""
        unsaid = self.refusals.refuse(self.login, kind, now)
        if unsaid is not None:
            logger.warning("terminal {}: refused {} from the EA: {}{}", self.login, kind, reason,
                           f" ({unsaid} more refused since the last line)" if unsaid else "")
        self._post_refusals()
        pending = self.link.pending.pop(request_id, None) if request_id else None
        if pending is not None:
            self._fail(pending, f"its answer was refused ({reason})")

    def _fail(self, pending: PendingRequest, why: str) -> None:
        """`pending` ends without a usable answer: whoever waits for it learns why, now."""
        self._not_ready_tries.pop(pending.id, None)
        match pending.purpose:
            case m.SubmitOrder() as order:  # it may have filled: reconciliation decides, never a resend
                self.directory.tell(self.account_name, m.OrderResult(
                    account=self.login, client_order_id=order.client_order_id, ok=False,
                    error=f"UNKNOWN: {pending.type} {pending.id}: {why}; reconciliation decides"))
            case m.FetchRates() | m.FetchTicks() | m.FetchDeals() | m.FetchDealsSince() | m.FetchSessions() \
                    | m.FetchCalendar():
                self.directory.tell(pending.purpose.reply_to, self._fetched(pending.purpose, False, None, why))
            case ("introduce", _):
                self._introducing = False  # the next message from the EA asks again
            case _ if step_of(pending.purpose) is not None:
                self._again(pending, time.monotonic())

    def _on_ea(self, body: dict[str, Any], now: float) -> None:
        self.link.heard(now)
        self._read_clock(body, now)
        if not self.link.up and body.get("type") != protocol.HELLO and not self._introducing:
            # An EA mid-session (we restarted, or the link came back) will not say hello
            # again: ask who it is, then reconcile exactly as after a hello.
            self._introducing = True
            self._send(protocol.TERMINAL_INFO, purpose=("introduce", str(body.get("boot", ""))))
        if protocol.is_reply(body) and body.get("type") == protocol.PING and str(body.get("id")) not in self.link.pending:
            return self._on_pong(now)  # pings are not kept pending: a ping reply under a request's id is refused below
        if protocol.is_reply(body):
            pending = self.link.take_reply(body)
            if pending is not None and body["type"] != pending.type:
                self._refused(kind_of(body), f"a {body['type']!r} reply to {pending.type} request {pending.id}", now)
                self._fail(pending, f"it was answered with a {body['type']!r} reply")
            elif pending is not None:
                self._answering = pending
                self._on_reply(pending, body, now)
                self._answering = None
            return
        match body.get("type"):
            case protocol.HELLO:
                self._on_hello(body, now)
            case protocol.TRADE_TRANSACTION:
                pass  # checked at the Gateway, then unused: a positions snapshot follows every change, deals come from history
            case protocol.POSITIONS if isinstance(body.get("positions"), (list, tuple)):
                self.positions = tuple(body["positions"])
                self.positions_version = body.get("version")
                self._tell_snapshot()
            case protocol.ORDERS if isinstance(body.get("orders"), (list, tuple)):
                self.orders = tuple(body["orders"])
                self._tell_snapshot()
            case protocol.ACCOUNT:
                if isinstance(body.get("account"), dict):
                    self.directory.tell(self.account_name, m.AccountInfoUpdated(account=self.login, info=body["account"]))
            case protocol.TERMINAL_STATUS | protocol.LOG:
                logger.info("terminal {}: {}", self.login, {k: v for k, v in body.items() if k not in protocol.ENVELOPE_KEYS})
            case protocol.HB:
                self._set_zone(zone_from_hb(body, self.zone))

    def _read_clock(self, body: dict[str, Any], now: float) -> None:
        """hello, hb and pong carry the terminal's server_time (ms UTC)."""
        data = body.get("data") if body.get("type") == protocol.PING else body
        server_time = data.get("server_time") if isinstance(data, dict) else None
        if isinstance(server_time, int) and not isinstance(server_time, bool) and server_time > 0:
            self.clock.observe(server_time, now)
            self.board.post(f"clock:{self.login}", self.clock.snapshot())

    def _set_zone(self, zone: ServerTz | None) -> None:
        """Post the server's zone when it changed: MarketData aligns bars by it, and the offset
        now (`tz_offset_s` of the terminal's status) is what the time checks read."""
        if zone is None or zone == self.zone:
            return
        if self.zone is not None:
            logger.info("terminal {}: server UTC offset {} s since {}", self.login, zone.entries[-1][1],
                        zone.entries[-1][0])
        self.zone = zone
        self.board.post(f"tz:{self.login}", zone)
        offset = zone.offset_at(self.clock.utc_ms) if self.clock.utc_ms is not None else zone.entries[-1][1]
        self.board.post(f"terminal:{self.login}", {**self.board.get(f"terminal:{self.login}", {}),
                                                   "tz_offset_s": offset})

    def _on_hello(self, body: dict[str, Any], now: float) -> None:
        self._set_zone(zone_from_hello(body))
        was_up = self.link.up
        new_instance = self.link.on_hello(body, now)
        self._send(protocol.HELLO_ACK)
        if was_up and not new_instance:
            return  # a repeated hello of the EA we already reconciled with
        logger.info("terminal {} up (EA boot {}, tz offset {} s)", self.login, body.get("boot"), body.get("tz_offset_s"))
        self.handshake.begin()
        self._post_status(connected=True, hello=body)
        if isinstance(body.get("account"), dict):
            self.directory.tell(self.account_name, m.AccountInfoUpdated(account=self.login, info=body["account"]))
        # A ping first: the EA's dead-man may have tripped while the link was down, and orders
        # are held until its pong (`_submit`), so none is refused for a ping not yet heard.
        self.link.confirmed = False
        self._ping(now)
        # Reconcile: the account view is rebuilt from the terminal, never assumed.
        self._send(protocol.SYMBOLS_GET, purpose="symbols")
        self._send(protocol.ACCOUNT_INFO, purpose="account_info")
        self._send(protocol.POSITIONS_GET, purpose="positions")
        self._link_changed(True, "hello")

    def _on_reply(self, pending: PendingRequest, body: dict[str, Any], now: float) -> None:
        ok = bool(body.get("ok"))
        data = body.get("data")
        error = body.get("error") or [mt5.RES_E_FAIL, "no error text"]
        match pending.purpose:
            case m.SubmitOrder() as order:
                retcode = int(data.get("retcode", 0)) if ok and isinstance(data, dict) else 0
                self.directory.tell(self.account_name, m.OrderResult(
                    account=self.login, client_order_id=order.client_order_id, ok=ok, retcode=retcode,
                    result=data if ok else None, error="" if ok else f"{error[0]}: {error[1]}"))
            case m.FetchRates() | m.FetchTicks() | m.FetchDeals() | m.FetchDealsSince() | m.FetchSessions() \
                    | m.FetchCalendar():
                tries = self._not_ready_tries.pop(pending.id, 0)
                if protocol.is_not_ready(body) and tries < len(NOT_READY_BACKOFF_S):
                    self._not_ready_later.append((now + NOT_READY_BACKOFF_S[tries], tries + 1, pending))
                    return
                if protocol.is_not_ready(body):
                    logger.warning("terminal {}: {} still not ready after {} tries: {}", self.login, pending.type,
                                   tries + 1, error[1])
                self.directory.tell(pending.purpose.reply_to, self._fetched(pending.purpose, ok, data,
                                                                            "" if ok else str(error[1])))
            case ("introduce", boot):
                self._introducing = False
                if ok and isinstance(data, dict) and not self.link.up:
                    # Only what terminal_info means to say: its other keys are not a hello's.
                    self._on_hello({key: data[key] for key in ("tz_offset_s", protocol.TZ_HISTORY) if key in data}
                                   | {"boot": boot}, now)
            case "symbols" if ok:
                symbols = {s["name"]: s for s in data if isinstance(s, dict) and "name" in s}
                self.board.post(f"symbols:{self.login}", symbols)
                self.directory.tell(self.account_name, m.SymbolsUpdated(account=self.login, symbols=symbols))
            case "account_info" if ok:
                self.directory.tell(self.account_name, m.AccountInfoUpdated(account=self.login, info=data))
            case "positions" if ok:
                self._send(protocol.ORDERS_GET, purpose=("orders", tuple(data)))
            case ("orders", positions) if ok:
                self.positions, self.orders = positions, tuple(data)
                self._tell_snapshot()
            case _ if not ok:
                logger.warning("terminal {}: {} failed: {}", self.login, pending.type, error)
                self._again(pending, now)
        if ok and self.handshake.answered(pending.purpose):
            self._post_status(connected=self.link.up)
            if self.handshake.complete:
                logger.info("terminal {}: reconciled (symbols, account, positions and orders)", self.login)

    def _link_changed(self, connected: bool, reason: str) -> None:
        event = m.LinkStateChanged(account=self.login, connected=connected, boot=self.link.boot, reason=reason)
        self.directory.tell(self.account_name, event)
        self.directory.tell("market_data", event)  # history a strategy asked for before the link was up
        self.directory.publish(event)

    def _tell_snapshot(self) -> None:
        # Each snapshot is the whole state: posted before it is told, the newest one's number lets
        # an Account behind skip the older ones queued (the EA sends one after every trade). On the
        # process's monotonic clock, so a restarted Terminal's numbers still grow. With it the EA's
        # version of the positions: a replay knows from it that the executor has heard the last trade.
        seq = time.monotonic_ns()
        self.board.post(f"positions_seq:{self.login}", (seq, self.positions_version))
        self.directory.tell(self.account_name, m.PositionsSnapshot(account=self.login, positions=self.positions,
                                                                   orders=self.orders, seq=seq))

    # --- outbound ---
    def _send(self, type_: str, *, purpose: Any = None, id: str | None = None, **fields: Any) -> str:
        message = self.link.request(type_, time.monotonic(), purpose=purpose, id=id, **fields)
        self.directory.tell("gateway", m.SendToEa(account=self.login, message=message))
        return message["id"]

    def _submit(self, order: m.SubmitOrder, now: float) -> None:
        refusal = None
        if self.generations.stale(self.account_name, order.generation):
            # A zombie: an Account replaced after it hung (its thread still runs). Not sent, and
            # not answered either: the Account that sent it is gone, the new one never knew it.
            logger.error("terminal {}: order {} from {} generation {} refused: the running one is {}", self.login,
                         order.client_order_id, self.account_name, order.generation,
                         self.generations.current(self.account_name))
            return
        if self.gate.tripped and not order.closing:
            refusal = f"kill switch engaged ({self.gate.reason}): only closing orders may leave"
        elif not self.link.up:
            refusal = f"terminal {self.login} is not connected"
        if refusal:
            return self._not_sent(order, refusal)
        if not self.link.confirmed:
            self._held.append((now + HOLD_ORDERS_S, order))
            return
        # The client order id is the request id: a resend is recognised by the EA, never re-executed.
        request_id = order.client_order_id if not order.attempt else f"{order.client_order_id}~{order.attempt}"
        self._send(protocol.ORDER_SEND, purpose=order, id=request_id, request=order.request)

    def _not_sent(self, order: m.SubmitOrder, why: str) -> None:
        logger.warning("order {} not sent: {}", order.client_order_id, why)
        self.directory.tell(self.account_name, m.OrderResult(
            account=self.login, client_order_id=order.client_order_id, ok=False, error=why))

    def _on_pong(self, now: float) -> None:
        if self.link.confirmed or not self.link.up:
            return
        self.link.confirmed = True
        held, self._held = self._held, []
        for _, order in held:  # in arrival order; each passes the gate again
            self._submit(order, now)

    def _ping(self, now: float) -> None:
        self.link.last_ping = now
        message = self.link.envelope.message(protocol.PING, id=f"p{int(now * 1000)}")
        self.directory.tell("gateway", m.SendToEa(account=self.login, message=message))

    def _again(self, pending: PendingRequest, now: float) -> None:
        """A reconciliation request lost or refused: asked again with backoff while the link is up."""
        fields = {k: v for k, v in pending.message.items() if k not in protocol.ENVELOPE_KEYS and k != "type"}
        delay = self.handshake.lost(pending.type, pending.purpose, fields, now)
        if delay is not None:
            logger.warning("terminal {}: no usable answer to {}; asking again in {:g} s", self.login, pending.type,
                           delay)

    # --- time ---
    def _on_tick(self, now: float) -> None:
        if self.link.up and self.link.is_silent(now):
            self.link.up = False
            logger.error("terminal {} silent for {:.1f} s: link down, order entry paused", self.login,
                         now - self.link.last_heard)
            self._post_status(connected=False)
            self._link_changed(False, "heartbeat lost")
        if self.link.ping_due(now) and self.link.boot:
            self._ping(now)
        for pending in self.link.expired(now):
            self._on_timeout(pending, now)
        held = [item for item in self._held if not self.link.up or item[0] <= now]
        self._held = [item for item in self._held if item not in held]
        for _, order in held:  # nothing left: certainly not traded
            self._not_sent(order, f"terminal {self.login} is not connected" if not self.link.up else
                           f"terminal {self.login} did not answer a ping in {HOLD_ORDERS_S:g} s after reconnecting")
        for again in self.handshake.due(now):
            if self.link.up:
                self._send(again.type, purpose=again.purpose, **again.fields)
        due = [item for item in self._not_ready_later if item[0] <= now]
        self._not_ready_later = [item for item in self._not_ready_later if item[0] > now]
        for _, tries, pending in due:  # asked again as a new request: a late first answer is ignored
            fields = {k: v for k, v in pending.message.items() if k not in protocol.ENVELOPE_KEYS}
            self._not_ready_tries[self._send(pending.type, purpose=pending.purpose, **fields)] = tries

    def _on_timeout(self, pending: PendingRequest, now: float) -> None:
        if isinstance(pending.purpose, m.SubmitOrder):
            retry = self.link.retry(pending, now) if self.link.up else None
            if retry is not None:
                logger.warning("order {} unanswered; asking its status (try {})", pending.id, pending.tries + 1)
                self.directory.tell("gateway", m.SendToEa(account=self.login, message=retry))
                return
            self.directory.tell(self.account_name, m.OrderResult(
                account=self.login, client_order_id=pending.purpose.client_order_id, ok=False,
                error=f"UNKNOWN: no answer after {pending.tries} tries; reconciliation decides"))
            return
        logger.warning("terminal {}: {} timed out", self.login, pending.type)
        self._not_ready_tries.pop(pending.id, None)
        if isinstance(pending.purpose, tuple) and pending.purpose[:1] == ("introduce",):
            self._introducing = False  # the next message from the EA asks again
        elif self.link.up:
            self._again(pending, now)
        if isinstance(pending.purpose, FETCHES):
            self.directory.tell(pending.purpose.reply_to, self._fetched(pending.purpose, False, None, "timeout"))

    def _fetched(self, req: Any, ok: bool, data: Any, error: str) -> Any:
        """The answer to a Fetch* on behalf of another actor: the data, or why there is none."""
        match req:
            case m.FetchRates():
                return m.RatesFetched(account=self.login, symbol=req.symbol, timeframe=req.timeframe, ok=ok,
                                      rates=data if ok else None, error=error)
            case m.FetchTicks():
                return m.TicksFetched(account=self.login, symbol=req.symbol, date_from=req.date_from, ok=ok,
                                      ticks=data if ok else None, error=error)
            case m.FetchDeals():
                return m.DealsFetched(account=self.login, position=req.position, ok=ok,
                                      deals=tuple(data or ()) if ok else (), error=error)
            case m.FetchDealsSince():
                return m.DealsSinceFetched(account=self.login, corr=req.corr, ok=ok,
                                           deals=tuple(data or ()) if ok else (), error=error)
            case m.FetchSessions():
                ok = ok and isinstance(data, dict)
                return m.SessionsFetched(account=self.login, symbols=req.symbols, ok=ok,
                                         sessions=data if ok else None, error=error)
            case _:
                ok = ok and isinstance(data, list)
                return m.CalendarFetched(account=self.login, date_from=req.date_from, ok=ok,
                                         events=tuple(e for e in data if isinstance(e, dict)) if ok else (), error=error)

    def _post_status(self, *, connected: bool, hello: dict[str, Any] | None = None) -> None:
        previous = self.board.get(f"terminal:{self.login}", {})
        snapshot = {**previous, "login": self.login, "connected": connected, "boot": self.link.boot,
                    "reconciling": sorted(self.handshake.waiting) if connected else [], **self._refusal_counts()}
        if hello is not None:
            snapshot.update(symbols=list(hello.get("symbols", [])), terminal=hello.get("terminal", {}))
            snapshot.setdefault("tz_offset_s", 0)  # set with the zone (_set_zone), when the EA told one
        self.board.post(f"terminal:{self.login}", snapshot)

    def _post_refusals(self) -> None:
        self.board.post(f"terminal:{self.login}", {**self.board.get(f"terminal:{self.login}", {}),
                                                   **self._refusal_counts()})

    def _refusal_counts(self) -> dict[str, Any]:
        return {"rejected_peer_messages": self.refusals.total(self.login),
                "rejected_by_type": self.refusals.by_kind(self.login)}
