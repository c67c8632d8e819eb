"""Adoption ("Nachnutzung"): which municipalities take a project over, and how far they are.

One record per (profile, municipality), collection `adoptions`,
`_id` = `<profile id>:<register key>`. Only users of that municipality
(their `User.organisation`) write it; admins may record for any body of the
register; reviewers and admins can hide an abusive record (it then counts
nowhere and is shown to nobody but them).

Reads are by key: the profile page reads one `AdoptionSummary` (`_id` =
profile id) that carries every record of the profile in short form plus the
counts by stage. Each record write is followed by a compare-and-set on the
summary (its `revision`), which takes over a record only when the record's
own revision is newer than what the summary holds, so concurrent writers of
different municipalities all land and an older state never overwrites a
newer one. The summary also feeds the search document (`adoption_count`,
`adoption_stages`: the facet "Nachnutzung" and the sort "am häufigsten
nachgenutzt"); a change is announced to the sync worker through the outbox.

The profile's owner is told by mail (catalogue.notifications) of a new
record and of a changed stage. The record and the summary are two writes;
an outbox entry naming the record and the revision the write brings is
written before the record (like a profile write's). The sync worker waits
until that revision has landed (or the entry's grace has passed), then takes
the record into the summary (`repair_summaries`, idempotent) and re-indexes
the profile: a process that dies between the two writes leaves the summary
behind only until the entry is applied.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from beanie import Document
from pydantic import BaseModel, Field

from catalogue import atomic, notifications, outbox
from catalogue.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from catalogue.models import Profile, utcnow
from catalogue.users import Principal, User, UserOrganisation, find_user, resolve_organisation
from catalogue.vocabularies import ACTIVE_ADOPTION_STAGES, TAKEN_OVER_STAGES, AdoptionStage, EditorialStatus

NOTE_MAX = 500
CONTACT_MAX = 200
CAS_TRIES = 50


class Adoption(Document):
    """One municipality's record for one profile (collection `adoptions`)."""

    id: str  # type: ignore[assignment]  # record_key(profile_id, organisation key)
    profile_id: str
    organisation: UserOrganisation
    stage: AdoptionStage
    note: str = ""
    contact: str = ""
    recorded_by: str
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    revision: int = 1
    hidden: bool = False
    hidden_by: str | None = None
    hidden_reason: str | None = None

    class Settings:
        name = "adoptions"


class AdoptionSummary(Document):
    """Every adoption record of one profile in short form (collection `adoption_summaries`, `_id` = profile id)."""

    id: str  # type: ignore[assignment]
    entries: dict[str, dict[str, Any]] = Field(default_factory=dict)  # organisation key -> summary_entry(record)
    revision: int = 0

    class Settings:
        name = "adoption_summaries"


class AdoptionIn(BaseModel):
    """What a municipality records (the API body and the form)."""

    stage: AdoptionStage
    note: str = Field(default="", max_length=NOTE_MAX)
    contact: str = Field(default="", max_length=CONTACT_MAX)
    organisation: str | None = Field(default=None, max_length=200, description="Schlüssel oder Name; Standard: die eigene Kommune")


def record_key(profile_id: str, organisation_key: str) -> str:
    return f"{profile_id}:{organisation_key}"


def summary_entry(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record as the summary keeps it (no recorder name: the page shows the municipality and the contact)."""
    org = dict(record["organisation"])
    return {
        "organisation": org,
        "stage": str(record["stage"]),
        "note": record.get("note") or "",
        "contact": record.get("contact") or "",
        "created_at": record["created_at"],
        "updated_at": record["updated_at"],
        "revision": int(record["revision"]),
        "hidden": bool(record.get("hidden")),
    }


def visible(entries: Mapping[str, Mapping[str, Any]], *, include_hidden: bool = False) -> list[dict[str, Any]]:
    """The entries to show, most advanced stage first, then by most recent change."""
    advanced = (AdoptionStage.IMPLEMENTED, AdoptionStage.IMPLEMENTING, AdoptionStage.PLANNING, AdoptionStage.INTERESTED, AdoptionStage.ABANDONED)
    order = {s.value: i for i, s in enumerate(advanced)}
    shown = [dict(e) for e in entries.values() if include_hidden or not e.get("hidden")]
    shown.sort(key=lambda e: str(e.get("updated_at")), reverse=True)
    shown.sort(key=lambda e: order.get(e["stage"], 99))
    return shown


def counts(entries: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """Visible records by stage, every stage listed."""
    out = {s.value: 0 for s in AdoptionStage}
    for e in entries.values():
        if not e.get("hidden") and e.get("stage") in out:
            out[e["stage"]] += 1
    return out


def search_fields(summary: Mapping[str, Any] | None) -> dict[str, Any]:
    """The adoption keys of a profile's search document: the active adopters' count and the stages present."""
    entries: Mapping[str, Mapping[str, Any]] = (summary or {}).get("entries") or {}
    by_stage = counts(entries)
    active = {s.value for s in ACTIVE_ADOPTION_STAGES}
    taken = {s.value for s in TAKEN_OVER_STAGES}
    return {
        "adoption_count": sum(n for stage, n in by_stage.items() if stage in active),
        "adoption_stages": [stage for stage, n in by_stage.items() if n],
        # size classes of those who took it over ("von 3 Kommunen Ihrer Größe übernommen"), one per adopter
        "adopter_size_classes": [
            str(e["organisation"].get("size_class"))
            for e in entries.values()
            if not e.get("hidden") and e.get("stage") in taken and e["organisation"].get("size_class")
        ],
    }


async def summary_of(profile_id: str) -> dict[str, Any] | None:
    """The summary document of a profile, by `_id` (None: no record yet)."""
    return await AdoptionSummary.get_pymongo_collection().find_one({"_id": str(profile_id)})


async def _publish_to_summary(profile_id: str, record: Mapping[str, Any]) -> None:
    """Take `record` into the profile's summary unless the summary already has a newer state of it (compare-and-set)."""
    coll = AdoptionSummary.get_pymongo_collection()
    key = str(record["organisation"]["key"])
    entry = summary_entry(record)
    for _ in range(CAS_TRIES):
        doc = await coll.find_one({"_id": profile_id})
        if doc is None:
            if await atomic.insert(coll, {"_id": profile_id, "entries": {key: entry}, "revision": 1}):
                return
            continue
        held = (doc.get("entries") or {}).get(key)
        if held is not None and int(held.get("revision") or 0) >= entry["revision"]:
            return
        new = {"_id": profile_id, "entries": {**(doc.get("entries") or {}), key: entry}, "revision": int(doc.get("revision") or 0) + 1}
        if await atomic.replace_if(coll, profile_id, {"revision": doc.get("revision")}, new):
            return
    raise Conflict("Zu viele gleichzeitige Änderungen an der Nachnutzung. Bitte gleich noch einmal versuchen.")


async def _announce(profile_id: str, slug: str, key: str, revision: int) -> None:
    """The outbox entry of an adoption write, written before it: the worker takes the record into the summary
    once that revision has landed, and re-indexes the profile (its search document carries the counts)."""
    await outbox.enqueue(profile_id, slug, adoption=(key, revision))


async def read_records(keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The adoption records among `keys` that exist, by `_id` one each (for the sync worker)."""
    coll = Adoption.get_pymongo_collection()
    found: dict[str, dict[str, Any]] = {}
    for key in dict.fromkeys(keys):
        doc = await coll.find_one({"_id": key})
        if doc is not None:
            found[key] = doc
    return found


async def repair_summaries(records: Sequence[Mapping[str, Any]]) -> None:
    """Take these records into their profiles' summaries (idempotent: a summary never goes back to an older state).

    The sync worker calls this for every applied adoption entry, so a process that died between a record
    write and its summary write leaves the summary behind only until the entry is applied.
    """
    for record in records:
        await _publish_to_summary(str(record["profile_id"]), record)


def _from_store(doc: Mapping[str, Any]) -> Adoption:
    record: Adoption = Adoption.model_validate(dict(doc))
    return record


def _stored_form(record: Adoption) -> dict[str, Any]:
    doc = record.model_dump(mode="python", exclude={"id", "revision_id", "organisation", "stage"})
    return {"_id": record.id, **doc, "stage": record.stage.value, "organisation": record.organisation.model_dump(mode="json")}


class AdoptionService:
    """Record, change and hide adoptions; `on_change` wakes the sync worker, `base_url` goes into mails."""

    def __init__(self, *, base_url: str, on_change: Callable[[], None] | None = None, on_mail: Callable[[], None] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._on_change = on_change or (lambda: None)
        self._on_mail = on_mail or (lambda: None)

    async def record(self, profile: Profile, actor: Principal, data: AdoptionIn) -> tuple[Adoption, bool]:
        """Record or change the adoption of `profile` by the actor's municipality; returns it and whether it is new."""
        if profile.status != EditorialStatus.PUBLISHED:
            raise Conflict("Nachnutzung lässt sich nur für veröffentlichte Profile eintragen.")
        user = await find_user(actor.username)
        if user is None or not user.active:
            raise PermissionDenied("Bitte melden Sie sich an.")
        org = await self._organisation(user, actor, data.organisation)
        pid = str(profile.id)
        key = record_key(pid, org.key)
        coll = Adoption.get_pymongo_collection()
        now = utcnow()
        note, contact = _clean_text(data.note, NOTE_MAX, "note"), _clean_text(data.contact, CONTACT_MAX, "contact")
        fresh = Adoption(
            id=key, profile_id=pid, organisation=org, stage=data.stage, note=note, contact=contact,
            recorded_by=actor.username, created_at=now, updated_at=now,
        )
        await _announce(pid, profile.slug, key, 1)
        created = await atomic.insert(coll, _stored_form(fresh))
        previous: dict[str, Any] | None = None
        if not created:
            for _ in range(CAS_TRIES):
                previous = await coll.find_one({"_id": key})
                if previous is None:  # pragma: no cover - records are never deleted
                    raise Conflict("Der Eintrag wurde eben entfernt. Bitte erneut versuchen.")
                await _announce(pid, profile.slug, key, int(previous["revision"]) + 1)
                changes = {
                    "stage": data.stage.value, "note": note, "contact": contact, "recorded_by": actor.username,
                    "updated_at": now, "revision": int(previous["revision"]) + 1,
                    "organisation": org.model_dump(mode="json"),
                }
                if await atomic.update_if(coll, key, {"revision": previous["revision"]}, {"$set": changes}):
                    break
            else:
                raise Conflict("Zu viele gleichzeitige Änderungen an diesem Eintrag. Bitte gleich noch einmal versuchen.")
        stored = await coll.find_one({"_id": key})
        assert stored is not None
        await self._published(pid, profile.slug, stored)
        changed = created or (previous is not None and previous.get("stage") != stored["stage"])
        if changed and profile.owner != actor.username:  # the owner recording for their own project needs no mail
            await self._tell_owner(profile, stored, created=created)
        return _from_store(stored), created

    async def hide(self, profile: Profile, organisation_key: str, actor: Principal, *, hidden: bool = True, reason: str = "") -> Adoption:
        """Reviewers hide (or show again) an abusive record."""
        if not actor.is_reviewer:
            raise PermissionDenied("Einträge ausblenden kann nur die Katalogredaktion.")
        pid = str(profile.id)
        key = record_key(pid, organisation_key)
        coll = Adoption.get_pymongo_collection()
        for _ in range(CAS_TRIES):
            current = await coll.find_one({"_id": key})
            if current is None:
                raise NotFound("Diesen Nachnutzungs-Eintrag gibt es nicht.")
            await _announce(pid, profile.slug, key, int(current["revision"]) + 1)
            changes = {
                "hidden": hidden, "hidden_by": actor.username if hidden else None,
                "hidden_reason": (reason.strip()[:NOTE_MAX] or None) if hidden else None, "revision": int(current["revision"]) + 1,
            }
            if await atomic.update_if(coll, key, {"revision": current["revision"]}, {"$set": changes}):
                break
        else:
            raise Conflict("Zu viele gleichzeitige Änderungen an diesem Eintrag. Bitte gleich noch einmal versuchen.")
        stored = await coll.find_one({"_id": key})
        assert stored is not None
        await self._published(pid, profile.slug, stored)
        return _from_store(stored)

    async def _organisation(self, user: User, actor: Principal, wanted: str | None) -> UserOrganisation:
        own = user.organisation
        if wanted and wanted.strip():
            org = await resolve_organisation(wanted)
            if own is not None and org.key == own.key:
                return own
            if actor.is_admin:
                return org
            raise PermissionDenied("Sie können Nachnutzung nur für Ihre eigene Kommune eintragen.")
        if own is None:
            raise PermissionDenied(
                "Ihrem Konto ist keine Kommune zugeordnet. Die Administration kann das nachholen; dann können Sie Nachnutzung eintragen."
            )
        return own

    async def _published(self, profile_id: str, slug: str, record: Mapping[str, Any]) -> None:
        """The second write: the summary at once (the page shows it); its outbox entry was written before the record."""
        await _publish_to_summary(profile_id, record)
        self._on_change()

    async def _tell_owner(self, profile: Profile, record: Mapping[str, Any], *, created: bool) -> None:
        owner = await find_user(profile.owner) if profile.owner else None
        if owner is None or not owner.email or not owner.active:
            return
        org, stage = record["organisation"]["name"], record["stage"]
        link = f"{self.base_url}/profiles/{profile.slug}#nachnutzung"
        what = "trägt neu ein" if created else "hat den Stand geändert"
        body = (
            f"Guten Tag {owner.display_name},\n\n"
            f"{org} {what}: Ihr Projekt „{profile.title}“ – Stand der Nachnutzung: {stage}.\n"
        )
        if record.get("note"):
            body += f"\nNotiz: {record['note']}\n"
        if record.get("contact"):
            body += f"Kontakt: {record['contact']}\n"
        body += f"\nAlle Kommunen, die das Projekt nachnutzen, sehen Sie hier:\n{link}\n\nIhr Leuchtturm-Katalog\n"
        await notifications.enqueue(
            f"adoption:{record['_id']}:{record['revision']}", to=str(owner.email),
            subject=f"Nachnutzung: {org} – {profile.title}"[:200], body=body, kind="adoption",
        )
        self._on_mail()


def _clean_text(text: str, limit: int, field: str) -> str:
    value = " ".join(str(text or "").split())
    if len(value) > limit:
        raise ValidationFailed("Der Text ist zu lang.", errors=[{"field": field, "message": f"höchstens {limit} Zeichen"}])
    if any(ord(ch) < 32 for ch in value):  # pragma: no cover - removed by the split above
        raise ValidationFailed("Steuerzeichen sind nicht erlaubt.", errors=[{"field": field, "message": "Steuerzeichen"}])
    return value


DOCUMENTS: list[type[Document]] = [Adoption, AdoptionSummary]

__all__ = [
    "DOCUMENTS",
    "Adoption",
    "AdoptionIn",
    "AdoptionService",
    "AdoptionSummary",
    "counts",
    "record_key",
    "search_fields",
    "summary_of",
    "visible",
]
