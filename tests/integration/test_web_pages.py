"""Web UI pages with the real app (FerretDB, Tantivy): search, profile, headers, errors."""

from __future__ import annotations

import json
import re

import pytest

from tests.web_support import load_register_excerpt, seed_published

pytestmark = pytest.mark.asyncio


async def _index(app) -> None:
    runtime = app.state.runtime
    await runtime.sync.drain(runtime.search)


@pytest.fixture
async def catalogue(client, app):
    slugs = await seed_published()
    await load_register_excerpt()
    await _index(app)
    return slugs


async def test_search_page_renders_with_facets(client, catalogue) -> None:
    r = await client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert '<html lang="de">' in html
    assert 'href="#inhalt"' in html  # skip link
    assert "Handlungsfeld" in html and "Bundesland" in html
    assert re.search(r'name="land" value="Nordrhein-Westfalen"', html)
    assert "Projekte" in html


async def test_search_with_query_and_filter_keeps_state_in_url(client, catalogue) -> None:
    r = await client.get("/", params={"q": "Digitalisierung", "land": "Nordrhein-Westfalen"})
    assert r.status_code == 200
    assert "interkommunale-digitalisierungsstrategie" in r.text
    assert re.search(r'value="Nordrhein-Westfalen" checked', r.text)
    assert 'value="Digitalisierung"' in r.text
    assert "<mark>" in r.text


async def test_search_typo_still_finds(client, catalogue) -> None:
    r = await client.get("/", params={"q": "Digitalisirung"})
    assert r.status_code == 200
    assert "interkommunale-digitalisierungsstrategie" in r.text


async def test_empty_result_is_helpful(client, catalogue) -> None:
    r = await client.get("/", params={"q": "xqzvw"})
    assert r.status_code == 200
    assert "Keine Projekte gefunden" in r.text
    assert "alle Projekte ansehen" in r.text


async def test_did_you_mean_when_nothing_found(client, catalogue) -> None:
    r = await client.get("/", params={"q": "Hoxterr Digitalisierungsstrategiee"})
    assert r.status_code == 200
    if "Keine Projekte gefunden" in r.text:  # the engine may find it anyway; then no suggestion is needed
        assert "Meinten Sie" in r.text


async def test_invalid_filter_values_are_ignored_and_bad_year_explained(client, catalogue) -> None:
    r = await client.get("/", params={"land": "Atlantis", "seit_von": "neunzehn", "seite": "x"})
    assert r.status_code == 200
    assert "Bitte eine Jahreszahl" in r.text


async def test_my_municipality_from_register(client, catalogue) -> None:
    r = await client.get("/", params={"kommune": "Höxter"})
    assert r.status_code == 200
    assert "Kommunen wie" in r.text
    r = await client.get("/", params={"einwohner": "30.000", "wie_land": "Schleswig-Holstein"})
    assert r.status_code == 200
    assert "Projekte aus Kommunen wie" in r.text
    assert "Einwohnern" in r.text  # a size reason in words
    r = await client.get("/", params={"kommune": "Gibtesnichtstadt"})
    assert "steht nicht im Gemeindeverzeichnis" in r.text


async def test_search_down_is_friendly(client, catalogue, app, monkeypatch) -> None:
    async def broken(query):
        raise RuntimeError("engine exploded")

    monkeypatch.setattr(app.state.runtime.search, "search", broken)
    r = await client.get("/", params={"q": "Bauhof"})
    assert r.status_code == 503
    assert "Die Suche ist gerade nicht erreichbar" in r.text
    assert "Traceback" not in r.text and "exploded" not in r.text


async def test_profile_page_sections_numbers_and_json_ld(client, catalogue) -> None:
    r = await client.get("/profiles/interkommunale-digitalisierungsstrategie")
    assert r.status_code == 200
    html = r.text
    order = ["Stichworte", "Hauptverantwortlich", "Sonstige Beteiligte", "Kurzprofil", "Anlass", "Ziel", "Umsetzung",
             "Finanzierung", "Zusammenarbeit seit", "Kontakt"]  # fmt: skip
    # the Kurzprofil's heading names the body its figures belong to (Stadt Höxter, not the lead Kreis Höxter)
    assert ">Kurzprofil Stadt Höxter<" in html
    positions = [html.find(f">{label}<" if label != "Kurzprofil" else ">Kurzprofil ") for label in order]
    assert all(p > 0 for p in positions), dict(zip(order, positions, strict=True))
    assert positions == sorted(positions)
    assert "28.808" in html
    assert "158,16 km²" in html
    assert "31.12.2019" in html
    assert 'href="/profiles/interkommunale-digitalisierungsstrategie.pdf"' in html
    assert "Vergleichbare Projekte" in html
    m = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.DOTALL)
    assert m
    data = json.loads(m.group(1))
    assert "Project" in data["@type"]
    assert data["name"] == "Interkommunale Digitalisierungsstrategie"
    assert data["areaServed"] and data["sponsor"]["name"] == "Kreis Höxter"
    assert data["contactPoint"]["email"]


async def test_json_ld_cannot_break_out_of_script(client, app) -> None:
    from catalogue.profiles import ProfileService
    from catalogue.users import Principal
    from catalogue.vocabularies import EditorialStatus, Role

    evil = "Böse </script><script>alert(1)</script>"
    await ProfileService().create(
        {"title": "Skript-Test", "summary": evil}, Principal("import", Role.ADMIN), status=EditorialStatus.PUBLISHED
    )
    r = await client.get("/profiles/skript-test")
    assert r.status_code == 200
    assert "<script>alert(1)" not in r.text
    head = r.text.split("</head>")[0]
    assert head.count("</script>") == 2  # JSON-LD block and the enhancement script, nothing injected


async def test_unknown_profile_is_german_html_404(client, catalogue) -> None:
    r = await client.get("/profiles/gibt-es-nicht")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "Diese Seite gibt es nicht" in r.text
    r = await client.get("/gar/nichts/hier")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]


async def test_api_errors_stay_problem_json(client, catalogue) -> None:
    r = await client.get("/api/v1/profiles/gibt-es-nicht")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.get("/api/v1/gar-nichts")
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_unpublished_profile_hidden_from_public(client, app) -> None:
    from catalogue.profiles import ProfileService
    from catalogue.users import Principal
    from catalogue.vocabularies import Role

    await ProfileService().create({"title": "Geheimer Entwurf"}, Principal("redaktion-x", Role.EDITOR))
    r = await client.get("/profiles/geheimer-entwurf")
    assert r.status_code == 404


@pytest.mark.parametrize("path", ["/", "/anmelden", "/static/css/site.css", "/api/v1/profiles", "/health/live", "/nirgendwo"])
async def test_security_headers_everywhere(client, path) -> None:
    r = await client.get(path)
    csp = r.headers.get("content-security-policy", "")
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert r.headers.get("x-content-type-options") == "nosniff"
    assert r.headers.get("referrer-policy") == "strict-origin-when-cross-origin"
    assert r.headers.get("x-frame-options") == "DENY"


async def test_pages_have_no_inline_script(client, catalogue) -> None:
    for path in ("/", "/profiles/interkommunale-digitalisierungsstrategie", "/anmelden"):
        html = (await client.get(path)).text
        for tag in re.findall(r"<script[^>]*>", html):
            assert 'src="/static/' in tag or 'type="application/ld+json"' in tag, tag
        assert " on" + "click=" not in html and 'style="' not in html


async def test_static_assets(client) -> None:
    css = await client.get("/static/css/site.css")
    js = await client.get("/static/js/enhance.js")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]


async def test_did_you_mean_fallback_uses_catalogue_words(client, app, catalogue) -> None:
    from api.web.pages import did_you_mean
    from catalogue.profiles import ProfileService
    from catalogue.users import Principal
    from catalogue.vocabularies import Role

    class NoSuggest:  # the real engine without suggestions of its own; a fresh object each time (no cached words)
        def __init__(self) -> None:
            self.search = app.state.runtime.search.search

        async def suggest(self, q: str) -> None:
            return None

    assert await did_you_mean(NoSuggest(), "Digitalisirungsstrategie") == "Digitalisierungsstrategie"
    assert await did_you_mean(NoSuggest(), "Digitalisierungsstrategie") is None
    assert await did_you_mean(NoSuggest(), "qqq") is None
    # the words come from published profiles only, never from a draft
    await ProfileService().create({"title": "Quastenflosserzucht im Entwurf"}, Principal("erika", Role.EDITOR))
    await _index(app)
    assert await did_you_mean(NoSuggest(), "Quastenflosserzuhct") is None


async def test_unexpected_error_is_a_german_html_page(client, catalogue, monkeypatch) -> None:
    from catalogue.profiles import ProfileService

    async def boom(self, slug, **kwargs):
        raise RuntimeError("secret internals")

    # every read by slug goes through one of them (the page: find; the API read: find_fields, without the model)
    monkeypatch.setattr(ProfileService, "find", boom)
    monkeypatch.setattr(ProfileService, "find_fields", boom)
    r = await client.get("/profiles/interkommunale-digitalisierungsstrategie")
    assert r.status_code == 500
    assert "text/html" in r.headers["content-type"]
    assert "Hier ist etwas schiefgegangen" in r.text
    assert "secret internals" not in r.text and "Traceback" not in r.text
    assert r.headers.get("content-security-policy")
    r = await client.get("/api/v1/profiles/interkommunale-digitalisierungsstrategie")
    assert r.status_code == 500 and r.headers["content-type"].startswith("application/problem+json")


async def test_pagination_links_keep_the_query(client, catalogue) -> None:
    r = await client.get("/", params={"feld": "Verwaltung"})
    html = r.text
    if "Weiter ›" in html:  # more than one page of results
        assert re.search(r'href="/\?feld=Verwaltung&amp;seite=2"', html)
        r2 = await client.get("/", params={"feld": "Verwaltung", "seite": "2"})
        assert 'aria-current="page" href="/?feld=Verwaltung&amp;seite=2"' in r2.text
