"""One profile's read paths in process: time, store round-trips and a CPU profile per request.

Reproduce:

    .venv/bin/python benchmarks/read_paths.py [--count 1000] [--reads 40] [--hot 20] [--profile page] [--data-dir DIR]

Steps (everything in a temporary data directory unless `--data-dir` names one
to reuse; the server must not run on it):
 1. Import `--count` synthetic profiles (benchmarks/synthetic.py) as published
    with `leuchtturm import --publish` (no server: the CLI indexes them itself),
    create an editor with a token and one profile with 12 versions.
 2. Build the app in this process (embedded FerretDB, Tantivy), run its
    lifespan, and send requests through httpx's ASGI transport (no HTTP, no
    second process), one at a time: the profile page, the API read by slug,
    similar and the history, for random slugs (with `--hot N`: of N random
    profiles only, so the same revision is read again, as for popular profiles);
    a search, the list, a filtered list, comparable, "Meine Profile" (editor's
    token) and the review queue (a reviewer's token), as benchmarks/scale.py
    sends them; and the page and "Meine Profile" for a signed-in browser (a
    session cookie).
 3. Per read: p50/p95 in ms, this process's CPU time per request (every
    thread: the app's, the search threads', the driver's; not FerretDB's), the main thread's share of it (the event
    loop's, the in-process client's included) and the store commands per request (PyMongo
    command monitoring, only the request's own task: the sync worker beside it
    is not counted), with their names.
 4. With `--profile NAME`: cProfile around `--reads` requests of that read, the
    top functions by own and by cumulative time (wall time; with `--cpu-timer`
    the main thread's CPU time, so waits and other threads' work are left out).
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
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pymongo import monitoring

from benchmarks.synthetic import PROJECT_TYPES, synthetic_profiles

PY = str(ROOT / ".venv" / "bin" / "python")
STATES = ["Bayern", "Nordrhein-Westfalen", "Niedersachsen", "Hessen", "Sachsen"]  # as benchmarks/scale.py's filtered list
PASSWORD = "benchmark-passwort-lang"  # noqa: S105 - a throwaway account in a temporary store

_recording: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("read_paths_commands", default=None)


class _Recorder(monitoring.CommandListener):
    def started(self, event: monitoring.CommandStartedEvent) -> None:
        commands = _recording.get()
        if commands is not None:
            commands.append(f"{event.command_name} {event.command.get(event.command_name)}")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


monitoring.register(_Recorder())


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))]


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    r = subprocess.run([PY, "-m", "api.cli", *args], env=env, cwd=ROOT, input=stdin, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        sys.exit(f"leuchtturm {' '.join(args)} schlug fehl:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return r.stdout


def prepare(data_dir: Path, count: int, env: dict[str, str]) -> None:
    marker = data_dir / "read-paths.json"
    if marker.exists():
        return
    source = data_dir.parent / f"profiles-{count}.ndjson"
    with source.open("w", encoding="utf-8") as fh:
        for p in synthetic_profiles(count, 1):
            fh.write(json.dumps(p, ensure_ascii=False) + "\n")
    t0 = time.perf_counter()
    print(f"Import von {count} Profilen …", flush=True)
    cli(env, "import", str(source), "--publish")
    print(f"  in {time.perf_counter() - t0:.0f} s", flush=True)
    cli(env, "user", "create", "bench-redaktion", "--role", "editor", "--password-stdin", stdin=PASSWORD + "\n")
    token = cli(env, "token", "create", "bench-redaktion", "--name", "benchmark").strip()
    marker.write_text(json.dumps({"token": token}))


def reviewer_token(data_dir: Path, env: dict[str, str]) -> str:
    """A reviewer's token (the review queue), made once per data directory (also in one prepared before it was read)."""
    marker = data_dir / "read-paths.json"
    known = json.loads(marker.read_text())
    if "reviewer" not in known:
        cli({**os.environ, **env}, "user", "create", "bench-pruefung", "--role", "reviewer", "--password-stdin", stdin=PASSWORD + "\n")
        known["reviewer"] = cli({**os.environ, **env}, "token", "create", "bench-pruefung", "--name", "benchmark").strip()
        marker.write_text(json.dumps(known))
    return str(known["reviewer"])


async def run(args: argparse.Namespace, data_dir: Path, env: dict[str, str]) -> None:
    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)
    os.environ.update(env)
    from api.app import create_app
    from catalogue.settings import Settings

    token = json.loads((data_dir / "read-paths.json").read_text())["token"]
    editor = {"Authorization": f"Bearer {token}"}
    reviewer = {"Authorization": f"Bearer {reviewer_token(data_dir, env)}"}
    app = create_app(Settings(_env_file=None))
    async with app.lifespan():
        from api.web.sessions import SESSION_COOKIE
        from catalogue.models import ProfileSlug
        from catalogue.sessions import create_session
        from catalogue.users import Principal
        from catalogue.vocabularies import Role

        _, sid = await create_session(Principal("bench-redaktion", Role.EDITOR))  # a signed-in browser (the cookie)
        browser = {"Cookie": f"{SESSION_COOKIE}={sid}"}

        slugs = [str(d["_id"]) async for d in ProfileSlug.get_pymongo_collection().find({}, {"_id": 1})]  # batch work: one scan
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench.local") as client:
            history = next((s for s in slugs if s.startswith("messprofil")), None)
            if history is None:
                r = await client.post("/api/v1/profiles", json={"title": "Messprofil Verlauf", "summary": "Für die Messung."}, headers=editor)
                history, tag = r.json()["slug"], r.headers["etag"]
                for n in range(11):
                    r = await client.patch(f"/api/v1/profiles/{history}", json={"summary": f"Fassung {n + 2}."}, headers={**editor, "If-Match": tag})
                    tag = r.headers["etag"]
            slugs = [s for s in slugs if not s.startswith("messprofil")]
            rng = random.Random(args.seed)
            if args.hot:  # reads of a few popular profiles: the same revision is read again (the caches per revision)
                slugs = rng.sample(slugs, min(args.hot, len(slugs)))
            reads = {
                "page": (lambda: f"/profiles/{rng.choice(slugs)}", {}),
                "api": (lambda: f"/api/v1/profiles/{rng.choice(slugs)}", {}),
                "similar": (lambda: f"/api/v1/profiles/{rng.choice(slugs)}/similar", {}),
                "history": (lambda: f"/api/v1/profiles/{history}/versions", editor),
                "search": (lambda: "/api/v1/search?" + urlencode({"q": rng.choice(PROJECT_TYPES).split()[-1]}), {}),
                "list": (lambda: "/api/v1/profiles", {}),
                "filtered": (lambda: "/api/v1/profiles?" + urlencode({"state": rng.choice(STATES)}), {}),
                "comparable": (lambda: "/api/v1/comparable?" + urlencode(
                    {"population": rng.choice([3000, 12000, 40000, 150000]), "state": rng.choice(STATES)}), {}),
                "mine": (lambda: "/api/v1/profiles?mine=true", editor),
                "queue": (lambda: "/api/v1/profiles?status=submitted", reviewer),
                "page-signed-in": (lambda: f"/profiles/{rng.choice(slugs)}", browser),
                "mine-browser": (lambda: "/api/v1/profiles?mine=true", browser),
            }
            only = [n for n in args.only.split(",") if n] or list(reads)
            for name in only:
                url, headers = reads[name]
                for _ in range(3):
                    await client.get(url(), headers=headers)
                times: list[float] = []
                counts: list[int] = []
                kinds: Counter[str] = Counter()
                profiler = (cProfile.Profile(time.thread_time) if args.cpu_timer else cProfile.Profile()) if args.profile == name else None
                cpu0, main0 = time.process_time(), time.thread_time()
                for _ in range(args.reads):
                    commands: list[str] = []
                    path = url()
                    t = _recording.set(commands)
                    t0 = time.perf_counter()
                    if profiler is not None:
                        profiler.enable()
                    try:
                        r = await client.get(path, headers=headers)
                    finally:
                        if profiler is not None:
                            profiler.disable()
                        _recording.reset(t)
                    times.append((time.perf_counter() - t0) * 1000)
                    if r.status_code != 200:
                        sys.exit(f"GET {path}: {r.status_code} {r.text[:300]}")
                    counts.append(len(commands))
                    kinds.update(commands)
                cpu = (time.process_time() - cpu0) * 1000 / args.reads
                main_cpu = (time.thread_time() - main0) * 1000 / args.reads
                per = ", ".join(f"{k} ×{v / args.reads:.1f}" for k, v in kinds.most_common())
                print(f"{name:<8} p50 {statistics.median(times):7.1f} ms  p95 {pct(times, 95):7.1f} ms  "
                      f"CPU {cpu:5.1f} ms (main thread {main_cpu:5.1f})  store commands/request {statistics.mean(counts):.1f}  ({per})", flush=True)
                if profiler is not None:
                    stats = pstats.Stats(profiler).strip_dirs()
                    stats.sort_stats("cumulative").print_stats(args.top)
                    stats.sort_stats("tottime").print_stats(max(25, args.top // 2))


def loaded_store(data_arg: str, prefix: str, count: int) -> tuple[Path, dict[str, str]]:
    """The data directory (`data_arg`, or a new temporary one) with `count` synthetic profiles imported (`prepare`),
    and the environment that runs the app in this process on it: embedded store and Tantivy, no demo data, no register."""
    data_dir = Path(data_arg) if data_arg else Path(tempfile.mkdtemp(prefix=prefix)) / "var"
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        "PYTHONPATH": str(ROOT), "LEUCHTTURM_DATA_DIR": str(data_dir), "LEUCHTTURM_DEMO_DATA": "false",
        "LEUCHTTURM_LOAD_REGISTER": "false", "LEUCHTTURM_MONGODB_URL": "", "LEUCHTTURM_MEILI_URL": "",
        "LEUCHTTURM_FERRETDB_BIN": str(ROOT / "bin" / "leuchtturm-ferretdb"),
    }
    prepare(data_dir, count, {**os.environ, **env})
    return data_dir, env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--reads", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", default="", help="comma-separated reads (page,api,similar,history,search,list,filtered,comparable,mine,queue,"
                        "page-signed-in,mine-browser); default all")
    parser.add_argument("--hot", type=int, default=0, help="read only this many profiles (random ones), so reads repeat")
    parser.add_argument("--profile", default="", help="the read to run under cProfile")
    parser.add_argument("--cpu-timer", action="store_true", help="profile the main thread's CPU time (time.thread_time) instead of wall time")
    parser.add_argument("--top", type=int, default=45, help="functions shown per profile listing")
    parser.add_argument("--data-dir", default="", help="reuse this data directory (imported on the first run)")
    args = parser.parse_args()
    data_dir, env = loaded_store(args.data_dir, "leuchtturm-reads-", args.count)
    print(f"{args.count} Profile, Daten in {data_dir}; in einem Prozess, ohne HTTP (Messwerte auf geteilter Maschine verrauscht)", flush=True)
    asyncio.run(run(args, data_dir, env))
    print(f"Befehl: .venv/bin/python benchmarks/read_paths.py --count {args.count} --reads {args.reads}"
          + (f" --only {args.only}" if args.only else "") + (f" --hot {args.hot}" if args.hot else "")
          + (f" --profile {args.profile}" if args.profile else "") + (" --cpu-timer" if args.cpu_timer else "")
          + (f" --data-dir {data_dir}" if args.data_dir else ""))


if __name__ == "__main__":
    main()
