"""JSON API for profiles: list, read, create, update, workflow, versions."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from litestar import Controller, MediaType, Request, Response, get, patch, post, put
from litestar.openapi.spec import Example
from litestar.params import Body, BodyKwarg, FromPath, FromQuery, HeaderParameter, PathParameter, QueryParameter
from litestar.serialization import encode_json, get_serializer

from api.auth import require_principal, resolve_principal
from api.controllers.opendata import profile_jsonld_response
from api.schemas import (
    PROFILE_EXAMPLE,
    DiffOut,
    ProfileList,
    ProfileOut,
    SlugIn,
    TransitionIn,
    VersionOut,
    profile_list_item,
    profile_out,
    version_out,
)
from catalogue.access import Action
from catalogue.atomic import plain as stored_plain
from catalogue.errors import NotAuthenticated
from catalogue.listing import list_profiles
from catalogue.lru import LRU
from catalogue.models import Profile, ProfileContent
from catalogue.profiles import ProfileService, etag
from catalogue.search.base import MAX_PAGE, Sort
from catalogue.users import Principal
from catalogue.vocabularies import EditorialStatus, FederalState, FieldOfAction, LegalForm, ProjectStatus, SizeClass

T = TypeVar("T")

SlugParam = Annotated[str, PathParameter(pattern=r"^[a-z0-9][a-z0-9-]{0,99}$", description="Slug des Profils")]
SlugOrJsonLd = Annotated[str, PathParameter(pattern=r"^[a-z0-9][a-z0-9-]{0,99}(\.jsonld)?$", description="Slug des Profils")]
IfMatch = Annotated[str | None, HeaderParameter(name="If-Match", required=False, description="ETag aus einer vorherigen Antwort")]
Comment = Annotated[TransitionIn | None, BodyKwarg(title="Kommentar", description="Optional; bei „return“ Pflicht")]


def service(request: Request) -> ProfileService:
    return ProfileService(on_change=request.app.state.runtime.notify_change)


def base_url(request: Request) -> str:
    return request.app.state.settings.public_base_url


def _sees_private(principal: Principal | None, owner: str | None) -> bool:
    """Whether the caller gets the private view of a profile (owner, provenance, review comments)."""
    return principal is not None and (principal.is_reviewer or principal.username == owner)


def _out(request: Request, profile: Profile, principal: Principal | None) -> ProfileOut:
    return profile_out(profile, base_url(request), include_private=_sees_private(principal, profile.owner))


async def caller_and(request: Request, read: Awaitable[T]) -> tuple[Principal | None, T]:
    """The caller and what `read` gives (a keyed read of the profile, unchecked), read side by side.

    The caller's token or session and the slug key and profile are keyed reads
    that do not depend on each other. The caller's error comes first, as if
    read one after the other; the caller of this checks the profile
    (`ProfileService.viewed`, `ProfileService.head_viewed`).
    """
    principal, found = await asyncio.gather(resolve_principal(request), read, return_exceptions=True)
    if isinstance(principal, BaseException):
        raise principal
    if isinstance(found, BaseException):
        raise found
    return principal, found


async def caller_and_profile(request: Request, svc: ProfileService, slug: str) -> tuple[Principal | None, Profile]:
    """The caller and the profile a slug names (unchecked), read side by side (`caller_and`)."""
    return await caller_and(request, svc.find(slug))


PROFILE_BODIES_MAX = 1024
# The API read's encoded body per (profile id, revision, private view, base URL). The revision (the ETag) is
# new with every write of the profile, so a body is never served for an older state; the caller's access is
# checked on the stored document before the lookup, and the private view (owner, provenance, review comments)
# has its own entry.
PROFILE_BODIES: LRU[tuple[str, str, bool, str], bytes] = LRU(PROFILE_BODIES_MAX)


def _with_etag(content: Any, profile: Profile, status_code: int = 200, extra: dict[str, str] | None = None) -> Response:
    return Response(content=content, status_code=status_code, headers={"ETag": etag(profile), **(extra or {})})


class ProfileController(Controller):
    path = "/api/v1/profiles"
    tags = ["Profile"]

    @get(
        operation_id="listProfiles",
        summary="Profile auflisten (mit Filtern und Seiten)",
        description=(
            "Anonyme Aufrufe sehen veröffentlichte Profile; angemeldete zusätzlich ihre eigenen, die Katalogredaktion alle. "
            "Die Liste kommt aus dem Suchindex; das vollständige Profil steht unter `links_self`."
        ),
    )
    async def list_profiles(
        self,
        request: Request,
        status: FromQuery[EditorialStatus | None] = None,
        federal_state: Annotated[FederalState | None, QueryParameter(name="state", description="Bundesland")] = None,
        field_of_action: Annotated[FieldOfAction | None, QueryParameter(name="field", description="Handlungsfeld")] = None,
        size_class: FromQuery[SizeClass | None] = None,
        legal_form: FromQuery[LegalForm | None] = None,
        project_status: FromQuery[ProjectStatus | None] = None,
        mine: Annotated[bool, QueryParameter(description="Nur eigene Profile (Anmeldung nötig)")] = False,
        sort: Annotated[
            str,
            QueryParameter(
                pattern=r"^-?(updated|newest|created|title)$",
                description="updated, newest, created, title; mit vorangestelltem - umgekehrt",
            ),
        ] = "updated",
        page: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE)] = 1,
        per_page: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
    ) -> ProfileList:
        principal = await resolve_principal(request)
        if mine and principal is None:
            raise NotAuthenticated("Für die eigenen Profile müssen Sie angemeldet sein.")
        facets = {
            "state": federal_state,
            "fields_of_action": field_of_action,
            "size_class": size_class,
            "legal_form": legal_form,
            "project_status": project_status,
        }
        found = await list_profiles(
            request.app.state.runtime.search,
            principal,
            status=status,
            owner=principal.username if mine and principal is not None else None,
            filters={name: [str(value)] for name, value in facets.items() if value is not None},
            sort=Sort(sort),
            page=page,
            per_page=per_page,
        )
        base = base_url(request)
        items = [
            profile_list_item(
                p, base, include_private=principal is not None and (principal.is_reviewer or principal.username == p.owner)
            )
            for p in found.items
        ]
        return ProfileList(items=items, total=found.total, page=page, per_page=per_page)

    @post(operation_id="createProfile", summary="Profil als Entwurf anlegen", status_code=201)
    async def create_profile(
        self,
        request: Request,
        data: Annotated[ProfileContent, Body(title="Profil", examples=[Example(summary="Erfundenes Beispiel", value=PROFILE_EXAMPLE)])],
    ) -> Response[ProfileOut]:
        principal = await require_principal(request)
        profile = await service(request).create(data, principal)
        body = _out(request, profile, principal)
        return _with_etag(body, profile, 201, {"Location": body.links_self})

    @get(
        "/{slug:str}",
        operation_id="getProfile",
        summary="Ein Profil lesen",
        description="Mit der Endung `.jsonld` (`/api/v1/profiles/{slug}.jsonld`): schema.org-JSON-LD des Profils.",
    )
    async def get_profile(self, request: Request, slug: SlugOrJsonLd) -> Response[ProfileOut]:
        if slug.endswith(".jsonld"):  # Litestar cannot route "{slug}.jsonld" beside "{slug}"
            return await profile_jsonld_response(request, slug.removesuffix(".jsonld"))
        svc = service(request)
        # the stored document as it is (one keyed read); the model is parsed only when its body is not cached
        principal, found = await caller_and(request, svc.find_fields(slug, None))
        stored = svc.head_viewed(found, slug, principal)
        tag = f'"{stored_plain(stored["revision_id"])}"'  # = etag(profile)
        if request.headers.get("if-none-match") == tag:
            return Response(content=None, status_code=304, headers={"ETag": tag})
        private = _sees_private(principal, stored.get("owner"))
        key = (str(stored["_id"]), tag, private, base_url(request))
        body = PROFILE_BODIES.get(key)
        if body is None:
            out = profile_out(Profile.model_validate(stored), key[3], include_private=private)
            body = encode_json(out, get_serializer(request.route_handler.resolve_type_encoders()))
            if stored.get("revision_id") is not None:  # (every stored profile has one since the layout migration)
                PROFILE_BODIES.put(key, body)
        return Response(content=body, media_type=MediaType.JSON, headers={"ETag": tag})

    @put("/{slug:str}", operation_id="replaceProfile", summary="Profil vollständig ersetzen (If-Match erforderlich)")
    async def replace_profile(
        self,
        request: Request,
        slug: SlugParam,
        data: Annotated[ProfileContent, Body(title="Profil", examples=[Example(summary="Erfundenes Beispiel", value=PROFILE_EXAMPLE)])],
        if_match: IfMatch = None,
    ) -> Response[ProfileOut]:
        principal = await require_principal(request)
        profile = await service(request).update(slug, principal, data, if_match=if_match, partial=False)
        return _with_etag(_out(request, profile, principal), profile)

    @patch(
        "/{slug:str}",
        operation_id="patchProfile",
        summary="Profil teilweise ändern (JSON Merge Patch, If-Match erforderlich)",
    )
    async def patch_profile(
        self,
        request: Request,
        slug: SlugParam,
        data: Annotated[
            dict[str, Any],
            Body(
                title="Änderung",
                description="JSON Merge Patch (RFC 7396) über die Felder des Profils; null entfernt einen Wert.",
                examples=[Example(summary="Titel ändern", value={"title": "Neuer Titel", "contact": {"phone": "05271 965-0"}})],
            ),
        ],
        if_match: IfMatch = None,
    ) -> Response[ProfileOut]:
        principal = await require_principal(request)
        profile = await service(request).update(slug, principal, data, if_match=if_match, partial=True)
        return _with_etag(_out(request, profile, principal), profile)

    async def _transition(self, request: Request, slug: str, action: Action, data: TransitionIn | None, if_match: str | None) -> Response:
        principal = await require_principal(request)
        comment = data.comment if data else None
        profile = await service(request).transition(slug, action, principal, comment=comment, if_match=if_match)
        return _with_etag(_out(request, profile, principal), profile)

    @post("/{slug:str}/submit", operation_id="submitProfile", summary="Entwurf zur Prüfung einreichen", status_code=200)
    async def submit(self, request: Request, slug: SlugParam, data: Comment = None, if_match: IfMatch = None) -> Response[ProfileOut]:
        return await self._transition(request, slug, Action.SUBMIT, data, if_match)

    @post("/{slug:str}/publish", operation_id="publishProfile", summary="Eingereichtes Profil veröffentlichen", status_code=200)
    async def publish(self, request: Request, slug: SlugParam, data: Comment = None, if_match: IfMatch = None) -> Response[ProfileOut]:
        return await self._transition(request, slug, Action.PUBLISH, data, if_match)

    @post("/{slug:str}/return", operation_id="returnProfile", summary="Eingereichtes Profil mit Kommentar zurückgeben", status_code=200)
    async def return_(self, request: Request, slug: SlugParam, data: Comment = None, if_match: IfMatch = None) -> Response[ProfileOut]:
        return await self._transition(request, slug, Action.RETURN, data, if_match)

    @post("/{slug:str}/archive", operation_id="archiveProfile", summary="Profil archivieren", status_code=200)
    async def archive(self, request: Request, slug: SlugParam, data: Comment = None, if_match: IfMatch = None) -> Response[ProfileOut]:
        return await self._transition(request, slug, Action.ARCHIVE, data, if_match)

    @post("/{slug:str}/restore", operation_id="restoreProfile", summary="Archiviertes Profil als Entwurf wiederherstellen", status_code=200)
    async def restore(self, request: Request, slug: SlugParam, data: Comment = None, if_match: IfMatch = None) -> Response[ProfileOut]:
        return await self._transition(request, slug, Action.RESTORE, data, if_match)

    @post("/{slug:str}/confirm", operation_id="confirmProfile", summary="Aktualität des Profils bestätigen", status_code=200)
    async def confirm(self, request: Request, slug: SlugParam) -> Response[ProfileOut]:
        principal = await require_principal(request)
        profile = await service(request).confirm(slug, principal)
        return _with_etag(_out(request, profile, principal), profile)

    @post(
        "/{slug:str}/slug",
        operation_id="changeProfileSlug",
        summary="Slug des Profils ändern (Katalogredaktion); der alte leitet dauerhaft weiter",
        status_code=200,
    )
    async def change_slug(
        self, request: Request, slug: SlugParam, data: Annotated[SlugIn, Body(title="Neuer Slug")], if_match: IfMatch = None
    ) -> Response[ProfileOut]:
        principal = await require_principal(request)
        profile = await service(request).change_slug(slug, data.slug, principal, if_match=if_match)
        body = _out(request, profile, principal)
        return _with_etag(body, profile, extra={"Content-Location": body.links_self})

    @get(
        "/{slug:str}/versions",
        operation_id="listProfileVersions",
        summary="Versionsgeschichte, neueste zuerst, seitenweise",
        description="Die Antwort-Header `X-Total-Count` (Zahl der Versionen) und `Link` (rel=next) helfen beim Blättern.",
    )
    async def versions(
        self,
        request: Request,
        slug: SlugParam,
        page: Annotated[int, QueryParameter(ge=1, le=100_000)] = 1,
        per_page: Annotated[int, QueryParameter(ge=1, le=100)] = 50,
    ) -> Response[list[VersionOut]]:
        svc = service(request)
        principal, found = await caller_and_profile(request, svc, slug)
        profile = svc.history_viewed(svc.viewed(found, slug, principal), principal)
        entries = await svc.versions(profile, page=page, per_page=per_page)
        headers = {"X-Total-Count": str(profile.version)}
        if page * per_page < profile.version:
            headers["Link"] = f'<{request.url.path}?page={page + 1}&per_page={per_page}>; rel="next"'
        return Response([version_out(e) for e in entries], headers=headers)

    @get("/{slug:str}/versions/{number:int}", operation_id="getProfileVersion", summary="Inhalt einer Version")
    async def version(self, request: Request, slug: SlugParam, number: FromPath[int]) -> dict[str, Any]:
        principal = await resolve_principal(request)
        svc = service(request)
        profile = await svc.history(slug, principal)
        return {"slug": profile.slug, "number": number, "content": await svc.version_state(profile, number)}

    @get("/{slug:str}/diff", operation_id="diffProfileVersions", summary="Unterschiede zwischen zwei Versionen")
    async def diff(
        self,
        request: Request,
        slug: SlugParam,
        from_version: Annotated[int, QueryParameter(name="from", ge=1)],
        to_version: Annotated[int, QueryParameter(name="to", ge=1)],
    ) -> DiffOut:
        principal = await resolve_principal(request)
        changes = await service(request).diff(slug, from_version, to_version, principal)
        return DiffOut(slug=slug, from_version=from_version, to_version=to_version, changes=changes)
