"""Security headers on every response of the app (HTML pages, static files, JSON API, errors).

Installed as a `before_send` hook rather than route middleware: Litestar
runs route middleware only for matched routes, while `before_send` sees
every response start — including 404s for unknown paths and the responses
of exception handlers.
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}


async def security_headers(message: Message, scope: Scope) -> None:
    """before_send hook: add the security headers unless a handler set its own value."""
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    for name, value in SECURITY_HEADERS.items():
        if headers.get(name) is None:
            headers[name] = value
