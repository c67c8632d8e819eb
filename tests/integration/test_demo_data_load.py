"""Demo data on first start: loaded once into an empty catalogue, searchable at once."""

from __future__ import annotations

import json

from pymongo import AsyncMongoClient

from catalogue.access import PUBLIC_LABEL
from catalogue.embedded import StoreHandle
from catalogue.models import OutboxEntry, Profile
from catalogue.runtime import Runtime
from catalogue.search.base import SearchQuery
from catalogue.settings import Settings
from catalogue.vocabularies import EditorialStatus
from importers.demo import DEMO_PROFILES, load_demo_data_if_empty
from tests.conftest import unique_db_name


async def test_loads_once_and_search_finds_hoexter(settings: Settings, mongo_uri: str) -> None:
    name = unique_db_name("demo")
    rt = await Runtime.start(settings, db_name=name, handle=StoreHandle(mongo_uri, None), run_sync_worker=False)
    try:
        reports = await load_demo_data_if_empty(rt)
        expected = len(json.loads(DEMO_PROFILES.read_text(encoding="utf-8")))
        assert reports["profiles"].counts["created"] == expected and reports["profiles"].ok
        assert "gazetteer" not in reports  # the register is loaded at every first start, not with the demo set
        assert await Profile.count() == expected
        assert await Profile.find(Profile.status == EditorialStatus.PUBLISHED).count() == expected
        p = await Profile.find_one(Profile.slug == "interkommunale-digitalisierungsstrategie")
        assert p is not None and p.owner == "demo" and p.provenance is not None
        assert p.provenance.importer == "demo" and p.provenance.source_id == "demo-001"
        # the provenance names the public page the profile was written from
        assert p.provenance.source == "https://interkommunales.nrw/projekt/interkommunale-digitalisierungsstrategie"
        sources = json.loads(DEMO_PROFILES.with_name("sources.json").read_text(encoding="utf-8"))
        others = await Profile.find(Profile.provenance.source_id == "demo-010").to_list()
        assert others and others[0].provenance.source == sources["demo-010"]["sources"][0]["url"]
        assert others[0].provenance.source.startswith("https://")
        assert await OutboxEntry.find(OutboxEntry.done == False).count() == 0  # noqa: E712 - all indexed
        result = await rt.search.search(SearchQuery(q="Höxter"), labels=(PUBLIC_LABEL,))
        assert "interkommunale-digitalisierungsstrategie" in [h.slug for h in result.hits]

        # a second start finds a catalogue with data and does nothing
        versions = {p.slug: p.revision_id for p in await Profile.find_all().to_list()}
        assert await load_demo_data_if_empty(rt) == {}
        assert {p.slug: p.revision_id for p in await Profile.find_all().to_list()} == versions
    finally:
        await rt.stop()
        client: AsyncMongoClient = AsyncMongoClient(mongo_uri)
        await client.drop_database(name)
        await client.close()


async def test_app_start_loads_demo_data_when_switched_on(settings: Settings, mongo_uri: str) -> None:
    import httpx

    from api.app import create_app

    on = settings.model_copy(update={"demo_data": True})
    app = create_app(on, db_name=unique_db_name("demoapp"), handle=StoreHandle(mongo_uri, None))
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
            r = await c.get("/api/v1/search", params={"q": "Höxter"})
            assert r.status_code == 200, r.text
            assert "interkommunale-digitalisierungsstrategie" in [h["slug"] for h in r.json()["hits"]]
        runtime = app.state.runtime
    client: AsyncMongoClient = AsyncMongoClient(mongo_uri)
    await client.drop_database(runtime.storage.db_name)
    await client.close()


async def test_switched_off_leaves_the_catalogue_empty(client) -> None:
    r = await client.get("/api/v1/profiles")
    assert r.status_code == 200 and r.json()["total"] == 0
