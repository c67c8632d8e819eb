"""Storage start-up: connect PyMongo's async client and initialise Beanie."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from beanie import Document, init_beanie
from pymongo import AsyncMongoClient, IndexModel

from catalogue.embedded import StoreHandle, open_store
from catalogue.settings import Settings


def document_models() -> list[type[Document]]:
    """Every Beanie document of the catalogue, registered in one place."""
    from catalogue.gazetteer import DOCUMENTS as REGISTER_DOCUMENTS
    from catalogue.imports import ImportBatch
    from catalogue.models import Counter, OutboxEntry, Profile
    from catalogue.sessions import WebSession
    from catalogue.users import ApiToken, LoginAttempt, User

    return [Profile, OutboxEntry, Counter, User, ApiToken, LoginAttempt, WebSession, *REGISTER_DOCUMENTS, ImportBatch]


def declared_indexes(model: type[Document]) -> list[IndexModel]:
    """Indexes a document declares: `Indexed(...)` fields plus `Settings.indexes`."""
    from beanie.odm.utils.pydantic import get_model_fields
    from beanie.odm.utils.typing import get_index_attributes

    out: list[IndexModel] = []
    for name, fvalue in get_model_fields(model).items():
        attrs = get_index_attributes(fvalue)
        if attrs is not None:
            key = fvalue.alias or name
            out.append(IndexModel([(key, attrs[0])], name=f"{key}_{attrs[0]}", **attrs[1]))
    from beanie.odm.fields import IndexModelField

    for spec in model.get_settings().indexes or []:
        if isinstance(spec, IndexModelField):
            spec = spec.index
        if isinstance(spec, str):
            spec = IndexModel([(spec, 1)], name=f"{spec}_1")
        elif not isinstance(spec, IndexModel):
            spec = IndexModel(spec)
        out.append(spec)
    return out


async def ensure_indexes(models: list[type[Document]]) -> None:
    """Create missing indexes, one per command.

    Beanie re-sends every index on each start and relies on MongoDB treating
    existing ones as no-ops; FerretDB 1.24 (SQLite) panics when one
    createIndexes command repeats two or more existing indexes. Creating only
    the missing ones, one at a time, works on both.
    """
    for model in models:
        collection = model.get_pymongo_collection()
        existing = set((await collection.index_information()).keys())
        for spec in declared_indexes(model):
            if spec.document["name"] not in existing:
                await collection.create_indexes([spec])


async def init_models(database, models: list[type[Document]] | None = None) -> list[type[Document]]:  # noqa: ANN001
    """Initialise Beanie on `database` and create missing indexes."""
    models = models or document_models()
    await init_beanie(database=database, document_models=models, skip_indexes=True)
    await ensure_indexes(models)
    return models


@dataclass
class Storage:
    handle: StoreHandle
    client: AsyncMongoClient
    db_name: str
    models: list[type[Document]] = field(default_factory=list)

    @property
    def database(self):  # noqa: ANN201
        return self.client[self.db_name]

    async def ping(self) -> None:
        await self.client.admin.command("ping")

    async def close(self) -> None:
        await self.client.close()
        await asyncio.to_thread(self.handle.close)


async def connect(settings: Settings, *, db_name: str | None = None, handle: StoreHandle | None = None) -> Storage:
    """Open the store (starting the embedded FerretDB if needed) and initialise Beanie."""
    if handle is None:
        # Started on the calling thread on purpose: the child's parent-death
        # signal is bound to the thread that forks it.
        handle = open_store(settings.mongodb_url, settings.resolved_data_dir, settings.ferretdb_bin)
    try:
        client: AsyncMongoClient = AsyncMongoClient(handle.uri, serverSelectionTimeoutMS=5000, tz_aware=True)
        name = db_name or settings.mongodb_db
        models = document_models()
        await init_models(client[name], models)
    except BaseException:
        await asyncio.to_thread(handle.close)
        raise
    return Storage(handle=handle, client=client, db_name=name, models=models)
