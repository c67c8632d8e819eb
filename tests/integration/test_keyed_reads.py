"""Request paths query the store by `_id` only (data-layer rule 1, issue 10).

PyMongo's command monitoring records every command the driver sends while
a request is handled (a context variable marks the request's task, so the
sync worker running beside it is not counted). A find, update, delete,
findAndModify, count, distinct or aggregate with any filter other than
`{_id: <value>}` fails the test – on FerretDB 1.24 such a query decodes the
whole collection. On MongoDB a conditional filter on top of the `_id`
(`{_id, revision_id}`) is an index lookup and allowed.

The list endpoints `GET /api/v1/profiles`, `/meine-profile`, the review
queue `/redaktion` and the home page `/` read the search index
(catalogue/listing.py) and are checked here too, as are the municipality
register's request paths: the register API (names while one types, which
reads prefix key documents and binary-searches shorter ones; exact names;
one entry) and "Kommunen wie meine" by name or key, which read the name key
documents, the entry and the register's metadata by `_id`.
Also checked: the admin's user and token lists (key lists,
catalogue.keylists), an upload's preview and confirmation (import planning
through catalogue.profile_keys and the slug keys), search, comparable and
health.
"""

from __future__ import annotations

import contextvars
import html
import json
import re
from typing import Any

import pytest
from pymongo import monitoring

from catalogue import atomic, history
from catalogue.users import create_token, update_user
from tests.web_support import PASSWORD, csrf_from, load_register_excerpt, seed_users

API = "/api/v1/profiles"

_recording: contextvars.ContextVar[list[tuple[str, str, dict[str, Any]]] | None] = contextvars.ContextVar("store_commands", default=None)


async def recorded_request(client: Any, method: str, url: str, **kw: Any) -> tuple[Any, list[tuple[str, str, dict[str, Any]]]]:
    """The answer and every store command sent while it was made (the request's own task)."""
    commands: list[tuple[str, str, dict[str, Any]]] = []
    token = _recording.set(commands)
    try:
        r = await client.request(method, url, **kw)
    finally:
        _recording.reset(token)
    return r, commands


class _Recorder(monitoring.CommandListener):
    def started(self, event: monitoring.CommandStartedEvent) -> None:
        commands = _recording.get()
        if commands is not None:
            commands.append((event.database_name, event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


_RECORDER = _Recorder()
monitoring.register(_RECORDER)  # inert unless a test is recording (clients created from now on report to it)

HARMLESS = {"insert", "getMore", "killCursors", "endSessions", "ping", "hello", "isMaster", "ismaster"}


def _keyed(filt: Any) -> bool:
    if not isinstance(filt, dict) or "_id" not in filt:
        return False
    value = filt["_id"]
    if isinstance(value, dict):  # {"$in": …} and friends
        return False
    if atomic.mode().kind == atomic.StoreKind.FERRETDB:
        return set(filt) == {"_id"}  # FerretDB pushes down exactly this
    return True


def violations(commands: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    out = []
    for db, name, cmd in commands:
        if name in HARMLESS:
            continue
        if name == "find":
            filters = [cmd.get("filter", {})]
        elif name == "update":
            filters = [u.get("q", {}) for u in cmd.get("updates", [])]
        elif name == "delete":
            filters = [d.get("q", {}) for d in cmd.get("deletes", [])]
        elif name == "findAndModify":
            filters = [cmd.get("query", {})]
        else:
            out.append(f"{name} on {db}.{cmd.get(name)}")
            continue
        for f in filters:
            if not _keyed(f):
                out.append(f"{name} on {cmd.get(name)} with {f}")
    return out


class Requests:
    """Send requests and record the store commands each one causes."""

    def __init__(self, client) -> None:
        self.client = client
        self.report: dict[str, list[str]] = {}
        self.count = 0

    async def __call__(self, method: str, url: str, *, expect: int | tuple[int, ...], **kw: Any) -> Any:
        commands: list[tuple[str, str, dict[str, Any]]] = []
        token = _recording.set(commands)
        try:
            r = await self.client.request(method, url, **kw)
        finally:
            _recording.reset(token)
        expected = (expect,) if isinstance(expect, int) else expect
        assert r.status_code in expected, f"{method} {url}: {r.status_code} {r.text[:300]}"
        assert commands or method == "GET", f"{method} {url} sent no store command at all (is the recorder attached?)"
        self.count += 1
        bad = violations(commands)
        if bad:
            self.report[f"{method} {url}"] = bad
        return r


@pytest.fixture
async def world(client) -> dict[str, Any]:
    """Users, a token, a published profile with history, an editor's draft, a renamed profile, an import batch, a register excerpt."""
    await seed_users()
    await load_register_excerpt()
    _, editor_secret = await create_token("redaktion-hx", "probe")
    _, reviewer_secret = await create_token("pruefung", "probe")
    editor = {"Authorization": f"Bearer {editor_secret}"}
    reviewer = {"Authorization": f"Bearer {reviewer_secret}"}
    body = {"title": "Gemeinsamer Bauhof Nethe", "summary": "Drei Gemeinden teilen Fahrzeuge.", "fields_of_action": ["Daseinsvorsorge"],
            "lead": {"name": "Stadt Nethe", "kind": "Stadt"}, "state": "Nordrhein-Westfalen", "population": 12000,
            "project_status": "laufend", "contact": {"email": "bauhof@nethe.example"}}
    r = await client.post(API, json=body, headers=editor)
    published = r.json()["slug"]
    r = await client.patch(f"{API}/{published}", json={"summary": "Drei Gemeinden teilen Fahrzeuge und Personal."}, headers={**editor, "If-Match": r.headers["etag"]})
    await client.post(f"{API}/{published}/submit", headers=editor)
    await client.post(f"{API}/{published}/publish", headers=reviewer)
    other = (await client.post(API, json={**body, "title": "Rufbus Nethe", "fields_of_action": ["Mobilität & Verkehr"]}, headers=editor)).json()["slug"]
    await client.post(f"{API}/{other}/submit", headers=editor)
    await client.post(f"{API}/{other}/publish", headers=reviewer)
    renamed = (await client.post(API, json={**body, "title": "Alter Name"}, headers=editor)).json()["slug"]
    assert (await client.post(f"{API}/{renamed}/slug", json={"slug": "neuer-name"}, headers=reviewer)).status_code == 200
    draft = await client.post(API, json={**body, "title": "Entwurf Nethe"}, headers=editor)
    batch = await client.post(
        "/api/v1/imports", files={"file": ("x.ndjson", b'{"title": "Importprobe Nethe"}\n', "application/x-ndjson")}, headers=editor
    )
    assert batch.status_code == 201
    return {
        "editor": editor, "reviewer": reviewer, "published": published, "other": other, "renamed": renamed,
        "draft": draft.json()["slug"], "draft_etag": draft.headers["etag"], "batch": batch.json()["id"],
    }


async def test_request_paths_query_the_store_by_id_only(client, world) -> None:
    send = Requests(client)
    pub, other, draft = world["published"], world["other"], world["draft"]
    editor = world["editor"]

    # anonymous readers: profile page, API read by slug (also conditional), PDF, similar, comparison
    await send("GET", f"/profiles/{pub}", expect=200)
    r = await send("GET", f"{API}/{pub}", expect=200)
    await send("GET", f"{API}/{pub}", expect=304, headers={"If-None-Match": r.headers["etag"]})
    await send("GET", f"/profiles/{pub}.pdf", expect=200)
    await send("GET", f"{API}/{pub}/pdf", expect=200)
    await send("GET", f"{API}/{pub}/similar", expect=200)
    await send("GET", f"/compare?profiles={pub},{other}", expect=200)
    await send("GET", f"/compare.pdf?profiles={pub},{other}", expect=200)
    await send("GET", f"{API}/{world['renamed']}", expect=404)  # old slug of a draft: not revealed
    await send("GET", f"{API}/kein-solches-profil", expect=404)

    # token auth: API reads and writes, history and diffs, an import batch
    await send("GET", f"{API}/{draft}", expect=200, headers=editor)
    await send("GET", f"{API}/{world['renamed']}", expect=301, headers=editor)
    await send("GET", f"/profiles/{world['renamed']}", expect=301, headers=editor)
    await send("GET", f"{API}/{pub}/versions", expect=200, headers=editor)
    await send("GET", f"{API}/{pub}/versions/1", expect=200, headers=editor)
    await send("GET", f"{API}/{pub}/diff?from=1&to=3", expect=200, headers=editor)
    await send("GET", f"/api/v1/imports/{world['batch']}", expect=200, headers=editor)
    r = await send("PATCH", f"{API}/{draft}", expect=200, json={"summary": "Geändert."}, headers={**editor, "If-Match": world["draft_etag"]})
    await send("PATCH", f"{API}/{draft}", expect=412, json={"summary": "Veraltet."}, headers={**editor, "If-Match": world["draft_etag"]})
    await send("POST", API, expect=201, json={"title": "Gemeinsamer Bauhof Nethe", "summary": "Gleicher Titel."}, headers=editor)
    await send("POST", f"{API}/{draft}/confirm", expect=200, headers=editor)
    await send("POST", "/api/v1/auth/token", expect=201, json={"username": "pruefung", "password": PASSWORD})
    await send("POST", "/api/v1/auth/token", expect=401, json={"username": "pruefung", "password": "falsch-falsch"})

    # browser: login (failed and successful), session, editor form, history page with a comparison, logout
    page = await send("GET", "/anmelden", expect=200)
    await send("POST", "/anmelden", expect=401, data={"username": "redaktion-hx", "password": "falsch-falsch", "csrf_token": csrf_from(page.text)})
    page = await send("GET", "/anmelden", expect=200)
    await send("POST", "/anmelden", expect=303, data={"username": "redaktion-hx", "password": PASSWORD, "csrf_token": csrf_from(page.text)})
    await send("GET", f"/profiles/{pub}", expect=200)
    form = await send("GET", f"/profiles/{draft}/bearbeiten", expect=200)
    fields = {"csrf_token": csrf_from(form.text), "etag": html.unescape(re.search(r'name="etag" value="([^"]*)"', form.text).group(1))}
    await send("POST", f"/profiles/{draft}/bearbeiten", expect=303, data={**fields, "title": "Entwurf Nethe", "summary": "Im Formular geändert.", "action": "save"})
    await send("GET", f"/profiles/{pub}/versionen?von=1&bis=3", expect=200)
    await send("POST", f"/profiles/{draft}/aktion", expect=303, data={"csrf_token": fields["csrf_token"], "action": "submit"})
    await send("POST", "/abmelden", expect=303, data={"csrf_token": fields["csrf_token"]})

    # the lists (from the search index)
    await send("GET", API, expect=200)
    await send("GET", API, expect=200, params={"state": "Nordrhein-Westfalen", "sort": "title"}, headers=editor)
    page = await send("GET", "/anmelden", expect=200)
    await send("POST", "/anmelden", expect=303, data={"username": "redaktion-hx", "password": PASSWORD, "csrf_token": csrf_from(page.text)})
    await send("GET", "/meine-profile", expect=200)
    client.cookies.clear()  # another browser
    page = await send("GET", "/anmelden", expect=200)
    await send("POST", "/anmelden", expect=303, data={"username": "pruefung", "password": PASSWORD, "csrf_token": csrf_from(page.text)})
    await send("GET", "/redaktion", expect=200)

    # the home page and the municipality register: Kommunen wie meine by name, ambiguous name, key, unknown name; the register API
    home = await send("GET", "/", expect=200)
    assert 'list="gemeinden"' not in home.text and "<datalist" not in home.text  # no pick list of the whole register
    await send("GET", "/", expect=200, params={"q": "Bauhof", "feld": "Daseinsvorsorge", "sort": "titel"})
    r = await send("GET", "/", expect=200, params={"kommune": "Flensburg"})
    assert "Mittelstadt" in r.text and "Statistisches Bundesamt (Destatis)" in r.text
    r = await send("GET", "/", expect=200, params={"kommune": "Höxter"})
    assert "Welche Kommune meinen Sie?" in r.text
    for kommune in ("Höxter (05762020)", "Kreis Höxter", "Hoxter, Stadt", "05762", "Berlin"):
        r = await send("GET", "/", expect=200, params={"kommune": kommune})
        assert "Welche Kommune meinen Sie?" not in r.text and "steht nicht im" not in r.text, kommune
    r = await send("GET", "/", expect=200, params={"kommune": "Atlantis"})
    assert "steht nicht im" in r.text
    await send("GET", "/", expect=200, params={"kommune": "Atlantis", "einwohner": "30000", "land": "Bayern"})
    for q in ("höx", "Bad D", "Münst", "Flensburg, Stadt", "m", "05762020", ".*"):
        await send("GET", "/api/v1/municipalities", expect=200, params={"q": q})
    r = await send("GET", "/api/v1/municipalities", expect=200, params={"q": "Höxter", "exact": "true"})
    assert r.json()["ambiguous"] is True
    await send("GET", "/api/v1/municipalities", expect=200, params={"q": "Kreis Höxter", "exact": "true"})
    await send("GET", "/api/v1/municipalities/05762020", expect=200)
    await send("GET", "/api/v1/municipalities/010545453", expect=404)  # a Verband key not in the excerpt
    await send("GET", "/api/v1/municipalities/99999999", expect=404)

    # reuse (issue 15): adoption records and their list, hiding, the stale list, saved searches; the pages and forms
    await update_user("redaktion-hx", organisation="05762020")
    await send("POST", f"{API}/{pub}/adoptions", expect=201, json={"stage": "in Planung", "note": "Ratsbeschluss"}, headers=editor)
    await send("POST", f"{API}/{pub}/adoptions", expect=200, json={"stage": "umgesetzt"}, headers=editor)
    await send("GET", f"{API}/{pub}/adoptions", expect=200)
    await send("POST", f"{API}/{pub}/adoptions/05762020/hide", expect=200, json={"hidden": False}, headers=world["reviewer"])
    await send("GET", "/api/v1/stale", expect=200, headers=world["reviewer"])
    await send("POST", "/api/v1/saved-searches", expect=201, json={"query": "q=Bauhof"}, headers=editor)
    saved = await send("GET", "/api/v1/saved-searches", expect=200, headers=editor)
    await send("DELETE", f"/api/v1/saved-searches/{saved.json()[0]['id']}", expect=204, headers=editor)
    await send("GET", "/", expect=200, params={"nachnutzung": "umgesetzt", "aktualitaet": "veraltet", "sort": "adopted"})
    client.cookies.clear()
    page = await send("GET", "/anmelden", expect=200)
    await send("POST", "/anmelden", expect=303, data={"username": "redaktion-hx", "password": PASSWORD, "csrf_token": csrf_from(page.text)})
    page = await send("GET", f"/profiles/{pub}", expect=200)
    token = csrf_from(page.text)
    await send("POST", f"/profiles/{pub}/nachnutzung", expect=303, data={"csrf_token": token, "stage": "in Umsetzung", "note": "", "contact": ""})
    await send("POST", "/suchen", expect=303, data={"csrf_token": token, "query": "q=Rufbus", "name": "Rufbus"})
    await send("GET", "/suchen", expect=200)

    assert send.count >= 50
    assert not send.report, "store queries other than by _id on request paths:\n" + "\n".join(
        f"{path}: {bad}" for path, bad in send.report.items()
    )


async def test_the_recorder_catches_a_scan(client, world) -> None:
    """The check itself can fail: a query by a non-key field is reported."""
    from catalogue.models import Profile

    commands: list[tuple[str, str, dict[str, Any]]] = []
    token = _recording.set(commands)
    try:
        await Profile.find_one(Profile.slug == world["published"])
        await Profile.get_pymongo_collection().find_one({"_id": {"$in": ["a"]}})
        await Profile.get_pymongo_collection().count_documents({})
    finally:
        _recording.reset(token)
    assert len(violations(commands)) == 3


async def test_a_history_page_reads_only_its_page_s_keys(client, world) -> None:
    editor, slug = world["editor"], world["draft"]
    r = await client.get(f"{API}/{slug}", headers=editor)
    tag = r.headers["etag"]
    for n in range(24):  # 25 versions in all
        r = await client.patch(f"{API}/{slug}", json={"summary": f"Fassung {n}"}, headers={**editor, "If-Match": tag})
        tag = r.headers["etag"]

    async def version_reads(url: str, **kw: Any) -> tuple[Any, list[Any]]:
        commands: list[tuple[str, str, dict[str, Any]]] = []
        token = _recording.set(commands)
        try:
            r = await client.get(url, **kw)
        finally:
            _recording.reset(token)
        assert r.status_code == 200, r.text
        assert not violations(commands)
        return r, [c["filter"]["_id"] for _, name, c in commands if name == "find" and c.get("find") == "profile_versions"]

    r, first_keys = await version_reads(f"{API}/{slug}/versions", params={"page": 2, "per_page": 10}, headers=editor)
    assert [v["number"] for v in r.json()] == list(range(15, 5, -1)) and len(first_keys) == 10
    assert r.headers["x-total-count"] == "25" and 'rel="next"' in r.headers["link"]
    r, keys = await version_reads(f"{API}/{slug}/versions", headers=editor)
    # the newest comes with the profile; entries read once are remembered (written once: catalogue/history.py)
    assert [v["number"] for v in r.json()] == list(range(25, 0, -1)) and len(keys) == 24 - 10
    assert not set(keys) & set(first_keys)

    page = await client.get("/anmelden")
    await client.post("/anmelden", data={"username": "redaktion-hx", "password": PASSWORD, "csrf_token": csrf_from(page.text)})
    history.clear_cache()  # from here on, what each page reads when nothing is remembered
    r, keys = await version_reads(f"/profiles/{slug}/versionen", params={"seite": "2"})
    assert len(keys) == 5 and "Version 5:" in r.text and "Version 6:" not in r.text and "Neuere Versionen" in r.text
    history.clear_cache()
    r, keys = await version_reads(f"/profiles/{slug}/versionen", params={"von": "2", "bis": "24"})
    assert len(keys) == 19 + 2  # the first page (20 entries, the newest from the profile) and the two compared states
    assert "Ältere Versionen" in r.text


async def test_admin_lists_imports_and_health_query_the_store_by_id_only(client, world) -> None:
    """The paths that scanned until issue 10's last part: the admin's user and token lists (key lists), an
    upload's preview and confirmation (import planning through profile and slug keys), health and search."""
    from catalogue.users import create_user
    from catalogue.vocabularies import Role

    await create_user("admin-hx", PASSWORD, Role.ADMIN)
    _, admin_secret = await create_token("admin-hx", "probe")
    admin = {"Authorization": f"Bearer {admin_secret}"}
    editor = world["editor"]
    send = Requests(client)

    r = await send("GET", "/api/v1/users", expect=200, headers=admin)
    assert [u["username"] for u in r.json()] == ["admin-hx", "pruefung", "redaktion-hx"] and r.headers["x-total-count"] == "3"
    r = await send("GET", "/api/v1/users", expect=200, params={"page": 2, "per_page": 2}, headers=admin)
    assert [u["username"] for u in r.json()] == ["redaktion-hx"]
    await send("POST", "/api/v1/users", expect=201, json={"username": "neu-hx", "password": PASSWORD, "role": "editor"}, headers=admin)
    await send("POST", "/api/v1/users/neu-hx", expect=200, json={"active": False}, headers=admin)
    r = await send("GET", "/api/v1/tokens", expect=200, headers=admin)
    assert {t["username"] for t in r.json()} == {"admin-hx", "redaktion-hx", "pruefung"}
    created = await send("POST", "/api/v1/tokens", expect=201, json={"name": "zweites"}, headers=editor)
    r = await send("GET", "/api/v1/tokens", expect=200, headers=editor)
    assert {t["username"] for t in r.json()} == {"redaktion-hx"} and len(r.json()) == 2
    await send("DELETE", f"/api/v1/tokens/{created.json()['token_id']}", expect=200, headers=editor)
    assert await send("GET", "/api/v1/users", expect=403, headers=editor)

    # an upload: one record is new, one is the published profile again (same title and lead body), one
    # carries the slug of an existing profile
    records = [
        {"title": "Gemeinsame Vergabestelle Nethe", "summary": "Neu.", "lead": {"name": "Stadt Nethe", "kind": "Stadt"}},
        {"title": "Gemeinsamer Bauhof Nethe", "summary": "Noch einmal.", "lead": {"name": "Stadt Nethe", "kind": "Stadt"}},
        {"title": "Kita-Verbund Nethe", "slug": world["other"], "summary": "Mit vergebenem Kürzel."},
    ]
    body = "\n".join(json.dumps(r, ensure_ascii=False) for r in records).encode()
    r = await send("POST", "/api/v1/imports", expect=201, files={"file": ("x.ndjson", body, "application/x-ndjson")}, headers=editor)
    preview = r.json()
    actions = [rec["action"] for rec in preview["preview"]["records"]]
    assert actions.count("created") == 1 and actions.count("duplicate") == 1, preview["preview"]
    await send("GET", f"/api/v1/imports/{preview['id']}", expect=200, headers=editor)
    r = await send("POST", f"/api/v1/imports/{preview['id']}/confirm", expect=200, json={}, headers=editor)
    assert r.json()["status"] == "confirmed"

    await send("GET", "/api/v1/search", expect=200, params={"q": "Bauhof"})
    await send("GET", "/api/v1/comparable", expect=200, params={"population": 12000, "state": "Nordrhein-Westfalen"})
    await send("GET", "/health/ready", expect=200)

    assert not send.report, "store queries other than by _id on request paths:\n" + "\n".join(
        f"{path}: {bad}" for path, bad in send.report.items()
    )
