"""NDJSON import benchmark: N synthetic profiles into a fresh embedded FerretDB + Tantivy.

Generates N realistic profiles (benchmarks/synthetic.py), writes them as
NDJSON to a temporary directory, starts a fresh embedded FerretDB and a
Tantivy index there (catalogue.runtime.Runtime), imports the file as
published profiles with a progress bar, drains the search sync, checks
that search sees every profile, and prints profiles per second for the
import alone and for import plus indexing.

    .venv/bin/python benchmarks/import_ndjson.py [--count 10000] [--seed 1] [--worker-indexing] [--reimport]

The import runner never writes the index (one index writer, issue 10): the
outbox sync worker indexes everything (SearchSync.drain, timed separately);
`--worker-indexing` is kept for old command lines and changes nothing. Target: >= 300 profiles/s
including indexing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from benchmarks.synthetic import synthetic_profiles
from catalogue.access import ALL_DOCUMENTS_LABELS
from catalogue.runtime import Runtime
from catalogue.search.base import SearchQuery
from catalogue.settings import Settings
from catalogue.users import Principal
from catalogue.vocabularies import Role
from importers.runner import ImportRunner, read_paths

TARGET = 300.0


async def run(count: int, seed: int, worker_indexing: bool, chunk: int, keep: bool, reimport: bool = False) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="leuchtturm-import-bench-"))
    try:
        t0 = time.perf_counter()
        path = tmp / "profiles.ndjson"
        with path.open("w", encoding="utf-8") as fh:
            for profile in synthetic_profiles(count, seed):
                fh.write(json.dumps(profile, ensure_ascii=False) + "\n")
        gen_s = time.perf_counter() - t0
        size_mb = path.stat().st_size / 1048576
        print(f"{count} synthetische Profile erzeugt ({size_mb:.1f} MB NDJSON) in {gen_s:.1f} s")

        settings = Settings(mongodb_url=None, meili_url=None, data_dir=tmp / "var", demo_data=False, _env_file=None)
        rt = await Runtime.start(settings, run_sync_worker=False)
        try:
            actor = Principal("import", Role.ADMIN)
            runner = ImportRunner(actor, chunk_size=chunk)
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as progress:
                task = progress.add_task("Lesen", total=None)
                t_start = time.perf_counter()
                items = await asyncio.to_thread(read_paths, [str(path)], "ndjson")
                t_parsed = time.perf_counter()
                progress.update(task, description="Importieren", total=len(items), completed=0)
                report = await runner.run_items(
                    items, publish=True, progress=lambda done, total: progress.update(task, completed=done, total=total)
                )
                t_imported = time.perf_counter()
                progress.update(task, description="Suchindex (Outbox)", total=None)
                drained = await rt.sync.drain(rt.search)
                t_indexed = time.perf_counter()
            hits = await rt.search.search(SearchQuery(q="", per_page=1), labels=ALL_DOCUMENTS_LABELS)
            again_s = None
            if reimport:
                t = time.perf_counter()
                again = await ImportRunner(actor, chunk_size=chunk).run_items(read_paths([str(path)], "ndjson"), publish=True)
                again_s = time.perf_counter() - t
        finally:
            await rt.stop()

        parse_s = t_parsed - t_start
        write_s = t_imported - t_parsed
        import_s = t_imported - t_start
        total_s = t_indexed - t_start
        print(report.summary())
        print(f"Lesen und Prüfen:          {parse_s:6.1f} s  ({count / parse_s:7.0f} Profile/s)")
        print(f"Schreiben (+ Indexieren):  {write_s:6.1f} s  ({count / write_s:7.0f} Profile/s)")
        print(f"Outbox-Abgleich (drain):   {t_indexed - t_imported:6.1f} s  ({drained} Einträge)")
        print(f"Import gesamt:             {import_s:6.1f} s  ({count / import_s:7.0f} Profile/s)")
        print(f"Import + Indexierung:      {total_s:6.1f} s  ({count / total_s:7.0f} Profile/s, Ziel ≥ {TARGET:.0f})")
        print(f"Im Suchindex: {hits.total} von {count}")
        if again_s is not None:
            print(f"Zweiter Import derselben Datei: {again_s:6.1f} s ({count / again_s:7.0f} Profile/s) – {again.summary()}")
        print(f"Indexierung: Sync-Worker (Outbox); Blockgröße {chunk}")
        print(f"Python {platform.python_version()}, {platform.machine()}, {platform.system()}")
        cmd = f".venv/bin/python benchmarks/import_ndjson.py --count {count} --seed {seed}"
        if worker_indexing:
            cmd += " --worker-indexing"
        if reimport:
            cmd += " --reimport"
        print(f"Reproduzieren: {cmd}")
        if keep:
            print(f"Daten behalten in {tmp}")
        ok = report.ok and hits.total == count
        return 0 if ok else 1
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--worker-indexing", action="store_true", help="alle Profile über den Sync-Worker indexieren")
    parser.add_argument("--keep", action="store_true", help="Datenverzeichnis nicht löschen")
    parser.add_argument("--reimport", action="store_true", help="danach dieselbe Datei noch einmal importieren (alles unverändert)")
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.count, args.seed, args.worker_indexing, args.chunk, args.keep, args.reimport)))


if __name__ == "__main__":
    main()
