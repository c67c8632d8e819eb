"""Recording profile changes for the search index.

An entry is written *before* the profile write it announces. If the profile
write then fails, the worker merely re-applies the profile's current state
(idempotent); if the process dies after the profile write, the entry is
already there. Either way no update is lost, and no write ever waits for,
or fails because of, the search engine. An entry names the profile version
its write brings, so the worker does not apply it before the write has
landed (see catalogue/search/sync.py).

Entries are keyed by their sequence number (`_id`, from the `outbox`
counter), so the worker reads them by `_id` in order and nothing ever
queries the outbox by another field. A bulk write (an import chunk) is
announced by one entry naming all its profiles (`enqueue_many`), written
with `landed: False`; once the profiles are written, `mark_landed` sets it,
and only then does the worker read them (it would otherwise read a chunk's
profiles again on every round while they are being inserted). The mark
carries the stored documents of the profiles the write inserted (`carry`:
BSON, compressed), so the worker indexes them without reading each one back
from the store (a keyed read of a profile costs FerretDB about as much as
its insert). They go in a document of their own (collection
`search_outbox_carried`, `_id` = the entry's), inserted just before the
mark: FerretDB rewrites the whole document an update changes, and its update
reads the collection's documents, so a mark holding them would cost more
with every chunk waiting for the worker (measured: 0.5 ms of FerretDB CPU
per profile with one chunk waiting, 1.7 with three; the insert costs 0.1).
The worker deletes it before the entry.

Hand-off: a single-profile write that landed in this process leaves the
profile as written with `hand_over` (per database, bounded), and this
process's worker takes it (`take_handed`) instead of reading the profile
back and parsing it again, in the round that applies the entry announcing that
write, when it is at least the version every entry of the batch naming that
profile announces. A round forgets every copy of the profiles it names, taken
or not: an entry of a write that lost its compare-and-set can come later than a
newer write's, and must never meet an old copy.
Anything else (a delete, an adoption, a bulk entry, an entry without a version, a
profile written by another process) is read from the store as before.

Its entry goes to the worker the same way (`take_handed_entries`): an
entry is inserted once and changed only when it backs off (then it is read
again) or, for a bulk entry, by its mark (never handed over).

Read-your-writes: inside `recording()` (the web app opens one per unsafe
request, the CLI one per import) the entries written are collected, so the
writer can wait until the index has them (`SearchSync.wait_applied`). Until
it does (`settled`), its entries count as writes in flight (`none_in_flight`).
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NamedTuple

import bson
from bson.binary import Binary
from bson.codec_options import CodecOptions
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from catalogue.cpu import run_cpu
from catalogue.lru import LRU
from catalogue.models import OutboxEntry, OutboxItem, Profile, next_sequence, utcnow

OUTBOX_COUNTER = "outbox"
CARRIED_COLLECTION = "search_outbox_carried"  # a mark's carried documents, `_id` = its entry's (see the docstring)
# Carried documents of one mark, compressed, at most this large (a chunk of 500 usual profiles: ~0.5 MB); a larger
# set is not carried (the worker reads those profiles), far below the store's 16 MB per document.
CARRY_MAX_BYTES = 4 << 20
IN_FLIGHT_MAX_S = 2.0  # a write recorded longer ago than this holds no worker round back (`none_in_flight`)
HANDED_MAX = 1024  # profiles written here and not yet taken by this process's worker (`hand_over`), least recent first out


class Written(NamedTuple):
    """An outbox entry written in a `recording()` context."""

    entry_id: Any
    profile_id: str
    slug: str
    version: int | None = None
    profiles: int = 1  # how many profiles the entry announces (bulk entries: more than one)
    landed: bool = False  # its writer saw the write land (`confirm_landed`): the wait need not read the profile to tell


_recorded: ContextVar[list[Written] | None] = ContextVar("outbox_recorded", default=None)
# Entries recorded in this process whose writers have not yet asked to see them applied (`settled`): writes in
# flight, which this process's worker lets land before it commits (group commit, catalogue/search/sync.py).
# Entry id -> when it was recorded (time.monotonic()); one older than IN_FLIGHT_MAX_S no longer holds a round back
# (its writer is slow, or its recording never ended, e.g. a task dropped without its `finally`).
_in_flight: dict[Any, float] = {}
_in_flight_waiters: list[asyncio.Future[None]] = []  # `none_in_flight` calls waiting (futures of whichever loop runs)


# Numbers taken (`numbered`) in a recording whose entries are not inserted yet: in flight already (the worker lets
# them land first), and not looked for in the store (`being_inserted`); a recording's end releases what is left.
_numbering: ContextVar[list[Any] | None] = ContextVar("outbox_numbering", default=None)
_being_inserted: set[tuple[str, Any]] = set()


@contextmanager
def recording() -> Iterator[list[Written]]:
    """Collect the outbox entries written in this context (a list, filled as they are written)."""
    written: list[Written] = []
    numbers: list[Any] = []
    token = _recorded.set(written)
    numbering = _numbering.set(numbers)
    try:
        yield written
    finally:
        _recorded.reset(token)
        _numbering.reset(numbering)
        database = OutboxEntry.get_pymongo_collection().database.name if numbers else ""
        _being_inserted.difference_update((database, n) for n in numbers)  # a write that failed before its insert
        settled([w.entry_id for w in written] + numbers)


def being_inserted(seqs: Sequence[int]) -> set[int]:
    """Those of `seqs` whose numbers a writer in this process took and whose entries it is about to insert."""
    database = OutboxEntry.get_pymongo_collection().database.name
    return {seq for seq in seqs if (database, seq) in _being_inserted}


def _record(entry: OutboxEntry) -> None:
    written = _recorded.get()
    if written is not None:
        written.append(Written(entry.id, entry.profile_id, entry.slug, entry.version, 1 + len(entry.more)))
        _in_flight[entry.id] = time.monotonic()


def settled(entry_ids: Sequence[Any]) -> None:
    """The writers of these entries are done writing (they wait for the index now, or gave up): not in flight."""
    for entry_id in entry_ids:
        _in_flight.pop(entry_id, None)
    if not _in_flight:
        waiters = list(_in_flight_waiters)
        _in_flight_waiters.clear()
        for waiter in waiters:
            if not waiter.done():  # one whose wait timed out is cancelled
                waiter.set_result(None)


async def none_in_flight() -> None:
    """Return once no write recorded in this process is in flight (see `settled`); writes recorded more than
    IN_FLIGHT_MAX_S ago are no longer waited for (and forgotten)."""
    too_old = time.monotonic() - IN_FLIGHT_MAX_S
    for entry_id in [e for e, since in _in_flight.items() if since < too_old]:
        del _in_flight[entry_id]
    if _in_flight:
        waiter = asyncio.get_running_loop().create_future()
        _in_flight_waiters[:] = [w for w in _in_flight_waiters if not w.done()]  # waits that timed out
        _in_flight_waiters.append(waiter)
        await waiter


def confirm_landed(entry_id: Any) -> None:
    """The write that entry `entry_id` of this recording announced has landed (its compare-and-set succeeded).

    A wait for it (`SearchSync.wait_applied`) then knows, without reading the
    profile's version from the store, that the entry will be applied.
    """
    written = _recorded.get()
    if written is not None:
        for n, w in enumerate(written):
            if w.entry_id == entry_id:
                written[n] = w._replace(landed=True)


# (database, profile id) -> the profile as written here and the id of the outbox entry that announced that write
_handed: LRU[tuple[str, str], tuple[Profile, Any]] = LRU(HANDED_MAX)


def hand_over(profile: Profile, entry_id: Any) -> None:
    """This process wrote `profile` (its compare-and-set or insert landed) and announced it with entry `entry_id`: its
    worker may index it without a read, in the round that applies that entry.

    The profile must not be changed afterwards (the worker builds the index document from it).
    """
    key = (OutboxEntry.get_pymongo_collection().database.name, str(profile.id))
    known = _handed.get(key)
    if known is None or known[0].version <= profile.version:
        _handed.put(key, (profile, entry_id))


def take_handed(entries: Sequence[OutboxEntry], profile_ids: Sequence[str]) -> dict[str, Profile]:
    """The handed-over profiles among `profile_ids` that this round may index instead of reading them.

    A copy stands only for its own entry's round: it is taken when the entry that announced it is among `entries`,
    every entry of `entries` naming the profile is a single-profile upsert with a version (none an adoption's), and
    the copy's version is at least the highest of them. Every copy of a profile that `entries` name is forgotten,
    taken or not, so none is left behind for a later round, where an entry of a write that lost its compare-and-set
    could otherwise bring back an older state than the store's.
    """
    database = OutboxEntry.get_pymongo_collection().database.name
    wanted: dict[str, int | None] = {}
    entry_ids = {entry.id for entry in entries}
    for entry in entries:
        plain = entry.op == "upsert" and not entry.more and not entry.adoption and entry.version is not None
        for item in entry.items():
            if item.profile_id in wanted and wanted[item.profile_id] is None:
                continue
            wanted[item.profile_id] = max(wanted.get(item.profile_id) or 0, entry.version or 0) if plain else None
    out: dict[str, Profile] = {}
    for pid in profile_ids:
        version = wanted.get(pid)
        handed = _handed.get((database, pid))
        if handed is not None and version is not None and handed[1] in entry_ids and handed[0].version >= version:
            out[pid] = handed[0]
    for pid in wanted:
        _handed.discard((database, pid))
    return out


async def enqueue(
    profile_id: str, slug: str, op: str = "upsert", *, version: int | None = None, adoption: tuple[str, int] | None = None
) -> OutboxEntry:
    """Announce a profile write; `version`: the profile version the write brings (None: whatever is stored).

    `adoption`: (record key, revision) of an adoption write to announce instead (catalogue/adoption.py).
    """
    entry = await numbered(profile_id, slug, op, version=version, adoption=adoption)
    await insert(entry)
    return entry


async def numbered(
    profile_id: str, slug: str, op: str = "upsert", *, version: int | None = None, adoption: tuple[str, int] | None = None
) -> OutboxEntry:
    """`enqueue`'s first half: the entry with its sequence number taken from the counter, not yet inserted.

    A writer that has other commands to send before its write runs this beside them and `insert`s the
    entry just before (or, under the store's write lock, beside the read of) its write: see
    `ProfileService._write`. The number is taken before the write, so for one profile compare-and-set
    writes still take their numbers in the order they land.
    """
    if op not in ("upsert", "delete"):
        raise ValueError(op)
    entry = OutboxEntry(
        id=await next_sequence(OUTBOX_COUNTER), profile_id=str(profile_id), slug=slug, op=op, version=version, created_at=utcnow(),
        adoption=adoption[0] if adoption else None, adoption_revision=adoption[1] if adoption else None,
    )
    numbers = _numbering.get()
    if numbers is not None:  # in flight from now on (group commit), until its recording ends at the latest
        numbers.append(entry.id)
        _in_flight[entry.id] = time.monotonic()
        _being_inserted.add((OutboxEntry.get_pymongo_collection().database.name, entry.id))
    return entry


async def insert(entry: OutboxEntry) -> None:
    """`enqueue`'s second half: insert an entry `numbered` gave (before the write it announces is tried)."""
    collection = OutboxEntry.get_pymongo_collection()
    try:
        await collection.insert_one(_document(entry))
    finally:
        _being_inserted.discard((collection.database.name, entry.id))
    _record(entry)
    _handed_entries.put((collection.database.name, entry.id), entry)


_handed_entries: LRU[tuple[str, int], OutboxEntry] = LRU(HANDED_MAX)  # (database, number) -> a single entry inserted here


def forget_handed_entries() -> None:
    """A worker taking over: entries handed over meanwhile may have backed off under another worker (read them)."""
    _handed_entries.clear()


def take_handed_entries(seqs: Sequence[int]) -> dict[int, OutboxEntry]:
    """Single-profile entries among `seqs` that this process inserted (`insert`), taken (and forgotten): this
    process's worker need not read them. Each as inserted: one that backs off is read from the store again
    (its attempts changed there); a bulk entry, which its mark changes, is never handed over."""
    database = OutboxEntry.get_pymongo_collection().database.name
    out: dict[int, OutboxEntry] = {}
    for seq in seqs:
        entry = _handed_entries.get((database, seq))
        if entry is not None:
            _handed_entries.discard((database, seq))
            out[seq] = entry
    return out


async def enqueue_many(profiles: Sequence[tuple[str, str, int | None]]) -> OutboxEntry | None:
    """Announce the writes of many profiles (profile id, slug, version) with one entry (bulk imports)."""
    if not profiles:
        return None
    (first_id, first_slug, first_version), rest = profiles[0], profiles[1:]
    entry = OutboxEntry(
        id=await next_sequence(OUTBOX_COUNTER),
        profile_id=str(first_id),
        slug=first_slug,
        version=first_version,
        more=[OutboxItem(profile_id=str(pid), version=version) for pid, _slug, version in rest],
        landed=False,
        created_at=utcnow(),
    )
    await OutboxEntry.get_pymongo_collection().insert_one(_document(entry))
    _record(entry)
    return entry


async def mark_landed(
    entry: OutboxEntry, existing: Sequence[str] = (), inserted: Sequence[dict[str, Any]] = (), codec_options: CodecOptions[Any] | None = None
) -> None:
    """The profiles of a bulk entry are written: the worker may apply it (one keyed update).

    `existing`: the entry's profiles this write did not insert (an earlier, interrupted run had written them).
    `inserted`: the stored documents (as inserted, with `codec_options`) of profiles this write inserted; they
    go with the mark (`carry`), and the worker takes them instead of reading those profiles back.
    """
    carried = await run_cpu(carry, inserted, codec_options) if inserted else None  # ~35 ms for 500 profiles: off the loop
    if carried is not None:  # in a document of its own (see the module docstring), before the mark
        document = {"_id": entry.id, "documents": Binary(carried)}
        try:
            await carried_collection().insert_one(document)
        except DuplicateKeyError:  # not expected (sequence numbers are not reused); the newer set counts
            await carried_collection().replace_one({"_id": entry.id}, document)
    marked = await OutboxEntry.get_pymongo_collection().update_one({"_id": entry.id}, {"$set": {"landed": True, "existing": list(existing)}})
    if marked.matched_count == 0:
        await _announce_again(entry)
        return
    entry.landed, entry.existing, entry.carried = True, list(existing), carried


async def _announce_again(entry: OutboxEntry) -> None:
    """A mark that found its entry gone: the worker took the entry for a dead writer's once the landing grace had
    passed (a slow store, a stopped CLI, a suspended machine) and applied it, reading only the profiles already
    written then. The documents carried for it would never be read: drop them, and announce every profile of the
    entry again with a landed entry of its own that carries nothing, so the worker reads each one's current version
    from the store (a carried document could be older than a write announced in between)."""
    await carried_collection().delete_one({"_id": entry.id})
    profiles = [(entry.profile_id, entry.slug, entry.version), *((item.profile_id, entry.slug, item.version) for item in entry.more or ())]
    again = await enqueue_many(profiles)
    if again is not None:  # every profile named as existing: the worker reads them all
        await mark_landed(again, [pid for pid, _slug, _version in profiles])
    entry.landed, entry.existing, entry.carried = True, [], None


def carried_collection() -> AsyncCollection[Any]:
    """Where marks keep their carried documents (`_id` = the entry's), in the database the models are bound to."""
    return OutboxEntry.get_pymongo_collection().database[CARRIED_COLLECTION]


def takes_carried(entry: OutboxEntry) -> bool:
    """A landed bulk entry whose carried documents may be in `carried_collection` (not read in with the entry)."""
    return entry.landed is True and entry.existing is not None and entry.carried is None


def take_carried_document(entry: OutboxEntry, document: dict[str, Any] | None) -> None:
    """Give a landed bulk entry the documents its mark carried (`document`: its entry in `carried_collection`, or None)."""
    if document is not None and takes_carried(entry):
        entry.carried = bytes(document["documents"])


def carry(documents: Sequence[dict[str, Any]], codec_options: CodecOptions[Any] | None = None) -> bytes | None:
    """Profile documents packed for a mark (BSON one after another, compressed); None when too large to carry."""
    opts = codec_options or bson.DEFAULT_CODEC_OPTIONS
    packed = zlib.compress(b"".join(bson.encode(doc, codec_options=opts) for doc in documents), 1)
    return packed if len(packed) <= CARRY_MAX_BYTES else None


def carried_documents(entry: OutboxEntry, codec_options: CodecOptions[Any] | None = None) -> dict[str, dict[str, Any]]:
    """The profile documents a landed bulk entry carries, by profile id, decoded as the store would return them.

    Only those the entry inserted (`inserted_by`): a profile an earlier run had written may have changed since.
    """
    if not entry.carried or entry.landed is not True:
        return {}
    docs = bson.decode_all(zlib.decompress(entry.carried), codec_options or bson.DEFAULT_CODEC_OPTIONS)
    return {pid: doc for doc in docs if inserted_by(entry, pid := str(doc["_id"]))}


def inserted_by(entry: OutboxEntry, profile_id: str) -> bool:
    """The entry is a bulk write, marked landed, that inserted this profile (so nothing but it wrote the profile before)."""
    return entry.landed is True and entry.existing is not None and profile_id not in entry.existing


def _document(entry: OutboxEntry) -> dict[str, Any]:
    now = entry.created_at
    return {
        "_id": entry.id,
        "profile_id": entry.profile_id,
        "slug": entry.slug,
        "op": entry.op,
        "version": entry.version,
        "more": [item.model_dump() for item in entry.more],
        "adoption": entry.adoption,
        "adoption_revision": entry.adoption_revision,
        "landed": entry.landed,
        "existing": entry.existing,
        "carried": Binary(entry.carried) if entry.carried is not None else None,
        "created_at": now,
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": None,
    }
