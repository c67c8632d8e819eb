"""Users, API tokens and login rate limiting.

Passwords are hashed with argon2 (in a worker thread: it is CPU work); API
tokens are shown once, stored as a SHA-256 hash (they are long random
secrets, so a fast hash is sufficient) and can be revoked. Failed logins
are throttled per account and per client address (see "login throttling").

Every request reads these by `_id` only: a user by username, a token by its
hash (`ApiTokenId` maps the public token id to it), a login counter by its
key; the lists of users and of each user's tokens are key lists
(catalogue.keylists). Changes go through `catalogue.atomic` (conditional where it matters:
counters, token use and revocation).

The caller's token and user are kept per process for PRINCIPAL_TTL_S
(`TOKENS`, `USERS`; sessions likewise in catalogue/sessions.py): an
authenticated request then costs no store read for its caller. A revocation,
lock, role or password change made in this process forgets them at once; so
does one made by another process on the same DATA_DIR (the CLI, the other
serving processes of `leuchtturm serve --workers N`: the shared counter of
catalogue/shared_generation.py). One made by a process elsewhere (a second
server on the same MongoDB) holds here for at most PRINCIPAL_TTL_S. Login counters are never kept: every
attempt is charged by an atomic write.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import re
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from beanie import Document
from pydantic import BaseModel, EmailStr, Field
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from catalogue import atomic, keylists
from catalogue.errors import Conflict, NotAuthenticated, NotFound, TooManyRequests, ValidationFailed
from catalogue.lru import Expiring
from catalogue.models import utcnow
from catalogue.shared_generation import CALLERS
from catalogue.storage import read_by_id
from catalogue.vocabularies import FederalState, Role, SizeClass

_hasher = PasswordHasher()
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
TOKEN_PREFIX = "lt_"  # noqa: S105 - the visible prefix of every token, not a secret
# A counter is forgotten after this long without an attempt (a sliding window: waiting out one back-off
# step does not reset the count).
LOGIN_WINDOW = timedelta(hours=1)
# Writing last_used_at on every request would take the store's write lock each time; refresh it at most this often.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)
# How long a token, session or user read for a caller is used again (module docstring): what another process's
# revocation, lock or role change may take to be seen here.
PRINCIPAL_TTL_S = 5.0
REMEMBERED_CALLERS = 10_000  # tokens, sessions and users kept per process, each
_T = TypeVar("_T")


class UserOrganisation(BaseModel):
    """The body a user belongs to: a municipality, Kreis, Amt … of the register, copied from it when set
    (so adoptions and pages show it without another read)."""

    key: str  # AGS, or the Verband's ARS (catalogue.gazetteer)
    name: str  # as people say it ("Kreis Höxter")
    kind_label: str | None = None
    population: int | None = None
    size_class: SizeClass | None = None
    state: FederalState | None = None


class User(Document):
    """A person who logs in (collection `users`, `_id` = the username)."""

    id: str  # type: ignore[assignment]  # the username
    username: str
    display_name: str
    email: EmailStr | None = None
    role: Role = Role.EDITOR
    password_hash: str
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    sessions_valid_after: datetime | None = None  # browser sessions started before this are void
    organisation: UserOrganisation | None = None  # set by admins; decides for which municipality they record adoptions

    class Settings:
        name = "users"


class ApiToken(Document):
    """An API token (collection `api_tokens`, `_id` = SHA-256 of the secret)."""

    id: str  # type: ignore[assignment]  # the token hash
    token_id: str  # public id, shown in lists and used to revoke
    username: str
    name: str
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    class Settings:
        name = "api_tokens"
        indexes = [IndexModel([("username", ASCENDING)], name="username")]

    @property
    def token_hash(self) -> str:
        return self.id


class ApiTokenId(Document):
    """Public token id → token hash (collection `api_token_ids`, `_id` = the token id)."""

    id: str  # type: ignore[assignment]
    token_hash: str

    class Settings:
        name = "api_token_ids"


class LoginAttempt(Document):
    """Login attempts of one key (`user:<name>` or `addr:<address>`); `_id` = the key.

    `window_start` is the time of the last attempt: the counter is forgotten
    LOGIN_WINDOW after it.

    `failures` counts attempts charged and not cleared by a success; `seq`
    changes with every write (the compare-and-set token); no attempt is
    checked before `next_allowed`.
    """

    id: str  # type: ignore[assignment]
    failures: int = 0
    seq: int = 0
    window_start: datetime = Field(default_factory=utcnow)
    next_allowed: datetime | None = None

    class Settings:
        name = "login_attempts"


@dataclass(frozen=True)
class Principal:
    """Who is acting. `None` stands for an anonymous reader."""

    username: str
    role: Role
    via_token: bool = False

    @property
    def is_reviewer(self) -> bool:
        return self.role in (Role.REVIEWER, Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


def _check_password_strength(password: str) -> None:
    if len(password) < 10:
        raise ValidationFailed("Das Passwort ist zu kurz.", errors=[{"field": "password", "message": "mindestens 10 Zeichen"}])
    if len(password) > 1024:
        raise ValidationFailed("Das Passwort ist zu lang.", errors=[{"field": "password", "message": "höchstens 1024 Zeichen"}])


async def _hash_password(password: str) -> str:
    return await _in_hash_pool(_hasher.hash, password)


async def resolve_organisation(text: str) -> UserOrganisation:
    """The register body named by `text` (a key such as "05762020", or a name such as "Kreis Höxter").

    Keyed reads only. A name that fits several bodies ("Höxter": Stadt and Kreis) is refused with the
    candidates and their keys, so the caller can give the key.
    """
    from catalogue import gazetteer

    text = str(text or "").strip()[:200]
    refs = await gazetteer.find_by_name(text) if text else []
    if not refs:
        raise ValidationFailed(
            f"„{text}“ steht nicht im Gemeindeverzeichnis.",
            errors=[{"field": "organisation", "message": "Bitte den Namen oder den Gemeindeschlüssel (AGS) einer Kommune angeben"}],
        )
    if len(refs) > 1:
        options = ", ".join(f"{r['display_name']} ({r['key']})" for r in refs[:8])
        raise ValidationFailed(
            f"„{text}“ ist mehrdeutig: {options}.",
            errors=[{"field": "organisation", "message": f"mehrdeutig, bitte den Schlüssel angeben: {options}"}],
        )
    entry = await gazetteer.get(refs[0]["key"])
    if entry is None:  # pragma: no cover - the key documents name only stored entries
        raise NotFound(f"Eintrag {refs[0]['key']} nicht gefunden.")
    return UserOrganisation(
        key=entry.key, name=entry.label, kind_label=entry.kind_label, population=entry.population,
        size_class=entry.size_class, state=entry.state,
    )


async def create_user(
    username: str, password: str, role: Role, *, display_name: str | None = None, email: str | None = None, organisation: str | None = None
) -> User:
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise ValidationFailed(
            "Ungültiger Benutzername.",
            errors=[{"field": "username", "message": "2–40 Zeichen: Kleinbuchstaben, Ziffern, Punkt, Bindestrich, Unterstrich"}],
        )
    _check_password_strength(password)
    org = await resolve_organisation(organisation) if organisation else None
    user = User(
        id=username, username=username, display_name=display_name or username, email=email, role=role,
        password_hash=await _hash_password(password), organisation=org,
    )
    await keylists.add(keylists.USERS, username)  # listed before it exists: a list never misses a user
    try:
        await user.insert()  # the unique _id decides between concurrent creators
    except DuplicateKeyError:
        raise Conflict(f"Den Benutzer {username} gibt es schon.") from None
    finally:
        forget_user(username)  # a kept "no such user"
    return user


def _user_key(username: str) -> str | None:
    """A user's `_id` for a username as typed (trimmed, lower case), or None for one no user can have."""
    key = str(username or "").strip().lower()
    return key if key and len(key) <= 64 else None


async def find_user(username: str) -> User | None:
    key = _user_key(username)
    return await User.get(key) if key is not None else None


USERS: Expiring[tuple[str, str], User] = Expiring(REMEMBERED_CALLERS, PRINCIPAL_TTL_S, keep_missing=True, shared=CALLERS)  # "no such user" too
TOKENS: Expiring[tuple[str, str], ApiToken] = Expiring(REMEMBERED_CALLERS, PRINCIPAL_TTL_S, shared=CALLERS)


def remembered_slot(model: type[Document], key: str) -> tuple[str, str]:
    """A kept document's key: the database (tests use one each) and the document's `_id`."""
    return model.get_pymongo_collection().database.name, key


async def remembered_user(username: str) -> User | None:
    """`find_user`, kept for PRINCIPAL_TTL_S (module docstring): for resolving a caller and showing a user's name,
    never for checking a password. The user is shared: do not change it."""
    key = _user_key(username)
    if key is None:
        return None
    return await USERS.load(remembered_slot(User, key), lambda: read_by_id(User, key))


def forget_user(username: str) -> None:
    """Drop what is kept of this user (and every read of it under way); the username as typed, like `remembered_user`."""
    key = _user_key(username)
    if key is not None:
        USERS.forget(remembered_slot(User, key))


async def get_user(username: str) -> User:
    user = await find_user(username)
    if user is None:
        raise NotFound(f"Benutzer {username} nicht gefunden.")
    return user


async def update_user(
    username: str,
    *,
    role: Role | None = None,
    active: bool | None = None,
    display_name: str | None = None,
    organisation: str | None = None,
) -> User:
    """Change role, lock state, name or organisation ("" removes it). Locking a user voids their browser sessions for good."""
    user = await get_user(username)
    changes: dict[str, Any] = {}
    if organisation is not None:
        changes["organisation"] = (await resolve_organisation(organisation)).model_dump(mode="json") if organisation.strip() else None
    if role is not None:
        changes["role"] = Role(role).value
    if display_name is not None:
        changes["display_name"] = display_name
    if active is not None:
        changes["active"] = bool(active)
        if not active:
            # A later unlock must not revive the sessions of before.
            changes["sessions_valid_after"] = utcnow()
    if changes:
        await atomic.update_if(User.get_pymongo_collection(), user.id, None, {"$set": changes})
        forget_user(user.id)  # and every read of it under way: none is kept
    return await get_user(username)


async def set_password(username: str, password: str) -> None:
    _check_password_strength(password)
    user = await get_user(username)
    password_hash = await _hash_password(password)
    await atomic.update_if(User.get_pymongo_collection(), user.id, None, {"$set": {"password_hash": password_hash}})
    forget_user(user.id)


# ------------------------------------------------------------ login throttling
#
# Policy (issue 13):
# * Per account: the first FREE_FAILURES - 1 failures in a window cost
#   nothing; from the FREE_FAILURES-th on each failure doubles the wait
#   before the next attempt (BACKOFF_BASE, twice that, … up to MAX_BACKOFF). An attempt is *charged before* the password
#   is checked, by compare-and-set on the counter, so a burst of parallel
#   guesses cannot slip through between "check the counter" and "count the
#   failure": of n parallel attempts only those the back-off allows are
#   checked, the others get 429. A right password clears the account's counter.
# * Per client address: ADDRESS_FREE_FAILURES failures in a window, then the
#   same doubling back-off – but only for attempts without a known-device
#   proof (`known_device`, a signed cookie the web layer hands out after a
#   successful login), so colleagues behind the same address (a town hall's
#   NAT) are not locked out by someone guessing from there.
# * Password hashing runs in a dedicated pool of HASH_WORKERS threads; at most
#   HASH_QUEUE_LIMIT checks wait for it, more get 429 at once.

FREE_FAILURES = 5
ADDRESS_FREE_FAILURES = 20
BACKOFF_BASE = timedelta(seconds=15)
MAX_BACKOFF = timedelta(minutes=15)
HASH_WORKERS = 2
HASH_QUEUE_LIMIT = 32


def backoff(failures: int, free: int = FREE_FAILURES) -> timedelta:
    """The wait after `failures` failures in a window: none before `free`, then doubling from BACKOFF_BASE up to MAX_BACKOFF."""
    if failures < free:
        return timedelta(0)
    wait: timedelta = BACKOFF_BASE * 2 ** min(failures - free, 20)
    return min(MAX_BACKOFF, wait)


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _too_many(wait_seconds: float) -> TooManyRequests:
    wait = max(1, int(wait_seconds + 0.999))
    when = f"{wait} Sekunden" if wait < 120 else f"{-(-wait // 60)} Minuten"
    return TooManyRequests(f"Zu viele fehlgeschlagene Anmeldungen. Bitte in {when} erneut versuchen.", retry_after=wait)


async def _charge(key: str, free: int) -> None:
    """Count one attempt for `key` before its password is checked; 429 while the key waits out its back-off.

    Compare-and-set on the counter's `seq`: concurrent attempts are serialised,
    none is lost, and each sees the back-off its predecessors caused.
    """
    coll = LoginAttempt.get_pymongo_collection()
    for _ in range(50):
        doc = await coll.find_one({"_id": key})
        # the clock after the read: a concurrent attempt may have set `next_allowed` to its own "now" meanwhile
        now = utcnow()
        if doc is None:
            fresh = {"_id": key, "failures": 1, "seq": 1, "window_start": now, "next_allowed": now + backoff(1, free)}
            if await atomic.insert(coll, fresh):
                return
            continue
        in_window = _aware(doc.get("window_start") or now) > now - LOGIN_WINDOW
        failures = int(doc.get("failures") or 0) if in_window else 0
        next_allowed = _aware(doc.get("next_allowed") or doc.get("window_start") or now)
        if in_window and next_allowed > now:
            raise _too_many((next_allowed - now).total_seconds())
        changes = {"failures": failures + 1, "next_allowed": now + backoff(failures + 1, free), "window_start": now}
        if await atomic.update_if(coll, key, {"seq": doc.get("seq")}, {"$set": changes, "$inc": {"seq": 1}}):
            return
        await asyncio.sleep(0)
    raise TooManyRequests("Zu viele gleichzeitige Anmeldeversuche. Bitte gleich noch einmal versuchen.", retry_after=1)


async def _refund(key: str) -> None:
    """Give back an address's charge for a successful login."""
    await atomic.update_if(LoginAttempt.get_pymongo_collection(), key, {"failures": {"$gt": 0}}, {"$inc": {"failures": -1, "seq": 1}})


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


_hash_pool = ThreadPoolExecutor(max_workers=HASH_WORKERS, thread_name_prefix="password-hash")
_hash_waiting = 0


async def _in_hash_pool(fn: Callable[..., _T], *args: Any) -> _T:
    """Run password hashing in the bounded pool; 429 when too many checks already wait."""
    global _hash_waiting  # noqa: PLW0603 - one counter per process, changed only on the event loop
    if _hash_waiting >= HASH_QUEUE_LIMIT:
        raise TooManyRequests("Gerade melden sich sehr viele an. Bitte gleich noch einmal versuchen.", retry_after=2)
    _hash_waiting += 1
    try:
        return await asyncio.get_running_loop().run_in_executor(_hash_pool, fn, *args)
    finally:
        _hash_waiting -= 1


async def authenticate(username: str, password: str, *, client_address: str = "unknown", known_device: bool = False) -> Principal:
    """Check a password, throttled per account and (unless `known_device`) per client address."""
    username = (username or "").strip().lower()[:64]
    user_key, addr_key = f"user:{username}", f"addr:{client_address}"
    if not known_device:
        await _charge(addr_key, ADDRESS_FREE_FAILURES)
    await _charge(user_key, FREE_FAILURES)
    user = await find_user(username)
    if user is not None and user.active:
        ok = await _in_hash_pool(_verify, user.password_hash, password[:1024])
    else:
        # Spend comparable time so unknown usernames are not revealed by timing.
        await _in_hash_pool(_verify, _dummy_hash(), password[:1024])
        ok = False
    if not ok:
        raise NotAuthenticated("Benutzername oder Passwort ist falsch.")
    await LoginAttempt.get_pymongo_collection().delete_one({"_id": user_key})
    if not known_device:
        await _refund(addr_key)
    assert user is not None
    if _hasher.check_needs_rehash(user.password_hash):
        await atomic.update_if(User.get_pymongo_collection(), user.id, None, {"$set": {"password_hash": await _hash_password(password)}})
    return Principal(user.username, user.role)


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against for unknown usernames, made on first use (about a second of CPU: not at import,
    which every CLI command and worker process pays)."""
    return _hasher.hash("leuchtturm-dummy-password")


def _hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_token(username: str, name: str) -> tuple[ApiToken, str]:
    """Create an API token; returns the stored record and the secret, shown once."""
    user = await get_user(username)
    for _ in range(5):
        token_id = secrets.token_hex(6)
        secret = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        token_hash = _hash_token(secret)
        if await atomic.insert(ApiTokenId.get_pymongo_collection(), {"_id": token_id, "token_hash": token_hash}):
            break
    else:  # pragma: no cover - 48 random bits clashing five times
        raise Conflict("Es konnte kein Token erzeugt werden. Bitte erneut versuchen.")
    token = ApiToken(id=token_hash, token_id=token_id, username=user.username, name=name.strip()[:100] or "Token")
    await keylists.add(keylists.tokens_of(user.username), token_hash)
    await token.insert()
    return token, secret


async def _read_each(model: type[Any], ids: list[str]) -> list[Any]:
    """Documents by `_id`, a few at a time; ids without a document (a write that failed) are skipped."""
    from catalogue.storage import read_each

    return list((await read_each(model.get_pymongo_collection(), ids, parse=model.model_validate)).values())


async def list_users(*, page: int = 1, per_page: int = 100) -> tuple[list[User], int]:
    """One page of the users, by username, and how many there are: the users list, then each user, by key."""
    names = sorted(await keylists.members(keylists.USERS))
    start = (max(1, page) - 1) * per_page
    return await _read_each(User, names[start : start + per_page]), len(names)


async def list_tokens(username: str | None = None) -> list[ApiToken]:
    """API tokens (without secrets) of one user, or of everyone (`None`), oldest first, read by key."""
    users = [username] if username is not None else await keylists.members(keylists.USERS)
    hashes = [h for lists in await asyncio.gather(*(keylists.members(keylists.tokens_of(u)) for u in users)) for h in lists]
    tokens: list[ApiToken] = await _read_each(ApiToken, hashes)
    return sorted(tokens, key=lambda t: _aware(t.created_at))


async def find_token(token_id: str) -> ApiToken | None:
    """A token by its public id (two keyed reads)."""
    if not re.fullmatch(r"[0-9a-f]{12}", str(token_id or "")):
        return None
    key = await ApiTokenId.get(str(token_id))
    return await ApiToken.get(key.token_hash) if key is not None else None


async def revoke_token(token_id: str) -> ApiToken:
    token = await find_token(token_id)
    if token is None:
        raise NotFound(f"Token {token_id} nicht gefunden.")
    # Conditional: the first revocation's time stays.
    await atomic.update_if(ApiToken.get_pymongo_collection(), token.id, {"revoked_at": None}, {"$set": {"revoked_at": utcnow()}})
    TOKENS.forget(remembered_slot(ApiToken, token.id))  # and every read of it under way: none is kept
    refreshed = await ApiToken.get(token.id)
    assert refreshed is not None
    return refreshed


async def principal_for_token(secret: str) -> Principal:
    if not re.fullmatch(r"lt_([0-9a-f]{12})_[A-Za-z0-9_-]{20,100}", secret or ""):
        raise NotAuthenticated("Ungültiges API-Token.")
    token_hash = _hash_token(secret)
    token = await TOKENS.load(remembered_slot(ApiToken, token_hash), lambda: read_by_id(ApiToken, token_hash))
    if token is None or token.revoked_at is not None:
        raise NotAuthenticated("Ungültiges oder widerrufenes API-Token.")
    user = await remembered_user(token.username)
    if user is None or not user.active:
        raise NotAuthenticated("Der Benutzer dieses Tokens ist gesperrt.")
    now = utcnow()
    if token.last_used_at is None or _aware(token.last_used_at) + TOKEN_TOUCH_INTERVAL < now:
        token.last_used_at = now  # the kept token too: requests meanwhile do not write it again
        # Conditional on not being revoked meanwhile: a use never writes over a revocation.
        await atomic.update_if(ApiToken.get_pymongo_collection(), token.id, {"revoked_at": None}, {"$set": {"last_used_at": now}})
    return Principal(user.username, user.role, via_token=True)
