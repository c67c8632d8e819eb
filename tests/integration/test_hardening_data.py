"""Issue 13, implausible data: each finding with the issue's request, over the API and the form."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from catalogue.models import ProfileContent
from tests.integration.test_web_editor import FULL_FORM, _form, login, users  # noqa: F401 - the users fixture

API = "/api/v1/profiles"
BASE = {"title": "Gemeinsamer Bauhof Nethe", "summary": "Drei Gemeinden teilen Fahrzeuge."}


def _errors(r) -> dict[str, dict]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return {e["field"]: e for e in r.json()["errors"]}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"population_as_of": "2999-12-31"}, "population_as_of", "zwischen dem 01.01.1949"),
        ({"population_as_of": "0001-01-01"}, "population_as_of", "zwischen dem 01.01.1949"),
        ({"population_as_of": "1948-12-31"}, "population_as_of", "zwischen dem 01.01.1949"),
        ({"title": "\u200b" * 10}, "title", "muss Buchstaben enthalten"),
        ({"title": "\u202e" * 10}, "title", "zu kurz"),  # only bidi controls: nothing is left once they are stripped
        ({"title": "\u202e\u200b\u2060\u200b\ufeff"}, "title", "muss Buchstaben enthalten"),
        ({"title": "2024 – 2025"}, "title", "muss Buchstaben enthalten"),
        ({"lead": {"name": "\u200b\u200c\u200d"}}, "lead.name", "muss Buchstaben enthalten"),
        ({"links": [{"title": "\u2063\u2063", "url": "https://example.org"}]}, "links.0.title", "muss Buchstaben enthalten"),
        ({"population": True}, "population", "nicht ja/nein"),
        ({"population": False}, "population", "nicht ja/nein"),
        ({"area_km2": True}, "area_km2", "nicht ja/nein"),
        ({"collaboration_since": True}, "collaboration_since", "nicht ja/nein"),
        ({"funding": {"amount_eur": True}}, "funding.amount_eur", "nicht ja/nein"),
    ],
)
async def test_finding_implausible_values_are_refused_with_a_german_message(client, auth, changes, field, message) -> None:
    """Finding: population_as_of 2999-12-31 / 0001-01-01, a title of zero-width spaces (slug 'profil') or
    right-to-left overrides, "population": true stored as 1 – all accepted."""
    r = await client.post(API, json={**BASE, **changes}, headers=auth["editor"])
    errors = _errors(r)
    assert field in errors, errors
    assert message in errors[field]["message"], errors[field]
    assert errors[field]["label"]  # the field is named in German next to the message


async def test_plausible_edges_are_accepted_and_bidi_controls_stripped_from_one_line_fields(client, auth) -> None:
    in_a_year = (datetime.now(UTC).date() + timedelta(days=300)).isoformat()
    body = {
        **BASE,
        "title": "Bürgerbus \u202eNethe\u202c",
        "summary": "Kurz \u2066gesagt\u2069.",
        "keywords": ["\u202eIKZ"],
        "lead": {"name": "Stadt \u200fBrakel"},
        "population": 16050,
        "population_as_of": "1949-01-01",
        "area_km2": 12,
        "implementation": "Mehrzeilig \u202e bleibt im Markdown, wie geschrieben.",
    }
    r = await client.post(API, json=body, headers=auth["editor"])
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["title"] == "Bürgerbus Nethe" and p["slug"] == "buergerbus-nethe"
    assert p["summary"] == "Kurz gesagt." and p["keywords"] == ["IKZ"] and p["lead"]["name"] == "Stadt Brakel"
    assert p["population"] == 16050 and p["area_km2"] == 12
    r = await client.patch(f"{API}/{p['slug']}", json={"population_as_of": in_a_year}, headers={**auth["editor"], "If-Match": r.headers["etag"]})
    assert r.status_code == 200, r.text


def test_the_rules_live_in_the_model() -> None:
    with pytest.raises(ValidationError):
        ProfileContent.model_validate({"title": "\u200b\u200b\u200b"})
    with pytest.raises(ValidationError):
        ProfileContent.model_validate({"title": "Gut", "population": True})
    assert ProfileContent.model_validate({"title": "Gut \u202eso"}).title == "Gut so"


async def test_finding_form_numbers_take_german_grouping_with_ascii_digits_only(client, users) -> None:  # noqa: F811
    """Finding: Arabic-Indic digits were accepted in the form (Python's int() reads them)."""
    await login(client, "redaktion-hx")
    page = await client.get("/meine-profile/neu")
    data = {**FULL_FORM, **_form(page.text), "population": "١٦٠٥٠", "area_km2": "١٢٣,٤", "population_as_of": "٣١.١٢.٢٠١٩"}
    r = await client.post("/meine-profile/neu", data=data)
    assert r.status_code == 422
    for name in ("population", "area_km2", "population_as_of"):
        ident = "f-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        assert f'id="{ident}-fehler"' in r.text, name
    data = {**FULL_FORM, **_form(page.text), "population": "1.234.567", "population_as_of": "31.12.2999"}
    r = await client.post("/meine-profile/neu", data=data)
    assert r.status_code == 422
    assert 'id="f-population-as-of-fehler"' in r.text and 'id="f-population-fehler"' not in r.text
    assert "zwischen dem 01.01.1949" in r.text
