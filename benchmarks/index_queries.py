"""The cost of index queries at 10,000 and 100,000 profiles, in process (no HTTP, no store).

Reproduce:

    nice -n 10 .venv/bin/python benchmarks/index_queries.py [--sizes 10000,100000] [--reads 40]
        [--index-dir /tmp/leuchtturm-index-queries] [--profile similar]

Steps:
 1. Per size, a Tantivy index of that many synthetic published profiles
    (benchmarks/synthetic.py), each turned into its search document as the sync
    worker does (`documents.to_search_document`; without the municipality
    register's Kreis, which needs the store) plus one draft in 50 owned by an
    editor, bulk-loaded through the backend's `rebuild`. The index is kept in
    `--index-dir/<size>` and reused by the next run (rebuilt when the schema
    changed); building 100,000 takes a few minutes.
 2. Each read a request makes, against the backend, one at a time, for random
    profiles / municipalities: the plain search (the API's, with facets) for a
    common and a rare word, the search page without text, the JSON list (newest first, no facets, as catalogue/listing.py asks), the keyed document lookup,
    `similar` (`find_comparable` for a profile: what /profiles/{slug}/similar
    does after its store read) and its parts (`similar_candidates` as
    find_comparable asks for them, the population search, which a backend that
    `ranks_similar` no longer needs, `rank`), and `comparable` ("Kommunen wie meine"). Every
    read starts without the results the backend keeps per index snapshot (as
    after a commit; query plans and term lookups stay), except "search common,
    repeated": the same query again in one snapshot.
 3. Per read: p50/p95 wall time and CPU time per read (this process, all threads).
    With `--profile NAME`: cProfile of that read, the top functions.
Figures measured while other work runs on the machine are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.synthetic import PROJECT_TYPES, synthetic_profiles
from catalogue.access import PUBLIC_LABEL, owner_label
from catalogue.search import comparable as comp
from catalogue.search.base import Candidate, SearchQuery, Sort
from catalogue.search.documents import to_search_document
from catalogue.search.tantivy_backend import TantivyBackend
from catalogue.vocabularies import EditorialStatus, FederalState, FieldOfAction, size_class_for

PUBLIC = (PUBLIC_LABEL,)
PUBLISHED = {"status": [EditorialStatus.PUBLISHED.value]}
DRAFT_EVERY = 50
KEPT = ", repeated"  # a read named so is repeated within one snapshot (the result kept per snapshot answers it)
EDITOR = "bench-editor"
NOW = "2026-01-01T00:00:00Z"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))]


def search_document(i: int, content: dict[str, Any]) -> dict[str, Any]:
    draft = i % DRAFT_EVERY == DRAFT_EVERY - 1
    profile = {
        **content,
        "id": f"bench{i:07d}",
        "slug": f"bench-{i}",
        "status": EditorialStatus.DRAFT.value if draft else EditorialStatus.PUBLISHED.value,
        "owner": EDITOR if draft else "bench",
        "version": 1,
        "created_at": NOW,
        "updated_at": NOW,
        "published_at": None if draft else NOW,
    }
    size = size_class_for(content.get("population"), (content.get("lead") or {}).get("kind"))
    return to_search_document(profile, None, {"size_class": size.value if size else None})


async def documents(n: int) -> AsyncIterator[dict[str, Any]]:
    for i, content in enumerate(synthetic_profiles(n)):
        yield search_document(i, content)
        if i % 500 == 0:
            await asyncio.sleep(0)


async def open_index(root: Path, n: int) -> TantivyBackend:
    backend = TantivyBackend(root)
    if backend.document_count() == n:
        return backend
    t0 = time.perf_counter()

    def progress(done: int) -> None:
        print(f"\r  indexing {done:,} / {n:,} ({time.perf_counter() - t0:.0f} s)", end="", flush=True)

    await backend.acquire_writer()
    await backend.rebuild(documents(n), progress)
    await backend.release_writer()
    print(f"\n  indexed {backend.document_count():,} documents in {time.perf_counter() - t0:.0f} s into {root}", flush=True)
    return backend


def words_by_frequency(backend: TantivyBackend) -> tuple[str, str]:
    """A common word (a project type's word in many titles) and a rare one (a title number's word, in one or two)."""
    searcher = backend._live.view.searcher  # noqa: SLF001 - a benchmark reads the term dictionary
    common = max(("Verwaltung", "Gemeinde", "Bauhof", "Digitalisierung"), key=lambda w: searcher.doc_freq("all", backend.analyzer.analyze(w)[0]))
    rare = "Wunsiedel"
    for word in ("Feuerwehr-Kooperation", "Seeshaupt"):
        stem = backend.analyzer.analyze(word)[0]
        if 0 < searcher.doc_freq("all", stem) < searcher.doc_freq("all", backend.analyzer.analyze(rare)[0]):
            rare = word
    return common, rare


class Reads:
    def __init__(self, backend: TantivyBackend, n: int, rng: random.Random) -> None:
        self.backend = backend
        self.rng = rng
        self.ids = [f"bench{i:07d}" for i in range(n) if i % DRAFT_EVERY != DRAFT_EVERY - 1]
        self.common, self.rare = words_by_frequency(backend)

    def reference(self) -> comp.Reference:
        doc = self.backend.document_sync(self.rng.choice(self.ids), labels=PUBLIC)
        assert doc is not None
        return comp.Reference.from_document(doc)

    def municipality(self) -> comp.Reference:
        return comp.Reference.for_municipality(
            population=self.rng.choice([3000, 12000, 40000, 150000]), state=self.rng.choice(list(FederalState)).value,
            fields_of_action=[self.rng.choice(list(FieldOfAction)).value],
        )

    def all(self) -> dict[str, Callable[[], Callable[[], Awaitable[Any]]]]:
        """Per read: a maker of one call (its arguments drawn before the clock starts)."""
        b = self.backend

        def search(q: str) -> Callable[[], Callable[[], Awaitable[Any]]]:
            return lambda: lambda: b.search(SearchQuery(q=q, filters=PUBLISHED), labels=PUBLIC)

        def floor() -> Callable[[], Awaitable[Any]]:  # scale.py's in-process floor: a project type's last word
            q = self.rng.choice(PROJECT_TYPES).split()[-1]
            return lambda: b.search(SearchQuery(q=q), labels=PUBLIC)

        def similar() -> Callable[[], Awaitable[Any]]:
            ref = self.reference()
            return lambda: comp.find_comparable(b, ref, labels=PUBLIC, limit=10)

        def candidates() -> Callable[[], Awaitable[Any]]:  # as find_comparable asks for them (ranked: its pool)
            ref = self.reference()
            any_of = {"fields_of_action": list(ref.fields_of_action), "state": [ref.state] if ref.state else []}
            if b.ranks_similar:
                return lambda: b.similar_candidates(ref.text, labels=PUBLIC, any_of=any_of, filters=PUBLISHED, limit=comp.RANKED_POOL + 1,
                                                    population=ref.population, reference_id=ref.exclude_id)
            return lambda: b.similar_candidates(ref.text, labels=PUBLIC, any_of=any_of, filters=PUBLISHED, limit=101)

        def population() -> Callable[[], Awaitable[Any]]:
            ref = self.reference()
            return lambda: comp._search_candidates(b, PUBLIC, q="", filters=PUBLISHED, limit=100, population=ref.population)  # noqa: SLF001

        def ranking() -> Callable[[], Awaitable[Any]]:
            ref = self.reference()
            any_of = {"fields_of_action": list(ref.fields_of_action), "state": [ref.state] if ref.state else []}
            if b.ranks_similar:
                found = b.similar_candidates_sync(ref.text, labels=PUBLIC, any_of=any_of, filters=PUBLISHED, limit=comp.RANKED_POOL + 1,
                                                  population=ref.population, reference_id=ref.exclude_id)
            else:
                found = b.similar_candidates_sync(ref.text, labels=PUBLIC, any_of=any_of, filters=PUBLISHED, limit=101)
                pop = ref.population or 10_000
                query = SearchQuery(filters=PUBLISHED, population_min=pop // 2, population_max=pop * 2, per_page=100, facets=())
                found += [Candidate(document=dict(h.document), text_score=0.0) for h in b.search_sync(query, labels=PUBLIC).hits]

            async def run() -> Any:
                return comp.rank(ref, found, limit=10)
            return run

        def comparable() -> Callable[[], Awaitable[Any]]:
            ref = self.municipality()
            return lambda: comp.find_comparable(b, ref, labels=PUBLIC, limit=10)

        def document() -> Callable[[], Awaitable[Any]]:
            doc_id = self.rng.choice(self.ids)
            return lambda: b.document(doc_id, labels=PUBLIC)

        return {
            "floor (scale.py)": floor,
            f"search common ({self.common})": search(self.common),
            f"search common{KEPT}": search(self.common),
            f"search rare ({self.rare})": search(self.rare),
            "search page, no text": search(""),
            "list (JSON, newest)": lambda: lambda: b.search(SearchQuery(filters=PUBLISHED, sort=Sort.NEWEST, facets=()), labels=PUBLIC),
            "document": document,
            "similar": similar,
            "  similar_candidates": candidates,
            "  population search": population,
            "  rank": ranking,
            "comparable": comparable,
        }


async def _inline(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


async def measure(
    backend: TantivyBackend, make: Callable[[], Callable[[], Awaitable[Any]]], reads: int, *, kept: bool, profile: cProfile.Profile | None = None
) -> tuple[float, float, float]:
    walls: list[float] = []
    cpus: list[float] = []
    for i in range(reads + 3):
        call = make()
        if not kept:  # the cost of a request the snapshot has not answered yet (its plan and term lookups stay kept)
            getattr(backend._live.view, "results", {}).clear()  # noqa: SLF001 - (older code keeps none: an A/B run)
        w0, c0 = time.perf_counter(), time.process_time()
        if profile is not None and i >= 3:
            profile.enable()
        await call()
        if profile is not None:
            profile.disable()
        if i >= 3:
            walls.append((time.perf_counter() - w0) * 1000)
            cpus.append((time.process_time() - c0) * 1000)
    return statistics.median(walls), pct(walls, 95), statistics.mean(cpus)


def main() -> None:
    asyncio.run(amain())


async def amain() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--reads", type=int, default=40)
    parser.add_argument("--index-dir", type=Path, default=Path(tempfile.gettempdir()) / "leuchtturm-index-queries")
    parser.add_argument("--only", default="", help="comma-separated read names (prefix match), e.g. similar,comparable")
    parser.add_argument("--profile", default="", help="cProfile this read (prefix of its name)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    only = [o.strip() for o in args.only.split(",") if o.strip()]
    results: dict[int, dict[str, tuple[float, float, float]]] = {}
    for n in sizes:
        print(f"{n:,} profiles", flush=True)
        backend = await open_index(args.index_dir / str(n), n)
        reads = Reads(backend, n, random.Random(args.seed))
        # a draft is never a candidate for a caller without its label (what every figure below stands on)
        drafts = f"bench{DRAFT_EVERY - 1:07d}"
        assert backend.document_sync(drafts, labels=PUBLIC) is None
        assert backend.document_sync(drafts, labels=(PUBLIC_LABEL, owner_label(EDITOR))) is not None
        results[n] = {}
        for name, make in reads.all().items():
            if only and not any(name.strip().startswith(o) for o in only):
                continue
            prof = cProfile.Profile() if args.profile and name.strip().startswith(args.profile) else None
            if prof is not None:  # the backends' threads are not profiled: their work runs inline while profiling
                asyncio.to_thread = _inline  # type: ignore[assignment]
            results[n][name] = await measure(backend, make, args.reads, kept=name.endswith(KEPT), profile=prof)
            p50, p95, cpu = results[n][name]
            print(f"  {name:<32} p50 {p50:7.2f} ms  p95 {p95:7.2f} ms  CPU/read {cpu:7.2f} ms", flush=True)
            if prof is not None:
                out = io.StringIO()
                pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(25)
                pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(15)
                print(out.getvalue())
    names = list(dict.fromkeys(k for r in results.values() for k in r))
    print("\nResult (in process, Tantivy; 2 cores shared with other work: noisy)")
    print(f"  {'read':<32}" + "".join(f" | {f'{n:,}: p50 / p95 / CPU':>26}" for n in sizes) + ("  | p50 ratio" if len(sizes) > 1 else ""))
    for name in names:
        row = f"  {name:<32}"
        for n in sizes:
            p50, p95, cpu = results[n].get(name, (0.0, 0.0, 0.0))
            row += f" | {p50:7.2f} / {p95:7.2f} / {cpu:6.2f}"
        if len(sizes) > 1 and results[sizes[0]].get(name):
            row += f"  | {results[sizes[-1]][name][0] / results[sizes[0]][name][0]:5.2f}×"
        print(row)
    print(f"\nCommand: nice -n 10 .venv/bin/python benchmarks/index_queries.py --sizes {args.sizes} --reads {args.reads} --index-dir {args.index_dir}")


if __name__ == "__main__":
    main()
