"""The search sync worker against real FerretDB and a real Tantivy index.

The backend is wrapped in a test double that fails while `down` is set; the
real index underneath shows what arrived, and in which order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from catalogue import outbox
from catalogue.models import OutboxEntry, Profile
from catalogue.search.base import SearchError, SearchQuery
from catalogue.search.sync import SearchSync, backoff_seconds
from catalogue.search.tantivy_backend import TantivyBackend
from catalogue.vocabularies import EditorialStatus


class FlakyBackend:
    """Delegates to a real backend; raises while `down` is True and logs what was applied."""

    name = "flaky"

    def __init__(self, inner: TantivyBackend) -> None:
        self.inner = inner
        self.down = False
        self.calls = 0
        self.applied: list[tuple[str, str, str]] = []  # (op, id, title)

    def _check(self) -> None:
        self.calls += 1
        if self.down:
            raise SearchError("Suchmaschine nicht erreichbar (Test)")

    async def upsert(self, docs: Sequence[Mapping[str, Any]]) -> None:
        self._check()
        await self.inner.upsert(docs)
        self.applied.extend(("upsert", d["id"], d["title"]) for d in docs)

    async def delete(self, ids: Sequence[str]) -> None:
        self._check()
        await self.inner.delete(ids)
        self.applied.extend(("delete", i, "") for i in ids)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def titles(backend: TantivyBackend) -> dict[str, str]:
    result = await backend.search(SearchQuery(per_page=100, facets=()))
    return {h.id: h.title for h in result.hits}


async def new_profile(title: str, slug: str, published: bool = True) -> Profile:
    profile = Profile(
        title=title,
        slug=slug,
        status=EditorialStatus.PUBLISHED if published else EditorialStatus.DRAFT,
        published_at=datetime.now(UTC) if published else None,
    )
    await profile.insert()
    await outbox.enqueue(str(profile.id), slug)
    return profile


async def change(profile: Profile, **fields: Any) -> None:
    await outbox.enqueue(str(profile.id), profile.slug)
    for k, v in fields.items():
        setattr(profile, k, v)
    await profile.save()


def test_backoff_is_exponential_and_capped() -> None:
    assert [backoff_seconds(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff_seconds(50) == 60.0


async def test_outage_mid_series_loses_nothing_and_keeps_order(db: object, tmp_path: Path) -> None:
    backend = FlakyBackend(TantivyBackend(tmp_path / "search"))
    sync = SearchSync(batch_size=1, base_backoff=0.01, max_backoff=0.05)

    a = await new_profile("Rufbus Version 1", "rufbus")
    b = await new_profile("Bauhof gemeinsam", "bauhof")
    c = await new_profile("Entwurf Kita", "kita", published=False)
    assert await sync.drain(backend) == 3
    assert await titles(backend.inner) == {str(a.id): "Rufbus Version 1", str(b.id): "Bauhof gemeinsam"}

    # a series of writes; the engine goes down after the first one is applied
    await change(a, title="Rufbus Version 2")
    await change(c, status=EditorialStatus.PUBLISHED, published_at=datetime.now(UTC))
    await change(b, status=EditorialStatus.ARCHIVED)
    await outbox.enqueue(str(a.id), a.slug, "delete")
    await a.delete()
    d = await new_profile("Breitbandausbau", "breitband")

    assert await sync.run_once(backend) == 1  # a's update; a is deleted by now, so it is removed
    backend.down = True
    assert await sync.run_once(backend) == 0
    failed = await OutboxEntry.find(OutboxEntry.done == False).sort(+OutboxEntry.seq).to_list()  # noqa: E712
    assert failed[0].attempts == 1 and "nicht erreichbar" in (failed[0].last_error or "")
    assert failed[0].next_attempt_at.replace(tzinfo=UTC) > failed[0].created_at.replace(tzinfo=UTC)
    assert all(e.attempts == 0 for e in failed[1:])
    for _ in range(3):  # more failures while down: attempts grow, nothing is skipped
        await asyncio.sleep(0.06)
        assert await sync.run_once(backend) == 0
    head = await OutboxEntry.find_one(OutboxEntry.id == failed[0].id)
    assert head is not None and head.attempts == 4 and not head.done
    assert await sync.pending() == 4

    backend.down = False
    await asyncio.sleep(0.06)
    assert await sync.drain(backend) == 4
    assert await sync.pending() == 0
    assert await titles(backend.inner) == {str(c.id): "Entwurf Kita", str(d.id): "Breitbandausbau"}

    # the index saw the changes in outbox order
    seen = [(op, i) for op, i, _ in backend.applied[3:]]
    assert seen == [
        ("delete", str(a.id)),
        ("upsert", str(c.id)),
        ("delete", str(b.id)),
        ("delete", str(a.id)),
        ("upsert", str(d.id)),
    ]
    assert await OutboxEntry.find_all().count() == 0  # applied entries are removed


async def test_batches_collapse_and_survive_a_new_worker(db: object, tmp_path: Path) -> None:
    inner = TantivyBackend(tmp_path / "search")
    backend = FlakyBackend(inner)
    first = SearchSync(base_backoff=0.01, max_backoff=0.02)
    p = await new_profile("Digitalisierungsstrategie v1", "strategie")
    for n in range(2, 6):
        await change(p, title=f"Digitalisierungsstrategie v{n}")
    backend.down = True
    assert await first.run_once(backend) == 0
    # the process "restarts": a new worker finds the entries in MongoDB
    backend.down = False
    second = SearchSync(base_backoff=0.01)
    await asyncio.sleep(0.03)
    assert await second.drain(backend) == 5
    assert backend.applied == [("upsert", str(p.id), "Digitalisierungsstrategie v5")]
    assert await titles(inner) == {str(p.id): "Digitalisierungsstrategie v5"}


async def test_run_forever_wakes_on_notify_and_stops(db: object, tmp_path: Path) -> None:
    backend = TantivyBackend(tmp_path / "search")
    sync = SearchSync(poll_interval=5.0)
    stop = asyncio.Event()
    task = asyncio.create_task(sync.run_forever(backend, stop))
    await asyncio.sleep(0.05)
    p = await new_profile("Gemeinsames Rechenzentrum", "rechenzentrum")
    sync.notify()
    for _ in range(100):
        if await titles(backend):
            break
        await asyncio.sleep(0.02)
    assert await titles(backend) == {str(p.id): "Gemeinsames Rechenzentrum"}
    stop.set()
    await asyncio.wait_for(task, timeout=2)


async def test_reindex_from_published_profiles(db: object, tmp_path: Path) -> None:
    backend = TantivyBackend(tmp_path / "search")
    await backend.upsert([{"id": "stale", "slug": "stale", "title": "Veraltet"}])
    published = [await new_profile(f"Projekt {i}", f"projekt-{i}") for i in range(3)]
    await new_profile("Nicht öffentlich", "entwurf", published=False)
    progress: list[int] = []
    assert await SearchSync().reindex(backend, progress.append) == 3
    assert progress[-1] == 3
    assert await titles(backend) == {str(p.id): p.title for p in published}
