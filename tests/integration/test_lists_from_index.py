"""Every list comes from the search index, with the caller's permission labels.

Real app (FerretDB, the sync worker running), on each search engine: Tantivy,
and Meilisearch when LEUCHTTURM_TEST_MEILI_URL is set. Editors must never
list, search or get similar/comparable results that include another
editor's unpublished profile, through any list endpoint, API or HTML;
reviewers see submitted profiles in the queue; anonymous callers see only
published ones. After a save, the writer's own lists show it
(read-your-writes), and a write still succeeds while the engine is down.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from catalogue.models import OutboxEntry, Profile
from catalogue.search.base import SearchError
from catalogue.settings import Settings
from catalogue.users import create_token, create_user
from catalogue.vocabularies import Role
from tests.factories import publishable
from tests.meili_support import engine_settings
from tests.web_support import PASSWORD, csrf_from

API = "/api/v1/profiles"

# Shares Handlungsfeld, Bundesland, keywords and words with every other profile below,
# so each would be a strong "comparable" candidate if it were visible.
COMMON: dict[str, Any] = {
    "summary": "Zebrastreifen sicher machen: ein gemeinsames Kataster der Querungshilfen.",
    "keywords": ["Zebrastreifen", "Verkehrssicherheit"],
    "fields_of_action": ["Mobilität & Verkehr"],
    "state": "Bayern",
    "population": 30_000,
    "lead": {"name": "Stadt Musterhausen", "kind": "Stadt"},
    "project_status": "laufend",
    "contact": {"email": "verkehr@musterhausen.example"},
}
PUBLISHED_TITLE = "Zebrastreifen-Kataster öffentlich"
SECRETS = {
    "draft": "Zebrastreifen-Kataster Geheimentwurf",
    "submitted": "Zebrastreifen-Kataster Eingereicht",
    "archived": "Zebrastreifen-Kataster Archiviert",
}


@pytest.fixture(params=["tantivy", pytest.param("meilisearch", marks=pytest.mark.meili)])
def settings(request: pytest.FixtureRequest, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The app's settings on each engine (Meilisearch: an index of this test's own, deleted afterwards)."""
    yield from engine_settings(request.param, settings, monkeypatch, "lists")


async def _token(username: str, role: Role) -> dict[str, str]:
    await create_user(username, PASSWORD, role)
    _, secret = await create_token(username, "test")
    return {"Authorization": f"Bearer {secret}"}


async def _browser(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver.local")


async def _login(browser: httpx.AsyncClient, username: str) -> None:
    page = await browser.get("/anmelden")
    r = await browser.post("/anmelden", data={"username": username, "password": PASSWORD, "csrf_token": csrf_from(page.text)})
    assert r.status_code == 303, r.text


@pytest.fixture
async def world(client, app) -> AsyncIterator[dict[str, Any]]:
    """erika's draft, submitted and archived profiles, one published profile, and who is who."""
    h = {
        "erika": await _token("erika", Role.EDITOR),
        "otto": await _token("otto", Role.EDITOR),
        "rita": await _token("rita", Role.REVIEWER),
        "anon": {},
    }
    slugs: dict[str, str] = {}
    r = await client.post(API, json={**COMMON, "title": PUBLISHED_TITLE}, headers=h["rita"])
    slugs["published"] = r.json()["slug"]
    for step in ("submit", "publish"):
        assert (await client.post(f"{API}/{slugs['published']}/{step}", headers=h["rita"])).status_code == 200
    for state, title in SECRETS.items():
        r = await client.post(API, json={**COMMON, "title": title}, headers=h["erika"])
        assert r.status_code == 201, r.text
        slugs[state] = r.json()["slug"]
    assert (await client.post(f"{API}/{slugs['submitted']}/submit", headers=h["erika"])).status_code == 200
    assert (await client.post(f"{API}/{slugs['archived']}/archive", headers=h["rita"])).status_code == 200
    browsers = {name: await _browser(app) for name in ("erika", "otto", "rita", "anon")}
    for name in ("erika", "otto", "rita"):
        await _login(browsers[name], name)
    try:
        yield {"headers": h, "slugs": slugs, "browsers": browsers}
    finally:
        for b in browsers.values():
            await b.aclose()


def _api_lists(slugs: dict[str, str]) -> list[str]:
    published = slugs["published"]
    return [
        API,
        f"{API}?per_page=100",
        f"{API}?status=draft",
        f"{API}?status=submitted",
        f"{API}?status=archived",
        f"{API}?state=Bayern&field=Mobilit%C3%A4t%20%26%20Verkehr&sort=title",
        f"{API}?sort=-updated&per_page=100",
        "/api/v1/search?q=Zebrastreifen",
        "/api/v1/search?q=Geheimentwurf",
        "/api/v1/search?state=Bayern&per_page=100",
        f"/api/v1/profiles/{published}/similar?limit=50",
        "/api/v1/comparable?population=30000&state=Bayern&fields=Mobilit%C3%A4t%20%26%20Verkehr&q=Zebrastreifen&limit=50",
    ]


def _html_lists(slugs: dict[str, str]) -> list[str]:
    return [
        "/",
        "/?q=Zebrastreifen",
        "/?q=Geheimentwurf",
        "/?land=Bayern&sort=newest",
        "/?q=Zebrastreifen&einwohner=30000&wie_land=Bayern",
        f"/profiles/{slugs['published']}",  # its "comparable projects"
    ]


def _leaks(text: str, slugs: dict[str, str]) -> list[str]:
    return [s for s in (*SECRETS.values(), *(slugs[k] for k in SECRETS)) if s in text]


async def test_no_list_shows_another_editors_unpublished_profiles(client, world) -> None:
    slugs, h, browsers = world["slugs"], world["headers"], world["browsers"]
    for who in ("otto", "anon"):
        for path in _api_lists(slugs):
            r = await client.get(path, headers=h[who])
            assert r.status_code == 200, (who, path, r.text)
            assert not _leaks(r.text, slugs), (who, path)
        for path in _html_lists(slugs):
            r = await browsers[who].get(path)
            assert r.status_code == 200, (who, path)
            assert not _leaks(r.text, slugs), (who, path)
    # the published profile is there for everyone: the lists do work
    for who in ("otto", "anon"):
        listing = (await client.get(API, headers=h[who])).json()
        assert [i["slug"] for i in listing["items"]] == [slugs["published"]] and listing["total"] == 1
        assert slugs["published"] in (await client.get("/api/v1/search?q=Zebrastreifen", headers=h[who])).text
    # otto's own list: nothing of erika's, even when asking for her drafts by name
    mine = (await client.get(f"{API}?mine=true&per_page=100", headers=h["otto"])).json()
    assert mine["total"] == 0 and mine["items"] == []
    r = await browsers["otto"].get("/meine-profile")
    assert r.status_code == 200 and not _leaks(r.text, slugs)
    assert (await browsers["otto"].get("/redaktion")).status_code == 403
    assert (await client.get(f"{API}?mine=true")).status_code == 401


async def test_owner_and_reviewers_see_what_they_may(client, world) -> None:
    slugs, h, browsers = world["slugs"], world["headers"], world["browsers"]
    mine = (await client.get(f"{API}?mine=true&per_page=100", headers=h["erika"])).json()
    assert {i["slug"] for i in mine["items"]} == {slugs[k] for k in SECRETS} and mine["total"] == 3
    assert {i["status"] for i in mine["items"]} == {"draft", "submitted", "archived"}
    assert all(i["owner"] == "erika" for i in mine["items"])
    page = (await browsers["erika"].get("/meine-profile")).text
    assert all(title in page for title in SECRETS.values())
    # the owner's general list: published profiles plus her own
    listing = (await client.get(f"{API}?per_page=100", headers=h["erika"])).json()
    assert {i["slug"] for i in listing["items"]} == set(slugs.values())
    assert next(i for i in listing["items"] if i["slug"] == slugs["published"])["owner"] is None  # not hers
    # reviewers: the queue shows the submitted profile, the lists every state
    queue = await browsers["rita"].get("/redaktion")
    assert queue.status_code == 200 and SECRETS["submitted"] in queue.text and SECRETS["archived"] in queue.text
    assert SECRETS["draft"] not in queue.text  # drafts are not for review
    submitted = (await client.get(f"{API}?status=submitted", headers=h["rita"])).json()
    assert [i["slug"] for i in submitted["items"]] == [slugs["submitted"]]
    every = (await client.get(f"{API}?per_page=100", headers=h["rita"])).json()
    assert every["total"] == 4
    # the public search and comparable projects stay published-only for everyone
    search = (await client.get("/api/v1/search?q=Zebrastreifen", headers=h["rita"])).json()
    assert [hit["slug"] for hit in search["hits"]] == [slugs["published"]]


async def test_published_it_shows_up_everywhere(client, world) -> None:
    """The negative checks above could not pass by accident: once published, the profile is in every list."""
    slugs, h, browsers = world["slugs"], world["headers"], world["browsers"]
    for step, who in (("submit", "erika"), ("publish", "rita")):
        assert (await client.post(f"{API}/{slugs['draft']}/{step}", headers=h[who])).status_code == 200
    for path in _api_lists(slugs):
        if "status=" in path:
            continue
        r = await client.get(path, headers=h["otto"])
        assert slugs["draft"] in r.text, path
    for path in ("/?q=Zebrastreifen", "/?q=Zebrastreifen&einwohner=30000&wie_land=Bayern", f"/profiles/{slugs['published']}"):
        assert f"/profiles/{slugs['draft']}" in (await browsers["anon"].get(path)).text, path


async def test_json_list_filters_sorts_pages_with_exact_total(client, app) -> None:
    rita = await _token("rita", Role.REVIEWER)
    titles = ["Bauhof Alpha", "Bauhof Beta", "Bauhof Gamma", "Bauhof Delta", "Rufbus Epsilon"]
    for n, title in enumerate(titles):
        body = publishable({"title": title, "state": "Bayern" if n < 4 else "Hessen", "fields_of_action": ["Daseinsvorsorge"]})
        slug = (await client.post(API, json=body, headers=rita)).json()["slug"]
        for step in ("submit", "publish"):
            assert (await client.post(f"{API}/{slug}/{step}", headers=rita)).status_code == 200
    first = (await client.get(f"{API}?state=Bayern&sort=title&per_page=3")).json()
    second = (await client.get(f"{API}?state=Bayern&sort=title&per_page=3&page=2")).json()
    assert first["total"] == second["total"] == 4
    assert [i["title"] for i in first["items"] + second["items"]] == ["Bauhof Alpha", "Bauhof Beta", "Bauhof Delta", "Bauhof Gamma"]
    backwards = (await client.get(f"{API}?sort=-title")).json()
    assert [i["title"] for i in backwards["items"]] == sorted(titles, reverse=True)
    for sort, descending in (("newest", True), ("-newest", False), ("updated", True), ("-created", False)):
        field_name = {"newest": "published_at", "updated": "updated_at", "created": "created_at"}[sort.lstrip("-")]
        stamps = [i[field_name] for i in (await client.get(f"{API}?sort={sort}")).json()["items"]]
        assert len(stamps) == 5 and stamps == sorted(stamps, reverse=descending), sort
    assert (await client.get(f"{API}?sort=$natural")).status_code == 400
    assert (await client.get(f"{API}?state=Bayern%22%20OR%20state%20%3D%20%22Hessen")).status_code == 400
    item = first["items"][0]
    assert item["url"].endswith(f"/profiles/{item['slug']}") and item["links_self"].endswith(f"{API}/{item['slug']}")
    assert item["status"] == "published" and item["published_at"] and item["state"] == "Bayern"


# ------------------------------------------------------------ read-your-writes


def _slow_index(app, monkeypatch, delay: float = 0.3) -> None:
    """Every index write of the sync worker takes `delay` longer (the real backend underneath)."""
    backend = app.state.runtime.search
    upsert = backend.upsert

    async def slow_upsert(docs):
        await asyncio.sleep(delay)
        await upsert(docs)

    monkeypatch.setattr(backend, "upsert", slow_upsert)


async def test_api_writer_sees_own_change_in_own_lists(client, app, monkeypatch) -> None:
    h = await _token("erika", Role.EDITOR)
    _slow_index(app, monkeypatch)
    r = await client.post(API, json={"title": "Dorfladen Version eins"}, headers=h)
    slug = r.json()["slug"]
    mine = (await client.get(f"{API}?mine=true", headers=h)).json()
    assert [i["title"] for i in mine["items"]] == ["Dorfladen Version eins"]
    r = await client.patch(f"{API}/{slug}", json={"title": "Dorfladen Version zwei"}, headers={**h, "If-Match": r.headers["etag"]})
    assert r.status_code == 200
    mine = (await client.get(f"{API}?mine=true", headers=h)).json()
    assert [(i["title"], i["version"]) for i in mine["items"]] == [("Dorfladen Version zwei", 2)]
    assert (await client.post(f"{API}/{slug}/submit", headers=h)).status_code == 200
    mine = (await client.get(f"{API}?mine=true", headers=h)).json()
    assert mine["items"][0]["status"] == "submitted"


async def test_form_writer_sees_own_change_on_meine_profile(client, app, monkeypatch) -> None:
    await create_user("erika", PASSWORD, Role.EDITOR)
    await _login(client, "erika")
    _slow_index(app, monkeypatch)
    form = await client.get("/meine-profile/neu")
    r = await client.post("/meine-profile/neu", data={"csrf_token": csrf_from(form.text), "title": "Gemeinsame Schulbuslinie"})
    assert r.status_code == 303, r.text
    assert "Gemeinsame Schulbuslinie" in (await client.get("/meine-profile")).text
    edit = await client.get(r.headers["location"])
    data = {
        "csrf_token": csrf_from(edit.text),
        "etag": edit.text.split('name="etag" value="')[1].split('"')[0].replace("&#34;", '"').replace("&quot;", '"'),
        "title": "Gemeinsame Schulbuslinie im Amt",
    }
    r = await client.post(r.headers["location"].split("?")[0], data=data)
    assert r.status_code == 303, r.text
    assert "Gemeinsame Schulbuslinie im Amt" in (await client.get("/meine-profile")).text


async def test_write_succeeds_while_the_engine_is_down(client, app, monkeypatch) -> None:
    h = await _token("erika", Role.EDITOR)
    backend = app.state.runtime.search
    upsert = backend.upsert

    async def down(docs):
        raise SearchError("Suchmaschine nicht erreichbar (Test)")

    monkeypatch.setattr(backend, "upsert", down)
    r = await client.post(API, json={"title": "Bürgerbus ohne Suche"}, headers=h)
    assert r.status_code == 201, r.text
    slug = r.json()["slug"]
    assert (await client.get(f"{API}/{slug}", headers=h)).json()["title"] == "Bürgerbus ohne Suche"
    assert await OutboxEntry.find_all().count() >= 1  # waiting for the engine
    monkeypatch.setattr(backend, "upsert", upsert)
    for _ in range(400):  # the worker retries with backoff (≤ 60 s); poll, never assert on time
        if (await client.get(f"{API}?mine=true", headers=h)).json()["total"] == 1:
            break
        await asyncio.sleep(0.1)
    assert (await client.get(f"{API}?mine=true", headers=h)).json()["items"][0]["slug"] == slug


async def test_an_entry_applied_before_its_write_landed_is_announced_again(client, app) -> None:
    """The outbox entry is written before the profile write; the worker may apply it in between."""
    from catalogue import outbox
    from catalogue.access import ALL_DOCUMENTS_LABELS
    from catalogue.profiles import ProfileService
    from catalogue.search.base import SearchQuery
    from catalogue.users import Principal

    rt = app.state.runtime
    profile = await ProfileService().create({"title": "Altes Heizwerk"}, Principal("erika", Role.EDITOR))
    await rt.sync.drain(rt.search)
    entry = await outbox.enqueue(str(profile.id), profile.slug)
    await rt.sync.drain(rt.search)  # applied (the old title) and deleted ...
    await Profile.get_pymongo_collection().update_one({"_id": profile.id}, {"$set": {"title": "Neues Heizwerk"}})  # ... then the write lands
    assert await rt.settle([outbox.Written(entry.id, str(profile.id), profile.slug)])
    hits = (await rt.search.search(SearchQuery(q="Heizwerk"), labels=ALL_DOCUMENTS_LABELS)).hits
    assert [h.title for h in hits] == ["Neues Heizwerk"]


async def test_list_items_are_what_the_validated_model_gives(client, app, world) -> None:
    """`api.schemas.profile_list_item` puts the item together without validating it (`model_construct`): for
    every listed profile, of each state, it is equal to the validated model, and its JSON serialises without a
    type warning (a listed value of another type than the model's)."""
    import warnings

    from api.schemas import ProfileList, ProfileListItem, profile_list_item
    from catalogue.listing import list_profiles
    from catalogue.search.base import Sort
    from catalogue.users import Principal

    base = "https://katalog.example"
    found = await list_profiles(app.state.runtime.search, Principal("rita", Role.REVIEWER), sort=Sort("updated"), per_page=100)
    assert {i.status.value for i in found.items} == {"published", "draft", "submitted", "archived"}
    for private in (False, True):
        items = [profile_list_item(i, base, include_private=private) for i in found.items]
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            built = ProfileList(items=items, total=found.total, page=1, per_page=100).model_dump_json()
        assert built == ProfileList.model_validate_json(built).model_dump_json()
        for item, listed in zip(items, found.items, strict=True):
            assert item == ProfileListItem.model_validate(item.model_dump())
            assert item.owner == (listed.owner if private else None) and item.url == f"{base}/profiles/{listed.slug}"
    body = (await client.get(f"{API}?per_page=100", headers=world["headers"]["rita"])).json()
    assert body == ProfileList.model_validate(body).model_dump(mode="json") and len(body["items"]) == 4


@pytest.mark.parametrize("by_itself", [False, True])
async def test_a_process_without_the_worker_loads_its_commit_off_the_event_loop(client, app, monkeypatch, by_itself: bool) -> None:
    """In a serving process without the sync worker, `settle` makes the index reader load the worker's commit
    (`follow`: files opened, a searcher built) in a thread, never on the event loop's thread; unless the reader
    does so at its next read by itself (Tantivy with the writer's count of commits mapped: one thread hop less)."""
    import threading

    from catalogue import outbox
    from catalogue.profiles import ProfileService
    from catalogue.users import Principal

    rt = app.state.runtime
    profile = await ProfileService().create({"title": "Dorfladen"}, Principal("erika", Role.EDITOR))
    entry = await outbox.enqueue(str(profile.id), profile.slug)
    await rt.sync.drain(rt.search)  # applied, as another process's worker would
    loop_thread = threading.current_thread()
    followed: list[threading.Thread] = []
    monkeypatch.setattr(rt.search, "follow", lambda: followed.append(threading.current_thread()))
    monkeypatch.setattr(rt.sync, "running", False)  # the worker runs elsewhere
    assert rt.search.follows_by_itself  # the embedded default maps the writer's count of commits
    monkeypatch.setattr(type(rt.search), "follows_by_itself", property(lambda _self: by_itself))
    assert await rt.settle([outbox.Written(entry.id, str(profile.id), profile.slug)])
    if by_itself:
        assert followed == []
    else:
        assert len(followed) == 1
        assert followed[0] is not loop_thread
