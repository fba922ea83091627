"""The ControlServer actor: the executor's ZMQ control socket and its events socket.

Life of a command: ROUTER frame -> decode and bound -> envelope -> the signing key and its
role (actors/control/auth.py; a refusal is UNAUTHORIZED, never cached, and nothing runs) ->
reply cache, per key (a repeated `id` is answered from memory, or parked behind the first
while it runs) -> the key's rate limit (RATE_LIMITED, not cached) -> per-command schema ->
route -> the operator's TOTP code when the command raises a live account's risk (checked
after routing, so a command refused anyway does not use a code up) -> the owning actor, told
with a correlation id -> its `CommandReply` -> one reply frame, cached and audited (with the
signing key, the peer and the duration; reads sampled: actors/journal/audit.py). Nothing
on this path blocks: a command whose owner does not answer in time gets TIMEOUT, and its late
answer still lands in the cache for a retry.

Before any of that, a `guard` (CURVE with an allow-list of client keys, IP ranges) decides
who may connect to either socket at all (actors/runtime/zap.py).

Replies survive a crash (actors/control/stored_replies.py): each one but the reads is written
through to the journal (told; memory stays the fast path) and loaded at start. An
OPEN_POSITION is recorded before it runs and linked to its intent, so a resend after a crash
that left it unanswered gets that order's outcome, never a second order.
"""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import msgpack
import zmq
from loguru import logger

from actors import errors
from actors import messages as m
from actors.control import protocol as cp
from actors.control import stored_replies as stored
from actors.control.auth import Refusal, authorize
from actors.control.keys import KeyStore
from actors.journal.audit import Sampler
from actors.runtime.zap import CurveServer, GuardSpec
from actors.control.rate_limits import RateLimits
from actors.runtime.confirmation import ConfirmationRequired, OtpVerifier
from actors.control.routes import TRADE_TIMEOUT_S, Route, live_accounts_concerned, route
from actors.control.schema import SchemaError, UnknownCommand, request_id_of, validate_command, validate_envelope
from actors.runtime.directory import Directory
from actors.runtime.supervision import Supervised
from actors.runtime.kill_switch import KillGate
from actors.control.reply_cache import ReplyCache
from actors.runtime.socket_pump import SocketPump
from actors.runtime.status_board import StatusBoard
from actors.runtime.ticker import Ticker
from bridge.shapes.refusals import Refusals


@dataclass
class Pending:
    request_id: str
    type: str
    data: dict[str, Any]
    deadline: float
    cache_key: str
    clients: list[list[bytes]] = field(default_factory=list)  # routing prefixes waiting for this id


@dataclass(frozen=True, slots=True)
class _Inbound:
    socket: str
    frames: list[bytes]
    peer: tuple[str, str] = ("", "")  # (IP address, ZAP user id) of the sender


@dataclass(slots=True)
class _Origin:
    """Who sent the command being handled, and when it arrived: its audit row says so."""
    peer: str = ""
    key_id: str = ""
    started: float = 0.0


class ControlServer(Supervised):
    def __init__(self, *, control_endpoint: str, events_endpoint: str, directory: Directory,
                 board: StatusBoard, gate: KillGate, otp: OtpVerifier | None = None,
                 keys: KeyStore | None = None, rate_limits: RateLimits | None = None,
                 guard: GuardSpec | None = None, audit_sampler: Sampler | None = None) -> None:
        """`keys` None: authentication is off (config.py allows that on loopback binds only).
        `guard`: CURVE and IP ranges on both sockets (actors/runtime/zap.py)."""
        super().__init__(name="control", parent="supervisor", directory=directory)
        self.otp = otp or OtpVerifier(None)
        self.control_endpoint = control_endpoint
        self.events_endpoint = events_endpoint
        self.board = board
        self.gate = gate
        self.cache = ReplyCache(cp.REPLY_CACHE_TTL_S)
        self.keys = keys
        self.rate_limits = rate_limits or RateLimits()
        self.refusals = Refusals()  # UNAUTHORIZED is counted; the log hears of it every few seconds
        self.pending: dict[str, Pending] = {}  # corr -> command in flight
        self.in_flight: dict[str, str] = {}  # request id -> corr
        self.late: dict[str, tuple[Pending, float]] = {}  # corr -> a command answered TIMEOUT, until its TTL
        self.doubts: dict[str, dict[str, Any]] = {}  # request id -> the intent of an order a crash left unanswered
        # Unique per instance: a journaled command is linked to its intent by corr, across restarts too.
        self._corr_prefix = uuid.uuid4().hex[:6]
        self._corr = itertools.count(1)
        self.pump: SocketPump | None = None
        self.ticker: Ticker | None = None
        self.counts = {"requests": 0, "errors": 0, "events": 0}
        self.guard_spec = guard
        self.guard: CurveServer | None = None
        self.sampler = audit_sampler or Sampler()  # STATUS/PING: a row per key and minute
        self._origin = _Origin()  # the command being handled now
        self._origins: dict[str, _Origin] = {}  # corr -> the origin of a command in flight

    # --- lifecycle ---
    def on_start(self) -> None:
        self._load_replies()  # before the socket: no resent id may run before its first reply is known
        self.guard = self.guard_spec.start() if self.guard_spec else None
        self.pump = SocketPump("control", self._make_sockets, self._on_frames, peers=("control",),
                               context=self.guard.context if self.guard else None)
        try:
            self.pump.start()
        except BaseException:
            if self.guard:  # no on_stop after a failed start: its thread must not outlive us
                self.guard.stop()
            raise
        self.ticker = Ticker(self.actor_ref, 0.1).start()
        logger.info("control on {} (REQ), events on {} (SUB)", self.control_endpoint, self.events_endpoint)
        if self.keys is None:
            logger.warning("control authentication is OFF: anyone who can reach {} can trade", self.control_endpoint)

    def on_stop(self) -> None:
        if self.ticker:
            self.ticker.stop()
        for corr in list(self.pending):  # not the command's outcome: not kept, a resend after the restart finds it
            self._finish(corr, cp.reply_error, errors.error(errors.UNAVAILABLE, "executor is shutting down; retry "
                                                            "after it restarts"), keep=False)
        if self.pump:
            self.pump.stop()
        if self.guard:  # after the pump: its sockets live in the guard's context
            self.guard.stop()

    def _load_replies(self) -> None:
        try:
            rows = self.directory.ask("journal", m.LoadReplies(), timeout=5.0)
        except Exception as exc:  # noqa: BLE001 - the API still answers; only a crash's replies are lost
            logger.error("control: replies kept in the journal could not be loaded ({}); a request id resent "
                         "from before this start may run again", exc)
            return
        kept = stored.sort_rows(rows or [], _now_ms())
        for key, frame, left_s in kept.replies:
            self.cache.put(key, frame, ttl_s=left_s)
        self.doubts = kept.doubts
        if kept.replies or kept.doubts:
            logger.info("control: {} replies kept from before this start; {} orders to resolve if their id is resent",
                        len(kept.replies), len(kept.doubts))

    def _make_sockets(self, ctx: zmq.Context) -> dict[str, zmq.Socket]:
        router = ctx.socket(zmq.ROUTER)
        pub = ctx.socket(zmq.PUB)
        try:
            router.setsockopt(zmq.LINGER, 0)
            router.setsockopt(zmq.MAXMSGSIZE, cp.SOCKET_MAX_MSG_BYTES)
            router.setsockopt(zmq.ROUTER_MANDATORY, 1)
            if self.guard:
                self.guard.apply(router)
                self.guard.apply(pub)
            router.bind(self.control_endpoint)
            pub.setsockopt(zmq.LINGER, 0)
            pub.setsockopt(zmq.SNDHWM, 100_000)
            pub.bind(self.events_endpoint)
        except zmq.ZMQError:
            router.close(linger=0)
            pub.close(linger=0)
            raise
        return {"control": router, "events": pub}

    def _on_frames(self, socket: str, frames: list[bytes], peer: tuple[str, str] = ("", "")) -> None:
        self.actor_ref.tell(_Inbound(socket, frames, peer))  # runs in the pump thread: hand over only

    # --- messages ---
    def on_receive(self, message: Any) -> Any:
        match message:
            case _Inbound(frames=frames, peer=peer):
                self._origin = _Origin(" ".join(filter(None, peer)), "", time.monotonic())
                self._on_request(frames)
                for corr in self.pending.keys() - self._origins.keys():  # it runs on: keep who sent it
                    self._origins[corr] = self._origin
            case m.CommandReply():
                self._on_reply(message)
            case m.Tick():
                self._expire(time.monotonic())
            case _ if type(message) in m.EVENT_TYPES:
                self._publish(message)
            case _:
                return super().on_receive(message)
        return None

    def _on_request(self, frames: list[bytes]) -> None:
        self.counts["requests"] += 1
        prefix, body = cp.split_envelope(frames)
        request: Any = None
        try:
            if not 1 <= len(body) <= 2:
                raise errors.ControlError(errors.BAD_REQUEST, f"a request is 1 frame (2 with auth), got {len(body)}")
            request = cp.decode_request(body[0])
            envelope = validate_envelope(request)
        except (errors.ControlError, SchemaError) as exc:
            err = exc.as_error() if isinstance(exc, errors.ControlError) else _schema_error(exc)
            self._send(prefix, cp.reply_error(request_id_of(request), err))
            self._audit(request_id_of(request), _type_of(request), None, err)
            return
        key_id = ""
        if self.keys is not None:
            verdict = authorize(body[0], body[1] if len(body) == 2 else None, envelope.type, envelope.ts,
                                self.keys.get, time.time_ns() // 1_000_000)
            if isinstance(verdict, Refusal):
                return self._refuse(prefix, envelope, verdict)
            key_id = verdict.key_id
            self._origin.key_id = key_id
        # Ids are the client's: two keys' ids may collide, and one key must not read another's replies.
        cache_key = f"{key_id}/{envelope.id}"
        cached = self.cache.get(cache_key)
        if cached is not None:
            self._send(prefix, cached)
            return
        if cache_key in self.in_flight:  # the same id again while the first still runs
            self.pending[self.in_flight[cache_key]].clients.append(prefix)
            return
        if cache_key in self.doubts and envelope.type == "OPEN_POSITION":
            return self._resolve(prefix, envelope, cache_key)
        retry_after_ms = self.rate_limits.take(key_id, envelope.type, time.monotonic())
        if retry_after_ms is not None:
            err = errors.error(errors.RATE_LIMITED, f"too many {envelope.type} from this key; resend the same id "
                               f"in {retry_after_ms} ms", {"retry_after_ms": retry_after_ms})
            self._send(prefix, cp.reply_error(envelope.id, err))  # not cached: the same id may come back
            self._audit(envelope.id, envelope.type, envelope.data, err)
            return
        self._dispatch(prefix, envelope, cache_key)

    def _refuse(self, prefix: list[bytes], envelope: Any, refusal: Refusal) -> None:
        self._send(prefix, cp.reply_error(envelope.id, refusal.as_error()))
        self._audit(envelope.id, envelope.type, None, refusal.as_error())  # an unproven sender's data is not kept
        unsaid = self.refusals.refuse("control", refusal.reason, time.monotonic())
        if unsaid is not None:
            logger.warning("control request refused: {}{}", refusal.message,
                           f" ({unsaid} more {refusal.reason} refusals since the last line)" if unsaid else "")

    def _resolve(self, prefix: list[bytes], envelope: Any, cache_key: str) -> None:
        """A resent OPEN_POSITION a crash left unanswered after its intent was written: the
        journal's outcome, else the Account's (found at the terminal, or asked again under
        the same client order id)."""
        intent = self.doubts[cache_key]
        frame = stored.answer(envelope.id, intent)
        if frame is not None:
            del self.doubts[cache_key]
            return self._answer_now(prefix, envelope, cache_key, frame, None)
        account = f"account:{intent['account']}"
        if self.directory.get(account) is None:  # its terminal has not said hello yet: the doubt stays
            err = errors.error(errors.UNAVAILABLE, f"order {intent['client_order_id']} of this request is being "
                               "reconciled; resend the same id shortly", {"client_order_id": intent["client_order_id"]})
            self._send(prefix, cp.reply_error(envelope.id, err))  # not cached: the outcome is still to come
            return
        del self.doubts[cache_key]
        corr = self._new_corr()
        logger.info("request {} resent after a restart: resolving its order {}", envelope.id, intent["client_order_id"])
        self.pending[corr] = Pending(envelope.id, envelope.type, envelope.data or {},
                                     time.monotonic() + TRADE_TIMEOUT_S, cache_key, [prefix])
        self.in_flight[cache_key] = corr
        self.directory.tell(account, stored.resolve_order(corr, intent))

    def _new_corr(self) -> str:
        return f"c{self._corr_prefix}-{next(self._corr)}"

    def _dispatch(self, prefix: list[bytes], envelope: Any, cache_key: str) -> None:
        corr = self._new_corr()
        try:
            data = validate_command(envelope.type, envelope.data)
            if envelope.type == "EMERGENCY_STOP":
                # K1: the gate closes now, before the command waits in any mailbox.
                self.gate.trip(data["reason"])
            target = route(envelope.type, data, corr, self.board, self.gate, otp=envelope.otp)
            self._confirm(envelope, data)
        except UnknownCommand:
            err = errors.error(errors.UNKNOWN_COMMAND, f"unknown command {envelope.type!r}; see CONTROL_API.md for the list",
                           {"type": envelope.type})
            return self._answer_now(prefix, envelope, cache_key, cp.reply_error(envelope.id, err), err)
        except SchemaError as exc:
            err = _schema_error(exc)
            return self._answer_now(prefix, envelope, cache_key, cp.reply_error(envelope.id, err), err)
        except errors.ControlError as exc:
            return self._answer_now(prefix, envelope, cache_key, cp.reply_error(envelope.id, exc.as_error()),
                                    exc.as_error())
        if not isinstance(target, Route):
            return self._answer_now(prefix, envelope, cache_key, cp.reply_ok(envelope.id, target), None)
        self.pending[corr] = Pending(envelope.id, envelope.type, data, time.monotonic() + target.timeout_s,
                                     cache_key, [prefix])
        self.in_flight[cache_key] = corr
        if envelope.type in stored.ORDERING:  # before it runs: its intent is linked to this id (RecordIntent)
            self.directory.tell("journal", m.RecordCommand(key=cache_key, corr=corr, type=envelope.type,
                                                           expires_at=_now_ms() + int(cp.REPLY_CACHE_TTL_S * 1000)))
        if not self.directory.tell(target.destination, target.message):
            self._finish(corr, cp.reply_error, errors.error(errors.UNAVAILABLE, f"{target.destination} is not running; retry shortly"))

    def _confirm(self, envelope: Any, data: dict[str, Any]) -> None:
        live = live_accounts_concerned(envelope.type, data, self.board)
        if not live:
            return
        try:
            self.otp.confirm(envelope.otp, f"{envelope.type} on live account{'s' if len(live) > 1 else ''} "
                                           f"{', '.join(map(str, live))}")
        except ConfirmationRequired as exc:
            raise errors.ControlError(errors.CONFIRMATION_REQUIRED, str(exc), {"accounts": live}) from None

    def _answer_now(self, prefix: list[bytes], envelope: Any, cache_key: str, reply: bytes, err: dict | None) -> None:
        self._audit(envelope.id, envelope.type, envelope.data, err)  # every command, reads too (RELIABILITY.md)
        self.cache.put(cache_key, reply)
        self._keep(cache_key, "", envelope.type, reply)
        self._send(prefix, reply)

    def _on_reply(self, reply: m.CommandReply) -> None:
        build, payload = (cp.reply_ok, reply.data or {}) if reply.ok else \
            (cp.reply_error, reply.error or errors.error(errors.INTERNAL, "no error given"))
        if reply.corr in self.pending:
            return self._finish(reply.corr, build, payload)
        late = self.late.pop(reply.corr, None)
        if late is None:
            logger.info("reply for {}, which no command waits for (from before a restart?); dropped", reply.corr)
            return
        # The TIMEOUT reply promised this: a resend of the same id returns the outcome.
        pending = late[0]
        frame = build(pending.request_id, payload)
        self.cache.put(pending.cache_key, frame)
        self._keep(pending.cache_key, reply.corr, pending.type, frame)
        logger.info("{} {} completed after its TIMEOUT reply ({}); a resend of its id returns this", pending.type,
                    pending.request_id, "ok" if reply.ok else payload.get("code"))

    def _finish(self, corr: str, build: Any, payload: dict[str, Any], *, keep: bool = True) -> None:
        pending = self.pending.pop(corr)
        self._origin = self._origins.pop(corr, None) or _Origin()
        self.in_flight.pop(pending.cache_key, None)
        frame = build(pending.request_id, payload)
        if keep:
            self.cache.put(pending.cache_key, frame)
            self._keep(pending.cache_key, corr, pending.type, frame)
        for prefix in pending.clients:
            self._send(prefix, frame)
        self._audit(pending.request_id, pending.type, pending.data, None if build is cp.reply_ok else payload)

    def _keep(self, cache_key: str, corr: str, type_: str, frame: bytes) -> None:
        """Write the reply through to the journal (a told write, committed with its group)."""
        if type_ not in stored.READS:
            self.directory.tell("journal", m.StoreReply(key=cache_key, corr=corr, type=type_,
                                                        reply=stored.decoded(frame),
                                                        expires_at=_now_ms() + int(cp.REPLY_CACHE_TTL_S * 1000)))

    def _expire(self, now: float) -> None:
        for corr, pending in list(self.pending.items()):
            if now >= pending.deadline:
                logger.warning("{} {} timed out waiting for its owner", pending.type, pending.request_id)
                self._finish(corr, cp.reply_error, errors.error(
                    errors.TIMEOUT, f"{pending.type} did not complete in time; it may still complete: "
                    "STATUS_REQUEST shows the outcome, and resending the same id returns it"))
                self.late[corr] = (pending, now + cp.REPLY_CACHE_TTL_S)
        for corr, (_, until) in list(self.late.items()):
            if now >= until:
                del self.late[corr]

    # --- output ---
    def _send(self, prefix: list[bytes], frame: bytes) -> None:
        self.pump.send("control", [*prefix, frame])

    def _publish(self, event: Any) -> None:
        self.counts["events"] += 1
        # Every event carries its time (ms UTC, when published): a subscriber never has to guess it.
        payload = msgpack.packb({**m.to_map(event), "time": time.time_ns() // 1_000_000}, use_bin_type=True)
        self.pump.send("events", [type(event).__name__.encode(), payload])

    def _audit(self, request_id: str | None, type_: str, data: Any, err: dict[str, Any] | None) -> None:
        if err is not None:
            self.counts["errors"] += 1
        origin = self._origin
        left_out = self.sampler.take(origin.key_id, type_, err is None, time.monotonic())
        if left_out is None:
            return
        data = data if isinstance(data, dict) else None
        if left_out:
            data = {**(data or {}), "unaudited_since_last": left_out}
        self.directory.tell("journal", m.AuditCommand(
            request_id=request_id, type=type_ or "?", data=data, ok=err is None,
            error_code=(err or {}).get("code", ""), client=origin.peer, key_id=origin.key_id,
            duration_ms=int((time.monotonic() - origin.started) * 1000) if origin.started else 0))


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _schema_error(exc: SchemaError) -> dict[str, Any]:
    return errors.error(errors.BAD_REQUEST, str(exc), {"field": exc.field})


def _type_of(request: Any) -> str:
    if isinstance(request, dict) and isinstance(request.get("type"), str):
        return request["type"][:32]
    return "?"
