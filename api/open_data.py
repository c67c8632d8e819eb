"""The open-data export files: JSON, NDJSON and CSV of the published profiles, with licence and attribution.

The records are `importers.export`'s (the catalogue's own format, which
`leuchtturm import` reads back; CSV cells that a spreadsheet would run as a
formula are neutralised there), rendered once per change by whoever applies
the outbox (`render_record`, handed to the runtime) into the export mirror
(catalogue/opendata/mirror.py). An export streams one snapshot of the mirror
a page at a time: flat memory, no store reads, whatever the size.

Both the HTTP exports (api/controllers/opendata.py) and `leuchtturm export
--open-data` write these same bytes: the JSON document carries the licence
and attribution beside the profiles; NDJSON and CSV carry them in the HTTP
`Link` header (rel="license") and in the DCAT description of each file.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from catalogue.models import Profile, public_source
from catalogue.opendata.mirror import Snapshot
from catalogue.settings import Settings
from importers.export import EXPORT_FORMAT, EXPORT_VERSION, csv_row, iter_csv, to_export_dict

# Human-readable names and legal codes of the DCAT-AP.de licence URIs the catalogue knows.
LICENCES: dict[str, tuple[str, str]] = {
    "http://dcat-ap.de/def/licenses/cc-by/4.0": (
        "Creative Commons Namensnennung – 4.0 International (CC BY 4.0)",
        "https://creativecommons.org/licenses/by/4.0/",
    ),
    "http://dcat-ap.de/def/licenses/cc-zero": ("Creative Commons CC Zero License (cc-zero)", "https://creativecommons.org/publicdomain/zero/1.0/"),
    "http://dcat-ap.de/def/licenses/dl-by-de/2.0": (
        "Datenlizenz Deutschland Namensnennung 2.0",
        "https://www.govdata.de/dl-de/by-2-0",
    ),
    "http://dcat-ap.de/def/licenses/dl-zero-de/2.0": ("Datenlizenz Deutschland – Zero – Version 2.0", "https://www.govdata.de/dl-de/zero-2-0"),
}


@dataclass(frozen=True, slots=True)
class ExportFormat:
    name: str  # json, ndjson, csv
    media_type: str
    title: str  # German, for the DCAT distribution


FORMATS: dict[str, ExportFormat] = {
    "json": ExportFormat("json", "application/json", "Veröffentlichte Profile als JSON"),
    "ndjson": ExportFormat("ndjson", "application/x-ndjson", "Veröffentlichte Profile als NDJSON (ein Profil je Zeile)"),
    "csv": ExportFormat("csv", "text/csv; charset=utf-8", "Veröffentlichte Profile als CSV (eine Zeile je Profil)"),
}
FILE_STEM = "leuchtturm-profile"


@dataclass(frozen=True, slots=True)
class Licence:
    uri: str  # the DCAT-AP.de licence URI
    name: str
    legal_code: str  # where people read it
    attribution: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Licence:
        name, legal = LICENCES.get(settings.data_licence, (settings.data_licence, settings.data_licence))
        return cls(uri=settings.data_licence, name=name, legal_code=legal, attribution=settings.data_attribution)

    def as_json(self, base_url: str) -> dict[str, str]:
        return {"uri": self.uri, "name": self.name, "legal_code": self.legal_code, "attribution": f"{self.attribution}, {base_url}"}


def export_path(fmt: str) -> str:
    return f"/api/v1/export/profiles.{fmt}"


def public_record(profile: Profile) -> dict[str, Any]:
    """An export record for the public: the provenance cut down to what the public may see.

    Uploads (`upload/<user>/<file>`), file paths, importer names and fingerprints are internal
    (issue 13); only a web source leaves, as `{"source": url, "source_title": title}`.
    """
    record = to_export_dict(profile)
    record.pop("provenance", None)
    source = public_source(getattr(profile, "provenance", None))
    if source is not None:
        record["provenance"] = {"source": source["url"], "source_title": source["title"]}
    return record


def render_record(profile: Profile) -> tuple[str, str]:
    """One published profile's export record, rendered once for the export mirror: (JSON line, CSV row with its line end).

    The NDJSON file is the JSON lines each with "\\n"; the JSON file has them in its "profiles" array.
    """
    record = public_record(profile)
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")), csv_row(record)


async def stream_export(fmt: str, snapshot: Snapshot, *, licence: Licence, base_url: str) -> AsyncIterator[str]:
    """The export file in `fmt` from one snapshot of the export mirror, a page of records at a time; closes the snapshot.

    The bytes depend only on the snapshot (its records and time), the licence and the base URL.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format: {fmt}")
    try:
        if fmt == "json":
            head = {
                "format": EXPORT_FORMAT,
                "version": EXPORT_VERSION,
                "modified": snapshot.state.modified.isoformat(),
                "license": licence.as_json(base_url),
                "source": base_url,
            }
            yield json.dumps(head, ensure_ascii=False)[:-1] + ', "profiles": ['
            first = True
            async for lines in snapshot.pages("json"):
                yield ("\n" if first else ",\n") + ",\n".join(lines)
                first = False
            yield "\n]}\n"
        elif fmt == "ndjson":
            async for lines in snapshot.pages("json"):
                yield "\n".join(lines) + "\n"
        else:
            yield next(iter_csv([]))
            async for rows in snapshot.pages("csv"):
                yield "".join(rows)
    finally:
        await snapshot.aclose()


async def write_export(fmt: str, snapshot: Snapshot, out: Any, **kwargs: Any) -> None:
    """Write the export to a text file object (`leuchtturm export --open-data`)."""
    async for chunk in stream_export(fmt, snapshot, **kwargs):
        out.write(chunk)
