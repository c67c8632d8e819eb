"""A bounded, thread-safe least-recently-used cache (search paths cache their lookups in it), and an expiring one.

`functools.lru_cache` serves pure functions; this one is for caches that live
on an object (a searcher snapshot, the lexicon) and are keyed by what the
caller chooses. Reads and writes hold a lock, so threads searching at the
same time (Tantivy searches run in worker threads) share it safely; a value
is computed outside the lock, so two threads may compute the same value
once each, which is harmless for the pure lookups cached here.

`Expiring` keeps documents read from the store for a few seconds (the
caller's token, session and user, catalogue/users.py and sessions.py): what
another process changes is seen after its `ttl`, what this process changes
at once (`forget`, which also voids loads under way).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, Protocol, TypeVar, cast

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


class _Missing:
    """What `Expiring` keeps for a read that found nothing (`keep_missing`)."""


MISSING = _Missing()


class SharedCounter(Protocol):
    """A change counter several processes share (catalogue.shared_generation.SharedGeneration)."""

    def value(self) -> int: ...

    def bump(self) -> None: ...


class Expiring(Generic[K, V]):
    """At most `size` values, each for `ttl` seconds after the read that gave it began (`clock`: monotonic
    seconds; tests set their own). `load` reads through it; `forget` drops a key and every load under way,
    so a value read before a change this process made is never kept after it. With `keep_missing`, a read
    that found nothing (None) is kept too.

    `shared`: a counter of changes that other processes bump too (catalogue/shared_generation.py). Every
    `forget` bumps it; when it moved since this cache last looked, everything kept is dropped (and a load
    under way is not kept), so a change made by another process holds here at once as well."""

    __slots__ = ("_epoch", "_lru", "_seen", "clock", "keep_missing", "shared", "ttl")

    def __init__(
        self,
        size: int,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        keep_missing: bool = False,
        shared: SharedCounter | None = None,
    ) -> None:
        self._lru: LRU[K, tuple[float, V | _Missing]] = LRU(size)
        self.ttl = ttl
        self.clock = clock
        self.keep_missing = keep_missing
        self._epoch = 0
        self.shared = shared
        self._seen = shared.value() if shared is not None else 0

    def _follow(self) -> None:
        """Drop everything when another process (or this one) counted a change since the last look."""
        if self.shared is not None:
            now = self.shared.value()
            if now != self._seen:
                self._seen = now
                self.clear()

    def get(self, key: K) -> V | _Missing | None:
        """The kept value, MISSING for a kept "nothing", None when nothing is kept (or it expired)."""
        self._follow()
        hit = self._lru.get(key)
        if hit is None:
            return None
        if self.clock() - hit[0] >= self.ttl:
            self._lru.discard(key)
            return None
        return hit[1]

    async def load(self, key: K, read: Callable[[], Awaitable[V | None]]) -> V | None:
        """The value kept for `key`, else what `read` gives (kept unless a `forget` came meanwhile)."""
        found = self.get(key)
        if found is not None:
            return None if isinstance(found, _Missing) else found
        epoch, began = self._epoch, self.clock()
        value = await read()
        self._follow()  # a change counted during the read: not kept
        if (value is not None or self.keep_missing) and epoch == self._epoch:
            self._lru.put(key, (began, MISSING if value is None else value))
        return value

    def forget(self, key: K) -> None:
        self._epoch += 1
        self._lru.discard(key)
        if self.shared is not None:
            self.shared.bump()

    def clear(self) -> None:
        self._epoch += 1
        self._lru.clear()

    def __len__(self) -> int:
        return len(self._lru)


__all__ = ["LRU", "Expiring", "SharedCounter"]
