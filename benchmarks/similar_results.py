"""Comparable projects' answers for every demo and dev profile (and a synthetic sample), to compare before/after a change.

Reproduce:

    .venv/bin/python benchmarks/similar_results.py --save /tmp/similar-before.json      # on the old tree
    .venv/bin/python benchmarks/similar_results.py --compare /tmp/similar-before.json   # on the new tree

Steps:
 1. A Tantivy index in a temporary directory of the demo profiles, the pages of
    ../shared/eval/dev (imported as benchmarks/search_quality.py does; skipped when
    the set is absent) and `--synthetic N` synthetic profiles (benchmarks/index_queries.py's documents).
 2. For every demo and dev profile and the first `--sample` synthetic ones: `find_comparable` for its
    indexed document (as /profiles/{slug}/similar and the page's panel ask, anonymous caller), top `--limit`
    (5 and 10), and "Kommunen wie meine" for its population, Land and Handlungsfelder.
 3. Prints how many answers there are; `--save` writes them (ids, scores, reasons) as JSON, `--compare`
    reads such a file and prints every answer that differs (exit status 1 when one does).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import search_quality as sq
from benchmarks.index_queries import search_document
from benchmarks.synthetic import synthetic_profiles
from catalogue.access import principal_labels
from catalogue.search.comparable import Comparable, Reference, find_comparable
from catalogue.search.tantivy_backend import TantivyBackend

DEV_SET = ROOT.parent / "shared" / "eval" / "dev"


def _answer(found: list[Comparable]) -> list[list[Any]]:
    return [[str(c.document.get("id")), round(c.score, 6), c.reasons] for c in found]


async def answers(tmp: Path, synthetic: int, sample: int) -> dict[str, Any]:
    docs = sq.demo_documents()
    if (DEV_SET / "pages").is_dir():
        docs += sq.dev_documents(DEV_SET)[0]
    references = list(docs)
    extra = [search_document(i, content) for i, content in enumerate(synthetic_profiles(synthetic))] if synthetic else []
    references += [d for d in extra[: sample * 2] if d.get("status") == "published"][:sample]
    backend = TantivyBackend(tmp)
    await backend.acquire_writer()
    await backend.upsert(docs + extra)
    labels = principal_labels(None)
    out: dict[str, Any] = {}
    try:
        for doc in references:
            indexed = await backend.document(str(doc["id"]), labels=labels)
            if indexed is None:
                continue
            ref = Reference.from_document(indexed)
            for limit in (5, 10):
                out[f"similar {doc['id']} {limit}"] = _answer(await find_comparable(backend, ref, labels=labels, limit=limit))
            mine = Reference.for_municipality(population=ref.population, state=ref.state, kind=ref.kind, fields_of_action=ref.fields_of_action)
            out[f"comparable {doc['id']}"] = _answer(await find_comparable(backend, mine, labels=labels, limit=5))
    finally:
        await backend.release_writer()
        await backend.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--save", type=Path)
    parser.add_argument("--compare", type=Path)
    parser.add_argument("--synthetic", type=int, default=2000)
    parser.add_argument("--sample", type=int, default=150)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="similar-results-") as tmp:
        found = asyncio.run(answers(Path(tmp), args.synthetic, args.sample))
    print(f"{len(found)} answers")
    if args.save:
        args.save.write_text(json.dumps(found, ensure_ascii=False, indent=0), encoding="utf-8")
        print(f"written to {args.save}")
    if args.compare:
        before = json.loads(args.compare.read_text(encoding="utf-8"))
        differ = [k for k in sorted(set(before) | set(found)) if before.get(k) != found.get(k)]
        for k in differ:
            print(f"DIFFERS {k}\n  before {before.get(k)}\n  after  {found.get(k)}")
        print(f"{len(differ)} of {len(found)} answers differ")
        sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
