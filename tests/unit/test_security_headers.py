"""The security headers hook (api/web/security.py) on raw ASGI messages; over HTTP: tests/integration/test_web_pages.py."""

from __future__ import annotations

import asyncio
from typing import Any

from api.web.security import SECURITY_HEADERS, security_headers


def _sent(message: dict[str, Any]) -> dict[str, Any]:
    asyncio.run(security_headers(message, {}))  # type: ignore[arg-type]
    return message


def test_missing_headers_are_added_after_the_handlers_own() -> None:
    message = _sent({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
    assert message["headers"] == [
        (b"content-type", b"text/html"),
        *((name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()),
    ]


def test_a_handlers_own_value_stays_whatever_its_case() -> None:
    own = [(b"X-Frame-Options", b"SAMEORIGIN"), (b"content-security-policy", b"default-src 'none'")]
    message = _sent({"type": "http.response.start", "status": 200, "headers": tuple(own)})
    names = [name.lower() for name, _ in message["headers"]]
    assert message["headers"][:2] == own
    assert sorted(names) == sorted({name.lower().encode() for name in SECURITY_HEADERS})  # each once
    assert (b"x-content-type-options", b"nosniff") in message["headers"]


def test_only_the_response_start_is_touched() -> None:
    body = {"type": "http.response.body", "body": b"x"}
    assert _sent(dict(body)) == body
    assert dict(_sent({"type": "http.response.start", "status": 204}))["headers"]  # no header list: one is made
