"""Server-side browser sessions for the web UI (collection `web_sessions`).

The browser holds only a random session id in a cookie; the database keeps
a SHA-256 hash of it as the document's `_id` (a stolen database dump cannot
be replayed as cookies; every request reads its session by `_id`),
the user it belongs to, and the session's CSRF token. Sessions expire after
an idle period and after an absolute lifetime, and when their user is
locked (`User.sessions_valid_after`).

A session read for a request is kept per process for
`users.PRINCIPAL_TTL_S` (`SESSIONS`), with its user (`users.remembered_user`):
a logout or lock in this process is seen at once, so is one in another
process on the same DATA_DIR (catalogue/shared_generation.py), one in a
process elsewhere (on the same MongoDB) within that time. An expiry is decided only on a fresh read (a kept copy may
be older than another process's touch).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, IndexModel

from catalogue import atomic
from catalogue.lru import Expiring
from catalogue.models import utcnow
from catalogue.shared_generation import CALLERS
from catalogue.storage import read_by_id
from catalogue.users import PRINCIPAL_TTL_S, REMEMBERED_CALLERS, Principal, User, forget_user, remembered_slot, remembered_user

IDLE_TIMEOUT = timedelta(hours=8)
ABSOLUTE_TIMEOUT = timedelta(days=7)
# Writing last_seen_at on every request is wasteful; refresh it at most this often.
TOUCH_INTERVAL = timedelta(minutes=5)


class WebSession(Document):
    """A browser session (`_id` = SHA-256 of the cookie value)."""

    id: str  # type: ignore[assignment]  # the session id's hash
    username: str
    csrf_token: str
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    user_agent: str | None = None

    class Settings:
        name = "web_sessions"
        indexes = [IndexModel([("username", ASCENDING)], name="username")]

    @property
    def sid_hash(self) -> str:
        return self.id

    def expired(self, now: datetime | None = None) -> bool:
        now = now or utcnow()
        return _aware(self.last_seen_at) + IDLE_TIMEOUT < now or _aware(self.created_at) + ABSOLUTE_TIMEOUT < now


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


SESSIONS: Expiring[tuple[str, str], WebSession] = Expiring(REMEMBERED_CALLERS, PRINCIPAL_TTL_S, shared=CALLERS)


async def create_session(principal: Principal, *, user_agent: str | None = None) -> tuple[WebSession, str]:
    """Start a session; returns the stored session and the id for the cookie (shown once)."""
    sid = secrets.token_urlsafe(32)
    session = WebSession(
        id=_hash(sid),
        username=principal.username,
        csrf_token=secrets.token_urlsafe(32),
        user_agent=(user_agent or "")[:300] or None,
    )
    await session.insert()
    forget_user(principal.username)  # a user kept as missing or locked a moment ago has just signed in
    return session, sid


async def load_session(sid: str | None) -> tuple[WebSession, Principal] | None:
    """The live session for a cookie value and its user, or None (unknown, expired, user inactive)."""
    found = await load_session_user(sid)
    return (found[0], found[1]) if found is not None else None


async def load_session_user(sid: str | None) -> tuple[WebSession, Principal, User] | None:
    """`load_session` with the user document it read (the caller need not read it again in the same request)."""
    if not sid or len(sid) > 100:
        return None
    key = _hash(sid)
    slot = remembered_slot(WebSession, key)
    session = await SESSIONS.load(slot, lambda: read_by_id(WebSession, key))
    if session is None:
        return None
    now = utcnow()
    collection = WebSession.get_pymongo_collection()
    if session.expired(now):
        SESSIONS.forget(slot)
        session = await read_by_id(WebSession, key)  # expired as kept; as stored, too?
        if session is None:
            return None
        if session.expired(now):
            await collection.delete_one({"_id": session.id})
            return None
    user = await remembered_user(session.username)
    if _refused(session, user):
        # As kept, the user ends this session; deleting it is decided on a fresh read only (another process may have
        # created or unlocked the user within the kept value's lifetime, and the user may have just signed in).
        forget_user(session.username)
        user = await remembered_user(session.username)
        if _refused(session, user):
            SESSIONS.forget(slot)
            await collection.delete_one({"_id": session.id})
            return None
    assert user is not None
    if _aware(session.last_seen_at) + TOUCH_INTERVAL < now:
        session.last_seen_at = now  # the kept session too: requests meanwhile do not write it again
        await atomic.update_if(collection, session.id, None, {"$set": {"last_seen_at": now}})
    return session, Principal(user.username, user.role), user


def _refused(session: WebSession, user: User | None) -> bool:
    """Whether `user` (None: no such user) ends `session`: missing, locked, or all sessions voided since it began."""
    if user is None or not user.active:
        return True
    return user.sessions_valid_after is not None and _aware(session.created_at) <= _aware(user.sessions_valid_after)


async def delete_session(sid: str | None) -> None:
    if sid and len(sid) <= 100:
        await WebSession.get_pymongo_collection().delete_one({"_id": _hash(sid)})
        SESSIONS.forget(remembered_slot(WebSession, _hash(sid)))  # and every read of it under way
