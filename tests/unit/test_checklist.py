"""The publication checklist, defined once in catalogue/checklist.py."""

from __future__ import annotations

from catalogue import checklist
from catalogue.models import ProfileContent
from catalogue.search.documents import to_search_document
from tests.factories import example_profile
from tests.fixtures.profiles import buergerbus, fundbuero


def test_title_only_lacks_every_item() -> None:
    assert checklist.missing_keys({"title": "Nur ein Titel"}) == ["summary", "lead", "state", "fields_of_action", "contact", "project_status"]
    errors = checklist.errors(checklist.missing({"title": "Nur ein Titel"}))
    assert {e["field"] for e in errors} == {"summary", "lead.name", "state", "fields_of_action", "contact.email", "project_status"}
    assert all(e["message"].startswith("Bitte") for e in errors)


def test_complete_profile_and_each_single_gap() -> None:
    full = ProfileContent.model_validate(example_profile())
    assert checklist.missing(full) == []
    assert all(item["done"] for item in checklist.checklist(full))
    gaps = {
        "summary": {"summary": "  "},
        "lead": {"lead": None},
        "state": {"state": None},
        "fields_of_action": {"fields_of_action": []},
        "contact": {"contact": {"organisation": "Kreis Beispielland", "street": "Musterweg 1"}},
        "project_status": {"project_status": None},
    }
    for key, change in gaps.items():
        assert checklist.missing_keys(ProfileContent.model_validate(example_profile(**change))) == [key], key


def test_phone_alone_or_email_alone_is_a_contact() -> None:
    assert "contact" not in checklist.missing_keys({"contact": {"phone": "01234 5678"}})
    assert "contact" not in checklist.missing_keys({"contact": {"email": "a@b.example"}})
    assert "contact" in checklist.missing_keys({"contact": {"person": "Erika Beispiel"}})


def test_search_document_carries_the_missing_keys() -> None:
    assert to_search_document(fundbuero())["missing"] == checklist.missing_keys(fundbuero())
    doc = to_search_document({"title": "Nur ein Titel", "slug": "nur-ein-titel", "status": "draft"})
    assert doc["missing"] == ["summary", "lead", "state", "fields_of_action", "contact", "project_status"]
    assert isinstance(to_search_document(buergerbus())["missing"], list)
