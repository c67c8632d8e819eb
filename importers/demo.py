"""The demo data set for the first start of an empty catalogue.

`make run` on a fresh machine starts with an empty database; with
LEUCHTTURM_DEMO_DATA on (the default, checked in api/app.py) the app loads
data/demo/profiles.json as published profiles and indexes them before it
answers, so search works at once. A catalogue that already has profiles is
left alone. (The municipality register is loaded separately, on every first
start: importers/register.py.)
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
DEMO_PRINCIPAL = Principal("demo", Role.ADMIN)

# The two entries transcribed from real published profiles (../shared/seeds);
# every other demo profile is illustrative (see data/demo/README.md), and its
# provenance says so, which the profile page shows.
TRANSCRIBED = {
    "demo-001": "Abschrift eines veröffentlichten Profils (IKZ-Datenbank, shared/seeds/004_b738c54769826454.txt)",
    "demo-002": "Abschrift eines veröffentlichten Referenztextes (shared/seeds/000_5728af1cd1feed2f.txt)",
}
ILLUSTRATIVE = "Leuchtturm-Demo-Datensatz: Beispiel zur Veranschaulichung, nicht von der Kommune bestätigt"


def demo_items(path: Path = DEMO_PROFILES) -> list[ImportItem]:
    """The demo profiles as import items: slug kept, `demo_id` as the source id."""
    source = Source(name=f"data/demo/{path.name}", raw=b"")
    items = []
    for n, entry in enumerate(json.loads(path.read_text(encoding="utf-8")), 1):
        data: dict[str, Any] = {k: v for k, v in entry.items() if k != "demo_id"}
        record = record_from_dict(data, n, entry.get("demo_id") or f"Profil {n}")
        record.source_id = entry.get("demo_id") or record.source_id
        label = TRANSCRIBED.get(record.source_id or "", ILLUSTRATIVE)
        record.original_provenance = {"importer": "demo", "source": label, "source_id": record.source_id}
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
