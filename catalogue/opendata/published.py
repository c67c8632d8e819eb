"""The published profiles as the index lists them (sitemap, DCAT facets, the exports' freshness).

Which profiles are published is the index's answer to an anonymous caller
(the public label, status "published"), paged oldest first; a consumer
holds one page of search documents at a time (constant memory whatever the
catalogue's size). The bulk exports themselves stream the export mirror
(catalogue/opendata/mirror.py), not the store.

Paging is by offset over a sort by creation time, so a profile unpublished
while an export runs can make the next one shift out of a page (a
consistent snapshot would need one of the index's own). Duplicates at page
edges are dropped. The index answers at most MAX_PAGE * MAX_PER_PAGE hits
of one query (100,000); beyond that the export is split by Land (one query
each, up to 100,000 per Land), and profiles without a Land are then found
only among the first 100,000 of the unsplit query (a known limit).
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from catalogue.access import principal_labels
from catalogue.errors import DependencyUnavailable
from catalogue.search.base import MAX_PAGE, MAX_PER_PAGE, SearchBackend, SearchError, SearchQuery, Sort
from catalogue.vocabularies import EditorialStatus, FederalState

PAGE_SIZE = MAX_PER_PAGE  # ids per index page
PUBLIC = principal_labels(None)
_PUBLISHED = {"status": [EditorialStatus.PUBLISHED.value]}
UNAVAILABLE = "Der Export ist gerade nicht verfügbar. Bitte versuchen Sie es gleich noch einmal."


@dataclass(frozen=True, slots=True)
class Freshness:
    """How many profiles are published and when the newest change to one was: the export's validators."""

    total: int
    last_modified: datetime | None
    # id and version of the most recently changed profiles: the index keeps whole seconds, so two
    # changes within one second share `last_modified`; their versions still tell them apart
    recent: str = ""

    def etag(self, variant: str) -> str:
        """A strong ETag for one export file (`variant`: format and anything else that shapes the bytes)."""
        stamp = int(self.last_modified.timestamp()) if self.last_modified else 0
        digest = hashlib.sha256(f"{variant}|{self.total}|{stamp}|{self.recent}".encode()).hexdigest()[:32]
        return f'"{digest}"'


RECENT = 50  # profiles changed within the newest second are all among these (far more than change in one second)


async def _search(backend: SearchBackend, query: SearchQuery) -> Any:
    try:
        return await backend.search(query, labels=PUBLIC)
    except SearchError as exc:
        raise DependencyUnavailable(UNAVAILABLE) from exc


async def freshness(backend: SearchBackend) -> Freshness:
    """The number of published profiles and the newest change among them, from the index (one query)."""
    result = await _search(backend, SearchQuery(filters=_PUBLISHED, sort=Sort.UPDATED, per_page=RECENT, facets=()))
    stamp = result.hits[0].document.get("updated_at") if result.hits else None
    last = datetime.fromtimestamp(int(stamp), UTC) if isinstance(stamp, int | float) else None
    recent = ",".join(sorted(f"{h.document.get('id')}:{h.document.get('version')}" for h in result.hits))
    return Freshness(total=int(result.total), last_modified=last, recent=recent)


async def published_documents(backend: SearchBackend, *, page_size: int = PAGE_SIZE) -> AsyncIterator[list[dict[str, Any]]]:
    """The search documents of the published profiles, a page at a time, oldest first (from the index).

    Memory stays flat: only the previous page's ids are kept, to drop a profile
    that a change elsewhere shifted across the page edge.
    """
    first = await _search(backend, SearchQuery(filters=_PUBLISHED, sort=Sort.CREATED_ASC, per_page=1, facets=()))
    lands = {s.value for s in FederalState}
    partitions: list[tuple[dict[str, list[str]], bool]]  # (filters, only documents without a Land)
    if first.total <= MAX_PAGE * page_size:
        partitions = [(_PUBLISHED, False)]
    else:  # more than one query can page through: one query per Land, then those without one
        partitions = [({**_PUBLISHED, "state": [land]}, False) for land in sorted(lands)]
        partitions.append((_PUBLISHED, True))
    for filters, landless in partitions:
        previous: set[str] = set()
        for page in range(1, MAX_PAGE + 1):
            result = await _search(
                backend, SearchQuery(filters=filters, sort=Sort.CREATED_ASC, page=page, per_page=page_size, facets=())
            )
            docs = [h.document for h in result.hits if h.id not in previous]
            if landless:
                docs = [d for d in docs if d.get("state") not in lands]
            previous = {h.id for h in result.hits}
            if docs:
                yield docs
            if page * page_size >= result.total:
                break


async def published_facets(backend: SearchBackend, names: Sequence[str]) -> dict[str, list[str]]:
    """The values of facets `names` that published profiles have (from the index, one query)."""
    result = await _search(backend, SearchQuery(filters=_PUBLISHED, per_page=1, facets=tuple(names)))
    return {name: sorted(v for v, n in result.facets.get(name, {}).items() if n) for name in names}


__all__ = ["Freshness", "freshness", "published_documents", "published_facets"]
