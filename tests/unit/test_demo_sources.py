"""The demo set's sources (data/demo/sources.json) back what the profiles say.

Every demo profile describes a real project from public pages. For each one
sources.json records the pages and short verbatim excerpts of the facts that
matter for honesty: every contact detail, the population, the area, the
municipality key and the start year. These tests check each such profile
value against its recorded excerpt, so a contact (person, e-mail, phone,
street, postcode, city, website) cannot enter the demo set without a source that
states it. They also keep the set disjoint from the quality-measurement
projects in ../shared/eval/dev/ when that directory is present.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROFILES_FILE = ROOT / "data" / "demo" / "profiles.json"
SOURCES_FILE = ROOT / "data" / "demo" / "sources.json"
DEV_EXPECTED = ROOT.parent / "shared" / "eval" / "dev" / "expected.json"

PROFILES = json.loads(PROFILES_FILE.read_text(encoding="utf-8"))
SOURCES = json.loads(SOURCES_FILE.read_text(encoding="utf-8"))
IDS = [p["demo_id"] for p in PROFILES]

# contact fields that name a person or a place: each must be stated by a source
CONTACT_CHECKED = ("person", "email", "phone", "street", "postcode", "city", "website")
# Destatis GV-ISys records (satzart 60): land, rb, kreis, gemeinde make the AGS
_GV_ISYS_AGS_COLUMNS = (2, 3, 4, 6)


def _flat(text: str) -> str:
    """Whitespace-insensitive, case-insensitive form of a text."""
    return re.sub(r"\s+", " ", text).strip().casefold()


def _digits_grouped(text: str) -> str:
    """Drop thousands separators (space, dot, narrow space) between digit groups."""
    return re.sub(r"(?<=\d)[ .\u00a0\u202f](?=\d{3}(?!\d))", "", text)


def _numbers(text: str) -> set[float]:
    return {float(n.replace(",", ".")) for n in re.findall(r"\d+(?:[.,]\d+)?", _digits_grouped(text))}


def _states_year(text: str, year: int) -> bool:
    """The year in full, or as the short year of a date (12.01.23)."""
    return str(year) in text or re.search(rf"\b\d{{1,2}}\.\d{{1,2}}\.{year % 100:02d}\b", text) is not None


def _host(url: str) -> str:
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.")


def _url_key(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{_host(url)}{parts.path.rstrip('/')}{'?' + parts.query if parts.query else ''}".casefold()


def _fact(demo_id: str, key: str) -> dict:
    facts = SOURCES[demo_id]["facts"]
    assert key in facts, f"{demo_id}: no recorded excerpt for {key}"
    fact = facts[key]
    source_urls = {s["url"] for s in SOURCES[demo_id]["sources"]}
    assert fact["url"] in source_urls, f"{demo_id}: excerpt for {key} cites a page that is not among its sources"
    return fact


# ------------------------------------------------------------- structure


def test_every_profile_has_a_sources_entry_and_nothing_else_does() -> None:
    assert set(SOURCES) == set(IDS)
    for p in PROFILES:
        entry = SOURCES[p["demo_id"]]
        assert entry["title"] == p["title"] and entry["slug"] == p["slug"], p["demo_id"]


@pytest.mark.parametrize("profile", PROFILES, ids=IDS)
def test_sources_are_web_pages_and_the_primary_one_is_linked(profile: dict) -> None:
    entry = SOURCES[profile["demo_id"]]
    assert entry["sources"], profile["demo_id"]
    for source in entry["sources"]:
        assert urlsplit(source["url"]).scheme in {"http", "https"} and _host(source["url"]), source
        assert source["title"].strip(), source
    primary = entry["sources"][0]["url"]
    assert primary in {link["url"] for link in profile["links"]}, "the main source is shown on the profile page"
    for key, fact in entry["facts"].items():
        assert fact["excerpt"].strip(), (profile["demo_id"], key)
        assert len(fact["excerpt"]) <= 600, f"{profile['demo_id']} {key}: keep excerpts short"


# ------------------------------------------------------------- facts against excerpts


@pytest.mark.parametrize("profile", PROFILES, ids=IDS)
def test_contact_details_are_stated_by_a_source(profile: dict) -> None:
    demo_id = profile["demo_id"]
    contact = profile.get("contact", {})
    for field in CONTACT_CHECKED:
        value = contact.get(field)
        if not value:
            continue
        excerpt = _fact(demo_id, f"contact.{field}")["excerpt"]
        if field == "website":
            assert _host(value) in _flat(excerpt), (demo_id, value, excerpt)
        elif field == "phone":
            assert re.sub(r"\D", "", value) in re.sub(r"\D", "", excerpt), (demo_id, value, excerpt)
        elif field == "city":
            # the place's name; official additions ("am Ammersee", "bei Berlin") may be left out
            assert _flat(value.split()[0]) in _flat(excerpt), (demo_id, value, excerpt)
        else:
            assert _flat(value) in _flat(excerpt), (demo_id, field, value, excerpt)


@pytest.mark.parametrize("profile", PROFILES, ids=IDS)
def test_population_area_and_start_year_are_stated_by_a_source(profile: dict) -> None:
    demo_id = profile["demo_id"]
    if profile.get("population") is not None:
        assert profile.get("population_source"), demo_id
        excerpt = _fact(demo_id, "population")["excerpt"]
        assert float(profile["population"]) in _numbers(excerpt), (demo_id, profile["population"], excerpt)
    if profile.get("area_km2") is not None:
        excerpt = _fact(demo_id, "area_km2")["excerpt"]
        assert profile["area_km2"] in _numbers(excerpt), (demo_id, profile["area_km2"], excerpt)
    if profile.get("collaboration_since") is not None:
        excerpt = _fact(demo_id, "collaboration_since")["excerpt"]
        assert _states_year(excerpt, profile["collaboration_since"]), (demo_id, profile["collaboration_since"], excerpt)


@pytest.mark.parametrize("profile", PROFILES, ids=IDS)
def test_municipality_keys_come_from_the_register_record(profile: dict) -> None:
    lead = profile.get("lead") or {}
    if not lead.get("ags"):
        return
    excerpt = _fact(profile["demo_id"], "lead.ags")["excerpt"]
    record = next(csv.reader([excerpt]))
    assert record[0] == "60", "a municipality record of the Gemeindeverzeichnis"
    assert "".join(record[i] for i in _GV_ISYS_AGS_COLUMNS) == lead["ags"]
    # the register names the same place as the lead
    place = record[7].split(",")[0].strip()
    assert place.casefold() in lead["name"].casefold(), (lead["name"], place)


@pytest.mark.parametrize("profile", [p for p in PROFILES if (p.get("lead") or {}).get("ags")], ids=lambda p: p["demo_id"])
def test_register_figures_match_the_shipped_register(profile: dict) -> None:
    """A lead with a key and figures from Destatis GV-ISys says what the register in data/register/ says."""
    from importers.gazetteer import shipped_gazetteer

    entry = shipped_gazetteer().get(profile["lead"]["ags"])
    assert entry is not None, profile["lead"]
    assert entry["name"].casefold() in profile["lead"]["name"].casefold()
    if (profile.get("population_source") or "").startswith("Destatis GV-ISys"):
        assert (profile["population"], profile.get("area_km2"), profile["population_as_of"]) == (
            entry["population"], entry["area_km2"], entry["population_as_of"]), profile["demo_id"]


def test_checks_catch_an_invented_contact() -> None:
    """The contact check fails for a value the excerpt does not state."""
    demo_id = next(p["demo_id"] for p in PROFILES if p.get("contact", {}).get("street"))
    excerpt = _fact(demo_id, "contact.street")["excerpt"]
    assert _flat("Erfundene Straße 99") not in _flat(excerpt)
    assert float(1234567) not in _numbers(excerpt)


def test_number_normalisation() -> None:
    assert 28808.0 in _numbers("Einwohner: 28.808 (31.Dez. 2019, IT.NRW)")
    assert 158.16 in _numbers("Fläche: 158,16 km²")
    assert 31738.0 in _numbers('"Herrenberg, Stadt", 65.70, 31 738, 15 573')
    assert 65.7 in _numbers('"Herrenberg, Stadt", 65.70, 31 738, 15 573')
    assert 2019.0 in _numbers("31.12.2019")
    assert _states_year("(mm-12.01.23). Im Sitzungszimmer", 2023)
    assert not _states_year("(mm-12.01.23). Im Sitzungszimmer", 2022)
    assert not _states_year("seit 123 Jahren", 2023)


# ------------------------------------------------------------- kept apart from the tuning set


def _dev_expected() -> list[dict]:
    if not DEV_EXPECTED.exists():
        pytest.skip(f"{DEV_EXPECTED} is absent (the quality-measurement set lives beside the repository)")
    return json.loads(DEV_EXPECTED.read_text(encoding="utf-8"))


def test_demo_set_is_disjoint_from_the_dev_measurement_set() -> None:
    dev = _dev_expected()
    dev_urls = {_url_key(d["url"]) for d in dev if d.get("url")}
    dev_titles = {_flat(d["title"]) for d in dev if d.get("title")}
    for demo_id, entry in SOURCES.items():
        for source in entry["sources"]:
            assert _url_key(source["url"]) not in dev_urls, (demo_id, source["url"])
        assert _flat(entry["title"]) not in dev_titles, demo_id
