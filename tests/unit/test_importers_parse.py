"""Parsing the two source formats (invented test texts) and the catalogue's own formats (no database)."""

from __future__ import annotations

import html
import json
from datetime import date
from pathlib import Path

import pytest

from catalogue.models import ProfileContent
from catalogue.vocabularies import (
    EditorialStatus,
    FederalState,
    FieldOfAction,
    OrganisationKind,
)
from importers.base import (
    ParsedRecord,
    Source,
    SourceError,
    UnknownFormatError,
    decode_text,
    validate_record,
)
from importers.catalogue_formats import CsvImporter, JsonImporter, NdjsonImporter
from importers.export import export_csv, export_json, export_ndjson
from importers.gazetteer import Gazetteer, GazetteerImporter, default_gazetteer, read_register
from importers.html_page import HtmlImporter, html_to_text
from importers.recognition import (
    legal_form,
    organisation_kind,
    parse_area_km2,
    parse_date,
    parse_number,
    partner_kind,
    recognise_state,
)
from importers.reference_text import ReferenceTextImporter
from importers.registry import IMPORTERS, detect_format, parse_source
from importers.structured_text import StructuredTextImporter
from tests.factories import REFERENCE_TEXT, STRUCTURED_TEXT

STRUCTURED_SEED = STRUCTURED_TEXT  # invented: Kreis Beispielland (tests/fixtures/texts/)
REFERENCE_SEED = REFERENCE_TEXT  # invented: Stadt Beispielstadt

BEISPIEL_TOWNS = ["Musterstadt", "Beispielheim", "Probstadt", "Testhausen", "Neu-Exempel"]
BEISPIEL_PARTNERS = {
    "Gesellschaft für Standortentwicklung Beispielland (GSB)": "Unternehmen",
    "Volkshochschule Beispielland": "Sonstige",
    "Hochschule Musterland": "Hochschule",
    "Dorf.Netz.Digital": "Sonstige",
}
# The fields of action each text is about; the importer proposes one to three of them, the main one first.
BEISPIEL_FIELDS = {FieldOfAction.ADMINISTRATION, FieldOfAction.DIGITAL_INFRASTRUCTURE}
BUERGERBUS_FIELDS = {FieldOfAction.HEALTH_CARE, FieldOfAction.SOCIAL, FieldOfAction.MOBILITY, FieldOfAction.PARTICIPATION}
# A register of the invented places, as the register importer yields entries (a Kreis number no Land uses).
_KREIS = {"kreis": "05999", "kreis_name": "Kreis Beispielland", "parent": "05999"}


def _gemeinde(key: str, name: str, population: int, area: float, kind: OrganisationKind, **where: str) -> dict[str, object]:
    return {"_id": key, "level": "gemeinde", "name": name, "kind": kind, "kind_label": kind.value,
            "population": population, "area_km2": area, **where}


BEISPIEL_GAZETTEER = Gazetteer([
    {"_id": "05", "level": "land", "name": "Nordrhein-Westfalen", "kind_label": "Land"},
    {"_id": "01", "level": "land", "name": "Schleswig-Holstein", "kind_label": "Land"},
    {"_id": "05999", "level": "kreis", "name": "Beispielland", "display_name": "Kreis Beispielland",
     "kind": OrganisationKind.DISTRICT, "kind_label": "Kreis", "parent": "05"},
    _gemeinde("05999004", "Musterstadt", 12345, 87.65, OrganisationKind.TOWN, **_KREIS),
    _gemeinde("05999008", "Beispielheim", 4100, 31.2, OrganisationKind.MUNICIPALITY, **_KREIS),
    _gemeinde("05999012", "Probstadt", 9800, 55.0, OrganisationKind.TOWN, **_KREIS),
    _gemeinde("05999016", "Testhausen", 2300, 19.4, OrganisationKind.MUNICIPALITY, **_KREIS),
    _gemeinde("05999020", "Neu-Exempel", 3100, 24.8, OrganisationKind.MUNICIPALITY, **_KREIS),
    _gemeinde("01999003", "Beispielstadt", 18200, 40.1, OrganisationKind.TOWN, parent="01999", kreis="01999"),
])


def only(records: list[ParsedRecord]) -> ParsedRecord:
    assert len(records) == 1, records
    return records[0]


def warning_texts(record: ParsedRecord) -> str:
    return "\n".join(w.message for w in record.warnings)


# ------------------------------------------------------------------ helpers for HTML versions


def structured_to_html(text: str) -> str:
    """The structured seed as a page: h1 title, h2 labels, a dl Kurzprofil, page chrome around."""
    lines = [line.strip() for line in text.split("\n")]
    out = [
        "<!DOCTYPE html><html lang='de'><head><meta charset='utf-8'><title>IKZ-Datenbank</title>",
        "<style>body{font-family:sans-serif}</style><script>window.track('Anlass: Fake')</script></head><body>",
        "<header><nav><ul><li><a href='/'>Start</a></li><li><a href='/suche'>Suche</a></li></ul></nav></header><main>",
    ]
    title_done = False
    section = None
    for line in lines:
        if not line:
            continue
        if not title_done:
            out.append(f"<h1>{html.escape(line)}</h1>")
            title_done = True
            continue
        label, sep, rest = line.partition(":")
        if sep and label in ("Stichworte", "Hauptverantwortlich", "Sonstige Beteiligte", "Kurzprofil", "Anlass", "Ziel",
                             "Umsetzung", "Finanzierung", "Rechtsform", "Zusammenarbeit seit", "Kontakt"):
            section = label
            if rest.strip():
                out.append(f"<table><tr><th>{html.escape(label)}:</th><td>{html.escape(rest.strip())}</td></tr></table>")
            else:
                out.append(f"<h2>{html.escape(label)}</h2>")
            continue
        if section == "Kurzprofil" and line.startswith(("Einwohner:", "Fläche:")):
            key, _, value = line.partition(":")
            out.append(f"<dl><dt>{html.escape(key)}</dt><dd>{html.escape(value.strip())}</dd></dl>")
            continue
        if section == "Kontakt" and not line.startswith(("Telefon", "Email")):
            out.append(f"<p>{html.escape(line)}</p>")
            continue
        escaped = html.escape(line).replace("Diese Übersicht", '<a href="x.pdf">Diese Übersicht</a>')
        out.append(f"<p>{escaped}</p>")
    out.append("</main><footer><p>Impressum · Datenschutz</p></footer></body></html>")
    return "\n".join(out)


def reference_to_html(text: str) -> str:
    """The reference seed as a page: h1, h2 for the short heading lines, ul for the bullets."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    out = ["<html><head><title>Referenz</title></head><body><nav>Leistungen | Referenzen | Kontakt</nav>",
           "<div class='cookie-banner'><p>Wir verwenden Cookies.</p></div><article>"]
    out.append(f"<h1>{html.escape(lines[0])}</h1>")
    in_list = False
    pending = False
    for i, line in enumerate(lines[1:], 1):
        if line == "-":
            if not in_list:
                out.append("<ul>")
                in_list = True
            pending = True
            continue
        if pending:
            out.append(f"<li>{html.escape(line)}</li>")
            pending = False
            continue
        if in_list:
            out.append("</ul>")
            in_list = False
        is_heading = len(line) < 60 and not line.endswith((".", "?", "!")) and i + 1 < len(lines)
        tag = "h2" if is_heading else "p"
        out.append(f"<{tag}>{html.escape(line)}</{tag}>")
    if in_list:
        out.append("</ul>")
    out.append("</article><footer>© 2023 Beratung GmbH</footer></body></html>")
    return "\n".join(out)


# ------------------------------------------------------------------ structured seed


def check_fundbuero(c: ProfileContent, record: ParsedRecord, *, with_register: bool = True) -> None:
    assert c.title == "Gemeinsames Online-Fundbüro"
    assert c.lead is not None and c.lead.name == "Kreis Beispielland" and c.lead.kind == "Kreis"
    assert [m.name for m in c.municipalities] == BEISPIEL_TOWNS
    if with_register:  # kinds and AGS from the municipality register
        assert [m.kind for m in c.municipalities] == ["Stadt", "Gemeinde", "Stadt", "Gemeinde", "Gemeinde"]
        assert {m.name: m.ags for m in c.municipalities}["Musterstadt"] == "05999004"
    assert {p.name: p.kind.value for p in c.partners} == BEISPIEL_PARTNERS
    assert c.keywords == ["Fundbüro"]
    assert c.district == "Arnsberg"
    assert c.population == 12345
    assert c.population_as_of == date(2022, 12, 31)
    assert c.population_source == "Statistikamt Beispielland"
    assert c.area_km2 == pytest.approx(87.65)
    assert c.state == FederalState.NW
    assert 1 <= len(c.fields_of_action) <= 3 and set(c.fields_of_action) <= BEISPIEL_FIELDS
    assert c.fields_of_action[0] == FieldOfAction.ADMINISTRATION
    assert c.occasion == "Fundsachen blieben in sechs Rathäusern liegen, weil niemand wusste, wo er suchen sollte."
    assert c.goal.startswith("Ziel ist ein einziges Fundbüro für den ganzen Kreis")
    assert c.summary == c.goal  # no summary in the text: taken from the goal
    assert c.implementation.startswith("Zuerst haben die sechs Verwaltungen verglichen")
    assert "„Fund.Sache – ein Fundbüro für alle“" in c.implementation
    assert "\n\n" in c.implementation  # paragraphs kept
    assert "Quelle für Text und Bild" not in c.implementation
    assert c.funding.text == "Die Kosten tragen der Kreis Beispielland und die beteiligten Gemeinden aus Eigenmitteln."
    assert [k.value for k in c.funding.kinds] == ["Eigenmittel"]
    assert c.legal_form is None
    assert c.collaboration_since == 2021
    assert c.contact.organisation == "Kreis Beispielland"
    assert c.contact.street == "Musterweg 1"
    assert c.contact.postcode == "12345"
    assert c.contact.city == "Musterstadt"
    assert c.contact.phone == "01234 / 5678-0"
    assert c.contact.email == "fundbuero@beispielland.example"
    everything = json.dumps(c.model_dump(mode="json"), ensure_ascii=False)
    assert "herunterladen" not in everything
    # the editor is told what is missing or derived
    assert "Rechtsform fehlt" in warning_texts(record)
    assert any(w.field == "legal_form" for w in record.warnings)
    assert "Fachhochschule Exempelberg" in warning_texts(record)  # named in the text, not listed
    assert "Stadt Musterstadt" in warning_texts(record)  # Kurzprofil is about the town, not the Kreis


def test_structured_text_all_required_values() -> None:
    source = Source.from_path(STRUCTURED_SEED)
    assert detect_format(source).name == "structured"
    record = only(list(StructuredTextImporter(gazetteer=BEISPIEL_GAZETTEER).parse(source)))
    assert record.ok, record.errors
    content = validate_record(record)
    assert isinstance(content, ProfileContent)
    check_fundbuero(content, record)
    assert record.suggested_status == EditorialStatus.PUBLISHED
    assert len(record.fingerprint) == 64
    prov = record.provenance
    assert prov["importer"] == "structured" and prov["source"] == str(STRUCTURED_SEED)
    assert prov["fingerprint"] == record.fingerprint and prov["retrieved_at"] is not None
    from catalogue.models import Provenance

    Provenance.model_validate(prov)


def test_structured_without_gazetteer_still_finds_state_and_lead() -> None:
    importer = StructuredTextImporter(gazetteer=Gazetteer())
    record = only(list(importer.parse(Source.from_path(STRUCTURED_SEED))))
    c = ProfileContent.model_validate(record.content)
    check_fundbuero(c, record, with_register=False)
    assert c.state == FederalState.NW  # from the Regierungsbezirk
    assert c.lead is not None and c.lead.kind == "Kreis"
    assert next(m for m in c.municipalities if m.name == "Musterstadt").kind == "Stadt"  # from the Kurzprofil
    assert [m.kind for m in c.municipalities if m.name != "Musterstadt"] == [None] * 4
    assert all(m.ags is None for m in c.municipalities)


def test_structured_legal_form_mapping_and_warning() -> None:
    text = STRUCTURED_SEED.read_text(encoding="utf-8")
    mapped = text.replace("Rechtsform:\n", "Rechtsform: Öffentlich-rechtliche Vereinbarung\n")
    rec = only(list(StructuredTextImporter().parse(Source("x.txt", mapped.encode()))))
    assert rec.content["legal_form"] == "öffentlich-rechtliche Vereinbarung"
    odd = text.replace("Rechtsform:\n", "Rechtsform: Handschlag unter Freunden\n")
    rec = only(list(StructuredTextImporter().parse(Source("x.txt", odd.encode()))))
    assert rec.content["legal_form"] is None
    assert "Handschlag unter Freunden" in warning_texts(rec)


# ------------------------------------------------------------------ reference seed


def check_buergerbus(c: ProfileContent, record: ParsedRecord) -> None:
    assert c.title == "Bürgerbus Beispielstadt"
    assert c.lead is not None and c.lead.name == "Stadt Beispielstadt" and c.lead.kind == "Stadt"
    assert c.state == FederalState.SH
    assert 1 <= len(c.fields_of_action) <= 3 and set(c.fields_of_action) <= BUERGERBUS_FIELDS
    assert c.fields_of_action[0] == FieldOfAction.MOBILITY
    assert {p.name: p.kind.value for p in c.partners} == {"Stadtwerke": "Unternehmen"}
    assert c.summary.startswith("Die Stadt Beispielstadt in Schleswig-Holstein bringt Menschen ohne eigenes Auto")
    assert len(c.summary) <= 500
    # the heading "Warum …" starts the occasion; the bullet list of advantages becomes a Markdown list under results
    assert c.occasion.startswith("In den Ortsteilen von Beispielstadt fuhr der Linienbus")
    assert c.results.startswith("- Feste Abfahrtszeiten in jedem Ortsteil\n- Rund 40 Fahrgäste")
    assert c.results.count("\n- ") == 4
    assert "### So funktioniert es" in c.implementation
    assert "### Gemeinsam unterwegs" in c.implementation
    everything = json.dumps(c.model_dump(mode="json"), ensure_ascii=False)
    for boilerplate in ("Immer für Sie da", "Nehmen Sie Kontakt", "Wir sind für Sie da", "Sprechen Sie uns an", "Cookies"):
        assert boilerplate not in everything
    assert c.population is None and c.contact.email is None
    warnings = warning_texts(record)
    for expected in ("Kein Kontakt gefunden – bitte ergänzen", "Einwohnerzahl fehlt", "Fläche fehlt", "Rechtsform fehlt",
                     "Finanzierung fehlt", "Zusammenarbeit seit", "Ziel fehlt"):
        assert expected in warnings, expected
    assert "Anlass fehlt" not in warnings
    assert record.suggested_status == EditorialStatus.DRAFT


def test_reference_text_gives_a_draft() -> None:
    source = Source.from_path(REFERENCE_SEED)
    assert detect_format(source).name == "reference"
    record = only(list(ReferenceTextImporter(gazetteer=BEISPIEL_GAZETTEER).parse(source)))
    assert record.ok, record.errors
    content = validate_record(record)
    assert isinstance(content, ProfileContent)
    check_buergerbus(content, record)
    assert content.lead is not None and content.lead.ags == "01999003"  # from the register


def test_reference_without_gazetteer() -> None:
    record = only(list(ReferenceTextImporter(gazetteer=Gazetteer()).parse(Source.from_path(REFERENCE_SEED))))
    c = ProfileContent.model_validate(record.content)
    assert c.lead is not None and c.lead.name == "Stadt Beispielstadt" and c.lead.ags is None
    assert c.state == FederalState.SH


def test_reference_headings_map_to_fields_and_named_partners() -> None:
    text = (
        "Bürgerbus für das Amt Hüttener Berge\n"
        "Das Amt Hüttener Berge in Schleswig-Holstein betreibt einen Bürgerbus mit 12 Haltestellen.\n"
        "Ausgangslage\n"
        "Viele Dörfer hatten keine Busverbindung mehr.\n"
        "Unsere Ziele\n"
        "Mobilität für ältere Menschen sichern.\n"
        "Ergebnisse\n"
        "- 4.000 Fahrgäste im ersten Jahr\n"
        "- Ehrenamtliche Fahrerinnen und Fahrer\n"
        "Partner\n"
        "Begleitet wurde das Projekt von der Fachhochschule Kiel, der Nahverkehrsverbund Schleswig-Holstein GmbH und dem Bürgerbusverein Hütten e.V.\n"
        "Kontakt\n"
        "Amt Hüttener Berge\n"
        "Mühlenstraße 8\n"
        "24358 Ascheffel\n"
        "Telefon: 04353 / 9977-0\n"
        "E-Mail: info@amt-huettener-berge.de\n"
        "Jetzt Beratung anfragen!\n"
    )
    record = only(list(ReferenceTextImporter(gazetteer=Gazetteer()).parse(Source("buergerbus.txt", text.encode()))))
    assert record.ok, record.errors
    c = ProfileContent.model_validate(record.content)
    assert c.lead is not None and c.lead.name == "Amt Hüttener Berge" and c.lead.kind == "Amt"
    assert c.occasion == "Viele Dörfer hatten keine Busverbindung mehr."
    assert c.goal == "Mobilität für ältere Menschen sichern."
    assert c.results == "- 4.000 Fahrgäste im ersten Jahr\n- Ehrenamtliche Fahrerinnen und Fahrer"
    assert FieldOfAction.MOBILITY in c.fields_of_action
    kinds = {p.name: p.kind.value for p in c.partners}
    assert kinds["Fachhochschule Kiel"] == "Hochschule"
    assert kinds["Nahverkehrsverbund Schleswig-Holstein GmbH"] == "Unternehmen"
    assert kinds["Bürgerbusverein Hütten e.V."] == "Verein"
    assert c.contact.email == "info@amt-huettener-berge.de"
    assert c.contact.postcode == "24358" and c.contact.city == "Ascheffel"
    assert c.contact.street == "Mühlenstraße 8"
    assert c.contact.phone == "04353 / 9977-0"
    assert "Beratung anfragen" not in json.dumps(record.content, ensure_ascii=False)
    assert record.suggested_status == EditorialStatus.DRAFT


# ------------------------------------------------------------------ HTML versions


def test_html_structured_text() -> None:
    page = structured_to_html(STRUCTURED_SEED.read_text(encoding="utf-8"))
    source = Source("https://example.org/ikz/123", page.encode("utf-8"), media_type="text/html")
    importer = detect_format(source)
    assert importer.name == "html"
    record = only(list(HtmlImporter(gazetteer=BEISPIEL_GAZETTEER).parse(source)))
    assert record.ok, record.errors
    c = ProfileContent.model_validate(record.content)
    check_fundbuero(c, record)
    assert record.provenance["importer"] == "html/structured"
    assert "window.track" not in json.dumps(record.content) and "Suche" not in c.implementation
    # same content from the text file and from the page → same fingerprint
    from_text = only(list(StructuredTextImporter(gazetteer=BEISPIEL_GAZETTEER).parse(Source.from_path(STRUCTURED_SEED))))
    assert from_text.fingerprint == record.fingerprint


def test_html_reference_text() -> None:
    page = reference_to_html(REFERENCE_SEED.read_text(encoding="utf-8"))
    source = Source("buergerbus.html", page.encode("utf-8"))
    assert detect_format(source).name == "html"
    record = only(list(HtmlImporter(gazetteer=BEISPIEL_GAZETTEER).parse(source)))
    assert record.ok, record.errors
    c = ProfileContent.model_validate(record.content)
    check_buergerbus(c, record)
    assert record.provenance["importer"] == "html/reference"


def test_html_to_text_drops_chrome_and_keeps_structure() -> None:
    page = (
        "<html><head><title>T</title><style>.x{}</style></head><body><nav>Menü</nav><h1>Titel &amp; mehr</h1>"
        "<p>Absatz<br>zweite Zeile</p><ul><li>eins</li><li>zwei</li></ul>"
        "<dl><dt>Rechtsform</dt><dd>Zweckverband</dd></dl><table><tr><td>Fläche</td><td>12,5 km²</td></tr></table>"
        "<script>alert(1)</script><footer>Fuß</footer></body></html>"
    )
    assert html_to_text(page).split("\n")[:-1] == [
        "Titel & mehr", "Absatz", "zweite Zeile", "- eins", "- zwei", "Rechtsform: Zweckverband", "Fläche: 12,5 km²",
    ]


# ------------------------------------------------------------------ catalogue formats


def seed_profiles() -> list[ProfileContent]:
    out = []
    for path in (STRUCTURED_SEED, REFERENCE_SEED):
        rec = only(list(detect_format(Source.from_path(path)).parse(Source.from_path(path))))
        out.append(ProfileContent.model_validate(rec.content))
    out.append(
        ProfileContent(
            title='Gemeinsamer Bauhof; "Nord", mit Zeilen\numbruch',
            summary='Kurz, mit Komma; und "Anführungszeichen"',
            keywords=["Bauhof", "IKZ"],
            lead={"name": "Gemeinde Musterdorf", "kind": "Gemeinde", "ags": "01234567"},
            partners=[{"name": "Beispiel GmbH", "kind": "Unternehmen"}],
            population=0,
            area_km2=0.5,
            funding={"text": "Landesmittel", "kinds": ["Landesmittel", "EU-Mittel"], "programme": "LEADER", "amount_eur": 12345.67},
            goal="# Überschrift\n\n- Punkt 1\n- Punkt 2\r\n\nÄöüß €",
            project_status="laufend",
            contact={"email": "a@example.org", "website": "https://example.org/x?y=1,2"},
            links=[{"title": "Web", "url": "https://example.org"}],
        )
    )
    return out


@pytest.mark.parametrize(
    ("exporter", "name", "importer_cls"),
    [(export_json, "p.json", JsonImporter), (export_ndjson, "p.ndjson", NdjsonImporter), (export_csv, "p.csv", CsvImporter)],
)
def test_export_import_round_trip(exporter, name, importer_cls) -> None:
    profiles = seed_profiles()
    items = [
        {**p.model_dump(mode="json"), "slug": f"profil-{i}", "status": "published",
         "provenance": {"importer": "structured", "source": "x.txt", "source_id": f"src-{i}", "fingerprint": "abc"}}
        for i, p in enumerate(profiles)
    ]
    data = exporter(items).encode("utf-8")
    for source in (Source(name, data), Source("upload", data)):
        importer, records = parse_source(source)
        assert isinstance(importer, importer_cls)
        assert [r.errors for r in records] == [[]] * len(profiles)
        for i, (rec, original) in enumerate(zip(records, profiles, strict=True)):
            assert rec.content == original.model_dump(mode="json")
            assert ProfileContent.model_validate(rec.content) == original
            assert rec.slug == f"profil-{i}"
            assert rec.suggested_status == EditorialStatus.PUBLISHED
            assert rec.source_id == f"src-{i}"
            assert rec.original_provenance is not None and rec.original_provenance["importer"] == "structured"
            assert rec.position == i + 1
    # the fingerprint does not depend on the format
    again = [r.fingerprint for r in parse_source(Source(name, data))[1]]
    direct = [r.fingerprint for r in parse_source(Source("p.json", export_json(profiles).encode()))[1]]
    assert again == direct


def test_json_wrapper_and_bare_array() -> None:
    p = {"title": "Ein Projekt", "state": "Bayern"}
    for doc in ([p], {"profiles": [p]}):
        recs = list(JsonImporter().parse(Source("a.json", json.dumps(doc).encode())))
        assert len(recs) == 1 and recs[0].ok and recs[0].content["state"] == "Bayern"


def test_batch_errors_do_not_abort() -> None:
    lines = [
        json.dumps({"title": "Gut", "population": 100}),
        "{kaputt",
        json.dumps({"title": "x", "population": -5, "contact": {"email": "keine-mail", "postcode": "123"}}),
        json.dumps(["keine", "Liste"]),
        json.dumps({"title": "Auch gut", "unbekannt": 1, "status": "quatsch", "slug": "Böser Slug"}),
    ]
    recs = list(NdjsonImporter().parse(Source("b.ndjson", "\n".join(lines).encode())))
    assert [r.ok for r in recs] == [True, False, False, False, True]
    assert "Zeile 2" in recs[1].errors[0].message and "Ungültiges JSON" in recs[1].errors[0].message
    fields = {e.field: e.message for e in recs[2].errors}
    assert fields["title"] == "Titel: ist zu kurz (mindestens 3 Zeichen)"
    assert fields["population"] == "Einwohner: muss mindestens 0 sein"
    assert fields["contact.email"] == "Kontakt › E-Mail: ist keine gültige E-Mail-Adresse"
    assert fields["contact.postcode"] == "Kontakt › Postleitzahl: muss eine fünfstellige Postleitzahl sein"
    assert "Objekt" in recs[3].errors[0].message
    assert {w.field for w in recs[4].warnings} >= {"_record", "status", "slug"}
    assert recs[4].slug is None and recs[4].suggested_status == EditorialStatus.DRAFT


def test_csv_bad_cells_are_record_errors() -> None:
    csv_text = 'title;keywords;population\nGutes Projekt;["a"];12\nSchlecht;[kein json;abc\n'
    recs = list(CsvImporter().parse(Source("x.csv", csv_text.encode("cp1252"))))
    assert recs[0].ok and recs[0].content["keywords"] == ["a"] and recs[0].content["population"] == 12
    assert not recs[1].ok
    messages = " ".join(e.message for e in recs[1].errors)
    assert "kein gültiges JSON" in messages


def test_validate_record_german_messages() -> None:
    errors = validate_record({"title": "ok!", "fields_of_action": ["Raumfahrt"], "area_km2": 0, "foo": 1})
    assert isinstance(errors, list)
    by_field = {e.field: e.message for e in errors}
    assert by_field["fields_of_action.0"].startswith("Handlungsfelder › Nr. 1: ist kein zulässiger Wert (erlaubt: ")
    assert by_field["area_km2"] == "Fläche (km²): muss größer als 0 sein"
    assert by_field["foo"] == "foo: ist kein bekanntes Feld"
    assert isinstance(validate_record({"title": "Projekt"}), ProfileContent)


# ------------------------------------------------------------------ gazetteer


# The ten towns of the Kreis Höxter (in the register shipped in data/register/).
HOEXTER_TOWNS = ["Bad Driburg", "Beverungen", "Borgentreich", "Brakel", "Höxter",
                 "Marienmünster", "Nieheim", "Steinheim", "Warburg", "Willebadessen"]  # fmt: skip


def test_gazetteer_shipped_register() -> None:
    g = default_gazetteer()
    assert len(g) > 12_000
    hoexter = g.get("05762020")
    assert hoexter is not None
    assert (hoexter["name"], hoexter["population"], hoexter["area_km2"], hoexter["kind"].value) == ("Höxter", 28808, 158.16, "Stadt")
    assert hoexter["population_as_of"] == "2019-12-31" and hoexter["population_source"] == "Destatis GV-ISys"
    assert g.get("01061046")["name"] == "Itzehoe"  # type: ignore[index]
    for town in HOEXTER_TOWNS:  # every town of the Kreis is found by name (Steinheim also in Baden-Württemberg)
        found = [e for e in g.find(town) if e["level"] == "gemeinde"]
        assert any(e["_id"].startswith("05762") and e["kind"].value == "Stadt" for e in found), town
    assert [e["display_name"] for e in g.find("Kreis Höxter")] == ["Kreis Höxter"]
    assert g.get("11000000")["kind"].value == "Stadtstaat"  # type: ignore[index]


def test_gazetteer_importer_reads_the_gvisys_extract_layout() -> None:
    import gzip

    from importers.gazetteer import REGISTER_PATH

    with gzip.open(REGISTER_PATH, "rt", encoding="utf-8-sig") as fh:
        lines = fh.read().splitlines()
    excerpt = [lines[0]] + [x for x in lines[1:] if x.split(",")[2] == "05" and x.split(",")[4] in ("", "62") and x.split(",")[3] in ("", "7")]
    source = Source("gemeinden-2019-12-31.csv", ("\n".join(excerpt) + "\n").encode("utf-8"))
    assert detect_format(source).name == "gazetteer"
    records = list(GazetteerImporter().parse(source))
    assert all(r.ok for r in records)
    by_key = {r.source_id: r.content for r in records}
    assert set(by_key) >= {"05", "057", "05762", "05762020"}
    town = by_key["05762020"]
    assert (town["name"], town["official_name"], town["population"], town["parent"], town["kreis_name"]) == (
        "Höxter", "Höxter, Stadt", 28808, "05762", "Kreis Höxter")
    assert town["population_as_of"] == "2019-12-31" and town["urbanisation"] == "mittlere Besiedlungsdichte"
    assert town["size_class"] == "Mittelstadt"
    kreis = by_key["05762"]
    assert kreis["display_name"] == "Kreis Höxter" and kreis["parent"] == "057" and kreis["population"] == 140251
    assert kreis["population_source"].endswith("(Summe der Gemeinden)")
    assert by_key["057"]["display_name"] == "Regierungsbezirk Detmold"


def test_gazetteer_liberal_csv_headers() -> None:
    text = (
        "Gemeindeverzeichnis – Auszug\n\n"
        "Land;RB;Kreis;Gem;Name;Fläche;Einwohner insgesamt\n"
        "05;7;62;020;Höxter, Stadt;158,16;28.808\n"
        "01;0;61;046;Itzehoe, Stadt;28,03;31.879\n"
        "09;1;62;000;München, Landeshauptstadt;310,70;1.484.226\n"
        "xx;;;;;;\n"
    )
    register = read_register(text, "auszug.csv")
    good = {e["_id"]: e for e in register.entries}
    assert [(k, good[k]["name"], good[k]["population"]) for k in ("05762020", "01061046", "09162000")] == [
        ("05762020", "Höxter", 28808), ("01061046", "Itzehoe", 31879), ("09162000", "München", 1484226)]
    assert good["09162000"]["area_km2"] == pytest.approx(310.7) and good["05762020"]["kind"].value == "Stadt"
    assert register.problems and not register.full
    tab = "AGS\tGemeindename\tFläche km2\tBevölkerung\n05762020\tHöxter, Stadt\t158.16\t28808\n"
    (e,) = read_register(tab, "x.tsv").entries
    assert e["area_km2"] == 158.16 and e["population"] == 28808


GV100AD_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "register" / "GV100AD_311219-auszug.txt"


def test_gazetteer_gv100ad_fixed_width() -> None:
    text = GV100AD_FIXTURE.read_text(encoding="utf-8") + "60 kaputt\n"
    source = Source("GV100AD_311219.txt", text.encode("utf-8"))
    assert detect_format(source).name == "gazetteer"
    records = list(GazetteerImporter().parse(source))
    contents = {r.source_id: r.content for r in records if r.ok}
    town = contents["05762020"]
    assert town["population"] == 28808 and town["area_km2"] == 158.16 and town["kind"].value == "Stadt"
    assert town["population_as_of"] == "2019-12-31" and town["postcode"] == "37671"
    assert contents["05762"]["kind"].value == "Kreis" and contents["05762"]["display_name"] == "Kreis Höxter"
    assert contents["05762024"]["name"] == "Marienmünster"
    amt = contents["010545453"]  # a Gemeindeverband is keyed by its 9-digit ARS
    assert (amt["display_name"], amt["kind_label"], amt["parent"]) == ("Amt Viöl", "Amt", "01054")
    assert contents["01054144"]["parent"] == "010545453" and contents["01054144"]["verband_name"] == "Amt Viöl"
    assert amt["population"] == sum(c["population"] for c in contents.values() if c.get("verband") == "010545453")
    assert sum(not r.ok for r in records) == 1


# ------------------------------------------------------------------ recognisers and base


def test_recognisers() -> None:
    assert parse_number("28.808") == 28808 and parse_number("158,16") == 158.16 and parse_number("1.234,56") == 1234.56
    assert parse_area_km2("158,16 km²") == 158.16 and parse_area_km2("15.816 ha") == 158.16
    assert parse_date("31.12.2019") == parse_date("31.Dez. 2019") == parse_date("31. Dezember 2019") == date(2019, 12, 31)
    assert organisation_kind("Landkreis Goslar") == "Kreis" and organisation_kind("Amt Süderbrarup") == "Amt"
    assert organisation_kind("Verbandsgemeinde Arzfeld") == "Verbandsgemeinde"
    assert organisation_kind("Zweckverband Breitband") == "Zweckverband"
    assert organisation_kind("Rhein-Sieg-Kreis") == "Kreis" and organisation_kind("Gemeinde Sylt") == "Gemeinde"
    assert partner_kind("IHK Ostwestfalen") == "Kammer" and partner_kind("Handwerkskammer Hamburg") == "Kammer"
    assert partner_kind("Förderverein Dorf e.V.") == "Verein" and partner_kind("Muster AG") == "Unternehmen"
    assert partner_kind("Universität Siegen") == "Hochschule"
    assert legal_form("Zweckverband") == "Zweckverband" and legal_form("gemeinsame AöR") == "gemeinsames Kommunalunternehmen/AöR"
    assert legal_form("etwas Unklares") is None
    assert recognise_state("ein schleswig-holsteinisches Amt") == FederalState.SH
    assert recognise_state("in Niedersachsen und Sachsen, vor allem Niedersachsen") == FederalState.NI


def test_decode_text_variants() -> None:
    assert decode_text("Fläche".encode()) == "Fläche"
    assert decode_text(b"\xef\xbb\xbf" + "Fläche".encode()) == "Fläche"
    assert decode_text("Fläche – €".encode("cp1252")) == "Fläche – €"
    assert decode_text("Fläche".encode("utf-16")) == "Fläche"
    with pytest.raises(SourceError, match="Binärdaten"):
        decode_text(b"%PDF-1.7\x00\x01\x02")
    with pytest.raises(SourceError, match="nicht druckbaren"):
        decode_text(bytes(range(1, 32)) * 20)


def test_detect_format_explicit_and_unknown() -> None:
    assert set(IMPORTERS) == {"structured", "reference", "html", "csv", "json", "ndjson", "gazetteer"}
    source = Source.from_path(REFERENCE_SEED)
    assert detect_format(source, "structured").name == "structured"
    with pytest.raises(UnknownFormatError, match="Unbekanntes Format"):
        detect_format(source, "pdf")
    with pytest.raises(UnknownFormatError, match="nicht erkannt"):
        detect_format(Source("x.bin", b"12 34 56"))
    importer, records = parse_source(Source("x.bin", b"\x00\x01binary"))
    assert importer is None and not records[0].ok
