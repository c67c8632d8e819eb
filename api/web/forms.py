"""The profile form: field labels and help texts, form data <-> ProfileContent, error mapping.

Inputs are named after the dotted pydantic path of the field they fill
("title", "contact.email", "municipalities.0.name"), so a validation error's
"field" points straight at the input next to which its message belongs.
The form is always re-rendered from what was typed (`values`), never from
the parsed result, so nothing typed is lost when a value is invalid.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from catalogue.formatting import format_date_de, format_float_de
from catalogue.models import MAX_LIST, Profile, ProfileContent
from catalogue.labels import FIELD_LABELS
from catalogue.vocabularies import (
    DEFAULT_LICENCE,
    FederalState,
    FieldOfAction,
    FundingKind,
    LegalForm,
    OrganisationKind,
    PartnerKind,
    ProjectStatus,
)

HELP_TEXTS: dict[str, str] = {
    "title": "Ein Titel, unter dem andere Kommunen das Projekt wiederfinden – 3 bis 200 Zeichen.",
    "summary": "Zwei, drei Sätze ohne Formatierung: Was wurde gemacht, von wem, mit welchem Ergebnis? Höchstens 500 Zeichen.",
    "keywords": "Suchbegriffe, durch Komma getrennt, zum Beispiel: Digitalisierung, OZG, Bauhof.",
    "fields_of_action": "Wählen Sie alle Handlungsfelder, die das Projekt berührt.",
    "lead": "Die Kommune oder der Kreis, der das Projekt federführend verantwortet.",
    "lead.ags": "Schlüssel im Gemeindeverzeichnis (optional): 8 Ziffern für eine Gemeinde, 5 für einen Kreis, 9 für einen Gemeindeverband",
    "municipalities": "Alle Kommunen, die mitmachen. Leere Zeilen werden ignoriert.",
    "partners": "Hochschulen, Unternehmen, Vereine und andere, die mitwirken.",
    "district": "Zum Beispiel „Detmold“. Leer lassen, wenn es im Land keine Regierungsbezirke gibt.",
    "population": "Einwohnerzahl der federführenden Kommune als ganze Zahl, zum Beispiel 28.808.",
    "population_as_of": "Stichtag der Einwohnerzahl, zum Beispiel 31.12.2019.",
    "population_source": "Woher die Zahl stammt, zum Beispiel „IT.NRW“ oder „Destatis“.",
    "area_km2": "Fläche in Quadratkilometern, zum Beispiel 158,16.",
    "occasion": "Warum haben Sie das Projekt begonnen? Welches Problem sollte gelöst werden?",
    "goal": "Was soll das Projekt erreichen?",
    "implementation": "Wie sind Sie vorgegangen? Schritte, Beteiligte, Zeitplan.",
    "results": "Was hat sich verbessert? Zahlen helfen anderen Kommunen sehr.",
    "lessons": "Was würden Sie heute anders machen? Worauf sollten andere achten?",
    "funding.text": "Wie wird das Projekt finanziert?",
    "funding.kinds": "Alle Arten von Mitteln, die eingesetzt werden.",
    "funding.programme": "Name des Förderprogramms, falls vorhanden.",
    "funding.amount_eur": "Betrag in Euro, zum Beispiel 250.000 oder 1.234,50 (optional).",
    "legal_form": "Auf welcher rechtlichen Grundlage arbeiten die Beteiligten zusammen?",
    "collaboration_since": "Jahr, in dem die Zusammenarbeit begann, zum Beispiel 2019.",
    "contact": "An wen können sich andere Kommunen mit Fragen wenden?",
    "contact.postcode": "Fünf Ziffern.",
    "contact.phone": "Ziffern, Leerzeichen und + ( ) / - sind erlaubt.",
    "contact.website": "Vollständige Adresse mit https://.",
    "links": "Strategiepapiere, Presseartikel, Projektseiten – jeweils mit Titel und Adresse (https://…).",
    "licence": "Unter welcher Lizenz andere den Text nachnutzen dürfen. Standard: CC BY 4.0.",
}

MARKDOWN_HELP = "Formatierung mit Markdown: **fett**, *kursiv*, Listen mit „- “ am Zeilenanfang, Links als [Text](https://…)."

# Markdown fields of the form in page order, with the funding text.
MARKDOWN_INPUTS: tuple[str, ...] = ("occasion", "goal", "implementation", "results", "lessons", "funding.text")

# Empty rows shown below the filled ones in repeatable groups.
SPARE_ROWS = 1
GROUP_FIELDS: dict[str, tuple[str, ...]] = {
    "municipalities": ("name", "kind", "ags"),
    "partners": ("name", "kind"),
    "links": ("title", "url"),
}
ADD_ROW_ACTIONS = {"add-municipalities": "municipalities", "add-partners": "partners", "add-links": "links"}


@dataclass
class Vocab:
    """The controlled lists for selects and checkboxes, read from catalogue.vocabularies."""

    fields_of_action: list[str] = field(default_factory=lambda: [v.value for v in FieldOfAction])
    states: list[str] = field(default_factory=lambda: [v.value for v in FederalState])
    organisation_kinds: list[str] = field(default_factory=lambda: [v.value for v in OrganisationKind])
    partner_kinds: list[str] = field(default_factory=lambda: [v.value for v in PartnerKind])
    funding_kinds: list[str] = field(default_factory=lambda: [v.value for v in FundingKind])
    legal_forms: list[str] = field(default_factory=lambda: [v.value for v in LegalForm])
    project_statuses: list[str] = field(default_factory=lambda: [v.value for v in ProjectStatus])


VOCAB = Vocab()


def input_id(name: str) -> str:
    return "f-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


# ------------------------------------------------------------ typed values


@dataclass
class FormValues:
    """What the user typed, keyed by input name; lists for checkbox groups."""

    scalars: dict[str, str] = field(default_factory=dict)
    multi: dict[str, list[str]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)  # rows to show per group

    def get(self, name: str) -> str:
        return self.scalars.get(name, "")

    def has(self, name: str, value: str) -> bool:
        return value in self.multi.get(name, [])

    def row_count(self, group: str) -> int:
        return self.rows.get(group, SPARE_ROWS)


MULTI_INPUTS = ("fields_of_action", "funding.kinds")
SCALAR_INPUTS: tuple[str, ...] = (
    "title", "summary", "keywords", "lead.name", "lead.kind", "lead.ags", "state", "district",
    "population", "population_as_of", "population_source", "area_km2",
    "occasion", "goal", "implementation", "results", "lessons",
    "funding.text", "funding.programme", "funding.amount_eur", "legal_form", "collaboration_since", "project_status",
    "contact.organisation", "contact.person", "contact.street", "contact.postcode", "contact.city",
    "contact.phone", "contact.email", "contact.website", "licence",
)  # fmt: skip
MAX_INPUT = 25_000
_ROW_RE = re.compile(r"^(municipalities|partners|links)\.(\d{1,3})\.(name|kind|ags|title|url)$")


def values_from_form(form: Mapping[str, Any] | Any) -> FormValues:
    """Collect the typed values from a submitted form (unknown inputs are ignored)."""
    values = FormValues()
    getall = getattr(form, "getall", None)
    for name in SCALAR_INPUTS:
        raw = form.get(name)
        if raw is not None:
            values.scalars[name] = str(raw)[:MAX_INPUT]
    for name in MULTI_INPUTS:
        items = getall(name, []) if getall else form.get(name, [])
        if isinstance(items, str):
            items = [items]
        values.multi[name] = [str(v) for v in items][: len(VOCAB.fields_of_action)]
    highest: dict[str, int] = {}
    for key in list(form.keys()):
        m = _ROW_RE.match(str(key))
        if not m:
            continue
        group, index, _ = m.groups()
        if int(index) >= MAX_LIST + SPARE_ROWS:
            continue
        values.scalars[key] = str(form.get(key) or "")[:MAX_INPUT]
        highest[group] = max(highest.get(group, -1), int(index))
    for group in GROUP_FIELDS:
        values.rows[group] = max(highest.get(group, -1) + 1, SPARE_ROWS)
    return values


def values_from_profile(profile: Profile | ProfileContent | None) -> FormValues:
    """The form's values for an existing profile (or a fresh, empty form)."""
    values = FormValues()
    if profile is None:
        values.scalars["licence"] = DEFAULT_LICENCE
        values.rows = {g: max(SPARE_ROWS, 1) for g in GROUP_FIELDS}
        return values
    data = profile.model_dump(mode="json")
    s = values.scalars
    for name in ("title", "summary", "state", "district", "population_source", "occasion", "goal",
                 "implementation", "results", "lessons", "legal_form", "project_status", "licence"):  # fmt: skip
        s[name] = str(data.get(name) or "")
    s["keywords"] = ", ".join(data.get("keywords") or [])
    lead = data.get("lead") or {}
    for k in ("name", "kind", "ags"):
        s[f"lead.{k}"] = str(lead.get(k) or "")
    s["population"] = str(data["population"]) if data.get("population") is not None else ""
    s["population_as_of"] = format_date_de(data.get("population_as_of")) if data.get("population_as_of") else ""
    s["area_km2"] = format_float_de(data["area_km2"], 2, strip_zeros=True) if data.get("area_km2") is not None else ""
    s["collaboration_since"] = str(data.get("collaboration_since") or "")
    funding = data.get("funding") or {}
    s["funding.text"] = funding.get("text") or ""
    s["funding.programme"] = funding.get("programme") or ""
    amount = funding.get("amount_eur")
    s["funding.amount_eur"] = format_float_de(amount, 2, strip_zeros=True) if amount is not None else ""
    for k, v in (data.get("contact") or {}).items():
        s[f"contact.{k}"] = str(v or "")
    values.multi["fields_of_action"] = list(data.get("fields_of_action") or [])
    values.multi["funding.kinds"] = list(funding.get("kinds") or [])
    for group, sub in GROUP_FIELDS.items():
        items = data.get(group) or []
        for i, item in enumerate(items):
            for k in sub:
                s[f"{group}.{i}.{k}"] = str(item.get(k) or "")
        values.rows[group] = len(items) + SPARE_ROWS
    return values


# ------------------------------------------------------------ parsing


def _blank(v: str | None) -> bool:
    return v is None or not v.strip()


def parse_int_de(text: str) -> int | str:
    """'28.808' or '28808' -> 28808; anything else is returned unchanged (pydantic reports it)."""
    t = text.strip().replace("\u00a0", "").replace(" ", "")
    if re.fullmatch(r"-?\d{1,3}(\.\d{3})+", t):
        t = t.replace(".", "")
    if re.fullmatch(r"-?\d+", t):
        try:
            return int(t)
        except ValueError:  # more digits than Python converts (4300): let pydantic report it
            return text
    return text


def parse_float_de(text: str) -> float | str:
    """'158,16' / '1.234,5' / '158.16' -> float; anything else is returned unchanged."""
    t = text.strip().replace("\u00a0", "").replace(" ", "").removesuffix("€").removesuffix("km²")
    if re.fullmatch(r"-?\d{1,3}(\.\d{3})+(,\d+)?", t):
        t = t.replace(".", "").replace(",", ".")
    elif re.fullmatch(r"-?\d+,\d+", t):
        t = t.replace(",", ".")
    if re.fullmatch(r"-?\d+(\.\d+)?", t):
        return float(t)
    return text


def parse_date_de(text: str) -> str:
    """'31.12.2019' -> '2019-12-31'; ISO dates pass through; anything else unchanged."""
    t = text.strip()
    m = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", t)
    if m:
        try:
            return date(int(m.group(3)), int(m.group(2)), int(m.group(1))).isoformat()
        except ValueError:
            return text
    return t


def content_data(values: FormValues) -> dict[str, Any]:
    """Build the ProfileContent input dict from typed values (validation is the service's job)."""
    s = values.scalars
    data: dict[str, Any] = {"title": s.get("title", "")}

    def put(key: str, name: str, convert: Any = None) -> None:
        raw = s.get(name, "")
        if not _blank(raw):
            data[key] = convert(raw) if convert else raw.strip()

    put("summary", "summary")
    data["keywords"] = [k.strip() for k in re.split(r"[,;\n]", s.get("keywords", "")) if k.strip()]
    data["fields_of_action"] = values.multi.get("fields_of_action", [])
    lead = {k: s.get(f"lead.{k}", "").strip() for k in ("name", "kind", "ags")}
    if any(lead.values()):
        data["lead"] = {k: v for k, v in lead.items() if v or k == "name"}
    for group, sub in GROUP_FIELDS.items():
        items = []
        for i in range(values.row_count(group)):
            row = {k: s.get(f"{group}.{i}.{k}", "").strip() for k in sub}
            if not any(row.values()):
                continue
            first = sub[0]
            item = {k: v for k, v in row.items() if v or k == first}
            if group == "links":
                item.setdefault("url", "")
            items.append((i, item))
        data[group] = [item for _, item in items]
        values.rows.setdefault(group, SPARE_ROWS)
    put("state", "state")
    put("district", "district")
    put("population", "population", parse_int_de)
    put("population_as_of", "population_as_of", parse_date_de)
    put("population_source", "population_source")
    put("area_km2", "area_km2", parse_float_de)
    for name in ("occasion", "goal", "implementation", "results", "lessons"):
        data[name] = s.get(name, "").replace("\r\n", "\n")
    funding: dict[str, Any] = {"text": s.get("funding.text", "").replace("\r\n", "\n"), "kinds": values.multi.get("funding.kinds", [])}
    if not _blank(s.get("funding.programme")):
        funding["programme"] = s["funding.programme"].strip()
    if not _blank(s.get("funding.amount_eur")):
        funding["amount_eur"] = parse_float_de(s["funding.amount_eur"])
    data["funding"] = funding
    put("legal_form", "legal_form")
    put("collaboration_since", "collaboration_since", parse_int_de)
    put("project_status", "project_status")
    contact = {}
    for k in ("organisation", "person", "street", "postcode", "city", "phone", "email", "website"):
        raw = s.get(f"contact.{k}", "")
        if not _blank(raw):
            contact[k] = raw.strip()
    data["contact"] = contact
    data["licence"] = s.get("licence", "").strip() or DEFAULT_LICENCE
    return data


def row_index_map(values: FormValues) -> dict[str, list[int]]:
    """For each group, the form row index of each list item (empty rows are skipped in the data)."""
    out: dict[str, list[int]] = {}
    for group, sub in GROUP_FIELDS.items():
        out[group] = [
            i for i in range(values.row_count(group)) if any(values.get(f"{group}.{i}.{k}").strip() for k in sub)
        ]
    return out


_INPUT_FOR: dict[str, str] = {"funding": "funding.text", "lead": "lead.name", "contact": "contact.organisation"}


def map_errors(errors: list[dict[str, Any]], values: FormValues) -> dict[str, list[str]]:
    """Error messages keyed by input name; messages without a matching input go under ''."""
    rows = row_index_map(values)
    known = set(SCALAR_INPUTS) | set(MULTI_INPUTS)
    out: dict[str, list[str]] = {}
    for err in errors:
        path = str(err.get("field") or "")
        message = german_message(path, str(err.get("message") or "ist ungültig"))
        parts = path.split(".")
        target = ""
        if parts and parts[0] in GROUP_FIELDS and len(parts) >= 2 and parts[1].isdigit():
            idx = int(parts[1])
            form_idx = rows[parts[0]][idx] if idx < len(rows[parts[0]]) else idx
            sub = parts[2] if len(parts) > 2 else GROUP_FIELDS[parts[0]][0]
            target = f"{parts[0]}.{form_idx}.{sub}"
        elif parts and parts[0] in GROUP_FIELDS:
            target = f"{parts[0]}.0.{GROUP_FIELDS[parts[0]][0]}"
        else:
            for n in range(len(parts), 0, -1):
                candidate = ".".join(parts[:n])
                if candidate in known:
                    target = candidate
                    break
                if candidate in _INPUT_FOR:
                    target = _INPUT_FOR[candidate]
                    break
        out.setdefault(target, []).append(message)
    return out


def german_message(path: str, message: str) -> str:
    """Some validators (e-mail) speak English; say it in German."""
    if path.endswith("email") and ("email" in message.lower() or "value is not" in message):
        return "muss eine gültige E-Mail-Adresse sein, zum Beispiel name@kommune.de"
    if message.isascii() and message[:1].isupper() and "Input" in message:
        return "ist ungültig"
    return message


def error_label(name: str) -> str:
    """A readable label for an input name, for the error summary."""
    m = _ROW_RE.match(name)
    if m:
        group, index, sub = m.groups()
        sub_label = {"name": "Name", "kind": "Art", "ags": "AGS", "title": "Titel", "url": "Adresse"}[sub]
        return f"{FIELD_LABELS[group]}, Zeile {int(index) + 1}: {sub_label}"
    if name.startswith("lead."):
        return f"Hauptverantwortlich: {FIELD_LABELS.get(name, name)}"
    if name.startswith("contact."):
        return f"Kontakt: {FIELD_LABELS.get(name, name)}"
    return FIELD_LABELS.get(name, name or "Profil")
