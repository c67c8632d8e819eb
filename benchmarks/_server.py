"""Start, wait for and stop a `leuchtturm serve` for a benchmark (shared by the scripts in benchmarks/).

    server = start_server([py, "-m", "api.cli", "serve"], env, cwd, base, log=path_or_None, timeout=300)
    ...
    stop_server(server)

The server runs in its own session (process group), so `stop_server` ends it
and its children (the embedded FerretDB) together: SIGINT, then SIGKILL after
`grace` seconds.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path


def children(pid: int) -> list[int]:
    """The direct children of process `pid` (every thread's, from /proc; none when it is gone)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return out


def thread_cpu(pid: int | str = "self", *, main: str = "event loop (main)") -> Counter[str]:
    """CPU seconds of a process's threads so far, summed by thread name (digits dropped; its main thread as `main`)."""
    tick = os.sysconf("SC_CLK_TCK")
    out: Counter[str] = Counter()
    own = str(os.getpid() if pid == "self" else pid)
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        group = main if task.name == own else "".join(c for c in name if not c.isdigit()).rstrip("-_") or "?"
        out[group] += (int(fields[11]) + int(fields[12])) / tick
    return out


def segments(search_dir: Path) -> list[tuple[int, int]]:
    """The live Tantivy index's segments under a data directory's `search/`: (documents, of them deleted), biggest first.

    The live index is the directory whose meta.json changed last (a rebuild's new directory replaces the old one).
    """
    metas = sorted(search_dir.glob("*/meta.json"), key=lambda m: m.stat().st_mtime)
    if not metas:
        return []
    try:
        meta = json.loads(metas[-1].read_text())
    except (OSError, ValueError):
        return []
    out = [(int(s["max_doc"]), int((s.get("deletes") or {}).get("num_deleted_docs", 0))) for s in meta.get("segments", [])]
    return sorted(out, reverse=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def is_ready(base: str, timeout: float = 5) -> bool:
    try:
        with urllib.request.urlopen(base + "/health/ready", timeout=timeout) as r:  # noqa: S310 - our own server on loopback
            return bool(r.status == 200)
    except OSError:
        return False


def wait_ready(base: str, server: subprocess.Popen[bytes], *, timeout: float = 300, log: Path | None = None, every: float = 0.3) -> None:
    """Until /health/ready answers 200; exits the benchmark when the server ends or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while not is_ready(base):
        if time.monotonic() > deadline or server.poll() is not None:
            sys.exit("Der Server startete nicht" + (f" (Protokoll: {log})." if log is not None else "."))
        time.sleep(every)


def start_server(
    command: Sequence[str], env: Mapping[str, str], cwd: Path, base: str, *, log: Path | None = None, timeout: float = 300
) -> subprocess.Popen[bytes]:
    """Start the server (output to `log`, or discarded) and wait until it is ready."""
    out = log.open("wb") if log is not None else subprocess.DEVNULL
    server = subprocess.Popen(list(command), env=dict(env), cwd=cwd, stdout=out, stderr=out, start_new_session=True)
    try:
        wait_ready(base, server, timeout=timeout, log=log)
    except BaseException:
        stop_server(server)
        raise
    return server


def stop_server(server: subprocess.Popen[bytes] | None, *, grace: float = 30) -> None:
    if server is None or server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGINT)
    try:
        server.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def cli_import(python: str, source: Path | Sequence[Path], env: Mapping[str, str], cwd: Path) -> None:
    """`leuchtturm import SOURCE… --publish` (one run over all files), showing its progress and summary (not one line
    per record); exits on failure."""
    sources = [source] if isinstance(source, Path) else list(source)
    proc = subprocess.Popen([python, "-m", "api.cli", "import", *map(str, sources), "--publish"], env=dict(env), cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() and ".ndjson #" not in line:
            print("   ", line.rstrip()[:160], flush=True)
    if proc.wait() != 0:
        sys.exit("Import schlug fehl.")
