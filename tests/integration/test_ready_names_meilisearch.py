"""/health/ready names Meilisearch when it is down; writes to the store go on without it."""

from __future__ import annotations

import socket

import pytest

from catalogue.settings import Settings
from catalogue.users import create_token, create_user
from catalogue.vocabularies import Role


@pytest.fixture
def settings(settings: Settings) -> Settings:
    with socket.socket() as s:  # a loopback port nobody listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return settings.model_copy(update={"meili_url": f"http://127.0.0.1:{port}", "meili_key": "not-used-" + "k" * 16})


@pytest.mark.meili
async def test_ready_names_meilisearch_when_it_is_down(client) -> None:
    r = await client.get("/health/ready")
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert "Suche (Meilisearch)" in body["title"] + body.get("detail", "")
    assert "Meilisearch" in body["failing"]["search"] and body["checks"]["database"] == "ok"
    await create_user("erika", "x" * 12, Role.EDITOR)
    _, secret = await create_token("erika", "test")
    r = await client.post("/api/v1/profiles", json={"title": "Gemeinsames Standesamt"}, headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 201, r.text  # the store takes it; the outbox keeps it for the index
