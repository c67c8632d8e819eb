"""The search sync worker against real FerretDB and a real Tantivy index.

The backend is wrapped in a test double that fails while `down` is set; the
real index underneath shows what arrived, and in which order.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pymongo.monitoring import CommandListener

from catalogue import outbox
from catalogue.access import ALL_DOCUMENTS_LABELS, PUBLIC_LABEL
from catalogue.models import OutboxEntry, Profile
from catalogue.search.base import SearchError, SearchQuery
from catalogue.search.sync import SearchSync, backoff_seconds, sync_collection
from catalogue.search.tantivy_backend import TantivyBackend
from catalogue.vocabularies import EditorialStatus


@pytest.fixture(autouse=True)
def _applied_ring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test here with the ring of applied entries open, as in a server: the ring is process-wide, so which
    earlier test opened it must not change what a test sees (review s27: a write without an entry of its own)."""
    from catalogue.search import sync as sync_module
    from catalogue.shared_generation import SharedRecent

    ring = SharedRecent("index.recent")
    ring.open(tmp_path / "ring")
    monkeypatch.setattr(sync_module, "INDEX_RECENT", ring)
    yield
    ring.close()


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


async def _announced_then_written(title: str, slug: str) -> tuple[Profile, list[outbox.Written]]:
    """A published profile written as a request writes it: its outbox entry first (recorded), then the insert."""
    from beanie import PydanticObjectId

    profile = Profile(id=PydanticObjectId(), title=title, slug=slug, version=1, status=EditorialStatus.PUBLISHED,
                      published_at=datetime.now(UTC))
    with outbox.recording() as written:
        await outbox.enqueue(str(profile.id), profile.slug, version=1)
    await profile.insert()
    return profile, list(written)


async def titles(backend: TantivyBackend, labels: tuple[str, ...] = ALL_DOCUMENTS_LABELS) -> dict[str, str]:
    result = await backend.search(SearchQuery(per_page=100, facets=()), labels=labels)
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
    # every profile is indexed; the labels decide who finds it
    assert await titles(backend.inner) == {str(a.id): "Rufbus Version 1", str(b.id): "Bauhof gemeinsam", str(c.id): "Entwurf Kita"}
    assert await titles(backend.inner, (PUBLIC_LABEL,)) == {str(a.id): "Rufbus Version 1", str(b.id): "Bauhof gemeinsam"}

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
    failed = await OutboxEntry.find_all().sort("_id").to_list()
    assert failed[0].attempts == 1 and "nicht erreichbar" in (failed[0].last_error or "")
    assert failed[0].next_attempt_at.replace(tzinfo=UTC) > failed[0].created_at.replace(tzinfo=UTC)
    assert all(e.attempts == 0 for e in failed[1:])
    for _ in range(3):  # more failures while down: attempts grow, nothing is skipped
        await asyncio.sleep(0.06)
        assert await sync.run_once(backend) == 0
    head = await OutboxEntry.find_one(OutboxEntry.id == failed[0].id)
    assert head is not None and head.attempts == 4
    assert await sync.pending() == 4

    backend.down = False
    await asyncio.sleep(0.06)
    assert await sync.drain(backend) == 4
    assert await sync.pending() == 0
    assert await titles(backend.inner) == {str(b.id): "Bauhof gemeinsam", str(c.id): "Entwurf Kita", str(d.id): "Breitbandausbau"}
    assert await titles(backend.inner, (PUBLIC_LABEL,)) == {str(c.id): "Entwurf Kita", str(d.id): "Breitbandausbau"}
    archived = (await backend.inner.search(SearchQuery(q="Bauhof"), labels=ALL_DOCUMENTS_LABELS)).hits[0].document
    assert archived["status"] == "archived" and archived["labels"] == ["reviewers"]

    # the index saw the changes in outbox order; only the deleted profile left it
    seen = [(op, i) for op, i, _ in backend.applied[3:]]
    assert seen == [
        ("delete", str(a.id)),
        ("upsert", str(c.id)),
        ("upsert", str(b.id)),
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


async def test_reindex_indexes_every_profile_with_its_labels(db: object, tmp_path: Path) -> None:
    backend = TantivyBackend(tmp_path / "search")
    await backend.upsert([{"id": "stale", "slug": "stale", "title": "Veraltet", "labels": ["public"]}])
    published = [await new_profile(f"Projekt {i}", f"projekt-{i}") for i in range(3)]
    draft = await new_profile("Nicht öffentlich", "entwurf", published=False)
    progress: list[int] = []
    assert await SearchSync().reindex(backend, progress.append) == 4
    assert progress[-1] == 4
    assert await titles(backend, (PUBLIC_LABEL,)) == {str(p.id): p.title for p in published}
    assert await titles(backend) == {**{str(p.id): p.title for p in published}, str(draft.id): "Nicht öffentlich"}


class _Commands(CommandListener):
    """PyMongo command monitoring: the commands the driver sends (name, collection, filter)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any, Any]] = []

    def started(self, event: Any) -> None:
        command = event.command
        name = event.command_name
        self.seen.append((name, command.get(name), command.get("filter", command.get("q"))))

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass


@pytest.fixture
async def commands(mongo_uri: str) -> AsyncIterator[_Commands]:
    """A database of its own, with models initialised on a client whose commands are recorded."""
    from pymongo import AsyncMongoClient

    from catalogue.storage import init_models
    from tests.conftest import unique_db_name

    seen = _Commands()
    client: AsyncMongoClient = AsyncMongoClient(mongo_uri, tz_aware=True, event_listeners=[seen])
    name = unique_db_name()
    await init_models(client[name])
    try:
        yield seen
    finally:
        await client.drop_database(name)
        await client.close()


async def test_worker_reads_profiles_by_id_only(commands: _Commands, tmp_path: Path) -> None:
    """FerretDB answers only {_id: value} without scanning: the worker never sends another profile query."""
    from bson import ObjectId

    profiles = [await new_profile(f"Projekt {i}", f"projekt-{i}", published=i % 2 == 0) for i in range(12)]
    await outbox.enqueue(str(ObjectId()), "gibt-es-nicht")  # a profile that does not exist
    commands.seen.clear()
    backend = TantivyBackend(tmp_path / "search")
    assert await SearchSync(batch_size=100).drain(backend) == 13
    reads = [(cmd, flt) for cmd, coll, flt in commands.seen if coll == "profiles"]
    assert len(reads) == 13
    for cmd, flt in reads:
        assert cmd == "find" and set(flt) == {"_id"} and isinstance(flt["_id"], ObjectId), (cmd, flt)
    assert await titles(backend) == {str(p.id): p.title for p in profiles}


async def test_an_entry_waits_until_the_write_it_announces_has_landed(db: object, tmp_path: Path, monkeypatch) -> None:
    """Entries are written before their profile write; the worker must not apply one early and lose the write."""
    from beanie import PydanticObjectId

    from catalogue.search import sync as sync_module

    backend = TantivyBackend(tmp_path / "search")
    sync = SearchSync()
    # an update: the entry announces version 2 while version 1 is stored
    p = Profile(title="Rufbus alt", slug="rufbus", version=1)
    await p.insert()
    assert await sync.drain(backend) == 0 and await titles(backend) == {}
    await outbox.enqueue(str(p.id), p.slug, version=1)
    assert await sync.drain(backend) == 1
    await outbox.enqueue(str(p.id), p.slug, version=2)
    assert await sync.run_once(backend) == 0 and await sync.pending() == 1  # not landed: it waits
    await Profile.get_pymongo_collection().update_one({"_id": p.id}, {"$set": {"title": "Rufbus neu", "version": 2}})
    assert await sync.run_once(backend) == 1
    assert await titles(backend) == {str(p.id): "Rufbus neu"}
    # a create: the entry comes before the insert
    new_id = PydanticObjectId()
    await outbox.enqueue(str(new_id), "bauhof", version=1)
    assert await sync.run_once(backend) == 0 and await sync.pending() == 1
    await Profile(id=new_id, title="Bauhof", slug="bauhof", version=1).insert()
    assert await sync.run_once(backend) == 1
    assert set(await titles(backend)) == {str(p.id), str(new_id)}
    # a write that failed never lands: after the grace period the current state counts
    await outbox.enqueue(str(p.id), p.slug, version=3)
    assert await sync.run_once(backend) == 0
    async with asyncio.timeout(5.0):
        assert await sync.wait_applied([outbox.Written(None, str(p.id), p.slug, 3)])  # not waited for: it failed
    monkeypatch.setattr(sync_module, "LANDING_GRACE_S", 0.0)
    assert await sync.run_once(backend) == 1 and await sync.pending() == 0
    assert (await titles(backend))[str(p.id)] == "Rufbus neu"


class _HeldDeletes:
    """`_delete_entries` held until released: the worker's bookkeeping after the index commit and the mirror."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.release = asyncio.Event()
        self.entered = asyncio.Event()

    async def __call__(self, seqs: Sequence[int]) -> None:
        self.entered.set()
        await self.release.wait()
        await self.real(seqs)


class _RecordingMirror:
    def __init__(self) -> None:
        self.applied: list[str] = []

    async def apply(self, current: Sequence[Profile], deletes: Sequence[str]) -> None:
        await asyncio.sleep(0.05)  # takes a moment, as a real write does: a wait released before it would see nothing
        self.applied.extend(str(p.id) for p in current)


async def test_a_wait_ends_when_this_worker_has_indexed_the_write(commands: _Commands, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Read-your-writes: the worker of this process releases a wait as soon as its index commit and the exports'
    mirror hold the write (before it deletes the entry and moves its head), and a later wait for it needs no
    store read at all."""

    from catalogue.search import sync as sync_module

    held = _HeldDeletes(sync_module._delete_entries)
    monkeypatch.setattr(sync_module, "_delete_entries", held)
    backend = TantivyBackend(tmp_path / "search")
    sync = SearchSync()
    mirror = _RecordingMirror()
    sync.mirror = mirror  # type: ignore[assignment]
    profile, written = await _announced_then_written("Rufbus", "rufbus")
    worker = asyncio.create_task(sync.run_once(backend))
    async with asyncio.timeout(10.0):
        assert await sync.wait_applied(written)  # released while the bookkeeping still waits
    assert mirror.applied == [str(profile.id)]  # the exports show the write as soon as the wait ends
    assert await OutboxEntry.get_pymongo_collection().count_documents({}) == 1  # the entry is deleted only after the bookkeeping
    assert await titles(backend) == {str(profile.id): "Rufbus"}
    async with asyncio.timeout(10.0):
        await held.entered.wait()
    assert not worker.done()
    held.release.set()
    assert await worker == 1 and await sync.pending() == 0
    commands.seen.clear()
    assert await sync.wait_applied(written)
    assert commands.seen == []
    # another process's wait finds it among the entries applied lately (the shared ring): no store read either
    assert await SearchSync().wait_applied(written)
    assert commands.seen == []
    # once the ring has forgotten it (thousands applied since, or a worker took over), a wait looks in the store
    sync_module.INDEX_RECENT.clear()
    assert await SearchSync().wait_applied(written)
    assert {(cmd, coll) for cmd, coll, _ in commands.seen} >= {("find", "search_outbox")}


async def test_a_bulk_entry_is_not_read_before_its_writer_marks_it_landed(commands: _Commands, tmp_path: Path, monkeypatch) -> None:
    """An import chunk's entry comes before its profiles: until `mark_landed` the worker reads none of them, then all in one round."""
    from beanie import PydanticObjectId

    from catalogue.search import sync as sync_module

    backend = TantivyBackend(tmp_path / "search")
    sync = SearchSync()
    ids = [PydanticObjectId() for _ in range(3)]
    entry = await outbox.enqueue_many([(str(i), f"chunk-{n}", 1) for n, i in enumerate(ids)])
    assert entry is not None and entry.landed is False
    for n, pid in enumerate(ids[:2]):  # the third one's write fails (it never lands)
        await Profile(id=pid, title=f"Chunk {n}", slug=f"chunk-{n}", version=1).insert()
    commands.seen.clear()
    assert await sync.run_once(backend) == 0 and await sync.pending() == 1
    assert [c for c in commands.seen if c[1] == "profiles"] == []  # not read while unmarked
    await outbox.mark_landed(entry)
    assert await sync.run_once(backend) == 1 and await sync.pending() == 0  # no waiting for the one that failed
    assert await titles(backend) == {str(ids[0]): "Chunk 0", str(ids[1]): "Chunk 1"}
    # an entry its writer never marked (the writer died) counts after the landing grace, as any other
    lost = await outbox.enqueue_many([(str(PydanticObjectId()), "verloren", 1)])
    assert lost is not None and await sync.run_once(backend) == 0
    monkeypatch.setattr(sync_module, "LANDING_GRACE_S", 0.0)
    assert await sync.run_once(backend) == 1 and await sync.pending() == 0


async def test_a_bulk_entry_that_inserted_a_profile_goes_without_its_adoption_summary_and_keeps_its_order(commands: _Commands, tmp_path: Path) -> None:
    """Profiles an import chunk inserted have no adoption summary to read; one an earlier run had written (`existing`),
    or one a later entry also names, is read as ever. A later entry of a profile never overtakes the waiting chunk."""
    from beanie import PydanticObjectId

    backend = TantivyBackend(tmp_path / "search")
    sync = SearchSync()
    ids = [PydanticObjectId() for _ in range(3)]
    entry = await outbox.enqueue_many([(str(i), f"chunk-{n}", 1) for n, i in enumerate(ids)])
    assert entry is not None
    for n, pid in enumerate(ids):
        await Profile(id=pid, title=f"Chunk {n}", slug=f"chunk-{n}", version=1).insert()
    later = await outbox.enqueue(str(ids[0]), "chunk-0", version=1)  # e.g. an adoption of the new profile
    assert await sync.run_once(backend) == 0 and await sync.pending() == 2  # it waits behind the unmarked chunk
    assert await titles(backend) == {}
    await outbox.mark_landed(entry, [str(ids[2])])  # the third one was there from an earlier, interrupted run
    commands.seen.clear()
    assert await sync.run_once(backend) == 2 and await sync.pending() == 0
    summaries = {c[2]["_id"] for c in commands.seen if c[0] == "find" and c[1] == "adoption_summaries"}
    assert summaries == {str(ids[0]), str(ids[2])}  # not the one only the chunk that inserted it names
    assert await titles(backend) == {str(i): f"Chunk {n}" for n, i in enumerate(ids)}
    assert later.seq > entry.seq


async def test_a_mark_packs_the_documents_it_carries_off_the_event_loop(db: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """Packing a chunk's profiles (BSON and zlib, ~35 ms for 500) must not stall the server's other requests."""
    import threading

    from beanie import PydanticObjectId

    pid = PydanticObjectId()
    entry = await outbox.enqueue_many([(str(pid), "gepackt", 1)])
    assert entry is not None
    await Profile(id=pid, title="Gepackt", slug="gepackt", version=1).insert()
    doc = await Profile.get_pymongo_collection().find_one({"_id": pid})
    packed_on: list[threading.Thread] = []
    real_carry = outbox.carry

    def carry(*args: Any) -> bytes | None:
        packed_on.append(threading.current_thread())
        return real_carry(*args)

    monkeypatch.setattr(outbox, "carry", carry)
    await outbox.mark_landed(entry, [], [doc], Profile.get_pymongo_collection().codec_options)
    assert packed_on and packed_on[0] is not threading.current_thread()
    assert await outbox.carried_collection().count_documents({"_id": entry.id}) == 1


async def test_a_mark_too_late_for_its_entry_announces_the_profiles_again_and_leaves_nothing_behind(
    db: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A writer slower than the landing grace: the worker applied the entry before any profile was written. Its late
    mark must not leave the carried documents behind for good, nor the profiles out of the index."""
    from beanie import PydanticObjectId

    from catalogue.search import sync as sync_module

    backend = TantivyBackend(tmp_path / "search")
    sync = SearchSync()
    ids = [PydanticObjectId() for _ in range(2)]
    entry = await outbox.enqueue_many([(str(pid), f"spaet-{n}", 1) for n, pid in enumerate(ids)])
    assert entry is not None
    monkeypatch.setattr(sync_module, "LANDING_GRACE_S", 0.0)  # the writer is slower than the grace
    assert await sync.run_once(backend) == 1 and await sync.pending() == 0  # taken for a dead writer's, nothing to index
    monkeypatch.setattr(sync_module, "LANDING_GRACE_S", 30.0)
    docs = []
    for n, pid in enumerate(ids):
        await Profile(id=pid, title=f"Spät {n}", slug=f"spaet-{n}", version=1).insert()
        docs.append(await Profile.get_pymongo_collection().find_one({"_id": pid}))
    await Profile.get_pymongo_collection().update_one({"_id": ids[1]}, {"$set": {"title": "Spät 1, bearbeitet", "version": 2}})
    await outbox.mark_landed(entry, [], docs, Profile.get_pymongo_collection().codec_options)
    assert await outbox.carried_collection().count_documents({}) == 0  # nothing left that no one would read
    assert await sync.pending() == 1  # the profiles, announced again
    assert await sync.run_once(backend) == 1 and await sync.pending() == 0
    # read from the store, not from the documents carried for the entry: the edit in between counts
    assert await titles(backend) == {str(ids[0]): "Spät 0", str(ids[1]): "Spät 1, bearbeitet"}


async def test_profiles_a_bulk_write_inserted_are_indexed_from_its_mark_without_being_read_back(commands: _Commands, tmp_path: Path) -> None:
    """`create_many` carries the inserted profiles' stored documents with the mark: the worker indexes exactly what a
    read would give, without reading them; one an earlier run had written, or one a later entry names too, is read."""
    from beanie import PydanticObjectId

    from catalogue.models import ProfileContent
    from catalogue.profiles import NewProfile, ProfileService
    from catalogue.users import Principal
    from catalogue.vocabularies import Role

    reviewer = Principal("rita", Role.REVIEWER)
    backend = TantivyBackend(tmp_path / "search")
    sync = SearchSync()
    earlier = PydanticObjectId()  # written by an interrupted earlier run with the id this run chooses again
    await Profile(id=earlier, title="Chunk 2", slug="chunk-2", version=1).insert()
    await OutboxEntry.get_pymongo_collection().delete_many({})
    news = [
        NewProfile(content=ProfileContent(title=f"Chunk {n}", summary=f"Zusammenfassung {n}"), slug=f"chunk-{n}",
                   status=EditorialStatus.PUBLISHED, id=earlier if n == 2 else None)
        for n in range(4)
    ]
    result = await ProfileService().create_many(news, reviewer)
    created = [p for p in result.items if isinstance(p, Profile)]
    assert len(created) == 4
    entry = (await OutboxEntry.find_all().to_list())[0]
    assert entry.landed is True and entry.existing == [str(earlier)]
    # the carried documents are a document of their own beside the entry (a FerretDB update rewrites what it changes)
    raw = await outbox.carried_collection().find_one({"_id": entry.id})
    assert entry.carried is None and raw is not None
    entry.carried = bytes(raw["documents"])
    await outbox.enqueue(str(created[3].id), "chunk-3", version=1)  # a later entry of one of them, in the same batch
    commands.seen.clear()
    assert await sync.run_once(backend) == 2 and await sync.pending() == 0
    read = {str(c[2]["_id"]) for c in commands.seen if c[0] == "find" and c[1] == "profiles"}
    assert read == {str(earlier), str(created[3].id)}
    assert [c[2]["_id"] for c in commands.seen if c[0] == "find" and c[1] == outbox.CARRIED_COLLECTION] == [entry.id]
    assert await outbox.carried_collection().count_documents({}) == 0  # deleted with the entry
    assert await titles(backend) == {str(p.id): p.title for p in created[:2]} | {str(earlier): "Chunk 2", str(created[3].id): "Chunk 3"}
    # what the worker took from the mark is what a read of the store gives
    carried = outbox.carried_documents(entry, Profile.get_pymongo_collection().codec_options)
    assert set(carried) == {str(p.id) for p in created if p.id != earlier}
    for pid, doc in carried.items():
        stored = await Profile.get(PydanticObjectId(pid))
        assert stored is not None and Profile.model_validate(doc).model_dump() == stored.model_dump()
    # a set too large to carry goes without (the worker then reads those profiles)
    assert outbox.carry([{"_id": 1, "x": os.urandom(outbox.CARRY_MAX_BYTES + 1)}]) is None


async def test_a_profile_written_in_this_process_is_indexed_from_its_writer_without_being_read_back(
    commands: _Commands, tmp_path: Path
) -> None:
    """A create or a compare-and-set that landed hands its profile to this process's worker: indexed without a
    profile read, and exactly as a read of the store would give. A profile some entry of the batch wants newer
    (another process wrote it) or names without a version is read from the store."""
    from catalogue.profiles import ProfileService, etag
    from catalogue.search.regions import index_document
    from catalogue.users import Principal
    from catalogue.vocabularies import Role

    editor = Principal("erika", Role.EDITOR)
    service = ProfileService()
    backend = TantivyBackend(tmp_path / "search")
    sync = SearchSync()
    created = await service.create({"title": "Rufbus", "summary": "Ein Bus auf Abruf."}, editor)
    commands.seen.clear()
    assert await sync.drain(backend) == 1
    assert [c for c in commands.seen if c[1] == "profiles"] == []
    changed = await service.update(created.slug, editor, {"title": "Rufbus Nord"}, if_match=etag(created), partial=True)
    commands.seen.clear()
    assert await sync.drain(backend) == 1
    assert [c for c in commands.seen if c[1] == "profiles"] == []
    assert await titles(backend) == {str(created.id): "Rufbus Nord"}
    stored = await Profile.get(created.id)
    assert stored is not None and await index_document(changed, None) == await index_document(stored, None)
    # another process's newer write (its entry announces version 3) in the same batch: the store's state is read
    again = await service.update(created.slug, editor, {"title": "Rufbus Süd"}, if_match=etag(changed), partial=True)
    await outbox.enqueue(str(created.id), created.slug, version=again.version + 1)
    await Profile.get_pymongo_collection().update_one({"_id": created.id}, {"$set": {"title": "Rufbus West", "version": again.version + 1}})
    commands.seen.clear()
    assert await sync.drain(backend) == 2
    assert [c[0] for c in commands.seen if c[1] == "profiles"] == ["find"]
    assert await titles(backend) == {str(created.id): "Rufbus West"}
    # an entry without a version (whatever is stored) beside a handed-over write: read from the store
    stored = await Profile.get(created.id)
    assert stored is not None
    last = await service.update(created.slug, editor, {"title": "Rufbus Ost"}, if_match=etag(stored), partial=True)
    await outbox.enqueue(str(created.id), created.slug)
    commands.seen.clear()
    assert await sync.drain(backend) == 2
    assert [c[0] for c in commands.seen if c[1] == "profiles"] == ["find"]
    assert await titles(backend) == {str(created.id): last.title}


async def test_a_round_that_applied_everything_reads_the_counter_once(commands: _Commands, tmp_path: Path) -> None:
    """After a batch the worker goes on at once only if more was waiting when the round began (it read the counter
    then); what came since wakes it (`notify`) or comes with the next poll: no second read of the counter per write."""
    backend = TantivyBackend(tmp_path / "search")
    sync = SearchSync(poll_interval=30.0)
    stop = asyncio.Event()
    task = asyncio.create_task(sync.run_forever(backend, stop))
    await asyncio.sleep(0.05)
    commands.seen.clear()
    p = await new_profile("Gemeinsames Rechenzentrum", "rechenzentrum")
    sync.notify()
    for _ in range(500):
        if not await sync.pending():
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)  # the round's bookkeeping, and whatever it would read after
    counter_reads = [c for c in commands.seen if c[0] == "find" and c[1] == "counters"]
    assert len(counter_reads) == 1
    q = await new_profile("Bauhof", "bauhof")  # a later write wakes it again
    sync.notify()
    for _ in range(500):
        if str(q.id) in await titles(backend):
            break
        await asyncio.sleep(0.02)
    assert await titles(backend) == {str(p.id): "Gemeinsames Rechenzentrum", str(q.id): "Bauhof"}
    stop.set()
    await asyncio.wait_for(task, timeout=2)


async def test_writes_in_flight_share_one_index_commit_and_a_lone_write_goes_at_once(db: object, tmp_path: Path) -> None:
    """Group commit: woken while another write of this process is in flight (recorded, not yet settled), the worker
    waits for it (at most `group_wait`), and both go into the index with one commit. A lone write is not held."""
    backend = FlakyBackend(TantivyBackend(tmp_path / "search"))
    sync = SearchSync(poll_interval=30.0, group_wait=30.0)
    stop = asyncio.Event()
    task = asyncio.create_task(sync.run_forever(backend, stop))  # type: ignore[arg-type]
    await asyncio.sleep(0.1)  # its first round found nothing: it waits to be woken
    with outbox.recording() as first_written:
        first = await new_profile("Rufbus", "rufbus")
        with outbox.recording():
            second = await new_profile("Bauhof", "bauhof")  # in flight while the first settles
            outbox.settled([w.entry_id for w in first_written])
            sync.notify()
            await asyncio.sleep(0.3)
            assert backend.calls == 0  # waits for the write in flight
        sync.notify()  # the second settles (its recording ends)
        for _ in range(500):
            if not await sync.pending():
                break
            await asyncio.sleep(0.02)
    assert backend.calls == 1
    assert await titles(backend.inner) == {str(first.id): "Rufbus", str(second.id): "Bauhof"}
    with outbox.recording():  # alone: applied at once, not after `group_wait`
        lone = await new_profile("Rechenzentrum", "rechenzentrum")
    sync.notify()
    for _ in range(500):
        if str(lone.id) in await titles(backend.inner):
            break
        await asyncio.sleep(0.02)
    assert backend.calls == 2 and str(lone.id) in await titles(backend.inner)
    stop.set()
    await asyncio.wait_for(task, timeout=2)


async def test_a_wait_for_this_process_worker_reads_no_outbox_entry(commands: _Commands, tmp_path: Path) -> None:
    """While this process's worker runs, a request's wait for its landed write needs no store read: the worker's
    signal and its list of applied entries tell. Without a running worker the wait looks in the store."""
    from beanie import PydanticObjectId

    backend = TantivyBackend(tmp_path / "search")
    sync = SearchSync(poll_interval=30.0)
    stop = asyncio.Event()
    task = asyncio.create_task(sync.run_forever(backend, stop))
    await asyncio.sleep(0.05)
    profile = Profile(id=PydanticObjectId(), title="Rufbus", slug="rufbus", version=1, status=EditorialStatus.PUBLISHED,
                      published_at=datetime.now(UTC))
    with outbox.recording() as written:
        entry = await outbox.enqueue(str(profile.id), profile.slug, version=1)
        await profile.insert()
        outbox.confirm_landed(entry.id)
    commands.seen.clear()
    async with asyncio.timeout(10.0):
        assert await sync.wait_applied(written)  # it wakes the worker itself
    entry_reads = [c for c in commands.seen if c[0] == "find" and c[1] == "search_outbox" and c[2] == {"_id": entry.id}]
    assert entry_reads == []  # nor the worker's: the entry came from its writer in this process (outbox.insert)
    assert await titles(backend) == {str(profile.id): "Rufbus"}
    stop.set()
    await asyncio.wait_for(task, timeout=2)
    assert not sync.running


async def test_the_worker_reads_adoption_summaries_every_round_and_takes_handed_entries_without_reading_them(
    commands: _Commands, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A profile's adoption summary is read in every round that indexes the profile (not kept: a summary written
    after its adoption entry was applied, here by a writer slower than LANDING_GRACE_S, reaches the index with the
    profile's next write). Its entries, inserted in this process, are not read back (outbox.take_handed_entries),
    unless a worker took over (`reset`: another worker may have backed them off)."""
    from beanie import PydanticObjectId

    from catalogue import adoption
    from catalogue.search import sync as sync_module

    backend = TantivyBackend(tmp_path / "search")
    indexed: list[Mapping[str, Any]] = []
    upsert = backend.upsert

    async def seen_upsert(docs: Sequence[Mapping[str, Any]]) -> None:
        indexed.extend(docs)
        await upsert(docs)

    monkeypatch.setattr(backend, "upsert", seen_upsert)
    sync = SearchSync()
    pid = PydanticObjectId()
    await Profile(id=pid, title="Rufbus", slug="rufbus", version=1, status=EditorialStatus.PUBLISHED, published_at=datetime.now(UTC)).insert()

    def reads(collection: str) -> list[Any]:
        return [c[2]["_id"] for c in commands.seen if c[0] == "find" and c[1] == collection]

    async def round_of(entry: Any) -> Mapping[str, Any]:
        commands.seen.clear()
        indexed.clear()
        assert await sync.run_once(backend) == 1
        assert entry.id not in reads("search_outbox")
        assert reads("adoption_summaries") == [str(pid)]
        return indexed[-1]

    assert (await round_of(await outbox.enqueue(str(pid), "rufbus", version=1)))["adoption_count"] == 0
    monkeypatch.setattr(sync_module, "LANDING_GRACE_S", 0.0)  # its record does not come in time: applied without it
    assert (await round_of(await outbox.enqueue(str(pid), "rufbus", adoption=(f"{pid}:stadt", 1))))["adoption_count"] == 0
    now = datetime.now(UTC)
    record = {"organisation": {"key": "stadt", "name": "Stadt"}, "stage": "umgesetzt", "created_at": now, "updated_at": now, "revision": 1}
    await adoption._publish_to_summary(str(pid), record)  # the slow writer's summary, after its entry was applied
    assert (await round_of(await outbox.enqueue(str(pid), "rufbus", version=1)))["adoption_count"] == 1
    handed = await outbox.enqueue(str(pid), "rufbus", version=1)
    sync.reset()
    commands.seen.clear()
    assert await sync.run_once(backend) == 1
    assert reads("search_outbox") == [handed.id]


async def test_pending_does_not_count_applied_entries_left_below_the_head(commands: _Commands, tmp_path: Path) -> None:
    """A round deletes its applied entries beside the head's move: a crash between the two may leave applied entries
    below the head. They wait for nothing: `pending()` and the readiness check's oldest pending age leave them out,
    also for a worker started afresh, and they are not applied again."""
    from catalogue.search.sync import outbox_status

    backend = TantivyBackend(tmp_path / "search")
    sync = SearchSync()
    entry = await outbox.enqueue("65a000000000000000000001", "rufbus", version=None)
    document = await OutboxEntry.get_pymongo_collection().find_one({"_id": entry.id})
    assert await sync.run_once(backend) == 1 and await sync.pending() == 0
    await OutboxEntry.get_pymongo_collection().insert_one(document)  # its deletion did not happen (a crash)
    assert await sync.pending() == 0
    assert (await outbox_status())["oldest_pending_s"] is None
    fresh = SearchSync()
    assert await fresh.pending() == 0
    assert await fresh.run_once(backend) == 0
    later = await outbox.enqueue("65a000000000000000000002", "fahrrad", version=None)
    assert await fresh.pending() == 1
    assert await fresh.run_once(backend) == 1 and await fresh.pending() == 0
    assert later.id > entry.id


async def test_a_number_taken_by_a_request_is_in_flight_and_not_looked_for_until_its_entry_is_inserted(
    commands: _Commands, tmp_path: Path
) -> None:
    """Between `outbox.numbered` and `outbox.insert` (a PATCH sends other commands in between) the number counts as
    a write in flight (group commit waits for it) and the worker does not read it from the store; a request that
    fails before the insert releases it when its recording ends."""
    backend = TantivyBackend(tmp_path / "search")
    sync = SearchSync()
    with outbox.recording():
        entry = await outbox.numbered("65a000000000000000000001", "rufbus", version=1)
        waiting = asyncio.ensure_future(outbox.none_in_flight())
        await asyncio.sleep(0.05)
        assert not waiting.done()
        commands.seen.clear()
        assert await sync.run_once(backend) == 0
        assert [c for c in commands.seen if c[0] == "find" and c[1] == "search_outbox"] == []
        await outbox.insert(entry)
    async with asyncio.timeout(5):
        await waiting  # the recording ended: nothing in flight
    with outbox.recording():
        lost = await outbox.numbered("65a000000000000000000002", "fahrrad", version=1)
    async with asyncio.timeout(5):
        await outbox.none_in_flight()  # its writer failed before the insert: released with the recording
    commands.seen.clear()
    await sync.run_once(backend)
    reads = [c[2]["_id"] for c in commands.seen if c[0] == "find" and c[1] == "search_outbox"]
    assert lost.id in reads  # looked for in the store again (the usual gap rules apply)


async def test_a_copy_handed_over_but_not_taken_never_brings_back_an_older_state(db: object, tmp_path: Path) -> None:
    """A handed-over copy stands only for its own entry's round. Left behind (a versionless entry of the same profile
    in that round made the worker read the store), it must not be indexed later for the late entry of a write that
    lost its compare-and-set, after another process has stored a newer version (review of the hand-off)."""
    from catalogue.profiles import ProfileService, etag
    from catalogue.users import Principal
    from catalogue.vocabularies import Role

    editor = Principal("erika", Role.EDITOR)
    service = ProfileService()
    backend = TantivyBackend(tmp_path / "search")
    sync = SearchSync()
    created = await service.create({"title": "Rufbus", "summary": "Ein Bus auf Abruf."}, editor)
    await sync.drain(backend)
    second = await service.update(created.slug, editor, {"title": "Rufbus Zwei"}, if_match=etag(created), partial=True)
    await outbox.enqueue(str(created.id), created.slug)  # versionless, same round: the copy of version 2 is not taken
    await sync.drain(backend)
    await outbox.enqueue(str(created.id), created.slug, version=second.version + 1)  # another process writes version 3
    await Profile.get_pymongo_collection().update_one({"_id": created.id}, {"$set": {"title": "Rufbus Drei", "version": second.version + 1}})
    await sync.drain(backend)
    assert await titles(backend) == {str(created.id): "Rufbus Drei"}
    await outbox.enqueue(str(created.id), created.slug, version=second.version)  # a late entry of a write that lost
    await sync.drain(backend)
    assert await titles(backend) == {str(created.id): "Rufbus Drei"}


async def test_a_copy_handed_over_after_its_entry_was_applied_is_not_used_for_a_later_entry(db: object, tmp_path: Path) -> None:
    """The worker may apply an entry (from the store) before its writer hands the profile over; that copy has no
    round of its own left and must not stand in for a later entry."""
    from catalogue.profiles import ProfileService
    from catalogue.users import Principal
    from catalogue.vocabularies import Role

    service = ProfileService()
    backend = TantivyBackend(tmp_path / "search")
    sync = SearchSync()
    created = await service.create({"title": "Rufbus", "summary": "Ein Bus auf Abruf."}, Principal("erika", Role.EDITOR))
    await sync.drain(backend)
    stale = created.model_copy(update={"title": "Rufbus Alt"})
    outbox.hand_over(stale, "ein-eintrag-der-schon-angewandt-ist")
    await outbox.enqueue(str(created.id), created.slug, version=created.version)  # e.g. a late entry of a lost write
    await sync.drain(backend)
    assert await titles(backend) == {str(created.id): "Rufbus"}


async def test_a_write_in_flight_too_long_no_longer_holds_the_worker_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry recorded long ago and never settled (its recording's `finally` never ran, e.g. a task dropped) must not
    make every later round wait for `group_wait`."""
    monkeypatch.setattr(outbox, "_in_flight", {"verwaist": 0.0})  # recorded at monotonic time 0: long ago
    await asyncio.wait_for(outbox.none_in_flight(), timeout=1.0)
    assert outbox._in_flight == {}


async def test_a_wait_in_a_process_without_the_worker_wakes_on_the_shared_applied_counter(
    db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`leuchtturm serve --workers N`: a write answered by a process without the sync worker learns from the
    counter the local processes share (catalogue/shared_generation.py) that the worker applied a batch, instead of
    looking in the store only every WAIT_POLL_S (here: never)."""

    from catalogue.search import sync as sync_module
    from catalogue.shared_generation import SharedGeneration

    shared = SharedGeneration("index.applied")
    shared.open(tmp_path)
    monkeypatch.setattr(sync_module, "INDEX_APPLIED", shared)
    monkeypatch.setattr(sync_module, "WAIT_POLL_S", 3600.0)
    backend = TantivyBackend(tmp_path / "search")
    worker, waiter = SearchSync(), SearchSync()  # the worker's process and another serving process
    _, written = await _announced_then_written("Rufbus", "rufbus")
    try:
        waiting = asyncio.create_task(waiter.wait_applied(list(written)))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        before = shared.value()
        assert await worker.run_once(backend) == 1
        assert shared.value() == before + 2  # once the commit shows it, again once its entry is deleted
        async with asyncio.timeout(30.0):
            assert await waiting
    finally:
        shared.close()


async def test_a_wait_in_another_process_counts_an_entry_below_the_head_as_applied(db, monkeypatch: pytest.MonkeyPatch) -> None:
    """An applied entry whose deletion went wrong (a crash or a store error between the deletion and the head's
    move, sent together) stays below the head; a wait in a process without the worker must not wait for it until
    its time runs out (review s26, F7)."""
    from beanie import PydanticObjectId

    from catalogue.search import sync as sync_module

    monkeypatch.setattr(sync_module, "WAIT_POLL_S", 0.05)
    profile = Profile(id=PydanticObjectId(), title="Rufbus", slug="rufbus", version=1, status=EditorialStatus.PUBLISHED,
                      published_at=datetime.now(UTC))
    with outbox.recording() as written:
        entry = await outbox.enqueue(str(profile.id), profile.slug, version=1)
    await profile.insert()
    await sync_collection().update_one({"_id": sync_module.HEAD_ID}, {"$set": {"head": entry.id + 1}}, upsert=True)
    assert await OutboxEntry.get(entry.id) is not None  # left behind, below the head
    async with asyncio.timeout(30.0):  # without the head's word it would wait for ever (callers bound it)
        assert await SearchSync().wait_applied(list(written))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the wake channel is a Linux abstract socket")
async def test_a_write_in_a_process_without_the_worker_wakes_the_worker_at_once(
    db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`leuchtturm serve --workers N` and the CLI: an outbox entry written by a process without the sync worker
    wakes the worker of another local process through OUTBOX_WRITTEN (catalogue/shared_generation.py), instead of
    waiting for its next poll (here: never; before, up to 0.5 s for every write of every other process)."""
    from catalogue.search import sync as sync_module
    from catalogue.shared_generation import WakeChannel

    channel = WakeChannel("outbox")
    channel.open(tmp_path)
    monkeypatch.setattr(sync_module, "OUTBOX_WRITTEN", channel)
    backend = TantivyBackend(tmp_path / "search")
    worker, other = SearchSync(poll_interval=3600.0, group_wait=0.0), SearchSync()  # the worker's process, another one
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_forever(backend, stop))
    try:
        for _ in range(200):  # the worker's first round (nothing due) is done, it waits for a wake-up
            await asyncio.sleep(0.01)
            if worker.head is not None:
                break
        await asyncio.sleep(0.05)
        p = await new_profile("Rufbus im Landkreis", "rufbus-landkreis")
        other.notify()  # what Runtime.notify_change does in the process that wrote it
        for _ in range(1500):  # up to 30 s, far below the poll
            if await titles(backend):
                break
            await asyncio.sleep(0.02)
        assert await titles(backend) == {str(p.id): "Rufbus im Landkreis"}
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=5)
        channel.close()
    after = WakeChannel("outbox")
    after.open(tmp_path)
    listener = after.listen()  # the stopped worker no longer listens: the next one can
    assert listener is not None
    listener.close()
    after.close()


async def test_a_wait_in_another_process_learns_from_the_shared_ring_without_a_store_read(
    commands: _Commands, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`leuchtturm serve --workers N`: the worker records the entries it applied in INDEX_RECENT (mapped memory)
    as soon as its commit shows them, so a write answered by another process ends its wait without looking its
    entry up in the store, and before the worker's bookkeeping (deletion, head) is done."""
    from beanie import PydanticObjectId

    from catalogue.search import sync as sync_module
    from catalogue.shared_generation import SharedGeneration, SharedRecent

    shared, recent = SharedGeneration("index.applied"), SharedRecent("index.recent")
    shared.open(tmp_path)
    recent.open(tmp_path)
    monkeypatch.setattr(sync_module, "INDEX_APPLIED", shared)
    monkeypatch.setattr(sync_module, "INDEX_RECENT", recent)
    monkeypatch.setattr(sync_module, "WAIT_POLL_S", 3600.0)
    deleted = asyncio.Event()
    proceed = asyncio.Event()
    delete_applied = sync_module.SearchSync._delete_applied

    async def held_deletion(ready: Any) -> None:  # the worker's bookkeeping waits until the test lets it go on
        deleted.set()
        await proceed.wait()
        await delete_applied(ready)

    monkeypatch.setattr(sync_module.SearchSync, "_delete_applied", staticmethod(held_deletion))
    backend = TantivyBackend(tmp_path / "search")
    worker, waiter = SearchSync(), SearchSync()  # the worker's process and another serving process
    profile = Profile(id=PydanticObjectId(), title="Rufbus", slug="rufbus", version=1, status=EditorialStatus.PUBLISHED,
                      published_at=datetime.now(UTC))
    with outbox.recording() as written:
        entry = await outbox.enqueue(str(profile.id), profile.slug, version=1)
    await profile.insert()
    try:
        waiting = asyncio.create_task(waiter.wait_applied(list(written)))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        commands.seen.clear()
        round_ = asyncio.create_task(worker.run_once(backend))
        await asyncio.wait_for(deleted.wait(), timeout=10)  # committed and recorded; its entry is still stored
        async with asyncio.timeout(10.0):
            assert await waiting
        assert [c for c in commands.seen if c[1] == "search_outbox" and c[0] == "find"] == []
        assert await OutboxEntry.get_pymongo_collection().find_one({"_id": entry.id}) is not None
        proceed.set()
        assert await round_ == 1
        assert recent.contains(entry.id, sync_module._database_tag())
        assert not recent.contains(entry.id, sync_module._database_tag() ^ 1)  # another database's number 7 is not this one
        recent.clear()
        assert not recent.contains(entry.id, sync_module._database_tag())
    finally:
        proceed.set()
        shared.close()
        recent.close()


async def test_the_index_and_the_exports_mirror_take_a_batch_side_by_side_and_a_failure_of_either_backs_it_off(
    db: object, tmp_path: Path
) -> None:
    """The index commit and the mirror's write are independent: neither waits for the other (each meets the
    other's start here, which one after the other never would). If either fails, the batch backs off and comes
    again whole (applying it twice changes nothing), and nothing is deleted from the outbox."""
    backend = FlakyBackend(TantivyBackend(tmp_path / "search"))
    index_started, mirror_started = asyncio.Event(), asyncio.Event()
    upsert = backend.upsert

    async def meeting_upsert(docs: Sequence[Mapping[str, Any]]) -> None:
        index_started.set()
        await asyncio.wait_for(mirror_started.wait(), timeout=10)
        await upsert(docs)

    backend.upsert = meeting_upsert  # type: ignore[method-assign]

    class MeetingMirror(_RecordingMirror):
        fail = False

        async def apply(self, current: Sequence[Profile], deletes: Sequence[str]) -> None:
            mirror_started.set()
            await asyncio.wait_for(index_started.wait(), timeout=10)
            if self.fail:
                raise OSError("Export-Spiegel nicht beschreibbar (Test)")
            await super().apply(current, deletes)

    sync = SearchSync(base_backoff=0.0)
    mirror = MeetingMirror()
    sync.mirror = mirror  # type: ignore[assignment]
    p = await new_profile("Gemeinsamer Bauhof", "bauhof")
    assert await sync.run_once(backend) == 1  # type: ignore[arg-type]
    assert mirror.applied == [str(p.id)] and await titles(backend.inner) == {str(p.id): "Gemeinsamer Bauhof"}

    await change(p, title="Bauhof neu")
    for failing in ("mirror", "index"):
        index_started.clear()
        mirror_started.clear()
        mirror.fail, backend.down = failing == "mirror", failing == "index"
        if failing == "index":
            mirror_started.set()  # a failing index does not reach the meeting point
            index_started.set()
        assert await sync.run_once(backend) == 0  # type: ignore[arg-type]
        assert sync.failing
        assert await OutboxEntry.get_pymongo_collection().count_documents({}) == 1, failing  # nothing lost
    mirror.fail, backend.down = False, False
    index_started.clear()
    mirror_started.clear()
    assert await sync.run_once(backend) == 1  # type: ignore[arg-type]
    assert await titles(backend.inner) == {str(p.id): "Bauhof neu"}
    assert mirror.applied[-1] == str(p.id)


async def test_a_round_reads_the_profiles_and_their_adoption_summaries_side_by_side(
    db: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entries written by another process name profiles the worker must read: their adoption summaries are read
    beside them (each meets the other's start here), and the document carries the summary. With an adoption
    entry in the batch its record is repaired into the summary first, so the summary is read after that."""
    from catalogue.search import sync as sync_module

    profiles_started, summaries_started = asyncio.Event(), asyncio.Event()
    read_profiles, read_summaries = sync_module.read_profiles, sync_module.read_adoption_summaries

    async def meeting_profiles(ids: Sequence[str]) -> dict[str, Profile]:
        profiles_started.set()
        await asyncio.wait_for(summaries_started.wait(), timeout=10)
        return await read_profiles(ids)

    async def meeting_summaries(ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        summaries_started.set()
        await asyncio.wait_for(profiles_started.wait(), timeout=10)
        return await read_summaries(ids)

    monkeypatch.setattr(sync_module, "read_profiles", meeting_profiles)
    monkeypatch.setattr(sync_module, "read_adoption_summaries", meeting_summaries)
    backend = TantivyBackend(tmp_path / "search")
    p = await new_profile("Gemeinsamer Bauhof", "bauhof")
    from catalogue.adoption import AdoptionSummary

    entry = {"stage": "umgesetzt", "organisation": {"name": "Gemeinde A"}}
    await AdoptionSummary.get_pymongo_collection().insert_one({"_id": str(p.id), "entries": {"a": entry}, "revision": 1})
    assert await SearchSync().run_once(backend) == 1
    assert profiles_started.is_set() and summaries_started.is_set()
    document = await backend.document(str(p.id), labels=(PUBLIC_LABEL,))
    assert document is not None and document["title"] == "Gemeinsamer Bauhof"
    assert document.get("adoption_count") == 1, document


async def test_a_wait_in_another_process_rings_the_worker_once_not_on_every_look(
    db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review s27 F1: each batch another process's worker applies wakes a wait (INDEX_APPLIED); if the wait rang
    the worker again on every look, each such write would cost the worker an empty round."""

    from catalogue.search import sync as sync_module
    from catalogue.shared_generation import SharedGeneration

    class CountingChannel:
        rings = 0

        def ring(self) -> None:
            CountingChannel.rings += 1

    shared = SharedGeneration("index.applied")
    shared.open(tmp_path)
    monkeypatch.setattr(sync_module, "INDEX_APPLIED", shared)
    monkeypatch.setattr(sync_module, "OUTBOX_WRITTEN", CountingChannel())
    monkeypatch.setattr(sync_module, "WAIT_POLL_S", 3600.0)
    backend = TantivyBackend(tmp_path / "search")
    worker, waiter = SearchSync(), SearchSync()
    _, written = await _announced_then_written("Rufbus", "rufbus")
    try:
        waiting = asyncio.create_task(waiter.wait_applied(list(written)))
        await asyncio.sleep(0.05)
        assert CountingChannel.rings == 1
        for _ in range(3):  # batches of other writes applied meanwhile: the wait looks again each time
            shared.bump()
            await asyncio.sleep(0.05)
        assert not waiting.done()
        assert CountingChannel.rings == 1
        assert await worker.run_once(backend) == 1
        async with asyncio.timeout(10.0):
            assert await waiting
    finally:
        shared.close()


async def test_a_stopping_worker_lets_its_index_and_mirror_writes_finish(db: object, tmp_path: Path) -> None:
    """Review s27 F5: a round cancelled (the worker stops) while the index and the mirror take a batch waits for
    both: a write left running would land after, and over, what the next worker writes."""
    backend = TantivyBackend(tmp_path / "search")
    started, release = asyncio.Event(), asyncio.Event()

    class SlowMirror(_RecordingMirror):
        async def apply(self, current: Sequence[Profile], deletes: Sequence[str]) -> None:
            started.set()
            await release.wait()
            await super().apply(current, deletes)

    sync = SearchSync()
    mirror = SlowMirror()
    sync.mirror = mirror  # type: ignore[assignment]
    p = await new_profile("Gemeinsamer Bauhof", "bauhof")
    round_ = asyncio.create_task(sync.run_once(backend))
    await asyncio.wait_for(started.wait(), timeout=10)
    round_.cancel()
    await asyncio.sleep(0.05)
    assert not round_.done()  # still waiting for the mirror's write
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await round_
    assert mirror.applied == [str(p.id)]
    assert await titles(backend) == {str(p.id): "Gemeinsamer Bauhof"}
