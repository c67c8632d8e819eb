"""Meilisearch for tests: the server named by LEUCHTTURM_TEST_MEILI_URL (and _KEY), or a skip with the reason.

`make test-meili` and `.ci/run` start a throw-away server and set these
(tools/with-meilisearch); any other Meilisearch works the same way. Each test
uses indexes of its own (a random uid) and deletes them afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import httpx
import pytest

from catalogue.settings import Settings

SKIP_REASON = "Meilisearch-Variante übersprungen: LEUCHTTURM_TEST_MEILI_URL ist nicht gesetzt (make test-meili startet einen Server)"


def meili_server() -> tuple[str, str | None]:
    """URL and key of the test server, or skip the test."""
    url = os.environ.get("LEUCHTTURM_TEST_MEILI_URL")
    if not url:
        pytest.skip(SKIP_REASON)
    return url, os.environ.get("LEUCHTTURM_TEST_MEILI_KEY") or None


def engine_settings(engine: str, settings: Settings, monkeypatch: pytest.MonkeyPatch, prefix: str) -> Iterator[Settings]:
    """The app's settings on `engine` ("tantivy" or "meilisearch"), for a fixture parametrised over both:
    on Meilisearch an index of this test's own (uid from `prefix`), deleted afterwards.

    Read-your-writes waits at most INDEX_WAIT_S (2 s) and then answers anyway. A Meilisearch task
    takes from 0.3 s to over 5 s on the shared 2-core CI machine, so tests that check the wait
    itself give the engine more time here; what they check (the write is seen) is unchanged.
    """
    if engine == "tantivy":
        yield settings
        return
    url, key = meili_server()
    monkeypatch.setattr("catalogue.runtime.INDEX_WAIT_S", 20.0)
    index = unique_index(prefix)
    yield settings.model_copy(update={"meili_url": url, "meili_key": key, "meili_index": index})
    drop_indexes(url, key, index)


def unique_index(prefix: str = "test") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def drop_indexes(url: str, key: str | None, prefix: str) -> None:
    """Delete every index whose uid starts with `prefix` (the test's index and any rebuild leftovers)."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as c:
        offset = 0
        uids: list[str] = []
        while True:
            page = c.get("/indexes", params={"offset": offset, "limit": 100}).json()
            uids += [i["uid"] for i in page.get("results", [])]
            offset += 100
            if offset >= int(page.get("total", 0)):
                break
        for uid in uids:
            if uid.startswith(prefix):
                c.delete(f"/indexes/{uid}")
