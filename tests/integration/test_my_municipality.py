"""„Kommunen wie meine“ always answers: population alone, Land alone, a name alone (register), any combination,
within the active search; and the search page's empty states (words vs. filters)."""

from __future__ import annotations

import re

import pytest

from tests.web_support import load_register_excerpt, seed_published

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def catalogue(client, app):
    slugs = await seed_published()  # the real demo set
    await load_register_excerpt()
    await app.state.runtime.sync.drain(app.state.runtime.search)
    return slugs


def _panel(html: str) -> str:
    m = re.search(r'<div class="comparable-panel" id="kommunen-wie-meine">(.*?)\n</div>', html, re.DOTALL)
    assert m, "no Kommunen-wie-meine panel"
    return m.group(1)


def _panel_items(html: str) -> list[tuple[str, list[str]]]:
    items = re.findall(r'<li>\s*<a href="/profiles/([a-z0-9-]+)">.*?<ul class="reasons"[^>]*>(.*?)</ul>', _panel(html), re.DOTALL)
    return [(slug, re.findall(r"<li>(.*?)</li>", reasons)) for slug, reasons in items]


async def test_population_alone(client, catalogue) -> None:
    r = await client.get("/", params={"einwohner": "30.000"})
    assert r.status_code == 200
    items = _panel_items(r.text)
    assert items, _panel(r.text)
    assert all(reasons for _, reasons in items)
    assert any(reason.startswith("ähnliche Größe: ") and reason.endswith(" zu 30.000 Einwohnern") for _, rs in items for reason in rs)
    assert "interkommunale-digitalisierungsstrategie" in [s for s, _ in items] or "digitalstrategie-itzehoe" in [s for s, _ in items]


async def test_land_alone(client, catalogue) -> None:
    r = await client.get("/", params={"wie_land": "Bayern"})
    items = _panel_items(r.text)
    assert items
    assert all("ebenfalls Bayern" in reasons for _, reasons in items)


async def test_name_alone_from_register(client, catalogue) -> None:
    r = await client.get("/", params={"kommune": "Itzehoe"})
    panel = _panel(r.text)
    assert "Kommunen wie Itzehoe" in panel
    items = _panel_items(r.text)
    assert items and all(reasons for _, reasons in items)
    assert any(reason.startswith("ähnliche Größe") or reason == "ebenfalls Schleswig-Holstein" for _, rs in items for reason in rs)
    assert "Datenlizenz Deutschland" in panel  # the register's figures with their source


async def test_ambiguous_name_asks_which(client, catalogue) -> None:
    r = await client.get("/", params={"kommune": "Höxter"})
    assert "Welche Kommune meinen Sie?" in r.text


async def test_combination_and_active_search_are_respected(client, catalogue) -> None:
    # with a word and a filter, only the search's own results are offered
    params = {"q": "Glasfaser", "land": "Nordrhein-Westfalen", "einwohner": "45000"}
    r = await client.get("/", params=params)
    listed = set(re.findall(r'<h3 class="result-title"><a href="/profiles/([a-z0-9-]+)"', r.text))
    offered = {slug for slug, _ in _panel_items(r.text)}
    assert offered, _panel(r.text)
    assert offered <= listed
    assert any(s.startswith("glasfaserausbau") for s in offered)
    assert "nur unter den Ergebnissen Ihrer Suche" in _panel(r.text)
    # a search that finds nothing of a similar size says so and offers the panel without the search
    r = await client.get("/", params={"q": "Friedhof", "einwohner": "500000"})
    panel = _panel(r.text)
    assert "Unter den Ergebnissen Ihrer Suche ist kein Projekt" in panel
    assert "einwohner=500000" in panel


async def test_panel_is_near_the_top_and_results_have_a_skip_link(client, catalogue) -> None:
    html = (await client.get("/")).text
    assert html.index('href="#ergebnisse"') < html.index('<header class="site-header">')
    assert 'id="ergebnisse"' in html
    # "Kommunen wie meine" comes before the facet checkboxes
    assert html.index('id="wie-meine"') < html.index('type="checkbox"')


async def test_api_comparable_population_alone(client, catalogue) -> None:
    r = await client.get("/api/v1/comparable", params={"population": 30000})
    assert r.status_code == 200
    items = r.json()["items"]
    assert items
    assert all(item["reasons"] for item in items)
    r = await client.get("/api/v1/comparable", params={"state": "Bayern"})
    assert r.json()["items"] and all("ebenfalls Bayern" in i["reasons"] for i in r.json()["items"])


async def test_empty_because_of_filters_says_so(client, catalogue) -> None:
    r = await client.get("/", params={"q": "Digitalisierung", "land": "Bremen"})
    assert "Keine Projekte gefunden" in r.text
    assert "aber keines passt zu allen gewählten Filtern" in r.text
    link = re.search(r'<a href="(/\?[^"]*)">alle Filter entfernen und', r.text)
    assert link and "land=" not in link.group(1) and "q=Digitalisierung" in link.group(1)
    # the words alone emptied the list: the ordinary hint, no filter message
    r = await client.get("/", params={"q": "xqzvw", "land": "Bremen"})
    assert "aber keines passt" not in r.text and "haben wir leider nichts gefunden" in r.text


async def test_did_you_mean_with_few_results(client, app, catalogue, monkeypatch) -> None:
    """With one or two hits, "Meinten Sie …" is offered only when the other spelling finds more."""
    search = app.state.runtime.search
    offered = {"Gutachterausschuss": "Daseinsvorsorge", "Daseinsvorsorge": "Gutachterausschuss"}

    async def suggest(q: str) -> str | None:
        return offered.get(q)

    monkeypatch.setattr(search, "suggest", suggest)
    r = await client.get("/", params={"q": "Gutachterausschuss"})
    assert re.search(r"<h2[^>]*>\s*1 Projekt", r.text)
    assert re.search(r'Meinten Sie <a href="[^"]*q=Daseinsvorsorge[^"]*">Daseinsvorsorge</a>', r.text)
    # many hits: no suggestion; a suggestion that finds fewer: none either
    r = await client.get("/", params={"q": "Daseinsvorsorge"})
    assert "Meinten Sie" not in r.text


async def test_unknown_name_explained_and_land_still_answers(client, catalogue) -> None:
    r = await client.get("/", params={"kommune": "Entenhausen"})
    assert "„Entenhausen“ steht nicht im Gemeindeverzeichnis" in r.text
    r = await client.get("/", params={"kommune": "Entenhausen", "wie_land": "Bayern"})
    items = _panel_items(r.text)
    assert items and all("ebenfalls Bayern" in reasons for _, reasons in items)
    r = await client.get("/", params={"einwohner": "dreißigtausend"})
    assert "als ganze Zahl" in r.text
