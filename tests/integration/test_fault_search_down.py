"""Issue 13, deliverable 8: the search backend fails during a stream of writes (Tantivy variant).

The app runs as usual on the embedded FerretDB with a Tantivy index on disk and its own sync worker;
writes go through the API. Mid-stream every index write of the real Tantivy backend fails (the backend
raises, as an unwritable or broken index does), so the worker backs off and keeps the outbox. Every
write must still succeed (2xx), `/health/ready` must report the pending outbox, and once the index
takes writes again the outbox drains and the index equals the store (ids and versions).

The Meilisearch variant kills a real Meilisearch process mid-stream:
tests/integration/test_meili_restart.py (marked `meili`, runs in `make test-meili`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from catalogue.access import ALL_DOCUMENTS_LABELS
from catalogue.models import OutboxEntry, Profile
from catalogue.search.base import SearchError, SearchQuery
from catalogue.users import create_token, create_user
from catalogue.vocabularies import Role
from tests.factories import drained_index

API = "/api/v1/profiles"


async def _stream(client: Any, headers: dict[str, str], slugs: list[str], numbers: range) -> None:
    """Create one profile per number and change an earlier one every third write; all must succeed."""
    for n in numbers:
        r = await client.post(API, json={"title": f"Gemeinsame Straßenbeleuchtung Nummer {n}"}, headers=headers)
        assert r.status_code == 201, r.text
        slugs.append(r.json()["slug"])
        if n % 3 == 0:
            slug = slugs[n // 2]
            tag = (await client.get(f"{API}/{slug}", headers=headers)).headers["etag"]
            r = await client.patch(f"{API}/{slug}", json={"summary": f"Geändert bei Schreibvorgang {n}"}, headers={**headers, "If-Match": tag})
            assert r.status_code == 200, r.text


@pytest.mark.timeout(600)
async def test_tantivy_index_failing_during_writes_then_outbox_drains(client, app, monkeypatch: pytest.MonkeyPatch) -> None:
    rt = app.state.runtime
    assert rt.search.name == "tantivy"
    await create_user("rita", "x" * 12, Role.REVIEWER)
    _, secret = await create_token("rita", "test")
    h = {"Authorization": f"Bearer {secret}"}
    slugs: list[str] = []
    failed_calls = 0
    down = False
    real_upsert, real_delete = rt.search.upsert, rt.search.delete

    async def upsert(docs: Sequence[Mapping[str, Any]]) -> None:
        nonlocal failed_calls
        if down:
            failed_calls += 1
            raise SearchError("Suchindex nicht beschreibbar (Fehlertest)")
        await real_upsert(docs)

    async def delete(ids: Sequence[str]) -> None:
        if down:
            raise SearchError("Suchindex nicht beschreibbar (Fehlertest)")
        await real_delete(ids)

    monkeypatch.setattr(rt.search, "upsert", upsert)
    monkeypatch.setattr(rt.search, "delete", delete)

    await _stream(client, h, slugs, range(8))
    down = True  # mid-stream: the index takes no writes
    await _stream(client, h, slugs, range(8, 16))  # the store takes them; the outbox keeps them
    pending = 0
    for _ in range(200):  # the worker must have tried (and failed) at least once
        ready = (await client.get("/health/ready")).json()
        pending = ready["outbox"]["pending_max"]
        if failed_calls and pending:
            break
        await asyncio.sleep(0.1)
    assert failed_calls >= 1
    assert pending >= 1, ready  # /health/ready reports what waits for the index
    assert await OutboxEntry.find_all().count() >= 1
    down = False  # the index takes writes again
    await _stream(client, h, slugs, range(16, 24))

    stored = {str(p.id): p.version async for p in Profile.find_all()}
    assert len(stored) == 24

    async def indexed() -> dict[str, int]:
        result = await rt.search.search(SearchQuery(per_page=100, facets=()), labels=ALL_DOCUMENTS_LABELS)
        return {hit.id: hit.document.get("version") for hit in result.hits}

    found = await drained_index(rt, indexed, stored, tries=1500)
    assert found == stored
    ready = (await client.get("/health/ready")).json()
    assert ready["outbox"]["pending_max"] == 0, ready
