"""The demo data set for the first start of an empty catalogue.

`make run` on a fresh machine starts with an empty database; with
LEUCHTTURM_DEMO_DATA on (the default, checked in api/app.py) the app loads
data/demo/profiles.json as published profiles and indexes them before it
answers, so search works at once. A catalogue that already has profiles is
left alone. (The municipality register is loaded separately, on every first
start: importers/register.py.)

Every demo profile describes a real project; data/demo/sources.json names the
public pages it was written from. The first of them becomes the profile's
provenance source, which the profile page shows as a link.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from catalogue.models import Profile
from catalogue.users import Principal
from catalogue.vocabularies import Role
from importers.base import Source, finish_record
from importers.catalogue_formats import record_from_dict
from importers.runner import ImportItem, ImportReport, ImportRunner

log = logging.getLogger("leuchtturm.demo")

ROOT = Path(__file__).resolve().parents[1]
DEMO_PROFILES = ROOT / "data" / "demo" / "profiles.json"
DEMO_SOURCES_NAME = "sources.json"
DEMO_PRINCIPAL = Principal("demo", Role.ADMIN)


def primary_sources(profiles_path: Path = DEMO_PROFILES) -> dict[str, str]:
    """demo_id -> URL of the page each demo profile was written from (sources.json beside the profiles)."""
    path = profiles_path.with_name(DEMO_SOURCES_NAME)
    if not path.exists():
        return {}
    return {demo_id: entry["sources"][0]["url"]
            for demo_id, entry in json.loads(path.read_text(encoding="utf-8")).items() if entry.get("sources")}


def demo_items(path: Path = DEMO_PROFILES) -> list[ImportItem]:
    """The demo profiles as import items: slug kept, `demo_id` as the source id, the source page as provenance."""
    source = Source(name=f"data/demo/{path.name}", raw=b"")
    urls = primary_sources(path)
    items = []
    for n, entry in enumerate(json.loads(path.read_text(encoding="utf-8")), 1):
        data: dict[str, Any] = {k: v for k, v in entry.items() if k != "demo_id"}
        record = record_from_dict(data, n, entry.get("demo_id") or f"Profil {n}")
        record.source_id = entry.get("demo_id") or record.source_id
        origin = urls.get(record.source_id or "") or source.name
        record.original_provenance = {"importer": "demo", "source": origin, "source_id": record.source_id}
        finish_record(record, "demo", source)
        items.append(ImportItem(record, source.name, "json"))
    return items


async def load_demo_data_if_empty(runtime: Any) -> dict[str, ImportReport]:
    """Load the demo profiles into an empty catalogue, then index them."""
    started = time.perf_counter()
    reports: dict[str, ImportReport] = {}
    runner = ImportRunner(DEMO_PRINCIPAL, search=runtime.search, on_change=runtime.notify_change, importer_label="demo")
    if await Profile.get_pymongo_collection().find_one({}, {"_id": 1}) is None:
        reports["profiles"] = await runner.run_items(demo_items(), publish=True)
    if reports:
        await runtime.sync.drain(runtime.search)
        for name, report in reports.items():
            log.info("Demo-Daten (%s): %s", name, report.summary())
        log.info("Demo-Daten geladen in %.1f s", time.perf_counter() - started)
    return reports
