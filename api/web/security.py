"""Security headers on every response of the app (HTML pages, static files, JSON API, errors).

Installed as a `before_send` hook rather than route middleware: Litestar
runs route middleware only for matched routes, while `before_send` sees
every response start — including 404s for unknown paths and the responses
of exception handlers.
"""

from __future__ import annotations

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


# As the ASGI message carries them: lower-case names, latin-1 bytes.
RAW_SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = tuple(
    (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in SECURITY_HEADERS.items()
)


async def security_headers(message: Message, scope: Scope) -> None:
    """before_send hook: add the security headers unless a handler set its own value.

    Every response passes here, so the message's raw header list is read once
    and the missing headers appended as bytes (not through `MutableScopeHeaders`,
    which scanned and decoded the whole list for each of the four names).
    """
    if message["type"] != "http.response.start":
        return
    headers = message.get("headers")
    if not isinstance(headers, list):
        headers = message["headers"] = list(headers or ())
    present = {name.lower() for name, _ in headers}
    headers.extend(header for header in RAW_SECURITY_HEADERS if header[0] not in present)
