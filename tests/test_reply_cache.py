"""Replies remembered by request id (actors/control/reply_cache.py), on an injected clock."""

from __future__ import annotations

import pytest

from actors.control.protocol import REPLY_CACHE_TTL_S
from actors.control.reply_cache import ReplyCache


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_miss_then_hit(clock):
    cache = ReplyCache(clock=clock)
    assert cache.get("a") is None
    cache.put("a", b"reply-a")
    assert cache.get("a") == b"reply-a"
    assert cache.get("b") is None
    assert len(cache) == 1


def test_default_ttl_is_ten_minutes(clock):
    cache = ReplyCache(clock=clock)
    cache.put("a", b"1")
    clock.now += 599.0
    assert cache.get("a") == b"1"
    clock.now += 1.0
    assert cache.get("a") is None
    assert REPLY_CACHE_TTL_S == 600.0


def test_expires_at_exactly_ttl(clock):
    cache = ReplyCache(ttl_s=10.0, clock=clock)
    cache.put("a", b"1")
    clock.now += 9.999
    assert cache.get("a") == b"1"
    clock.now += 0.001
    assert cache.get("a") is None
    assert len(cache) == 0


def test_expiry_drops_only_the_old_entries(clock):
    cache = ReplyCache(ttl_s=10.0, clock=clock)
    cache.put("old", b"1")
    clock.now += 6.0
    cache.put("new", b"2")
    clock.now += 5.0  # old is 11 s old, new 5 s
    assert cache.get("old") is None
    assert cache.get("new") == b"2"
    assert len(cache) == 1


def test_a_repeated_put_renews_the_entry(clock):
    cache = ReplyCache(ttl_s=10.0, clock=clock)
    cache.put("a", b"first")
    clock.now += 8.0
    cache.put("a", b"second")
    clock.now += 8.0
    assert cache.get("a") == b"second"
    assert len(cache) == 1


def test_size_bound_drops_the_oldest(clock):
    cache = ReplyCache(max_entries=3, clock=clock)
    for key in "abcd":
        cache.put(key, key.encode())
        clock.now += 1.0
    assert len(cache) == 3
    assert cache.get("a") is None
    assert [cache.get(k) for k in "bcd"] == [b"b", b"c", b"d"]


def test_size_bound_counts_a_renewed_entry_as_newest(clock):
    cache = ReplyCache(max_entries=2, clock=clock)
    cache.put("a", b"1")
    cache.put("b", b"2")
    cache.put("a", b"1")  # renewed: b is now the oldest
    cache.put("c", b"3")
    assert cache.get("b") is None
    assert cache.get("a") == b"1"
    assert cache.get("c") == b"3"


def test_many_ids_stay_bounded(clock):
    cache = ReplyCache(max_entries=100, clock=clock)
    for i in range(10_000):
        cache.put(f"id-{i}", b"x")
    assert len(cache) == 100
    assert cache.get("id-9999") == b"x"
    assert cache.get("id-9899") is None
