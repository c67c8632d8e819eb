"""The NDJSON bulk export at N published profiles: throughput and the server's memory while it streams.

Reproduce:

    .venv/bin/python benchmarks/export.py [--count 100000]

Steps (everything in a temporary data directory, on loopback, stopped at the end):
 1. Write N synthetic profiles (benchmarks/synthetic.py) as NDJSON and import
    them as published with `leuchtturm import --publish` (shows progress).
 2. Serve that data with `leuchtturm serve` and download
    GET /api/v1/export/profiles.ndjson in 64 KiB reads, counting lines, while
    sampling the server process's resident memory (VmRSS) twice a second.
 3. Print the time to the first byte, the total time, profiles/s, and the
    server's anonymous RSS (its heap) before the download and at every tenth
    of it: flat memory means the RSS at 100 % is that at 10 %, whatever N.
    The file-backed RSS (the search index's memory-mapped files, resident
    as paging reads them) is printed beside it.
 4. A conditional GET with the ETag: 304 and its time.
Figures measured while other work runs on the machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._server import free_port, start_server, stop_server
from benchmarks.keyed_reads import env_for
from benchmarks.synthetic import synthetic_profiles


def rss_mib(pid: int, field: str = "RssAnon") -> float:
    """Resident memory of the server process: RssAnon (its heap: what streaming must keep flat) by default;
    VmRSS also counts the search index's memory-mapped files, which stay resident as they are read."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="leuchtturm-export-"))
    data_dir = tmp / "var"
    server: subprocess.Popen | None = None
    lines_out: list[str] = []
    try:
        print(f"NDJSON-Export, {args.count} veröffentlichte Profile, Daten in {data_dir}", flush=True)
        source = tmp / "profiles.ndjson"
        with source.open("w", encoding="utf-8") as fh:
            for profile in synthetic_profiles(args.count, args.seed):
                fh.write(json.dumps(profile, ensure_ascii=False) + "\n")
        py = str(ROOT / ".venv" / "bin" / "python")
        port = free_port()
        env = env_for(ROOT, data_dir, port)
        t0 = time.perf_counter()
        subprocess.run([py, "-m", "api.cli", "import", str(source), "--publish"], env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        print(f"Import: {args.count} Profile in {time.perf_counter() - t0:.0f} s", flush=True)

        base = f"http://127.0.0.1:{port}"
        server = start_server([py, "-m", "api.cli", "serve"], env, ROOT, base, timeout=600)
        pid = server.pid
        time.sleep(2)
        before = rss_mib(pid)
        samples: list[tuple[int, float]] = []  # (lines so far, RSS)
        count = 0
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                samples.append((count, rss_mib(pid)))
                time.sleep(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        t0 = time.perf_counter()
        first_byte = None
        tail = b""
        with urllib.request.urlopen(base + "/api/v1/export/profiles.ndjson", timeout=3600) as r:  # noqa: S310 - our own server on loopback
            etag = r.headers["ETag"]
            sampler.start()
            next_report = args.count // 10 or 1
            while chunk := r.read(65536):
                if first_byte is None:
                    first_byte = time.perf_counter() - t0
                data = tail + chunk
                count += data.count(b"\n")
                tail = data[data.rfind(b"\n") + 1 :]
                if count >= next_report:
                    print(
                        f"  … {count} Profile, {time.perf_counter() - t0:.0f} s, Server-RSS anonym {rss_mib(pid):.0f} MiB, "
                        f"Dateien {rss_mib(pid, 'RssFile'):.0f} MiB",
                        flush=True,
                    )
                    next_report += args.count // 10 or 1
        total = time.perf_counter() - t0
        done.set()
        sampler.join()
        peak = max(rss for _, rss in samples) if samples else 0.0

        t1 = time.perf_counter()
        req = urllib.request.Request(base + "/api/v1/export/profiles.ndjson", headers={"If-None-Match": etag})  # noqa: S310 - loopback
        try:
            urllib.request.urlopen(req, timeout=60)  # noqa: S310 - our own server on loopback
            status = 200
        except urllib.error.HTTPError as exc:
            status = exc.code
        cond_ms = (time.perf_counter() - t1) * 1000

        lines_out.append(f"Profile im Export: {count} (erwartet {args.count})")
        lines_out.append(f"Erstes Byte nach {first_byte or 0:.2f} s, gesamt {total:.0f} s, {count / total:.0f} Profile/s")
        lines_out.append(f"Server-RSS (anonym, der Heap) vor dem Export {before:.0f} MiB, Spitze währenddessen {peak:.0f} MiB")
        marks = []
        for tenth in range(1, 11):
            want = args.count * tenth // 10
            at = [rss for n, rss in samples if n <= want]
            if at:
                marks.append(f"{tenth * 10} %: {at[-1]:.0f}")
        lines_out.append("Server-RSS anonym (MiB) nach Anteil: " + ", ".join(marks))
        lines_out.append(f"Server-RSS der Dateien (Suchindex, gemappt) am Ende: {rss_mib(pid, 'RssFile'):.0f} MiB")
        lines_out.append(f"Bedingter Abruf mit ETag: {status} in {cond_ms:.0f} ms")
    finally:
        stop_server(server)
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(f"{args.count} veröffentlichte Profile (2 Kerne, andere Last auf der Maschine möglich)")
    for line in lines_out:
        print("  " + line)
    print("Befehl:", " ".join([".venv/bin/python", "benchmarks/export.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
