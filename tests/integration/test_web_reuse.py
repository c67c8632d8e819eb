"""The reuse pages without JavaScript: adoption on the profile page, hiding, stale marks and lists, search facet/sort/filter,
saved searches (issue 15). Real FerretDB and Tantivy; the municipalities are real bodies of the register excerpt, the rest invented."""

from __future__ import annotations

import re
from datetime import timedelta

from catalogue.access import Action
from catalogue.models import Profile, utcnow
from catalogue.outbox import enqueue
from catalogue.profiles import ProfileService
from catalogue.users import Principal, create_user
from catalogue.vocabularies import Role
from tests.factories import PASSWORD, example_profile
from tests.web_support import csrf_from, load_register_excerpt, unlabelled_controls

OWNER = Principal("olga", Role.EDITOR)


async def login(client, username: str) -> str:
    page = await client.get("/anmelden")
    r = await client.post("/anmelden", data={"username": username, "password": PASSWORD, "csrf_token": csrf_from(page.text)})
    assert r.status_code == 303, r.text
    return csrf_from((await client.get("/")).text)


async def _published(app, title: str) -> Profile:
    svc = ProfileService()
    profile = await svc.create(example_profile(title=title), OWNER)
    await svc.transition(profile.slug, Action.SUBMIT, OWNER)
    published = await svc.transition(profile.slug, Action.PUBLISH, Principal("rita", Role.REVIEWER))
    await app.state.runtime.sync.drain(app.state.runtime.search)
    return published


async def test_adoption_form_on_the_profile_page(app, client) -> None:
    await load_register_excerpt()
    await create_user("olga", PASSWORD, Role.EDITOR)
    await create_user("hanna", PASSWORD, Role.EDITOR, organisation="05762020")
    await create_user("norbert", PASSWORD, Role.EDITOR)
    await create_user("rita", PASSWORD, Role.REVIEWER)
    profile = await _published(app, "Gemeinsamer Bauhof Nethe")
    url = f"/profiles/{profile.slug}"

    anonymous = (await client.get(url)).text
    assert "Noch keine Kommune hat eingetragen" in anonymous and "Melden Sie sich an" in anonymous
    await login(client, "norbert")
    assert "muss Ihrem Konto Ihre Kommune zugeordnet sein" in (await client.get(url)).text
    client.cookies.clear()

    token = await login(client, "hanna")
    page = (await client.get(url)).text
    assert "Nutzt Höxter dieses Projekt nach?" in page and not unlabelled_controls(page)
    # without CSRF: refused, nothing written
    assert (await client.post(f"{url}/nachnutzung", data={"stage": "umgesetzt"})).status_code == 403
    # a missing stage and an over-long note: German messages next to the fields, what was typed is kept
    r = await client.post(f"{url}/nachnutzung", data={"csrf_token": token, "stage": "", "note": "Wir prüfen. " * 50, "contact": "Amt 1"})
    assert r.status_code == 422
    assert "Bitte wählen Sie einen Stand." in r.text and "höchstens 500 Zeichen" in r.text and 'value="Amt 1"' in r.text
    assert 'aria-invalid="true"' in r.text
    r = await client.post(f"{url}/nachnutzung", data={"csrf_token": token, "stage": "in Umsetzung", "note": "Start 2027", "contact": "bauhof@example.org"})
    assert r.status_code == 303 and r.headers["location"] == f"{url}?hinweis=nachnutzung#nachnutzung"
    page = (await client.get(r.headers["location"])).text
    assert "Die Nachnutzung Ihrer Kommune ist eingetragen" in page
    assert re.search(r"<strong>1</strong> Kommune in Umsetzung", page) and "Start 2027" in page and "Stand für Höxter ändern" in page

    # the search shows the count, the facet and the sort
    await app.state.runtime.sync.drain(app.state.runtime.search)
    other = await _published(app, "Digitaler Fundbürodienst")
    search = (await client.get("/", params={"sort": "adopted"})).text
    assert search.index(profile.title) < search.index(other.title)
    assert "von 1 Kommune nachgenutzt" in search and 'name="nachnutzung" value="in Umsetzung"' in search
    assert "am häufigsten nachgenutzt" in search
    filtered = (await client.get("/", params={"nachnutzung": "in Umsetzung"})).text
    assert profile.title in filtered and other.title not in filtered

    # a reviewer hides it
    client.cookies.clear()
    token = await login(client, "rita")
    r = await client.post(f"{url}/nachnutzung/05762020/ausblenden", data={"csrf_token": token, "hidden": "1"})
    assert r.status_code == 303
    client.cookies.clear()
    assert "Noch keine Kommune hat eingetragen" in (await client.get(url)).text


async def test_stale_marks_lists_and_one_click_confirm(app, client) -> None:
    await create_user("olga", PASSWORD, Role.EDITOR)
    await create_user("rita", PASSWORD, Role.REVIEWER)
    old = await _published(app, "Gemeinsamer Bauhof Nethe")
    fresh = await _published(app, "Digitaler Fundbürodienst")
    # the old one was published 13 months ago (set in the store, then re-indexed like any write)
    long_ago = utcnow() - timedelta(days=400)
    await Profile.get_pymongo_collection().update_one({"_id": old.id}, {"$set": {"published_at": long_ago}})
    await enqueue(str(old.id), old.slug)
    await app.state.runtime.sync.drain(app.state.runtime.search)

    page = (await client.get(f"/profiles/{old.slug}")).text
    assert "seit über 12 Monaten nicht bestätigt" in page
    assert "seit über 12 Monaten nicht bestätigt" not in (await client.get(f"/profiles/{fresh.slug}")).text
    results = (await client.get("/", params={"aktualitaet": "veraltet"})).text
    assert old.title in results and fresh.title not in results and "seit über 12 Monaten nicht bestätigt" in results
    current = (await client.get("/", params={"aktualitaet": "aktuell"})).text
    assert fresh.title in current and old.title not in current
    stalest = (await client.get("/", params={"sort": "confirmed"})).text
    assert stalest.index(old.title) < stalest.index(fresh.title)

    token = await login(client, "rita")
    review = (await client.get("/redaktion")).text
    assert "Seit über 12 Monaten nicht bestätigt" in review and old.title in review.split('id="veraltet"')[1].split("<h2")[0]
    client.cookies.clear()

    # the owner confirms in one click from "Meine Profile"
    token = await login(client, "olga")
    mine = (await client.get("/meine-profile")).text
    assert "bitte prüfen" in mine and ">Angaben aktuell<" in mine
    r = await client.post(f"/profiles/{old.slug}/aktion", data={"csrf_token": token, "action": "confirm"})
    assert r.status_code == 303
    await app.state.runtime.sync.drain(app.state.runtime.search)
    page = (await client.get(f"/profiles/{old.slug}")).text
    assert "Zuletzt bestätigt am" in page and "seit über 12 Monaten nicht bestätigt" not in page
    assert old.title not in (await client.get("/", params={"aktualitaet": "veraltet"})).text


async def test_saved_searches_page(app, client) -> None:
    await create_user("sven", PASSWORD, Role.EDITOR, email="sven@example.org")
    await _published(app, "Gemeinsamer Bauhof Nethe")
    assert (await client.get("/suchen")).status_code == 303  # login first
    token = await login(client, "sven")
    search = (await client.get("/", params={"q": "Bauhof", "seite": "1"})).text
    assert "Suche speichern" in search and 'name="query" value="q=Bauhof"' in search
    r = await client.post("/suchen", data={"csrf_token": token, "query": "q=Bauhof", "name": "Bauhöfe"})
    assert r.status_code == 303
    page = (await client.get("/suchen")).text
    assert "Bauhöfe" in page and 'href="/?q=Bauhof"' in page and not unlabelled_controls(page)
    r = await client.post("/suchen", data={"csrf_token": token, "query": "q=Bauhof", "name": "nochmal"})
    assert r.status_code == 409 and "schon gespeichert" in r.text
    sid = re.search(r'action="/suchen/([0-9a-f]+)/loeschen"', page).group(1)
    assert (await client.post(f"/suchen/{sid}/loeschen", data={"csrf_token": token})).status_code == 303
    assert "noch keine Suche gespeichert" in (await client.get("/suchen")).text


async def test_the_page_names_the_owner_of_the_profile_as_it_is_now(app, client) -> None:
    """The page reads the owner's user beside the profile, by the owner the index document names; a stale name is read again."""
    await load_register_excerpt()
    olga = await create_user("olga", PASSWORD, Role.EDITOR, organisation="05762020")
    await create_user("otto", PASSWORD, Role.EDITOR)
    assert olga.organisation is not None
    profile = await _published(app, "Gemeinsamer Bauhof Nethe")
    url = f"/profiles/{profile.slug}"
    expected = f"Eingetragen von: {olga.organisation.name}"
    assert expected in (await client.get(url)).text
    search = app.state.runtime.search
    indexed = await search.document(str(profile.id), labels=["public"])
    assert indexed is not None and indexed["owner"] == "olga"
    await search.upsert([{**indexed, "owner": "otto"}])  # as if the index had not caught up with a change of owner
    assert expected in (await client.get(url)).text
    await search.delete([str(profile.id)])  # not indexed (yet): the owner comes from the profile
    page = await client.get(url)
    assert page.status_code == 200 and expected in page.text
