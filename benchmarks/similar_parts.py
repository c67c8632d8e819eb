"""Where a cold `similar` read's index CPU goes, part by part, and how much of it runs on the event loop's thread.

Reproduce:

    .venv/bin/python benchmarks/similar_parts.py [--index-dir /tmp/leuchtturm-index-queries] [--reads 300] [--seed 5]

Uses benchmarks/index_queries.py's index of 10,000 synthetic profiles in `--index-dir`/10000 (built there on the
first run). For `--reads` random published profiles, each read once (cold: the candidate lists and decoded documents
the snapshot keeps are dropped first): `find_comparable` for its indexed document, as /profiles/{slug}/similar and the
page's panel ask. Per read, CPU time (time.thread_time, in whichever thread the part runs): planning the reference
text, the reference's own relevance (search with limit 1), the ranked search, fetching the stored documents, decoding
their payloads (and how many bytes), `comparable.rank`, and the event loop thread's CPU for the whole call (the
search thread's work left out). Thread CPU time is less disturbed by other work on the machine than wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.index_queries import open_index
from catalogue.access import principal_labels
from catalogue.search import comparable as comp
from catalogue.search import tantivy_backend as tb

SIZE = 10_000
PARTS: defaultdict[str, float] = defaultdict(float)


def _timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        t0 = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            PARTS[name] += time.thread_time() - t0

    return run


class _TimedSearcher:
    def __init__(self, searcher: Any) -> None:
        self._searcher = searcher

    def search(self, query: Any, limit: int, count: bool = True) -> Any:
        name = "reference relevance search" if limit == 1 else "ranked search"
        return _timed(name, self._searcher.search)(query, limit=limit, count=count)

    def doc(self, addr: Any) -> Any:
        return _timed("stored document fetch", self._searcher.doc)(addr)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._searcher, name)


async def run(index_dir: Path, reads: int, seed: int) -> None:
    backend = await open_index(index_dir / str(SIZE), SIZE)
    labels = principal_labels(None)
    rng = random.Random(seed)
    refs = [comp.Reference.from_document(d) for i in rng.sample(range(SIZE), reads)
            if (d := backend.document_sync(f"bench{i:07d}", labels=labels)) is not None]
    view = backend._live.view  # noqa: SLF001 - the benchmark times the backend's parts
    view.searcher = _TimedSearcher(view.searcher)  # type: ignore[assignment]
    view.docs.clear()
    view.results.clear()
    backend._plan = _timed("plan of the reference text", backend._plan)  # type: ignore[method-assign]  # noqa: SLF001
    decode = tb._decode_payload  # noqa: SLF001
    payload_bytes = 0

    def counted_decode(payload: bytes) -> Any:
        nonlocal payload_bytes
        payload_bytes += len(payload)
        return decode(payload)

    tb._decode_payload = _timed("payload decoding", counted_decode)  # noqa: SLF001
    comp.rank = _timed("rank (Python)", comp.rank)
    loop_cpu = 0.0
    for ref in refs:
        t0 = time.thread_time()
        await comp.find_comparable(backend, ref, labels=labels, limit=10)
        loop_cpu += time.thread_time() - t0
    n = len(refs)
    print(f"{n} cold similar reads at {SIZE:,} profiles (index only), CPU per read:")
    for name, seconds in sorted(PARTS.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<30} {seconds * 1000 / n:6.3f} ms")
    print(f"  {'sum of the parts':<30} {sum(PARTS.values()) * 1000 / n:6.3f} ms")
    print(f"  {'event loop thread (all)':<30} {loop_cpu * 1000 / n:6.3f} ms")
    print(f"  payloads decoded: {payload_bytes / n / 1000:.1f} kB per read")
    print(f"Befehl: .venv/bin/python benchmarks/similar_parts.py --index-dir {index_dir} --reads {reads} --seed {seed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--index-dir", type=Path, default=Path(tempfile.gettempdir()) / "leuchtturm-index-queries")
    parser.add_argument("--reads", type=int, default=300)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(run(args.index_dir, args.reads, args.seed))


if __name__ == "__main__":
    main()
