"""The profile lifecycle: create, edit, submit, publish, return, archive, restore.

Every edit and state change appends a VersionEntry (who, when, which fields
changed, old and new values) to the profile's embedded history in the same
atomic document write, and announces the change in the search outbox.
Optimistic concurrency uses Beanie's revision id, exposed as ETag.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import Enum
from typing import Any
from uuid import UUID, uuid4

from beanie import PydanticObjectId
from beanie.exceptions import RevisionIdWasChanged
from bson import Binary
from pydantic import ValidationError
from pymongo.errors import BulkWriteError, DuplicateKeyError

from catalogue import outbox
from catalogue.access import Action, allowed
from catalogue.errors import (
    CatalogueError,
    InvalidTransition,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    PreconditionRequired,
    ValidationFailed,
    pydantic_errors,
)
from catalogue.models import (
    CONTENT_FIELDS,
    Counter,
    FieldChange,
    OutboxEntry,
    Profile,
    ProfileContent,
    Provenance,
    ReviewComment,
    VersionEntry,
    utcnow,
)
from catalogue.slugs import slug_candidates
from catalogue.users import Principal
from catalogue.vocabularies import EditorialStatus as S

# action -> (allowed source states, target state)
TRANSITIONS: dict[Action, tuple[frozenset[S], S]] = {
    Action.SUBMIT: (frozenset({S.DRAFT}), S.SUBMITTED),
    Action.PUBLISH: (frozenset({S.SUBMITTED}), S.PUBLISHED),
    Action.RETURN: (frozenset({S.SUBMITTED}), S.DRAFT),
    Action.ARCHIVE: (frozenset({S.DRAFT, S.SUBMITTED, S.PUBLISHED}), S.ARCHIVED),
    Action.RESTORE: (frozenset({S.ARCHIVED}), S.DRAFT),
}

TRANSITION_LABELS = {
    Action.SUBMIT: "einreichen",
    Action.PUBLISH: "veröffentlichen",
    Action.RETURN: "zurückgeben",
    Action.ARCHIVE: "archivieren",
    Action.RESTORE: "wiederherstellen",
}

def content_dict(profile_or_content: Profile | ProfileContent) -> dict[str, Any]:
    return ProfileContent.model_validate(
        profile_or_content.model_dump(include=set(CONTENT_FIELDS))
    ).model_dump(mode="json")


def diff_content(old: dict[str, Any], new: dict[str, Any], fields: Sequence[str] = CONTENT_FIELDS) -> list[FieldChange]:
    return [FieldChange(field=f, old=old.get(f), new=new.get(f)) for f in fields if old.get(f) != new.get(f)]


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def validate_content(data: Any) -> ProfileContent:
    if not isinstance(data, dict):
        raise ValidationFailed("Das Profil muss ein JSON-Objekt sein.", errors=[{"field": "", "message": "muss ein Objekt sein"}])
    try:
        return ProfileContent.model_validate(data)
    except ValidationError as exc:
        errors = pydantic_errors(exc)
        raise ValidationFailed(
            "Bitte prüfen Sie: " + ", ".join(e["field"] or "(Profil)" for e in errors), errors=errors
        ) from exc


def snapshot_at(profile: Profile, number: int) -> dict[str, Any]:
    """The profile's content and status as of version `number`, by replaying its history."""
    if number < 1 or number > profile.version:
        raise NotFound(f"Version {number} gibt es nicht (vorhanden: 1–{profile.version}).")
    state: dict[str, Any] = {}
    for entry in profile.history:
        if entry.number > number:
            break
        for change in entry.changes:
            state[change.field] = copy.deepcopy(change.new)
    return state


def etag(profile: Profile) -> str:
    return f'"{profile.revision_id}"'


def _check_if_match(profile: Profile, if_match: str | None, required: bool) -> None:
    if if_match is None:
        if required:
            raise PreconditionRequired("Bitte senden Sie den ETag des Profils im If-Match-Header mit.")
        return
    tags = [t.strip() for t in if_match.split(",")]
    if "*" in tags:
        return
    current = etag(profile)
    if not any(t.removeprefix("W/") == current for t in tags):
        raise PreconditionFailed(
            "Das Profil wurde inzwischen von jemand anderem geändert. Bitte laden Sie es neu und übernehmen Sie Ihre Änderungen.",
            current_etag=current,
        )


class ProfileService:
    """All profile writes go through here. (Lists come from the search index: catalogue.listing.)"""

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self._on_change = on_change or (lambda: None)

    # ------------------------------------------------------------ reads

    async def find(self, slug: str) -> Profile:
        profile = await Profile.find_one(Profile.slug == str(slug))
        if profile is None:
            raise NotFound(f"Es gibt kein Profil „{slug}“.")
        return profile

    async def get(self, slug: str, actor: Principal | None) -> Profile:
        profile = await self.find(slug)
        if not allowed(actor, Action.VIEW, owner=profile.owner, status=profile.status):
            # Do not reveal unpublished profiles to those who may not see them.
            raise NotFound(f"Es gibt kein Profil „{slug}“.")
        return profile

    # ------------------------------------------------------------ writes

    async def create(
        self,
        content: ProfileContent | dict[str, Any],
        actor: Principal,
        *,
        provenance: Provenance | None = None,
        status: S = S.DRAFT,
        action: str = "create",
        slug: str | None = None,
    ) -> Profile:
        if not allowed(actor, Action.CREATE):
            raise PermissionDenied("Sie dürfen keine Profile anlegen.")
        if status == S.PUBLISHED and not allowed(actor, Action.IMPORT_PUBLISHED):
            raise PermissionDenied("Nur die Katalogredaktion darf Profile direkt veröffentlichen.")
        if status not in (S.DRAFT, S.PUBLISHED, S.SUBMITTED):
            raise ValidationFailed("Neue Profile beginnen als Entwurf, eingereicht oder veröffentlicht.")
        if not isinstance(content, ProfileContent):
            content = validate_content(content)
        data = content.model_dump(mode="json")
        now = utcnow()
        changes = [*diff_content({}, data), FieldChange(field="status", old=None, new=status.value)]
        profile_id = PydanticObjectId()
        candidates = [slug] if slug else slug_candidates(content.title, content.lead.name if content.lead else None)
        for candidate in candidates:
            if await Profile.find_one(Profile.slug == candidate):
                if slug:
                    raise ValidationFailed(f"Der Slug „{slug}“ ist schon vergeben.", errors=[{"field": "slug", "message": "schon vergeben"}])
                continue
            profile = Profile(
                id=profile_id,
                slug=candidate,
                status=status,
                owner=actor.username,
                provenance=provenance,
                created_at=now,
                updated_at=now,
                published_at=now if status == S.PUBLISHED else None,
                version=1,
                history=[VersionEntry(number=1, at=now, by=actor.username, action=action, changes=changes)],
                **content.model_dump(),
            )
            await outbox.enqueue(str(profile_id), candidate, version=profile.version)
            try:
                await profile.insert()
            except DuplicateKeyError:
                if slug:
                    raise ValidationFailed(f"Der Slug „{slug}“ ist schon vergeben.") from None
                continue  # someone took this slug a moment ago
            self._on_change()
            return profile
        raise AssertionError("unreachable")  # pragma: no cover

    async def update(
        self,
        slug: str,
        actor: Principal,
        data: Any,
        *,
        if_match: str | None,
        partial: bool,
        require_if_match: bool = True,
        provenance: Provenance | None = None,
        action: str = "edit",
        status: S | None = None,
    ) -> Profile:
        """Change a profile's content.

        Importers pass `provenance` (stored with the change, not a content
        field), `action="import"` for the history entry, and optionally a
        new `status` (only draft or published; publishing needs the
        IMPORT_PUBLISHED permission) recorded in the same history entry.
        """
        profile = await self.get(slug, actor)
        if not allowed(actor, Action.EDIT, owner=profile.owner, status=profile.status):
            if profile.status != S.DRAFT and profile.owner == actor.username:
                raise InvalidTransition("Eingereichte oder veröffentlichte Profile kann nur die Katalogredaktion ändern.")
            raise PermissionDenied("Sie dürfen dieses Profil nicht bearbeiten.")
        if profile.status == S.ARCHIVED:
            raise InvalidTransition("Archivierte Profile müssen erst wiederhergestellt werden.")
        _check_if_match(profile, if_match, require_if_match)
        current = content_dict(profile)
        if partial:
            if not isinstance(data, dict):
                raise ValidationFailed("Die Änderung muss ein JSON-Objekt sein.")
            merged = merge_patch(current, data)
        else:
            merged = data
        new_content = validate_content(merged)
        new = new_content.model_dump(mode="json")
        changes = diff_content(current, new)
        if status is not None and status != profile.status:
            if status not in (S.DRAFT, S.PUBLISHED):
                raise ValidationFailed("Beim Import sind nur die Status Entwurf und veröffentlicht möglich.")
            if status == S.PUBLISHED and not allowed(actor, Action.IMPORT_PUBLISHED):
                raise PermissionDenied("Nur die Katalogredaktion darf Profile direkt veröffentlichen.")
            changes.append(FieldChange(field="status", old=profile.status.value, new=status.value))
        if not changes:
            return profile
        for name in CONTENT_FIELDS:
            setattr(profile, name, getattr(new_content, name))
        if status is not None and status != profile.status:
            profile.status = status
            if status == S.PUBLISHED:
                profile.published_at = utcnow()
        if provenance is not None:
            profile.provenance = provenance
        profile.refresh_derived()
        self._append_history(profile, actor, action, changes)
        await self._write(profile)
        return profile

    async def create_many(self, items: Sequence[NewProfile], actor: Principal, *, action: str = "import") -> BulkCreateResult:
        """Create many profiles with two bulk writes (for imports).

        Each item comes with the slug to use (the caller has checked it is
        free). One `$inc` reserves a block of outbox sequence numbers, the
        outbox entries go in with one insert_many *before* the profiles (as
        in `create`), then the profiles with one unordered insert_many. An
        item whose slug was taken meanwhile is retried through `create`
        (next free slug, or a ValidationFailed for a fixed slug), so one
        clash never fails the others. Results are in the order of `items`.
        """
        if not items:
            return BulkCreateResult([], None)
        if not allowed(actor, Action.CREATE):
            raise PermissionDenied("Sie dürfen keine Profile anlegen.")
        if any(i.status == S.PUBLISHED for i in items) and not allowed(actor, Action.IMPORT_PUBLISHED):
            raise PermissionDenied("Nur die Katalogredaktion darf Profile direkt veröffentlichen.")
        if any(i.status not in (S.DRAFT, S.PUBLISHED, S.SUBMITTED) for i in items):
            raise ValidationFailed("Neue Profile beginnen als Entwurf, eingereicht oder veröffentlicht.")
        now = utcnow()
        profiles: list[Profile] = []
        for item in items:
            data = item.content.model_dump(mode="json")
            changes = [*diff_content({}, data), FieldChange(field="status", old=None, new=item.status.value)]
            profile = Profile.model_construct(
                id=item.id or PydanticObjectId(),
                revision_id=uuid4(),
                slug=item.slug,
                status=item.status,
                owner=item.owner or actor.username,
                provenance=item.provenance,
                review_comments=[],
                created_at=now,
                updated_at=now,
                published_at=now if item.status == S.PUBLISHED else None,
                confirmed_at=None,
                version=1,
                history=[VersionEntry(number=1, at=now, by=actor.username, action=action, changes=changes)],
                **{name: getattr(item.content, name) for name in CONTENT_FIELDS},
            )
            profile.refresh_derived()
            profiles.append(profile)
        last = await reserve_sequence("outbox", len(profiles))
        first = last - len(profiles) + 1
        await OutboxEntry.get_pymongo_collection().insert_many(
            [
                {"seq": first + n, "profile_id": str(p.id), "slug": p.slug, "op": "upsert", "version": p.version, "created_at": now,
                 "attempts": 0, "next_attempt_at": now, "last_error": None, "done": False}
                for n, p in enumerate(profiles)
            ],
            ordered=True,
        )
        failed: set[int] = set()
        try:
            await Profile.get_pymongo_collection().insert_many([_to_db(p) for p in profiles], ordered=False)
        except BulkWriteError as exc:
            for err in exc.details.get("writeErrors", []):
                if err.get("code") != 11000:
                    raise
                failed.add(int(err["index"]))
        out: list[Profile | CatalogueError] = []
        for n, (item, profile) in enumerate(zip(items, profiles, strict=True)):
            if n not in failed:
                out.append(profile)
                continue
            try:
                out.append(
                    await self.create(
                        item.content, actor, provenance=item.provenance, status=item.status, action=action,
                        slug=item.slug if item.fixed_slug else None,
                    )
                )
            except CatalogueError as exc:
                out.append(exc)
        self._on_change()
        return BulkCreateResult(out, (first, last))

    async def transition(
        self,
        slug: str,
        action: Action,
        actor: Principal,
        *,
        comment: str | None = None,
        if_match: str | None = None,
    ) -> Profile:
        if action not in TRANSITIONS:
            raise ValidationFailed(f"Unbekannte Aktion {action}.")
        profile = await self.get(slug, actor)
        if not allowed(actor, action, owner=profile.owner, status=profile.status):
            raise PermissionDenied(f"Sie dürfen dieses Profil nicht {TRANSITION_LABELS[action]}.")
        sources, target = TRANSITIONS[action]
        if profile.status not in sources:
            raise InvalidTransition(
                f"Ein Profil im Status „{profile.status.value}“ kann man nicht {TRANSITION_LABELS[action]}.",
                current_status=profile.status.value,
            )
        _check_if_match(profile, if_match, required=False)
        comment = (comment or "").strip() or None
        if action == Action.RETURN and not comment:
            raise ValidationFailed(
                "Bitte begründen Sie die Rückgabe mit einem Kommentar.",
                errors=[{"field": "comment", "message": "Pflichtfeld fehlt"}],
            )
        if comment and len(comment) > 5000:
            raise ValidationFailed("Der Kommentar ist zu lang.", errors=[{"field": "comment", "message": "höchstens 5000 Zeichen"}])
        old = profile.status
        profile.status = target
        now = utcnow()
        if target == S.PUBLISHED:
            profile.published_at = now
        if comment:
            profile.review_comments.append(ReviewComment(at=now, by=actor.username, text=comment))
        self._append_history(
            profile, actor, action.value, [FieldChange(field="status", old=old.value, new=target.value)], comment=comment
        )
        await self._write(profile)
        return profile

    async def confirm(self, slug: str, actor: Principal) -> Profile:
        """The owner confirms the profile is still accurate."""
        profile = await self.get(slug, actor)
        if not allowed(actor, Action.CONFIRM, owner=profile.owner, status=profile.status):
            raise PermissionDenied("Nur die Verantwortlichen des Profils können es bestätigen.")
        old = profile.confirmed_at.isoformat() if profile.confirmed_at else None
        profile.confirmed_at = utcnow()
        self._append_history(profile, actor, "confirm", [FieldChange(field="confirmed_at", old=old, new=profile.confirmed_at.isoformat())])
        await self._write(profile)
        return profile

    async def history(self, slug: str, actor: Principal | None) -> Profile:
        profile = await self.get(slug, actor)
        if actor is None:
            raise NotAuthenticated("Die Versionsgeschichte sehen nur angemeldete Verantwortliche und die Katalogredaktion.")
        if not allowed(actor, Action.HISTORY, owner=profile.owner, status=profile.status):
            raise PermissionDenied("Die Versionsgeschichte sehen nur Verantwortliche und die Katalogredaktion.")
        return profile

    async def diff(self, slug: str, a: int, b: int, actor: Principal | None) -> list[FieldChange]:
        profile = await self.history(slug, actor)
        old, new = snapshot_at(profile, a), snapshot_at(profile, b)
        fields = list(dict.fromkeys([*old, *new]))
        return diff_content(old, new, fields)

    # ------------------------------------------------------------ helpers

    @staticmethod
    def _append_history(profile: Profile, actor: Principal, action: str, changes: list[FieldChange], comment: str | None = None) -> None:
        now = utcnow()
        profile.version += 1
        profile.updated_at = now
        profile.history.append(
            VersionEntry(number=profile.version, at=now, by=actor.username, action=action, comment=comment, changes=changes)
        )

    async def _write(self, profile: Profile) -> None:
        await outbox.enqueue(str(profile.id), profile.slug, version=profile.version)
        try:
            await profile.replace()
        except RevisionIdWasChanged:
            raise PreconditionFailed(
                "Das Profil wurde inzwischen von jemand anderem geändert. Bitte laden Sie es neu und übernehmen Sie Ihre Änderungen."
            ) from None
        self._on_change()


@dataclass
class NewProfile:
    """One profile for `ProfileService.create_many`."""

    content: ProfileContent
    slug: str
    status: S = S.DRAFT
    provenance: Provenance | None = None
    fixed_slug: bool = False  # the slug came with the data and must not change
    id: PydanticObjectId | None = None  # chosen by the caller, or new
    owner: str | None = None  # default: the actor (a reviewer confirming an editor's upload keeps the editor as owner)


@dataclass
class BulkCreateResult:
    items: list[Profile | CatalogueError]  # per input item: the new profile or why it failed
    outbox_seqs: tuple[int, int] | None  # the reserved block of outbox sequence numbers (inclusive)


async def reserve_sequence(name: str, n: int) -> int:
    """Atomically advance the counter `name` by `n`; returns the last number of the reserved block."""
    from pymongo import ReturnDocument

    doc = await Counter.get_pymongo_collection().find_one_and_update(
        {"name": name}, {"$inc": {"value": int(n)}}, upsert=True, return_document=ReturnDocument.AFTER
    )
    assert doc is not None  # upsert=True always returns the document
    return int(doc["value"])


def _to_db(profile: Profile) -> dict[str, Any]:
    """The stored form of a new profile, as Beanie's encoder would write it, about ten times faster.

    (tests/integration/test_import_runner.py checks it against `beanie.odm.utils.encoder.Encoder`.)
    """
    stored: dict[str, Any] = _bson_ready(profile.model_dump(by_alias=True))
    return stored


def _bson_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _bson_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_bson_ready(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time.min)
    if isinstance(value, UUID):
        return Binary.from_uuid(value)
    return value


def last_modified(profile: Profile) -> datetime:
    return profile.updated_at
