"""Version history, stored by key (collection `profile_versions`).

A profile's history grows without bound, so it does not live in the
profile document. Each entry is a `ProfileVersion` with `_id` = profile id +
zero-padded number and the profile's state after it; a history page reads
the keys of that page, a diff the two keys it compares.

The newest entry also travels inside the profile (`Profile.last_change`),
written in the same atomic compare-and-set as the change itself. The
version document is written with that write (on the embedded store beside
the replacement, under the write lock once the compare has succeeded; on
MongoDB right after it; deleted again if the replacement fails with an
error, `discard`), and again (idempotent:
an insert of an existing key is a no-op; skipped when this process wrote
it) before the next write of the profile, so a process that dies between
the two writes leaves nothing missing: readers take the newest entry from
the profile. Profiles created in bulk (an import, `ProfileService.create_many`)
rely on exactly that: their version 1 document is first written before
their second version's write, so an import writes one document of the
profile's size less per profile.

A creation (version 1) is stored compactly: its changes are every field
set from nothing, i.e. its state, so neither `last_change` nor its version
document repeats them (`changes` is empty; `creation_entry` makes such an
entry, `expanded` gives it its changes back from the state when it is read).
That halves what a new profile writes and what every read of an unedited
profile decodes (a large import on FerretDB pays per field it stores).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from catalogue.lru import LRU
from catalogue.models import CONTENT_FIELDS, FieldChange, Profile, ProfileVersion, VersionEntry, version_key

PAGE_SIZE = 20


def version_document(profile_id: Any, entry: VersionEntry, state: dict[str, Any]) -> dict[str, Any]:
    return {
        "_id": version_key(profile_id, entry.number),
        "profile_id": str(profile_id),
        "number": entry.number,
        "at": entry.at,
        "by": entry.by,
        "action": entry.action,
        "comment": entry.comment,
        "changes": [c.model_dump(mode="json") for c in entry.changes],
        "state": state,
    }


def creation_entry(at: Any, by: str, action: str, comment: str | None = None) -> VersionEntry:
    """The history entry of a creation, stored without its changes (they are its state; see `expanded`)."""
    return VersionEntry(number=1, at=at, by=by, action=action, comment=comment, changes=[])


def diff_content(old: dict[str, Any], new: dict[str, Any], fields: Sequence[str] = CONTENT_FIELDS) -> list[FieldChange]:
    """The changes from `old` to `new` (content dicts), field by field in the registry's order."""
    return [FieldChange(field=f, old=old.get(f), new=new.get(f)) for f in fields if old.get(f) != new.get(f)]


def creation_changes(state: dict[str, Any]) -> list[FieldChange]:
    """What a creation changed: every content field the state sets, then the status."""
    changes = diff_content({}, state)
    if state.get("status") is not None:
        changes.append(FieldChange(field="status", old=None, new=state["status"]))
    return changes


def is_compact(entry: VersionEntry) -> bool:
    """A creation stored without its changes (any stored change names at least the status)."""
    return entry.number == 1 and not entry.changes


def expanded(entry: VersionEntry, state: dict[str, Any] | None) -> VersionEntry:
    """The entry with its changes: a compact creation gets them back from its state (the state after it)."""
    if not is_compact(entry) or not state:
        return entry
    return entry.model_copy(update={"changes": creation_changes(state)})


def _state_of(profile: Profile) -> dict[str, Any]:
    state: dict[str, Any] = profile.content().model_dump(mode="json")
    state["status"] = profile.status.value
    return state


def _collection() -> AsyncCollection[Any]:
    return ProfileVersion.get_pymongo_collection()


async def store(profile_id: Any, entry: VersionEntry, state: dict[str, Any]) -> None:
    """Write one version document unless it is there already.

    A document this process has written (or read) is known to be there: the repair before the next
    write of a profile (catalogue/profiles.py) then costs no store command (version documents are
    never changed or deleted)."""
    coll = _collection()
    key = (coll.database.name, version_key(profile_id, entry.number))
    if key in _stored or key in _entries:
        return
    # A duplicate was written before (a retry, or the repair before the next write): the content is the same.
    with contextlib.suppress(DuplicateKeyError):
        await coll.insert_one(version_document(profile_id, entry, state))
    _stored.put(key, True)


async def discard(profile_id: Any, number: int) -> None:
    """Delete a version document written beside a profile write that failed with an error (it may not have
    landed: a later write of this number must not find it). If the write did land, the profile's next write
    stores it again (the repair, which no longer takes it for known)."""
    coll = _collection()
    key = version_key(profile_id, number)
    _stored.discard((coll.database.name, key))
    _entries.discard((coll.database.name, key))
    await coll.delete_one({"_id": key})


def _entry(doc: dict[str, Any]) -> VersionEntry:
    return VersionEntry.model_validate({k: doc.get(k) for k in ("number", "at", "by", "action", "comment", "changes")})


# A version document is written once, after the profile write that made it (`store` never
# changes one), so an entry read is remembered per process and database: a history page
# reads only the entries it has not shown before. Bounded (least recently used goes first).
ENTRY_CACHE_MAX = 50_000
_entries: LRU[tuple[str, str], VersionEntry] = LRU(ENTRY_CACHE_MAX)
_stored: LRU[tuple[str, str], bool] = LRU(ENTRY_CACHE_MAX)  # (database, key) of version documents this process wrote


def clear_cache() -> None:
    _entries.clear()
    _stored.clear()


async def entries(profile: Profile, numbers: Iterable[int]) -> list[VersionEntry]:
    """The entries with these numbers (missing ones are left out), in the order given; one keyed read each (remembered)."""
    wanted = list(numbers)
    newest = profile.last_change if profile.last_change is not None and profile.last_change.number == profile.version else None
    coll = _collection()
    db = coll.database.name

    async def one(n: int) -> VersionEntry | None:
        if newest is not None and n == newest.number:
            return expanded(newest, _state_of(profile)) if is_compact(newest) else newest
        key = version_key(profile.id, n)
        if (known := _entries.get((db, key))) is not None:
            return known
        # a creation may be stored compactly: its changes come from its state
        doc = await coll.find_one({"_id": key}, None if n == 1 else {"state": 0})
        if doc is None:
            return None
        entry = expanded(_entry(doc), doc.get("state"))
        _entries.put((db, key), entry)
        return entry

    found = await asyncio.gather(*(one(n) for n in wanted))
    return [e for e in found if e is not None]


def page_numbers(version: int, page: int, per_page: int = PAGE_SIZE) -> list[int]:
    """Version numbers on history page `page` (1 = newest), newest first."""
    hi = version - (max(1, page) - 1) * per_page
    lo = max(1, hi - per_page + 1)
    return list(range(hi, lo - 1, -1)) if hi >= 1 else []


async def state_at(profile: Profile, number: int, current_state: dict[str, Any]) -> dict[str, Any] | None:
    """The profile's state after version `number` (`current_state` for the newest), or None if unknown."""
    if number == profile.version:
        return current_state
    doc = await _collection().find_one({"_id": version_key(profile.id, number)}, {"state": 1})
    return doc.get("state") if doc is not None else None


__all__ = [
    "PAGE_SIZE",
    "clear_cache",
    "creation_changes",
    "creation_entry",
    "diff_content",
    "discard",
    "entries",
    "expanded",
    "is_compact",
    "page_numbers",
    "state_at",
    "store",
    "version_document",
]
