"""Search, similar and comparable over HTTP, on the embedded default (FerretDB + Tantivy)."""

from __future__ import annotations

import asyncio
import json

import pytest

from catalogue.access import PUBLIC_LABEL, Action
from catalogue.models import CONTENT_FIELDS
from catalogue.profiles import ProfileService
from catalogue.settings import PROJECT_ROOT
from catalogue.users import Principal
from catalogue.vocabularies import Role
from tests.factories import publishable

REVIEWER = Principal("rita", Role.REVIEWER)
DEMO = json.loads((PROJECT_ROOT / "data" / "demo" / "profiles.json").read_text())


async def _publish_all(app, entries: list[dict]) -> list[str]:
    svc = ProfileService()
    slugs = []
    for e in entries:
        p = await svc.create(publishable({k: v for k, v in e.items() if k in CONTENT_FIELDS}), REVIEWER)
        await svc.transition(p.slug, Action.SUBMIT, REVIEWER)
        await svc.transition(p.slug, Action.PUBLISH, REVIEWER)
        slugs.append(p.slug)
    rt = app.state.runtime
    await rt.sync.drain(rt.search)
    return slugs


@pytest.fixture
async def corpus(app, client) -> list[str]:
    return await _publish_all(app, DEMO[:12])


async def test_search_with_typo_facets_and_snippets(client, corpus) -> None:
    r = await client.get("/api/v1/search", params={"q": "Digitalisierungstrategie"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] >= 1
    assert body["hits"][0]["url"].endswith("/profiles/" + body["hits"][0]["slug"])
    assert any("<mark>" in v for h in body["hits"] for v in h["snippets"].values())
    facets = {f["name"]: {v["value"]: v["count"] for v in f["values"]} for f in body["facets"]}
    assert set(facets) >= {"fields_of_action", "state", "size_class", "legal_form", "project_status", "funding_kinds"}


async def test_filters_and_exact_totals(client, corpus) -> None:
    everything = (await client.get("/api/v1/search", params={"per_page": 100})).json()
    assert everything["total"] == len(corpus)
    state = everything["hits"][0]["state"]
    only = (await client.get("/api/v1/search", params={"state": state, "per_page": 100})).json()
    assert only["total"] == sum(1 for h in everything["hits"] if h["state"] == state)
    assert all(h["state"] == state for h in only["hits"])


@pytest.mark.parametrize(
    "params",
    [
        {"q": '" OR state = "Bayern'},
        {"q": "title:* OR 1=1"},
        {"q": "\\\\ ( ) [ ] { } ^2 ~ * ? AND OR NOT"},
        {"q": '{"$gt": ""}'},
    ],
)
async def test_query_syntax_is_taken_literally(client, corpus, params) -> None:
    r = await client.get("/api/v1/search", params=params)
    assert r.status_code == 200, r.text
    assert r.json()["total"] < len(corpus)  # never broadened to everything


@pytest.mark.parametrize("params", [{"state": 'Bayern" OR state = "Hessen'}, {"field": "Verwaltung) OR (1=1"}, {"sort": "$natural"}, {"page": 0}])
async def test_bad_filter_values_are_rejected(client, corpus, params) -> None:
    r = await client.get("/api/v1/search", params=params)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_similar_and_comparable_with_german_reasons(client, corpus) -> None:
    r = await client.get(f"/api/v1/profiles/{corpus[0]}/similar")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items and all(i["slug"] != corpus[0] for i in items)
    assert all(0 <= i["score"] <= 1 for i in items)
    # the strongest matches say why; candidates found only through a faint text
    # match (no shared field, keyword or state) come back without a reason today
    assert all(i["reasons"] for i in items[:3])
    assert any(r.startswith("gleiche") for r in items[0]["reasons"])

    r = await client.get("/api/v1/comparable", params={"population": 30000, "state": "Nordrhein-Westfalen", "fields": "Verwaltung"})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items
    reasons = " | ".join(reason for i in items for reason in i["reasons"])
    assert "gleiches Handlungsfeld: Verwaltung" in reasons or "ebenfalls Nordrhein-Westfalen" in reasons
    assert (await client.get("/api/v1/comparable")).status_code == 422


async def test_unpublished_profiles_never_appear_in_search(client, app, corpus) -> None:
    svc = ProfileService()
    p = await svc.create({"title": "Streng geheimer Zauberwürfel-Entwurf"}, Principal("erika", Role.EDITOR))
    await app.state.runtime.sync.drain(app.state.runtime.search)
    r = await client.get("/api/v1/search", params={"q": "Zauberwürfel"})
    assert r.json()["total"] == 0
    await svc.transition(corpus[0], Action.ARCHIVE, REVIEWER)
    await app.state.runtime.sync.drain(app.state.runtime.search)
    r = await client.get("/api/v1/search", params={"per_page": 100})
    assert corpus[0] not in {h["slug"] for h in r.json()["hits"]}
    assert p.slug not in r.text


async def test_lost_index_is_rebuilt_at_start(settings, mongo_uri) -> None:
    """Delete the index directory while profiles exist: the next start rebuilds it from MongoDB."""
    import shutil

    from catalogue.embedded import StoreHandle
    from catalogue.runtime import Runtime
    from catalogue.search.base import SearchQuery
    from tests.conftest import unique_db_name

    name = unique_db_name("rt")
    rt = await Runtime.start(settings, db_name=name, handle=StoreHandle(mongo_uri, None), run_sync_worker=False)
    try:
        svc = ProfileService()
        for e in DEMO[:3]:
            p = await svc.create(publishable({k: v for k, v in e.items() if k in CONTENT_FIELDS}), REVIEWER)
            await svc.transition(p.slug, Action.SUBMIT, REVIEWER)
            await svc.transition(p.slug, Action.PUBLISH, REVIEWER)
        await rt.sync.drain(rt.search)
        assert (await rt.search.search(SearchQuery(), labels=(PUBLIC_LABEL,))).total == 3
    finally:
        await rt.stop()
    shutil.rmtree(settings.resolved_data_dir / "search")
    # A server start: the process that takes the sync lease (the one index writer) rebuilds the lost index.
    rt = await Runtime.start(settings, db_name=name, handle=StoreHandle(mongo_uri, None), run_sync_worker=True)
    try:
        total = 0
        for _ in range(300):  # the lease is taken on the supervisor's first tick
            total = (await rt.search.search(SearchQuery(), labels=(PUBLIC_LABEL,))).total
            if total == 3:
                break
            await asyncio.sleep(0.1)
        assert total == 3
    finally:
        await rt.storage.client.drop_database(name)
        await rt.stop()


async def test_explain_shows_terms_synonyms_with_their_lexicon_line_for_editorial_staff(client, corpus, auth) -> None:
    params = {"q": "Glasfaserausbau", "explain": "true"}
    r = await client.get("/api/v1/search", params=params, headers=auth["anon"])
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "Redaktion" in r.json()["detail"]
    plain = await client.get("/api/v1/search", params={"q": "Glasfaserausbau"}, headers=auth["anon"])
    assert plain.status_code == 200
    assert all(h["explanation"] is None for h in plain.json()["hits"])
    for who in ("editor", "admin"):
        r = await client.get("/api/v1/search", params=params, headers=auth[who])
        assert r.status_code == 200, r.text
        hits = r.json()["hits"]
        assert hits
        for hit in hits:
            words = hit["explanation"]["words"]
            assert [w["word"] for w in words] == ["Glasfaserausbau"]
            assert words[0]["matched"], hit["slug"]  # every hit says what made it match
        matched = [m for h in hits for m in h["explanation"]["words"][0]["matched"]]
        synonyms = [m for m in matched if m["kind"] in ("synonym", "near")]
        assert synonyms, matched
        assert all(m["lexicon_line"] > 0 and "=" in m["lexicon"] and m["weight"] < 1 for m in synonyms)
        kinds = {"typed", "typo", "prefix", "compound-part", "compound-head", "synonym", "near", "expansion", "abbreviation", "regional", "spelling"}
        assert {m["kind"] for m in matched} <= kinds


async def test_explain_names_typos_and_place_boosts(client, corpus, auth) -> None:
    r = await client.get("/api/v1/search", params={"q": "Digitalisirung Nordrhein-Westfalen", "explain": "true"}, headers=auth["editor"])
    assert r.status_code == 200, r.text
    hits = r.json()["hits"]
    assert hits
    top = hits[0]["explanation"]
    assert top["words"][0]["matched"][0]["kind"] == "typo"
    assert top["words"][1].get("place") is True
    assert {b["place"] for b in top["place_boosts"]} == {"Nordrhein-Westfalen"}
    assert hits[0]["state"] == "Nordrhein-Westfalen"


async def test_search_responses_are_the_documented_models_byte_for_byte(client, corpus, auth) -> None:
    """The search, similar and comparable answers are built as plain JSON values (api/controllers/search.py):
    each body is exactly what the documented model holding the same values encodes to (fields, their order,
    their types), as when the handlers returned the models."""
    from litestar.serialization import encode_json

    from api.controllers.search import ComparableResponse, SearchResponse

    answers = [
        (SearchResponse, await client.get("/api/v1/search", params={"q": "Digitalisierung", "per_page": 100})),
        (SearchResponse, await client.get("/api/v1/search", params={"q": "Glasfaserausbau", "explain": "true"}, headers=auth["editor"])),
        (SearchResponse, await client.get("/api/v1/search", params={"q": "xyzzyqqq"})),
        (ComparableResponse, await client.get(f"/api/v1/profiles/{corpus[0]}/similar")),
        (ComparableResponse, await client.get("/api/v1/comparable", params={"population": 30000, "state": "Nordrhein-Westfalen"})),
    ]
    for model, r in answers:
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        assert r.content == encode_json(model.model_validate_json(r.content).model_dump(mode="json"))
    assert answers[0][1].json()["hits"] and answers[0][1].json()["facets"]
    assert any(h["explanation"] for h in answers[1][1].json()["hits"])
    assert answers[3][1].json()["items"]
