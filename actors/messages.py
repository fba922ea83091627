"""Every message the actors exchange, defined once: immutable and msgpack-encodable.

Commands are verbs (`SubmitOrder`), events are past tense (`OrderFilled`). Fields hold only
msgpack-native values (None, bool, int, float, str, tuples, maps with string keys), so the
same object can cross a thread (as an object) or a socket (as msgpack) unchanged:
`encode(msg)` / `decode(frame)` round-trip every type registered here.

A field named `corr` correlates a control command with its `CommandReply`; an empty `corr`
means nobody waits for a reply.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import msgpack

MESSAGE_TYPES: dict[str, type] = {}


def message(cls: type) -> type:
    """Class decorator: a frozen, slotted, keyword-only dataclass registered for the codec."""
    cls = dataclass(frozen=True, slots=True, kw_only=True)(cls)
    MESSAGE_TYPES[cls.__name__] = cls
    return cls


def to_map(msg: Any) -> dict[str, Any]:
    """The message as a plain map (what events carry on the PUB socket)."""
    return {f.name: getattr(msg, f.name) for f in dataclasses.fields(msg)}


def encode(msg: Any) -> bytes:
    return msgpack.packb({"_t": type(msg).__name__, **to_map(msg)}, use_bin_type=True)


def decode(frame: bytes) -> Any:
    body = msgpack.unpackb(frame, raw=False, use_list=False)
    cls = MESSAGE_TYPES[body.pop("_t")]
    return cls(**body)


Map = dict  # a msgpack map with string keys; alias so field types read as wire types


# ---------------------------------------------------------------- control commands ---
@message
class StartStrategy:
    corr: str = ""
    strategy_id: str
    account: int | None = None
    definition: Map


@message
class StopStrategy:
    corr: str = ""
    strategy_id: str
    close_positions: bool = True


@message
class PauseStrategy:
    corr: str = ""
    strategy_id: str


@message
class ResumeStrategy:
    corr: str = ""
    strategy_id: str


@message
class UpdateStrategy:
    corr: str = ""
    strategy_id: str
    definition: Map


@message
class OpenPosition:
    corr: str = ""
    account: int
    symbol: str
    side: str
    volume: float | None = None
    sizing: Map | None = None
    sl: float | None = None
    tp: float | None = None
    sl_pips: float | None = None
    tp_pips: float | None = None
    comment: str = ""


@message
class ClosePosition:
    corr: str = ""
    account: int
    ticket: int
    volume: float | None = None


@message
class ModifyPosition:
    corr: str = ""
    account: int
    ticket: int
    sl: float | None = None
    tp: float | None = None


@message
class CloseAll:
    corr: str = ""
    account: int
    symbol: str | None = None
    strategy_id: str | None = None
    reason: str = "CLOSE_ALL"


@message
class UpdateRiskLimits:
    corr: str = ""
    account: int
    limits: Map
    otp: str | None = None  # the request's TOTP code: the RiskGuard checks it when the update loosens


@message
class SetTradingState:
    """SET_TRADING_STATE: an operator moves an account to ACTIVE, REDUCING or HALTED."""
    corr: str = ""
    account: int
    state: str
    reason: str = ""
    otp: str | None = None  # needed on a live account to go back to ACTIVE


@message
class EmergencyStop:
    corr: str = ""
    reason: str


@message
class ResetKillSwitch:
    corr: str = ""


@message
class PerformanceRequest:
    corr: str = ""
    strategy_id: str | None = None
    account: int | None = None
    include_trades: bool = False


@message
class CommandReply:
    """The one answer to a control command; `error` is {code, message, details}."""
    corr: str
    ok: bool
    data: Map | None = None
    error: Map | None = None


# ------------------------------------------------------------- strategy <-> account ---
@message
class OrderIntent:
    """A strategy (or a control client, through OpenPosition) wants a position opened."""
    strategy_id: str
    account: int
    symbol: str
    side: str
    sizing: Map
    sl_pips: float | None = None
    tp_pips: float | None = None
    tp_rr: float | None = None
    comment: str = ""
    max_positions: int = 0  # the strategy's own cap, counting orders in flight; 0 = none
    atr: float | None = None  # the strategy's current ATR(14), price units: atr/volatility sizing


@message
class CloseStrategyPositions:
    strategy_id: str
    account: int
    side: str | None = None
    reason: str = ""
    corr: str = ""
    reply_to: str = "control"


@message
class RegisterExits:
    """A strategy's exit settings, for the Account to manage its positions with."""
    strategy_id: str
    account: int
    settings: Map


@message
class StrategyBar:
    """A strategy saw a bar close: time exits count bars of the strategy's timeframe."""
    strategy_id: str
    account: int
    time: int


@message
class Flatten:
    """Close every position and cancel every pending order of an account; retry until flat."""
    corr: str
    account: int
    reason: str


@message
class AccountFlattened:
    corr: str
    account: int
    closed_positions: int
    cancelled_orders: int
    remaining: int


# ----------------------------------------------------------- account <-> risk guard ---
@message
class CheckOrder:
    """An order to judge. Told with `reply_to` (a directory name) and `corr`, the RiskGuard
    tells `reply_to` its `RiskDecision` carrying that `corr` (the Account's form: it waits
    for nobody); asked without them, the decision is the reply."""
    reply_to: str = ""
    corr: str = ""
    account: int
    strategy_id: str
    symbol: str
    side: str
    volume: float
    closing: bool
    open_positions: int
    open_positions_of_strategy: int
    positions: tuple[tuple[str, str, float], ...] = ()  # (symbol, side, volume) of every open position
    currencies: Map | None = None  # symbol -> (base, profit) for the symbols involved
    required_margin: float | None = None  # estimated in the deposit currency; None = unknown
    volume_step: float = 0.0
    volume_min: float = 0.0


@message
class RiskDecision:
    corr: str = ""  # the CheckOrder's, when it was told
    approved: bool
    reasons: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    volume: float = 0.0  # approved volume: lower than asked when a check reduced it
    code: str = "RISK_REJECTED"  # a refusal's error code, decided by the RiskGuard: TRADING_LOCKED for the kill switch


# ------------------------------------------------------------- account <-> terminal ---
@message
class SubmitOrder:
    """An order_send request; `client_order_id` is also the bridge request id. A retry after
    a requote is a new request (`attempt` > 0 makes its id `<client order id>~<attempt>`) of
    the same order: same client order id, comment and magic."""
    account: int
    client_order_id: str
    request: Map
    closing: bool
    generation: int = 0
    attempt: int = 0


@message
class RefreshPositions:
    """Ask the terminal for its positions and orders now (to settle an order in doubt)."""
    account: int


@message
class OrderResult:
    account: int
    client_order_id: str
    ok: bool
    retcode: int = 0
    result: Map | None = None
    error: str = ""


@message
class LinkStateChanged:
    account: int
    connected: bool
    boot: str = ""
    reason: str = ""


@message
class AccountInfoUpdated:
    account: int
    info: Map


@message
class PositionsSnapshot:
    """The terminal's whole word on open positions and orders. `seq` grows with every snapshot
    the Terminals of this process tell (0: unnumbered); the newest one's is on the board
    (`positions_seq:<login>`, with the EA's version), so an Account behind skips those a
    newer one follows."""
    account: int
    positions: tuple[Map, ...]
    orders: tuple[Map, ...] = ()
    seq: int = 0


@message
class SymbolsUpdated:
    account: int
    symbols: Map  # name -> MetaTrader5 symbol_info map


@message
class FetchDeals:
    """history_deals_get(position=...) on behalf of `reply_to`."""
    account: int
    position: int
    reply_to: str


@message
class DealsFetched:
    account: int
    position: int
    ok: bool
    deals: tuple[Map, ...] = ()
    error: str = ""


@message
class FetchDealsSince:
    """history_deals_get(date_from=...) on behalf of `reply_to`: every deal since then (ms UTC),
    what reconciliation reads to decide the orders in doubt."""
    account: int
    date_from: int
    reply_to: str
    corr: str = ""


@message
class DealsSinceFetched:
    account: int
    corr: str
    ok: bool
    deals: tuple[Map, ...] = ()
    error: str = ""


# ------------------------------------------------------------------ bridge plumbing ---
@message
class EaMessage:
    """A decoded bridge message from the EA of `account` (Gateway -> Terminal)."""
    account: int
    message: Map


@message
class PeerMessageRefused:
    """A message from the EA of `account` was refused: its shape is wrong (Gateway), or an
    actor could not use it (MarketData). Its Terminal counts and logs it, and fails the
    request `id` when the message was the answer to one."""
    account: int
    type: str  # bridge.shapes.messages.kind_of: a protocol type or "unknown"
    reason: str
    id: str = ""


@message
class SendToEa:
    account: int
    message: Map


@message
class TerminalDiscovered:
    account: int


# ---------------------------------------------------------------------- market data ---
@message
class TickBatch:
    account: int
    symbol: str
    seq: int
    time_msc: tuple[int, ...]
    bid: tuple[float, ...]
    ask: tuple[float, ...]


@message
class SubscribeBars:
    subscriber: str
    account: int
    symbol: str
    timeframe: str
    history: int


@message
class UnsubscribeBars:
    subscriber: str


@message
class FetchRates:
    account: int
    symbol: str
    timeframe: str
    count: int
    reply_to: str


@message
class RatesFetched:
    account: int
    symbol: str
    timeframe: str
    ok: bool
    rates: Map | None = None
    error: str = ""


@message
class FetchTicks:
    """copy_ticks_from on behalf of `reply_to`: the backfill after a feed gap."""
    account: int
    symbol: str
    date_from: int
    count: int
    reply_to: str


@message
class TicksFetched:
    account: int
    symbol: str
    date_from: int  # echoed from the request: a late answer cannot pass for a newer one
    ok: bool
    ticks: Map | None = None  # columns: time_msc[], bid[], ask[], ...
    error: str = ""


@message
class FetchSessions:
    """symbol_sessions (a bridge extension) on behalf of `reply_to`: trading hours."""
    account: int
    symbols: tuple[str, ...]
    reply_to: str


@message
class SessionsFetched:
    account: int
    symbols: tuple[str, ...]
    ok: bool
    sessions: Map | None = None  # symbol -> [[day_of_week, from_s, to_s], ...]
    error: str = ""


@message
class FetchCalendar:
    """calendar (a bridge extension) on behalf of `reply_to`: economic events, ms UTC."""
    account: int
    date_from: int
    date_to: int
    reply_to: str


@message
class CalendarFetched:
    account: int
    date_from: int
    ok: bool
    events: tuple[Map, ...] = ()
    error: str = ""


@message
class HistoryLoaded:
    account: int
    symbol: str
    timeframe: str
    rates: Map


@message
class BarClosed:
    account: int
    symbol: str
    timeframe: str
    time: int
    open: float
    high: float
    low: float
    close: float
    tick_volume: float
    spread: float


# -------------------------------------------------------------------------- journal ---
@message
class RecordIntent:
    """Write-ahead row of an order, committed before the order leaves. Told with `reply_to`
    (a directory name) the journal answers `IntentRecorded` (or `IntentNotRecorded`) with
    `corr` once the group holding the row committed; asked without it, the reply is
    `(intent_id, client_order_id)` after the commit."""
    reply_to: str = ""
    corr: str = ""
    account: int
    strategy_id: str
    symbol: str
    side: str
    volume: float
    closing: bool
    position_ticket: int = 0
    request: Map
    command_corr: str = ""  # the control command's corr (an OPEN_POSITION's): its request id is linked to the intent


@message
class RecordOrderOutcome:
    client_order_id: str
    status: str  # SENT | FILLED | REJECTED | UNKNOWN
    retcode: int = 0
    order_ticket: int = 0
    deal_ticket: int = 0
    price: float = 0.0
    volume: float = 0.0
    message: str = ""


@message
class RecordDeals:
    account: int
    strategy_id: str
    deals: tuple[Map, ...]


@message
class SaveStrategy:
    strategy_id: str
    account: int
    definition: Map
    state: str
    restarts: int = 0


@message
class LoadStrategies:
    pass


@message
class LoadKillSwitch:
    pass


@message
class SaveRiskLimits:
    account: int
    limits: Map


@message
class LoadRiskLimits:
    account: int


@message
class SaveTradingState:
    account: int
    state: Map  # actors.trading_state.TradingState.as_row()


@message
class LoadTradingState:
    account: int


@message
class LoadOtpStep:
    """The time step of the last TOTP code used (None: none yet)."""


@message
class SaveOtpStep:
    step: int


@message
class LoadIntents:
    account: int


@message
class LoadTradeProfits:
    """The newest closed-trade profits of a strategy, oldest first (Kelly sizing). Told with
    `reply_to`, answered by `TradeProfitsLoaded`; asked without it, the reply is the list."""
    reply_to: str = ""
    corr: str = ""
    strategy_id: str
    limit: int = 200


@message
class LoadOpenPositions:
    account: int


@message
class LoadReconciliation:
    """What reconciliation needs from the journal (told; answered `ReconciliationLoaded` to
    `reply_to` with `corr`): the account's intents not final and those of `intent_ids` (the
    rows the terminal's magics name), its open positions, and the newest deal time it holds."""
    reply_to: str
    corr: str
    account: int
    intent_ids: tuple[int, ...] = ()


@message
class ReconciliationLoaded:
    corr: str
    account: int
    intents: tuple[Map, ...]  # id, client_order_id, strategy_id, status, closing, position_ticket, request, created_at
    positions: tuple[Map, ...]  # ticket, strategy_id, volume, opened_at: the rows still open
    last_deal_ms: int | None = None


@message
class AuditCommand:
    """One control command for the audit trail (actors/journal/audit.py): `client` is the
    peer (address and ZAP name), `key_id` the key that signed it."""
    request_id: str | None
    type: str
    data: Map | None
    ok: bool
    error_code: str = ""
    client: str = ""
    key_id: str = ""
    duration_ms: int = 0


@message
class RecordBalance:
    """The account's balance as the terminal reports it (Account -> Journal). The journal
    keeps the first one per account: where the performance report's equity curve starts.
    `tz_offset_s` is the trade server's offset from UTC: where its days begin."""
    account: int
    balance: float
    tz_offset_s: int = 0


@message
class IntentRecorded:
    """The intent's row is committed (Journal -> the `reply_to` of `RecordIntent`): the
    order may leave now, with this client order id."""
    corr: str
    intent_id: int
    client_order_id: str


@message
class IntentNotRecorded:
    """The intent's row could not be committed: the order must not leave."""
    corr: str
    error: str


@message
class TradeProfitsLoaded:
    corr: str
    strategy_id: str
    profits: tuple[float, ...]


@message
class LoadJournalStats:
    """How the journal has grouped its writes: transactions, rows, the largest group, rows
    that failed alone (a map; for benchmarks and tests)."""


# ------------------------------------------------- control replies that survive a crash ---
@message
class RecordCommand:
    """An OPEN_POSITION about to run: its request id (`key`) is kept with its `corr`, so the
    intent it makes (RecordIntent.command_corr) is linked to it in the intent's transaction."""
    key: str
    corr: str
    type: str
    expires_at: int  # ms, wall clock


@message
class StoreReply:
    """A command's reply, written through to the journal (the ControlServer's cache in memory
    stays the fast path); a later reply for the same key (an answer after TIMEOUT) replaces it."""
    key: str
    corr: str
    type: str
    reply: Map  # {"v", "id", "ok", "data" | "error"}: the frame as sent, decoded
    expires_at: int  # ms, wall clock


@message
class LoadReplies:
    """Every unexpired stored reply and command (with its intent's outcome, when it made one):
    what the ControlServer loads at start."""


@message
class ResolveOrder:
    """A resent OPEN_POSITION whose first run made an intent but left no reply (a crash): the
    Account answers `corr` with that order's outcome, found by its magic at the terminal or
    asked again under the same client order id; never a second order."""
    corr: str
    account: int
    client_order_id: str
    intent_id: int
    symbol: str
    side: str
    volume: float
    request: Map


@message
class SaveFlattenPending:
    """The accounts the kill switch could not flatten yet (link down): journaled, so the
    flatten resumes when each one is back, also after a restart."""
    accounts: tuple[int, ...] = ()


# ------------------------------------------------------------------------- events ---
@message
class OrderFilled:
    account: int
    client_order_id: str
    strategy_id: str
    ticket: int
    symbol: str
    side: str
    volume: float
    price: float
    closing: bool
    retcode: int = 0


@message
class OrderRejected:
    account: int
    client_order_id: str
    strategy_id: str
    symbol: str
    retcode: int
    message: str


@message
class RiskRejected:
    account: int
    strategy_id: str
    symbol: str
    side: str
    reasons: tuple[str, ...]


@message
class PositionOpened:
    account: int
    strategy_id: str
    ticket: int
    symbol: str
    side: str
    volume: float
    price_open: float
    sl: float = 0.0
    tp: float = 0.0


@message
class PositionClosed:
    account: int
    strategy_id: str
    ticket: int
    symbol: str
    side: str
    volume: float
    price_close: float
    profit: float
    reason: str = ""
    deal: int = 0
    open_time: int = 0  # ms, the opening deal's time at the terminal
    open_price: float = 0.0
    close_time: int = 0  # ms, the closing deal's time at the terminal


@message
class PositionModified:
    account: int
    ticket: int
    sl: float
    tp: float


@message
class ExitActionTaken:
    """The exit manager acted on a position: partial close, stop move or close."""
    account: int
    strategy_id: str
    ticket: int
    action: str  # partial_close | modify_stops | close
    reason: str
    volume: float = 0.0
    sl: float = 0.0
    tp: float = 0.0
    remaining: float = 0.0  # partial_close: the lots the position keeps (same ticket)


@message
class KillSwitchEngaged:
    reason: str
    locked_until: int
    engaged_at: int


@message
class Reconciled:
    """An account's reconciliation is done (on start and after every reconnect): what it found
    and what it did. `orphans` were adopted as EXTERNAL or closed, as `orphan_policy` says."""
    account: int
    reason: str  # start | reconnect
    confirmed: int
    filled_while_down: int
    never_placed: int
    orphans: int
    phantoms: int
    duplicates: int = 0
    orphan_policy: str = "adopt"
    duration_ms: int = 0


@message
class TradingStateChanged:
    """An account's trading state changed (a breach halted it, or an operator)."""
    account: int
    state: str
    reason: str
    locked_until: int  # 0: no lock


@message
class KillSwitchReset:
    reset_at: int


@message
class StrategyStateChanged:
    strategy_id: str
    state: str
    reason: str = ""
    restarts: int = 0


@message
class ActorFailed:
    name: str
    error: str


@message
class Ping:
    """Are you alive and past `on_start`? Every supervised actor answers True."""


@message
class StopAllStrategies:
    reason: str
    account: int | None = None  # only the strategies of this account (its breach halt)


@message
class Tick:
    """The timer beat sent to actors that keep deadlines (heartbeats, reply timeouts)."""
    now: float = 0.0


EVENT_TYPES = (
    OrderFilled, OrderRejected, RiskRejected, PositionOpened, PositionClosed, ExitActionTaken,
    PositionModified, KillSwitchEngaged, KillSwitchReset, StrategyStateChanged,
    LinkStateChanged, TradingStateChanged, Reconciled,
)

__all__ = [name for name in MESSAGE_TYPES] + ["encode", "decode", "to_map", "MESSAGE_TYPES", "EVENT_TYPES", "field"]
