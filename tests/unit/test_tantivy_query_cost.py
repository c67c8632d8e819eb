"""What keeps the Tantivy backend's query cost flat in the size of the catalogue (issue 10; benchmarks/index_queries.py).

* A search result and a candidate list are kept per searcher snapshot and caller: the same request in the same
  snapshot does not search again, a commit (a new snapshot) does, and callers get their own copies.
* The reference text of "comparable projects" queries its MAX_REFERENCE_WORDS rarest words only.
* Candidates that only share a facet value are looked for only when the text finds fewer than `limit`.
* Stored payloads are decoded as json.loads decodes them (msgspec, with json.loads for what strict JSON lacks).
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from catalogue.access import PUBLIC_LABEL, owner_label
from catalogue.search.base import SearchQuery, Sort
from catalogue.search.tantivy_backend import MAX_KEPT_HITS, MAX_REFERENCE_WORDS, TantivyBackend, _decode_payload, _QueryPlanner
from tests.contract.test_search_contract import make

PUBLIC = (PUBLIC_LABEL,)
PUBLISHED = {"status": ["published"]}


class _CountingSearcher:
    """The snapshot's searcher, with the queries it is asked recorded (a Tantivy searcher cannot be patched)."""

    def __init__(self, searcher: Any) -> None:
        self._searcher = searcher
        self.queries: list[str] = []

    def search(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        self.queries.append(repr(query))
        return self._searcher.search(query, *args, **kwargs)

    def aggregate(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        self.queries.append(repr(query))
        return self._searcher.aggregate(query, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._searcher, name)


def _counting(backend: TantivyBackend) -> _CountingSearcher:
    view = backend._live.view
    counting = _CountingSearcher(view.searcher)
    view.searcher = counting  # type: ignore[assignment]
    return counting


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[TantivyBackend]:
    b = TantivyBackend(tmp_path / "search")
    await b.upsert([
        make("bauhof", "Gemeinsamer Bauhof", keywords=("Bauhof", "Kommune"), foa=("Verwaltung",), state="Bayern", population=5000),
        make("rufbus", "Rufbus im Landkreis", keywords=("Mobilität", "Kommune"), foa=("Mobilität & Verkehr",), state="Bayern"),
        make("schule", "Schulverbund", keywords=("Bildung", "Kommune"), foa=("Bildung",), state="Hessen"),
        make("entwurf", "Bauhof Entwurf", editorial="draft", owner="erika"),
    ])
    yield b
    await b.close()


async def test_the_same_search_in_the_same_snapshot_is_answered_once_per_caller(backend: TantivyBackend) -> None:
    counting = _counting(backend)
    query = SearchQuery(q="Bauhof", filters={})
    first = await backend.search(query, labels=PUBLIC)
    asked = len(counting.queries)
    assert asked > 0
    again = await backend.search(query, labels=PUBLIC)
    assert len(counting.queries) == asked  # kept: no search, no facet count
    assert [h.id for h in again.hits] == [h.id for h in first.hits] == ["bauhof"]
    assert again.total == first.total and again.facets == first.facets
    # the caller's own copy: changing it changes nothing kept
    again.hits[0].document["title"] = "geändert"
    again.facets["state"]["Bayern"] = 99
    third = await backend.search(query, labels=PUBLIC)
    assert third.hits[0].document["title"] == "Gemeinsamer Bauhof"
    assert third.facets == first.facets
    # the caller's labels are part of what is kept: the owner sees her draft, the public still does not
    mine = await backend.search(query, labels=(PUBLIC_LABEL, owner_label("erika")))
    assert sorted(h.id for h in mine.hits) == ["bauhof", "entwurf"]
    assert [h.id for h in (await backend.search(query, labels=PUBLIC)).hits] == ["bauhof"]


async def test_a_commit_makes_a_new_snapshot_that_searches_afresh(backend: TantivyBackend) -> None:
    query = SearchQuery(q="Bauhof")
    assert [h.id for h in (await backend.search(query, labels=PUBLIC)).hits] == ["bauhof"]
    before = await backend.similar_candidates("Bauhof", labels=PUBLIC, filters=PUBLISHED)
    await backend.upsert([make("bauhof2", "Bauhof im Verbund", keywords=("Bauhof",))])
    assert sorted(h.id for h in (await backend.search(query, labels=PUBLIC)).hits) == ["bauhof", "bauhof2"]
    after = await backend.similar_candidates("Bauhof", labels=PUBLIC, filters=PUBLISHED)
    assert {c.document["id"] for c in before} == {"bauhof"}
    assert {c.document["id"] for c in after} == {"bauhof", "bauhof2"}


async def test_candidates_are_kept_per_snapshot_and_caller(backend: TantivyBackend) -> None:
    counting = _counting(backend)
    first = await backend.similar_candidates("Bauhof", labels=PUBLIC, any_of={"state": ["Bayern"]}, limit=10)
    asked = len(counting.queries)
    again = await backend.similar_candidates("Bauhof", labels=PUBLIC, any_of={"state": ["Bayern"]}, limit=10)
    assert len(counting.queries) == asked
    assert [(c.document["id"], c.text_score) for c in again] == [(c.document["id"], c.text_score) for c in first]
    again[0].document["title"] = "geändert"
    assert (await backend.similar_candidates("Bauhof", labels=PUBLIC, any_of={"state": ["Bayern"]}, limit=10))[0].document["title"] != "geändert"
    # the draft is a candidate for its owner only, also after the public's list was kept
    owner = await backend.similar_candidates("Bauhof", labels=(PUBLIC_LABEL, owner_label("erika")), any_of={"state": ["Bayern"]}, limit=10)
    assert "entwurf" in {c.document["id"] for c in owner}
    assert "entwurf" not in {c.document["id"] for c in first}


async def test_facet_only_candidates_fill_up_after_the_text_and_only_when_needed(backend: TantivyBackend) -> None:
    found = await backend.similar_candidates("Bauhof", labels=PUBLIC, any_of={"state": ["Bayern"]}, filters=PUBLISHED, limit=10)
    assert [c.document["id"] for c in found] == ["bauhof", "rufbus"]
    assert found[0].text_score > 0 and found[1].text_score == 0
    counting = _counting(backend)
    # the text finds `limit` documents: no search for those that only share the Land
    only = await backend.similar_candidates("Kommune", labels=PUBLIC, any_of={"state": ["Bayern"]}, filters=PUBLISHED, limit=2)
    assert len(only) == 2 and all(c.text_score > 0 for c in only)
    assert counting.queries and not any('"Bayern"' in q for q in counting.queries)


async def test_a_reference_text_queries_its_rarest_words_only(tmp_path: Path) -> None:
    backend = TantivyBackend(tmp_path / "search")
    try:
        common = ["Kommune", "Verwaltung", "Zukunft", "Region", "Netzwerk", "Projekt"]
        await backend.upsert([
            make(f"p{i}", f"Projekt {i}", keywords=tuple(common)) for i in range(6)
        ] + [make("selten", "Glasfaser Zweckverband", keywords=("Kommune",))])
        text = " ".join(["Glasfaser", "Zweckverband", *common])
        assert len(text.split()) > MAX_REFERENCE_WORDS
        plan = backend._plan(backend._live.view, text, any_word=True)
        queried = repr(plan.text_query)
        def stem(word: str) -> str:
            return f'"{backend.analyzer.analyze(word)[0]}"'

        assert stem("Glasfaser") in queried and stem("Zweckverband") in queried  # the rare words stay
        kept = sum(stem(w) in queried for w in common)
        assert kept == MAX_REFERENCE_WORDS - 2  # common words fill the remaining places only
        # a typed search keeps every word
        typed = repr(backend._plan(backend._live.view, text, any_word=False).text_query)
        assert all(stem(w) in typed for w in common)
    finally:
        await backend.close()


def test_stored_payloads_decode_as_json_loads_reads_them() -> None:
    doc = {"title": "Straße über Höxter", "population": 12_000, "area_km2": 12.5, "keywords": ["a", "b"], "lead": None, "big": 2**70,
           "ok": True}
    raw = json.dumps(doc, ensure_ascii=False).encode("utf-8")
    assert _decode_payload(raw) == json.loads(raw) == doc
    odd = _decode_payload(json.dumps({"area_km2": float("nan")}).encode())  # json.dumps writes NaN, which strict JSON lacks
    assert math.isnan(odd["area_km2"])


async def test_a_one_word_query_searches_no_count_of_its_word(backend: TantivyBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    """A word the index has is planned without a search over the documents it finds (at 100,000 profiles a common
    word's count took about 30 ms): its lexicon alternatives keep their own weight, and one word needs no count
    (rarity weights and the loose rule are for several words)."""
    searched: list[str] = []
    real_count, real_matches = _QueryPlanner._word_count, _QueryPlanner._matches
    monkeypatch.setattr(_QueryPlanner, "_word_count", staticmethod(lambda s, w, q: searched.append(f"count {w.raw}") or real_count(s, w, q)))
    monkeypatch.setattr(_QueryPlanner, "_matches", staticmethod(lambda s, q: searched.append("matches") or real_matches(s, q)))
    found = await backend.search(SearchQuery(q="Bauhof"), labels=PUBLIC)
    assert [h.id for h in found.hits] == ["bauhof"]
    assert searched == []
    # a word the index lacks is still checked (its strongest alternative stands in for it), and several words are counted
    await backend.search(SearchQuery(q="Baubetriebshof"), labels=PUBLIC)
    assert searched == ["matches"]
    await backend.search(SearchQuery(q="Bauhof Kommune"), labels=PUBLIC)
    assert searched[1:] == ["count bauhof", "count kommune"]


async def test_facet_counts_are_counted_once_for_every_page_and_sort_of_a_search(backend: TantivyBackend) -> None:
    counting = _counting(backend)
    first = await backend.search(SearchQuery(q="Kommune", per_page=1), labels=PUBLIC)
    counted = len(counting.queries)
    second = await backend.search(SearchQuery(q="Kommune", per_page=1, page=2, sort=Sort.TITLE), labels=PUBLIC)
    assert len(counting.queries) == counted + 1  # the page's own search only, no facet counts
    assert second.facets == first.facets and second.facets["state"] == {"Bayern": 2, "Hessen": 1}
    assert second.total == first.total == 3 and second.hits[0].id != first.hits[0].id
    # another caller's counts are their own: the owner's draft is counted for her only
    mine = await backend.search(SearchQuery(q="Bauhof", per_page=1, page=2), labels=(PUBLIC_LABEL, owner_label("erika")))
    assert mine.total == 2
    assert (await backend.search(SearchQuery(q="Bauhof"), labels=PUBLIC)).total == 1


async def test_a_page_of_candidates_is_not_kept(backend: TantivyBackend) -> None:
    """Comparable projects ask for 100 hits at a time, mostly once: copying a kept page that size costs about what
    its search does, so only pages of up to MAX_KEPT_HITS are kept."""
    counting = _counting(backend)
    await backend.search(SearchQuery(filters=PUBLISHED, per_page=MAX_KEPT_HITS + 1, facets=()), labels=PUBLIC)
    await backend.search(SearchQuery(filters=PUBLISHED, per_page=MAX_KEPT_HITS + 1, facets=()), labels=PUBLIC)
    assert len(counting.queries) == 2
    await backend.search(SearchQuery(filters=PUBLISHED, per_page=MAX_KEPT_HITS, facets=()), labels=PUBLIC)
    await backend.search(SearchQuery(filters=PUBLISHED, per_page=MAX_KEPT_HITS, facets=()), labels=PUBLIC)
    assert len(counting.queries) == 3
