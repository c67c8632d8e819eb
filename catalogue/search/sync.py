"""The search sync worker: applies the outbox to the search index.

The profile service records an `OutboxEntry` (seq, profile_id, slug, op)
with every profile write. `SearchSync.run_once` takes the pending entries in
`seq` order and makes the index match the profiles' *current* state in
MongoDB: a profile that exists is upserted whatever its editorial state (its
document carries the status and the permission labels that decide who finds
it); a profile that no longer exists (or never did) is deleted from the
index. Applying an entry is therefore idempotent, and an entry whose profile
write failed is harmless. Profiles are read by `_id` only, a few at a time
(FerretDB answers nothing else without scanning the collection).

Entries are applied in batches (one backend call for all upserts and one for
all deletes of a batch; several entries of one profile collapse into one
document). When the backend fails, every entry of the batch gets
`attempts += 1`, `last_error`, and `next_attempt_at = now + backoff` with
backoff = 0.5 s · 2^(attempts-1), capped at 60 s; nothing after the failed
batch is processed, so order is kept. Entries live in MongoDB and survive
restarts; applied entries are deleted at once (which also keeps the
collection small: on the embedded FerretDB every query scans it).

Exactly one worker per database is assumed (the application runs one).

Read-your-writes: `wait_applied` lets a request wait (bounded) until the
outbox entries of its own writes are applied, so the writer's next list
shows the change. It reads the entries by `_id` (applied ones are gone), so
it works in any process; the local worker's "batch applied" signal only
saves polling.

An entry is written *before* its profile write, so the worker can see it
before the write has landed. Entries name the profile version their write
brings; the worker leaves an entry whose profile is missing or older (it
is looked at again on the next round) until the write lands, or until
LANDING_GRACE_S has passed (the write failed; the current state counts).
Entries without a version (older ones) are applied at once; for those,
`wait_applied` announces an entry that is already gone once more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from beanie import PydanticObjectId, SortDirection
from beanie.operators import In

from catalogue.models import OutboxEntry, Profile
from catalogue.outbox import Written
from catalogue.search.base import ProgressCallback, SearchBackend
from catalogue.search.regions import index_document

log = logging.getLogger(__name__)

BASE_BACKOFF_S = 0.5
MAX_BACKOFF_S = 60.0
READ_CONCURRENCY = 8  # profiles read by _id at the same time
LANDING_GRACE_S = 30.0  # how long an entry waits for the write it announces (a write that failed never lands)
WAIT_POLL_S = 0.25  # how often `wait_applied` looks again without a signal


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def backoff_seconds(attempts: int, base: float = BASE_BACKOFF_S, cap: float = MAX_BACKOFF_S) -> float:
    """Delay before the next try after `attempts` failed tries (1, 2, …)."""
    return float(min(cap, base * 2.0 ** max(0, attempts - 1)))


def _object_id(value: str) -> PydanticObjectId | None:
    try:
        return PydanticObjectId(value)
    except Exception:  # noqa: BLE001 - not an ObjectId: no such profile
        return None


class SearchSync:
    """Applies outbox entries to a search backend; see the module docstring."""

    def __init__(
        self,
        *,
        batch_size: int = 200,
        poll_interval: float = 0.5,
        base_backoff: float = BASE_BACKOFF_S,
        max_backoff: float = MAX_BACKOFF_S,
    ) -> None:
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self._wake = asyncio.Event()
        self._applied = asyncio.Event()  # replaced by a fresh one after every applied batch
        self._lock = asyncio.Lock()
        self.failing = False  # the last batch failed: the engine is down, entries wait behind it

    def notify(self) -> None:
        """Wake `run_forever` now (call after writing an outbox entry)."""
        self._wake.set()

    async def pending(self) -> int:
        return await OutboxEntry.find(OutboxEntry.done == False).count()  # noqa: E712

    async def run_once(self, backend: SearchBackend) -> int:
        """Apply the next batch of pending entries; returns how many were applied (0 while backing off).

        Batches of one worker never overlap (`drain` called while `run_forever` runs waits its turn):
        two overlapping batches could apply an older state of a profile after a newer one.
        """
        async with self._lock:
            return await self._run_once(backend)

    async def _run_once(self, backend: SearchBackend) -> int:
        now = datetime.now(UTC)
        entries = (
            await OutboxEntry.find(OutboxEntry.done == False)  # noqa: E712
            .sort([("seq", SortDirection.ASCENDING)])
            .limit(self.batch_size)
            .to_list()
        )
        if not entries:
            return 0
        if _aware(entries[0].next_attempt_at) > now:
            return 0  # the head is backing off; later entries wait behind it
        # only entries that are due; an entry further back that is still
        # backing off (it failed in an earlier batch) ends the batch
        batch: list[OutboxEntry] = []
        for entry in entries:
            if _aware(entry.next_attempt_at) > now:
                break
            batch.append(entry)
        try:
            ready, upserts, deletes = await self._resolve(batch, now)
            if upserts:
                await backend.upsert(upserts)
            if deletes:
                await backend.delete(deletes)
        except Exception as exc:  # noqa: BLE001 - the engine (or loading) failed, whatever the cause: back off, keep order
            attempts = batch[0].attempts + 1
            retry_at = now + timedelta(seconds=backoff_seconds(attempts, self.base_backoff, self.max_backoff))
            error = f"{type(exc).__name__}: {exc}"[:2000]
            await OutboxEntry.find(In(OutboxEntry.id, [e.id for e in batch])).update_many(
                {"$inc": {"attempts": 1}, "$set": {"next_attempt_at": retry_at, "last_error": error}}
            )
            log.warning("Suchindex-Abgleich fehlgeschlagen (Versuch %s, nächster Versuch %s): %s", attempts, retry_at, error)
            self.failing = True
            return 0
        self.failing = False
        if not ready:
            return 0
        await OutboxEntry.find(In(OutboxEntry.id, [e.id for e in ready])).delete()
        self._signal_applied()
        return len(ready)

    async def _resolve(
        self, batch: list[OutboxEntry], now: datetime
    ) -> tuple[list[OutboxEntry], list[dict[str, Any]], list[str]]:
        """The entries whose writes have landed, and the current state of their profiles:
        documents to upsert (any status) and ids of profiles that are gone.

        An entry is written before its profile write, so the write may not
        have landed yet: an entry whose profile is missing or older than the
        version it announces waits (it stays in the outbox and is looked at
        again) until the write lands, or LANDING_GRACE_S has passed (then the
        write failed, and the current state is what counts).
        """
        profiles = await read_profiles(list(dict.fromkeys(e.profile_id for e in batch)))
        ready: list[OutboxEntry] = []
        for entry in batch:
            profile = profiles.get(entry.profile_id)
            landed = entry.version is None or (profile is not None and profile.version >= entry.version)
            if landed or _aware(entry.created_at) <= now - timedelta(seconds=LANDING_GRACE_S):
                ready.append(entry)
        upserts: list[dict[str, Any]] = []
        deletes: list[str] = []
        for pid in dict.fromkeys(e.profile_id for e in ready):
            profile = profiles.get(pid)
            if profile is not None:
                upserts.append(await index_document(profile))
            else:
                deletes.append(pid)
        return ready, upserts, deletes

    def _signal_applied(self) -> None:
        event, self._applied = self._applied, asyncio.Event()
        event.set()

    async def wait_applied(self, written: Sequence[Written]) -> bool:
        """Wait until the index shows the state after these writes (True).

        Callers bound the wait (`asyncio.timeout`, see `Runtime.settle`).
        Call it after the writes are done. A write that did not land (its
        profile is older than the version its entry announces) is not
        waited for. An entry without a version may
        have been applied before its write landed (and deleted): such an
        entry already gone is announced once more, so the state after the
        write is applied for certain.
        Returns False at once while the worker is failing (the engine is
        down: the write stands, the index follows when the engine is back).
        """
        from catalogue import outbox

        collection = OutboxEntry.get_pymongo_collection()
        pending: list[Any] = []
        for w in {w.entry_id: w for w in written}.values():
            if w.version is not None:
                # never applied before its write landed; a write that did not land (it failed) is not waited for
                oid = _object_id(w.profile_id)
                stored = await Profile.get_pymongo_collection().find_one({"_id": oid}, {"version": 1}) if oid else None
                if stored is not None and int(stored.get("version") or 0) >= w.version:
                    pending.append(w.entry_id)
            elif await collection.find_one({"_id": w.entry_id}, {"_id": 1}) is not None:
                pending.append(w.entry_id)
            else:
                pending.append((await outbox.enqueue(w.profile_id, w.slug)).id)
        while pending:
            if self.failing:
                return False
            signal = self._applied  # taken before looking, so a batch applied meanwhile is not missed
            still = []
            for entry_id in pending:  # by _id: applied entries are deleted
                if await collection.find_one({"_id": entry_id}, {"_id": 1}) is not None:
                    still.append(entry_id)
            pending = still
            if not pending:
                break
            self.notify()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(signal.wait(), timeout=WAIT_POLL_S)
        return True

    async def drain(self, backend: SearchBackend) -> int:
        """Apply everything that is due now (stops at the first failure)."""
        total = 0
        while (n := await self.run_once(backend)) > 0:
            total += n
        return total

    async def run_forever(self, backend: SearchBackend, stop_event: asyncio.Event) -> None:
        """Poll every `poll_interval` seconds (or when notified) until `stop_event` is set."""
        while not stop_event.is_set():
            try:
                applied = await self.run_once(backend)
            except Exception:  # MongoDB unavailable etc.: log and poll again
                log.exception("Suchindex-Abgleich: Outbox nicht lesbar")
                applied = 0
            if applied >= self.batch_size:
                continue  # more is waiting
            waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop_event.wait())]
            try:
                await asyncio.wait(waiters, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await w
            self._wake.clear()

    async def reindex(self, backend: SearchBackend, progress: ProgressCallback | None = None) -> int:
        """Rebuild the index from all profiles (every state), with an atomic swap; returns the count.

        Batch work: the one full read of the profiles collection, streamed.
        """

        async def documents() -> AsyncIterator[dict[str, Any]]:
            async for profile in Profile.find_all():
                yield await index_document(profile)

        return await backend.rebuild(documents(), progress)

    async def purge_done(self, older_than: timedelta = timedelta(days=7)) -> int:
        """Delete applied entries older than `older_than`; returns how many."""
        cutoff = datetime.now(UTC) - older_than
        result = await OutboxEntry.find(OutboxEntry.done == True, OutboxEntry.created_at < cutoff).delete()  # noqa: E712
        return int(getattr(result, "deleted_count", 0) or 0)


async def read_profiles(profile_ids: Sequence[str]) -> dict[str, Profile]:
    """The profiles that exist among `profile_ids`, read by `_id` one each, a few concurrently (never `$in`)."""
    found: dict[str, Profile] = {}
    semaphore = asyncio.Semaphore(READ_CONCURRENCY)

    async def read(pid: str) -> None:
        oid = _object_id(pid)
        if oid is None:
            return
        async with semaphore:
            profile = await Profile.get(oid)
        if profile is not None:
            found[pid] = profile

    await asyncio.gather(*(read(pid) for pid in dict.fromkeys(profile_ids)))
    return found


__all__ = ["SearchSync", "backoff_seconds", "read_profiles"]
