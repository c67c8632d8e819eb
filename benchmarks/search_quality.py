"""Search quality on real pages: success@3 by query kind (development set).

Reproduce:  .venv/bin/python benchmarks/search_quality.py [--dev ../shared/eval/dev] [--misses] [--mode both]

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

Modes (--mode):
  backend   the backend exactly as it is (catalogue/search/tantivy_backend.py)
  lexicon   the same backend, but its query planner's synonym step replaced,
            inside this script only, by the municipal lexicon
            (catalogue.lexicon.expand_query) with its weights: what the lexicon
            should bring once the backends are rewired to it
  both      (default) both, side by side
  meili     the Meilisearch backend exactly as it is (catalogue/search/meili_backend.py), on the
            server at LEUCHTTURM_TEST_MEILI_URL (and _KEY; an index of its own, deleted afterwards);
            a throw-away server: tools/with-meilisearch .venv/bin/python benchmarks/search_quality.py --mode meili

This is a development tool: the dev set is tuned on, so its scores are
optimistic; the held-out set (not in this repository) measures the product.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
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


# ------------------------------------------------------------------ the lexicon, wired here only


def lexicon_planner(backend: Any) -> Any:
    """The backend's query planner with its synonym step replaced by the lexicon (weights included).

    A local subclass for measuring only; catalogue/search/ is not changed.
    """
    from catalogue import lexicon
    from catalogue.search import tantivy_backend as tb

    # the backend's own planner and word patterns, used unchanged: the lexicon is measured inside the real planner
    planner, word_re, alnum_re = tb._QueryPlanner, tb._WORD_RE, tb._ALNUM_RE  # noqa: SLF001 - measuring only

    class LexiconPlanner(planner):
        def words(self, q: str) -> list[Any]:
            out = super().words(q)
            for w, original in zip(out, word_re.findall(q), strict=False):
                w.original = original  # the lexicon matches some short forms only in their case ("OB", "AST")
            return out

        def plan(self, searcher: Any, q: str, *, any_word: bool = False) -> Any:
            self._searcher = searcher
            return super().plan(searcher, q, any_word=any_word)

        def _alternative(self, stems: list[str], boost: float) -> list[Any]:
            """Queries for one expansion; a compound the index lacks is also looked for as its two parts."""
            out = [self._stems_query("all", stems, boost, slop=1), self._stems_query("title", stems, boost * 2, slop=1)]
            searcher = getattr(self, "_searcher", None)
            if searcher is not None and len(stems) == 1 and searcher.doc_freq("all", stems[0]) == 0 and len(stems[0]) >= tb.MIN_SPLIT_STEM:
                split = self._split(searcher, stems[0])
                if split:
                    out.append(self._stems_query("all", list(split), boost * tb.SPLIT_BOOST, slop=1))
            return out

        def _add_synonyms(self, words: list[Any], highlight: set[str]) -> None:
            for w in words:  # a hyphenated word is also looked for joined ("Integrations-Monitoring")
                for form in lexicon.spelling_variants(getattr(w, "original", w.raw))[1:]:
                    stems = [s for s in self.analyzer.analyze(form) if alnum_re.match(s)]
                    if stems:
                        highlight.update(stems)
                        w.alternatives.extend(self._alternative(stems, tb.SYNONYM_BOOST))
            for match in lexicon.expand_query([getattr(w, "original", w.raw) for w in words]):
                if match.partial:
                    continue  # part of a hyphenated word: the compound step's business, not a whole-word alternative
                alts = []
                for exp in match.expansions:
                    if exp.kind is lexicon.Kind.TYPED:
                        continue
                    boost = tb.SYNONYM_BOOST * exp.weight
                    for form in lexicon.spelling_variants(exp.term):
                        stems = [s for s in self.analyzer.analyze(form) if alnum_re.match(s)]
                        if not stems:
                            continue
                        highlight.update(stems)
                        alts.extend(self._alternative(stems, boost))
                for w in words[match.start : match.end]:
                    w.alternatives.extend(alts)

    return LexiconPlanner(backend.schema, backend.analyzer)


# ------------------------------------------------------------------ run


def clear_plans(backend: Any) -> None:
    """Forget the query plans the backend cached for its current searcher snapshot."""
    backend._live.view.plans.clear()  # noqa: SLF001 - measuring only: the cache has no public reset


Timings = dict[str, list[float]]


async def run(dev: Path, modes: list[str]) -> tuple[dict[str, dict[str, list[tuple[Case, list[str]]]]], list[str], int, Timings]:
    from catalogue.access import principal_labels
    from catalogue.search.base import SearchQuery
    from catalogue.search.tantivy_backend import TantivyBackend

    public = principal_labels(None)  # an anonymous visitor: published profiles only
    docs, problems = dev_documents(dev)
    corpus = demo_documents() + docs
    cases = load_cases(dev)
    results: dict[str, dict[str, list[tuple[Case, list[str]]]]] = {}
    timings: Timings = {}
    with tempfile.TemporaryDirectory(prefix="leuchtturm-quality-") as tmp:
        backend = TantivyBackend(Path(tmp) / "search")
        try:
            await backend.upsert(corpus)
            # the lexicon is built once at import: keep that out of the query times
            import catalogue.lexicon
            import catalogue.synonyms  # noqa: F401 - imported for the build only

            default_planner = backend.planner
            for mode in (m for m in modes if m != "meili"):
                backend.planner = lexicon_planner(backend) if mode == "lexicon" else default_planner
                clear_plans(backend)  # plans are cached per searcher snapshot
                by_kind: dict[str, list[tuple[Case, list[str]]]] = defaultdict(list)
                times = timings.setdefault(mode, [])
                with Progress(TextColumn(f"Anfragen ({mode})"), BarColumn(), MofNCompleteColumn(), console=console, transient=True) as progress:
                    task = progress.add_task("queries", total=len(cases))
                    for case in cases:
                        runs = []
                        for _ in range(REPEAT):  # the median of a few runs: the machine may be busy
                            clear_plans(backend)  # time the planning too, as for a first query
                            t0 = time.perf_counter()
                            res = backend.search_sync(SearchQuery(q=case.q, per_page=TOP, facets=()), labels=public)
                            runs.append(time.perf_counter() - t0)
                        times.append(statistics.median(runs))
                        by_kind[case.kind].append((case, [h.slug for h in res.hits]))
                        progress.advance(task)
                results[mode] = by_kind
        finally:
            await backend.close()
    if "meili" in modes:
        results["meili"], timings["meili"] = await run_meili(corpus, cases)
    return results, problems, len(corpus), timings


async def run_meili(corpus: list[dict[str, Any]], cases: list[Case]) -> tuple[dict[str, list[tuple[Case, list[str]]]], list[float]]:
    """The same queries on the Meilisearch backend (see --mode meili)."""
    import os
    import uuid

    from catalogue.access import principal_labels
    from catalogue.search.base import SearchQuery
    from catalogue.search.meili_backend import MeiliBackend

    url = os.environ.get("LEUCHTTURM_TEST_MEILI_URL")
    if not url:
        raise SystemExit("--mode meili braucht LEUCHTTURM_TEST_MEILI_URL (tools/with-meilisearch startet einen Server)")
    backend = MeiliBackend(url, os.environ.get("LEUCHTTURM_TEST_MEILI_KEY") or None, index_uid=f"quality_{uuid.uuid4().hex[:12]}")
    by_kind: dict[str, list[tuple[Case, list[str]]]] = defaultdict(list)
    times: list[float] = []
    try:
        await backend.prepare()
        await backend.upsert(corpus)
        with Progress(TextColumn("Anfragen (meili)"), BarColumn(), MofNCompleteColumn(), console=console, transient=True) as progress:
            task = progress.add_task("queries", total=len(cases))
            for case in cases:
                t0 = time.perf_counter()
                res = await backend.search(SearchQuery(q=case.q, per_page=TOP, facets=()), labels=principal_labels(None))
                times.append(time.perf_counter() - t0)
                by_kind[case.kind].append((case, [h.slug for h in res.hits]))
                progress.advance(task)
    finally:
        await backend.client.index(backend.index_uid).delete()
        await backend.close()
    return by_kind, times


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
            "(Planung ohne Zwischenspeicher, Tantivy im Prozess; gemessen neben anderer Last, daher verrauscht)"
        )
    if cases and any(m == "lexicon" for m in modes):
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
    console.print(f"\nReproduzieren: .venv/bin/python benchmarks/search_quality.py --mode {'both' if len(modes) == 2 else modes[0]}"
                  + (" --misses" if misses else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev", type=Path, default=DEFAULT_DEV, help="folder of the development set (default: ../shared/eval/dev)")
    parser.add_argument("--mode", choices=("backend", "lexicon", "both", "meili"), default="both")
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
    modes = ["backend", "lexicon"] if args.mode == "both" else [args.mode]
    results, problems, n_docs, timings = asyncio.run(run(dev, modes))
    report(results, problems, n_docs, misses=args.misses, dev=dev, timings=timings, cases=load_cases(dev))
    return 0


if __name__ == "__main__":
    sys.exit(main())
