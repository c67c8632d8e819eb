"""Where a PATCH's CPU goes, end to end, in process: handler, sync worker, Tantivy commit and merges.

Reproduce:

    .venv/bin/python benchmarks/write_path.py [--count 10000] [--writes 40] [--bursts 10] [--data-dir DIR]

Steps (everything in a temporary data directory unless `--data-dir` names one
to reuse; the server must not run on it):
 1. Import `--count` synthetic profiles (benchmarks/read_paths.py's `loaded_store`),
    create 8 editors with a token each (once per data directory).
 2. Build the app in this process (embedded FerretDB, Tantivy), run its
    lifespan, send requests through httpx's ASGI transport. Each editor
    creates one draft.
 3. Sequential: `--writes` PATCHes with If-Match of the editors' own drafts in
    turn, one at a time (each answers once the index has it: read-your-writes;
    the drafts in turn, so each commit's small segment lives on, as under the
    mixed load, and Tantivy's merges run as there).
    Then 1 s of quiet, so merges started by these commits are counted too.
 4. Bursts: `--bursts` times, the 8 editors PATCH their drafts at the same
    moment (then 1 s of quiet each): how many index commits a burst costs.
With `--profile`: cProfile of the event loop during the sequential PATCHes.
Per phase: wall p50/p95 per PATCH, this process's CPU per PATCH split by thread
(the event loop = handler, client and worker in Python; `python` = Python's other
threads: the CPU pool building documents, the thread that applies and commits
to Tantivy; Tantivy's own threads: `segment_updater`, `merge_thread` = merges), index commits per PATCH, the
CPU of the commit calls (apply, commit, reload) measured in their thread, and
the store commands per PATCH, the request's own (PyMongo command monitoring,
the request's task) and the rest (the sync worker), with their names.
FerretDB's CPU is not in these figures (it runs in its own process).
Figures measured while other work runs on the machine are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import cProfile
import json
import logging
import os
import pstats
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pymongo import monitoring

from benchmarks._server import thread_cpu
from benchmarks.read_paths import PASSWORD, cli, loaded_store, pct

EDITORS = 8
_request: contextvars.ContextVar[bool] = contextvars.ContextVar("write_path_request", default=False)
_commands: dict[str, Counter[str]] = {"request": Counter(), "other": Counter()}
_settles: list[float] = []  # ms each PATCH waited for the index (read-your-writes), this phase


class _Recorder(monitoring.CommandListener):
    def started(self, event: monitoring.CommandStartedEvent) -> None:
        _commands["request" if _request.get() else "other"][f"{event.command_name} {event.command.get(event.command_name)}"] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


monitoring.register(_Recorder())


class _Commits:
    """Counts the backend's commits and the CPU of its write calls (in the thread that makes them)."""

    def __init__(self) -> None:
        self.count = 0
        self.cpu: Counter[str] = Counter()
        self.wall: list[float] = []  # ms each write call took (its thread waits on the disk too: fsync)

    def install(self, backend: Any) -> None:
        name = "_carry" if hasattr(backend, "_carry") else "_apply"  # the latter: the code before carrying (a comparison)
        writer_apply, write = getattr(backend, name), backend._write  # noqa: SLF001 - measured in place
        stats = self

        def timed_apply(writer: Any, *args: Any) -> Any:
            t0 = time.thread_time()
            carried = writer_apply(writer, *args)
            stats.cpu["apply (documents into the writer)"] += time.thread_time() - t0
            return carried

        def timed_write(op: str, payload: list[Any]) -> None:
            t0, w0 = time.thread_time(), time.perf_counter()
            write(op, payload)
            stats.count += 1
            stats.cpu["write call total (apply+commit+reload)"] += time.thread_time() - t0
            stats.wall.append((time.perf_counter() - w0) * 1000)

        setattr(backend, name, timed_apply)
        backend._write = timed_write  # noqa: SLF001


async def phase(name: str, rounds: int, one_round: Any, commits: _Commits, per_round: int) -> None:
    for c in _commands.values():
        c.clear()
    _settles.clear()
    commits.count = 0
    commits.cpu.clear()
    commits.wall.clear()
    times: list[float] = []
    cpu0, threads0, wall0 = time.process_time(), thread_cpu(), time.perf_counter()
    for _ in range(rounds):
        times.extend(await one_round())
    await asyncio.sleep(1.0)  # merges the commits started
    cpu, threads = time.process_time() - cpu0, thread_cpu() - threads0
    writes = rounds * per_round
    wall = time.perf_counter() - wall0 - 1.0
    print(f"\n{name}: {writes} PATCHes in {wall:.1f} s, p50 {statistics.median(times):.1f} ms, p95 {pct(times, 95):.1f} ms; "
          f"commits {commits.count} ({commits.count / writes:.2f} per PATCH)")
    if _settles:
        print(f"  of that waiting for the index (read-your-writes): p50 {statistics.median(_settles):.1f} ms, p95 {pct(_settles, 95):.1f} ms")
    print(f"  process CPU per PATCH {cpu * 1000 / writes:.1f} ms, by thread:")
    for group, seconds in threads.most_common():
        if seconds > 0:
            print(f"    {group:<28} {seconds * 1000 / writes:6.1f} ms")
    print("  write calls (thread CPU per PATCH):")
    for part, seconds in commits.cpu.items():
        print(f"    {part:<40} {seconds * 1000 / writes:6.1f} ms")
    if commits.wall:
        print(f"  write call wall time per call: p50 {statistics.median(commits.wall):.1f} ms, p95 {pct(commits.wall, 95):.1f} ms")
    for who, counted in _commands.items():
        total = sum(counted.values())
        per = ", ".join(f"{k} ×{v / writes:.1f}" for k, v in counted.most_common())
        print(f"  store commands per PATCH, {who:<7}: {total / writes:.1f} ({per})")


async def run(args: argparse.Namespace, data_dir: Path, env: dict[str, str], tokens: list[str]) -> None:
    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)
    os.environ.update(env)
    from api.app import create_app
    from catalogue.settings import Settings

    app = create_app(Settings(_env_file=None))
    async with app.lifespan():
        commits = _Commits()
        commits.install(app.state.runtime.search)
        runtime = app.state.runtime
        settle = runtime.settle

        async def timed_settle(written: Any, *args: Any, **kwargs: Any) -> bool:
            t0 = time.perf_counter()
            try:
                return bool(await settle(written, *args, **kwargs))
            finally:
                _settles.append((time.perf_counter() - t0) * 1000)

        runtime.settle = timed_settle
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench.local") as client:
            drafts: list[tuple[dict[str, str], str, list[str]]] = []
            for n, token in enumerate(tokens):
                headers = {"Authorization": f"Bearer {token}"}
                r = await client.post("/api/v1/profiles", json={"title": f"Schreibprobe {n}", "summary": "Erste Fassung."}, headers=headers)
                if r.status_code != 201:
                    sys.exit(f"POST: {r.status_code} {r.text[:300]}")
                drafts.append((headers, r.json()["slug"], [r.headers["etag"]]))
            counter = iter(range(10**9))

            async def patch(n: int) -> float:
                headers, slug, tag = drafts[n]
                t = _request.set(True)
                t0 = time.perf_counter()
                try:
                    r = await client.patch(f"/api/v1/profiles/{slug}", json={"summary": f"Fassung {next(counter)} des Entwurfs."},
                                           headers={**headers, "If-Match": tag[0]})
                finally:
                    _request.reset(t)
                if r.status_code != 200:
                    sys.exit(f"PATCH {slug}: {r.status_code} {r.text[:300]}")
                tag[0] = r.headers["etag"]
                return (time.perf_counter() - t0) * 1000

            for n in range(3):  # warm-up
                await patch(n % EDITORS)

            turn = iter(range(10**9))

            async def sequential() -> list[float]:  # the drafts in turn: each commit's segment lives on (as in the mixed load)
                return [await patch(next(turn) % EDITORS)]

            async def burst() -> list[float]:
                times = list(await asyncio.gather(*(patch(n) for n in range(EDITORS))))
                await asyncio.sleep(1.0)
                return times

            profiler = cProfile.Profile() if args.profile else None
            if profiler is not None:
                profiler.enable()
            await phase("Einzeln (one PATCH at a time)", args.writes, sequential, commits, 1)
            if profiler is not None:
                profiler.disable()
                stats = pstats.Stats(profiler).strip_dirs()
                stats.sort_stats("cumulative").print_stats(args.top)
                stats.sort_stats("tottime").print_stats(args.top)
            await phase(f"Stoß ({EDITORS} PATCHes at once, 1 s apart)", args.bursts, burst, commits, EDITORS)


def editors(data_dir: Path, env: dict[str, str]) -> list[str]:
    marker = data_dir / "write-path.json"
    if marker.exists():
        return list(json.loads(marker.read_text())["tokens"])
    tokens = []
    for n in range(EDITORS):
        cli({**os.environ, **env}, "user", "create", f"bench-schreib-{n}", "--role", "editor", "--password-stdin", stdin=PASSWORD + "\n")
        tokens.append(cli({**os.environ, **env}, "token", "create", f"bench-schreib-{n}", "--name", "benchmark").strip())
    marker.write_text(json.dumps({"tokens": tokens}))
    return tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--writes", type=int, default=40)
    parser.add_argument("--bursts", type=int, default=10)
    parser.add_argument("--profile", action="store_true", help="cProfile of the event loop during the sequential PATCHes")
    parser.add_argument("--top", type=int, default=40, help="functions shown per profile listing")
    parser.add_argument("--data-dir", default="", help="reuse this data directory (imported on the first run)")
    args = parser.parse_args()
    data_dir, env = loaded_store(args.data_dir, "leuchtturm-writes-", args.count)
    tokens = editors(data_dir, env)
    print(f"{args.count} Profile, Daten in {data_dir}; in einem Prozess, ohne HTTP (Messwerte auf geteilter Maschine verrauscht)", flush=True)
    asyncio.run(run(args, data_dir, env, tokens))
    print(f"\nBefehl: .venv/bin/python benchmarks/write_path.py --count {args.count} --writes {args.writes} --bursts {args.bursts}"
          + (" --profile" if args.profile else "") + (f" --data-dir {data_dir}" if args.data_dir else ""))


if __name__ == "__main__":
    main()
