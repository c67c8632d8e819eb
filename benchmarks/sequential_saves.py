"""Saves one after another at rest: how long an editor waits for each `PATCH` (read-your-writes included).

Reproduce:

    .venv/bin/python benchmarks/sequential_saves.py [--saves 60] [--workers 2] [--rounds 2] [--root DIR]

One run, in a temporary data directory, stopped at the end: `leuchtturm serve`
as `make run` starts it (embedded FerretDB and Tantivy; `--workers N` serving
processes, default 2), an editor with a draft (benchmarks/scale.py's set-up),
then `--rounds` times `--saves` `PATCH`es of that draft with If-Match, one at a
time, 50 ms apart, each answered once the index has it. With several serving
processes a save may be answered by the one without the sync worker, which
then waits for the other's commit. Prints p50, p95 and the slowest save per
round, and every save's time.

`--root DIR`: serve the code of another checkout (e.g. `git worktree add
--detach /tmp/before <rev>`; its own .venv is not needed, this one's is used),
to compare revisions in one sitting, alternately. Figures measured while other
work runs on the machine are noisy.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.read_paths import pct
from benchmarks.scale import Bench, request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--saves", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="serving processes (leuchtturm serve --workers N)")
    parser.add_argument("--root", default=None, help="a checkout whose code the server runs (default: this one)")
    args = parser.parse_args()
    bench = Bench(argparse.Namespace(workers=args.workers, root=args.root, seed=1, settle_seconds=0.0))
    print(f"Speichern nacheinander, {args.workers} Serverprozess(e), Code aus {bench.root}", flush=True)
    try:
        bench.start()
        bench.editor_world()
        slug = bench.drafts[1]
        _, _, _, headers = request("GET", f"{bench.base}/api/v1/profiles/{slug}", bench.editor)
        tag = headers["etag"]
        for n in range(args.rounds):
            times: list[float] = []
            for i in range(args.saves):
                ms, status, payload, headers = request(
                    "PATCH", f"{bench.base}/api/v1/profiles/{slug}", {**bench.editor, "If-Match": tag}, {"summary": f"Fassung {n}.{i}"}
                )
                if status != 200:
                    sys.exit(f"PATCH: {status} {payload[:300]!r}")
                tag = headers["etag"]
                times.append(ms)
                if (i + 1) % 20 == 0:
                    print(f"  … {i + 1}/{args.saves}", flush=True)
                time.sleep(0.05)
            print(f"Runde {n + 1}: p50 {statistics.median(times):.1f} ms, p95 {pct(times, 95):.1f} ms, "
                  f"langsamste {max(times):.1f} ms", flush=True)
            print("  " + " ".join(f"{t:.0f}" for t in times), flush=True)
    finally:
        bench.stop()
        shutil.rmtree(bench.tmp, ignore_errors=True)
    print(f"\nBefehl: .venv/bin/python benchmarks/sequential_saves.py --saves {args.saves} --rounds {args.rounds} --workers {args.workers}"
          + (f" --root {args.root}" if args.root else ""))


if __name__ == "__main__":
    main()
