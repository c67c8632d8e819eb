"""A database written by the previous layout is migrated at start, losing nothing, and only once."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from bson import Binary, ObjectId
from pymongo import AsyncMongoClient

from catalogue import profile_keys
from catalogue.layout import LAYOUT_VERSION, layout_version, migrate_layout
from catalogue.models import Counter, ProfileContent, next_sequence
from catalogue.profiles import ProfileService, diff_content, etag
from catalogue.search.sync import stored_head
from catalogue.sessions import load_session
from catalogue.storage import init_models
from catalogue.users import LoginAttempt, Principal, authenticate, list_tokens, list_users, principal_for_token
from catalogue.vocabularies import Role
from tests.conftest import unique_db_name

PASSWORD = "altes-sicheres-passwort"
SECRET = "lt_0123456789ab_" + "x" * 43
SID = "alte-sitzung-" + "y" * 30
NOW = datetime.now(UTC).replace(microsecond=0)
EDITOR = Principal("erika", Role.EDITOR)


def _content(**overrides: Any) -> dict[str, Any]:
    base = {"title": "Gemeinsamer Bauhof Altkreis", "summary": "Erste Fassung.", "population": 9000, "lead": {"name": "Stadt Altkreis", "kind": "Stadt"}}
    return ProfileContent.model_validate({**base, **overrides}).model_dump(mode="json")


def _old_profile(slug: str, n_edits: int) -> dict[str, Any]:
    """A profile as the previous code stored it: the whole history embedded, Beanie's revision id."""
    data = _content(title=f"Gemeinsamer Bauhof {slug}")
    history = [{"number": 1, "at": NOW, "by": "erika", "action": "create", "comment": None,
                "changes": [c.model_dump(mode="json") for c in diff_content({}, data)] + [{"field": "status", "old": None, "new": "draft"}]}]
    for n in range(2, n_edits + 2):
        new = {**data, "summary": f"Fassung {n}."}
        history.append({"number": n, "at": NOW + timedelta(minutes=n), "by": "erika", "action": "edit", "comment": None,
                        "changes": [c.model_dump(mode="json") for c in diff_content(data, new)]})
        data = new
    return {
        "_id": ObjectId(), "revision_id": Binary.from_uuid(uuid.uuid4()), **data, "slug": slug, "status": "draft",
        "size_class": "Kleinstadt", "owner": "erika", "provenance": None, "review_comments": [], "version": len(history),
        "history": history, "created_at": NOW, "updated_at": NOW, "published_at": None, "confirmed_at": None,
    }


async def _write_old_layout(db: Any) -> dict[str, Any]:
    await db["users"].insert_one({"_id": ObjectId(), "username": "erika", "display_name": "Erika", "email": None, "role": "editor",
                                  "password_hash": PasswordHasher().hash(PASSWORD), "active": True, "created_at": NOW})
    await db["users"].create_index("username", unique=True, name="username_1")
    await db["api_tokens"].insert_one({"_id": ObjectId(), "token_id": "0123456789ab", "token_hash": hashlib.sha256(SECRET.encode()).hexdigest(),
                                       "username": "erika", "name": "alt", "created_at": NOW, "last_used_at": None, "revoked_at": None})
    await db["api_tokens"].create_index("token_id", unique=True, name="token_id_1")
    await db["web_sessions"].insert_one({"_id": ObjectId(), "sid_hash": hashlib.sha256(SID.encode()).hexdigest(), "username": "erika",
                                         "csrf_token": "c" * 20, "created_at": NOW, "last_seen_at": NOW, "user_agent": None})
    await db["web_sessions"].create_index("sid_hash", unique=True, name="sid_hash_1")
    await db["login_attempts"].insert_one({"_id": ObjectId(), "key": "user:erika", "failures": 3, "window_start": NOW})
    await db["login_attempts"].create_index("key", unique=True, name="key_1")
    await db["counters"].insert_one({"_id": ObjectId(), "name": "outbox", "value": 41})
    await db["counters"].create_index("name", unique=True, name="name_1")
    await db["search_outbox"].insert_many([
        {"_id": ObjectId(), "seq": 40, "profile_id": "x", "slug": "bauhof-a", "op": "upsert", "version": None, "created_at": NOW,
         "attempts": 0, "next_attempt_at": NOW, "last_error": None, "done": True},
        {"_id": ObjectId(), "seq": 41, "profile_id": "y", "slug": "bauhof-b", "op": "upsert", "version": 1, "created_at": NOW,
         "attempts": 2, "next_attempt_at": NOW, "last_error": "weg", "done": False},
    ])
    await db["search_outbox"].create_index([("done", 1), ("seq", 1)], name="pending")
    profiles = [_old_profile("bauhof-a", 3), _old_profile("bauhof-b", 0)]
    await db["profiles"].insert_many(profiles)
    await db["profiles"].create_index("slug", unique=True, name="slug_1")
    return {"profiles": profiles}


@pytest.fixture
async def old_db(mongo_uri: str):
    client: AsyncMongoClient = AsyncMongoClient(mongo_uri, tz_aware=True)
    db = client[unique_db_name("old")]
    try:
        yield db
    finally:
        await client.drop_database(db.name)
        await client.close()


async def test_old_layout_is_migrated_at_start_without_losing_anything(old_db) -> None:
    old = await _write_old_layout(old_db)
    assert await layout_version(old_db) == 0
    await init_models(old_db)  # what every process does at start
    assert await layout_version(old_db) == LAYOUT_VERSION

    # users, sessions, tokens, counters, login counters: keyed, and still working
    assert await old_db["users"].find_one({"_id": "erika"}) is not None and await old_db["users"].count_documents({}) == 1
    assert (await authenticate("erika", PASSWORD)).username == "erika"
    found = await load_session(SID)
    assert found is not None and found[1].username == "erika"
    assert (await principal_for_token(SECRET)).username == "erika"
    assert await next_sequence("outbox") == 42 and await Counter.get("outbox") is not None
    attempt = await LoginAttempt.get("user:erika")
    assert attempt is None  # the successful login above cleared the old count (it was 3, below the limit)
    assert "sid_hash_1" not in await old_db["web_sessions"].index_information()

    # layout 3: the outbox keyed by sequence number with the worker's head at the pending entry; the keys an
    # import finds profiles by; the users list and the token lists
    assert [(d["_id"], d["attempts"]) async for d in old_db["search_outbox"].find({})] == [(41, 2)]
    assert await stored_head() == 41 and "pending" not in await old_db["search_outbox"].index_information()
    ids = await profile_keys.lookup([profile_keys.title_lead_key(p["title"], "Stadt Altkreis") for p in old["profiles"]])
    assert sorted(ids.values()) == sorted(p["_id"] for p in old["profiles"])
    users, total = await list_users()
    assert [u.username for u in users] == ["erika"] and total == 1
    assert [t.token_id for t in await list_tokens("erika")] == ["0123456789ab"] == [t.token_id for t in await list_tokens()]

    # profiles: by slug through the key, history by key, same ETag, diff as before
    svc = ProfileService()
    a = await svc.get("bauhof-a", EDITOR)
    raw = await old_db["profiles"].find_one({"_id": a.id})
    assert "history" not in raw and a.version == 4 and a.last_change.number == 4
    assert etag(a) == f'"{old["profiles"][0]["revision_id"].as_uuid()}"'
    versions = await svc.versions(a)
    assert [v.number for v in versions] == [4, 3, 2, 1] and [v.action for v in versions] == ["edit", "edit", "edit", "create"]
    assert [c.field for c in await svc.diff("bauhof-a", 1, 4, EDITOR)] == ["summary"]
    assert (await svc.version_state(a, 2))["summary"] == "Fassung 2."
    assert (await svc.get("bauhof-b", EDITOR)).version == 1
    # … and it keeps working: an edit appends version 5
    a = await svc.update("bauhof-a", EDITOR, {"summary": "Nach der Umstellung."}, if_match=etag(a), partial=True)
    assert [v.number for v in await svc.versions(a)][:2] == [5, 4]


async def test_migration_is_idempotent_and_completes_an_interrupted_run(old_db) -> None:
    await _write_old_layout(old_db)
    # An interrupted run: the user's new document was written, the old one not yet removed;
    # a counter exists twice; one profile's versions are partly written.
    # (The interrupted run had dropped the unique indexes of the old keys first, as every run does.)
    await old_db["users"].drop_index("username_1")
    await old_db["counters"].drop_index("name_1")
    user = await old_db["users"].find_one({})
    await old_db["users"].insert_one({**user, "_id": "erika"})
    await old_db["counters"].insert_one({"_id": "outbox", "value": 40})
    first = await migrate_layout(old_db)
    assert first["users"] == 1 and first["profiles"] == 2 and first["counters"] == 1
    await init_models(old_db)
    snapshot = {name: sorted([str(d) async for d in old_db[name].find({})]) for name in await old_db.list_collection_names() if name != "store_meta"}
    again = await migrate_layout(old_db, force=True)
    assert all(v == 0 for v in again.values()), again
    assert snapshot == {name: sorted([str(d) async for d in old_db[name].find({})]) for name in snapshot}
    assert await old_db["users"].count_documents({}) == 1
    assert (await old_db["counters"].find_one({"_id": "outbox"}))["value"] == 41  # the higher of the two
