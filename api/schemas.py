"""API representations of catalogue objects."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from catalogue.fields import markdown_paths, value_at
from catalogue.listing import ListedProfile
from catalogue.markdown import render_html
from catalogue.models import CONTENT_FIELDS, FieldChange, Profile, ProfileContent, Provenance, VersionEntry, public_source
from catalogue.vocabularies import EditorialStatus, SizeClass

# The example profile of the API documentation (invented: no real municipality); tests use it too.
PROFILE_EXAMPLE: dict[str, Any] = json.loads((Path(__file__).with_name("example_profile.json")).read_text(encoding="utf-8"))


class PublicSource(BaseModel):
    """Where the profile's text comes from, as the public sees it: a title and a web address."""

    title: str
    url: str


class ProfileOut(ProfileContent):
    """A profile as the API returns it: content, state, and rendered HTML of the Markdown fields."""

    model_config = ConfigDict(extra="forbid", title="Profile")

    slug: str
    status: EditorialStatus
    size_class: SizeClass | None = None
    owner: str | None = None
    version: int
    source: PublicSource | None = Field(default=None, description="Quelle: title and address of the page the profile was written from")
    provenance: Provenance | None = Field(
        default=None, description="Import details (importer, file, fingerprint): only for the owner and the catalogue editors"
    )
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None = None
    confirmed_at: datetime | None = None
    html: dict[str, str] = Field(default_factory=dict, description="Markdown fields rendered as safe HTML")
    links_self: str = Field(description="URL of this profile in the API")
    url: str = Field(description="URL of the profile page")
    pdf_url: str = Field(description="URL of the one-page PDF")
    review_comments: list[dict[str, Any]] = Field(default_factory=list)


class ProfileListItem(BaseModel):
    """A profile in a list, from the search index: its state and key facts, without the long texts.

    The whole profile is at `links_self`.
    """

    model_config = ConfigDict(title="ProfileListItem")

    slug: str
    title: str
    summary: str = ""
    status: EditorialStatus
    owner: str | None = Field(default=None, description="Only for the owner and the catalogue office")
    version: int
    missing: list[str] | None = Field(
        default=None, description="Was für die Veröffentlichung fehlt (Schlüssel der Checkliste: summary, lead, state, fields_of_action, "
        "contact, project_status); null bei Einträgen aus der Zeit vor der Checkliste"
    )
    keywords: list[str] = Field(default_factory=list)
    fields_of_action: list[str] = Field(default_factory=list)
    lead: str | None = Field(default=None, description="Name of the lead organisation")
    state: str | None = None
    district: str | None = None
    size_class: str | None = None
    population: int | None = None
    legal_form: str | None = None
    project_status: str | None = None
    funding_kinds: list[str] = Field(default_factory=list)
    collaboration_since: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    published_at: datetime | None = None
    links_self: str = Field(description="URL of this profile in the API")
    url: str = Field(description="URL of the profile page")
    pdf_url: str = Field(description="URL of the one-page PDF")


# The JSON list item shows what a listed profile holds (catalogue.listing.ListedProfile), plus its URLs.
if _stray := set(ProfileListItem.model_fields) - {"links_self", "url", "pdf_url"} - {f.name for f in fields(ListedProfile)}:
    raise RuntimeError(f"ProfileListItem fields that listed profiles do not hold: {sorted(_stray)}")
# What a list item takes from a listed profile, once (not per item: pydantic's `model_fields` is a property
# whose every access costs a few microseconds, 25 per item).
_LISTED_FIELDS = tuple(f.name for f in fields(ListedProfile) if f.name in ProfileListItem.model_fields)


class ProfileList(BaseModel):
    items: list[ProfileListItem]
    total: int
    page: int
    per_page: int


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str | None = Field(default=None, max_length=5000)


class SlugIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    slug: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9-]{0,99}$", description="Der neue Slug")


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
    """The API's view of a profile. The profile's values are validated already (parsed from the store, or just
    written), so they are put together without validating them again (`model_construct`: the same JSON as a
    validated `ProfileOut`, tests/integration/test_read_caches.py)."""
    data = {name: getattr(profile, name) for name in CONTENT_FIELDS}
    # keyed by the top-level field of each Markdown text (funding.text under "funding")
    # (stripped, as ProfileOut's validation would: str_strip_whitespace)
    html = {path.split(".", 1)[0]: render_html(value_at(profile, path) or "").strip() for path in markdown_paths()}
    return ProfileOut.model_construct(
        **data,
        slug=profile.slug,
        status=profile.status,
        size_class=profile.size_class,
        owner=profile.owner if include_private else None,
        version=profile.version,
        source=PublicSource(**source) if (source := public_source(profile.provenance)) else None,
        provenance=profile.provenance if include_private else None,
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


def profile_list_item(item: ListedProfile, base_url: str, *, include_private: bool = False) -> ProfileListItem:
    data = {name: getattr(item, name) for name in _LISTED_FIELDS}
    data["owner"] = item.owner if include_private else None
    return ProfileListItem(
        **data,
        links_self=f"{base_url}/api/v1/profiles/{item.slug}",
        url=f"{base_url}/profiles/{item.slug}",
        pdf_url=f"{base_url}/profiles/{item.slug}.pdf",
    )


def version_out(entry: VersionEntry) -> VersionOut:
    return VersionOut(
        number=entry.number, at=entry.at, by=entry.by, action=entry.action, comment=entry.comment, fields=[c.field for c in entry.changes]
    )
