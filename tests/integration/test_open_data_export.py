"""Bulk exports of the published profiles over HTTP (and `leuchtturm export --open-data`).

Real app: FerretDB, Tantivy and the sync worker. The exports list the
published profiles from the index and read each by `_id`; they must parse
back (with the catalogue's own importers) to exactly the published
profiles, never a draft, and answer conditional requests with 304.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from api.open_data import RENDER_BATCH, Licence, stream_export
from catalogue.models import Profile, ProfileContent
from catalogue.opendata.published import published_profiles
from catalogue.settings import Settings
from importers.base import Source
from importers.catalogue_formats import CsvImporter, JsonImporter, NdjsonImporter
from importers.export import to_export_dict
from tests.factories import example_profile

API = "/api/v1/profiles"
ROOT = Path(__file__).resolve().parents[2]
EXPORT = "/api/v1/export/profiles"
FORMULA_TITLE = '=HYPERLINK("https://boese.example";"Klick")'
PUBLISHED_TITLES = ["Rufbus im Kreis Beispielland", "Gemeinsames Fundbüro Musterstadt", "Bürgerbus Musterdorf"]


@pytest.fixture
async def catalogue(client, auth) -> dict[str, Any]:
    """Three published profiles (one with a formula-like summary), a draft and a submitted profile."""
    published = []
    for i, title in enumerate(PUBLISHED_TITLES):
        # the index keeps whole seconds: a second apart, so "newest first" and "oldest first" have one answer
        if published:
            await asyncio.sleep(1.05)
        extra = {"summary": FORMULA_TITLE} if i == 1 else {}
        r = await client.post(API, json=example_profile(title=title, **extra), headers=auth["reviewer"])
        assert r.status_code == 201, r.text
        slug = r.json()["slug"]
        for step in ("submit", "publish"):
            assert (await client.post(f"{API}/{slug}/{step}", headers=auth["reviewer"])).status_code == 200
        published.append(slug)
    r = await client.post(API, json=example_profile(title="Geheimer Entwurf"), headers=auth["editor"])
    draft = r.json()["slug"]
    r = await client.post(API, json=example_profile(title="Eingereichtes Profil"), headers=auth["editor"])
    submitted = r.json()["slug"]
    assert (await client.post(f"{API}/{submitted}/submit", headers=auth["editor"])).status_code == 200
    return {"published": published, "hidden": [draft, submitted]}


async def _expected() -> dict[str, dict[str, Any]]:
    return {p.slug: to_export_dict(p) for p in await Profile.find_all().to_list() if p.status == "published"}


def _parsed(importer: Any, body: bytes, name: str) -> dict[str, dict[str, Any]]:
    out = {}
    for rec in importer.parse(Source(name=name, raw=body)):
        assert rec.ok, rec.errors
        out[rec.slug] = {**rec.content, "slug": rec.slug, "status": rec.suggested_status.value}
    return out


def _content(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "provenance"}


async def test_json_ndjson_csv_parse_back_to_the_published_profiles(client, catalogue) -> None:
    expected = await _expected()
    assert set(expected) == set(catalogue["published"])
    for fmt, importer in (("json", JsonImporter()), ("ndjson", NdjsonImporter()), ("csv", CsvImporter())):
        r = await client.get(f"{EXPORT}.{fmt}")
        assert r.status_code == 200, (fmt, r.text)
        assert 'rel="license"' in r.headers["link"] and "creativecommons.org/licenses/by/4.0" in r.headers["link"]
        assert r.headers["etag"] and r.headers["last-modified"]
        assert f"leuchtturm-profile.{fmt}" in r.headers["content-disposition"]
        for hidden in catalogue["hidden"]:
            assert hidden not in r.text
        assert "Geheimer Entwurf" not in r.text and "Eingereichtes Profil" not in r.text
        got = _parsed(importer, r.content, f"profiles.{fmt}")
        assert set(got) == set(expected), fmt
        for slug, record in expected.items():
            want = _content(record)
            if fmt == "csv" and record["summary"] == FORMULA_TITLE:
                want = {k: v for k, v in want.items() if k != "summary"}  # neutralised: see the test below
            have = {k: v for k, v in got[slug].items() if k in want}
            assert have == want, (fmt, slug)


async def test_json_export_carries_licence_and_attribution(client, catalogue) -> None:
    doc = (await client.get(f"{EXPORT}.json")).json()
    assert doc["format"] == "leuchtturm-profiles"
    assert doc["license"]["uri"] == "http://dcat-ap.de/def/licenses/cc-by/4.0"
    assert doc["license"]["attribution"].startswith("Leuchtturm")
    assert len(doc["profiles"]) == len(catalogue["published"])


async def test_csv_formula_cells_are_neutralised(client, catalogue) -> None:
    rows = list(csv.DictReader(io.StringIO((await client.get(f"{EXPORT}.csv")).text)))
    summaries = [row["summary"] for row in rows if "HYPERLINK" in row["summary"]]
    assert summaries, "the formula-like summary is exported"
    for cell in summaries:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


async def test_exports_show_only_the_public_source_never_uploader_or_file(client, catalogue) -> None:
    """Issue 13's leak rule holds for the bulk exports: an upload's `upload/<user>/<file>` never leaves."""
    upload, web = catalogue["published"][0], catalogue["published"][1]
    coll = Profile.get_pymongo_collection()
    await coll.update_one(
        {"slug": upload}, {"$set": {"provenance": {"importer": "markdown", "source": "upload/geheim-editor/intern-entwurf.md"}}}
    )
    await coll.update_one(
        {"slug": web},
        {"$set": {"provenance": {"importer": "html", "source": "https://quelle.example/projekt", "source_title": "Projektseite", "fingerprint": "abc123"}}},
    )
    for fmt in ("json", "ndjson", "csv"):
        body = (await client.get(f"{EXPORT}.{fmt}")).text
        assert "geheim-editor" not in body and "intern-entwurf" not in body, fmt
        assert "abc123" not in body and '"importer"' not in body.replace('""', '"'), fmt
        assert "https://quelle.example/projekt" in body and "Projektseite" in body, fmt


async def test_conditional_get_answers_304_until_a_profile_changes(client, auth, catalogue) -> None:
    for fmt in ("json", "ndjson", "csv"):
        first = await client.get(f"{EXPORT}.{fmt}")
        tag, modified = first.headers["etag"], first.headers["last-modified"]
        again = await client.get(f"{EXPORT}.{fmt}")
        assert again.headers["etag"] == tag and again.content == first.content, "same data, same bytes"
        r = await client.get(f"{EXPORT}.{fmt}", headers={"If-None-Match": tag})
        assert r.status_code == 304 and r.headers["etag"] == tag and not r.content
        r = await client.get(f"{EXPORT}.{fmt}", headers={"If-Modified-Since": modified})
        assert r.status_code == 304
        r = await client.get(f"{EXPORT}.{fmt}", headers={"If-None-Match": '"anders"'})
        assert r.status_code == 200
    tags = {fmt: (await client.get(f"{EXPORT}.{fmt}")).headers["etag"] for fmt in ("json", "csv")}
    assert tags["json"] != tags["csv"]
    # a change to a published profile changes the validators
    slug = catalogue["published"][0]
    current = await client.get(f"{API}/{slug}")
    r = await client.patch(
        f"{API}/{slug}", json={"summary": "Neu gefasst."}, headers={**auth["reviewer"], "If-Match": current.headers["etag"]}
    )
    assert r.status_code == 200, r.text
    after = await client.get(f"{EXPORT}.json", headers={"If-None-Match": tags["json"]})
    assert after.status_code == 200 and "Neu gefasst." in after.text
    # a newly published profile too
    r = await client.post(f"{API}/{catalogue['hidden'][1]}/publish", headers=auth["reviewer"])
    assert r.status_code == 200
    later = await client.get(f"{EXPORT}.json", headers={"If-None-Match": after.headers["etag"]})
    assert later.status_code == 200 and "Eingereichtes Profil" in later.text


async def test_unknown_export_names_are_404_problems(client) -> None:
    for name in ("profiles.xml", "nutzer.json", "profiles", "..%2Fsecret.json"):
        r = await client.get(f"/api/v1/export/{name}")
        assert r.status_code == 404, name
        assert r.headers["content-type"].startswith("application/problem+json")


async def test_published_profiles_pages_through_the_index_and_reads_by_id(app, client, catalogue) -> None:
    search = app.state.runtime.search
    slugs = [p.slug async for p in published_profiles(search, page_size=2, group=1)]
    assert sorted(slugs) == sorted(catalogue["published"])
    assert len(slugs) == len(set(slugs))
    assert slugs == catalogue["published"], "oldest first"


async def test_a_profile_unpublished_in_the_store_but_not_yet_in_the_index_is_left_out(app, client, catalogue) -> None:
    # The store decides: simulate the index lagging a write by changing the stored status behind its back.
    slug = catalogue["published"][0]
    profile = await Profile.find_one(Profile.slug == slug)
    assert profile is not None
    await Profile.get_pymongo_collection().update_one({"_id": profile.id}, {"$set": {"status": "archived"}})
    slugs = [p.slug async for p in published_profiles(app.state.runtime.search)]
    assert slug not in slugs and len(slugs) == len(catalogue["published"]) - 1


async def test_the_export_pulls_profiles_lazily() -> None:
    """Streaming: the first chunks are sent after at most one render batch has been read (flat memory)."""
    pulled = 0

    async def source() -> AsyncIterator[Profile]:
        nonlocal pulled
        for i in range(RENDER_BATCH * 5):
            pulled += 1
            yield ProfileContent.model_validate(example_profile(title=f"Profil {i}"))  # type: ignore[misc]

    lic = Licence.from_settings(Settings(_env_file=None))
    for fmt in ("json", "ndjson", "csv"):
        pulled = 0
        chunks = stream_export(fmt, source(), licence=lic, base_url="http://x.example", modified=None)
        while pulled == 0:
            await anext(chunks)
        assert pulled <= RENDER_BATCH + 1, fmt
        await chunks.aclose()


async def test_leuchtturm_export_open_data_writes_the_same_files(app, client, catalogue, settings, tmp_path) -> None:
    """`leuchtturm export --open-data` (its own process, on the app's database and index while the server runs)."""
    env = {
        **os.environ,
        "LEUCHTTURM_MONGODB_URL": settings.mongodb_url or "",
        "LEUCHTTURM_MONGODB_DB": app.state.runtime.storage.db_name,
        "LEUCHTTURM_DATA_DIR": str(settings.data_dir),
        "LEUCHTTURM_SECRET_KEY": settings.secret_key or "",
    }
    for fmt in ("json", "csv"):  # NDJSON is rendered by the same code path as CSV (line by line)
        out = tmp_path / f"profile.{fmt}"
        cmd = [sys.executable, "-m", "api.cli", "export", "--open-data", str(out)]
        proc = await asyncio.create_subprocess_exec(*cmd, env=env, cwd=ROOT, stderr=asyncio.subprocess.PIPE)
        _, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        assert f"{len(catalogue['published'])} veröffentlichte Profile" in err.decode()
        http = await client.get(f"{EXPORT}.{fmt}")
        assert out.read_bytes() == http.content, fmt


async def test_beyond_the_index_page_limit_the_export_pages_per_land(app, client, auth, catalogue, monkeypatch) -> None:
    """More published profiles than one query can page through (here: 3 pages of 1): one query per Land."""
    import catalogue.opendata.published as published

    r = await client.post(API, json=example_profile(title="Rufbus in Bayern", state="Bayern"), headers=auth["reviewer"])
    slug = r.json()["slug"]
    for step in ("submit", "publish"):
        assert (await client.post(f"{API}/{slug}/{step}", headers=auth["reviewer"])).status_code == 200
    search = app.state.runtime.search
    monkeypatch.setattr(published, "MAX_PAGE", 3)
    slugs = [p.slug async for p in published.published_profiles(search, page_size=1)]
    assert sorted(slugs) == sorted([*catalogue["published"], slug]), "4 profiles > 3 pages of 1: every one, once"
    monkeypatch.setattr(published, "MAX_PAGE", 1000)
    assert sorted([p.slug async for p in published.published_profiles(search, page_size=1)]) == sorted(slugs)
