"""Shared set-up for the web UI tests: users, published demo profiles, CSRF helpers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from catalogue.models import ProfileContent
from catalogue.profiles import ProfileService
from catalogue.users import Principal, create_user
from catalogue.vocabularies import EditorialStatus, Role

DEMO_FILE = Path(__file__).resolve().parent.parent / "data" / "demo" / "profiles.json"
PASSWORD = "richtig-langes-passwort"

FALLBACK_PROFILES: list[dict[str, Any]] = [
    {
        "slug": "interkommunale-digitalisierungsstrategie",
        "title": "Interkommunale Digitalisierungsstrategie",
        "summary": "Der Kreis Höxter und seine zehn Städte entwickeln gemeinsam eine Digitalisierungsstrategie.",
        "keywords": ["Digitalisierung"],
        "fields_of_action": ["Verwaltung", "Digitale Infrastruktur"],
        "lead": {"name": "Kreis Höxter", "kind": "Kreis"},
        "municipalities": [{"name": "Stadt Höxter", "kind": "Stadt"}],
        "state": "Nordrhein-Westfalen",
        "district": "Detmold",
        "population": 28808,
        "population_as_of": "2019-12-31",
        "population_source": "IT.NRW",
        "area_km2": 158.16,
        "implementation": "Workshops mit allen Kommunen.",
        "collaboration_since": 2019,
        "contact": {"organisation": "Kreis Höxter", "email": "info@kreis-hoexter.de"},
    }
]


def demo_profiles(limit: int | None = None) -> list[dict[str, Any]]:
    """The demo data set (data/demo/profiles.json) if present, else one hand-made profile."""
    items = json.loads(DEMO_FILE.read_text(encoding="utf-8")) if DEMO_FILE.exists() else FALLBACK_PROFILES
    return items[:limit] if limit else items


async def seed_users() -> None:
    await create_user("redaktion-hx", PASSWORD, Role.EDITOR, display_name="Redaktion Höxter")
    await create_user("pruefung", PASSWORD, Role.REVIEWER, display_name="Katalogredaktion")


async def seed_published(limit: int | None = None) -> list[str]:
    """Publish demo profiles as the catalogue office; returns their slugs."""
    svc = ProfileService()
    office = Principal("import", Role.ADMIN)
    slugs = []
    for item in demo_profiles(limit):
        data = {k: v for k, v in item.items() if k in ProfileContent.model_fields}
        profile = await svc.create(data, office, status=EditorialStatus.PUBLISHED, slug=item.get("slug"))
        slugs.append(profile.slug)
    return slugs


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in page"
    return m.group(1)


REGISTER_EXCERPT = ("05762", "01061", "01001", "05515", "11000", "02000", "09162")


def register_excerpt(prefixes: tuple[str, ...] = REGISTER_EXCERPT) -> list[dict]:
    """Entries of the shipped register whose keys start with `prefixes`, with their Länder, Regierungsbezirke and Kreise."""
    from importers.register import shipped_register

    entries = shipped_register().entries
    keys = {e["_id"] for e in entries if e["_id"].startswith(prefixes)}
    keys |= {k[:n] for k in keys for n in (2, 3, 5)}
    return [e for e in entries if e["_id"] in keys]


async def load_register_excerpt(prefixes: tuple[str, ...] = REGISTER_EXCERPT) -> None:
    """A few Kreise of the real municipality register (Höxter, Steinburg, Flensburg, Münster, Berlin, Hamburg, München) into the test database."""
    from catalogue import gazetteer as reg

    entries = register_excerpt(prefixes)
    await reg.store(entries, fingerprint=f"excerpt:{','.join(prefixes)}", source_name="tests/excerpt",
                    register_as_of="2019-12-31", attribution=None, full=False)
