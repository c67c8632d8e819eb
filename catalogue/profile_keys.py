"""Keys that find a profile by what an import knows of it (collection `profile_keys`).

The import runner matches a record with an existing profile by its source
id, its content fingerprint, or (probable duplicates) its title and lead
body. On a request path (an upload's preview and its confirmation) these
are keyed reads: each key is a document whose `_id` is

* `source:<provenance.source_id>`,
* `fingerprint:<provenance.fingerprint>`,
* `title-lead:<SHA-256 of the normalised title and lead body>`,

naming the profile id. (The slug has its own key collection,
`profile_slugs`.) Keys are written with the profile writes, *before* the
profile itself (catalogue/profiles.py), and a key names the profile last
written with that value. A reader therefore always checks the profile it
names: a key whose profile no longer has that value (it was changed, or its
write failed) finds nothing. Old keys are not removed; they cost one read.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from beanie import Document, PydanticObjectId
from pymongo.errors import BulkWriteError, DuplicateKeyError

SOURCE, FINGERPRINT, TITLE_LEAD = "source", "fingerprint", "title-lead"
READ_CONCURRENCY = 16


class ProfileKey(Document):
    """A key and the profile it names (`_id` = the key)."""

    id: str  # type: ignore[assignment]
    profile_id: PydanticObjectId

    class Settings:
        name = "profile_keys"


def normalise(text: str | None) -> str:
    """Title or body name as compared for duplicates: case-folded, whitespace collapsed."""
    return " ".join((text or "").casefold().split())


def source_key(source_id: str) -> str:
    return f"{SOURCE}:{source_id}"


def fingerprint_key(fingerprint: str) -> str:
    return f"{FINGERPRINT}:{fingerprint}"


def title_lead_key(title: str | None, lead: str | None) -> str:
    digest = hashlib.sha256(f"{normalise(title)}\n{normalise(lead)}".encode()).hexdigest()[:40]
    return f"{TITLE_LEAD}:{digest}"


def keys_for(title: str | None, lead: str | None, provenance: Any) -> list[str]:
    """The keys of a profile with this title, lead body name and provenance (a Provenance, a dict or None)."""
    prov = provenance.model_dump() if hasattr(provenance, "model_dump") else dict(provenance or {})
    keys = [title_lead_key(title, lead)]
    if prov.get("source_id"):
        keys.append(source_key(str(prov["source_id"])))
    if prov.get("fingerprint"):
        keys.append(fingerprint_key(str(prov["fingerprint"])))
    return keys


def keys_of_profile(profile: Any) -> list[str]:
    """The keys of a stored profile (a Profile)."""
    return keys_for(profile.title, profile.lead.name if profile.lead else None, profile.provenance)


async def store(keys: Iterable[str], profile_id: Any) -> None:
    """Point `keys` at the profile (last writer wins); plain keyed writes, each on its own `_id`."""
    coll = ProfileKey.get_pymongo_collection()
    for key in dict.fromkeys(keys):
        try:
            await coll.update_one({"_id": key}, {"$set": {"profile_id": profile_id}}, upsert=True)
        except DuplicateKeyError:  # FerretDB: a concurrent upsert inserted it between its read and its write
            await coll.update_one({"_id": key}, {"$set": {"profile_id": profile_id}})


async def store_many(pairs: Sequence[tuple[str, Any]]) -> None:
    """Point many keys at their profiles: one unordered insert, then an update for each key that existed."""
    latest = dict(pairs)  # a later pair for the same key wins
    if not latest:
        return
    coll = ProfileKey.get_pymongo_collection()
    docs = [{"_id": key, "profile_id": pid} for key, pid in latest.items()]
    try:
        await coll.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        for err in exc.details.get("writeErrors", []):
            if err.get("code") != 11000:
                raise
            doc = docs[int(err["index"])]
            await coll.update_one({"_id": doc["_id"]}, {"$set": {"profile_id": doc["profile_id"]}})


async def lookup(keys: Iterable[str]) -> dict[str, PydanticObjectId]:
    """The profile ids the keys name (keys without a document are left out), read by `_id`, a few at a time."""
    coll = ProfileKey.get_pymongo_collection()
    found: dict[str, PydanticObjectId] = {}
    semaphore = asyncio.Semaphore(READ_CONCURRENCY)

    async def read(key: str) -> None:
        async with semaphore:
            doc = await coll.find_one({"_id": key})
        if doc is not None:
            found[key] = doc["profile_id"]

    await asyncio.gather(*(read(k) for k in dict.fromkeys(keys)))
    return found


__all__ = [
    "ProfileKey",
    "fingerprint_key",
    "keys_for",
    "keys_of_profile",
    "lookup",
    "normalise",
    "source_key",
    "store",
    "store_many",
    "title_lead_key",
]
