"""Health endpoints: live, ready, and 503 problem+json naming the failing dependency."""

from __future__ import annotations


async def test_live_and_ready(client) -> None:
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    r = await client.get("/health/ready")
    assert r.status_code == 200 and r.json()["checks"] == {"database": "ok", "search": "ok"}


async def test_search_down_gives_503_naming_it(client, app, monkeypatch) -> None:
    from catalogue.search.base import SearchError

    async def broken() -> bool:
        raise SearchError("Index nicht lesbar")

    monkeypatch.setattr(app.state.runtime.search, "health", broken)
    r = await client.get("/health/ready")
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert "Suche" in body["detail"] and "search" in body["failing"] and body["checks"] == {"database": "ok"}


async def test_database_down_gives_503_naming_it(client, app, monkeypatch) -> None:
    async def broken() -> None:
        raise ConnectionError("keine Verbindung")

    monkeypatch.setattr(app.state.runtime.storage, "ping", broken)
    r = await client.get("/health/ready")
    assert r.status_code == 503 and "Datenbank" in r.json()["detail"] and "database" in r.json()["failing"]
