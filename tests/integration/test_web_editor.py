"""Editor area over plain HTML forms (no JavaScript): login, CSRF, the profile form, review, history."""

from __future__ import annotations

import re
from html import escape, unescape

import pytest

from tests.integration.test_keyed_reads import recorded_request  # (its command recorder is registered before the app's client)
from tests.web_support import PASSWORD, csrf_from, form_inputs_missing, marked_invalid, seed_users, unlabelled_controls

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def users(client) -> None:
    await seed_users()


async def login(client, username: str) -> None:
    page = await client.get("/anmelden")
    token = csrf_from(page.text)
    r = await client.post("/anmelden", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith("/")


def _form(html: str) -> dict[str, str]:
    """Hidden fields of the profile form."""
    return {
        "csrf_token": csrf_from(html),
        "etag": unescape(re.search(r'name="etag" value="([^"]*)"', html).group(1)),
    }


async def test_login_sets_secure_session_cookie_and_logout(client, users, app) -> None:
    page = await client.get("/anmelden")
    assert page.status_code == 200
    assert 'for="username"' in page.text and 'for="password"' in page.text
    r = await client.post("/anmelden", data={"username": "redaktion-hx", "password": PASSWORD, "csrf_token": csrf_from(page.text)})
    assert r.status_code == 303 and r.headers["location"].startswith("/meine-profile")
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("lt_session="))
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "Path=/" in cookie
    assert ("Secure" in cookie) == bool(app.state.settings.cookies_secure)
    mine = await client.get("/meine-profile")
    assert mine.status_code == 200 and "Meine Profile" in mine.text and "Abmelden" in mine.text
    # The session is stored server-side; the cookie holds only a random id.
    from catalogue.sessions import WebSession

    sessions = await WebSession.find_all().to_list()
    assert len(sessions) == 1 and sessions[0].username == "redaktion-hx"
    sid = client.cookies.get("lt_session")
    assert sid and sid not in sessions[0].sid_hash
    # logout needs the CSRF token
    r = await client.post("/abmelden", data={"csrf_token": csrf_from(mine.text)})
    assert r.status_code == 303
    assert await WebSession.find_all().count() == 0
    assert (await client.get("/meine-profile")).status_code in (302, 303)


async def test_wrong_password_message_and_rate_limit(client, users) -> None:
    page = await client.get("/anmelden")
    token = csrf_from(page.text)
    r = await client.post("/anmelden", data={"username": "redaktion-hx", "password": "falsch", "csrf_token": token})
    assert r.status_code == 401
    assert "Benutzername oder Passwort ist falsch" in r.text
    assert 'value="redaktion-hx"' in r.text  # the username stays typed
    for _ in range(6):
        r = await client.post("/anmelden", data={"username": "redaktion-hx", "password": "falsch", "csrf_token": token})
    assert r.status_code == 429
    assert "Zu viele fehlgeschlagene Anmeldungen" in r.text
    assert r.headers.get("retry-after")
    # even the right password is refused while blocked
    r = await client.post("/anmelden", data={"username": "redaktion-hx", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 429


async def test_login_without_csrf_is_rejected(client, users) -> None:
    await client.get("/anmelden")
    r = await client.post("/anmelden", data={"username": "redaktion-hx", "password": PASSWORD})
    assert r.status_code == 403
    assert "text/html" in r.headers["content-type"]
    assert "Formular ist abgelaufen" in r.text
    r = await client.post("/anmelden", data={"username": "redaktion-hx", "password": PASSWORD, "csrf_token": "x" * 40})
    assert r.status_code == 403


async def test_form_posts_without_csrf_are_rejected(client, users) -> None:
    await login(client, "redaktion-hx")
    r = await client.post("/meine-profile/neu", data={"title": "Ohne Token", "action": "save"})
    assert r.status_code == 403
    r = await client.post("/meine-profile/neu", data={"title": "Falsches Token", "action": "save", "csrf_token": "nope"})
    assert r.status_code == 403
    r = await client.post("/vorschau", data={"text": "**x**"})
    assert r.status_code == 403
    from catalogue.models import Profile

    assert await Profile.find_all().count() == 0


async def test_api_write_with_session_cookie_needs_csrf_header(client, users) -> None:
    await login(client, "redaktion-hx")
    r = await client.post("/api/v1/profiles", json={"title": "Über die API mit Cookie"})
    assert r.status_code == 401  # the cookie alone does not authenticate a write
    token = csrf_from((await client.get("/meine-profile")).text)
    r = await client.post("/api/v1/profiles", json={"title": "Über die API mit Cookie"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 201


async def test_pages_need_login(client, users) -> None:
    for path in ("/meine-profile", "/meine-profile/neu", "/redaktion"):
        r = await client.get(path)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/anmelden?weiter=")
    await login(client, "redaktion-hx")
    r = await client.get("/redaktion")
    assert r.status_code == 403 and "Berechtigung" in r.text


async def test_login_redirects_back_to_target_but_never_offsite(client, users) -> None:
    page = await client.get("/anmelden?weiter=%2Fmeine-profile%2Fneu")
    assert 'name="weiter" value="/meine-profile/neu"' in page.text
    r = await client.post(
        "/anmelden",
        data={"username": "redaktion-hx", "password": PASSWORD, "csrf_token": csrf_from(page.text), "weiter": "//evil.example/"},
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/meine-profile")


def registry_inputs() -> list[str]:
    """Every input the field registry declares for the form (the first row of each repeatable group)."""
    from api.web.forms import FORM_LEAVES, GROUP_FIELDS

    return [f.path for f in FORM_LEAVES] + [f"{g}.0.{sub}" for g, subs in GROUP_FIELDS.items() for sub in subs]


async def test_new_profile_form_lists_every_field_with_labels(client, users) -> None:
    from catalogue.fields import BY_PATH
    from catalogue.vocabularies import FieldOfAction, FundingKind, LegalForm

    await login(client, "redaktion-hx")
    html = (await client.get("/meine-profile/neu")).text
    expected = registry_inputs()
    assert len(expected) >= 40  # every field of the brief
    assert form_inputs_missing(html, expected) == []
    # every visible control has a label, and every field's German label is on the page
    assert unlabelled_controls(html) == []
    for path in expected:
        label = BY_PATH[re.sub(r"\.0\.", ".", path)].label
        assert escape(label) in html, (path, label)
    # vocabularies come from catalogue.vocabularies
    for value in [*FieldOfAction, *FundingKind, *LegalForm]:
        assert f'value="{escape(value.value)}"' in html
    assert "Handlungsfelder" in html and "Markdown" in html


async def test_form_checks_fail_on_a_broken_form(client, users) -> None:
    """The checks above can fail: a form without one input or one label is caught."""
    await login(client, "redaktion-hx")
    html = (await client.get("/meine-profile/neu")).text
    without_input = re.sub(r'<input id="f-contact-city"[^>]*>', "", html)
    assert form_inputs_missing(without_input, registry_inputs()) == ["contact.city"]
    without_label = html.replace('for="f-population-source"', 'for="anderswo"')
    assert unlabelled_controls(without_label) == ["f-population-source"]


FULL_FORM = {
    "title": "Gemeinsamer Bauhof Nethe",
    "summary": "Drei Städte teilen sich einen Bauhof.",
    "keywords": "Bauhof, IKZ",
    "fields_of_action": ["Verwaltung", "Daseinsvorsorge"],
    "lead.name": "Stadt Brakel",
    "lead.kind": "Stadt",
    "municipalities.0.name": "Stadt Nieheim",
    "municipalities.0.kind": "Stadt",
    "state": "Nordrhein-Westfalen",
    "population": "16.050",
    "population_as_of": "31.12.2019",
    "area_km2": "173,93",
    "occasion": "Maschinen standen **oft still**.",
    "funding.kinds": ["Eigenmittel"],
    "funding.amount_eur": "120.000",
    "collaboration_since": "2018",
    "contact.email": "bauhof@brakel.de",
    "project_status": "laufend",
    "action": "save",
}


async def test_validation_keeps_everything_typed(client, users) -> None:
    await login(client, "redaktion-hx")
    page = await client.get("/meine-profile/neu")
    data = {
        **FULL_FORM,
        **_form(page.text),
        "title": "Ba",
        "contact.email": "keine-mail",
        "collaboration_since": "1850",
        "links.0.title": "Strategie",
        "links.0.url": "ftp://falsch",
        "population": "viele",
    }
    r = await client.post("/meine-profile/neu", data=data)
    assert r.status_code == 422
    html = r.text
    assert "Bitte prüfen Sie die markierten Felder" in html
    # messages next to their fields
    for name in ("title", "contact.email", "collaboration_since", "links.0.url", "population"):
        ident = "f-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        assert f'id="{ident}-fehler"' in html, name
        assert marked_invalid(html, ident), name
    # the check can fail: a control without aria-invalid, or one that is valid, is not "marked"
    assert not marked_invalid(html.replace(' aria-invalid="true"', ""), "f-title")
    assert not marked_invalid(html, "f-summary")
    # typed content kept
    for value in ('value="Ba"', 'value="keine-mail"', 'value="viele"', 'value="ftp://falsch"', 'value="Strategie"',
                  'value="173,93"', 'value="Bauhof, IKZ"', "Maschinen standen **oft still**.", 'value="31.12.2019"'):  # fmt: skip
        assert value in html, value
    assert re.search(r'value="Verwaltung" checked', html)
    assert re.search(r'value="Stadt" selected', html)
    from catalogue.models import Profile

    assert await Profile.find_all().count() == 0


async def test_create_save_edit_submit_review_publish_history(client, users, app) -> None:
    await login(client, "redaktion-hx")
    page = await client.get("/meine-profile/neu")
    r = await client.post("/meine-profile/neu", data={**FULL_FORM, **_form(page.text)})
    assert r.status_code == 303
    edit_url = r.headers["location"].split("?")[0]
    assert edit_url == "/profiles/gemeinsamer-bauhof-nethe/bearbeiten"
    edit = await client.get(r.headers["location"])
    assert "Der Entwurf ist gespeichert" in edit.text
    assert 'value="16050"' in edit.text and 'value="173,93"' in edit.text and 'value="31.12.2019"' in edit.text

    from catalogue.models import Profile

    stored = await Profile.find_one(Profile.slug == "gemeinsamer-bauhof-nethe")
    assert stored.population == 16050 and stored.area_km2 == 173.93 and stored.funding.amount_eur == 120000
    assert stored.keywords == ["Bauhof", "IKZ"] and [m.name for m in stored.municipalities] == ["Stadt Nieheim"]

    # edit and submit in one go
    data = {**FULL_FORM, **_form(edit.text), "summary": "Drei Städte teilen sich einen Bauhof und Maschinen.", "action": "submit"}
    r = await client.post(edit_url, data=data)
    assert r.status_code == 303 and "eingereicht" in r.headers["location"]
    mine = await client.get("/meine-profile")
    assert "Eingereicht" in mine.text
    # not public yet
    await client.post("/abmelden", data={"csrf_token": csrf_from(mine.text)})
    assert (await client.get("/profiles/gemeinsamer-bauhof-nethe")).status_code == 404

    # reviewer: return with comment needs a comment
    await login(client, "pruefung")
    queue = await client.get("/redaktion")
    assert "Gemeinsamer Bauhof Nethe" in queue.text
    token = csrf_from(queue.text)
    r = await client.post("/redaktion/gemeinsamer-bauhof-nethe", data={"action": "return", "csrf_token": token})
    assert r.status_code == 422 and "Kommentar" in r.text
    r = await client.post("/redaktion/gemeinsamer-bauhof-nethe", data={"action": "publish", "csrf_token": token})
    assert r.status_code == 303
    # public now, and findable
    await app.state.runtime.sync.drain(app.state.runtime.search)
    await client.post("/abmelden", data={"csrf_token": token})
    assert (await client.get("/profiles/gemeinsamer-bauhof-nethe")).status_code == 200
    found = await client.get("/", params={"q": "Bauhof"})
    assert "/profiles/gemeinsamer-bauhof-nethe" in found.text

    # history with readable diff (owner)
    await login(client, "redaktion-hx")
    hist = await client.get("/profiles/gemeinsamer-bauhof-nethe/versionen")
    assert hist.status_code == 200
    assert "Version 4" in hist.text and "veröffentlicht" in hist.text
    assert "<ins>" in hist.text and "Kurzbeschreibung" in hist.text
    cmp = await client.get("/profiles/gemeinsamer-bauhof-nethe/versionen", params={"von": "1", "bis": "2"})
    assert "Unterschiede von Version 1 zu Version 2" in cmp.text
    assert "<ins>und Maschinen.</ins>" in cmp.text or "Maschinen" in cmp.text


async def test_return_with_comment_reaches_editor(client, users) -> None:
    await login(client, "redaktion-hx")
    page = await client.get("/meine-profile/neu")
    await client.post("/meine-profile/neu", data={**FULL_FORM, **_form(page.text), "action": "submit"})
    mine = await client.get("/meine-profile")
    await client.post("/abmelden", data={"csrf_token": csrf_from(mine.text)})
    await login(client, "pruefung")
    token = csrf_from((await client.get("/redaktion")).text)
    r = await client.post(
        "/redaktion/gemeinsamer-bauhof-nethe",
        data={"action": "return", "comment": "Bitte Ansprechperson ergänzen.", "csrf_token": token},
    )
    assert r.status_code == 303
    await client.post("/abmelden", data={"csrf_token": token})
    await login(client, "redaktion-hx")
    mine = await client.get("/meine-profile")
    assert "Bitte Ansprechperson ergänzen." in mine.text and "Zurückgegeben" in mine.text


async def test_concurrent_edit_gives_friendly_conflict_and_keeps_text(client, users) -> None:
    await login(client, "redaktion-hx")
    page = await client.get("/meine-profile/neu")
    await client.post("/meine-profile/neu", data={**FULL_FORM, **_form(page.text)})
    edit = await client.get("/profiles/gemeinsamer-bauhof-nethe/bearbeiten")
    stale = _form(edit.text)
    # someone else saves first
    r = await client.post("/profiles/gemeinsamer-bauhof-nethe/bearbeiten", data={**FULL_FORM, **stale, "summary": "Erste Fassung."})
    assert r.status_code == 303
    r = await client.post("/profiles/gemeinsamer-bauhof-nethe/bearbeiten", data={**FULL_FORM, **stale, "summary": "Meine Fassung."})
    assert r.status_code == 409
    assert "Jemand anderes hat dieses Profil gespeichert" in r.text
    assert "Meine Fassung." in r.text
    # the form now carries the current etag: saving again applies the typed version
    again = _form(r.text)
    assert again["etag"] != stale["etag"]
    r = await client.post("/profiles/gemeinsamer-bauhof-nethe/bearbeiten", data={**FULL_FORM, **again, "summary": "Meine Fassung."})
    assert r.status_code == 303


async def test_form_save_reads_the_profile_once(client, users) -> None:
    """The save reads the profile for the form's checks and writes from that read (no second read of it);
    the compare-and-set still reads the revision under the write lock, and a stale form still gets 409."""
    await login(client, "redaktion-hx")
    page = await client.get("/meine-profile/neu")
    await client.post("/meine-profile/neu", data={**FULL_FORM, **_form(page.text)})
    edit = await client.get("/profiles/gemeinsamer-bauhof-nethe/bearbeiten")
    r, commands = await recorded_request(
        client, "POST", "/profiles/gemeinsamer-bauhof-nethe/bearbeiten", data={**FULL_FORM, **_form(edit.text), "summary": "Zweite Fassung."}
    )
    assert r.status_code == 303
    reads = [cmd for _db, name, cmd in commands if name == "find" and cmd["find"] == "profiles"]
    assert len([c for c in reads if not c.get("projection")]) == 1, reads  # the whole profile, once
    assert len(reads) == 2, reads  # and its revision under the write lock
    r = await client.post("/profiles/gemeinsamer-bauhof-nethe/bearbeiten", data={**FULL_FORM, **_form(edit.text), "summary": "Alt."})
    assert r.status_code == 409 and "Alt." in r.text
    page = await client.get("/profiles/gemeinsamer-bauhof-nethe")
    assert "Zweite Fassung." in page.text


async def test_preview_without_js_and_preview_endpoint(client, users) -> None:
    await login(client, "redaktion-hx")
    page = await client.get("/meine-profile/neu")
    r = await client.post(
        "/meine-profile/neu",
        data={**_form(page.text), "title": "Vorschau", "goal": "Ein **klares** Ziel <script>alert(1)</script>", "action": "preview"},
    )
    assert r.status_code == 200
    assert "<strong>klares</strong>" in r.text and "<script>alert(1)" not in r.text
    assert "Ein **klares** Ziel" in r.text  # the typed text stays in the textarea
    from catalogue.models import Profile

    assert await Profile.find_all().count() == 0
    r = await client.post("/vorschau", data={"text": "- eins\n- [zwei](javascript:alert(1))", "csrf_token": csrf_from(page.text)})
    assert r.status_code == 200 and "<li>eins</li>" in r.text and "javascript:" not in r.text


async def test_add_row_without_js(client, users) -> None:
    await login(client, "redaktion-hx")
    page = await client.get("/meine-profile/neu")
    r = await client.post(
        "/meine-profile/neu",
        data={**_form(page.text), "title": "Reihen", "municipalities.0.name": "Stadt Warburg", "action": "add-municipalities"},
    )
    assert r.status_code == 200
    assert 'name="municipalities.1.name"' in r.text and 'value="Stadt Warburg"' in r.text
    assert re.search(r'name="municipalities.1.name"[^>]*autofocus', r.text)


async def test_editor_cannot_edit_submitted_or_others(client, users) -> None:
    from catalogue.users import create_user
    from catalogue.vocabularies import Role

    await create_user("andere", PASSWORD, Role.EDITOR)
    await login(client, "redaktion-hx")
    page = await client.get("/meine-profile/neu")
    await client.post("/meine-profile/neu", data={**FULL_FORM, **_form(page.text), "action": "submit"})
    r = await client.get("/profiles/gemeinsamer-bauhof-nethe/bearbeiten")
    assert r.status_code == 403 and "Katalogredaktion" in r.text
    mine = await client.get("/meine-profile")
    await client.post("/abmelden", data={"csrf_token": csrf_from(mine.text)})
    await login(client, "andere")
    r = await client.get("/profiles/gemeinsamer-bauhof-nethe/bearbeiten")
    assert r.status_code == 404
