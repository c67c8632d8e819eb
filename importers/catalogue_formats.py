"""The catalogue's own export formats: JSON, NDJSON and CSV.

Each record is a ProfileContent dict plus optional "slug", "status" and
"provenance" (see `importers.export`, which writes them). Records are
validated one by one; a bad record becomes an error record and the batch
goes on.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from catalogue.models import CONTENT_FIELDS, Provenance
from catalogue.vocabularies import EditorialStatus
from importers.base import (
    RECORD_FIELD,
    ParsedRecord,
    Source,
    decode_text,
    error_record,
    finish_record,
    guarded_parse,
    validation_errors,
)
from importers.export import CSV_COLUMNS, JSON_COLUMNS, unneutralise_cell

# Fields of a stored profile that an export may carry but that are not
# content: ignored without a warning.
IGNORED_FIELDS = frozenset(
    {"id", "_id", "revision_id", "size_class", "owner", "review_comments", "version", "created_at", "updated_at",
     "published_at", "confirmed_at"}
)
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def record_from_dict(data: Any, position: int, label: str) -> ParsedRecord:
    """Split one export record into content, slug, status and provenance."""
    if not isinstance(data, dict):
        rec = ParsedRecord(content={}, position=position, source_id=label)
        rec.error(RECORD_FIELD, f"{label}: muss ein Objekt mit Feldern sein, nicht {type(data).__name__}.")
        return rec
    content = {k: v for k, v in data.items() if k in CONTENT_FIELDS}
    rec = ParsedRecord(content=content, position=position)
    unknown = [k for k in data if k not in CONTENT_FIELDS and k not in IGNORED_FIELDS and k not in ("slug", "status", "provenance")]
    if unknown:
        rec.warn(RECORD_FIELD, "Unbekannte Felder ignoriert: " + ", ".join(f"„{k}“" for k in unknown[:10]))
    slug = data.get("slug")
    if slug not in (None, ""):
        if isinstance(slug, str) and SLUG_RE.match(slug) and len(slug) <= 200:
            rec.slug = slug
        else:
            rec.warn("slug", f"Kürzel „{str(slug)[:60]}“ ist ungültig (nur a–z, 0–9 und Bindestriche) und wird neu vergeben.")
    status = data.get("status")
    if status not in (None, ""):
        try:
            rec.suggested_status = EditorialStatus(status)
        except ValueError:
            rec.warn("status", f"Status „{str(status)[:40]}“ ist unbekannt – als Entwurf übernommen.")
    prov = data.get("provenance")
    if prov not in (None, "", {}):
        try:
            rec.original_provenance = Provenance.model_validate(prov).model_dump(mode="json")
        except ValidationError as exc:
            msgs = "; ".join(e.message for e in validation_errors(exc))
            rec.warn("provenance", f"Quellenangabe ungültig und ignoriert ({msgs}).")
    source_id = (rec.original_provenance or {}).get("source_id") or rec.slug
    rec.source_id = source_id or label
    return rec


class _CatalogueImporter:
    name = ""
    produces = "profile"

    def parse(self, source: Source) -> Iterator[ParsedRecord]:
        return guarded_parse(self, source, self._parse)  # type: ignore[arg-type]

    def _finish(self, rec: ParsedRecord, source: Source) -> ParsedRecord:
        status = rec.suggested_status
        finish_record(rec, self.name, source)
        if rec.ok:
            rec.suggested_status = status
        return rec

    def _parse(self, source: Source) -> Iterator[ParsedRecord]:  # pragma: no cover - abstract
        raise NotImplementedError


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _json_error(exc: json.JSONDecodeError, prefix: str = "") -> str:
    return f"{prefix}Ungültiges JSON in Zeile {exc.lineno}, Spalte {exc.colno}: {_json_reason(exc.msg)}."


_JSON_REASONS = {
    "Expecting value": "Wert erwartet",
    "Expecting property name enclosed in double quotes": "Feldname in doppelten Anführungszeichen erwartet",
    "Expecting ',' delimiter": "Komma erwartet",
    "Expecting ':' delimiter": "Doppelpunkt erwartet",
    "Extra data": "zusätzliche Daten nach dem Ende",
    "Unterminated string starting at": "Zeichenkette nicht abgeschlossen",
    "Invalid control character at": "unzulässiges Steuerzeichen",
}


def _json_reason(msg: str) -> str:
    for en, de in _JSON_REASONS.items():
        if msg.startswith(en):
            return de
    return "Syntaxfehler"


class JsonImporter(_CatalogueImporter):
    """A JSON array of profiles, or an object with a "profiles" array."""

    name = "json"

    def detect(self, source: Source) -> bool:
        head = source.head(65536).lstrip("\ufeff \t\r\n")
        if not head or head[0] not in "[{":
            return False
        if head[0] == "{" and _is_ndjson_head(head):
            return False
        if source.suffix == ".json" or (source.media_type or "").endswith("json"):
            return True
        return head[0] == "[" or '"profiles"' in head[:2000] or '"title"' in head

    def _parse(self, source: Source) -> Iterator[ParsedRecord]:
        text = source.text().lstrip("\ufeff")
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            yield error_record(self.name, source, _json_error(exc))
            return
        except RecursionError:
            yield error_record(self.name, source, "Das JSON ist zu tief verschachtelt.")
            return
        if isinstance(doc, dict) and isinstance(doc.get("profiles"), list):
            items = doc["profiles"]
        elif isinstance(doc, list):
            items = doc
        elif isinstance(doc, dict) and "title" in doc:
            items = [doc]
        else:
            yield error_record(self.name, source, "Keine Profile gefunden: erwartet wird eine Liste oder ein Objekt mit „profiles“.")
            return
        for i, item in enumerate(items, 1):
            yield self._finish(record_from_dict(item, i, f"Profil {i}"), source)


def _is_ndjson_head(head: str) -> bool:
    lines = [line.strip() for line in head.split("\n") if line.strip()]
    if len(lines) < 2:
        return False
    try:
        return isinstance(json.loads(lines[0]), dict) and lines[1].startswith("{")
    except (json.JSONDecodeError, RecursionError):
        return False


class NdjsonImporter(_CatalogueImporter):
    """One JSON profile per line; blank lines are skipped."""

    name = "ndjson"

    def detect(self, source: Source) -> bool:
        head = source.head(65536).lstrip("\ufeff \t\r\n")
        if source.suffix in (".ndjson", ".jsonl") or "ndjson" in (source.media_type or "") or "jsonl" in (source.media_type or ""):
            return True
        return head.startswith("{") and _is_ndjson_head(head)

    def _parse(self, source: Source) -> Iterator[ParsedRecord]:
        text = source.text().lstrip("\ufeff")
        position = 0
        for no, line in enumerate(_lines(text), 1):
            if not line.strip():
                continue
            position += 1
            label = f"Zeile {no}"
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                yield error_record(self.name, source, f"{label}: " + _json_error(exc).replace(f"Zeile {exc.lineno}, ", ""), source_id=label, position=position)
                continue
            except RecursionError:
                yield error_record(self.name, source, f"{label}: zu tief verschachtelt.", source_id=label, position=position)
                continue
            rec = record_from_dict(data, position, label)
            yield self._finish(rec, source)


def _lines(text: str) -> Iterator[str]:
    """`text.split("\n")` one line at a time (a large file's lines are never all in memory as a list)."""
    start = 0
    while True:
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end]
        start = end + 1


def _sniff_delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    return max(counts, key=lambda d: counts[d])


class CsvImporter(_CatalogueImporter):
    """The catalogue CSV: header row with at least "title"; JSON cells for lists and objects."""

    name = "csv"

    def detect(self, source: Source) -> bool:
        first = _first_line(source.head(65536).lstrip("\ufeff"))
        if not first:
            return False
        try:
            header = next(csv.reader([first], delimiter=_sniff_delimiter(first)))
        except (csv.Error, StopIteration):
            return False
        names = {h.strip().lower() for h in header}
        return "title" in names and len(names & set(CSV_COLUMNS)) >= 2

    def _parse(self, source: Source) -> Iterator[ParsedRecord]:
        source.check_size()
        # not source.text(): line breaks inside quoted cells must stay as they are
        text = decode_text(source.raw).lstrip("\ufeff")
        first = _first_line(text)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(first))
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            yield error_record(self.name, source, "Die CSV-Datei ist leer.")
            return
        except csv.Error as exc:
            yield error_record(self.name, source, f"Die Kopfzeile der CSV-Datei ist nicht lesbar ({exc}).")
            return
        if "title" not in header:
            yield error_record(self.name, source, "Die CSV-Datei hat keine Spalte „title“.")
            return
        unknown = [h for h in header if h and h not in CSV_COLUMNS and h not in IGNORED_FIELDS]
        position = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                position += 1
                yield error_record(
                    self.name, source, f"Zeile {reader.line_num}: nicht lesbar ({exc}).", source_id=f"Zeile {reader.line_num}", position=position
                )
                continue
            if not any(cell.strip() for cell in row):
                continue
            position += 1
            label = f"Zeile {reader.line_num}"
            data: dict[str, Any] = {}
            bad: list[tuple[str, str]] = []
            if len(row) > len(header):
                bad.append((RECORD_FIELD, f"{label}: mehr Zellen ({len(row)}) als Spalten ({len(header)})."))
            for col, cell in zip(header, row, strict=False):
                if not col or col in unknown or cell == "":
                    continue
                if col in JSON_COLUMNS:
                    try:
                        data[col] = json.loads(cell)
                    except (json.JSONDecodeError, RecursionError):
                        bad.append((col, f"{label}, Spalte „{col}“: ist kein gültiges JSON."))
                else:
                    data[col] = unneutralise_cell(cell)  # the export's guard against spreadsheet formulas
            rec = record_from_dict(data, position, label)
            if unknown and position == 1:
                rec.warn(RECORD_FIELD, "Unbekannte Spalten ignoriert: " + ", ".join(f"„{u}“" for u in unknown[:10]))
            for field_name, message in bad:
                rec.error(field_name, message)
            yield self._finish(rec, source)
