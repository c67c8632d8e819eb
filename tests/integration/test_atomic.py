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


async def test_replace_if_runs_first_always_and_along_only_with_a_landed_replacement(db, path_mode) -> None:
    """`first` (an outbox entry) has completed before the replacement is tried, whatever its outcome; `along` (a
    history document) runs only when the condition held. Under 20 concurrent tries: one winner, one `along`."""
    coll, side = db["cas_along"], db["cas_side"]
    await atomic.insert(coll, {"_id": "p", "rev": 0})
    firsts: list[int] = []
    alongs: list[int] = []

    async def attempt(n: int) -> bool:
        async def first() -> None:
            await side.insert_one({"_id": f"entry-{n}"})
            firsts.append(n)

        async def along() -> None:
            await side.insert_one({"_id": f"version-{n}"})
            alongs.append(n)

        return await atomic.replace_if(coll, "p", {"rev": 0}, {"rev": 1, "winner": n}, first=first, along=along)

    results = await asyncio.gather(*(attempt(n) for n in range(20)))
    assert results.count(True) == 1
    winner = results.index(True)
    assert sorted(firsts) == list(range(20)) and alongs == [winner]
    assert await coll.find_one({"_id": "p"}) == {"_id": "p", "rev": 1, "winner": winner}
    assert {d["_id"] async for d in side.find({})} == {f"entry-{n}" for n in range(20)} | {f"version-{winner}"}


async def test_replace_if_under_the_lock_sends_first_beside_the_read_and_along_beside_the_replacement(db) -> None:
    """On the embedded store the compare-and-set costs two sequential round trips with its companions: `first`
    starts before the read of the current document has finished, `along` before the replacement has (each waits
    for the other command to start: run one after the other, they would never finish; the timeout only guards that)."""
    if not atomic.mode().locking:
        pytest.skip("the MongoDB path sends the conditional replacement as one command")
    coll = db["cas_beside"]
    await atomic.insert(coll, {"_id": "p", "rev": 0})
    started: dict[str, asyncio.Event] = {"find": asyncio.Event(), "replace": asyncio.Event()}
    original_find, original_replace = type(coll).find_one, type(coll).replace_one

    async def find_one(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        started["find"].set()
        await started["first"].wait()
        return await original_find(self, *args, **kwargs)

    async def replace_one(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        started["replace"].set()
        await started["along"].wait()
        return await original_replace(self, *args, **kwargs)

    started["first"], started["along"] = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        started["first"].set()
        await started["find"].wait()

    async def along() -> None:
        started["along"].set()
        await started["replace"].wait()

    mp = pytest.MonkeyPatch()
    mp.setattr(type(coll), "find_one", find_one)
    mp.setattr(type(coll), "replace_one", replace_one)
    try:
        async with asyncio.timeout(10):
            assert await atomic.replace_if(coll, "p", {"rev": 0}, {"rev": 1}, first=first, along=along)
    finally:
        mp.undo()
    assert await coll.find_one({"_id": "p"}) == {"_id": "p", "rev": 1}
