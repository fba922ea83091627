"""Client order ids and the magic number (actors/account/order_ids.py)."""

from __future__ import annotations

import re

import pytest

from actors.account.order_ids import EXECUTOR_MAGIC, client_order_id, intent_id_from_magic, magic_for, new_journal_tag


def test_executor_magic_spells_mtex():
    assert EXECUTOR_MAGIC.to_bytes(4, "big") == b"MTEX"


def test_journal_tag_is_six_hex_characters_and_random():
    tags = {new_journal_tag() for _ in range(50)}
    assert all(re.fullmatch(r"[0-9a-f]{6}", t) for t in tags)
    assert len(tags) > 45  # 24 random bits: collisions in 50 draws are vanishingly rare


def test_client_order_id():
    assert client_order_id("ab12cd", 7) == "ab12cd-7"
    assert client_order_id("ab12cd", 123456) == "ab12cd-123456"


def test_client_order_id_fits_an_mt5_comment():
    # MT5 keeps 31 characters of a comment; the id must survive intact.
    assert len(client_order_id(new_journal_tag(), 0xFFFFFFFF)) <= 31


@pytest.mark.parametrize("intent_id", [0, 1, 7, 123_456, 0xFFFFFFFF])
def test_magic_round_trip(intent_id):
    magic = magic_for(intent_id)
    assert intent_id_from_magic(magic) == intent_id
    assert magic >> 32 == EXECUTOR_MAGIC
    assert 0 <= magic < 2 ** 64  # MT5's magic is a uint64


def test_magic_values_differ_per_intent():
    assert len({magic_for(i) for i in range(1000)}) == 1000


@pytest.mark.parametrize("magic", [0, 1, 123456, 0xFFFFFFFF, (EXECUTOR_MAGIC + 1) << 32, EXECUTOR_MAGIC])
def test_foreign_magic_is_not_ours(magic):
    assert intent_id_from_magic(magic) is None


def test_another_executor_magic():
    other = 0x12345678
    magic = magic_for(9, executor_magic=other)
    assert intent_id_from_magic(magic) is None
    assert intent_id_from_magic(magic, executor_magic=other) == 9
