"""The bounded LRU cache of the search paths, and the expiring one of the callers (catalogue/lru.py)."""

from __future__ import annotations

import threading

import pytest

from catalogue.lru import LRU, Expiring
from tests.clocks import ManualClock


def test_least_recently_used_goes_first() -> None:
    cache: LRU[str, int] = LRU(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recent
    cache.put("c", 3)
    assert "b" not in cache and cache.get("a") == 1 and cache.get("c") == 3
    assert len(cache) == 2


def test_get_or_compute_computes_once_per_key() -> None:
    cache: LRU[str, int] = LRU(4)
    calls: list[str] = []

    def compute(key: str) -> int:
        calls.append(key)
        return len(key)

    assert cache.get_or_compute("abc", lambda: compute("abc")) == 3
    assert cache.get_or_compute("abc", lambda: compute("abc")) == 3
    assert calls == ["abc"] and cache.hits == 1 and cache.misses == 1


def test_bounded_under_threads() -> None:
    cache: LRU[int, int] = LRU(50)

    def work(offset: int) -> None:
        for i in range(2000):
            cache.get_or_compute((i * 7 + offset) % 500, lambda i=i: i)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) <= 50


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="size"):
        LRU(0)


async def test_expiring_keeps_a_value_for_its_ttl_from_the_start_of_its_read() -> None:
    clock = ManualClock(0.0)
    cache: Expiring[str, int] = Expiring(8, 5.0, clock)
    reads: list[str] = []

    async def read() -> int:
        reads.append("a")
        clock.now += 1.0  # the read takes a second: the value's age counts from its start
        return 1

    assert await cache.load("a", read) == 1
    clock.now = 4.9
    assert await cache.load("a", read) == 1 and reads == ["a"]
    clock.now = 5.0
    assert await cache.load("a", read) == 1 and reads == ["a", "a"]


async def test_expiring_forgets_at_once_and_drops_a_read_under_way() -> None:
    cache: Expiring[str, int] = Expiring(8, 5.0, ManualClock(0.0))

    async def one() -> int:
        return 1

    await cache.load("a", one)
    cache.forget("a")
    assert cache.get("a") is None

    async def read_while_forgotten() -> int:
        cache.forget("b")  # a change made while the read was under way
        return 2

    assert await cache.load("b", read_while_forgotten) == 2
    assert cache.get("b") is None  # not kept: it may be from before the change


async def test_expiring_keeps_nothing_found_only_when_asked() -> None:
    reads: list[str] = []

    async def nothing() -> int | None:
        reads.append("x")
        return None

    plain: Expiring[str, int] = Expiring(8, 5.0, ManualClock(0.0))
    assert await plain.load("x", nothing) is None and await plain.load("x", nothing) is None and len(reads) == 2
    keeping: Expiring[str, int] = Expiring(8, 5.0, ManualClock(0.0), keep_missing=True)
    assert await keeping.load("x", nothing) is None and await keeping.load("x", nothing) is None and len(reads) == 3
