"""The search sync worker: applies the outbox to the search index.

The profile service records an `OutboxEntry` (seq, profile_id, slug, op)
with every profile write. `SearchSync.run_once` takes the pending entries in
`seq` order and makes the index match the profiles' *current* state in
MongoDB: a profile that exists and is published is upserted, anything else
(draft, submitted, archived, deleted, never written) is deleted from the
index. Applying an entry is therefore idempotent, and an entry whose profile
write failed is harmless.

Entries are applied in batches (one backend call for all upserts and one for
all deletes of a batch; several entries of one profile collapse into one
document). When the backend fails, every entry of the batch gets
`attempts += 1`, `last_error`, and `next_attempt_at = now + backoff` with
backoff = 0.5 s · 2^(attempts-1), capped at 60 s; nothing after the failed
batch is processed, so order is kept. Entries live in MongoDB and survive
restarts; applied entries are deleted at once (which also keeps the
collection small: on the embedded FerretDB every query scans it).

Exactly one worker per database is assumed (the application runs one).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from beanie import PydanticObjectId, SortDirection
from beanie.operators import In

from catalogue.models import OutboxEntry, Profile
from catalogue.search.base import ProgressCallback, SearchBackend
from catalogue.search.documents import to_search_document
from catalogue.vocabularies import EditorialStatus

log = logging.getLogger(__name__)

BASE_BACKOFF_S = 0.5
MAX_BACKOFF_S = 60.0


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

    def notify(self) -> None:
        """Wake `run_forever` now (call after writing an outbox entry)."""
        self._wake.set()

    async def pending(self) -> int:
        return await OutboxEntry.find(OutboxEntry.done == False).count()  # noqa: E712

    async def run_once(self, backend: SearchBackend) -> int:
        """Apply the next batch of pending entries; returns how many were applied (0 while backing off)."""
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
            upserts, deletes = await self._resolve(batch)
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
            return 0
        await OutboxEntry.find(In(OutboxEntry.id, [e.id for e in batch])).delete()
        return len(batch)

    async def _resolve(self, batch: list[OutboxEntry]) -> tuple[list[dict[str, Any]], list[str]]:
        """Current state per profile: documents to upsert and ids to delete."""
        profile_ids = list(dict.fromkeys(e.profile_id for e in batch))
        oids = [oid for pid in profile_ids if (oid := _object_id(pid)) is not None]
        profiles = {str(p.id): p for p in await Profile.find(In(Profile.id, oids)).to_list()} if oids else {}
        upserts: list[dict[str, Any]] = []
        deletes: list[str] = []
        for pid in profile_ids:
            profile = profiles.get(pid)
            if profile is not None and profile.status == EditorialStatus.PUBLISHED:
                upserts.append(to_search_document(profile))
            else:
                deletes.append(pid)
        return upserts, deletes

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
        """Rebuild the index from all published profiles, with an atomic swap; returns the count."""

        async def documents() -> AsyncIterator[dict[str, Any]]:
            async for profile in Profile.find(Profile.status == EditorialStatus.PUBLISHED).sort([("_id", SortDirection.ASCENDING)]):
                yield to_search_document(profile)

        return await backend.rebuild(documents(), progress)

    async def purge_done(self, older_than: timedelta = timedelta(days=7)) -> int:
        """Delete applied entries older than `older_than`; returns how many."""
        cutoff = datetime.now(UTC) - older_than
        result = await OutboxEntry.find(OutboxEntry.done == True, OutboxEntry.created_at < cutoff).delete()  # noqa: E712
        return int(getattr(result, "deleted_count", 0) or 0)


__all__ = ["SearchSync", "backoff_seconds"]
