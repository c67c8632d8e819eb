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

def demo_profiles(limit: int | None = None) -> list[dict[str, Any]]:
    """The demo data set (data/demo/profiles.json, part of the repository)."""
    items: list[dict[str, Any]] = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
    return items[:limit] if limit else items


async def seed_users() -> None:
    await create_user("redaktion-hx", PASSWORD, Role.EDITOR, display_name="Redaktion Höxter")
    await create_user("pruefung", PASSWORD, Role.REVIEWER, display_name="Katalogredaktion")


# Municipal users for the adoption journeys (invented people; their municipalities are real bodies of the register excerpt).
MUNICIPAL_USERS: dict[str, tuple[str, str]] = {  # username -> (register key, name)
    "kommune-hoexter": ("05762020", "Höxter"),
    "kommune-warburg": ("05762036", "Warburg"),
    "kommune-brakel": ("05762016", "Brakel"),
    "kommune-marienmuenster": ("05762024", "Marienmünster"),
}


async def seed_municipal_users() -> None:
    """Editors who belong to a municipality (needs the register excerpt loaded first)."""
    for username, (key, _name) in MUNICIPAL_USERS.items():
        await create_user(username, PASSWORD, Role.EDITOR, organisation=key)


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


# ------------------------------------------------------------------ checks on pages (each shown to fail in tests/unit/test_checks.py)

_CONTROL_RE = re.compile(r'<(?:input|select|textarea)\b(?![^>]*\btype="hidden")[^>]*>')


def unlabelled_controls(html: str) -> list[str]:
    """Ids (or names) of the visible form controls that no <label for="…"> names."""
    missing = []
    for tag in _CONTROL_RE.findall(html):
        m = re.search(r'\bid="([^"]+)"', tag)
        if m is None or f'for="{m.group(1)}"' not in html:
            name = re.search(r'\bname="([^"]*)"', tag)
            missing.append(m.group(1) if m else (name.group(1) if name else tag))
    return missing


def form_inputs_missing(html: str, expected: list[str]) -> list[str]:
    """The input names of `expected` that the form does not have."""
    names = set(re.findall(r'\bname="([^"]+)"', html))
    return [n for n in expected if n not in names]


def control_tag(html: str, ident: str) -> str:
    """The opening tag of the form control with id `ident` ("" when there is none)."""
    m = re.search(rf'<(?:input|select|textarea)\b[^>]*\bid="{re.escape(ident)}"[^>]*>', html)
    return m.group(0) if m else ""


def marked_invalid(html: str, ident: str) -> bool:
    """Whether the control `ident` carries aria-invalid="true" and points at its error message."""
    tag = control_tag(html, ident)
    return 'aria-invalid="true"' in tag and re.search(rf'aria-describedby="[^"]*\b{re.escape(ident)}-fehler\b', tag) is not None


def check_pdf_response(status: int, content_type: str, body: bytes) -> None:
    """A PDF download: 200, application/pdf, PDF bytes. Raises AssertionError otherwise."""
    assert status == 200, f"PDF download answered {status}"
    assert content_type.startswith("application/pdf"), f"PDF download sent {content_type!r}"
    assert body[:5] == b"%PDF-", "PDF download is not a PDF"
