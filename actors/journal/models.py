"""The journal's tables (peewee models) and how the database is opened.

The models are bound to a database at start-up (`open_database`), never at import, so
tests can point them at a temporary file. One process runs one journal: the Journal actor
is the only writer and the only thread that uses this connection.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import peewee as pw

# WAL lets readers (backups, `sqlite3` in a shell) run beside the writer; FULL makes a
# committed order row survive a power cut, which is the whole point of write-ahead.
PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "full",
    "busy_timeout": 5000,
    "foreign_keys": 1,
    "cache_size": -16_000,
}


MAX_JSON_DEPTH = 32
BYTES_KEY = "$bytes"  # {"$bytes": "<base64>"}: bytes, which JSON cannot hold
REPR_KEY = "$repr"  # {"$repr": "..."}: any other value JSON cannot hold, as Python wrote it
_ENCODER = json.JSONEncoder(separators=(",", ":"), sort_keys=True)  # built once: json.dumps builds one per call


def to_json(value: Any) -> str:
    """`value` as compact JSON text that never fails: bytes become a base64 marker, other
    values JSON cannot hold (and non-text keys) their repr. A frame from outside (a control
    command with bytes in it) must be recorded, never crash the only writer of the journal."""
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError, RecursionError):  # the rare case pays for the walk
        return _ENCODER.encode(jsonable(value))


def jsonable(value: Any, depth: int = 0) -> Any:
    """A copy of `value` that `json.dumps` accepts (see `to_json`)."""
    if value is None or isinstance(value, (str, int, float)):
        return value
    if depth >= MAX_JSON_DEPTH:  # a cycle or a hostile nesting: keep a bounded trace of it
        return {REPR_KEY: safe_repr(value)[:256]}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {BYTES_KEY: base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {k if isinstance(k, str) else safe_repr(k): jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, depth + 1) for v in value]
    return {REPR_KEY: safe_repr(value)}


def safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:  # a broken __repr__ must not lose the row either
        return f"<unrepresentable {type(value).__name__}>"


class JSONField(pw.TextField):
    """A map stored as JSON text, readable with plain `sqlite3` (see `to_json`)."""

    def db_value(self, value: Any) -> str | None:
        return None if value is None else to_json(value)

    def python_value(self, value: str | None) -> Any:
        return None if value is None else json.loads(value)


class BaseModel(pw.Model):
    class Meta:
        database = None  # bound in open_database()


class MetaRow(BaseModel):
    """Facts about this journal itself, such as the tag that makes its order ids unique."""

    key = pw.CharField(primary_key=True, max_length=32)
    value = pw.TextField()

    class Meta:
        table_name = "meta"


class StrategyRow(BaseModel):
    strategy_id = pw.CharField(primary_key=True, max_length=64)
    account = pw.BigIntegerField()
    name = pw.CharField(max_length=64)
    definition = JSONField()
    state = pw.CharField(max_length=16)
    restarts = pw.IntegerField(default=0)
    updated_at = pw.BigIntegerField(index=True)

    class Meta:
        table_name = "strategies"


class IntentRow(BaseModel):
    """An order as we meant it, written before it is sent (L1 of RELIABILITY.md)."""

    id = pw.AutoField()
    client_order_id = pw.CharField(unique=True, null=True, max_length=32)
    account = pw.BigIntegerField(index=True)
    strategy_id = pw.CharField(max_length=64, index=True)
    symbol = pw.CharField(max_length=32)
    side = pw.CharField(max_length=4)
    volume = pw.DoubleField()
    closing = pw.BooleanField()
    position_ticket = pw.BigIntegerField(default=0)
    request = JSONField()
    status = pw.CharField(max_length=12, index=True)  # PENDING SENT FILLED REJECTED UNKNOWN
    retcode = pw.IntegerField(default=0)
    order_ticket = pw.BigIntegerField(default=0)
    deal_ticket = pw.BigIntegerField(default=0)
    price = pw.DoubleField(default=0.0)
    filled_volume = pw.DoubleField(default=0.0)
    message = pw.TextField(default="")
    created_at = pw.BigIntegerField(index=True)
    updated_at = pw.BigIntegerField()

    class Meta:
        table_name = "order_intents"


class PositionRow(BaseModel):
    account = pw.BigIntegerField()
    ticket = pw.BigIntegerField()
    strategy_id = pw.CharField(max_length=64, index=True)
    symbol = pw.CharField(max_length=32)
    side = pw.CharField(max_length=4)
    volume = pw.DoubleField()
    price_open = pw.DoubleField()
    sl = pw.DoubleField(default=0.0)
    tp = pw.DoubleField(default=0.0)
    opened_at = pw.BigIntegerField(index=True)
    closed_at = pw.BigIntegerField(null=True)
    state = pw.CharField(max_length=8, index=True)  # open | closed

    class Meta:
        table_name = "positions"
        primary_key = pw.CompositeKey("account", "ticket")


class TradeRow(BaseModel):
    """One closing deal: a whole or partial exit of a position, with its realised profit."""

    id = pw.AutoField()
    account = pw.BigIntegerField(index=True)
    ticket = pw.BigIntegerField(index=True)
    strategy_id = pw.CharField(max_length=64, index=True)
    symbol = pw.CharField(max_length=32)
    side = pw.CharField(max_length=4)
    volume = pw.DoubleField()
    open_time = pw.BigIntegerField()
    open_price = pw.DoubleField()
    close_time = pw.BigIntegerField(index=True)
    close_price = pw.DoubleField()
    profit = pw.DoubleField()
    reason = pw.CharField(max_length=32, default="")

    class Meta:
        table_name = "trades"


class DealRow(BaseModel):
    """Every deal of our positions as MT5 reports it (MetaTrader5 TradeDeal fields)."""

    account = pw.BigIntegerField()
    ticket = pw.BigIntegerField()
    order = pw.BigIntegerField()
    position_id = pw.BigIntegerField(index=True)
    strategy_id = pw.CharField(max_length=64, index=True)
    symbol = pw.CharField(max_length=32)
    type = pw.IntegerField()
    entry = pw.IntegerField()
    reason = pw.IntegerField()
    volume = pw.DoubleField()
    price = pw.DoubleField()
    profit = pw.DoubleField()
    swap = pw.DoubleField()
    commission = pw.DoubleField()
    fee = pw.DoubleField()
    magic = pw.CharField(max_length=20)  # text: a uint64 magic does not fit SQLite's int64
    comment = pw.CharField(max_length=64)
    time_msc = pw.BigIntegerField(index=True)

    class Meta:
        table_name = "deals"
        primary_key = pw.CompositeKey("account", "ticket")


class KillSwitchRow(BaseModel):
    id = pw.IntegerField(primary_key=True)  # always 1
    active = pw.BooleanField()
    reason = pw.TextField(default="")
    engaged_at = pw.BigIntegerField(default=0)
    locked_until = pw.BigIntegerField(default=0)

    class Meta:
        table_name = "kill_switch"


class RiskLimitsRow(BaseModel):
    account = pw.BigIntegerField(primary_key=True)
    limits = JSONField()
    updated_at = pw.BigIntegerField()

    class Meta:
        table_name = "risk_limits"


class EventRow(BaseModel):
    """Every published event, in order: the trail an operator reads after an incident."""

    id = pw.AutoField()
    ts = pw.BigIntegerField(index=True)
    type = pw.CharField(max_length=32, index=True)
    payload = JSONField()

    class Meta:
        table_name = "events"


class AuditRow(BaseModel):
    """Every control command, append-only and hash-chained: written and checked in
    actors/journal/audit.py (whose `prepare`, at the Journal's start, adds these columns to an
    older journal and the append-only triggers)."""

    id = pw.AutoField()
    ts = pw.BigIntegerField(index=True)
    request_id = pw.CharField(max_length=64, null=True)
    type = pw.CharField(max_length=32)
    data = JSONField(null=True)
    ok = pw.BooleanField()
    error_code = pw.CharField(max_length=32, default="")
    client = pw.CharField(max_length=64, default="")  # the peer: address and ZAP name
    key_id = pw.CharField(max_length=64, default="")
    duration_ms = pw.IntegerField(default=0)
    prev_hash = pw.CharField(max_length=64, null=True)
    hash = pw.CharField(max_length=64, null=True)

    class Meta:
        table_name = "audit"


class ControlReplyRow(BaseModel):
    """A control command's reply by its request id (`<key id>/<id>`), kept for the reply
    cache's 10 minutes so a resent id is answered the same also after a crash
    (actors/journal/replies.py). An OPEN_POSITION gets its row before it runs, and the
    client order id of its intent in the intent's own transaction: a resend of one the
    crash left unanswered finds its order instead of placing a second."""

    key = pw.CharField(primary_key=True, max_length=200)
    corr = pw.CharField(max_length=64, index=True)
    type = pw.CharField(max_length=32)
    reply = JSONField(null=True)  # the reply map as sent; NULL while the command runs
    client_order_id = pw.CharField(max_length=32, null=True)
    created_at = pw.BigIntegerField()
    expires_at = pw.BigIntegerField(index=True)

    class Meta:
        table_name = "control_replies"


MODELS = (MetaRow, StrategyRow, IntentRow, PositionRow, TradeRow, DealRow, KillSwitchRow, RiskLimitsRow, EventRow, AuditRow,
          ControlReplyRow)


def open_database(path: Path) -> pw.SqliteDatabase:
    """Open (creating if needed) the journal at `path` and bind the models to it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = pw.SqliteDatabase(str(path), pragmas=PRAGMAS)
    db.bind(MODELS, bind_refs=False, bind_backrefs=False)
    db.connect(reuse_if_open=True)
    db.create_tables(MODELS, safe=True)
    return db
