"""Helpers shared by the web controllers: page rendering with the common context, login checks."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request
from litestar.response import Redirect, Template

from api.auth import resolve_principal
from api.web.basket import BASKET_NOTICES, MAX_BASKET, basket_items, basket_slugs, compare_url
from api.web.sessions import current_session, login_csrf_token
from catalogue.profiles import ProfileService
from catalogue.users import Principal

# Fixed notices for ?hinweis=… after a redirect (never echo user input as a message).
NOTICES: dict[str, str] = {
    "angemeldet": "Sie sind angemeldet.",
    "abgemeldet": "Sie sind abgemeldet.",
    "gespeichert": "Der Entwurf ist gespeichert.",
    "eingereicht": "Das Profil ist zur Prüfung eingereicht. Die Katalogredaktion meldet sich.",
    "veroeffentlicht": "Das Profil ist veröffentlicht.",
    "zurueckgegeben": "Das Profil ist mit Ihrem Kommentar an die Redaktion der Kommune zurückgegangen.",
    "archiviert": "Das Profil ist archiviert.",
    "wiederhergestellt": "Das Profil ist als Entwurf wiederhergestellt.",
    "bestaetigt": "Danke! Das Profil ist als aktuell bestätigt.",
}


def service(request: Request) -> ProfileService:
    return ProfileService(on_change=request.app.state.runtime.notify_change)


async def page(request: Request, template: str, *, status_code: int = 200, **context: Any) -> Template:
    """Render a page with the common context (who is logged in, CSRF token, notice)."""
    principal = await resolve_principal(request)
    found = await current_session(request)
    hint = str(request.query_params.get("hinweis") or "")
    notice = NOTICES.get(hint) or BASKET_NOTICES.get(hint)
    # the Merkliste (api/web/basket.py): its forms use the double-submit token, also for visitors without a session
    basket_token, token_cookie = login_csrf_token(request)
    slugs = basket_slugs(request)
    basket = await basket_items(slugs, principal) if slugs else []
    back = request.url.path + ("?" + request.url.query if request.url.query else "")
    ctx = {
        "principal": principal,
        "csrf_token": found[0].csrf_token if found else "",
        "notice": notice,
        "path": request.url.path,
        "base_url": request.app.state.settings.public_base_url,
        "basket": basket,
        "basket_slugs": [item.slug for item in basket],
        "basket_token": basket_token,
        "basket_back": back,
        "compare_url": compare_url,
        "max_basket": MAX_BASKET,
        **context,
    }
    return Template(
        template_name=template,
        context=ctx,
        status_code=status_code,
        headers={"Cache-Control": "no-store"} if principal or basket else None,
        cookies=[token_cookie] if token_cookie else None,
    )


def login_redirect(request: Request) -> Redirect:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return Redirect(path=f"/anmelden?weiter={quote(target, safe='')}", status_code=303)


async def logged_in(request: Request) -> Principal | None:
    return await resolve_principal(request)


def safe_next(target: str | None, default: str) -> str:
    """Only local absolute paths are allowed as redirect targets."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target or len(target) > 500:
        return default
    return target
