"""Shared test fixtures and factories: API users with tokens, the example profile, async document streams.

Fixtures defined here are made available to every test by tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from catalogue.users import create_token, create_user
from catalogue.vocabularies import Role

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Invented texts in the two source formats (tests/fixtures/texts/README.md).
TEXTS = FIXTURES / "texts"
STRUCTURED_TEXT = TEXTS / "strukturiert-fundbuero-beispielland.txt"
REFERENCE_TEXT = TEXTS / "referenz-buergerbus-beispielstadt.txt"
EXAMPLE_PROFILE_FILE = Path(__file__).resolve().parents[1] / "api" / "example_profile.json"
PASSWORD = "ein-sicheres-passwort"


# ------------------------------------------------------------------ API users


async def principal_headers(username: str, role: Role) -> dict[str, str]:
    """Create a user with an API token; the Authorization header for it."""
    await create_user(username, PASSWORD, role)
    _, secret = await create_token(username, "test")
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
async def auth(client: Any) -> dict[str, dict[str, str]]:
    """Headers for an editor, a second editor, a reviewer, an admin, and an anonymous caller."""
    return {
        "editor": await principal_headers("erika", Role.EDITOR),
        "other": await principal_headers("otto", Role.EDITOR),
        "reviewer": await principal_headers("rita", Role.REVIEWER),
        "admin": await principal_headers("adam", Role.ADMIN),
        "anon": {},
    }


# ------------------------------------------------------------------ the example profile


def example_profile(**changes: Any) -> dict[str, Any]:
    """The example profile (fictional; also the OpenAPI example), as ProfileContent input, with changes."""
    data = copy.deepcopy(json.loads(EXAMPLE_PROFILE_FILE.read_text(encoding="utf-8")))
    data.update(changes)
    return data


# ------------------------------------------------------------------ search documents


async def stream(items: Iterable[Mapping[str, Any]]) -> AsyncIterator[Mapping[str, Any]]:
    """An async stream of documents, as the store gives them to `SearchBackend.rebuild`."""
    for item in items:
        yield item


def publishable(content: Mapping[str, Any]) -> dict[str, Any]:
    """`content` with what the publication checklist (catalogue/checklist.py) still misses filled in with
    invented placeholders, for tests that publish through the workflow but are about something else."""
    from catalogue import checklist

    data = copy.deepcopy(dict(content))
    fill = {
        "summary": lambda d: d.update(summary="Erfundene Kurzbeschreibung für einen Test."),
        "lead": lambda d: d.update(lead={"name": "Gemeinde Beispielhausen", "kind": "Gemeinde"}),
        "state": lambda d: d.update(state="Nordrhein-Westfalen"),
        "fields_of_action": lambda d: d.update(fields_of_action=["Verwaltung"]),
        "contact": lambda d: d.update(contact={**(d.get("contact") or {}), "email": "kontakt@beispielhausen.example"}),
        "project_status": lambda d: d.update(project_status="laufend"),
    }
    for key in checklist.missing_keys(data):
        fill[key](data)
    return data


# ------------------------------------------------------------------ the sync worker


async def drained_index(runtime: Any, indexed: Callable[[], Awaitable[Any]], expected: Any, *, tries: int) -> Any:
    """Nudge the sync worker until the outbox is empty and `indexed()` equals `expected` (or `tries` × 0.1 s
    pass); the last `indexed()` seen after a drained outbox. The worker retries with back-off (≤ 60 s between
    tries): poll, never assert on time."""
    from catalogue.models import OutboxEntry

    found: Any = {}
    for _ in range(tries):
        runtime.sync.notify()
        if await OutboxEntry.find_all().count() == 0:
            found = await indexed()
            if found == expected:
                break
        await asyncio.sleep(0.1)
    return found
