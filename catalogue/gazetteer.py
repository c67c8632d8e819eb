"""The municipality register (Gemeindeverzeichnis) in the database.

One `GazetteerEntry` per AGS (collection `gazetteer`), loaded by the import
runner from the Destatis register (`leuchtturm import --format gazetteer`)
and used by the editor form to suggest municipalities as one types.

`name_folded` is the name in lower case with umlauts spelled out
("Höxter" → "hoexter"), so "hox", "höx" and "hoex" find the same entries
by prefix. The prefix is matched with an anchored `$regex` on escaped user
input: what the user types is always taken literally.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from beanie import Document, Indexed, SortDirection
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from catalogue.models import utcnow
from catalogue.vocabularies import FederalState, OrganisationKind

MAX_LOOKUP = 50
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ẞ": "ss"})


def fold(text: str) -> str:
    """Lower case, umlauts spelled out, other accents dropped, whitespace collapsed."""
    text = (text or "").casefold().translate(_FOLD)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(text.split())


class GazetteerEntry(Document):
    """One municipality, Kreis or Land of the register (collection `gazetteer`)."""

    ags: Indexed(str, unique=True)  # type: ignore[valid-type]
    name: str
    name_folded: str
    state: FederalState | None = None
    population: int | None = None
    area_km2: float | None = None
    kind: OrganisationKind | None = None
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "gazetteer"
        indexes = [IndexModel([("name_folded", ASCENDING)], name="name_folded")]

    @property
    def display_name(self) -> str:
        """The name as people say it: Kreise get their "Kreis" in front unless the name has one."""
        if self.kind == OrganisationKind.DISTRICT and not _has_kind_prefix(self.name):
            return f"Kreis {self.name}"
        return self.name


_KIND_PREFIXES = ("kreis ", "landkreis ", "stadtkreis ", "region ", "stadt ", "gemeinde ", "markt ", "amt ")


def _has_kind_prefix(name: str) -> bool:
    return fold(name).startswith(_KIND_PREFIXES) or fold(name).endswith("kreis")


def _kind_from_prefix(name: str) -> tuple[OrganisationKind | None, str]:
    folded = fold(name)
    for prefix, kind in (
        ("landkreis ", OrganisationKind.DISTRICT),
        ("kreis ", OrganisationKind.DISTRICT),
        ("stadt ", OrganisationKind.TOWN),
        ("gemeinde ", OrganisationKind.MUNICIPALITY),
    ):
        if folded.startswith(prefix):
            return kind, folded[len(prefix):]
    return None, folded


async def find_by_name(name: str) -> list[GazetteerEntry]:
    """Entries called `name` ("Höxter", "Stadt Höxter", "Kreis Höxter"); municipalities before Kreise.

    With "Kreis …" only Kreise match; with "Stadt …" or "Gemeinde …" those kinds are preferred.
    """
    kind, bare = _kind_from_prefix(name)
    if not bare:
        return []
    found = await GazetteerEntry.find({"name_folded": {"$in": [bare, fold(name)]}}).limit(MAX_LOOKUP).to_list()
    if kind == OrganisationKind.DISTRICT:
        return [e for e in found if e.kind == OrganisationKind.DISTRICT]
    municipal = [e for e in found if e.kind != OrganisationKind.DISTRICT]
    if kind is not None:
        return [e for e in municipal if e.kind == kind] or municipal
    return municipal or [e for e in found if e.kind == OrganisationKind.DISTRICT]


async def all_entries(limit: int) -> list[GazetteerEntry]:
    """Up to `limit` entries by name (for a pick list in forms)."""
    return await GazetteerEntry.find_all().sort([("name_folded", SortDirection.ASCENDING)]).limit(limit).to_list()


# Fields compared on re-import (updated_at is bookkeeping).
ENTRY_FIELDS: tuple[str, ...] = ("ags", "name", "name_folded", "state", "population", "area_km2", "kind")


def entry_document(content: Mapping[str, Any]) -> dict[str, Any]:
    """A gazetteer record (as the importer yields it) in stored form, without `_id` and `updated_at`."""
    return {
        "ags": str(content["ags"]),
        "name": str(content["name"]),
        "name_folded": fold(str(content["name"])),
        "state": content.get("state") or None,
        "population": content.get("population"),
        "area_km2": content.get("area_km2"),
        "kind": content.get("kind") or None,
    }


def same_entry(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return all(a.get(k) == b.get(k) for k in ENTRY_FIELDS)


async def lookup(prefix: str, limit: int = 10) -> list[GazetteerEntry]:
    """Entries whose folded name starts with `prefix`, largest population first."""
    folded = fold(prefix)
    if not folded:
        return []
    limit = max(1, min(int(limit), MAX_LOOKUP))
    query = {"name_folded": {"$regex": "^" + re.escape(folded)}}
    return await GazetteerEntry.find(query).sort([("population", SortDirection.DESCENDING), ("name_folded", SortDirection.ASCENDING)]).limit(limit).to_list()


async def get_by_ags(ags: str) -> GazetteerEntry | None:
    return await GazetteerEntry.find_one(GazetteerEntry.ags == str(ags))


async def count() -> int:
    return await GazetteerEntry.get_pymongo_collection().count_documents({})


async def existing(ags_values: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """Stored entries by AGS (all of them, or those in `ags_values`)."""
    query: dict[str, Any] = {} if ags_values is None else {"ags": {"$in": list(ags_values)}}
    projection = dict.fromkeys(ENTRY_FIELDS, 1)
    return {doc["ags"]: doc async for doc in GazetteerEntry.get_pymongo_collection().find(query, projection)}


async def write(new: list[dict[str, Any]], changed: list[dict[str, Any]]) -> None:
    """Insert new entries and replace changed ones (by AGS) in bulk.

    Changed entries are replaced by delete_many + insert_many: on FerretDB
    1.24 an update costs a collection scan per document, a delete or insert
    batch one scan in all.
    """
    now = utcnow()
    if changed:
        await GazetteerEntry.get_pymongo_collection().delete_many({"ags": {"$in": [e["ags"] for e in changed]}})
    docs = [{**e, "updated_at": now} for e in [*new, *changed]]
    if docs:
        await GazetteerEntry.get_pymongo_collection().insert_many(docs, ordered=False)
