"""What /schema/openapi.json says about responses beyond the success case (issue 13, fuzzing).

Litestar documents each handler's success response from its return annotation and a 400 in its own
error shape (`status_code`, `detail`, `extra`, as `application/json`). The API answers every error as
RFC 9457 problem details (`application/problem+json`, api/problems.py), and some routes send Atom,
XML, CSV, Turtle or PDF. `document_responses` rewrites the generated schema once at start-up so that
every status code an operation can give is listed with the problem schema, and every success response
names the media types the handler really sends. schemathesis checks both (tests/integration/test_fuzz.py).

The rules, per operation:
- every operation: 400 (malformed parameters or body) and 503 (store or search not ready);
- under /api/: 401 (an invalid or revoked token; a login where one is needed) and 429 (the request
  limits of api/auth.py and the hashing pool);
- writes (POST, PUT, PATCH, DELETE) under /api/: 403 (role or ownership);
- a path parameter: 404 (nothing under that key, or nothing the caller may see); a profile's slug:
  301 for reads and 308 for writes (an old slug redirects to the current one);
- a request body: 413 (over the size limit, checked while streaming) and 422 (field validation);
- an `If-Match` header: 409, 412 (the profile changed) and 428 (If-Match missing);
- `EXTRA_STATUSES` adds what the rules cannot see (a 422 for a missing query, 403 for admin lists, …).
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.openapi.spec import OpenAPI, OpenAPIMediaType, OpenAPIResponse, Operation, Reference, Schema
from litestar.openapi.spec.enums import OpenAPIType

from api.open_data import FORMATS
from api.problems import _TITLES, PROBLEM_JSON
from catalogue.opendata.dcat import SUFFIXES

PROBLEM_SCHEMA = "Problem"

# Success media types of the routes that do not answer JSON (operation id -> media types).
SUCCESS_MEDIA: dict[str, tuple[str, ...]] = {
    "feedRecent": ("application/atom+xml",),
    "feedSearch": ("application/atom+xml",),
    "sitemap": ("application/xml",),
    "sitemapPart": ("application/xml",),
    "robots": ("text/plain",),
    "getProfilePdf": ("application/pdf",),
    "getComparisonPdf": ("application/pdf",),
    "exportProfiles": tuple(f.media_type.split(";")[0] for f in FORMATS.values()),
    "dcatCatalog": tuple(SUFFIXES.values()),
    "dcatProfile": tuple(SUFFIXES.values()),
}

# Status codes the rules below cannot derive from the operation's shape.
EXTRA_STATUSES: dict[str, tuple[int, ...]] = {
    "comparableForMunicipality": (422,),
    "listUsers": (403,),
    "listStaleProfiles": (403,),
    "listProfiles": (403, 422),  # the review queue is the editorial team's
    "searchProfiles": (403, 422),  # explain=true is the editorial team's (found by the long fuzz run)
    "listProfileVersions": (403,),  # history: owners and the editorial team
    "getProfileVersion": (403,),
    "diffProfileVersions": (403,),
    "getComparisonPdf": (404, 422),
    "createImport": (413, 415, 422),
    "recordAdoption": (409,),
    "saveSearch": (409,),
    "createUser": (409,),
    "createToken": (409, 422),
    "loginForToken": (409, 422),
    "hideAdoption": (409,),
    "confirmImport": (409,),
}

# Browser routes in the schema answer their errors as German HTML pages (api/web/errors.py).
HTML_ERRORS = {"getComparisonPdf"}

_WRITE = {"post", "put", "patch", "delete"}


def _problem_schema() -> Schema:
    return Schema(
        type=OpenAPIType.OBJECT,
        required=["type", "title", "status", "detail"],
        properties={
            "type": Schema(type=OpenAPIType.STRING, description="URI des Problemtyps"),
            "title": Schema(type=OpenAPIType.STRING),
            "status": Schema(type=OpenAPIType.INTEGER, minimum=100, maximum=599),
            "detail": Schema(type=OpenAPIType.STRING),
            "instance": Schema(type=OpenAPIType.STRING),
            "errors": Schema(
                type=OpenAPIType.ARRAY,
                items=Schema(type=OpenAPIType.OBJECT, required=["field", "message"], properties={
                    "field": Schema(type=OpenAPIType.STRING), "message": Schema(type=OpenAPIType.STRING),
                }),
                description="Bei 422: ein Eintrag je Feld",
            ),
        },
        description="Fehler nach RFC 9457 (application/problem+json)",
    )


def _error_response(status: int, operation_id: str) -> OpenAPIResponse:
    content = {PROBLEM_JSON: OpenAPIMediaType(schema=Reference(ref=f"#/components/schemas/{PROBLEM_SCHEMA}"))}
    if operation_id in HTML_ERRORS:
        content["text/html"] = OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))
    return OpenAPIResponse(description=_TITLES.get(status, str(status)), content=content)


def statuses_for(path: str, method: str, operation: Operation) -> set[int]:
    """The error statuses an operation can answer (see the module docstring); /health documents its own."""
    if path.startswith("/health"):
        return set()
    out = {400, 503}
    params = [p for p in operation.parameters or [] if not isinstance(p, Reference)]
    if path.startswith("/api/"):
        out |= {401, 429}
        if method in _WRITE:
            out.add(403)
    if "{" in path:
        out.add(404)
    if "{slug}" in path:  # an old slug: 301 (308 for writes) to the profile's current address (api/problems.handle_moved)
        out.add(301 if method == "get" else 308)
    if operation.request_body is not None:
        out |= {413, 422}
    if any(p.param_in == "header" and p.name.lower() == "if-match" for p in params):
        out |= {409, 412, 428}
    out.update(EXTRA_STATUSES.get(operation.operation_id or "", ()))
    return out


def document_responses(openapi: OpenAPI) -> None:
    """Rewrite the error responses and non-JSON success media types of every operation, in place."""
    assert openapi.components is not None
    openapi.components.schemas = {**(openapi.components.schemas or {}), PROBLEM_SCHEMA: _problem_schema()}
    for path, item in (openapi.paths or {}).items():
        for method in ("get", "put", "post", "delete", "patch"):
            operation: Operation | None = getattr(item, method, None)
            if operation is None:
                continue
            operation_id = operation.operation_id or ""
            responses: dict[str, Any] = dict(operation.responses or {})
            for status in statuses_for(path, method, operation):
                responses[str(status)] = _error_response(status, operation_id)
            media = SUCCESS_MEDIA.get(operation_id)
            if media:
                for code, response in responses.items():
                    if code.startswith("2") and isinstance(response, OpenAPIResponse):
                        response.content = {m: OpenAPIMediaType(schema=Schema()) for m in media}
            operation.responses = dict(sorted(responses.items()))


def on_startup(app: Litestar) -> None:
    """Build the schema once and rewrite it before the first request renders it."""
    document_responses(app.openapi_schema)
