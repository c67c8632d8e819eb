"""One index writer: the sync lease, the worker's supervisor, and index work handed to the writer.

Only one process writes the search index: the one that holds the *sync
lease*, a document in the `search_sync` collection (`_id` "lease") with its
holder and an expiry. A server (`SyncSupervisor`, started by
`catalogue.runtime.Runtime`) tries to take it at start and then every
`tick` seconds; holding it, it renews it, runs the sync worker
(catalogue/search/sync.py), restarts the worker when it dies, and runs the
reindex requests it finds. Processes without the lease serve reads: they
search the index the holder writes (Tantivy readers reload when it
changes on disk; Meilisearch is shared anyway) and wait for their own writes
by outbox `_id`, which works in any process. When the holder dies, its lease
expires after `ttl` seconds and another process takes it over; a holder
that stops releases it at once. Taking and renewing are conditional writes
through catalogue/atomic.py (insert of the `_id`, or a compare-and-set on
the holder or on an expired `expires_at`), so of two takers one wins. A
holder whose renewal fails stops writing before its lease can have run out
(`Lease.held` counts from the last successful renewal, with a margin).

The command line hands its index work to a running server the same way
(`index_written`, `reindex`): it tries to take the lease; if it gets it, no
server runs and it does the work itself while holding it (renewed in the
background); if not, a server holds it, and the CLI writes only to the
store – profiles and their outbox entries for an import, a request document
(`_id` "reindex") for a rebuild – and shows the progress the server's worker
makes, read by key. Should the holder die meanwhile, the CLI takes the
lease and finishes the work itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from catalogue import atomic
from catalogue.models import OutboxEntry, utcnow
from catalogue.outbox import Written
from catalogue.search.sync import sync_collection
from catalogue.shared_generation import INDEX_RECENT

if TYPE_CHECKING:
    from catalogue.runtime import Runtime
    from catalogue.search.base import SearchBackend
    from catalogue.search.sync import SearchSync

log = logging.getLogger("leuchtturm.search.writer")

LEASE_ID = "lease"
REINDEX_ID = "reindex"
DEFAULT_LEASE_S = 10.0
SAFETY = 0.8  # a holder counts its lease as held for this share of `ttl` after the last renewal
STOP_ATTEMPTS = 20  # half-second waits for a cancelled task to end
RESTART_DELAY_S = 1.0  # after the worker died, before a new one starts (doubles while it keeps dying)
MAX_RESTART_DELAY_S = 30.0
STABLE_S = 60.0  # a worker that has run this long has recovered
POLL_S = 0.25  # how often the CLI looks at the server's progress
PROGRESS_EVERY_S = 0.5  # how often a running reindex records its progress
STALE_REQUEST = timedelta(minutes=10)  # a request nobody picked up for this long is replaced by a new one

Progress = Callable[[int, int | None], None]  # (done, total or None)


def holder_name(role: str) -> str:
    """Who holds the lease: role, host, process, and a random part (a process may hold it more than once over time)."""
    return f"{role}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class Lease:
    """The sync lease as seen by one would-be holder; see the module docstring."""

    def __init__(self, role: str, ttl: float = DEFAULT_LEASE_S) -> None:
        self.holder = holder_name(role)
        self.ttl = float(ttl)
        self._valid_until = 0.0  # monotonic

    @property
    def held(self) -> bool:
        """True while this holder may write: within `SAFETY`·ttl of its last successful take or renewal."""
        return time.monotonic() < self._valid_until

    async def acquire(self) -> bool:
        """Take the lease when it is free or expired, or renew it when it is ours; True when it is ours now."""
        coll = sync_collection()
        started = time.monotonic()
        now = utcnow()
        expires = now + timedelta(seconds=self.ttl)
        mine = {"holder": self.holder, "renewed_at": now, "expires_at": expires}
        ok = await atomic.update_if(coll, LEASE_ID, {"holder": self.holder}, {"$set": mine})
        if not ok:
            ok = await atomic.insert(coll, {"_id": LEASE_ID, **mine, "acquired_at": now})
        if not ok:  # someone's lease: take it only when it has run out (compare-and-set: of two takers one wins)
            ok = await atomic.update_if(coll, LEASE_ID, {"expires_at": {"$lte": now}}, {"$set": {**mine, "acquired_at": now}})
        self._valid_until = started + SAFETY * self.ttl if ok else 0.0
        return ok

    async def release(self) -> None:
        """Give the lease up at once (only if it is still ours), so another process can take it."""
        self._valid_until = 0.0
        with contextlib.suppress(Exception):  # the store went away: the lease runs out by itself
            await atomic.delete_if(sync_collection(), LEASE_ID, {"holder": self.holder})


async def lease_state() -> dict[str, Any] | None:
    """The lease document (holder, expires_at) and whether it is live, read by key; None when nobody ever held it."""
    doc = await sync_collection().find_one({"_id": LEASE_ID})
    if doc is None:
        return None
    expires = _aware(doc["expires_at"])
    return {"holder": doc.get("holder"), "expires_at": expires, "live": expires > utcnow()}


@contextlib.asynccontextmanager
async def held_lease(lease: Lease) -> AsyncIterator[None]:
    """Keep `lease` (already taken) renewed while the block runs; release it afterwards."""
    stop = asyncio.Event()

    async def renew() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=lease.ttl / 4)
            if stop.is_set():
                return
            try:
                if not await lease.acquire():
                    log.error("Schreibrecht für den Suchindex verloren")
            except Exception as exc:  # noqa: BLE001 - the store is away for a moment; `held` runs out by itself
                log.warning("Schreibrecht für den Suchindex nicht verlängert: %s", exc)

    task = asyncio.create_task(renew(), name="lease-renewal")
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await lease.release()


# ---------------------------------------------------------------- the server side


@dataclass
class WriterStatus:
    """What /health/ready reports about the index writer."""

    role: str  # "writer" (this process holds the lease) or "reader"
    worker: str  # "running", "dead" (died, restart pending) or "none" (not the writer)
    restarts: int
    last_failure: str | None
    lease_holder: str | None = None
    lease_live: bool = False
    reindex: dict[str, Any] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        """The index is being kept: this process runs a live worker, or another live holder does."""
        if self.role == "writer":
            return self.worker == "running"
        return self.lease_live


class SyncSupervisor:
    """Runs the sync worker while this process holds the lease; restarts it when it dies; runs reindex requests."""

    def __init__(self, runtime: Runtime, *, ttl: float = DEFAULT_LEASE_S, restart_delay: float = RESTART_DELAY_S) -> None:
        self.runtime = runtime
        self.lease = Lease("server", ttl)
        self.tick = min(1.0, ttl / 4)
        self.restart_delay = restart_delay
        self.restarts = 0
        self.last_failure: str | None = None
        self.leading = False
        self._worker: asyncio.Task[None] | None = None
        self._worker_stop = asyncio.Event()
        self._died_at: float | None = None
        self._started_at = 0.0
        self._failures_in_a_row = 0
        self._loop: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._reindex: asyncio.Task[None] | None = None

    # -- life cycle

    async def start(self) -> None:
        """Try the lease once (so a lone server writes from its first request on), then keep watching."""
        try:
            await self._step()
        except Exception as exc:  # noqa: BLE001 - the store answers later; the loop tries again
            log.warning("Schreibrecht für den Suchindex beim Start nicht geprüft: %s", exc)
        self._loop = asyncio.create_task(self._run(), name="search-writer")

    async def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._loop is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._loop, timeout=5)
            self._loop = None
        await self._step_down()
        await self.lease.release()

    async def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.tick)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                await self._step()
            except Exception:  # the store is away for a moment; `held` runs out by itself if it stays away
                log.exception("Schreibrecht für den Suchindex: Prüfung fehlgeschlagen")
                if self.leading and not self.lease.held:
                    await self._step_down()

    async def _step(self) -> None:
        if await self.lease.acquire():
            if not self.leading:
                await self._become_writer()
            if self.leading:
                await self._keep_worker_alive()
                await self._pick_up_reindex()
        elif self.leading:
            log.warning("Schreibrecht für den Suchindex an %s verloren", (await lease_state() or {}).get("holder"))
            await self._step_down()

    async def _become_writer(self) -> None:
        rt = self.runtime
        try:
            await rt.search.acquire_writer()
        except Exception as exc:  # noqa: BLE001 - e.g. the old holder's writer lock not yet free: next tick
            log.warning("Suchindex noch nicht beschreibbar: %s", exc)
            return
        self.leading = True
        log.info("Dieser Prozess schreibt den Suchindex (%s)", self.lease.holder)
        rt.sync.reset()
        await rt.rebuild_if_index_lost()
        self._start_worker()

    async def _step_down(self) -> None:
        was = self.leading
        self.leading = False
        if self._worker is not None:
            self._worker_stop.set()
        for task in (self._reindex, self._worker):
            if task is not None and not task.done():
                task.cancel()
                # bounded: a task that swallowed its cancellation must not hang the shutdown
                for _ in range(STOP_ATTEMPTS):
                    done, _ = await asyncio.wait({task}, timeout=0.5)
                    if done:
                        break
                    task.cancel()
                else:
                    log.warning("Task %s did not stop", task.get_name())
                if task.done() and not task.cancelled():
                    task.exception()  # retrieved, so asyncio does not log it again
        self._reindex = self._worker = None
        if was:
            with contextlib.suppress(Exception):
                await self.runtime.search.release_writer()

    # -- the worker

    def _start_worker(self) -> None:
        self._worker_stop = asyncio.Event()
        self._worker = asyncio.create_task(self.runtime.sync.run_forever(self.runtime.search, self._worker_stop), name="search-sync")
        self._worker.add_done_callback(self._worker_ended)
        self._died_at = None
        self._started_at = time.monotonic()

    def _worker_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._worker_stop.is_set() or task is not self._worker:
            return
        exc = task.exception()
        self.last_failure = f"{type(exc).__name__}: {exc}"[:500] if exc is not None else "beendet"
        self._died_at = time.monotonic()
        self._failures_in_a_row += 1
        log.error("Suchindex-Abgleich ist ausgefallen (%s); er wird neu gestartet", self.last_failure)
        self._wake.set()

    async def _keep_worker_alive(self) -> None:
        rt = self.runtime
        if self._worker is not None and not self._worker.done():
            if self._failures_in_a_row and time.monotonic() - self._started_at > STABLE_S:
                self._failures_in_a_row = 0  # it has run a while: the next failure starts the backoff again
            if rt.search.needs_reindex:  # the index was lost under the running worker
                await rt.rebuild_if_index_lost()
            return
        delay = min(MAX_RESTART_DELAY_S, self.restart_delay * 2 ** min(5, max(0, self._failures_in_a_row - 1)))
        if self._died_at is not None and time.monotonic() - self._died_at < delay:
            return
        self.restarts += 1
        rt.sync.reset()
        # the engine's library may have failed inside (a Tantivy panic): open the index afresh, and
        # rebuild it from the store if it is gone
        try:
            await asyncio.to_thread(rt.search.reopen)
            await rt.search.acquire_writer()
        except Exception as exc:  # noqa: BLE001 - try again on the next tick
            log.warning("Suchindex nach dem Ausfall nicht wieder geöffnet: %s", exc)
            self._died_at = time.monotonic()
            return
        await rt.rebuild_if_index_lost()
        self._start_worker()

    @property
    def worker_alive(self) -> bool:
        return self._worker is not None and not self._worker.done()

    async def status(self) -> WriterStatus:
        state = await lease_state()
        reindex = await sync_collection().find_one({"_id": REINDEX_ID}, {"state": 1, "done": 1, "total": 1})
        return WriterStatus(
            role="writer" if self.leading else "reader",
            worker=("running" if self.worker_alive else "dead") if self.leading else "none",
            restarts=self.restarts,
            last_failure=self.last_failure,
            lease_holder=(state or {}).get("holder"),
            lease_live=bool(state and state["live"]),
            reindex={k: v for k, v in (reindex or {}).items() if k != "_id"},
        )

    # -- reindex requests

    async def _pick_up_reindex(self) -> None:
        if self._reindex is not None and not self._reindex.done():
            return
        doc = await sync_collection().find_one({"_id": REINDEX_ID})
        if doc is None or doc.get("state") not in ("requested", "running"):
            return
        # "running" by another holder (or by this one before a restart): that run is gone; run it again
        taken = await atomic.update_if(
            sync_collection(), REINDEX_ID, {"job": doc["job"], "state": doc["state"], "holder": doc.get("holder")},
            {"$set": {"state": "running", "holder": self.lease.holder, "started_at": utcnow(), "done": 0, "heartbeat_at": utcnow()}},
        )
        if taken:
            self._reindex = asyncio.create_task(self._run_reindex(doc["job"]), name="reindex")

    async def _run_reindex(self, job: str) -> None:
        rt = self.runtime
        total = await rt.search.count()
        try:
            count = await run_reindex_reporting(rt.sync, rt.search, job, total)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # recorded for the one who asked; the index stays as it was
            log.exception("Neuaufbau des Suchindex fehlgeschlagen")
            await atomic.update_if(
                sync_collection(), REINDEX_ID, {"job": job},
                {"$set": {"state": "failed", "error": f"{type(exc).__name__}: {exc}"[:500], "finished_at": utcnow()}},
            )
            return
        await atomic.update_if(
            sync_collection(), REINDEX_ID, {"job": job},
            {"$set": {"state": "done", "count": count, "done": count, "finished_at": utcnow()}},
        )
        log.warning("Suchindex neu aufgebaut: %d Profile (Auftrag %s)", count, job)


async def run_reindex_reporting(sync: SearchSync, backend: SearchBackend, job: str | None, total: int | None) -> int:
    """Rebuild the index, recording the progress in the request `job` (if any) every PROGRESS_EVERY_S."""
    done = 0
    stop = asyncio.Event()

    def progress(n: int) -> None:
        nonlocal done
        done = n

    async def report() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=PROGRESS_EVERY_S)
            if job is not None:
                await atomic.update_if(
                    sync_collection(), REINDEX_ID, {"job": job}, {"$set": {"done": done, "total": total, "heartbeat_at": utcnow()}}
                )

    reporter = asyncio.create_task(report())
    try:
        return await sync.reindex(backend, progress)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await reporter


# ---------------------------------------------------------------- the command line's side


async def own_index_work(rt: Runtime) -> None:
    """This process holds the lease (no server runs): make the index writable here, rebuild it if it is lost."""
    INDEX_RECENT.clear()  # numbers from before (a restored database starts them again) must not count as applied
    await rt.search.acquire_writer()
    await rt.rebuild_if_index_lost()


async def index_written(rt: Runtime, written: Sequence[Written], progress: Progress | None = None, *, ttl: float = DEFAULT_LEASE_S) -> str:
    """Bring the profiles of `written` outbox entries into the index; returns who did: "hier", or the holder's name.

    With a server running (it holds the lease), its worker applies them and
    this waits, showing the progress read by key; without one, this
    process takes the lease and applies them (and whatever else waits)
    itself. Entries are waited for in sequence order: an entry that is gone
    has been applied.
    """
    entries = sorted({w.entry_id: w for w in written}.values(), key=lambda w: w.entry_id)
    total = sum(w.profiles for w in entries)
    collection = OutboxEntry.get_pymongo_collection()
    done = 0
    position = 0
    lease = Lease("cli", ttl)
    state = await lease_state()
    by = str(state["holder"]) if state and state["live"] else "hier"
    while position < len(entries):
        if await collection.find_one({"_id": entries[position].entry_id}, {"_id": 1}) is None:
            done += entries[position].profiles
            position += 1
            continue
        if progress:
            progress(done, total)
        if await lease.acquire():  # nobody else writes the index: apply them here
            by = "hier"
            async with held_lease(lease):
                await own_index_work(rt)
                try:
                    while position < len(entries):
                        await rt.sync.drain(rt.search)
                        while position < len(entries) and await collection.find_one({"_id": entries[position].entry_id}, {"_id": 1}) is None:
                            done += entries[position].profiles
                            position += 1
                        if progress:
                            progress(done, total)
                        if position < len(entries):
                            await asyncio.sleep(POLL_S)  # an entry waits for its write to land (or backs off)
                finally:
                    await rt.search.release_writer()
            break
        await asyncio.sleep(POLL_S)
    if progress:
        progress(total, total)
    return by


async def reindex(rt: Runtime, progress: Progress | None = None, *, ttl: float = DEFAULT_LEASE_S) -> tuple[int, str]:
    """Rebuild the index with an atomic swap; returns (count, who did it: "hier" or the server's name).

    Without a server this process does it; with one, a request document
    asks the server's worker, and this shows its progress until it is done.
    """
    lease = Lease("cli", ttl)
    if await lease.acquire():
        return await _reindex_here(rt, lease, None, progress), "hier"
    job = await _request_reindex(lease.holder)
    coll = sync_collection()
    while True:
        doc = await coll.find_one({"_id": REINDEX_ID})
        if doc is None or doc.get("job") != job:
            raise RuntimeError("Der Auftrag zum Neuaufbau wurde ersetzt oder gelöscht.")
        if progress:
            progress(int(doc.get("done") or 0), doc.get("total"))
        if doc.get("state") == "done":
            return int(doc.get("count") or 0), str(doc.get("holder") or "Server")
        if doc.get("state") == "failed":
            raise RuntimeError(f"Der Server konnte den Suchindex nicht neu aufbauen: {doc.get('error')}")
        if await lease.acquire():  # the server went away before it finished: do it here
            return await _reindex_here(rt, lease, job, progress), "hier"
        await asyncio.sleep(POLL_S)


async def _reindex_here(rt: Runtime, lease: Lease, job: str | None, progress: Progress | None) -> int:
    async with held_lease(lease):
        await rt.search.acquire_writer()
        try:
            total = await rt.search.count()
            count = await rt.sync.reindex(rt.search, (lambda n: progress(n, total)) if progress else None)
            await rt.sync.drain(rt.search)  # what waited in the outbox meanwhile
        finally:
            await rt.search.release_writer()
    if job is not None:
        await atomic.update_if(
            sync_collection(), REINDEX_ID, {"job": job},
            {"$set": {"state": "done", "count": count, "done": count, "holder": lease.holder, "finished_at": utcnow()}},
        )
    return count


async def _request_reindex(requested_by: str) -> str:
    """Ask the lease holder for a rebuild; returns the job id (an open request of someone else is joined)."""
    coll = sync_collection()
    for _ in range(5):
        now = utcnow()
        job = uuid.uuid4().hex
        new = {"job": job, "state": "requested", "requested_by": requested_by, "requested_at": now, "holder": None,
               "done": 0, "total": None, "count": None, "error": None, "heartbeat_at": now}
        if await atomic.insert(coll, {"_id": REINDEX_ID, **new}):
            return job
        doc = await coll.find_one({"_id": REINDEX_ID})
        if doc is None:
            continue
        beat = doc.get("heartbeat_at") or doc.get("requested_at")
        open_request = doc.get("state") in ("requested", "running") and beat is not None and _aware(beat) > now - STALE_REQUEST
        if open_request:
            return str(doc["job"])  # a rebuild is already asked for or running: wait for that one
        if await atomic.update_if(coll, REINDEX_ID, {"job": doc.get("job"), "state": doc.get("state")}, {"$set": new}):
            return job
    raise RuntimeError("Der Auftrag zum Neuaufbau konnte nicht gestellt werden.")


__all__ = [
    "DEFAULT_LEASE_S",
    "Lease",
    "SyncSupervisor",
    "WriterStatus",
    "held_lease",
    "index_written",
    "lease_state",
    "reindex",
]
