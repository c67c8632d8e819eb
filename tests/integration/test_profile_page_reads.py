"""The profile page's work per request (issue 10): what it renders once per revision, and the store reads it sends.

* The sections (Markdown rendered and sanitised, the field registry's display
  kinds) and the JSON-LD are rendered once per revision and kept
  (api/web/pages.py `profile_fragments`): an edit shows on the next read, the
  caller is checked on every read (a draft's kept fragments are never shown to
  someone without its label), and the kept HTML is as sanitised as a fresh one.
* A signed-in caller's user document is read once, with the session: not again
  for "my organisation", nor as the owner when the caller owns the profile.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from api.web import pages
from catalogue import sessions, users
from catalogue.access import Action
from catalogue.lru import LRU
from catalogue.profiles import ProfileService
from catalogue.users import Principal, create_user
from catalogue.vocabularies import Role
from tests.factories import PASSWORD, publishable
from tests.integration.test_keyed_reads import recorded_request, violations
from tests.web_support import csrf_from, load_register_excerpt

API = "/api/v1/profiles"
HOSTILE = (
    "Zwei Ämter teilen *eine* Anlage. <script>alert('x')</script> [Klick](javascript:alert(1)) "
    '<img src=x onerror="alert(2)">'
)


def _article(html: str) -> str:
    return html[html.index("<article"):html.index("</article>")]


def _safe(html: str) -> None:
    assert "<script>alert" not in html and 'href="javascript' not in html.lower() and "<img" not in html
    assert "&lt;script&gt;" in html


async def test_the_sections_are_rendered_once_per_revision_and_never_shown_to_a_caller_without_the_label(
    client, auth, monkeypatch
) -> None:
    renders: list[str] = []
    real = pages.page_sections

    def counted(profile: Any) -> Any:
        renders.append(str(profile.revision_id))
        return real(profile)

    monkeypatch.setattr(pages, "page_sections", counted)
    r = await client.post(API, json=publishable({"title": "Gemeinsame Kläranlage Probstei", "occasion": HOSTILE}), headers=auth["editor"])
    assert r.status_code == 201, r.text
    slug, tag = r.json()["slug"], r.headers["etag"]
    url = f"/profiles/{slug}"

    first = await client.get(url, headers=auth["editor"])
    assert first.status_code == 200 and "<em>eine</em>" in first.text
    _safe(_article(first.text))
    again = await client.get(url, headers=auth["editor"])
    assert again.status_code == 200 and _article(again.text) == _article(first.text)
    assert len(renders) == 1  # the second read used the kept fragments
    assert '"@type"' in again.text.split('<script type="application/ld+json">')[1].split("</script>")[0]

    # a draft's kept fragments: not for anonymous callers, nor for another editor; the reviewer sees it
    assert (await client.get(url)).status_code == 404
    assert (await client.get(url, headers=auth["other"])).status_code == 404
    assert (await client.get(url, headers=auth["reviewer"])).status_code == 200
    assert len(renders) == 1

    # an edit: the next read shows it (a new revision is rendered), the old text is gone
    r = await client.patch(f"{API}/{slug}", json={"occasion": "Drei Ämter teilen **zwei** Anlagen."},
                           headers={**auth["editor"], "If-Match": tag})
    assert r.status_code == 200, r.text
    edited = await client.get(url, headers=auth["editor"])
    assert "<strong>zwei</strong>" in edited.text and "<em>eine</em>" not in edited.text
    assert len(renders) == 2

    # published: the public sees the current revision
    assert (await client.post(f"{API}/{slug}/submit", headers=auth["editor"])).status_code == 200
    assert (await client.post(f"{API}/{slug}/publish", headers=auth["reviewer"])).status_code == 200
    public = await client.get(url)
    assert public.status_code == 200 and "<strong>zwei</strong>" in public.text and "nicht öffentlich sichtbar" not in public.text


async def test_kept_fragments_stay_sanitised_and_bounded(client, auth, monkeypatch) -> None:
    monkeypatch.setattr(pages, "PROFILE_FRAGMENTS", LRU(2))
    slugs = []
    for n in range(3):
        body = publishable({"title": f"Feuerwehrbedarfsplan Probstei {n}", "occasion": f"{HOSTILE} Fassung {n}."})
        r = await client.post(API, json=body, headers=auth["editor"])
        slugs.append(r.json()["slug"])
    for _ in range(2):  # first read renders, the second may come from the kept fragments: both sanitised
        for n, slug in enumerate(slugs):
            r = await client.get(f"/profiles/{slug}", headers=auth["editor"])
            assert r.status_code == 200 and f"Fassung {n}." in r.text
            _safe(_article(r.text))
    assert len(pages.PROFILE_FRAGMENTS._data) == 2  # bounded: the least recently read went


async def _page_commands(client, url: str) -> tuple[Any, list[tuple[str, str, dict[str, Any]]]]:
    r, commands = await recorded_request(client, "GET", url)
    assert r.status_code == 200, r.text
    assert not violations(commands)
    return r, commands


def _reads(commands: list[tuple[str, str, dict[str, Any]]], collection: str) -> int:
    return sum(1 for _, name, cmd in commands if name == "find" and cmd.get("find") == collection)


async def _sign_in(client, username: str) -> None:
    client.cookies.clear()
    page = await client.get("/anmelden")
    r = await client.post("/anmelden", data={"username": username, "password": PASSWORD, "csrf_token": csrf_from(page.text)})
    assert r.status_code == 303, r.text


@pytest.fixture
async def hoexter(app) -> str:
    """A published profile of hanna (Höxter), indexed; its page's address."""
    await load_register_excerpt()
    await create_user("hanna", PASSWORD, Role.EDITOR, organisation="05762020")  # Höxter
    await create_user("rita", PASSWORD, Role.REVIEWER)
    await create_user("wilma", PASSWORD, Role.EDITOR, organisation="05762036")  # Warburg
    svc = ProfileService()
    hanna, rita = Principal("hanna", Role.EDITOR), Principal("rita", Role.REVIEWER)
    profile = await svc.create(publishable({"title": "Bürgerbus Höxter"}), hanna)
    await svc.transition(profile.slug, Action.SUBMIT, hanna)
    await svc.transition(profile.slug, Action.PUBLISH, rita)
    await app.state.runtime.sync.drain(app.state.runtime.search)
    return f"/profiles/{profile.slug}"


def _forget_callers() -> None:
    """Nothing kept of sessions and users (catalogue/users.py keeps them for a few seconds)."""
    users.USERS.clear()
    sessions.SESSIONS.clear()


async def test_a_signed_in_callers_user_is_read_once_with_the_session(client, hoexter, monkeypatch) -> None:
    for cache in (users.USERS, sessions.SESSIONS):  # kept values do not expire during the test, however slow the machine
        monkeypatch.setattr(cache, "clock", lambda: 0.0)
    url = hoexter
    # anonymous: the owner's user, for "Eingetragen von"
    _forget_callers()
    r, commands = await _page_commands(client, url)
    assert "Eingetragen von: Höxter" in r.text and _reads(commands, "users") == 1

    # the owner, signed in: one read of her user (with the session), which is also the owner's
    await _sign_in(client, "hanna")
    _forget_callers()
    r, commands = await _page_commands(client, url)
    assert "Eingetragen von: Höxter" in r.text and "Nutzt Höxter dieses Projekt nach?" in r.text
    assert _reads(commands, "web_sessions") == 1 and _reads(commands, "users") == 1, commands

    # another signed-in caller: their own user (with the session) and the owner's
    await _sign_in(client, "rita")
    _forget_callers()
    r, commands = await _page_commands(client, url)
    assert "Eingetragen von: Höxter" in r.text and "Ausblenden" not in r.text
    assert _reads(commands, "web_sessions") == 1 and _reads(commands, "users") == 2, commands

    # again, with the session and both users kept: no read for them
    r, commands = await _page_commands(client, url)
    assert "Eingetragen von: Höxter" in r.text and "Ausblenden" not in r.text
    assert _reads(commands, "web_sessions") == 0 and _reads(commands, "users") == 0, commands


async def test_the_basket_on_every_page_reads_its_projects_side_by_side_and_only_their_titles(client, auth) -> None:
    slugs = []
    for title in ("Bürgerbus Probstei", "Dorfladen Probstei"):
        r = await client.post(API, json=publishable({"title": title}), headers=auth["editor"])
        slug = r.json()["slug"]
        assert (await client.post(f"{API}/{slug}/submit", headers=auth["editor"])).status_code == 200
        assert (await client.post(f"{API}/{slug}/publish", headers=auth["reviewer"])).status_code == 200
        slugs.append(slug)
    draft = (await client.post(API, json={"title": "Entwurf Probstei"}, headers=auth["editor"])).json()["slug"]
    client.cookies.set("lt_merkliste", ".".join([slugs[0], draft, slugs[1]]))

    r, commands = await _page_commands(client, f"/profiles/{slugs[1]}")
    basket = r.text[r.text.index('<section class="basket"'):]
    assert "Bürgerbus Probstei" in basket and "Dorfladen Probstei" in basket and "Entwurf Probstei" not in basket
    projected = [cmd for _, name, cmd in commands if name == "find" and cmd.get("find") == "profiles" and "title" in (cmd.get("projection") or {})]
    assert len(projected) == 3, commands  # the draft is read too, and dropped by the check


async def test_the_comparable_projects_are_searched_while_the_profile_is_read(app, client, auth, monkeypatch) -> None:
    """The panel's search starts from the indexed document before the profile read has answered (it is shown only
    after the caller is checked, and only for the profile's version: test_read_caches checks an edit is compared afresh)."""
    import catalogue.profiles as profiles_module

    svc = ProfileService()
    editor, reviewer = Principal("erika", Role.EDITOR), Principal("rita", Role.REVIEWER)
    made = []
    for title in ("Bürgerbus Probstei", "Bürgerbus Probstei-Nord"):
        profile = await svc.create(publishable({"title": title, "fields_of_action": ["Mobilität & Verkehr"]}), editor)
        await svc.transition(profile.slug, Action.SUBMIT, editor)
        made.append(await svc.transition(profile.slug, Action.PUBLISH, reviewer))
    await app.state.runtime.sync.drain(app.state.runtime.search)
    url = f"/profiles/{made[0].slug}"
    assert (await client.get(url)).status_code == 200  # the slug is remembered from now on

    searched = asyncio.Event()
    real_find, real_read = pages.find_comparable, profiles_module.read_profile

    async def find(*args: Any, **kw: Any) -> Any:
        searched.set()
        return await real_find(*args, **kw)

    async def read(profile_id: Any) -> Any:
        await asyncio.wait_for(searched.wait(), 20)  # the search has started before the profile is there
        return await real_read(profile_id)

    monkeypatch.setattr(pages, "find_comparable", find)
    monkeypatch.setattr(profiles_module, "read_profile", read)
    r = await client.get(url)
    assert r.status_code == 200 and "Bürgerbus Probstei-Nord" in r.text.split('id="vergleichbar"')[1]



async def test_a_page_does_not_ask_the_file_system_whether_its_templates_changed(client, hoexter, monkeypatch) -> None:
    """The templates are compiled once per process: a page read after the first sends no stat per template
    (with Jinja's auto_reload it sent one for each of the 5 to 8 templates a page uses)."""
    import os

    from api.web.templating import TEMPLATE_DIR

    assert (await client.get(hoexter)).status_code == 200  # compiled now
    asked: list[str] = []
    real_getmtime = os.path.getmtime

    def getmtime(name: Any) -> float:
        if str(name).startswith(str(TEMPLATE_DIR)):
            asked.append(str(name))
        return real_getmtime(name)

    monkeypatch.setattr(os.path, "getmtime", getmtime)
    r = await client.get(hoexter)
    assert r.status_code == 200 and "Eingetragen von" in r.text
    assert asked == []


async def test_an_anonymous_page_reads_the_adoption_summary_only_when_the_index_names_adopters(app, client, hoexter) -> None:
    url = hoexter
    r, commands = await _page_commands(client, url)
    assert "Noch keine Kommune hat eingetragen" in r.text
    assert _reads(commands, "adoption_summaries") == 0 and _reads(commands, "users") == 1  # the profile and its owner

    # a signed-in caller may have an entry of their own (also a hidden one): the summary is read
    await _sign_in(client, "wilma")
    r, commands = await _page_commands(client, url)
    assert "Nutzt Warburg dieses Projekt nach?" in r.text and _reads(commands, "adoption_summaries") == 1
    token = csrf_from(r.text)
    r = await client.post(f"{url}/nachnutzung", data={"csrf_token": token, "stage": "in Planung", "note": "Wir prüfen den Bus."})
    assert r.status_code == 303, r.text

    # the adopter's write was indexed before it was answered: an anonymous reader sees it at once
    client.cookies.clear()
    r, commands = await _page_commands(client, url)
    adoption = r.text[r.text.index('id="nachnutzung"'):r.text.index('id="vergleichbar"')]
    assert "Warburg" in adoption and "Wir prüfen den Bus." in adoption and _reads(commands, "adoption_summaries") == 1
