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

Layout 3 keys what remained:

| collection | before | after |
|---|---|---|
| search_outbox | ObjectId, `seq` field, `done` flag | `_id` = the sequence number; the worker's head in `search_sync` |
| profile_keys | – | source id, fingerprint and title/lead keys of every profile (catalogue.profile_keys) |
| key_lists | – | the list of users and each user's list of tokens (catalogue.keylists) |

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

LAYOUT_VERSION = 3
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
    "search_outbox": ["pending"],
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
    counts["search_outbox"] = await _migrate_outbox(database, report)
    counts["profile_keys"] = await _build_profile_keys(database, report)
    counts["key_lists"] = await _build_key_lists(database)
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


async def _migrate_outbox(database: AsyncDatabase[Any], progress: Progress) -> int:
    """Key pending outbox entries by their sequence number (applied ones go), and record the worker's head."""
    coll = database["search_outbox"]
    old = [doc async for doc in coll.find({}) if not isinstance(doc["_id"], int)]
    pending: list[int] = []
    for n, doc in enumerate(old, 1):
        if not doc.get("done") and isinstance(doc.get("seq"), int):
            new = {k: v for k, v in doc.items() if k not in ("_id", "seq", "done")}
            new.setdefault("more", [])
            new["_id"] = doc["seq"]
            await _insert_new(coll, new)
            pending.append(doc["seq"])
        await coll.delete_one({"_id": doc["_id"]})
        if n % PROGRESS_EVERY == 0:
            progress("search_outbox", n)
    if await database["search_sync"].find_one({"_id": "outbox"}) is None:
        counter = await database["counters"].find_one({"_id": "outbox"})
        head = min(pending) if pending else int((counter or {}).get("value", 0)) + 1
        await database["search_sync"].update_one({"_id": "outbox"}, {"$setOnInsert": {"head": head, "updated_at": utcnow()}}, upsert=True)
    return len(old)


async def _build_profile_keys(database: AsyncDatabase[Any], progress: Progress) -> int:
    """Write the keys an import finds each profile by (missing ones only); returns how many were new."""
    from catalogue.profile_keys import keys_for

    keys = database["profile_keys"]
    added = done = 0
    batch: list[dict[str, Any]] = []

    async def flush() -> int:
        try:
            result = await keys.insert_many(batch, ordered=False)
            return len(result.inserted_ids)
        except BulkWriteError as exc:
            if any(err.get("code") != 11000 for err in exc.details.get("writeErrors", [])):
                raise
            return int(exc.details.get("nInserted", 0))

    async for doc in database["profiles"].find({}, {"title": 1, "lead.name": 1, "provenance": 1}):
        for key in keys_for(doc.get("title"), (doc.get("lead") or {}).get("name"), doc.get("provenance")):
            batch.append({"_id": key, "profile_id": doc["_id"]})
        done += 1
        if len(batch) >= PROGRESS_EVERY:
            added += await flush()
            batch = []
            progress("profile_keys", done)
    if batch:
        added += await flush()
    return added


async def _build_key_lists(database: AsyncDatabase[Any]) -> int:
    """The users list and each user's token list (catalogue.keylists); returns how many members were new."""
    from catalogue.keylists import USERS, tokens_of

    lists = database["key_lists"]
    wanted: dict[str, list[str]] = {USERS: []}
    async for doc in database["users"].find({}, {"_id": 1}):
        wanted[USERS].append(str(doc["_id"]))
    async for doc in database["api_tokens"].find({}, {"username": 1}):
        wanted.setdefault(tokens_of(str(doc.get("username"))), []).append(str(doc["_id"]))
    added = 0
    for list_id, members in wanted.items():
        existing = await lists.find_one({"_id": list_id})
        new = [m for m in members if m not in set((existing or {}).get("members") or [])]
        if new:
            await lists.update_one({"_id": list_id}, {"$addToSet": {"members": {"$each": new}}}, upsert=True)
            added += len(new)
    return added


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
