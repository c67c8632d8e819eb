"""The NDJSON bulk export at growing sizes: time, throughput and the server's memory while it streams.

Reproduce:

    .venv/bin/python benchmarks/export.py [--sizes 1000,10000,100000] [--load store|import] [--max-load-minutes 60]

One run, everything in a temporary data directory, on loopback, stopped at the end:
 1. `leuchtturm serve` (embedded FerretDB on SQLite, Tantivy) on an empty catalogue.
 2. For each size: synthetic profiles (benchmarks/synthetic.py) up to that
    size are loaded as published, with progress:
    --load import: `leuchtturm import --publish` while the server runs (the
      CLI hands the index work to the server's sync worker, which also keeps
      the export mirror) – the real write path, ≈ 5 profiles/s on this
      shared machine, so 100,000 take hours;
    --load store (default): with the server stopped, the profiles are
      written straight into the store in bulk (insert_many, the profile
      service's document form; no slug keys, versions or search index – the
      export needs none of them), the export mirror is removed, and the
      server is started again: as the index writer it builds the mirror
      from one read of the published profiles (the path of a first start
      or a lost mirror). The time from start to ready is shown: it is the
      mirror build at that size.
    A size whose load would take longer than --max-load-minutes at the rate
    measured so far is skipped and said so.
 3. GET /api/v1/export/profiles.ndjson, read in 64 KiB pieces, lines
    counted, while the server process's anonymous resident memory (RssAnon:
    its heap, what streaming must keep flat) is sampled twice a second:
    time to the first byte, total time, profiles/s, RSS before and at its
    peak. Then a conditional GET with the ETag (304) and its time.
 4. A table of all sizes and this command. Flat memory: the RSS growth
    during the export does not grow with the size.
Figures measured while other work runs on the machine (2 cores shared) are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._server import cli_import, start_server, stop_server
from benchmarks.keyed_reads import env_for, free_port
from benchmarks.synthetic import synthetic_profiles
from catalogue.opendata.mirror import MIRROR_FILE

PY = str(ROOT / ".venv" / "bin" / "python")


def rss_mib(pid: int, field: str = "RssAnon") -> float:
    """Resident memory of a process in MiB (RssAnon by default: its heap)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="leuchtturm-export-"))
        self.port = free_port()
        self.env = env_for(ROOT, self.tmp / "var", self.port)
        self.base = f"http://127.0.0.1:{self.port}"
        self.server: subprocess.Popen[bytes] | None = None
        self.loaded = 0
        self.load_rate: float | None = None  # profiles/s of the last load
        self.rows: list[dict[str, Any]] = []
        self.build_s: float | None = None  # --load store: the restart that built the mirror

    def start(self) -> float:
        t0 = time.perf_counter()
        self.server = start_server([PY, "-m", "api.cli", "serve"], self.env, ROOT, self.base, timeout=7200)
        return time.perf_counter() - t0

    def stop_server(self) -> None:
        stop_server(self.server, grace=60)
        self.server = None

    def stop(self) -> None:
        self.stop_server()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def load_store(self, size: int) -> bool:
        """Bulk-write the profiles up to `size` into the store (server stopped), then restart: the writer builds the mirror."""
        n = size - self.loaded
        if self.load_rate is not None and n / self.load_rate > self.args.max_load_minutes * 60:
            print(f"{size}: übersprungen – das Laden dauerte bei {self.load_rate:.0f}/s etwa {n / self.load_rate / 60:.0f} min", flush=True)
            return False
        self.stop_server()
        print(f"{n} Profile (bis {size}) direkt in den Speicher schreiben …", flush=True)
        t0 = time.perf_counter()
        env = {k: v for k, v in self.env.items() if k.startswith("LEUCHTTURM_")}
        code = f"from benchmarks.export import bulk_insert; bulk_insert({self.loaded}, {size}, {self.args.seed})"
        subprocess.run([PY, "-c", code], env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, cwd=ROOT, check=True)
        seconds = time.perf_counter() - t0
        self.load_rate = n / seconds
        self.loaded = size
        print(f"  {n} Profile in {seconds:.0f} s ({self.load_rate:.0f}/s)", flush=True)
        mirror = self.tmp / "var" / MIRROR_FILE
        for suffix in ("", "-wal", "-shm"):
            Path(f"{mirror}{suffix}").unlink(missing_ok=True)
        print("  Server starten; er baut den Export-Spiegel aus den veröffentlichten Profilen auf …", flush=True)
        self.build_s = self.start()
        print(f"  bereit nach {self.build_s:.0f} s (Spiegel-Aufbau bei {size} Profilen, mit dem Start des Servers)", flush=True)
        return True

    def load(self, size: int) -> bool:
        return self.load_store(size) if self.args.load == "store" else self.load_import(size)

    def load_import(self, size: int) -> bool:
        """Import profiles until `size` are published; False when that would take too long."""
        n = size - self.loaded
        if self.load_rate is not None and n / self.load_rate > self.args.max_load_minutes * 60:
            print(
                f"{size}: übersprungen – das Laden von {n} weiteren Profilen dauerte bei {self.load_rate:.0f}/s "
                f"etwa {n / self.load_rate / 60:.0f} min (Grenze {self.args.max_load_minutes} min)",
                flush=True,
            )
            return False
        source = self.tmp / f"profiles-{size}.ndjson"
        with source.open("w", encoding="utf-8") as fh:
            for i, profile in enumerate(synthetic_profiles(size, self.args.seed)):
                if i >= self.loaded:
                    fh.write(json.dumps(profile, ensure_ascii=False) + "\n")
        print(f"Import von {n} Profilen (bis {size}), während der Server läuft …", flush=True)
        t0 = time.perf_counter()
        cli_import(PY, source, self.env, ROOT)
        seconds = time.perf_counter() - t0
        self.load_rate = n / seconds
        self.loaded = size
        print(f"  {n} Profile in {seconds:.0f} s ({self.load_rate:.0f}/s)", flush=True)
        return True

    def export(self, size: int) -> None:
        assert self.server is not None
        pid = self.server.pid
        time.sleep(2)
        before = rss_mib(pid)
        peak = before
        count = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, rss_mib(pid))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t0 = time.perf_counter()
        first_byte: float | None = None
        tail = b""
        size_bytes = 0
        next_report = max(size // 10, 1)
        with urllib.request.urlopen(self.base + "/api/v1/export/profiles.ndjson", timeout=3600) as r:  # noqa: S310 - loopback
            etag = r.headers["ETag"]
            while chunk := r.read(65536):
                if first_byte is None:
                    first_byte = time.perf_counter() - t0
                size_bytes += len(chunk)
                data = tail + chunk
                count += data.count(b"\n")
                tail = data[data.rfind(b"\n") + 1 :]
                if count >= next_report:
                    print(f"  … {count} Profile, {time.perf_counter() - t0:.1f} s, Server-RSS anonym {rss_mib(pid):.0f} MiB", flush=True)
                    next_report += max(size // 10, 1)
        total = time.perf_counter() - t0
        done.set()
        sampler.join()
        t1 = time.perf_counter()
        req = urllib.request.Request(self.base + "/api/v1/export/profiles.ndjson", headers={"If-None-Match": etag})  # noqa: S310
        try:
            urllib.request.urlopen(req, timeout=60)  # noqa: S310 - our own server on loopback
            status = 200
        except urllib.error.HTTPError as exc:
            status = exc.code
        cond_ms = (time.perf_counter() - t1) * 1000
        if count != size:
            print(f"  WARNUNG: {count} Profile im Export, erwartet {size}", flush=True)
        row = {
            "size": size, "count": count, "mib": size_bytes / 2**20, "first": first_byte or 0.0, "total": total,
            "rate": count / total if total else 0.0, "before": before, "peak": peak, "cond": f"{status} in {cond_ms:.0f} ms",
            "load": self.load_rate or 0.0, "build": self.build_s,
        }
        self.rows.append(row)
        print(
            f"  Export: {count} Profile ({row['mib']:.0f} MiB) in {total:.1f} s ({row['rate']:.0f}/s), erstes Byte nach {row['first']:.2f} s; "
            f"Server-RSS anonym {before:.0f} → Spitze {peak:.0f} MiB; bedingter Abruf {row['cond']}",
            flush=True,
        )

    def report(self, skipped: list[int]) -> None:
        print()
        print("NDJSON-Export (2 Kerne, andere Last auf der Maschine möglich)")
        print(f"Laden: {self.args.load}")
        print("| Profile | Laden (Profile/s) | Spiegel-Aufbau (Start bis bereit) | Export | Profile/s | erstes Byte | Größe "
              "| Server-RSS anonym vorher → Spitze (Zuwachs) | 304 |")
        print("|---:|---:|---:|---:|---:|---:|---:|---|---|")
        for r in self.rows:
            build = f"{r['build']:.0f} s" if r["build"] is not None else "–"
            print(
                f"| {r['size']:,} | {r['load']:.0f} | {build} | {r['total']:.1f} s | {r['rate']:,.0f} | {r['first']:.2f} s | {r['mib']:.0f} MiB | "
                f"{r['before']:.0f} → {r['peak']:.0f} MiB (+{r['peak'] - r['before']:.0f}) | {r['cond']} |"
            )
        for size in skipped:
            print(f"{size:,}: nicht gemessen (Laden zu langsam, siehe oben); Export-Zeit linear geschätzt: "
                  f"{size / self.rows[-1]['rate']:.0f} s" if self.rows and self.rows[-1]["rate"] else f"{size}: nicht gemessen")
        print("Befehl:", " ".join([".venv/bin/python", "benchmarks/export.py", *sys.argv[1:]]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-load-minutes", type=float, default=60.0)
    parser.add_argument("--load", choices=("store", "import"), default="store")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    run = Run(args)
    skipped: list[int] = []
    try:
        print(f"NDJSON-Export bei {', '.join(map(str, sizes))} veröffentlichten Profilen; Daten in {run.tmp}", flush=True)
        run.start()
        for size in sizes:
            if skipped or not run.load(size):
                skipped.append(size)
                continue
            run.export(size)
    finally:
        run.stop()
    run.report(skipped)


def bulk_insert(start: int, end: int, seed: int) -> None:
    """Write synthetic profiles start..end-1 as published straight into the store (a child process; the server is stopped)."""
    import asyncio

    from beanie import PydanticObjectId

    from catalogue.models import Profile, ProfileContent, utcnow
    from catalogue.profiles import _to_db
    from catalogue.settings import get_settings
    from catalogue.storage import connect
    from catalogue.vocabularies import EditorialStatus

    async def go() -> None:
        storage = await connect(get_settings())
        try:
            coll = Profile.get_pymongo_collection()
            batch: list[dict[str, Any]] = []
            done = 0
            for i, data in enumerate(synthetic_profiles(end, seed)):
                if i < start:
                    continue
                now = utcnow()
                content = ProfileContent.model_validate(data)
                profile = Profile(
                    id=PydanticObjectId(), slug=f"synthetisch-{i}", status=EditorialStatus.PUBLISHED, owner="benchmark",
                    created_at=now, updated_at=now, published_at=now, version=1, **content.model_dump(),
                )
                batch.append(_to_db(profile))
                if len(batch) >= 1000:
                    await coll.insert_many(batch, ordered=False)
                    done += len(batch)
                    batch = []
                    print(f"    … {start + done} Profile im Speicher", flush=True)
            if batch:
                await coll.insert_many(batch, ordered=False)
        finally:
            await storage.close()

    asyncio.run(go())


if __name__ == "__main__":
    main()
