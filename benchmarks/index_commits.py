"""Where a Tantivy commit's CPU goes (the sync worker's commit of one changed draft), backend only: no store, no HTTP.

Reproduce:

    nice -n 5 .venv/bin/python benchmarks/index_commits.py [--sizes 1000,10000] [--commits 40]
        [--index-dir /tmp/leuchtturm-index-commits] [--variants current,heap15,heap15-carry16]

Steps (`--on-top N`: first N more profiles imported as the sync worker applies an import, commits of
1,000 and a last one of `--tail`, as `scale.py --sizes 1000,10000` loads 10k on top of 1k):
 1. Per size, the index of benchmarks/index_queries.py (synthetic published profiles, bulk-loaded
    through the backend's `rebuild`), kept in `--index-dir/<size>` and reused.
 2. Per variant (writer heap and CARRY_MAX), a fresh copy of that index, a writer, 8 warm-up commits, then
    `--commits` commits of one changed draft each, 8 drafts in turn (as the mixed load writes them).
    Each commit as `TantivyBackend._write` makes it, step by step, with this process's CPU (all threads,
    so Tantivy's indexing and segment-updater threads count) and wall time per step:
    build (the document), put (delete by id + add), carry (the carried documents again), commit
    (`writer.commit()`), reload (`index.reload()`), searcher (`index.searcher()` and the new `_View`),
    then 20 ms of quiet (what Tantivy's threads do after the commit returned: merges, file clean-up).
    Also the backend's own `_write` (the same, in one call) for the total, segments and files after.
 3. With `--perf`: nothing else; run `perf record -g -p PID` yourself (the PID is printed).
Figures measured while other work runs on the machine are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.index_queries import open_index, pct, search_document
from benchmarks.synthetic import synthetic_profiles
from catalogue.search import tantivy_backend as tb

STEPS = ("build", "put", "carry", "commit", "reload", "searcher", "after")
IMPORT_BATCH = 1000  # documents per commit of an import on top (the sync worker's MAX_DOCUMENTS)
VARIANTS: dict[str, dict[str, Any]] = {  # name -> backend settings
    "current": {},
    "heap15": {"WRITER_HEAP": 15_000_000},
    "heap15-carry16": {"WRITER_HEAP": 15_000_000, "CARRY_MAX": 16},
    "carry0": {"CARRY_MAX": 0},
    "carry32": {"CARRY_MAX": 32},
    "carry16": {"CARRY_MAX": 16},
    "bulk-carried": {"CARRY_WRITE": 10**9},  # before CARRY_WRITE: every write of up to CARRY_MAX documents carried
}


def segments(path: Path) -> tuple[int, int]:
    """(segments, files) of an index directory."""
    files = [p for p in path.iterdir() if p.is_file()]
    return len({p.name.split(".")[0] for p in files if len(p.name.split(".")[0]) == 32}), len(files)


def drafts(size: int, count: int) -> list[dict[str, Any]]:
    contents = list(synthetic_profiles(count, seed=7))
    return [search_document(size + i, contents[i]) for i in range(count)]


def import_on_top(backend: tb.TantivyBackend, size: int, count: int, tail: int) -> None:
    """`count` more profiles through the backend's writes as the sync worker applies an import: commits of
    IMPORT_BATCH documents, the last one of `tail` documents (an import's remainder)."""
    contents = list(synthetic_profiles(count, seed=3))
    docs = [search_document(10 * size + i, c) for i, c in enumerate(contents)]
    bounds = [*range(0, count - tail, IMPORT_BATCH), count - tail, count]
    for lo, hi in itertools.pairwise(dict.fromkeys(bounds)):
        backend._write("upsert", docs[lo:hi])  # noqa: SLF001


def step_by_step(backend: tb.TantivyBackend, doc: dict[str, Any], cpu: Counter[str], wall: Counter[str]) -> None:
    """One `_write("upsert", [doc])`, as the backend makes it, timed per step."""
    live = backend._ensure_writable()  # noqa: SLF001 - measured in place
    writer = live.writer
    assert writer is not None
    marks: list[tuple[str, float, float]] = [("", time.process_time(), time.perf_counter())]

    def mark(name: str) -> None:
        marks.append((name, time.process_time(), time.perf_counter()))

    built = backend._tantivy_doc(doc)  # noqa: SLF001
    mark("build")
    backend._put(writer, str(doc["id"]), built)  # noqa: SLF001
    mark("put")
    carried = dict(backend._carried)  # noqa: SLF001
    carried[str(doc["id"])] = built
    if len(carried) > tb.CARRY_MAX:
        carried = {str(doc["id"]): built}
    else:
        for doc_id, d in carried.items():
            if doc_id != str(doc["id"]):
                backend._put(writer, doc_id, d)  # noqa: SLF001
    mark("carry")
    writer.commit()
    mark("commit")
    backend._carried = carried  # noqa: SLF001
    live.index.reload()
    mark("reload")
    live.view = tb._View(live.index.searcher())  # noqa: SLF001
    mark("searcher")
    time.sleep(0.02)
    mark("after")
    for (_, c0, w0), (name, c1, w1) in itertools.pairwise(marks):
        cpu[name] += c1 - c0
        wall[name] += w1 - w0


def run_variant(source: Path, work: Path, size: int, name: str, settings: dict[str, Any], args: argparse.Namespace) -> None:
    commits, count = args.commits, args.drafts
    saved = {key: getattr(tb, key) for key in settings}
    for key, value in settings.items():
        setattr(tb, key, value)
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(source, work)
    try:
        backend = tb.TantivyBackend(work)
        backend._acquire()  # noqa: SLF001
        if args.on_top:
            import_on_top(backend, size, args.on_top, args.tail)
        docs = drafts(size, count)
        turn = 0

        def next_doc() -> dict[str, Any]:
            nonlocal turn
            doc = dict(docs[turn % count])
            doc["summary"] = f"Fassung {turn} des Entwurfs."
            turn += 1
            return doc

        for _ in range(count):
            backend._write("upsert", [next_doc()])  # noqa: SLF001
        cpu: Counter[str] = Counter()
        wall: Counter[str] = Counter()
        for _ in range(commits):
            step_by_step(backend, next_doc(), cpu, wall)
        totals: list[float] = []
        walls: list[float] = []
        for _ in range(commits):
            c0, w0 = time.process_time(), time.perf_counter()
            backend._write("upsert", [next_doc()])  # noqa: SLF001
            time.sleep(0.02)
            totals.append((time.process_time() - c0) * 1000)
            walls.append((time.perf_counter() - w0 - 0.02) * 1000)
        live = backend._live  # noqa: SLF001
        assert live.path is not None
        segs, files = segments(live.path)
        parts = ", ".join(f"{s} {cpu[s] * 1000 / commits:.1f}" for s in STEPS)
        wparts = ", ".join(f"{s} {wall[s] * 1000 / commits:.1f}" for s in STEPS)
        print(f"  {name:<16} _write CPU mean {statistics.fmean(totals):5.1f} ms (merges included), p50 {statistics.median(totals):5.1f}, "
              f"p90 {pct(totals, 90):5.1f}; wall p50 "
              f"{statistics.median(walls):5.1f} ms; searcher segments {live.view.searcher.num_segments}, dir: {segs} segments "
              f"{files} files\n      CPU by step (ms): {parts}\n      wall by step (ms): {wparts}", flush=True)
        backend._release()  # noqa: SLF001
    finally:
        for key, value in saved.items():
            setattr(tb, key, value)
        shutil.rmtree(work, ignore_errors=True)


async def amain(args: argparse.Namespace) -> None:
    root = Path(args.index_dir)
    print(f"PID {os.getpid()}; {os.cpu_count()} cores; index copies under {root}", flush=True)
    for size in (int(s) for s in args.sizes.split(",")):
        backend = await open_index(root / str(size), size)
        source = root / str(size)  # the backend's root: pointer and index directory
        del backend
        on_top = f", then {args.on_top:,} imported on top (last commit {args.tail})" if args.on_top else ""
        print(f"\n{size:,} profiles{on_top} ({args.commits} commits of one changed draft per variant, {args.drafts} drafts in turn):",
              flush=True)
        for name in args.variants.split(","):
            run_variant(source, root / f"work-{size}", size, name, VARIANTS[name], args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--commits", type=int, default=40)
    parser.add_argument("--index-dir", default=str(Path(tempfile.gettempdir()) / "leuchtturm-index-commits"))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--drafts", type=int, default=8, help="different drafts written in turn (the mixed load: 8)")
    parser.add_argument("--on-top", type=int, default=0, help="profiles imported on top before the commits (scale.py --sizes 1000,10000)")
    parser.add_argument("--tail", type=int, default=50, help="documents of the import's last commit")
    args = parser.parse_args()
    asyncio.run(amain(args))
    print(f"\nBefehl: nice -n 5 .venv/bin/python benchmarks/index_commits.py --sizes {args.sizes} --commits {args.commits} "
          f"--index-dir {args.index_dir} --variants {args.variants}"
          f" --drafts {args.drafts}" + (f" --on-top {args.on_top} --tail {args.tail}" if args.on_top else ""))


if __name__ == "__main__":
    main()
