"""JSON API for profiles: lifecycle, concurrency, permissions, hostile input, OpenAPI."""

from __future__ import annotations

import json
from typing import Any

import pytest

API = "/api/v1/profiles"
PROBLEM = "application/problem+json"

NEW = {
    "title": "Rufbus im Amt Hüttener Berge",
    "summary": "Ein Rufbus verbindet 16 Dörfer mit dem Bahnhof.",
    "fields_of_action": ["Mobilität & Verkehr"],
    "lead": {"name": "Amt Hüttener Berge", "kind": "Amt"},
    "state": "Schleswig-Holstein",
    "population": 15500,
    "occasion": "Der Linienbus fuhr **zweimal** am Tag.",
    "project_status": "laufend",
    "contact": {"phone": "04331 1234"},
}


async def _create(client, headers: dict[str, str], body: dict[str, Any] | None = None):
    r = await client.post(API, json=body or NEW, headers=headers)
    assert r.status_code == 201, r.text
    return r


async def test_lifecycle_over_http(client, auth) -> None:
    r = await _create(client, auth["editor"])
    body = r.json()
    slug = body["slug"]
    assert slug == "rufbus-im-amt-huettener-berge"
    assert r.headers["location"].endswith(f"/api/v1/profiles/{slug}")
    assert body["status"] == "draft" and body["size_class"] == "Kleinstadt"
    assert body["html"]["occasion"].strip() == "<p>Der Linienbus fuhr <strong>zweimal</strong> am Tag.</p>"

    # anonymous readers do not see drafts
    assert (await client.get(f"{API}/{slug}")).status_code == 404
    r = await client.post(f"{API}/{slug}/submit", headers=auth["editor"])
    assert r.status_code == 200 and r.json()["status"] == "submitted"
    r = await client.post(f"{API}/{slug}/publish", headers=auth["reviewer"])
    assert r.status_code == 200 and r.json()["status"] == "published"
    r = await client.get(f"{API}/{slug}")
    assert r.status_code == 200 and r.json()["owner"] is None  # private fields hidden from the public
    listing = (await client.get(API)).json()
    assert listing["total"] == 1 and listing["items"][0]["slug"] == slug

    versions = (await client.get(f"{API}/{slug}/versions", headers=auth["editor"])).json()
    assert [v["action"] for v in versions] == ["publish", "submit", "create"]
    assert (await client.get(f"{API}/{slug}/versions")).status_code == 401

    r = await client.post(f"{API}/{slug}/publish", headers=auth["reviewer"])
    assert r.status_code == 409 and r.headers["content-type"].startswith(PROBLEM)


async def test_two_editors_at_once_second_gets_412_nothing_lost(client, auth) -> None:
    slug = (await _create(client, auth["editor"])).json()["slug"]
    first = await client.get(f"{API}/{slug}", headers=auth["editor"])
    second = await client.get(f"{API}/{slug}", headers=auth["reviewer"])
    assert first.headers["etag"] == second.headers["etag"]

    r1 = await client.patch(f"{API}/{slug}", json={"summary": "Von Erika"}, headers={**auth["editor"], "If-Match": first.headers["etag"]})
    assert r1.status_code == 200
    r2 = await client.patch(f"{API}/{slug}", json={"title": "Von Rita"}, headers={**auth["reviewer"], "If-Match": second.headers["etag"]})
    assert r2.status_code == 412
    assert r2.headers["content-type"].startswith(PROBLEM)
    assert r2.json()["current_etag"] == r1.headers["etag"]

    now = (await client.get(f"{API}/{slug}", headers=auth["editor"])).json()
    assert now["summary"] == "Von Erika" and now["title"] == NEW["title"]
    # Missing If-Match: 428
    r = await client.put(f"{API}/{slug}", json=NEW, headers=auth["editor"])
    assert r.status_code == 428


async def test_version_diff_over_http(client, auth) -> None:
    r = await _create(client, auth["editor"])
    slug = r.json()["slug"]
    r = await client.patch(f"{API}/{slug}", json={"population": 16000, "keywords": ["Rufbus"]}, headers={**auth["editor"], "If-Match": r.headers["etag"]})
    diff = (await client.get(f"{API}/{slug}/diff?from=1&to=2", headers=auth["editor"])).json()
    assert {c["field"]: (c["old"], c["new"]) for c in diff["changes"]} == {"population": (15500, 16000), "keywords": ([], ["Rufbus"])}
    r = await client.get(f"{API}/{slug}/diff?from=1&to=9", headers=auth["editor"])
    assert r.status_code == 404


# --------------------------------------------------------------- permissions

# role -> action -> expected status, for a profile owned by "erika" in the state the action needs.
PERMISSIONS = {
    #            create view_draft edit submit publish return archive restore history
    "anon":     (401,   404,       401, 401,   401,    401,   401,    401,    404),
    "editor":   (201,   200,       200, 200,   403,    403,   403,    403,    200),
    "other":    (201,   404,       404, 404,   404,    404,   403,    404,    404),
    "reviewer": (201,   200,       200, 200,   200,    200,   200,    200,    200),
    "admin":    (201,   200,       200, 200,   200,    200,   200,    200,    200),
}
ACTIONS = ("create", "view_draft", "edit", "submit", "publish", "return", "archive", "restore", "history")


@pytest.mark.parametrize("role", list(PERMISSIONS))
async def test_permission_table(client, auth, role: str) -> None:
    h = auth[role]
    owner = auth["editor"]
    got: list[int] = []

    async def fresh(status: str) -> str:
        r = await _create(client, owner)
        slug = r.json()["slug"]
        steps = {"draft": [], "submitted": ["submit"], "published": ["submit", "publish"], "archived": ["submit", "publish", "archive"]}[status]
        for step in steps:
            who = owner if step == "submit" else auth["reviewer"]
            assert (await client.post(f"{API}/{slug}/{step}", headers=who)).status_code == 200
        return slug

    got.append((await client.post(API, json={**NEW, "title": f"Neu von {role}"}, headers=h)).status_code)
    got.append((await client.get(f"{API}/{await fresh('draft')}", headers=h)).status_code)
    slug = await fresh("draft")
    got.append((await client.patch(f"{API}/{slug}", json={"summary": "x"}, headers={**h, "If-Match": "*"})).status_code)
    got.append((await client.post(f"{API}/{await fresh('draft')}/submit", headers=h)).status_code)
    got.append((await client.post(f"{API}/{await fresh('submitted')}/publish", headers=h)).status_code)
    got.append((await client.post(f"{API}/{await fresh('submitted')}/return", json={"comment": "Bitte ergänzen"}, headers=h)).status_code)
    got.append((await client.post(f"{API}/{await fresh('published')}/archive", headers=h)).status_code)
    got.append((await client.post(f"{API}/{await fresh('archived')}/restore", headers=h)).status_code)
    got.append((await client.get(f"{API}/{await fresh('draft')}/versions", headers=h)).status_code)
    assert dict(zip(ACTIONS, got, strict=True)) == dict(zip(ACTIONS, PERMISSIONS[role], strict=True))


async def test_editor_cannot_edit_own_profile_after_submit(client, auth) -> None:
    slug = (await _create(client, auth["editor"])).json()["slug"]
    await client.post(f"{API}/{slug}/submit", headers=auth["editor"])
    r = await client.patch(f"{API}/{slug}", json={"summary": "später"}, headers={**auth["editor"], "If-Match": "*"})
    assert r.status_code == 409


async def test_revoked_and_bogus_tokens(client, auth) -> None:
    r = await client.post(API, json=NEW, headers={"Authorization": "Bearer lt_000000000000_" + "x" * 40})
    assert r.status_code == 401 and r.headers["content-type"].startswith(PROBLEM)
    r = await client.post(API, json=NEW, headers={"Authorization": "Basic abc"})
    assert r.status_code == 401


# --------------------------------------------------------------- hostile input


async def test_unknown_fields_and_every_invalid_field_are_named(client, auth) -> None:
    body = {**NEW, "title": "x", "population": -1, "contact": {"email": "keine-mail"}, "foo": 1, "status": "published"}
    r = await client.post(API, json=body, headers=auth["editor"])
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"title", "population", "contact.email", "foo", "status"}
    assert any(e["message"] == "Unbekanntes Feld: foo" for e in r.json()["errors"])


@pytest.mark.parametrize(
    "body",
    [
        {**NEW, "title": {"$gt": ""}},
        {**NEW, "$where": "function() { return true }"},
        {**NEW, "lead": {"name": {"$ne": None}}},
        {**NEW, "keywords": [{"$regex": ".*"}]},
        {**NEW, "state": {"$in": ["Bayern"]}},
    ],
)
async def test_mongodb_operators_in_bodies_are_rejected(client, auth, body) -> None:
    r = await client.post(API, json=body, headers=auth["editor"])
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize(
    "query",
    [
        "state[$gt]=",
        "state=%7B%22%24gt%22%3A%22%22%7D",
        "status[$ne]=draft",
        "field=%24where",
        "sort=%24natural",
        "per_page=100000",
        "page=-1",
    ],
)
async def test_mongodb_operators_in_query_strings(client, auth, query: str) -> None:
    slug = (await _create(client, auth["editor"])).json()["slug"]
    r = await client.get(f"{API}?{query}")
    # Either rejected as a bad parameter, or taken literally: never a leak of drafts.
    assert r.status_code in (200, 400), r.text
    if r.status_code == 200:
        assert slug not in r.text
    else:
        assert r.headers["content-type"].startswith(PROBLEM)


async def test_operator_lookalike_slug_is_literal(client) -> None:
    r = await client.get(API + "/%7B%22%24ne%22%3Anull%7D")
    assert r.status_code in (400, 404) and r.headers["content-type"].startswith(PROBLEM)


async def test_oversized_body_gives_413(client, auth) -> None:
    big = json.dumps({**NEW, "occasion": "x" * (10 * 1024 * 1024)})
    r = await client.post(API, content=big, headers={**auth["editor"], "Content-Type": "application/json"})
    assert r.status_code == 413 and r.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe\xfa", b'{"title": "\xc3\x28 ung\xfcltig"}', b""])
async def test_malformed_json_and_invalid_utf8_give_400(client, auth, raw: bytes) -> None:
    r = await client.post(API, content=raw, headers={**auth["editor"], "Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    assert (await client.get(API, headers=auth["editor"])).json()["total"] == 0  # nothing half-written


HOSTILE_MARKDOWN = [
    "<script>alert(1)</script>",
    "[klick](javascript:alert(1))",
    "[klick](JAVASCRIPT:alert(1))",
    "[klick](jav&#x61;script:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<img src=x onerror="alert(1)">',
    '<a href="#" onclick="alert(1)">x</a>',
    "![bild](javascript:alert(1))",
    "*" * 20000,
    ">" * 5000 + " tief",
    "- " * 3000 + "x",
    "[a](<javascript:alert(1)>)",
    "<javascript:alert(1)>",
]


@pytest.mark.parametrize("text", HOSTILE_MARKDOWN)
async def test_hostile_markdown_is_rendered_harmless(client, auth, text: str) -> None:
    r = await client.post(API, json={**NEW, "goal": text}, headers=auth["editor"])
    assert r.status_code == 201, r.text
    _assert_harmless_html(r.json()["html"]["goal"])


def _assert_harmless_html(html: str) -> None:
    """No script or style elements, no event handlers, only http(s)/mailto URLs."""
    from html.parser import HTMLParser

    class Check(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            assert tag not in ("script", "style", "iframe", "object", "embed", "img", "svg", "form")
            for name, value in attrs:
                assert not name.lower().startswith("on"), name
                if name in ("href", "src"):
                    assert (value or "").lower().startswith(("http://", "https://", "mailto:")), value

    Check().feed(html)


# --------------------------------------------------------------- OpenAPI


async def test_openapi_document_validates_against_openapi_31(client) -> None:
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation import OpenAPIV31SpecValidator

    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    assert spec["openapi"].startswith("3.1")
    validate(spec, cls=OpenAPIV31SpecValidator)
    ops = {op["operationId"] for path in spec["paths"].values() for op in path.values() if isinstance(op, dict) and "operationId" in op}
    assert {"listProfiles", "createProfile", "getProfile", "replaceProfile", "patchProfile", "publishProfile", "diffProfileVersions"} <= ops
    create = spec["paths"]["/api/v1/profiles"]["post"]
    media = create["requestBody"]["content"]["application/json"]
    assert media.get("examples") or media["schema"].get("examples")


async def test_a_writes_answer_is_what_the_next_read_gives(client, auth) -> None:
    """The store keeps times to the millisecond (BSON): a write's answer (and the copy the sync worker indexes
    without reading it back) must not carry microseconds the next read no longer has."""
    created = await _create(client, auth["editor"])
    slug = created.json()["slug"]
    assert created.json() == (await client.get(f"{API}/{slug}", headers=auth["editor"])).json()
    for n in range(3):
        tag = (await client.get(f"{API}/{slug}", headers=auth["editor"])).headers["etag"]
        r = await client.patch(f"{API}/{slug}", json={"summary": f"Fassung {n}"}, headers={**auth["editor"], "If-Match": tag})
        assert r.status_code == 200
        again = await client.get(f"{API}/{slug}", headers=auth["editor"])
        assert r.json() == again.json() and r.headers["etag"] == again.headers["etag"]
    submitted = await client.post(f"{API}/{slug}/submit", headers=auth["editor"])
    assert submitted.json() == (await client.get(f"{API}/{slug}", headers=auth["editor"])).json()
