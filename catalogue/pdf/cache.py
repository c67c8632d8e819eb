"""A small in-process LRU cache for rendered PDFs.

Keyed by (slug, revision, kind) — kind is e.g. "profile" or
"comparison:<slug>,<slug>" and may carry anything else that changes the
bytes (such as the "erstellt am" date). Bounded by entry count and total
bytes; thread-safe, so request handlers and worker threads can share one.

Beside the documents it remembers, per revision, which level of the
one-page ladder (catalogue/pdf/fit.py) fitted, so the next render of that
revision (a new day, the PNG) lays the page out once; and which slugs have
any document at all, and of which profile (its id), so a profile's first PDF
needs no look at its revision and a cached one can be checked against the
profile's search document (api/controllers/pdf.py).

`PdfFiles` keeps the rendered profile PDFs on disk as well (DATA_DIR/cache/pdf),
so the serving processes of `leuchtturm serve --workers N` share them and a
restart keeps them: a process that has not rendered a PDF itself finds it
there (`PdfCache.fetch`) after the caller's read of the profile has been
allowed. The key names the profile's version and the day, so a file never
stands for another state; files beyond the size bound go oldest first.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path

from catalogue.lru import LRU

CacheKey = tuple[str, Hashable, str]


@dataclass(frozen=True, slots=True)
class CacheStats:
    hits: int
    misses: int
    entries: int
    bytes: int


class PdfFiles:
    """Rendered documents as files in one directory, shared by every process on it (see the module docstring).

    Blocking file work: call from a thread (`PdfCache.fetch`/`keep` do). A file is written whole under a
    temporary name and renamed, so a reader never sees part of one; every `SWEEP_EVERY` writes the oldest
    files beyond `max_bytes` are removed.
    """

    SWEEP_EVERY = 64

    def __init__(self, directory: Path, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._writes = 0

    def _path(self, slug: str, revision: Hashable, kind: str) -> Path:
        digest = hashlib.sha256(repr((slug, revision, kind)).encode()).hexdigest()[:40]
        return self.directory / f"{digest}.pdf"

    def read(self, slug: str, revision: Hashable, kind: str) -> bytes | None:
        try:
            return self._path(slug, revision, kind).read_bytes()
        except OSError:
            return None

    def write(self, slug: str, revision: Hashable, kind: str, data: bytes) -> None:
        """Keep `data` (a failure to write only costs a later render: logged by nobody, never raised)."""
        target = self._path(slug, revision, kind)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            tmp.replace(target)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
            return
        self._writes += 1
        if self._writes % self.SWEEP_EVERY == 0:
            self.sweep()

    def sweep(self) -> int:
        """Remove the oldest files beyond `max_bytes` (and temporary files older than an hour); how many went."""
        files: list[tuple[float, int, Path]] = []
        removed = 0
        try:
            entries = list(os.scandir(self.directory))
        except OSError:
            return 0
        for entry in entries:
            try:
                st = entry.stat()
            except OSError:
                continue
            if entry.name.endswith(".tmp"):
                if st.st_mtime < time.time() - 3600:
                    with contextlib.suppress(OSError):
                        Path(entry.path).unlink()
                continue
            files.append((st.st_mtime, st.st_size, Path(entry.path)))
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.max_bytes:
                break
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
            total -= size
        return removed


class PdfCache:
    """LRU cache of rendered documents: ``get``/``put`` or ``get_or_render``; with `files`, profile PDFs also on
    disk for the other processes (``fetch``/``keep``)."""

    def __init__(
        self, max_entries: int = 256, max_bytes: int = 64 * 1024 * 1024, max_levels: int = 8192, *, files: PdfFiles | None = None
    ) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("max_entries and max_bytes must be positive")
        self.files = files
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._items: OrderedDict[CacheKey, bytes] = OrderedDict()
        self._slugs: dict[str, int] = {}  # entries per slug
        self._ids: dict[str, str] = {}  # slug -> the id of the profile its documents were rendered from
        self._levels: LRU[CacheKey, int] = LRU(max_levels)
        self._bytes = 0
        self._hits = 0
        self._misses = 0
        self._lock = threading.Lock()

    @staticmethod
    def key(slug: str, revision: Hashable, kind: str = "profile") -> CacheKey:
        return (slug, revision, kind)

    def get(self, slug: str, revision: Hashable, kind: str = "profile") -> bytes | None:
        k = self.key(slug, revision, kind)
        with self._lock:
            data = self._items.get(k)
            if data is None:
                self._misses += 1
                return None
            self._items.move_to_end(k)
            self._hits += 1
            return data

    def put(self, slug: str, revision: Hashable, kind: str, data: bytes, *, profile_id: str | None = None) -> None:
        """Keep `data`; `profile_id`: the profile `slug` named when it was rendered (see `profile_id`)."""
        if len(data) > self.max_bytes:
            return  # never evict everything for one oversized document
        k = self.key(slug, revision, kind)
        with self._lock:
            if profile_id is not None:
                self._ids[slug] = profile_id
            old = self._items.pop(k, None)
            if old is not None:
                self._bytes -= len(old)
            else:
                self._slugs[slug] = self._slugs.get(slug, 0) + 1
            self._items[k] = data
            self._bytes += len(data)
            while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
                gone, evicted = self._items.popitem(last=False)
                self._bytes -= len(evicted)
                self._forget_slug(gone[0])

    async def fetch(self, slug: str, revision: Hashable, kind: str, *, profile_id: str | None = None) -> bytes | None:
        """`get`, else the file another process (or an earlier run) kept; only for a caller already allowed to read
        the profile (the key does not say who may)."""
        data = self.get(slug, revision, kind)
        if data is None and self.files is not None:
            data = await asyncio.to_thread(self.files.read, slug, revision, kind)
            if data is not None:
                self.put(slug, revision, kind, data, profile_id=profile_id)
        return data

    async def keep(self, slug: str, revision: Hashable, kind: str, data: bytes, *, profile_id: str | None = None) -> None:
        """`put`, and the file for the other processes."""
        self.put(slug, revision, kind, data, profile_id=profile_id)
        if self.files is not None:
            await asyncio.to_thread(self.files.write, slug, revision, kind, data)

    def _forget_slug(self, slug: str) -> None:
        left = self._slugs.pop(slug, 1) - 1
        if left > 0:
            self._slugs[slug] = left
        else:
            self._ids.pop(slug, None)

    def holds(self, slug: str) -> bool:
        """Whether any document of `slug` is cached (if not, a request need not look up its revision first)."""
        with self._lock:
            return slug in self._slugs

    def profile_id(self, slug: str) -> str | None:
        """The id of the profile the cached documents of `slug` were rendered from (None: none cached, or not told)."""
        with self._lock:
            return self._ids.get(slug) if slug in self._slugs else None

    def level(self, slug: str, revision: Hashable, kind: str = "profile") -> int | None:
        """The ladder level a render of this revision printed (`remember_level`), or None."""
        return self._levels.get(self.key(slug, revision, kind))

    def remember_level(self, slug: str, revision: Hashable, kind: str, level: int) -> None:
        self._levels.put(self.key(slug, revision, kind), level)

    def get_or_render(self, slug: str, revision: Hashable, kind: str, render: Callable[[], bytes]) -> bytes:
        """Cached bytes, or render (outside the lock), store and return them."""
        data = self.get(slug, revision, kind)
        if data is not None:
            return data
        data = render()
        self.put(slug, revision, kind, data)
        return data

    def invalidate(self, slug: str) -> int:
        """Drop every entry of `slug` (all revisions and kinds); returns how many."""
        with self._lock:
            doomed = [k for k in self._items if k[0] == slug]
            for k in doomed:
                self._bytes -= len(self._items.pop(k))
            self._slugs.pop(slug, None)
            self._ids.pop(slug, None)
            return len(doomed)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._slugs.clear()
            self._ids.clear()
            self._bytes = 0
        self._levels.clear()

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self._hits, self._misses, len(self._items), self._bytes)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
