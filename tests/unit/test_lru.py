"""The bounded LRU cache of the search paths (catalogue/lru.py)."""

from __future__ import annotations

import threading

import pytest

from catalogue.lru import LRU


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
