"""Users and tokens over the API: admin-only user management, token life cycle, login rate limit."""

from __future__ import annotations

from catalogue.users import create_user
from catalogue.vocabularies import Role
from tests.factories import principal_headers as _headers


async def test_only_admins_manage_users(client) -> None:
    admin = await _headers("adam", Role.ADMIN)
    editor = await _headers("erika", Role.EDITOR)
    body = {"username": "neu", "password": "noch-ein-passwort", "role": "reviewer"}
    assert (await client.post("/api/v1/users", json=body, headers=editor)).status_code == 403
    assert (await client.post("/api/v1/users", json=body)).status_code == 401
    r = await client.post("/api/v1/users", json=body, headers=admin)
    assert r.status_code == 201 and r.json()["role"] == "reviewer" and "password" not in r.text
    assert (await client.post("/api/v1/users", json=body, headers=admin)).status_code == 409
    assert (await client.post("/api/v1/users", json={**body, "username": "x", "password": "kurz"}, headers=admin)).status_code == 422
    r = await client.post("/api/v1/users/neu", json={"active": False}, headers=admin)
    assert r.json()["active"] is False
    users = (await client.get("/api/v1/users", headers=admin)).json()
    assert {u["username"] for u in users} == {"adam", "erika", "neu"}


async def test_token_life_cycle_and_login(client) -> None:
    await create_user("tom", "tom-passwort-123", Role.EDITOR)
    r = await client.post("/api/v1/auth/token", json={"username": "tom", "password": "tom-passwort-123", "name": "Portal"})
    assert r.status_code == 201
    token = r.json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    listed = (await client.get("/api/v1/tokens", headers=headers)).json()
    assert [t["name"] for t in listed] == ["Portal"] and "token" not in listed[0]
    r = await client.delete(f"/api/v1/tokens/{listed[0]['token_id']}", headers=headers)
    assert r.status_code == 200 and r.json()["revoked_at"]
    assert (await client.get("/api/v1/tokens", headers=headers)).status_code == 401  # revoked


async def test_failed_logins_are_rate_limited(client) -> None:
    await create_user("lisa", "lisa-passwort-123", Role.EDITOR)
    for _ in range(5):
        r = await client.post("/api/v1/auth/token", json={"username": "lisa", "password": "falsch"})
        assert r.status_code == 401
    r = await client.post("/api/v1/auth/token", json={"username": "lisa", "password": "lisa-passwort-123"})
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) > 0
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_vocabularies(client) -> None:
    v = (await client.get("/api/v1/vocabularies")).json()
    assert len(v["fields_of_action"]) == 15 and len(v["states"]) == 16 and "Kreis" in v["size_classes"]
