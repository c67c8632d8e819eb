"""Search with a Meilisearch server through `meilisearch_python_sdk.AsyncClient`.

Settings (applied by `prepare` and to every rebuilt index):

* searchable attributes in priority order (title, keywords, summary, the
  organisation and place names, then the long texts), filterable (the facets,
  the ranges population and collaboration_since, published_at, id, and for
  lists and permissions status, owner, labels) and sortable (the timestamps
  and title_sort): all from catalogue/search/documents.py (the content keys
  from the field registry, the rest from the document's editorial block);
  ranking rules with "sort" first, so explicit sorts ("newest", "title",
  "updated", …) order strictly like the Tantivy backend (the sort rule does
  nothing for a query without `sort`, i.e. relevance order);
* `localizedAttributes` with locale "deu" for every attribute, German stop
  words, synonyms from catalogue.synonyms (every member of a group maps to all
  others, so both directions work); typo tolerance set explicitly to one
  typo from 5 letters, two from 9 (Meilisearch's defaults, same as Tantivy).

Every task is awaited and checked: a task that did not succeed raises
`SearchError`. Filter expressions are built only from double-quoted string
literals (backslash and double quote escaped, which Meilisearch's filter
parser unescapes) and validated integers, so values never become filter
syntax; the caller's permission labels are one more such clause on every
query (hits, counts, facets, candidates). The free text loses Meilisearch's own query operators (phrase quotes,
minus for negation) and is otherwise passed as data in the JSON body.

Snippets: Meilisearch's `_formatted` values are not HTML-escaped, so
highlights use private-use sentinel characters; the text is escaped first and
only then are the sentinels turned into <mark> (a field that itself contains
a sentinel character is shown escaped, without marks).

Differences from the Tantivy backend that the engine imposes: words of a
query are matched with Meilisearch's "last" strategy (documents with all
words rank first; documents matching only a leading part of the query also
count), filter string comparison ignores case and surrounding spaces (so
permission labels are lowercase identifiers, as usernames are), and facet
lists hold at most `maxValuesPerFacet` (200) values.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from meilisearch_python_sdk import AsyncClient
from meilisearch_python_sdk.models.search import SearchParams
from meilisearch_python_sdk.models.settings import (
    Faceting,
    LocalizedAttributes,
    MeilisearchSettings,
    MinWordSizeForTypos,
    Pagination,
    TypoTolerance,
)

from catalogue.search import documents
from catalogue.search.base import (
    FILTERS,
    SORT_FIELDS,
    Candidate,
    DocumentSource,
    Hit,
    ProgressCallback,
    SearchBackend,
    SearchError,
    SearchQuery,
    SearchResult,
    Sort,
    check_filters,
    check_labels,
)
from catalogue.search.documents import FACETS, LABELS_FIELD

log = logging.getLogger(__name__)

INDEX_UID = "profiles"
LOCALES = ["deu"]
BATCH = 1000
TASK_TIMEOUT_MS = 120_000

# Attribute lists from the search document's fields (catalogue/search/documents.py, from the field registry).
SEARCHABLE = [key for key, _ in documents.SEARCHABLE]  # in priority order
FILTERABLE = list(documents.FILTERABLE)
SORTABLE = list(documents.SORTABLE)
# "sort" first: an explicit sort (newest, title) orders all matches strictly;
# without a `sort` parameter the rule is inactive and relevance decides.
RANKING_RULES = ["sort", "words", "typo", "proximity", "attribute", "exactness"]

# Common German function words; content words are never on this list.
GERMAN_STOP_WORDS = sorted(
    set(
        """
        aber als am an auch auf aus bei bin bis bist da damit dann das dass dem den denen der des dessen
        die dies diese diesem diesen dieser dieses doch dort du durch ein eine einem einen einer eines er
        es etwa euch für gegen hat hatte hier ich ihr ihre im in ist ja jede jedem jeden jeder jedes kann
        man mit nach nicht noch nun nur ob oder ohne sehr sein seine sich sie sind so soll sollen sowie
        über um und uns unser unter vom von vor war waren was weil welche welchem welchen welcher wenn wer
        werden wie wir wird wo zu zum zur zwischen
        """.split()
    )
    # the same words as Meilisearch may see them after normalising umlauts (für -> fur)
    | {"fur", "uber"}
)
_STOP = frozenset(GERMAN_STOP_WORDS)
MAX_SIMILAR_WORDS = 8

# Sentinels around highlights; replaced by <mark> after HTML-escaping the text.
_PRE = "\ue000"
_POST = "\ue001"
_SENTINELS = (_PRE, _POST)
_WORDS = re.compile(r"\w+", re.UNICODE)


def quote_filter_value(value: str) -> str:
    """A Meilisearch filter string literal: double quotes, with \\ and " escaped."""
    if not isinstance(value, str):
        raise TypeError("filter values must be strings")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("Zahl erwartet")
    return int(value)


def _any_of(name: str, values: Sequence[str]) -> list[str]:
    """One OR-group: `name` equals any of the values (each a quoted literal)."""
    if name not in FILTERS and name != LABELS_FIELD:  # attribute names come from our own lists only
        raise ValueError(f"Unbekannter Filter: {name}")
    return [f"{name} = {quote_filter_value(str(v))}" for v in values]


def label_filter(labels: Sequence[str]) -> list[str]:
    """The OR-group of the caller's permission labels (never empty: callers return no hits for no labels)."""
    labels = check_labels(labels)
    if not labels:
        raise ValueError("no permission labels")
    return _any_of(LABELS_FIELD, labels)


def build_filter(query: SearchQuery, labels: Sequence[str], skip: str | None = None) -> list[str | list[str]]:
    """The filter in Meilisearch's array form: outer items AND-ed, inner lists OR-ed; the labels come first."""
    out: list[str | list[str]] = [label_filter(labels)]
    for name, values in query.filters.items():
        if name == skip:
            continue
        out.append(_any_of(name, values))
    for name, lo, hi in (
        ("population", query.population_min, query.population_max),
        ("collaboration_since", query.since_min, query.since_max),
        (documents.CONFIRMED, query.confirmed_min, query.confirmed_max),
    ):
        if lo is not None:
            out.append(f"{name} >= {_int(lo)}")
        if hi is not None:
            out.append(f"{name} <= {_int(hi)}")
    return out


def sanitize_q(q: str) -> str:
    """Remove Meilisearch's query operators: phrase quotes and minus negation.

    A minus that does not follow a letter or digit ("-Rufbus", "(-Rufbus")
    could start a negation and is dropped; one inside a word ("E-Akte") stays.
    """
    q = q.replace('"', " ")
    q = re.sub(r"(?<!\w)-+", " ", q)
    return re.sub(r"\s+", " ", q).strip()


def _content_words(q: str) -> list[str]:
    """The distinct words of `q` that are not stop words (lowercased)."""
    return list(dict.fromkeys(w for w in (m.lower() for m in _WORDS.findall(q)) if w not in _STOP))


def synonym_map() -> dict[str, list[str]]:
    from catalogue.synonyms import SYNONYM_GROUPS

    mapping: dict[str, list[str]] = {}
    for group in SYNONYM_GROUPS:
        members = list(dict.fromkeys(m.strip().lower() for m in group if m.strip()))
        for m in members:
            others = [o for o in members if o != m]
            if others:
                mapping.setdefault(m, [])
                mapping[m].extend(o for o in others if o not in mapping[m])
    return mapping


def index_settings() -> MeilisearchSettings:
    return MeilisearchSettings(
        searchable_attributes=SEARCHABLE,
        filterable_attributes=FILTERABLE,
        sortable_attributes=SORTABLE,
        ranking_rules=RANKING_RULES,
        displayed_attributes=["*"],
        stop_words=GERMAN_STOP_WORDS,
        synonyms=synonym_map(),
        localized_attributes=[LocalizedAttributes(locales=LOCALES, attribute_patterns=["*"])],
        faceting=Faceting(max_values_per_facet=200),
        typo_tolerance=TypoTolerance(
            enabled=True, min_word_size_for_typos=MinWordSizeForTypos(one_typo=5, two_typos=9)
        ),
        pagination=Pagination(max_total_hits=100_000),
    )


def _marked(formatted: str) -> str:
    """Escape Meilisearch's (unescaped) formatted text, then turn the sentinels into <mark>."""
    return html.escape(formatted).replace(_PRE, "<mark>").replace(_POST, "</mark>")


def _has_sentinel(value: Any) -> bool:
    return isinstance(value, str) and any(t in value for t in _SENTINELS)


def _plain(value: str) -> str:
    for t in _SENTINELS:
        value = value.replace(t, "")
    return html.escape(value)


def _snippet(formatted: Any, raw: str) -> str:
    """Safe HTML for a whole field: the raw value when it contains a sentinel itself."""
    if _has_sentinel(raw) or not isinstance(formatted, str) or not formatted:
        return _plain(raw)
    return _marked(formatted)


class MeiliBackend(SearchBackend):
    """The Meilisearch backend; see the module docstring."""

    name = "meilisearch"

    def __init__(self, url: str, api_key: str | None = None, *, index_uid: str = INDEX_UID, timeout: int = 30) -> None:
        self.url = url
        self.index_uid = index_uid
        self.client = AsyncClient(url, api_key, timeout=timeout)
        # writes made while a rebuild runs, logged *before* they are sent (see rebuild)
        self._rebuild_log: list[tuple[str, list[Any]]] | None = None
        self._rebuild_lock = asyncio.Lock()

    # -- tasks

    async def _wait(self, task: Any) -> None:
        try:
            result = await self.client.wait_for_task(task.task_uid, timeout_in_ms=TASK_TIMEOUT_MS)
        except Exception as exc:  # timeout, transport or API error while polling
            raise SearchError(f"Meilisearch-Aufgabe {task.task_uid} nicht abgeschlossen: {exc}") from exc
        if result.status != "succeeded":
            error = result.error or {}
            detail = error.get("message") or error
            code = f" [{error['code']}]" if error.get("code") else ""
            raise SearchError(f"Meilisearch-Aufgabe {task.task_uid} ist fehlgeschlagen ({result.status}){code}: {detail}")

    async def _call(self, coro: Any) -> Any:
        try:
            return await coro
        except SearchError:
            raise
        except Exception as exc:  # SDK, HTTP transport (the SDK's own httpx fork) or protocol errors
            raise SearchError(f"Meilisearch-Fehler: {exc}") from exc

    async def _ensure_index(self, uid: str) -> None:
        info = await self._call(self.client.get_raw_index(uid))
        if info is None:
            # waits for the creation task and then reads the index back (raises if it failed)
            await self._call(self.client.create_index(uid, primary_key="id", timeout_in_ms=TASK_TIMEOUT_MS))
        index = self.client.index(uid)
        await self._wait(await self._call(index.update_settings(index_settings())))

    async def prepare(self) -> None:
        await self._ensure_index(self.index_uid)

    # -- writes

    async def _upsert_into(self, uid: str, docs: list[dict[str, Any]]) -> None:
        index = self.client.index(uid)
        for start in range(0, len(docs), BATCH):
            task = await self._call(index.add_documents(docs[start : start + BATCH], primary_key="id"))
            await self._wait(task)

    async def _delete_from(self, uid: str, ids: list[str]) -> None:
        index = self.client.index(uid)
        task = await self._call(index.delete_documents(ids))
        await self._wait(task)

    # A write is logged for a running rebuild *before* it is sent: a write that
    # is still waiting for its task when the rebuild swaps (and so may have
    # landed in the old index) is then already in the log and is replayed.

    async def upsert(self, docs: Sequence[Mapping[str, Any]]) -> None:
        batch = [dict(d) for d in docs]
        if not batch:
            return
        if self._rebuild_log is not None:
            self._rebuild_log.append(("upsert", batch))
        await self._upsert_into(self.index_uid, batch)

    async def delete(self, ids: Sequence[str]) -> None:
        batch = [str(i) for i in ids]
        if not batch:
            return
        if self._rebuild_log is not None:
            self._rebuild_log.append(("delete", batch))
        await self._delete_from(self.index_uid, batch)

    async def _replay(self, uid: str) -> None:
        """Apply logged writes to `uid` until no new ones arrived (the log stays active)."""
        while self._rebuild_log:
            pending, self._rebuild_log = self._rebuild_log, []
            for op, payload in pending:
                if op == "upsert":
                    await self._upsert_into(uid, payload)
                else:
                    await self._delete_from(uid, payload)

    async def rebuild(self, docs: DocumentSource, progress: ProgressCallback | None = None) -> int:
        """Fill a temporary index, swap it with the live one, delete the old one.

        Writes made meanwhile go to the live index and to a log; the log is
        replayed into the new index before the swap and, for writes that raced
        with the swap, into the (new) live index after it. Rebuilds run one at
        a time.
        """
        async with self._rebuild_lock:
            return await self._rebuild(docs, progress)

    async def _rebuild(self, docs: DocumentSource, progress: ProgressCallback | None) -> int:
        tmp = f"{self.index_uid}_rebuild_{uuid.uuid4().hex[:12]}"
        self._rebuild_log = []  # from now on, writes are also logged for the new index
        count = 0
        batch: list[dict[str, Any]] = []

        async def flush() -> None:
            nonlocal count, batch
            await self._upsert_into(tmp, batch)
            count += len(batch)
            batch = []
            if progress:
                progress(count)

        try:
            await self.prepare()  # the live index must exist for the swap
            await self._ensure_index(tmp)
            async for d in docs:
                batch.append(dict(d))
                if len(batch) >= BATCH:
                    await flush()
            if batch:
                await self._upsert_into(tmp, batch)
                count += len(batch)
            await self._replay(tmp)  # what changed meanwhile
            await self._wait(await self._call(self.client.swap_indexes([(self.index_uid, tmp)])))
            # writes logged before or during the swap may have gone to the old index
            await self._replay(self.index_uid)
            self._rebuild_log = None  # no await since the log was last found empty
        except BaseException:
            self._rebuild_log = None
            try:
                await self._wait(await self._call(self.client.index(tmp).delete()))
            except Exception:  # noqa: BLE001 - best effort clean-up
                log.warning("Meilisearch: temporary index %s not deleted", tmp)
            raise
        try:  # `tmp` now holds the old documents
            await self._wait(await self._call(self.client.index(tmp).delete()))
        except SearchError as exc:  # the new index is live; a leftover old one is only clutter
            log.warning("Meilisearch: old index %s not deleted: %s", tmp, exc)
        if progress:
            progress(count)
        return count

    # -- queries

    def _params(self, query: SearchQuery, q: str, labels: tuple[str, ...]) -> SearchParams:
        sort: list[str] | None = None
        order = Sort.NEWEST if query.sort is Sort.RELEVANCE and not q else query.sort
        if order in SORT_FIELDS:
            field_name, descending = SORT_FIELDS[order]
            sort = [f"{field_name}:{'desc' if descending else 'asc'}"]
        plain_facets = [f for f in query.facets if f not in query.filters]
        return SearchParams(
            index_uid=self.index_uid,
            query=q,
            filter=build_filter(query, labels),
            facets=plain_facets or None,
            page=query.page,
            hits_per_page=query.per_page,
            sort=sort,
            attributes_to_highlight=["title", "summary", "texts"],
            attributes_to_crop=["texts"],
            crop_length=30,
            crop_marker="…",
            highlight_pre_tag=_PRE,
            highlight_post_tag=_POST,
            show_ranking_score=True,
            matching_strategy="last",
            locales=LOCALES,
        )

    async def search(self, query: SearchQuery, *, labels: Sequence[str]) -> SearchResult:
        labels = check_labels(labels)
        q = sanitize_q(query.q)
        if not labels or (query.q.strip() and not _content_words(q)):
            # no permission labels, or nothing searchable (only punctuation or stop words): no match, never "everything"
            return SearchResult(hits=[], total=0, page=query.page, per_page=query.per_page, facets={f: {} for f in query.facets})
        queries = [self._params(query, q, labels)]
        disjunctive = [f for f in query.facets if f in query.filters]
        for name in disjunctive:
            queries.append(
                SearchParams(
                    index_uid=self.index_uid,
                    query=q,
                    filter=build_filter(query, labels, skip=name),
                    facets=[name],
                    page=1,
                    hits_per_page=0,
                    matching_strategy="last",
                    locales=LOCALES,
                )
            )
        results = await self._call(self.client.multi_search(queries))
        main = results[0]
        facets: dict[str, dict[str, int]] = {f: {} for f in query.facets}
        for name, dist in (main.facet_distribution or {}).items():
            if name in facets:
                facets[name] = {str(k): int(v) for k, v in dist.items()}
        for name, res in zip(disjunctive, results[1:], strict=True):
            dist = (res.facet_distribution or {}).get(name) or {}
            facets[name] = {str(k): int(v) for k, v in dist.items()}
        scored = query.sort is Sort.RELEVANCE and bool(q)
        hits = [self._hit(h, scored=scored) for h in main.hits]
        total = int(main.total_hits if main.total_hits is not None else main.estimated_total_hits or 0)
        return SearchResult(hits=hits, total=total, page=query.page, per_page=query.per_page, facets=facets)

    @staticmethod
    def _hit(raw: Mapping[str, Any], *, scored: bool = True) -> Hit:
        # like the Tantivy backend: the document without the long texts
        doc = {k: v for k, v in raw.items() if not k.startswith("_") and k != "texts"}
        formatted = raw.get("_formatted") or {}
        title = str(doc.get("title") or "")
        summary = str(doc.get("summary") or "")
        snippets = {
            "title": _snippet(formatted.get("title"), title),
            "summary": _snippet(formatted.get("summary"), summary),
        }
        text = formatted.get("texts")
        if isinstance(text, str) and _PRE in text and not _has_sentinel(raw.get("texts")):
            snippets["text"] = _marked(text)
        return Hit(
            id=str(doc.get("id")),
            slug=str(doc.get("slug") or ""),
            title=title,
            score=float(raw.get("_rankingScore") or 0.0) if scored else 0.0,
            document=doc,
            snippets=snippets,
        )

    async def similar_candidates(
        self,
        text: str,
        *,
        labels: Sequence[str],
        any_of: Mapping[str, Sequence[str]] | None = None,
        filters: Mapping[str, Sequence[str]] | None = None,
        exclude_ids: Sequence[str] = (),
        limit: int = 100,
    ) -> list[Candidate]:
        labels = check_labels(labels)
        limit = max(1, min(int(limit), 1000))
        if not labels:
            return []
        # AND-ed to every query below: the caller's labels, the filters, the exclusions
        must: list[str | list[str]] = [label_filter(labels)]
        must.extend(_any_of(name, values) for name, values in check_filters(filters).items())
        if exclude_ids:
            must.append("NOT id IN [" + ", ".join(quote_filter_value(str(i)) for i in exclude_ids) + "]")
        # weight of each query's ranking score for text_score (0: found through any_of only)
        queries: list[tuple[SearchParams, float]] = []
        q = sanitize_q(text)
        words = _content_words(q)[:MAX_SIMILAR_WORDS]
        if words:
            queries.append((
                SearchParams(index_uid=self.index_uid, query=q, filter=must, limit=limit,
                             show_ranking_score=True, matching_strategy="frequency", locales=LOCALES),
                1.0,
            ))
        if len(words) > 1:
            # Meilisearch never drops the last remaining query word, so a document that
            # shares only another word would be missed: one query per word (any-word
            # match, as the protocol asks), its score weighted by the share of words
            for word in words:
                queries.append((
                    SearchParams(index_uid=self.index_uid, query=word, filter=must, limit=limit,
                                 show_ranking_score=True, locales=LOCALES),
                    1.0 / len(words),
                ))
        ors: list[str] = []
        for name, values in (any_of or {}).items():
            if name not in FACETS:
                raise ValueError(f"Unbekannte Facette: {name}")
            ors.extend(f"{name} = {quote_filter_value(str(v))}" for v in values)
        if ors:
            queries.append((SearchParams(index_uid=self.index_uid, query="", filter=[ors, *must], limit=limit), 0.0))
        if not queries:
            return []
        results = await self._call(self.client.multi_search([params for params, _ in queries]))
        found: dict[str, Candidate] = {}
        for (_, weight), res in zip(queries, results, strict=True):
            for raw in res.hits:
                doc = {k: v for k, v in raw.items() if not k.startswith("_") and k != "texts"}
                score = float(raw.get("_rankingScore") or 0.0) * weight
                key = str(doc.get("id"))
                if key not in found or found[key].text_score < score:
                    found[key] = Candidate(document=doc, text_score=score)
        ranked = sorted(found.values(), key=lambda c: -c.text_score)
        return ranked[:limit]

    async def health(self) -> bool:
        try:
            health = await self.client.health()
        except Exception as exc:
            raise SearchError(f"Meilisearch nicht erreichbar: {exc}") from exc
        if health.status != "available":
            raise SearchError(f"Meilisearch meldet Status {health.status}")
        return True

    async def close(self) -> None:
        await self.client.aclose()


__all__ = ["MeiliBackend", "build_filter", "index_settings", "quote_filter_value", "sanitize_q"]
