"""The export mirror: the published profiles' export records, kept by the index writer, streamed by the exports.

Reading 100,000 profiles by `_id` for every export request takes hours on
FerretDB (each read a few milliseconds under load). So the bulk exports
(`/api/v1/export/profiles.{json,ndjson,csv}`, `leuchtturm export
--open-data`) read a derived copy instead, like the search index is one:
a SQLite file in the data directory (`export/profiles.sqlite`) holding, per
published profile, its public export record rendered once as a JSON line
and as a CSV row, ordered by creation time.

Who writes it: the process that applies the outbox (the sync worker of the
lease holder, catalogue/search/sync.py, or a CLI holding the lease). With
every applied batch it renders the current state of the batch's profiles
(in a worker thread) and, in one SQLite transaction, puts in the published
ones, takes out the others (unpublished, archived, deleted), and – only when
a record really changed – counts the generation up and records the time.
So the exports are exactly as fresh as the index: read-your-writes (waiting
for the outbox entry) covers them too. A full rebuild runs with every
reindex and when the mirror is missing, from another database, or was never
completed (then the writer scans the published profiles once, batch work).
A rebuild fills a staging table in small transactions and swaps it in at the
end; profiles the worker changes meanwhile keep their newer record.

Who reads it: every export request opens its own read transaction (WAL
mode: a snapshot that writers never block and never change), takes the
generation for the ETag and the time for Last-Modified, and pages through
the records in creation order by key (`(created, id) > last`), one page
of PAGE_SIZE rows at a time in a worker thread: constant memory at any
size, and a request running while the worker writes sends one whole,
consistent export.

catalogue must not import importers or api: the rendering of a record is
handed in (`Render`, from api/open_data.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sqlite3
import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from catalogue.errors import DependencyUnavailable
from catalogue.models import Profile
from catalogue.vocabularies import EditorialStatus

Render = Callable[[Profile], tuple[str, str]]  # a profile's public export record: (JSON line, CSV row with line end)
Progress = Callable[[int], None]

PAGE_SIZE = 500  # records per read while streaming
BUILD_BATCH = 500  # records per transaction while rebuilding
BUSY_TIMEOUT_MS = 60_000
MIRROR_FILE = Path("export") / "profiles.sqlite"
NOT_READY = "Der Export wird gerade aufgebaut. Bitte versuchen Sie es in einer Minute noch einmal."

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (id TEXT PRIMARY KEY, created REAL NOT NULL, json TEXT NOT NULL, csv TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS records_order ON records (created, id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class MirrorState:
    """What an export's validators come from: the build, its generation and when a record last changed."""

    build: str
    generation: int
    modified: datetime
    count: int


Row = tuple[str, float, str, str]  # id, created (epoch seconds), JSON line, CSV row


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
    con.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return con


def _meta(con: sqlite3.Connection) -> dict[str, str]:
    return {str(k): str(v) for k, v in con.execute("SELECT key, value FROM meta").fetchall()}


def _set_meta(con: sqlite3.Connection, values: dict[str, str]) -> None:
    con.executemany("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", values.items())


def _state(meta: dict[str, str], db_name: str) -> MirrorState | None:
    if meta.get("complete") != "1" or meta.get("db") != db_name:
        return None
    return MirrorState(
        build=meta["build"], generation=int(meta["generation"]), modified=datetime.fromisoformat(meta["modified"]), count=int(meta["count"])
    )


class ExportMirror:
    """The mirror file of one database; see the module docstring."""

    def __init__(self, path: Path, render: Render, *, db_name: str) -> None:
        self.path = path
        self.render = render
        self.db_name = db_name
        self._write_lock = threading.Lock()  # one writer at a time in this process (SQLite serialises processes)
        self._building: set[str] | None = None  # during a rebuild: ids the worker changed meanwhile

    # -- set-up

    def _open_for_write(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = _connect(self.path)
        con.execute("PRAGMA journal_mode=WAL")
        con.executescript(_SCHEMA)
        return con

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction on its own connection: committed when the block ends, rolled back on any error."""
        con = self._open_for_write()
        try:
            con.execute("BEGIN IMMEDIATE")
            yield con
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    async def state(self) -> MirrorState | None:
        """The current state, or None while the mirror is not complete (never built, or of another database)."""
        return await asyncio.to_thread(self._read_state)

    def _read_state(self) -> MirrorState | None:
        if not self.path.exists():
            return None
        con = _connect(self.path)
        try:
            return _state(_meta(con), self.db_name)
        except sqlite3.OperationalError:  # no tables yet
            return None
        finally:
            con.close()

    # -- the worker's writes

    def _rows(self, profiles: Iterable[Profile]) -> tuple[list[Row], list[str]]:
        rows: list[Row] = []
        unpublished: list[str] = []
        for profile in profiles:
            if profile.status == EditorialStatus.PUBLISHED:
                json_line, csv_row = self.render(profile)
                rows.append((str(profile.id), profile.created_at.timestamp(), json_line, csv_row))
            else:
                unpublished.append(str(profile.id))
        return rows, unpublished

    async def apply(self, profiles: Sequence[Profile], gone: Sequence[str]) -> bool:
        """Make the mirror match the current state of these profiles (`gone`: ids no longer stored). True when it changed."""
        if not profiles and not gone:
            return False
        return await asyncio.to_thread(self._render_and_apply, profiles, gone)  # one hop: rendering, then writing

    def _render_and_apply(self, profiles: Sequence[Profile], gone: Sequence[str]) -> bool:
        rows, unpublished = self._rows(profiles)
        return self._apply(rows, [*unpublished, *gone])

    def _apply(self, rows: list[Row], remove: list[str]) -> bool:
        with self._write_lock:
            with self._writing() as con:
                changed = False
                for row in rows:
                    old = con.execute("SELECT created, json, csv FROM records WHERE id = ?", (row[0],)).fetchone()
                    if old != row[1:]:
                        con.execute("INSERT OR REPLACE INTO records (id, created, json, csv) VALUES (?, ?, ?, ?)", row)
                        changed = True
                for pid in remove:
                    changed = con.execute("DELETE FROM records WHERE id = ?", (pid,)).rowcount > 0 or changed
                if changed:
                    meta = _meta(con)
                    count = con.execute("SELECT count(*) FROM records").fetchone()[0]
                    _set_meta(con, {"generation": str(int(meta.get("generation", "0")) + 1), "modified": _now().isoformat(), "count": str(count)})
            if self._building is not None:
                self._building.update(r[0] for r in rows)
                self._building.update(remove)
            return changed

    # -- rebuilds

    async def rebuild(self, profiles: AsyncIterable[Profile], progress: Progress | None = None) -> int:
        """Replace the mirror by the published ones among `profiles` (any states may come); returns how many."""
        staging = f"staging_{secrets.token_hex(4)}"
        await asyncio.to_thread(self._start_build, staging)
        count = 0
        seen = 0
        batch: list[Profile] = []
        try:
            async for profile in profiles:
                batch.append(profile)
                seen += 1
                if len(batch) >= BUILD_BATCH:
                    count += await self._stage(staging, batch)
                    batch = []
                    if progress:
                        progress(seen)
            count += await self._stage(staging, batch)
            return await asyncio.to_thread(self._finish_build, staging)
        except BaseException:
            await asyncio.shield(asyncio.to_thread(self._drop, staging))
            raise
        finally:
            self._building = None

    def _start_build(self, staging: str) -> None:
        with self._write_lock:
            con = self._open_for_write()
            try:
                con.execute(f"CREATE TABLE {staging} (id TEXT PRIMARY KEY, created REAL NOT NULL, json TEXT NOT NULL, csv TEXT NOT NULL)")
            finally:
                con.close()
            self._building = set()

    async def _stage(self, staging: str, batch: list[Profile]) -> int:
        rows, _ = await asyncio.to_thread(self._rows, batch)

        def write() -> None:
            with self._writing() as con:
                con.executemany(f"INSERT OR REPLACE INTO {staging} (id, created, json, csv) VALUES (?, ?, ?, ?)", rows)  # noqa: S608 - our own name

        await asyncio.to_thread(write)
        return len(rows)

    def _finish_build(self, staging: str) -> int:
        with self._write_lock:
            with self._writing() as con:
                touched = sorted(self._building or ())
                for pid in touched:  # the worker's records are newer than the scan's
                    con.execute(f"DELETE FROM {staging} WHERE id = ?", (pid,))  # noqa: S608 - our own name
                    con.execute(f"INSERT INTO {staging} SELECT * FROM records WHERE id = ?", (pid,))  # noqa: S608
                con.execute("DROP TABLE records")
                con.execute(f"ALTER TABLE {staging} RENAME TO records")
                con.execute("CREATE INDEX IF NOT EXISTS records_order ON records (created, id)")
                count = con.execute("SELECT count(*) FROM records").fetchone()[0]
                meta = _meta(con)
                _set_meta(
                    con,
                    {
                        "build": secrets.token_hex(8),
                        "generation": str(int(meta.get("generation", "0")) + 1),
                        "modified": _now().isoformat(),
                        "count": str(count),
                        "db": self.db_name,
                        "complete": "1",
                    },
                )
            return int(count)

    def _drop(self, staging: str) -> None:
        with contextlib.suppress(sqlite3.Error):
            con = self._open_for_write()
            try:
                con.execute(f"DROP TABLE IF EXISTS {staging}")
            finally:
                con.close()

    # -- the exports' reads

    async def snapshot(self) -> Snapshot:
        """A consistent view for one export (close it when done); raises DependencyUnavailable until the mirror is complete."""
        snap = await asyncio.to_thread(Snapshot.open, self.path, self.db_name)
        if snap is None:
            raise DependencyUnavailable(NOT_READY)
        return snap


class Snapshot:
    """One read transaction over the mirror: its state and its records, page by page, in creation order."""

    def __init__(self, con: sqlite3.Connection, state: MirrorState) -> None:
        self._con = con
        self.state = state

    @classmethod
    def open(cls, path: Path, db_name: str) -> Snapshot | None:
        if not path.exists():
            return None
        con = _connect(path)
        try:
            con.execute("BEGIN")  # deferred: the snapshot starts with the first read, just below
            state = _state(_meta(con), db_name)
        except sqlite3.OperationalError:
            state = None
        if state is None:
            con.close()
            return None
        return cls(con, state)

    def _page(self, column: str, after: tuple[float, str] | None, size: int) -> list[tuple[float, str, str]]:
        if after is None:
            sql = f"SELECT created, id, {column} FROM records ORDER BY created, id LIMIT ?"  # noqa: S608 - a fixed column name
            return list(self._con.execute(sql, (size,)))
        sql = f"SELECT created, id, {column} FROM records WHERE (created, id) > (?, ?) ORDER BY created, id LIMIT ?"  # noqa: S608
        return list(self._con.execute(sql, (*after, size)))

    async def pages(self, column: str, size: int = PAGE_SIZE) -> AsyncIterator[list[str]]:
        """The rendered records (`column`: "json" or "csv"), a page at a time."""
        if column not in ("json", "csv"):
            raise ValueError(column)
        after: tuple[float, str] | None = None
        while True:
            rows = await asyncio.to_thread(self._page, column, after, size)
            if not rows:
                return
            yield [r[2] for r in rows]
            if len(rows) < size:
                return
            after = (rows[-1][0], rows[-1][1])

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._con.execute("COMMIT")
        self._con.close()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)


__all__ = ["MIRROR_FILE", "ExportMirror", "MirrorState", "Render", "Snapshot"]
