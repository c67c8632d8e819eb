"""DCAT-AP.de 3.0 description (/dcat/catalog), ADMS assets, adoptions as qualified relations, and schema.org JSON-LD.

The DCAT output is validated with pySHACL against GovData's DCAT-AP.de 3.0
shapes (tests/fixtures/dcat-ap-de/README.md says where they come from):
zero violations and zero warnings.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pyshacl
import pytest
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF

from catalogue.opendata import dcat
from catalogue.settings import Settings
from tests.factories import example_profile

SHAPES_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "dcat-ap-de"
SHAPE_FILES = ("dcat-ap-SHACL.ttl", "dcat-ap-SHACL-DE.ttl", "dcat-ap-de-controlledvocabularies.ttl", "dcat-ap-de-deprecated.ttl", "dcat-ap-spec-german-additions.ttl")
CONTRIBUTOR = "http://dcat-ap.de/def/contributors/berlinOpenData"  # an entry of the contributor list (a real ID, for the test only)
ADMS = Namespace("http://www.w3.org/ns/adms#")
DCATDE = Namespace("http://dcat-ap.de/def/dcatde/")
SDO = Namespace("https://schema.org/")
EU = "http://publications.europa.eu/resource/authority/"
# skos:inScheme of the EU vocabulary terms the catalogue uses (EU Publications Office authority tables; dcat-ap.de levels).
VOCABULARY_TERMS = f"""@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
<{EU}language/DEU> skos:inScheme <{EU}language> .
<{EU}data-theme/GOVE> skos:inScheme <{EU}data-theme> .
<{EU}access-right/PUBLIC> skos:inScheme <{EU}access-right> .
<{EU}file-type/JSON> skos:inScheme <{EU}file-type> .
<{EU}file-type/CSV> skos:inScheme <{EU}file-type> .
<http://dcat-ap.de/def/politicalGeocoding/Level/state> skos:inScheme <http://dcat-ap.de/def/politicalGeocoding/Level> .
"""
API = "/api/v1/profiles"


@pytest.fixture(scope="module")
def shapes() -> Graph:
    g = Graph()
    for name in SHAPE_FILES:
        g.parse(SHAPES_DIR / name)
    return g


@pytest.fixture(scope="module")
def vocabularies() -> Graph:
    g = Graph()
    g.parse(SHAPES_DIR / "dcat-ap-de-licenses-open.rdf")
    g.parse(SHAPES_DIR / "dcat-ap-de-contributors.rdf")
    g.parse(data=VOCABULARY_TERMS, format="turtle")
    return g


def shacl_results(data: Graph, shapes: Graph, vocabularies: Graph) -> list[str]:
    """Every violation and warning, as text (empty when the graph conforms with no warnings)."""
    _, report, text = pyshacl.validate(data + vocabularies, shacl_graph=shapes, inference="none", advanced=True)
    sh = Namespace("http://www.w3.org/ns/shacl#")
    results = list(report.subjects(RDF.type, sh.ValidationResult))
    return [text] if results else []


INFO = dcat.CatalogueInfo(
    base_url="https://leuchtturm.example",
    title="Leuchtturm – Katalog kommunaler Projekte",
    publisher_name="Betreiber dieses Leuchtturm-Katalogs",
    licence="http://dcat-ap.de/def/licenses/cc-by/4.0",
    attribution="Leuchtturm – Katalog kommunaler Projekte",
    contact_email="kontakt@leuchtturm.example",
    contributor_id=CONTRIBUTOR,
)
DISTRIBUTIONS = [
    dcat.Distribution("/api/v1/export/profiles.json", "JSON", "application/json", "JSON"),
    dcat.Distribution("/api/v1/export/profiles.ndjson", "JSON", None, "NDJSON"),
    dcat.Distribution("/api/v1/export/profiles.csv", "CSV", "text/csv", "CSV"),
]
NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def _full_graph() -> Graph:
    g = dcat.catalogue_graph(INFO, DISTRIBUTIONS, states=["Bayern", "Nordrhein-Westfalen"], modified=NOW, keywords=["Mobilität & Verkehr"])
    facts = dcat.AssetFacts(
        slug="rufbus", title="Rufbus", summary="Ein Rufbus für die Dörfer.", keywords=["Rufbus"],
        regional_keys=["057620000000"], issued=NOW, modified=NOW, publisher="Kreis Höxter",
    )
    dcat.add_asset(g, INFO, facts)
    dcat.add_adoption(g, INFO, ADOPTION)
    return g


# A constructed adoption record (adoptions themselves are recorded by a later feature).
ADOPTION = dcat.AdoptionFacts(
    original_slug="rufbus", adopter_name="Kreis Lippe", adopter_key="05766", stage="planning", recorded_at=NOW
)


def test_catalogue_asset_and_adoption_conform_to_the_dcat_ap_de_shapes(shapes, vocabularies) -> None:
    assert shacl_results(_full_graph(), shapes, vocabularies) == []


def test_the_shapes_do_find_violations(shapes, vocabularies) -> None:
    """The validation can fail: a dataset without publisher and a distribution without access URL are violations."""
    g = _full_graph()
    dataset = INFO.uri("/dcat/catalog#profile")
    g.remove((dataset, DCTERMS.publisher, None))
    g.remove((INFO.uri("/api/v1/export/profiles.csv"), DCAT.accessURL, None))
    results = shacl_results(g, shapes, vocabularies)
    assert results and "publisher" in results[0] and "accessURL" in results[0]


def test_mandatory_properties_licence_and_regional_keys() -> None:
    g = _full_graph()
    catalog, dataset = INFO.uri("/dcat/catalog"), INFO.uri("/dcat/catalog#profile")
    for s, p in ((catalog, DCTERMS.title), (catalog, DCTERMS.description), (catalog, DCTERMS.publisher), (catalog, DCAT.dataset),
                 (dataset, DCTERMS.title), (dataset, DCTERMS.description), (dataset, DCTERMS.publisher), (dataset, DCAT.contactPoint)):
        assert g.value(s, p) is not None, p
    assert g.value(dataset, DCATDE.contributorID) == URIRef(CONTRIBUTOR)
    dists = set(g.objects(dataset, DCAT.distribution))
    assert dists == {INFO.uri(d.path) for d in DISTRIBUTIONS}
    for d in dists:
        assert g.value(d, DCTERMS.license) == URIRef("http://dcat-ap.de/def/licenses/cc-by/4.0")
        assert g.value(d, DCAT.accessURL) == d
        assert g.value(d, DCATDE.licenseAttributionByText) is not None
    spatial = set(g.objects(dataset, DCTERMS.spatial))
    base = "https://www.dcat-ap.de/def/politicalGeocoding/regionalKey/"
    assert spatial == {URIRef(base + "090000000000"), URIRef(base + "050000000000")}
    assert not list(g.triples((None, DCATDE.politicalGeocodingURI, None))), "the deprecated property is not used"
    contact = g.value(dataset, DCAT.contactPoint)
    assert g.value(contact, Namespace("http://www.w3.org/2006/vcard/ns#").hasEmail) == URIRef("mailto:kontakt@leuchtturm.example")


def test_an_adoption_is_a_qualified_relation_from_the_adopters_entry_to_the_original() -> None:
    g = dcat.new_graph()
    entry = dcat.add_adoption(g, INFO, ADOPTION)
    assert entry == INFO.uri("/profiles/rufbus/nachnutzung/05766")
    assert (entry, RDF.type, ADMS.Asset) in g
    relation = g.value(entry, DCAT.qualifiedRelation)
    assert (relation, RDF.type, DCAT.Relationship) in g
    assert g.value(relation, DCTERMS.relation) == INFO.uri("/profiles/rufbus")
    role = g.value(relation, DCAT.hadRole)
    assert role == INFO.uri("/def/nachnutzung/planning") and (role, RDF.type, DCAT.Role) in g
    assert set(g.objects(entry, DCTERMS.spatial)) == {dcat.regional_key("057660000000")}
    adopter = g.value(entry, DCTERMS.creator)
    assert g.value(adopter, FOAF.name) == Literal("Kreis Lippe", lang="de")
    # with the adopter's own profile of the project, the relation starts there
    own = dcat.AdoptionFacts(original_slug="rufbus", adopter_name="Stadt Lemgo", adopter_key="05766044",
                             adopter_ars="057660044044", stage="implemented", entry_slug="rufbus-lemgo")
    g2 = dcat.new_graph()
    assert dcat.add_adoption(g2, INFO, own) == INFO.uri("/profiles/rufbus-lemgo")
    assert set(g2.objects(INFO.uri("/profiles/rufbus-lemgo"), DCTERMS.spatial)) == {dcat.regional_key("057660044044")}
    with pytest.raises(ValueError, match="stage"):
        dcat.add_adoption(dcat.new_graph(), INFO, dcat.AdoptionFacts("rufbus", "X", "05766", "gestohlen"))


def test_regional_keys_and_negotiation() -> None:
    assert dcat.ars12("09") == "090000000000"
    assert dcat.ars12("05766") == "057660000000"
    assert dcat.ars12("010545453") == "010545453000"
    assert dcat.ars12("05766044") is None, "a Gemeinde's ARS needs the register"
    assert dcat.ars12("05766044", ars="057660044044") == "057660044044"
    with pytest.raises(ValueError):
        dcat.regional_key("0576")
    assert dcat.negotiate("text/turtle") == "text/turtle"
    assert dcat.negotiate("application/rdf+xml;q=0.9, text/turtle;q=0.5") == "application/rdf+xml"
    assert dcat.negotiate("text/html,*/*;q=0.8") == "application/ld+json"
    assert dcat.negotiate(None) == "application/ld+json"
    assert dcat.negotiate("text/turtle;q=0, application/rdf+xml") == "application/rdf+xml"


# ---------------------------------------------------------------- over HTTP


@pytest.fixture
def settings(tmp_path: Path, mongo_uri: str) -> Settings:
    return Settings(
        mongodb_url=mongo_uri, data_dir=tmp_path / "var", demo_data=False, load_register=False,
        secret_key="test-secret-key-" + "x" * 32, meili_url=None, _env_file=None,
        base_url="https://leuchtturm.example", contact_email="kontakt@leuchtturm.example", contributor_id=CONTRIBUTOR,
    )


@pytest.fixture
async def published(client, auth) -> dict[str, str]:
    slugs = {}
    for title, state, lead in (
        ("Rufbus im Kreis", "Bayern", {"name": "Landkreis Cham", "kind": "Kreis", "ags": "09372"}),
        ("Fundbüro online", "Nordrhein-Westfalen", {"name": "Kreis Höxter", "kind": "Kreis", "ags": "05762"}),
    ):
        r = await client.post(API, json=example_profile(title=title, state=state, lead=lead), headers=auth["reviewer"])
        assert r.status_code == 201, r.text
        slug = r.json()["slug"]
        for step in ("submit", "publish"):
            assert (await client.post(f"{API}/{slug}/{step}", headers=auth["reviewer"])).status_code == 200
        slugs[state] = slug
    r = await client.post(API, json=example_profile(title="Entwurf in Sachsen", state="Sachsen"), headers=auth["editor"])
    slugs["draft"] = r.json()["slug"]
    return slugs


FORMATS = {"application/ld+json": "json-ld", "text/turtle": "turtle", "application/rdf+xml": "xml"}


async def test_catalog_by_content_negotiation_and_suffix_validates(client, published, shapes, vocabularies) -> None:
    graphs = []
    for accept, fmt in FORMATS.items():
        r = await client.get("/dcat/catalog", headers={"Accept": accept})
        assert r.status_code == 200 and r.headers["content-type"].startswith(accept), accept
        assert r.headers["vary"] == "Accept" and r.headers["etag"]
        graphs.append(Graph().parse(data=r.text, format=fmt))
    for suffix, fmt in (("jsonld", "json-ld"), ("ttl", "turtle"), ("rdf", "xml")):
        r = await client.get(f"/dcat/catalog.{suffix}")
        assert r.status_code == 200, suffix
        graphs.append(Graph().parse(data=r.text, format=fmt))
    assert all(len(g) == len(graphs[0]) for g in graphs), "every serialisation says the same"
    g = graphs[1]
    assert shacl_results(g, shapes, vocabularies) == []
    dataset = URIRef("https://leuchtturm.example/dcat/catalog#profile")
    base = "https://www.dcat-ap.de/def/politicalGeocoding/regionalKey/"
    assert set(g.objects(dataset, DCTERMS.spatial)) == {URIRef(base + "090000000000"), URIRef(base + "050000000000")}, "only published Länder"
    downloads = {str(o) for o in g.objects(None, DCAT.downloadURL)}
    assert downloads == {f"https://leuchtturm.example/api/v1/export/profiles.{f}" for f in ("json", "ndjson", "csv")}
    r = await client.get("/dcat/catalog.ttl", headers={"If-None-Match": (await client.get("/dcat/catalog.ttl")).headers["etag"]})
    assert r.status_code == 304
    assert (await client.get("/dcat/catalog.xml")).status_code == 404
    assert (await client.get("/dcat/katalog")).status_code == 404


async def test_each_published_profile_is_an_adms_asset(client, published, shapes, vocabularies) -> None:
    slug = published["Nordrhein-Westfalen"]
    r = await client.get(f"/dcat/profiles/{slug}.ttl")
    assert r.status_code == 200, r.text
    g = Graph().parse(data=r.text, format="turtle")
    asset = URIRef(f"https://leuchtturm.example/profiles/{slug}")
    assert (asset, RDF.type, ADMS.Asset) in g
    assert g.value(asset, DCTERMS.title) == Literal("Fundbüro online", lang="de")
    base = "https://www.dcat-ap.de/def/politicalGeocoding/regionalKey/"
    assert set(g.objects(asset, DCTERMS.spatial)) == {URIRef(base + "057620000000"), URIRef(base + "050000000000")}
    assert shacl_results(g, shapes, vocabularies) == []
    assert (await client.get(f"/dcat/profiles/{published['draft']}.ttl")).status_code == 404, "drafts are not described"
    assert (await client.get(f"/dcat/profiles/{slug}.exe")).status_code == 404


async def test_schema_org_json_ld_of_a_profile(client, published) -> None:
    slug = published["Bayern"]
    r = await client.get(f"{API}/{slug}.jsonld")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/ld+json")
    data = r.json()
    assert data["@context"] == "https://schema.org"
    assert "Project" in data["@type"]
    sponsor = data["sponsor"]
    assert sponsor["@type"] == "GovernmentOrganization" and sponsor["identifier"]["value"] == "09372"
    places = [a for a in data["areaServed"] if a.get("identifier") == "09372"]
    assert places and places[0]["@type"] == "AdministrativeArea"  # a schema.org Place
    # parses as JSON-LD with the schema.org vocabulary (the remote context replaced by its vocabulary, offline)
    g = Graph().parse(data=json.dumps({**data, "@context": {"@vocab": "https://schema.org/"}}), format="json-ld")
    assert (URIRef(f"https://leuchtturm.example/profiles/{slug}"), RDF.type, SDO.Project) in g
    assert any(g.subjects(RDF.type, SDO.GovernmentOrganization)) and any(g.subjects(RDF.type, SDO.AdministrativeArea))
    page = await client.get(f"/profiles/{slug}")
    assert "application/ld+json" in page.text and '"GovernmentOrganization"' in page.text
    assert (await client.get(f"{API}/{published['draft']}.jsonld")).status_code == 404
    etag = r.headers["etag"]
    assert (await client.get(f"{API}/{slug}.jsonld", headers={"If-None-Match": etag})).status_code == 304
