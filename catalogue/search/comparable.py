"""Comparable projects: a documented score with reasons in German.

A *reference* is either a profile (its search document) or "my
municipality" (population, Bundesland, kind of body, Handlungsfelder and an
optional free text). Candidates come from the search backend's
`similar_candidates` (about 100 published profiles the caller may see that
share words with the reference text or have one of its Handlungsfelder or
its Bundesland); the scoring below is plain Python and has no I/O.

Score (every part lies in [0, 1], the weights add up to 1, so does the score)::

    score = 0.30 * F + 0.20 * K + 0.25 * T + 0.15 * S + 0.10 * L

    F  Handlungsfelder, Jaccard:  |A ∩ B| / |A ∪ B|            (0 if either is empty)
    K  keywords, overlap:         |A ∩ B| / min(|A|, |B|)      (case- and umlaut-insensitive)
    T  text similarity:           relevance of the candidate for the reference text
                                  divided by the best relevance among all candidates;
                                  for a published profile the profile itself is retrieved too (and
                                  then dropped), so a weak match is not inflated to 1
    S  size ratio:                min(p1, p2) / max(p1, p2)    (0 if a population is unknown);
                                  halved when exactly one side is a Kreis
    L  same Bundesland:           1 or 0

Reasons, strongest first: "gleiches Handlungsfeld: Verwaltung",
"gemeinsame Stichworte: Breitband, Glasfaser", "ähnliche Größe: 28.808 zu
31.200 Einwohnern" (candidate first, reference second; shown when S ≥ 0.5),
"ebenfalls Nordrhein-Westfalen", "ähnliche Beschreibung" (T ≥ 0.5).

A candidate is shown only with at least one reason and a score of at least
MIN_SCORE (0.05): a candidate of about the same size and nothing else in
common scores 0.15 · S ≥ 0.075 (its size reason needs S ≥ 0.5), one of the
same Land alone 0.10; below that there is nothing to tell the user.

Candidates (`find_comparable`): the backend's `similar_candidates` for the
reference's text, Handlungsfelder and Land, plus, for a population, the
published profiles of a similar size (population between half and twice
the reference's, from the search index). An engine that `ranks_similar`
(Tantivy) adds these signals up in its own score (SIMILARITY_WEIGHTS, the
size as bands) and returns only the best RANKED_POOL (30, or three times
`limit`) in one search, the size band included; `rank` then scores them
exactly, as above. With an active search (`q`,
`filters`) only the profiles of that search are candidates, so the panel
never offers a project the list below would not show, and only those of a
similar size or the same Land (all of them match the search's words).
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any

from catalogue.formatting import format_int_de
from catalogue.search.base import MAX_PER_PAGE, SIMILARITY_WEIGHTS, Candidate, SearchBackend, SearchQuery
from catalogue.search.regions import index_document
from catalogue.vocabularies import EditorialStatus, OrganisationKind, SizeClass, size_class_for

WEIGHTS: dict[str, float] = SIMILARITY_WEIGHTS
RANKED_POOL = 30  # candidates asked of an engine that ranks them by the signals itself (`SearchBackend.ranks_similar`)
SIZE_REASON_MIN = 0.5
TEXT_REASON_MIN = 0.5
MIN_SCORE = 0.05  # below this, or without a reason, a candidate is not shown


@lru_cache(maxsize=65536)
def _fold(text: str) -> str:
    """Keyword as compared: case-folded, ß as ss, without accents (cached: the same keywords recur in every ranking)."""
    text = text.strip().casefold().replace("ß", "ss")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _is_district(kind: Any, size_class: Any = None) -> bool:
    return str(kind or "") == OrganisationKind.DISTRICT.value or str(size_class or "") == SizeClass.DISTRICT.value


@dataclass(frozen=True, slots=True)
class Reference:
    """What candidates are compared with."""

    population: int | None = None
    state: str | None = None
    kind: str | None = None  # OrganisationKind value, e.g. "Kreis"
    fields_of_action: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    text: str = ""
    exclude_id: str | None = None
    mine: bool = False  # the reference is the caller's own municipality ("Ihrer Größe")

    @property
    def size_class(self) -> str | None:
        derived = size_class_for(self.population, self.kind)
        return derived.value if derived else None

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Reference:
        """The reference for a profile: its search document; the text is title plus keywords."""
        keywords = tuple(str(k) for k in doc.get("keywords") or ())
        return cls(
            population=doc.get("population"),
            state=doc.get("state"),
            kind=doc.get("lead_kind") or (OrganisationKind.DISTRICT.value if doc.get("size_class") == SizeClass.DISTRICT.value else None),
            fields_of_action=tuple(str(f) for f in doc.get("fields_of_action") or ()),
            keywords=keywords,
            text=" ".join([str(doc.get("title") or ""), *keywords]).strip(),
            exclude_id=str(doc["id"]) if doc.get("id") is not None else None,
        )

    @classmethod
    def for_municipality(
        cls,
        *,
        population: int | None,
        state: str | None,
        kind: str | None = None,
        fields_of_action: Iterable[str] = (),
        text: str = "",
    ) -> Reference:
        """The reference for "my municipality"."""
        return cls(
            population=population,
            state=state,
            kind=kind,
            fields_of_action=tuple(str(f) for f in fields_of_action),
            text=text.strip(),
            mine=True,
        )


@dataclass(frozen=True, slots=True)
class Comparable:
    document: dict[str, Any]
    score: float
    reasons: list[str]
    parts: dict[str, float] = field(default_factory=dict)


def _jaccard(a: Sequence[str], b: Sequence[str]) -> tuple[float, list[str]]:
    sa, sb = set(a), set(b)
    if not sa or not sb:
        return 0.0, []
    shared = [x for x in a if x in sb]
    return len(sa & sb) / len(sa | sb), list(dict.fromkeys(shared))


def _folded(words: Iterable[str]) -> dict[str, str]:
    return {_fold(x): x for x in words if x.strip()}


def _keyword_overlap(a: Sequence[str], b: Sequence[str]) -> tuple[float, list[str]]:
    fa = _folded(a)
    fb = _folded(b)
    if not fa or not fb:
        return 0.0, []
    shared_keys = [k for k in fb if k in fa]  # the candidate's spelling and order
    return len(shared_keys) / min(len(fa), len(fb)), [fb[k] for k in shared_keys]


def size_ratio(p1: int | None, p2: int | None) -> float:
    if not p1 or not p2 or p1 <= 0 or p2 <= 0:
        return 0.0
    return min(p1, p2) / max(p1, p2)


@dataclass(frozen=True, slots=True)
class _Prepared:
    """The reference's side of every comparison, computed once per ranking."""

    fields: frozenset[str]
    keywords: frozenset[str]  # folded
    district: bool
    size_class: str | None

    @classmethod
    def of(cls, ref: Reference) -> _Prepared:
        return cls(fields=frozenset(ref.fields_of_action), keywords=frozenset(_folded(ref.keywords)),
                   district=_is_district(ref.kind), size_class=ref.size_class)


_W_FIELDS, _W_KEYWORDS, _W_TEXT, _W_SIZE, _W_STATE = (WEIGHTS[k] for k in ("fields", "keywords", "text", "size", "state"))


@dataclass(slots=True)
class _Measured:
    """A candidate's parts and score; its reasons are made only for the candidates shown (`_comparable`)."""

    doc: Mapping[str, Any]
    parts: dict[str, float]
    score: float
    has_reason: bool
    adopters: int  # adopters of the reference's size class


def _measure(ref: Reference, prep: _Prepared, doc: Mapping[str, Any], text_similarity: float) -> _Measured:
    """The parts as `_jaccard` and `_keyword_overlap` compute them, with set sizes only (no shared lists)."""
    fields_score = 0.0
    theirs = doc.get("fields_of_action")
    if prep.fields and theirs:
        sb = {str(f) for f in theirs}
        if sb:
            fields_score = len(prep.fields & sb) / len(prep.fields | sb)
    kw_score = 0.0
    words = doc.get("keywords")
    if prep.keywords and words:
        fb = {_fold(k) for k in map(str, words) if k.strip()}
        if fb:
            kw_score = len(prep.keywords & fb) / min(len(prep.keywords), len(fb))
    text_score = min(1.0, max(0.0, float(text_similarity)))
    size = size_ratio(ref.population, doc.get("population"))
    if size and prep.district != _is_district(doc.get("lead_kind"), doc.get("size_class")):
        size *= 0.5
    same_state = 1.0 if ref.state and doc.get("state") == ref.state else 0.0
    parts = {"fields": fields_score, "keywords": kw_score, "text": text_score, "size": size, "state": same_state}
    score = _W_FIELDS * fields_score + _W_KEYWORDS * kw_score + _W_TEXT * text_score + _W_SIZE * size + _W_STATE * same_state
    size_class = prep.size_class
    adopters = sum(1 for s in doc.get("adopter_size_classes") or () if s == size_class) if size_class is not None else 0
    has_reason = bool(fields_score or kw_score or size >= SIZE_REASON_MIN or same_state or text_score >= TEXT_REASON_MIN or adopters)
    return _Measured(doc, parts, round(min(1.0, max(0.0, score)), 6), has_reason, adopters)


def _comparable(ref: Reference, m: _Measured) -> Comparable:
    """The shown candidate: its reasons, strongest first, and the adoption evidence."""
    parts, doc = m.parts, m.doc
    _, shared_fields = _jaccard(ref.fields_of_action, [str(f) for f in doc.get("fields_of_action") or ()])
    _, shared_keywords = _keyword_overlap(ref.keywords, [str(k) for k in doc.get("keywords") or ()])
    weighted: list[tuple[float, str]] = []
    if shared_fields:
        label = "gleiches Handlungsfeld" if len(shared_fields) == 1 else "gleiche Handlungsfelder"
        weighted.append((WEIGHTS["fields"] * parts["fields"], f"{label}: {', '.join(shared_fields)}"))
    if shared_keywords:
        label = "gemeinsames Stichwort" if len(shared_keywords) == 1 else "gemeinsame Stichworte"
        weighted.append((WEIGHTS["keywords"] * parts["keywords"], f"{label}: {', '.join(shared_keywords)}"))
    if parts["size"] >= SIZE_REASON_MIN:
        weighted.append(
            (WEIGHTS["size"] * parts["size"],
             f"ähnliche Größe: {format_int_de(doc.get('population'))} zu {format_int_de(ref.population)} Einwohnern")
        )
    if parts["state"]:
        weighted.append((WEIGHTS["state"], f"ebenfalls {ref.state}"))
    if parts["text"] >= TEXT_REASON_MIN:
        weighted.append((WEIGHTS["text"] * parts["text"], "ähnliche Beschreibung"))
    weighted.sort(key=lambda wr: -wr[0])  # stable: ties keep the order above
    reasons = [r for _, r in weighted]
    if evidence := _adoption_text(ref, m.adopters):
        reasons.append(evidence)  # evidence, not part of the score
    return Comparable(document=dict(doc), score=m.score, reasons=reasons, parts=parts)


def score_candidate(ref: Reference, doc: Mapping[str, Any], text_similarity: float) -> Comparable:
    """Score one candidate; `text_similarity` is already normalised to [0, 1]."""
    return _comparable(ref, _measure(ref, _Prepared.of(ref), doc, text_similarity))


def _adoption_text(ref: Reference, n: int) -> str | None:
    """"von 3 Kommunen Ihrer Größe übernommen": `n` adopters of the reference's size class (catalogue.adoption)."""
    size = ref.size_class
    if size is None or not n:
        return None
    whose = "Ihrer Größe" if ref.mine else "dieser Größe"
    if size == SizeClass.DISTRICT.value:
        return f"von {n} {'Kreis' if n == 1 else 'Kreisen'} übernommen"
    return f"von {'einer Kommune' if n == 1 else f'{n} Kommunen'} {whose} übernommen ({size})"


def rank(ref: Reference, candidates: Sequence[Candidate], *, limit: int = 10, min_score: float = MIN_SCORE) -> list[Comparable]:
    """Score all candidates and return the best `limit` that have a reason and at least `min_score`.

    Text relevance is normalised by the best one among `candidates`, the
    reference itself included when present (it is never returned). The
    reasons' texts are made only for the candidates returned.
    """
    best = max((c.text_score for c in candidates), default=0.0)
    prep = _Prepared.of(ref)
    kept: list[_Measured] = []
    seen: set[str] = set()
    for c in candidates:
        doc_id = str(c.document.get("id"))
        if doc_id in seen or (ref.exclude_id is not None and doc_id == ref.exclude_id):
            continue
        seen.add(doc_id)
        m = _measure(ref, prep, c.document, c.text_score / best if best > 0 else 0.0)
        if m.score >= min_score and m.has_reason:
            kept.append(m)
    kept.sort(key=lambda m: (-m.score, str(m.doc.get("title_sort") or m.doc.get("title") or "")))
    return [_comparable(ref, m) for m in kept[:limit]]


async def profile_reference(backend: SearchBackend, profile: Any, *, labels: Sequence[str]) -> Reference:
    """The reference for a profile's comparable projects, from its search document.

    That is the document the index holds (one keyed lookup with the caller's
    `labels`, `SearchBackend.document`) when it was made from this version of
    the profile; otherwise (not indexed yet, an older version, another
    caller's view) it is built afresh, which reads the municipality register.
    """
    return await reference_for(profile, await backend.document(str(profile.id), labels=labels))


async def reference_for(profile: Any, indexed: Mapping[str, Any] | None) -> Reference:
    """`profile_reference` with the indexed document already read (None: the index has none for the caller)."""
    doc = indexed if indexed is not None and indexed.get("version") == profile.version else await index_document(profile)
    return Reference.from_document(doc)


async def stored_reference(
    backend: SearchBackend, stored: Mapping[str, Any], load: Callable[[], Awaitable[Any]], *, labels: Sequence[str]
) -> Reference:
    """`profile_reference` for a projection of the stored profile (its `_id` and `version`), without parsing the profile.

    The indexed document is the reference when it holds that version (one
    keyed lookup with the caller's `labels`); otherwise `load()` gives the
    whole profile (a keyed read, checked again) and the reference is built afresh.
    """
    indexed = await backend.document(str(stored["_id"]), labels=labels)
    if indexed is not None and indexed.get("version") == stored.get("version"):
        return Reference.from_document(indexed)
    return Reference.from_document(await index_document(await load()))


async def find_comparable(
    backend: SearchBackend,
    ref: Reference,
    *,
    labels: Sequence[str],
    limit: int = 10,
    candidates: int | None = None,
    q: str = "",
    filters: Mapping[str, Sequence[str]] | None = None,
) -> list[Comparable]:
    """Retrieve candidates through the backend and rank them.

    Candidates are published profiles that carry one of `labels` (the
    caller's permission labels, catalogue.access.principal_labels). With a
    search text `q` or `filters` (facet name -> values, as in SearchQuery),
    only profiles that this search finds are candidates.
    """
    published = {"status": [EditorialStatus.PUBLISHED.value]}
    found: list[Candidate] = []
    ranked = backend.ranks_similar
    if q.strip() or filters:
        candidates = candidates or 100
        # the active search's own results (its relevance is the text score), then those of a similar size among them
        scoped = {**(filters or {}), **published}
        found.extend(await _search_candidates(backend, labels, q=q, filters=scoped, limit=candidates))
        if ref.population:
            found.extend(await _search_candidates(backend, labels, q=q, filters=scoped, limit=candidates, population=ref.population))
        # every candidate shares the search's words and filters; what sets one apart is the municipality itself
        alike = [c for c in rank(ref, found, limit=len(found)) if c.parts["size"] >= SIZE_REASON_MIN or c.parts["state"]]
        return alike[:limit]
    if candidates is None:
        candidates = max(RANKED_POOL, 3 * limit) if ranked else 100
    any_of: dict[str, list[str]] = {}
    if ref.fields_of_action:
        any_of["fields_of_action"] = list(ref.fields_of_action)
    if ref.state:
        any_of["state"] = [ref.state]
    if ranked:
        # one search: the engine ranks by the signals (the size among them) and returns only the best `candidates`
        # in one hop with the ranking (`ranked_similar`: in the engine's search thread, off the event loop)
        if ref.text or any_of or ref.population:
            return await backend.ranked_similar(partial(rank, ref, limit=limit), ref.text, labels=labels, any_of=any_of, filters=published,
                                                limit=candidates + 1, population=ref.population or None, reference_id=ref.exclude_id)
        return []
    queries = []
    if ref.text or any_of:
        # the reference profile is not excluded here: its own relevance is the
        # natural maximum for normalising T; `rank` drops it from the result
        queries.append(backend.similar_candidates(ref.text, labels=labels, any_of=any_of, filters=published, limit=candidates + 1))
    if ref.population:
        queries.append(_search_candidates(backend, labels, q="", filters=published, limit=candidates, population=ref.population))
    for part in await asyncio.gather(*queries):  # independent queries, run side by side; results in this order
        found.extend(part)
    return rank(ref, found, limit=limit)


async def _search_candidates(
    backend: SearchBackend,
    labels: Sequence[str],
    *,
    q: str,
    filters: Mapping[str, Sequence[str]],
    limit: int,
    population: int | None = None,
) -> list[Candidate]:
    """Candidates from a plain search; with `population`, only profiles between half and twice that size."""
    query = SearchQuery(
        q=q,
        filters=filters,
        population_min=population // 2 if population else None,
        population_max=population * 2 if population else None,
        page=1,
        per_page=max(1, min(limit, MAX_PER_PAGE)),
        facets=(),
    )
    result = await backend.search(query, labels=labels)
    # relevance is the text score only when there is a text; a list without one carries no text similarity
    return [Candidate(document=dict(hit.document), text_score=hit.score if q.strip() else 0.0) for hit in result.hits]


__all__ = [
    "MIN_SCORE", "RANKED_POOL", "WEIGHTS", "Comparable", "Reference", "find_comparable", "profile_reference", "rank", "reference_for",
    "score_candidate", "size_ratio",
    "stored_reference",
]
