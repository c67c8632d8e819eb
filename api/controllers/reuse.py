"""JSON API for reuse: adoption ("Nachnutzung") records, stale profiles, saved searches."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.params import Body, FromPath, PathParameter, QueryParameter
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require_principal, resolve_principal
from catalogue import adoption, freshness, saved_searches
from catalogue.adoption import AdoptionIn, AdoptionService
from catalogue.errors import PermissionDenied
from catalogue.models import Profile, utcnow
from catalogue.profiles import ProfileService
from catalogue.users import UserOrganisation
from catalogue.vocabularies import AdoptionStage

SlugParam = Annotated[str, PathParameter(pattern=r"^[a-z0-9][a-z0-9-]{0,99}$", description="Slug des Profils")]
KeyParam = Annotated[str, PathParameter(pattern=r"^\d{2,12}$", description="Schlüssel der Kommune im Gemeindeverzeichnis (AGS/ARS)")]


class AdoptionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stage: AdoptionStage = Field(description="Stand der Nachnutzung")
    note: str = Field(default="", max_length=adoption.NOTE_MAX, description="Kurze Notiz")
    contact: str = Field(default="", max_length=adoption.CONTACT_MAX, description="Ansprechperson, E-Mail oder Telefon")
    organisation: str | None = Field(
        default=None, max_length=200, description="Kommune (Schlüssel oder Name); Standard: die Kommune Ihres Kontos"
    )


class HideRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hidden: bool = True
    reason: str = Field(default="", max_length=adoption.NOTE_MAX)


class AdopterOut(BaseModel):
    organisation: UserOrganisation
    stage: AdoptionStage
    note: str
    contact: str
    created_at: datetime
    updated_at: datetime
    hidden: bool = False


class AdoptionsOut(BaseModel):
    profile: str
    counts: dict[str, int] = Field(description="Kommunen je Stand (ausgeblendete Einträge zählen nicht)")
    adopters: list[AdopterOut]


class AdoptionOut(AdopterOut):
    profile: str
    recorded_by: str
    revision: int


class StaleItem(BaseModel):
    slug: str
    title: str
    owner: str | None
    confirmed_at: datetime | None = Field(description="zuletzt bestätigt (oder veröffentlicht)")
    url: str


class SavedSearchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="", max_length=saved_searches.NAME_MAX)
    query: str = Field(max_length=saved_searches.MAX_QUERY, description="Die Parameter der Suchseite, z. B. q=Rufbus&land=Bayern")


class SavedSearchOut(BaseModel):
    id: str
    name: str
    query: str
    url: str
    created_at: datetime
    last_sent_at: datetime | None = None


def adoption_service(request: Request) -> AdoptionService:
    rt = request.app.state.runtime
    return AdoptionService(base_url=request.app.state.settings.public_base_url, on_change=rt.notify_change, on_mail=rt.notify_mail)


async def adopters_view(profile: Profile, *, include_hidden: bool) -> tuple[dict[str, int], list[dict[str, Any]]]:
    summary = await adoption.summary_of(str(profile.id)) or {}
    entries = summary.get("entries") or {}
    return adoption.counts(entries), adoption.visible(entries, include_hidden=include_hidden)


def _saved_out(request: Request, s: saved_searches.SavedSearch) -> SavedSearchOut:
    base = request.app.state.settings.public_base_url
    return SavedSearchOut(
        id=s.id, name=s.name, query=s.query, url=f"{base}/?{s.query}", created_at=s.created_at, last_sent_at=s.last_sent_at
    )


class ReuseController(Controller):
    path = "/api/v1"
    tags = ["Nachnutzung und Aktualität"]

    @get("/profiles/{slug:str}/adoptions", operation_id="listAdoptions", summary="Kommunen, die das Projekt nachnutzen, mit Zahlen je Stand")
    async def list_adoptions(self, request: Request, slug: SlugParam) -> AdoptionsOut:
        principal = await resolve_principal(request)
        profile = await ProfileService().get(slug, principal)
        counts, shown = await adopters_view(profile, include_hidden=principal is not None and principal.is_reviewer)
        return AdoptionsOut(profile=profile.slug, counts=counts, adopters=[AdopterOut.model_validate(e) for e in shown])

    @post(
        "/profiles/{slug:str}/adoptions",
        operation_id="recordAdoption",
        summary="Nachnutzung der eigenen Kommune eintragen oder ändern (ein Eintrag je Kommune)",
        status_code=200,
    )
    async def record(
        self, request: Request, slug: SlugParam, data: Annotated[AdoptionRequest, Body(title="Nachnutzung")]
    ) -> Response[AdoptionOut]:
        principal = await require_principal(request)
        profile = await ProfileService().get(slug, principal)
        record, created = await adoption_service(request).record(profile, principal, AdoptionIn(**data.model_dump()))
        return Response(self._out(profile, record), status_code=201 if created else 200)

    @post(
        "/profiles/{slug:str}/adoptions/{key:str}/hide",
        operation_id="hideAdoption",
        summary="Eintrag ausblenden oder wieder zeigen (Katalogredaktion)",
        status_code=200,
    )
    async def hide(
        self, request: Request, slug: SlugParam, key: KeyParam, data: Annotated[HideRequest, Body(title="Ausblenden")]
    ) -> AdoptionOut:
        principal = await require_principal(request)
        profile = await ProfileService().get(slug, principal)
        record = await adoption_service(request).hide(profile, key, principal, hidden=data.hidden, reason=data.reason)
        return self._out(profile, record)

    @staticmethod
    def _out(profile: Profile, record: adoption.Adoption) -> AdoptionOut:
        return AdoptionOut(
            profile=profile.slug, organisation=record.organisation, stage=record.stage, note=record.note, contact=record.contact,
            created_at=record.created_at, updated_at=record.updated_at, hidden=record.hidden, recorded_by=record.recorded_by,
            revision=record.revision,
        )

    @get("/stale", operation_id="listStaleProfiles", summary="Seit 12 Monaten nicht bestätigte Profile (Katalogredaktion)")
    async def stale(
        self,
        request: Request,
        page: Annotated[int, QueryParameter(ge=1, le=1000)] = 1,
        per_page: Annotated[int, QueryParameter(ge=1, le=100)] = 50,
    ) -> list[StaleItem]:
        principal = await require_principal(request)
        if not principal.is_reviewer:
            raise PermissionDenied("Diese Liste sieht nur die Katalogredaktion.")
        listed = await freshness.stale_profiles(request.app.state.runtime.search, principal, now=utcnow(), page=page, per_page=per_page)
        base = request.app.state.settings.public_base_url
        return [
            StaleItem(slug=p.slug, title=p.title, owner=p.owner, confirmed_at=p.confirmed_at, url=f"{base}/profiles/{p.slug}")
            for p in listed.items
        ]

    @get("/saved-searches", operation_id="listSavedSearches", summary="Eigene gespeicherte Suchen")
    async def list_saved(self, request: Request) -> list[SavedSearchOut]:
        principal = await require_principal(request)
        return [_saved_out(request, s) for s in await saved_searches.list_for(principal.username)]

    @post("/saved-searches", operation_id="saveSearch", summary="Suche speichern (wöchentliche E-Mail-Übersicht)", status_code=201)
    async def save(self, request: Request, data: Annotated[SavedSearchIn, Body(title="Suche")]) -> SavedSearchOut:
        principal = await require_principal(request)
        return _saved_out(request, await saved_searches.save(principal.username, data.name, data.query))

    @delete("/saved-searches/{search_id:str}", operation_id="deleteSavedSearch", summary="Gespeicherte Suche löschen", status_code=204)
    async def delete_saved(self, request: Request, search_id: FromPath[str]) -> None:
        principal = await require_principal(request)
        await saved_searches.delete(principal.username, search_id)
