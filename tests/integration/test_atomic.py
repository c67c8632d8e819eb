"""catalogue.atomic: conditional writes by `_id`, the store-wide write lock, both code paths."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from catalogue import atomic
from catalogue.settings import PROJECT_ROOT

T0 = datetime(2025, 1, 1, tzinfo=UTC)
DOCS = [
    {"_id": "a", "status": "preview", "n": 3, "at": T0, "tags": ["x", "y"], "sub": {"k": "v"}, "none": None, "rev": atomic.stored(uuid4())},
    {"_id": "b", "status": "confirmed", "n": 7, "at": T0 + timedelta(hours=1), "tags": [], "sub": {}},
    {"_id": "c", "n": None},
]
CONDITIONS = [
    {"status": "preview"},
    {"status": None},
    {"claim": None},
    {"none": None},
    {"n": {"$gte": 3}},
    {"n": {"$gt": 3}},
    {"n": {"$lt": 7}},
    {"n": {"$lte": 7, "$gt": 2}},
    {"at": {"$gte": T0 + timedelta(minutes=30)}},
    {"at": {"$lt": T0 + timedelta(minutes=30)}},
    {"tags": "x"},
    {"sub.k": "v"},
    {"sub.k": None},
    {"status": {"$in": ["preview", "failed"]}},
    {"status": {"$nin": ["preview"]}},
    {"status": {"$ne": "preview"}},
    {"status": {"$exists": True}},
    {"status": {"$exists": False}},
    {"status": "preview", "n": 3},
    {"status": "preview", "n": 4},
]


@pytest.fixture(params=["store", "mongodb-path"])
def path_mode(request):
    """Run a test with the mode detected for the test store, and again with the MongoDB code path forced."""
    if request.param == "store":
        yield atomic.mode()
        return
    old = atomic.set_mode(atomic.StoreMode(atomic.StoreKind.MONGODB))
    try:
        yield atomic.mode()
    finally:
        atomic.set_mode(old)


async def test_matches_decides_as_the_store_does(db) -> None:
    coll = db["cond"]
    await coll.insert_many([dict(d) for d in DOCS])
    for condition in CONDITIONS:
        by_store = {d["_id"] async for d in coll.find(condition, {"_id": 1})}
        by_python = {d["_id"] for d in DOCS if atomic.matches(d, condition)}
        assert by_python == by_store, condition
    rev = DOCS[0]["rev"].as_uuid()
    assert atomic.matches(await coll.find_one({"_id": "a"}), {"rev": atomic.stored(rev)})
    with pytest.raises(ValueError, match="unsupported"):
        atomic.matches(DOCS[0], {"n": {"$regex": "x"}})
    with pytest.raises(ValueError, match="unsupported"):
        atomic.matches(DOCS[0], {"$or": [{"n": 1}]})


async def test_conditional_writes(db, path_mode) -> None:
    coll = db["cas"]
    assert await atomic.insert(coll, {"_id": "k", "status": "preview", "n": 1})
    assert not await atomic.insert(coll, {"_id": "k", "status": "other"})
    assert await atomic.update_if(coll, "k", {"status": "preview"}, {"$set": {"status": "confirming"}})
    assert not await atomic.update_if(coll, "k", {"status": "preview"}, {"$set": {"status": "again"}})
    doc = await atomic.update_if(coll, "k", {"status": "confirming"}, {"$inc": {"n": 2}}, return_document=True)
    assert doc["n"] == 3
    assert await atomic.update_if(coll, "k", {"status": "nope"}, {"$inc": {"n": 2}}, return_document=True) is None
    assert await atomic.update_if(coll, "missing", {"status": "x"}, {"$set": {"a": 1}}) is False
    assert await atomic.replace_if(coll, "k", {"n": 3}, {"status": "replaced", "n": 4})
    assert not await atomic.replace_if(coll, "k", {"n": 3}, {"status": "lost"})
    assert await coll.find_one({"_id": "k"}) == {"_id": "k", "status": "replaced", "n": 4}
    assert not await atomic.delete_if(coll, "k", {"n": 5})
    assert await atomic.delete_if(coll, "k", {"n": 4})
    assert await atomic.increment(coll, "counter") == 1
    assert await atomic.increment(coll, "counter", by=10) == 11
    with pytest.raises(ValueError):
        await atomic.update_if(coll, "x", {"a": 1}, {"$set": {"b": 1}}, upsert=True)


async def test_concurrent_compare_and_set_has_one_winner(db) -> None:
    coll = db["race"]
    for _ in range(3):
        await coll.delete_many({})
        await atomic.insert(coll, {"_id": "one", "rev": 0, "winner": None})
        start = asyncio.Event()

        async def attempt(n: int, start: asyncio.Event = start) -> bool:
            await start.wait()
            return await atomic.update_if(coll, "one", {"rev": 0}, {"$set": {"rev": 1, "winner": n}})

        tasks = [asyncio.create_task(attempt(n)) for n in range(20)]
        await asyncio.sleep(0)
        start.set()
        results = await asyncio.gather(*tasks)
        assert results.count(True) == 1
        doc = await coll.find_one({"_id": "one"})
        assert doc["winner"] == results.index(True)


COUNTER_CHILD = textwrap.dedent(
    """
    import asyncio, json, sys
    from pymongo import AsyncMongoClient
    from catalogue import atomic
    from catalogue.embedded import instance_info

    async def main(uri, db_name, n):
        client = AsyncMongoClient(uri, tz_aware=True)
        db = client[db_name]
        await atomic.configure(db, lock_dir=await instance_info(client))
        print("ready", flush=True)
        sys.stdin.readline()
        values = await asyncio.gather(*(atomic.increment(db["counters"], "shared") for _ in range(n)))
        print(json.dumps(values), flush=True)
        await client.close()

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
)


async def test_increments_from_two_processes_lose_nothing(db, mongo_uri: str) -> None:
    """The server and a CLI process increment one counter at the same time: every number once."""
    import json

    n = 40
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", COUNTER_CHILD, mongo_uri, db.name, str(n),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=str(PROJECT_ROOT),
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert (await child.stdout.readline()).strip() == b"ready"
    child.stdin.write(b"go\n")
    await child.stdin.drain()
    mine = await asyncio.gather(*(atomic.increment(db["counters"], "shared") for _ in range(n)))
    theirs = json.loads((await child.stdout.readline()).decode())
    assert await child.wait() == 0
    assert sorted(mine + theirs) == list(range(1, 2 * n + 1))


LOCK_HOLDER = textwrap.dedent(
    """
    import fcntl, os, sys, time
    fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("locked", flush=True)
    sys.stdin.readline()
    open(sys.argv[2], "w").write("released")
    fcntl.flock(fd, fcntl.LOCK_UN)
    """
)


async def test_lock_waits_for_another_process_without_blocking_the_loop(tmp_path: Path) -> None:
    lock = atomic.StoreLock(tmp_path / "w.lock")
    marker = tmp_path / "released"
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LOCK_HOLDER, str(lock.path), str(marker), stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert (await holder.stdout.readline()).strip() == b"locked"
    ticks = 0
    entered_after_release: list[bool] = []

    async def writer() -> None:
        async with lock.hold():
            entered_after_release.append(marker.exists())

    async def ticker() -> None:
        nonlocal ticks
        while not entered_after_release:
            ticks += 1
            await asyncio.sleep(0.005)

    task = asyncio.create_task(writer())
    tick_task = asyncio.create_task(ticker())
    await asyncio.sleep(0.2)
    assert not task.done() and ticks >= 5  # waiting, and the loop keeps running
    holder.stdin.write(b"release\n")
    await holder.stdin.drain()
    await asyncio.wait_for(task, 10)
    await tick_task
    assert entered_after_release == [True]
    await holder.wait()


async def test_cancelled_waiter_does_not_keep_the_lock(tmp_path: Path) -> None:
    lock = atomic.StoreLock(tmp_path / "w.lock", timeout=0.3)
    marker = tmp_path / "released"
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LOCK_HOLDER, str(lock.path), str(marker), stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert (await holder.stdout.readline()).strip() == b"locked"

    async def writer() -> None:
        async with lock.hold():
            pass

    with pytest.raises(atomic.StoreBusy):  # a clear 503 instead of waiting forever
        await writer()
    task = asyncio.create_task(writer())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    holder.stdin.write(b"release\n")
    await holder.stdin.drain()
    await holder.wait()
    # The abandoned waiter thread gets the lock when it comes free and gives it back at once.
    patient = atomic.StoreLock(lock.path, timeout=10)
    async with patient.hold():
        pass
