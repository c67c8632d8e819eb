"""A bounded, thread-safe least-recently-used cache (search paths cache their lookups in it).

`functools.lru_cache` serves pure functions; this one is for caches that live
on an object (a searcher snapshot, the lexicon) and are keyed by what the
caller chooses. Reads and writes hold a lock, so threads searching at the
same time (Tantivy searches run in worker threads) share it safely; a value
is computed outside the lock, so two threads may compute the same value
once each, which is harmless for the pure lookups cached here.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar, cast

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """At most `size` entries; the least recently used goes first."""

    __slots__ = ("_data", "_lock", "hits", "misses", "size")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _lookup(self, key: K) -> tuple[bool, V | None]:
        """(found, value), counting the hit or miss and marking a hit as recently used."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                self.hits += 1
                return True, self._data[key]
            self.misses += 1
            return False, None

    def get(self, key: K) -> V | None:
        return self._lookup(key)[1]

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def get_or_compute(self, key: K, compute: Callable[[], V]) -> V:
        found, cached = self._lookup(key)
        if found:
            return cast("V", cached)  # a stored V (V itself may include None)
        value = compute()
        self.put(key, value)
        return value

    def discard(self, key: K) -> bool:
        """Forget `key`; True when it was there."""
        with self._lock:
            return self._data.pop(key, None) is not None

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data


__all__ = ["LRU"]
