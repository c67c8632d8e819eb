"""Compounds shortened by a suspension hyphen ("Gebäude-, Energie- und Trinkwassermanagement") are indexed whole
(catalogue/search/documents.suspended_compounds), and explanations see them too."""

from __future__ import annotations

import pytest

from catalogue.search import planning
from catalogue.search.documents import suspended_compounds


def test_every_shortened_compound_is_completed() -> None:
    found = suspended_compounds("ein Gebäude-, Energie- und Trinkwassermanagement des Kreises")
    assert {"Gebäudemanagement", "Energiemanagement"} <= set(found)
    assert "Trinkwassermanagement" not in found  # written whole already
    # without a dictionary every cut of the head is offered, each joining words of this very text
    assert all(w.startswith(("Gebäude", "Energie")) and w.endswith("ment") for w in found)


@pytest.mark.parametrize(("text", "expected"), [
    ("Energieerzeugungs- und Energiecontrolling-Anlagen", ["Energieerzeugungsanlagen"]),  # a hyphenated last word: its last part
    ("Verlässliche Haushalts- und Personalplanung", ["Haushaltsplanung"]),
    ("Aus- und Fortbildung", ["Ausbildung"]),
    ("Städte- und Gemeindebund", ["Städtebund"]),
    ("Kinder-, Jugend- oder Familienhilfe", ["Kinderhilfe", "Jugendhilfe"]),
    ("das Nord- bzw. Südufer", ["Nordufer"]),
])
def test_completions(text: str, expected: list[str]) -> None:
    assert set(expected) <= set(suspended_compounds(text))


@pytest.mark.parametrize("text", [
    "E-Akte und Post",  # an inner hyphen, not a suspended one
    "Bauhof und Feuerwehr",
    "1.- und 2. Klasse",
    "Ein Satz- und",  # nothing after the conjunction
    "",
])
def test_nothing_where_no_compound_is_shortened(text: str) -> None:
    assert suspended_compounds(text) == []


def test_explanations_see_the_shortened_compound() -> None:
    plan = planning.plan("Haushaltsplanung")
    explanation = planning.explain(plan, {"texts": "Verlässliche Haushalts- und Personalplanung"}, {})
    assert explanation["words"][0]["matched"][0]["kind"] == "typed"
