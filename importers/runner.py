"""The import runner: parsed records into the catalogue.

`parse_sources` reads files with the importers (never raising for bad
content); `ImportRunner.run_items` writes the records:

* **Upsert, never a duplicate.** A record matches an existing profile by its
  source id (provenance.source_id), by the slug it carries (catalogue
  formats: export then import reproduces the profiles with their slugs) or
  by its content fingerprint. A match whose stored fingerprint equals the
  record's is *unchanged* (a re-import writes nothing: no version, no
  outbox entry); otherwise the profile is *updated* through
  `ProfileService.update` (history entry "import", outbox entry).
* **Probable duplicates.** A record that matches nothing, but whose title
  and lead body equal those of a profile from another source, is skipped
  and reported – unless `merge=True`, which updates that profile instead.
  Two records of one run that are the same (source id, slug, content, or
  title and lead) count as a duplicate too.
* **Errors per record.** Parse and validation errors (and a permission
  problem with one existing profile) are reported for that record; the rest
  of the batch goes on.
* **Dry run** plans exactly the same actions and slugs and writes nothing.
* **Status.** Drafts by default; `publish=True` (reviewers and admins only,
  otherwise `PermissionDenied`) publishes – except reference texts, which
  always go in as drafts.
* **Speed.** Records are planned and written in chunks of `chunk_size`:
  new profiles go in through `ProfileService.create_many` (one outbox
  entry for the chunk, one insert_many for the profiles). Known source ids,
  fingerprints, slugs and title/lead pairs are looked up per chunk by
  their keys (catalogue.profile_keys, `profile_slugs`), every read by
  `_id` – the only way on a request path; a large import from the CLI on
  FerretDB 1.24 (which scans a collection for any other filter) reads all
  profiles once with a projection instead. The runner never writes the search
  index: the sync worker of the process that holds the writer lease
  indexes everything from the outbox (catalogue/search/writer.py).
* **Register records** (importer.produces == "gazetteer") are stored per
  source through `catalogue.gazetteer.store` (entries by key, the name and
  prefix key documents, the register's metadata); a whole register also
  removes entries it no longer has.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from beanie import PydanticObjectId

from catalogue import checklist, profile_keys
from catalogue import gazetteer as gaz
from catalogue.access import Action, allowed
from catalogue.errors import CatalogueError, PermissionDenied
from catalogue.models import Profile, ProfileContent, ProfileSlug, Provenance
from catalogue.profiles import NewProfile, ProfileService, content_dict
from catalogue.slugs import slug_candidates
from catalogue.users import Principal
from catalogue.vocabularies import EditorialStatus
from importers.base import (
    RECORD_FIELD,
    FieldWarning,
    ParsedRecord,
    Source,
    SourceError,
    error_record,
    validate_record,
)
from importers.registry import FORMAT_CHOICES, detect_format, iter_source, parse_source

log = logging.getLogger("leuchtturm.import")
REGISTER_REFUSED = "Das Gemeindeverzeichnis kann nur die Katalogredaktion einspielen."  # also the CLI's, before a run

CATALOGUE_FORMATS = frozenset({"json", "ndjson", "csv"})
ALWAYS_DRAFT = frozenset({"reference"})
# Runs whose profiles are published without the publication checklist: the demo set, shown as
# "Beispieldatensatz", whose contacts are only those its sources state (most state none).
CHECKLIST_EXEMPT = frozenset({"demo"})
CHUNK_SIZE = 500

CREATED, UPDATED, UNCHANGED, DUPLICATE, ERROR = "created", "updated", "unchanged", "duplicate", "error"
ACTIONS: tuple[str, ...] = (CREATED, UPDATED, UNCHANGED, DUPLICATE, ERROR)
ACTION_LABELS = {
    CREATED: "neu",
    UPDATED: "geändert",
    UNCHANGED: "unverändert",
    DUPLICATE: "Dublette übersprungen",
    ERROR: "Fehler",
}
DRY_RUN_LABELS = {
    CREATED: "würde angelegt",
    UPDATED: "würde geändert",
    UNCHANGED: "unverändert",
    DUPLICATE: "Dublette, würde übersprungen",
    ERROR: "Fehler",
}

ProgressCallback = Callable[[int, int], None]


# ------------------------------------------------------------------ items


@dataclass
class ImportItem:
    """One parsed record with the source it came from."""

    record: ParsedRecord
    source_name: str
    importer: str  # format name of the importer ("structured", "json", "gazetteer" …)
    produces: str = "profile"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form, for keeping a previewed upload until it is confirmed."""
        r = self.record
        prov = dict(r.provenance)
        if prov.get("retrieved_at") is not None and hasattr(prov["retrieved_at"], "isoformat"):
            prov["retrieved_at"] = prov["retrieved_at"].isoformat()
        content = r.content
        if r.errors:  # not written anyway; raw user data may hold keys or nesting the store refuses
            title = content.get("title") if isinstance(content, dict) else None
            content = {"title": title[:200]} if isinstance(title, str) else {}
        return {
            "source_name": self.source_name,
            "importer": self.importer,
            "produces": self.produces,
            "content": content,
            "source_id": r.source_id,
            "fingerprint": r.fingerprint,
            "warnings": _warnings(r.warnings),  # objects, not pairs: FerretDB stores no nested arrays
            "errors": _warnings(r.errors),
            "provenance": prov,
            "suggested_status": r.suggested_status.value,
            "slug": r.slug,
            "original_provenance": r.original_provenance,
            "position": r.position,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImportItem:
        record = ParsedRecord(
            content=data.get("content") or {},
            source_id=data.get("source_id"),
            fingerprint=data.get("fingerprint") or "",
            warnings=[FieldWarning(w["field"], w["message"]) for w in data.get("warnings") or []],
            errors=[FieldWarning(e["field"], e["message"]) for e in data.get("errors") or []],
            provenance=data.get("provenance") or {},
            suggested_status=EditorialStatus(data.get("suggested_status") or "draft"),
            slug=data.get("slug"),
            original_provenance=data.get("original_provenance"),
            position=int(data.get("position") or 0),
        )
        return cls(record, data["source_name"], data["importer"], data.get("produces") or "profile")


def parse_sources(sources: Iterable[Source], format: str = "auto", *, max_records: int | None = None) -> list[ImportItem]:
    """Parse every source; bad files and records become error records; only a source over
    `max_records` (or an oversized web page) raises `SourceTooLargeError`."""
    if format not in FORMAT_CHOICES:
        raise SourceError(f"Unbekanntes Format „{format}“. Möglich sind: {', '.join(FORMAT_CHOICES)}.")
    items: list[ImportItem] = []
    for source in sources:
        importer, records = parse_source(source, format, max_records=max_records)
        name = importer.name if importer is not None else format
        produces = importer.produces if importer is not None else "profile"
        for n, record in enumerate(records, 1):
            if not record.position:
                record.position = n
            items.append(ImportItem(record, source.name, name, produces))
    return items


def read_paths(paths: Iterable[str], format: str = "auto") -> list[ImportItem]:
    """Read and parse files; an unreadable file becomes one error record."""
    sources: list[Source] = []
    items: list[ImportItem] = []
    for path in paths:
        try:
            sources.append(Source.from_path(path))
        except (OSError, SourceError) as exc:
            message = str(exc) if isinstance(exc, SourceError) else f"Die Datei „{path}“ kann nicht gelesen werden ({exc.strerror or exc})."
            rec = error_record(format, Source(name=str(path), raw=b""), message, position=1)
            items.append(ImportItem(rec, str(path), format))
    return items + parse_sources(sources, format)


def iter_paths(paths: Iterable[str], format: str = "auto") -> Iterator[ImportItem]:
    """`read_paths` one file at a time, its records as they are parsed (the CLI: memory flat in files and records)."""
    if format not in FORMAT_CHOICES:
        raise SourceError(f"Unbekanntes Format „{format}“. Möglich sind: {', '.join(FORMAT_CHOICES)}.")
    for path in paths:
        try:
            source = Source.from_path(path)
        except (OSError, SourceError) as exc:
            message = str(exc) if isinstance(exc, SourceError) else f"Die Datei „{path}“ kann nicht gelesen werden ({exc.strerror or exc})."
            yield ImportItem(error_record(format, Source(name=str(path), raw=b""), message, position=1), str(path), format)
            continue
        importer, records = iter_source(source, format)
        name = importer.name if importer is not None else format
        produces = importer.produces if importer is not None else "profile"
        for n, record in enumerate(records, 1):
            if not record.position:
                record.position = n
            yield ImportItem(record, source.name, name, produces)
        del source, records


def register_paths(paths: Iterable[str], format: str = "auto") -> list[str]:
    """Which of these files hold a municipality register (the format as `iter_paths` detects it; a file that cannot be
    read or recognised is left to the run, which reports it). The CLI refuses a non-reviewer's run up front with it,
    as `ImportRunner.check_permissions` does for a list: a streamed run would meet the register only as it reads it."""
    found = []
    for path in paths:
        try:
            importer = detect_format(Source.from_path(path), format)
        except (OSError, SourceError):
            continue
        if importer.produces == "gazetteer":
            found.append(str(path))
    return found


def estimate_records(paths: Iterable[str]) -> int:
    """About how many records these files hold, without parsing them (a line per record in NDJSON and CSV, a title
    per record in JSON, one for a text or a page): for the progress bar and the choice of keyed reads or a scan."""
    total = 0
    for path in paths:
        suffix = Path(path).suffix.lower()
        try:
            if suffix in (".ndjson", ".jsonl", ".csv", ".tsv"):
                with Path(path).open("rb") as fh:
                    total += max(1, sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b"")) - (suffix in (".csv", ".tsv")))
            elif suffix == ".json":
                total += max(1, Path(path).read_bytes().count(b'"title"'))
            else:
                total += 1
        except OSError:
            total += 1
    return total


# ----------------------------------------------------------------- report


def _warnings(items: Iterable[FieldWarning]) -> list[dict[str, str]]:
    return [{"field": w.field, "message": w.message} for w in items]


@dataclass
class RecordResult:
    position: int
    source: str
    action: str
    kind: str = "profile"  # or "gazetteer"
    slug: str | None = None
    title: str | None = None
    status: str | None = None  # editorial status the profile has (or would have) afterwards
    duplicate_of: str | None = None  # slug of the profile this record duplicates
    warnings: list[dict[str, str]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)

    def error(self, message: str, field_name: str = RECORD_FIELD) -> None:
        self.action = ERROR
        self.errors.append({"field": field_name, "message": message})

    def to_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "source": self.source,
            "action": self.action,
            "action_label": ACTION_LABELS[self.action],
            "kind": self.kind,
            "slug": self.slug,
            "title": self.title,
            "status": self.status,
            "duplicate_of": self.duplicate_of,
            "warnings": self.warnings,
            "errors": self.errors,
        }


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


@dataclass
class ImportReport:
    results: list[RecordResult] = field(default_factory=list)
    dry_run: bool = False
    publish: bool = False
    # results handed on as they came (`run_items(on_result=...)`) and not kept: counted only
    passed_on: Counter[str] = field(default_factory=Counter)

    @property
    def counts(self) -> dict[str, int]:
        c = Counter(r.action for r in self.results) + self.passed_on
        return {a: c.get(a, 0) for a in ACTIONS}

    @property
    def total(self) -> int:
        return len(self.results) + sum(self.passed_on.values())

    @property
    def failed(self) -> int:
        return self.counts[ERROR]

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def summary(self) -> str:
        """German one-liner: "12 neu, 3 geändert, 40 unverändert, 1 Dublette übersprungen, 2 Fehler"."""
        c = self.counts
        parts = [
            f"{c[CREATED]} neu",
            f"{c[UPDATED]} geändert",
            f"{c[UNCHANGED]} unverändert",
            _plural(c[DUPLICATE], "Dublette", "Dubletten") + " übersprungen",
            f"{c[ERROR]} Fehler",
        ]
        text = ", ".join(parts)
        return f"Probelauf (nichts gespeichert): {text}" if self.dry_run else text

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "publish": self.publish,
            "summary": self.summary(),
            "counts": self.counts,
            "total": self.total,
            "records": [r.to_dict() for r in self.results],
        }

    def lines(self) -> list[str]:
        """A readable per-record report (German)."""
        labels = DRY_RUN_LABELS if self.dry_run else ACTION_LABELS
        out: list[str] = []
        for r in self.results:
            name = r.source.rsplit("/", 1)[-1]
            head = f"{name} #{r.position}: {labels[r.action]}"
            if r.slug:
                head += f" – {r.slug}"
            if r.title:
                head += f" („{r.title}“)"
            if r.duplicate_of:
                head += f" – wie „{r.duplicate_of}“"
            out.append(head)
            out.extend(f"    Fehler: {e['message']}" for e in r.errors)
            if r.action != UNCHANGED:  # hints were given when it was first imported
                out.extend(f"    Hinweis: {w['message']}" for w in r.warnings)
        return out


# ------------------------------------------------------------- known keys


_norm = profile_keys.normalise


def _title_lead(content: dict[str, Any]) -> tuple[str, str]:
    """A raw record's title and lead body name (as the title-lead key reads them)."""
    lead = content.get("lead")
    name = lead.get("name") if isinstance(lead, dict) else None
    return str(content.get("title") or ""), str(name or "")


@dataclass
class Known:
    """What the runner needs to know about an existing (or planned) profile."""

    id: str
    slug: str
    title: str
    lead: str
    source: str | None
    source_id: str | None
    fingerprint: str | None
    status: EditorialStatus
    owner: str | None
    run_position: str | None = None  # set when a record of this run created or updated it

    @property
    def title_lead(self) -> tuple[str, str]:
        return _norm(self.title), _norm(self.lead)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Known:
        prov = doc.get("provenance") or {}
        return cls(
            id=str(doc["_id"]),
            slug=doc["slug"],
            title=doc.get("title") or "",
            lead=(doc.get("lead") or {}).get("name") or "",
            source=prov.get("source"),
            source_id=prov.get("source_id"),
            fingerprint=prov.get("fingerprint"),
            status=EditorialStatus(doc.get("status") or "draft"),
            owner=doc.get("owner"),
        )


_PROJECTION = {"slug": 1, "title": 1, "lead.name": 1, "provenance": 1, "status": 1, "owner": 1}
# The CLI on FerretDB reads all profiles once ("scan") instead of keys when the store holds at most this many
# profiles per record of the run: a record costs about four keyed reads (misses, ~1.4 ms of CPU each between
# FerretDB and the client), a scanned profile one decode (~2 ms); measured with benchmarks/import_cpu.py.
SCAN_RATIO = 2
READ_CONCURRENCY = 16


class KnownProfiles:
    """Source ids, slugs, fingerprints and title/lead pairs of the catalogue, plus what this run adds.

    Two ways to know them, with the same results: "keys" reads, per chunk,
    the key documents of the chunk's records (catalogue.profile_keys; slugs
    through their `profile_slugs` keys) and the profiles they name, all by
    `_id` – what request paths (an upload's preview and confirmation) use;
    "scan" reads every profile once with a projection – batch work, faster
    on FerretDB (where any other query scans anyway) when the run brings
    many records for the profiles stored (`SCAN_RATIO`; into an empty store
    it reads nothing at all).
    """

    def __init__(self, preload: bool, visible: Callable[[Known], bool] | None = None) -> None:
        self.preload = preload
        # Where several profiles share a source id, fingerprint or title, the one the actor may see wins:
        # a match with a hidden profile is planned as new (issue 13), and a re-run must find that new one.
        self.visible = visible
        self.by_id: dict[str, Known] = {}
        self.by_source_id: dict[str, Known] = {}
        self.by_slug: dict[str, Known] = {}
        self.by_fingerprint: dict[str, Known] = {}
        self.by_title_lead: dict[tuple[str, str], Known] = {}
        self.taken_slugs: set[str] = set()  # slug keys that exist (also old slugs of renamed profiles)
        self.checked_slugs: set[str] = set()
        self.checked_keys: set[str] = set()

    @classmethod
    async def open(
        cls, strategy: str = "auto", *, records: int = 0, visible: Callable[[Known], bool] | None = None
    ) -> KnownProfiles:
        if strategy == "auto":
            strategy = "scan" if records and await _is_ferretdb() and await _stored_profiles() <= SCAN_RATIO * records else "keys"
        if strategy not in ("scan", "keys"):
            raise ValueError(f"unknown key strategy {strategy!r}")
        known = cls(preload=strategy == "scan", visible=visible)
        if known.preload:
            async for doc in Profile.get_pymongo_collection().find({}, _PROJECTION):
                known.add(Known.from_doc(doc))
        return known

    def add(self, k: Known) -> None:
        old = self.by_id.get(k.id)
        if old is not None:
            self._remove(old)
        self.by_id[k.id] = k
        self.by_slug[k.slug] = k
        self.checked_slugs.add(k.slug)
        if k.source_id:
            self._put(self.by_source_id, k.source_id, k)
        if k.fingerprint:
            self._put(self.by_fingerprint, k.fingerprint, k)
        self._put(self.by_title_lead, k.title_lead, k)

    def _put(self, mapping: dict[Any, Known], key: Any, k: Known) -> None:
        current = mapping.get(key)
        if current is None or (self.visible is not None and not self.visible(current) and self.visible(k)):
            mapping[key] = k

    def _remove(self, k: Known) -> None:
        for mapping, key in (
            (self.by_source_id, k.source_id),
            (self.by_fingerprint, k.fingerprint),
            (self.by_title_lead, k.title_lead),
            (self.by_slug, k.slug),
        ):
            if key and mapping.get(key) is k:  # type: ignore[attr-defined]
                del mapping[key]  # type: ignore[attr-defined]

    def slug_taken(self, slug: str) -> bool:
        return slug in self.by_slug or slug in self.taken_slugs

    async def prefetch(self, source_ids: set[str], slugs: set[str], fingerprints: set[str], title_leads: set[tuple[str, str]]) -> None:
        """Keys mode: load the profiles a chunk may match, by their keys."""
        if self.preload:
            return
        keys = {profile_keys.source_key(s) for s in source_ids}
        keys |= {profile_keys.fingerprint_key(f) for f in fingerprints}
        keys |= {profile_keys.title_lead_key(t, lead) for t, lead in title_leads}
        keys -= self.checked_keys
        found = await profile_keys.lookup(keys)
        self.checked_keys |= keys
        await self._load([str(pid) for pid in found.values()])
        await self.check_slugs(sorted(slugs - self.checked_slugs))

    async def _load(self, ids: list[str]) -> None:
        """Read the profiles `ids` (by `_id`, a few at a time) that are not known yet."""
        coll = Profile.get_pymongo_collection()
        semaphore = asyncio.Semaphore(READ_CONCURRENCY)
        docs: list[dict[str, Any]] = []

        async def read(pid: str) -> None:
            async with semaphore:
                doc = await coll.find_one({"_id": PydanticObjectId(pid)}, _PROJECTION)
            if doc is not None:
                docs.append(doc)

        await asyncio.gather(*(read(pid) for pid in dict.fromkeys(ids) if pid not in self.by_id))
        for doc in docs:
            if str(doc["_id"]) not in self.by_id:
                self.add(Known.from_doc(doc))

    async def free_slug(self, title: str, municipality: str | None) -> str:
        """The first free slug candidate (no write; the unique index has the last word)."""
        candidates = slug_candidates(title, municipality)
        size = 1  # the title's slug is mostly free: one keyed read; else the one with the place and the next ones
        while True:
            batch = [next(candidates) for _ in range(size)]
            size = 8
            unknown = [c for c in batch if c not in self.checked_slugs]
            if unknown and not self.preload:
                await self.check_slugs(unknown)
            for c in batch:
                if not self.slug_taken(c):
                    return c

    async def check_slugs(self, slugs: list[str]) -> None:
        """Keys mode: which of `slugs` are taken (their `profile_slugs` keys), and the profiles they name."""
        if not slugs:
            return
        coll = ProfileSlug.get_pymongo_collection()
        semaphore = asyncio.Semaphore(READ_CONCURRENCY)
        owners: dict[str, str] = {}

        async def read(slug: str) -> None:
            async with semaphore:
                doc = await coll.find_one({"_id": slug})
            if doc is not None:
                owners[slug] = str(doc["profile_id"])

        await asyncio.gather(*(read(s) for s in dict.fromkeys(slugs)))
        self.taken_slugs.update(owners)
        self.checked_slugs.update(slugs)
        await self._load(list(owners.values()))


async def read_profiles_by_id(ids: list[str]) -> dict[str, Profile]:
    """Whole profiles by `_id` (a few at a time, never `$in`)."""
    found: dict[str, Profile] = {}
    semaphore = asyncio.Semaphore(READ_CONCURRENCY)

    async def read(pid: str) -> None:
        async with semaphore:
            profile = await Profile.get(PydanticObjectId(pid))
        if profile is not None:
            found[pid] = profile

    await asyncio.gather(*(read(pid) for pid in dict.fromkeys(ids)))
    return found


async def _stored_profiles() -> int:
    """About how many profiles are stored, without reading them (FerretDB's collStats counts SQLite's cells)."""
    try:
        stats = await Profile.get_pymongo_collection().database.command("collStats", Profile.get_collection_name())
    except Exception:  # noqa: BLE001 - unknown: assume many (keys)
        return 1 << 62
    return int(stats.get("count") or 0)


async def _is_ferretdb() -> bool:
    try:
        info = await Profile.get_pymongo_collection().database.command("buildInfo")
    except Exception:  # noqa: BLE001 - be conservative: use the keys
        return False
    return "ferretdbVersion" in info


# ----------------------------------------------------------------- runner


@dataclass
class _Plan:
    item: ImportItem
    result: RecordResult
    content: ProfileContent | None = None
    provenance: Provenance | None = None
    status: EditorialStatus = EditorialStatus.DRAFT
    target: Known | None = None  # for updates
    new_id: PydanticObjectId | None = None  # for creates
    new_status: EditorialStatus | None = None  # for updates that publish
    fixed_slug: bool = False


class ImportRunner:
    """Writes parsed records as `actor`; see the module docstring."""

    def __init__(
        self,
        actor: Principal,
        *,
        on_change: Callable[[], None] | None = None,
        chunk_size: int = CHUNK_SIZE,
        key_strategy: str = "auto",
        importer_label: str | None = None,
        owner: str | None = None,
        id_seed: str | None = None,
    ) -> None:
        self.actor = actor
        self.service = ProfileService(on_change=on_change)
        self.chunk_size = max(1, chunk_size)
        self.key_strategy = key_strategy
        self.importer_label = importer_label  # overrides provenance.importer (e.g. "demo")
        self.owner = owner  # owner of new profiles (default: the actor)
        # With a seed (an import batch's id) new profiles get ids derived from it and the record, so
        # running the same batch again after a failure recognises what the first run wrote.
        self.id_seed = id_seed
        self._item_index: dict[int, int] = {}

    def check_permissions(self, items: Sequence[ImportItem], *, publish: bool) -> None:
        if not allowed(self.actor, Action.IMPORT):
            raise PermissionDenied("Sie dürfen keine Profile importieren.")
        if publish and not allowed(self.actor, Action.IMPORT_PUBLISHED):
            raise PermissionDenied("Nur die Katalogredaktion darf beim Import direkt veröffentlichen.")
        if any(i.produces == "gazetteer" for i in items) and not self.actor.is_reviewer:
            raise PermissionDenied(REGISTER_REFUSED)

    async def run(
        self,
        sources: Iterable[Source],
        *,
        format: str = "auto",
        dry_run: bool = False,
        publish: bool = False,
        merge: bool = False,
        progress: ProgressCallback | None = None,
    ) -> ImportReport:
        return await self.run_items(parse_sources(sources, format), dry_run=dry_run, publish=publish, merge=merge, progress=progress)

    async def run_items(
        self,
        items: Iterable[ImportItem],
        *,
        dry_run: bool = False,
        publish: bool = False,
        merge: bool = False,
        progress: ProgressCallback | None = None,
        expected: tuple[int, int] | None = None,
        on_result: Callable[[RecordResult], None] | None = None,
    ) -> ImportReport:
        """Write `items` in chunks; the report lists every record's result, in the order of `items`.

        `items` may be a lazy iterable (`iter_paths`): it is read a chunk at a
        time (in a thread, while the previous chunk is written), so a run never
        holds all its records. `expected`: how many records (all, profiles) it
        gives, where it is not a sequence (progress, and the choice between
        keyed reads and a scan). `on_result`: results are handed to it as their
        chunk is done, in order, and only counted in the report.
        """
        listed = isinstance(items, Sequence)
        self.check_permissions(items if isinstance(items, Sequence) else (), publish=publish)
        if isinstance(items, Sequence):
            total, profile_count = len(items), sum(1 for i in items if i.produces != "gazetteer")
        else:
            total, profile_count = expected or (0, 0)
        report = ImportReport(dry_run=dry_run, publish=publish)
        results: dict[int, RecordResult] = {}

        def emit(n: int, result: RecordResult) -> None:
            if on_result is None:
                results[n] = result
            else:
                on_result(result)
                report.passed_on[result.action] += 1

        numbered = enumerate(items)
        gazetteer_items: list[tuple[int, ImportItem]] = []

        def pull() -> list[tuple[int, ImportItem]]:
            chunk: list[tuple[int, ImportItem]] = []
            for n, item in numbered:
                if item.produces == "gazetteer":
                    gazetteer_items.append((n, item))
                    continue
                chunk.append((n, item))
                if len(chunk) >= self.chunk_size:
                    break
            return chunk

        done = 0
        if progress:
            progress(0, total)
        known: KnownProfiles | None = None
        # Reading and validating a chunk is CPU work in a thread: the next chunk's is done while this one is written.
        upcoming: asyncio.Future[tuple[list[tuple[int, ImportItem]], list[_Plan]]] | None = self._next_chunk(pull, publish)
        try:
            while upcoming is not None:
                chunk, validated = await upcoming
                upcoming = None
                if not chunk:
                    break
                if known is None:
                    known = await KnownProfiles.open(self.key_strategy, records=profile_count or len(chunk), visible=self._visible)
                upcoming = self._next_chunk(pull, publish)
                self._item_index = {id(item): n for n, item in chunk}
                plans = await self._plan_chunk([i for _, i in chunk], validated, known, publish=publish, merge=merge)
                if not dry_run:
                    await self._apply_chunk(plans, known)
                for (n, _), plan in zip(chunk, plans, strict=True):
                    emit(n, plan.result)
                done += len(chunk)
                if progress:
                    progress(done, max(total, done))
        finally:
            if upcoming is not None:  # the run failed: the chunk in flight is not wanted
                await asyncio.gather(upcoming, return_exceptions=True)

        if gazetteer_items:
            gazetteer = [i for _, i in gazetteer_items]
            if not listed and not self.actor.is_reviewer:  # a sequence was checked before anything was written
                for n, item in gazetteer_items:
                    result = RecordResult(position=item.record.position, source=item.source_name, action=ERROR, kind="gazetteer")
                    result.error("Das Gemeindeverzeichnis kann nur die Katalogredaktion einspielen.")
                    emit(n, result)
            else:
                for k, result in await self._gazetteer(gazetteer, dry_run=dry_run, progress=progress, done=done, total=max(total, done + len(gazetteer))):
                    emit(gazetteer_items[k][0], result)

        report.results = [results[n] for n in sorted(results)]
        return report

    def _next_chunk(
        self, pull: Callable[[], list[tuple[int, ImportItem]]], publish: bool
    ) -> asyncio.Future[tuple[list[tuple[int, ImportItem]], list[_Plan]]]:
        """The next chunk of items and its initial plans (reading, validation, checklist), in a thread."""

        def work() -> tuple[list[tuple[int, ImportItem]], list[_Plan]]:
            chunk = pull()
            return chunk, [self._initial_plan(item, self._source_key(item), publish) for _, item in chunk]

        return asyncio.ensure_future(asyncio.to_thread(work))

    # ------------------------------------------------------------ planning

    def _source_key(self, item: ImportItem) -> str | None:
        """The record's identity in its source, or None when it has none (positional labels)."""
        r = item.record
        if item.importer in CATALOGUE_FORMATS:
            explicit = (r.original_provenance or {}).get("source_id") or r.slug
            return explicit or None
        return r.source_id or None

    def _provenance(self, item: ImportItem, key: str | None) -> Provenance:
        r = item.record
        base = dict(r.provenance)
        if item.importer in CATALOGUE_FORMATS and r.original_provenance:
            base = dict(r.original_provenance)
            base["fingerprint"] = r.fingerprint
        base["source_id"] = key
        if self.importer_label:
            base["importer"] = self.importer_label
        base.setdefault("importer", item.importer)
        return Provenance.model_validate(base)

    async def _plan_chunk(
        self, items: list[ImportItem], plans: list[_Plan], known: KnownProfiles, *, publish: bool, merge: bool
    ) -> list[_Plan]:
        """The chunk's plans: its initial `plans` (`_next_chunk`) completed by the keyed lookups of what exists."""
        keys = [self._source_key(i) for i in items]
        await known.prefetch(
            {k for k in keys if k},
            {i.record.slug for i in items if i.record.slug and i.importer in CATALOGUE_FORMATS},
            {i.record.fingerprint for i in items if i.record.fingerprint and i.record.ok},
            {_title_lead(i.record.content) for i in items if i.record.ok and isinstance(i.record.content, dict)},
        )
        full: dict[str, Profile] = {}
        # Matched profiles whose content may differ: load them in one query.
        candidates = []
        for plan, key in zip(plans, keys, strict=True):
            if plan.result.action == ERROR:
                continue
            match = self._match(plan, key, known)
            if match is not None and match.run_position is None and match.fingerprint != plan.item.record.fingerprint:
                candidates.append(match.id)
        if candidates:
            full.update(await read_profiles_by_id(candidates))
        for plan, key in zip(plans, keys, strict=True):
            if plan.result.action != ERROR:
                await self._decide(plan, key, known, full, merge=merge)
        return plans

    def _initial_plan(self, item: ImportItem, key: str | None, publish: bool) -> _Plan:
        r = item.record
        raw_title = r.content.get("title") if isinstance(r.content, dict) else None
        title = raw_title.strip()[:200] or None if isinstance(raw_title, str) else None
        result = RecordResult(
            position=r.position,
            source=item.source_name,
            action=CREATED,
            title=title,
            warnings=_warnings(r.warnings),
            errors=_warnings(r.errors),
        )
        plan = _Plan(item=item, result=result)
        if r.errors:
            result.action = ERROR
            return plan
        # the importer validated it already (records of a kept upload come back as JSON and are validated here)
        validated = r.validated if r.validated is not None else validate_record(r)
        if not isinstance(validated, ProfileContent):
            result.action = ERROR
            result.errors.extend(_warnings(validated))
            return plan
        plan.content = validated
        try:
            plan.provenance = self._provenance(item, key)
        except Exception as exc:  # noqa: BLE001 - an odd provenance must not stop the batch
            result.warnings.append({"field": "provenance", "message": f"Quellenangabe ungültig und nicht übernommen ({type(exc).__name__})."})
            plan.provenance = Provenance(importer=self.importer_label or item.importer, source_id=key, fingerprint=r.fingerprint or None)
        publishable = publish and item.importer not in ALWAYS_DRAFT
        lacking = checklist.missing(validated) if publishable and self.importer_label not in CHECKLIST_EXEMPT else []
        if lacking:  # the publication checklist (catalogue/checklist.py): stays a draft, and the report says why
            publishable = False
            result.warnings.append({"field": RECORD_FIELD, "message": checklist.DRAFT_REASON.format(items=checklist.summary(lacking))})
        plan.status = EditorialStatus.PUBLISHED if publishable else EditorialStatus.DRAFT
        return plan

    def _match(self, plan: _Plan, key: str | None, known: KnownProfiles) -> Known | None:
        r = plan.item.record
        if key and key in known.by_source_id:
            return known.by_source_id[key]
        if r.slug and plan.item.importer in CATALOGUE_FORMATS and r.slug in known.by_slug:
            return known.by_slug[r.slug]
        if r.fingerprint and r.fingerprint in known.by_fingerprint:
            return known.by_fingerprint[r.fingerprint]
        return None

    async def _decide(self, plan: _Plan, key: str | None, known: KnownProfiles, full: dict[str, Profile], *, merge: bool) -> None:
        item, result, r = plan.item, plan.result, plan.item.record
        label = f"{item.source_name.rsplit('/', 1)[-1]} #{r.position}"
        match = self._match(plan, key, known)
        if match is None:
            assert plan.content is not None
            tl = (_norm(plan.content.title), _norm(plan.content.lead.name if plan.content.lead else ""))
            twin = known.by_title_lead.get(tl)
            if twin is not None and twin.run_position is not None:
                result.action, result.duplicate_of, result.slug = DUPLICATE, twin.slug, twin.slug
                message = f"Gleicher Titel und gleiche Federführung wie Datensatz {twin.run_position} dieses Imports – übersprungen."
                result.warnings.append({"field": RECORD_FIELD, "message": message})
                return
            if twin is not None and not self._visible(twin):
                # Another editor's hidden profile: the report must not hint at it (issue 13), so the
                # record is planned as new; the catalogue editors see both and can merge them.
                twin = None
            if twin is not None and not merge and twin.source != item.source_name:
                result.action, result.duplicate_of, result.slug = DUPLICATE, twin.slug, twin.slug
                result.warnings.append({
                    "field": RECORD_FIELD,
                    "message": f"Vermutlich eine Dublette von „{twin.slug}“ (gleicher Titel und gleiche Federführung, andere Quelle) – übersprungen. "
                    "Mit „zusammenführen“ wird das vorhandene Profil aktualisiert.",
                })
                return
            if twin is not None:
                match = twin
                if twin.id not in full:
                    p = await Profile.get(PydanticObjectId(twin.id))
                    if p is not None:
                        full[twin.id] = p
        if match is None:
            await self._plan_create(plan, known, label)
            return
        if not self._visible(match):
            # Matched only a profile the actor may not see: planned as a new profile with its own slug,
            # exactly as if there were none (no hint at other editors' drafts in previews or errors).
            await self._plan_create(plan, known, label)
            return
        if match.run_position is not None:
            result.action, result.duplicate_of, result.slug = DUPLICATE, match.slug, match.slug
            result.warnings.append({"field": RECORD_FIELD, "message": f"Derselbe Datensatz wie {match.run_position} dieses Imports – übersprungen."})
            return
        self._plan_update(plan, match, full.get(match.id), label)

    def _new_id(self, item: ImportItem) -> PydanticObjectId:
        if self.id_seed is None:
            return PydanticObjectId()
        index = self._item_index[id(item)]  # the record's place in the batch: unique, and the same on a retry
        digest = hashlib.sha256(f"{self.id_seed}\n{index}".encode()).digest()
        return PydanticObjectId(digest[:12])

    def _visible(self, k: Known) -> bool:
        """Reports name only profiles the actor may see (no hints at other editors' drafts)."""
        return k.run_position is not None or allowed(self.actor, Action.VIEW, owner=k.owner, status=k.status)

    async def _plan_create(self, plan: _Plan, known: KnownProfiles, label: str) -> None:
        assert plan.content is not None
        assert plan.provenance is not None
        r = plan.item.record
        if r.slug and plan.item.importer in CATALOGUE_FORMATS:
            slug, plan.fixed_slug = r.slug, True
            if not known.preload and slug not in known.checked_slugs:
                await known.check_slugs([slug])
            if known.slug_taken(slug):  # taken by a profile the record did not match
                holder = known.by_slug.get(slug)
                slug, plan.fixed_slug = await known.free_slug(plan.content.title, plan.content.lead.name if plan.content.lead else None), False
                if holder is not None and self._visible(holder):  # a slug of a hidden profile is replaced silently
                    plan.result.warnings.append({"field": "slug", "message": f"Kürzel „{r.slug}“ ist schon vergeben – neues Kürzel „{slug}“."})
        else:
            slug = await known.free_slug(plan.content.title, plan.content.lead.name if plan.content.lead else None)
        plan.result.action, plan.result.slug, plan.result.status = CREATED, slug, plan.status.value
        plan.new_id = self._new_id(plan.item)
        known.add(
            Known(
                id=str(plan.new_id),
                slug=slug,
                title=plan.content.title,
                lead=plan.content.lead.name if plan.content.lead else "",
                source=plan.provenance.source,
                source_id=plan.provenance.source_id,
                fingerprint=r.fingerprint,
                status=plan.status,
                owner=self.actor.username,
                run_position=label,
            )
        )

    def _plan_update(self, plan: _Plan, match: Known, profile: Profile | None, label: str) -> None:
        result = plan.result
        result.slug, result.status = match.slug, match.status.value
        new_status = None
        if plan.status == EditorialStatus.PUBLISHED and match.status in (EditorialStatus.DRAFT, EditorialStatus.SUBMITTED):
            new_status = EditorialStatus.PUBLISHED
        same_source = match.fingerprint == plan.item.record.fingerprint
        if not same_source and profile is not None and plan.content is not None:
            same_source = content_dict(profile) == plan.content.model_dump(mode="json")
        if same_source and new_status is None:
            result.action = UNCHANGED
            match.run_position = label
            return
        if not allowed(self.actor, Action.EDIT, owner=match.owner, status=match.status):
            result.error(f"Das vorhandene Profil „{match.slug}“ darf nur die Katalogredaktion oder der Eigentümer ändern.")
            return
        if match.status == EditorialStatus.ARCHIVED:
            result.error(f"Das vorhandene Profil „{match.slug}“ ist archiviert und muss erst wiederhergestellt werden.")
            return
        result.action = UPDATED
        plan.target, plan.new_status = match, new_status
        if new_status is not None:
            result.status = new_status.value
        match.run_position = label
        match.fingerprint = plan.item.record.fingerprint
        if new_status is not None:
            match.status = new_status

    # ------------------------------------------------------------ writing

    async def _apply_chunk(self, plans: list[_Plan], known: KnownProfiles) -> None:
        creates = [p for p in plans if p.result.action == CREATED]
        if creates:
            batch = [
                NewProfile(
                    content=p.content,  # type: ignore[arg-type]
                    slug=p.result.slug or "",
                    status=p.status,
                    provenance=p.provenance,
                    fixed_slug=p.fixed_slug,
                    id=p.new_id,
                    owner=self.owner,
                )
                for p in creates
            ]
            outcome = await self.service.create_many(batch, self.actor, action="import")
            for plan, res in zip(creates, outcome.items, strict=True):
                if isinstance(res, CatalogueError):
                    plan.result.error(f"Konnte nicht angelegt werden: {res.detail}")
                    continue
                if res.slug != plan.result.slug:
                    message = f"Kürzel „{plan.result.slug}“ wurde inzwischen vergeben – neues Kürzel „{res.slug}“."
                    plan.result.warnings.append({"field": "slug", "message": message})
                    plan.result.slug = res.slug
                    known.add(Known.from_doc({
                        "_id": res.id,
                        "slug": res.slug,
                        "title": res.title,
                        "lead": {"name": res.lead.name if res.lead else ""},
                        "provenance": plan.provenance.model_dump() if plan.provenance else None,
                        "status": res.status.value,
                        "owner": res.owner,
                    }))
        for plan in plans:
            if plan.result.action != UPDATED or plan.target is None:
                continue
            try:
                profile = await self.service.update(
                    plan.target.slug,
                    self.actor,
                    plan.content.model_dump(mode="json"),  # type: ignore[union-attr]
                    if_match=None,
                    partial=False,
                    require_if_match=False,
                    provenance=plan.provenance,
                    action="import",
                    status=plan.new_status,
                )
                plan.result.status = profile.status.value
            except CatalogueError as exc:
                plan.result.error(f"Das Profil „{plan.target.slug}“ konnte nicht geändert werden: {exc.detail}")

    # ------------------------------------------------------------ gazetteer

    async def _gazetteer(
        self, items: list[ImportItem], *, dry_run: bool, progress: ProgressCallback | None, done: int, total: int
    ) -> list[tuple[int, RecordResult]]:
        """Store register entries, one `gaz.store` per source (entries, key documents and metadata together)."""
        out: list[tuple[int, RecordResult]] = []
        by_source: dict[str, list[tuple[int, ImportItem]]] = {}
        for n, item in enumerate(items):
            by_source.setdefault(item.source_name, []).append((n, item))
        for source_name, group in by_source.items():
            results: dict[str, RecordResult] = {}
            entries: list[dict[str, Any]] = []
            register: dict[str, Any] = {}
            for n, item in group:
                r = item.record
                result = RecordResult(position=r.position, source=item.source_name, action=CREATED, kind="gazetteer",
                                      warnings=_warnings(r.warnings), errors=_warnings(r.errors))
                out.append((n, result))
                if r.errors:
                    result.action = ERROR
                    continue
                key = str(r.content.get("_id") or "")
                try:
                    gaz.entry_document(r.content)
                except (ValueError, TypeError, KeyError):
                    result.error("Eintrag des Gemeindeverzeichnisses ohne gültigen Schlüssel, Namen oder Art.")
                    continue
                result.title = f"{r.content.get('display_name') or r.content.get('name')} ({key})"
                result.slug = key
                if key in results:
                    result.action = DUPLICATE
                    message = f"Schlüssel {key} kommt mehrfach vor (wie Datensatz {results[key].position}) – übersprungen."
                    result.warnings.append({"field": "_id", "message": message})
                    continue
                results[key] = result
                entries.append(r.content)
                register = register or dict(r.provenance.get("register") or {})
            if not entries:
                continue

            def forward(step: int, steps: int, base: int = done, size: int = len(group)) -> None:
                if progress:
                    progress(base + round(step * size / max(steps, 1)), total)

            try:
                report = await gaz.store(
                    entries,
                    fingerprint=register.get("fingerprint") or "",
                    source_name=source_name,
                    register_as_of=register.get("as_of"),
                    attribution=register.get("attribution"),
                    full=bool(register.get("full")),
                    dry_run=dry_run,
                    progress=forward,
                )
            except gaz.RegisterBusy as exc:
                for result in results.values():
                    result.error(str(exc))
                continue
            for action, keys in ((UPDATED, report.updated), (UNCHANGED, report.unchanged)):
                for key in keys:
                    if key in results:
                        results[key].action = action
            done += len(group)
            if progress:
                progress(done, total)
            if not dry_run and not report.skipped:
                from importers.register import refresh_importer_gazetteer

                await refresh_importer_gazetteer()
        return out


async def import_paths(
    paths: Sequence[str],
    actor: Principal,
    *,
    format: str = "auto",
    dry_run: bool = False,
    publish: bool = False,
    merge: bool = False,
    on_change: Callable[[], None] | None = None,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Read, parse and import files."""
    items = read_paths(paths, format)
    runner = ImportRunner(actor, on_change=on_change)
    return await runner.run_items(items, dry_run=dry_run, publish=publish, merge=merge, progress=progress)


__all__ = [
    "ACTIONS",
    "ImportItem",
    "ImportReport",
    "ImportRunner",
    "RecordResult",
    "import_paths",
    "parse_sources",
    "read_paths",
]
