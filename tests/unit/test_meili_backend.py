"""The Meilisearch backend without a server: a small fake of the HTTP API behind the SDK.

`FakeMeili` keeps indexes as dicts and applies every write when it is
enqueued (Meilisearch processes tasks in enqueue order), so the index state
can be inspected after a rebuild. Task polling can be slowed down per task to
reproduce the interleavings of concurrent writes and a swap.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from catalogue.search.base import FACETS, SearchError, SearchQuery, Sort
from catalogue.search.meili_backend import (
    FILTERABLE,
    LOCALES,
    RANKING_RULES,
    SEARCHABLE,
    SORTABLE,
    MeiliBackend,
    build_filter,
    index_settings,
    quote_filter_value,
    sanitize_q,
)
from tests.factories import stream

httpx = pytest.importorskip("httpx2")  # the SDK's HTTP client

LIVE = "profiles_unit"
PUBLIC = ("public",)
PRE, POST = "\ue000", "\ue001"


class FakeMeili:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Any]] = []
        self.indexes: dict[str, dict[str, dict[str, Any]]] = {}
        self.tasks: dict[int, dict[str, Any]] = {}
        self.slow: dict[str, int] = {}  # "<index>:<kind>" -> polls a task of that kind stays "processing"
        self.fail: set[str] = set()  # kinds whose tasks fail
        self.search_results: list[dict[str, Any]] | None = None
        self.health_status = "available"

    # -- helpers

    def calls(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p, _ in self.requests if not p.startswith("tasks/")]

    def bodies(self, method: str, path: str) -> list[Any]:
        return [b for m, p, b in self.requests if m == method and p == path]

    def _task(self, uid: str | None, kind: str) -> httpx.Response:
        n = len(self.tasks) + 1
        failed = kind in self.fail
        self.tasks[n] = {
            "uid": n, "indexUid": uid, "type": kind, "enqueuedAt": "2025-01-01T00:00:00Z",
            "status": "failed" if failed else "succeeded",
            "error": {"message": f"{kind} kaputt", "code": "invalid_document_id", "type": "invalid_request", "link": ""} if failed else None,
            "polls_left": self.slow.get(f"{uid}:{kind}", 0),
        }
        return httpx.Response(202, json={"taskUid": n, "indexUid": uid, "status": "enqueued", "type": kind,
                                          "enqueuedAt": "2025-01-01T00:00:00Z"})

    @staticmethod
    def _search_result(uid: str, q: str) -> dict[str, Any]:
        return {"indexUid": uid, "hits": [], "query": q, "processingTimeMs": 1, "totalHits": 0, "page": 1,
                "hitsPerPage": 20, "totalPages": 0, "facetDistribution": {}}

    # -- the API

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.strip("/")
        body = json.loads(request.content) if request.content else None
        self.requests.append((request.method, path, body))
        parts = path.split("/")
        m = request.method
        if parts[0] == "health":
            return httpx.Response(200, json={"status": self.health_status})
        if parts[0] == "tasks":
            task = self.tasks[int(parts[1])]
            if task["polls_left"] > 0:
                task["polls_left"] -= 1
                return httpx.Response(200, json={**{k: v for k, v in task.items() if k != "polls_left"},
                                                 "status": "processing", "error": None})
            return httpx.Response(200, json={k: v for k, v in task.items() if k != "polls_left"})
        if path == "multi-search":
            if self.search_results is not None:
                return httpx.Response(200, json={"results": self.search_results})
            return httpx.Response(200, json={"results": [self._search_result(q["indexUid"], q.get("q") or "")
                                                         for q in body["queries"]]})
        if path == "swap-indexes":
            for pair in body:
                a, b = pair["indexes"]
                self.indexes[a], self.indexes[b] = self.indexes[b], self.indexes[a]
            return self._task(None, "indexSwap")
        if path == "indexes" and m == "POST":
            self.indexes.setdefault(body["uid"], {})
            return self._task(body["uid"], "indexCreation")
        uid = parts[1]
        if len(parts) == 2 and m == "GET":
            if uid not in self.indexes:
                return httpx.Response(404, json={"message": "not found", "code": "index_not_found",
                                                 "type": "invalid_request", "link": ""})
            return httpx.Response(200, json={"uid": uid, "primaryKey": "id", "createdAt": "2025-01-01T00:00:00Z",
                                             "updatedAt": "2025-01-01T00:00:00Z"})
        if len(parts) == 2 and m == "DELETE":
            self.indexes.pop(uid, None)
            return self._task(uid, "indexDeletion")
        if parts[2] == "settings":
            return self._task(uid, "settingsUpdate")
        if parts[2] == "documents" and len(parts) == 3 and m == "POST":
            if "documentAdditionOrUpdate" not in self.fail:
                for doc in body:
                    self.indexes[uid][doc["id"]] = doc
            return self._task(uid, "documentAdditionOrUpdate")
        if parts[2:] == ["documents", "delete-batch"]:
            for doc_id in body:
                self.indexes[uid].pop(doc_id, None)
            return self._task(uid, "documentDeletion")
        raise AssertionError(f"unexpected request {m} {path}")


@pytest.fixture
async def fake_and_backend():
    fake = FakeMeili()
    backend = MeiliBackend("http://meili.invalid", "key", index_uid=LIVE)
    backend.client.http_client._transport = httpx.MockTransport(fake)  # type: ignore[attr-defined]
    try:
        yield fake, backend
    finally:
        await backend.close()


def doc(pid: str, title: str = "Titel") -> dict[str, Any]:
    return {"id": pid, "slug": pid, "title": title, "title_sort": title.lower(), "summary": "", "texts": "", "published_at": 1}


def hit(**kw: Any) -> dict[str, Any]:
    base = {"id": "a", "slug": "a", "title": "T", "summary": "", "texts": "", "_rankingScore": 0.75}
    base.update(kw)
    return base


def result(hits: list[dict[str, Any]], facets: dict[str, Any] | None = None, total: int = 1) -> dict[str, Any]:
    return {"indexUid": LIVE, "hits": hits, "query": "x", "processingTimeMs": 1, "totalHits": total, "page": 1,
            "hitsPerPage": 20, "totalPages": 1, "facetDistribution": facets or {}}


# ------------------------------------------------------------------ settings


async def test_prepare_creates_the_index_and_sends_the_exact_settings(fake_and_backend) -> None:
    fake, backend = fake_and_backend
    await backend.prepare()
    assert fake.calls() == [("GET", f"indexes/{LIVE}"), ("POST", "indexes"), ("GET", f"indexes/{LIVE}"),
                            ("PATCH", f"indexes/{LIVE}/settings")]
    assert fake.bodies("POST", "indexes") == [{"uid": LIVE, "primaryKey": "id"}]
    (settings,) = fake.bodies("PATCH", f"indexes/{LIVE}/settings")
    assert set(settings) == {
        "searchableAttributes", "filterableAttributes", "sortableAttributes", "rankingRules", "displayedAttributes",
        "stopWords", "synonyms", "localizedAttributes", "faceting", "typoTolerance", "pagination",
    }
    assert settings["searchableAttributes"] == ["title", "keywords", "summary", "lead", "municipalities", "partners",
                                                "state", "district", "county", "texts"] == SEARCHABLE
    assert settings["filterableAttributes"] == [
        *FACETS, "population", "collaboration_since", "published_at", "id", "status", "owner", "labels"
    ] == FILTERABLE
    assert settings["sortableAttributes"] == ["published_at", "updated_at", "created_at", "title_sort"] == SORTABLE
    # "sort" first: newest/title order strictly; without a sort parameter the rule is inactive
    assert settings["rankingRules"] == ["sort", "words", "typo", "proximity", "attribute", "exactness"] == RANKING_RULES
    assert settings["displayedAttributes"] == ["*"]
    assert settings["localizedAttributes"] == [{"locales": ["deu"], "attributePatterns": ["*"]}]
    assert settings["faceting"] == {"maxValuesPerFacet": 200}
    assert settings["typoTolerance"] == {"enabled": True, "minWordSizeForTypos": {"oneTypo": 5, "twoTypos": 9}}
    assert settings["pagination"] == {"maxTotalHits": 100_000}
    assert {"und", "der", "für", "fur", "über", "uber"} <= set(settings["stopWords"])
    assert settings["stopWords"] == sorted(set(settings["stopWords"]))
    assert not {"bauhof", "breitband", "stadt", "gemeinde"} & set(settings["stopWords"])
    syn = settings["synonyms"]
    assert "glasfaser" in syn["breitband"] and "breitband" in syn["glasfaser"]
    assert "ikz" in syn["interkommunale zusammenarbeit"] and "interkommunale zusammenarbeit" in syn["ikz"]
    assert all(key not in values for key, values in syn.items())


async def test_prepare_on_an_existing_index_only_updates_settings(fake_and_backend) -> None:
    fake, backend = fake_and_backend
    fake.indexes[LIVE] = {}
    await backend.prepare()
    assert fake.calls() == [("GET", f"indexes/{LIVE}"), ("PATCH", f"indexes/{LIVE}/settings")]


def test_settings_model_is_the_sdks() -> None:
    settings = index_settings()
    assert settings.localized_attributes[0].locales == LOCALES == ["deu"]
    assert settings.pagination.max_total_hits >= 1_000 * 100  # MAX_PAGE * MAX_PER_PAGE: exact totals on every page


# ------------------------------------------------------------------ filters


def meili_parse_quoted(expr: str) -> tuple[str, str]:
    """Meilisearch's filter-parser for a double-quoted value (crates/filter-parser/src/value.rs):
    `\\` skips the next character, an unescaped `"` ends the value; then `\\"` -> `"` and the
    unescaper turns `\\\\` into `\\`. Returns (value, rest of the expression)."""
    assert expr[0] == '"'
    i = 1
    while i < len(expr):
        c = expr[i]
        if c == '"':
            break
        if c == "\\":
            assert i + 1 < len(expr), "dangling backslash"
            i += 2
            continue
        i += 1
    else:
        raise AssertionError("unterminated string")
    raw = expr[1:i].replace('\\"', '"')
    out, j = [], 0
    while j < len(raw):
        if raw[j] == "\\":
            nxt = raw[j + 1]
            assert nxt in '\\"', f"unexpected escape \\{nxt}"
            out.append(nxt)
            j += 2
        else:
            out.append(raw[j])
            j += 1
    return "".join(out), expr[i + 1 :]


HOSTILE = [
    '" OR state = "Bayern',
    'Bayern" OR state = "Hessen',
    "Bayern\\",
    'Bayern\\" OR (1=1',
    '\\\\"\\',
    "Bayern) OR (1=1",
    "x' OR '1'='1",
    "a\\nb",
    "NOT id EXISTS",
    'Sonstige "x" \\ y) OR (1=1',
]


@pytest.mark.parametrize("value", HOSTILE)
def test_quoted_filter_values_round_trip_through_meilisearchs_parser(value: str) -> None:
    quoted = quote_filter_value(value)
    parsed, rest = meili_parse_quoted(quoted)
    assert parsed == value and rest == ""


def test_filter_strings_for_hostile_values() -> None:
    query = SearchQuery(
        filters={"state": ['" OR state = "Bayern', "Bayern\\"], "legal_form": ["Verein"]},
        population_min=1_000, population_max=50_000, since_min=2010,
    )
    assert build_filter(query, ["public", 'user:x" OR labels = "reviewers']) == [
        ['labels = "public"', 'labels = "user:x\\" OR labels = \\"reviewers"'],
        ['state = "\\" OR state = \\"Bayern"', 'state = "Bayern\\\\"'],
        ['legal_form = "Verein"'],
        "population >= 1000",
        "population <= 50000",
        "collaboration_since >= 2010",
    ]
    assert build_filter(query, ["public"], skip="state") == [
        ['labels = "public"'], ['legal_form = "Verein"'], "population >= 1000", "population <= 50000", "collaboration_since >= 2010"
    ]
    with pytest.raises(ValueError):
        build_filter(query, [])  # no labels: callers answer "nothing" without asking the engine
    with pytest.raises(TypeError):
        build_filter(query, "public")  # a lone string is not a list of labels


def test_filter_numbers_are_validated_even_if_the_query_was_tampered_with() -> None:
    query = SearchQuery()
    object.__setattr__(query, "population_min", "1 OR 1=1")
    with pytest.raises(ValueError):
        build_filter(query, PUBLIC)
    object.__setattr__(query, "population_min", True)
    with pytest.raises(ValueError):
        build_filter(query, PUBLIC)
    tampered = SearchQuery()
    object.__setattr__(tampered, "filters", {"state = X) OR (1=1": ("x",)})
    with pytest.raises(ValueError):
        build_filter(tampered, PUBLIC)
    with pytest.raises(TypeError):
        quote_filter_value(1)  # type: ignore[arg-type]


def test_query_operators_are_removed() -> None:
    assert sanitize_q('Bauhof -Rufbus "Phrase"') == "Bauhof Rufbus Phrase"
    assert sanitize_q("(-Rufbus) --x") == "( Rufbus) x"
    assert sanitize_q("E-Akte Online-Zugangs-Gesetz") == "E-Akte Online-Zugangs-Gesetz"
    assert sanitize_q('"') == ""


# ------------------------------------------------------------------ search requests


async def test_search_sends_disjunctive_facet_queries(fake_and_backend) -> None:
    fake, backend = fake_and_backend
    fake.search_results = [
        result([hit()], {"legal_form": {"Verein": 1}, "project_status": {"laufend": 1}}),
        result([], {"state": {"Bayern": 3, "Hessen": 1}}),
        result([], {"funding_kinds": {"Eigenmittel": 2}}),
    ]
    res = await backend.search(SearchQuery(
        q="Bauhof", filters={"state": ["Bayern"], "funding_kinds": ["Eigenmittel"]}, since_max=2020,
        facets=("state", "legal_form", "funding_kinds", "project_status"), page=2, per_page=10,
    ), labels=["public", "user:erika"])
    (body,) = fake.bodies("POST", "multi-search")
    main, by_state, by_funding = body["queries"]
    labels = ['labels = "public"', 'labels = "user:erika"']
    both = [labels, ['state = "Bayern"'], ['funding_kinds = "Eigenmittel"'], "collaboration_since <= 2020"]
    assert main["indexUid"] == LIVE and main["q"] == "Bauhof" and main["filter"] == both
    assert main["facets"] == ["legal_form", "project_status"]
    assert (main["page"], main["hitsPerPage"]) == (2, 10)  # page/hitsPerPage: exact totalHits
    assert main["sort"] is None and main["showRankingScore"] is True
    assert main["attributesToHighlight"] == ["title", "summary", "texts"] and main["attributesToCrop"] == ["texts"]
    assert main["highlightPreTag"] == PRE and main["highlightPostTag"] == POST
    assert main["locales"] == ["deu"] and main["matchingStrategy"] == "last"
    assert by_state["facets"] == ["state"] and by_state["hitsPerPage"] == 0 and by_state["q"] == "Bauhof"
    assert by_state["filter"] == [labels, ['funding_kinds = "Eigenmittel"'], "collaboration_since <= 2020"]
    assert by_funding["facets"] == ["funding_kinds"]
    assert by_funding["filter"] == [labels, ['state = "Bayern"'], "collaboration_since <= 2020"]
    assert res.total == 1 and res.page == 2 and res.per_page == 10
    assert res.facets == {"state": {"Bayern": 3, "Hessen": 1}, "legal_form": {"Verein": 1},
                          "funding_kinds": {"Eigenmittel": 2}, "project_status": {"laufend": 1}}
    assert res.hits[0].score == 0.75


@pytest.mark.parametrize(
    ("sort", "q", "expected"),
    [
        (Sort.RELEVANCE, "Bauhof", None),
        (Sort.RELEVANCE, "", ["published_at:desc"]),
        (Sort.NEWEST, "Bauhof", ["published_at:desc"]),
        (Sort.TITLE, "Bauhof", ["title_sort:asc"]),
        (Sort.TITLE_DESC, "", ["title_sort:desc"]),
        (Sort.UPDATED, "", ["updated_at:desc"]),
        (Sort.UPDATED_ASC, "Bauhof", ["updated_at:asc"]),
        (Sort.CREATED, "", ["created_at:desc"]),
        (Sort.CREATED_ASC, "", ["created_at:asc"]),
        (Sort.NEWEST_ASC, "", ["published_at:asc"]),
    ],
)
async def test_sort_parameter_and_score(fake_and_backend, sort: Sort, q: str, expected: list[str] | None) -> None:
    fake, backend = fake_and_backend
    fake.search_results = [result([hit()])]
    res = await backend.search(SearchQuery(q=q, sort=sort, facets=()), labels=PUBLIC)
    (body,) = fake.bodies("POST", "multi-search")
    assert body["queries"][0]["sort"] == expected and body["queries"][0]["facets"] is None
    # the protocol: score 0 when the order is not by relevance
    assert res.hits[0].score == (0.75 if expected is None else 0.0)


@pytest.mark.parametrize("q", ['"', "-", "()", "*", "die und der", '"und" -die'])
async def test_nothing_searchable_matches_nothing_without_a_request(fake_and_backend, q: str) -> None:
    fake, backend = fake_and_backend
    res = await backend.search(SearchQuery(q=q), labels=PUBLIC)
    assert res.total == 0 and res.hits == [] and set(res.facets) == set(FACETS)
    assert fake.requests == []


async def test_no_labels_match_nothing_without_a_request(fake_and_backend) -> None:
    fake, backend = fake_and_backend
    res = await backend.search(SearchQuery(q="Bauhof"), labels=())
    assert res.total == 0 and res.hits == []
    assert await backend.similar_candidates("Bauhof", labels=[], any_of={"state": ["Bayern"]}) == []
    assert fake.requests == []
    with pytest.raises(TypeError):
        await backend.search(SearchQuery(q="Bauhof"), labels="public")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await backend.search(SearchQuery(q="Bauhof"))  # type: ignore[call-arg]


async def test_search_errors_become_search_error(fake_and_backend) -> None:
    _, backend = fake_and_backend
    backend.client.http_client._transport = httpx.MockTransport(  # type: ignore[attr-defined]
        lambda request: httpx.Response(400, json={"message": "Attribute `x` is not filterable", "code": "invalid_search_filter",
                                                  "type": "invalid_request", "link": ""})
    )
    with pytest.raises(SearchError):
        await backend.search(SearchQuery(q="Bauhof"), labels=PUBLIC)


# ------------------------------------------------------------------ snippets


def test_snippets_escape_before_marking() -> None:
    raw = hit(
        title='Projekt "Zukunft" <b>',
        summary="<script>alert(1)</script> Sicherheit & Ordnung",
        texts="Vorwort <img src=x onerror=alert(1)> Abwasserzweckverband",
        _formatted={
            "title": 'Projekt "Zukunft" <b>',
            "summary": f"<script>alert(1)</script> {PRE}Sicherheit{POST} & Ordnung",
            "texts": f"…<img src=x onerror=alert(1)> {PRE}Abwasserzweckverband{POST}",
        },
    )
    h = MeiliBackend._hit(raw)
    assert h.snippets["title"] == "Projekt &quot;Zukunft&quot; &lt;b&gt;"
    assert h.snippets["summary"] == "&lt;script&gt;alert(1)&lt;/script&gt; <mark>Sicherheit</mark> &amp; Ordnung"
    assert h.snippets["text"] == "…&lt;img src=x onerror=alert(1)&gt; <mark>Abwasserzweckverband</mark>"
    assert "texts" not in h.document and "_formatted" not in h.document and "_rankingScore" not in h.document
    assert h.title == 'Projekt "Zukunft" <b>'  # the plain value, not HTML


def test_text_snippet_only_when_it_matched_and_no_formatted_fallback() -> None:
    h = MeiliBackend._hit(hit(title="A & B", summary="x", texts="lang", _formatted={"texts": "lang…"}))
    assert "text" not in h.snippets
    assert h.snippets == {"title": "A &amp; B", "summary": "x"}
    bare = MeiliBackend._hit(hit(title="<i>", summary=None))
    assert bare.snippets == {"title": "&lt;i&gt;", "summary": ""}


def test_sentinels_in_the_stored_text_never_become_marks() -> None:
    sneaky = f"{PRE}<script>{POST}"
    raw = hit(title=sneaky, summary="Bauhof", texts=f"a {PRE} b",
              _formatted={"title": sneaky, "summary": f"{PRE}Bauhof{POST}", "texts": f"a {PRE} {PRE}b{POST}"})
    h = MeiliBackend._hit(raw)
    assert h.snippets["title"] == "&lt;script&gt;"
    assert h.snippets["summary"] == "<mark>Bauhof</mark>"
    assert "text" not in h.snippets


# ------------------------------------------------------------------ tasks and health


async def test_failed_task_raises_search_error_with_the_details(fake_and_backend) -> None:
    fake, backend = fake_and_backend
    fake.fail.add("documentAdditionOrUpdate")
    with pytest.raises(SearchError, match=r"fehlgeschlagen \(failed\) \[invalid_document_id\]: documentAdditionOrUpdate kaputt"):
        await backend.upsert([doc("x")])


async def test_failed_settings_task_fails_prepare(fake_and_backend) -> None:
    fake, backend = fake_and_backend
    fake.indexes[LIVE] = {}
    fake.fail.add("settingsUpdate")
    with pytest.raises(SearchError, match="fehlgeschlagen"):
        await backend.prepare()


async def test_task_polling_errors_raise_search_error(fake_and_backend) -> None:
    fake, backend = fake_and_backend

    def broken(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/tasks/"):
            return httpx.Response(500, json={"message": "intern", "code": "internal", "type": "internal", "link": ""})
        return fake(request)

    backend.client.http_client._transport = httpx.MockTransport(broken)  # type: ignore[attr-defined]
    fake.indexes[LIVE] = {}
    with pytest.raises(SearchError, match="nicht abgeschlossen"):
        await backend.delete(["x"])


async def test_upsert_batches_and_delete(fake_and_backend, monkeypatch) -> None:
    fake, backend = fake_and_backend
    fake.indexes[LIVE] = {}
    monkeypatch.setattr("catalogue.search.meili_backend.BATCH", 2)
    await backend.upsert([doc("a"), doc("b"), doc("c")])
    assert [len(b) for b in fake.bodies("POST", f"indexes/{LIVE}/documents")] == [2, 1]
    await backend.delete(["a", "nope"])
    assert fake.bodies("POST", f"indexes/{LIVE}/documents/delete-batch") == [["a", "nope"]]
    assert set(fake.indexes[LIVE]) == {"b", "c"}
    await backend.upsert([])
    await backend.delete([])
    assert len(fake.calls()) == 3


async def test_health(fake_and_backend) -> None:
    fake, backend = fake_and_backend
    assert await backend.health() is True
    fake.health_status = "unavailable"
    with pytest.raises(SearchError):
        await backend.health()

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    backend.client.http_client._transport = httpx.MockTransport(down)  # type: ignore[attr-defined]
    with pytest.raises(SearchError, match="nicht erreichbar"):
        await backend.health()


# ------------------------------------------------------------------ rebuild


async def test_rebuild_sequence(fake_and_backend, monkeypatch) -> None:
    fake, backend = fake_and_backend
    monkeypatch.setattr("catalogue.search.meili_backend.BATCH", 2)
    fake.indexes[LIVE] = {"old": doc("old")}
    progress: list[int] = []
    assert await backend.rebuild(stream([doc("a"), doc("b"), doc("c")]), progress.append) == 3
    (swap,) = fake.bodies("POST", "swap-indexes")
    tmp = swap[0]["indexes"][1]
    assert swap == [{"indexes": [LIVE, tmp]}] and tmp.startswith(f"{LIVE}_rebuild_")
    assert fake.calls() == [
        ("GET", f"indexes/{LIVE}"), ("PATCH", f"indexes/{LIVE}/settings"),
        ("GET", f"indexes/{tmp}"), ("POST", "indexes"), ("GET", f"indexes/{tmp}"), ("PATCH", f"indexes/{tmp}/settings"),
        ("POST", f"indexes/{tmp}/documents"), ("POST", f"indexes/{tmp}/documents"),
        ("POST", "swap-indexes"),
        ("DELETE", f"indexes/{tmp}"),
    ]
    assert set(fake.indexes) == {LIVE} and set(fake.indexes[LIVE]) == {"a", "b", "c"}
    assert progress == [2, 3]
    assert backend._rebuild_log is None


async def test_rebuild_failure_keeps_the_live_index_and_removes_the_temporary_one(fake_and_backend) -> None:
    fake, backend = fake_and_backend
    fake.indexes[LIVE] = {"old": doc("old")}

    async def broken():
        yield doc("a")
        raise RuntimeError("Quelle kaputt")

    with pytest.raises(RuntimeError):
        await backend.rebuild(broken())
    assert set(fake.indexes) == {LIVE} and set(fake.indexes[LIVE]) == {"old"}
    assert fake.calls()[-1][0] == "DELETE" and "swap-indexes" not in [p for _, p in fake.calls()]
    assert backend._rebuild_log is None
    await backend.upsert([doc("after")])  # writes go on normally
    assert "after" in fake.indexes[LIVE]


async def test_rebuild_swap_failure_raises(fake_and_backend) -> None:
    fake, backend = fake_and_backend
    fake.indexes[LIVE] = {"old": doc("old")}
    fake.fail.add("indexSwap")
    with pytest.raises(SearchError, match="fehlgeschlagen"):
        await backend.rebuild(stream([doc("a")]))
    assert set(fake.indexes) == {LIVE}


async def test_writes_during_a_rebuild_are_not_lost(fake_and_backend) -> None:
    fake, backend = fake_and_backend
    fake.indexes[LIVE] = {"old": doc("old"), "gone": doc("gone")}
    started = asyncio.Event()

    async def source():
        yield doc("a")
        started.set()
        await asyncio.sleep(0.05)
        yield doc("gone")
        yield doc("b")

    rebuild = asyncio.create_task(backend.rebuild(source()))
    await started.wait()
    await backend.upsert([doc("a", "Neu"), doc("w1")])  # finished before the swap
    await backend.delete(["gone"])
    await rebuild
    live = fake.indexes[LIVE]
    assert set(live) == {"a", "b", "w1"} and live["a"]["title"] == "Neu"


async def test_a_write_still_waiting_for_its_task_at_the_swap_is_not_lost(fake_and_backend) -> None:
    """The write reaches the old index before the swap, but its task is reported done only after it."""
    fake, backend = fake_and_backend
    fake.indexes[LIVE] = {"old": doc("old")}
    fake.slow[f"{LIVE}:documentAdditionOrUpdate"] = 6  # polled every 50 ms: ~300 ms
    writer: asyncio.Task[None] | None = None

    async def source():
        nonlocal writer
        yield doc("a")
        writer = asyncio.create_task(backend.upsert([doc("racer")]))
        for _ in range(5):  # let the upsert send its request
            await asyncio.sleep(0)

    await backend.rebuild(source())
    assert writer is not None
    await writer
    assert "racer" in fake.indexes[LIVE]
    assert set(fake.indexes) == {LIVE}


async def test_rebuilds_run_one_at_a_time(fake_and_backend) -> None:
    fake, backend = fake_and_backend
    fake.indexes[LIVE] = {}

    async def source(prefix: str):
        for i in range(3):
            await asyncio.sleep(0.01)
            yield doc(f"{prefix}{i}")

    first, second = await asyncio.gather(backend.rebuild(source("x")), backend.rebuild(source("y")))
    assert (first, second) == (3, 3)
    assert set(fake.indexes) == {LIVE} and set(fake.indexes[LIVE]) == {"y0", "y1", "y2"}
    swaps = [p for _, p in fake.calls() if p == "swap-indexes"]
    assert len(swaps) == 2


# ------------------------------------------------------------------ comparable candidates


async def test_similar_candidates_any_word_and_filters(fake_and_backend) -> None:
    fake, backend = fake_and_backend
    fake.search_results = [
        result([hit(id="both", _rankingScore=0.9)]),  # the whole text
        result([hit(id="both", _rankingScore=0.8), hit(id="glas", _rankingScore=0.6)]),  # "glasfaser"
        result([hit(id="rufbus", _rankingScore=0.9)]),  # "rufbus"
        result([hit(id="hessen"), hit(id="glas")]),  # any_of
    ]
    found = await backend.similar_candidates(
        'Glasfaser und "Rufbus"', labels=["public", "user:erika"], any_of={"state": ['Hessen" OR id = "x']},
        filters={"status": ['published" OR status = "draft']}, exclude_ids=['a"b', "c\\"], limit=10
    )
    (body,) = fake.bodies("POST", "multi-search")
    text_q, glas_q, bus_q, any_q = body["queries"]
    must = [
        ['labels = "public"', 'labels = "user:erika"'],
        ['status = "published\\" OR status = \\"draft"'],
        'NOT id IN ["a\\"b", "c\\\\"]',
    ]
    assert text_q["q"] == "Glasfaser und Rufbus" and text_q["matchingStrategy"] == "frequency"
    assert text_q["filter"] == must and text_q["limit"] == 10 and text_q["showRankingScore"] is True
    assert (glas_q["q"], bus_q["q"]) == ("glasfaser", "rufbus")  # stop word "und" left out
    assert glas_q["filter"] == must
    assert any_q["q"] == "" and any_q["filter"] == [['state = "Hessen\\" OR id = \\"x"'], *must]
    scores = {c.document["id"]: c.text_score for c in found}
    assert scores == {"both": 0.9, "rufbus": pytest.approx(0.45), "glas": pytest.approx(0.3), "hessen": 0.0}
    assert [c.document["id"] for c in found] == ["both", "rufbus", "glas", "hessen"]
    assert all("texts" not in c.document and "_rankingScore" not in c.document for c in found)


async def test_similar_candidates_without_words_or_facets(fake_and_backend) -> None:
    fake, backend = fake_and_backend
    assert await backend.similar_candidates('  -- "" ', labels=PUBLIC) == []
    assert fake.requests == []
    with pytest.raises(ValueError):
        await backend.similar_candidates("Bauhof", labels=PUBLIC, any_of={"title = x": ["y"]})
    with pytest.raises(ValueError):
        await backend.similar_candidates("Bauhof", labels=PUBLIC, filters={"labels": ["reviewers"]})  # labels only through `labels`
