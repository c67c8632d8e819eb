"""Atom feeds (new and updated profiles; any search), sitemap and robots.txt.

Feeds are validated with a RELAX NG schema written for RFC 4287
(tests/fixtures/atom.rng) plus the RFC's rules a grammar cannot say;
sitemaps with the sitemaps.org XSDs (tests/fixtures/sitemaps/README.md).
Real app: FerretDB, Tantivy, the sync worker.
"""

from __future__ import annotations

import asyncio
import html
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from lxml import etree

from catalogue.opendata import feeds
from tests.factories import example_profile

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ATOM = "{http://www.w3.org/2005/Atom}"
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
API = "/api/v1/profiles"
BASE = "http://testserver.local"  # not the app's base URL: the test settings have none, so it is http://127.0.0.1:8000


@pytest.fixture(scope="module")
def atom_schema() -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(FIXTURES / "atom.rng")))


@pytest.fixture(scope="module")
def sitemap_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(FIXTURES / "sitemaps" / "sitemap.xsd")))


@pytest.fixture(scope="module")
def siteindex_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(FIXTURES / "sitemaps" / "siteindex.xsd")))


def valid_atom(body: bytes, schema: etree.RelaxNG) -> etree._Element:
    """Parse a feed, validate it with the RELAX NG schema and check RFC 4287's rules that a grammar cannot say."""
    doc = etree.fromstring(body)
    assert schema.validate(doc), schema.error_log
    entries = doc.findall(f"{ATOM}entry")
    # 4.1.1: a feed has an author, or every entry has one
    assert doc.find(f"{ATOM}author") is not None or all(e.find(f"{ATOM}author") is not None for e in entries)
    # 4.1.1: a feed SHOULD have rel="self"; at most one rel="alternate" per type and hreflang
    assert [link.get("href") for link in doc.findall(f"{ATOM}link") if link.get("rel") == "self"]
    seen = set()
    for e in entries:
        # 4.1.2: an entry without content has a rel="alternate" link, and a summary when its content is not inline
        assert e.find(f"{ATOM}content") is not None or any(
            link.get("rel", "alternate") == "alternate" for link in e.findall(f"{ATOM}link")
        )
        key = (e.findtext(f"{ATOM}id"), e.findtext(f"{ATOM}updated"))
        assert key not in seen, "4.1.1: no two entries with the same id and updated"
        seen.add(key)
    return doc


def entry_titles(doc: etree._Element) -> list[str]:
    return [e.findtext(f"{ATOM}title") or "" for e in doc.findall(f"{ATOM}entry")]


@pytest.fixture
async def published(client, auth) -> dict[str, Any]:
    mobility = ["Mobilität & Verkehr"]
    items = (
        ("Rufbus im Landkreis Cham", "Bayern", mobility),
        ("Rufbus im Kreis Höxter", "Nordrhein-Westfalen", mobility),
        ("Fundbüro für Bayern", "Bayern", ["Verwaltung"]),
    )
    slugs = []
    for title, state, fields in items:
        # the index keeps whole seconds: a second apart, so "newest first" and "oldest first" have one answer
        if slugs:
            await asyncio.sleep(1.05)
        r = await client.post(API, json=example_profile(title=title, state=state, fields_of_action=fields), headers=auth["reviewer"])
        assert r.status_code == 201, r.text
        slug = r.json()["slug"]
        for step in ("submit", "publish"):
            assert (await client.post(f"{API}/{slug}/{step}", headers=auth["reviewer"])).status_code == 200
        slugs.append(slug)
    r = await client.post(API, json=example_profile(title="Rufbus Geheimentwurf", state="Bayern", fields_of_action=mobility), headers=auth["editor"])
    return {"published": slugs, "draft": r.json()["slug"]}


async def test_feed_of_new_and_updated_profiles(client, auth, published, atom_schema) -> None:
    r = await client.get("/feed.atom")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    doc = valid_atom(r.content, atom_schema)
    assert entry_titles(doc) == ["Fundbüro für Bayern", "Rufbus im Kreis Höxter", "Rufbus im Landkreis Cham"], "newest change first"
    assert "Geheimentwurf" not in r.text
    link = doc.find(f"{ATOM}entry/{ATOM}link").get("href")
    assert link.endswith(f"/profiles/{published['published'][2]}")
    # an update moves a profile to the top; its entry id stays the same
    first_ids = {e.findtext(f"{ATOM}title"): e.findtext(f"{ATOM}id") for e in doc.findall(f"{ATOM}entry")}
    slug = published["published"][0]
    current = await client.get(f"{API}/{slug}")
    await asyncio.sleep(1.05)  # the update lands in a later second than the last publication
    r = await client.patch(f"{API}/{slug}", json={"summary": "Jetzt auch sonntags."}, headers={**auth["reviewer"], "If-Match": current.headers["etag"]})
    assert r.status_code == 200
    doc = valid_atom((await client.get("/feed.atom")).content, atom_schema)
    assert entry_titles(doc)[0] == "Rufbus im Landkreis Cham"
    assert doc.find(f"{ATOM}entry/{ATOM}id").text == first_ids["Rufbus im Landkreis Cham"]
    assert "Jetzt auch sonntags." in doc.find(f"{ATOM}entry/{ATOM}summary").text


async def test_every_search_has_a_feed_with_the_same_query_and_filters(client, published, atom_schema) -> None:
    page = await client.get("/", params={"q": "Rufbus", "land": "Bayern", "seite": "1"})
    assert page.status_code == 200
    links = re.findall(r'<link rel="alternate" type="application/atom\+xml" title="Diese Suche als Atom-Feed" href="([^"]+)"', page.text)
    assert len(links) == 1
    assert f'href="{links[0]}" type="application/atom+xml">Diese Suche als Feed abonnieren' in page.text, "visible too"
    path, _, query = html.unescape(links[0]).partition("?")
    assert path == "/suche.atom" and sorted(parse_qsl(query)) == [("land", "Bayern"), ("q", "Rufbus")], "same query, no page"
    r = await client.get(html.unescape(links[0]))
    assert r.status_code == 200
    doc = valid_atom(r.content, atom_schema)
    assert entry_titles(doc) == ["Rufbus im Landkreis Cham"], "Rufbus in Bayern, published only"
    assert "Rufbus" in doc.findtext(f"{ATOM}title") and "Bayern" in doc.findtext(f"{ATOM}title")
    alternate = [link.get("href") for link in doc.findall(f"{ATOM}link") if link.get("rel") == "alternate"]
    assert alternate[0].endswith("/?q=Rufbus&land=Bayern")
    # a filter by field of action, several values of a facet
    r = await client.get("/suche.atom", params=[("feld", "Verwaltung"), ("land", "Bayern"), ("land", "Nordrhein-Westfalen")])
    assert entry_titles(valid_atom(r.content, atom_schema)) == ["Fundbüro für Bayern"]
    # no query: every published profile
    r = await client.get("/suche.atom")
    assert len(entry_titles(valid_atom(r.content, atom_schema))) == 3
    # the page without search terms links the plain feed
    page = await client.get("/")
    assert 'href="/suche.atom"' in page.text and 'href="/feed.atom"' in page.text


async def test_bad_feed_parameters_are_clear_errors(client, published) -> None:
    for params in ({"land": "Atlantis"}, {"seit_von": "neunzehnhundert"}, {"seit_bis": "1800"}):
        r = await client.get("/suche.atom", params=params)
        assert r.status_code == 422, params
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["detail"]


async def test_feed_conditional_get(client, published) -> None:
    r = await client.get("/feed.atom")
    again = await client.get("/feed.atom", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


async def test_sitemap_lists_published_profiles_with_lastmod(client, published, sitemap_schema) -> None:
    r = await client.get("/sitemap.xml")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    doc = etree.fromstring(r.content)
    assert sitemap_schema.validate(doc), sitemap_schema.error_log
    urls = {u.findtext(f"{SM}loc"): u.findtext(f"{SM}lastmod") for u in doc.findall(f"{SM}url")}
    profile_urls = {u for u in urls if "/profiles/" in u}
    assert {u.rsplit("/", 1)[1] for u in profile_urls} == set(published["published"])
    assert all(urls[u] for u in profile_urls), "every profile has its lastmod"
    assert published["draft"] not in r.text
    assert (await client.get("/sitemap.xml", headers={"If-None-Match": r.headers["etag"]})).status_code == 304


async def test_sitemap_index_beyond_the_limit_per_file(client, published, monkeypatch, sitemap_schema, siteindex_schema) -> None:
    monkeypatch.setattr(feeds, "SITEMAP_MAX_URLS", 2)  # home page + 3 profiles = 4 addresses: 2 files
    r = await client.get("/sitemap.xml")
    index = etree.fromstring(r.content)
    assert index.tag == f"{SM}sitemapindex"
    assert siteindex_schema.validate(index), siteindex_schema.error_log
    parts = [s.findtext(f"{SM}loc") for s in index.findall(f"{SM}sitemap")]
    assert [p.rsplit("/", 2)[1:] for p in parts] == [["sitemaps", "1.xml"], ["sitemaps", "2.xml"]]
    locs: list[str] = []
    for n in (1, 2):
        part = await client.get(f"/sitemaps/{n}.xml")
        doc = etree.fromstring(part.content)
        assert sitemap_schema.validate(doc), sitemap_schema.error_log
        got = [u.findtext(f"{SM}loc") for u in doc.findall(f"{SM}url")]
        assert len(got) == 2
        locs += got
    assert len(set(locs)) == 4 and locs[0].endswith("/")
    for bad in ("3.xml", "0.xml", "1.txt", "x.xml"):
        assert (await client.get(f"/sitemaps/{bad}")).status_code == 404, bad


async def test_robots_txt(client) -> None:
    r = await client.get("/robots.txt")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    lines = r.text.splitlines()
    assert lines[0] == "User-agent: *"
    assert any(line.startswith("Sitemap: http") and line.endswith("/sitemap.xml") for line in lines)
    assert "Disallow: /meine-profile" in lines and "Disallow: /redaktion" in lines
