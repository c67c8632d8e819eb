"""Atomic conditional writes by `_id`, on MongoDB and on the embedded FerretDB.

Every conditional write of the catalogue (If-Match checks, workflow
transitions, slug reservation, import confirmation, login counters, token
use, counters) goes through this module. The condition is a small filter on
top of the `_id` (`{"revision_id": r}`, `{"status": "preview"}`,
`{"window_start": {"$gte": t}}` …):

* **MongoDB**: one command with the filter `{_id: id, **condition}`; the
  server applies it atomically on the `_id` index.
* **FerretDB 1.24 (SQLite)** pushes down only `{_id: value}`, scans the
  whole collection for any other filter, and runs every update as a read
  followed by a write without a transaction. So here the write runs under
  one store-wide write lock: read the document by `_id`, check the
  condition in Python (`matches`), write by `_id`. The lock is an `flock`
  on a file next to FerretDB's SQLite files (every process that talks to the
  same FerretDB finds the same file: see `catalogue.embedded.instance_info`)
  plus an asyncio lock per event loop; a contended `flock` is waited for in
  a thread, never on the event loop.

`configure` picks the mode when the store is opened (buildInfo answers
`ferretdbVersion` on FerretDB). Inserts need no lock on either store: the
unique `_id` decides (`insert` returns False for a taken `_id`).

Nested use within one task is allowed (the lock is re-entrant per task);
do not start concurrent tasks while holding it, except commands that end
before it is released (`replace_if` runs two at a time under it).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import fcntl
import hashlib
import logging
import os
import tempfile
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, overload
from uuid import UUID

from bson import Binary
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from catalogue.errors import DependencyUnavailable

log = logging.getLogger("leuchtturm.store")

LOCK_FILE = "leuchtturm-write.lock"
LOCK_TIMEOUT_S = 30.0


class StoreKind(StrEnum):
    MONGODB = "mongodb"
    FERRETDB = "ferretdb"


class StoreBusy(DependencyUnavailable):
    """The store's write lock was not free within LOCK_TIMEOUT_S."""

    def __init__(self) -> None:
        super().__init__("Die Datenbank ist gerade ausgelastet. Bitte versuchen Sie es in einem Moment erneut.")


# ------------------------------------------------------------------ the lock

_lock_threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="store-lock")
_held: contextvars.ContextVar[bool] = contextvars.ContextVar("leuchtturm_store_lock_held", default=False)


class StoreLock:
    """One exclusive lock shared by every process and task that writes to one store.

    `flock` on a fresh file descriptor per acquisition excludes other
    processes *and* other threads or event loops of this process; the
    asyncio lock (one per loop) keeps the tasks of one loop from parking
    threads on the `flock`.
    """

    def __init__(self, path: Path, timeout: float = LOCK_TIMEOUT_S) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._loop_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()

    def _local(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._loop_locks.get(loop)
        if lock is None:
            lock = self._loop_locks[loop] = asyncio.Lock()
        return lock

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        if _held.get():
            yield  # re-entered by the task that holds it
            return
        local = self._local()
        try:
            await asyncio.wait_for(local.acquire(), self.timeout)
        except TimeoutError:
            raise StoreBusy from None
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                await self._wait_for_flock(fd)  # closes fd itself when it fails
            except BaseException:
                os.close(fd)
                raise
            token = _held.set(True)
            try:
                yield
            finally:
                _held.reset(token)
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
        finally:
            local.release()

    async def _wait_for_flock(self, fd: int) -> None:
        """Block in a thread until the flock is ours; on timeout or cancellation release it when it comes."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(_lock_threads, fcntl.flock, fd, fcntl.LOCK_EX)
        try:
            await asyncio.wait_for(asyncio.shield(future), self.timeout)
        except BaseException as exc:

            def give_back(f: asyncio.Future[None]) -> None:
                if not f.cancelled() and f.exception() is None:
                    with contextlib.suppress(OSError):
                        fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

            future.add_done_callback(give_back)
            if isinstance(exc, TimeoutError):
                raise StoreBusy from None
            raise


# ------------------------------------------------------------- configuration


@dataclass
class StoreMode:
    kind: StoreKind
    lock: StoreLock | None = None

    @property
    def locking(self) -> bool:
        return self.kind == StoreKind.FERRETDB


_mode = StoreMode(StoreKind.MONGODB)


def mode() -> StoreMode:
    return _mode


def set_mode(new: StoreMode) -> StoreMode:
    """Replace the mode (tests use it to run the MongoDB code path); returns the old one."""
    global _mode
    old, _mode = _mode, new
    return old


async def detect_kind(database: AsyncDatabase[Any]) -> StoreKind:
    info = await database.client.admin.command("buildInfo")
    return StoreKind.FERRETDB if "ferretdbVersion" in info else StoreKind.MONGODB


def fallback_lock_path(address: str) -> Path:
    """Lock file for a FerretDB whose data directory is unknown: one per server address on this machine."""
    digest = hashlib.sha256(address.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"leuchtturm-store-{digest}.lock"


async def configure(database: AsyncDatabase[Any], *, lock_dir: Path | None = None) -> StoreMode:
    """Pick the write mode for the store behind `database` (called when the store is opened)."""
    kind = await detect_kind(database)
    if kind == StoreKind.MONGODB:
        return _install(StoreMode(kind))
    if lock_dir is not None and await asyncio.to_thread(lock_dir.is_dir):
        path = lock_dir / LOCK_FILE
    else:
        address = ",".join(f"{h}:{p}" for h, p in sorted(database.client.nodes or [("unknown", 0)]))
        path = fallback_lock_path(address)
        log.warning("FerretDB data directory unknown; store write lock at %s (only processes on this machine share it)", path)
    current = _mode
    if current.lock is not None and current.lock.path == path and current.kind == kind:
        return current  # keep the per-loop asyncio locks
    return _install(StoreMode(kind, StoreLock(path)))


def _install(new: StoreMode) -> StoreMode:
    set_mode(new)
    return new


@contextlib.asynccontextmanager
async def write_lock() -> AsyncIterator[None]:
    """The store write lock (a no-op on MongoDB, whose conditional filters are atomic)."""
    m = _mode
    if not m.locking or m.lock is None:
        yield
        return
    async with m.lock.hold():
        yield


# ---------------------------------------------------------------- conditions


def _plain(value: Any) -> Any:
    """Comparable form of a stored value (UUIDs stored as binary subtype 4, naive datetimes as UTC)."""
    if isinstance(value, Binary) and value.subtype == 4:
        return value.as_uuid()
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def plain(value: Any) -> Any:
    """A stored value as Python compares it (a UUID stored as binary subtype 4 → UUID; naive datetime → UTC)."""
    return _plain(value)


_MISSING = object()


def _lookup(doc: Mapping[str, Any], path: str) -> Any:
    current: Any = doc
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        else:
            return _MISSING
    return current


def _equal(actual: Any, expected: Any) -> bool:
    expected = _plain(expected)
    if expected is None:
        return actual is _MISSING or actual is None
    if actual is _MISSING:
        return False
    actual = _plain(actual)
    if isinstance(actual, list) and not isinstance(expected, list):
        return any(_plain(a) == expected for a in actual)
    return bool(actual == expected)


def _compare(actual: Any, op: str, expected: Any) -> bool:
    if actual is _MISSING or actual is None:
        return False
    a, b = _plain(actual), _plain(expected)
    try:
        if op == "$lt":
            return bool(a < b)
        if op == "$lte":
            return bool(a <= b)
        if op == "$gt":
            return bool(a > b)
        return bool(a >= b)
    except TypeError:
        return False  # different BSON types never match a range


def _match_value(actual: Any, spec: Any) -> bool:
    if isinstance(spec, Mapping) and spec and all(str(k).startswith("$") for k in spec):
        for op, arg in spec.items():
            if op == "$eq":
                ok = _equal(actual, arg)
            elif op == "$ne":
                ok = not _equal(actual, arg)
            elif op == "$in":
                ok = any(_equal(actual, v) for v in arg)
            elif op == "$nin":
                ok = not any(_equal(actual, v) for v in arg)
            elif op in ("$lt", "$lte", "$gt", "$gte"):
                ok = _compare(actual, op, arg)
            elif op == "$exists":
                ok = (actual is not _MISSING) == bool(arg)
            else:
                raise ValueError(f"unsupported operator in a store condition: {op}")
            if not ok:
                return False
        return True
    return _equal(actual, spec)


def matches(doc: Mapping[str, Any], condition: Mapping[str, Any]) -> bool:
    """Does `doc` satisfy `condition`, as MongoDB would decide it?

    Supports what conditional writes need: equality (None also matches a
    missing field; a scalar matches an array containing it), `$eq`, `$ne`,
    `$in`, `$nin`, `$lt`, `$lte`, `$gt`, `$gte`, `$exists`, on top-level or
    dotted fields. Anything else raises ValueError, so a condition is never
    silently ignored.
    """
    for path, spec in condition.items():
        if path.startswith("$"):
            raise ValueError(f"unsupported top-level operator in a store condition: {path}")
        if not _match_value(_lookup(doc, path), spec):
            return False
    return True


def stored(value: Any) -> Any:
    """A Python value as it is stored and compared (UUID → binary subtype 4, as Beanie writes it)."""
    if isinstance(value, UUID):
        return Binary.from_uuid(value)
    return value


# -------------------------------------------------------------- the writes


async def insert(collection: AsyncCollection[Any], document: Mapping[str, Any]) -> bool:
    """Insert a document with its `_id`; False when the `_id` is taken (atomic on both stores)."""
    try:
        await collection.insert_one(dict(document))
    except DuplicateKeyError:
        return False
    return True


@overload
async def update_if(
    collection: AsyncCollection[Any],
    _id: Any,
    condition: Mapping[str, Any] | None,
    update: Mapping[str, Any],
    *,
    upsert: bool = False,
    return_document: Literal[False] = False,
) -> bool: ...


@overload
async def update_if(
    collection: AsyncCollection[Any],
    _id: Any,
    condition: Mapping[str, Any] | None,
    update: Mapping[str, Any],
    *,
    upsert: bool = False,
    return_document: Literal[True],
) -> dict[str, Any] | None: ...


async def update_if(
    collection: AsyncCollection[Any],
    _id: Any,
    condition: Mapping[str, Any] | None,
    update: Mapping[str, Any],
    *,
    upsert: bool = False,
    return_document: bool = False,
) -> dict[str, Any] | bool | None:
    """Apply `update` to the document `_id` if it satisfies `condition`.

    Returns the document after the update when `return_document` (None when
    no document matched), else whether one did. `upsert` is only allowed
    without a condition.
    """
    condition = dict(condition or {})
    if upsert and condition:
        raise ValueError("upsert with a condition is ambiguous; insert first, then update with the condition")
    if not _mode.locking:
        filt = {"_id": _id, **condition}
        if return_document:
            return await collection.find_one_and_update(filt, dict(update), upsert=upsert, return_document=ReturnDocument.AFTER)
        result = await collection.update_one(filt, dict(update), upsert=upsert)
        return result.matched_count == 1 or result.upserted_id is not None
    async with write_lock():
        if condition:
            current = await collection.find_one({"_id": _id})
            if current is None or not matches(current, condition):
                return None if return_document else False
        if return_document:
            return await collection.find_one_and_update({"_id": _id}, dict(update), upsert=upsert, return_document=ReturnDocument.AFTER)
        result = await collection.update_one({"_id": _id}, dict(update), upsert=upsert)
        return result.matched_count == 1 or result.upserted_id is not None


async def _both(a: Awaitable[Any], b: Awaitable[Any]) -> tuple[Any, Any]:
    """Run two commands concurrently; both have ended when this returns or raises (none outlives the lock)."""
    results = await asyncio.gather(a, b, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results[0], results[1]


async def replace_if(
    collection: AsyncCollection[Any],
    _id: Any,
    condition: Mapping[str, Any] | None,
    document: Mapping[str, Any],
    *,
    first: Callable[[], Awaitable[Any]] | None = None,
    along: Callable[[], Awaitable[Any]] | None = None,
) -> bool:
    """Replace the document `_id` by `document` if it satisfies `condition` (compare-and-set).

    `first`: a command that must have completed before the replacement is
    tried (whatever its outcome), e.g. the outbox entry that announces it.
    `along`: a command that goes with a replacement that lands, e.g. its
    history document; it is not run when the condition does not hold.
    On FerretDB both run under the lock beside the commands they need not
    follow: `first` beside the read of the current document, `along` beside
    the replacement (the read-check under the lock has decided it lands), so
    the write costs two sequential round trips instead of four. On MongoDB
    `first` runs before the conditional replacement and `along` after it.
    If the replacement raises, `along` may have completed anyway (the caller
    undoes it if it must).
    """
    condition = dict(condition or {})
    if not _mode.locking:
        if first is not None:
            await first()
        result = await collection.replace_one({"_id": _id, **condition}, dict(document))
        if result.matched_count == 1 and along is not None:
            await along()
        return result.matched_count == 1
    async with write_lock():
        # only the fields the condition looks at come back (no decoding of the whole document)
        read = collection.find_one({"_id": _id}, dict.fromkeys(condition, 1) or {"_id": 1})
        if first is not None:
            current, _ = await _both(read, first())
        else:
            current = await read
        if current is None or not matches(current, condition):
            return False
        replace = collection.replace_one({"_id": _id}, dict(document))
        if along is not None:
            result, _ = await _both(replace, along())
        else:
            result = await replace
        return result.matched_count == 1


async def delete_if(collection: AsyncCollection[Any], _id: Any, condition: Mapping[str, Any] | None = None) -> bool:
    """Delete the document `_id` if it satisfies `condition`."""
    condition = dict(condition or {})
    if not _mode.locking or not condition:
        result = await collection.delete_one({"_id": _id, **condition})
        return result.deleted_count == 1
    async with write_lock():
        current = await collection.find_one({"_id": _id})
        if current is None or not matches(current, condition):
            return False
        result = await collection.delete_one({"_id": _id})
        return result.deleted_count == 1


async def increment(collection: AsyncCollection[Any], _id: Any, field: str = "value", by: int = 1) -> int:
    """Atomically add `by` to the number `field` of document `_id` (created at 0); returns the new value."""
    doc = await update_if(collection, _id, None, {"$inc": {field: int(by)}}, upsert=True, return_document=True)
    assert doc is not None  # an upsert always returns the document
    return int(doc[field])


__all__ = [
    "StoreBusy",
    "StoreKind",
    "StoreLock",
    "StoreMode",
    "configure",
    "delete_if",
    "increment",
    "insert",
    "matches",
    "mode",
    "plain",
    "replace_if",
    "set_mode",
    "stored",
    "update_if",
    "write_lock",
]
