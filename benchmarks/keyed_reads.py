"""Keyed reads on the embedded default: a PyMongo `_id` lookup and the API read by slug, at N profiles.

Reproduce (after, then before on the code of another git revision, e.g. main):

    .venv/bin/python benchmarks/keyed_reads.py [--count 10000] [--reads 300]
    .venv/bin/python benchmarks/keyed_reads.py --count 10000 --ref main

Steps (everything in a temporary data directory, on loopback, stopped at the end):
 1. Write N synthetic profiles (benchmarks/synthetic.py) as NDJSON and import
    them as published with `leuchtturm import` of the code under test (the
    working tree, or `git archive REF` unpacked into a temp directory).
 2. Serve that data with `leuchtturm serve` of the same code and time
    `GET /api/v1/profiles/{slug}` for random slugs, one client, sequentially.
 3. With PyMongo against the same FerretDB: time `find_one({_id})` for
    random profiles as the store is (SQLite's plan is printed), and – where
    the `_id` expression index exists – once more with it dropped (FerretDB
    1.24.2 on its own), then restored; and `find_one({slug})`, the query the
    earlier layout sent for every read by slug.
 4. Print p50/p95 per figure and this command.
Figures measured while other work runs on the machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._server import free_port, start_server, stop_server
from benchmarks.synthetic import synthetic_profiles

ID_EXPRESSION = "_ferretdb_sjson->'$._id'"


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))]


def summary(times: list[float]) -> str:
    return f"p50 {statistics.median(times):8.2f} ms   p95 {pct(times, 95):8.2f} ms   (n={len(times)})"


def code_tree(ref: str | None, tmp: Path) -> Path:
    if not ref:
        return ROOT
    target = tmp / "code"
    target.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    archive_path = tmp / "code.tar"
    archive_path.write_bytes(archive)
    with tarfile.open(archive_path) as tar:
        tar.extractall(target, filter="data")
    return target


def env_for(code: Path, data_dir: Path, port: int) -> dict[str, str]:
    return {
        **os.environ, "PYTHONPATH": str(code), "LEUCHTTURM_DATA_DIR": str(data_dir), "LEUCHTTURM_PORT": str(port),
        "LEUCHTTURM_DEMO_DATA": "false", "LEUCHTTURM_MONGODB_URL": "", "LEUCHTTURM_MEILI_URL": "",
        "LEUCHTTURM_FERRETDB_BIN": str(ROOT / "bin" / "leuchtturm-ferretdb"),
    }


def timed_get(url: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=120) as r:  # noqa: S310 - our own server on loopback
            r.read()
            status = r.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    return (time.perf_counter() - t0) * 1000, status


def sqlite_table(db_file: Path, collection: str) -> str:
    con = sqlite3.connect(str(db_file), timeout=30)
    try:
        return con.execute("SELECT table_name FROM _ferretdb_collections WHERE name = ?", (collection,)).fetchone()[0]
    finally:
        con.close()


def id_indexes(db_file: Path, table: str) -> list[tuple[str, str]]:
    con = sqlite3.connect(str(db_file), timeout=30)
    try:
        rows = con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table,)).fetchall()
        return [(n, s) for n, s in rows if s and ID_EXPRESSION in s]
    finally:
        con.close()


def plan(db_file: Path, table: str) -> str:
    con = sqlite3.connect(str(db_file), timeout=30)
    try:
        sql = f'EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM "{table}" WHERE {ID_EXPRESSION} = ?'  # noqa: S608 - a table name from FerretDB's catalogue
        rows = con.execute(sql, ('"x"',)).fetchall()
        return "; ".join(str(r[-1]) for r in rows)
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--reads", type=int, default=300, help="timed reads per figure (fewer when one read takes seconds)")
    parser.add_argument("--ref", default=None, help="git revision whose code to measure (default: the working tree)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="leuchtturm-keyed-"))
    data_dir = tmp / "var"
    server: subprocess.Popen | None = None
    results: list[tuple[str, str]] = []
    try:
        code = code_tree(args.ref, tmp)
        label = args.ref or "Arbeitsstand"
        print(f"Schlüssel-Lesezugriffe, {args.count} Profile, Code: {label}, Daten in {data_dir}", flush=True)
        source = tmp / "profiles.ndjson"
        with source.open("w", encoding="utf-8") as fh:
            for profile in synthetic_profiles(args.count, args.seed):
                fh.write(json.dumps(profile, ensure_ascii=False) + "\n")
        py = str(ROOT / ".venv" / "bin" / "python")
        port = free_port()
        env = env_for(code, data_dir, port)
        t0 = time.perf_counter()
        subprocess.run([py, "-m", "api.cli", "import", str(source), "--publish"], env=env, cwd=code, check=True, stdout=subprocess.DEVNULL)
        print(f"Import: {args.count} Profile in {time.perf_counter() - t0:.0f} s", flush=True)

        base = f"http://127.0.0.1:{port}"
        server = start_server([py, "-m", "api.cli", "serve"], env, code, base)

        from pymongo import MongoClient

        uri = json.loads((data_dir / "ferretdb.json").read_text())["uri"]
        client: MongoClient = MongoClient(uri)
        coll = client["leuchtturm"]["profiles"]
        docs = list(coll.find({}, {"_id": 1, "slug": 1}))
        rng = random.Random(args.seed)
        sample = [rng.choice(docs) for _ in range(args.reads)]

        # The API read by slug.
        first, status = timed_get(f"{base}/api/v1/profiles/{sample[0]['slug']}")
        assert status == 200, status
        n_api = args.reads if first < 500 else max(5, min(args.reads, int(60_000 / first)))
        for d in sample[:3]:
            timed_get(f"{base}/api/v1/profiles/{d['slug']}")
        api = []
        for d in sample[:n_api]:
            ms, status = timed_get(f"{base}/api/v1/profiles/{d['slug']}")
            assert status == 200, (d["slug"], status)
            api.append(ms)
        results.append(("GET /api/v1/profiles/{slug}", summary(api)))

        # PyMongo: _id lookups as the store is, and without the expression index.
        db_file = data_dir / "ferretdb" / "leuchtturm.sqlite"
        table = sqlite_table(db_file, "profiles")
        indexes = id_indexes(db_file, table)
        results.append(("SQLite-Plan der _id-Suche", plan(db_file, table)))

        def id_lookups(n: int, budget_ms: float = 60_000) -> list[float]:
            """Up to n lookups, fewer when they are slow (about a minute per figure)."""
            times: list[float] = []
            for d in sample[:n]:
                t = time.perf_counter()
                assert coll.find_one({"_id": d["_id"]}) is not None
                times.append((time.perf_counter() - t) * 1000)
                if sum(times) > budget_ms and len(times) >= 5:
                    break
            return times

        id_lookups(5)
        results.append(("PyMongo find_one({_id})", summary(id_lookups(args.reads))))
        if indexes:
            con = sqlite3.connect(str(db_file), timeout=60, isolation_level=None)
            for name, _ in indexes:
                con.execute(f'DROP INDEX "{name}"')
            try:
                results.append(("  … ohne den Ausdrucksindex (FerretDB allein)", summary(id_lookups(args.reads))))
                results.append(("  Plan ohne Index", plan(db_file, table)))
            finally:
                for _, sql in indexes:
                    con.execute(sql)
                con.close()
        slug_times = []
        for d in sample[:5]:
            t = time.perf_counter()
            assert coll.find_one({"slug": d["slug"]}) is not None
            slug_times.append((time.perf_counter() - t) * 1000)
        results.append(("PyMongo find_one({slug}) (Abfrage des alten Layouts)", summary(slug_times)))
        client.close()
    finally:
        stop_server(server)
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(f"{args.count} Profile, Code: {args.ref or 'Arbeitsstand'} (2 Kerne, andere Last auf der Maschine möglich)")
    for name, value in results:
        print(f"  {name:<55} {value}")
    print("Befehl:", " ".join([".venv/bin/python", "benchmarks/keyed_reads.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
