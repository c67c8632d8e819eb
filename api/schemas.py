"""API representations of catalogue objects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from catalogue.markdown import render_html
from catalogue.models import MARKDOWN_FIELDS, CONTENT_FIELDS, FieldChange, Profile, ProfileContent, Provenance, VersionEntry
from catalogue.vocabularies import EditorialStatus, SizeClass

PROFILE_EXAMPLE: dict[str, Any] = {
    "title": "Gemeinsame Digitalisierungsstrategie im Kreis Höxter",
    "summary": "Zehn Städte und der Kreis entwickeln gemeinsam eine Digitalstrategie.",
    "keywords": ["Digitalisierung", "Smart Region", "IKZ"],
    "fields_of_action": ["Verwaltung", "Digitale Infrastruktur"],
    "lead": {"name": "Kreis Höxter", "kind": "Kreis", "ags": "05762"},
    "municipalities": [{"name": "Stadt Höxter", "kind": "Stadt", "ags": "05762020"}],
    "partners": [{"name": "Technische Hochschule OWL", "kind": "Hochschule"}],
    "state": "Nordrhein-Westfalen",
    "district": "Detmold",
    "population": 28808,
    "population_as_of": "2019-12-31",
    "population_source": "IT.NRW",
    "area_km2": 158.16,
    "occasion": "Die Kommunen wollten die Digitalisierung **gemeinsam** angehen.",
    "goal": "Eine abgestimmte Strategie für alle zehn Städte.",
    "implementation": "- Workshops\n- Bürgerbeteiligung",
    "funding": {"text": "Förderung durch das Land NRW.", "kinds": ["Landesmittel"]},
    "legal_form": "öffentlich-rechtliche Vereinbarung",
    "collaboration_since": 2019,
    "project_status": "laufend",
    "contact": {
        "organisation": "Kreis Höxter",
        "street": "Moltkestraße 12",
        "postcode": "37671",
        "city": "Höxter",
        "phone": "05271 / 965-0",
        "email": "info@kreis-hoexter.de",
    },
    "links": [{"title": "Kreis Höxter", "url": "https://www.kreis-hoexter.de"}],
}


class ProfileOut(ProfileContent):
    """A profile as the API returns it: content, state, and rendered HTML of the Markdown fields."""

    model_config = ConfigDict(extra="forbid", title="Profile")

    slug: str
    status: EditorialStatus
    size_class: SizeClass | None = None
    owner: str | None = None
    version: int
    provenance: Provenance | None = None
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None = None
    confirmed_at: datetime | None = None
    html: dict[str, str] = Field(default_factory=dict, description="Markdown fields rendered as safe HTML")
    links_self: str = Field(description="URL of this profile in the API")
    url: str = Field(description="URL of the profile page")
    pdf_url: str = Field(description="URL of the one-page PDF")
    review_comments: list[dict[str, Any]] = Field(default_factory=list)


class ProfileList(BaseModel):
    items: list[ProfileOut]
    total: int
    page: int
    per_page: int


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str | None = Field(default=None, max_length=5000)


class VersionOut(BaseModel):
    number: int
    at: datetime
    by: str
    action: str
    comment: str | None = None
    fields: list[str]


class DiffOut(BaseModel):
    slug: str
    from_version: int
    to_version: int
    changes: list[FieldChange]


def profile_out(profile: Profile, base_url: str, *, include_private: bool = False) -> ProfileOut:
    data = profile.model_dump(include=set(CONTENT_FIELDS))
    html = {f: render_html(getattr(profile, f) or "") for f in MARKDOWN_FIELDS}
    html["funding"] = render_html(profile.funding.text or "")
    return ProfileOut(
        **data,
        slug=profile.slug,
        status=profile.status,
        size_class=profile.size_class,
        owner=profile.owner if include_private else None,
        version=profile.version,
        provenance=profile.provenance,
        created_at=profile.created_at,
        updated_at=profile.updated_at,
        published_at=profile.published_at,
        confirmed_at=profile.confirmed_at,
        html=html,
        links_self=f"{base_url}/api/v1/profiles/{profile.slug}",
        url=f"{base_url}/profiles/{profile.slug}",
        pdf_url=f"{base_url}/profiles/{profile.slug}.pdf",
        review_comments=[c.model_dump(mode="json") for c in profile.review_comments] if include_private else [],
    )


def version_out(entry: VersionEntry) -> VersionOut:
    return VersionOut(
        number=entry.number, at=entry.at, by=entry.by, action=entry.action, comment=entry.comment, fields=[c.field for c in entry.changes]
    )
