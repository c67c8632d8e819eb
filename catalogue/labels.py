"""German labels of the profile's fields (the brief's table), in one place.

The web form, the profile page, diffs, validation messages (API, forms,
importers) and the PDF read them from here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FIELD_LABELS: dict[str, str] = {
    "title": "Titel",
    "summary": "Kurzbeschreibung",
    "keywords": "Stichworte",
    "fields_of_action": "Handlungsfelder",
    "lead": "Hauptverantwortlich",
    "lead.name": "Name",
    "lead.kind": "Art",
    "lead.ags": "AGS",
    "municipalities": "Beteiligte Kommunen",
    "partners": "Sonstige Beteiligte",
    "state": "Bundesland",
    "district": "Regierungsbezirk",
    "population": "Einwohner",
    "population_as_of": "Einwohner – Stand",
    "population_source": "Einwohner – Quelle",
    "area_km2": "Fläche (km²)",
    "occasion": "Anlass",
    "goal": "Ziel",
    "implementation": "Umsetzung",
    "results": "Ergebnisse / Vorteile",
    "lessons": "Erfahrungen / Stolpersteine",
    "funding": "Finanzierung",
    "funding.text": "Finanzierung",
    "funding.kinds": "Art der Mittel",
    "funding.programme": "Förderprogramm",
    "funding.amount_eur": "Fördersumme / Budget (EUR)",
    "legal_form": "Rechtsform",
    "collaboration_since": "Zusammenarbeit seit",
    "project_status": "Projektstand",
    "contact": "Kontakt",
    "contact.organisation": "Organisation",
    "contact.person": "Ansprechperson",
    "contact.street": "Straße und Hausnummer",
    "contact.postcode": "Postleitzahl",
    "contact.city": "Ort",
    "contact.phone": "Telefon",
    "contact.email": "E-Mail",
    "contact.website": "Website",
    "links": "Weitere Informationen",
    "licence": "Lizenz",
    "status": "Status",
    "confirmed_at": "Zuletzt bestätigt",
    "comment": "Kommentar",
}

# Labels of nested keys wherever they occur (lead.name, partners.0.kind, contact.postcode …).
SUBFIELD_LABELS: dict[str, str] = {
    "name": "Name",
    "kind": "Art",
    "ags": "AGS",
    "text": "Text",
    "kinds": "Arten",
    "programme": "Programm",
    "amount_eur": "Betrag (EUR)",
    "organisation": "Organisation",
    "person": "Person",
    "street": "Straße",
    "postcode": "PLZ",
    "city": "Ort",
    "phone": "Telefon",
    "email": "E-Mail",
    "website": "Website",
    "url": "Adresse",
}


def field_label(loc: Iterable[Any]) -> str:
    """A readable German path for a field location: ("contact", "postcode") → "Kontakt › PLZ"."""
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts.append(f"Nr. {p + 1}")
        elif not parts:
            parts.append(FIELD_LABELS.get(str(p), str(p)))
        else:
            parts.append(SUBFIELD_LABELS.get(str(p), FIELD_LABELS.get(str(p), str(p))))
    return " › ".join(parts) if parts else "Datensatz"
