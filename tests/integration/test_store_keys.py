"""The embedded store answers `_id` lookups from an index, and the store mode is detected."""

from __future__ import annotations

import os

import pytest

from catalogue import atomic
from catalogue.embedded import ensure_id_indexes, id_lookup_plan, instance_info
from catalogue.storage import document_models, prepare_store

pytestmark = pytest.mark.skipif(bool(os.environ.get("LEUCHTTURM_TEST_MONGODB_URL")), reason="SQLite plans exist only on the embedded FerretDB")


async def test_every_collection_table_is_searched_by_id_not_scanned(db) -> None:
    assert atomic.mode().kind == atomic.StoreKind.FERRETDB and atomic.mode().lock is not None
    sqlite_dir = await instance_info(db.client)
    assert sqlite_dir is not None and atomic.mode().lock.path.parent == sqlite_dir
    names = await db.list_collection_names()
    assert {m.get_collection_name() for m in document_models()} <= set(names)
    for name in names:
        plan = id_lookup_plan(sqlite_dir, db.name, name)
        assert "SCAN" not in plan and "USING INDEX" in plan, f"{name}: {plan}"


async def test_a_collection_created_later_gets_the_index_when_prepared(db) -> None:
    sqlite_dir = await instance_info(db.client)
    await db["spaeter"].insert_one({"_id": "a"})
    assert id_lookup_plan(sqlite_dir, db.name, "spaeter").startswith("SCAN")  # what FerretDB 1.24.2 does by itself
    await prepare_store(db, ["spaeter", "noch-eine"])
    assert "USING INDEX" in id_lookup_plan(sqlite_dir, db.name, "spaeter")
    assert "USING INDEX" in id_lookup_plan(sqlite_dir, db.name, "noch-eine")
    assert ensure_id_indexes(sqlite_dir, [db.name]) == []  # idempotent
    # FerretDB still finds documents by _id (and ignores the extra index otherwise).
    assert await db["spaeter"].find_one({"_id": "a"}) == {"_id": "a"}
    assert list(await db["spaeter"].index_information()) == ["_id_"]


async def test_the_embedded_store_keeps_only_unique_indexes_and_drops_older_secondary_ones(db) -> None:
    """FerretDB never reads a secondary index (no push-down but `_id`), yet maintains each on every write."""
    from pymongo import ASCENDING, IndexModel

    from catalogue.models import Profile
    from catalogue.storage import declared_indexes, ensure_indexes

    profiles = Profile.get_pymongo_collection()
    assert set(await profiles.index_information()) == {"_id_", "slug_1"}  # the unique slug is a constraint: kept
    assert any(not spec.document.get("unique") for spec in declared_indexes(Profile))  # MongoDB gets the others
    # A store from an earlier start has them: the next start drops them.
    await profiles.create_indexes([IndexModel([("state", ASCENDING)], name="state")])
    await ensure_indexes([Profile], secondary=False)
    assert set(await profiles.index_information()) == {"_id_", "slug_1"}
