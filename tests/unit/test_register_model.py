"""The register's pure parts: keys, names, key documents, attribution (no database)."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from catalogue import gazetteer as reg
from catalogue.models import Organisation, register_key_label
from catalogue.pdf.render import population_text


@pytest.mark.parametrize("key", ["05", "057", "05762", "05762020", "010545453"])
def test_an_organisation_takes_every_key_a_body_has(key: str) -> None:
    assert Organisation(name="x", ags=key).ags == key


@pytest.mark.parametrize("key", ["5762", "0576202", "0576202012", "05762O20", "", "0576 2"])
def test_an_organisation_rejects_other_keys(key: str) -> None:
    with pytest.raises(ValidationError):
        Organisation(name="x", ags=key)


def test_key_labels() -> None:
    assert register_key_label("010545453") == "ARS" and register_key_label("05762020") == "AGS" and register_key_label(None) == "AGS"


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("Bruchhausen-Vilsen", "bruchhausen vilsen"),
        ("St. Märgen", "sankt maergen"),
        ("Sankt Märgen", "sankt maergen"),
        ("Rotenburg/Wümme", "rotenburg wuemme"),
        ("Rotenburg (Wümme)", "rotenburg wuemme"),
        ("  Höxter ", "hoexter"),
        ("GROSSENGOTTERN", "grossengottern"),
        ("Großengottern", "grossengottern"),
    ],
)
def test_name_keys(written: str, key: str) -> None:
    assert reg.name_key(written) == key


def test_name_variants_cover_how_people_write_names() -> None:
    frankfurt = {"_id": "06412000", "level": "gemeinde", "name": "Frankfurt am Main", "official_name": "Frankfurt am Main, Stadt", "kind_label": "kreisfreie Stadt"}
    assert {"frankfurt am main", "frankfurt"} <= reg.name_variants(frankfurt)
    neustadt = {"_id": "09374139", "level": "gemeinde", "name": "Neustadt a.d.Waldnaab", "kind_label": "Stadt"}
    assert {"neustadt a d waldnaab", "neustadt an der waldnaab", "neustadt"} <= reg.name_variants(neustadt)
    rostock = {"_id": "13072", "level": "kreis", "name": "Landkreis Rostock", "kind_label": "Landkreis"}
    assert {"landkreis rostock", "rostock"} <= reg.name_variants(rostock)
    hidden = {"_id": "01001", "level": "kreis", "name": "Flensburg", "kind_label": "kreisfreie Stadt", "listed": False}
    assert reg.name_variants(hidden) == set()
    assert reg.split_kind_prefix("kreis hoexter") == ("kreis", None, "hoexter")
    assert reg.split_kind_prefix("hoexter") is None


def test_prefix_documents_form_an_unbroken_run_and_hold_every_entry() -> None:
    entries = [
        {"_id": f"0100{n:04d}", "level": "gemeinde", "name": f"Hasel{chr(97 + n % 26)}{n}", "kind_label": "Gemeinde", "population": n}
        for n in range(60)
    ] + [{"_id": "01054144", "level": "gemeinde", "name": "Viöl", "kind_label": "Gemeinde", "population": 2223}]
    names, prefixes = reg.build_keys(entries)
    assert [r["key"] for r in names["vioel"]] == ["01054144"] and [r["key"] for r in names["viol"]] == ["01054144"]
    for entry in entries:  # every name's prefixes lead to a document that lists it or to a longer one that does
        form = reg.name_key(entry["name"])
        lengths = [n for n in range(1, len(form) + 1) if form[:n] in prefixes]
        assert lengths == list(range(1, max(lengths) + 1))
        complete, refs = prefixes[form[: max(lengths)]]
        assert complete and entry["_id"] in {r["key"] for r in refs}
    complete, refs = prefixes["h"]
    assert not complete and len(refs) == reg.PREFIX_FANOUT and refs[0]["population"] == 59  # the largest first


def test_attribution_for_register_figures() -> None:
    assert reg.attribution_for("Destatis GV-ISys", "2019-12-31") == "© Statistisches Bundesamt (Destatis), 2020, Datenlizenz Deutschland – Namensnennung – 2.0"
    assert reg.attribution_for("Destatis GV-ISys (Summe der Gemeinden)", date(2021, 6, 30)).startswith("© Statistisches Bundesamt (Destatis), 2021")  # type: ignore[union-attr]
    assert reg.attribution_for("IT.NRW", "2019-12-31") is None
    # a source that names its credit (the demo set's) gets the licence only, never the credit twice
    stated = "Destatis GV-ISys (Stand 31.12.2019), © Statistisches Bundesamt (Destatis), 2020"
    assert reg.attribution_for(stated, "2019-12-31") == "Datenlizenz Deutschland – Namensnennung – 2.0"
    text = population_text({"population": 28808, "population_as_of": "2019-12-31", "population_source": "Destatis GV-ISys"})
    assert text == "28.808 (Stand 31.12.2019, Quelle: Destatis GV-ISys, © Statistisches Bundesamt (Destatis), 2020, Datenlizenz Deutschland – Namensnennung – 2.0)"
    assert population_text({"population": 28808, "population_source": "IT.NRW"}) == "28.808 (Quelle: IT.NRW)"


def test_aggregate_sums_what_is_loaded() -> None:
    entries = {
        "05762": {"_id": "05762", "level": "kreis", "name": "Höxter", "kind_label": "Kreis", "kind": "Kreis"},
        "05762020": {"_id": "05762020", "level": "gemeinde", "name": "Höxter", "kind_label": "Stadt", "kind": "Stadt", "population": 28808, "area_km2": 158.16, "population_as_of": "2019-12-31"},
        "05762004": {"_id": "05762004", "level": "gemeinde", "name": "Bad Driburg", "kind_label": "Stadt", "kind": "Stadt", "population": 18980, "area_km2": 142.04},
    }
    out = reg.aggregate(entries)
    assert out["05762"]["population"] == 47788 and out["05762"]["area_km2"] == 300.2 and out["05762"]["size_class"] == "Kreis"
    assert out["05762"]["population_source"] == "Destatis GV-ISys (Summe der Gemeinden)"
    assert out["05762020"]["size_class"] == "Mittelstadt" and out["05762004"]["size_class"] == "Kleinstadt"
