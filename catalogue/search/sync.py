"""The search sync worker: applies the outbox to the search index.

The profile service records an `OutboxEntry` with every profile write (one
entry naming all profiles of a bulk write). Entries are keyed by their
sequence number, so the worker reads them by `_id` in order from its head
(the lowest number not yet applied, kept in the `search_sync` collection
under `_id` "outbox") up to the `outbox` counter, and nothing ever queries
the outbox by another field. For each entry it makes the index match the
profiles' *current* state in MongoDB: a profile that exists is upserted
whatever its editorial state (its document carries the status and the
permission labels that decide who finds it); a profile that no longer
exists (or never did) is deleted from the index. Applying an entry is
therefore idempotent, and an entry whose profile write failed is harmless.
Profiles are read by `_id` only, a few at a time.

Entries are applied in batches (one backend call for all upserts and one for
all deletes of a batch; several entries of one profile collapse into one
document). When the backend fails, every entry of the batch gets
`attempts += 1`, `last_error`, and `next_attempt_at = now + backoff` with
backoff = 0.5 s · 2^(attempts-1), capped at 60 s; nothing after an entry
that backs off is processed, so order is kept. Entries live in MongoDB and
survive restarts; applied entries are deleted at once (beside the
head's move: a crash between the two leaves at worst applied entries below
the head, which nothing reads again).

One index writer: only the process that holds the sync lease runs a worker
(catalogue/search/writer.py), so exactly one worker per database applies
entries and moves the head.

Read-your-writes: `wait_applied` lets a request wait (bounded) until the
outbox entries of its own writes are applied, so the writer's next list
shows the change. It reads the entries by `_id` (applied ones are gone), so
it works in any process – also in one that does not run the worker; the
local worker's "batch applied" signal only saves polling.

An entry is written *before* its profile write, so the worker can see it
before the write has landed. Entries name the profile version their write
brings; the worker leaves an entry whose profile is missing or older (it
is looked at again on the next round) until the write lands, or until
LANDING_GRACE_S has passed (the write failed; the current state counts).
A bulk entry (an import chunk) carries `landed`: False until its writer has
written the profiles; the worker does not read them before (nor, when the
mark comes, wait for each one's version: what did not land then failed).
The mark also names the profiles the write found already there (an
earlier, interrupted run); for the others, which the write inserted, the
worker reads no adoption summary (there is none yet), nor the profile: the
mark carries its stored document (catalogue.outbox.carry, in a document of
its own read by the entry's `_id` and deleted before the entry), unless another
entry of the batch names it too. A single-profile write
made in this process hands its profile to the worker the same way
(catalogue.outbox.hand_over; not read back). Per profile,
entries apply in order: an entry naming a profile that an earlier,
waiting entry also names waits too.
Entries without a version (older ones) are applied at once; for those,
`wait_applied` announces an entry that is already gone once more.

An entry inserted in this process is handed over by its writer
(catalogue.outbox.take_handed_entries; read from the store again once it
backed off); a worker taking over (`reset`) forgets them. Adoption
summaries are read every round (not kept: a summary written after its
entry was applied, e.g. by a writer slower than LANDING_GRACE_S, or by
hand, would otherwise never reach the index).

A sequence number is taken from the counter just before its entry is
inserted, so the worker may find a number without an entry for a moment
(one taken by a request of this process counts as a write in flight from
then on, and is not looked for in the store until its insert).
Such a gap holds the head (later entries are applied meanwhile) until
MISSING_GRACE_S has passed; then the head moves on, and the number is
still looked for during SKIPPED_WATCH_S in case its writer was only slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import zlib
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from beanie import PydanticObjectId
from pymongo.asynchronous.collection import AsyncCollection

from catalogue import adoption, outbox
from catalogue.adoption import AdoptionSummary, summary_of
from catalogue.cpu import run_cpu
from catalogue.lru import LRU
from catalogue.models import OutboxEntry, Profile, counter_value, utcnow
from catalogue.outbox import OUTBOX_COUNTER, Written
from catalogue.search.base import ProgressCallback, SearchBackend
from catalogue.search.documents import to_search_document
from catalogue.search.regions import index_document, region_of
from catalogue.shared_generation import INDEX_APPLIED, INDEX_RECENT, OUTBOX_WRITTEN, drain
from catalogue.storage import read_each
from catalogue.wakeups import woken

if TYPE_CHECKING:
    from catalogue.opendata.mirror import ExportMirror

log = logging.getLogger(__name__)

BASE_BACKOFF_S = 0.5
MAX_BACKOFF_S = 60.0
READ_CONCURRENCY = 8  # profiles (and entries) read by _id at the same time
LANDING_GRACE_S = 30.0  # how long an entry waits for the write it announces (a write that failed never lands)
MISSING_GRACE_S = 30.0  # how long a sequence number without an entry holds the head
SKIPPED_WATCH_S = 600.0  # how long a skipped number is still looked for
WAIT_POLL_S = 0.25  # how often `wait_applied` looks again without a signal
SHARED_POLL_S = 0.003  # how often a wait in a process without the worker looks at the shared applied counter
# Group commit: woken, `run_forever` waits at most this long while writes of this process are in flight (recorded
# but not yet settled: catalogue.outbox.none_in_flight), so writes close together share one round and index commit
# (a round with its commit costs ~10-20 ms of CPU besides the documents). A lone write goes at once.
GROUP_WAIT_S = 0.025
MAX_DOCUMENTS = 1000  # profiles applied in one batch (bulk entries name up to an import chunk each)
RECENT_APPLIED = 4096  # entry numbers this process's worker put into the index lately (for `wait_applied`)

SYNC_COLLECTION = "search_sync"  # the worker's head, the writer lease, reindex requests (all by `_id`)
HEAD_ID = "outbox"


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


def sync_collection() -> AsyncCollection[Any]:
    """The `search_sync` collection of the database the models are bound to."""
    return OutboxEntry.get_pymongo_collection().database[SYNC_COLLECTION]


async def stored_head() -> int:
    """The worker's head as last recorded: every entry below it has been applied (1 for a new store)."""
    doc = await sync_collection().find_one({"_id": HEAD_ID})
    return int(doc.get("head", 1)) if doc else 1


async def outbox_status() -> dict[str, Any]:
    """Pending work, read by key: the head, the last sequence number, the age of the oldest pending entry.

    `oldest_pending_s` is None when nothing is pending.
    """
    state = await sync_collection().find_one({"_id": HEAD_ID})
    head = int(state.get("head", 1)) if state else 1
    top = await counter_value(OUTBOX_COUNTER)
    oldest: float | None = None
    if head <= top:
        entry = await OutboxEntry.get_pymongo_collection().find_one({"_id": head}, {"created_at": 1})
        since = entry.get("created_at") if entry else (state or {}).get("updated_at")
        oldest = max(0.0, (utcnow() - _aware(since)).total_seconds()) if since else 0.0
    return {"head": head, "last": top, "pending_max": max(0, top - head + 1), "oldest_pending_s": oldest}


def _summarised(entries: Sequence[OutboxEntry]) -> list[str]:
    """The profiles these entries name that may have an adoption summary: a profile that only bulk entries which
    inserted it name has none yet (adoptions name an existing profile)."""
    named = list(dict.fromkeys(item.profile_id for e in entries for item in e.items()))
    inserted = {pid for e in entries for item in e.items() if outbox.inserted_by(e, pid := item.profile_id)}
    inserted -= {item.profile_id for e in entries for item in e.items() if not outbox.inserted_by(e, item.profile_id)}
    return [pid for pid in named if pid not in inserted]


def _database_tag() -> int:
    """24 bits naming the database, for INDEX_RECENT (entry numbers start again in another database)."""
    return zlib.crc32(OutboxEntry.get_pymongo_collection().database.name.encode()) & 0xFFFFFF


async def _applied_anywhere(signal: asyncio.Event, shared: int) -> None:
    """Until this process's worker applied a batch (`signal`) or another local process's did (the shared counter
    moved from `shared`); TimeoutError after WAIT_POLL_S. Looks at the counter (mapped memory) every SHARED_POLL_S."""
    deadline = time.monotonic() + WAIT_POLL_S
    while INDEX_APPLIED.value() == shared and not signal.is_set():
        if time.monotonic() >= deadline:
            raise TimeoutError
        await asyncio.sleep(SHARED_POLL_S)


class SearchSync:
    """Applies outbox entries to a search backend; see the module docstring."""

    def __init__(
        self,
        *,
        batch_size: int = 200,
        poll_interval: float = 0.5,
        base_backoff: float = BASE_BACKOFF_S,
        max_backoff: float = MAX_BACKOFF_S,
        group_wait: float = GROUP_WAIT_S,
    ) -> None:
        self.batch_size = batch_size  # entries looked at per round
        self.poll_interval = poll_interval
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.group_wait = group_wait
        self.running = False  # `run_forever` runs in this process: every entry it applies shows in `_recent`
        self._wake = asyncio.Event()
        self._applied_signal = asyncio.Event()  # replaced by a fresh one after every applied batch
        self._lock = asyncio.Lock()
        self.failing = False  # the last batch failed: the engine is down, entries wait behind it
        self.head: int | None = None  # loaded from the store on the first round
        self._recorded_head: int | None = None
        self.top = 0  # the outbox counter as the last round read it
        self._applied: set[int] = set()  # applied numbers above the head
        self._missing: dict[int, float] = {}  # number -> when it was first found without an entry
        self._skipped: dict[int, float] = {}  # numbers the head passed without an entry -> when
        self._recent: LRU[int, bool] = LRU(RECENT_APPLIED)  # numbers this worker's index commits hold lately
        self.mirror: ExportMirror | None = None  # the exports' copy of the published profiles (catalogue/opendata/mirror.py)

    def notify(self) -> None:
        """Wake `run_forever` now (call after writing an outbox entry): this process's, else another local
        process's worker (catalogue/shared_generation.py's OUTBOX_WRITTEN)."""
        self._wake.set()
        if not self.running:
            OUTBOX_WRITTEN.ring()

    def reset(self) -> None:
        """Forget the head and what was seen: the next round reads the head from the store (a worker taking over)."""
        self.head = self._recorded_head = None
        self._applied.clear()
        self._missing.clear()
        self._skipped.clear()
        outbox.forget_handed_entries()
        INDEX_RECENT.clear()  # numbers from before (another database of the same name, dropped) never count
        self.failing = False

    async def pending(self) -> int:
        """How many entries wait (counts the collection: for tests and batch work, not for request paths).

        Entries below the head count only while this worker still looks for them (skipped numbers): an applied
        entry may stay below the head after a crash (its deletion goes beside the head's move) and waits for nothing.
        """
        head = self.head if self.head is not None else await stored_head()
        below = sorted(seq for seq in self._skipped if seq < head)
        return await OutboxEntry.get_pymongo_collection().count_documents({"$or": [{"_id": {"$gte": head}}, {"_id": {"$in": below}}]})

    async def run_once(self, backend: SearchBackend) -> int:
        """Apply the next batch of pending entries; returns how many were applied (0 while backing off).

        Batches of one worker never overlap (`drain` called while `run_forever` runs waits its turn):
        two overlapping batches could apply an older state of a profile after a newer one.
        """
        async with self._lock:
            return await self._run_once(backend)

    def _window(self, top: int) -> list[int]:
        """The numbers to look at this round: skipped ones still watched, then from the head on."""
        assert self.head is not None
        now = time.monotonic()
        for seq, at in list(self._skipped.items()):
            if now - at > SKIPPED_WATCH_S:
                del self._skipped[seq]
        seqs = sorted(self._skipped)
        seq = self.head
        while seq <= top and len(seqs) < self.batch_size:
            if seq not in self._applied:
                seqs.append(seq)
            seq += 1
        return seqs

    async def _run_once(self, backend: SearchBackend) -> int:
        if self.head is None:
            self.head = self._recorded_head = await stored_head()
        top = self.top = await counter_value(OUTBOX_COUNTER)
        if self.head > top and not self._skipped:
            return 0
        seqs = self._window(top)
        entries = outbox.take_handed_entries(seqs)  # entries inserted in this process come from their writers
        coming = outbox.being_inserted([seq for seq in seqs if seq not in entries])  # numbered here, not inserted yet
        entries.update(await read_entries([seq for seq in seqs if seq not in entries and seq not in coming]))
        now = datetime.now(UTC)
        mono = time.monotonic()
        batch: list[OutboxEntry] = []
        documents = 0
        for seq in seqs:
            entry = entries.get(seq)
            if entry is None:
                if seq not in self._skipped:
                    self._missing.setdefault(seq, mono)
                continue
            self._missing.pop(seq, None)
            if _aware(entry.next_attempt_at) > now:
                break  # it backs off; it and everything after it wait
            batch.append(entry)
            documents += 1 + len(entry.more)
            if documents >= MAX_DOCUMENTS:
                break
        if not batch:
            await self._advance(top, mono)
            return 0
        try:
            ready, upserts, deletes, current = await self._resolve(batch, now)
            await self._apply(backend, upserts, deletes, current)
            if ready:  # the index and the exports' mirror show them now: release their writers' waits before the bookkeeping below
                self._remember_applied(ready)
                self._signal_applied()
                INDEX_RECENT.add((e.seq for e in ready), _database_tag())  # and those of the other local processes
                INDEX_APPLIED.bump()
        except Exception as exc:  # noqa: BLE001 - the engine (or loading) failed, whatever the cause: back off, keep order
            await self._back_off(batch, now, exc)
            return 0
        self.failing = False
        for entry in ready:
            self._skipped.pop(entry.seq, None)
            if entry.seq >= self.head:
                self._applied.add(entry.seq)
        # the applied entries' deletion and the head's move are independent commands: sent together (a crash
        # between them leaves at worst applied entries below the head, which nothing reads again)
        await asyncio.gather(self._delete_applied(ready), self._advance(top, mono))
        if ready:
            self._signal_applied()
            INDEX_APPLIED.bump()  # waits in the other local processes look in the store now (catalogue/shared_generation.py)
        return len(ready)

    async def _apply(self, backend: SearchBackend, upserts: list[dict[str, Any]], deletes: list[str], current: list[Profile]) -> None:
        """Put the batch into the index and the exports' mirror, side by side (independent stores, each in a thread
        of its own); raises the first failure once both have finished (the batch backs off and comes again, and
        applying it twice changes nothing)."""

        async def index() -> None:
            if upserts:
                await backend.upsert(upserts)
            if deletes:
                await backend.delete(deletes)

        jobs = [index()] if self.mirror is None else [index(), self.mirror.apply(current, deletes)]
        together = asyncio.gather(*jobs, return_exceptions=True)
        try:
            outcomes = await asyncio.shield(together)
        except asyncio.CancelledError:
            # A stopping worker: its writes run in threads that cannot be stopped. Let them finish, so that none
            # lands after (and over) what the next worker writes.
            await asyncio.wait({together})
            raise
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    @staticmethod
    async def _delete_applied(ready: Sequence[OutboxEntry]) -> None:
        if ready:
            await _delete_carried([e.seq for e in ready if e.landed is not None])  # before the entries: none is left behind
            await _delete_entries([e.seq for e in ready])

    async def _back_off(self, batch: list[OutboxEntry], now: datetime, exc: BaseException) -> None:
        attempts = batch[0].attempts + 1
        retry_at = now + timedelta(seconds=backoff_seconds(attempts, self.base_backoff, self.max_backoff))
        error = f"{type(exc).__name__}: {exc}"[:2000]
        collection = OutboxEntry.get_pymongo_collection()
        for entry in batch:  # by _id, one each
            await collection.update_one(
                {"_id": entry.seq}, {"$inc": {"attempts": 1}, "$set": {"next_attempt_at": retry_at, "last_error": error}}
            )
        log.warning("Suchindex-Abgleich fehlgeschlagen (Versuch %s, nächster Versuch %s): %s", attempts, retry_at, error)
        self.failing = True

    async def _advance(self, top: int, mono: float) -> None:
        """Move the head past applied numbers and long-missing ones; record it when it moved."""
        assert self.head is not None
        while self.head <= top:
            seq = self.head
            if seq in self._applied:
                self._applied.discard(seq)
            elif (since := self._missing.get(seq)) is not None and mono - since >= MISSING_GRACE_S:
                log.warning("Outbox-Eintrag %d fehlt seit %.0f s; der Abgleich geht weiter und sieht noch eine Weile nach ihm", seq, mono - since)
                del self._missing[seq]
                self._skipped[seq] = mono
            else:
                break
            self.head += 1
        for seq in [s for s in self._missing if s < self.head]:
            del self._missing[seq]
        if self.head != self._recorded_head:
            await sync_collection().update_one(
                {"_id": HEAD_ID}, {"$set": {"head": self.head, "updated_at": utcnow()}}, upsert=True
            )
            self._recorded_head = self.head

    async def _resolve(
        self, batch: list[OutboxEntry], now: datetime
    ) -> tuple[list[OutboxEntry], list[dict[str, Any]], list[str], list[Profile]]:
        """The entries whose writes have landed, and the current state of their profiles:
        documents to upsert (any status), ids of profiles that are gone, and the profiles themselves.

        An entry is written before its profile write, so the write may not
        have landed yet: an entry one of whose profiles is missing or older
        than the version it announces waits (it stays in the outbox and is
        looked at again) until the write lands, or LANDING_GRACE_S has passed
        (then the write failed, and the current state is what counts).
        """
        grace = now - timedelta(seconds=LANDING_GRACE_S)
        # a bulk entry whose writer has not yet marked its profiles written waits without reading them
        unmarked = {e.seq for e in batch if e.landed is False and _aware(e.created_at) > grace}
        # profiles a marked bulk entry inserted come with it (their stored documents): not read back, unless
        # another entry of the batch names them too (then their current state is read)
        named = {item.profile_id for e in batch for item in e.items() if not outbox.inserted_by(e, item.profile_id)}
        await _load_carried([e for e in batch if e.seq not in unmarked])
        marked = [e for e in batch if e.seq not in unmarked and e.carried]
        ids = list(dict.fromkeys(item.profile_id for e in batch if e.seq not in unmarked for item in e.items()))
        profiles = await _take_carried(marked, named)
        # profiles this process just wrote come from their writers (catalogue.outbox.hand_over), not read back
        profiles.update(outbox.take_handed([e for e in batch if e.seq not in unmarked], [pid for pid in ids if pid not in profiles]))
        taken = [e for e in batch if e.seq not in unmarked]
        # Without an adoption record to repair first, the summaries are read beside the profiles (one wait less),
        # of every profile named here except those only a bulk insert names (they have none yet).
        early = _summarised(taken) if not any(e.adoption for e in taken) else None
        missing = [pid for pid in ids if pid not in profiles]
        if early is not None:
            read, prefetched = await asyncio.gather(read_profiles(missing), read_adoption_summaries(early))
        else:
            read, prefetched = await read_profiles(missing), {}
        profiles.update(read)
        records = await adoption.read_records([e.adoption for e in taken if e.adoption])
        ready: list[OutboxEntry] = []
        # Per profile, entries apply in order (`batch` is in sequence order): one behind a waiting entry of the
        # same profile waits too. (A bulk entry that inserted a profile is applied without its adoption summary;
        # an adoption entry of that profile, which comes later, must not be applied before it.)
        held: set[str] = set()
        for entry in batch:
            items = entry.items()
            if entry.seq in unmarked or any(item.profile_id in held for item in items):
                landed = False
            elif entry.landed:  # marked by its writer after the writes: whatever did not land failed
                landed = True
            else:
                landed = all(
                    item.version is None or ((p := profiles.get(item.profile_id)) is not None and p.version >= item.version)
                    for item in items
                ) and _adoption_landed(entry, records)
            if landed or _aware(entry.created_at) <= grace:
                ready.append(entry)
            else:
                held.update(item.profile_id for item in items)
        upserts: list[dict[str, Any]] = []
        deletes: list[str] = []
        current: list[Profile] = []
        # adoption entries: the record into its summary first (repairs a summary write lost to a crash)
        await adoption.repair_summaries([records[e.adoption] for e in ready if e.adoption and e.adoption in records])
        ready_ids = list(dict.fromkeys(item.profile_id for e in ready for item in e.items()))
        wanted = [pid for pid in _summarised(ready) if pid in profiles]
        summaries = {pid: prefetched[pid] for pid in wanted if pid in prefetched}
        if early is None or not set(wanted) <= set(early):
            summaries.update(await read_adoption_summaries([pid for pid in wanted if pid not in summaries]))
        for pid in ready_ids:
            profile = profiles.get(pid)
            if profile is not None:
                current.append(profile)
            else:
                deletes.append(pid)
        regions = [await region_of(p) for p in current]  # keyed reads of the register (cached)
        # building the documents (Markdown to text, the field registry) is CPU work: off the event loop
        upserts = await run_cpu(
            lambda: [to_search_document(p, summaries.get(str(p.id)), r) for p, r in zip(current, regions, strict=True)]
        )
        return ready, upserts, deletes, current

    def _signal_applied(self) -> None:
        event, self._applied_signal = self._applied_signal, asyncio.Event()
        event.set()

    def _remember_applied(self, entries: Sequence[OutboxEntry]) -> None:
        for entry in entries:
            self._recent.put(entry.seq, True)

    def _applied_lately(self, entry_id: int | None, tag: int) -> bool:
        """Applied by this process's worker, or by another local process's (INDEX_RECENT), not long ago (a write
        without an entry of its own, `entry_id` None, never is)."""
        return entry_id is not None and (entry_id in self._recent or INDEX_RECENT.contains(entry_id, tag))

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

        Entries this process's own worker has put into the index (its
        commit is what this process's searches read) count as applied
        without a store read; it signals them as soon as the index has
        them, before deleting the entries and moving the head. While that
        worker runs, a wait looks in the store only after WAIT_POLL_S without
        a batch applied. Waits in other processes look the entries up in the store:
        on the embedded store whenever the worker of another local process has
        applied a batch (the shared counter INDEX_APPLIED), else every WAIT_POLL_S.
        An entry still stored below the stored head counts as applied (its
        deletion went wrong after it was applied).
        """
        from catalogue import outbox

        outbox.settled([w.entry_id for w in written])  # not in flight any more: the worker need not wait for them
        tag = _database_tag()
        collection = OutboxEntry.get_pymongo_collection()
        pending: list[Any] = []
        for w in {w.entry_id: w for w in written}.values():
            if w.version is not None and self._applied_lately(w.entry_id, tag):
                continue  # in the index already (applied only once its write had landed)
            if w.version is not None and w.landed:
                pending.append(w.entry_id)  # its writer saw it land: it will be applied
            elif w.version is not None:
                # never applied before its write landed; a write that did not land (it failed) is not waited for
                oid = _object_id(w.profile_id)
                stored = await Profile.get_pymongo_collection().find_one({"_id": oid}, {"version": 1}) if oid else None
                if stored is not None and int(stored.get("version") or 0) >= w.version:
                    pending.append(w.entry_id)
            elif await collection.find_one({"_id": w.entry_id}, {"_id": 1}) is not None:
                pending.append(w.entry_id)
            else:
                pending.append((await outbox.enqueue(w.profile_id, w.slug)).id)
        local = self.running  # this process's worker applies them: its signal tells, no store read needed
        ring = True  # wake another local process's worker on the first look only, not on every batch it applies
        while pending:
            if self.failing:
                return False
            signal = self._applied_signal  # taken before looking, so a batch applied meanwhile is not missed
            shared = INDEX_APPLIED.value()  # likewise for another local process's worker
            still = []
            head: int | None = None
            for entry_id in pending:  # a local worker's commits, else by _id (applied entries are deleted)
                if self._applied_lately(entry_id, tag):
                    continue
                if local:
                    still.append(entry_id)
                    continue
                if await collection.find_one({"_id": entry_id}, {"_id": 1}) is None:
                    continue
                # Still stored: pending, unless the head has passed it (applied, but its deletion went wrong, in a
                # crash or a store error between the deletion and the head's move, which go together).
                head = await stored_head() if head is None else head
                if entry_id >= head:
                    still.append(entry_id)
            pending = still
            if not pending:
                break
            if ring:  # the first look (an entry announced once more above), and after a while without a batch
                self.notify()
                ring = False
            else:
                self._wake.set()  # this process's worker, if it runs here (another process's was rung already)
            try:
                if local or not INDEX_APPLIED.is_open:
                    await asyncio.wait_for(signal.wait(), timeout=WAIT_POLL_S)
                else:
                    await _applied_anywhere(signal, shared)
                local = self.running
            except TimeoutError:
                local = False  # no batch applied for a while (another process's worker, a worker taking over): look in the store
                ring = True
        return True

    async def drain(self, backend: SearchBackend) -> int:
        """Apply everything that is due now (stops at the first failure or when only waiting entries are left)."""
        total = 0
        while (n := await self.run_once(backend)) > 0:
            total += n
        return total

    async def run_forever(self, backend: SearchBackend, stop_event: asyncio.Event) -> None:
        """Poll every `poll_interval` seconds (or when notified) until `stop_event` is set.

        Woken, it lets this process's writes in flight land first (at most `group_wait`;
        group commit: writes close together share one round and commit).

        Errors of the store are logged and polled again; anything else (a
        panic of the engine's library, a cancellation) ends the worker, and
        its supervisor (catalogue/search/writer.py) starts a new one.
        """
        self.running = True
        try:
            await self._run_forever(backend, stop_event)
        finally:
            self.running = False

    async def _run_forever(self, backend: SearchBackend, stop_event: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        listener: socket.socket | None = None
        try:
            while not stop_event.is_set():
                if listener is None and (listener := OUTBOX_WRITTEN.listen()) is not None:
                    # other local processes' writes wake this worker at once (else: at the next poll)
                    loop.add_reader(listener.fileno(), self._rung, listener)
                await self._round(backend, stop_event)
        finally:
            if listener is not None:
                loop.remove_reader(listener.fileno())
                listener.close()

    def _rung(self, listener: socket.socket) -> None:
        drain(listener)
        self._wake.set()

    async def _round(self, backend: SearchBackend, stop_event: asyncio.Event) -> None:
        """One round: apply what is due, then wait for a wake-up (or the poll) unless more is due at once."""
        try:
            applied = await self.run_once(backend)
        except Exception:  # MongoDB unavailable etc.: log and poll again
            log.exception("Suchindex-Abgleich: Outbox nicht lesbar")
            applied = 0
        if applied > 0 and self.head is not None and self.head <= self.top:
            return  # more was waiting when the round began (what came since woke it, or comes with the next poll)
        await woken(self._wake, stop_event, self.poll_interval)
        if self.group_wait > 0:
            with contextlib.suppress(TimeoutError):  # group commit: writes in flight go with this round
                await asyncio.wait_for(outbox.none_in_flight(), timeout=self.group_wait)
        self._wake.clear()  # every entry announced so far is written: the next round sees it

    async def reindex(self, backend: SearchBackend, progress: ProgressCallback | None = None) -> int:
        """Rebuild the index from all profiles (every state), with an atomic swap; returns the count.

        Batch work: the one full read of the profiles collection, streamed. The export mirror
        (if any) is rebuilt from the same read.
        """
        mirror = self.mirror
        if mirror is None:
            return await backend.rebuild(self._documents(None), progress)
        feed = _Feed()
        mirrored = asyncio.create_task(mirror.rebuild(feed.profiles()), name="export-mirror-rebuild")
        feed.consumer = mirrored
        try:
            count = await backend.rebuild(self._documents(feed), progress)
        except BaseException:
            mirrored.cancel()
            raise
        if not feed.complete:  # the engine stopped reading early: no complete set of profiles to mirror
            mirrored.cancel()
            await asyncio.wait({mirrored})
            log.warning("Export-Spiegel nicht neu aufgebaut: das Lesen der Profile endete vorzeitig")
            return count
        try:
            await mirrored
        except Exception:  # the index is rebuilt; the mirror keeps its last complete state and the worker's updates
            log.exception("Export-Spiegel konnte nicht neu aufgebaut werden")
        return count

    async def _documents(self, feed: _Feed | None) -> AsyncIterator[dict[str, Any]]:
        async for profile in Profile.find_all():
            if feed is not None:
                await feed.put(profile)
            yield await index_document(profile, await summary_of(str(profile.id)))
        if feed is not None:
            await feed.put(None)
            feed.complete = True


class _Feed:
    """Hands the profiles of a reindex's one read to the export mirror's rebuild beside it (bounded)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Profile | None] = asyncio.Queue(maxsize=1000)
        self.consumer: asyncio.Task[int] | None = None
        self.complete = False

    async def put(self, profile: Profile | None) -> None:
        if self.consumer is None or self.consumer.done():
            return  # the rebuild failed: the index goes on without it
        put = asyncio.ensure_future(self.queue.put(profile))
        await asyncio.wait({put, self.consumer}, return_when=asyncio.FIRST_COMPLETED)
        if not put.done():
            put.cancel()

    async def profiles(self) -> AsyncIterator[Profile]:
        while (profile := await self.queue.get()) is not None:
            yield profile


def _adoption_landed(entry: OutboxEntry, records: dict[str, dict[str, Any]]) -> bool:
    """An adoption entry has landed when its record holds at least the revision it announces."""
    if not entry.adoption or entry.adoption_revision is None:
        return True
    record = records.get(entry.adoption)
    return record is not None and int(record.get("revision") or 0) >= entry.adoption_revision


async def read_entries(seqs: Sequence[int]) -> dict[int, OutboxEntry]:
    """The outbox entries among `seqs` that exist, read by `_id` one each, a few concurrently."""
    return await read_each(OutboxEntry.get_pymongo_collection(), seqs, parse=OutboxEntry.model_validate, concurrency=READ_CONCURRENCY)


async def _delete_entries(seqs: Sequence[int]) -> None:
    collection = OutboxEntry.get_pymongo_collection()
    semaphore = asyncio.Semaphore(READ_CONCURRENCY)

    async def delete(seq: int) -> None:
        async with semaphore:
            await collection.delete_one({"_id": seq})

    await asyncio.gather(*(delete(s) for s in seqs))


async def read_profiles(profile_ids: Sequence[str]) -> dict[str, Profile]:
    """The profiles that exist among `profile_ids`, read by `_id` one each, a few concurrently (never `$in`).

    Parsing them (CPU work, a few milliseconds each) runs off the event loop.
    """
    oids = {pid: oid for pid in dict.fromkeys(profile_ids) if (oid := _object_id(pid)) is not None}
    found = await read_each(Profile.get_pymongo_collection(), oids.values(), concurrency=READ_CONCURRENCY)
    docs = {pid: found[oid] for pid, oid in oids.items() if oid in found}
    return await run_cpu(lambda: {pid: Profile.model_validate(doc) for pid, doc in docs.items()})


async def _load_carried(entries: Sequence[OutboxEntry]) -> None:
    """The documents the marks of these landed bulk entries carried (catalogue.outbox.carried_collection), by `_id`."""
    wanted = [e for e in entries if outbox.takes_carried(e)]
    if wanted:
        found = await read_each(outbox.carried_collection(), [e.seq for e in wanted], concurrency=READ_CONCURRENCY)
        for entry in wanted:
            outbox.take_carried_document(entry, found.get(entry.seq))


async def _delete_carried(seqs: Sequence[int]) -> None:
    """Delete what marks of these (bulk) entries carried, by `_id` (also of a mark that never came: its writer died)."""
    collection = outbox.carried_collection()
    for seq in seqs:
        await collection.delete_one({"_id": seq})


async def _take_carried(entries: Sequence[OutboxEntry], named: set[str]) -> dict[str, Profile]:
    """The profiles these landed bulk entries carry and inserted, except those in `named`, parsed off the event loop."""
    if not entries:
        return {}
    options = Profile.get_pymongo_collection().codec_options

    def parse() -> dict[str, Profile]:
        docs = {pid: doc for e in entries for pid, doc in outbox.carried_documents(e, options).items() if pid not in named}
        return {pid: Profile.model_validate(doc) for pid, doc in docs.items()}

    return await run_cpu(parse)


async def read_adoption_summaries(profile_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The adoption summaries (catalogue.adoption) of these profiles, by `_id`, a few concurrently."""
    return await read_each(AdoptionSummary.get_pymongo_collection(), [str(p) for p in profile_ids], concurrency=READ_CONCURRENCY)


__all__ = [
    "SYNC_COLLECTION",
    "SearchSync",
    "backoff_seconds",
    "outbox_status",
    "read_adoption_summaries",
    "read_entries",
    "read_profiles",
    "stored_head",
    "sync_collection",
]
