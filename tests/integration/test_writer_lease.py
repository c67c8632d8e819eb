"""The sync lease (catalogue/search/writer.py): one holder, taken over when it runs out; reindex requests.

Conditional writes with real concurrency on the store (FerretDB: the shared
write lock; MongoDB: conditional filters), and Tantivy readers following a
writer in another backend instance on the same directory.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from catalogue.access import ALL_DOCUMENTS_LABELS
from catalogue.models import utcnow
from catalogue.search.base import SearchQuery
from catalogue.search.sync import sync_collection
from catalogue.search.tantivy_backend import TantivyBackend
from catalogue.search.writer import LEASE_ID, REINDEX_ID, Lease, _request_reindex, lease_state
from catalogue.shared_generation import SharedGeneration


async def test_of_concurrent_takers_exactly_one_gets_the_lease(db) -> None:
    leases = [Lease("server", ttl=30) for _ in range(12)]
    results = await asyncio.gather(*(lease.acquire() for lease in leases))
    assert results.count(True) == 1
    holder = next(lease for lease, ok in zip(leases, results, strict=True) if ok)
    assert holder.held and (await lease_state())["holder"] == holder.holder
    # the holder renews; the others still cannot take it
    assert await holder.acquire()
    assert not any(await asyncio.gather(*(lease.acquire() for lease in leases if lease is not holder)))


async def test_an_expired_lease_goes_to_exactly_one_of_the_takers(db) -> None:
    dead = Lease("server", ttl=30)
    assert await dead.acquire()
    # the holder died: its lease ran out
    await sync_collection().update_one({"_id": LEASE_ID}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}})
    takers = [Lease("server", ttl=30) for _ in range(12)]
    results = await asyncio.gather(*(t.acquire() for t in takers))
    assert results.count(True) == 1
    # the old holder cannot renew what another took
    assert not await dead.acquire() and not dead.held


async def test_a_released_lease_is_free_at_once_and_release_never_frees_another_s(db) -> None:
    a, b = Lease("server", ttl=30), Lease("cli", ttl=30)
    assert await a.acquire()
    await b.release()  # not b's: nothing happens
    assert (await lease_state())["holder"] == a.holder
    await a.release()
    assert await lease_state() is None
    assert await b.acquire()


async def test_concurrent_reindex_requests_join_one_job(db) -> None:
    jobs = await asyncio.gather(*(_request_reindex(f"cli-{n}") for n in range(8)))
    assert len(set(jobs)) == 1
    doc = await sync_collection().find_one({"_id": REINDEX_ID})
    assert doc["state"] == "requested" and doc["job"] == jobs[0]
    # a finished job is replaced by the next request
    await sync_collection().update_one({"_id": REINDEX_ID}, {"$set": {"state": "done"}})
    assert await _request_reindex("cli-9") != jobs[0]


async def test_a_tantivy_reader_follows_commits_and_swaps_of_the_writer(tmp_path: Path) -> None:
    writer = TantivyBackend(tmp_path / "search")
    reader = TantivyBackend(tmp_path / "search")  # another process's view of the same directory
    await writer.acquire_writer()
    await writer.upsert([{"id": "a", "slug": "bauhof", "title": "Gemeinsamer Bauhof", "labels": ["public"]}])

    async def titles(backend: TantivyBackend) -> set[str]:
        for _ in range(50):  # readers look again every REFRESH_S
            await asyncio.sleep(0.06)
            result = await backend.search(SearchQuery(facets=()), labels=ALL_DOCUMENTS_LABELS)
            if result.total:
                break
        return {h.title for h in result.hits}

    assert await titles(reader) == {"Gemeinsamer Bauhof"}
    await writer.upsert([{"id": "b", "slug": "rufbus", "title": "Rufbus", "labels": ["public"]}])
    assert await titles(reader) == {"Gemeinsamer Bauhof", "Rufbus"}

    async def docs():
        yield {"id": "c", "slug": "kita", "title": "Kita-Verbund", "labels": ["public"]}

    assert await writer.rebuild(docs()) == 1  # a new directory, swapped in
    assert await titles(reader) == {"Kita-Verbund"}
    # the reader never writes: no writer lock taken, so another process could write
    assert reader._live.writer is None
    await writer.release_writer()
    await reader.acquire_writer()
    await reader.upsert([{"id": "d", "slug": "ortsbus", "title": "Ortsbus", "labels": ["public"]}])
    assert {h.title for h in (await reader.search(SearchQuery(facets=()), labels=ALL_DOCUMENTS_LABELS)).hits} == {"Kita-Verbund", "Ortsbus"}


async def test_follow_shows_another_process_commit_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Read-your-writes in a process without the sync worker (Runtime.settle): its reader may have looked at the
    index just before the other process's commit; `follow` loads that commit before the next read."""
    writer = TantivyBackend(tmp_path / "search")
    reader = TantivyBackend(tmp_path / "search")
    await writer.acquire_writer()
    await writer.upsert([{"id": "a", "slug": "bauhof", "title": "Gemeinsamer Bauhof", "labels": ["public"]}])
    reader.follow()
    assert (await reader.search(SearchQuery(facets=()), labels=ALL_DOCUMENTS_LABELS)).total == 1
    reader._next_check = float("inf")  # it has just looked: its next look would only come after REFRESH_S
    monkeypatch.setattr(SharedGeneration, "bump", lambda _self: None)  # a commit the shared counter does not tell of
    await writer.upsert([{"id": "b", "slug": "rufbus", "title": "Rufbus", "labels": ["public"]}])
    assert (await reader.search(SearchQuery(facets=()), labels=ALL_DOCUMENTS_LABELS)).total == 1
    reader.follow()
    assert (await reader.search(SearchQuery(facets=()), labels=ALL_DOCUMENTS_LABELS)).total == 2
    await writer.release_writer()


async def test_a_reader_sees_the_writers_commit_at_its_next_read(tmp_path: Path) -> None:
    """Read-your-writes across processes when the save is answered by the writer's process and the next read
    comes to another (review s26, F1): the writer counts its commits and swaps in mapped memory
    (`COMMITS_FILE`); a reader whose last look was a moment ago looks again at once when the count moved,
    not only after REFRESH_S."""
    writer = TantivyBackend(tmp_path / "search")
    reader = TantivyBackend(tmp_path / "search")
    await writer.acquire_writer()

    async def total() -> int:
        reader._next_check = float("inf")  # its periodic look never comes in this test
        return (await reader.search(SearchQuery(facets=()), labels=ALL_DOCUMENTS_LABELS)).total

    assert await total() == 0
    for n in range(1, 6):
        await writer.upsert([{"id": f"p{n}", "slug": f"p{n}", "title": f"Rufbus {n}", "labels": ["public"]}])
        assert await total() == n

    async def docs():
        yield {"id": "c", "slug": "kita", "title": "Kita-Verbund", "labels": ["public"]}

    assert await writer.rebuild(docs()) == 1  # a new directory, swapped in
    assert await total() == 1
    await writer.close()
    await reader.close()


async def test_a_read_while_another_thread_loads_the_commit_waits_for_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two searches of one reader process after the writer's commit: the first is loading the commit when the
    second begins; the second must wait for that load, not read the snapshot before it (the count of commits it
    compares must not say "seen" before the commit is loaded)."""
    import threading

    from catalogue.search import tantivy_backend

    writer = TantivyBackend(tmp_path / "search")
    reader = TantivyBackend(tmp_path / "search")
    await writer.acquire_writer()
    await writer.upsert([{"id": "a", "slug": "bauhof", "title": "Gemeinsamer Bauhof", "labels": ["public"]}])
    reader.follow()

    def total() -> int:
        return reader.search_sync(SearchQuery(facets=()), labels=ALL_DOCUMENTS_LABELS).total

    assert total() == 1
    loading, go_on = threading.Event(), threading.Event()
    meta_key = tantivy_backend._meta_key

    def slow_meta_key(path: Path) -> object:
        if threading.current_thread().name == "first":
            loading.set()
            assert go_on.wait(30)
        return meta_key(path)

    monkeypatch.setattr(tantivy_backend, "_meta_key", slow_meta_key)
    reader._next_check = float("inf")
    await writer.upsert([{"id": "b", "slug": "rufbus", "title": "Rufbus", "labels": ["public"]}])
    totals: dict[str, int] = {}

    def search(name: str) -> None:
        totals[name] = total()

    first = threading.Thread(target=search, args=("first",), name="first")
    first.start()
    assert loading.wait(30)  # the first search is in the middle of loading the commit
    second = threading.Thread(target=search, args=("second",), name="second")
    second.start()
    second.join(0.5)  # room to run: with the fault it answers now, from the snapshot before the commit
    go_on.set()
    first.join(30)
    second.join(30)
    assert totals == {"first": 2, "second": 2}
    await writer.close()
    await reader.close()
