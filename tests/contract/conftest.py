"""Search backends for the contract suites: Tantivy always, Meilisearch when configured."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from catalogue.search.base import SearchBackend
from tests.meili_support import meili_server, unique_index

# the Meilisearch variants carry the "meili" marker (counted in the CI log: tests/conftest.py)
BACKENDS = ["tantivy", pytest.param("meilisearch", marks=pytest.mark.meili)]


async def make_backend(kind: str, tmp_path: Path) -> SearchBackend:
    if kind == "tantivy":
        from catalogue.search.tantivy_backend import TantivyBackend

        return TantivyBackend(tmp_path / "search")
    url, key = meili_server()
    from catalogue.search.meili_backend import MeiliBackend

    backend = MeiliBackend(url, key, index_uid=unique_index())
    await backend.prepare()
    return backend


async def dispose(backend: SearchBackend) -> None:
    if backend.name == "meilisearch":
        try:
            await backend.client.index(backend.index_uid).delete()  # type: ignore[attr-defined]
        finally:
            await backend.close()
    else:
        await backend.close()


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SearchBackend]:
    b = await make_backend(request.param, tmp_path)
    try:
        yield b
    finally:
        await dispose(b)
