"""Who is calling: API tokens (Authorization: Bearer) and browser sessions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar import Request

from catalogue.errors import NotAuthenticated
from catalogue.users import Principal, principal_for_token

# Browser sessions register a resolver here (api/web/sessions.py); tokens come first.
SessionResolver = Callable[[Request], Awaitable[Principal | None]]
_session_resolvers: list[SessionResolver] = []


def register_session_resolver(resolver: SessionResolver) -> None:
    if resolver not in _session_resolvers:
        _session_resolvers.append(resolver)


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
        for resolver in _session_resolvers:
            principal = await resolver(request)
            if principal is not None:
                break
    request.scope["principal"] = principal  # type: ignore[typeddict-unknown-key]
    return principal


async def require_principal(request: Request) -> Principal:
    principal = await resolve_principal(request)
    if principal is None:
        raise NotAuthenticated("Für diese Aktion müssen Sie angemeldet sein.")
    return principal
