"""The one-page fitting: the level Python estimates against the level Typst measures.

The overview's long texts come as a ladder of shortened levels (catalogue/pdf/fit.py).
Rendering picks the level from an estimate of the page's height (`estimate_level`),
lays the page out once and steps one level shorter only when the page overflows
(catalogue/pdf/render.py). This script renders the demo set, the invented fixtures
and N synthetic profiles that way and compares each with the template's measured
ladder (the longest level whose measured height fits, with the template's 16 pt
reserve), printing how often the printed level is the same, shorter (text lost) or
longer (it still fits one page, checked), how many compiles it took, and what the
shorter levels cost in characters of text.

    .venv/bin/python benchmarks/pdf_fit.py [--synthetic 200] [--seed 7] [--margins 6,0,12]

--margins tries other safety margins of the estimate (pt; ESTIMATE_MARGIN is the
one in use). Figures are counts (no timing), so they do not depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import typst

from benchmarks.synthetic import synthetic_profiles
from catalogue.models import ProfileContent
from catalogue.pdf.fit import ESTIMATE_MARGIN, estimate_level
from catalogue.pdf.render import PROFILE_TEMPLATE, TEMPLATE_DIR, compile_profile, page_count, profile_view
from tests.fixtures.profiles import buergerbus, fundbuero, longest

GENERATED_AT = datetime(2025, 11, 22, 9, 30, tzinfo=UTC)
BASE_URL = "https://leuchtturm.example/profiles/"
DEMO = ROOT / "data" / "demo" / "profiles.json"


def profiles(synthetic: int, seed: int = 7) -> list[tuple[str, dict[str, Any], bool]]:
    """(group, profile as the PDF reads it, sample?) for the demo set, the fixtures and `synthetic` synthetic profiles."""
    out: list[tuple[str, dict[str, Any], bool]] = []
    for entry in json.loads(DEMO.read_text(encoding="utf-8")):
        p = {k: v for k, v in entry.items() if k != "demo_id"}
        p.update(status="published", provenance={"importer": "demo", "source": "https://quelle.example/seite"}, updated_at="2025-03-01T09:00:00Z")
        out.append(("demo", p, True))
    out += [("fixtures", f(), False) for f in (fundbuero, buergerbus, longest)]
    for i, content in enumerate(synthetic_profiles(synthetic, seed=seed)):
        p = ProfileContent(**content).model_dump(mode="json")
        p.update(slug=f"synthetisch-{i}", status="published", updated_at="2025-03-01T09:00:00+00:00",
                 provenance={"importer": "synthetic", "source": "https://quelle.example/seite"} if i % 3 else None)
        out.append(("synthetic", p, False))
    return out


def level_chars(level: Mapping[str, Any]) -> int:
    def chars(blocks: list[dict[str, Any]]) -> int:
        n = 0
        for b in blocks:
            if b["type"] == "list":
                n += sum(len(r["text"]) for item in b["items"] for r in item["runs"])
            elif b["type"] == "table":
                n += sum(len(c) for row in b["rows"] for c in row)
            else:
                n += sum(len(r["text"]) for r in b["runs"])
        return n

    return sum(chars(s["blocks"]) for s in level["sections"]) + chars(level["funding_blocks"])


def progress(done: int, total: int) -> None:
    sys.stderr.write(f"\r  {done}/{total}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--synthetic", type=int, default=200, help="synthetic profiles (default 200)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic profiles (default 7: the calibration's)")
    parser.add_argument("--margins", default=str(ESTIMATE_MARGIN), help=f"estimate margins to try, pt (default {ESTIMATE_MARGIN})")
    args = parser.parse_args()
    margins = [float(m) for m in args.margins.split(",")]
    items = profiles(args.synthetic, args.seed)

    print(f"Measuring the ladder (Typst) for {len(items)} profiles …", file=sys.stderr)
    cases = []
    for n, (group, p, sample) in enumerate(items):
        view = profile_view(p, url=BASE_URL + p["slug"], generated_at=GENERATED_AT, sample=sample)
        measured = 0
        if len(view["levels"]) > 1:
            data = json.dumps(view, ensure_ascii=False, separators=(",", ":"))
            measured = json.loads(typst.query(str(PROFILE_TEMPLATE), "<fit-level>", field="value", one=True, root=str(TEMPLATE_DIR),
                                              ignore_system_fonts=True, sys_inputs={"data": data}))
        cases.append((group, view, measured))
        progress(n + 1, len(items))

    for margin in margins:
        print(f"\nEstimate margin {margin:g} pt" + (" (in use)" if margin == ESTIMATE_MARGIN else ""))
        print(f"  {'group':<10} {'profiles':>8} {'same':>5} {'shorter':>7} {'longer':>6} {'compiles':>8} {'2+ compiles':>11} "
              f"{'text lost when shorter (chars, median / max)':>45}")
        rows: dict[str, list[tuple[int, int, int]]] = {}
        for n, (group, view, measured) in enumerate(cases):
            guess = estimate_level(view, margin) if len(view["levels"]) > 1 else 0
            compiled = compile_profile(view, fmt="pdf", generated_at=GENERATED_AT, level=guess)
            result, printed, compiles = compiled.result, compiled.level, compiled.layouts
            assert page_count(result) == 1 or printed == len(view["levels"]) - 1
            lost = level_chars(view["levels"][measured]) - level_chars(view["levels"][printed]) if printed > measured else 0
            rows.setdefault(group, []).append((printed - measured, compiles, lost))
            progress(n + 1, len(cases))
        for group, results in [*rows.items(), ("all", [r for rs in rows.values() for r in rs])]:
            shorter = [lost for d, _, lost in results if d > 0]
            cost = f"{statistics.median(shorter):.0f} / {max(shorter)}" if shorter else "–"
            print(f"  {group:<10} {len(results):>8} {sum(d == 0 for d, _, _ in results):>5} {len(shorter):>7} "
                  f"{sum(d < 0 for d, _, _ in results):>6} {sum(c for _, c, _ in results) / len(results):>8.2f} "
                  f"{sum(c > 1 for _, c, _ in results):>11} {cost:>45}")
    print(f"\nReproduce: .venv/bin/python benchmarks/pdf_fit.py --synthetic {args.synthetic} --seed {args.seed} --margins {args.margins}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
