"""Bulk exports of the published profiles over HTTP (and `leuchtturm export --open-data`).

Real app: FerretDB, Tantivy, the sync worker and the export mirror it keeps
(catalogue/opendata/mirror.py, SQLite in the data directory). The exports
stream a snapshot of the mirror; they must parse back (with the catalogue's
own importers) to exactly the published profiles, never a draft, be fresh
as soon as a write is in the index, and answer conditional requests with 304.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest

from catalogue.models import Profile
from catalogue.opendata.mirror import MIRROR_FILE
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


async def test_exports_show_only_the_public_source_never_uploader_or_file(app, client, catalogue) -> None:
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
    await app.state.runtime.sync.reindex(app.state.runtime.search)  # written behind the outbox's back: the mirror is rebuilt
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


async def _published_slugs() -> list[str]:
    """The published profiles in the store, oldest first (the test's own full read)."""
    profiles = sorted(
        (p for p in await Profile.find_all().to_list() if p.status == "published"), key=lambda p: (p.created_at, str(p.id))
    )
    return [p.slug for p in profiles]


async def _ndjson_slugs(client) -> list[str]:
    r = await client.get(f"{EXPORT}.ndjson")
    assert r.status_code == 200, r.text
    return [json.loads(line)["slug"] for line in r.text.splitlines()]


async def test_the_export_is_the_mirror_oldest_first_and_follows_every_change(client, auth, catalogue) -> None:
    assert await _ndjson_slugs(client) == await _published_slugs() == catalogue["published"]
    # published, unpublished (archived), deleted: each in the export as soon as the write is in the index
    r = await client.post(f"{API}/{catalogue['hidden'][1]}/publish", headers=auth["reviewer"])
    assert r.status_code == 200
    assert await _ndjson_slugs(client) == await _published_slugs()
    assert catalogue["hidden"][1] in await _ndjson_slugs(client)
    first = catalogue["published"][0]
    r = await client.post(f"{API}/{first}/archive", headers=auth["reviewer"])
    assert r.status_code == 200, r.text
    assert first not in await _ndjson_slugs(client)
    assert await _ndjson_slugs(client) == await _published_slugs()


async def test_a_draft_edit_leaves_the_export_and_its_etag_alone(client, auth, catalogue) -> None:
    before = await client.get(f"{EXPORT}.ndjson")
    draft = catalogue["hidden"][0]
    current = await client.get(f"{API}/{draft}", headers=auth["editor"])
    r = await client.patch(f"{API}/{draft}", json={"summary": "Nur im Entwurf."}, headers={**auth["editor"], "If-Match": current.headers["etag"]})
    assert r.status_code == 200, r.text
    after = await client.get(f"{EXPORT}.ndjson")
    assert after.headers["etag"] == before.headers["etag"] and after.content == before.content


async def test_a_running_export_sends_one_whole_snapshot_while_the_worker_writes(app, client, auth, catalogue) -> None:
    """A request that started before a change sends the state it started with, whole; the next one sees the change."""
    mirror = app.state.runtime.sync.mirror
    snapshot = await mirror.snapshot()
    pages = snapshot.pages("json", size=1)
    first_page = await anext(pages)  # the request is under way
    r = await client.post(f"{API}/{catalogue['hidden'][1]}/publish", headers=auth["reviewer"])
    assert r.status_code == 200
    slug = catalogue["published"][2]
    current = await client.get(f"{API}/{slug}")
    r = await client.patch(f"{API}/{slug}", json={"summary": "Während des Exports geändert."}, headers={**auth["reviewer"], "If-Match": current.headers["etag"]})
    assert r.status_code == 200
    assert "Eingereichtes Profil" in (await client.get(f"{EXPORT}.ndjson")).text, "the write is in the mirror"
    rest = [line async for page in pages for line in page]
    await snapshot.aclose()
    lines = [*first_page, *rest]
    assert [json.loads(x)["slug"] for x in lines] == catalogue["published"], "the old set, whole, once each"
    assert "Während des Exports geändert." not in "".join(lines)
    assert snapshot.state.count == len(catalogue["published"])
    now = (await client.get(f"{EXPORT}.ndjson")).text
    assert "Während des Exports geändert." in now and "Eingereichtes Profil" in now


async def test_the_export_pages_through_the_mirror_by_key(app, client, catalogue) -> None:
    """Flat memory: the records come a page at a time, in creation order, each once."""
    snapshot = await app.state.runtime.sync.mirror.snapshot()
    try:
        pages = [page async for page in snapshot.pages("csv", size=2)]
    finally:
        await snapshot.aclose()
    assert [len(p) for p in pages] == [2, 1]
    assert all(row.endswith("\r\n") for page in pages for row in page)


async def test_without_a_mirror_the_export_is_503_until_it_is_rebuilt(app, client, catalogue, settings) -> None:
    rt = app.state.runtime
    path = settings.resolved_data_dir / MIRROR_FILE
    for suffix in ("", "-wal", "-shm"):
        await asyncio.to_thread(Path(f"{path}{suffix}").unlink, missing_ok=True)
    r = await client.get(f"{EXPORT}.ndjson")
    assert r.status_code == 503 and r.headers["content-type"].startswith("application/problem+json")
    assert "aufgebaut" in r.json()["detail"]
    await rt.rebuild_mirror_if_missing()  # what the index writer does when it starts
    assert await _ndjson_slugs(client) == catalogue["published"]


async def test_reindex_rebuilds_the_mirror_and_keeps_newer_records_of_the_worker(app, client, auth, catalogue, settings) -> None:
    rt = app.state.runtime
    path = settings.resolved_data_dir / MIRROR_FILE
    con = sqlite3.connect(path)
    con.execute("DELETE FROM records")  # the mirror lost its records
    con.commit()
    con.close()
    assert await _ndjson_slugs(client) == []
    before = (await rt.sync.mirror.state()).build
    await rt.sync.reindex(rt.search)
    assert await _ndjson_slugs(client) == catalogue["published"]
    assert (await rt.sync.mirror.state()).build != before, "a new build: the ETags change"
    # a change the worker applies while a rebuild reads an older state wins over that older state
    mirror = rt.sync.mirror
    old = await Profile.find_one(Profile.slug == catalogue["published"][0])
    gate = asyncio.Event()

    async def slow_scan() -> Any:
        yield old
        await gate.wait()

    rebuild = asyncio.create_task(mirror.rebuild(slow_scan()))
    await asyncio.sleep(0.1)
    current = await client.get(f"{API}/{old.slug}")
    r = await client.patch(f"{API}/{old.slug}", json={"summary": "Neuer als der Neuaufbau."}, headers={**auth["reviewer"], "If-Match": current.headers["etag"]})
    assert r.status_code == 200
    gate.set()
    assert await rebuild == 1
    assert "Neuer als der Neuaufbau." in (await client.get(f"{EXPORT}.ndjson")).text


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


async def test_beyond_the_index_page_limit_the_published_list_pages_per_land(app, client, auth, catalogue, monkeypatch) -> None:
    """More published profiles than one query can page through (here: 3 pages of 1): one query per Land."""
    import catalogue.opendata.published as published

    r = await client.post(API, json=example_profile(title="Rufbus in Bayern", state="Bayern"), headers=auth["reviewer"])
    slug = r.json()["slug"]
    for step in ("submit", "publish"):
        assert (await client.post(f"{API}/{slug}/{step}", headers=auth["reviewer"])).status_code == 200
    search = app.state.runtime.search
    monkeypatch.setattr(published, "MAX_PAGE", 3)
    slugs = [d["slug"] async for docs in published.published_documents(search, page_size=1) for d in docs]
    assert sorted(slugs) == sorted([*catalogue["published"], slug]), "4 profiles > 3 pages of 1: every one, once"
    monkeypatch.setattr(published, "MAX_PAGE", 1000)
    assert sorted([d["slug"] async for docs in published.published_documents(search, page_size=1) for d in docs]) == sorted(slugs)


async def test_leuchtturm_export_open_data_without_a_mirror_says_what_to_do(app, client, catalogue, settings, tmp_path) -> None:
    """A data directory whose mirror was never built (no server ran on it): a clear German message, exit code 1, no file."""
    env = {
        **os.environ,
        "LEUCHTTURM_MONGODB_URL": settings.mongodb_url or "",
        "LEUCHTTURM_MONGODB_DB": app.state.runtime.storage.db_name,
        "LEUCHTTURM_DATA_DIR": str(tmp_path / "leer"),
        "LEUCHTTURM_SECRET_KEY": settings.secret_key or "",
    }
    out = tmp_path / "profile.ndjson"
    cmd = [sys.executable, "-m", "api.cli", "export", "--open-data", str(out)]
    proc = await asyncio.create_subprocess_exec(*cmd, env=env, cwd=ROOT, stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    assert proc.returncode == 1
    assert "Export-Spiegel ist noch nicht aufgebaut" in err.decode() and "leuchtturm reindex" in err.decode()
    assert not out.exists()
