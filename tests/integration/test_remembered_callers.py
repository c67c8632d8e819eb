"""The caller's token, session and user are kept per process for a few seconds (catalogue/users.py, sessions.py).

* a revocation, lock, role or password change, logout or a new user made in
  this process is seen on the very next request;
* one made by another process (here: written to the store directly, past
  this process) holds for at most `PRINCIPAL_TTL_S`: the test moves the
  caches' clock instead of sleeping;
* a kept request costs no store read for its caller; an expiry is decided
  on a fresh read only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pymongo import monitoring

from catalogue import sessions, storage, users
from catalogue.errors import NotAuthenticated
from catalogue.models import utcnow
from catalogue.sessions import WebSession, create_session, delete_session, load_session_user
from catalogue.users import (
    PRINCIPAL_TTL_S,
    ApiToken,
    Principal,
    User,
    create_token,
    create_user,
    principal_for_token,
    remembered_user,
    revoke_token,
    set_password,
    update_user,
)
from catalogue.vocabularies import Role
from tests.clocks import ManualClock

PASSWORD = "ein-sicheres-passwort"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    """The kept callers' clock, moved by the test (no sleeping). The counter local processes share is left out
    (whether another test opened one in this process must not matter): these tests count this process's reads;
    tests/unit/test_shared_generation.py and test_serve_workers.py cover the shared counter."""
    fake = ManualClock()
    for cache in (users.USERS, users.TOKENS, sessions.SESSIONS):
        monkeypatch.setattr(cache, "clock", fake)
        monkeypatch.setattr(cache, "shared", None)
        cache.clear()
    return fake


class _Finds(monitoring.CommandListener):
    def __init__(self) -> None:
        self.collections: list[str] | None = None

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.collections is not None and event.command_name == "find":
            self.collections.append(str(event.command["find"]))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


_FINDS = _Finds()
monitoring.register(_FINDS)


async def finds_during(call: Any) -> tuple[Any, list[str]]:
    """What `call()` gives and the collections it read (this process's driver)."""
    _FINDS.collections = []
    try:
        return await call(), _FINDS.collections
    finally:
        _FINDS.collections = None


async def test_a_kept_token_costs_no_read_and_a_revocation_here_is_seen_at_once(db, clock) -> None:
    await create_user("erika", PASSWORD, Role.EDITOR)
    token, secret = await create_token("erika", "probe")
    first, read = await finds_during(lambda: principal_for_token(secret))
    assert first == Principal("erika", Role.EDITOR, via_token=True) and set(read) == {"api_tokens", "users"}  # (and the first use's touch)
    again, read = await finds_during(lambda: principal_for_token(secret))
    assert again == first and read == []  # kept: no store read for the caller
    await revoke_token(token.token_id)
    with pytest.raises(NotAuthenticated):
        await principal_for_token(secret)


async def test_a_role_change_lock_or_password_change_here_is_seen_at_once(db, clock) -> None:
    await create_user("erika", PASSWORD, Role.EDITOR)
    _, secret = await create_token("erika", "probe")
    assert (await principal_for_token(secret)).role == Role.EDITOR
    await update_user("erika", role=Role.REVIEWER)
    assert (await principal_for_token(secret)).role == Role.REVIEWER
    await set_password("erika", "ein-anderes-passwort")
    _, read = await finds_during(lambda: principal_for_token(secret))
    assert read == ["users"]  # read again after the password change
    await update_user("erika", active=False)
    with pytest.raises(NotAuthenticated):
        await principal_for_token(secret)


async def test_another_processs_revocation_and_role_change_hold_here_for_at_most_the_ttl(db, clock) -> None:
    await create_user("erika", PASSWORD, Role.EDITOR)
    token, secret = await create_token("erika", "probe")
    assert (await principal_for_token(secret)).role == Role.EDITOR
    # another process (the CLI) changes the role and revokes the token: past this process's caches
    await User.get_pymongo_collection().update_one({"_id": "erika"}, {"$set": {"role": Role.REVIEWER.value}})
    await ApiToken.get_pymongo_collection().update_one({"_id": token.id}, {"$set": {"revoked_at": utcnow()}})
    clock.now += PRINCIPAL_TTL_S - 0.5
    assert (await principal_for_token(secret)).role == Role.EDITOR  # still kept
    clock.now += 0.5
    with pytest.raises(NotAuthenticated):
        await principal_for_token(secret)


async def test_a_revocation_during_a_read_of_the_token_is_not_forgotten(db, clock) -> None:
    """A read that began before the revocation gives the token unrevoked; it must not be kept after it."""
    await create_user("erika", PASSWORD, Role.EDITOR)
    token, secret = await create_token("erika", "probe")
    slot = users.remembered_slot(ApiToken, token.id)

    async def read_then_revoke() -> ApiToken | None:
        found = await storage.read_by_id(ApiToken, token.id)
        await revoke_token(token.token_id)
        return found

    assert await users.TOKENS.load(slot, read_then_revoke) is not None
    with pytest.raises(NotAuthenticated):
        await principal_for_token(secret)


async def test_a_user_created_here_after_a_kept_no_such_user_is_found(db, clock) -> None:
    assert await remembered_user("hanna") is None
    _, read = await finds_during(lambda: remembered_user("hanna"))
    assert read == []  # "no such user" is kept too (profiles of an import's owner without an account)
    await create_user("hanna", PASSWORD, Role.EDITOR)
    found = await remembered_user("hanna")
    assert found is not None and found.username == "hanna"


async def test_a_kept_session_costs_no_read_and_a_logout_here_is_seen_at_once(db, clock) -> None:
    await create_user("erika", PASSWORD, Role.EDITOR)
    _, sid = await create_session(Principal("erika", Role.EDITOR))
    first, read = await finds_during(lambda: load_session_user(sid))
    assert first is not None and first[1] == Principal("erika", Role.EDITOR) and sorted(read) == ["users", "web_sessions"]
    again, read = await finds_during(lambda: load_session_user(sid))
    assert again is not None and read == []
    await delete_session(sid)
    assert await load_session_user(sid) is None


async def test_a_lock_here_voids_a_kept_session_at_once(db, clock) -> None:
    await create_user("erika", PASSWORD, Role.EDITOR)
    _, sid = await create_session(Principal("erika", Role.EDITOR))
    assert await load_session_user(sid) is not None
    await update_user("erika", active=False)
    assert await load_session_user(sid) is None
    await update_user("erika", active=True)
    assert await load_session_user(sid) is None  # an unlock does not revive it


async def test_another_processs_logout_holds_here_for_at_most_the_ttl(db, clock) -> None:
    await create_user("erika", PASSWORD, Role.EDITOR)
    session, sid = await create_session(Principal("erika", Role.EDITOR))
    assert await load_session_user(sid) is not None
    await WebSession.get_pymongo_collection().delete_one({"_id": session.id})  # another server's logout
    clock.now += PRINCIPAL_TTL_S - 0.5
    assert await load_session_user(sid) is not None
    clock.now += 0.5
    assert await load_session_user(sid) is None


async def test_a_session_expired_as_kept_but_touched_meanwhile_lives_on(db, clock) -> None:
    """The kept copy may be older than another process's touch: an expiry is decided on a fresh read."""
    await create_user("erika", PASSWORD, Role.EDITOR)
    session, sid = await create_session(Principal("erika", Role.EDITOR))
    kept = await load_session_user(sid)
    assert kept is not None
    kept[0].last_seen_at = utcnow() - sessions.IDLE_TIMEOUT - timedelta(minutes=1)  # as if kept since long ago
    found = await load_session_user(sid)
    assert found is not None and found[0].id == session.id
    assert await WebSession.get_pymongo_collection().find_one({"_id": session.id}) is not None  # not deleted


async def test_a_user_kept_as_missing_who_signs_in_meanwhile_keeps_the_new_session(db, clock) -> None:
    """A kept "no such user" (an imported profile's owner without an account) must not end the session of the
    account another process has just created, nor delete it."""
    assert await remembered_user("hanna") is None  # kept as missing
    await User.get_pymongo_collection().insert_one(  # another process (the CLI) creates the account past this cache
        {**(await _stored_user("hanna")), "_id": "hanna"}
    )
    _, sid = await create_session(Principal("hanna", Role.EDITOR))
    found = await load_session_user(sid)
    assert found is not None and found[1] == Principal("hanna", Role.EDITOR)


async def test_a_user_kept_as_locked_but_unlocked_elsewhere_keeps_a_session_made_elsewhere(db, clock) -> None:
    """The kept user decides nothing destructive: the session is deleted only when a fresh read agrees."""
    await create_user("erika", PASSWORD, Role.EDITOR)
    await update_user("erika", active=False)
    assert (await remembered_user("erika")) is not None  # kept as locked
    await User.get_pymongo_collection().update_one({"_id": "erika"}, {"$set": {"active": True}})  # unlocked elsewhere
    session = WebSession(id=sessions._hash("sitzung-von-anderswo"), username="erika", csrf_token="t")  # made by another server
    await session.insert()
    found = await load_session_user("sitzung-von-anderswo")
    assert found is not None and found[1] == Principal("erika", Role.EDITOR)
    assert await WebSession.get_pymongo_collection().find_one({"_id": session.id}) is not None


async def _stored_user(username: str) -> dict[str, Any]:
    """A user document as the store holds it, made in a scratch user and removed again (no cache touched)."""
    scratch = f"{username}-vorlage"
    await create_user(scratch, PASSWORD, Role.EDITOR)
    doc = await User.get_pymongo_collection().find_one({"_id": scratch})
    await User.get_pymongo_collection().delete_one({"_id": scratch})
    users.forget_user(scratch)
    assert doc is not None
    doc.pop("_id")
    return {**doc, "username": username}
