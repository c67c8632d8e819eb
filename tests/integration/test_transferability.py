"""Transferability (Übertragbarkeit) through the field registry: form, page, PDF, search document,
facet and filter, export."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from catalogue.access import Action
from catalogue.profiles import ProfileService
from catalogue.users import Principal
from catalogue.vocabularies import Role, TransferabilityRating
from tests.factories import example_profile
from tests.integration.test_web_editor import login
from tests.web_support import seed_users

pytestmark = pytest.mark.asyncio
TRANSFER = {
    "rating": "leicht übertragbar",
    "prerequisites": "Ein Beschluss des Rates und ein **gemeinsames** Konto.",
    "staff_effort": "0,25 Stellen",
    "time_effort": "drei Monate",
    "cost_once_eur": 12000,
    "cost_annual_eur": 1500.5,
}


async def _published(title: str, transferability: dict | None) -> str:
    reviewer = Principal("rita", Role.REVIEWER)
    svc = ProfileService()
    data = example_profile(title=title, **({"transferability": transferability} if transferability else {}))
    p = await svc.create(data, reviewer)
    await svc.transition(p.slug, Action.SUBMIT, reviewer)
    await svc.transition(p.slug, Action.PUBLISH, reviewer)
    return p.slug


async def test_transferability_on_page_pdf_search_and_form(client, app) -> None:
    slug = await _published("Leicht übertragbares Fundbüro", TRANSFER)
    await _published("Fundbüro ohne Angabe", None)
    runtime = app.state.runtime
    await runtime.sync.drain(runtime.search)

    page = await client.get(f"/profiles/{slug}", headers={"Accept": "text/html"})
    assert page.status_code == 200
    for needle in ("Übertragbarkeit", "leicht übertragbar", "0,25 Stellen", "drei Monate", "12.000", "1.500,50", "<strong>gemeinsames</strong>"):
        assert needle in page.text, needle
    assert 'href="/?uebertragbar=leicht%20%C3%BCbertragbar"' in page.text

    pdf = await client.get(f"/profiles/{slug}.pdf")
    text = re.sub(r"\s+", " ", PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text())
    for needle in ("Übertragbarkeit", "leicht übertragbar", "Personalaufwand", "0,25 Stellen", "Voraussetzungen"):
        assert needle in text, needle

    r = await client.get("/api/v1/search", params={"transferability": "leicht übertragbar"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [h["slug"] for h in body["hits"]] == [slug]
    facet = next(f for f in body["facets"] if f["name"] == "transferability")
    assert facet["label"] == "Übertragbarkeit" and {"value": "leicht übertragbar", "count": 1} in facet["values"]
    r = await client.get("/api/v1/search", params={"transferability": "gar nicht"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")

    r = await client.get("/api/v1/search", params={"q": "Konto"})  # the prerequisites are searchable
    assert slug in [h["slug"] for h in r.json()["hits"]]

    search_page = await client.get("/", params={"uebertragbar": "leicht übertragbar"}, headers={"Accept": "text/html"})
    assert "Leicht übertragbares Fundbüro" in search_page.text and "Fundbüro ohne Angabe" not in search_page.text

    await seed_users()
    await login(client, "redaktion-hx")
    form = await client.get("/meine-profile/neu")
    assert 'name="transferability.rating"' in form.text and 'name="transferability.cost_once_eur"' in form.text
    for rating in TransferabilityRating:
        assert rating.value in form.text


async def test_transferability_costs_must_be_amounts(client, auth) -> None:
    bad = dict(TRANSFER, cost_once_eur=-5)
    r = await client.post("/api/v1/profiles", json=example_profile(title="Negativ", transferability=bad), headers=auth["editor"])
    assert r.status_code == 422 and any(e["field"].startswith("transferability.cost_once_eur") for e in r.json()["errors"]), r.text
    r = await client.post("/api/v1/profiles", json=example_profile(title="Falsche Stufe", transferability={"rating": "ganz leicht"}),
                          headers=auth["editor"])
    assert r.status_code == 422
