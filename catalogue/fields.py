"""The profile's fields, each declared once: the field registry.

`ProfileContent` (catalogue/models.py) says what a field *is*: its type and
limits, which pydantic enforces. `FIELDS` below says everything else about
it, once: the German label and help text, the form widget and its place in
the form, where the field appears on the profile page, in the PDF and in the
comparison (section and order), its role in search (searchable with a
priority, facet with its URL parameter, range filter, sort key), whether it
is exported, which labels and headings importers recognise, and its JSON-LD
property. Limits are never written here: `limits()` reads them from the
model, so the form's `maxlength` and the help texts' "3 bis 200 Zeichen"
follow the model.

Everything that lists profile fields is generated from this module: the web
form (api/web/forms.py) and the templates, which loop over the sections
below; the PDF and comparison view data (catalogue/pdf/render.py); the
search document and both backends' field lists (catalogue/search/documents.py);
the facets; JSON-LD (catalogue/jsonld.py); the export columns
(importers/export.py); the importers' section labels; validation labels
(`field_label`). `check_registry()` runs at import and fails loudly when the
registry and the model disagree.

Adding a field: add it to the model, add one `Field(...)` entry here, and,
only when it needs a new kind of display, a macro or a formatter for its
`how` (see ARCHITECTURE.md, "Adding a field", and docs/architecture-details.md).
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date
from enum import IntEnum, StrEnum
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from catalogue.models import Profile, ProfileContent
from catalogue.vocabularies import STATES_WITH_REGIERUNGSBEZIRK

# ---------------------------------------------------------------- building blocks


class Widget(StrEnum):
    """How a value is typed into the form."""

    TEXT = "text"  # one-line input (numbers, dates and keyword lists too, parsed German-style)
    TEXTAREA = "textarea"  # plain multi-line text without formatting
    MARKDOWN = "markdown"  # multi-line Markdown with preview
    SELECT = "select"  # one value of a controlled list
    CHECKBOXES = "checkboxes"  # several values of a controlled list
    KEYWORDS = "keywords"  # a list of short strings, typed comma-separated
    GROUP = "group"  # an organisation: its subfields in a fieldset of their own
    FIELDS = "fields"  # an object whose subfields sit in the form section itself
    ROWS = "rows"  # a repeatable list of objects, one row each


@dataclass(frozen=True)
class Input:
    """The form input of a field (or subfield)."""

    widget: Widget
    type: str = "text"  # HTML input type of a TEXT widget: text, email, url, tel
    inputmode: str | None = None
    autocomplete: str | None = None
    required: bool = False  # the HTML `required` attribute
    maxlength: int | str | None = None  # "model": from the model's max_length or digits pattern; a number where the model cannot say it
    width: str = ""  # "wide" or "narrow"
    rows: int | None = None  # lines of a text area
    same_row: bool = False  # sits on the row of the input before it
    label: str | None = None  # the form's label when it differs from the field's
    # ROWS only: the add-row button, the row's name for screen readers, a form section of its own
    add_label: str = ""
    row_label: str = "{label}, Zeile {n}"
    own_section: bool = False


class View(StrEnum):
    PAGE = "page"  # the profile page (api/templates/profile.html)
    PDF = "pdf"  # the one-page PDF (catalogue/pdf/profile.typ)
    COMPARE = "compare"  # the comparison, on screen and as PDF (compare.html, comparison.typ)


@dataclass(frozen=True)
class Show:
    """One place where a field is shown: a section of a view, its order there, how it is shown."""

    view: View
    section: str
    order: int
    how: str = "text"  # the display kind; each view has a macro or formatter per kind
    label: str | None = None  # when this place names it differently


class Priority(IntEnum):
    """Search priority of a searchable text: the order of Meilisearch's searchable
    attributes and the Tantivy field (with its boost) the text is indexed in."""

    TITLE = 1
    KEYWORDS = 2
    SUMMARY = 3
    NAMES = 4
    TEXT = 5


@dataclass(frozen=True)
class Facet:
    label: str  # the facet's German name on the search page and in the API
    param: str  # its URL parameter on the search page (German, short, shareable)
    order: int  # place among the facets (search page, API, default facet list)


@dataclass(frozen=True)
class Search:
    """The role of a field in the search document."""

    key: str | None = None  # name in the search document (default: the field name); several fields may share a text key
    text: Priority | None = None  # searchable, with this priority
    facet: Facet | None = None  # facet and exact-value filter
    range: bool = False  # integer range filter
    sort: bool = False  # sortable (as "<key>_sort", folded for German order)
    stored: bool = True  # part of the document even when not searchable (e.g. lead_kind for "comparable")


@dataclass(frozen=True)
class Import:
    """What importers recognise for a field."""

    labels: tuple[str, ...] = ()  # "Label:" lines of structured profile texts (lower case)
    headings: str | None = None  # regular expression for headings of free reference texts
    heading_rank: int = 0  # headings are tried in this order; the first match wins
    expected: bool = False  # a missing section is reported to the editor
    summary_rank: int = 0  # >0: a source of the summary when the text has none (lowest first)


@dataclass(frozen=True)
class Field:
    """One field of the profile (or a subfield of an object field)."""

    name: str
    label: str
    help: str = ""  # may use {min_length}, {max_length} … from the model's limits
    input: Input | None = None
    form_section: str | None = None  # key of FORM_SECTIONS; None: not in the form
    short: str | None = None  # display label where the form's label is too long ("Fläche")
    subfields: tuple[Field, ...] = ()
    show: tuple[Show, ...] = ()
    search: Search | None = None
    imports: Import = Import()
    jsonld: str | None = None  # schema.org property for a plain value, or "@name" for a builder in catalogue/jsonld.py
    export: bool = True
    derived: bool = False  # computed from other fields (on `Profile`, not in `ProfileContent`)
    path: str = ""  # filled in by the registry: "contact.postcode"

    # -- what the model says

    @property
    def display_label(self) -> str:
        return self.short or self.label

    @property
    def top(self) -> str:
        return self.path.split(".", 1)[0]

    @property
    def is_markdown(self) -> bool:
        return self.input is not None and self.input.widget is Widget.MARKDOWN

    def model_field(self) -> FieldInfo:
        return _model_field(self.path, derived=self.derived)

    def limits(self) -> dict[str, Any]:
        """The model's constraints of this field: min_length, max_length, ge, gt, le, pattern."""
        return limits(self.path, derived=self.derived)

    def kind(self) -> str:
        """The model's value type: str, int, float, date, enum, list, model, models, enums."""
        return value_kind(self.path, derived=self.derived)

    def options(self) -> list[str]:
        """The controlled list of a select or checkbox field (from its enum in catalogue.vocabularies)."""
        enum = enum_of(self.path, derived=self.derived)
        return [v.value for v in enum] if enum else []

    def help_text(self) -> str:
        return self.help.format(**self.limits()) if self.help else ""

    def shown(self, view: View) -> Iterator[Show]:
        return (s for s in self.show if s.view is view)


@dataclass(frozen=True)
class FormSection:
    key: str
    legend: str
    hint: str = ""
    markdown_help: bool = False  # the hint ends with the Markdown help
    preview: bool = False  # the section has the preview button


@dataclass(frozen=True)
class ViewSection:
    view: View
    key: str
    title: str = ""  # heading of the section where it has one


MARKDOWN_HELP = "Formatierung mit Markdown: **fett**, *kursiv*, Listen mit „- “ am Zeilenanfang, Links als [Text](https://…)."

# ---------------------------------------------------------------- form and view sections

FORM_SECTIONS: tuple[FormSection, ...] = (
    FormSection("projekt", "Das Projekt"),
    FormSection("beteiligte", "Beteiligte"),
    FormSection("kurzprofil", "Kurzprofil"),
    FormSection("beschreibung", "Beschreibung", hint="Die langen Texte dürfen Absätze, Listen und Links enthalten.", markdown_help=True, preview=True),
    FormSection("finanzierung", "Finanzierung"),
    FormSection("zusammenarbeit", "Zusammenarbeit"),
    FormSection("kontakt", "Kontakt"),
    FormSection("nachnutzbarkeit", "Übertragbarkeit", preview=True,
                hint="Was eine andere Kommune wissen muss, um das Projekt zu übernehmen. Die Form der Zusammenarbeit steht unter "
                     "„Zusammenarbeit“, Stolpersteine unter „Erfahrungen / Stolpersteine“.", markdown_help=True),
    FormSection("links", "Weitere Informationen"),
    FormSection("nachnutzung", "Nachnutzung"),
)

VIEW_SECTIONS: tuple[ViewSection, ...] = (
    # the profile page, top to bottom
    ViewSection(View.PAGE, "facts"),
    ViewSection(View.PAGE, "kurzprofil", "Kurzprofil"),
    ViewSection(View.PAGE, "texts"),
    ViewSection(View.PAGE, "funding"),
    ViewSection(View.PAGE, "cooperation"),
    ViewSection(View.PAGE, "contact"),
    ViewSection(View.PAGE, "links"),
    ViewSection(View.PAGE, "footer"),
    # the PDF
    ViewSection(View.PDF, "facts"),
    ViewSection(View.PDF, "chips"),
    ViewSection(View.PDF, "kurzprofil_left", "Kurzprofil"),
    ViewSection(View.PDF, "kurzprofil_right", "Kurzprofil"),
    ViewSection(View.PDF, "sections"),
    ViewSection(View.PDF, "funding"),
    ViewSection(View.PDF, "status"),
    ViewSection(View.PDF, "contact"),
    ViewSection(View.PDF, "links"),
    ViewSection(View.PDF, "closing", "Über dieses Profil"),
    # the comparison table
    ViewSection(View.COMPARE, "rows"),
)

# ---------------------------------------------------------------- the fields

_P, _D, _C = View.PAGE, View.PDF, View.COMPARE


# Help of the register-key inputs; the lengths are those of catalogue.models.REGISTER_KEY_PATTERN.
AGS_HELP = "Schlüssel im Gemeindeverzeichnis (optional): 8 Ziffern für eine Gemeinde, 5 für einen Kreis, 9 für einen Gemeindeverband"


def _organisation_fields(search_key: str | None) -> tuple[Field, ...]:
    """Name, kind and AGS of a public body (lead and participating municipalities)."""
    return (
        Field("name", "Name", input=Input(Widget.TEXT, width="wide"),
              search=Search(key=search_key, text=Priority.NAMES) if search_key else None),
        Field("kind", "Art", input=Input(Widget.SELECT, same_row=True)),
        Field("ags", "AGS", help=AGS_HELP,
              input=Input(Widget.TEXT, inputmode="numeric", maxlength="model", width="narrow", same_row=True)),
    )


FIELDS: tuple[Field, ...] = (
    Field(
        "title", "Titel",
        help="Ein Titel, unter dem andere Kommunen das Projekt wiederfinden – {min_length} bis {max_length} Zeichen.",
        input=Input(Widget.TEXT, maxlength="model", required=True, autocomplete="off"), form_section="projekt",
        search=Search(text=Priority.TITLE, sort=True), jsonld="name",
    ),
    Field(
        "summary", "Kurzbeschreibung",
        help="Zwei, drei Sätze ohne Formatierung: Was wurde gemacht, von wem, mit welchem Ergebnis? Höchstens {max_length} Zeichen.",
        input=Input(Widget.TEXTAREA, rows=3, maxlength="model"), form_section="projekt",
        search=Search(text=Priority.SUMMARY), jsonld="description",
    ),
    Field(
        "keywords", "Stichworte",
        help="Suchbegriffe, durch Komma getrennt, zum Beispiel: Digitalisierung, OZG, Bauhof.",
        input=Input(Widget.KEYWORDS), form_section="projekt",
        show=(Show(_P, "facts", 1, "tags_query"), Show(_D, "facts", 1, "joined")),
        search=Search(text=Priority.KEYWORDS),
        imports=Import(labels=("stichworte", "stichwörter", "schlagworte", "schlagwörter", "schlüsselwörter")),
        jsonld="keywords",
    ),
    Field(
        "fields_of_action", "Handlungsfelder",
        help="Wählen Sie alle Handlungsfelder, die das Projekt berührt.",
        input=Input(Widget.CHECKBOXES), form_section="projekt",
        show=(Show(_P, "facts", 2, "tags_facet"), Show(_D, "chips", 1, "list"), Show(_C, "rows", 6, "chips")),
        search=Search(facet=Facet("Handlungsfeld", "feld", 1)),
    ),
    Field(
        "lead", "Hauptverantwortlich",
        help="Die Kommune oder der Kreis, der das Projekt federführend verantwortet.",
        input=Input(Widget.GROUP), form_section="beteiligte",
        subfields=(
            Field("name", "Name", input=Input(Widget.TEXT, width="wide", label="Name der Kommune oder des Kreises"),
                  search=Search(key="lead", text=Priority.NAMES)),
            Field("kind", "Art", input=Input(Widget.SELECT, same_row=True), search=Search(key="lead_kind")),
            Field("ags", "AGS", help=AGS_HELP,
                  input=Input(Widget.TEXT, inputmode="numeric", maxlength="model", width="narrow", same_row=True)),
        ),
        show=(Show(_P, "facts", 3, "organisation"), Show(_P, "kurzprofil", 1, "name", label="Kommune"),
              Show(_D, "facts", 2, "organisation_ags"), Show(_C, "rows", 1, "name")),
        imports=Import(labels=("hauptverantwortlich", "federführung", "federführend")),
        jsonld="@lead",
    ),
    Field(
        "municipalities", "Beteiligte Kommunen",
        help="Alle Kommunen, die mitmachen. Leere Zeilen werden ignoriert.",
        input=Input(Widget.ROWS, add_label="Weitere Kommune hinzufügen"), form_section="beteiligte",
        subfields=_organisation_fields("municipalities"),
        show=(Show(_P, "facts", 4, "names"), Show(_D, "facts", 3, "names")),
        imports=Import(labels=("beteiligte kommunen", "beteiligte")),
        jsonld="@municipalities",
    ),
    Field(
        "partners", "Sonstige Beteiligte",
        help="Hochschulen, Unternehmen, Vereine und andere, die mitwirken.",
        input=Input(Widget.ROWS, add_label="Weitere Beteiligte hinzufügen"), form_section="beteiligte",
        subfields=(
            Field("name", "Name", input=Input(Widget.TEXT, width="wide"), search=Search(key="partners", text=Priority.NAMES)),
            Field("kind", "Art", input=Input(Widget.SELECT, same_row=True)),
        ),
        show=(Show(_P, "facts", 5, "partners"), Show(_D, "facts", 4, "partners")),
        imports=Import(labels=("sonstige beteiligte", "weitere beteiligte")),
    ),
    Field(
        "state", "Bundesland",
        input=Input(Widget.SELECT), form_section="kurzprofil",
        show=(Show(_P, "kurzprofil", 3), Show(_D, "kurzprofil_right", 1), Show(_C, "rows", 2, "with_district")),
        search=Search(text=Priority.NAMES, facet=Facet("Bundesland", "land", 2)),
        jsonld="@state",
    ),
    Field(
        "district", "Regierungsbezirk",
        help="Nur in Baden-Württemberg, Bayern, Hessen und Nordrhein-Westfalen, zum Beispiel „Detmold“. Den Kreis tragen Sie darunter ein.",
        input=Input(Widget.TEXT, same_row=True), form_section="kurzprofil",
        show=(Show(_P, "kurzprofil", 2), Show(_D, "kurzprofil_right", 2)),
        search=Search(text=Priority.NAMES),
    ),
    Field(
        "county", "Kreis",
        help="Der Kreis oder Landkreis der federführenden Kommune, zum Beispiel „Kreis Höxter“. Leer bei kreisfreien Städten.",
        input=Input(Widget.TEXT, same_row=True), form_section="kurzprofil",
        show=(Show(_P, "kurzprofil", 2), Show(_D, "kurzprofil_right", 2)),
        search=Search(text=Priority.NAMES),
        imports=Import(labels=("kreis", "landkreis")),
    ),
    Field(
        "population_body", "Einwohner und Fläche gelten für",
        help="Die Körperschaft, deren Einwohnerzahl und Fläche Sie angeben, zum Beispiel „Stadt Höxter“. "
             "Leer lassen, wenn es die federführende Kommune ist.",
        input=Input(Widget.TEXT, autocomplete="off", width="wide"), form_section="kurzprofil",
    ),
    Field(
        "population", "Einwohner",
        help="Einwohnerzahl der federführenden Kommune als ganze Zahl, zum Beispiel 28.808.",
        input=Input(Widget.TEXT, inputmode="numeric", autocomplete="off"), form_section="kurzprofil",
        show=(Show(_P, "kurzprofil", 4, "population"), Show(_D, "kurzprofil_left", 1, "population"), Show(_C, "rows", 3, "population")),
        search=Search(range=True),
    ),
    Field(
        "population_as_of", "Einwohner – Stand",
        help="Stichtag der Einwohnerzahl, zum Beispiel 31.12.2019.",
        input=Input(Widget.TEXT, autocomplete="off", same_row=True), form_section="kurzprofil",
    ),
    Field(
        "population_source", "Einwohner – Quelle",
        help="Woher die Zahl stammt, zum Beispiel „IT.NRW“ oder „Destatis“.",
        input=Input(Widget.TEXT, same_row=True), form_section="kurzprofil",
    ),
    Field(
        "area_km2", "Fläche (km²)", short="Fläche",
        help="Fläche in Quadratkilometern, zum Beispiel 158,16.",
        input=Input(Widget.TEXT, inputmode="decimal", autocomplete="off", width="narrow"), form_section="kurzprofil",
        show=(Show(_P, "kurzprofil", 5, "area"), Show(_D, "kurzprofil_left", 2, "area"), Show(_C, "rows", 4, "area")),
    ),
    Field(
        "occasion", "Anlass",
        help="Warum haben Sie das Projekt begonnen? Welches Problem sollte gelöst werden?",
        input=Input(Widget.MARKDOWN, rows=5), form_section="beschreibung",
        show=(Show(_P, "texts", 1, "markdown"), Show(_D, "sections", 1, "markdown")),
        search=Search(key="texts", text=Priority.TEXT),
        imports=Import(labels=("anlass", "ausgangslage"), heading_rank=3, expected=True, summary_rank=2,
                       headings=r"anlass|ausgangslage|ausgangssituation|hintergrund|herausforderung|problemstellung|warum"),
    ),
    Field(
        "goal", "Ziel",
        help="Was soll das Projekt erreichen?",
        input=Input(Widget.MARKDOWN, rows=5), form_section="beschreibung",
        show=(Show(_P, "texts", 2, "markdown"), Show(_D, "sections", 2, "markdown")),
        search=Search(key="texts", text=Priority.TEXT),
        imports=Import(labels=("ziel", "ziele", "zielsetzung"), headings=r"\bziel|zielsetzung|vision", heading_rank=6,
                       expected=True, summary_rank=1),
    ),
    Field(
        "implementation", "Umsetzung",
        help="Wie sind Sie vorgegangen? Schritte, Beteiligte, Zeitplan.",
        input=Input(Widget.MARKDOWN, rows=8), form_section="beschreibung",
        show=(Show(_P, "texts", 3, "markdown"), Show(_D, "sections", 3, "markdown")),
        search=Search(key="texts", text=Priority.TEXT),
        imports=Import(labels=("umsetzung",), headings=r"umsetzung|vorgehen|vorgehensweise|maßnahmen|ablauf|projektverlauf",
                       heading_rank=7, expected=True, summary_rank=3),
    ),
    Field(
        "results", "Ergebnisse / Vorteile",
        help="Was hat sich verbessert? Zahlen helfen anderen Kommunen sehr.",
        input=Input(Widget.MARKDOWN, rows=5), form_section="beschreibung",
        show=(Show(_P, "texts", 4, "markdown"), Show(_D, "sections", 4, "markdown")),
        search=Search(key="texts", text=Priority.TEXT),
        imports=Import(labels=("ergebnisse", "ergebnis", "vorteile", "ergebnisse / vorteile"),
                       headings=r"ergebnis|vorteil|nutzen|erfolg|wirkung|mehrwert|bilanz", heading_rank=5),
    ),
    Field(
        "lessons", "Erfahrungen / Stolpersteine",
        help="Was würden Sie heute anders machen? Worauf sollten andere achten?",
        input=Input(Widget.MARKDOWN, rows=5), form_section="beschreibung",
        show=(Show(_P, "texts", 5, "markdown"), Show(_D, "sections", 5, "markdown")),
        search=Search(key="texts", text=Priority.TEXT),
        imports=Import(labels=("erfahrungen", "stolpersteine", "erfahrungen / stolpersteine"),
                       headings=r"erfahrung|stolperstein|lessons learned|empfehlung|tipps|was wir gelernt", heading_rank=4),
    ),
    Field(
        "transferability", "Übertragbarkeit",
        input=Input(Widget.FIELDS), form_section="nachnutzbarkeit",
        subfields=(
            Field("rating", "Einschätzung", help="Wie leicht kann eine andere Kommune das Projekt übernehmen?",
                  input=Input(Widget.SELECT), search=Search(key="transferability", facet=Facet("Übertragbarkeit", "uebertragbar", 7))),
            Field("prerequisites", "Voraussetzungen", help="Was muss vorhanden sein: Beschlüsse, Technik, Personal, Partner?",
                  input=Input(Widget.MARKDOWN, rows=4), search=Search(key="texts", text=Priority.TEXT)),
            Field("staff_effort", "Personalaufwand", help="Zum Beispiel „0,5 Stellen im ersten Jahr“.",
                  input=Input(Widget.TEXT, width="wide")),
            Field("time_effort", "Zeitaufwand", help="Zum Beispiel „sechs Monate bis zum Start“.",
                  input=Input(Widget.TEXT, same_row=True)),
            Field("cost_once_eur", "Einmalige Kosten (EUR)", short="Einmalige Kosten",
                  help="Betrag in Euro, zum Beispiel 25.000 (optional).",
                  input=Input(Widget.TEXT, inputmode="decimal", autocomplete="off")),
            Field("cost_annual_eur", "Laufende Kosten pro Jahr (EUR)", short="Laufende Kosten pro Jahr",
                  help="Betrag in Euro pro Jahr, zum Beispiel 4.000 (optional).",
                  input=Input(Widget.TEXT, inputmode="decimal", autocomplete="off", same_row=True)),
        ),
        show=(Show(_P, "texts", 6, "transferability"), Show(_D, "sections", 6, "transferability"),
              Show(_C, "rows", 8, "transferability_cell")),
        imports=Import(labels=("übertragbarkeit", "nachnutzung", "übertragbar"), headings=r"übertragbar|nachnutzung|nachahm"),
    ),
    Field(
        "funding", "Finanzierung",
        input=Input(Widget.FIELDS), form_section="finanzierung",
        subfields=(
            Field("text", "Finanzierung", help="Wie wird das Projekt finanziert?", input=Input(Widget.MARKDOWN, rows=4),
                  search=Search(key="texts", text=Priority.TEXT)),
            Field("kinds", "Art der Mittel", help="Alle Arten von Mitteln, die eingesetzt werden.", input=Input(Widget.CHECKBOXES),
                  search=Search(key="funding_kinds", facet=Facet("Finanzierung", "mittel", 6))),
            Field("programme", "Förderprogramm", help="Name des Förderprogramms, falls vorhanden.",
                  input=Input(Widget.TEXT, width="wide"), search=Search(key="texts", text=Priority.TEXT)),
            Field("amount_eur", "Fördersumme / Budget (EUR)", short="Betrag",
                  help="Betrag in Euro, zum Beispiel 250.000 oder 1.234,50 (optional).",
                  input=Input(Widget.TEXT, inputmode="decimal", autocomplete="off", same_row=True)),
        ),
        show=(Show(_P, "funding", 1, "funding"), Show(_D, "funding", 1, "funding"), Show(_C, "rows", 8, "funding")),
        imports=Import(labels=("finanzierung",), headings=r"finanzierung|förderung|kosten", heading_rank=2),
        jsonld="@funding",
    ),
    Field(
        "legal_form", "Rechtsform",
        help="Auf welcher rechtlichen Grundlage arbeiten die Beteiligten zusammen?",
        input=Input(Widget.SELECT), form_section="zusammenarbeit",
        show=(Show(_P, "cooperation", 1), Show(_D, "status", 1), Show(_C, "rows", 7)),
        search=Search(facet=Facet("Rechtsform", "rechtsform", 4)),
        imports=Import(labels=("rechtsform",)),
    ),
    Field(
        "collaboration_since", "Zusammenarbeit seit",
        help="Jahr, in dem die Zusammenarbeit begann, zum Beispiel 2019.",
        input=Input(Widget.TEXT, inputmode="numeric", maxlength=4, autocomplete="off"), form_section="zusammenarbeit",
        show=(Show(_P, "cooperation", 2), Show(_D, "status", 2), Show(_C, "rows", 9)),
        search=Search(range=True),
        imports=Import(labels=("zusammenarbeit seit",)),
    ),
    Field(
        "project_status", "Projektstand",
        help="Wo steht das Projekt heute?",
        input=Input(Widget.SELECT, same_row=True), form_section="zusammenarbeit",
        show=(Show(_P, "kurzprofil", 7), Show(_D, "status", 3), Show(_C, "rows", 10)),
        search=Search(facet=Facet("Projektstand", "stand", 5)),
        imports=Import(labels=("projektstand",)),
    ),
    Field(
        "contact", "Kontakt",
        help="An wen können sich andere Kommunen mit Fragen wenden?",
        input=Input(Widget.FIELDS), form_section="kontakt",
        subfields=(
            Field("organisation", "Organisation", input=Input(Widget.TEXT, autocomplete="organization", width="wide")),
            Field("person", "Ansprechperson", input=Input(Widget.TEXT, autocomplete="name", same_row=True)),
            Field("street", "Straße und Hausnummer", input=Input(Widget.TEXT, autocomplete="street-address", width="wide")),
            Field("postcode", "Postleitzahl", help="Fünf Ziffern.",
                  input=Input(Widget.TEXT, inputmode="numeric", maxlength="model", autocomplete="postal-code", width="narrow", same_row=True)),
            Field("city", "Ort", input=Input(Widget.TEXT, autocomplete="address-level2", same_row=True)),
            Field("phone", "Telefon", help="Ziffern, Leerzeichen und + ( ) / - sind erlaubt.",
                  input=Input(Widget.TEXT, type="tel", autocomplete="tel")),
            Field("email", "E-Mail", input=Input(Widget.TEXT, type="email", autocomplete="email", same_row=True)),
            Field("website", "Website", help="Vollständige Adresse mit https://.",
                  input=Input(Widget.TEXT, type="url", autocomplete="url", same_row=True)),
        ),
        show=(Show(_P, "contact", 1, "contact"), Show(_D, "contact", 1, "contact"), Show(_C, "rows", 11, "contact")),
        imports=Import(labels=("kontakt", "ansprechpartner", "ansprechpartnerin", "ansprechpartner/in"),
                       headings=r"kontakt|ansprechpartner|ansprechperson", heading_rank=1),
        jsonld="@contact",
    ),
    Field(
        "links", "Weitere Informationen",
        help="Strategiepapiere, Presseartikel, Projektseiten – jeweils mit Titel und Adresse (https://…).",
        input=Input(Widget.ROWS, add_label="Weiteren Link hinzufügen", row_label="Link {n}", own_section=True), form_section="links",
        subfields=(
            Field("title", "Titel", input=Input(Widget.TEXT)),
            Field("url", "Adresse", input=Input(Widget.TEXT, type="url", width="wide", same_row=True)),
        ),
        show=(Show(_P, "links", 1, "links"), Show(_D, "links", 1, "links")),
        imports=Import(labels=("links", "weitere informationen")),
    ),
    Field(
        "licence", "Lizenz",
        help="Unter welcher Lizenz andere den Text nachnutzen dürfen. Standard: CC BY 4.0.",
        input=Input(Widget.TEXT, width="narrow"), form_section="nachnutzung",
        show=(Show(_P, "footer", 1), Show(_D, "closing", 2)),
        jsonld="license",
    ),
    Field(
        "size_class", "Größenklasse", derived=True, export=False,
        show=(Show(_P, "kurzprofil", 6), Show(_D, "kurzprofil_left", 3), Show(_C, "rows", 5)),
        search=Search(facet=Facet("Gemeindegrößenklasse", "groesse", 3)),
    ),
)

# ---------------------------------------------------------------- facets from the municipality register
#
# Search-document keys that are no profile field: set at indexing time from
# the register (catalogue/search/regions.py), by the lead's AGS or, without
# one, its name. Their values are the register's names, not a fixed list, so
# a facet shows the values its counts hold. (The size class is a profile field
# above; at indexing time the register's figure replaces it where the lead is
# found there.)


@dataclass(frozen=True)
class RegisterFacet:
    key: str  # key in the search document
    facet: Facet


KREIS_KEY = "kreis"
REGIERUNGSBEZIRK_KEY = "regierungsbezirk"
REGISTER_FACETS: tuple[RegisterFacet, ...] = (
    RegisterFacet(KREIS_KEY, Facet("Kreis / kreisfreie Stadt", "kreis", 7)),
    RegisterFacet(REGIERUNGSBEZIRK_KEY, Facet("Regierungsbezirk", "bezirk", 8)),
)

# Labels of the stored document's other parts (editorial state, timestamps, comments).
META_LABELS: dict[str, str] = {
    "slug": "Kurzname",
    "status": "Status",
    "owner": "Eigentümer",
    "provenance": "Quelle",
    "confirmed_at": "Zuletzt bestätigt",
    "published_at": "Veröffentlicht",
    "updated_at": "Zuletzt geändert",
    "comment": "Kommentar",
}

# ---------------------------------------------------------------- the model, read


def _unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """(base type, constraint metadata) of an annotation: Optional and Annotated removed."""
    metadata: list[Any] = []
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            args = typing.get_args(annotation)
            annotation, metadata = args[0], [*metadata, *args[1:]]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation, metadata
            annotation = members[0]
        else:
            return annotation, metadata


def _model_of(annotation: Any) -> type[BaseModel] | None:
    base, _ = _unwrap(annotation)
    if typing.get_origin(base) is list:
        base, _ = _unwrap(typing.get_args(base)[0])
    return base if isinstance(base, type) and issubclass(base, BaseModel) else None


def _model_field(path: str, *, derived: bool = False) -> FieldInfo:
    model: type[BaseModel] = Profile if derived else ProfileContent
    parts = path.split(".")
    info: FieldInfo | None = None
    for i, part in enumerate(parts):
        if part not in model.model_fields:
            raise KeyError(f"{model.__name__} has no field {part!r} (registry path {path!r})")
        info = model.model_fields[part]
        if i < len(parts) - 1:
            inner = _model_of(info.annotation)
            if inner is None:
                raise KeyError(f"{path!r}: {part!r} is not an object field")
            model = inner
    assert info is not None
    return info


_LIMIT_KEYS = ("min_length", "max_length", "ge", "gt", "le", "lt", "pattern")


def limits(path: str, *, derived: bool = False) -> dict[str, Any]:
    """The constraints the model declares for a field, by name (min_length, max_length, ge, gt, le, lt, pattern)."""
    info = _model_field(path, derived=derived)
    base, inner = _unwrap(info.annotation)
    out: dict[str, Any] = {}
    for item in [*info.metadata, *inner]:
        for key in _LIMIT_KEYS:
            value = getattr(item, key, None)
            if value is not None:
                out[key] = value
    if typing.get_origin(base) is list:  # a list's own length limit is on the field
        out = {k: v for k, v in out.items() if k in ("min_length", "max_length")}
    return out


@cache  # the models do not change: indexing asks this for every field of every profile
def value_kind(path: str, *, derived: bool = False) -> str:
    info = _model_field(path, derived=derived)
    base, _ = _unwrap(info.annotation)
    if typing.get_origin(base) is list:
        item, _ = _unwrap(typing.get_args(base)[0])
        if isinstance(item, type) and issubclass(item, BaseModel):
            return "models"
        if isinstance(item, type) and issubclass(item, StrEnum):
            return "enums"
        return "list"
    if isinstance(base, type):
        if issubclass(base, BaseModel):
            return "model"
        if issubclass(base, StrEnum):
            return "enum"
        if issubclass(base, bool):
            return "bool"
        if issubclass(base, int):
            return "int"
        if issubclass(base, float):
            return "float"
        if issubclass(base, date):
            return "date"
    return "str"


@cache
def enum_of(path: str, *, derived: bool = False) -> type[StrEnum] | None:
    base, _ = _unwrap(_model_field(path, derived=derived).annotation)
    if typing.get_origin(base) is list:
        base, _ = _unwrap(typing.get_args(base)[0])
    return base if isinstance(base, type) and issubclass(base, StrEnum) else None


def is_required(path: str) -> bool:
    return _model_field(path).is_required()


def digits_of(pattern: str | None) -> int | None:
    """The longest length an all-digits pattern allows (a form's maxlength).

    8 for r"^\\d{8}$"; 9 for r"^(?:\\d{2}|\\d{3}|\\d{5}|\\d{8}|\\d{9})$" (alternatives of digit runs).
    """
    m = re.fullmatch(r"\^(?:\(\?:)?((?:\\d\{\d+\}\|?)+)\)?\$", pattern or "")
    if not m:
        return None
    lengths = [int(n) for n in re.findall(r"\\d\{(\d+)\}", m.group(1))]
    return max(lengths) if lengths else None


# ---------------------------------------------------------------- the registry, indexed


def _with_paths(fields: tuple[Field, ...], prefix: str = "") -> tuple[Field, ...]:
    out = []
    for f in fields:
        path = f"{prefix}{f.name}"
        subs = _with_paths(f.subfields, f"{path}.")
        out.append(replace(f, path=path, subfields=subs))
    return tuple(out)


FIELDS = _with_paths(FIELDS)


def _walk(fields: tuple[Field, ...]) -> Iterator[Field]:
    for f in fields:
        yield f
        yield from _walk(f.subfields)


BY_PATH: dict[str, Field] = {f.path: f for f in _walk(FIELDS)}
CONTENT: tuple[Field, ...] = tuple(f for f in FIELDS if not f.derived)


def field(path: str) -> Field:
    """The field or subfield at a dotted path ("contact.postcode")."""
    return BY_PATH[path]


def leaves(fields: tuple[Field, ...] = FIELDS) -> Iterator[Field]:
    """Every field or subfield that holds a value (no object fields)."""
    for f in _walk(fields):
        if not f.subfields:
            yield f


def markdown_paths() -> tuple[str, ...]:
    """Paths of the Markdown texts, in registry order ("occasion", …, "funding.text")."""
    return tuple(f.path for f in leaves() if f.is_markdown)


def markdown_fields() -> tuple[Field, ...]:
    """Top-level Markdown fields (the long text sections), in registry order."""
    return tuple(f for f in FIELDS if f.is_markdown)


def shown(view: View, section: str) -> list[tuple[Field, Show]]:
    """The fields a section of a view shows, in their order there."""
    items = [(f, s) for f in _walk(FIELDS) for s in f.show if s.view is view and s.section == section]
    return sorted(items, key=lambda item: item[1].order)


def view_section(view: View, key: str) -> ViewSection:
    for s in VIEW_SECTIONS:
        if s.view is view and s.key == key:
            return s
    raise KeyError(f"no section {key!r} in view {view.value!r}")


def facets() -> list[tuple[Field, Facet]]:
    """The facet fields in their display order."""
    found = [(f, f.search.facet) for f in _walk(FIELDS) if f.search is not None and f.search.facet is not None]
    return sorted(found, key=lambda item: item[1].order)


@dataclass(frozen=True)
class FacetSpec:
    """A facet as search lists it: its document key, its facet, its controlled list (None: open, values from the counts)."""

    key: str
    facet: Facet
    options: tuple[str, ...] | None


def facet_specs() -> list[FacetSpec]:
    """Every facet, of profile fields and of the register (REGISTER_FACETS), in display order."""
    specs = [FacetSpec(search_key(f), facet, tuple(f.options())) for f, facet in facets()]
    specs += [FacetSpec(r.key, r.facet, None) for r in REGISTER_FACETS]
    return sorted(specs, key=lambda s: s.facet.order)


def search_key(f: Field) -> str:
    assert f.search is not None
    return f.search.key or f.path.replace(".", "_")


def export_columns() -> tuple[str, ...]:
    """The content fields in an export, in registry order."""
    return tuple(f.name for f in CONTENT if f.export)


def structured_cell(name: str) -> bool:
    """Whether an export column holds a list or an object (a JSON cell in CSV)."""
    return value_kind(name) in ("list", "enums", "model", "models")


def import_section_labels() -> dict[str, str]:
    """Labels of structured profile texts ("anlass") → field name."""
    return {label: f.name for f in FIELDS for label in f.imports.labels}


def import_headings() -> tuple[tuple[str, str], ...]:
    """(heading pattern, field name) of free reference texts, in the order they are tried."""
    found = sorted((f.imports.heading_rank, f.imports.headings, f.name) for f in FIELDS if f.imports.headings)
    return tuple((pattern, name) for _, pattern, name in found)


def expected_sections() -> tuple[str, ...]:
    """Text sections whose absence importers report to the editor."""
    return tuple(f.name for f in FIELDS if f.imports.expected)


def summary_sources() -> tuple[str, ...]:
    """Text sections a missing summary is taken from, first choice first."""
    return tuple(f.name for f in sorted((f for f in FIELDS if f.imports.summary_rank), key=lambda f: f.imports.summary_rank))


# ---------------------------------------------------------------- labels

FIELD_LABELS: dict[str, str] = {**{f.path: f.label for f in _walk(FIELDS)}, **META_LABELS}


def field_label(loc: tuple[Any, ...] | list[Any] | Any) -> str:
    """A readable German path for a field location: ("contact", "postcode") → "Kontakt › Postleitzahl"."""
    parts: list[str] = []
    current: Field | None = None
    for p in loc:
        if isinstance(p, int):
            parts.append(f"Nr. {p + 1}")
            continue
        name = str(p)
        if current is None and not parts:
            current = BY_PATH.get(name)
            parts.append(current.label if current else FIELD_LABELS.get(name, name))
            continue
        sub = next((s for s in current.subfields if s.name == name), None) if current else None
        current = sub
        parts.append(sub.label if sub else FIELD_LABELS.get(name, name))
    return " › ".join(parts) if parts else "Datensatz"


# ---------------------------------------------------------------- consistency with the model


def check_registry() -> None:
    """The registry and the model agree: every content field declared once, every path real, every list known."""
    model_names = list(ProfileContent.model_fields)
    declared = [f.name for f in CONTENT]
    if declared != model_names:
        missing = [n for n in model_names if n not in declared]
        extra = [n for n in declared if n not in model_names]
        raise RuntimeError(
            f"catalogue/fields.py and ProfileContent disagree: missing {missing}, not in the model {extra}, "
            "or the order differs (declare fields in the model's order)"
        )
    form_keys = {s.key for s in FORM_SECTIONS}
    view_keys = {(s.view, s.key) for s in VIEW_SECTIONS}
    for f in _walk(FIELDS):
        f.model_field()  # raises for a path the model does not have
        if f.form_section is not None and f.form_section not in form_keys:
            raise RuntimeError(f"{f.path}: unknown form section {f.form_section!r}")
        for s in f.show:
            if (s.view, s.section) not in view_keys:
                raise RuntimeError(f"{f.path}: unknown section {s.section!r} of view {s.view.value!r}")
        if f.input is not None and f.input.widget in (Widget.SELECT, Widget.CHECKBOXES) and not f.options():
            raise RuntimeError(f"{f.path}: a {f.input.widget.value} needs a controlled list in the model")
        if f.top in {g.name for g in CONTENT} and BY_PATH[f.top].input is not None and f.input is None and not f.subfields:
            raise RuntimeError(f"{f.path}: a subfield of a form field needs an input")
    params = [spec.facet.param for spec in facet_specs()]
    if len(params) != len(set(params)):
        raise RuntimeError("two facets share a URL parameter")
    if clash := {r.key for r in REGISTER_FACETS} & {search_key(f) for f in _walk(FIELDS) if f.search is not None}:
        raise RuntimeError(f"register facets clash with search keys of profile fields: {sorted(clash)}")


check_registry()

def value_at(data: Mapping[str, Any] | Any, path: str) -> Any:
    """The value at a dotted path of a dict or model; lists along the way give a list of values."""
    current: Any = data
    for part in path.split("."):
        if isinstance(current, list):
            current = [_get(item, part) for item in current]
            current = [c for c in current if c is not None]
        else:
            current = _get(current, part)
        if current is None:
            return None
    return current


def applies(f: Field, profile: Mapping[str, Any] | Any) -> bool:
    """Whether a field means something for this profile: a Regierungsbezirk only in the Länder that have them."""
    if f.path == "district":
        state = _get(profile, "state")
        return str(getattr(state, "value", state)) in {s.value for s in STATES_WITH_REGIERUNGSBEZIRK}
    return True


def population_body(profile: Mapping[str, Any] | Any) -> str | None:
    """The body whose population and area the Kurzprofil gives, when it is not the lead ("Stadt Höxter")."""
    body = str(_get(profile, "population_body") or "").strip()
    lead = str(_get(_get(profile, "lead"), "name") or "").strip()
    return body if body and body != lead else None


def is_present(value: Any) -> bool:
    """Whether a value is worth showing: not None, not empty, an object with something present."""
    if value is None or value in ("", [], ()):
        return False
    if isinstance(value, BaseModel):
        return any(is_present(getattr(value, name)) for name in type(value).model_fields)
    if isinstance(value, Mapping):
        return any(is_present(v) for v in value.values())
    return True


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


__all__ = [
    "BY_PATH",
    "CONTENT",
    "FIELDS",
    "FIELD_LABELS",
    "FORM_SECTIONS",
    "MARKDOWN_HELP",
    "META_LABELS",
    "VIEW_SECTIONS",
    "Facet",
    "Field",
    "FormSection",
    "Import",
    "Input",
    "Priority",
    "Search",
    "Show",
    "View",
    "ViewSection",
    "Widget",
    "field",
    "field_label",
    "limits",
    "value_at",
]
