"""Users, API tokens and login rate limiting.

Passwords are hashed with argon2; API tokens are shown once, stored as a
SHA-256 hash (they are long random secrets, so a fast hash is sufficient)
and can be revoked. Failed logins are counted per username and per client
address in fixed windows.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from beanie import Document, Indexed
from pydantic import EmailStr, Field
from pymongo import ASCENDING, IndexModel, ReturnDocument

from catalogue.errors import Conflict, NotAuthenticated, NotFound, TooManyRequests, ValidationFailed
from catalogue.models import utcnow
from catalogue.vocabularies import Role

_hasher = PasswordHasher()
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
TOKEN_PREFIX = "lt_"  # noqa: S105 - the visible prefix of every token, not a secret
MAX_FAILED_LOGINS = 5
LOGIN_WINDOW = timedelta(minutes=15)


class User(Document):
    username: Indexed(str, unique=True)  # type: ignore[valid-type]
    display_name: str
    email: EmailStr | None = None
    role: Role = Role.EDITOR
    password_hash: str
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "users"


class ApiToken(Document):
    token_id: Indexed(str, unique=True)  # type: ignore[valid-type]
    token_hash: str
    username: str
    name: str
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    class Settings:
        name = "api_tokens"
        indexes = [IndexModel([("username", ASCENDING)], name="username")]


class LoginAttempt(Document):
    key: Indexed(str, unique=True)  # type: ignore[valid-type]
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


async def create_user(username: str, password: str, role: Role, *, display_name: str | None = None, email: str | None = None) -> User:
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise ValidationFailed(
            "Ungültiger Benutzername.",
            errors=[{"field": "username", "message": "2–40 Zeichen: Kleinbuchstaben, Ziffern, Punkt, Bindestrich, Unterstrich"}],
        )
    _check_password_strength(password)
    if await User.find_one(User.username == username):
        raise Conflict(f"Den Benutzer {username} gibt es schon.")
    user = User(username=username, display_name=display_name or username, email=email, role=role, password_hash=_hasher.hash(password))
    await user.insert()
    return user


async def get_user(username: str) -> User:
    user = await User.find_one(User.username == str(username))
    if user is None:
        raise NotFound(f"Benutzer {username} nicht gefunden.")
    return user


async def set_password(username: str, password: str) -> None:
    _check_password_strength(password)
    user = await get_user(username)
    user.password_hash = _hasher.hash(password)
    await user.save()


async def _register_failure(key: str) -> int:
    now = utcnow()
    coll = LoginAttempt.get_pymongo_collection()
    doc = await coll.find_one({"key": key})
    if doc is None or _aware(doc["window_start"]) < now - LOGIN_WINDOW:
        await coll.update_one({"key": key}, {"$set": {"failures": 1, "window_start": now}}, upsert=True)
        return 1
    doc = await coll.find_one_and_update({"key": key}, {"$inc": {"failures": 1}}, return_document=ReturnDocument.AFTER)
    return int(doc["failures"]) if doc is not None else 1


def _aware(dt: datetime) -> datetime:
    from datetime import UTC

    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


async def _blocked_for(key: str) -> int:
    doc = await LoginAttempt.get_pymongo_collection().find_one({"key": key})
    if doc is None:
        return 0
    start = _aware(doc["window_start"])
    if doc["failures"] >= MAX_FAILED_LOGINS and start > utcnow() - LOGIN_WINDOW:
        return int((start + LOGIN_WINDOW - utcnow()).total_seconds()) + 1
    return 0


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
    user = await User.find_one(User.username == username)
    ok = False
    if user is not None and user.active:
        try:
            ok = _hasher.verify(user.password_hash, password[:1024])
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
    else:
        # Spend comparable time so unknown usernames are not revealed by timing.
        with contextlib.suppress(VerifyMismatchError, VerificationError, InvalidHashError):
            _hasher.verify(_DUMMY_HASH, password[:1024])
    if not ok:
        for key in keys:
            await _register_failure(key)
        raise NotAuthenticated("Benutzername oder Passwort ist falsch.")
    await LoginAttempt.get_pymongo_collection().delete_many({"key": keys[0]})
    assert user is not None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        await user.save()
    return Principal(user.username, user.role)


_DUMMY_HASH = _hasher.hash("leuchtturm-dummy-password")


def _hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_token(username: str, name: str) -> tuple[ApiToken, str]:
    """Create an API token; returns the stored record and the secret, shown once."""
    await get_user(username)
    token_id = secrets.token_hex(6)
    secret = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    token = ApiToken(token_id=token_id, token_hash=_hash_token(secret), username=username, name=name.strip()[:100] or "Token")
    await token.insert()
    return token, secret


async def revoke_token(token_id: str) -> ApiToken:
    token = await ApiToken.find_one(ApiToken.token_id == str(token_id))
    if token is None:
        raise NotFound(f"Token {token_id} nicht gefunden.")
    token.revoked_at = utcnow()
    await token.save()
    return token


async def principal_for_token(secret: str) -> Principal:
    m = re.fullmatch(r"lt_([0-9a-f]{12})_[A-Za-z0-9_-]{20,100}", secret or "")
    if not m:
        raise NotAuthenticated("Ungültiges API-Token.")
    token = await ApiToken.find_one(ApiToken.token_id == m.group(1))
    if token is None or token.revoked_at is not None or not secrets.compare_digest(token.token_hash, _hash_token(secret)):
        raise NotAuthenticated("Ungültiges oder widerrufenes API-Token.")
    user = await User.find_one(User.username == token.username)
    if user is None or not user.active:
        raise NotAuthenticated("Der Benutzer dieses Tokens ist gesperrt.")
    await ApiToken.get_pymongo_collection().update_one({"_id": token.id}, {"$set": {"last_used_at": utcnow()}})
    return Principal(user.username, user.role, via_token=True)
