"""Shared fixtures: one embedded FerretDB per test session, a database per test.

Set LEUCHTTURM_TEST_MONGODB_URL to run the same suite against a real MongoDB.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from catalogue.embedded import EmbeddedFerretDB, StoreHandle
from catalogue.settings import PROJECT_ROOT, Settings
from tests.factories import auth

__all__ = ["auth"]  # shared fixtures from tests/factories.py

FERRETDB_BIN = PROJECT_ROOT / "bin" / "leuchtturm-ferretdb"


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The MongoDB URI for this session: LEUCHTTURM_TEST_MONGODB_URL or a fresh embedded FerretDB."""
    url = os.environ.get("LEUCHTTURM_TEST_MONGODB_URL")
    if url:
        yield url
        return
    if not FERRETDB_BIN.exists():
        pytest.exit(f"{FERRETDB_BIN} fehlt – bitte `make ferretdb` (oder `make test`) ausführen", returncode=2)
    server = EmbeddedFerretDB(binary=FERRETDB_BIN, data_dir=tmp_path_factory.mktemp("ferretdb"))
    server.start()
    try:
        yield server.uri or ""
    finally:
        server.stop()


def unique_db_name(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


@pytest.fixture
async def db(mongo_uri: str) -> AsyncIterator[object]:
    """A fresh database with Beanie initialised for every document model."""
    from catalogue.storage import init_models

    client: AsyncMongoClient = AsyncMongoClient(mongo_uri, tz_aware=True)
    name = unique_db_name()
    await init_models(client[name])
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


@pytest.fixture
def settings(tmp_path: Path, mongo_uri: str) -> Settings:
    return Settings(
        mongodb_url=mongo_uri,
        data_dir=tmp_path / "var",
        demo_data=False,
        load_register=False,  # tests that need the register load it (or an excerpt) themselves
        secret_key="test-secret-key-" + "x" * 32,
        meili_url=None,
        _env_file=None,
    )


@pytest.fixture
async def app(settings: Settings, mongo_uri: str):
    from api.app import create_app

    return create_app(settings, db_name=unique_db_name("app"), handle=StoreHandle(mongo_uri, None))


@pytest.fixture
async def client(app):
    """An httpx client on the app, running its lifespan in the test's own event loop.

    (Litestar's AsyncTestClient runs the app on a portal thread with another
    loop; PyMongo's async client is bound to the loop it was created on, and
    tests also write through Beanie directly.)
    """
    import asyncio

    import httpx

    started, stop = asyncio.Event(), asyncio.Event()
    failure: list[BaseException] = []

    async def run_lifespan() -> None:
        # Enter and exit the lifespan in one task (it holds an anyio cancel scope).
        try:
            async with app.lifespan():
                started.set()
                await stop.wait()
        except BaseException as exc:
            failure.append(exc)
            started.set()
            raise

    task = asyncio.create_task(run_lifespan())
    await started.wait()
    if failure:
        raise failure[0]
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
            yield c
    finally:
        stop.set()
        await task
        await _drop_app_db(app)


async def _drop_app_db(app) -> None:
    runtime = getattr(app.state, "runtime", None)
    if runtime is None:
        return
    # The runtime has stopped; open a short-lived client to drop the test database.
    c: AsyncMongoClient = AsyncMongoClient(runtime.storage.handle.uri)
    try:
        await c.drop_database(runtime.storage.db_name)
    finally:
        await c.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line for the CI log: how many Meilisearch variants ran, passed, failed or were skipped."""
    counts: dict[str, int] = {}
    for outcome in ("passed", "failed", "error", "skipped"):
        reports = terminalreporter.stats.get(outcome, [])
        counts[outcome] = sum(1 for r in reports if "meili" in getattr(r, "keywords", {}) and getattr(r, "when", "call") in ("call", "setup"))
    if any(counts.values()):
        url = os.environ.get("LEUCHTTURM_TEST_MEILI_URL") or "nicht gesetzt"
        terminalreporter.write_line(
            f"Meilisearch-Varianten: {counts['passed']} bestanden, {counts['failed'] + counts['error']} fehlgeschlagen, "
            f"{counts['skipped']} übersprungen (LEUCHTTURM_TEST_MEILI_URL: {url})"
        )
