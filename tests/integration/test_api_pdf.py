"""PDF downloads through the HTTP API: real Typst output, visibility, caching, comparison."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from catalogue.access import Action
from catalogue.profiles import ProfileService
from catalogue.users import Principal
from catalogue.vocabularies import Role
from tests.fixtures.seed_profiles import hoexter, itzehoe

REVIEWER = Principal("rita", Role.REVIEWER)


def _content(profile: dict) -> dict:
    from catalogue.models import CONTENT_FIELDS

    return {k: v for k, v in profile.items() if k in CONTENT_FIELDS}


async def _publish(content: dict) -> str:
    svc = ProfileService()
    p = await svc.create(content, REVIEWER)
    await svc.transition(p.slug, Action.SUBMIT, REVIEWER)
    await svc.transition(p.slug, Action.PUBLISH, REVIEWER)
    return p.slug


@pytest.fixture
async def seeds(client) -> list[str]:  # noqa: ANN001
    return [await _publish(_content(hoexter())), await _publish(_content(itzehoe()))]


async def test_profile_pdf_is_one_page_with_the_facts(client, seeds) -> None:  # noqa: ANN001
    for path in (f"/profiles/{seeds[0]}.pdf", f"/api/v1/profiles/{seeds[0]}/pdf"):
        r = await client.get(path)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/pdf"
        assert f'filename="{seeds[0]}.pdf"' in r.headers["content-disposition"]
        reader = PdfReader(io.BytesIO(r.content))
        assert len(reader.pages) == 1
        text = reader.pages[0].extract_text()
        for needle in ("Kreis Höxter", "28.808", "158,16", "IT.NRW", "info@kreis-hoexter.de", f"/profiles/{seeds[0]}"):
            assert needle in text, needle
    # Same revision, same bytes (served from the cache or rendered again).
    again = await client.get(f"/profiles/{seeds[0]}.pdf")
    assert again.content == r.content


async def test_unpublished_profiles_have_no_public_pdf(client) -> None:  # noqa: ANN001
    p = await ProfileService().create({"title": "Geheimer Entwurf"}, Principal("erika", Role.EDITOR))
    r = await client.get(f"/api/v1/profiles/{p.slug}/pdf")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")


async def test_comparison_pdf_and_page(client, seeds) -> None:  # noqa: ANN001
    r = await client.get(f"/compare.pdf?profiles={seeds[0]},{seeds[1]}")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    page = PdfReader(io.BytesIO(r.content)).pages[0]
    assert page.mediabox.width > page.mediabox.height  # landscape
    r = await client.get(f"/compare?profiles={seeds[0]},{seeds[1]}", headers={"Accept": "text/html"})
    assert r.status_code == 200 and "Projekte im Vergleich" in r.text and "Itzehoe" in r.text


@pytest.mark.parametrize("param", ["only-one", "a,b,c,d", "x%22%3B%24where", ""])
async def test_comparison_rejects_bad_selections(client, seeds, param: str) -> None:  # noqa: ANN001
    r = await client.get(f"/compare.pdf?profiles={param}", headers={"Accept": "application/problem+json"})
    assert r.status_code in (400, 404, 422), r.text
    assert r.headers["content-type"].startswith("application/problem+json")
