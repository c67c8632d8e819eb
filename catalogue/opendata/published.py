"""The published profiles for bulk exports: listed from the search index, read by `_id`.

Which profiles are published is the index's answer to an anonymous caller
(the public label, status "published"), paged oldest first. Each page's
profiles are then read from the store by `_id` in small concurrent groups,
and yielded one by one: a consumer that streams them holds one page at a time
(constant memory whatever the catalogue's size). A profile the store no
longer has, or that is no longer published there (the index lags a write by
moments), is left out: the store decides.

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

from beanie import PydanticObjectId
from bson.errors import InvalidId

from catalogue.access import principal_labels
from catalogue.errors import DependencyUnavailable
from catalogue.models import Profile
from catalogue.search.base import MAX_PAGE, MAX_PER_PAGE, SearchBackend, SearchError, SearchQuery, Sort
from catalogue.storage import read_each
from catalogue.vocabularies import EditorialStatus, FederalState

PAGE_SIZE = MAX_PER_PAGE  # ids per index page
READ_GROUP = 10  # profiles read by _id concurrently
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


async def published_ids(backend: SearchBackend, *, page_size: int = PAGE_SIZE) -> AsyncIterator[list[str]]:
    """The ids of the published profiles, a page at a time, oldest first (from the index)."""
    async for docs in published_documents(backend, page_size=page_size):
        yield [str(d.get("id")) for d in docs]


async def _read(ids: Sequence[str]) -> list[Profile | None]:
    oids: list[PydanticObjectId | None] = []
    for pid in ids:
        try:
            oids.append(PydanticObjectId(pid))
        except (InvalidId, TypeError):
            oids.append(None)
    found = await read_each(Profile.get_pymongo_collection(), [o for o in oids if o is not None], parse=Profile.model_validate)
    return [found.get(o) if o is not None else None for o in oids]


async def published_profiles(
    backend: SearchBackend, *, page_size: int = PAGE_SIZE, group: int = READ_GROUP
) -> AsyncIterator[Profile]:
    """The published profiles, oldest first: ids from the index, each profile read by `_id` (`group` at a time)."""
    async for ids in published_ids(backend, page_size=page_size):
        for start in range(0, len(ids), group):
            for profile in await _read(ids[start : start + group]):
                if profile is not None and profile.status == EditorialStatus.PUBLISHED:
                    yield profile




async def published_facets(backend: SearchBackend, names: Sequence[str]) -> dict[str, list[str]]:
    """The values of facets `names` that published profiles have (from the index, one query)."""
    result = await _search(backend, SearchQuery(filters=_PUBLISHED, per_page=1, facets=tuple(names)))
    return {name: sorted(v for v, n in result.facets.get(name, {}).items() if n) for name in names}


__all__ = ["Freshness", "freshness", "published_documents", "published_facets", "published_ids", "published_profiles"]
