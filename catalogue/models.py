"""The profile and the documents around it.

`ProfileContent` is what an editor (or an importer) writes: every field of
the brief, validated, with unknown fields rejected. `Profile` is the stored
Beanie document: content plus slug, editorial state, ownership, provenance
and timestamps. Related data is embedded (FerretDB has no $lookup).

Request paths read the store by `_id` only (FerretDB 1.24 scans a whole
collection for any other filter), so everything a request looks up has its
key as `_id`: `ProfileSlug` (slug → profile id, old slugs kept as
redirects), `ProfileVersion` (profile id + zero-padded number), counters by
name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from beanie import Document, Indexed, PydanticObjectId
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pymongo import ASCENDING, DESCENDING, IndexModel

from catalogue.vocabularies import (
    DEFAULT_LICENCE,
    STATES_WITH_REGIERUNGSBEZIRK,
    EditorialStatus,
    FederalState,
    FieldOfAction,
    FundingKind,
    LegalForm,
    OrganisationKind,
    PartnerKind,
    ProjectStatus,
    SizeClass,
    TransferabilityRating,
    size_class_for,
)

# ---------------------------------------------------------------- limits

MAX_LIST = 50  # municipalities, partners, keywords, links
MAX_MARKDOWN = 20_000  # characters per long text
MAX_SHORT = 200


def utcnow() -> datetime:
    """Now, to the millisecond: what the store keeps of a time (BSON dates), so an object written and answered
    (or handed to the sync worker without being read back) carries the same times as when it is read again."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond - now.microsecond % 1000)


_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _no_control_chars(value: str) -> str:
    if _CONTROL_CHARS.search(value):
        raise ValueError("enthält unzulässige Steuerzeichen")
    return value


# Bidirectional controls (LRE … RLO, LRI … PDI, LRM, RLM, ALM) reorder what a reader sees – in a
# one-line field they only ever disguise text ("Trojan Source"), so they are removed there.
_BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
EARLIEST_DATE = date(1949, 1, 1)  # the year the Federal Republic was founded


def _strip_bidi(value: str) -> str:
    return _BIDI_CONTROLS.sub("", value).strip()


def _has_letters(value: str) -> str:
    """Titles and names need letters once invisible and format characters (Unicode Cf, e.g. zero-width spaces) are gone."""
    # (no format character is a letter, so it is enough to look for a letter: the first one ends the look)
    if not any(ch.isalpha() for ch in value):
        raise ValueError("muss Buchstaben enthalten (unsichtbare Zeichen und Steuerzeichen zählen nicht)")
    return value


def _plausible_date(value: date) -> date:
    latest = datetime.now(UTC).date() + timedelta(days=365)
    if not EARLIEST_DATE <= value <= latest:
        raise ValueError(f"muss zwischen dem 01.01.1949 und dem {latest:%d.%m.%Y} liegen")
    return value


def _not_bool(value: Any) -> Any:
    """JSON true/false is no number (pydantic would store true as 1)."""
    if isinstance(value, bool):
        raise ValueError("muss eine Zahl sein, nicht ja/nein")
    return value


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/$.?#][^\s]*$", value, re.IGNORECASE):
        raise ValueError("muss eine http- oder https-Adresse sein")
    return value


def _current_year_bound(value: int) -> int:
    if value < 1900 or value > datetime.now(UTC).year:
        raise ValueError(f"muss zwischen 1900 und {datetime.now(UTC).year} liegen")
    return value


ShortText = Annotated[
    str,
    BeforeValidator(lambda v: _strip_bidi(v) if isinstance(v, str) else v),
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_SHORT),
    AfterValidator(_no_control_chars),
]
# A title or name: a short text with letters in it.
NameText = Annotated[ShortText, AfterValidator(_has_letters)]
Keyword = Annotated[
    str,
    BeforeValidator(lambda v: _strip_bidi(v) if isinstance(v, str) else v),
    StringConstraints(strip_whitespace=True, min_length=1, max_length=80),
    AfterValidator(_no_control_chars),
]
PlausibleDate = Annotated[date, AfterValidator(_plausible_date)]
Count = Annotated[int, BeforeValidator(_not_bool)]
Number = Annotated[float, BeforeValidator(_not_bool)]
Markdown = Annotated[str, StringConstraints(max_length=MAX_MARKDOWN), AfterValidator(_no_control_chars)]
HttpUrl = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000), AfterValidator(_http_url)]
# The key of a body in the municipality register: the AGS of a Land (2 digits), Regierungsbezirk (3),
# Kreis (5) or Gemeinde (8), or the ARS of a Gemeindeverband (9 digits; it has no AGS).
REGISTER_KEY_PATTERN = r"^(?:\d{2}|\d{3}|\d{5}|\d{8}|\d{9})$"
AGS = Annotated[str, StringConstraints(pattern=REGISTER_KEY_PATTERN)]


def register_key_label(key: str | None) -> str:
    """ "ARS" for a Gemeindeverband's 9-digit key, else "AGS"."""
    return "ARS" if key and len(key) == 9 else "AGS"

Year = Annotated[int, BeforeValidator(_not_bool), AfterValidator(_current_year_bound)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Organisation(Strict):
    """A public body: Kommune, Kreis, Amt, Zweckverband …"""

    name: NameText
    kind: OrganisationKind | None = None
    ags: AGS | None = Field(
        default=None,
        description="Schlüssel im Gemeindeverzeichnis: AGS einer Gemeinde (8 Ziffern), eines Kreises (5), "
        "Regierungsbezirks (3) oder Landes (2); ARS eines Gemeindeverbands (9)",
        examples=["05762020", "05762", "010545453"],
    )


class Partner(Strict):
    """Sonstige Beteiligte: a university, company, association …"""

    name: NameText
    kind: PartnerKind = PartnerKind.OTHER


class Transferability(Strict):
    """Übertragbarkeit: what another municipality needs to copy the project. The form of the
    cooperation agreement is `legal_form`, the pitfalls are `lessons` (one field each)."""

    rating: TransferabilityRating | None = None
    prerequisites: Markdown = ""
    staff_effort: ShortText | None = None  # "0,5 Stellen für ein Jahr"
    time_effort: ShortText | None = None  # "sechs Monate bis zum Start"
    cost_once_eur: float | None = Field(default=None, ge=0, le=1e12)
    cost_annual_eur: float | None = Field(default=None, ge=0, le=1e12)


class Funding(Strict):
    text: Markdown = ""
    kinds: list[FundingKind] = Field(default_factory=list, max_length=len(FundingKind))
    programme: ShortText | None = None
    amount_eur: Number | None = Field(default=None, ge=0, le=1e12)

    @field_validator("kinds")
    @classmethod
    def _unique_kinds(cls, v: list[FundingKind]) -> list[FundingKind]:
        return list(dict.fromkeys(v))


class Contact(Strict):
    organisation: NameText | None = None
    person: NameText | None = None
    street: ShortText | None = None
    postcode: Annotated[str, StringConstraints(pattern=r"^\d{5}$")] | None = None
    city: ShortText | None = None
    phone: Annotated[str, StringConstraints(pattern=r"^[0-9+()/ \-]{3,40}$")] | None = None
    email: EmailStr | None = None
    website: HttpUrl | None = None


class Link(Strict):
    title: NameText
    url: HttpUrl


class Provenance(Strict):
    """Where a profile came from. Internal: the public sees only `public_source(provenance)`."""

    importer: ShortText
    source: Annotated[str, StringConstraints(max_length=2000)] | None = None
    source_title: ShortText | None = None  # a human title of the source page, when known
    source_id: Annotated[str, StringConstraints(max_length=500)] | None = None
    retrieved_at: datetime | None = None
    fingerprint: Annotated[str, StringConstraints(max_length=128)] | None = None


def public_source(provenance: Provenance | Mapping[str, Any] | None) -> dict[str, str] | None:
    """The source as the public sees it ("Quelle"): a title and a web address, or None.

    Only a source that is a web address is shown; uploads (`upload/<user>/<file>`),
    file paths and importer names are internal and never leave the editor area (issue 13).
    """
    if provenance is None:
        return None
    prov = provenance.model_dump() if isinstance(provenance, BaseModel) else dict(provenance)
    url = str(prov.get("source") or "").strip()
    if not re.match(r"^https?://[^\s/$.?#][^\s]*$", url, re.IGNORECASE):
        return None
    title = str(prov.get("source_title") or "").strip() or urlsplit(url).hostname or url
    return {"title": title, "url": url}


_DISTRICT_LABELS = re.compile(r"^(?:(?:regierungsbezirk|reg\.-bez\.|rb)\s+)+", re.IGNORECASE)


class ProfileContent(Strict):
    """Everything an editor writes about a project."""

    title: Annotated[
        str,
        BeforeValidator(lambda v: _strip_bidi(v) if isinstance(v, str) else v),
        StringConstraints(strip_whitespace=True, min_length=3, max_length=200),
        AfterValidator(_no_control_chars),
        AfterValidator(_has_letters),
    ]
    summary: Annotated[
        str,
        BeforeValidator(lambda v: _strip_bidi(v) if isinstance(v, str) else v),
        StringConstraints(max_length=500),
        AfterValidator(_no_control_chars),
    ] = ""
    keywords: list[Keyword] = Field(default_factory=list, max_length=MAX_LIST)
    fields_of_action: list[FieldOfAction] = Field(default_factory=list, max_length=len(FieldOfAction))
    lead: Organisation | None = None
    municipalities: list[Organisation] = Field(default_factory=list, max_length=MAX_LIST)
    partners: list[Partner] = Field(default_factory=list, max_length=MAX_LIST)
    state: FederalState | None = None
    district: ShortText | None = None
    county: ShortText | None = None
    population_body: ShortText | None = None
    population: Count | None = Field(default=None, ge=0, le=100_000_000)
    population_as_of: PlausibleDate | None = None
    population_source: ShortText | None = None
    area_km2: Number | None = Field(default=None, gt=0, le=1_000_000)
    occasion: Markdown = ""
    goal: Markdown = ""
    implementation: Markdown = ""
    results: Markdown = ""
    lessons: Markdown = ""
    transferability: Transferability = Field(default_factory=Transferability)
    funding: Funding = Field(default_factory=Funding)
    legal_form: LegalForm | None = None
    collaboration_since: Year | None = None
    project_status: ProjectStatus | None = None
    contact: Contact = Field(default_factory=Contact)
    links: list[Link] = Field(default_factory=list, max_length=MAX_LIST)
    licence: ShortText = DEFAULT_LICENCE

    @field_validator("keywords", "fields_of_action")
    @classmethod
    def _dedupe(cls, v: list[Any]) -> list[Any]:
        return list(dict.fromkeys(v))

    @field_validator("district")
    @classmethod
    def _district_name(cls, v: str | None) -> str | None:
        """The Regierungsbezirk by its name ("Detmold"): the label says "Regierungsbezirk" once.

        Every leading label goes ("Regierungsbezirk RB Detmold" too), so a value validated once is its own
        result when validated again (catalogue.profiles.content_dict relies on validation being idempotent)."""
        if v is None:
            return None
        name = _DISTRICT_LABELS.sub("", v).strip()
        return name or None

    def shows_district(self) -> bool:
        """A Regierungsbezirk is shown only in the Länder that have them."""
        return bool(self.district) and self.state in STATES_WITH_REGIERUNGSBEZIRK

    def derived_size_class(self) -> SizeClass | None:
        return size_class_for(self.population, self.lead.kind if self.lead else None)


CONTENT_FIELDS: tuple[str, ...] = tuple(ProfileContent.model_fields)


class FieldChange(BaseModel):
    field: str
    old: Any = None
    new: Any = None


class VersionEntry(BaseModel):
    """One step in a profile's history.

    The newest one travels inside the profile (`Profile.last_change`), so a
    write and its history entry are one atomic document write; every entry
    is also stored as a `ProfileVersion` read by key.
    """

    number: int
    at: datetime = Field(default_factory=utcnow)
    by: str
    action: str  # create, edit, submit, publish, return, archive, restore, confirm, import
    comment: str | None = None
    changes: list[FieldChange] = Field(default_factory=list)


class ReviewComment(BaseModel):
    at: datetime = Field(default_factory=utcnow)
    by: str
    text: str


class Profile(Document, ProfileContent):
    """The stored profile (collection `profiles`)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)  # type: ignore[misc]  # Beanie's Document declares it per instance

    slug: Indexed(str, unique=True)  # type: ignore[valid-type]
    status: EditorialStatus = EditorialStatus.DRAFT
    size_class: SizeClass | None = None  # derived from population and lead kind
    owner: str | None = None  # username of the editor who owns the profile
    provenance: Provenance | None = None
    review_comments: list[ReviewComment] = Field(default_factory=list)
    version: int = 0
    last_change: VersionEntry | None = None  # the entry of `version`; older ones are ProfileVersion documents
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    published_at: datetime | None = None
    confirmed_at: datetime | None = None

    class Settings:
        name = "profiles"
        # revision_id is the ETag; catalogue.profiles writes it with a compare-and-set
        # through catalogue.atomic (Beanie's own check would filter on {_id, revision_id},
        # which FerretDB neither pushes down nor applies atomically).
        use_revision = False
        indexes = [
            IndexModel([("status", ASCENDING), ("updated_at", DESCENDING)], name="status_updated"),
            IndexModel([("state", ASCENDING)], name="state"),
            IndexModel([("fields_of_action", ASCENDING)], name="fields_of_action"),
            IndexModel([("keywords", ASCENDING)], name="keywords"),
            IndexModel([("owner", ASCENDING)], name="owner"),
            IndexModel([("provenance.source_id", ASCENDING)], name="provenance_source_id"),
            IndexModel([("provenance.fingerprint", ASCENDING)], name="provenance_fingerprint"),
        ]

    @model_validator(mode="after")
    def _derive(self) -> Profile:
        self.size_class = self.derived_size_class()
        return self

    def refresh_derived(self) -> None:
        self.size_class = self.derived_size_class()

    def content(self) -> ProfileContent:
        return ProfileContent.model_validate(self.model_dump(include=set(CONTENT_FIELDS)))


def version_key(profile_id: Any, number: int) -> str:
    """`_id` of a ProfileVersion: the profile id and the number, zero-padded so keys sort."""
    return f"{profile_id}:{int(number):08d}"


class ProfileVersion(Document):
    """One history entry of a profile (collection `profile_versions`), with the state after it.

    `state` is the profile's content, status, slug and confirmation after this
    version, so a diff between any two versions reads exactly two keys.
    """

    id: str  # type: ignore[assignment]  # version_key(profile_id, number)
    profile_id: str
    number: int
    at: datetime = Field(default_factory=utcnow)
    by: str
    action: str
    comment: str | None = None
    changes: list[FieldChange] = Field(default_factory=list)
    state: dict[str, Any] = Field(default_factory=dict)

    class Settings:
        name = "profile_versions"

    def entry(self) -> VersionEntry:
        return VersionEntry(number=self.number, at=self.at, by=self.by, action=self.action, comment=self.comment, changes=self.changes)


class ProfileSlug(Document):
    """A slug and the profile it names (collection `profile_slugs`, `_id` = the slug).

    Inserting it reserves the slug (the unique `_id` decides between
    concurrent creators). When a profile gets a new slug the old document
    stays, so old links answer with a redirect, and no other profile can
    take the old slug.
    """

    id: str  # type: ignore[assignment]  # the slug
    profile_id: PydanticObjectId
    reserved_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "profile_slugs"


class OutboxItem(BaseModel):
    """One more profile announced by a bulk outbox entry."""

    profile_id: str
    version: int | None = None


class OutboxEntry(Document):
    """A pending change for the search index (collection `search_outbox`, `_id` = its sequence number).

    The profile service inserts one entry per profile write (one per chunk of
    a bulk import, naming every profile in `more`) before the write; the
    sync worker reads entries by `_id` in sequence order (catalogue/search/sync.py),
    applies them and deletes them. Keyed by the sequence number, the outbox
    is never queried by anything but `_id`.
    """

    id: int  # type: ignore[assignment]  # the sequence number, from the `outbox` counter
    profile_id: str
    slug: str
    op: str = "upsert"  # "upsert" or "delete"
    version: int | None = None  # the profile version the write brings (the worker waits until it has landed); None: any
    more: list[OutboxItem] = Field(default_factory=list)  # further profiles of a bulk write (imports)
    # an adoption write (catalogue/adoption.py): the record's key and the revision the write brings; the worker
    # waits for it to land and then takes the record into the profile's adoption summary (repairs a lost second write)
    adoption: str | None = None
    adoption_revision: int | None = None
    # a bulk write's entry is written with False and set True once its profiles are written: until then (or until
    # the landing grace has passed: the writer died) the worker does not read its profiles again and again
    landed: bool | None = None
    # set with `landed`: the profiles of the entry that an earlier, interrupted run had written (found, not inserted);
    # the others are new with this write, so the worker need not look for an adoption summary of theirs
    existing: list[str] | None = None
    # set with `landed`: the stored documents of the profiles the write inserted (catalogue.outbox.carry), so the
    # worker indexes them without reading them back; None when they were too large to carry
    carried: bytes | None = None
    created_at: datetime = Field(default_factory=utcnow)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow)
    last_error: str | None = None

    class Settings:
        name = "search_outbox"

    @property
    def seq(self) -> int:
        return int(self.id)

    def items(self) -> list[OutboxItem]:
        """Every profile the entry announces, with the version its write brings."""
        return [OutboxItem(profile_id=self.profile_id, version=self.version), *self.more]


class Counter(Document):
    """Named monotonically increasing counters (collection `counters`, `_id` = the name)."""

    id: str  # type: ignore[assignment]
    value: int = 0

    class Settings:
        name = "counters"


async def next_sequence(name: str) -> int:
    """Atomically increment and return the counter `name`."""
    return await reserve_sequence(name, 1)


async def reserve_sequence(name: str, n: int) -> int:
    """Atomically advance the counter `name` by `n`; returns the last number of the reserved block."""
    from catalogue import atomic

    return await atomic.increment(Counter.get_pymongo_collection(), str(name), "value", int(n))


async def counter_value(name: str) -> int:
    """The current value of the counter `name` (0 before its first use), read by key."""
    doc = await Counter.get_pymongo_collection().find_one({"_id": str(name)})
    return int(doc.get("value", 0)) if doc else 0
