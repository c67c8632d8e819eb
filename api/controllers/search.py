"""Search API: full-text search with facets, similar profiles, "Kommunen wie meine"."""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any, Literal

from litestar import Controller, MediaType, Request, Response, get
from litestar.params import FromQuery, QueryParameter
from litestar.serialization import encode_json
from pydantic import BaseModel

from api.auth import resolve_principal
from api.controllers.profiles import SlugParam, caller_and
from catalogue.access import principal_labels
from catalogue.errors import DependencyUnavailable, PermissionDenied, ValidationFailed
from catalogue.fields import KREIS_KEY, REGIERUNGSBEZIRK_KEY
from catalogue.models import utcnow
from catalogue.profiles import ProfileService
from catalogue.search.base import MAX_FILTER_VALUES, SearchError, SearchQuery, SearchResult, Sort
from catalogue.search.comparable import Comparable, Reference, find_comparable, stored_reference
from catalogue.search.documents import ADOPTION_STAGES, FACET_LABELS
from catalogue.search.url_state import freshness_bounds
from catalogue.vocabularies import (
    AdoptionStage,
    EditorialStatus,
    FederalState,
    FieldOfAction,
    FundingKind,
    LegalForm,
    OrganisationKind,
    ProjectStatus,
    Role,
    SizeClass,
    TransferabilityRating,
)

log = logging.getLogger("leuchtturm.search")

EXPLAIN_ROLES = frozenset({Role.EDITOR, Role.REVIEWER, Role.ADMIN})  # the editorial staff, not anonymous readers
MAX_NAME = 200  # a value of a register facet (Kreis, Regierungsbezirk): a name from the register, as the facet lists it
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _register_names(param: str, values: list[str] | None) -> list[str] | None:
    """The values of a register facet's parameter, or a problem naming the parameter."""
    if not values:
        return None
    clean = [v.strip() for v in values]
    for v in clean:
        if not v or len(v) > MAX_NAME or _CONTROL.search(v):
            raise ValidationFailed(
                f"Ungültiger Wert für „{param}“: erwartet ein Name aus dem Gemeindeverzeichnis (1 bis {MAX_NAME} Zeichen).",
                errors=[{"field": param, "message": "Name fehlt, ist zu lang oder enthält Steuerzeichen"}],
            )
    return clean


class FacetValue(BaseModel):
    value: str
    count: int


class Facet(BaseModel):
    name: str
    label: str
    values: list[FacetValue]


class SearchHit(BaseModel):
    slug: str
    title: str
    summary: str
    score: float
    snippets: dict[str, str]
    lead: str | None = None
    state: str | None = None
    population: int | None = None
    size_class: str | None = None
    fields_of_action: list[str] = []
    project_status: str | None = None
    url: str
    api_url: str
    explanation: dict[str, Any] | None = None  # with explain=true: which terms, synonyms, compound parts and boosts matched


class SearchResponse(BaseModel):
    total: int
    page: int
    per_page: int
    pages: int
    hits: list[SearchHit]
    facets: list[Facet]


class ComparableItem(BaseModel):
    slug: str
    title: str
    score: float
    reasons: list[str]
    parts: dict[str, float]
    state: str | None = None
    population: int | None = None
    url: str


class ComparableResponse(BaseModel):
    items: list[ComparableItem]
    score_formula: str = "0.30·Handlungsfelder + 0.20·Stichworte + 0.25·Text + 0.15·Größe + 0.10·Bundesland"


def _lead_name(doc: dict[str, Any]) -> str | None:
    lead = doc.get("lead")
    if isinstance(lead, dict):
        return lead.get("name")
    return lead if isinstance(lead, str) else None


# The responses below are built as plain JSON values and encoded at once (`_json`) instead of as the models above,
# which stay the API's documented schema: a search answers with 20 hits and some 60 facet values, and validating each
# as a model, then dumping it again, cost more CPU than the rest of the handler. The values are those the models would
# hold, keys in the models' field order (tests/integration/test_api_search.py checks both against the models).


def _hit(base: str, hit: Any) -> dict[str, Any]:
    """A `SearchHit` as JSON values."""
    d = hit.document
    return {
        "slug": hit.slug,
        "title": hit.title,
        "summary": str(d.get("summary") or ""),
        "score": round(float(hit.score), 4),
        "snippets": hit.snippets,
        "lead": _lead_name(d),
        "state": d.get("state"),
        "population": d.get("population"),
        "size_class": d.get("size_class"),
        "fields_of_action": list(d.get("fields_of_action") or []),
        "project_status": d.get("project_status"),
        "url": f"{base}/profiles/{hit.slug}",
        "api_url": f"{base}/api/v1/profiles/{hit.slug}",
        "explanation": hit.explanation,
    }


def search_body(base: str, result: SearchResult) -> dict[str, Any]:
    """A `SearchResponse` as JSON values: the page of hits and the facets, each value with its count, most first."""
    return {
        "total": result.total,
        "page": result.page,
        "per_page": result.per_page,
        "pages": result.pages,
        "hits": [_hit(base, h) for h in result.hits],
        "facets": [
            {
                "name": name,
                "label": FACET_LABELS.get(name, name),
                "values": [{"value": v, "count": n} for v, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))],
            }
            for name, counts in result.facets.items()
        ],
    }


def _comparable(base: str, c: Comparable) -> dict[str, Any]:
    """A `ComparableItem` as JSON values."""
    d = c.document
    return {
        "slug": d["slug"],
        "title": d.get("title") or d["slug"],
        "score": round(c.score, 4),
        "reasons": c.reasons,
        "parts": {k: round(v, 4) for k, v in c.parts.items()},
        "state": d.get("state"),
        "population": d.get("population"),
        "url": f"{base}/profiles/{d['slug']}",
    }


SCORE_FORMULA: str = ComparableResponse.model_fields["score_formula"].default


def _comparable_response(base: str, found: list[Comparable]) -> Response[ComparableResponse]:
    return _json({"items": [_comparable(base, c) for c in found], "score_formula": SCORE_FORMULA})


def _json(data: dict[str, Any]) -> Response[Any]:
    """A 200 JSON response of plain values, encoded as Litestar encodes a handler's return value."""
    return Response(content=encode_json(data), media_type=MediaType.JSON)


async def _guarded(coro):  # noqa: ANN001, ANN202
    try:
        return await coro
    except SearchError as exc:
        log.warning("search backend failed: %s", exc)
        raise DependencyUnavailable("Die Suche ist gerade nicht erreichbar. Bitte versuchen Sie es gleich noch einmal.") from exc


class SearchController(Controller):
    path = "/api/v1"
    tags = ["Suche"]

    @get("/search", operation_id="searchProfiles", summary="Veröffentlichte Profile durchsuchen (Facetten, Filter, Hervorhebungen)")
    async def search(
        self,
        request: Request,
        q: Annotated[str, QueryParameter(max_length=500, description="Suchtext; Tippfehler, Beugungen und Komposita werden verziehen")] = "",
        field_of_action: Annotated[list[FieldOfAction] | None, QueryParameter(name="field", description="Handlungsfeld (mehrfach möglich)")] = None,
        federal_state: Annotated[list[FederalState] | None, QueryParameter(name="state", description="Bundesland (mehrfach möglich)")] = None,
        size_class: Annotated[list[SizeClass] | None, QueryParameter(name="size_class")] = None,
        legal_form: Annotated[list[LegalForm] | None, QueryParameter(name="legal_form")] = None,
        project_status: Annotated[list[ProjectStatus] | None, QueryParameter(name="project_status")] = None,
        funding: Annotated[list[FundingKind] | None, QueryParameter(name="funding", description="Finanzierungsart")] = None,
        kreis: Annotated[
            list[str] | None,
            QueryParameter(
                max_items=MAX_FILTER_VALUES,
                description="Kreis oder kreisfreie Stadt der Federführung (z. B. „Kreis Höxter“; Werte aus der Facette, mehrfach möglich)",
            ),
        ] = None,
        regierungsbezirk: Annotated[
            list[str] | None,
            QueryParameter(max_items=MAX_FILTER_VALUES, description="Regierungsbezirk der Federführung (z. B. „Regierungsbezirk Detmold“; mehrfach möglich)"),
        ] = None,
        transferability: Annotated[
            list[TransferabilityRating] | None, QueryParameter(name="transferability", description="Übertragbarkeit (mehrfach möglich)")
        ] = None,
        population_min: Annotated[int | None, QueryParameter(ge=0)] = None,
        population_max: Annotated[int | None, QueryParameter(ge=0)] = None,
        since_min: Annotated[int | None, QueryParameter(ge=1900, le=2100, description="Zusammenarbeit seit (ab Jahr)")] = None,
        since_max: Annotated[int | None, QueryParameter(ge=1900, le=2100, description="Zusammenarbeit seit (bis Jahr)")] = None,
        adoption_stage: Annotated[
            list[AdoptionStage] | None, QueryParameter(name="adoption_stage", description="Nachnutzung: Profile mit Kommunen in diesem Stand")
        ] = None,
        freshness: Annotated[
            Literal["aktuell", "veraltet"] | None,
            QueryParameter(description="aktuell: in den letzten 12 Monaten bestätigt; veraltet: seit über 12 Monaten nicht"),
        ] = None,
        sort: FromQuery[Sort] = Sort.RELEVANCE,
        page: Annotated[int, QueryParameter(ge=1, le=1000)] = 1,
        per_page: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        explain: Annotated[
            bool, QueryParameter(description="Je Treffer erklären, welche Wörter, Synonyme (mit Lexikonzeile), Wortteile und Orte passten (nur Redaktion)")
        ] = False,
    ) -> Response[SearchResponse]:
        principal = await resolve_principal(request)
        if explain and (principal is None or principal.role not in EXPLAIN_ROLES):
            raise PermissionDenied("Die Erklärung der Rangfolge ist der Redaktion vorbehalten (Rolle Redaktion, Prüfung oder Administration).")
        filters = {
            "status": [EditorialStatus.PUBLISHED],  # the public search; lists of other states: GET /api/v1/profiles
            "fields_of_action": field_of_action,
            "state": federal_state,
            "size_class": size_class,
            "legal_form": legal_form,
            "project_status": project_status,
            "funding_kinds": funding,
            ADOPTION_STAGES: adoption_stage,
            KREIS_KEY: _register_names("kreis", kreis),
            REGIERUNGSBEZIRK_KEY: _register_names("regierungsbezirk", regierungsbezirk),
            "transferability": transferability,
        }
        confirmed_min, confirmed_max = freshness_bounds(freshness or "", utcnow())
        try:
            query = SearchQuery(
                q=q,
                filters={k: [str(v) for v in vals] for k, vals in filters.items() if vals},
                population_min=population_min,
                population_max=population_max,
                since_min=since_min,
                since_max=since_max,
                confirmed_min=confirmed_min,
                confirmed_max=confirmed_max,
                sort=sort,
                page=page,
                per_page=per_page,
                explain=explain,
            )
        except ValueError as exc:
            raise ValidationFailed(str(exc)) from exc
        labels = principal_labels(principal)
        result = await _guarded(request.app.state.runtime.search.search(query, labels=labels))
        return _json(search_body(request.app.state.settings.public_base_url, result))

    @get("/profiles/{slug:str}/similar", operation_id="similarProfiles", summary="Vergleichbare Projekte zu einem Profil, mit Begründung")
    async def similar(
        self, request: Request, slug: SlugParam, limit: Annotated[int, QueryParameter(ge=1, le=50)] = 10
    ) -> Response[ComparableResponse]:
        svc = ProfileService()
        # a projection of the profile (no model parse): the reference is its indexed document when that holds this version
        principal, found = await caller_and(request, svc.find_fields(slug, ()))
        stored = svc.head_viewed(found, slug, principal)
        search, labels = request.app.state.runtime.search, principal_labels(principal)
        ref = await _guarded(stored_reference(search, stored, lambda: svc.get(slug, principal), labels=labels))
        found = await _guarded(find_comparable(search, ref, labels=labels, limit=limit))
        return _comparable_response(request.app.state.settings.public_base_url, found)

    @get("/comparable", operation_id="comparableForMunicipality", summary="„Kommunen wie meine“: Projekte aus vergleichbaren Kommunen")
    async def comparable(
        self,
        request: Request,
        population: Annotated[int | None, QueryParameter(ge=0, le=100_000_000, description="Einwohnerzahl Ihrer Kommune")] = None,
        federal_state: Annotated[FederalState | None, QueryParameter(name="state", description="Ihr Bundesland")] = None,
        kind: Annotated[OrganisationKind | None, QueryParameter(description="Art Ihrer Körperschaft, z. B. Kreis")] = None,
        fields: Annotated[list[FieldOfAction] | None, QueryParameter(description="Handlungsfelder, die Sie interessieren")] = None,
        q: Annotated[str, QueryParameter(max_length=500, description="Worum geht es? (frei)")] = "",
        limit: Annotated[int, QueryParameter(ge=1, le=50)] = 10,
    ) -> Response[ComparableResponse]:
        if population is None and federal_state is None and not fields and not q.strip():
            raise ValidationFailed(
                "Bitte geben Sie mindestens Einwohnerzahl, Bundesland, Handlungsfeld oder einen Suchtext an.",
                errors=[{"field": "population", "message": "Angabe fehlt"}],
            )
        ref = Reference.for_municipality(
            population=population,
            state=federal_state.value if federal_state else None,
            kind=kind.value if kind else None,
            fields_of_action=[f.value for f in fields or []],
            text=q,
        )
        labels = principal_labels(await resolve_principal(request))
        found = await _guarded(find_comparable(request.app.state.runtime.search, ref, labels=labels, limit=limit))
        return _comparable_response(request.app.state.settings.public_base_url, found)
