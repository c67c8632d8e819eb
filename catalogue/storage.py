"""Storage start-up: connect PyMongo's async client, initialise Beanie, make the store ready.

`init_models` (used by `connect` and by the tests' per-test database) does
everything a process needs before it touches the store:

1. Beanie, every collection created, declared indexes created (one by one;
   on FerretDB only the unique ones, see `ensure_indexes`);
2. the write mode of `catalogue.atomic` (FerretDB or MongoDB, detected with
   buildInfo; on FerretDB the shared write lock next to its SQLite files);
3. on the embedded FerretDB the `_id` index on FerretDB's exact lookup
   expression in every collection table (`catalogue.embedded.ensure_id_indexes`),
   so a read by `_id` is an index search, not a table scan;
4. the migration of data from earlier layouts (`catalogue.layout`), a
   batch step that does nothing once it has run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from beanie import Document, init_beanie
from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import CollectionInvalid

from catalogue import atomic
from catalogue.embedded import StoreHandle, ensure_id_indexes, instance_info, open_store
from catalogue.settings import Settings
from catalogue.shared_generation import open_shared

log = logging.getLogger("leuchtturm.store")


def document_models() -> list[type[Document]]:
    """Every Beanie document of the catalogue, registered in one place."""
    from catalogue.adoption import DOCUMENTS as ADOPTION_DOCUMENTS
    from catalogue.gazetteer import DOCUMENTS as REGISTER_DOCUMENTS
    from catalogue.imports import ImportBatch
    from catalogue.keylists import KeyList
    from catalogue.models import Counter, OutboxEntry, Profile, ProfileSlug, ProfileVersion
    from catalogue.notifications import DOCUMENTS as NOTIFICATION_DOCUMENTS
    from catalogue.profile_keys import ProfileKey
    from catalogue.saved_searches import SavedSearches
    from catalogue.sessions import WebSession
    from catalogue.users import ApiToken, ApiTokenId, LoginAttempt, User

    return [
        Profile, ProfileSlug, ProfileVersion, OutboxEntry, Counter, User, ApiToken, ApiTokenId, LoginAttempt, WebSession,
        *REGISTER_DOCUMENTS, ImportBatch, ProfileKey, KeyList, *ADOPTION_DOCUMENTS, *NOTIFICATION_DOCUMENTS, SavedSearches,
    ]


T = TypeVar("T")
READ_CONCURRENCY = 16  # keyed reads in flight at once for one caller


async def read_each(
    collection: AsyncCollection[Any],
    ids: Iterable[Any],
    *,
    projection: dict[str, Any] | None = None,
    parse: Callable[[dict[str, Any]], T] | None = None,
    concurrency: int = READ_CONCURRENCY,
) -> dict[Any, Any]:
    """Documents by `_id`, one keyed read each, `concurrency` at a time: {id: document (or `parse(document)`)}.

    Ids without a document are left out; the result keeps the order of `ids`
    (duplicates read once). Never `{_id: {$in: [...]}}`: FerretDB 1.24 on
    SQLite does not push `$in` down and decodes the whole collection (measured
    at 1,000 profiles: one `$in` of 20 ids 9.4 s, 20 keyed reads 0.2 s).
    """
    keys = list(dict.fromkeys(ids))
    semaphore = asyncio.Semaphore(concurrency)

    async def read(key: Any) -> Any:
        async with semaphore:
            return await collection.find_one({"_id": key}, projection)

    docs = await asyncio.gather(*(read(k) for k in keys))
    return {k: (parse(d) if parse is not None else d) for k, d in zip(keys, docs, strict=True) if d is not None}


D = TypeVar("D", bound=Document)


async def read_by_id(model: type[D], key: Any) -> D | None:
    """The document of `model` with this `_id`: PyMongo's `find_one` and the model's own parse.

    The same one keyed read as Beanie's `model.get`, without its query building
    and parsing layers (a few milliseconds per read on the request paths).
    """
    doc = await model.get_pymongo_collection().find_one({"_id": key})
    return model.model_validate(doc) if doc is not None else None


# Collections used without a Beanie model.
RAW_COLLECTIONS = ("store_meta", "search_sync", "search_outbox_carried")


def declared_indexes(model: type[Document]) -> list[IndexModel]:
    """Indexes a document declares: `Indexed(...)` fields plus `Settings.indexes`."""
    from beanie.odm.utils.pydantic import get_model_fields
    from beanie.odm.utils.typing import get_index_attributes

    out: list[IndexModel] = []
    for name, fvalue in get_model_fields(model).items():  # type: ignore[no-untyped-call]
        attrs = get_index_attributes(fvalue)
        if attrs is not None:
            key = fvalue.alias or name
            out.append(IndexModel([(key, attrs[0])], name=f"{key}_{attrs[0]}", **attrs[1]))
    from beanie.odm.fields import IndexModelField

    for given in model.get_settings().indexes or []:
        spec: Any = given.index if isinstance(given, IndexModelField) else given
        if isinstance(spec, str):
            spec = IndexModel([(spec, 1)], name=f"{spec}_1")
        elif not isinstance(spec, IndexModel):
            spec = IndexModel(spec)
        out.append(spec)
    return out


async def ensure_indexes(models: list[type[Document]], *, secondary: bool = True) -> None:
    """Create missing indexes, one per command.

    Beanie re-sends every index on each start and relies on MongoDB treating
    existing ones as no-ops; FerretDB 1.24 (SQLite) panics when one
    createIndexes command repeats two or more existing indexes. Creating only
    the missing ones, one at a time, works on both.

    `secondary=False` (the embedded FerretDB): only unique indexes (they are
    constraints); the declared non-unique ones are not created, and dropped
    where an earlier start created them. FerretDB 1.24 on SQLite pushes down
    no filter but `_id`, so it never reads them, yet it maintains each on
    every write (a profile insert measured 4.5 ms of FerretDB CPU with the
    seven on `profiles`, 2.4 ms without).
    """
    for model in models:
        collection = model.get_pymongo_collection()
        existing = set((await collection.index_information()).keys())
        for spec in declared_indexes(model):
            name = spec.document["name"]
            if not secondary and not spec.document.get("unique"):
                if name in existing:
                    await collection.drop_index(name)
            elif name not in existing:
                await collection.create_indexes([spec])


async def ensure_collections(database: AsyncDatabase[Any], names: list[str]) -> None:
    """Create the collections that do not exist yet (so their tables exist and get the `_id` index now)."""
    existing = set(await database.list_collection_names())
    for name in names:
        if name not in existing:
            with contextlib.suppress(CollectionInvalid):  # created by another process a moment ago
                await database.create_collection(name)


async def prepare_store(database: AsyncDatabase[Any], names: list[str]) -> atomic.StoreMode:
    """Write mode, write lock and (on the embedded FerretDB) the `_id` indexes of this database's tables."""
    await ensure_collections(database, names)
    kind = await atomic.detect_kind(database)
    sqlite_dir = await instance_info(database.client) if kind == atomic.StoreKind.FERRETDB else None
    mode = await atomic.configure(database, lock_dir=sqlite_dir)
    if sqlite_dir is not None:
        await asyncio.to_thread(ensure_id_indexes, sqlite_dir, [database.name])
    elif kind == atomic.StoreKind.FERRETDB:
        log.warning("FerretDB without a known data directory: lookups by _id scan whole tables (no index on its lookup expression)")
    return mode


async def init_models(database: AsyncDatabase[Any], models: list[type[Document]] | None = None, *, migrate: bool = True) -> list[type[Document]]:
    """Initialise Beanie on `database`, create collections and indexes, pick the write mode, migrate old data."""
    models = models or document_models()
    await init_beanie(database=database, document_models=models, skip_indexes=True)
    mode = await prepare_store(database, [m.get_collection_name() for m in models] + list(RAW_COLLECTIONS))
    await ensure_indexes(models, secondary=mode.kind != atomic.StoreKind.FERRETDB)
    if migrate:
        from catalogue.layout import migrate_layout

        await migrate_layout(database)
    return models


@dataclass
class Storage:
    handle: StoreHandle
    client: AsyncMongoClient[dict[str, Any]]
    db_name: str
    models: list[type[Document]] = field(default_factory=list)

    @property
    def database(self) -> AsyncDatabase[dict[str, Any]]:
        return self.client[self.db_name]

    async def ping(self) -> None:
        await self.client.admin.command("ping")

    async def close(self) -> None:
        await self.client.close()
        await asyncio.to_thread(self.handle.close)


async def connect(settings: Settings, *, db_name: str | None = None, handle: StoreHandle | None = None) -> Storage:
    """Open the store (starting the embedded FerretDB if needed) and initialise Beanie."""
    # Processes on this DATA_DIR (the serving processes of `leuchtturm serve`, the CLI), on the embedded store and
    # on MongoDB alike, forget changed callers together and learn of index commits at once
    # (catalogue/shared_generation.py).
    open_shared(settings.resolved_data_dir)
    if handle is None:
        # Started on the calling thread on purpose: the child's parent-death
        # signal is bound to the thread that forks it.
        handle = open_store(settings.mongodb_url, settings.resolved_data_dir, settings.ferretdb_bin)
    try:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(handle.uri, serverSelectionTimeoutMS=5000, tz_aware=True)
        name = db_name or settings.mongodb_db
        models = document_models()
        await init_models(client[name], models)
    except BaseException:
        await asyncio.to_thread(handle.close)
        raise
    return Storage(handle=handle, client=client, db_name=name, models=models)
