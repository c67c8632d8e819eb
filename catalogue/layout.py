"""Migration of stored data to the keyed layout (run at start by `catalogue.storage.init_models`).

Layout 2 keys everything a request reads by `_id`:

| collection | before | after |
|---|---|---|
| users | ObjectId, `username` field | `_id` = username |
| web_sessions | ObjectId, `sid_hash` field | `_id` = the hash |
| api_tokens | ObjectId, `token_hash` field | `_id` = the hash, plus `api_token_ids` (token id → hash) |
| login_attempts | ObjectId, `key` field | `_id` = the key |
| counters | ObjectId, `name` field | `_id` = the name |
| profiles | embedded `history` array | `last_change` in the document; each entry a `profile_versions` document with its state; a `profile_slugs` key per slug |

This is batch work: it streams each collection once (a full scan on
FerretDB), logs its progress, and is idempotent – every step first writes
the new document (an existing one is kept) and only then removes the old
one, so a run that dies part-way is completed by the next. Once done it
records the layout version in `store_meta`, and later starts only read that
one document.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from bson import Binary
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from catalogue import atomic
from catalogue.models import utcnow, version_key

log = logging.getLogger("leuchtturm.store")

LAYOUT_VERSION = 2
META_COLLECTION = "store_meta"
PROGRESS_EVERY = 1000

# Unique indexes of layout 1 on the fields that became the `_id`: they would reject the new
# document while the old one still exists (and on a field no longer stored, a unique index lets
# only one document exist). The `_id` is unique anyway.
OBSOLETE_INDEXES = {
    "users": ["username_1"],
    "api_tokens": ["token_id_1"],
    "web_sessions": ["sid_hash_1"],
    "login_attempts": ["key_1"],
    "counters": ["name_1"],
}

Progress = Callable[[str, int], None]


async def layout_version(database: AsyncDatabase[Any]) -> int:
    doc = await database[META_COLLECTION].find_one({"_id": "layout"})
    return int(doc.get("version", 1)) if doc else 0


async def migrate_layout(database: AsyncDatabase[Any], *, progress: Progress | None = None, force: bool = False) -> dict[str, int]:
    """Bring `database` to LAYOUT_VERSION; returns how many documents each step changed."""
    if not force and await layout_version(database) >= LAYOUT_VERSION:
        return {}
    report = progress or _log_progress
    counts: dict[str, int] = {}
    await _drop_obsolete_indexes(database)
    counts["users"] = await _rekey(database["users"], "username", keep_field=True, progress=report)
    counts["web_sessions"] = await _rekey(database["web_sessions"], "sid_hash", progress=report)
    counts["login_attempts"] = await _rekey(database["login_attempts"], "key", progress=report)
    counts["counters"] = await _rekey(database["counters"], "name", merge_max="value", progress=report)
    counts["api_tokens"] = await _migrate_tokens(database, report)
    counts["profiles"] = await _migrate_profiles(database, report)
    await database[META_COLLECTION].replace_one(
        {"_id": "layout"}, {"version": LAYOUT_VERSION, "migrated_at": utcnow(), "counts": counts}, upsert=True
    )
    changed = {k: v for k, v in counts.items() if v}
    if changed:
        log.warning("Datenbestand auf das Schlüssel-Layout %d umgestellt: %s", LAYOUT_VERSION, changed)
    return counts


def _log_progress(step: str, done: int) -> None:
    log.warning("Umstellung %s: %d Dokumente", step, done)


async def _drop_obsolete_indexes(database: AsyncDatabase[Any]) -> None:
    for name, indexes in OBSOLETE_INDEXES.items():
        coll = database[name]
        try:
            existing = await coll.index_information()
        except OperationFailure:
            continue
        for index in indexes:
            if index in existing:
                await coll.drop_index(index)


async def _insert_new(coll: AsyncCollection[Any], doc: dict[str, Any]) -> bool:
    """Insert the migrated document; False if a run before us wrote it already. Any other clash raises."""
    try:
        await coll.insert_one(doc)
    except DuplicateKeyError:
        if await coll.find_one({"_id": doc["_id"]}, {"_id": 1}) is None:
            raise  # some other unique index refused it: stop before the old document is removed
        return False
    return True


async def _old_ids(coll: AsyncCollection[Any], field: str) -> list[Any]:
    """Ids of documents still in the old layout (their `_id` is not the key), streamed."""
    out = []
    async for doc in coll.find({}, {field: 1}):
        if field in doc and doc["_id"] != doc[field]:
            out.append(doc["_id"])
    return out


async def _rekey(
    coll: AsyncCollection[Any], field: str, *, keep_field: bool = False, merge_max: str | None = None, progress: Progress
) -> int:
    """Give every document of `coll` its `field` as `_id` (new document first, then the old one goes)."""
    done = 0
    for old_id in await _old_ids(coll, field):
        doc = await coll.find_one({"_id": old_id})
        if doc is None or not doc.get(field):
            continue
        new = {k: v for k, v in doc.items() if k != "_id" and (keep_field or k != field)}
        new["_id"] = doc[field]
        if not await _insert_new(coll, new) and merge_max:
            # two counters of one name (a run that died part-way): keep the higher value
            await coll.update_one({"_id": doc[field]}, {"$max": {merge_max: doc.get(merge_max, 0)}})
        await coll.delete_one({"_id": old_id})
        done += 1
        if done % PROGRESS_EVERY == 0:
            progress(coll.name, done)
    return done


async def _migrate_tokens(database: AsyncDatabase[Any], progress: Progress) -> int:
    tokens, ids = database["api_tokens"], database["api_token_ids"]
    done = 0
    for old_id in await _old_ids(tokens, "token_hash"):
        doc = await tokens.find_one({"_id": old_id})
        if doc is None or not doc.get("token_hash"):
            continue
        token_hash = doc["token_hash"]
        await _insert_new(ids, {"_id": doc["token_id"], "token_hash": token_hash})
        new = {k: v for k, v in doc.items() if k not in ("_id", "token_hash")}
        new["_id"] = token_hash
        await _insert_new(tokens, new)
        await tokens.delete_one({"_id": old_id})
        done += 1
        if done % PROGRESS_EVERY == 0:
            progress("api_tokens", done)
    return done


async def _migrate_profiles(database: AsyncDatabase[Any], progress: Progress) -> int:
    from catalogue.profiles import replay_states

    profiles, slugs, versions = database["profiles"], database["profile_slugs"], database["profile_versions"]
    pending = []
    async for doc in profiles.find({}, {"slug": 1, "history": 1, "revision_id": 1, "created_at": 1}):
        # `history` comes back as a (possibly empty) list only for documents of the old layout
        if "history" in doc or "revision_id" not in doc or doc.get("revision_id") is None:
            pending.append(doc["_id"])
        await _ensure_slug_key(slugs, doc)
    done = 0
    for profile_id in pending:
        doc = await profiles.find_one({"_id": profile_id})
        if doc is None:
            continue
        update: dict[str, Any] = {}
        entries = doc.get("history")
        if isinstance(entries, list):
            states = replay_states(entries)
            for state in states:
                state.setdefault("slug", doc.get("slug"))  # slugs never changed in layout 1
            version_docs = []
            for entry, state in zip(entries, states, strict=True):
                version_docs.append({
                    "_id": version_key(profile_id, entry["number"]),
                    "profile_id": str(profile_id),
                    "number": entry["number"],
                    "at": entry.get("at"),
                    "by": entry.get("by") or "",
                    "action": entry.get("action") or "",
                    "comment": entry.get("comment"),
                    "changes": entry.get("changes") or [],
                    "state": state,
                })
            if version_docs:
                try:
                    await versions.insert_many(version_docs, ordered=False)
                except BulkWriteError as exc:
                    if any(err.get("code") != 11000 for err in exc.details.get("writeErrors", [])):
                        raise
            newest = entries[-1] if entries else None
            update.setdefault("$set", {})["last_change"] = newest
            update["$unset"] = {"history": ""}
        if doc.get("revision_id") is None:
            update.setdefault("$set", {})["revision_id"] = Binary.from_uuid(uuid.uuid4())
        if update:
            await profiles.update_one({"_id": profile_id}, update)
        done += 1
        if done % PROGRESS_EVERY == 0:
            progress("profiles", done)
    return done


async def _ensure_slug_key(slugs: AsyncCollection[Any], doc: dict[str, Any]) -> None:
    slug = doc.get("slug")
    if not slug:
        return
    if await atomic.insert(slugs, {"_id": slug, "profile_id": doc["_id"], "reserved_at": doc.get("created_at") or utcnow()}):
        return
    existing = await slugs.find_one({"_id": slug})
    if existing is not None and existing.get("profile_id") != doc["_id"]:
        log.error("Slug %s gehört zwei Profilen (%s, %s); das zweite ist nur über seine Kennung erreichbar", slug, existing.get("profile_id"), doc["_id"])


__all__ = ["LAYOUT_VERSION", "layout_version", "migrate_layout"]
