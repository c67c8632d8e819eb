"""The reference-text importer on pages shaped like real ones (texts written for these tests).

Places are real municipalities of the shipped register (so that the names
resolve); the projects, people and numbers in the texts are made up and
use example.org addresses.
"""

from __future__ import annotations

import pytest

from catalogue.models import ProfileContent
from importers import facts
from importers.base import ParsedRecord, Source
from importers.gazetteer import default_gazetteer
from importers.reference_text import ReferenceTextImporter, prepare
from importers.registry import detect_format, parse_source
from importers.structured_text import StructuredTextImporter


def imported(text: str, name: str = "seite.txt") -> tuple[ProfileContent, ParsedRecord]:
    source = Source(name, text.encode("utf-8"))
    importer, records = parse_source(source)
    assert importer is not None and importer.name == "reference", importer
    (record,) = records
    assert record.ok, record.errors
    return ProfileContent.model_validate(record.content), record


def warnings_for(record: ParsedRecord, field: str) -> str:
    return "\n".join(w.message for w in record.warnings if w.field == field)


BODY = (
    "Die Gemeinden wollen ihre Bauhöfe künftig gemeinsam organisieren und Maschinen untereinander tauschen. "
    "Damit sollen Kosten sinken und die Arbeit besser verteilt werden.\n\n"
    "Ein gemeinsamer Maschinenpool steht allen Beteiligten offen.\n"
)


@pytest.mark.parametrize(
    "first_line",
    [
        "Source: https://www.example.org/presse/bauhof-kooperation",
        "Quelle: https://www.example.org/presse/bauhof-kooperation",
        "Quelle : <https://www.example.org/presse/bauhof-kooperation>",
        "https://www.example.org/presse/bauhof-kooperation",
    ],
)
def test_a_source_line_is_provenance_and_link_never_the_title(first_line: str) -> None:
    text = f"{first_line}\n\nBauhöfe teilen sich ihre Maschinen\n\nIn der Gemeinde Hörstel beginnt ein Versuch. {BODY}"
    c, record = imported(text)
    assert c.title == "Bauhöfe teilen sich ihre Maschinen"
    assert record.provenance["source"] == "https://www.example.org/presse/bauhof-kooperation"
    assert [(link.title, link.url) for link in c.links] == [("Quelle", "https://www.example.org/presse/bauhof-kooperation")]
    assert "example.org" not in c.title and "source" not in c.title.lower()
    assert "Quellenangabe" in warnings_for(record, "provenance")
    assert "Überschrift" in warnings_for(record, "title")


def test_a_source_line_without_address_is_no_title_either() -> None:
    c, _ = imported(f"Quelle: Pressestelle\nBauhöfe teilen sich ihre Maschinen\nIn der Gemeinde Hörstel beginnt ein Versuch. {BODY}")
    assert c.title == "Bauhöfe teilen sich ihre Maschinen" and not c.links
    assert "Pressestelle" not in (c.summary + c.implementation)


def test_a_text_without_headline_gets_its_title_from_the_first_sentence() -> None:
    c, record = imported("Quelle: https://www.example.org/x\n\nDie Gemeinde Hörstel teilt ihren Bauhof. " + BODY)
    assert c.title == "Die Gemeinde Hörstel teilt ihren Bauhof."
    assert "ersten Satz" in warnings_for(record, "title")


def test_a_landkreis_named_without_its_land_gives_the_land() -> None:
    text = (
        "Digitale Sprechstunde im Landkreis Cochem-Zell\n\n"
        "Der Landkreis Cochem-Zell bietet seinen Bürgerinnen und Bürgern eine digitale Sprechstunde an. "
        "Die Kreisverwaltung beantwortet Fragen per Video.\n"
    )
    c, record = imported(text)
    assert c.state is not None and c.state.value == "Rheinland-Pfalz"
    assert c.lead is not None and c.lead.name == "Landkreis Cochem-Zell" and c.lead.ags == "07135" and c.lead.kind == "Kreis"
    assert c.district is None or c.district  # no Regierungsbezirke in Rheinland-Pfalz any more
    assert "Bundesland" in warnings_for(record, "state")


def test_a_list_of_municipalities_in_prose() -> None:
    text = (
        "Gemeinsam gegen den Ärztemangel\n\n"
        "In der Stadt Husum und den umliegenden Gemeinden Schwesing, Hattstedt, Mildstedt und Simonsberg "
        "soll eine gemeinsame Praxis entstehen. Die Gemeinden beteiligen sich an den Kosten.\n"
    )
    c, record = imported(text)
    orgs = [c.lead, *c.municipalities]
    names = [o.name for o in orgs if o]
    for place in ("Husum", "Schwesing", "Hattstedt", "Mildstedt", "Simonsberg"):
        assert any(place in n for n in names), (place, names)
    assert all(o.ags and o.ags.startswith("01054") for o in orgs if o)  # all in Kreis Nordfriesland
    assert c.state is not None and c.state.value == "Schleswig-Holstein"
    assert "Gemeindeverzeichnis" in warnings_for(record, "municipalities")


def test_places_that_are_only_compared_or_elsewhere_are_no_participants() -> None:
    text = (
        "Ein Bildungsbüro für den Burgenlandkreis\n\n"
        "Der Burgenlandkreis baut ein Bildungsbüro auf. Die Konkurrenz durch Städte wie Leipzig, Jena und Erfurt ist groß.\n"
    )
    c, _ = imported(text)
    assert c.lead is not None and c.lead.name == "Burgenlandkreis"
    assert not [m.name for m in c.municipalities if m.name in ("Leipzig", "Jena", "Erfurt")]


@pytest.mark.parametrize(
    ("sentence", "year"),
    [
        ("Die Kooperation besteht seit 2015 und wird fortgesetzt.", 2015),
        ("Der Verbund wurde 2015 gegründet.", 2015),
        ("Seit dem 1. Januar 2018 arbeiten die Standesämter zusammen.", 2018),
        ("Seit Mitte 2019 treffen sich die Bürgermeister regelmäßig.", 2019),
        ("Los ging alles im Jahr 2017 mit einer Arbeitsgruppe.", 2017),
        ("Die Gründung erfolgte im März 2016 nach langer Vorbereitung.", 2016),
        ("Der Bus fährt ab Ende 2014 in allen Ortsteilen.", 2014),
        ("2010 hatte sich der Rat erstmals dafür ausgesprochen, 2012 wurde gebaut.", 2010),
    ],
)
def test_start_year_phrasings(sentence: str, year: int) -> None:
    since = facts.since_year(sentence)
    assert since is not None and since.year == year and since.how == "stated"


def test_start_year_is_none_without_a_start_and_not_from_the_future() -> None:
    assert facts.since_year("Bis zum 30. Juni 2099 soll der Plan fertig sein.") is None
    assert facts.since_year("Die Kommunen arbeiten zusammen; 2019 und 2020 gab es Fördermittel.") is None
    only = facts.since_year("Als es 2015 um ein neues Fahrzeug ging, kam die Idee auf.")
    assert only is not None and (only.year, only.how) == (2015, "only year")


def test_a_year_in_a_name_or_a_deadline_is_no_start() -> None:
    assert facts.since_year("Die Stadt entwickelt die Strategie „Digitale Stadt 2030“ mit ihren Bürgern.") is None
    assert facts.since_year("Das Programm DIGIstadt 2025 soll bis 2025 umgesetzt sein.") is None


def test_start_year_lands_in_collaboration_since_with_a_warning() -> None:
    c, record = imported("Gemeinsames Standesamt\n\nDie Gemeinden Gersheim und Mandelbachtal arbeiten seit dem 1. Januar 2018 zusammen. " + BODY)
    assert c.collaboration_since == 2018
    assert "2018" in warnings_for(record, "collaboration_since")


def test_hoexter_is_the_stadt_and_the_kreis_and_the_editor_is_asked() -> None:
    g = default_gazetteer()
    assert [(e["_id"], e["level"]) for e in g.find("Höxter")] == [("05762020", "gemeinde"), ("05762", "kreis")]
    # a text that names only "Höxter"
    c, record = imported("Ein neues Bürgerportal\n\nIn Höxter geht ein Bürgerportal an den Start. Höxter will damit Wege sparen. " + BODY)
    assert c.lead is not None and c.lead.name == "Höxter" and c.lead.ags is None
    question = warnings_for(record, "lead")
    assert "Höxter (Stadt" in question and "Kreis Höxter" in question and "Bitte auswählen" in question
    assert c.state is not None and c.state.value == "Nordrhein-Westfalen"  # both lie in the same Land
    # the structured shape asks the same
    structured = "Bürgerportal\nHöxter\nStichworte: Portal\nHauptverantwortlich: Höxter\nZiel: Wege sparen.\n"
    record = StructuredTextImporter().parse_text(structured)
    assert record.content["lead"] == {"name": "Höxter"}
    assert "welche Körperschaft ist gemeint" in warnings_for(record, "lead")
    # with its kind it is clear
    assert StructuredTextImporter().parse_text(structured.replace("Hauptverantwortlich: Höxter", "Hauptverantwortlich: Kreis Höxter")).content["lead"]["ags"] == "05762"


def test_contact_in_running_text() -> None:
    text = (
        "Ein Rufbus für die Dörfer\n\n"
        "Der Landkreis Nordsachsen erweitert sein Rufbusangebot. "
        "Ansprechpartnerin ist Erika Beispiel, Mobilitätsmanagerin des Landkreises, Tel. 03421 123 45-6, E-Mail erika.beispiel@example.org. "
        "Sprechstunden gibt es im Landratsamt, Dr.-Belian-Straße 4, 04838 Eilenburg.\n"
    )
    c, record = imported(text)
    assert (c.contact.street, c.contact.postcode, c.contact.city) == ("Dr.-Belian-Straße 4", "04838", "Eilenburg")
    assert c.contact.person == "Erika Beispiel (Mobilitätsmanagerin des Landkreises)"
    assert c.contact.phone == "03421 123 45-6" and c.contact.email == "erika.beispiel@example.org"
    assert "Kontakt" in warnings_for(record, "contact")


def test_contact_block_and_a_hotline_in_a_sentence() -> None:
    block = (
        "Ein Rufbus für die Dörfer\n\nDer Landkreis Nordsachsen erweitert sein Rufbusangebot.\n\n"
        "Ihre Ansprechperson:\nLandratsamt Nordsachsen\nMax Muster\nBeispielstraße 1\n04860 Torgau\nTelefon: 03421 000-0\nE-Mail: info@example.org\n"
    )
    c, _ = imported(block)
    assert (c.contact.person, c.contact.street, c.contact.postcode, c.contact.city) == ("Max Muster", "Beispielstraße 1", "04860", "Torgau")
    assert c.contact.phone == "03421 000-0" and c.contact.email == "info@example.org"
    c, _ = imported("Ein Rufbus für die Dörfer\n\nDer Landkreis Nordsachsen erweitert sein Angebot. Die Rufbuszentrale ist unter der Servicetelefonnummer 03421 000 11 22 erreichbar.\n")
    assert c.contact.phone == "03421 000 11 22"


def test_population_only_when_the_text_states_it_for_the_lead() -> None:
    c, record = imported("Ein Gesundheitszentrum\n\nDie 4.600-Einwohner-Gemeinde Breitscheid im Lahn-Dill-Kreis baut ein Gesundheitszentrum. " + BODY)
    assert c.lead is not None and c.lead.ags == "06532004" and c.population == 4600
    assert "Einwohnerzahl 4.600" in warnings_for(record, "population")
    c, _ = imported("Ein Standesamt für drei Kommunen\n\nBlieskastel, Gersheim und Mandelbachtal arbeiten zusammen. Betreut werden insgesamt 38 000 Einwohner.\n" + BODY)
    assert c.population is None  # a total of several bodies is no population of the lead
    c, _ = imported("Ein Dorfladen\n\nHarthausen ist ein Ortsteil der Gemeinde Grasbrunn und hat rund 850 Einwohner. " + BODY)
    assert c.population is None  # the Ortsteil's, not the Gemeinde's


def test_every_inferred_value_carries_a_warning() -> None:
    c, record = imported(
        "Quelle: https://www.example.org/a\n\nGemeinsame Wärmeplanung\n\nDie Gemeinden Lindlar und Engelskirchen "
        "erstellen seit 2023 eine gemeinsame Wärmeplanung für ihre Ortsteile. " + BODY
    )
    for field in ("title", "lead", "municipalities", "state", "collaboration_since", "fields_of_action", "summary"):
        assert warnings_for(record, field), field
    assert c.fields_of_action and c.fields_of_action[0].value == "Energie"


def test_a_structured_profile_with_a_source_line_keeps_its_title() -> None:
    text = (
        "Quelle: https://www.example.org/ikz/42\n\n"
        "Gemeinsamer Bauhof\n"
        "Kreis Höxter, Stadt Brakel, Stadt Nieheim\n"
        "Stichworte: Bauhof\n"
        "Hauptverantwortlich: Stadt Brakel\n"
        "Ziel: Maschinen gemeinsam nutzen.\n"
        "Zusammenarbeit seit: 2016\n"
    )
    source = Source("ikz-42.txt", text.encode())
    importer, (record,) = parse_source(source)
    assert importer is not None and importer.name == "structured"
    assert record.content["title"] == "Gemeinsamer Bauhof"
    assert record.provenance["source"] == "https://www.example.org/ikz/42"
    assert {"title": "Quelle", "url": "https://www.example.org/ikz/42"} in record.content["links"]
    assert [m["name"] for m in record.content["municipalities"]] == ["Kreis Höxter", "Stadt Nieheim"]
    assert record.content["lead"]["ags"] == "05762016"  # Brakel


def test_prepare_drops_source_and_date_lines_only_at_the_edges() -> None:
    page = prepare("Source: https://example.org/a\n\n20.04.2015\n\nÜberschrift\n\nText vom 20.04.2015 bleibt.\nQuelle: Pressestelle\n")
    assert [line for line in page.lines if line] == ["Überschrift", "Text vom 20.04.2015 bleibt."]
    assert page.sources == ["https://example.org/a"] and page.source_notes == ["Pressestelle"] and page.date == "20.04.2015"


def test_detects_prose_with_a_source_line_as_reference_text() -> None:
    source = Source("x.txt", ("Source: https://example.org/a\n\nÜberschrift\n\n" + BODY * 2).encode())
    assert detect_format(source).name == "reference"
    assert isinstance(ReferenceTextImporter().parse_text(BODY), ParsedRecord)


def test_a_bullet_list_of_member_municipalities_and_a_contact_sentence() -> None:
    text = (
        "Gemeinsamer Winterdienst im Amt Viöl\n\n"
        "Das Amt Viöl organisiert den Winterdienst für seine Gemeinden gemeinsam. Beteiligt sind die Gemeinden:\n"
        "- Ahrenviöl\n- Behrendorf\n- Bondelum\n- Haselund\n- Viöl\n\n"
        "Ansprechpartner ist Herr Max Mustermann, Leiter des Bauamts, Telefon 04843 1234-0, E-Mail winter@example.org.\n"
    )
    c, _ = imported(text)
    assert c.lead is not None and (c.lead.name, c.lead.ags) == ("Amt Viöl", "010545453")
    assert [m.name for m in c.municipalities] == ["Ahrenviöl", "Behrendorf", "Bondelum", "Haselund", "Viöl"]
    assert c.contact.person == "Herr Max Mustermann (Leiter des Bauamts)" and c.contact.phone == "04843 1234-0"


def test_a_dateline_news_item_with_the_town_and_its_neighbours() -> None:
    text = (
        "Soest (dpa) – Die Stadt Soest und die umliegenden Gemeinden Bad Sassendorf, Möhnesee, Welver und Lippetal "
        "wollen ihre Wärmeplanung gemeinsam angehen. Das Projekt wurde 2022 gestartet. Die Kommunen teilen sich die Kosten.\n"
    )
    c, _ = imported(text)
    assert c.lead is not None and c.lead.name == "Stadt Soest" and c.lead.ags == "05974040"
    assert [m.name for m in c.municipalities] == ["Bad Sassendorf", "Möhnesee", "Welver", "Lippetal"]
    assert c.collaboration_since == 2022 and c.state is not None and c.state.value == "Nordrhein-Westfalen"
    assert not c.title.startswith("Soest (dpa)")


def test_a_town_named_like_its_kreis_among_gemeinden_is_the_town() -> None:
    text = (
        "Digitale Bauanträge im Landkreis Ebersberg\n\n"
        "Seit dem 1. März 2021 können Bauanträge im Landkreis Ebersberg digital gestellt werden. Die kreisangehörigen "
        "Städte und Gemeinden beteiligen sich, darunter Grafing, Ebersberg, Poing und Vaterstetten.\n"
        "Quelle: https://www.example.org/presse/bauantrag\n"
    )
    c, record = imported(text)
    assert c.lead is not None and c.lead.ags == "09175"
    assert {m.ags for m in c.municipalities} >= {"09175115", "09175122"}  # Ebersberg (Stadt) and Grafing
    assert record.provenance["source"] == "https://www.example.org/presse/bauantrag" and c.collaboration_since == 2021


def test_an_html_page_with_a_source_paragraph() -> None:
    page = (
        "<html><head><title>Presse</title></head><body><nav>Menü</nav><main>"
        "<h1>Gemeinsames Standesamt für drei Gemeinden</h1><p>Quelle: https://www.example.org/p/1</p>"
        "<p>Die Gemeinden Kirchzarten, Stegen und Buchenbach im Landkreis Breisgau-Hochschwarzwald betreiben seit 2019 "
        "ein gemeinsames Standesamt. Die 10.000-Einwohner-Gemeinde Kirchzarten führt die Geschäfte.</p>"
        "<p>Kontakt: standesamt@example.org, Tel. 07661 393-0</p></main></body></html>"
    )
    importer, (record,) = parse_source(Source("presse.html", page.encode()))
    assert importer is not None and importer.name == "html"
    c = ProfileContent.model_validate(record.content)
    assert c.title == "Gemeinsames Standesamt für drei Gemeinden" and record.provenance["source"] == "https://www.example.org/p/1"
    assert c.lead is not None and c.lead.name == "Kirchzarten" and c.population == 10000
    assert {m.name for m in c.municipalities} == {"Stegen", "Buchenbach", "Landkreis Breisgau-Hochschwarzwald"}
    assert (c.collaboration_since, c.contact.email, c.contact.phone) == (2019, "standesamt@example.org", "07661 393-0")
    assert c.fields_of_action == [c.fields_of_action[0]] and c.fields_of_action[0].value == "Verwaltung"


def test_a_list_pasted_without_bullets_after_a_colon_keeps_every_item() -> None:
    # Copied from a web page, a bullet list arrives as short lines after "…:"; each item
    # looks like a heading, and a heading with nothing under it used to be dropped.
    text = (
        "Städteverbund stimmt sich ab\n\n"
        "Die Städte Hörstel und Ibbenbüren stimmen sich seit Jahren eng ab. "
        "Gemeinsame Stellungnahmen gibt es in folgenden Bereichen:\n"
        "Gemeinsamer Flächennutzungsplan\n"
        "Wirtschafts- und Tourismusförderung\n"
        "Abstimmung von Satzungen\n"
        "Die Leitung liegt bei den Bürgermeistern, die sich monatlich treffen.\n"
    )
    c, _ = imported(text)
    body = c.implementation or ""
    for item in ("Gemeinsamer Flächennutzungsplan", "Wirtschafts- und Tourismusförderung", "Abstimmung von Satzungen"):
        assert f"- {item}" in body, body
    assert "### " not in body
    assert "monatlich treffen" in body


def test_a_heading_after_a_heading_line_is_still_a_heading() -> None:
    text = (
        "Bauhöfe teilen sich ihre Maschinen\n\n"
        "In der Gemeinde Hörstel beginnt ein Versuch mit einem gemeinsamen Maschinenpool.\n"
        "Ziele\n"
        "Die Kosten sollen sinken und die Arbeit besser verteilt werden.\n"
        "Umsetzung\n"
        "Ein gemeinsamer Maschinenpool steht allen Beteiligten offen.\n"
    )
    c, _ = imported(text)
    assert "Kosten sollen sinken" in (c.goal or "")
    assert "- Ziele" not in (c.implementation or "")
