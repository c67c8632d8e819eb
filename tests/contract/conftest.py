"""Search backends for the contract suites: Tantivy always, Meilisearch when configured."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from catalogue.search.base import SearchBackend

BACKENDS = ["tantivy", "meilisearch"]


async def make_backend(kind: str, tmp_path: Path) -> SearchBackend:
    if kind == "tantivy":
        from catalogue.search.tantivy_backend import TantivyBackend

        return TantivyBackend(tmp_path / "search")
    url = os.environ.get("LEUCHTTURM_TEST_MEILI_URL")
    if not url:
        pytest.skip("Meilisearch-Vertragstests übersprungen: LEUCHTTURM_TEST_MEILI_URL ist nicht gesetzt")
    from catalogue.search.meili_backend import MeiliBackend

    backend = MeiliBackend(url, os.environ.get("LEUCHTTURM_TEST_MEILI_KEY") or None, index_uid=f"test_{uuid.uuid4().hex[:12]}")
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
