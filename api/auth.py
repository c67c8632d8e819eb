"""Who is calling: API tokens (Authorization: Bearer) first, then a browser session (when the web UI is registered)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar import Request

from catalogue.errors import NotAuthenticated
from catalogue.users import Principal, principal_for_token

# The app state key of the browser-session resolver; the web plugin (api/web/plugin.py) sets it.
SessionResolver = Callable[[Request], Awaitable[Principal | None]]
SESSION_RESOLVER = "session_resolver"


async def resolve_principal(request: Request) -> Principal | None:
    """The caller, or None for an anonymous reader. Cached per request."""
    if "principal" in request.scope:
        return request.scope["principal"]  # type: ignore[return-value]
    principal: Principal | None = None
    header = request.headers.get("authorization")
    if header:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise NotAuthenticated("Bitte melden Sie sich mit „Authorization: Bearer <API-Token>“ an.")
        principal = await principal_for_token(secret.strip())
    else:
        resolver: SessionResolver | None = request.app.state.get(SESSION_RESOLVER)
        if resolver is not None:
            principal = await resolver(request)
    request.scope["principal"] = principal  # type: ignore[typeddict-unknown-key]
    return principal


async def require_principal(request: Request) -> Principal:
    principal = await resolve_principal(request)
    if principal is None:
        raise NotAuthenticated("Für diese Aktion müssen Sie angemeldet sein.")
    return principal
