"""Place words of a query, looked up in the municipality register (catalogue/gazetteer.py).

`RegisterPlaces` is the `planning.PlaceResolver` the application gives its
search backend: each candidate phrase of a query ("Ostalbkreis", "Bad
Driburg", "Kreis Höxter") is looked up by the register's keyed name reads
(`gazetteer.find_by_name`: one to three reads by `_id`, never a scan), and
the answer, including "not a place", is cached per normalised name for a
while, so a repeated query costs no store read. Länder are known without
the register (planning.LAENDER).

Most words of a query name no place, and a new query of four words asked
the register up to 15 keyed reads. So every name the register holds is kept
in memory (`gazetteer.name_keys`, some 2 MB for the whole register), read in
a background task once per loaded register, never awaited by a request: a
phrase none of whose lookup keys is a name (`gazetteer.may_find_by_name`)
costs no read. A load in this process is seen at once (`gazetteer.generation`),
one by another process (the CLI) within `ttl` (one keyed read of the
register's version per `ttl`); until the names are read (again), phrases are
looked up as before.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from catalogue import gazetteer
from catalogue.search.planning import Place

log = logging.getLogger("leuchtturm.search")

CACHE_SIZE = 8192
CACHE_TTL_S = 600.0  # the register changes only through batch imports
PLACE_LEVELS = frozenset({gazetteer.GEMEINDE, gazetteer.VERBAND, gazetteer.KREIS, gazetteer.REGIERUNGSBEZIRK, gazetteer.LAND})


def to_place(ref: dict[str, Any]) -> Place:
    return Place(name=str(ref.get("display_name") or ref.get("name") or ""), level=str(ref["level"]), state=ref.get("state"), key=ref.get("key"))


class RegisterPlaces:
    """Candidate phrases -> register entries, through keyed reads with a bounded, expiring cache."""

    def __init__(self, *, size: int = CACHE_SIZE, ttl: float = CACHE_TTL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.ttl = ttl
        self.clock = clock
        self._cache: OrderedDict[str, tuple[float, list[Place]]] = OrderedDict()
        self._names: frozenset[str] | None = None  # every name of the register as loaded (module docstring)
        self._names_version: tuple[Any, ...] | None = None
        self._names_generation = -1
        self._checked_at = 0.0
        self.loading: asyncio.Task[None] | None = None

    async def known_names(self) -> frozenset[str] | None:
        """Every name the register holds, or None while they are read (again) in the background."""
        if self._names is not None and self._names_generation != gazetteer.generation:
            self._names = None  # the register was loaded in this process
        if self._names is not None and self.clock() - self._checked_at >= self.ttl:
            self._checked_at = self.clock()
            if await _register_version() != self._names_version:  # loaded by another process
                self._names = None
        if self._names is None and self.loading is None:
            # its own context: not part of the request that happens to start it
            self.loading = asyncio.get_running_loop().create_task(self._read_names(), context=contextvars.Context())
        return self._names

    async def _read_names(self) -> None:
        try:
            generation, began = gazetteer.generation, self.clock()
            version = await _register_version()
            names = await gazetteer.name_keys()
            if generation == gazetteer.generation:
                self._names, self._names_version, self._names_generation, self._checked_at = names, version, generation, began
        except Exception:  # the store went away: phrases are looked up by key, and the names read again next time
            log.warning("could not read the register's names; place words are looked up one by one", exc_info=True)
        finally:
            self.loading = None

    async def _lookup(self, phrase: str) -> list[Place]:
        name = gazetteer.name_key(phrase)
        if not name:
            return []
        now = time.monotonic()
        hit = self._cache.get(name)
        if hit is not None and now - hit[0] < self.ttl:
            self._cache.move_to_end(name)
            return hit[1]
        refs = await gazetteer.find_by_name(phrase)
        found = [to_place(r) for r in refs if r.get("level") in PLACE_LEVELS]
        self._cache[name] = (now, found)
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return found

    async def resolve(self, phrases: Sequence[str]) -> dict[str, list[Place]]:
        out: dict[str, list[Place]] = {}
        names = await self.known_names()
        for phrase in phrases:
            if names is not None and not gazetteer.may_find_by_name(phrase, names):
                continue  # names nothing in the register: no read
            found = await self._lookup(phrase)
            if found:
                out[phrase] = found
        return out

    def clear(self) -> None:
        self._cache.clear()


async def _register_version() -> tuple[Any, ...] | None:
    """Which register is loaded (one keyed read)."""
    meta = await gazetteer.meta()
    return (meta.fingerprint, meta.loaded_at) if meta is not None else None


__all__ = ["RegisterPlaces", "to_place"]
