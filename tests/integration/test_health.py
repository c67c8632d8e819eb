"""Health endpoints: live, ready, and 503 problem+json naming the failing dependency.

Ready also covers the index writer: 503 while this process should run the
sync worker and it has died (the app restarts it), and the age of the
oldest change that waits for the index.
"""

from __future__ import annotations

import asyncio
import shutil

from catalogue.access import ALL_DOCUMENTS_LABELS
from catalogue.models import OutboxEntry
from catalogue.search.base import SearchQuery
from catalogue.vocabularies import Role
from tests.factories import principal_headers

API = "/api/v1/profiles"


async def test_live_and_ready(client) -> None:
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    r = await client.get("/health/ready")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["checks"] == {"database": "ok", "search": "ok", "sync": "ok"}
    assert body["sync"]["role"] == "writer" and body["sync"]["worker"] == "running" and body["sync"]["lease_live"]
    assert body["outbox"]["oldest_pending_s"] is None  # nothing waits


async def test_search_down_gives_503_naming_it(client, app, monkeypatch) -> None:
    from catalogue.search.base import SearchError

    async def broken() -> bool:
        raise SearchError("Index nicht lesbar")

    monkeypatch.setattr(app.state.runtime.search, "health", broken)
    r = await client.get("/health/ready")
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert "Suche" in body["detail"] and "search" in body["failing"] and body["checks"] == {"database": "ok", "sync": "ok"}


async def test_database_down_gives_503_naming_it(client, app, monkeypatch) -> None:
    async def broken() -> None:
        raise ConnectionError("keine Verbindung")

    monkeypatch.setattr(app.state.runtime.storage, "ping", broken)
    r = await client.get("/health/ready")
    assert r.status_code == 503 and "Datenbank" in r.json()["detail"] and "database" in r.json()["failing"]


async def _until(predicate, attempts: int = 400) -> bool:
    for _ in range(attempts):
        if await predicate():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_worker_killed_by_an_engine_panic_gives_503_and_is_restarted(client, app) -> None:
    """Regression (issue 10): the live index directory removed under the running worker – as `leuchtturm
    reindex` from the CLI did before it handed its work to the server – made Tantivy panic, the worker
    died, and ready stayed 200. Now ready says so, the app restarts the worker and rebuilds the index."""
    rt = app.state.runtime
    writer = rt.writer
    headers = await principal_headers("redaktion", Role.REVIEWER)
    first = await client.post(API, json={"title": "Gemeinsamer Bauhof Aue"}, headers=headers)
    assert first.status_code == 201
    writer.restart_delay = 3600.0  # hold the restart, to look at the answer meanwhile

    shutil.rmtree(rt.search._live.path)
    await client.post(API, json={"title": "Rufbus Aue"}, headers=headers)  # the worker writes, and panics

    async def dead() -> bool:
        return not writer.worker_alive

    assert await _until(dead), "the worker survived the panic"
    r = await client.get("/health/ready")
    assert r.status_code == 503, r.text
    body = r.json()
    assert "Suchabgleich" in body["detail"] and "sync" in body["failing"]
    assert body["sync"]["worker"] == "dead" and "PanicException" in body["sync"]["last_failure"]

    writer.restart_delay = 0.0
    writer._wake.set()

    async def ready() -> bool:
        return (await client.get("/health/ready")).status_code == 200

    assert await _until(ready), (await client.get("/health/ready")).text
    assert writer.restarts == 1
    # the index was rebuilt from the store: both profiles are found again
    hits = (await rt.search.search(SearchQuery(q="Aue", facets=()), labels=ALL_DOCUMENTS_LABELS)).hits
    assert {h.title for h in hits} == {"Gemeinsamer Bauhof Aue", "Rufbus Aue"}

    async def outbox_empty() -> bool:  # the restarted worker applies what was pending, then deletes it
        return await OutboxEntry.count() == 0

    assert await _until(outbox_empty), f"{await OutboxEntry.count()} outbox entries left"


async def test_ready_reports_the_age_of_the_oldest_waiting_change(client, app, monkeypatch) -> None:
    from catalogue.search.base import SearchError

    backend = app.state.runtime.search

    async def down(docs) -> None:
        raise SearchError("Suchmaschine nicht erreichbar (Test)")

    monkeypatch.setattr(backend, "upsert", down)
    headers = await principal_headers("redaktion", Role.REVIEWER)
    assert (await client.post(API, json={"title": "Bürgerbus wartet"}, headers=headers)).status_code == 201
    await asyncio.sleep(0.2)
    body = (await client.get("/health/ready")).json()
    assert body["outbox"]["pending_max"] >= 1
    assert body["outbox"]["oldest_pending_s"] is not None and body["outbox"]["oldest_pending_s"] > 0
