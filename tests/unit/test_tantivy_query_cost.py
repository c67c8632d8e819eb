"""What keeps the Tantivy backend's query cost flat in the size of the catalogue (issue 10; benchmarks/index_queries.py).

* A search result and a candidate list are kept per searcher snapshot and caller: the same request in the same
  snapshot does not search again, a commit (a new snapshot) does, and callers get their own copies.
* The reference text of "comparable projects" queries its MAX_REFERENCE_WORDS rarest words only.
* Candidates that only share a facet value are looked for only when the text finds fewer than `limit`.
* Stored payloads are decoded as json.loads decodes them (msgspec, with json.loads for what strict JSON lacks).
* A profile's comparable projects are one ranked candidate search (the similarity signals add up in Tantivy's score):
  only the few best candidates are read and decoded, no separate search for profiles of a similar size.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import tantivy

from catalogue.access import PUBLIC_LABEL, owner_label
from catalogue.search import comparable as comp
from catalogue.search.base import SearchQuery, Sort
from catalogue.search.documents import LABELS_FIELD
from catalogue.search.tantivy_backend import (
    MAX_KEPT_HITS,
    MAX_REFERENCE_WORDS,
    TantivyBackend,
    _decode_payload,
    _QueryPlanner,
)
from tests.contract.test_search_contract import make

PUBLIC = (PUBLIC_LABEL,)
PUBLISHED = {"status": ["published"]}


class _CountingSearcher:
    """The snapshot's searcher, with the queries it is asked recorded (a Tantivy searcher cannot be patched)."""

    def __init__(self, searcher: Any) -> None:
        self._searcher = searcher
        self.queries: list[str] = []
        self.docs = 0  # stored documents read (and then decoded)

    def search(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        self.queries.append(repr(query))
        return self._searcher.search(query, *args, **kwargs)

    def aggregate(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        self.queries.append(repr(query))
        return self._searcher.aggregate(query, *args, **kwargs)

    def doc(self, addr: Any) -> Any:
        self.docs += 1
        return self._searcher.doc(addr)

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


async def _catalogue(tmp_path: Path) -> TantivyBackend:
    """150 projects that share the words of "Bauhof" (another Land and Handlungsfeld, another size), a twin of the
    reference that shares one word less but its Handlungsfeld, Land and size, a project of the same Handlungsfeld in
    other words, and an editor's draft that would be the best match of all."""
    b = TantivyBackend(tmp_path / "search")
    alike = {"foa": ("Verwaltung",), "state": "Bayern", "population": 5000}
    await b.upsert([
        make("ref", "Gemeinsamer Bauhof Kreis", keywords=("Bauhof", "Fuhrpark"), **alike),  # type: ignore[arg-type]
        *(make(f"other{i}", f"Bauhof Fuhrpark Nummer {i}", keywords=("Bauhof", "Fuhrpark"), foa=("Bildung",), state="Hessen",
               population=900_000) for i in range(150)),
        make("twin", "Bauhof im Verbund", keywords=("Winterdienst",), **alike),  # type: ignore[arg-type]
        make("worded", "Kasse und EDV im Verbund", keywords=("Finanzen",), **alike),  # type: ignore[arg-type]
        make("draft", "Gemeinsamer Bauhof Kreis", keywords=("Bauhof", "Fuhrpark"), editorial="draft", owner="erika", **alike),  # type: ignore[arg-type]
    ])
    return b


async def test_a_profiles_comparable_projects_read_only_the_best_candidates(tmp_path: Path) -> None:
    backend = await _catalogue(tmp_path)
    try:
        ref = comp.Reference.from_document(await backend.document("ref", labels=PUBLIC) or {})
        counting = _counting(backend)

        async def no_plain_search(*_args: Any, **_kwargs: Any) -> Any:
            raise AssertionError("a ranked read runs no search of its own for profiles of a similar size")

        backend.search = no_plain_search  # type: ignore[method-assign]
        found = await comp.find_comparable(backend, ref, labels=PUBLIC, limit=5)
        # the pool (RANKED_POOL and the reference), not 100 + 100 as before
        assert counting.docs <= comp.RANKED_POOL + 1
        assert len(counting.queries) == 2  # the reference's own relevance, the ranked search
        ids = [c.document["id"] for c in found]
        # the twin shares fewer words than the 150 others but everything else: ranked by the signals it is a
        # candidate (by text alone it would be the 152nd); the project of the same Handlungsfeld in other words too
        assert ids[:2] == ["twin", "worded"]
        assert "ref" not in ids and "draft" not in ids
    finally:
        await backend.close()


async def test_ranked_candidates_keep_the_text_relevance_alone_and_the_callers_labels(tmp_path: Path) -> None:
    backend = await _catalogue(tmp_path)
    try:
        text = "Gemeinsamer Bauhof Kreis Bauhof Fuhrpark"
        args: dict[str, Any] = {"any_of": {"fields_of_action": ["Verwaltung"], "state": ["Bayern"]}, "limit": 200}  # no status filter: labels alone
        plain = {c.document["id"]: c.text_score for c in await backend.similar_candidates(text, labels=PUBLIC, **args)}
        ranked = await backend.similar_candidates(text, labels=PUBLIC, population=5000, reference_id="ref", **args)
        assert ranked[0].document["id"] == "ref"
        # the text's weight is scaled by the reference's own relevance for the text (its id adds no score)
        view = backend._live.view
        labels = [(tantivy.Occur.Must, tantivy.Query.const_score_query(backend._any_term(LABELS_FIELD, PUBLIC), 0.0))]
        own = backend._reference_relevance(view.searcher, backend._plan(view, text, any_word=True).text_query, labels, "ref")
        assert own == pytest.approx(plain["ref"], rel=1e-4)
        for c in ranked:  # the score less the signals' weights, scaled back: the relevance for the text alone
            assert c.text_score == pytest.approx(plain.get(c.document["id"], 0.0), rel=1e-3, abs=1e-4)
        assert "draft" not in {c.document["id"] for c in ranked}
        # the owner's labels: her draft is a candidate for her, and a commit makes a fresh ranked list
        mine = await backend.similar_candidates(text, labels=(PUBLIC_LABEL, owner_label("erika")), population=5000, reference_id="ref", **args)
        assert "draft" in {c.document["id"] for c in mine}
        await backend.delete(["twin"])
        again = await backend.similar_candidates(text, labels=PUBLIC, population=5000, reference_id="ref", **args)
        assert "twin" in {c.document["id"] for c in ranked} and "twin" not in {c.document["id"] for c in again}
    finally:
        await backend.close()


async def test_a_profiles_comparable_projects_are_ranked_in_the_search_thread_in_one_hop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import threading

    backend = await _catalogue(tmp_path)
    try:
        ref = comp.Reference.from_document(await backend.document("ref", labels=PUBLIC) or {})
        expected = comp.rank(ref, await backend.similar_candidates(
            ref.text, labels=PUBLIC, any_of={"fields_of_action": list(ref.fields_of_action), "state": [ref.state or ""]}, filters=PUBLISHED,
            limit=comp.RANKED_POOL + 1, population=ref.population, reference_id=ref.exclude_id), limit=5)
        backend._live.view.results.clear()
        ranked_in: list[int] = []
        plain_rank = comp.rank

        def recording_rank(*args: Any, **kwargs: Any) -> Any:
            ranked_in.append(threading.get_ident())
            return plain_rank(*args, **kwargs)

        hops: list[Any] = []
        plain_to_thread = asyncio.to_thread

        async def counting_to_thread(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            hops.append(fn)
            return await plain_to_thread(fn, *args, **kwargs)

        monkeypatch.setattr(comp, "rank", recording_rank)
        monkeypatch.setattr(asyncio, "to_thread", counting_to_thread)
        found = await comp.find_comparable(backend, ref, labels=PUBLIC, limit=5)
        assert ranked_in and all(ident != threading.get_ident() for ident in ranked_in)  # not on the event loop's thread
        assert len(hops) == 1  # the search, the decoding and the ranking: one hop
        assert [(c.document["id"], c.score, c.reasons) for c in found] == [(c.document["id"], c.score, c.reasons) for c in expected]
        found[0].document["title"] = "geändert"  # the answer is the caller's copy, not the kept payload
        again = await comp.find_comparable(backend, ref, labels=PUBLIC, limit=5)
        assert again[0].document["title"] != "geändert"
    finally:
        await backend.close()


async def test_a_reference_text_is_planned_without_lexicon_or_places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks.search_quality import demo_documents
    from catalogue.search import planning

    texts = [comp.Reference.from_document(d).text for d in demo_documents()]
    texts += ["Bürger*innen-Portal Rhein-Sieg-Kreis Bayern", "Ruf* Bus", "Hessen OZG 2.0", " * "]
    # the same words as the typed query's plan (the words' texts and prefixes are all a reference text queries)
    for text in texts:
        assert [(w.text, w.prefix) for w in planning.plain_plan(text).words] == [(w.text, w.prefix) for w in planning.plan(text).words]
    backend = TantivyBackend(tmp_path / "search")
    try:
        await backend.upsert([make("ruf", "Rufbus im Kreis", keywords=("Mobilität",), state="Bayern")])
        plain = repr(backend._plan(backend._live.view, texts[-3], any_word=True).text_query)

        def no_lexicon(*_args: Any, **_kwargs: Any) -> Any:
            raise AssertionError("a reference text is not looked up in the lexicon")

        monkeypatch.setattr(planning.lexicon, "expand_query", no_lexicon)
        monkeypatch.setattr(planning, "_find_places", no_lexicon)
        backend._live.view.plans.clear()
        assert repr(backend._plan(backend._live.view, texts[-3], any_word=True).text_query) == plain
        assert await backend.similar_candidates("Rufbus Bayern Mobilität", labels=PUBLIC, any_of={"state": ["Bayern"]}, population=5000)
    finally:
        await backend.close()


async def test_a_status_filter_skips_the_other_states_and_finds_exactly_its_own(tmp_path: Path) -> None:
    """A filter on the editorial state is written as the states it excludes when their documents are fewer (a filter
    every published profile passes cost a check of every document found), else as a required clause (the review
    queue's rare state leads the search): the same documents for every choice of states, the labels still filtering."""
    from itertools import combinations

    from catalogue.vocabularies import EditorialStatus

    states = [s.value for s in EditorialStatus]
    count = {s: 8 if s == "published" else 2 for s in states}  # most profiles are published
    backend = TantivyBackend(tmp_path / "search")
    try:
        await backend.upsert([
            *(make(f"{s}-{i}", f"Bauhof {s} {i}", foa=("Verwaltung",), state="Bayern", editorial=s, owner="erika") for s in states
              for i in range(count[s])),
            make("fremd", "Bauhof fremd", foa=("Verwaltung",), state="Bayern", editorial="draft", owner="max"),
        ])
        published_only = backend._filter("status", ["published"])
        assert published_only is not None and published_only[0] == tantivy.Occur.MustNot
        submitted_only = backend._filter("status", ["submitted"])
        assert submitted_only is not None and submitted_only[0] == tantivy.Occur.Must
        assert backend._filter("status", states) is None  # every document passes
        labels = (PUBLIC_LABEL, owner_label("erika"))  # not a reviewer's: another editor's draft stays hidden
        for n in range(1, len(states) + 1):
            for chosen in combinations(states, n):
                expect = {f"{s}-{i}" for s in chosen for i in range(count[s])}
                for q in ("", "Bauhof"):
                    found = await backend.search(SearchQuery(q=q, filters={"status": list(chosen)}, per_page=50), labels=labels)
                    assert {h.id for h in found.hits} == expect and found.total == len(expect)
                candidates = await backend.similar_candidates("Bauhof", labels=labels, any_of={"state": ["Bayern"]},
                                                              filters={"status": list(chosen)}, population=5000, reference_id="published-0")
                assert {c.document["id"] for c in candidates} == expect
        # a state the vocabulary lacks matches nothing, as before
        assert (await backend.search(SearchQuery(filters={"status": ["gelöscht"]}), labels=labels)).total == 0
        # another editor's draft: not even a filter for drafts finds it without her label
        drafts = await backend.search(SearchQuery(filters={"status": ["draft"]}, per_page=50), labels=labels)
        assert "fremd" not in {h.id for h in drafts.hits}
    finally:
        await backend.close()


async def test_a_signal_that_makes_a_candidate_scores_once_inside_the_candidates_union(tmp_path: Path) -> None:
    """A Handlungsfeld and the widest size band both make a document a candidate and add to its score: they score inside
    the candidates' union and are not asked once more as optional clauses beside it (one posting list walked less each)."""
    backend = await _catalogue(tmp_path)
    try:
        counting = _counting(backend)
        await backend.similar_candidates("Gemeinsamer Bauhof Kreis Bauhof Fuhrpark", labels=PUBLIC, filters=PUBLISHED,
                                         any_of={"fields_of_action": ["Verwaltung"], "state": ["Bayern"]}, population=5000, reference_id="ref")
        ranked = counting.queries[-1]
        field = 'Term(field=8, type=Str, "Verwaltung")'
        assert ranked.count(field) == 1 and 'Const(score=0.3, query=TermQuery(Term(field=8, type=Str, "Verwaltung")))' in ranked
        assert ranked.count('type=Str, "Bayern"') == 1  # the Land only adds to the score: once, as before
        # "Kommunen wie meine" (no text): the Handlungsfeld, the Land and the widest size band make the candidates and
        # score inside their union; the same answer as the signals summed beside a union without score
        mine = comp.Reference.for_municipality(population=5000, state="Bayern", fields_of_action=["Verwaltung"])
        found = await comp.find_comparable(backend, mine, labels=PUBLIC, limit=5)
        fill = counting.queries[-1]
        assert fill.count(field) == 1 and fill.count('type=Str, "Bayern"') == 1
        assert "Const(score=0.1, query=TermQuery(Term(field=" in fill  # the Land's weight (SIMILARITY_WEIGHTS["state"])
        assert {c.document["id"] for c in found[:3]} == {"ref", "twin", "worded"}  # all three alike in Land, Feld and size
        assert "draft" not in {c.document["id"] for c in found}
    finally:
        await backend.close()


async def test_compound_expansions_and_splits_are_worked_out_once_per_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A word's compounds (`_expansions`) and its split into two indexed terms (`_split`) are looked up in the term
    dictionary once per snapshot, whichever query or reference text has the word; a commit's new terms count at once."""
    b = TantivyBackend(tmp_path / "search")
    await b.upsert([
        make("a", "Breitbandausbau im Landkreis", keywords=("Breitband",)),
        make("b", "Ausbau der Radwege", keywords=("Ausbau",)),
        make("c", "Schnelles Netz", keywords=("Netzausbau",)),
    ])
    calls: list[tuple[str, str]] = []
    expansions_of, split_of = _QueryPlanner._expansions_of, _QueryPlanner._split_of

    def counted_expansions(searcher: Any, stem: str) -> tuple[str, ...]:
        calls.append(("expansions", stem))
        return expansions_of(searcher, stem)

    def counted_split(self: _QueryPlanner, searcher: Any, stem: str) -> tuple[str, str] | None:
        calls.append(("split", stem))
        return split_of(self, searcher, stem)

    monkeypatch.setattr(_QueryPlanner, "_expansions_of", staticmethod(counted_expansions))
    monkeypatch.setattr(_QueryPlanner, "_split_of", counted_split)
    first = await b.search(SearchQuery(q="Breitband"), labels=PUBLIC)
    assert [h.id for h in first.hits] == ["a"]
    assert ("expansions", "breitband") in calls
    asked = list(calls)
    # other texts with the same words, in the same snapshot: planned anew, the term dictionary not asked again
    await b.search(SearchQuery(q="Breitband Radwege"), labels=PUBLIC)
    await b.similar_candidates("Breitband Breitbandausbau", labels=PUBLIC, filters=PUBLISHED)
    assert calls.count(("expansions", "breitband")) == 1
    assert calls.count(("split", "breitbandausbau")) <= 1
    # a compound not in the index, split into two indexed terms: worked out once, however often it is asked for
    before = len([c for c in calls if c[0] == "split"])
    await b.search(SearchQuery(q="Radwegeausbau"), labels=PUBLIC)
    await b.search(SearchQuery(q="Radwegeausbau Netz"), labels=PUBLIC)
    splits = [c for c in calls[len(asked):] if c[0] == "split" and c[1].startswith("radweg")]
    assert len(splits) == 1, calls
    assert len([c for c in calls if c[0] == "split"]) == before + 1
    assert len(calls) > len(asked)  # the new words were looked up
    # a commit: a new snapshot, whose new compound of the word is found
    await b.upsert([make("d", "Breitbandnetz für alle", keywords=("Glasfaser",))])
    again = await b.search(SearchQuery(q="Breitband"), labels=PUBLIC)
    assert calls.count(("expansions", "breitband")) == 2
    assert "breitbandnetz" in b.planner._expansions(b._live.view.terms, "breitband")
    assert sorted(h.id for h in again.hits) == ["a", "d"]
    await b.close()
