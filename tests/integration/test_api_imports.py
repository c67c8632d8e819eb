"""Import upload over HTTP: preview, confirm, permissions, limits, malformed files."""

from __future__ import annotations

import json

import pytest

from catalogue.imports import ImportBatch
from catalogue.models import Profile
from catalogue.vocabularies import EditorialStatus
from tests.factories import STRUCTURED_TEXT

API = "/api/v1/imports"
PROBLEM = "application/problem+json"
STRUCTURED = STRUCTURED_TEXT


async def _upload(client, headers, name: str, content: bytes, **params):
    return await client.post(API, files={"file": (name, content, "text/plain")}, headers=headers, params=params)


async def test_preview_then_confirm(client, auth) -> None:
    r = await _upload(client, auth["editor"], "fundbuero.txt", STRUCTURED.read_bytes())
    assert r.status_code == 201, r.text
    batch = r.json()
    assert r.headers["location"] == f"{API}/{batch['id']}"
    assert batch["status"] == "preview" and batch["format"] == "structured" and batch["source_name"] == "fundbuero.txt"
    preview = batch["preview"]
    assert preview["dry_run"] and preview["summary"].startswith("Probelauf")
    record = preview["records"][0]
    assert record["action"] == "created" and record["slug"] == "gemeinsames-online-fundbuero"
    assert record["warnings"] and all(w["message"] for w in record["warnings"])
    assert await Profile.count() == 0  # nothing written yet

    r = await client.get(f"{API}/{batch['id']}", headers=auth["editor"])
    assert r.status_code == 200 and r.json()["preview"] == preview

    r = await client.post(f"{API}/{batch['id']}/confirm", headers=auth["editor"])
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "confirmed" and done["confirmed_by"] == "erika"
    assert done["result"]["summary"] == "1 neu, 0 geändert, 0 unverändert, 0 Dubletten übersprungen, 0 Fehler"
    p = await Profile.find_one(Profile.slug == "gemeinsames-online-fundbuero")
    assert p is not None and p.status == EditorialStatus.DRAFT and p.owner == "erika"

    r = await client.post(f"{API}/{batch['id']}/confirm", headers=auth["editor"])
    assert r.status_code == 409 and r.headers["content-type"].startswith(PROBLEM)

    # the same file again: the preview says unchanged
    r = await _upload(client, auth["editor"], "fundbuero.txt", STRUCTURED.read_bytes())
    assert r.json()["preview"]["records"][0]["action"] == "unchanged"


async def test_raw_body_upload_with_filename(client, auth) -> None:
    body = json.dumps({"title": "Rufbus im Amt Hüttener Berge", "state": "Schleswig-Holstein"}) + "\n"
    body += json.dumps({"title": "Gemeinsamer Bauhof Nordheide", "state": "Niedersachsen"}) + "\n"
    r = await client.post(API, content=body.encode(), params={"filename": "profile.ndjson"},
                          headers={**auth["editor"], "Content-Type": "application/x-ndjson"})
    assert r.status_code == 201, r.text
    assert r.json()["format"] == "ndjson" and r.json()["preview"]["counts"]["created"] == 2


async def test_only_owner_or_reviewer_sees_and_confirms(client, auth) -> None:
    batch = (await _upload(client, auth["editor"], "fundbuero.txt", STRUCTURED.read_bytes())).json()
    url = f"{API}/{batch['id']}"
    assert (await client.get(url)).status_code == 401
    r = await client.get(url, headers=auth["other"])
    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)
    assert (await client.post(f"{url}/confirm", headers=auth["other"])).status_code == 404
    assert (await client.get(url, headers=auth["reviewer"])).status_code == 200
    assert (await client.get(f"{API}/000000000000000000000000", headers=auth["editor"])).status_code == 404
    assert (await client.get(f"{API}/kein-import", headers=auth["editor"])).status_code == 400


async def test_publish_only_for_reviewers(client, auth) -> None:
    batch = (await _upload(client, auth["editor"], "fundbuero.txt", STRUCTURED.read_bytes())).json()
    r = await client.post(f"{API}/{batch['id']}/confirm", json={"publish": True}, headers=auth["editor"])
    assert r.status_code == 403 and r.headers["content-type"].startswith(PROBLEM)
    assert await Profile.count() == 0
    assert (await client.get(f"{API}/{batch['id']}", headers=auth["editor"])).json()["status"] == "preview"

    # the editorial office confirms the editor's upload and publishes it; the editor stays the owner
    r = await client.post(f"{API}/{batch['id']}/confirm", json={"publish": True}, headers=auth["reviewer"])
    assert r.status_code == 200, r.text
    assert r.json()["result"]["records"][0]["status"] == "published" and r.json()["confirmed_by"] == "rita"
    p = await Profile.find_one(Profile.slug == "gemeinsames-online-fundbuero")
    assert p is not None and p.owner == "erika" and p.version == 1 and p.last_change is not None and p.last_change.by == "rita"
    search = await client.get("/api/v1/search", params={"q": "Fundbüro"})
    assert search.status_code == 200 and "gemeinsames-online-fundbuero" in [h["slug"] for h in search.json()["hits"]]


async def test_gazetteer_upload_is_for_the_editorial_office(client, auth) -> None:
    csv = "Amtlicher Gemeindeschlüssel;Gemeindename;Fläche km2;Bevölkerung\n05762020;Höxter, Stadt;158,16;28.808\n"
    r = await _upload(client, auth["editor"], "gemeinden.csv", csv.encode(), format="gazetteer")
    assert r.status_code == 403 and r.headers["content-type"].startswith(PROBLEM)


async def test_too_large_is_413(client, auth) -> None:
    big = b"x" * (11 * 1024 * 1024)
    r = await _upload(client, auth["editor"], "gross.txt", big)
    assert r.status_code == 413 and r.headers["content-type"].startswith(PROBLEM)
    r = await client.post(API, content=big, params={"filename": "gross.txt"}, headers=auth["editor"])
    assert r.status_code == 413 and r.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("kaputt.json", b'[{"title": "Gemeinsamer Bauhof"}, {"title": '),
        ("binaer.pdf", b"%PDF-1.7\x00\x01\x02\x03" * 100),
        ("leer.ndjson", b'{not json}\n{"title": 5}\n'),
        ("feindlich.ndjson", b'{"title": "Bauhof", "keywords": [[1]], "lead": {"$gt": "", "a.b": 1}}\n{"title": {"$where": "1"}}\n'),
        ("latin1.txt", "Interkommunale Zusammenarbeit für Höxter\n\nStichworte:\nx".encode("latin-1")),
    ],
)
async def test_malformed_file_gives_record_errors_not_500(client, auth, name: str, content: bytes) -> None:
    r = await _upload(client, auth["editor"], name, content)
    assert r.status_code == 201, r.text
    records = r.json()["preview"]["records"]
    assert records and all(rec["action"] in ("error", "created") for rec in records)
    if name != "latin1.txt":
        assert any(rec["errors"] for rec in records)
        assert r.json()["preview"]["counts"]["error"] >= 1


async def test_bad_requests_are_problems(client, auth) -> None:
    r = await client.post(API, files={"andere": ("x.txt", b"abc", "text/plain")}, headers=auth["editor"])
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM)
    r = await client.post(API, content=b"", headers=auth["editor"])
    assert r.status_code == 422
    r = await _upload(client, auth["editor"], "x.txt", b"abc", format="docx")
    assert r.status_code == 400 and r.headers["content-type"].startswith(PROBLEM)
    r = await _upload(client, {}, "x.txt", b"abc")
    assert r.status_code == 401


async def test_expired_preview_cannot_be_confirmed(client, auth) -> None:
    batch = (await _upload(client, auth["editor"], "fundbuero.txt", STRUCTURED.read_bytes())).json()
    stored = await ImportBatch.get(batch["id"])
    assert stored is not None
    stored.expires_at = stored.created_at
    await stored.save()
    r = await client.post(f"{API}/{batch['id']}/confirm", headers=auth["editor"])
    assert r.status_code == 410 and r.headers["content-type"].startswith(PROBLEM)
    assert (await client.get(f"{API}/{batch['id']}", headers=auth["editor"])).json()["status"] == "expired"


async def test_openapi_lists_the_import_operations(client) -> None:
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200
    ops = {op.get("operationId") for path in r.json()["paths"].values() for op in path.values() if isinstance(op, dict)}
    assert {"createImport", "getImport", "confirmImport"} <= ops
