"""Every read a user makes, at growing catalogue sizes, on the embedded default (issue 10's table and targets).

Reproduce:

    .venv/bin/python benchmarks/scale.py [--sizes 1000,10000[,100000]] [--reads 60] [--mixed-seconds 20] [--clients 8]

One run, everything in a temporary data directory, on loopback, stopped at the end:
 1. `leuchtturm serve` (embedded FerretDB on SQLite, Tantivy) with an admin,
    an editor and a reviewer. The editor has drafts ("Meine Profile"),
    submitted profiles (the review queue) and one profile with 12 versions
    (history).
 2. For each size: synthetic profiles (benchmarks/synthetic.py) are imported
    as published with `leuchtturm import --publish` *while the server runs*
    – the CLI hands the index work to the server's sync worker and returns
    once everything is searchable; the import rate counts that.
 3. Each read, one client, sequential: search, profile page, API by slug,
    PDF uncached (a profile's first PDF) and cached (the same again),
    similar, comparable ("Kommunen wie meine"), list, filtered list,
    "Meine Profile", review queue, history. p50/p95 in ms.
 4. The raw floors in the same run: a PyMongo `find_one({_id})` on profiles
    and a Tantivy query in this process (no HTTP, no app); each read's p50
    is shown as a multiple of the floor it stands on (keyed reads: the
    `_id` lookup; lists and searches: the index query). Also the CPU floor:
    FerretDB's CPU per keyed `find_one` and per keyed `update_one` of a
    profile, and PyMongo's in this client, per command.
 5. Mixed load: `--clients` threads for `--mixed-seconds`, 90 % reads drawn
    from the reads above (PDF cached only), 10 % writes (`PATCH` with
    If-Match of the editor's own drafts, one per client): requests/s, p95,
    errors, and the CPU time per request of the server's processes (the
    supervisor and its serving processes, summed), of the store (FerretDB)
    and of this benchmark's client threads during it (what caps the rate:
    the server, the store, or the clients). The server starts as `make run`
    starts it (LEUCHTTURM_WORKERS, else one serving process per core, at
    most 4); `--workers N` to compare.
 6. RSS of the server process and of the store (FerretDB) process.
Then the targets of issue 10 with "erfüllt"/"verfehlt", and this command.
Figures measured while other work runs on the machine (2 cores shared) are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks._server import children, cli_import, free_port, segments, start_server, stop_server, thread_cpu
from benchmarks.synthetic import PROJECT_TYPES, synthetic_profiles

PY = str(ROOT / ".venv" / "bin" / "python")
PASSWORD = "benchmark-passwort-lang"  # noqa: S105 - a throwaway account in a temporary store
STATES = ["Bayern", "Nordrhein-Westfalen", "Niedersachsen", "Hessen", "Sachsen"]
KEYED = ("page", "api", "pdf uncached", "pdf cached", "history")  # stand on the _id lookup; the others on the index query
FILE_PROFILES = 10_000  # profiles per import file (the import takes at most 50 MB per file)
TARGET_READS = ("page", "api", "similar", "list", "filtered list", "mine", "queue")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))]


def request(method: str, url: str, headers: dict[str, str] | None = None, body: Any = None) -> tuple[float, int, bytes, dict[str, str]]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})  # noqa: S310
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=120) as r:  # noqa: S310 - our own server on loopback
            payload, status, resp_headers = r.read(), r.status, dict(r.headers)
    except urllib.error.HTTPError as exc:
        payload, status, resp_headers = exc.read(), exc.code, dict(exc.headers)
    return (time.perf_counter() - t0) * 1000, status, payload, resp_headers


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (its own threads, not its children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    out: list[int] = []
    todo = [pid]
    while todo:
        found = children(todo.pop())
        out.extend(found)
        todo.extend(found)
    return out


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="leuchtturm-scale-"))
        self.data_dir = self.tmp / "var"
        self.root = Path(getattr(args, "root", None) or ROOT)  # the checkout whose code the server runs (default: this one)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ, "PYTHONPATH": str(self.root), "LEUCHTTURM_DATA_DIR": str(self.data_dir), "LEUCHTTURM_PORT": str(self.port),
            "LEUCHTTURM_DEMO_DATA": "false", "LEUCHTTURM_LOAD_REGISTER": "false", "LEUCHTTURM_MONGODB_URL": "", "LEUCHTTURM_MEILI_URL": "",
            "LEUCHTTURM_FERRETDB_BIN": str(ROOT / "bin" / "leuchtturm-ferretdb"),
        }
        self.server: subprocess.Popen[bytes] | None = None
        self.rng = random.Random(args.seed)
        self.lines: list[str] = []
        self.figures: dict[int, dict[str, tuple[float, float]]] = {}
        self.floors: dict[int, dict[str, float]] = {}
        self.extra: dict[int, dict[str, float]] = {}
        self.cpu: dict[int, dict[str, tuple[float, float]]] = {}  # per size and read: (server, store) CPU ms per request
        self.pdf_seen: set[str] = set()

    # ------------------------------------------------------------ set-up

    def cli(self, *args: str, stdin: str | None = None) -> str:
        r = subprocess.run([PY, "-m", "api.cli", *args], env=self.env, cwd=self.root, input=stdin, capture_output=True, text=True, check=False)
        if r.returncode != 0:
            sys.exit(f"leuchtturm {' '.join(args)} schlug fehl:\n{r.stdout}\n{r.stderr}")
        return r.stdout

    def start(self) -> None:
        # As `make run` starts it: LEUCHTTURM_WORKERS, else one serving process per core (at most 4); --workers N to compare.
        workers = ["--workers", str(self.args.workers)] if self.args.workers else []
        self.server = start_server([PY, "-m", "api.cli", "serve", *workers], self.env, self.root, self.base, log=self.tmp / "server.log")

    def server_pids(self) -> list[int]:
        """The server's processes: `leuchtturm serve` and its serving processes (all but FerretDB)."""
        assert self.server is not None
        return [self.server.pid, *(p for p in descendants(self.server.pid) if p not in self.store_pids())]

    def server_cpu(self) -> float:
        """CPU seconds of all the server's processes so far (summed: with several serving processes, each counts)."""
        return sum(cpu_seconds(p) for p in self.server_pids())

    def stop(self) -> None:
        stop_server(self.server)

    def token(self, username: str, role: str) -> dict[str, str]:
        self.cli("user", "create", username, "--role", role, "--password-stdin", stdin=PASSWORD + "\n")
        return {"Authorization": f"Bearer {self.cli('token', 'create', username, '--name', 'benchmark').strip()}"}

    def call(self, method: str, path: str, headers: dict[str, str] | None = None, body: Any = None, expect: int = 200) -> tuple[Any, dict[str, str]]:
        _, status, payload, resp_headers = request(method, self.base + path, headers, body)
        if status != expect:
            sys.exit(f"{method} {path}: {status} {payload[:300]!r}")
        return (json.loads(payload) if payload else None), resp_headers

    def editor_world(self) -> None:
        """The editor's drafts (mine, the mixed load's writes), submitted profiles (queue), one long history."""
        self.admin = self.token("bench-admin", "admin")
        self.editor = self.token("bench-redaktion", "editor")
        self.reviewer = self.token("bench-pruefung", "reviewer")
        self.drafts: list[str] = []
        for n in range(30):
            body, _ = self.call("POST", "/api/v1/profiles", self.editor, {"title": f"Messprofil Entwurf {n + 1}", "summary": "Für die Messung."}, 201)
            self.drafts.append(body["slug"])
        for slug in self.drafts[20:]:
            self.call("POST", f"/api/v1/profiles/{slug}/submit", self.editor)
        self.history = self.drafts[0]
        _, headers = self.call("GET", f"/api/v1/profiles/{self.history}", self.editor)
        tag = headers["etag"]
        for n in range(11):
            _, headers = self.call("PATCH", f"/api/v1/profiles/{self.history}", {**self.editor, "If-Match": tag}, {"summary": f"Fassung {n + 2}."})
            tag = headers["etag"]

    # ------------------------------------------------------------ per size

    def load(self, profiles: list[dict[str, Any]], size: int) -> None:
        # files of FILE_PROFILES profiles (about 30 MB each): the import takes at most 50 MB per file
        sources = []
        for start in range(0, len(profiles), FILE_PROFILES):
            source = self.tmp / f"profiles-{size}-{start // FILE_PROFILES + 1}.ndjson"
            with source.open("w", encoding="utf-8") as fh:
                for p in profiles[start:start + FILE_PROFILES]:
                    fh.write(json.dumps(p, ensure_ascii=False) + "\n")
            sources.append(source)
        print(f"Import von {len(profiles)} Profilen (bis {size}) über die CLI, während der Server läuft …", flush=True)
        t0 = time.perf_counter()
        cli_import(PY, sources, self.env, self.root)
        seconds = time.perf_counter() - t0
        self.extra.setdefault(size, {})["import/s"] = len(profiles) / seconds
        print(f"  {len(profiles)} Profile in {seconds:.1f} s ({len(profiles) / seconds:.0f}/s, bis durchsuchbar); "
              f"Suchindex-Segmente {_layout(segments(self.data_dir / 'search'))}", flush=True)

    def after_import(self, size: int) -> None:
        """With --settle-seconds: the server's CPU while no request comes, right after the import (background work
        such as Tantivy merging the import's segments), in seconds per second; then the measurements start."""
        if self.args.settle_seconds <= 0:
            return
        assert self.server is not None
        start, t0 = self.server_cpu(), time.perf_counter()
        time.sleep(self.args.settle_seconds)
        share = (self.server_cpu() - start) / (time.perf_counter() - t0)
        self.extra.setdefault(size, {})["idle CPU after import"] = 100 * share
        print(f"  Ruhe nach dem Import ({self.args.settle_seconds:.0f} s, keine Anfragen): Server {100 * share:.0f} % eines Kerns", flush=True)

    def slugs(self) -> list[str]:
        from pymongo import MongoClient

        uri = json.loads((self.data_dir / "ferretdb.json").read_text())["uri"]
        client: MongoClient[dict[str, Any]] = MongoClient(uri)
        try:  # batch work in the benchmark: one projection scan
            return [str(d["_id"]) for d in client["leuchtturm"]["profile_slugs"].find({}, {"_id": 1}) if not str(d["_id"]).startswith("messprofil")]
        finally:
            client.close()

    def reads(self, slugs: list[str]) -> dict[str, Callable[[], str]]:
        rng = self.rng

        def slug() -> str:
            return rng.choice(slugs)

        def fresh_pdf() -> str:
            for _ in range(1000):
                s = slug()
                if s not in self.pdf_seen:
                    self.pdf_seen.add(s)
                    self.last_pdf = s
                    return f"/profiles/{s}.pdf"
            raise RuntimeError("no unseen profile left for an uncached PDF")

        self.last_pdf = slugs[0]
        return {
            "search": lambda: "/api/v1/search?" + urllib.parse.urlencode({"q": rng.choice(PROJECT_TYPES).split()[-1]}),
            "page": lambda: f"/profiles/{slug()}",
            "api": lambda: f"/api/v1/profiles/{slug()}",
            "pdf uncached": fresh_pdf,
            "pdf cached": lambda: f"/profiles/{self.last_pdf}.pdf",
            "similar": lambda: f"/api/v1/profiles/{slug()}/similar",
            "comparable": lambda: "/api/v1/comparable?" + urllib.parse.urlencode(
                {"population": rng.choice([3000, 12000, 40000, 150000]), "state": rng.choice(STATES)}),
            "list": lambda: "/api/v1/profiles",
            "filtered list": lambda: "/api/v1/profiles?" + urllib.parse.urlencode({"state": rng.choice(STATES)}),
            "mine": lambda: "/api/v1/profiles?mine=true",
            "queue": lambda: "/api/v1/profiles?status=submitted",
            "history": lambda: f"/api/v1/profiles/{self.history}/versions",
        }

    def headers_for(self, name: str) -> dict[str, str]:
        return {"mine": self.editor, "history": self.editor, "queue": self.reviewer}.get(name, {})

    def measure(self, size: int, slugs: list[str]) -> None:
        reads = self.reads(slugs)
        figures: dict[str, tuple[float, float]] = {}
        for name, url in reads.items():
            if name == "pdf cached":
                continue
            times, cached = [], []
            n = self.args.reads if not name.startswith("pdf") else max(5, self.args.reads // 3)
            store_pids = self.store_pids()
            for i in range(n + 3):
                if i == 3:
                    assert self.server is not None
                    cpu0 = self.server_cpu(), sum(cpu_seconds(p) for p in store_pids)
                path = url()
                ms, status, payload, _ = request("GET", self.base + path, self.headers_for(name))
                if status != 200:
                    sys.exit(f"GET {path}: {status} {payload[:300]!r}")
                if i >= 3 or name == "pdf uncached":
                    times.append(ms)
                if name == "pdf uncached":
                    ms, status, _, _ = request("GET", self.base + reads["pdf cached"]())
                    assert status == 200
                    cached.append(ms)
            figures[name] = (statistics.median(times), pct(times, 95))
            server_ms, store_ms = ((self.server_cpu() - cpu0[0]) * 1000 / n,
                                   (sum(cpu_seconds(p) for p in store_pids) - cpu0[1]) * 1000 / n)
            self.cpu.setdefault(size, {})[name] = (server_ms, store_ms)
            if cached:
                figures["pdf cached"] = (statistics.median(cached), pct(cached, 95))
            print(f"  {name:<14} p50 {figures[name][0]:8.1f} ms   p95 {figures[name][1]:8.1f} ms   "
                  f"CPU je Anfrage: Server {server_ms:5.1f} ms, FerretDB {store_ms:4.1f} ms", flush=True)
        print(f"  {'pdf cached':<14} p50 {figures['pdf cached'][0]:8.1f} ms   p95 {figures['pdf cached'][1]:8.1f} ms", flush=True)
        self.figures[size] = figures

    def measure_floors(self, size: int, slugs: list[str]) -> None:
        from pymongo import MongoClient

        uri = json.loads((self.data_dir / "ferretdb.json").read_text())["uri"]
        client: MongoClient[dict[str, Any]] = MongoClient(uri)
        try:
            keys = [d["profile_id"] for d in (client["leuchtturm"]["profile_slugs"].find_one({"_id": s}) for s in self.rng.sample(slugs, 30)) if d]
            coll = client["leuchtturm"]["profiles"]
            times = []
            for key in keys * 3:
                t0 = time.perf_counter()
                assert coll.find_one({"_id": key}) is not None
                times.append((time.perf_counter() - t0) * 1000)
            self.store_floor(size, coll, keys)
        finally:
            client.close()
        floors = {"_id lookup": statistics.median(times)}
        floors["index query"] = asyncio.run(self._index_floor())
        self.floors[size] = floors
        print(f"  Boden: PyMongo find_one({{_id}}) p50 {floors['_id lookup']:.2f} ms, "
              f"Tantivy-Abfrage im Prozess p50 {floors['index query']:.2f} ms", flush=True)

    def store_floor(self, size: int, coll: Any, keys: list[Any]) -> None:
        """The store's CPU per keyed command, and this client's (PyMongo): what any request that reads or writes the
        store costs at least. Updates set a probe field on synthetic profiles and remove it again (both counted)."""
        store_pids = self.store_pids()
        store0, client0 = sum(cpu_seconds(p) for p in store_pids), time.process_time()
        finds = 0
        for _ in range(10):
            for key in keys:
                assert coll.find_one({"_id": key}) is not None
                finds += 1
        store1, client1 = sum(cpu_seconds(p) for p in store_pids), time.process_time()
        updates = 0
        for op in [{"$inc": {"floor_probe": 1}}] * 4 + [{"$unset": {"floor_probe": ""}}]:
            for key in keys:
                coll.update_one({"_id": key}, op)
                updates += 1
        store2, client2 = sum(cpu_seconds(p) for p in store_pids), time.process_time()
        extra = self.extra.setdefault(size, {})
        extra.update({"store CPU/find_one": (store1 - store0) * 1000 / finds, "store CPU/update": (store2 - store1) * 1000 / updates,
                      "client CPU/command": ((client1 - client0) + (client2 - client1)) * 1000 / (finds + updates)})
        print(f"  Boden (CPU): FerretDB je find_one({{_id}}) {extra['store CPU/find_one']:.2f} ms, je update_one({{_id}}) "
              f"{extra['store CPU/update']:.2f} ms; PyMongo im Client {extra['client CPU/command']:.2f} ms je Befehl "
              f"({finds} + {updates} Befehle)", flush=True)

    def store_pids(self) -> list[int]:
        assert self.server is not None
        return [p for p in descendants(self.server.pid) if "ferretdb" in Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace")]

    async def _index_floor(self) -> float:
        from catalogue.access import PUBLIC_LABEL
        from catalogue.search.base import SearchQuery
        from catalogue.search.tantivy_backend import TantivyBackend

        backend = TantivyBackend(self.data_dir / "search")  # a reader of the server's index
        times = []
        for n in range(60):
            query = SearchQuery(q=PROJECT_TYPES[n % len(PROJECT_TYPES)].split()[-1])
            backend._live.view.results.clear()  # noqa: SLF001 - the floor is a query searched, not one the snapshot kept
            t0 = time.perf_counter()
            await backend.search(query, labels=(PUBLIC_LABEL,))
            times.append((time.perf_counter() - t0) * 1000)
        await backend.close()
        return statistics.median(times[3:])

    def mixed(self, size: int, slugs: list[str]) -> None:
        reads = self.reads(slugs)
        names = [n for n in reads if n != "pdf uncached"]
        deadline = time.monotonic() + self.args.mixed_seconds
        times: list[float] = []
        read_times: list[float] = []
        write_times: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()

        def client(n: int) -> None:
            rng = random.Random(n)
            slug = self.drafts[1 + n]  # the client's own draft
            _, _, _, headers = request("GET", f"{self.base}/api/v1/profiles/{slug}", self.editor)
            tag = headers.get("etag", "")
            while time.monotonic() < deadline:
                if rng.random() < 0.1:
                    ms, status, payload, headers = request(
                        "PATCH", f"{self.base}/api/v1/profiles/{slug}", {**self.editor, "If-Match": tag}, {"summary": f"Last {rng.random()}"}
                    )
                    tag = headers.get("etag", tag)
                    path = "PATCH"
                else:
                    name = rng.choice(names)
                    path = reads[name]() if name != "pdf cached" else f"/profiles/{slugs[n]}.pdf"
                    ms, status, payload, _ = request("GET", self.base + path, self.headers_for(name))
                with lock:
                    times.append(ms)
                    (write_times if path == "PATCH" else read_times).append(ms)
                    if status != 200:
                        errors.append(f"{path}: {status} {payload[:120]!r}")

        store_pids = self.store_pids()

        def cpu() -> tuple[float, float, float]:  # (server, store, this benchmark's clients) CPU seconds so far
            assert self.server is not None
            return self.server_cpu(), sum(cpu_seconds(p) for p in store_pids), time.process_time()

        per_process0 = {p: cpu_seconds(p) for p in self.server_pids()}
        threads0 = self.server_threads()
        segments0 = segments(self.data_dir / "search")
        cpu0 = cpu()
        t0 = time.perf_counter()
        threads = [threading.Thread(target=client, args=(n,)) for n in range(self.args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - t0
        cpu1 = cpu()
        threads1 = self.server_threads()
        extra = self.extra.setdefault(size, {})
        extra.update({"mixed/s": len(times) / seconds, "mixed p50": statistics.median(times), "mixed p95": pct(times, 95), "mixed errors": len(errors),
                      "mixed read p95": pct(read_times, 95), "mixed write p95": pct(write_times, 95) if write_times else float("nan")})
        print(f"  Mischlast ({self.args.clients} Clients, 10 % Schreiben): {len(times) / seconds:.0f} Anfragen/s, "
              f"p50 {extra['mixed p50']:.1f} ms, p95 {extra['mixed p95']:.1f} ms (Lesen {extra['mixed read p95']:.1f}, "
              f"Schreiben {extra['mixed write p95']:.1f}), {len(errors)} Fehler", flush=True)
        served = max(1, len(times))
        server_ms, store_ms, client_ms = ((cpu1[i] - cpu0[i]) * 1000 / served for i in (0, 1, 2))
        extra.update({"mixed server CPU/req": server_ms, "mixed store CPU/req": store_ms, "mixed client CPU/req": client_ms})
        print(f"    CPU je Anfrage: Server {server_ms:.1f} ms, FerretDB {store_ms:.1f} ms, Messclients {client_ms:.1f} ms "
              f"(Server {100 * (cpu1[0] - cpu0[0]) / seconds:.0f} % eines Kerns, FerretDB {100 * (cpu1[1] - cpu0[1]) / seconds:.0f} %, "
              f"Messclients {100 * (cpu1[2] - cpu0[2]) / seconds:.0f} %)", flush=True)
        if len(per_process0) > 2:  # the supervisor and several serving processes: each one's share of a core
            shares = [100 * (cpu_seconds(p) - c) / seconds for p, c in per_process0.items()]
            print("    je Serverprozess (Aufseher, Hilfsprozess, Bedienende): " + ", ".join(f"{s:.0f} %" for s in shares), flush=True)
        by_thread = threads1 - threads0
        top = ", ".join(f"{name} {seconds_ * 1000 / served:.1f}" for name, seconds_ in by_thread.most_common(5) if seconds_ > 0)
        print(f"    CPU der Bedienenden je Anfrage nach Thread (ms): {top}", flush=True)
        print(f"    Suchindex-Segmente (Dokumente/davon gelöscht) vorher {_layout(segments0)}, "
              f"nachher {_layout(segments(self.data_dir / 'search'))}", flush=True)
        for e in errors[:5]:
            print("    ", e, flush=True)

    def server_threads(self) -> Counter[str]:
        """CPU seconds so far of the serving processes' threads, by name (merge_thread: Tantivy's merges)."""
        out: Counter[str] = Counter()
        for pid in self.server_pids():
            out.update(thread_cpu(pid, main="Ereignisschleife"))
        return out

    def rss(self, size: int) -> None:
        assert self.server is not None
        children = descendants(self.server.pid)
        store = sum(rss_mb(p) for p in children if "ferretdb" in Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace"))
        server = rss_mb(self.server.pid) + sum(
            rss_mb(p) for p in children if "ferretdb" not in Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace")
        )
        self.extra.setdefault(size, {}).update({"rss server": server, "rss store": store})
        print(f"  RSS: Server {server:.0f} MB, Datenbank (FerretDB) {store:.0f} MB", flush=True)

    # ------------------------------------------------------------ report

    def report(self) -> None:
        sizes = sorted(self.figures)
        print()
        print("Ergebnis (eingebetteter Standard: FerretDB 1.24 auf SQLite, Tantivy; 2 Kerne, mit anderer Last auf der Maschine)")
        header = f"  {'Lesezugriff':<18}" + "".join(f" | {s:>7,} Profile p50 / p95 (× Boden)" for s in sizes)
        print(header)
        names = list(self.figures[sizes[0]])
        for name in names:
            row = f"  {name:<18}"
            for s in sizes:
                p50, p95 = self.figures[s][name]
                floor = self.floors[s]["_id lookup" if name in KEYED else "index query"]
                row += f" | {p50:8.1f} / {p95:8.1f} ms ({p50 / floor:5.1f}×)"
            print(row)
        for key, label in (("_id lookup", "Boden: PyMongo _id"), ("index query", "Boden: Tantivy")):
            print(f"  {label:<18}" + "".join(f" | {self.floors[s][key]:8.2f} ms{'':>25}" for s in sizes))
        for key, unit in (("import/s", "Profile/s"), ("mixed/s", "Anfragen/s"), ("mixed p95", "ms"), ("mixed read p95", "ms"),
                          ("mixed write p95", "ms"), ("mixed errors", "Fehler"), ("mixed server CPU/req", "ms"), ("mixed store CPU/req", "ms"),
                          ("mixed client CPU/req", "ms"),
                          ("store CPU/find_one", "ms"), ("store CPU/update", "ms"), ("client CPU/command", "ms"),
                          ("rss server", "MB"), ("rss store", "MB")):
            print(f"  {key:<18}" + "".join(f" | {self.extra[s].get(key, float('nan')):8.1f} {unit:<10}{'':>16}" for s in sizes))
        print()
        print("Ziele aus Issue 10:")
        verdicts: list[tuple[str, bool]] = []
        if 10_000 in self.figures:
            f = self.figures[10_000]
            for name in TARGET_READS:
                verdicts.append((f"10.000: {name} p50 ≤ 15 ms, p95 ≤ 40 ms ({f[name][0]:.1f} / {f[name][1]:.1f})", f[name][0] <= 15 and f[name][1] <= 40))
            verdicts.append((f"10.000: PDF ungecacht ≤ 60 ms ({f['pdf uncached'][0]:.1f})", f["pdf uncached"][0] <= 60))
            verdicts.append((f"10.000: PDF gecacht ≤ 5 ms ({f['pdf cached'][0]:.1f})", f["pdf cached"][0] <= 5))
            e = self.extra[10_000]
            verdicts.append((f"10.000: Mischlast ≥ 300/s, p95 ≤ 50 ms, 0 Fehler ({e['mixed/s']:.0f}/s, {e['mixed p95']:.1f} ms, {e['mixed errors']:.0f})",
                             e["mixed/s"] >= 300 and e["mixed p95"] <= 50 and e["mixed errors"] == 0))
        if 100_000 in self.figures and 10_000 in self.figures:
            for name in self.figures[10_000]:
                a, b = self.figures[10_000][name][0], self.figures[100_000][name][0]
                verdicts.append((f"100.000: {name} ≤ 1,5 × 10.000 ({b:.1f} vs {a:.1f})", b <= 1.5 * a))
        for s in sizes:
            verdicts.append((f"Import ≥ 300 Profile/s bis {s:,} ({self.extra[s]['import/s']:.0f}/s)", self.extra[s]["import/s"] >= 300))
        for text, ok in verdicts:
            print(f"  {'erfüllt ' if ok else 'verfehlt'}  {text}")
        print()
        print("Befehl:", " ".join([".venv/bin/python", "benchmarks/scale.py", *sys.argv[1:]]))


def _layout(found: list[tuple[int, int]]) -> str:
    return f"{len(found)}: " + " ".join(f"{docs}/{deleted}" for docs, deleted in found) if found else "–"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000", help="catalogue sizes, ascending (each loads the difference)")
    parser.add_argument("--reads", type=int, default=60, help="timed requests per read and size")
    parser.add_argument("--mixed-seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=None,
                        help="serving processes (leuchtturm serve --workers N); default: as `make run` (LEUCHTTURM_WORKERS or one per core, at most 4)")
    parser.add_argument("--settle-seconds", type=float, default=0.0,
                        help="after each import, wait this long with no requests and print the server's CPU meanwhile "
                             "(what the index still does for the import, e.g. merging its segments) before measuring")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    bench = Bench(args)
    print(f"Skalierung, Größen {sizes}, Daten in {bench.data_dir}", flush=True)
    try:
        bench.start()
        bench.editor_world()
        generated = synthetic_profiles(sizes[-1], args.seed)
        loaded = 0
        for size in sizes:
            print(f"\n== {size:,} Profile ==", flush=True)
            bench.load(list(itertools.islice(generated, size - loaded)), size)
            loaded = size
            bench.after_import(size)
            slugs = bench.slugs()
            bench.measure_floors(size, slugs)
            bench.measure(size, slugs)
            bench.mixed(size, slugs)
            bench.rss(size)
        bench.report()
    finally:
        bench.stop()
        shutil.rmtree(bench.tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
