"""Start, find and stop the embedded FerretDB (SQLite backend).

The Go program in tools/ferretdb/ locks its data directory, so two FerretDB
processes never open the same SQLite files. A process that starts FerretDB
records it in a state file (DATA_DIR/ferretdb.json); other processes (CLI
commands while the server runs) find it there and connect to it instead of
starting a second one. The child is bound to its parent three ways: we stop
it on shutdown, the kernel sends it SIGTERM when the parent dies
(PR_SET_PDEATHSIG), and the Go program exits when its parent changes.

Once it answers, the starter records where its SQLite files are inside the
store itself (database `leuchtturm_store`, document `instance`), so every
client – also one that was only given a URL, like the test suite's app –
finds them: for the `_id` indexes below and for the store's write lock
(`catalogue.atomic`), which lives next to them.

FerretDB 1.24 looks documents up by `_id` with
`WHERE _ferretdb_sjson->'$._id' = ?` (internal/backends/sqlite/collection.go,
metadata.IDColumn), but its own unique `_id` index is built on
`_ferretdb_sjson->"_id"`, an expression SQLite does not match, so every
lookup scans the table. `ensure_id_indexes` adds an index on exactly the
queried expression to every collection table; FerretDB does not list it and
otherwise ignores it, and it goes when the table is dropped.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient, MongoClient
from pymongo.errors import PyMongoError

STATE_FILE = "ferretdb.json"
START_TIMEOUT = 30.0
PR_SET_PDEATHSIG = 1
INSTANCE_DB = "leuchtturm_store"
INSTANCE_COLLECTION = "instance"
# Go's garbage collector target for the FerretDB child (GOGC; an operator's own GOGC is kept). FerretDB decodes every
# document it reads into short-lived objects; at Go's default (100) its background marking took about 9.5 % of its CPU
# for keyed reads of 10,000 profiles, at 400 about 2 %, for some 13 MB more memory (benchmarks/scale.py's store floor).
FERRETDB_GOGC = "400"


def ferretdb_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment the FerretDB child runs with: ours, plus GOGC unless it is set."""
    env = dict(os.environ if base is None else base)
    env.setdefault("GOGC", FERRETDB_GOGC)
    return env


# The expression FerretDB 1.24.2 queries for `_id` (metadata.IDColumn), verbatim.
ID_EXPRESSION = "_ferretdb_sjson->'$._id'"
ID_INDEX_SUFFIX = "_leuchtturm_id_expr"

log = logging.getLogger("leuchtturm.store")


class EmbeddedStoreError(RuntimeError):
    """The embedded FerretDB could not be started or reached."""


def bind_to_parent() -> None:
    """The kernel sends this process SIGTERM when its parent dies (call it in the child: after fork, or at start)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ping(uri: str, timeout_ms: int = 1500) -> bool:
    client: MongoClient[dict[str, Any]] = MongoClient(uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms)
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


@dataclass
class EmbeddedFerretDB:
    """One FerretDB child process owned by this Python process."""

    binary: Path
    data_dir: Path
    listen_addr: str = "127.0.0.1:0"
    process: subprocess.Popen[bytes] | None = None
    uri: str | None = None

    @property
    def db_dir(self) -> Path:
        return self.data_dir / "ferretdb"

    @property
    def state_path(self) -> Path:
        return self.data_dir / STATE_FILE

    @property
    def log_path(self) -> Path:
        return self.data_dir / "ferretdb.log"

    def start(self) -> str:
        if not self.binary.exists():
            hint = "run `make ferretdb` (needs Go 1.24+: apt-get install golang, or see https://go.dev/dl)"
            if shutil.which("go") is None:
                hint = "install Go 1.24+ and run `make ferretdb`, or set LEUCHTTURM_MONGODB_URL to use a MongoDB server"
            raise EmbeddedStoreError(f"embedded FerretDB binary not found at {self.binary}: {hint}")
        host, _, port = self.listen_addr.rpartition(":")
        if port != "0" and port_in_use(host, int(port)):
            raise EmbeddedStoreError(f"port {self.listen_addr} is already in use; choose another or stop the program using it")
        self.db_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                [str(self.binary), "-listen-addr", self.listen_addr, "-data-dir", str(self.db_dir)],
                env=ferretdb_environment(),
                stdout=subprocess.PIPE,
                stderr=log,
                stdin=subprocess.DEVNULL,
                preexec_fn=bind_to_parent,  # noqa: PLW1509
                close_fds=True,
            )
        finally:
            log.close()
        line = self._read_ready_line()
        self.uri = json.loads(line)["uri"]
        deadline = time.monotonic() + START_TIMEOUT
        while not ping(self.uri, 1000):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise EmbeddedStoreError(f"FerretDB did not answer a ping; see {self.log_path}")
            time.sleep(0.05)
        record_instance(self.uri, self.db_dir)
        ensure_id_indexes(self.db_dir)
        self._write_state()
        return self.uri

    def _read_ready_line(self) -> str:
        assert self.process is not None
        assert self.process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        fd = self.process.stdout.fileno()
        buf = b""
        while b"\n" not in buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                raise EmbeddedStoreError(f"FerretDB did not start within {START_TIMEOUT:.0f} s; see {self.log_path}")
            ready, _, _ = select.select([fd], [], [], min(remaining, 0.2))
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                buf += chunk
            elif self.process.poll() is not None:
                break
        if b"\n" not in buf:
            self.process.wait(timeout=5)
            raise EmbeddedStoreError(f"FerretDB exited at start-up: {self._last_log_line()}")
        return buf.split(b"\n", 1)[0].decode()

    def _last_log_line(self) -> str:
        try:
            lines = [ln for ln in self.log_path.read_text(errors="replace").splitlines() if ln.strip()]
        except OSError:
            return "no log"
        return lines[-1] if lines else "no log"

    def _write_state(self) -> None:
        assert self.process is not None
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"uri": self.uri, "pid": self.process.pid, "owner_pid": os.getpid()}))
        tmp.replace(self.state_path)

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()
        with contextlib.suppress(FileNotFoundError, json.JSONDecodeError, OSError):
            state = json.loads(self.state_path.read_text())
            if proc is None or state.get("pid") == proc.pid:
                self.state_path.unlink()


def record_instance(uri: str, db_dir: Path) -> None:
    """Record in the store where its SQLite files are (read back by `instance_info`)."""
    client: MongoClient[dict[str, Any]] = MongoClient(uri, serverSelectionTimeoutMS=5000)
    try:
        client[INSTANCE_DB][INSTANCE_COLLECTION].replace_one(
            {"_id": "ferretdb"},
            {"data_dir": str(db_dir.resolve()), "pid": os.getpid(), "started_at": datetime.now(UTC)},
            upsert=True,
        )
    finally:
        client.close()


async def instance_info(client: AsyncMongoClient[Any]) -> Path | None:
    """The SQLite directory of the FerretDB behind `client`, if it was started by us on this machine."""
    doc = await client[INSTANCE_DB][INSTANCE_COLLECTION].find_one({"_id": "ferretdb"})
    if not doc or not doc.get("data_dir"):
        return None
    path = Path(doc["data_dir"])
    return path if (path / f"{INSTANCE_DB}.sqlite").exists() else None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ensure_id_indexes(db_dir: Path, databases: list[str] | None = None) -> list[str]:
    """Index `_id` on the expression FerretDB queries, in every collection table; returns the indexes created.

    `databases` limits it to those databases (default: every database file
    in `db_dir`). Idempotent; safe while FerretDB runs (SQLite locking; our
    connection waits up to 30 s for a busy database).
    """
    files = [db_dir / f"{name}.sqlite" for name in databases] if databases is not None else sorted(db_dir.glob("*.sqlite"))
    created: list[str] = []
    for path in files:
        if not path.exists():
            continue
        con = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        try:
            try:
                tables = [row[0] for row in con.execute("SELECT table_name FROM _ferretdb_collections")]
            except sqlite3.OperationalError:
                continue  # not (yet) a FerretDB database
            existing = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
            present = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            for table in tables:
                name = table + ID_INDEX_SUFFIX
                if name in existing or table not in present:
                    continue
                con.execute(f"CREATE INDEX IF NOT EXISTS {_quote(name)} ON {_quote(table)} ({ID_EXPRESSION})")
                created.append(f"{path.stem}.{name}")
        finally:
            con.close()
    if created:
        log.info("indexed _id in %d FerretDB tables", len(created))
    return created


def id_lookup_plan(db_dir: Path, database: str, collection: str) -> str:
    """SQLite's plan for FerretDB's `_id` lookup in one collection (for tests and diagnostics)."""
    con = sqlite3.connect(str(db_dir / f"{database}.sqlite"), timeout=30)
    try:
        row = con.execute("SELECT table_name FROM _ferretdb_collections WHERE name = ?", (collection,)).fetchone()
        if row is None:
            raise LookupError(f"no collection {database}.{collection}")
        sql = f"EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM {_quote(row[0])} WHERE {ID_EXPRESSION} = ?"  # noqa: S608 - quoted table name from FerretDB's catalogue
        plan = con.execute(sql, ('"x"',)).fetchall()
        return "; ".join(str(r[-1]) for r in plan)
    finally:
        con.close()


def find_running(data_dir: Path) -> str | None:
    """The URI of an embedded FerretDB another process runs on data_dir, if any."""
    path = data_dir / STATE_FILE
    try:
        state = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if not _pid_alive(int(state.get("pid", 0))):
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    uri = state.get("uri")
    return uri if uri and ping(uri) else None


class StoreHandle:
    """Where the database is, and whether this process must stop it."""

    def __init__(self, uri: str, owned: EmbeddedFerretDB | None) -> None:
        self.uri = uri
        self.owned = owned

    @property
    def embedded(self) -> bool:
        return self.owned is not None

    def close(self) -> None:
        if self.owned is not None:
            self.owned.stop()
            self.owned = None


def open_store(mongodb_url: str | None, data_dir: Path, binary: Path, listen_addr: str = "127.0.0.1:0") -> StoreHandle:
    """Use the configured MongoDB, else a running embedded FerretDB, else start one."""
    if mongodb_url:
        return StoreHandle(mongodb_url, None)
    data_dir.mkdir(parents=True, exist_ok=True)
    for _attempt in range(3):
        uri = find_running(data_dir)
        if uri:
            return StoreHandle(uri, None)
        server = EmbeddedFerretDB(binary=binary, data_dir=data_dir, listen_addr=listen_addr)
        try:
            server.start()
        except EmbeddedStoreError as exc:
            if "already in use by another FerretDB" in str(exc):
                time.sleep(0.5)  # another process is starting it right now
                continue
            raise
        return StoreHandle(server.uri or "", server)
    raise EmbeddedStoreError(f"data directory {data_dir} is locked by another FerretDB process that does not answer")
