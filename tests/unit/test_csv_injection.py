"""Issue 13, CSV export writes formulas: cells a spreadsheet would run are neutralised, and the import round-trips them."""

from __future__ import annotations

import csv
import io

import pytest

from importers.base import Source
from importers.catalogue_formats import CsvImporter
from importers.export import CSV_COLUMNS, export_csv, neutralise_cell, unneutralise_cell

FORMULAS = [
    '=HYPERLINK("https://example.org/boese","Klick")',
    "@SUM(1)",
    "+SUM(1,2)",
    "-2+3 Prozent",
    "\tTabulator vorn",
    "\rWagenrücklauf vorn",
    "'=schon mit Apostroph",
    "''@zwei Apostrophe",
]


@pytest.mark.parametrize("text", FORMULAS)
def test_cells_that_start_a_formula_are_neutralised_and_restored(text: str) -> None:
    cell = neutralise_cell(text)
    assert cell.startswith("'") and cell[1:] == text
    assert unneutralise_cell(cell) == text


@pytest.mark.parametrize("text", ["Bauhof", "'nur ein Apostroph", "", "3 = drei", "a-b"])
def test_harmless_cells_stay_as_they_are(text: str) -> None:
    assert neutralise_cell(text) == text
    assert unneutralise_cell(text) == text


def test_finding_uploaded_formulas_come_out_neutralised_and_round_trip() -> None:
    """Finding: =HYPERLINK(…), @SUM(1), +SUM(1,2) cells from an uploaded CSV came out unescaped."""
    upload = io.StringIO()
    writer = csv.writer(upload, lineterminator="\r\n")
    writer.writerow(["title", "summary", "district", "keywords"])
    writer.writerow(['=HYPERLINK("https://example.org/boese","Klick")', "@SUM(1)", "+SUM(1,2)", '["=1+1"]'])
    source = Source(name="liste.csv", raw=upload.getvalue().encode("utf-8"), media_type="text/csv")
    records = list(CsvImporter().parse(source))
    assert [r.errors for r in records] == [[]]
    content = records[0].content
    assert content["title"] == '=HYPERLINK("https://example.org/boese","Klick")'
    assert content["summary"] == "@SUM(1)" and content["district"] == "+SUM(1,2)"
    exported = export_csv([content])
    rows = list(csv.DictReader(io.StringIO(exported, newline="")))
    assert rows[0]["title"] == "'" + content["title"]
    assert rows[0]["summary"] == "'@SUM(1)" and rows[0]["district"] == "'+SUM(1,2)"
    for row in rows:
        for column in CSV_COLUMNS:
            assert (row.get(column) or "x")[0] not in "=+-@\t\r", (column, row[column])
    # Importing the export gives the original text back.
    again = list(CsvImporter().parse(Source(name="export.csv", raw=exported.encode("utf-8"), media_type="text/csv")))
    assert again[0].content == content
