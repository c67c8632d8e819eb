"""One mapping from exceptions to RFC 9457 problem details for the whole API."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from pydantic import ValidationError

from catalogue.errors import CatalogueError, ProfileMoved, pydantic_errors

log = logging.getLogger("leuchtturm.api")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://leuchtturm.example/probleme/"

_TITLES = {
    400: "Ungültige Anfrage",
    401: "Anmeldung erforderlich",
    403: "Keine Berechtigung",
    404: "Nicht gefunden",
    405: "Methode nicht erlaubt",
    301: "Dauerhaft verschoben",
    308: "Dauerhaft verschoben",
    409: "Konflikt",
    412: "Das Profil wurde inzwischen geändert",
    413: "Anfrage zu groß",
    415: "Nicht unterstütztes Format",
    422: "Eingaben sind ungültig",
    428: "If-Match-Header fehlt",
    429: "Zu viele Anfragen",
    500: "Interner Fehler",
    503: "Dienst nicht verfügbar",
}


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    type_slug: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": TYPE_BASE + (type_slug or str(status)),
        "title": title or _TITLES.get(status, HTTPStatus(status).phrase),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(content=body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _validation_errors_from_litestar(extra: Any) -> list[dict[str, Any]]:
    out = []
    for item in extra if isinstance(extra, list) else []:
        if isinstance(item, dict):
            out.append({"field": item.get("key") or item.get("source") or "", "message": item.get("message", ""), "source": item.get("source")})
    return out


def handle_catalogue_error(request: Request, exc: CatalogueError) -> Response:
    headers = {"Retry-After": str(exc.extra["retry_after"])} if "retry_after" in exc.extra else None
    extra = {k: v for k, v in exc.extra.items() if k != "retry_after"}
    return problem(
        exc.status,
        exc.detail,
        title=exc.title,
        type_slug=exc.type_slug,
        instance=request.url.path,
        errors=exc.errors or None,
        headers=headers,
        **extra,
    )


def moved_location(path: str, old_slug: str, new_slug: str) -> str:
    """`path` with the profile's old slug replaced by the new one (also in `/profiles/old.pdf`)."""
    return re.sub(rf"(/profiles/){re.escape(old_slug)}(?=/|\.pdf$|$)", lambda m: m.group(1) + new_slug, path, count=1)


def handle_moved(request: Request, exc: ProfileMoved) -> Response:
    """An old slug: 301 to the same resource under the current slug (308 for writes, which keeps the method)."""
    location = moved_location(request.url.path, exc.old_slug, exc.new_slug)
    if request.url.query:
        location += "?" + request.url.query
    status = 301 if request.method in ("GET", "HEAD") else 308
    return problem(
        status, exc.detail, title=exc.title, type_slug=exc.type_slug, instance=request.url.path,
        headers={"Location": location}, location=location,
    )


def handle_pydantic_error(request: Request, exc: ValidationError) -> Response:
    errors = pydantic_errors(exc)
    fields = ", ".join(e["field"] or "(Anfrage)" for e in errors)
    return problem(422, f"Bitte prüfen Sie: {fields}", type_slug="validation", instance=request.url.path, errors=errors)


def handle_http_exception(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    detail = exc.detail
    errors = None
    if isinstance(exc, ValidationException):
        cause = exc.__cause__
        original = getattr(cause, "__cause__", None)
        if isinstance(original, ValidationError):  # a pydantic body model: German, per field
            errors = [{**e, "field": e["field"]} for e in pydantic_errors(original)]
            fields = ", ".join(e["field"] or "(Anfrage)" for e in errors)
            return problem(422, f"Bitte prüfen Sie: {fields}", type_slug="validation", instance=request.url.path, errors=errors)
        errors = _validation_errors_from_litestar(exc.extra)
        if errors and status == 400:
            status = 400
            detail = "Ungültige Parameter: " + ", ".join(f"{e['field']} ({e['message']})" for e in errors)
        if "Request body exceeded" in str(exc.detail) or status == 413:
            status = 413
    if status == 400 and "JSON" in detail:
        detail = "Der Inhalt ist kein gültiges JSON."
    elif status == 413:
        detail = "Die Anfrage ist zu groß."
    elif status == 404 and detail in ("Not Found", ""):
        detail = "Diese Adresse gibt es nicht."
    elif status == 405:
        detail = "Diese Methode ist hier nicht erlaubt."
    return problem(status, detail, instance=request.url.path, errors=errors or None, headers=exc.headers)


def handle_unicode_error(request: Request, exc: UnicodeDecodeError) -> Response:
    return problem(400, "Der Inhalt ist kein gültiges UTF-8.", type_slug="encoding", instance=request.url.path)


def handle_recursion_error(request: Request, exc: RecursionError) -> Response:
    """The JSON decoder (msgspec) gives up on deeply nested input such as `[[[[…`: the client's fault."""
    if "deserializing" not in str(exc):
        return handle_unexpected(request, exc)
    return problem(400, "Der Inhalt ist zu tief verschachtelt.", type_slug="nesting", instance=request.url.path)


def handle_unexpected(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "Ein unerwarteter Fehler ist aufgetreten. Bitte versuchen Sie es später erneut.", instance=request.url.path)


def _for_browsers(handler: Any) -> Any:
    """Browser routes get the same error as a German HTML page (api/web/errors.py); /api/ and /health keep problem+json."""

    def wrapped(request: Request, exc: Exception) -> Response:
        response = handler(request, exc)
        from api.web.errors import html_error, wants_html

        return html_error(request, response) if wants_html(request) else response

    wrapped.__name__ = handler.__name__
    return wrapped


EXCEPTION_HANDLERS = {
    ProfileMoved: handle_moved,  # a redirect for browsers and machines alike
    CatalogueError: _for_browsers(handle_catalogue_error),
    ValidationError: _for_browsers(handle_pydantic_error),
    HTTPException: _for_browsers(handle_http_exception),
    UnicodeDecodeError: _for_browsers(handle_unicode_error),
    RecursionError: _for_browsers(handle_recursion_error),
    Exception: _for_browsers(handle_unexpected),
}

__all__ = ["EXCEPTION_HANDLERS", "PROBLEM_JSON", "MediaType", "problem"]
