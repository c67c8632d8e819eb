"""Recording profile changes for the search index.

An entry is written *before* the profile write it announces. If the profile
write then fails, the worker merely re-applies the profile's current state
(idempotent); if the process dies after the profile write, the entry is
already there. Either way no update is lost, and no write ever waits for,
or fails because of, the search engine.
"""

from __future__ import annotations

from catalogue.models import OutboxEntry, next_sequence


async def enqueue(profile_id: str, slug: str, op: str = "upsert") -> OutboxEntry:
    if op not in ("upsert", "delete"):
        raise ValueError(op)
    entry = OutboxEntry(seq=await next_sequence("outbox"), profile_id=str(profile_id), slug=slug, op=op)
    await entry.insert()
    return entry


async def pending_count() -> int:
    return await OutboxEntry.find(OutboxEntry.done == False).count()  # noqa: E712
