"""Users, API tokens and login rate limiting.

Passwords are hashed with argon2 (in a worker thread: it is CPU work); API
tokens are shown once, stored as a SHA-256 hash (they are long random
secrets, so a fast hash is sufficient) and can be revoked. Failed logins
are counted per username and per client address in fixed windows.

Every request reads these by `_id` only: a user by username, a token by its
hash (`ApiTokenId` maps the public token id to it), a login counter by its
key. Changes go through `catalogue.atomic` (conditional where it matters:
counters, token use and revocation).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from beanie import Document
from pydantic import BaseModel, EmailStr, Field
from pymongo import ASCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from catalogue import atomic
from catalogue.errors import Conflict, NotAuthenticated, NotFound, TooManyRequests, ValidationFailed
from catalogue.models import utcnow
from catalogue.vocabularies import FederalState, Role, SizeClass

_hasher = PasswordHasher()
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
TOKEN_PREFIX = "lt_"  # noqa: S105 - the visible prefix of every token, not a secret
MAX_FAILED_LOGINS = 5
LOGIN_WINDOW = timedelta(minutes=15)
# Writing last_used_at on every request would take the store's write lock each time; refresh it at most this often.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)


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
    """Failed logins of one key (`user:<name>` or `addr:<address>`) in the current window; `_id` = the key."""

    id: str  # type: ignore[assignment]
    failures: int = 0
    window_start: datetime = Field(default_factory=utcnow)

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
    return await asyncio.to_thread(_hasher.hash, password)


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
    try:
        await user.insert()  # the unique _id decides between concurrent creators
    except DuplicateKeyError:
        raise Conflict(f"Den Benutzer {username} gibt es schon.") from None
    return user


async def find_user(username: str) -> User | None:
    username = str(username or "").strip().lower()
    if not username or len(username) > 64:
        return None
    return await User.get(username)


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
    return await get_user(username)


async def set_password(username: str, password: str) -> None:
    _check_password_strength(password)
    user = await get_user(username)
    password_hash = await _hash_password(password)
    await atomic.update_if(User.get_pymongo_collection(), user.id, None, {"$set": {"password_hash": password_hash}})


async def _register_failure(key: str) -> int:
    """Count one failed login for `key`; atomic on both stores (no increment is lost)."""
    coll = LoginAttempt.get_pymongo_collection()
    for _ in range(10):
        now = utcnow()
        start = now - LOGIN_WINDOW
        doc = await atomic.update_if(coll, key, {"window_start": {"$gt": start}}, {"$inc": {"failures": 1}}, return_document=True)
        if doc is not None:
            return int(doc["failures"])
        # No counter, or its window is over: start a new window.
        doc = await atomic.update_if(
            coll, key, {"window_start": {"$lte": start}}, {"$set": {"failures": 1, "window_start": now}}, return_document=True
        )
        if doc is not None:
            return 1
        if await atomic.insert(coll, {"_id": key, "failures": 1, "window_start": now}):
            return 1
    raise TooManyRequests("Zu viele gleichzeitige Anmeldeversuche. Bitte gleich noch einmal versuchen.", retry_after=1)


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


async def _blocked_for(key: str) -> int:
    doc = await LoginAttempt.get_pymongo_collection().find_one({"_id": key})
    if doc is None:
        return 0
    start = _aware(doc["window_start"])
    if doc["failures"] >= MAX_FAILED_LOGINS and start > utcnow() - LOGIN_WINDOW:
        return int((start + LOGIN_WINDOW - utcnow()).total_seconds()) + 1
    return 0


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def authenticate(username: str, password: str, *, client_address: str = "unknown") -> Principal:
    """Check a password; rate-limited per username and per client address."""
    username = (username or "").strip().lower()[:64]
    keys = [f"user:{username}", f"addr:{client_address}"]
    for key in keys:
        wait = await _blocked_for(key)
        if wait:
            raise TooManyRequests(
                f"Zu viele fehlgeschlagene Anmeldungen. Bitte in {max(1, wait // 60)} Minuten erneut versuchen.",
                retry_after=wait,
            )
    user = await find_user(username)
    if user is not None and user.active:
        ok = await asyncio.to_thread(_verify, user.password_hash, password[:1024])
    else:
        # Spend comparable time so unknown usernames are not revealed by timing.
        await asyncio.to_thread(_verify, _DUMMY_HASH, password[:1024])
        ok = False
    if not ok:
        for key in keys:
            await _register_failure(key)
        raise NotAuthenticated("Benutzername oder Passwort ist falsch.")
    await LoginAttempt.get_pymongo_collection().delete_one({"_id": keys[0]})
    assert user is not None
    if _hasher.check_needs_rehash(user.password_hash):
        await atomic.update_if(User.get_pymongo_collection(), user.id, None, {"$set": {"password_hash": await _hash_password(password)}})
    return Principal(user.username, user.role)


_DUMMY_HASH = _hasher.hash("leuchtturm-dummy-password")


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
    await token.insert()
    return token, secret


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
    refreshed = await ApiToken.get(token.id)
    assert refreshed is not None
    return refreshed


async def principal_for_token(secret: str) -> Principal:
    if not re.fullmatch(r"lt_([0-9a-f]{12})_[A-Za-z0-9_-]{20,100}", secret or ""):
        raise NotAuthenticated("Ungültiges API-Token.")
    token = await ApiToken.get(_hash_token(secret))
    if token is None or token.revoked_at is not None:
        raise NotAuthenticated("Ungültiges oder widerrufenes API-Token.")
    user = await find_user(token.username)
    if user is None or not user.active:
        raise NotAuthenticated("Der Benutzer dieses Tokens ist gesperrt.")
    now = utcnow()
    if token.last_used_at is None or _aware(token.last_used_at) + TOKEN_TOUCH_INTERVAL < now:
        # Conditional on not being revoked meanwhile: a use never writes over a revocation.
        await atomic.update_if(ApiToken.get_pymongo_collection(), token.id, {"revoked_at": None}, {"$set": {"last_used_at": now}})
    return Principal(user.username, user.role, via_token=True)
