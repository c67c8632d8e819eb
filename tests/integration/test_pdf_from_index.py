"""A cached profile PDF is checked against the profile's search document, the read model: no store read.

`api/controllers/pdf.py` (`indexed_version`) looks up the document by the
id the PDF cache remembers for the slug, with the caller's permission
labels, and serves the cached PDF of the version it names. Checked here on
each engine: no store command at all for a cached PDF; the server's own
writes show at once (read-your-writes); a draft's PDF reaches only callers
with its label, also once cached; an old slug still redirects; a write the
index has not seen yet (one from the CLI) is served from the version
before until the index has it, then afresh.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from pypdf import PdfReader

from catalogue.access import ALL_DOCUMENTS_LABELS
from catalogue.profiles import ProfileService
from catalogue.settings import Settings
from catalogue.users import Principal
from catalogue.vocabularies import Role
from tests.factories import drained_index, publishable
from tests.integration.test_keyed_reads import recorded_request
from tests.meili_support import engine_settings

API = "/api/v1/profiles"


@pytest.fixture(params=["tantivy", pytest.param("meilisearch", marks=pytest.mark.meili)])
def settings(request: pytest.FixtureRequest, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The app's settings on each engine (Meilisearch: an index of this test's own, deleted afterwards)."""
    yield from engine_settings(request.param, settings, monkeypatch, "pdfidx")


def _text(pdf: bytes) -> str:
    return re.sub(r"\s+", " ", PdfReader(io.BytesIO(pdf)).pages[0].extract_text())


async def _get(client: Any, path: str, headers: dict[str, str] | None = None) -> tuple[Any, list[tuple[str, str, dict[str, Any]]]]:
    """The answer and every store command sent while it was made (the request's own task)."""
    return await recorded_request(client, "GET", path, headers=headers or {})


async def _published(client: Any, auth: dict[str, dict[str, str]], title: str) -> tuple[str, str]:
    """A profile erika wrote and rita published, through the API (each answer waits for the index); slug and ETag."""
    r = await client.post(API, json=publishable({"title": title}), headers=auth["editor"])
    assert r.status_code == 201, r.text
    slug = r.json()["slug"]
    assert (await client.post(f"{API}/{slug}/submit", headers=auth["editor"])).status_code == 200
    r = await client.post(f"{API}/{slug}/publish", headers=auth["reviewer"])
    assert r.status_code == 200, r.text
    return slug, r.headers["etag"]


async def test_a_cached_pdf_sends_no_store_command_and_a_write_shows_at_once(client, auth) -> None:
    slug, tag = await _published(client, auth, "Rufbus im Amt Probstei")
    first, commands = await _get(client, f"/profiles/{slug}.pdf")
    assert first.status_code == 200 and commands, first.text  # the first PDF reads the profile
    for path in (f"/profiles/{slug}.pdf", f"{API}/{slug}/pdf"):
        again, commands = await _get(client, path)
        assert again.status_code == 200 and again.content == first.content
        assert commands == [], commands  # the index vouched for the cached PDF
    # read-your-writes: the server's own write has reached the index when its answer comes
    r = await client.patch(f"{API}/{slug}", json={"title": "Rufbus im Amt Selent"}, headers={**auth["reviewer"], "If-Match": tag})
    assert r.status_code == 200, r.text
    changed, _ = await _get(client, f"/profiles/{slug}.pdf")
    assert changed.status_code == 200 and "Rufbus im Amt Selent" in _text(changed.content)
    cached, commands = await _get(client, f"/profiles/{slug}.pdf")
    assert cached.content == changed.content and commands == []


async def test_a_drafts_cached_pdf_reaches_only_callers_with_its_label(client, auth) -> None:
    r = await client.post(API, json=publishable({"title": "Geheimer Entwurf Zebrastreifen"}), headers=auth["editor"])
    assert r.status_code == 201, r.text
    slug = r.json()["slug"]
    own = await client.get(f"/profiles/{slug}.pdf", headers=auth["editor"])
    assert own.status_code == 200 and "Geheimer Entwurf Zebrastreifen" in _text(own.content)
    for who in ("anon", "other"):  # the PDF is cached now; the index document has neither's label
        r = await client.get(f"/profiles/{slug}.pdf", headers=auth[who])
        assert r.status_code == 404 and not r.content.startswith(b"%PDF"), (who, r.text)
    for who in ("editor", "reviewer"):
        r = await client.get(f"/profiles/{slug}.pdf", headers=auth[who])
        assert r.status_code == 200 and r.content == own.content, who
    # a published profile's PDF, cached for everyone, is gone for the public the moment it is archived
    published, _ = await _published(client, auth, "Öffentlicher Rufbus")
    assert (await client.get(f"/profiles/{published}.pdf")).status_code == 200
    assert (await client.post(f"{API}/{published}/archive", headers=auth["reviewer"])).status_code == 200
    assert (await client.get(f"/profiles/{published}.pdf")).status_code == 404
    assert (await client.get(f"/profiles/{published}.pdf", headers=auth["reviewer"])).status_code == 200


async def test_an_old_slug_of_a_cached_pdf_still_redirects(client, auth) -> None:
    slug, tag = await _published(client, auth, "Bürgerbus Altdorf")
    before = await client.get(f"/profiles/{slug}.pdf")
    assert before.status_code == 200
    r = await client.post(f"{API}/{slug}/slug", json={"slug": "buergerbus-neudorf"}, headers={**auth["reviewer"], "If-Match": tag})
    assert r.status_code == 200, r.text
    old = await client.get(f"/profiles/{slug}.pdf?umfang=voll")
    assert old.status_code == 301 and old.headers["location"] == "/profiles/buergerbus-neudorf.pdf?umfang=voll", old.text
    old = await client.get(f"/profiles/{slug}.pdf")
    assert old.status_code == 301 and old.headers["location"] == "/profiles/buergerbus-neudorf.pdf"
    new = await client.get("/profiles/buergerbus-neudorf.pdf")
    assert new.status_code == 200 and "/profiles/buergerbus-neudorf" in _text(new.content).replace(" ", "")


async def test_a_write_the_index_has_not_seen_is_served_from_the_version_before_until_it_has(client, app, auth) -> None:
    """A write from another process (the CLI) reaches the index within about 2 s: until then the cached PDF of the
    version before is served; once the index has the write, the new version's."""
    runtime = app.state.runtime
    slug, _ = await _published(client, auth, "Dorfladen Oberweiler")
    first = await client.get(f"/profiles/{slug}.pdf")
    assert first.status_code == 200
    profile_id = str((await ProfileService().find(slug)).id)
    held, release = asyncio.Event(), asyncio.Event()
    upsert = runtime.search.upsert

    async def held_upsert(docs: Any) -> None:  # the sync worker's commit waits until the test lets it go
        held.set()
        await release.wait()
        await upsert(docs)

    runtime.search.upsert = held_upsert
    try:
        # as the CLI writes: through the service, without waiting for the index
        changed = await ProfileService().update(slug, Principal("rita", Role.REVIEWER), {"title": "Dorfladen Unterweiler"}, if_match=None,
                                                partial=True, require_if_match=False)
        runtime.sync.notify()
        await asyncio.wait_for(held.wait(), timeout=30)
        stale, commands = await _get(client, f"/profiles/{slug}.pdf")
        assert stale.status_code == 200 and stale.content == first.content and commands == []
    finally:
        release.set()
        runtime.search.upsert = upsert

    async def indexed_version() -> Any:
        doc = await runtime.search.document(profile_id, labels=ALL_DOCUMENTS_LABELS)
        return doc and doc["version"]

    assert await drained_index(runtime, indexed_version, changed.version, tries=300) == changed.version
    fresh, _ = await _get(client, f"/profiles/{slug}.pdf")
    assert fresh.status_code == 200 and "Dorfladen Unterweiler" in _text(fresh.content)


async def test_another_serving_process_serves_the_kept_file_and_still_checks_the_caller(client, app, auth, monkeypatch) -> None:
    """`leuchtturm serve --workers N`: a PDF one process rendered is kept on disk (DATA_DIR/cache/pdf); another
    process (here: the app with a fresh in-memory cache on the same directory) serves it without rendering, and
    only to callers allowed to read the profile (the store's read decides before the file is looked at)."""
    import api.controllers.pdf as pdf_controller
    from catalogue.pdf import PdfCache

    r = await client.post(API, json=publishable({"title": "Entwurf Dorfgemeinschaftshaus"}), headers=auth["editor"])
    assert r.status_code == 201, r.text
    slug = r.json()["slug"]
    own = await client.get(f"/profiles/{slug}.pdf", headers=auth["editor"])
    assert own.status_code == 200
    published, _ = await _published(client, auth, "Öffentliches Bürgerbüro")
    public = await client.get(f"/profiles/{published}.pdf")
    assert public.status_code == 200

    first = app.state[pdf_controller.PDF_CACHE]
    assert first.files is not None
    app.state[pdf_controller.PDF_CACHE] = PdfCache(files=first.files)  # the other process: nothing in its memory

    def no_render(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("rendered again although another process kept the file")

    monkeypatch.setattr(pdf_controller, "render_profile_overview", no_render)
    assert (await client.get(f"/profiles/{published}.pdf")).content == public.content
    for who in ("editor", "reviewer"):
        r = await client.get(f"/profiles/{slug}.pdf", headers=auth[who])
        assert r.status_code == 200 and r.content == own.content, who
    app.state[pdf_controller.PDF_CACHE] = PdfCache(files=first.files)
    for who in ("anon", "other"):  # the file is there, but they may not read the draft
        r = await client.get(f"/profiles/{slug}.pdf", headers=auth[who])
        assert r.status_code == 404 and not r.content.startswith(b"%PDF"), (who, r.text)
