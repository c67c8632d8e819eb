"""Storage start-up: connect PyMongo's async client and initialise Beanie."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from beanie import Document, init_beanie
from pymongo import AsyncMongoClient

from catalogue.embedded import StoreHandle, open_store
from catalogue.settings import Settings


def document_models() -> list[type[Document]]:
    """Every Beanie document of the catalogue, registered in one place."""
    from catalogue import models

    found: list[type[Document]] = [models.Profile, models.OutboxEntry, models.Counter]
    # Optional modules register their documents here as they are added.
    for module_name, names in _OPTIONAL_DOCUMENTS:
        try:
            module = __import__(module_name, fromlist=names)
        except ModuleNotFoundError:
            continue
        found.extend(getattr(module, n) for n in names if hasattr(module, n))
    return found


_OPTIONAL_DOCUMENTS: list[tuple[str, list[str]]] = [
    ("catalogue.versions", ["ProfileVersion"]),
    ("catalogue.users", ["User", "ApiToken", "LoginAttempt"]),
    ("catalogue.sessions", ["WebSession"]),
    ("catalogue.gazetteer", ["GazetteerEntry"]),
    ("catalogue.imports", ["ImportBatch"]),
]


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
        await init_beanie(database=client[name], document_models=models)
    except BaseException:
        await asyncio.to_thread(handle.close)
        raise
    return Storage(handle=handle, client=client, db_name=name, models=models)
