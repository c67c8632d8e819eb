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

A new profile from an import also *claims* its record's identity (its source
id, else its content fingerprint) for its owner with an insert of
`claim:<owner>:<key>`: the unique `_id` decides, so two imports of the same
record for one owner that run at the same time create one profile (`claim`).
Per owner, because another editor's hidden draft of the same record never
stops an import (it is planned as a profile of its own, issue 13). A claim whose profile no longer
has that identity, or whose profile did not appear within CLAIM_GRACE of
the claim, is taken over with a compare-and-set. A run that claims and then
writes its profiles does so within moments; a claim that stays without its
profile for CLAIM_GRACE belongs to a run that died (killed, or its store
went away), and its re-run must not be refused. A claimant meeting a young
claim without its profile waits for it (polling by `_id`) until the grace
ends: a concurrent run's profile then appears and the claimant reports it.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from beanie import Document, PydanticObjectId
from pymongo.errors import BulkWriteError, DuplicateKeyError

SOURCE, FINGERPRINT, TITLE_LEAD = "source", "fingerprint", "title-lead"
CLAIM = "claim"
READ_CONCURRENCY = 16
CLAIM_GRACE = timedelta(seconds=30)  # a claim whose profile has not appeared by then belongs to a run that died
CLAIM_POLL_SECONDS = 0.25


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


def identity_of(provenance: Any, owner: str | None) -> tuple[str, str, str] | None:
    """(claim key, provenance field, value) naming the record an owner's profile comes from: its source id, else its fingerprint."""
    prov = provenance.model_dump() if hasattr(provenance, "model_dump") else dict(provenance or {})
    for field_name, key in (("source_id", source_key), ("fingerprint", fingerprint_key)):
        if prov.get(field_name):
            value = str(prov[field_name])
            return f"{CLAIM}:{owner or ''}:{key(value)}", field_name, value
    return None


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


async def claim(items: Sequence[tuple[Any, Any, str | None]], now: datetime) -> dict[int, str | None]:
    """Claim the identities of new profiles: `items` are (provenance, profile id, owner).

    Returns the positions that lost, each with the slug of the profile that
    holds the identity (None while that profile is still being written).
    Items without an identity always win; a claim already naming the same
    profile id (a retried run) wins again.
    """
    from catalogue import atomic
    from catalogue.models import Profile

    coll = ProfileKey.get_pymongo_collection()
    wanted = [(n, ident, pid) for n, (prov, pid, owner) in enumerate(items) if (ident := identity_of(prov, owner)) is not None]
    docs = [{"_id": ident[0], "profile_id": pid, "claimed_at": now} for _, ident, pid in wanted]
    clashes: list[int] = []
    if docs:
        try:
            await coll.insert_many(docs, ordered=False)  # the unique `_id` decides each claim
        except BulkWriteError as exc:
            for err in exc.details.get("writeErrors", []):
                if err.get("code") != 11000:
                    raise
                clashes.append(int(err["index"]))
    lost: dict[int, str | None] = {}
    for i in clashes:
        n, (key, field_name, value), pid = wanted[i]
        existing = await coll.find_one({"_id": key})
        if existing is None:  # released meanwhile: try once more
            if not await atomic.insert(coll, docs[i]):
                lost[n] = None
            continue
        holder_id = existing["profile_id"]
        if holder_id == pid:
            continue
        claimed_at = existing.get("claimed_at")
        until = _aware(claimed_at) + CLAIM_GRACE if claimed_at is not None else None
        holder = await _holder(Profile.get_pymongo_collection(), holder_id, until)
        if holder is not None and str((holder.get("provenance") or {}).get(field_name) or "") == value:
            lost[n] = str(holder.get("slug"))
            continue
        # The holder gave the identity up (changed), or never came to exist: take over; of two takers one wins.
        if not await atomic.update_if(coll, key, {"profile_id": holder_id}, {"$set": {"profile_id": pid, "claimed_at": now}}):
            lost[n] = None
    return lost


async def _holder(profiles: Any, holder_id: Any, until: datetime | None) -> dict[str, Any] | None:
    """The claiming profile (slug and provenance), waiting for it by `_id` while its claim is within its grace."""
    while True:
        holder: dict[str, Any] | None = await profiles.find_one({"_id": holder_id}, {"slug": 1, "provenance": 1})
        if holder is not None or until is None or datetime.now(UTC) >= until:
            return holder
        await asyncio.sleep(CLAIM_POLL_SECONDS)


async def release(provenance: Any, profile_id: Any, owner: str | None, *, to: Any = None) -> None:
    """Give back a claim this profile made but did not use (its write failed), or hand it `to` the profile written instead."""
    from catalogue import atomic

    ident = identity_of(provenance, owner)
    if ident is None:
        return
    coll = ProfileKey.get_pymongo_collection()
    if to is None:
        await atomic.delete_if(coll, ident[0], {"profile_id": profile_id})
    else:
        await atomic.update_if(coll, ident[0], {"profile_id": profile_id}, {"$set": {"profile_id": to}})


async def lookup(keys: Iterable[str]) -> dict[str, PydanticObjectId]:
    """The profile ids the keys name (keys without a document are left out), read by `_id`, a few at a time."""
    from catalogue.storage import read_each

    found = await read_each(ProfileKey.get_pymongo_collection(), keys)
    return {key: doc["profile_id"] for key, doc in found.items()}


__all__ = [
    "ProfileKey",
    "claim",
    "fingerprint_key",
    "identity_of",
    "keys_for",
    "keys_of_profile",
    "lookup",
    "normalise",
    "release",
    "source_key",
    "store",
    "store_many",
    "title_lead_key",
]
