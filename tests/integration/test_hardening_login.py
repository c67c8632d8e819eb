"""Issue 13, login and tokens: throttling under concurrency, trusted proxies, device cookies, malformed CSRF tokens.

Every finding of the issue has a test here with the issue's request. Races
start behind a barrier (tests/integration/test_races.together) and repeat.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from catalogue import users as users_mod
from catalogue.users import FREE_FAILURES, LoginAttempt, backoff, create_user
from catalogue.vocabularies import Role
from tests.integration.test_races import ROUNDS, together
from tests.web_support import PASSWORD, csrf_from, seed_users

TOKEN = "/api/v1/auth/token"


@pytest.fixture
async def users(client) -> None:
    await seed_users()
    await create_user("zweite", PASSWORD, Role.EDITOR)


def test_backoff_doubles_after_the_free_failures_and_is_capped() -> None:
    assert [backoff(n) for n in range(FREE_FAILURES)] == [timedelta(0)] * FREE_FAILURES
    waits = [backoff(n).total_seconds() for n in range(FREE_FAILURES, FREE_FAILURES + 6)]
    assert waits == [15, 30, 60, 120, 240, 480]
    assert backoff(500) == users_mod.MAX_BACKOFF


async def test_finding_20_parallel_wrong_passwords_are_throttled_before_they_are_checked(client, users, monkeypatch) -> None:
    """Finding: 20 parallel wrong passwords for one account (one claimed address): 9 were checked (401), 4 × 500.

    The back-off's first step is stretched to a minute so that it cannot run
    out while the burst is still being served on a slow machine: then exactly
    FREE_FAILURES attempts are checked (the last of them starts the back-off).
    """
    real = users_mod.backoff
    monkeypatch.setattr(users_mod, "backoff", lambda n, free=FREE_FAILURES: real(n, free) * 60)
    for round_no in range(ROUNDS):
        await LoginAttempt.get_pymongo_collection().delete_many({})
        responses = await together([
            lambda r=round_no: client.post(
                TOKEN, json={"username": "redaktion-hx", "password": f"falsch-{r}-xyz"}, headers={"X-Forwarded-For": "203.0.113.7"}
            )
            for _ in range(20)
        ])
        statuses = Counter(r.status_code for r in responses)
        assert set(statuses) <= {401, 429}, statuses  # never a 500
        assert statuses[401] == FREE_FAILURES, [r.text for r in responses]
        counted = await LoginAttempt.get("user:redaktion-hx")
        assert counted is not None and counted.failures == statuses[401]  # no lost increment
        assert all(r.headers.get("retry-after") for r in responses if r.status_code == 429)
    # The right password is refused while the back-off runs (it does not reset a blocked account).
    r = await client.post(TOKEN, json={"username": "redaktion-hx", "password": PASSWORD})
    assert r.status_code == 429


async def test_finding_forwarded_for_is_ignored_unless_from_a_trusted_proxy(client, app, users) -> None:
    """Finding: X-Forwarded-For honoured from loopback made the per-address key the client's choice."""
    for n in range(3):
        r = await client.post(TOKEN, json={"username": f"niemand-{n}", "password": "falsch-falsch"}, headers={"X-Forwarded-For": f"198.51.100.{n}"})
        assert r.status_code == 401
    keys = {d["_id"] for d in await LoginAttempt.get_pymongo_collection().find({}).to_list()}
    assert {k for k in keys if k.startswith("addr:")} == {"addr:127.0.0.1"}  # the TCP peer, not the claimed address
    await LoginAttempt.get_pymongo_collection().delete_many({})
    app.state.settings.trusted_proxies = "127.0.0.1/32, 10.0.0.0/8"
    try:
        # The right-most address that is not a trusted proxy is the client.
        hdr = {"X-Forwarded-For": "192.0.2.9, 198.51.100.4, 10.1.2.3"}
        r = await client.post(TOKEN, json={"username": "niemand", "password": "falsch-falsch"}, headers=hdr)
        assert r.status_code == 401
        r = await client.post(TOKEN, json={"username": "niemand", "password": "falsch-falsch"}, headers={"X-Forwarded-For": "kein-ip, ::ffff:zz"})
        assert r.status_code == 401  # a malformed header is no 500; the proxy's address is used
    finally:
        app.state.settings.trusted_proxies = ""
    keys = {d["_id"] for d in await LoginAttempt.get_pymongo_collection().find({}).to_list()}
    assert {k for k in keys if k.startswith("addr:")} == {"addr:198.51.100.4", "addr:127.0.0.1"}


async def _web_login(client, username: str, password: str):
    page = await client.get("/anmelden")
    return await client.post("/anmelden", data={"username": username, "password": password, "csrf_token": csrf_from(page.text)})


async def test_finding_guessing_from_a_shared_address_does_not_lock_out_colleagues(client, users, monkeypatch) -> None:
    """Finding: a second account's right password from the same address was refused after the per-address lock."""
    real = users_mod.backoff
    monkeypatch.setattr(users_mod, "backoff", lambda n, free=FREE_FAILURES: real(n, free) * 60)  # cannot run out during the test
    # A colleague logged in from this browser before: it got the known-device cookie.
    r = await _web_login(client, "zweite", PASSWORD)
    assert r.status_code == 303 and client.cookies.get("lt_device")
    device = client.cookies.get("lt_device")
    client.cookies.clear()
    # Someone behind the same address sprays wrong passwords over many accounts until the address is limited.
    statuses = Counter()
    for n in range(users_mod.ADDRESS_FREE_FAILURES + 3):
        r = await client.post(TOKEN, json={"username": f"opfer-{n}", "password": "falsch-falsch"})
        statuses[r.status_code] += 1
    assert statuses == {401: users_mod.ADDRESS_FREE_FAILURES, 429: 3}, statuses
    # An attempt without the device cookie from that address waits (the address limit holds) ...
    r = await client.post(TOKEN, json={"username": "redaktion-hx", "password": PASSWORD})
    assert r.status_code == 429
    # ... the colleague with the cookie gets in, on the web form and over the API.
    client.cookies.set("lt_device", device)
    r = await _web_login(client, "zweite", PASSWORD)
    assert r.status_code == 303, r.text
    r = await client.post(TOKEN, json={"username": "zweite", "password": PASSWORD}, cookies={"lt_device": device})
    assert r.status_code == 201, r.text
    # The cookie is bound to its username: it does not help another account, and a forged one counts for nothing.
    r = await client.post(TOKEN, json={"username": "redaktion-hx", "password": PASSWORD})
    assert r.status_code == 429
    client.cookies.clear()
    for forged in ("zweite." + "0" * 32, "zweite.ÿÿ" + "0" * 30, "zweite"):
        r = await client.post(TOKEN, json={"username": "zweite", "password": PASSWORD}, headers={"Cookie": f"lt_device={forged}".encode("latin-1")})
        assert r.status_code == 429


async def test_password_hashing_is_bounded_and_off_the_loop(client, users) -> None:
    """Finding: argon2 ran on the event loop. Now a pool of HASH_WORKERS threads; excess checks wait there or get 429."""
    assert users_mod._hash_pool._max_workers == users_mod.HASH_WORKERS
    responses = await together([
        lambda n=n: client.post(TOKEN, json={"username": f"jemand-{n}", "password": "falsch-falsch"}) for n in range(10)
    ])
    assert {r.status_code for r in responses} == {401}, [r.text for r in responses]
    assert users_mod._hash_waiting == 0


async def test_a_charge_read_while_another_lands_is_not_taken_for_a_back_off(users, monkeypatch) -> None:
    """Found in a full run under load: an attempt took its clock before reading the counter, so a concurrent
    attempt's `next_allowed` (its own, later "now", with no back-off yet) looked like a wait: 429 for a colleague.
    Here attempt B reads the counter only after attempt A has charged it."""
    import asyncio

    real_collection = LoginAttempt.get_pymongo_collection()
    b_reading, a_done = asyncio.Event(), asyncio.Event()
    tasks: dict[str, asyncio.Task[None]] = {}

    class _HeldRead:
        def __init__(self) -> None:
            self.held = False

        def __getattr__(self, name: str):  # everything else as the real collection
            return getattr(real_collection, name)

        async def find_one(self, *args, **kwargs):
            if not self.held and asyncio.current_task() is tasks.get("b"):
                self.held = True
                b_reading.set()
                await a_done.wait()
            return await real_collection.find_one(*args, **kwargs)

    held = _HeldRead()
    monkeypatch.setattr(LoginAttempt, "get_pymongo_collection", classmethod(lambda cls: held))
    await users_mod._charge("addr:203.0.113.9", users_mod.ADDRESS_FREE_FAILURES)  # the counter exists
    b_task = tasks["b"] = asyncio.create_task(users_mod._charge("addr:203.0.113.9", users_mod.ADDRESS_FREE_FAILURES))
    await b_reading.wait()
    await asyncio.sleep(0.01)  # A's clock is later than B's first step
    await users_mod._charge("addr:203.0.113.9", users_mod.ADDRESS_FREE_FAILURES)
    a_done.set()
    await b_task  # no TooManyRequests: three failures from one address are far below its free ones
    doc = await real_collection.find_one({"_id": "addr:203.0.113.9"})
    assert doc is not None and doc["failures"] == 3


# ------------------------------------------------------------ malformed tokens: 400/403, never 500

NON_ASCII = "äöü€" * 8


async def test_finding_non_ascii_csrf_tokens_give_403_not_500(client, users) -> None:
    """Finding: non-ASCII csrf_token, lt_login_csrf cookie or X-CSRF-Token raised TypeError in compare_digest (7 × 500)."""
    page = await client.get("/anmelden")
    good = csrf_from(page.text)
    # Login form: non-ASCII field, non-ASCII cookie.
    r = await client.post("/anmelden", data={"username": "redaktion-hx", "password": PASSWORD, "csrf_token": NON_ASCII})
    assert r.status_code == 403
    client.cookies.clear()
    bad_cookie = {"Cookie": f"lt_login_csrf={NON_ASCII}".encode("latin-1", "replace")}
    r = await client.post("/anmelden", data={"username": "redaktion-hx", "password": PASSWORD, "csrf_token": good}, headers=bad_cookie)
    assert r.status_code == 403
    r = await client.post("/anmelden", data={"username": "redaktion-hx", "password": PASSWORD, "csrf_token": "äöü"}, headers=bad_cookie)
    assert r.status_code == 403
    r = await client.get("/anmelden", headers=bad_cookie)  # a fresh, ASCII token replaces the bad cookie
    assert r.status_code == 200 and csrf_from(r.text).isascii()
    r = await _web_login(client, "redaktion-hx", PASSWORD)
    assert r.status_code == 303
    # Forms of a logged-in user.
    r = await client.post("/abmelden", data={"csrf_token": NON_ASCII})
    assert r.status_code == 403
    r = await client.post("/meine-profile/neu", data={"title": "X", "csrf_token": NON_ASCII})
    assert r.status_code == 403
    # The JSON API with the session cookie: a non-ASCII header (sent as Latin-1 bytes) makes the caller anonymous.
    r = await client.post("/api/v1/profiles", json={"title": "Test"}, headers={"X-CSRF-Token": "äöü".encode("latin-1")})
    assert r.status_code in (401, 403)
    r = await client.post("/api/v1/profiles", json={"title": "Test"}, headers={"X-CSRF-Token": ("x" * 30 + "\u00ff").encode("latin-1")})
    assert r.status_code in (401, 403)
    # A non-ASCII session or device cookie is simply not one.
    client.cookies.clear()
    odd = {"Cookie": f"lt_session={NON_ASCII}; lt_device=redaktion-hx.{NON_ASCII}".encode("latin-1", "replace")}
    assert (await client.get("/meine-profile", headers=odd)).status_code in (302, 303)
    r = await client.post(TOKEN, json={"username": "redaktion-hx", "password": PASSWORD}, headers=odd)
    assert r.status_code == 201
