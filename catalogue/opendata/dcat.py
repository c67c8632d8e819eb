"""DCAT-AP.de 3.0 description of the catalogue, and ADMS descriptions of its profiles (rdflib graphs).

* The catalogue (`dcat:Catalog` at /dcat/catalog) has one `dcat:Dataset`,
  "the published profiles", whose `dcat:Distribution`s are the bulk exports
  (JSON, NDJSON, CSV) with their licence (a DCAT-AP.de licence URI) and
  attribution text; publisher, contact point and contributor ID come from
  settings (catalogue.settings: publisher_name, publisher_url, contact_email,
  contributor_id, data_licence, data_attribution). `dct:spatial` names the
  Länder the published profiles come from, as regional-key URIs
  (https://www.dcat-ap.de/def/politicalGeocoding/regionalKey/<12-digit ARS>).
* Each published profile is a reusable solution, an `adms:Asset`
  (/dcat/profiles/{slug}): title, description, keywords, landing page (the
  profile page), dates, and `dct:spatial` with the regional keys of the lead
  and the municipalities involved.
* An adoption ("Nachnutzung") is a `dcat:qualifiedRelation` from the adopting
  municipality's entry to the original: a `dcat:Relationship` with
  `dct:relation` the original asset and `dcat:hadRole` the stage.

Controlled vocabularies used: licences (dcat-ap.de/def/licenses), EU
language (DEU), file types (JSON, CSV), data theme (GOVE, Regierung und
öffentlicher Sektor), political geocoding level.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, XSD

from catalogue.vocabularies import FEDERAL_STATE_CODES

ADMS = Namespace("http://www.w3.org/ns/adms#")
DCATDE = Namespace("http://dcat-ap.de/def/dcatde/")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
EU_LANGUAGE_DEU = URIRef("http://publications.europa.eu/resource/authority/language/DEU")
EU_THEME_GOVE = URIRef("http://publications.europa.eu/resource/authority/data-theme/GOVE")
EU_FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
EU_ACCESS_PUBLIC = URIRef("http://publications.europa.eu/resource/authority/access-right/PUBLIC")
REGIONAL_KEY = "https://www.dcat-ap.de/def/politicalGeocoding/regionalKey/"
GEOCODING_LEVEL = "http://dcat-ap.de/def/politicalGeocoding/Level/"
STATE_CODE = {state.value: code for code, state in FEDERAL_STATE_CODES.items()}

# Serialisations by media type, and the suffixes that name them.
MEDIA_TYPES: dict[str, str] = {"application/ld+json": "json-ld", "text/turtle": "turtle", "application/rdf+xml": "xml"}
SUFFIXES: dict[str, str] = {"jsonld": "application/ld+json", "ttl": "text/turtle", "rdf": "application/rdf+xml"}

# Adoption stages (Nachnutzung) and their German labels; the role IRIs live under <base>/def/nachnutzung/.
ADOPTION_STAGES: dict[str, str] = {
    "interested": "interessiert",
    "planning": "in Planung",
    "implementing": "in Umsetzung",
    "implemented": "umgesetzt",
    "abandoned": "aufgegeben",
}


def regional_key(ars: str) -> URIRef:
    """The DCAT-AP.de regional-key URI of a 12-digit ARS."""
    if len(ars) != 12 or not ars.isdigit():
        raise ValueError(f"not a 12-digit regional key: {ars!r}")
    return URIRef(REGIONAL_KEY + ars)


def ars12(key: str | None, *, ars: str | None = None) -> str | None:
    """A register key as a 12-digit ARS: Land (2), Regierungsbezirk (3), Kreis (5) and Verband (9) are padded
    with zeros; a Gemeinde (8-digit AGS) needs its Verband, so its full ARS (`ars`, from the register)."""
    if ars and len(ars) == 12 and ars.isdigit():
        return ars
    if not key or not key.isdigit():
        return None
    if len(key) in (2, 3, 5, 9):
        return key.ljust(12, "0")
    return None


def state_ars(state: str | None) -> str | None:
    code = STATE_CODE.get(state or "")
    return code.ljust(12, "0") if code else None


@dataclass(frozen=True, slots=True)
class CatalogueInfo:
    """Who publishes the catalogue, where, and under which licence (from settings)."""

    base_url: str
    title: str
    publisher_name: str
    licence: str  # DCAT-AP.de licence URI
    attribution: str
    publisher_url: str | None = None
    contact_email: str | None = None
    contributor_id: str | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> CatalogueInfo:
        return cls(
            base_url=settings.public_base_url,
            title=settings.catalogue_title,
            publisher_name=settings.publisher_name,
            licence=settings.data_licence,
            attribution=settings.data_attribution,
            publisher_url=settings.publisher_url,
            contact_email=settings.contact_email,
            contributor_id=settings.contributor_id,
        )

    def uri(self, path: str) -> URIRef:
        return URIRef(self.base_url + path)


@dataclass(frozen=True, slots=True)
class Distribution:
    path: str  # e.g. /api/v1/export/profiles.csv
    file_type: str  # EU file-type code: JSON, CSV
    media_type: str | None  # IANA media type, where registered
    title: str


def new_graph() -> Graph:
    g = Graph()
    for prefix, ns in (("dcat", DCAT), ("dct", DCTERMS), ("foaf", FOAF), ("adms", ADMS), ("dcatde", DCATDE), ("vcard", VCARD)):
        g.bind(prefix, ns)
    return g


def _literal_de(text: str) -> Literal:
    return Literal(text, lang="de")


def _datetime(value: datetime | date) -> Literal:
    return Literal(value.isoformat(), datatype=XSD.dateTime if isinstance(value, datetime) else XSD.date)


def _publisher(g: Graph, info: CatalogueInfo) -> URIRef:
    agent = info.uri("/dcat/catalog#herausgeber")
    g.add((agent, RDF.type, FOAF.Agent))
    g.add((agent, FOAF.name, _literal_de(info.publisher_name)))
    g.add((agent, FOAF.homepage, URIRef(info.publisher_url or info.base_url + "/")))
    return agent


def _contact(g: Graph, info: CatalogueInfo) -> BNode:
    point = BNode()
    g.add((point, RDF.type, VCARD.Kind))
    g.add((point, RDF.type, VCARD.Organization))
    g.add((point, VCARD.fn, Literal(info.publisher_name)))
    if info.contact_email:
        g.add((point, VCARD.hasEmail, URIRef("mailto:" + info.contact_email)))
    g.add((point, VCARD.hasURL, URIRef(info.base_url + "/")))
    return point


def _spatial(g: Graph, subject: URIRef, keys: Iterable[str]) -> None:
    for ars in dict.fromkeys(keys):
        place = regional_key(ars)
        g.add((place, RDF.type, DCTERMS.Location))
        g.add((subject, DCTERMS.spatial, place))


def catalogue_graph(
    info: CatalogueInfo,
    distributions: Sequence[Distribution],
    *,
    states: Iterable[str] = (),
    modified: datetime | None = None,
    keywords: Iterable[str] = (),
) -> Graph:
    """The catalogue, its dataset of published profiles and the dataset's distributions (the exports)."""
    g = new_graph()
    catalog = info.uri("/dcat/catalog")
    dataset = info.uri("/dcat/catalog#profile")
    publisher = _publisher(g, info)
    licence = URIRef(info.licence)
    g.add((catalog, RDF.type, DCAT.Catalog))
    g.add((catalog, DCTERMS.title, _literal_de(info.title)))
    g.add(
        (
            catalog,
            DCTERMS.description,
            _literal_de("Katalog kommunaler Projekte zum Nachnutzen: Steckbriefe mit Ansprechpartnern, Umsetzung und Finanzierung."),
        )
    )
    g.add((catalog, DCTERMS.publisher, publisher))
    g.add((catalog, DCTERMS.language, EU_LANGUAGE_DEU))
    g.add((catalog, DCTERMS.license, licence))
    g.add((catalog, FOAF.homepage, URIRef(info.base_url + "/")))
    g.add((catalog, DCAT.dataset, dataset))
    if modified is not None:
        g.add((catalog, DCTERMS.modified, _datetime(modified)))

    g.add((dataset, RDF.type, DCAT.Dataset))
    g.add((dataset, DCTERMS.title, _literal_de(f"Projektsteckbriefe – {info.title}")))
    g.add(
        (
            dataset,
            DCTERMS.description,
            _literal_de(
                "Alle veröffentlichten Projektsteckbriefe des Katalogs: Titel, Kurzbeschreibung, beteiligte Kommunen "
                "(mit amtlichem Gemeindeschlüssel), Handlungsfelder, Umsetzung, Finanzierung und Kontakt."
            ),
        )
    )
    g.add((dataset, DCTERMS.publisher, publisher))
    g.add((dataset, DCAT.contactPoint, _contact(g, info)))
    g.add((dataset, DCAT.theme, EU_THEME_GOVE))
    g.add((dataset, DCTERMS.language, EU_LANGUAGE_DEU))
    g.add((dataset, DCTERMS.accessRights, EU_ACCESS_PUBLIC))
    g.add((dataset, DCAT.landingPage, URIRef(info.base_url + "/")))
    if info.contributor_id:
        g.add((dataset, DCATDE.contributorID, URIRef(info.contributor_id)))
    for word in keywords:
        g.add((dataset, DCAT.keyword, _literal_de(word)))
    land_keys = [ars for ars in (state_ars(s) for s in states) if ars]
    if land_keys:
        g.add((dataset, DCATDE.politicalGeocodingLevelURI, URIRef(GEOCODING_LEVEL + "state")))
        _spatial(g, dataset, land_keys)
    if modified is not None:
        g.add((dataset, DCTERMS.modified, _datetime(modified)))
    for d in distributions:
        dist = info.uri(d.path)
        g.add((dataset, DCAT.distribution, dist))
        g.add((dist, RDF.type, DCAT.Distribution))
        g.add((dist, DCTERMS.title, _literal_de(d.title)))
        g.add((dist, DCAT.accessURL, dist))
        g.add((dist, DCAT.downloadURL, dist))
        g.add((dist, DCTERMS.format, URIRef(EU_FILE_TYPE + d.file_type)))
        if d.media_type:
            g.add((dist, DCAT.mediaType, URIRef("https://www.iana.org/assignments/media-types/" + d.media_type)))
        g.add((dist, DCTERMS.license, licence))
        g.add((dist, DCATDE.licenseAttributionByText, _literal_de(f"{info.attribution}, {info.base_url}")))
        if modified is not None:
            g.add((dist, DCTERMS.modified, _datetime(modified)))
    return g


@dataclass(frozen=True, slots=True)
class AssetFacts:
    """What the ADMS description of one published profile says (built from the profile by the caller)."""

    slug: str
    title: str
    summary: str
    keywords: Sequence[str] = ()
    regional_keys: Sequence[str] = ()  # 12-digit ARS of the lead, the municipalities and the Land
    issued: datetime | None = None
    modified: datetime | None = None
    publisher: str | None = None  # the lead body's name


def asset_uri(info: CatalogueInfo, slug: str) -> URIRef:
    return info.uri(f"/profiles/{slug}")


def add_asset(g: Graph, info: CatalogueInfo, facts: AssetFacts) -> URIRef:
    """Describe one published profile as an `adms:Asset` (a reusable solution) in `g`."""
    asset = asset_uri(info, facts.slug)
    g.add((asset, RDF.type, ADMS.Asset))
    g.add((asset, DCTERMS.title, _literal_de(facts.title)))
    g.add((asset, DCTERMS.description, _literal_de(facts.summary or facts.title)))
    g.add((asset, DCAT.landingPage, asset))
    g.add((asset, DCTERMS.isPartOf, info.uri("/dcat/catalog")))
    g.add((asset, DCTERMS.license, URIRef(info.licence)))
    for word in facts.keywords:
        g.add((asset, DCAT.keyword, _literal_de(word)))
    if facts.issued is not None:
        g.add((asset, DCTERMS.issued, _datetime(facts.issued)))
    if facts.modified is not None:
        g.add((asset, DCTERMS.modified, _datetime(facts.modified)))
    if facts.publisher:
        body = BNode()
        g.add((body, RDF.type, FOAF.Agent))
        g.add((body, FOAF.name, _literal_de(facts.publisher)))
        g.add((asset, DCTERMS.creator, body))
    _spatial(g, asset, facts.regional_keys)
    return asset


@dataclass(frozen=True, slots=True)
class AdoptionFacts:
    """One adoption record: a municipality (from the register) takes up a profile's project.

    `entry_slug` is the adopting municipality's own profile of the project,
    where it has one; otherwise the adoption entry itself is described
    (at /profiles/<original>/nachnutzung/<key>).
    """

    original_slug: str
    adopter_name: str
    adopter_key: str  # AGS (or Verband ARS) in the register
    stage: str  # one of ADOPTION_STAGES
    adopter_ars: str | None = None  # 12-digit ARS from the register (a Gemeinde's AGS does not give it)
    entry_slug: str | None = None
    recorded_at: datetime | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def adoption_entry_uri(info: CatalogueInfo, a: AdoptionFacts) -> URIRef:
    if a.entry_slug:
        return asset_uri(info, a.entry_slug)
    return info.uri(f"/profiles/{a.original_slug}/nachnutzung/{a.adopter_key}")


def add_adoption(g: Graph, info: CatalogueInfo, a: AdoptionFacts) -> URIRef:
    """Map an adoption to a `dcat:qualifiedRelation` from the adopter's entry to the original asset."""
    if a.stage not in ADOPTION_STAGES:
        raise ValueError(f"unknown adoption stage: {a.stage!r}")
    entry = adoption_entry_uri(info, a)
    original = asset_uri(info, a.original_slug)
    role = info.uri(f"/def/nachnutzung/{a.stage}")
    g.add((entry, RDF.type, ADMS.Asset))
    if not a.entry_slug:
        g.add((entry, DCTERMS.title, _literal_de(f"Nachnutzung durch {a.adopter_name}")))
    adopter = BNode()
    g.add((adopter, RDF.type, FOAF.Agent))
    g.add((adopter, FOAF.name, _literal_de(a.adopter_name)))
    g.add((entry, DCTERMS.creator, adopter))
    ars = ars12(a.adopter_key, ars=a.adopter_ars)
    if ars:
        _spatial(g, entry, [ars])
    relation = BNode()
    g.add((entry, DCAT.qualifiedRelation, relation))
    g.add((relation, RDF.type, DCAT.Relationship))
    g.add((relation, DCTERMS.relation, original))
    g.add((relation, DCAT.hadRole, role))
    g.add((role, RDF.type, DCAT.Role))
    g.add((role, DCTERMS.title, _literal_de(f"Nachnutzung: {ADOPTION_STAGES[a.stage]}")))
    if a.recorded_at is not None:
        g.add((entry, DCTERMS.issued, _datetime(a.recorded_at)))
    return entry


def serialise(g: Graph, media_type: str) -> str:
    """The graph as JSON-LD, Turtle or RDF/XML (`media_type` from MEDIA_TYPES)."""
    return g.serialize(format=MEDIA_TYPES[media_type])


def negotiate(accept: str | None) -> str:
    """The serialisation for an Accept header: the first of ours it names (q>0, by q), else JSON-LD."""
    best: tuple[float, int, str] | None = None
    for position, part in enumerate((accept or "").split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        candidates = [media] if media in MEDIA_TYPES else (["application/ld+json"] if media in ("*/*", "application/*") else [])
        for c in candidates:
            if best is None or (q, -position) > (best[0], best[1]):
                best = (q, -position, c)
    return best[2] if best else "application/ld+json"


async def regional_keys_of(profile: Any) -> list[str]:
    """12-digit ARS of a profile's lead, municipalities and Land. A Gemeinde's AGS gives its ARS only through
    the register (one keyed read each); keys the register does not know are left out."""
    from catalogue import gazetteer

    keys: list[str] = []
    for org in [profile.lead, *(profile.municipalities or [])]:
        ags = getattr(org, "ags", None) if org is not None else None
        if not ags:
            continue
        ars = ars12(ags)
        if ars is None:
            entry = await gazetteer.get(ags)
            ars = ars12(ags, ars=entry.ars if entry is not None else None)
        if ars:
            keys.append(ars)
    state = getattr(profile.state, "value", profile.state)
    if ars := state_ars(state):
        keys.append(ars)
    return list(dict.fromkeys(keys))


async def asset_facts(profile: Any) -> AssetFacts:
    lead = profile.lead
    return AssetFacts(
        slug=profile.slug,
        title=profile.title,
        summary=profile.summary,
        keywords=list(profile.keywords or ()),
        regional_keys=await regional_keys_of(profile),
        issued=profile.published_at,
        modified=profile.updated_at,
        publisher=lead.name if lead is not None else None,
    )
