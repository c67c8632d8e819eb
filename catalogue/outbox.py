"""Recording profile changes for the search index.

An entry is written *before* the profile write it announces. If the profile
write then fails, the worker merely re-applies the profile's current state
(idempotent); if the process dies after the profile write, the entry is
already there. Either way no update is lost, and no write ever waits for,
or fails because of, the search engine. An entry names the profile version
its write brings, so the worker does not apply it before the write has
landed (see catalogue/search/sync.py).

Read-your-writes: inside `recording()` (the web app opens one per unsafe
request) the entries written are collected, so the request can wait,
bounded, until the index has them (`SearchSync.wait_applied`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NamedTuple

from catalogue.models import OutboxEntry, next_sequence


class Written(NamedTuple):
    """An outbox entry written in a `recording()` context."""

    entry_id: Any
    profile_id: str
    slug: str
    version: int | None = None


_recorded: ContextVar[list[Written] | None] = ContextVar("outbox_recorded", default=None)


@contextmanager
def recording() -> Iterator[list[Written]]:
    """Collect the outbox entries written in this context (a list, filled as they are written)."""
    written: list[Written] = []
    token = _recorded.set(written)
    try:
        yield written
    finally:
        _recorded.reset(token)


async def enqueue(profile_id: str, slug: str, op: str = "upsert", *, version: int | None = None) -> OutboxEntry:
    """Announce a profile write; `version`: the profile version the write brings (None: whatever is stored)."""
    if op not in ("upsert", "delete"):
        raise ValueError(op)
    entry = OutboxEntry(seq=await next_sequence("outbox"), profile_id=str(profile_id), slug=slug, op=op, version=version)
    await entry.insert()
    written = _recorded.get()
    if written is not None:
        written.append(Written(entry.id, entry.profile_id, entry.slug, entry.version))
    return entry


async def pending_count() -> int:
    return await OutboxEntry.find(OutboxEntry.done == False).count()  # noqa: E712
