"""Lists of profiles, read from the search index (the read model).

Every list — the JSON list, "Meine Profile", the review queue — is a search
with the caller's permission labels (catalogue.access.principal_labels),
filters on status, owner and facets, a sort and a page. Nothing here reads
the store: a list shows what the index holds. The sync worker keeps the
index current, and a writer's own writes are in it before their response
returns (api/read_your_writes.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from catalogue import checklist
from catalogue.access import Action, allowed, principal_labels
from catalogue.errors import DependencyUnavailable, PermissionDenied, ValidationFailed
from catalogue.search import documents
from catalogue.search.base import SearchBackend, SearchError, SearchQuery, Sort
from catalogue.users import Principal
from catalogue.vocabularies import EditorialStatus

MINE_PER_PAGE = 100
QUEUE_PER_PAGE = 100


def _datetime(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _status(value: Any) -> EditorialStatus:
    try:
        return EditorialStatus(str(value))
    except ValueError:
        return EditorialStatus.DRAFT


@dataclass(frozen=True, slots=True)
class ListedProfile:
    """A profile as lists show it: the fields of its search document (no long texts)."""

    id: str
    slug: str
    title: str
    summary: str
    status: EditorialStatus
    owner: str | None = None
    version: int = 0
    review_note: str | None = None  # the reviewers' last comment on a returned draft
    missing: list[str] | None = None  # keys of the publication checklist's missing items (None: a document from before the checklist)
    keywords: list[str] = field(default_factory=list)
    fields_of_action: list[str] = field(default_factory=list)
    lead: str | None = None
    state: str | None = None
    district: str | None = None
    size_class: str | None = None
    population: int | None = None
    legal_form: str | None = None
    project_status: str | None = None
    funding_kinds: list[str] = field(default_factory=list)
    collaboration_since: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    published_at: datetime | None = None
    confirmed_at: datetime | None = None  # last confirmed by the owner (or else published): catalogue.freshness
    adoption_count: int = 0  # municipalities adopting it (catalogue.adoption)

    @property
    def returned(self) -> bool:
        """A draft the reviewers gave back with a comment ("Zurückgegeben")."""
        return self.status is EditorialStatus.DRAFT and bool(self.review_note)

    def missing_labels(self) -> list[str]:
        """The missing checklist items as the editor reads them."""
        return [checklist.BY_KEY[k].label for k in self.missing or () if k in checklist.BY_KEY]

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> ListedProfile:
        return cls(
            id=str(doc.get("id") or ""),
            slug=str(doc.get("slug") or ""),
            title=str(doc.get("title") or ""),
            summary=str(doc.get("summary") or ""),
            status=_status(doc.get("status")),
            owner=doc.get("owner") or None,
            version=int(doc.get("version") or 0),
            review_note=doc.get("review_note") or None,
            missing=[str(k) for k in doc["missing"]] if isinstance(doc.get("missing"), list) else None,
            keywords=[str(k) for k in doc.get("keywords") or ()],
            fields_of_action=[str(f) for f in doc.get("fields_of_action") or ()],
            lead=doc.get("lead") or None,
            state=doc.get("state") or None,
            district=doc.get("district") or None,
            size_class=doc.get("size_class") or None,
            population=doc.get("population"),
            legal_form=doc.get("legal_form") or None,
            project_status=doc.get("project_status") or None,
            funding_kinds=[str(k) for k in doc.get("funding_kinds") or ()],
            collaboration_since=doc.get("collaboration_since"),
            created_at=_datetime(doc.get("created_at")),
            updated_at=_datetime(doc.get("updated_at")),
            published_at=_datetime(doc.get("published_at")),
            confirmed_at=_datetime(doc.get("confirmed_at")),
            adoption_count=int(doc.get("adoption_count") or 0),
        )


# A list item is a view of the search document: its fields are document keys
# (content keys from the field registry, the editorial block, id and slug).
if _stray := {f.name for f in fields(ListedProfile)} - {"id", "slug", *documents.CONTENT_KEYS, *documents.EDITORIAL_KEYS}:
    raise RuntimeError(f"ListedProfile fields that are not search document keys: {sorted(_stray)}")


@dataclass(frozen=True, slots=True)
class ProfilePage:
    items: list[ListedProfile]
    total: int  # exact number of matching profiles the caller may see
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return (self.total + self.per_page - 1) // self.per_page


async def list_profiles(
    backend: SearchBackend,
    actor: Principal | None,
    *,
    status: EditorialStatus | Sequence[EditorialStatus] | None = None,
    owner: str | None = None,
    filters: Mapping[str, Sequence[str]] | None = None,
    sort: Sort = Sort.UPDATED,
    page: int = 1,
    per_page: int = 20,
    confirmed_before: int | None = None,
) -> ProfilePage:
    """The profiles `actor` may see that match, one page of them, with the exact total.

    `filters` as in SearchQuery (facet values); `status` and `owner` narrow
    further; `confirmed_before` (Unix time) keeps profiles not confirmed since. What the actor may see is decided by the permission labels
    alone, so asking for another editor's drafts simply finds none.
    """
    wanted: dict[str, Sequence[str]] = dict(filters or {})
    if status is not None:
        statuses = [status] if isinstance(status, EditorialStatus) else list(status)
        wanted["status"] = [EditorialStatus(s).value for s in statuses]
    if owner is not None:
        wanted["owner"] = [owner]
    try:
        query = SearchQuery(filters=wanted, sort=sort, page=page, per_page=per_page, facets=(), confirmed_max=confirmed_before)
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from exc
    try:
        result = await backend.search(query, labels=principal_labels(actor))
    except SearchError as exc:
        raise DependencyUnavailable("Die Liste ist gerade nicht verfügbar. Bitte versuchen Sie es gleich noch einmal.") from exc
    return ProfilePage(
        items=[ListedProfile.from_document(h.document) for h in result.hits], total=result.total, page=page, per_page=per_page
    )


async def my_profiles(backend: SearchBackend, actor: Principal, *, page: int = 1, per_page: int = MINE_PER_PAGE) -> ProfilePage:
    """"Meine Profile": the actor's own profiles in every state, last changed first."""
    return await list_profiles(backend, actor, owner=actor.username, sort=Sort.UPDATED, page=page, per_page=per_page)


@dataclass(frozen=True, slots=True)
class ReviewQueue:
    submitted: ProfilePage  # waiting for review, oldest change first
    published: ProfilePage  # recently changed published profiles
    archived: ProfilePage  # recently archived


async def review_queue(backend: SearchBackend, actor: Principal) -> ReviewQueue:
    """The review queue (reviewers and admins only)."""
    if not allowed(actor, Action.REVIEW_QUEUE):
        raise PermissionDenied("Die Prüfliste sieht nur die Katalogredaktion.")
    return ReviewQueue(
        submitted=await list_profiles(backend, actor, status=EditorialStatus.SUBMITTED, sort=Sort.UPDATED_ASC, per_page=QUEUE_PER_PAGE),
        published=await list_profiles(backend, actor, status=EditorialStatus.PUBLISHED, sort=Sort.UPDATED, per_page=10),
        archived=await list_profiles(backend, actor, status=EditorialStatus.ARCHIVED, sort=Sort.UPDATED, per_page=10),
    )


__all__ = ["ListedProfile", "ProfilePage", "ReviewQueue", "list_profiles", "my_profiles", "review_queue"]
