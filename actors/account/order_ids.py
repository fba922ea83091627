"""Client order ids, and how they travel to MT5 and back.

An order's identity is its journal row. Its client order id, `<tag>-<row id>`, is the
bridge request id (so the EA's idempotency cache recognises a resend) and the MT5
`comment`; the row id is also packed into the low 32 bits of the uint64 `magic`, whose high
32 bits mark the order as this executor's. Reconciliation can therefore find an order whose
reply was lost from either field, and the journal's random tag keeps ids from a wiped or
second journal from colliding on the same terminal.
"""

from __future__ import annotations

import secrets

EXECUTOR_MAGIC = 0x4D544558  # "MTEX"
_LOW32 = 0xFFFFFFFF


def new_journal_tag() -> str:
    return secrets.token_hex(3)


def client_order_id(tag: str, intent_id: int) -> str:
    return f"{tag}-{intent_id}"


def magic_for(intent_id: int, executor_magic: int = EXECUTOR_MAGIC) -> int:
    return (executor_magic << 32) | (intent_id & _LOW32)


def intent_id_from_magic(magic: int, executor_magic: int = EXECUTOR_MAGIC) -> int | None:
    """The journal row id carried by `magic`, or None when the order is not ours."""
    if magic >> 32 != executor_magic:
        return None
    return magic & _LOW32
