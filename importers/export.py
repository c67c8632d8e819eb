"""Export in the catalogue's own format: JSON, NDJSON and CSV.

Each exported record is the profile content (every field of
`catalogue.models.ProfileContent`, in its JSON form) plus, where known,
"slug", "status" and "provenance". `importers.catalogue_formats` reads all
three back; export followed by import reproduces the content exactly.

* JSON: an object `{"format": "leuchtturm-profiles", "version": 1,
  "profiles": [...]}` (the importer also accepts a bare array).
* NDJSON: one record per line, no wrapper.
* CSV: one row per profile, comma separated, UTF-8, header row with the
  columns in `CSV_COLUMNS`. Scalar fields are plain cells (numbers with a
  decimal point, dates as YYYY-MM-DD, empty cell = no value). Lists and
  nested objects (`JSON_COLUMNS`: keywords, fields_of_action, lead,
  municipalities, partners, funding, contact, links, provenance) are JSON
  strings in their cells, e.g. `["Digitalisierung"]` or
  `{"name": "Kreis Höxter", "kind": "Kreis", "ags": null}`. Long texts keep
  their line breaks inside the quoted cell.
* CSV injection (OWASP "CSV Injection"): a cell that starts with "=", "+",
  "-", "@", a tab or a carriage return – after any apostrophes – gets one
  more apostrophe in front, so a spreadsheet shows it as text instead of
  running it as a formula. The import takes exactly one apostrophe off such
  a cell (`unneutralise_cell`), so export then import is still exact.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from catalogue.fields import export_columns, structured_cell
from catalogue.models import CONTENT_FIELDS, ProfileContent

EXPORT_FORMAT = "leuchtturm-profiles"
EXPORT_VERSION = 1
META_FIELDS: tuple[str, ...] = ("slug", "status", "provenance")
# The content columns and which of them hold JSON come from the field registry (catalogue/fields.py).
CSV_COLUMNS: tuple[str, ...] = ("slug", "status", *export_columns(), "provenance")
JSON_COLUMNS: frozenset[str] = frozenset({*(c for c in export_columns() if structured_cell(c)), "provenance"})

Exportable = ProfileContent | Mapping[str, Any]
_MODEL_KEYS: frozenset[str] = frozenset({*CONTENT_FIELDS, *META_FIELDS})


def to_export_dict(item: Exportable) -> dict[str, Any]:
    """One profile (ProfileContent, stored Profile, or a dict of that shape) as an export record.

    A model is validated content already (a stored Profile is a ProfileContent): its fields are dumped as they
    are, in the content's field order; a dict is validated first.
    """
    if isinstance(item, ProfileContent):
        data = item.model_dump(mode="json", include=_MODEL_KEYS)
        out = {k: data[k] for k in CONTENT_FIELDS}
        for key in META_FIELDS:
            value = data.get(key)
            if value is not None:
                out[key] = value
        return out
    if isinstance(item, BaseModel):
        item = item.model_dump(mode="json")
    content = ProfileContent.model_validate({k: v for k, v in item.items() if k in CONTENT_FIELDS})
    out = content.model_dump(mode="json")
    for key in META_FIELDS:
        value = item.get(key)
        if value is not None:
            out[key] = value.model_dump(mode="json") if isinstance(value, BaseModel) else _jsonable(value)
    return out


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v)))


def export_json(items: Iterable[Exportable], *, indent: int | None = 2) -> str:
    doc = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": datetime.now(UTC).isoformat(),
        "profiles": [to_export_dict(i) for i in items],
    }
    return json.dumps(doc, ensure_ascii=False, indent=indent) + "\n"


def iter_ndjson(items: Iterable[Exportable]) -> Iterator[str]:
    """NDJSON lines (each ending in "\\n"), for streaming a bulk export."""
    for item in items:
        yield json.dumps(to_export_dict(item), ensure_ascii=False, separators=(",", ":")) + "\n"


def export_ndjson(items: Iterable[Exportable]) -> str:
    return "".join(iter_ndjson(items))


_FORMULA_START = re.compile(r"'*[=+\-@\t\r]")


def neutralise_cell(text: str) -> str:
    """A cell a spreadsheet would run as a formula, prefixed with an apostrophe (see the module docstring)."""
    return "'" + text if _FORMULA_START.match(text) else text


def unneutralise_cell(text: str) -> str:
    """The inverse of `neutralise_cell`, for the CSV import."""
    return text[1:] if text.startswith("'") and _FORMULA_START.match(text, 1) else text


def _csv_cell(column: str, value: Any) -> str:
    if column in JSON_COLUMNS:
        if value is None:
            return ""
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return neutralise_cell(repr(value))
    return neutralise_cell(str(value))


def iter_csv(items: Iterable[Exportable]) -> Iterator[str]:
    """CSV text chunk by chunk: the header row, then one row per profile."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    yield buf.getvalue()
    for item in items:
        yield csv_row(to_export_dict(item), buf, writer)


def csv_row(record: Mapping[str, Any], buf: io.StringIO | None = None, writer: Any = None) -> str:
    """The CSV row (with its line end) of an export record (`to_export_dict`'s result, or one cut down from it)."""
    if buf is None or writer is None:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
    buf.seek(0)
    buf.truncate()
    writer.writerow([_csv_cell(col, record.get(col)) for col in CSV_COLUMNS])
    return buf.getvalue()


def export_csv(items: Iterable[Exportable]) -> str:
    return "".join(iter_csv(items))
