"""Facets from the municipality register: Kreis, Regierungsbezirk and the register's size class,
derived at indexing time (catalogue/search/regions.py) from keyed reads of the real register
(an excerpt loaded into FerretDB), and offered by the search API and the search page."""

from __future__ import annotations

import re
from typing import Any

import pytest

from catalogue import gazetteer
from catalogue.search.regions import index_document, region_of
from tests.web_support import REGISTER_EXCERPT, load_register_excerpt, seed_published

pytestmark = pytest.mark.asyncio

# Höxter (NRW, Regierungsbezirk Detmold), Steinburg and Flensburg (Schleswig-Holstein: no Regierungsbezirke), Münster
# (kreisfreie Stadt, Regierungsbezirk Münster) and Münster in Landkreis Donau-Ries (Bayern), Liebenau in Landkreis
# Nienburg (Weser) (Niedersachsen: statistical regions, no Regierungsbezirke) and Liebenau in Kassel (Hessen),
# Donnersbergkreis (Rheinland-Pfalz: a former Regierungsbezirk only).
PREFIXES = (*REGISTER_EXCERPT, "09779", "03256", "06633", "07333")


def profile(name: str | None = None, *, kind: str | None = None, ags: str | None = None, state: str | None = None, **more: Any) -> dict[str, Any]:
    lead = {"name": name, "kind": kind, "ags": ags} if name else None
    return {"lead": lead, "state": state, **more}


@pytest.fixture
async def register(db) -> None:
    await load_register_excerpt(PREFIXES)


# ------------------------------------------------------------------ derivation


async def test_by_ags_a_gemeinde_gives_its_kreis_and_regierungsbezirk(register) -> None:
    assert await region_of(profile("Stadt Höxter", kind="Stadt", ags="05762020")) == {
        "kreis": "Kreis Höxter", "regierungsbezirk": "Regierungsbezirk Detmold", "size_class": "Mittelstadt",
    }


async def test_by_ags_a_kreis_and_a_regierungsbezirk(register) -> None:
    assert await region_of(profile("Kreis Höxter", kind="Kreis", ags="05762")) == {
        "kreis": "Kreis Höxter", "regierungsbezirk": "Regierungsbezirk Detmold", "size_class": "Kreis",
    }
    assert await region_of(profile("Bezirksregierung Detmold", ags="057")) == {
        "kreis": None, "regierungsbezirk": "Regierungsbezirk Detmold", "size_class": None,
    }


async def test_kreisfreie_stadt_is_its_own_kreis(register) -> None:
    assert await region_of(profile("Stadt Münster", kind="Stadt", ags="05515000")) == {
        "kreis": "Münster", "regierungsbezirk": "Regierungsbezirk Münster", "size_class": "Großstadt",
    }
    assert (await region_of(profile("Berlin", kind="Stadtstaat", ags="11000000")))["kreis"] == "Berlin"


async def test_land_without_regierungsbezirke_gives_none(register) -> None:
    assert await region_of(profile("Stadt Itzehoe", kind="Stadt", ags="01061046")) == {
        "kreis": "Kreis Steinburg", "regierungsbezirk": None, "size_class": "Mittelstadt",
    }
    assert (await region_of(profile("Flensburg", kind="Stadt", ags="01001000")))["regierungsbezirk"] is None
    # Rheinland-Pfalz' Regierungsbezirke are former ones (their entries stay in the register, unnamed as current)
    assert await region_of(profile("Ortsgemeinde Gerbach", kind="Gemeinde", ags="07333025")) == {
        "kreis": "Donnersbergkreis", "regierungsbezirk": None, "size_class": "Landgemeinde",
    }
    # Niedersachsen's statistical regions are no Regierungsbezirke
    assert (await region_of(profile("Linsburg", kind="Gemeinde", ags="03256020")))["regierungsbezirk"] is None


async def test_no_ags_the_name_is_looked_up(register) -> None:
    assert await region_of(profile("Kreis Höxter", kind="Kreis", state="Nordrhein-Westfalen")) == {
        "kreis": "Kreis Höxter", "regierungsbezirk": "Regierungsbezirk Detmold", "size_class": "Kreis",
    }
    # "Höxter" is the Stadt and the Kreis: the lead's kind says which
    assert (await region_of(profile("Höxter", kind="Stadt")))["size_class"] == "Mittelstadt"
    # a remark after the name is not part of it, a name's own brackets are
    assert (await region_of(profile("Gemeinde Liebenau (Federführung)", kind="Gemeinde", state="Niedersachsen")))["kreis"] == (
        "Landkreis Nienburg (Weser)"
    )


async def test_ambiguous_name_resolves_by_the_land_or_not_at_all(register) -> None:
    nrw = await region_of(profile("Münster", kind="Stadt", state="Nordrhein-Westfalen"))
    assert nrw["kreis"] == "Münster" and nrw["regierungsbezirk"] == "Regierungsbezirk Münster"
    bayern = await region_of(profile("Münster", kind="Gemeinde", state="Bayern"))
    assert bayern["kreis"] == "Landkreis Donau-Ries"
    assert bayern["regierungsbezirk"] == "Regierungsbezirk Schwaben"
    nothing = {"kreis": None, "regierungsbezirk": None, "size_class": None}
    assert await region_of(profile("Münster", kind="Gemeinde")) == nothing  # two Länder, none given
    assert await region_of(profile("Höxter", state="Nordrhein-Westfalen")) == nothing  # Stadt and Kreis, kind not given


async def test_kinds_outside_the_register_use_the_profiles_kreis_text(register) -> None:
    zv = profile("Zweckverband Höxter", kind="Zweckverband", state="Nordrhein-Westfalen", district="Kreis Höxter")
    assert await region_of(zv) == {"kreis": "Kreis Höxter", "regierungsbezirk": "Regierungsbezirk Detmold", "size_class": None}
    rb_only = profile("Kreis Höxter", kind="Kreis", state="Nordrhein-Westfalen")
    rb_only["lead"]["name"] = "Kreisverwaltung"
    assert await region_of({**rb_only, "district": "Regierungsbezirk Detmold"}) == {
        "kreis": None, "regierungsbezirk": "Regierungsbezirk Detmold", "size_class": None,
    }


async def test_unknown_lead_and_no_lead_give_nothing(register) -> None:
    nothing = {"kreis": None, "regierungsbezirk": None, "size_class": None}
    assert await region_of(profile("Komm.Pakt.Net", kind="Sonstige", state="Baden-Württemberg")) == nothing
    assert await region_of(profile("Stadt Nirgendwo", kind="Stadt")) == nothing
    assert await region_of(profile("Gemeinde X", kind="Gemeinde", ags="99999999")) == nothing
    assert await region_of(profile()) == nothing


async def test_the_registers_size_class_wins_in_the_document(register) -> None:
    # the profile states 500 inhabitants (its own size class: Landgemeinde); the register knows Höxter's
    doc = await index_document({"id": "p1", "slug": "p1", "title": "Test", "population": 500,
                                "lead": {"name": "Stadt Höxter", "kind": "Stadt", "ags": "05762020"}})
    assert doc["size_class"] == "Mittelstadt"
    assert doc["kreis"] == "Kreis Höxter" and doc["regierungsbezirk"] == "Regierungsbezirk Detmold"
    # not in the register: the profile's own figure
    doc = await index_document({"id": "p2", "slug": "p2", "title": "Test", "population": 500,
                                "lead": {"name": "Zweckverband Test", "kind": "Zweckverband"}})
    assert doc["size_class"] == "Landgemeinde" and doc["kreis"] is None


async def test_lookups_are_cached_until_the_register_is_loaded_again(register, db) -> None:
    lead = profile("Stadt Höxter", kind="Stadt", ags="05762020")
    assert (await region_of(lead))["kreis"] == "Kreis Höxter"
    await gazetteer.RegisterEntry.get_pymongo_collection().update_one({"_id": "05762"}, {"$set": {"display_name": "Kreis Geändert"}})
    assert (await region_of(lead))["kreis"] == "Kreis Höxter"  # cached: no read
    gazetteer.clear_cache()  # what `store` does after a load
    assert (await region_of(lead))["kreis"] == "Kreis Geändert"


# ------------------------------------------------------------------ API and search page


@pytest.fixture
async def catalogue(client, app) -> list[str]:
    await load_register_excerpt(PREFIXES)  # before the profiles are indexed
    slugs = await seed_published()  # the real demo set
    await app.state.runtime.sync.drain(app.state.runtime.search)
    return slugs


def _facet(body: dict[str, Any], name: str) -> dict[str, int]:
    return {v["value"]: v["count"] for f in body["facets"] if f["name"] == name for v in f["values"]}


async def test_api_facets_and_filters(client, catalogue) -> None:
    r = await client.get("/api/v1/search", params={"per_page": 100})
    assert r.status_code == 200, r.text
    body = r.json()
    kreise = _facet(body, "kreis")
    # Kreis Höxter (no AGS, by name), Itzehoe (AGS), Liebenau (by name and Land), Gerbach (AGS)
    assert kreise["Kreis Höxter"] == 1 and kreise["Kreis Steinburg"] == 1
    assert kreise["Landkreis Nienburg (Weser)"] == 1 and kreise["Donnersbergkreis"] == 1
    assert _facet(body, "regierungsbezirk")["Regierungsbezirk Detmold"] == 1
    labels = {f["name"]: f["label"] for f in body["facets"]}
    assert labels["kreis"] == "Kreis / kreisfreie Stadt" and labels["regierungsbezirk"] == "Regierungsbezirk"

    one = (await client.get("/api/v1/search", params={"kreis": "Kreis Höxter"})).json()
    assert [h["slug"] for h in one["hits"]] == [catalogue[0]]
    assert _facet(one, "kreis")["Kreis Steinburg"] == 1  # a filtered facet still shows the alternatives
    two = (await client.get("/api/v1/search", params=[("kreis", "Kreis Höxter"), ("kreis", "Kreis Steinburg")])).json()
    assert two["total"] == 2
    rb = (await client.get("/api/v1/search", params={"regierungsbezirk": "Regierungsbezirk Detmold"})).json()
    assert [h["slug"] for h in rb["hits"]] == [catalogue[0]]
    both = (await client.get("/api/v1/search", params={"regierungsbezirk": "Regierungsbezirk Detmold", "kreis": "Kreis Steinburg"})).json()
    assert both["total"] == 0
    unknown = (await client.get("/api/v1/search", params={"kreis": 'Kreis "x") OR (1=1'})).json()
    assert unknown["total"] == 0


@pytest.mark.parametrize("value", ["", "   ", "x" * 201, "Kreis\x00Höxter"])
async def test_api_rejects_bad_register_names(client, catalogue, value: str) -> None:
    r = await client.get("/api/v1/search", params={"kreis": value})
    assert r.status_code in (400, 422), r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "kreis" in r.text


async def test_search_page_offers_the_register_facets(client, catalogue) -> None:
    html = (await client.get("/")).text
    assert "<legend>Kreis / kreisfreie Stadt</legend>" in html and "<legend>Regierungsbezirk</legend>" in html
    assert re.search(r'<input type="checkbox" id="fa-kreis-\d+" name="kreis" value="Kreis Höxter">', html)
    assert re.search(r'name="bezirk" value="Regierungsbezirk Detmold"', html)
    filtered = (await client.get("/", params={"kreis": "Kreis Höxter"})).text
    assert re.search(r'name="kreis" value="Kreis Höxter" checked', filtered)
    assert f'href="/profiles/{catalogue[0]}"' in filtered
    assert f'href="/profiles/{catalogue[1]}"' not in filtered  # Itzehoe (Kreis Steinburg) is filtered out
    # a value no project has any more stays selected (count 0), a hostile one is ignored
    gone = (await client.get("/", params=[("kreis", "Kreis Nirgendwo"), ("kreis", "x" * 300)])).text
    assert re.search(r'name="kreis" value="Kreis Nirgendwo" checked', gone)
    assert f'value="{"x" * 300}"' not in gone  # not offered as a checkbox (links keep the URL's parameters as they were)
