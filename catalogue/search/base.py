"""The search protocol every backend implements, and its typed values.

The service layer talks to search only through `SearchBackend` (obtained from
`catalogue.search.create_backend`). Backends index *search documents*, the
flat dicts built by `catalogue.search.documents.to_search_document`.

All user input in a `SearchQuery` is data: the free text is tokenised by the
backend itself (never handed to a query parser) and filter values are matched
literally.

Every profile is indexed whatever its editorial state. Each document carries
permission labels (catalogue.access.document_labels) and every query takes
the caller's labels (catalogue.access.principal_labels) as a required
keyword argument: a document is found only when it has one of them.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, TypeVar, runtime_checkable

from catalogue.search.documents import ADOPTION_COUNT, CONFIRMED, CREATED, FACETS, FILTER_ONLY, PUBLISHED, SORTABLE, UPDATED
from catalogue.search.planning import PlaceResolver

_T = TypeVar("_T")

# The search document's keys (catalogue/search/documents.py): the facets, in
# display order, from the field registry; the filters that are not facets
# (status, owner) and the permission labels from the document's editorial block.

FILTERS: tuple[str, ...] = (*FACETS, *FILTER_ONLY)
MAX_LABELS = 20

MAX_PER_PAGE = 100
MAX_PAGE = 1_000
MAX_QUERY_CHARS = 500
MAX_FILTER_VALUES = 50
# Values counted per facet: every facet is a controlled list of at most a few dozen values
# (catalogue.vocabularies); the margin keeps values from older data countable.
MAX_FACET_VALUES = 200

SearchDocument = dict[str, Any]
ProgressCallback = Callable[[int], None]
DocumentSource = AsyncIterable[Mapping[str, Any]]  # streamed from the store (catalogue.search.sync)


class Sort(StrEnum):
    RELEVANCE = "relevance"
    NEWEST = "newest"
    TITLE = "title"
    # for lists (the review queue, "Meine Profile", the JSON list)
    UPDATED = "updated"
    UPDATED_ASC = "-updated"
    CREATED = "created"
    CREATED_ASC = "-created"
    NEWEST_ASC = "-newest"
    TITLE_DESC = "-title"
    # adoption and freshness
    ADOPTED = "adopted"  # most active adopters first
    STALEST = "confirmed"  # longest unconfirmed first
    FRESHEST = "-confirmed"  # most recently confirmed first


# Sort -> (document field, descending). Documents without the field come last either way.
SORT_FIELDS: dict[Sort, tuple[str, bool]] = {
    Sort.NEWEST: (PUBLISHED, True),
    Sort.NEWEST_ASC: (PUBLISHED, False),
    Sort.TITLE: ("title_sort", False),
    Sort.TITLE_DESC: ("title_sort", True),
    Sort.UPDATED: (UPDATED, True),
    Sort.UPDATED_ASC: (UPDATED, False),
    Sort.CREATED: (CREATED, True),
    Sort.CREATED_ASC: (CREATED, False),
    Sort.ADOPTED: (ADOPTION_COUNT, True),
    Sort.STALEST: (CONFIRMED, False),
    Sort.FRESHEST: (CONFIRMED, True),
}
if _unsortable := {name for name, _ in SORT_FIELDS.values()} - set(SORTABLE):
    raise RuntimeError(f"sorts on keys the backends cannot sort by: {sorted(_unsortable)}")


SORT_LABELS: dict[Sort, str] = {
    Sort.RELEVANCE: "Relevanz",
    Sort.NEWEST: "Neueste zuerst",
    Sort.TITLE: "Titel (A–Z)",
    Sort.ADOPTED: "am häufigsten nachgenutzt",
    Sort.FRESHEST: "zuletzt bestätigt",
    Sort.STALEST: "am längsten nicht bestätigt",
}


class SearchError(Exception):
    """The search engine failed (unreachable, task failed, index broken)."""


def check_labels(labels: Sequence[str]) -> tuple[str, ...]:
    """The caller's permission labels as a tuple; a lone string or a non-string label is a programming error.

    An empty tuple is allowed and matches no document.
    """
    if isinstance(labels, str | bytes) or not isinstance(labels, Sequence | set | frozenset):
        raise TypeError("labels must be a sequence of strings, e.g. principal_labels(principal)")
    out = tuple(dict.fromkeys(labels))
    if any(not isinstance(label, str) or not label for label in out):
        raise TypeError("every label must be a non-empty string")
    if len(out) > MAX_LABELS:
        raise ValueError("too many permission labels")
    return out


def check_filters(filters: Mapping[str, Sequence[str]] | None) -> dict[str, tuple[str, ...]]:
    """Filter names from FILTERS only; values as distinct non-empty strings (a lone string is one value)."""
    clean: dict[str, tuple[str, ...]] = {}
    for name, values in dict(filters or {}).items():
        if name not in FILTERS:
            raise ValueError(f"Unbekannter Filter: {name}")
        given = (values,) if isinstance(values, str) else values
        vals = tuple(dict.fromkeys(str(v) for v in given if v is not None and str(v) != ""))
        if len(vals) > MAX_FILTER_VALUES:
            raise ValueError(f"Zu viele Werte für Filter {name}")
        if vals:
            clean[name] = vals
    return clean


def _optional_int(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} muss eine ganze Zahl sein")
    if value < 0 or value > 10**12:
        raise ValueError(f"{name} liegt außerhalb des zulässigen Bereichs")
    return value


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """One search request (the caller's permission labels travel beside it, see SearchBackend.search).

    `filters` maps a facet name (see FACETS) or "status"/"owner" to the
    accepted values: values of one field are OR-ed, different fields AND-ed. Ranges are inclusive; a
    document without population (or collaboration year) does not match a
    range on it. `page` counts from 1. Empty `q` lists everything that passes
    the filters (relevance sort then falls back to newest first).
    """

    q: str = ""
    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)
    population_min: int | None = None
    population_max: int | None = None
    since_min: int | None = None
    since_max: int | None = None
    confirmed_min: int | None = None  # freshness: confirmed (or else published) at or after this Unix time
    confirmed_max: int | None = None  # … at or before it ("not confirmed for 12 months": now - 12 months)
    sort: Sort = Sort.RELEVANCE
    page: int = 1
    per_page: int = 20
    facets: tuple[str, ...] = FACETS
    explain: bool = False  # each hit carries an explanation of its match (Hit.explanation)

    def __post_init__(self) -> None:
        if not isinstance(self.q, str):
            raise ValueError("Suchtext muss ein Text sein")
        if len(self.q) > MAX_QUERY_CHARS:
            object.__setattr__(self, "q", self.q[:MAX_QUERY_CHARS])
        object.__setattr__(self, "filters", check_filters(self.filters))
        for name in ("population_min", "population_max", "since_min", "since_max", "confirmed_min", "confirmed_max"):
            object.__setattr__(self, name, _optional_int(name, getattr(self, name)))
        object.__setattr__(self, "sort", Sort(self.sort))
        if isinstance(self.page, bool) or not isinstance(self.page, int) or not 1 <= self.page <= MAX_PAGE:
            raise ValueError(f"Seite muss zwischen 1 und {MAX_PAGE} liegen")
        if isinstance(self.per_page, bool) or not isinstance(self.per_page, int) or not 1 <= self.per_page <= MAX_PER_PAGE:
            raise ValueError(f"Treffer pro Seite müssen zwischen 1 und {MAX_PER_PAGE} liegen")
        facets = tuple(dict.fromkeys(self.facets))
        for name in facets:
            if name not in FACETS:
                raise ValueError(f"Unbekannte Facette: {name}")
        object.__setattr__(self, "facets", facets)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


@dataclass(frozen=True, slots=True)
class Hit:
    """One result. `snippets` values are safe HTML: escaped text with <mark> around matches.

    Keys: "title" and "summary" (always present, possibly without marks) and
    "text" (a fragment of the long texts, only when something matched there).
    `score` is the engine's relevance (BM25 sum for Tantivy, 0–1 ranking score
    for Meilisearch; 0 when sorted by date or title): compare it only within
    one result. `document` is the search document without the long "texts".
    """

    id: str
    slug: str
    title: str
    score: float
    document: SearchDocument
    snippets: dict[str, str] = field(default_factory=dict)
    explanation: dict[str, Any] | None = None  # with SearchQuery.explain: catalogue.search.planning.explain


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A page of hits, the exact number of matching documents, and facet counts.

    `facets[name][value]` is the number of documents that would match if the
    filter on `name` were replaced by `value` alone (disjunctive faceting: the
    other facets' filters, the ranges and the text query stay applied).
    """

    hits: list[Hit]
    total: int
    page: int
    per_page: int
    facets: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return (self.total + self.per_page - 1) // self.per_page


@dataclass(frozen=True, slots=True)
class Candidate:
    """A candidate for "comparable projects": the stored search document and its raw text relevance."""

    document: SearchDocument
    text_score: float


# The weights of "comparable projects" (catalogue/search/comparable.py explains each part): here, so an engine that
# ranks candidates itself (`SearchBackend.ranks_similar`) weighs the same signals without importing the service layer
SIMILARITY_WEIGHTS: dict[str, float] = {"fields": 0.30, "keywords": 0.20, "text": 0.25, "size": 0.15, "state": 0.10}


@runtime_checkable
class SearchBackend(Protocol):
    """What the service layer may ask of a search engine. All methods are coroutines.

    Backends subclass this protocol, so they inherit the defaults of the
    optional capabilities (`needs_reindex`, `suggest`) and declare the rest.
    """

    name: str
    # True when the index is missing or was built for another schema: the
    # runtime then rebuilds it from the store at start (Tantivy sets it).
    needs_reindex: bool = False
    # Looks up query words in the municipality register (catalogue/search/places.py), so place words
    # boost and softly filter instead of having to match; None: only the Länder are known as places.
    places: PlaceResolver | None = None
    # True when `similar_candidates` ranks its candidates by the similarity signals (text, shared facet values and,
    # with `population`, the size) itself, so `find_comparable` asks for a small pool and runs no search of its own
    # for profiles of a similar size (Tantivy); False: candidates by text, then facet values (Meilisearch).
    ranks_similar: bool = False

    async def suggest(self, q: str) -> str | None:
        """A corrected query for a search without hits, or None (then the caller finds its own)."""
        return None

    # One index writer (catalogue/search/writer.py): only the process holding the sync lease writes.
    # Engines that are shared servers (Meilisearch) need nothing here; an embedded index on disk
    # (Tantivy) opens its writer, lets it go, and has readers follow the writer's commits.

    async def acquire_writer(self) -> None:
        """This process now writes the index (it took the sync lease): get ready to write."""
        return

    async def release_writer(self) -> None:
        """This process no longer writes the index (it gave up the lease): let another process write."""
        return

    def follow(self) -> None:
        """Show another process's commits now (after its worker applied writes this process waits for)."""
        return

    @property
    def follows_by_itself(self) -> bool:
        """Whether this process's next read shows another process's commits without `follow` (True here: the
        engine is a server every process asks)."""
        return True

    def reopen(self) -> None:
        """Drop whatever the engine's library holds open and open the index afresh (after a failure inside it)."""
        return

    async def count(self) -> int | None:
        """How many documents the index holds (a progress hint for rebuilds), or None when unknown."""
        return None

    async def prepare(self) -> None:
        """Create the index if needed and apply settings (idempotent)."""

    async def upsert(self, docs: Sequence[Mapping[str, Any]]) -> None:
        """Insert or replace documents (by "id"); visible to searches when this returns."""

    async def delete(self, ids: Sequence[str]) -> None:
        """Remove documents by id; unknown ids are ignored."""

    async def search(self, query: SearchQuery, *, labels: Sequence[str]) -> SearchResult:
        """Run a query: hits of the requested page, exact total, facets, snippets.

        Only documents carrying one of `labels` (the caller's permission
        labels; required, see catalogue.access.principal_labels) are found,
        counted or faceted.
        """

    async def document(self, doc_id: str, *, labels: Sequence[str]) -> SearchDocument | None:
        """The stored search document with id `doc_id` (without the long "texts"), as the engine holds it now.

        None when the index has no such document or it carries none of
        `labels` (the caller's permission labels, as for `search`). One keyed
        lookup, no query: the read paths take a profile's indexed facts from
        here instead of building its search document again (which reads the
        register); callers compare its "version" with the profile they read.
        """

    async def similar_candidates(
        self,
        text: str,
        *,
        labels: Sequence[str],
        any_of: Mapping[str, Sequence[str]] | None = None,
        filters: Mapping[str, Sequence[str]] | None = None,
        exclude_ids: Sequence[str] = (),
        limit: int = 100,
        population: int | None = None,
        reference_id: str | None = None,
    ) -> list[Candidate]:
        """Candidates for "comparable projects", best text match first.

        A document is a candidate when it carries one of `labels`, passes
        `filters` (as in SearchQuery, e.g. {"status": ["published"]}), and
        shares any word with `text` (any-word match, same analysis as search)
        or has any of the facet values in `any_of` (e.g. the same
        Handlungsfeld). `text_score` is the relevance for `text` alone (0 for
        documents found only through `any_of`).

        An engine that `ranks_similar` orders the candidates by the weighted
        signals instead (SIMILARITY_WEIGHTS: the text relevance scaled by that of
        the document `reference_id`, the shared `any_of` values and, with
        `population`, a size between half and twice it, which then also makes
        a document a candidate); the others ignore `population` and `reference_id`.
        """

    async def ranked_similar(
        self,
        then: Callable[[list[Candidate]], _T],
        text: str,
        *,
        labels: Sequence[str],
        any_of: Mapping[str, Sequence[str]] | None = None,
        filters: Mapping[str, Sequence[str]] | None = None,
        limit: int = 100,
        population: int | None = None,
        reference_id: str | None = None,
    ) -> _T:
        """`then(similar_candidates(...))`: an engine that searches in a thread runs `then` (the ranking, plain Python)
        there too, in the same hop, so neither the candidates' copies nor their ranking take the event loop's time;
        `then` may keep but not change the candidates' documents (they may be the engine's kept copies)."""
        return then(await self.similar_candidates(text, labels=labels, any_of=any_of, filters=filters, limit=limit,
                                                  population=population, reference_id=reference_id))

    async def rebuild(self, docs: DocumentSource, progress: ProgressCallback | None = None) -> int:
        """Index `docs` (an async stream) into a fresh index and swap it in atomically; returns the number indexed.

        Searches keep answering from the old index until the swap. Changes
        made through upsert/delete while the rebuild runs are not lost.
        """

    async def health(self) -> bool:
        """True when the engine answers; raises SearchError when it does not."""

    async def close(self) -> None:
        """Release resources (connections, writers)."""
