"""Search benchmark: N synthetic profiles, the HTTP API under concurrent load, raw backend time, reindex time.

Reproduce:  .venv/bin/python benchmarks/search.py [--count 10000] [--duration 10] [--backend tantivy|meili]
            --backend meili uses the Meilisearch at --meili-url (default LEUCHTTURM_TEST_MEILI_URL, then
            LEUCHTTURM_MEILI_URL; key likewise) with an index of its own, deleted afterwards; a throw-away server:
            tools/with-meilisearch .venv/bin/python benchmarks/search.py --backend meili

Steps
 1. Start the embedded FerretDB with Tantivy (or Meilisearch) in a temp data directory, insert
    N published synthetic profiles, and time `reindex` (fresh index + atomic swap).
 2. Time the same queries in-process against the backend ("raw").
 3. Serve the app (`leuchtturm serve`, one uvicorn process) on that data and drive
    the HTTP API with wrk (Debian package `wrk`) at 1 and 8 connections for each
    query kind: plain, filtered+faceted, comparable. wrk reports p50/p95/p99 and
    requests/s through a small Lua script.
 4. Print the figures, the API overhead (API p50 minus raw p50 at one client) and
    this command.
Everything runs on loopback and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from benchmarks._server import free_port, start_server, stop_server
from benchmarks.synthetic import synthetic_profiles

# what the public search API asks of the engine besides the query: published profiles, the public label
PUBLIC = ("public",)
PUBLISHED = {"status": ["published"]}

console = Console(width=150)

PLAIN_QUERIES = [
    "Digitalisierung", "Bauhof", "Breitbandausbau", "Rufbus", "Kita", "Klimaschutz", "Glasfaser", "Wärmeplanung",
    "interkommunale Zusammenarbeit", "Feuerwehr", "Tourismus", "Strategie", "Bürgerbeteiligung", "Standesamt",
    "Digitalisierungstrategie", "Schulen", "Abwasser", "OZG", "eAkte", "Pflege",
]
STATES = ["Nordrhein-Westfalen", "Bayern", "Niedersachsen", "Hessen", "Sachsen", "Schleswig-Holstein"]
FIELDS = ["Verwaltung", "Mobilität & Verkehr", "Digitale Infrastruktur", "Umwelt & Klima", "Bildung", "Daseinsvorsorge"]


def paths(kind: str, rng: random.Random, n: int = 200) -> list[str]:
    out = []
    for _ in range(n):
        if kind == "plain":
            out.append("/api/v1/search?" + urlencode({"q": rng.choice(PLAIN_QUERIES)}))
        elif kind == "filtered":
            out.append(
                "/api/v1/search?"
                + urlencode(
                    [("q", rng.choice(PLAIN_QUERIES)), ("state", rng.choice(STATES)), ("field", rng.choice(FIELDS)),
                     ("population_min", 5000), ("population_max", 200000)]
                )
            )
        else:
            out.append(
                "/api/v1/comparable?"
                + urlencode([("population", rng.randint(2000, 300000)), ("state", rng.choice(STATES)), ("fields", rng.choice(FIELDS))])
            )
    return out


def raw_queries(kind: str, rng: random.Random, n: int = 200):  # noqa: ANN201
    from catalogue.search.base import SearchQuery
    from catalogue.search.comparable import Reference

    out = []
    for _ in range(n):
        if kind == "plain":
            out.append(SearchQuery(q=rng.choice(PLAIN_QUERIES), filters=PUBLISHED))
        elif kind == "filtered":
            out.append(
                SearchQuery(
                    q=rng.choice(PLAIN_QUERIES),
                    filters={**PUBLISHED, "state": [rng.choice(STATES)], "fields_of_action": [rng.choice(FIELDS)]},
                    population_min=5000,
                    population_max=200000,
                )
            )
        else:
            out.append(
                Reference.for_municipality(population=rng.randint(2000, 300000), state=rng.choice(STATES), fields_of_action=[rng.choice(FIELDS)])
            )
    return out


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))
    return values[k]


async def load_and_measure_raw(data_dir: Path, count: int, search: dict[str, str | None]) -> dict:
    from catalogue.models import Profile, utcnow
    from catalogue.profiles import content_dict  # noqa: F401 - keeps the import graph honest
    from catalogue.runtime import Runtime
    from catalogue.search.comparable import find_comparable
    from catalogue.settings import Settings
    from catalogue.slugs import slugify
    from catalogue.vocabularies import EditorialStatus

    settings = Settings(data_dir=data_dir, mongodb_url=None, demo_data=False, _env_file=None, **search)
    rt = await Runtime.start(settings, run_sync_worker=False)
    figures: dict = {}
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as progress:
            task = progress.add_task("Profile anlegen", total=count)
            batch: list[Profile] = []
            seen: set[str] = set()
            now = utcnow()
            for i, content in enumerate(synthetic_profiles(count), 1):
                slug = slugify(content["title"])
                if slug in seen:
                    slug = f"{slug}-{i}"
                seen.add(slug)
                batch.append(Profile(slug=slug, status=EditorialStatus.PUBLISHED, owner="bench", version=1, published_at=now, **content))
                if len(batch) == 500:
                    await Profile.insert_many(batch)
                    progress.advance(task, len(batch))
                    batch = []
            if batch:
                await Profile.insert_many(batch)
                progress.advance(task, len(batch))

            task2 = progress.add_task("Reindex", total=count)
            t0 = time.perf_counter()
            n = await rt.sync.reindex(rt.search, lambda done, total=None: progress.update(task2, completed=done))
            figures["reindex_s"] = time.perf_counter() - t0
            figures["indexed"] = n

        rng = random.Random(7)
        for kind in ("plain", "filtered", "comparable"):
            qs = raw_queries(kind, rng)
            for q in qs[:20]:  # warm up
                await (rt.search.search(q, labels=PUBLIC) if kind != "comparable" else find_comparable(rt.search, q, labels=PUBLIC))
            times = []
            for q in qs:
                t0 = time.perf_counter()
                await (rt.search.search(q, labels=PUBLIC) if kind != "comparable" else find_comparable(rt.search, q, labels=PUBLIC))
                times.append((time.perf_counter() - t0) * 1000)
            figures[f"raw_{kind}"] = {"p50": statistics.median(times), "p95": pct(times, 95), "p99": pct(times, 99)}
    finally:
        await rt.stop()
    return figures


WRK_SCRIPT = r"""
local paths = {}
local i = 0
init = function(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
end
request = function()
  i = (i % #paths) + 1
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %f %f %f %f %d %d %d\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.requests / (summary.duration / 1e6), summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration))
end
"""


def run_wrk(base: str, path_file: Path, script: Path, connections: int, duration: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t", str(min(connections, 2)), "-c", str(connections), "-d", f"{duration}s", "--timeout", "5s",
         "-s", str(script), base, "--", str(path_file)],
        capture_output=True, text=True, timeout=duration + 60, check=True,
    ).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("RESULT"))
    p50, p95, p99, rps, total, errors, _ = line.split()[1:]
    return {"p50": float(p50), "p95": float(p95), "p99": float(p99), "rps": float(rps), "requests": int(total), "errors": int(errors)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--backend", choices=("tantivy", "meili"), default="tantivy")
    parser.add_argument("--meili-url", default=os.environ.get("LEUCHTTURM_TEST_MEILI_URL") or os.environ.get("LEUCHTTURM_MEILI_URL"))
    parser.add_argument("--meili-key", default=os.environ.get("LEUCHTTURM_TEST_MEILI_KEY") or os.environ.get("LEUCHTTURM_MEILI_KEY"))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk fehlt: apt-get install wrk")
    search: dict[str, str | None] = {"meili_url": None}
    if args.backend == "meili":
        if not args.meili_url:
            sys.exit("--backend meili braucht --meili-url (oder LEUCHTTURM_TEST_MEILI_URL); tools/with-meilisearch startet einen Server")
        search = {"meili_url": args.meili_url, "meili_key": args.meili_key, "meili_index": f"bench_{os.getpid()}_{random.randrange(1 << 30):x}"}

    tmp = Path(tempfile.mkdtemp(prefix="leuchtturm-bench-"))
    data_dir = tmp / "var"
    engine = "Meilisearch" if args.backend == "meili" else "Tantivy"
    console.print(f"[bold]Suche-Benchmark[/bold] ({engine}): {args.count} Profile, Daten in {data_dir}")
    try:
        figures = asyncio.run(load_and_measure_raw(data_dir, args.count, search))
        run_http(args, tmp, data_dir, search, figures, engine)
    finally:
        if search.get("meili_index"):
            drop_meili_index(search)
        shutil.rmtree(tmp, ignore_errors=True)


def drop_meili_index(search: dict[str, str | None]) -> None:
    import httpx

    headers = {"Authorization": f"Bearer {search['meili_key']}"} if search.get("meili_key") else {}
    with httpx.Client(base_url=str(search["meili_url"]), headers=headers, timeout=30) as c:
        for index in c.get("/indexes", params={"limit": 1000}).json().get("results", []):
            if index["uid"].startswith(str(search["meili_index"])):
                c.delete(f"/indexes/{index['uid']}")


def run_http(args: argparse.Namespace, tmp: Path, data_dir: Path, search: dict[str, str | None], figures: dict, engine: str) -> None:
    port = free_port()
    env = {**os.environ, "LEUCHTTURM_DATA_DIR": str(data_dir), "LEUCHTTURM_PORT": str(port), "LEUCHTTURM_DEMO_DATA": "false",
           "LEUCHTTURM_MONGODB_URL": "", "LEUCHTTURM_LOAD_REGISTER": "false",  # search only: no register load at start
           "LEUCHTTURM_MEILI_URL": search.get("meili_url") or "",
           "LEUCHTTURM_MEILI_KEY": search.get("meili_key") or "", "LEUCHTTURM_MEILI_INDEX": search.get("meili_index") or "profiles"}
    base = f"http://127.0.0.1:{port}"
    server = start_server([str(ROOT / ".venv" / "bin" / "leuchtturm"), "serve"], env, ROOT, base, timeout=60)
    try:
        script = tmp / "paths.lua"
        script.write_text(WRK_SCRIPT)
        rng = random.Random(11)
        http: dict = {}
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as progress:
            runs = [(k, c) for k in ("plain", "filtered", "comparable") for c in (1, 8)]
            task = progress.add_task("HTTP-Last (wrk)", total=len(runs))
            for kind, conns in runs:
                pf = tmp / f"{kind}.txt"
                pf.write_text("\n".join(paths(kind, rng)) + "\n")
                for p in paths(kind, rng, 30):  # warm up
                    urllib.request.urlopen(base + p, timeout=10).read()  # noqa: S310 - our own server on loopback
                http[(kind, conns)] = run_wrk(base, pf, script, conns, args.duration)
                progress.advance(task)
    finally:
        stop_server(server, grace=20)

    table = Table(title=f"Suche über die HTTP-API, {args.count} Profile, {engine} (ms; Anfragen/s)")
    for col in ("Abfrage", "Clients", "p50", "p95", "p99", "Anfragen/s", "Fehler", "roh p50", "Overhead p50"):
        table.add_column(col, justify="right")
    for (kind, conns), r in http.items():
        raw = figures[f"raw_{kind}"]
        table.add_row(kind, str(conns), f"{r['p50']:.2f}", f"{r['p95']:.2f}", f"{r['p99']:.2f}", f"{r['rps']:.0f}", str(r["errors"]),
                      f"{raw['p50']:.3f}", f"{r['p50'] - raw['p50']:.2f}" if conns == 1 else "")
    console.print(table)
    console.print(f"Reindex: {figures['indexed']} Profile in {figures['reindex_s']:.1f} s")
    console.print("Ziele: Overhead p50 ≤ 3 ms (1 Client); 8 Clients: p95 ≤ 20 ms und ≥ 500 Suchen/s; Reindex ≤ 60 s")
    console.print("Reproduzieren: .venv/bin/python benchmarks/search.py " + " ".join(sys.argv[1:]))
    raw = {k: v for k, v in figures.items() if k.startswith("raw")}
    print(json.dumps({f"{k}/{c}": v for (k, c), v in http.items()} | {"raw": raw, "reindex_s": figures["reindex_s"]}))


if __name__ == "__main__":
    main()
