"""The profile lifecycle: create, edit, submit, publish, return, archive, restore.

Every edit and state change records a VersionEntry (who, when, which fields
changed, old and new values) in the profile (`last_change`) in the same
atomic document write, keeps every entry as a keyed `ProfileVersion`
(catalogue/history.py), and announces the change in the search outbox.

Reads go by `_id` only: a slug is a key document (`ProfileSlug`, old slugs
answer `ProfileMoved`), the profile is read by its id. Writes are a
compare-and-set on the profile's revision id (the ETag) through
`catalogue.atomic`: a stale If-Match gives 412; without one a lost race is
retried on the new state.
"""

from __future__ import annotations

import asyncio
import copy
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from typing import Any, TypeVar
from uuid import UUID, uuid4

from beanie import PydanticObjectId
from bson import Binary
from pydantic import ValidationError
from pymongo.errors import BulkWriteError, DuplicateKeyError

from catalogue import atomic, checklist, outbox, profile_keys
from catalogue import history as version_store
from catalogue.access import Action, allowed
from catalogue.errors import (
    CatalogueError,
    Conflict,
    InvalidTransition,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    PreconditionRequired,
    ProfileMoved,
    ValidationFailed,
    pydantic_errors,
)
from catalogue.history import diff_content
from catalogue.lru import LRU
from catalogue.models import (
    CONTENT_FIELDS,
    FieldChange,
    Profile,
    ProfileContent,
    ProfileSlug,
    Provenance,
    ReviewComment,
    VersionEntry,
    utcnow,
)
from catalogue.slugs import slug_candidates
from catalogue.storage import read_by_id
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

_CONTENT_INCLUDE: set[str] = set(CONTENT_FIELDS)  # (pydantic takes a set; never changed)


def content_dict(profile_or_content: Profile | ProfileContent) -> dict[str, Any]:
    """The content as JSON values, field by field in the registry's order (`CONTENT_FIELDS`).

    A profile's content fields and a `ProfileContent` hold validated values (parsed from the store,
    validated from a request, or taken from validated content), and validating a validated value again
    gives it back unchanged, so this is what validating them as `ProfileContent` once more and dumping
    that would give, without the second validation (tests/unit/test_content_dict.py).
    """
    return profile_or_content.model_dump(mode="json", include=_CONTENT_INCLUDE)


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


_Found = TypeVar("_Found")


async def _by_slug(slug: str, read: Callable[[Any], Awaitable[_Found | None]], located: Any = None) -> _Found:
    """What `read` gives for the profile a slug names (also an old slug): the slug key (remembered, see `SlugIds`),
    then `read` by `_id`; a remembered key that has gone stale is read afresh once. `located`: the id already known."""
    profile_id = located if located is not None else await SLUG_IDS.resolve(slug)
    found = await read(profile_id) if profile_id is not None else None
    if found is None and profile_id is not None and SLUG_IDS.forget(slug):
        profile_id = await SLUG_IDS.resolve(slug)  # the remembered key was stale: read it afresh
        found = await read(profile_id) if profile_id is not None else None
    if found is None:
        raise NotFound(f"Es gibt kein Profil „{slug}“.")
    SLUG_IDS.confirm(slug, profile_id)
    return found


class ProfileService:
    """All profile writes go through here. (Lists come from the search index: catalogue.listing.)"""

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self._on_change = on_change or (lambda: None)

    # ------------------------------------------------------------ reads

    async def locate(self, slug: str) -> Any:
        """The id of the profile a slug names, or None: remembered (`SlugIds`), else the slug key.

        For a read path that starts keyed reads of its own by the profile's id
        while `get(slug, actor, located=…)` reads and checks the profile (which
        settles whether that id still holds).
        """
        return await SLUG_IDS.resolve(slug)

    async def find(self, slug: str, *, located: Any = None) -> Profile:
        """The profile a slug names (also an old slug): the slug key (remembered, see `SlugIds`) and the profile, by `_id`.

        `located`: the id `locate(slug)` gave, so the key is not read twice.
        """
        return await _by_slug(slug, read_profile, located)

    async def find_head(self, slug: str, actor: Principal | None, fields: Sequence[str]) -> dict[str, Any]:
        """`get`'s checks on a projection of the profile: `fields` plus what the checks need, as stored (no model parse).

        For reads that only need a few fields (the cached PDF: its revision). One read by `_id` when the slug is remembered.
        """
        return self.head_viewed(await self.find_fields(slug, fields), slug, actor)

    async def find_fields(self, slug: str, fields: Sequence[str] | None) -> dict[str, Any]:
        """`find` without the model parse, unchecked: `fields` plus `_id`, slug, owner, status, version and
        revision_id, as stored (`fields` None: the whole document).

        The caller checks it (`head_viewed`), as `find`'s callers check with `viewed`.
        """
        wanted = dict.fromkeys((*fields, "slug", "owner", "status", "version", "revision_id"), 1) if fields is not None else None
        coll = Profile.get_pymongo_collection()

        async def read(profile_id: Any) -> dict[str, Any] | None:
            return await coll.find_one({"_id": profile_id}, wanted)

        return await _by_slug(slug, read)

    @staticmethod
    def head_viewed(doc: dict[str, Any], slug: str, actor: Principal | None) -> dict[str, Any]:
        """`viewed` for a projection `find_fields` gave."""
        if not allowed(actor, Action.VIEW, owner=doc.get("owner"), status=S(doc["status"])):
            raise NotFound(f"Es gibt kein Profil „{slug}“.")
        if doc.get("slug") != slug:
            raise ProfileMoved(slug, str(doc.get("slug")))
        return doc

    async def get(self, slug: str, actor: Principal | None, *, located: Any = None) -> Profile:
        return self.viewed(await self.find(slug, located=located), slug, actor)

    @staticmethod
    def viewed(profile: Profile, slug: str, actor: Principal | None) -> Profile:
        """`get`'s checks on a profile `find(slug)` gave: `actor` may see it, and `slug` is its current slug."""
        if not allowed(actor, Action.VIEW, owner=profile.owner, status=profile.status):
            # Do not reveal unpublished profiles to those who may not see them.
            raise NotFound(f"Es gibt kein Profil „{slug}“.")
        if profile.slug != slug:
            raise ProfileMoved(slug, profile.slug)
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
        now = utcnow()
        profile_id = PydanticObjectId()
        candidates = [slug] if slug else slug_candidates(content.title, content.lead.name if content.lead else None)
        for candidate in candidates:
            if not await reserve_slug(candidate, profile_id):
                if slug:
                    raise ValidationFailed(f"Der Slug „{slug}“ ist schon vergeben.", errors=[{"field": "slug", "message": "schon vergeben"}])
                continue
            entry = version_store.creation_entry(now, actor.username, action)  # compact: its changes are its state
            profile = Profile(
                id=profile_id,
                revision_id=uuid4(),
                slug=candidate,
                status=status,
                owner=actor.username,
                provenance=provenance,
                created_at=now,
                updated_at=now,
                published_at=now if status == S.PUBLISHED else None,
                version=1,
                last_change=entry,
                **content.model_dump(),
            )
            announced = await outbox.enqueue(str(profile_id), candidate, version=profile.version)
            await profile_keys.store(profile_keys.keys_of_profile(profile), profile_id)
            try:
                await Profile.get_pymongo_collection().insert_one(_to_db(profile))
            except DuplicateKeyError:
                # A profile without a slug key holds this slug (a database that was never migrated): give the key back.
                await atomic.delete_if(ProfileSlug.get_pymongo_collection(), candidate, {"profile_id": profile_id})
                if slug:
                    raise ValidationFailed(f"Der Slug „{slug}“ ist schon vergeben.") from None
                continue
            outbox.confirm_landed(announced.id)
            outbox.hand_over(profile, announced.id)
            await version_store.store(profile_id, entry, state_of(profile))
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
        read: Profile | None = None,
    ) -> Profile:
        """Change a profile's content.

        `data`: the new content (`partial=False`: a dict to validate, or validated `ProfileContent`),
        or a JSON Merge Patch of it (`partial=True`).
        `read`: the profile as the caller has just read it (`get(slug, actor)`, the web form's save):
        the first attempt starts from a copy of it instead of reading it again (a lost race reads afresh).

        Importers pass `provenance` (stored with the change, not a content
        field), `action="import"` for the history entry, and optionally a
        new `status` (only draft or published; publishing needs the
        IMPORT_PUBLISHED permission) recorded in the same history entry.
        """

        def check(profile: Profile) -> None:
            if not allowed(actor, Action.EDIT, owner=profile.owner, status=profile.status):
                if profile.status != S.DRAFT and profile.owner == actor.username:
                    raise InvalidTransition("Eingereichte oder veröffentlichte Profile kann nur die Katalogredaktion ändern.")
                raise PermissionDenied("Sie dürfen dieses Profil nicht bearbeiten.")
            if profile.status == S.ARCHIVED:
                raise InvalidTransition("Archivierte Profile müssen erst wiederhergestellt werden.")

        def apply(profile: Profile, current: dict[str, Any]) -> _Step | None:
            if partial:
                if not isinstance(data, dict):
                    raise ValidationFailed("Die Änderung muss ein JSON-Objekt sein.")
                new_content = validate_content(merge_patch(current, data))
            else:  # validated content (the API's PUT body) is taken as it is: validating it again would give it back
                new_content = data if isinstance(data, ProfileContent) else validate_content(data)
            new = content_dict(new_content)
            changes = diff_content(current, new)
            if status is not None and status != profile.status:
                if status not in (S.DRAFT, S.PUBLISHED):
                    raise ValidationFailed("Beim Import sind nur die Status Entwurf und veröffentlicht möglich.")
                if status == S.PUBLISHED and not allowed(actor, Action.IMPORT_PUBLISHED):
                    raise PermissionDenied("Nur die Katalogredaktion darf Profile direkt veröffentlichen.")
                changes.append(FieldChange(field="status", old=profile.status.value, new=status.value))
            if not changes:
                return None
            for change in changes:  # the fields that changed (the others hold equal values already)
                if change.field in _CONTENT_INCLUDE:
                    setattr(profile, change.field, getattr(new_content, change.field))
            if status is not None and status != profile.status:
                profile.status = status
                if status == S.PUBLISHED:
                    profile.published_at = utcnow()
            if provenance is not None:
                profile.provenance = provenance
            profile.refresh_derived()
            return _Step(action, changes, content=new)

        return await self._change(
            slug, actor, if_match=if_match, require_if_match=require_if_match, check=check, apply=apply, read=read
        )

    async def create_many(self, items: Sequence[NewProfile], actor: Principal, *, action: str = "import") -> BulkCreateResult:
        """Create many profiles with a few bulk writes (for imports).

        Each item comes with the slug to use (the caller has checked it is
        free). The slugs are reserved with one unordered insert of their key
        documents; one outbox entry naming them all goes in *before* the
        profiles (as in `create`), then the profiles with one unordered insert_many.
        Their first version documents are left to the next write of each
        profile (`_write` stores the version it replaces first; until then
        version 1 is the profile's `last_change` and its state the profile's:
        catalogue/history.py), which saves a document of the profile's size
        per imported profile. An item whose slug was taken
        meanwhile is retried through `create` (next free slug, or a
        ValidationFailed for a fixed slug), so one clash never fails the
        others. An item whose id and slug key exist from an earlier,
        interrupted run (ids chosen by the caller) counts as created.
        Results are in the order of `items`.
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
                last_change=version_store.creation_entry(now, actor.username, action),  # compact: its changes are its state
                **{name: getattr(item.content, name) for name in CONTENT_FIELDS},
            )
            profile.refresh_derived()
            profiles.append(profile)

        # 0. Claim the records' identities: of two imports of one record running at once, one creates it.
        lost = await profile_keys.claim([(p.provenance, p.id, p.owner) for p in profiles], now)
        # 1. Reserve the slugs; a clash sends the item through `create`.
        failed = await _reserve_slugs([(p.slug, p.id) for n, p in enumerate(profiles) if n not in lost], now)
        claimed = [n for n in range(len(profiles)) if n not in lost]
        failed = {claimed[i] for i in failed}
        writing = [n for n in claimed if n not in failed]
        # 2. Announce them in the outbox (one entry for all), before the profiles exist.
        entry = None
        if writing:
            entry = await outbox.enqueue_many([(str(profiles[n].id), profiles[n].slug, profiles[n].version) for n in writing])
        if writing:
            # 3. The keys an import finds them by, then the profiles.
            await profile_keys.store_many([(key, profiles[n].id) for n in writing for key in profile_keys.keys_of_profile(profiles[n])])
            existing: list[str] = []  # profiles an earlier, interrupted run had written (maybe changed since)
            stored = {n: _to_db(profiles[n]) for n in writing}
            clashes: list[int] = []
            try:
                await Profile.get_pymongo_collection().insert_many(list(stored.values()), ordered=False)
            except BulkWriteError as exc:
                for err in exc.details.get("writeErrors", []):
                    if err.get("code") != 11000:
                        raise
                    clashes.append(writing[int(err["index"])])
                for n in clashes:
                    if await Profile.get_pymongo_collection().find_one({"_id": profiles[n].id}, {"_id": 1}) is not None:
                        existing.append(str(profiles[n].id))
                        continue  # written by an earlier, interrupted run with the same id
                    # The slug belongs to a profile without a key (never migrated): give the key back.
                    await atomic.delete_if(ProfileSlug.get_pymongo_collection(), profiles[n].slug, {"profile_id": profiles[n].id})
                    failed.add(n)
            if entry is not None:  # the worker may index them now, from the documents it is given
                inserted = [stored[n] for n in writing if n not in clashes]
                await outbox.mark_landed(entry, existing, inserted, Profile.get_pymongo_collection().codec_options)
            # Their first versions are not written now: version 1 travels in the profile (`last_change`, its state is
            # the profile's), and its document is written before the second version's write (`_write`'s repair).
        out: list[Profile | CatalogueError] = []
        for n, (item, profile) in enumerate(zip(items, profiles, strict=True)):
            if n in lost:
                holder = lost[n]
                out.append(Conflict(
                    f"Derselbe Datensatz wurde gerade von einem anderen Import angelegt: „{holder}“."
                    if holder else "Derselbe Datensatz wird gerade von einem anderen Import angelegt."
                ))
                continue
            if n not in failed:
                out.append(profile)
                continue
            try:
                created = await self.create(
                    item.content, actor, provenance=item.provenance, status=item.status, action=action,
                    slug=item.slug if item.fixed_slug else None,
                )
            except CatalogueError as exc:
                await profile_keys.release(profile.provenance, profile.id, profile.owner)
                out.append(exc)
                continue
            await profile_keys.release(profile.provenance, profile.id, profile.owner, to=created.id)  # the claim names the profile written instead
            out.append(created)
        self._on_change()
        return BulkCreateResult(out, entry.seq if entry is not None else None)

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
        sources, target = TRANSITIONS[action]
        comment = (comment or "").strip() or None

        def check(profile: Profile) -> None:
            # Someone who could take this step from the right state learns that the state is wrong (409),
            # e.g. the owner whose concurrent submit lost; everyone else gets 403.
            could = any(allowed(actor, action, owner=profile.owner, status=source) for source in sources)
            if not could or (profile.status in sources and not allowed(actor, action, owner=profile.owner, status=profile.status)):
                raise PermissionDenied(f"Sie dürfen dieses Profil nicht {TRANSITION_LABELS[action]}.")
            if profile.status not in sources:
                raise InvalidTransition(
                    f"Ein Profil im Status „{profile.status.value}“ kann man nicht {TRANSITION_LABELS[action]}.",
                    current_status=profile.status.value,
                )

        def apply(profile: Profile, _content: dict[str, Any]) -> _Step:
            if action == Action.RETURN and not comment:
                raise ValidationFailed(
                    "Bitte begründen Sie die Rückgabe mit einem Kommentar.",
                    errors=[{"field": "comment", "message": "Pflichtfeld fehlt"}],
                )
            if comment and len(comment) > 5000:
                raise ValidationFailed("Der Kommentar ist zu lang.", errors=[{"field": "comment", "message": "höchstens 5000 Zeichen"}])
            if target == S.PUBLISHED:
                lacking = checklist.missing(profile)
                if lacking:
                    raise ValidationFailed(checklist.REFUSED.format(items=checklist.summary(lacking)), errors=checklist.errors(lacking))
            old = profile.status
            profile.status = target
            now = utcnow()
            if target == S.PUBLISHED:
                profile.published_at = now
            if comment:
                profile.review_comments.append(ReviewComment(at=now, by=actor.username, text=comment))
            return _Step(action.value, [FieldChange(field="status", old=old.value, new=target.value)], comment)

        return await self._change(slug, actor, if_match=if_match, require_if_match=False, check=check, apply=apply)

    async def confirm(self, slug: str, actor: Principal) -> Profile:
        """The owner confirms the profile is still accurate."""

        def check(profile: Profile) -> None:
            if not allowed(actor, Action.CONFIRM, owner=profile.owner, status=profile.status):
                raise PermissionDenied("Nur die Verantwortlichen des Profils können es bestätigen.")

        def apply(profile: Profile, _content: dict[str, Any]) -> _Step:
            old = profile.confirmed_at.isoformat() if profile.confirmed_at else None
            profile.confirmed_at = utcnow()
            return _Step("confirm", [FieldChange(field="confirmed_at", old=old, new=profile.confirmed_at.isoformat())])

        return await self._change(slug, actor, if_match=None, require_if_match=False, check=check, apply=apply)

    async def change_slug(self, slug: str, new_slug: str, actor: Principal, *, if_match: str | None = None) -> Profile:
        """Give a profile a new slug (editorial office). The old slug stays reserved and answers with a redirect."""
        new_slug = str(new_slug or "").strip()
        if not SLUG_RE.fullmatch(new_slug):
            raise ValidationFailed(
                "Ungültiger Slug.",
                errors=[{"field": "slug", "message": "1–100 Zeichen: Kleinbuchstaben a–z, Ziffern und Bindestriche, am Anfang ein Buchstabe oder eine Ziffer"}],
            )
        profile = await self.get(slug, actor)
        if not allowed(actor, Action.RENAME, owner=profile.owner, status=profile.status):
            raise PermissionDenied("Den Slug eines Profils ändert nur die Katalogredaktion.")
        if new_slug == profile.slug:
            return profile
        if not await reserve_slug(new_slug, profile.id):
            raise ValidationFailed(f"Der Slug „{new_slug}“ ist schon vergeben.", errors=[{"field": "slug", "message": "schon vergeben"}])

        def check(p: Profile) -> None:
            if not allowed(actor, Action.RENAME, owner=p.owner, status=p.status):
                raise PermissionDenied("Den Slug eines Profils ändert nur die Katalogredaktion.")

        def apply(p: Profile, _content: dict[str, Any]) -> _Step | None:
            if p.slug == new_slug:
                return None
            old, p.slug = p.slug, new_slug
            return _Step("rename", [FieldChange(field="slug", old=old, new=new_slug)])

        return await self._change(profile.slug, actor, if_match=if_match, require_if_match=False, check=check, apply=apply)

    # ------------------------------------------------------------ history

    async def history(self, slug: str, actor: Principal | None) -> Profile:
        """The profile, if `actor` may see its history."""
        return self.history_viewed(await self.get(slug, actor), actor)

    @staticmethod
    def history_viewed(profile: Profile, actor: Principal | None) -> Profile:
        """`history`'s checks on a profile `get` gave."""
        if actor is None:
            raise NotAuthenticated("Die Versionsgeschichte sehen nur angemeldete Verantwortliche und die Katalogredaktion.")
        if not allowed(actor, Action.HISTORY, owner=profile.owner, status=profile.status):
            raise PermissionDenied("Die Versionsgeschichte sehen nur Verantwortliche und die Katalogredaktion.")
        return profile

    async def versions(self, profile: Profile, *, page: int = 1, per_page: int = version_store.PAGE_SIZE) -> list[VersionEntry]:
        """One page of the history, newest first (reads only that page's keys)."""
        return await version_store.entries(profile, version_store.page_numbers(profile.version, page, per_page))

    async def version_state(self, profile: Profile, number: int) -> dict[str, Any]:
        """The profile's content and state as of version `number`."""
        if number < 1 or number > profile.version:
            raise NotFound(f"Version {number} gibt es nicht (vorhanden: 1–{profile.version}).")
        state = await version_store.state_at(profile, number, state_of(profile))
        if state is None:
            raise NotFound(f"Version {number} ist nicht gespeichert.")
        return state

    async def diff(self, slug: str, a: int, b: int, actor: Principal | None) -> list[FieldChange]:
        profile = await self.history(slug, actor)
        old, new = await self.version_state(profile, a), await self.version_state(profile, b)
        fields = list(dict.fromkeys([*old, *new]))
        return diff_content(old, new, fields)

    # ------------------------------------------------------------ helpers

    @staticmethod
    def _append_history(profile: Profile, actor: Principal, step: _Step) -> None:
        now = utcnow()
        profile.version += 1
        profile.updated_at = now
        profile.last_change = VersionEntry(
            number=profile.version, at=now, by=actor.username, action=step.action, comment=step.comment, changes=step.changes
        )

    async def _change(
        self,
        slug: str,
        actor: Principal,
        *,
        if_match: str | None,
        require_if_match: bool,
        check: Callable[[Profile], None],
        apply: Callable[[Profile, dict[str, Any]], _Step | None],
        read: Profile | None = None,
    ) -> Profile:
        """Read, check, change and write one profile with a compare-and-set on its revision.

        `check` raises when the actor may not act on the profile as it is;
        `apply` changes the profile (given with its content as `content_dict`
        gives it) and returns what to record (None: nothing changed, nothing
        is written). The write succeeds only if the profile
        still has the revision that was read. A client that sent an ETag gets
        412 when it lost; without one (or with `*`) the change is tried again
        on the new state, so concurrent transitions end in one transition and
        409 for the others. `read`: the profile `get(slug, actor)` gave the
        caller just now; the first attempt changes a copy of it (the caller's
        stays as it is) instead of reading it again.
        """
        pinned = if_match is not None and "*" not in [t.strip() for t in if_match.split(",")]
        for attempt in range(MAX_ATTEMPTS):
            profile = read.model_copy() if read is not None and attempt == 0 else await self.get(slug, actor)
            check(profile)
            _check_if_match(profile, if_match, require_if_match)
            content = content_dict(profile)
            before = _Before(
                profile.revision_id, profile.version, profile.last_change, state_of(profile, content), profile_keys.keys_of_profile(profile)
            )
            step = apply(profile, content)
            if step is None:
                return profile
            self._append_history(profile, actor, step)
            # the content after the step: the one it wrote, else unchanged (a transition, a confirmation, a new slug)
            if await self._write(profile, before, step.content if step.content is not None else content):
                return profile
            if pinned:
                break
        raise PreconditionFailed(
            "Das Profil wurde inzwischen von jemand anderem geändert. Bitte laden Sie es neu und übernehmen Sie Ihre Änderungen."
        )

    async def _write(self, profile: Profile, before: _Before, content: dict[str, Any] | None = None) -> bool:
        """Compare-and-set of the profile on the revision it was read with; False when someone else was faster.

        `content`: the profile's content as `content_dict` gives it, when the caller has it.

        Independent commands go together (three sequential round trips on the embedded store, see
        `atomic.replace_if`): the outbox sequence number beside the previous version document's repair
        and any new key; then, under the write lock, the entry's insert beside the read of the current
        revision; then the profile's replacement beside its new version document.
        """
        first: list[Awaitable[Any]] = [outbox.numbered(str(profile.id), profile.slug, version=profile.version)]
        if before.last_change is not None and before.last_change.number == before.version:
            # The previous write's version document, in case its process died before writing it.
            first.append(version_store.store(profile.id, before.last_change, before.state))
        profile.revision_id = uuid4()
        if new_keys := [k for k in profile_keys.keys_of_profile(profile) if k not in before.keys]:
            first.append(profile_keys.store(new_keys, profile.id))
        # (one command alone is awaited as it is: a gather would wrap it in a task of its own)
        announced = await first[0] if len(first) == 1 else (await asyncio.gather(*first))[0]
        entry = profile.last_change
        assert entry is not None
        state = state_of(profile, content)
        stored: list[bool] = []  # set once the version document is being written (the condition held)

        async def store_version() -> None:
            stored.append(True)
            await version_store.store(profile.id, entry, state)

        try:
            written = await atomic.replace_if(
                Profile.get_pymongo_collection(),
                profile.id,
                {"revision_id": atomic.stored(before.revision_id)},
                _to_db(profile),
                first=lambda: outbox.insert(announced),
                along=store_version,
            )
        except Exception:
            # The version document may have been written beside a replacement that failed: not taken for stored
            # (the write of this number that lands, or the repair before the next one, replaces it; nothing
            # reads a number above the profile's version meanwhile, see catalogue/history.py).
            if stored:
                version_store.forget(profile.id, entry.number)
            profile.revision_id = before.revision_id
            raise
        if not written:
            profile.revision_id = before.revision_id
            return False
        outbox.confirm_landed(announced.id)  # the request's read-your-writes wait need not read the version back
        outbox.hand_over(profile, announced.id)  # this process's worker indexes it without reading it back
        self._on_change()
        return True


MAX_ATTEMPTS = 8
SLUG_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")
# A slug key whose profile never came (its process died between reserving and writing) is free again after this.
STALE_RESERVATION = timedelta(minutes=10)


@dataclass
class _Step:
    """What a change records in the history."""

    action: str
    changes: list[FieldChange]
    comment: str | None = None
    content: dict[str, Any] | None = None  # the content the step wrote (`content_dict`); None: the content is unchanged


@dataclass
class _Before:
    """The profile as read, for the compare-and-set and the history repair."""

    revision_id: UUID | None
    version: int
    last_change: VersionEntry | None
    state: dict[str, Any]
    keys: list[str]  # catalogue.profile_keys of the profile as read


def state_of(profile: Profile, content: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a version records as the profile's state: content, status, slug, confirmation.

    `content`: the profile's `content_dict` when the caller has it already (not changed: the
    state is a dict of its own, its values are shared)."""
    state = dict(content) if content is not None else content_dict(profile)
    state["status"] = profile.status.value
    state["slug"] = profile.slug
    if profile.confirmed_at is not None:
        state["confirmed_at"] = profile.confirmed_at.isoformat()
    return state


def replay_states(entries: Sequence[VersionEntry | dict[str, Any]]) -> list[dict[str, Any]]:
    """The state after each entry of an embedded history, by replaying its changes (for migrating old data)."""
    state: dict[str, Any] = {}
    out = []
    for raw in entries:
        entry = raw if isinstance(raw, VersionEntry) else VersionEntry.model_validate(raw)
        for change in entry.changes:
            state[change.field] = copy.deepcopy(change.new)
        out.append(copy.deepcopy(state))
    return out


async def read_profile(profile_id: Any) -> Profile | None:
    """The profile with this `_id` (`storage.read_by_id`: one keyed read without Beanie's layers)."""
    return await read_by_id(Profile, profile_id)


class SlugIds:
    """Slug → profile id, remembered per process (and database) once the profile was found.

    A slug key names one profile for good: it is re-pointed only when the
    profile it names does not exist (an orphaned reservation, see
    `_reserve_slugs`), and an old slug keeps naming its profile (a redirect).
    So a remembered id is checked by reading the profile anyway: when that
    profile is missing the entry is forgotten and the key read afresh. This
    saves one store round-trip on every read by slug.
    """

    def __init__(self, size: int = 100_000) -> None:
        self._ids: LRU[tuple[str, str], Any] = LRU(size)

    @staticmethod
    def _slot(slug: str) -> tuple[str, str]:
        return ProfileSlug.get_pymongo_collection().database.name, str(slug)

    async def resolve(self, slug: str) -> Any:
        known = self._ids.get(self._slot(slug))
        return known if known is not None else await resolve_slug(slug)

    def confirm(self, slug: str, profile_id: Any) -> None:
        self._ids.put(self._slot(slug), profile_id)

    def forget(self, slug: str) -> bool:
        """Drop a remembered id; True when there was one."""
        return self._ids.discard(self._slot(slug))

    def clear(self) -> None:
        self._ids.clear()


SLUG_IDS = SlugIds()


async def resolve_slug(slug: str) -> PydanticObjectId | None:
    """The id of the profile a slug names (also an old slug), by key."""
    doc = await ProfileSlug.get_pymongo_collection().find_one({"_id": str(slug)})
    return doc["profile_id"] if doc is not None else None


async def reserve_slug(slug: str, profile_id: Any) -> bool:
    """Reserve `slug` for `profile_id`; True when it is (now, or already) this profile's, False when taken."""
    return not await _reserve_slugs([(slug, profile_id)], utcnow())


async def _reserve_slugs(pairs: Sequence[tuple[str, Any]], now: datetime) -> set[int]:
    """Insert slug keys; returns the positions that could not be reserved (taken by another profile)."""
    coll = ProfileSlug.get_pymongo_collection()
    docs = [{"_id": s, "profile_id": pid, "reserved_at": now} for s, pid in pairs]
    clashes: list[int] = []
    if not docs:
        return set()
    if len(docs) == 1:
        if not await atomic.insert(coll, docs[0]):
            clashes.append(0)
    else:
        try:
            await coll.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            for err in exc.details.get("writeErrors", []):
                if err.get("code") != 11000:
                    raise
                clashes.append(int(err["index"]))
    failed: set[int] = set()
    for n in clashes:
        slug, pid = pairs[n]
        existing = await coll.find_one({"_id": slug})
        if existing is None:  # released meanwhile
            if await atomic.insert(coll, docs[n]):
                continue
            failed.add(n)
            continue
        if existing["profile_id"] == pid:
            continue  # ours already (a retried import, or renaming back to an old slug)
        reserved = existing.get("reserved_at")
        stale = reserved is not None and _aware(reserved) + STALE_RESERVATION < now
        orphan = stale and await Profile.get_pymongo_collection().find_one({"_id": existing["profile_id"]}, {"_id": 1}) is None
        # Taken over with a compare-and-set on the holder: of two takers one wins.
        if orphan and await atomic.update_if(
            coll, slug, {"profile_id": existing["profile_id"]}, {"$set": {"profile_id": pid, "reserved_at": now}}
        ):
            continue
        failed.add(n)
    return failed


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


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
    outbox_seq: int | None  # the outbox entry that announces them (None: nothing written in bulk)


def _to_db(profile: Profile) -> dict[str, Any]:
    """The stored form of a profile, as Beanie's encoder would write it (with the revision), about ten times faster.

    (tests/integration/test_import_runner.py checks it against `beanie.odm.utils.encoder.Encoder`.)
    """
    doc = profile.model_dump(by_alias=True)
    doc["revision_id"] = profile.revision_id  # excluded from model_dump by Beanie; it is the ETag
    stored: dict[str, Any] = _bson_ready(doc)
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
