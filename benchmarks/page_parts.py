"""Where a cold profile page's CPU goes, in process: the whole page, its parts, and the floors beside it.

Reproduce:

    .venv/bin/python benchmarks/page_parts.py [--count 10000] [--reads 100] [--data-dir DIR]

Uses benchmarks/read_paths.py's data directory (imported on the first run,
reused with `--data-dir`; the server must not run on it). Every read is of a
profile not read before in this process (cold: the per-revision caches do not
help, as in benchmarks/scale.py). Per request, in this process (every thread):
 1. the profile page as it is;
 2. the page with the comparable panel left out (`find_comparable` answers
    nothing at once), so the panel's share is the difference;
 3. the API read by slug (the same keyed reads without the page);
and for 1 the main thread's CPU in the sections and JSON-LD
(`api/web/pages.profile_fragments`) and in the page template (the response's
rendering), and the search thread's CPU in the panel's candidates (Tantivy's
search, reading and decoding them: `TantivyBackend._kept_similar`) and in
their ranking (`comparable.rank`). Figures measured while other work runs on
the machine are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.read_paths import loaded_store, pct


def _timed(parts: Counter[str], label: str, func: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.thread_time()
        try:
            return func(*args, **kwargs)
        finally:
            parts[label] += time.thread_time() - t0

    return timed


async def run(args: argparse.Namespace, env: dict[str, str]) -> None:
    import httpx
    from litestar.response.template import Template

    logging.getLogger("httpx").setLevel(logging.WARNING)
    os.environ.update(env)
    from api.app import create_app
    from api.web import pages
    from catalogue.models import ProfileSlug
    from catalogue.search import comparable
    from catalogue.search.tantivy_backend import TantivyBackend
    from catalogue.settings import Settings

    parts: Counter[str] = Counter()
    real_find = pages.find_comparable
    monkeyed = {
        (pages, "profile_fragments"): _timed(parts, "sections and JSON-LD (profile_fragments)", pages.profile_fragments),
        (Template, "to_asgi_response"): _timed(parts, "page template (the response's rendering)", Template.to_asgi_response),
        (TantivyBackend, "_kept_similar"): _timed(parts, "panel: candidates (search thread)", TantivyBackend._kept_similar),  # noqa: SLF001
        (comparable, "rank"): _timed(parts, "panel: ranking (search thread)", comparable.rank),
    }
    for (owner, name), func in monkeyed.items():
        setattr(owner, name, func)

    async def no_panel(*_args: Any, **_kwargs: Any) -> list[Any]:
        return []

    app = create_app(Settings(_env_file=None))
    async with app.lifespan():
        slugs = [str(d["_id"]) async for d in ProfileSlug.get_pymongo_collection().find({}, {"_id": 1})]  # batch work: one scan
        slugs = [s for s in slugs if not s.startswith("messprofil")]
        random.Random(args.seed).shuffle(slugs)
        fresh = iter(slugs)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench.local") as client:
            for _ in range(3):  # templates compiled, connections open
                await client.get(f"/profiles/{next(fresh)}")
            reads = (("page", "/profiles/{}", real_find), ("page without panel", "/profiles/{}", no_panel), ("api", "/api/v1/profiles/{}", real_find))
            for name, path, find in reads:
                pages.find_comparable = find  # type: ignore[assignment]
                parts.clear()
                times: list[float] = []
                cpu0 = time.process_time()
                for _ in range(args.reads):
                    t0 = time.perf_counter()
                    r = await client.get(path.format(next(fresh)))
                    times.append((time.perf_counter() - t0) * 1000)
                    if r.status_code != 200:
                        sys.exit(f"GET {path}: {r.status_code}")
                cpu = (time.process_time() - cpu0) * 1000 / args.reads
                print(f"{name:<20} p50 {statistics.median(times):6.1f} ms  p95 {pct(times, 95):6.1f} ms  CPU {cpu:5.1f} ms/request", flush=True)
                if name == "page":
                    for label, seconds in parts.items():
                        where = "" if label.startswith("panel") else " (main thread)"
                        print(f"    {label}: {seconds * 1000 / args.reads:.2f} ms/request{where}", flush=True)
            pages.find_comparable = real_find


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--reads", type=int, default=100, help="cold reads per line (each of a profile not read before)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", default="", help="reuse this data directory (benchmarks/read_paths.py's; imported on the first run)")
    args = parser.parse_args()
    data_dir, env = loaded_store(args.data_dir, "leuchtturm-page-", args.count)
    print(f"{args.count} Profile, Daten in {data_dir}; kalte Profilseiten in einem Prozess, ohne HTTP (auf geteilter Maschine verrauscht)", flush=True)
    asyncio.run(run(args, env))
    print(f"Befehl: .venv/bin/python benchmarks/page_parts.py --count {args.count} --reads {args.reads}"
          + (f" --data-dir {data_dir}" if args.data_dir else ""))


if __name__ == "__main__":
    main()
