"""PDF rendering benchmark: uncached and cached render time, concurrent throughput.

Renders the invented profiles (tests/fixtures/profiles.py: the two examples and
`longest`, every field at its maximum, so the one-page fitting has the most to do) through
Typst N times each without PdfCache — once with identical input (Typst's
in-process memoisation can reuse layout) and once with the text changed on
every run (the honest "new revision" case) — then through PdfCache, then
renders PDFs from 4 threads and reports PDFs per second.

    .venv/bin/python benchmarks/pdf.py [--runs 50] [--threads 4] [--total 200]

Targets: median <= 60 ms uncached, <= 2 ms cached. The one-page overview picks one of
a few shortened levels (catalogue/pdf/fit.py) and checks it fits one page: the
"changed input" rows are the honest cost of that fitting. Also prints CPU time
per render, which is less disturbed by other processes on a shared machine, split into
the view (Python) and the Typst compile: as rendering does it (the level estimated in
Python, one layout unless the page overflows) and with the whole ladder measured in
Typst (how the overview was rendered before; benchmarks/pdf_fit.py compares the levels).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import typst

from catalogue.pdf import PdfCache, render_comparison_pdf, render_profile_pdf
from catalogue.pdf.render import PROFILE_TEMPLATE, TEMPLATE_DIR, compile_profile, profile_view
from tests.fixtures.profiles import buergerbus, fundbuero, longest

GENERATED_AT = datetime(2025, 11, 22, 9, 30, tzinfo=UTC)
BASE_URL = "https://leuchtturm.example/projekte/"
UNCACHED_TARGET_MS = 60.0
CACHED_TARGET_MS = 2.0


def progress(label: str, done: int, total: int) -> None:
    width = 30
    filled = width * done // total
    sys.stderr.write(f"\r  {label:<44} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def timed(label: str, fn: Callable[[], object], runs: int) -> list[float]:
    """Run fn `runs` times; return durations in milliseconds."""
    times = []
    step = max(1, runs // 30)
    for i in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
        if (i + 1) % step == 0 or i + 1 == runs:
            progress(label, i + 1, runs)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50, help="uncached renders per profile (default 50)")
    parser.add_argument("--cached-runs", type=int, default=5000, help="cached look-ups per profile (default 5000)")
    parser.add_argument("--threads", type=int, default=4, help="threads for the throughput run (default 4)")
    parser.add_argument("--total", type=int, default=200, help="PDFs rendered in each throughput run (default 200)")
    args = parser.parse_args()

    profiles = [fundbuero(), buergerbus(), longest()]
    print(f"PDF benchmark – Python {platform.python_version()}, {platform.machine()}, {sys.platform}")

    def render(profile: dict) -> bytes:
        return render_profile_pdf(profile, url=BASE_URL + profile["slug"], generated_at=GENERATED_AT)

    # cold start: the first compile in a process loads the embedded fonts
    start = time.perf_counter()
    render(profiles[0])
    cold_ms = (time.perf_counter() - start) * 1000
    for profile in profiles:
        render(profile)

    results: list[tuple[str, float, float, float, int]] = []
    print("\nUncached (typst compile per request):")
    for profile in profiles:
        size = len(render(profile))
        times = timed(f"{profile['slug']}", lambda p=profile: render(p), args.runs)
        results.append((profile["slug"], statistics.median(times), min(times), max(times), size))
    for profile in profiles:
        counter = iter(range(10**9))

        def changed(p: dict = profile, counter: Iterator[int] = counter) -> bytes:
            # a new text on every run, so Typst's own memoisation cannot reuse the layout
            q = dict(p, implementation=f"{p['implementation']}\n\nÄnderung Nr. {next(counter)}", title=f"{p['title']} {time.perf_counter_ns()}")
            return render(q)

        times = timed(f"{profile['slug']} (changed input)", changed, args.runs)
        results.append((profile["slug"] + " (changed input)", statistics.median(times), min(times), max(times), 0))
    cpu: list[tuple[str, float]] = []
    for profile in profiles:
        counter = iter(range(10**9))
        spent = []
        for _ in range(max(3, args.runs // 5)):
            q = dict(profile, title=f"{profile['title']} {next(counter)}")
            start_cpu = time.process_time()
            render(q)
            spent.append((time.process_time() - start_cpu) * 1000)
        cpu.append((profile["slug"], statistics.median(spent)))
    # Where an uncached render's CPU goes (changed input): the view (Python: texts, the ladder of levels, QR code) and the
    # Typst compile, once as rendering does it (the level estimated in Python, laid out once, catalogue/pdf/render.py) and
    # once with the whole ladder measured in Typst (the template's reference search, how it was rendered before).
    compiler = typst.Compiler(str(PROFILE_TEMPLATE), root=str(TEMPLATE_DIR), ignore_system_fonts=True)
    split: dict[str, list[float]] = {"view": [], "compile, estimated level": [], "compile, ladder measured in Typst": []}
    layouts: list[int] = []
    for n in range(max(6, args.runs // 2)):
        profile = profiles[n % len(profiles)]
        q = dict(profile, title=f"{profile['title']} Teilung {n}")
        start_cpu = time.process_time()
        view = profile_view(q, url=BASE_URL + profile["slug"] + f"-{n}", generated_at=GENERATED_AT)
        split["view"].append((time.process_time() - start_cpu) * 1000)
        for way in (("compile, estimated level", "compile, ladder measured in Typst") if n % 2 else
                    ("compile, ladder measured in Typst", "compile, estimated level")):
            marked = dict(view, title=f"{view['title']} {way}")  # each way its own input: no shared memoisation
            start_cpu = time.process_time()
            if way == "compile, estimated level":
                layouts.append(compile_profile(marked, fmt="pdf", generated_at=GENERATED_AT).layouts)
            else:
                data = json.dumps(marked, ensure_ascii=False, separators=(",", ":"))
                compiler.compile(format="pdf", sys_inputs={"data": data}, timestamp=GENERATED_AT)
            split[way].append((time.process_time() - start_cpu) * 1000)
    comparison = timed(
        "vergleich (2 Profile, Querformat)",
        lambda: render_comparison_pdf(profiles, urls=[BASE_URL + p["slug"] for p in profiles], generated_at=GENERATED_AT),
        args.runs,
    )

    print("\nCached (PdfCache.get_or_render, hit):")
    cache = PdfCache()
    cached: list[tuple[str, float, float]] = []
    for profile in profiles:
        cache.get_or_render(profile["slug"], 1, "profile", lambda p=profile: render(p))
        times = timed(
            f"{profile['slug']}",
            lambda p=profile: cache.get_or_render(p["slug"], 1, "profile", lambda: render(p)),
            args.cached_runs,
        )
        cached.append((profile["slug"], statistics.median(times), max(times)))

    print(f"\nThroughput ({args.total} uncached PDFs):")
    jobs = [profiles[i % len(profiles)] for i in range(args.total)]

    def run_pool(threads: int) -> float:
        done = 0
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for _ in pool.map(render, jobs):
                done += 1
                if done % max(1, args.total // 30) == 0 or done == args.total:
                    progress(f"{threads} thread(s)", done, args.total)
        return args.total / (time.perf_counter() - start)

    single = run_pool(1)
    concurrent = run_pool(args.threads)

    print("\nResults")
    print(f"  first render in the process (cold): {cold_ms:.1f} ms")
    print(f"  {'profile':<58} {'median':>9} {'min':>9} {'max':>9} {'bytes':>8}")
    for slug, median, low, high, size in results:
        print(f"  {slug:<58} {median:>6.1f} ms {low:>6.1f} ms {high:>6.1f} ms {size or '':>8}")
    print(
        f"  {'vergleich (2 Profile)':<58} {statistics.median(comparison):>6.1f} ms "
        f"{min(comparison):>6.1f} ms {max(comparison):>6.1f} ms"
    )
    for slug, median in cpu:
        print(f"  {slug + ' (CPU time, changed input)':<58} {median:>6.1f} ms")
    for part, spent in split.items():
        print(f"  {'uncached, CPU time of ' + part:<58} {statistics.median(spent):>6.1f} ms")
    print(f"  {'layouts per render, estimated level (mean)':<58} {statistics.mean(layouts):>6.2f}")
    for slug, median, high in cached:
        print(f"  {slug + ' (cached)':<58} {median * 1000:>6.1f} µs {'':>9} {high * 1000:>6.1f} µs")
    print(f"  throughput, 1 thread:          {single:7.1f} PDFs/s")
    print(f"  throughput, {args.threads} threads:         {concurrent:7.1f} PDFs/s")

    worst_uncached = max(r[1] for r in results)
    worst_cached = max(c[1] for c in cached)
    ok = worst_uncached <= UNCACHED_TARGET_MS and worst_cached <= CACHED_TARGET_MS
    print(
        f"\nTargets: median uncached {worst_uncached:.1f} ms (≤ {UNCACHED_TARGET_MS:.0f} ms), "
        f"cached {worst_cached * 1000:.1f} µs (≤ {CACHED_TARGET_MS:.0f} ms) – {'erreicht' if ok else 'VERFEHLT'}"
    )
    print(f"Reproduce: .venv/bin/python benchmarks/pdf.py --runs {args.runs} --threads {args.threads} --total {args.total}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
