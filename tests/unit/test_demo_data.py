"""The demo data set (data/demo/profiles.json), the relevance-query fixture
and the synonym list: structure, validity and coverage.

The demo set describes real projects from public pages (their sources and
excerpts are checked in test_demo_sources.py). It doubles as the
relevance-test corpus for search, so these checks make sure it stays varied
enough to be meaningful.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from catalogue.fields import markdown_fields
from catalogue.models import ProfileContent
from catalogue.synonyms import SYNONYM_GROUPS, synonyms_for
from catalogue.vocabularies import (
    FederalState,
    FieldOfAction,
    FundingKind,
    LegalForm,
    ProjectStatus,
    SizeClass,
)

ROOT = Path(__file__).resolve().parents[2]
PROFILES_FILE = ROOT / "data" / "demo" / "profiles.json"
QUERIES_FILE = ROOT / "tests" / "fixtures" / "relevance_queries.json"

EXTRA_KEYS = {"slug", "demo_id"}
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
DEMO_ID_RE = re.compile(r"^demo-\d{3}$")
SEED_IDS = {"demo-001", "demo-002"}
WHY = {"typo", "inflection", "compound", "synonym", "abbreviation", "plain", "place"}

_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "ae", "Ö": "oe", "Ü": "ue"})


def _slug_from_title(title: str) -> str:
    text = re.sub(r"[^a-z0-9]+", "-", title.translate(_GERMAN).lower()).strip("-")
    if len(text) > 80:
        text = text[:80].rsplit("-", 1)[0]
    return text


def _load_raw() -> list[dict]:
    with PROFILES_FILE.open(encoding="utf-8") as fh:
        return json.load(fh)


RAW = _load_raw()


def _content(entry: dict) -> ProfileContent:
    return ProfileContent.model_validate({k: v for k, v in entry.items() if k not in EXTRA_KEYS})


CONTENTS = [_content(e) for e in RAW]


# ------------------------------------------------------------- structure


def test_file_is_the_two_seeds_and_at_least_30_real_projects() -> None:
    assert isinstance(RAW, list)
    assert len([e for e in RAW if e.get("demo_id") not in SEED_IDS]) >= 30


@pytest.mark.parametrize("entry", RAW, ids=[e.get("demo_id", "?") for e in RAW])
def test_entry_validates_as_profile_content(entry: dict) -> None:
    assert set(entry) >= EXTRA_KEYS, "slug and demo_id are required"
    unknown = set(entry) - EXTRA_KEYS - set(ProfileContent.model_fields)
    assert not unknown, f"unknown keys: {unknown}"
    content = _content(entry)
    # nothing was silently coerced away: re-dumping gives the same field names
    assert set(content.model_dump(exclude_unset=True)) == set(entry) - EXTRA_KEYS


def test_slugs_unique_and_well_formed() -> None:
    slugs = [e["slug"] for e in RAW]
    assert len(slugs) == len(set(slugs)), [s for s, n in Counter(slugs).items() if n > 1]
    for entry in RAW:
        slug = entry["slug"]
        assert SLUG_RE.match(slug), slug
        assert len(slug) <= 80, slug
        assert slug == _slug_from_title(entry["title"]), (slug, entry["title"])


def test_demo_ids_unique_stable_and_ordered() -> None:
    ids = [e["demo_id"] for e in RAW]
    assert all(DEMO_ID_RE.match(i) for i in ids), ids
    assert len(ids) == len(set(ids))
    assert ids == sorted(ids)
    assert ids[:2] == ["demo-001", "demo-002"]


def test_texts_have_demo_quality() -> None:
    """Every profile is filled enough to show; facts a source does not state stay empty."""
    for entry, content in zip(RAW, CONTENTS, strict=True):
        assert content.summary and len(content.summary) <= 500, entry["demo_id"]
        assert content.lead is not None and content.state is not None, entry["demo_id"]
        assert content.fields_of_action and content.links, entry["demo_id"]
        if content.population is not None:
            assert content.population_source, entry["demo_id"]
        if entry["demo_id"] in SEED_IDS:
            continue  # seeds are transcribed as they are
        assert 4 <= len(content.keywords) <= 8, entry["demo_id"]
        for name in (f.name for f in markdown_fields()):
            length = len(getattr(content, name))
            if name == "lessons":  # few sources say what was learnt: may be short or empty
                assert length <= 1500, (entry["demo_id"], name, length)
            else:
                assert 100 <= length <= 1500, (entry["demo_id"], name, length)
        assert content.funding.text, entry["demo_id"]
        assert content.project_status is not None, entry["demo_id"]
        assert content.links[0].title.startswith("Quelle: "), entry["demo_id"]


def test_no_invented_people_or_mailboxes_from_the_old_illustrative_set() -> None:
    """The earlier illustrative set used made-up names and addresses; none may come back."""
    corpus = json.dumps(RAW, ensure_ascii=False)
    assert "@example" not in corpus
    assert "nicht von der Kommune bestätigt" not in corpus


def test_ags_matches_state() -> None:
    from catalogue.vocabularies import state_for_ags

    for content in CONTENTS:
        for org in [content.lead, *content.municipalities]:
            if org is not None and org.ags:
                assert state_for_ags(org.ags) == content.state, (org.name, org.ags)


# ------------------------------------------------------------- seeds


def test_seed_hoexter_transcribed() -> None:
    entry = next(e for e in RAW if e["demo_id"] == "demo-001")
    c = _content(entry)
    assert c.title == "Interkommunale Digitalisierungsstrategie"
    assert c.lead is not None and c.lead.name == "Kreis Höxter" and c.lead.kind == "Kreis"
    assert c.derived_size_class() == SizeClass.DISTRICT
    towns = {m.name for m in c.municipalities}
    assert {"Bad Driburg", "Beverungen", "Borgentreich", "Brakel", "Höxter", "Marienmünster",
            "Nieheim", "Steinheim", "Warburg", "Willebadessen"} <= towns
    partners = " ".join(p.name for p in c.partners)
    for name in ("GfW", "Volkshochschulen", "Technische Hochschule OWL", "Zukunftszentrum Holzminden-Höxter", "Dorf.Zukunft.Digital"):
        assert name in partners
    assert c.state == FederalState.NW and c.district == "Detmold" and c.shows_district()
    assert c.population_body == "Stadt Höxter"  # the seed's Kurzprofil is of the town, the lead is the Kreis
    assert (c.population, c.population_as_of, c.population_source, c.area_km2) == (28808, date(2019, 12, 31), "IT.NRW", 158.16)
    assert c.occasion == "Optimierung der Verwaltungsprozesse und Schaffung von Synergieeffekten"
    assert "#XRegion" in c.implementation and "Universität Siegen" in c.implementation
    assert c.funding.text == "Die Finanzierung erfolgt durch den Kreis Höxter und die beteiligten Kommunen."
    assert c.legal_form is None  # empty in the source
    assert c.collaboration_since == 2019
    assert (c.contact.street, c.contact.postcode, c.contact.city) == ("Moltkestraße 12", "37671", "Höxter")
    assert c.contact.phone == "05271 / 965-0" and c.contact.email == "info@kreis-hoexter.de"


def test_seed_itzehoe_transcribed_without_sales_boilerplate() -> None:
    entry = next(e for e in RAW if e["demo_id"] == "demo-002")
    c = _content(entry)
    assert c.title == "Digitalstrategie Itzehoe"
    assert c.state == FederalState.SH
    everything = json.dumps(entry, ensure_ascii=False)
    assert "DIGItzehoe 2023" in everything and "eAkte" in everything and "Onlinezugangsgesetz" in everything
    for phrase in ("Sprechen wir darüber", "Immer für Sie da", "Nehmen Sie Kontakt zu uns auf", "Wir sind für Sie da"):
        assert phrase not in everything


# ------------------------------------------------------------- coverage


def test_covers_all_federal_states() -> None:
    assert {c.state for c in CONTENTS} == set(FederalState)


def test_covers_all_fields_of_action() -> None:
    assert {f for c in CONTENTS for f in c.fields_of_action} == set(FieldOfAction)


def test_covers_all_size_classes_including_kreis() -> None:
    classes = Counter(c.derived_size_class() for c in CONTENTS)
    assert set(classes) - {None} == set(SizeClass)
    assert classes[SizeClass.DISTRICT] >= 2, "several projects led by a Kreis"


def test_covers_all_legal_forms() -> None:
    assert {c.legal_form for c in CONTENTS if c.legal_form} == set(LegalForm)


def test_covers_all_project_statuses() -> None:
    assert {c.project_status for c in CONTENTS if c.project_status} == set(ProjectStatus)


def test_covers_all_funding_kinds() -> None:
    assert {k for c in CONTENTS for k in c.funding.kinds} == set(FundingKind)


def test_collaboration_years_spread() -> None:
    years = [c.collaboration_since for c in CONTENTS if c.collaboration_since]
    assert min(years) <= 2000 and max(years) >= 2024
    assert len(set(years)) >= 12


def test_vocabulary_varies_abbreviations_and_long_forms() -> None:
    """Search tests need both the short and the long forms somewhere in the corpus."""
    corpus = json.dumps(RAW, ensure_ascii=False)
    for term in ("IKZ", "interkommunale Zusammenarbeit", "OZG", "Onlinezugangsgesetz", "MVZ",
                 "Medizinisches Versorgungszentrum", "VHS", "Volkshochschule", "AöR",
                 "Anstalt des öffentlichen Rechts", "Kita", "Kindertagesstätte", "Breitbandausbau",
                 "Glasfaser", "Jugendarbeit", "Jugendpflege", "Feuerwehr", "Brandschutz"):
        assert term in corpus, term


# ------------------------------------------------------------- relevance queries


def test_relevance_queries_point_at_existing_profiles() -> None:
    with QUERIES_FILE.open(encoding="utf-8") as fh:
        queries = json.load(fh)
    assert len(queries) >= 45
    slugs = {e["slug"] for e in RAW}
    seen: set[str] = set()
    for q in queries:
        assert set(q) == {"query", "expected", "why"}, q
        assert q["query"].strip() and q["query"] not in seen, q
        seen.add(q["query"])
        assert q["expected"] in slugs, q
        assert q["why"] in WHY, q
    assert {q["why"] for q in queries} == WHY
    # the corpus is exercised broadly, not through a handful of profiles
    assert len({q["expected"] for q in queries}) >= 30


# ------------------------------------------------------------- synonyms


def test_synonym_groups_well_formed() -> None:
    assert len(SYNONYM_GROUPS) >= 25
    seen: set[str] = set()
    for group in SYNONYM_GROUPS:
        assert isinstance(group, tuple) and len(group) >= 2, group
        for term in group:
            assert term == term.lower() == term.strip(), term
            assert term not in seen, f"{term} is in two groups"
            seen.add(term)


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("IKZ", "interkommunale zusammenarbeit"),
        ("Onlinezugangsgesetz", "ozg"),
        ("eAkte", "elektronische akte"),
        ("E-Akte", "eakte"),
        ("ÖPNV", "öffentlicher personennahverkehr"),
        ("Nahverkehr", "öpnv"),
        ("Breitband", "glasfaser"),
        ("Kita", "kindertagesstätte"),
        ("Kindergarten", "kita"),
        ("Feuerwehr", "brandschutz"),
        ("Bauhof", "betriebshof"),
        ("Rufbus", "on-demand-verkehr"),
        ("Anrufbus", "rufbus"),
        ("Wärmeplanung", "kommunale wärmeplanung"),
    ],
)
def test_synonyms_for_required_pairs(term: str, expected: str) -> None:
    result = synonyms_for(term)
    assert result[0] == term.lower()
    assert expected in result


def test_synonyms_for_unknown_and_empty() -> None:
    assert synonyms_for("  Gänseblümchen ") == ("gänseblümchen",)
    assert synonyms_for("") == ()
    assert synonyms_for("interkommunale   Zusammenarbeit")[0] == "interkommunale zusammenarbeit"
