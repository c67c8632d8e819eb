"""Import while the server runs: the rate, and the CPU each process spends per profile.

    .venv/bin/python benchmarks/import_cpu.py [--sizes 1000] [--seed 1]

Starts `leuchtturm serve` on the embedded default (FerretDB on SQLite,
Tantivy) in a temporary data directory, imports synthetic profiles
(benchmarks/synthetic.py) as published with `leuchtturm import --publish`
(the CLI writes the store and waits until the server's sync worker has
indexed everything: issue 10's import rate), one import per size, and
prints for each the profiles per second and the CPU milliseconds per
profile of FerretDB, the server (without FerretDB) and the CLI. On a
machine shared with other work the rate is noisy; the CPU per profile is
much less so, and it shows which process a change relieved.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._server import children, cli_import, free_port, start_server, stop_server
from benchmarks.synthetic import synthetic_profiles

PY = str(ROOT / ".venv" / "bin" / "python")
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, *, tree: bool = True) -> float:
    """User + system CPU of a process (and, with `tree`, its descendants still running)."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK
        if tree:
            todo.extend(children(p))
    return total


def ferretdb_pid(server_pid: int) -> int:
    for child in children(server_pid):
        if "ferretdb" in Path(f"/proc/{child}/cmdline").read_text():
            return child
    sys.exit("Kein FerretDB-Prozess unter dem Server gefunden (läuft der eingebettete Standard?).")


def cli_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000", help="profiles per import, comma-separated (each import adds to the catalogue)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    tmp = Path(tempfile.mkdtemp(prefix="leuchtturm-import-cpu-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "LEUCHTTURM_DATA_DIR": str(tmp / "var"), "LEUCHTTURM_PORT": str(port),
        "LEUCHTTURM_DEMO_DATA": "false", "LEUCHTTURM_LOAD_REGISTER": "false", "LEUCHTTURM_MONGODB_URL": "", "LEUCHTTURM_MEILI_URL": "",
        "LEUCHTTURM_FERRETDB_BIN": str(ROOT / "bin" / "leuchtturm-ferretdb"),
    }
    server = start_server([PY, "-m", "api.cli", "serve"], env, ROOT, base, log=tmp / "server.log")
    try:
        store = ferretdb_pid(server.pid)
        for n, size in enumerate(sizes):
            source = tmp / f"profiles-{n}.ndjson"
            with source.open("w", encoding="utf-8") as fh:
                for profile in synthetic_profiles(size, args.seed + n):
                    fh.write(json.dumps(profile, ensure_ascii=False) + "\n")
            print(f"Import von {size} Profilen über die CLI, während der Server läuft …", flush=True)
            before = (cpu_seconds(server.pid), cpu_seconds(store, tree=False), cli_cpu())
            t0 = time.perf_counter()
            cli_import(PY, source, env, ROOT)
            seconds = time.perf_counter() - t0
            after = (cpu_seconds(server.pid), cpu_seconds(store, tree=False), cli_cpu())
            server_all, ferret, cli = (a - b for a, b in zip(after, before, strict=True))
            per = 1000 / size
            print(
                f"  {size} Profile in {seconds:.1f} s ({size / seconds:.0f}/s, bis durchsuchbar); CPU je Profil: "
                f"FerretDB {ferret * per:.1f} ms, Server {(server_all - ferret) * per:.1f} ms, CLI {cli * per:.1f} ms "
                f"(zusammen {(server_all + cli) * per:.1f} ms)",
                flush=True,
            )
    finally:
        stop_server(server)
    print(f"\nBefehl: .venv/bin/python benchmarks/import_cpu.py --sizes {args.sizes} --seed {args.seed}")
    print("Auf einer Maschine mit anderer Last ist die Rate verrauscht; die CPU je Profil weniger.")


if __name__ == "__main__":
    main()
