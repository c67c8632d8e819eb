"""HTML error pages for browser routes; /api/, /health and /schema keep problem+json."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.response import Template

MACHINE_PREFIXES = (
    "/api/", "/api", "/health", "/schema", "/static/",
    # open data (api/controllers/opendata.py): read by feed readers, crawlers and harvesters
    "/dcat/", "/feed.atom", "/suche.atom", "/sitemap.xml", "/sitemaps/", "/robots.txt",
)

ERROR_TITLES = {
    400: "Diese Anfrage konnten wir nicht verstehen",
    401: "Bitte melden Sie sich an",
    403: "Dafür fehlt Ihnen die Berechtigung",
    404: "Diese Seite gibt es nicht",
    405: "Diese Aktion ist hier nicht möglich",
    409: "Das passt gerade nicht zusammen",
    412: "Das Profil wurde inzwischen geändert",
    413: "Die Anfrage ist zu groß",
    422: "Bitte prüfen Sie Ihre Eingaben",
    429: "Zu viele Versuche",
    500: "Hier ist etwas schiefgegangen",
    503: "Der Dienst ist gerade nicht erreichbar",
}
GENERIC_DETAIL = {
    404: "Vielleicht hat sich die Adresse geändert oder das Profil wurde archiviert. Über die Suche finden Sie alle veröffentlichten Projekte.",
    500: "Das liegt nicht an Ihnen. Bitte versuchen Sie es in ein paar Minuten noch einmal.",
}


def wants_html(request: Request) -> bool:
    """Browser routes get HTML error pages; machine routes and JSON clients get problem+json."""
    path = request.url.path
    if any(path == p.rstrip("/") or path.startswith(p) for p in MACHINE_PREFIXES):
        return False
    accept = request.headers.get("accept", "")
    if "application/json" in accept or "application/problem+json" in accept:
        return "text/html" in accept
    return True


def html_error(request: Request, problem_response: Response) -> Response:
    """Turn a problem+json response into a German HTML error page with the same status and headers."""
    body: Any = problem_response.content if isinstance(problem_response.content, dict) else {}
    status = int(problem_response.status_code)
    detail = str(body.get("detail") or "")
    if status >= 500:
        detail = GENERIC_DETAIL[500] if status == 500 else detail
    elif status == 404 and detail in ("", "Diese Adresse gibt es nicht."):
        detail = GENERIC_DETAIL[404]
    headers = {k: v for k, v in (problem_response.headers or {}).items() if k.lower() == "retry-after"}
    principal = request.scope.get("principal")  # set only if resolved earlier in this request
    return Template(
        template_name="error.html",
        context={
            "status": status,
            "title": ERROR_TITLES.get(status, "Das hat nicht geklappt"),
            "detail": detail,
            "principal": principal,
            "csrf_token": "",
            "notice": None,
            "path": request.url.path,
            "login_needed": status == 401,
        },
        status_code=status,
        headers={**headers, "Cache-Control": "no-store"},
    )
