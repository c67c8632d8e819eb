"""The Meilisearch backend on the real server: settings as sent, versioned settings rebuilt with a swap, task discipline.

Runs with LEUCHTTURM_TEST_MEILI_URL (`make test-meili`), else skips with the reason.
"""

from __future__ import annotations

import socket
import unicodedata
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from catalogue.search.base import SearchError, SearchQuery
from catalogue.search.meili_backend import SETTINGS_DOC_ID, SETTINGS_KEY, SETTINGS_VERSION, MeiliBackend, settings_payload
from tests.contract.test_search_contract import ALL, CORPUS, PUBLIC
from tests.factories import stream
from tests.meili_support import drop_indexes, meili_server, unique_index

pytestmark = pytest.mark.meili


@pytest.fixture
async def backend() -> AsyncIterator[MeiliBackend]:
    url, key = meili_server()
    uid = unique_index("server")
    b = MeiliBackend(url, key, index_uid=uid)
    try:
        yield b
    finally:
        await b.close()
        drop_indexes(url, key, uid)


def _raw(backend: MeiliBackend) -> httpx.AsyncClient:
    url, key = meili_server()
    return httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"} if key else {}, timeout=30)


async def _settings(backend: MeiliBackend) -> dict[str, Any]:
    async with _raw(backend) as c:
        settings: dict[str, Any] = (await c.get(f"/indexes/{backend.index_uid}/settings")).raise_for_status().json()
        return settings


async def _indexes(backend: MeiliBackend) -> list[str]:
    async with _raw(backend) as c:
        return [i["uid"] for i in (await c.get("/indexes", params={"limit": 1000})).json()["results"] if i["uid"].startswith(backend.index_uid)]


def _stop_words(settings: dict[str, Any]) -> set[str]:
    """The server's stop words, in NFC (it hands them back decomposed: "fu\u0308r")."""
    return {unicodedata.normalize("NFC", w) for w in settings["stopWords"]}


async def test_prepare_creates_the_index_with_the_german_settings(backend: MeiliBackend) -> None:
    await backend.prepare()
    assert not backend.needs_reindex
    s = await _settings(backend)
    sent = settings_payload()
    for key in ("searchableAttributes", "rankingRules", "synonyms", "localizedAttributes"):
        assert s[key] == sent[key], key
    assert set(s["sortableAttributes"]) == set(sent["sortableAttributes"])  # the server keeps sets sorted
    assert _stop_words(s) == set(sent["stopWords"])
    assert s["rankingRules"][0] == "sort"
    assert s["searchableAttributes"][:2] == ["title", "title_words"]
    assert {"locales": ["deu"], "attributePatterns": ["title", "keywords", "summary", "lead", "municipalities", "partners", "state",
                                                     "district", "county", "texts"]} in s["localizedAttributes"]
    assert {"und", "für"} <= _stop_words(s)
    assert "ikz" in s["synonyms"]["interkommunale zusammenarbeit"] and "interkommunale zusammenarbeit" in s["synonyms"]["ikz"]
    assert s["typoTolerance"]["minWordSizeForTypos"] == {"oneTypo": 5, "twoTypos": 9}
    assert s["typoTolerance"]["disableOnNumbers"] is True
    assert s["faceting"]["maxValuesPerFacet"] == sent["faceting"]["maxValuesPerFacet"]
    assert s["pagination"]["maxTotalHits"] == 100_000
    filterable = {p for group in s["filterableAttributes"] for p in group["attributePatterns"]}
    assert {"labels", "status", "owner", "state", "population", "published_at"} <= filterable
    # the version record is in the index, and no query ever finds it
    assert await backend._recorded_version(backend.index_uid) == SETTINGS_VERSION
    await backend.prepare()  # idempotent: nothing changes
    assert not backend.needs_reindex and await _settings(backend) == s
    assert (await backend.search(SearchQuery(), labels=PUBLIC)).total == 0


async def test_other_settings_are_rebuilt_into_a_new_index_and_swapped(backend: MeiliBackend) -> None:
    await backend.prepare()
    await backend.upsert(ALL)
    async with _raw(backend) as c:  # an index from an older release: other settings, another version
        r = await c.patch(f"/indexes/{backend.index_uid}/settings", json={"stopWords": [], "synonyms": {}})
        await backend._wait(r.json())
        r = await c.post(f"/indexes/{backend.index_uid}/documents", json=[{"id": SETTINGS_DOC_ID, SETTINGS_KEY: "0.old"}])
        await backend._wait(r.json())
    url, key = meili_server()
    again = MeiliBackend(url, key, index_uid=backend.index_uid)
    try:
        await again.prepare()
        assert again.needs_reindex
        assert (await _settings(again))["stopWords"] == []  # never changed in place
        assert (await again.search(SearchQuery(), labels=PUBLIC)).total == len(ALL)  # and still searchable
        assert await again.rebuild(stream(CORPUS[:3])) == 3
        assert not again.needs_reindex
        assert _stop_words(await _settings(again)) == set(settings_payload()["stopWords"])
        assert await again._recorded_version(again.index_uid) == SETTINGS_VERSION
        assert (await again.search(SearchQuery(), labels=PUBLIC)).total == 3
        assert await _indexes(again) == [again.index_uid]  # the old index is gone
    finally:
        await again.close()


async def test_a_failed_rebuild_keeps_the_live_index(backend: MeiliBackend) -> None:
    await backend.prepare()
    await backend.upsert(ALL)

    async def broken() -> AsyncIterator[dict[str, Any]]:
        for d in CORPUS[:2]:
            yield d
        raise RuntimeError("Datenbank weg")

    with pytest.raises(RuntimeError, match="Datenbank weg"):
        await backend.rebuild(broken())
    assert (await backend.search(SearchQuery(), labels=PUBLIC)).total == len(ALL)
    assert await _indexes(backend) == [backend.index_uid]  # the half-filled index was deleted


async def test_a_failed_task_is_an_error_never_a_silent_success(backend: MeiliBackend) -> None:
    await backend.prepare()
    with pytest.raises(SearchError, match=r"fehlgeschlagen.*invalid_document_id"):
        await backend.upsert([{"id": "kein gültiger Schlüssel!", "title": "x", "labels": ["public"]}])
    assert (await backend.search(SearchQuery(), labels=PUBLIC)).total == 0


async def test_a_server_that_is_down_is_a_search_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = MeiliBackend(f"http://127.0.0.1:{port}", "key", index_uid="nirgends")
    try:
        with pytest.raises(SearchError, match="nicht erreichbar"):
            await down.upsert([{"id": "a", "title": "x"}])
        with pytest.raises(SearchError, match="nicht erreichbar"):
            await down.health()
    finally:
        await down.close()
