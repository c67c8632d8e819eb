"""Municipality register benchmark: first-start load time and name lookup latency (embedded default).

Starts a fresh embedded FerretDB in a temporary directory, loads the
register shipped in data/register/ as the first start of the app does
(`importers.register.ensure_register`, with a progress bar), checks that a
second start loads nothing, and measures the keyed reads request paths make:

* `find_by_name` – a name as people write it ("Höxter", "Kreis Höxter", a
  random Gemeinde), one to three keyed reads of `register_names`;
* `suggest` – a prefix while one types (1–8 letters), keyed reads of
  `register_prefixes`;
* `get` – one entry by its key.

FerretDB 1.24 answers `{_id: …}` with a table scan unless the collection's
SQLite table has an index on the exact expression it queries (see DESIGN.md;
`catalogue.storage` creates it for every collection, the register's
included, when the store is opened). The lookups are therefore measured
twice: as the app has the store, and after this script has dropped that
index from the register tables of its own temporary database (FerretDB
alone); it puts the index back afterwards.

    .venv/bin/python benchmarks/register.py [--lookups 500] [--seed 1]

Targets: load <= 10 s on first start; name lookup <= 5 ms (with the index).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from catalogue import gazetteer as reg
from catalogue.embedded import ID_INDEX_SUFFIX, ensure_id_indexes, instance_info
from catalogue.settings import Settings
from catalogue.storage import connect
from importers.register import ensure_register, shipped_register

LOAD_TARGET_S = 10.0
LOOKUP_TARGET_MS = 5.0


def _percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95, ordered[-1]


async def _time(calls: list[Callable[[], Awaitable[Any]]]) -> list[float]:
    out = []
    for call in calls:
        t = time.perf_counter()
        await call()
        out.append((time.perf_counter() - t) * 1000)
    return out


REGISTER_COLLECTIONS = ("register_entries", "register_names", "register_prefixes", "register_meta")


def drop_id_indexes(sqlite_dir: Path, db_name: str) -> list[str]:
    """Drop the `_id` expression index (catalogue.embedded) from the register tables; returns the collections."""
    con = sqlite3.connect(sqlite_dir / f"{db_name}.sqlite", timeout=30, isolation_level=None)
    try:
        tables = dict(con.execute("SELECT name, table_name FROM _ferretdb_collections").fetchall())
        done = []
        for coll in REGISTER_COLLECTIONS:
            table = tables.get(coll)
            if table:
                con.execute(f'DROP INDEX IF EXISTS "{table}{ID_INDEX_SUFFIX}"')
                done.append(coll)
        return done
    finally:
        con.close()


async def measure(lookups: int, seed: int) -> dict[str, tuple[float, float, float]]:
    rng = random.Random(seed)
    entries = [e for e in shipped_register().entries if e.get("listed", True)]
    gemeinden = [e for e in entries if e["level"] == reg.GEMEINDE]
    names = ["Höxter", "Kreis Höxter", "Flensburg", "Neustadt", "Amt Viöl", "Landkreis Cochem-Zell"]
    names += [rng.choice(gemeinden)["name"] for _ in range(max(0, lookups - len(names)))]
    prefixes = []
    for _ in range(lookups):
        name = reg.name_key(rng.choice(entries)["name"])
        prefixes.append(name[: rng.randint(1, min(8, len(name)))])
    keys = [rng.choice(entries)["_id"] for _ in range(lookups)]
    results = {}
    for label, calls in (
        ("find_by_name", [lambda n=n: reg.find_by_name(n) for n in names]),
        ("suggest", [lambda p=p: reg.suggest(p, 10) for p in prefixes]),
        ("get", [lambda k=k: reg.get(k) for k in keys]),
    ):
        await _time(calls[:20])  # warm up
        results[label] = _percentiles(await _time(calls))
    return results


async def run(lookups: int, seed: int, keep: bool) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="leuchtturm-register-bench-"))
    failed = False
    try:
        t = time.perf_counter()
        register = await asyncio.to_thread(shipped_register)
        print(f"Register gelesen und aufbereitet: {len(register.entries)} Einträge in {time.perf_counter() - t:.1f} s (im Ladevorgang enthalten)")
        shipped_register.cache_clear()  # the first start reads the file itself
        settings = Settings(mongodb_url=None, meili_url=None, data_dir=tmp / "var", demo_data=False, _env_file=None)
        storage = await connect(settings)
        try:
            with Progress(TextColumn("Gemeindeverzeichnis laden"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()) as progress:
                task = progress.add_task("load", total=None)
                t = time.perf_counter()
                report = await ensure_register(lambda done, total: progress.update(task, completed=done, total=total))
                load_s = time.perf_counter() - t
            assert report is not None
            t = time.perf_counter()
            again = await ensure_register()
            second_ms = (time.perf_counter() - t) * 1000
            meta = await reg.meta()
            print(f"Erster Start: {len(report.created)} Einträge und {report.keys_written} Schlüsseldokumente in {load_s:.1f} s "
                  f"(Ziel ≤ {LOAD_TARGET_S:.0f} s); Zählung {meta.counts if meta else {}}")
            print(f"Zweiter Start: {'nichts geladen' if again is None else 'erneut geladen (!)'} in {second_ms:.1f} ms")
            failed |= load_s > LOAD_TARGET_S or again is not None

            print(f"\nLookups ({lookups} je Art), p50 / p95 / max in ms:")
            indexed = await measure(lookups, seed)
            for label, (p50, p95, worst) in indexed.items():
                print(f"  mit _id-Ausdrucksindex   {label:<13} {p50:7.2f} / {p95:7.2f} / {worst:7.2f}")
            sqlite_dir = await instance_info(storage.client)
            if sqlite_dir is None:
                print("  (SQLite-Verzeichnis unbekannt: kein Vergleich ohne Index)")
            else:
                dropped = await asyncio.to_thread(drop_id_indexes, sqlite_dir, settings.mongodb_db)
                try:
                    plain = await measure(lookups, seed)
                finally:
                    await asyncio.to_thread(ensure_id_indexes, sqlite_dir, [settings.mongodb_db])
                for label, (p50, p95, worst) in plain.items():
                    print(f"  ohne _id-Ausdrucksindex  {label:<13} {p50:7.2f} / {p95:7.2f} / {worst:7.2f}")
                print(f"  (ohne: Index von {', '.join(dropped)} entfernt, danach wiederhergestellt)")
            name_p50 = indexed["find_by_name"][0]
            print(f"\nNamenssuche p50 mit Index: {name_p50:.2f} ms (Ziel ≤ {LOOKUP_TARGET_MS:.0f} ms)")
            failed |= name_p50 > LOOKUP_TARGET_MS
        finally:
            await storage.close()
    finally:
        if keep:
            print(f"Daten behalten in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    load = os.getloadavg()
    print(f"\nMaschine: {platform.machine()}, {os.cpu_count()} Kerne, Python {platform.python_version()}, "
          f"Last (1/5/15 min) {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} – bei Last anderer Prozesse sind die Werte verrauscht")
    print(f"Wiederholen: .venv/bin/python benchmarks/register.py --lookups {lookups} --seed {seed}")
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lookups", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="das temporäre Datenverzeichnis behalten")
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.lookups, args.seed, args.keep)))


if __name__ == "__main__":
    main()
