"""Place words of a query, looked up in the municipality register (catalogue/gazetteer.py).

`RegisterPlaces` is the `planning.PlaceResolver` the application gives its
search backend: each candidate phrase of a query ("Ostalbkreis", "Bad
Driburg", "Kreis Höxter") is looked up by the register's keyed name reads
(`gazetteer.find_by_name`: one to three reads by `_id`, never a scan), and
the answer, including "not a place", is cached per normalised name for a
while, so a repeated query costs no store read. Länder are known without
the register (planning.LAENDER).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from catalogue import gazetteer
from catalogue.search.planning import Place

CACHE_SIZE = 8192
CACHE_TTL_S = 600.0  # the register changes only through batch imports
PLACE_LEVELS = frozenset({gazetteer.GEMEINDE, gazetteer.VERBAND, gazetteer.KREIS, gazetteer.REGIERUNGSBEZIRK, gazetteer.LAND})


def to_place(ref: dict[str, Any]) -> Place:
    return Place(name=str(ref.get("display_name") or ref.get("name") or ""), level=str(ref["level"]), state=ref.get("state"), key=ref.get("key"))


class RegisterPlaces:
    """Candidate phrases -> register entries, through keyed reads with a bounded, expiring cache."""

    def __init__(self, *, size: int = CACHE_SIZE, ttl: float = CACHE_TTL_S) -> None:
        self.size = size
        self.ttl = ttl
        self._cache: OrderedDict[str, tuple[float, list[Place]]] = OrderedDict()

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
        for phrase in phrases:
            found = await self._lookup(phrase)
            if found:
                out[phrase] = found
        return out

    def clear(self) -> None:
        self._cache.clear()


__all__ = ["RegisterPlaces", "to_place"]
