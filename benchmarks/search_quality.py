"""Search quality on real pages: success@3 by query kind (development set).

Reproduce:  .venv/bin/python benchmarks/search_quality.py [--dev ../shared/eval/dev] [--misses] [--engine both]

What it does
 1. Reads the development set in ../shared/eval/dev/ (README there): real public
    pages (pages/NN-*.txt, line 1 "Source: <URL>") and staff-like queries
    (queries.json: q, expect_file, kind, why). Exits with a clear message
    (exit code 2) when the folder is absent: the set is not part of the repository.
 2. Imports every page with the project's importers (format detection, which
    picks the reference-text importer for these prose pages) and builds its
    search document, beside the demo set (data/demo/profiles.json), into a
    temporary Tantivy index with the current backend.
 3. Runs each query and counts a success when the expected page's profile is
    among the first three hits; prints success@3 by kind.

Engines (--engine): tantivy (a temporary index), meilisearch (a temporary index on
the server at --meili-url or LEUCHTTURM_TEST_MEILI_URL, key from
LEUCHTTURM_TEST_MEILI_KEY), or both (default: tantivy, and meilisearch when a URL is set).
Both engines plan queries with catalogue/search/planning.py (the municipal lexicon
with weights). Without a database no register is at hand, so only the Länder count
as place words here; tests/quality/test_search_quality.py shares this loader.

This is a development tool: the dev set is tuned on, so its scores are
optimistic; the held-out set (not in this repository) measures the product.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

console = Console(width=160)

DEFAULT_DEV = ROOT.parent / "shared" / "eval" / "dev"
DEMO_PROFILES = ROOT / "data" / "demo" / "profiles.json"
TOP = 3
REPEAT = 3
KIND_ORDER = ("plain", "short", "typo", "compound", "abbreviation", "place", "synonym")


@dataclass
class Case:
    q: str
    kind: str
    expected: str  # slug
    why: str


# ------------------------------------------------------------------ corpus


def demo_documents() -> list[dict[str, Any]]:
    from catalogue.models import Profile, ProfileContent
    from catalogue.search.documents import to_search_document
    from catalogue.vocabularies import EditorialStatus

    docs = []
    for n, entry in enumerate(json.loads(DEMO_PROFILES.read_text(encoding="utf-8"))):
        content = ProfileContent.model_validate({k: v for k, v in entry.items() if k not in ("slug", "demo_id")})
        stamp = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=n)
        profile = Profile.model_construct(
            **dict(content), id=entry["demo_id"], slug=entry["slug"], status=EditorialStatus.PUBLISHED, published_at=stamp, updated_at=stamp
        )
        docs.append(to_search_document(profile))
    return docs


def page_slug(rel: str) -> str:
    return "dev-" + Path(rel).stem


def page_source(path: Path) -> Any:
    """The page file as an import source, without the set's "Source: <URL>" line (metadata, not page text)."""
    from importers.base import Source

    text = path.read_text(encoding="utf-8")
    first, _, rest = text.partition("\n")
    if first.startswith("Source:"):
        text = rest.lstrip("\n")
    return Source(name=str(path), raw=text.encode("utf-8"), media_type="text/plain")


def dev_documents(dev: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Import every page of the dev set; returns the search documents and problems found."""
    from catalogue.models import Profile, ProfileContent
    from catalogue.search.documents import to_search_document
    from catalogue.vocabularies import EditorialStatus
    from importers.registry import parse_source

    pages = sorted((dev / "pages").glob("*.txt"))
    docs: list[dict[str, Any]] = []
    problems: list[str] = []
    with Progress(TextColumn("Seiten importieren"), BarColumn(), MofNCompleteColumn(), console=console, transient=True) as progress:
        task = progress.add_task("import", total=len(pages))
        for n, path in enumerate(pages):
            importer, records = parse_source(page_source(path))
            progress.advance(task)
            record = next((r for r in records if r.ok), None)
            if record is None:
                msgs = "; ".join(e.message for r in records for e in r.errors) or "kein Datensatz"
                problems.append(f"{path.name}: nicht importiert ({msgs})")
                continue
            content = ProfileContent.model_validate(record.content)
            stamp = datetime(2025, 6, 1, tzinfo=UTC) + timedelta(days=n)
            rel = f"pages/{path.name}"
            profile = Profile.model_construct(
                **dict(content), id=page_slug(rel), slug=page_slug(rel), status=EditorialStatus.PUBLISHED, published_at=stamp, updated_at=stamp
            )
            docs.append(to_search_document(profile))
            if importer is not None and importer.name != "reference":
                problems.append(f"{path.name}: als {importer.name!r} erkannt, nicht als Referenztext")
    return docs, problems


def load_cases(dev: Path) -> list[Case]:
    raw = json.loads((dev / "queries.json").read_text(encoding="utf-8"))
    return [Case(q=c["q"], kind=c["kind"], expected=page_slug(c["expect_file"]), why=c.get("why", "")) for c in raw]


# ------------------------------------------------------------------ run


Results = dict[str, list[tuple[Case, list[str]]]]  # kind -> (case, top slugs)


def meili_url() -> str | None:
    return os.environ.get("LEUCHTTURM_TEST_MEILI_URL") or None


async def make_backend(engine: str, tmp: Path) -> Any:
    if engine == "tantivy":
        from catalogue.search.tantivy_backend import TantivyBackend

        return TantivyBackend(tmp / "search")
    from catalogue.search.meili_backend import MeiliBackend

    url = meili_url()
    if not url:
        raise RuntimeError("LEUCHTTURM_TEST_MEILI_URL ist nicht gesetzt")
    backend = MeiliBackend(url, os.environ.get("LEUCHTTURM_TEST_MEILI_KEY") or None, index_uid=f"quality_{uuid.uuid4().hex[:12]}")
    await backend.prepare()
    return backend


async def dispose(backend: Any) -> None:
    if backend.name == "meilisearch":
        try:
            await backend.client.index(backend.index_uid).delete()
        finally:
            await backend.close()
    else:
        await backend.close()


async def evaluate(backend: Any, cases: list[Case], *, repeat: int = 1, progress: Progress | None = None,
                   cold_lookups: bool = False) -> tuple[Results, list[float]]:
    """Run every case on a filled backend: the top three slugs by kind, and the median time of each query.
    `cold_lookups`: also forget the snapshot's term lookups and the lexicon's compound expansions before each run
    (as without those caches)."""
    from catalogue.access import principal_labels
    from catalogue.search.base import SearchQuery

    public = principal_labels(None)  # an anonymous visitor: published profiles only
    by_kind: Results = defaultdict(list)
    times: list[float] = []
    task = progress.add_task("queries", total=len(cases)) if progress else None
    for case in cases:
        runs = []
        for _ in range(repeat):  # the median of a few runs: the machine may be busy
            clear_plans(backend, lookups=cold_lookups)  # time the planning too, as for a first query
            t0 = time.perf_counter()
            res = await backend.search(SearchQuery(q=case.q, per_page=TOP, facets=()), labels=public)
            runs.append(time.perf_counter() - t0)
        times.append(statistics.median(runs))
        by_kind[case.kind].append((case, [h.slug for h in res.hits]))
        if progress and task is not None:
            progress.advance(task)
    return by_kind, times


def clear_plans(backend: Any, *, lookups: bool = False) -> None:
    """Forget the query plans and results kept for the current searcher snapshot (Tantivy) and the shared plan cache; with
    `lookups` also the snapshot's term lookups (compound splits and expansions, typo candidates) and the lexicon's
    compound expansions (the bounded LRU caches)."""
    from catalogue import lexicon
    from catalogue.search import planning

    planning._plan.cache_clear()  # noqa: SLF001 - measuring only: time the planning as for a first query
    if lookups:
        lexicon.LEXICON.compound_cache.clear()
    if backend.name == "tantivy":
        backend._live.view.plans.clear()  # noqa: SLF001 - measuring only: the cache has no public reset
        backend._live.view.results.clear()  # noqa: SLF001 - … and the results kept per snapshot, so each query is searched
        if lookups:
            backend._live.view.terms.cache.clear()  # noqa: SLF001 - …


Timings = dict[str, list[float]]


async def run(dev: Path, engines: list[str]) -> tuple[dict[str, Results], list[str], int, Timings]:
    docs, problems = dev_documents(dev)
    corpus = demo_documents() + docs
    cases = load_cases(dev)
    results: dict[str, Results] = {}
    timings: Timings = {}
    import catalogue.search.planning  # noqa: F401 - the lexicon is built once at import: keep that out of the query times

    for engine in engines:
        with tempfile.TemporaryDirectory(prefix="leuchtturm-quality-") as tmp:
            backend = await make_backend(engine, Path(tmp))
            try:
                await backend.upsert(corpus)
                with Progress(TextColumn(f"Anfragen ({engine})"), BarColumn(), MofNCompleteColumn(), console=console, transient=True) as progress:
                    results[engine], timings[engine] = await evaluate(backend, cases, repeat=REPEAT, progress=progress)
                if engine == "tantivy":  # the same queries without the lookup caches: what they save
                    with Progress(TextColumn("Anfragen (ohne Zwischenspeicher)"), BarColumn(), MofNCompleteColumn(), console=console,
                                  transient=True) as progress:
                        _, timings["tantivy, Nachschlage-Caches leer"] = await evaluate(
                            backend, cases, repeat=REPEAT, progress=progress, cold_lookups=True)
            finally:
                await dispose(backend)
    return results, problems, len(corpus), timings


def kind_sort(kinds: set[str]) -> list[str]:
    return sorted(kinds, key=lambda k: (KIND_ORDER.index(k) if k in KIND_ORDER else len(KIND_ORDER), k))


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))]


def lexicon_figures(cases: list[Case]) -> str:
    """Size of the lexicon, the time to build it from the file, and the time of a lookup."""
    from catalogue import lexicon

    t0 = time.perf_counter()
    lex = lexicon.load()
    build_ms = (time.perf_counter() - t0) * 1000
    words = [w for c in cases for w in c.q.split()]
    t0 = time.perf_counter()
    for _ in range(5):
        for w in words:
            lexicon.expand(w)
    expand_us = (time.perf_counter() - t0) / (5 * len(words)) * 1e6
    t0 = time.perf_counter()
    for _ in range(5):
        for c in cases:
            lexicon.expand_query(c.q)
    query_us = (time.perf_counter() - t0) / (5 * len(cases)) * 1e6
    kinds = {k: sum(1 for e in lex.entries if e.kind == k) for k in ("abbreviation", "synonym", "regional")}
    return (
        f"Lexikon: {kinds['abbreviation']} Abkürzungszeilen, {kinds['synonym']} Synonymgruppen, {kinds['regional']} Ländergruppen, "
        f"{len(lex.nodes)} Begriffe; Aufbau aus der Datei {build_ms:.0f} ms (einmal beim Import); "
        f"expand {expand_us:.1f} µs je Wort, expand_query {query_us:.1f} µs je Anfrage (Mittel über die {len(cases)} Anfragen)"
    )


def report(results: dict[str, dict[str, list[tuple[Case, list[str]]]]], problems: list[str], n_docs: int, *, misses: bool, dev: Path,
           timings: Timings | None = None, cases: list[Case] | None = None) -> None:
    modes = list(results)
    kinds = kind_sort({k for r in results.values() for k in r})
    table = Table(title=f"success@{TOP} nach Art der Anfrage ({n_docs} Profile im Index: Demo-Satz + {dev})")
    table.add_column("Art")
    table.add_column("Anfragen", justify="right")
    for mode in modes:
        table.add_column(mode, justify="right")
    totals: Counter[str] = Counter()
    total_n = 0
    for kind in kinds:
        n = len(results[modes[0]][kind])
        total_n += n
        cells = []
        for mode in modes:
            ok = sum(1 for case, top in results[mode][kind] if case.expected in top)
            totals[mode] += ok
            cells.append(f"{ok}/{n} ({100 * ok / n:.0f} %)")
        table.add_row(kind, str(n), *cells)
    table.add_row("gesamt", str(total_n), *(f"{totals[m]}/{total_n} ({100 * totals[m] / total_n:.1f} %)" for m in modes), style="bold")
    console.print(table)
    for mode, times in (timings or {}).items():
        console.print(
            f"Suchzeit {mode}: p50 {statistics.median(times) * 1000:.2f} ms, p95 {pct(times, 95) * 1000:.2f} ms je Anfrage "
            "(jede Anfrage neu geplant, Backend im Prozess; gemessen neben anderer Last, daher verrauscht)"
        )
    if cases:
        console.print(lexicon_figures(cases))
    for p in problems:
        console.print(f"[yellow]Hinweis:[/] {p}")
    if misses:
        for mode in modes:
            console.print(f"\n[bold]Verfehlt ({mode}):[/]")
            for kind in kinds:
                for case, top in results[mode][kind]:
                    if case.expected not in top:
                        console.print(f"  [{kind}] {case.q!r} → erwartet {case.expected}, erhalten {top}  ({case.why})")
        if len(modes) == 2:
            a, b = modes
            for label, x, y in ((f"nur mit {b} gefunden", a, b), (f"nur mit {a} gefunden", b, a)):
                changed = [
                    (kind, case)
                    for kind in kinds
                    for (case, top_x), (_, top_y) in zip(results[x][kind], results[y][kind], strict=True)
                    if case.expected not in top_x and case.expected in top_y
                ]
                console.print(f"\n[bold]{label}:[/] {len(changed)}")
                for kind, case in changed:
                    console.print(f"  [{kind}] {case.q!r}")
    console.print(f"\nReproduzieren: .venv/bin/python benchmarks/search_quality.py --engine {'both' if len(modes) == 2 else modes[0]}"
                  + (" --misses" if misses else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev", type=Path, default=DEFAULT_DEV, help="folder of the development set (default: ../shared/eval/dev)")
    parser.add_argument("--engine", choices=("tantivy", "meilisearch", "both"), default="both")
    parser.add_argument("--meili-url", help="Meilisearch server (default: LEUCHTTURM_TEST_MEILI_URL)")
    parser.add_argument("--misses", action="store_true", help="list the queries that miss, with their top three")
    args = parser.parse_args(argv)
    dev: Path = args.dev
    if not (dev / "queries.json").is_file() or not (dev / "pages").is_dir():
        console.print(
            f"Der Entwicklungssatz fehlt: {dev} (erwartet queries.json und pages/). "
            "Er liegt nicht im Repository, sondern neben dem Arbeitsbaum in ../shared/eval/dev; "
            "ohne ihn gibt es nichts zu messen."
        )
        return 2
    if args.meili_url:
        os.environ["LEUCHTTURM_TEST_MEILI_URL"] = args.meili_url
    engines = ["tantivy", "meilisearch"] if args.engine == "both" else [args.engine]
    if "meilisearch" in engines and not meili_url():
        if args.engine == "meilisearch":
            console.print("Kein Meilisearch: --meili-url oder LEUCHTTURM_TEST_MEILI_URL angeben.")
            return 2
        engines = ["tantivy"]
    results, problems, n_docs, timings = asyncio.run(run(dev, engines))
    report(results, problems, n_docs, misses=args.misses, dev=dev, timings=timings, cases=load_cases(dev))
    return 0


if __name__ == "__main__":
    sys.exit(main())
