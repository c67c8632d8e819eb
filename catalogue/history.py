"""Version history, stored by key (collection `profile_versions`).

A profile's history grows without bound, so it does not live in the
profile document. Each entry is a `ProfileVersion` with `_id` = profile id +
zero-padded number and the profile's state after it; a history page reads
the keys of that page, a diff the two keys it compares.

The newest entry also travels inside the profile (`Profile.last_change`),
written in the same atomic compare-and-set as the change itself. The
version document is written with that write (on the embedded store beside
the replacement, under the write lock once the compare has succeeded; on
MongoDB right after it), and again (skipped when this process wrote it)
before the next write of the profile, so a process that dies between the
two writes leaves nothing missing: readers take the newest entry from the
profile. Profiles created in bulk (an import, `ProfileService.create_many`)
rely on exactly that: their version 1 document is first written before
their second version's write, so an import writes one document of the
profile's size less per profile.

Both writes replace whatever is under the key (an upsert). A replacement
that failed with an error may leave the document of a version that never
landed (written beside it under the lock); nothing reads it: readers ask
only for numbers up to the profile's version and take that version's entry
from the profile, and the write that does land this number, or at the
latest the repair before the next one, overwrites it. It is not deleted:
the delete could meet the document of a write of the same number that
landed meanwhile (`forget` only drops this process's note of it).

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
    """Write one version document (replacing whatever is under its key) unless this process knows it is there.

    A document this process has written (or read) is known to be there: the repair before the next
    write of a profile (catalogue/profiles.py) then costs no store command. A document under the key
    that differs can only be one a failed write left behind (see the module docstring): it is replaced."""
    coll = _collection()
    key = (coll.database.name, version_key(profile_id, entry.number))
    if key in _stored or key in _entries:
        return
    document = version_document(profile_id, entry, state)
    # two writers of the same landed version (its own write, another process's repair) write the same content
    with contextlib.suppress(DuplicateKeyError):
        await coll.replace_one({"_id": document["_id"]}, document, upsert=True)
    _stored.put(key, True)


def forget(profile_id: Any, number: int) -> None:
    """Drop this process's note that the version document `number` is stored (written beside a profile write
    that failed with an error, so possibly of a version that never landed): the next write's repair writes it."""
    db = _collection().database.name
    _stored.discard((db, version_key(profile_id, number)))
    _entries.discard((db, version_key(profile_id, number)))


def _entry(doc: dict[str, Any]) -> VersionEntry:
    return VersionEntry.model_validate({k: doc.get(k) for k in ("number", "at", "by", "action", "comment", "changes")})


# A version document below the profile's version is final (the write of that number, or the
# repair before the next one, has made it right before any reader asks for it), so an entry read
# is remembered per process and database: a history page reads only the entries it has not shown
# before. Bounded (least recently used goes first).
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
    "entries",
    "expanded",
    "forget",
    "is_compact",
    "page_numbers",
    "state_at",
    "store",
    "version_document",
]
