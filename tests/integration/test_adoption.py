"""Organisations of users and adoption ("Nachnutzung") over the API, on real FerretDB and Tantivy (issue 15).

The municipalities are real bodies of the register excerpt (Kreis Höxter);
the users, profiles and adoption notes are invented.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from catalogue.access import Action
from catalogue.adoption import Adoption, AdoptionSummary, record_key
from catalogue.notifications import Notification
from catalogue.profiles import ProfileService
from catalogue.users import Principal, create_token, create_user
from catalogue.vocabularies import Role
from tests.factories import PASSWORD, example_profile
from tests.integration.test_races import together
from tests.web_support import load_register_excerpt

API = "/api/v1"
HOEXTER, WARBURG, BRAKEL, MARIENMUENSTER = "05762020", "05762036", "05762016", "05762024"
KREIS_HOEXTER = "05762"
OWNER = Principal("olga", Role.EDITOR)


async def _user(name: str, organisation: str | None, role: Role = Role.EDITOR, email: str | None = None) -> dict[str, str]:
    await create_user(name, PASSWORD, role, organisation=organisation, email=email)
    _, secret = await create_token(name, "test")
    return {"Authorization": f"Bearer {secret}"}


async def _published(app, title: str = "Gemeinsamer Bauhof Nethe") -> str:
    svc = ProfileService()
    profile = await svc.create(example_profile(title=title), OWNER)
    await svc.transition(profile.slug, Action.SUBMIT, OWNER)
    await svc.transition(profile.slug, Action.PUBLISH, Principal("rita", Role.REVIEWER))
    await app.state.runtime.sync.drain(app.state.runtime.search)
    return profile.slug


@pytest.fixture
def settings(settings):  # the shared fixture, with the app's mail sender off: the queued mails stay to be looked at
    return settings.model_copy(update={"notifications": False})


@pytest.fixture
async def world(app, client, auth) -> dict:
    await load_register_excerpt()
    await create_user("olga", PASSWORD, Role.EDITOR, email="olga@example.org")
    return {
        "slug": await _published(app),
        "hoexter": await _user("hanna", HOEXTER),
        "hoexter2": await _user("hugo", "Stadt Höxter"),
        "warburg": await _user("wanda", "Warburg"),
        "nobody": await _user("norbert", None),
        **auth,
    }


async def test_admins_set_a_users_organisation_from_the_register(client, auth) -> None:
    await load_register_excerpt()
    r = await client.post(f"{API}/users", json={"username": "kim", "password": PASSWORD, "organisation": "Stadt Höxter"}, headers=auth["admin"])
    assert r.status_code == 201, r.text
    org = r.json()["organisation"]
    assert (org["key"], org["name"], org["size_class"], org["population"], org["state"]) == (HOEXTER, "Höxter", "Mittelstadt", 28808, "Nordrhein-Westfalen")

    # a name that fits two bodies is refused with both keys; an unknown one with a clear message
    r = await client.post(f"{API}/users/kim", json={"organisation": "Höxter"}, headers=auth["admin"])
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json"), r.text
    assert "05762020" in r.text and "05762" in r.text and "mehrdeutig" in r.text
    r = await client.post(f"{API}/users/kim", json={"organisation": "Atlantis"}, headers=auth["admin"])
    assert r.status_code == 422 and "nicht im Gemeindeverzeichnis" in r.json()["detail"]

    r = await client.post(f"{API}/users/kim", json={"organisation": KREIS_HOEXTER}, headers=auth["admin"])
    assert r.status_code == 200 and r.json()["organisation"]["name"] == "Kreis Höxter"
    assert (await client.post(f"{API}/users/kim", json={"organisation": ""}, headers=auth["admin"])).json()["organisation"] is None
    # only admins
    assert (await client.post(f"{API}/users/kim", json={"organisation": HOEXTER}, headers=auth["editor"])).status_code == 403


async def test_adoption_lifecycle_with_permissions_counts_search_and_owner_mail(app, client, world) -> None:
    slug = world["slug"]
    url = f"{API}/profiles/{slug}/adoptions"
    # not logged in, or without an organisation: refused
    assert (await client.post(url, json={"stage": "interessiert"})).status_code == 401
    r = await client.post(url, json={"stage": "interessiert"}, headers=world["nobody"])
    assert r.status_code == 403 and "keine Kommune" in r.json()["detail"]
    # bad input: unknown stage, note too long
    assert (await client.post(url, json={"stage": "vielleicht"}, headers=world["hoexter"])).status_code == 422
    assert (await client.post(url, json={"stage": "interessiert", "note": "x" * 501}, headers=world["hoexter"])).status_code == 422

    r = await client.post(url, json={"stage": "interessiert", "note": "Wir prüfen das für 2027.", "contact": "bauhof@example.org"}, headers=world["hoexter"])
    assert r.status_code == 201, r.text
    assert r.json()["organisation"]["key"] == HOEXTER and r.json()["revision"] == 1
    # a colleague of the same municipality changes the same record
    r = await client.post(url, json={"stage": "in Planung", "note": "Ratsbeschluss liegt vor."}, headers=world["hoexter2"])
    assert r.status_code == 200 and r.json()["revision"] == 2 and r.json()["recorded_by"] == "hugo"
    assert await Adoption.get(record_key(await _pid(slug), HOEXTER)) is not None
    # another municipality's user cannot write Höxter's record
    r = await client.post(url, json={"stage": "aufgegeben", "organisation": HOEXTER}, headers=world["warburg"])
    assert r.status_code == 403 and "eigene Kommune" in r.json()["detail"]
    assert (await client.post(url, json={"stage": "umgesetzt"}, headers=world["warburg"])).status_code == 201

    r = await client.get(url)
    assert r.status_code == 200
    body = r.json()
    assert body["counts"] == {"interessiert": 0, "in Planung": 1, "in Umsetzung": 0, "umgesetzt": 1, "aufgegeben": 0}
    assert [a["organisation"]["name"] for a in body["adopters"]] == ["Warburg", "Höxter"]  # most advanced first

    # the owner was told of both new records and of the stage change (German plain text with the link)
    mails = {n.id: n for n in await Notification.find_all().to_list()}
    assert len(mails) == 3 and {n.to for n in mails.values()} == {"olga@example.org"}
    first = next(n for n in mails.values() if n.id.endswith(":1") and HOEXTER in n.id)
    assert "Höxter trägt neu ein" in first.body and f"/profiles/{slug}#nachnutzung" in first.body

    # search: facet, filter and the sort "am häufigsten nachgenutzt"
    other = await _published(app, "Digitaler Fundbürodienst im Kreis")
    rt = app.state.runtime
    await rt.sync.drain(rt.search)
    r = await client.get(f"{API}/search", params={"sort": "adopted"})
    assert [h["slug"] for h in r.json()["hits"]] == [slug, other]
    facet = next(f for f in r.json()["facets"] if f["name"] == "adoption_stages")
    assert {v["value"]: v["count"] for v in facet["values"]} == {"in Planung": 1, "umgesetzt": 1}
    r = await client.get(f"{API}/search", params={"adoption_stage": "umgesetzt", "freshness": "aktuell"})
    assert [h["slug"] for h in r.json()["hits"]] == [slug]
    assert (await client.get(f"{API}/search", params={"freshness": "veraltet"})).json()["total"] == 0
    assert (await client.get(f"{API}/search", params={"adoption_stage": "vielleicht"})).status_code == 400

    # the stale list is for reviewers (nothing is stale yet)
    assert (await client.get(f"{API}/stale", headers=world["editor"])).status_code == 403
    r = await client.get(f"{API}/stale", headers=world["reviewer"])
    assert r.status_code == 200 and r.json() == []

    # reviewers hide an abusive record; editors may not
    hide = f"{url}/{WARBURG}/hide"
    assert (await client.post(hide, json={"reason": "Spam"}, headers=world["editor"])).status_code == 403
    r = await client.post(hide, json={"reason": "Spam"}, headers=world["reviewer"])
    assert r.status_code == 200 and r.json()["hidden"] is True
    public = (await client.get(url)).json()
    assert [a["organisation"]["key"] for a in public["adopters"]] == [HOEXTER] and public["counts"]["umgesetzt"] == 0
    assert len((await client.get(url, headers=world["reviewer"])).json()["adopters"]) == 2  # reviewers still see it
    # the municipality re-recording does not un-hide it
    await client.post(url, json={"stage": "in Umsetzung"}, headers=world["warburg"])
    assert [a["organisation"]["key"] for a in (await client.get(url)).json()["adopters"]] == [HOEXTER]
    await rt.sync.drain(rt.search)
    doc = (await client.get(f"{API}/search", params={"sort": "adopted"})).json()
    facet = next(f for f in doc["facets"] if f["name"] == "adoption_stages")
    assert {v["value"]: v["count"] for v in facet["values"]} == {"in Planung": 1}


async def _pid(slug: str) -> str:
    return str((await ProfileService().find(slug)).id)


async def test_adoptions_only_for_published_profiles(app, client, world) -> None:
    svc = ProfileService()
    draft = await svc.create(example_profile(title="Noch ein Entwurf"), OWNER)
    r = await client.post(f"{API}/profiles/{draft.slug}/adoptions", json={"stage": "interessiert"}, headers=world["hoexter"])
    assert r.status_code == 404  # a draft is not visible to them at all


async def test_concurrent_adoptions_lose_nothing(app, client, world) -> None:
    """Eight municipalities at once all land in the summary; ten writes of one municipality give one record."""
    slug = world["slug"]
    url = f"{API}/profiles/{slug}/adoptions"
    keys = ["05762004", "05762008", "05762012", BRAKEL, MARIENMUENSTER, "05762028", "05762032", "05762040"]
    headers = [await _user(f"user{n}", key) for n, key in enumerate(keys)]
    responses = await together([lambda h=h: client.post(url, json={"stage": "interessiert"}, headers=h) for h in headers])
    assert Counter(r.status_code for r in responses) == {201: 8}, [r.text for r in responses]
    summary = await AdoptionSummary.get(await _pid(slug))
    assert summary is not None and set(summary.entries) == set(keys)

    stages = ["interessiert", "in Planung", "in Umsetzung", "umgesetzt", "aufgegeben"] * 2
    responses = await together([
        lambda n=n: client.post(url, json={"stage": stages[n], "note": f"Änderung {n}"}, headers=world["hoexter"]) for n in range(10)
    ])
    assert Counter(r.status_code for r in responses) == {201: 1, 200: 9}, [r.text for r in responses]
    revisions = sorted(r.json()["revision"] for r in responses)
    assert revisions == list(range(1, 11))  # every write its own revision, none lost
    record = await Adoption.get(record_key(await _pid(slug), HOEXTER))
    summary = await AdoptionSummary.get(await _pid(slug))
    assert record is not None and summary is not None and record.revision == 10
    held = summary.entries[HOEXTER]
    assert held["revision"] == 10 and held["stage"] == record.stage.value and held["note"] == record.note
    assert len(summary.entries) == 9


async def test_openapi_lists_the_reuse_operations(client) -> None:
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation import OpenAPIV31SpecValidator

    spec = (await client.get("/schema/openapi.json")).json()
    validate(spec, cls=OpenAPIV31SpecValidator)
    ops = {op["operationId"] for path in spec["paths"].values() for op in path.values() if isinstance(op, dict) and "operationId" in op}
    assert {"listAdoptions", "recordAdoption", "hideAdoption", "listStaleProfiles", "listSavedSearches", "saveSearch", "deleteSavedSearch"} <= ops
    params = {p["name"] for p in spec["paths"]["/api/v1/search"]["get"]["parameters"]}
    assert {"adoption_stage", "freshness"} <= params
    assert {"adopted", "confirmed", "-confirmed"} <= set(spec["components"]["schemas"]["Sort"]["enum"])


async def test_a_crash_between_record_and_summary_is_repaired_by_the_sync_worker(app, client, world, monkeypatch) -> None:
    """The process dies after the record write, before the summary write: the outbox entry written first repairs it."""
    import catalogue.adoption as adoption

    slug = world["slug"]
    pid = await _pid(slug)
    url = f"{API}/profiles/{slug}/adoptions"
    rt = app.state.runtime

    async def dies(profile_id, record) -> None:
        raise RuntimeError("Prozess beendet")

    # first record of Höxter, then a changed stage: both times the summary write is lost
    for stage, revision in (("interessiert", 1), ("in Umsetzung", 2)):
        monkeypatch.setattr(adoption, "_publish_to_summary", dies)
        r = await client.post(url, json={"stage": stage, "note": "Wir übernehmen das."}, headers=world["hoexter"])
        assert r.status_code == 500
        monkeypatch.undo()
        record = await Adoption.get(record_key(pid, HOEXTER))
        assert record is not None and record.revision == revision, "the record itself was written"
        summary = await AdoptionSummary.get(pid)
        held = (summary.entries if summary else {}).get(HOEXTER)
        assert held is None or held["revision"] < revision, "the crash left the summary behind"
        # the worker applies the entry written before the record (retrying if it met the "crash" too)
        for _ in range(100):
            await rt.sync.drain(rt.search)
            summary = await AdoptionSummary.get(pid)
            if summary is not None and summary.entries.get(HOEXTER, {}).get("revision") == revision:
                break
            await asyncio.sleep(0.2)
        assert summary is not None and summary.entries[HOEXTER]["revision"] == revision
        assert summary.entries[HOEXTER]["stage"] == stage
    # the profile page's list and the search document follow the repaired summary
    r = await client.get(url)
    assert r.status_code == 200 and [a["stage"] for a in r.json()["adopters"]] == ["in Umsetzung"], r.text
    r = await client.get(f"{API}/search", params={"adoption_stage": "in Umsetzung"})
    assert [h["slug"] for h in r.json()["hits"]] == [slug], r.text


async def test_an_adoption_entry_waits_for_its_record_to_land(app, client, world) -> None:
    """The entry is written before the record: the worker leaves it until that revision is stored."""
    import catalogue.adoption as adoption
    from catalogue import outbox

    slug = world["slug"]
    pid = await _pid(slug)
    rt = app.state.runtime
    key = record_key(pid, WARBURG)
    await rt.sync.drain(rt.search)
    with outbox.recording() as written:
        await outbox.enqueue(pid, slug, adoption=(key, 1))
    assert await rt.sync.drain(rt.search) == 0, "the record is not there yet: the entry waits"
    assert (await adoption.read_records([key])) == {}
    r = await client.post(f"{API}/profiles/{slug}/adoptions", json={"stage": "in Planung"}, headers=world["warburg"])
    assert r.status_code == 201
    await rt.sync.drain(rt.search)
    assert await rt.sync.wait_applied(written)
