"""The read paths' caches never show an old state (issue 10's performance work).

* slug → profile id is remembered per process (catalogue.profiles.SlugIds):
  a rename, and a slug key re-pointed after its profile vanished, are seen on
  the next read;
* Markdown is rendered once per text (catalogue.markdown.render_html), so
  an edit shows its new HTML at once;
* the cached PDF is looked up by the profile's revision read from the
  store (api/controllers/pdf.py), so an edit gives a new PDF at once;
* "vergleichbare Projekte" (page and similar) compare with the indexed
  search document only when it holds the profile's version
  (catalogue.search.comparable.profile_reference), so an edit is compared as
  it is on the next read.
"""

from __future__ import annotations

import json

import pytest
from beanie import PydanticObjectId

from catalogue import profile_keys
from catalogue.errors import NotFound, ProfileMoved
from catalogue.models import Profile, ProfileSlug
from catalogue.profiles import SLUG_IDS, ProfileService, etag
from catalogue.users import Principal
from catalogue.vocabularies import Role
from tests.factories import publishable

API = "/api/v1/profiles"
NEW = {"title": "Gemeinsame Kläranlage Probstei", "summary": "Zwei Ämter teilen eine Anlage.", "occasion": "Zwei Ämter teilen *eine* Anlage."}
EDITOR = Principal(username="erika", role=Role.EDITOR)


async def test_an_edit_is_visible_on_the_next_read_of_the_api_the_html_and_the_pdf(client, auth) -> None:
    r = await client.post(API, json=NEW, headers=auth["editor"])
    assert r.status_code == 201, r.text
    slug = r.json()["slug"]
    first = await client.get(f"{API}/{slug}", headers=auth["editor"])
    assert "<em>eine</em>" in first.json()["html"]["occasion"]
    pdf_before = await client.get(f"/profiles/{slug}.pdf", headers=auth["editor"])
    again = await client.get(f"/profiles/{slug}.pdf", headers=auth["editor"])
    assert pdf_before.status_code == again.status_code == 200 and again.content == pdf_before.content  # served from the cache

    r = await client.patch(
        f"{API}/{slug}", json={"occasion": "Drei Ämter teilen **zwei** Anlagen."}, headers={**auth["editor"], "If-Match": first.headers["etag"]}
    )
    assert r.status_code == 200, r.text
    after = await client.get(f"{API}/{slug}", headers=auth["editor"])
    assert after.json()["occasion"] == "Drei Ämter teilen **zwei** Anlagen."
    assert "<strong>zwei</strong>" in after.json()["html"]["occasion"] and "<em>eine</em>" not in after.json()["html"]["occasion"]
    pdf_after = await client.get(f"/profiles/{slug}.pdf", headers=auth["editor"])
    assert pdf_after.status_code == 200 and pdf_after.content != pdf_before.content


async def test_a_rename_is_seen_by_a_remembered_slug(client, auth) -> None:
    r = await client.post(API, json=NEW, headers=auth["editor"])
    slug, tag = r.json()["slug"], r.headers["etag"]
    assert (await client.get(f"{API}/{slug}", headers=auth["editor"])).status_code == 200  # remembered now
    r = await client.post(f"{API}/{slug}/slug", json={"slug": "klaeranlage-probstei-neu"}, headers={**auth["reviewer"], "If-Match": tag})
    assert r.status_code == 200, r.text
    old = await client.get(f"{API}/{slug}", headers=auth["editor"], follow_redirects=False)
    assert old.status_code in (301, 308) and old.headers["location"].endswith("/klaeranlage-probstei-neu")
    pdf = await client.get(f"/profiles/{slug}.pdf", headers=auth["editor"], follow_redirects=False)
    assert pdf.status_code in (301, 308)


async def test_a_remembered_slug_whose_profile_is_gone_is_read_afresh(db) -> None:
    service = ProfileService()
    first = await service.create(NEW, EDITOR, slug="klaeranlage-probstei")
    assert (await service.find("klaeranlage-probstei")).id == first.id  # remembered
    # The profile vanishes and its slug key is taken over by another profile (an orphaned reservation).
    second = await service.create({**NEW, "title": "Kläranlage Probstei, zweiter Anlauf"}, EDITOR)
    await Profile.get_pymongo_collection().delete_one({"_id": first.id})
    await ProfileSlug.get_pymongo_collection().update_one({"_id": "klaeranlage-probstei"}, {"$set": {"profile_id": second.id}})
    assert (await service.find("klaeranlage-probstei")).id == second.id
    with pytest.raises(ProfileMoved):  # the key names the second profile, whose slug is another
        await service.get("klaeranlage-probstei", EDITOR)
    await ProfileSlug.get_pymongo_collection().delete_one({"_id": "klaeranlage-probstei"})
    SLUG_IDS.forget("klaeranlage-probstei")
    with pytest.raises(NotFound):
        await service.find("klaeranlage-probstei")


async def test_a_claim_of_a_profile_that_gave_its_identity_up_is_taken_over(db) -> None:
    """An import claims its record's source id; a claim whose profile no longer has that source id is free."""
    from catalogue.models import Provenance, utcnow

    held = await service_create_with_source("quelle-1")
    lost = await profile_keys.claim([(Provenance(importer="test", source_id="quelle-1"), PydanticObjectId(), "erika")], utcnow())
    assert lost == {0: held.slug}  # the holder still has that source id
    # another editor's import of the same record is planned as a profile of its own (issue 13): its claim is its own
    assert await profile_keys.claim([(Provenance(importer="test", source_id="quelle-1"), PydanticObjectId(), "otto")], utcnow()) == {}
    await Profile.get_pymongo_collection().update_one({"_id": held.id}, {"$set": {"provenance.source_id": "quelle-2"}})
    assert await profile_keys.claim([(Provenance(importer="test", source_id="quelle-1"), PydanticObjectId(), "erika")], utcnow()) == {}


async def service_create_with_source(source_id: str) -> Profile:
    from catalogue.models import Provenance
    from catalogue.profiles import NewProfile, validate_content

    result = await ProfileService().create_many(
        [NewProfile(content=validate_content(NEW), slug="klaeranlage-quelle", provenance=Provenance(importer="test", source_id=source_id))], EDITOR
    )
    profile = result.items[0]
    assert isinstance(profile, Profile)
    return profile


async def test_the_history_shows_each_new_version_after_remembered_ones(client, auth) -> None:
    """History entries are written once and remembered; the newest comes from the profile itself."""
    r = await client.post(API, json=NEW, headers=auth["editor"])
    slug, tag = r.json()["slug"], r.headers["etag"]
    for n in range(3):
        r = await client.patch(f"{API}/{slug}", json={"summary": f"Fassung {n + 2}."}, headers={**auth["editor"], "If-Match": tag})
        assert r.status_code == 200, r.text
        tag = r.headers["etag"]
        versions = (await client.get(f"{API}/{slug}/versions", headers=auth["editor"])).json()
        assert [v["number"] for v in versions] == list(range(n + 2, 0, -1))
        assert versions[0]["fields"] == ["summary"] and versions[-1]["action"] == "create"
        state = (await client.get(f"{API}/{slug}/versions/{n + 1}", headers=auth["editor"])).json()
        assert state["content"]["summary"] == (NEW["summary"] if n == 0 else f"Fassung {n + 1}.")


async def test_similar_and_the_page_compare_with_the_profile_as_it_is_now(app, client) -> None:
    """The reference for "vergleichbare Projekte" is the indexed document only when it holds the profile's version."""
    from catalogue.access import Action

    reviewer = Principal(username="rita", role=Role.REVIEWER)
    svc = ProfileService()
    slugs = []
    for title, keywords in (("Glasfaser für alle Ortsteile", ["Glasfaser"]), ("Klärschlamm und Glasfaser im Verbund", ["Glasfaser", "Klärschlamm"])):
        p = await svc.create(publishable({"title": title, "keywords": keywords}), reviewer)
        await svc.transition(p.slug, Action.SUBMIT, reviewer)
        await svc.transition(p.slug, Action.PUBLISH, reviewer)
        slugs.append(p.slug)
    rt = app.state.runtime
    await rt.sync.drain(rt.search)

    async def reasons() -> tuple[list[str], str]:
        r = await client.get(f"{API}/{slugs[0]}/similar")
        assert r.status_code == 200, r.text
        other = next(i for i in r.json()["items"] if i["slug"] == slugs[1])
        page = await client.get(f"/profiles/{slugs[0]}")
        assert page.status_code == 200, page.text
        return other["reasons"], page.text

    found, html = await reasons()
    assert "gemeinsames Stichwort: Glasfaser" in found and "gemeinsames Stichwort: Glasfaser" in html

    # an edit is compared as it is at once, whether or not the index has it yet
    current = await svc.find(slugs[0])
    profile = await svc.update(slugs[0], reviewer, {"keywords": ["Klärschlamm"]}, if_match=etag(current), partial=True)
    found, html = await reasons()
    assert "gemeinsames Stichwort: Klärschlamm" in found and "gemeinsames Stichwort: Glasfaser" not in found
    assert "gemeinsames Stichwort: Klärschlamm" in html
    await rt.sync.drain(rt.search)
    indexed = await rt.search.document(str(profile.id), labels=["public"])
    assert indexed is not None and indexed["version"] == profile.version and indexed["keywords"] == ["Klärschlamm"]

    # the indexed document is what is compared when it holds this version, and only then
    await rt.search.upsert([{**indexed, "keywords": ["Glasfaser"]}])
    assert "gemeinsames Stichwort: Glasfaser" in (await reasons())[0]
    await rt.search.upsert([{**indexed, "keywords": ["Glasfaser"], "version": profile.version - 1}])
    found, html = await reasons()
    assert "gemeinsames Stichwort: Klärschlamm" in found and "gemeinsames Stichwort: Glasfaser" not in found


async def test_the_caller_is_checked_before_the_profile_although_both_are_read_at_once(client, auth) -> None:
    """The API read, the history and similar read the caller and the profile side by side; the caller's error still comes first."""
    r = await client.post(API, json=NEW, headers=auth["editor"])
    slug = r.json()["slug"]
    bad = {"Authorization": "Bearer lt_000000000000_abcdefghijklmnopqrstuvwxyz"}
    for path in (f"{API}/{slug}", f"{API}/gibt-es-nicht", f"{API}/{slug}/versions", f"{API}/gibt-es-nicht/versions",
                 f"{API}/{slug}/similar", f"{API}/gibt-es-nicht/similar"):
        r = await client.get(path, headers=bad)
        assert r.status_code == 401, (path, r.status_code, r.text)
    assert (await client.get(f"{API}/gibt-es-nicht", headers=auth["editor"])).status_code == 404
    assert (await client.get(f"{API}/{slug}")).status_code == 404  # a draft, anonymously
    assert (await client.get(f"{API}/{slug}/versions")).status_code == 404
    assert (await client.get(f"{API}/{slug}/versions", headers=auth["reviewer"])).status_code == 200
    assert (await client.get(f"{API}/{slug}/versions", headers=auth["editor"])).status_code == 200
    assert (await client.get(f"/profiles/{slug}", headers=bad)).status_code == 401


async def test_the_api_read_serves_its_body_per_revision_and_view_but_checks_the_caller_on_every_read(client, auth, monkeypatch) -> None:
    """The encoded body of `GET /api/v1/profiles/{slug}` is kept per (profile, revision, private view).

    A second read of the same revision is not built again; a write (new ETag)
    is served at once; a draft's cached body is never shown to a caller who
    may not see it; the public view of a published profile never carries the
    private fields of a cached owner's view.
    """
    from api.controllers import profiles as controller
    from api.schemas import profile_out

    built: list[tuple[str, bool]] = []

    def counting(profile, base_url, *, include_private=False):
        built.append((str(profile.revision_id), include_private))
        return profile_out(profile, base_url, include_private=include_private)

    monkeypatch.setattr(controller, "profile_out", counting)
    r = await client.post(API, json=publishable(NEW), headers=auth["editor"])
    slug, tag = r.json()["slug"], r.headers["etag"]
    built.clear()  # the answer to the POST is built by the write
    first = await client.get(f"{API}/{slug}", headers=auth["editor"])
    again = await client.get(f"{API}/{slug}", headers=auth["editor"])
    assert first.status_code == again.status_code == 200 and first.headers["etag"] == again.headers["etag"] == tag
    assert first.content == again.content and first.json()["owner"] == "erika"
    assert len(built) == 1  # the second read of this revision came from the cache
    assert first.headers["content-type"].startswith("application/json")
    # the caller is checked before the cache: a draft stays hidden from the public and from another editor
    assert (await client.get(f"{API}/{slug}")).status_code == 404
    assert (await client.get(f"{API}/{slug}", headers=auth["other"])).status_code == 404
    assert (await client.get(f"{API}/{slug}", headers=auth["reviewer"])).json()["owner"] == "erika"
    assert (await client.get(f"{API}/{slug}", headers={**auth["editor"], "If-None-Match": tag})).status_code == 304

    # a write is served on the next read, never the cached older revision
    r = await client.patch(f"{API}/{slug}", json={"title": "Gemeinsame Kläranlage Hohwacht"}, headers={**auth["editor"], "If-Match": tag})
    assert r.status_code == 200, r.text
    after = await client.get(f"{API}/{slug}", headers=auth["editor"])
    assert after.headers["etag"] == r.headers["etag"] != tag
    assert after.json()["title"] == "Gemeinsame Kläranlage Hohwacht" and after.json()["version"] == first.json()["version"] + 1
    assert (await client.get(f"{API}/{slug}", headers={**auth["editor"], "If-None-Match": tag})).status_code == 200

    # published: the public view is its own entry, without the owner, provenance or review comments
    for action, headers in (("submit", auth["editor"]), ("publish", auth["reviewer"])):
        current = (await client.get(f"{API}/{slug}", headers=headers)).headers["etag"]
        assert (await client.post(f"{API}/{slug}/{action}", headers={**headers, "If-Match": current})).status_code == 200
    private = await client.get(f"{API}/{slug}", headers=auth["editor"])
    public = await client.get(f"{API}/{slug}")
    assert private.json()["owner"] == "erika" and public.json()["owner"] is None and public.json()["provenance"] is None
    assert private.headers["etag"] == public.headers["etag"]
    assert {k: v for k, v in private.json().items() if k not in ("owner", "provenance", "review_comments")} == {
        k: v for k, v in public.json().items() if k not in ("owner", "provenance", "review_comments")
    }
    assert (await client.get(f"{API}/{slug}")).content == public.content
    assert built[-2:] == [(built[-1][0], True), (built[-1][0], False)]


async def test_similar_parses_no_profile_when_the_index_holds_its_version(app, client, auth, monkeypatch) -> None:
    """`/similar` reads a projection of the stored profile; the whole profile only when the index lags behind it."""
    from catalogue import profiles as profiles_module
    from catalogue.access import Action

    reviewer = Principal(username="rita", role=Role.REVIEWER)
    svc = ProfileService()
    p = await svc.create(publishable({"title": "Glasfaser für alle Ortsteile", "keywords": ["Glasfaser"]}), reviewer)
    await svc.transition(p.slug, Action.SUBMIT, reviewer)
    p = await svc.transition(p.slug, Action.PUBLISH, reviewer)
    draft = (await client.post(API, json=NEW, headers=auth["editor"])).json()["slug"]
    rt = app.state.runtime
    await rt.sync.drain(rt.search)

    parsed: list[object] = []
    real = profiles_module.read_profile

    async def counting(profile_id):
        parsed.append(profile_id)
        return await real(profile_id)

    monkeypatch.setattr(profiles_module, "read_profile", counting)
    r = await client.get(f"{API}/{p.slug}/similar")
    assert r.status_code == 200, r.text
    assert parsed == []  # the indexed document is the reference; the profile was read as a projection only
    # the index holds an older version: the profile is read whole (and checked again) and the reference built from it
    indexed = await rt.search.document(str(p.id), labels=["public"])
    assert indexed is not None
    await rt.search.upsert([{**indexed, "version": p.version - 1}])
    assert (await client.get(f"{API}/{p.slug}/similar")).status_code == 200
    assert parsed == [p.id]
    # a draft is hidden from the public and from another editor, and shown to its owner
    assert (await client.get(f"{API}/{draft}/similar")).status_code == 404
    assert (await client.get(f"{API}/{draft}/similar", headers=auth["other"])).status_code == 404
    assert (await client.get(f"{API}/{draft}/similar", headers=auth["editor"])).status_code == 200


async def test_the_api_view_is_put_together_without_validating_again_and_gives_the_json_of_a_validated_one(db) -> None:
    """`profile_out` builds `ProfileOut` with `model_construct` from the profile's validated values: the encoded body
    equals that of the same view validated afresh, for every demo and fixture profile, public and private, and
    serialising it warns of no value of an unexpected type."""
    import warnings
    from datetime import UTC, datetime
    from uuid import uuid4

    from litestar.plugins.pydantic import PydanticInitPlugin
    from litestar.serialization import encode_json, get_serializer

    from api.schemas import ProfileOut, profile_out
    from catalogue.models import CONTENT_FIELDS, ReviewComment
    from tests.fixtures.profiles import buergerbus, fundbuero, longest
    from tests.web_support import demo_profiles

    sources = [*demo_profiles(), fundbuero(), buergerbus(), longest()]
    now = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    serializer = get_serializer(PydanticInitPlugin.encoders())  # as the app's routes encode (Litestar's default Pydantic plugin)
    for n, source in enumerate(sources):
        content = {k: v for k, v in source.items() if k in CONTENT_FIELDS}
        profile = Profile.model_validate({
            **content, "_id": PydanticObjectId(), "slug": f"profil-{n}", "status": "published", "owner": "erika", "version": 4,
            "revision_id": uuid4(), "created_at": now, "updated_at": now, "published_at": now,
            "provenance": {"importer": "demo", "source": "https://quelle.example/seite", "source_title": "Quelle", "retrieved_at": now},
            "review_comments": [ReviewComment(at=now, by="rita", text="Bitte ergänzen.").model_dump()],
        })
        for private in (False, True):
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # pydantic warns when a value does not have its field's type
                built = encode_json(profile_out(profile, "https://leuchtturm.example", include_private=private), serializer)
            validated = ProfileOut.model_validate(json.loads(built))
            assert built == encode_json(validated, serializer), (source.get("slug"), private)
            assert json.loads(built)["title"] == profile.title
