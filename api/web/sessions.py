"""Glue between browser sessions (catalogue.sessions) and HTTP.

* The session id travels in an HttpOnly, SameSite=Lax cookie (Secure when
  settings.cookies_secure).
* `resolve_session` is registered with api.auth so resolve_principal sees
  the logged-in user — also in the JSON API, where an unsafe request made
  with the cookie must carry the session's CSRF token in `X-CSRF-Token`
  (otherwise it counts as anonymous).
* CSRF for HTML forms: every POST form carries `csrf_token`. Logged-in
  users get the token stored with their session; the login form (no session
  yet) uses a double-submit cookie.
"""

from __future__ import annotations

import secrets
from typing import Any

from litestar import Request, Response
from litestar.datastructures import Cookie

from catalogue.errors import PermissionDenied
from catalogue.sessions import WebSession, load_session_user
from catalogue.users import Principal, User

SESSION_COOKIE = "lt_session"
LOGIN_CSRF_COOKIE = "lt_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}
_SCOPE_KEY = "web_session"
_USER_SCOPE_KEY = "web_session_user"
_LOGIN_CSRF_SCOPE_KEY = "login_csrf"


class CsrfFailed(PermissionDenied):
    """A form arrived without a valid CSRF token."""

    type_slug = "csrf"

    def __init__(self) -> None:
        super().__init__(
            "Das Formular ist abgelaufen oder kam nicht von dieser Seite. Bitte laden Sie die Seite neu und versuchen Sie es noch einmal."
        )


def same_token(sent: str, expected: str) -> bool:
    """Constant-time comparison of two tokens; any text (also non-ASCII, which
    `secrets.compare_digest` refuses for str with a TypeError) is simply not a match."""
    if not sent or not expected:
        return False
    return secrets.compare_digest(sent.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


async def current_session(request: Request) -> tuple[WebSession, Principal] | None:
    """The browser session of this request (cached in the scope)."""
    if _SCOPE_KEY in request.scope:
        return request.scope[_SCOPE_KEY]  # type: ignore[return-value]
    loaded = await load_session_user(request.cookies.get(SESSION_COOKIE))
    found = (loaded[0], loaded[1]) if loaded is not None else None
    request.scope[_SCOPE_KEY] = found  # type: ignore[typeddict-unknown-key]
    request.scope[_USER_SCOPE_KEY] = loaded[2] if loaded is not None else None  # type: ignore[typeddict-unknown-key]
    return found


def session_user(request: Request, principal: Principal | None) -> User | None:
    """The user document this request's session was resolved with, when `principal` is that session's user (else None).

    Read with the session (`load_session_user`, kept for `users.PRINCIPAL_TTL_S` like the session);
    pages use it instead of looking the caller's user up again.
    """
    user: User | None = request.scope.get(_USER_SCOPE_KEY)  # type: ignore[assignment]
    return user if user is not None and principal is not None and user.username == principal.username else None


async def resolve_session(request: Request) -> Principal | None:
    """Session resolver for api.auth.resolve_principal."""
    found = await current_session(request)
    if found is None:
        return None
    session, principal = found
    # Cookie-authenticated API writes need the CSRF header; without it the caller is anonymous.
    is_api_write = request.method not in SAFE_METHODS and request.url.path.startswith("/api/")
    if is_api_write and not same_token(request.headers.get(CSRF_HEADER, ""), session.csrf_token):
        return None
    return principal


def _secure(request: Request) -> bool:
    return bool(request.app.state.settings.cookies_secure)


def session_cookie(request: Request, sid: str) -> Cookie:
    return Cookie(key=SESSION_COOKIE, value=sid, path="/", httponly=True, samesite="lax", secure=_secure(request))


def clear_session_cookie(request: Request) -> Cookie:
    return Cookie(key=SESSION_COOKIE, value="", path="/", httponly=True, samesite="lax", secure=_secure(request), max_age=0)


def login_csrf_token(request: Request) -> tuple[str, Cookie | None]:
    """The double-submit token for forms sent without a session (login, Merkliste) and the cookie to set (None if already set)."""
    token = request.cookies.get(LOGIN_CSRF_COOKIE)
    if token and 20 <= len(token) <= 100 and token.isascii() and token.isprintable():
        return token, None
    if _LOGIN_CSRF_SCOPE_KEY in request.scope:  # one new token per request, however many forms ask
        return request.scope[_LOGIN_CSRF_SCOPE_KEY]  # type: ignore[return-value]
    token = secrets.token_urlsafe(32)
    cookie = Cookie(key=LOGIN_CSRF_COOKIE, value=token, path="/", httponly=True, samesite="lax", secure=_secure(request))
    request.scope[_LOGIN_CSRF_SCOPE_KEY] = (token, cookie)  # type: ignore[typeddict-unknown-key]
    return token, cookie


def check_login_csrf(request: Request, form: Any) -> None:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    sent = str(form.get(CSRF_FIELD) or "")
    if not same_token(sent, expected):
        raise CsrfFailed


async def check_csrf(request: Request, form: Any) -> tuple[WebSession, Principal]:
    """Check a logged-in user's form; returns the session. Raises CsrfFailed."""
    found = await current_session(request)
    if found is None:
        raise CsrfFailed
    session, principal = found
    sent = str(form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or "")
    if not same_token(sent, session.csrf_token):
        raise CsrfFailed
    return session, principal


def with_cookies(response: Response, *cookies: Cookie | None) -> Response:
    for cookie in cookies:
        if cookie is not None:
            response.set_cookie(cookie)
    return response
