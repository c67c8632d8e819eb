"""Pages and forms for reuse: adoption on the profile page, hiding records (reviewers), saved searches (/suchen).

Forms work without JavaScript and carry the CSRF token; after a successful
post the browser is redirected (PRG); a refused one shows the page again
with a German message next to the field.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from api.web.common import logged_in, login_redirect, page, service
from api.web.editor import posted_form
from catalogue import adoption, freshness, saved_searches
from catalogue.adoption import AdoptionIn, AdoptionService
from catalogue.errors import CatalogueError, PermissionDenied, ValidationFailed
from catalogue.models import Profile, utcnow
from catalogue.users import Principal, User, find_user, remembered_user
from catalogue.vocabularies import AdoptionStage

STAGE_HELP: dict[str, str] = {
    AdoptionStage.INTERESTED.value: "Wir schauen uns das Projekt genauer an.",
    AdoptionStage.PLANNING.value: "Wir bereiten die Übernahme vor (Beschluss, Mittel, Partner).",
    AdoptionStage.IMPLEMENTING.value: "Wir setzen das Projekt gerade um.",
    AdoptionStage.IMPLEMENTED.value: "Das Projekt läuft bei uns.",
    AdoptionStage.ABANDONED.value: "Wir haben die Übernahme nicht weiterverfolgt.",
}


async def reuse_context(
    principal: Principal | None,
    profile: Profile,
    *,
    summary: Awaitable[dict[str, Any] | None] | None = None,
    owner_user: Awaitable[tuple[str | None, User | None]] | None = None,
    caller: User | None = None,
) -> dict[str, Any]:
    """What the profile page shows about adoption and freshness: up to three keyed reads (the summary, the users), concurrently.

    `summary` and `owner_user`: those reads when the caller started them
    already (by the profile's id; by the owner its index document names, with
    that name); when that name is not the profile's owner, the owner is read again.
    `caller`: the principal's user document when this request has read it
    already (its session, api.web.sessions.session_user); it is not read again,
    also not as the owner.
    """
    if caller is not None and (principal is None or caller.username != principal.username):
        caller = None

    async def the_caller() -> User | None:
        if principal is None:
            return None
        return caller if caller is not None else await remembered_user(principal.username)

    async def owner_named() -> tuple[str | None, User | None]:
        if caller is not None and profile.owner == caller.username:
            return profile.owner, caller
        return profile.owner, await remembered_user(profile.owner) if profile.owner else None

    found, user, (named, owner) = await asyncio.gather(
        summary if summary is not None else adoption.summary_of(str(profile.id)),
        the_caller(),
        owner_user if owner_user is not None else owner_named(),
    )
    if (named or None) != (profile.owner or None):
        named, owner = await owner_named()
    summary = found or {}
    entries = summary.get("entries") or {}
    is_reviewer = principal is not None and principal.is_reviewer
    org = user.organisation if user is not None else None
    own = entries.get(org.key) if org is not None else None
    since = freshness.counts_from(profile)
    return {
        "owner_organisation": owner.organisation if owner is not None else None,
        "adopters": adoption.visible(entries, include_hidden=is_reviewer),
        "adoption_counts": {k: v for k, v in adoption.counts(entries).items() if v},
        "adoption_stages": [s.value for s in AdoptionStage],
        "stage_help": STAGE_HELP,
        "my_organisation": org,
        "my_adoption": own,
        "can_hide_adoptions": is_reviewer,
        "is_stale": freshness.is_stale(since, utcnow(), profile.status),
        "fresh_since": since,
    }


def saveable_query(pairs: list[tuple[str, str]]) -> str:
    """The search page's state as a query string to save (without page and "Kommunen wie meine" inputs)."""
    skip = {"seite", "kommune", "einwohner", "wie_land"}
    return urlencode([(k, v) for k, v in pairs if k not in skip and v])


class ReusePageController(Controller):
    include_in_schema = False

    @post("/profiles/{slug:str}/nachnutzung", name="web:adoption", status_code=200)
    async def record_adoption(self, request: Request, slug: FromPath[str]) -> Response:
        principal, form = await posted_form(request)
        if principal is None:
            return login_redirect(request)
        profile = await service(request).get(slug, principal)
        values = {k: str(form.get(k) or "") for k in ("stage", "note", "contact")}
        errors: dict[str, str] = {}
        if values["stage"] not in {s.value for s in AdoptionStage}:
            errors["stage"] = "Bitte wählen Sie einen Stand."
        for name, limit in (("note", adoption.NOTE_MAX), ("contact", adoption.CONTACT_MAX)):
            if len(values[name]) > limit:
                errors[name] = f"Bitte kürzer fassen: höchstens {limit} Zeichen (jetzt {len(values[name])})."
        if not errors:
            rt = request.app.state.runtime
            svc = AdoptionService(base_url=request.app.state.settings.public_base_url, on_change=rt.notify_change, on_mail=rt.notify_mail)
            try:
                await svc.record(profile, principal, AdoptionIn.model_validate(values))
            except ValidationFailed as exc:
                for e in exc.errors:
                    errors[str(e.get("field") or "stage").split(".")[-1]] = str(e.get("message") or exc.detail)
                errors = errors or {"stage": exc.detail}
            except PermissionDenied as exc:
                errors["form"] = exc.detail
        if errors:
            from api.web.pages import profile_page_response

            return await profile_page_response(request, profile.slug, status_code=422, adoption_errors=errors, adoption_values=values)
        return Redirect(path=f"/profiles/{profile.slug}?hinweis=nachnutzung#nachnutzung", status_code=303)

    @post("/profiles/{slug:str}/nachnutzung/{key:str}/ausblenden", name="web:adoption-hide", status_code=200)
    async def hide_adoption(self, request: Request, slug: FromPath[str], key: FromPath[str]) -> Response:
        principal, form = await posted_form(request)
        if principal is None:
            return login_redirect(request)
        profile = await service(request).get(slug, principal)
        rt = request.app.state.runtime
        svc = AdoptionService(base_url=request.app.state.settings.public_base_url, on_change=rt.notify_change)
        hidden = str(form.get("hidden") or "1") == "1"
        await svc.hide(profile, key, principal, hidden=hidden, reason=str(form.get("reason") or ""))
        return Redirect(path=f"/profiles/{profile.slug}?hinweis={'ausgeblendet' if hidden else 'eingeblendet'}#nachnutzung", status_code=303)

    @get("/suchen", name="web:saved-searches")
    async def saved(self, request: Request) -> Response:
        principal = await logged_in(request)
        if principal is None:
            return login_redirect(request)
        items = await saved_searches.list_for(principal.username)
        user = await find_user(principal.username)
        return await page(request, "saved.html", items=items, has_email=bool(user and user.email))

    @post("/suchen", name="web:save-search", status_code=200)
    async def save(self, request: Request) -> Response:
        principal, form = await posted_form(request)
        if principal is None:
            return login_redirect(request)
        try:
            await saved_searches.save(principal.username, str(form.get("name") or ""), str(form.get("query") or ""))
        except CatalogueError as exc:
            items = await saved_searches.list_for(principal.username)
            user = await find_user(principal.username)
            return await page(request, "saved.html", status_code=409 if exc.status == 409 else 422, items=items,
                              has_email=bool(user and user.email), error=exc.detail)
        return Redirect(path="/suchen?hinweis=suche-gespeichert", status_code=303)

    @post("/suchen/{search_id:str}/loeschen", name="web:delete-search", status_code=200)
    async def delete(self, request: Request, search_id: FromPath[str]) -> Response:
        principal, _ = await posted_form(request)
        if principal is None:
            return login_redirect(request)
        await saved_searches.delete(principal.username, search_id)
        return Redirect(path="/suchen?hinweis=suche-geloescht", status_code=303)

