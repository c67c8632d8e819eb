"""The open-data export files: JSON, NDJSON and CSV of the published profiles, with licence and attribution.

The records are `importers.export`'s (the catalogue's own format, which
`leuchtturm import` reads back; CSV cells that a spreadsheet would run as a
formula are neutralised there). The profiles come from
`catalogue.opendata.published` (listed from the search index, read by
`_id`). Everything is streamed: one index page of profiles at a time is
rendered (in a worker thread, off the event loop) and sent.

Both the HTTP exports (api/controllers/opendata.py) and `leuchtturm export
--open-data` write these same bytes: the JSON document carries the licence
and attribution beside the profiles; NDJSON and CSV carry them in the HTTP
`Link` header (rel="license") and in the DCAT description of each file.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from catalogue.models import Profile, public_source
from catalogue.settings import Settings
from importers.export import EXPORT_FORMAT, EXPORT_VERSION, iter_csv, iter_ndjson, to_export_dict

RENDER_BATCH = 100  # profiles rendered per worker-thread call

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


async def _batches(profiles: AsyncIterable[Profile], size: int = RENDER_BATCH) -> AsyncIterator[list[Profile]]:
    batch: list[Profile] = []
    async for profile in profiles:
        batch.append(profile)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


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


def _json_records(batch: Sequence[Profile], first: bool) -> str:
    lines = [json.dumps(public_record(p), ensure_ascii=False, separators=(",", ":")) for p in batch]
    return ("\n" if first else ",\n") + ",\n".join(lines)


def _csv_rows(batch: Sequence[Profile]) -> str:
    rows = iter_csv([public_record(p) for p in batch])
    next(rows)  # the header row is sent once, first
    return "".join(rows)


def _ndjson_lines(batch: Sequence[Profile]) -> str:
    return "".join(iter_ndjson([public_record(p) for p in batch]))


async def stream_export(
    fmt: str, profiles: AsyncIterable[Profile], *, licence: Licence, base_url: str, modified: datetime | None
) -> AsyncIterator[str]:
    """The export file in `fmt`, chunk by chunk. The bytes depend only on the profiles, the licence and `modified`."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format: {fmt}")
    if fmt == "json":
        head = {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "modified": modified.isoformat() if modified else None,
            "license": licence.as_json(base_url),
            "source": base_url,
        }
        yield json.dumps(head, ensure_ascii=False)[:-1] + ', "profiles": ['
        first = True
        async for batch in _batches(profiles):
            yield await asyncio.to_thread(_json_records, batch, first)
            first = False
        yield "\n]}\n"
        return
    render: Callable[[Sequence[Profile]], str] = _csv_rows if fmt == "csv" else _ndjson_lines
    if fmt == "csv":
        yield next(iter_csv([]))
    async for batch in _batches(profiles):
        yield await asyncio.to_thread(render, batch)


async def write_export(fmt: str, profiles: AsyncIterable[Profile], out: Any, **kwargs: Any) -> None:
    """Write the export to a text file object (`leuchtturm export --open-data`)."""
    async for chunk in stream_export(fmt, profiles, **kwargs):
        out.write(chunk)
