"""Races on the key lists and profile keys (issue 10, no scans on request paths), with real concurrent requests.

The users list and each user's token list are one document each
(catalogue.keylists), changed with `$addToSet`/`$pull` through
catalogue.atomic – on FerretDB a read-then-write under the store's write
lock, on MongoDB one atomic update. Concurrent creations must all land in
the list; none may be lost. An upload's preview and confirmation find
existing profiles through catalogue.profile_keys, written with every
profile write: after concurrent confirmations, a later upload finds the
record's profile by them.
"""

from __future__ import annotations

import json
from collections import Counter

from tests.integration.test_races import together


async def test_concurrent_user_creations_all_reach_the_users_list(client, auth) -> None:
    admin = auth["admin"]
    for rnd in range(2):  # each creation hashes a password (argon2): few rounds
        names = [f"nutzer-{rnd}-{n:02d}" for n in range(8)]
        responses = await together([
            lambda name=name: client.post("/api/v1/users", json={"username": name, "password": "ein-langes-passwort", "role": "editor"}, headers=admin)
            for name in names
        ])
        assert Counter(r.status_code for r in responses) == {201: 8}
        r = await client.get("/api/v1/users", params={"per_page": 500}, headers=admin)
        listed = [u["username"] for u in r.json()]
        assert set(names) <= set(listed), sorted(set(names) - set(listed))
        assert listed == sorted(listed) and len(listed) == len(set(listed)) == int(r.headers["x-total-count"])


async def test_concurrent_creations_of_one_username_give_one_user_listed_once(client, auth) -> None:
    admin = auth["admin"]
    responses = await together([
        lambda: client.post("/api/v1/users", json={"username": "doppelt", "password": "ein-langes-passwort", "role": "editor"}, headers=admin)
        for _ in range(6)
    ])
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 5}
    r = await client.get("/api/v1/users", params={"per_page": 500}, headers=admin)
    assert [u["username"] for u in r.json()].count("doppelt") == 1


async def test_concurrent_token_creations_and_revocations_keep_the_token_list_whole(client, auth) -> None:
    editor = auth["editor"]
    before = {t["token_id"] for t in (await client.get("/api/v1/tokens", headers=editor)).json()}
    responses = await together([lambda n=n: client.post("/api/v1/tokens", json={"name": f"t{n}"}, headers=editor) for n in range(15)])
    assert Counter(r.status_code for r in responses) == {201: 15}
    created = {r.json()["token_id"] for r in responses}
    listed = {t["token_id"] for t in (await client.get("/api/v1/tokens", headers=editor)).json()}
    assert listed == before | created
    # revoking some while creating others: the list still holds every token (revoked ones marked)
    revoked = sorted(created)[:5]
    calls = [lambda t=t: client.delete(f"/api/v1/tokens/{t}", headers=editor) for t in revoked]
    calls += [lambda n=n: client.post("/api/v1/tokens", json={"name": f"u{n}"}, headers=editor) for n in range(5)]
    responses = await together(calls)
    assert Counter(r.status_code for r in responses) == {200: 5, 201: 5}
    tokens = {t["token_id"]: t for t in (await client.get("/api/v1/tokens", headers=editor)).json()}
    assert set(tokens) == before | created | {r.json()["token_id"] for r in responses[5:]}
    assert all(tokens[t]["revoked_at"] for t in revoked)


async def test_concurrent_confirmations_of_one_record_lose_no_key_and_a_later_upload_finds_it(client, auth) -> None:
    """Separate uploads of one record confirmed at once may each create it (they plan before any write –
    one batch confirmed concurrently is test_races' case); what they write must be consistent: every created
    profile exists, and its title/lead key leads the next upload to it (a duplicate, not another copy)."""
    editor = auth["editor"]
    record = {"title": "Gemeinsame Vergabestelle Nethe", "summary": "Ein Datensatz.", "lead": {"name": "Stadt Nethe", "kind": "Stadt"}}
    body = json.dumps(record, ensure_ascii=False).encode()

    async def upload() -> str:
        r = await client.post("/api/v1/imports", files={"file": ("x.ndjson", body, "application/x-ndjson")}, headers=editor)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    batches = [await upload() for _ in range(5)]
    responses = await together([lambda b=b: client.post(f"/api/v1/imports/{b}/confirm", json={}, headers=editor) for b in batches])
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    created = [rec["slug"] for r in responses for rec in r.json()["result"]["records"] if rec["action"] == "created"]
    assert created
    for slug in created:
        assert (await client.get(f"/api/v1/profiles/{slug}", headers=editor)).status_code == 200
    r = await client.get("/api/v1/profiles", params={"mine": "true"}, headers=editor)
    assert sorted(i["slug"] for i in r.json()["items"]) == sorted(created)
    later = await upload()
    preview = (await client.get(f"/api/v1/imports/{later}", headers=editor)).json()["preview"]["records"]
    assert [rec["action"] for rec in preview] in (["duplicate"], ["unchanged"]), preview
