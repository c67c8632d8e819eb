"""The publication checklist: what a profile needs before it is published, defined once.

A profile is published only with a summary, the lead body, the Land, at least
one field of action, a contact with e-mail or phone, and the project status.
`missing` lists what is not there (each with its field and a German
message, as the per-field errors of the problem that refuses publishing);
`checklist` gives every item with its state for the editor's completeness
indicator and the review queue. The search document carries the keys of the
missing items (`catalogue/search/documents.py`), so lists show the checklist
without reading the store.

Used by: the workflow (`ProfileService.transition` refuses to publish),
imports (a profile that would be published stays a draft and the import
report says why), the editor form, the review queue.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Item:
    key: str  # stable key (search document, tests)
    field: str  # the field path the error points at (form anchors, problem+json errors)
    label: str  # what the editor sees in the checklist
    message: str  # why it is missing
    present: Callable[[Mapping[str, Any]], bool]


def _text(value: Any) -> bool:
    return bool(str(value or "").strip())


def _contact(data: Mapping[str, Any]) -> bool:
    contact = data.get("contact") or {}
    return _text(contact.get("email")) or _text(contact.get("phone"))


ITEMS: tuple[Item, ...] = (
    Item("summary", "summary", "Kurzbeschreibung", "Bitte schreiben Sie eine Kurzbeschreibung.",
         lambda d: _text(d.get("summary"))),
    Item("lead", "lead.name", "Hauptverantwortliche Kommune", "Bitte nennen Sie die federführende Kommune oder den Kreis.",
         lambda d: _text((d.get("lead") or {}).get("name"))),
    Item("state", "state", "Bundesland", "Bitte wählen Sie das Bundesland.", lambda d: _text(d.get("state"))),
    Item("fields_of_action", "fields_of_action", "Mindestens ein Handlungsfeld", "Bitte wählen Sie mindestens ein Handlungsfeld.",
         lambda d: bool(d.get("fields_of_action"))),
    Item("contact", "contact.email", "Kontakt mit E-Mail oder Telefon",
         "Bitte geben Sie eine E-Mail-Adresse oder Telefonnummer für Rückfragen an.", _contact),
    Item("project_status", "project_status", "Projektstand", "Bitte wählen Sie den Projektstand.",
         lambda d: _text(d.get("project_status"))),
)

BY_KEY: dict[str, Item] = {item.key: item for item in ITEMS}

REFUSED = "Das Profil kann noch nicht veröffentlicht werden. Es fehlt: {items}."
DRAFT_REASON = "Bleibt Entwurf – für die Veröffentlichung fehlt: {items}."


def _data(profile: Any) -> Mapping[str, Any]:
    if isinstance(profile, Mapping):
        return profile
    dumped: Mapping[str, Any] = profile.model_dump(mode="json")
    return dumped


def missing(profile: Any) -> list[Item]:
    """The checklist items a profile (model or dict of its content) lacks, in order."""
    data = _data(profile)
    return [item for item in ITEMS if not item.present(data)]


def missing_keys(profile: Any) -> list[str]:
    return [item.key for item in missing(profile)]


def checklist(profile: Any) -> list[dict[str, Any]]:
    """Every item with its state: [{key, field, label, done}]."""
    data = _data(profile)
    return [{"key": i.key, "field": i.field, "label": i.label, "done": i.present(data)} for i in ITEMS]


def errors(items: list[Item]) -> list[dict[str, str]]:
    """Per-field errors of the problem that refuses publishing."""
    return [{"field": i.field, "message": i.message} for i in items]


def summary(items: list[Item]) -> str:
    return ", ".join(i.label for i in items)
