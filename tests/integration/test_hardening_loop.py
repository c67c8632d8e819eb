"""Issue 13, "no request blocks the event loop for more than 100 ms" (the one test that measures time, because
the issue asks for it).

During a concurrent run of 10 logins, 5 history views of 5 × 20,000-character fields and a 10 MB upload,
a probe task on the app's event loop ticks every 5 ms. Between two ticks, whatever ran on the loop thread
ran without yielding; the test asserts on the **CPU time of the loop thread** between consecutive ticks
(time.thread_time), not on wall-clock gaps: on a loaded 2-core machine the operating system may not
schedule the process for a while, and worker threads compete for the GIL – neither is the loop being
blocked by a request, and neither counts as CPU time of the loop thread. The wall-clock latency of
/health/live during the run is printed for the record (docs/RELIABILITY.md), not asserted.
"""

from __future__ import annotations

import asyncio
import json
import time

from catalogue.users import create_user
from catalogue.vocabularies import Role
from tests.integration.test_hardening_history import long_history_profile, web_login
from tests.web_support import PASSWORD, seed_users

BLOCK_LIMIT = 0.100  # seconds of loop-thread CPU between two probe ticks


def ten_mb_ndjson() -> bytes:
    line = json.dumps({"title": "Gemeinsamer Bauhof Nummer {n}", "summary": "x" * 420}, ensure_ascii=False)
    body = "".join(line.replace("{n}", str(n)) + "\n" for n in range(10 * 1024 * 1024 // (len(line) + 1)))
    return body.encode()


async def test_finding_no_request_blocks_the_loop_for_100_ms(client, auth) -> None:
    await seed_users()
    for n in range(10):
        await create_user(f"kollege-{n}", PASSWORD, Role.EDITOR)
    slug = await long_history_profile(seed=3)
    await web_login(client)
    upload = ten_mb_ndjson()
    assert len(upload) > 9.5 * 1024 * 1024

    stop = asyncio.Event()
    cpu_gaps: list[float] = []
    health_ms: list[float] = []

    async def probe() -> None:
        last = time.thread_time()
        while not stop.is_set():
            await asyncio.sleep(0.005)
            now = time.thread_time()
            cpu_gaps.append(now - last)
            last = now

    async def health() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            r = await client.get("/health/live")
            assert r.status_code == 200
            health_ms.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.02)

    async def login(n: int) -> int:
        r = await client.post("/api/v1/auth/token", json={"username": f"kollege-{n}", "password": PASSWORD})
        return r.status_code

    async def history() -> int:
        r = await client.get(f"/profiles/{slug}/versionen", params={"von": 1, "bis": 2})
        return r.status_code

    async def big_upload() -> int:
        r = await client.post(
            "/api/v1/imports", content=upload, params={"filename": "gross.ndjson"},
            headers={**auth["editor"], "Content-Type": "application/x-ndjson"},
        )
        return r.status_code

    watchers = [asyncio.create_task(probe()), asyncio.create_task(health())]
    await asyncio.sleep(0.05)
    statuses = await asyncio.gather(*(login(n) for n in range(10)), *(history() for _ in range(5)), big_upload())
    stop.set()
    await asyncio.gather(*watchers)

    assert statuses[:10] == [201] * 10 and statuses[10:15] == [200] * 5
    assert statuses[15] == 413  # 10 MB of NDJSON with more records than a preview holds: refused while parsing
    worst = max(cpu_gaps)
    print(  # noqa: T201 - the figure for docs/RELIABILITY.md
        f"\nloop probe: {len(cpu_gaps)} ticks, worst loop-thread CPU between ticks {worst * 1000:.1f} ms; "
        f"/health/live wall clock: {len(health_ms)} requests, max {max(health_ms):.0f} ms, "
        f"median {sorted(health_ms)[len(health_ms) // 2]:.0f} ms"
    )
    assert worst < BLOCK_LIMIT, f"the loop ran {worst * 1000:.0f} ms of CPU without yielding"
