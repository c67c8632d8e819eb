"""The compare basket ("Merkliste"): up to three projects, kept in a cookie, compared side by side.

Works without JavaScript: every "Merken"/"Entfernen" button submits the one
POST form `/merkliste` (CSRF double-submit token, see api/web/sessions.py),
which answers with a 303 redirect back to the page it came from. With
JavaScript (api/static/js/enhance.js) the same form is sent with `fetch`
and the answer is JSON with the new basket bar, so the page does not reload.

The cookie holds slugs only. Titles are read by `_id` (the slug) on every
page that shows the basket — at most three keyed reads — with the caller's
permissions, so a profile that was archived or never visible drops out.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from litestar import Controller, Request, Response, post
from litestar.datastructures import Cookie
from litestar.response import Redirect

from api.auth import resolve_principal
from api.web.sessions import check_login_csrf
from catalogue.errors import CatalogueError, ValidationFailed
from catalogue.profiles import ProfileService
from catalogue.users import Principal

BASKET_COOKIE = "lt_merkliste"
MAX_BASKET = 3
BASKET_MAX_AGE_S = 30 * 24 * 3600
SLUG_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")

# Fixed notices after a basket action (see api/web/common.NOTICES; never echo input as a message).
BASKET_NOTICES: dict[str, str] = {
    "gemerkt": "Das Projekt ist auf Ihrer Merkliste.",
    "entfernt": "Das Projekt ist nicht mehr auf Ihrer Merkliste.",
    "geleert": "Die Merkliste ist leer.",
    "merkliste-voll": "Die Merkliste ist voll: Sie können höchstens drei Projekte vergleichen. Entfernen Sie eines, um ein anderes zu merken.",
}


@dataclass(frozen=True)
class BasketItem:
    slug: str
    title: str


def basket_slugs(request: Request) -> list[str]:
    """The slugs in the basket cookie: valid, distinct, at most MAX_BASKET (anything else is ignored)."""
    raw = str(request.cookies.get(BASKET_COOKIE) or "")[:400]
    slugs = [s for s in (part.strip() for part in raw.split(".")) if SLUG_RE.fullmatch(s)]
    return list(dict.fromkeys(slugs))[:MAX_BASKET]


async def basket_items(slugs: list[str], principal: Principal | None) -> list[BasketItem]:
    """The basket's projects with their titles (keyed reads by slug; invisible, moved or deleted ones drop out).

    Every page shows the basket, so its projects are read side by side and
    only as far as needed: the title and what `get`'s checks need (a
    projection, no model parse).
    """
    svc = ProfileService()

    async def one(slug: str) -> BasketItem | None:
        try:
            doc = svc.head_viewed(await svc.find_fields(slug, ("title",)), slug, principal)
        except CatalogueError:
            return None
        return BasketItem(str(doc["slug"]), str(doc.get("title") or ""))

    found = await asyncio.gather(*(one(slug) for slug in slugs[:MAX_BASKET]))
    return [item for item in found if item is not None]


def render_basket_bar(request: Request, items: list[BasketItem], *, token: str, back: str) -> str:
    """The basket bar (api/templates/_basket.html) as HTML, for the JavaScript answer."""
    template = request.app.template_engine.get_template("_basket.html")  # type: ignore[union-attr]
    return str(template.render(basket=items, basket_token=token, basket_back=back, compare_url=compare_url, max_basket=MAX_BASKET))


def compare_url(slugs: list[str]) -> str:
    return "/compare?" + urlencode({"profiles": ",".join(slugs)})


def _cookie(request: Request, slugs: list[str]) -> Cookie:
    return Cookie(
        key=BASKET_COOKIE,
        value=".".join(slugs),
        path="/",
        httponly=True,
        samesite="lax",
        secure=bool(request.app.state.settings.cookies_secure),
        max_age=BASKET_MAX_AGE_S if slugs else 0,
    )


def _back(target: str | None, notice: str) -> str:
    """A local path to return to, with the notice as ?hinweis=… (replacing an earlier one)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target or len(target) > 1500:
        target = "/"
    parts = urlsplit(target)
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "hinweis"]
    pairs.append(("hinweis", notice))
    return urlunsplit(("", "", parts.path, urlencode(pairs), "inhalt"))


def wants_json(request: Request) -> bool:
    return request.headers.get("x-requested-with", "").lower() == "fetch"


class BasketController(Controller):
    include_in_schema = False

    @post("/merkliste", name="web:basket", status_code=303)
    async def change(self, request: Request) -> Response[Any]:
        """Add (`hinzufuegen=<slug>`), remove (`entfernen=<slug>`) or empty (`leeren`) the basket."""
        form = await request.form()
        check_login_csrf(request, form)
        slugs = basket_slugs(request)
        add = str(form.get("hinzufuegen") or "").strip()
        remove = str(form.get("entfernen") or "").strip()
        if add:
            if not SLUG_RE.fullmatch(add):
                raise ValidationFailed("Dieses Projekt gibt es nicht.", errors=[{"field": "hinzufuegen", "message": "unbekanntes Profil"}])
            await ProfileService().get(add, await resolve_principal(request))  # NotFound (German) for unknown or hidden profiles
            if add in slugs:
                notice = "gemerkt"
            elif len(slugs) >= MAX_BASKET:
                notice = "merkliste-voll"
            else:
                slugs.append(add)
                notice = "gemerkt"
        elif remove:
            slugs = [s for s in slugs if s != remove]
            notice = "entfernt"
        elif "leeren" in form:
            slugs = []
            notice = "geleert"
        else:
            raise ValidationFailed(
                "Bitte wählen Sie, ob ein Projekt gemerkt oder entfernt werden soll.",
                errors=[{"field": "hinzufuegen", "message": "Angabe fehlt"}],
            )
        cookie = _cookie(request, slugs)
        if wants_json(request):
            items = await basket_items(slugs, await resolve_principal(request))
            html = render_basket_bar(request, items, token=str(form.get("csrf_token") or ""), back=str(form.get("weiter") or "/"))
            body = {"slugs": [i.slug for i in items], "message": BASKET_NOTICES[notice], "full": notice == "merkliste-voll", "bar": html}
            return Response(content=body, status_code=200, cookies=[cookie], headers={"Cache-Control": "no-store"})
        return Redirect(path=_back(str(form.get("weiter") or "/"), notice), status_code=303, cookies=[cookie])


__all__ = ["BASKET_NOTICES", "MAX_BASKET", "BasketController", "BasketItem", "basket_items", "basket_slugs", "compare_url", "render_basket_bar"]

