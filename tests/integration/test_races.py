"""Conditional writes under real concurrent requests (issue 10): every race has one winner and loses nothing.

Each test starts its requests together behind a barrier (an asyncio event
all of them wait for) and repeats the race a few rounds. The app serves them
concurrently in one event loop, as uvicorn does; the store is the embedded
FerretDB (or MongoDB with LEUCHTTURM_TEST_MONGODB_URL). A last test races
the server against a second process, as `leuchtturm import` would.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from catalogue.models import Profile, ProfileSlug
from catalogue.profiles import ProfileService
from catalogue.settings import PROJECT_ROOT
from catalogue.users import LoginAttempt, create_token, create_user
from catalogue.vocabularies import Role

API = "/api/v1/profiles"
ROUNDS = 3
NEW = {
    "title": "Gemeinsamer Bauhof Nethe",
    "summary": "Drei Gemeinden teilen Fahrzeuge und Personal.",
    "fields_of_action": ["Daseinsvorsorge"],
    "lead": {"name": "Gemeinde Nethe", "kind": "Gemeinde"},
    "population": 8200,
}


async def together(calls: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    """Run the calls concurrently, released at once from a barrier."""
    barrier = asyncio.Event()

    async def run(call: Callable[[], Awaitable[Any]]) -> Any:
        await barrier.wait()
        return await call()

    tasks = [asyncio.create_task(run(c)) for c in calls]
    await asyncio.sleep(0.01)  # every task is waiting at the barrier
    barrier.set()
    return await asyncio.gather(*tasks)


async def _versions(client, slug: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    r = await client.get(f"{API}/{slug}/versions", headers=headers, params={"per_page": 100})
    assert r.status_code == 200, r.text
    return r.json()


async def test_20_concurrent_patches_with_one_etag_give_one_200_and_19_412(client, auth) -> None:
    r = await client.post(API, json=NEW, headers=auth["editor"])
    slug, tag = r.json()["slug"], r.headers["etag"]
    previous = ""
    for round_no in range(ROUNDS):
        before = await _versions(client, slug, auth["editor"])
        responses = await together([
            lambda n=n, r=round_no, tag=tag: client.patch(f"{API}/{slug}", json={"summary": f"Runde {r}, Änderung {n}"}, headers={**auth["editor"], "If-Match": tag})
            for n in range(20)
        ])
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {200: 1, 412: 19}, statuses
        winner = next(r for r in responses if r.status_code == 200)
        stored = (await client.get(f"{API}/{slug}", headers=auth["editor"])).json()
        assert stored["summary"] == winner.json()["summary"] and stored["version"] == len(before) + 1
        after = await _versions(client, slug, auth["editor"])
        assert len(after) == len(before) + 1 and after[0]["action"] == "edit" and after[0]["number"] == stored["version"]
        assert all(r.json()["current_etag"] == winner.headers["etag"] for r in responses if r.status_code == 412 and "current_etag" in r.json())
        # the previous round's state now comes from its version document: the winner's, not a loser's
        if round_no:
            r = await client.get(f"{API}/{slug}/versions/{stored['version'] - 1}", headers=auth["editor"])
            assert r.status_code == 200 and r.json()["content"]["summary"] == previous, r.text
        previous = winner.json()["summary"]
        tag = winner.headers["etag"]


async def test_20_concurrent_submits_give_one_transition_and_one_history_entry(client, auth) -> None:
    slug = (await client.post(API, json=NEW, headers=auth["editor"])).json()["slug"]
    for _ in range(ROUNDS):
        before = await _versions(client, slug, auth["editor"])
        responses = await together([lambda: client.post(f"{API}/{slug}/submit", headers=auth["editor"]) for _ in range(20)])
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {200: 1, 409: 19}, statuses  # the others find it submitted already
        after = await _versions(client, slug, auth["editor"])
        assert [v["action"] for v in after[: len(after) - len(before)]] == ["submit"]
        r = await client.post(f"{API}/{slug}/return", json={"comment": "Bitte noch einmal."}, headers=auth["reviewer"])
        assert r.status_code == 200


def _ndjson(titles: list[str]) -> bytes:
    return "".join(json.dumps({"title": t, "summary": "Zum Testen gleichzeitiger Bestätigungen."}, ensure_ascii=False) + "\n" for t in titles).encode()


async def _upload(client, headers, titles: list[str]) -> dict[str, Any]:
    r = await client.post("/api/v1/imports", files={"file": ("profile.ndjson", _ndjson(titles), "application/x-ndjson")}, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["preview"]["counts"]["created"] == len(titles)
    return r.json()


async def _profile_titles() -> Counter[str]:
    return Counter([d["title"] async for d in Profile.get_pymongo_collection().find({}, {"title": 1})])


async def test_5_concurrent_confirms_of_one_batch_store_one_set(client, auth) -> None:
    for round_no in range(ROUNDS):
        titles = [f"Bestätigungsprobe {round_no}-{n} Nachbarschaftshilfe" for n in range(6)]
        batch = await _upload(client, auth["editor"], titles)
        responses = await together([lambda b=batch["id"]: client.post(f"/api/v1/imports/{b}/confirm", headers=auth["editor"]) for _ in range(5)])
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {200: 1, 409: 4}, statuses
        stored = await _profile_titles()
        assert all(stored[t] == 1 for t in titles), stored
        result = (await client.get(f"/api/v1/imports/{batch['id']}", headers=auth["editor"])).json()
        assert result["status"] == "confirmed" and result["result"]["counts"]["created"] == 6


async def test_concurrent_confirms_of_separate_batches_of_one_record_store_it_once(client, auth) -> None:
    """Two or three uploads of the same records, confirmed at the same time: each record becomes one profile.

    The batches have their own ids (so their new profiles have different ids); the record's identity
    key (its content fingerprint here, its source id where it has one) is claimed atomically.
    """
    for round_no in range(ROUNDS):
        titles = [f"Doppelimport {round_no}-{n} Dorfgemeinschaftshaus" for n in range(4)]
        batches = [await _upload(client, auth["editor"], titles) for _ in range(2 + round_no % 2)]
        responses = await together(
            [lambda b=b["id"]: client.post(f"/api/v1/imports/{b}/confirm", headers=auth["editor"]) for b in batches]
        )
        assert [r.status_code for r in responses] == [200] * len(batches), [r.text[:300] for r in responses]
        stored = await _profile_titles()
        assert all(stored[t] == 1 for t in titles), stored
        counts = [r.json()["result"]["counts"] for r in responses]
        assert sum(c["created"] for c in counts) == len(titles), counts
        # the others say what happened to their records: no silent loss
        assert all(sum(c.values()) == len(titles) for c in counts), counts


async def test_a_confirm_that_failed_part_way_can_be_retried(client, auth, monkeypatch) -> None:
    titles = [f"Wiederholungsprobe {n} Gemeinsame Vergabestelle" for n in range(8)]
    batch = await _upload(client, auth["editor"], titles)
    planned = [r["slug"] for r in batch["preview"]["records"]]
    original = ProfileService.create_many

    async def half_then_crash(self, items, actor, **kw):
        await original(self, items[:3], actor, **kw)  # three profiles written …
        from catalogue import profiles

        real = profiles.reserve_sequence

        async def crash(*a: Any, **k: Any) -> int:  # … and the next two only got their slugs reserved
            raise RuntimeError("Strom weg")

        monkeypatch.setattr(profiles, "reserve_sequence", crash)
        try:
            await original(self, items[3:5], actor, **kw)
        finally:
            monkeypatch.setattr(profiles, "reserve_sequence", real)
        raise AssertionError("unreachable")

    monkeypatch.setattr(ProfileService, "create_many", half_then_crash)
    r = await client.post(f"/api/v1/imports/{batch['id']}/confirm", headers=auth["editor"])
    assert r.status_code == 500 and r.headers["content-type"].startswith("application/problem+json")
    assert "noch einmal" in r.json()["detail"]
    failed = (await client.get(f"/api/v1/imports/{batch['id']}", headers=auth["editor"])).json()
    assert failed["status"] == "failed" and failed["error"]
    assert sum((await _profile_titles()).values()) == 3

    monkeypatch.setattr(ProfileService, "create_many", original)
    responses = await together([lambda: client.post(f"/api/v1/imports/{batch['id']}/confirm", headers=auth["editor"]) for _ in range(3)])
    assert Counter(r.status_code for r in responses) == {200: 1, 409: 2}
    result = next(r for r in responses if r.status_code == 200).json()["result"]
    assert result["counts"]["created"] == 5 and result["counts"]["unchanged"] == 3
    stored = await _profile_titles()
    assert all(stored[t] == 1 for t in titles) and sum(stored.values()) == 8
    # The retry used the slugs the preview planned, also those only reserved before the failure.
    assert sorted(r["slug"] for r in result["records"]) == sorted(planned)


async def test_concurrent_failed_logins_lose_no_count_and_never_fail(client) -> None:
    await create_user("erika", "ein-sicheres-passwort", Role.EDITOR)
    for round_no in range(ROUNDS):
        await LoginAttempt.get_pymongo_collection().delete_many({})
        responses = await together([
            lambda r=round_no: client.post("/api/v1/auth/token", json={"username": "erika", "password": f"falsch-{r}-xyz"}) for _ in range(20)
        ])
        statuses = Counter(r.status_code for r in responses)
        assert set(statuses) <= {401, 429}, statuses  # never a 500
        counted = await LoginAttempt.get("user:erika")
        assert counted is not None and counted.failures == statuses[401]  # every failed check counted once
    r = await client.post("/api/v1/auth/token", json={"username": "erika", "password": "ein-sicheres-passwort"})
    assert r.status_code == 429  # the counter blocks, as it should


async def test_concurrent_creates_with_one_title_get_distinct_slugs(client, auth) -> None:
    for round_no in range(ROUNDS):
        body = {**NEW, "title": f"Gleicher Titel Runde {round_no}"}
        responses = await together([lambda b=body: client.post(API, json=b, headers=auth["editor"]) for _ in range(10)])
        assert [r.status_code for r in responses] == [201] * 10
        slugs = [r.json()["slug"] for r in responses]
        assert len(set(slugs)) == 10
        for slug in slugs:
            key = await ProfileSlug.get(slug)
            profile = await Profile.get(key.profile_id)
            assert profile is not None and profile.slug == slug


async def test_concurrent_renames_to_one_slug_have_one_winner(client, auth) -> None:
    slugs = [(await client.post(API, json={**NEW, "title": f"Umbenennung {n}"}, headers=auth["editor"])).json()["slug"] for n in range(5)]
    responses = await together([lambda s=s: client.post(f"{API}/{s}/slug", json={"slug": "begehrter-slug"}, headers=auth["reviewer"]) for s in slugs])
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 1, 422: 4}, statuses
    winner = next(r for r in responses if r.status_code == 200).json()
    old = slugs[[r.status_code for r in responses].index(200)]
    assert winner["slug"] == "begehrter-slug"
    # the old slug answers with a permanent redirect, on the API and on the page
    r = await client.get(f"{API}/{old}", headers=auth["editor"])
    assert r.status_code == 301 and r.headers["location"] == f"{API}/begehrter-slug"
    r = await client.get(f"/profiles/{old}/versionen", headers=auth["editor"], params={"seite": "1"})
    assert r.status_code == 301 and r.headers["location"] == "/profiles/begehrter-slug/versionen?seite=1"
    for path, new in ((f"/profiles/{old}.pdf", "/profiles/begehrter-slug.pdf"), (f"{API}/{old}/pdf", f"{API}/begehrter-slug/pdf")):
        r = await client.get(path, headers=auth["editor"])  # the PDF addresses too
        assert r.status_code == 301 and r.headers["location"] == new
    r = await client.get(f"{API}/begehrter-slug/versions", headers=auth["editor"])
    assert [v["action"] for v in r.json()][:1] == ["rename"]


async def test_concurrent_revocations_keep_the_first_time_and_the_token_stops_working(client) -> None:
    await create_user("adam", "ein-sicheres-passwort", Role.ADMIN)
    token, secret = await create_token("adam", "probe")
    _, admin = await create_token("adam", "verwaltung")
    bearer = {"Authorization": f"Bearer {admin}"}
    uses = [lambda: client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {secret}"}) for _ in range(10)]
    revokes = [lambda: client.delete(f"/api/v1/tokens/{token.token_id}", headers=bearer) for _ in range(10)]
    responses = await together(uses + revokes)
    assert {r.status_code for r in responses[:10]} <= {200, 401}
    revoked = [r.json()["revoked_at"] for r in responses[10:]]
    assert all(r.status_code == 200 for r in responses[10:]) and len(set(revoked)) == 1
    assert (await client.get("/api/v1/tokens", headers={"Authorization": f"Bearer {secret}"})).status_code == 401


CHILD_PATCHER = textwrap.dedent(
    """
    import asyncio, json, sys
    from pymongo import AsyncMongoClient
    from catalogue.errors import CatalogueError
    from catalogue.profiles import ProfileService
    from catalogue.storage import init_models
    from catalogue.users import Principal
    from catalogue.vocabularies import Role

    async def main(uri, db_name, slug, tag, n):
        client = AsyncMongoClient(uri, tz_aware=True)
        await init_models(client[db_name])
        svc, who = ProfileService(), Principal("rita", Role.REVIEWER)
        print("ready", flush=True)
        sys.stdin.readline()

        async def one(k):
            try:
                await svc.update(slug, who, {"summary": f"Prozess {k}"}, if_match=tag, partial=True)
                return 200
            except CatalogueError as exc:
                return exc.status

        print(json.dumps(await asyncio.gather(*(one(k) for k in range(n)))), flush=True)
        await client.close()

    asyncio.run(main(*sys.argv[1:5], int(sys.argv[5])))
    """
)


async def test_server_and_a_second_process_race_on_one_etag(client, app, auth, mongo_uri: str) -> None:
    """Ten PATCH requests to the server and ten writes from another process (as the CLI would), one ETag: one winner."""
    r = await client.post(API, json=NEW, headers=auth["editor"])
    slug = r.json()["slug"]
    r = await client.post(f"{API}/{slug}/submit", headers=auth["editor"])
    tag = r.headers["etag"]
    db_name = app.state.runtime.storage.db_name
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD_PATCHER, mongo_uri, db_name, slug, tag, "10",
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=str(PROJECT_ROOT), env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert (await child.stdout.readline()).strip() == b"ready"
    child.stdin.write(b"go\n")
    await child.stdin.drain()
    mine = await together([
        lambda n=n: client.patch(f"{API}/{slug}", json={"summary": f"Server {n}"}, headers={**auth["reviewer"], "If-Match": tag})
        for n in range(10)
    ])
    theirs = json.loads((await child.stdout.readline()).decode())
    assert await child.wait() == 0
    statuses = Counter([r.status_code for r in mine] + theirs)
    assert statuses == {200: 1, 412: 19}, statuses
    versions = await _versions(client, slug, auth["editor"])
    assert [v["action"] for v in versions] == ["edit", "submit", "create"]
