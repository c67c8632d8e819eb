"""PDF downloads through the HTTP API: real Typst output, visibility, caching, comparison."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from catalogue.access import Action
from catalogue.profiles import ProfileService
from catalogue.users import Principal
from catalogue.vocabularies import Role
from tests.factories import publishable
from tests.fixtures.profiles import buergerbus, fundbuero
from tests.integration.test_keyed_reads import recorded_request  # registers the command recorder before the store's client is made

REVIEWER = Principal("rita", Role.REVIEWER)


def _content(profile: dict) -> dict:
    from catalogue.models import CONTENT_FIELDS

    return {k: v for k, v in profile.items() if k in CONTENT_FIELDS}


async def _publish(content: dict) -> str:
    svc = ProfileService()
    p = await svc.create(publishable(content), REVIEWER)
    await svc.transition(p.slug, Action.SUBMIT, REVIEWER)
    await svc.transition(p.slug, Action.PUBLISH, REVIEWER)
    return p.slug


@pytest.fixture
async def published(client) -> list[str]:
    return [await _publish(_content(fundbuero())), await _publish(_content(buergerbus()))]


async def test_profile_pdf_is_one_page_with_the_facts(client, published) -> None:
    for path in (f"/profiles/{published[0]}.pdf", f"/api/v1/profiles/{published[0]}/pdf"):
        r = await client.get(path)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/pdf"
        assert f'filename="{published[0]}.pdf"' in r.headers["content-disposition"]
        reader = PdfReader(io.BytesIO(r.content))
        assert len(reader.pages) == 1
        text = re.sub(r"[\s\-\u00ad]", "", reader.pages[0].extract_text())  # line breaks and hyphenation aside
        for needle in ("Kreis Beispielland", "12.345", "87,65", "Statistikamt Beispielland", "fundbuero@beispielland.example", f"/profiles/{published[0]}"):
            assert re.sub(r"[\s\-]", "", needle) in text, needle
    # Same revision, same bytes (served from the cache or rendered again).
    again = await client.get(f"/profiles/{published[0]}.pdf")
    assert again.content == r.content


async def test_unpublished_profiles_have_no_public_pdf(client) -> None:
    p = await ProfileService().create({"title": "Geheimer Entwurf"}, Principal("erika", Role.EDITOR))
    r = await client.get(f"/api/v1/profiles/{p.slug}/pdf")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/problem+json")


async def test_comparison_pdf_and_page(client, published) -> None:
    r = await client.get(f"/compare.pdf?profiles={published[0]},{published[1]}")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    page = PdfReader(io.BytesIO(r.content)).pages[0]
    assert page.mediabox.width > page.mediabox.height  # landscape
    r = await client.get(f"/compare?profiles={published[0]},{published[1]}", headers={"Accept": "text/html"})
    assert r.status_code == 200 and "Projekte im Vergleich" in r.text and "Beispielstadt" in r.text


@pytest.mark.parametrize("param", ["only-one", "a,b,c,d", "x%22%3B%24where", ""])
async def test_comparison_rejects_bad_selections(client, published, param: str) -> None:
    r = await client.get(f"/compare.pdf?profiles={param}", headers={"Accept": "application/problem+json"})
    assert r.status_code in (400, 404, 422), r.text
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_full_profile_pdf_and_bad_extent(client, published) -> None:
    slug = published[0]
    for path in (f"/profiles/{slug}.pdf?umfang=voll", f"/api/v1/profiles/{slug}/pdf?umfang=voll"):
        r = await client.get(path)
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf", r.text
        assert f'filename="{slug}-voll.pdf"' in r.headers["content-disposition"]
        text = PdfReader(io.BytesIO(r.content)).pages[0].extract_text()
        assert "Vollständiges Profil online" not in text  # no QR code: nothing is cut
    for path in (f"/profiles/{slug}.pdf?umfang=kurz", f"/api/v1/profiles/{slug}/pdf?umfang=kurz"):
        r = await client.get(path, headers={"Accept": "application/problem+json"})
        assert r.status_code in (400, 422) and r.headers["content-type"].startswith("application/problem+json"), r.text
        assert "umfang" in r.text


async def test_demo_profile_says_beispieldatensatz_only_while_demo_data_is_on(client, app) -> None:
    content = publishable(_content(fundbuero()))
    svc = ProfileService()
    p = await svc.create(content, REVIEWER)
    await svc.transition(p.slug, Action.SUBMIT, REVIEWER)
    await svc.transition(p.slug, Action.PUBLISH, REVIEWER)
    from catalogue.models import Profile, Provenance

    doc = await Profile.get(p.id)
    assert doc is not None
    await doc.set({"provenance": Provenance(importer="demo", source="https://quelle.example/seite").model_dump()})
    for demo_on in (False, True):
        app.state.settings.demo_data = demo_on
        page = await client.get(f"/profiles/{p.slug}", headers={"Accept": "text/html"})
        pdf = await client.get(f"/profiles/{p.slug}.pdf")
        text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
        assert ("Beispieldatensatz" in page.text) is demo_on
        assert ("Beispieldatensatz" in text) is demo_on
    app.state.settings.demo_data = False


async def test_a_first_pdf_reads_the_profile_once_and_a_cached_one_nothing(client, app, published) -> None:
    """Uncached: no look at the version before the whole profile is read (nothing of this slug is cached); cached: no
    store read (the profile's search document vouches for the version, tests/integration/test_pdf_from_index.py). A new
    version, once indexed, is read once and rendered afresh; while the index does not vouch, one projected read decides."""
    from catalogue.access import ALL_DOCUMENTS_LABELS
    from catalogue.models import Profile
    from tests.factories import drained_index

    profiles = Profile.get_pymongo_collection().name
    runtime = app.state.runtime

    async def reads(path: str) -> tuple[bytes, list[dict]]:
        r, commands = await recorded_request(client, "GET", path)
        assert r.status_code == 200, r.text
        return r.content, [cmd for _, name, cmd in commands if name == "find" and cmd.get("find") == profiles]

    async def indexed(slug: str, version: int) -> None:
        pid = str((await ProfileService().find(slug)).id)

        async def seen() -> int | None:
            doc = await runtime.search.document(pid, labels=ALL_DOCUMENTS_LABELS)
            return doc and doc["version"]

        assert await drained_index(runtime, seen, version, tries=300) == version

    slug = published[0]
    await indexed(slug, (await ProfileService().find(slug)).version)
    first, finds = await reads(f"/profiles/{slug}.pdf")
    assert len(finds) == 1 and not finds[0].get("projection"), finds  # the whole profile, once
    again, finds = await reads(f"/profiles/{slug}.pdf")
    assert again == first and finds == [], finds
    changed_profile = await ProfileService().update(slug, REVIEWER, {"summary": "Eine neue Fassung der Zusammenfassung."}, if_match=None,
                                                    partial=True, require_if_match=False)
    await indexed(slug, changed_profile.version)
    changed, finds = await reads(f"/profiles/{slug}.pdf")
    assert changed != first and len(finds) == 1 and not finds[0].get("projection"), finds  # the new version, read once
    # the index down: the store decides on a projection, and the cached PDF is served
    real = runtime.search.document

    async def down(*_a: object, **_k: object) -> None:
        from catalogue.search.base import SearchError

        raise SearchError("Suchdienst nicht erreichbar")

    runtime.search.document = down
    try:
        cached, finds = await reads(f"/profiles/{slug}.pdf")
    finally:
        runtime.search.document = real
    assert cached == changed and len(finds) == 1 and finds[0].get("projection"), finds


async def test_the_next_day_renders_at_the_level_the_revision_fitted_with_one_layout(client, monkeypatch) -> None:
    """The first render of a long profile steps down the ladder (the guess is forced too long here); the next day's render
    of the same revision lays the page out once, at the level remembered for the revision."""
    from datetime import timedelta

    from api.controllers import pdf as pdf_controller
    from catalogue.pdf import render as pdf_render
    from tests.fixtures.profiles import longest

    slug = await _publish(_content(longest()))
    layouts: list[int] = []
    real = pdf_render._compile

    def counting(template, view, **kw):  # type: ignore[no-untyped-def]
        layouts.append(view.get("fit_level", -1))
        return real(template, view, **kw)

    monkeypatch.setattr(pdf_render, "_compile", counting)
    monkeypatch.setattr(pdf_render, "estimate_level", lambda view: 0)
    first = await client.get(f"/profiles/{slug}.pdf")
    assert first.status_code == 200 and len(PdfReader(io.BytesIO(first.content)).pages) == 1
    level = layouts[-1]
    assert level > 0 and layouts == list(range(level + 1))
    day = pdf_controller.today()
    monkeypatch.setattr(pdf_controller, "today", lambda: day + timedelta(days=1))
    layouts.clear()
    second = await client.get(f"/profiles/{slug}.pdf")
    assert second.status_code == 200 and second.content != first.content  # another "erstellt am" date
    assert layouts == [level] and len(PdfReader(io.BytesIO(second.content)).pages) == 1
