"""Editor area: login/logout, "Meine Profile", the profile form with preview, the review queue, version history."""

from __future__ import annotations

import difflib
import html
import logging
import re
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template
from markupsafe import Markup

from api.clients import client_address, device_cookie, is_known_device
from api.web import forms
from api.web.common import logged_in, login_redirect, page, safe_next, service
from api.web.sessions import (
    check_csrf,
    check_login_csrf,
    clear_session_cookie,
    login_csrf_token,
    session_cookie,
    with_cookies,
)
from catalogue import checklist, freshness
from catalogue.access import Action, allowed
from catalogue.cpu import run_cpu
from catalogue.errors import (
    CatalogueError,
    InvalidTransition,
    NotAuthenticated,
    PermissionDenied,
    PreconditionFailed,
    TooManyRequests,
    ValidationFailed,
)
from catalogue.fields import BY_PATH
from catalogue.listing import my_profiles, review_queue
from catalogue.markdown import render_html
from catalogue.models import Profile, utcnow
from catalogue.profiles import etag
from catalogue.sessions import create_session, delete_session
from catalogue.users import Principal, authenticate
from catalogue.vocabularies import EditorialStatus as S

log = logging.getLogger("leuchtturm.web")

ACTION_LABELS = {
    "create": "angelegt",
    "edit": "bearbeitet",
    "submit": "eingereicht",
    "publish": "veröffentlicht",
    "return": "zurückgegeben",
    "archive": "archiviert",
    "restore": "wiederhergestellt",
    "confirm": "als aktuell bestätigt",
    "import": "importiert",
    "rename": "umbenannt (neuer Slug)",
}


# ------------------------------------------------------------ login


async def _login(request: Request, username: str, password: str) -> Principal:
    if not username.strip() or not password:
        raise NotAuthenticated("Bitte geben Sie Benutzername und Passwort ein.")
    return await authenticate(
        username, password, client_address=client_address(request), known_device=is_known_device(request, username)
    )


class AuthController(Controller):
    include_in_schema = False

    @get("/anmelden", name="web:login")
    async def login_form(self, request: Request) -> Response:
        token, cookie = login_csrf_token(request)
        response = await page(
            request,
            "login.html",
            login_csrf=token,
            username="",
            error=None,
            next=safe_next(request.query_params.get("weiter"), ""),
        )
        return with_cookies(response, cookie)

    @post("/anmelden", name="web:login-post", status_code=200)
    async def login(self, request: Request) -> Response:
        form = await request.form()
        check_login_csrf(request, form)
        username = str(form.get("username") or "")[:64]
        password = str(form.get("password") or "")[:1024]
        target = safe_next(str(form.get("weiter") or ""), "")
        error: str | None = None
        status = 200
        retry_after: int | None = None
        try:
            principal = await _login(request, username, password)
        except TooManyRequests as exc:
            error, status, retry_after = exc.detail, 429, exc.extra.get("retry_after")
        except NotAuthenticated as exc:
            error, status = exc.detail, 401
        if error is not None:
            token, cookie = login_csrf_token(request)
            response = await page(request, "login.html", status_code=status, login_csrf=token, username=username, error=error, next=target)
            if retry_after is not None:
                response.headers["Retry-After"] = str(retry_after)
            return with_cookies(response, cookie)
        # A fresh session id at login (no fixation); drop any previous one.
        await delete_session(request.cookies.get("lt_session"))
        _, sid = await create_session(principal, user_agent=request.headers.get("user-agent"))
        default = "/redaktion" if principal.is_reviewer else "/meine-profile"
        destination = target or default
        sep = "&" if "?" in destination else "?"
        response = Redirect(path=f"{destination}{sep}hinweis=angemeldet", status_code=303)
        return with_cookies(response, session_cookie(request, sid), device_cookie(request, principal.username))

    @post("/abmelden", name="web:logout", status_code=200)
    async def logout(self, request: Request) -> Response:
        form = await request.form()
        if await logged_in(request) is not None:
            await check_csrf(request, form)
            await delete_session(request.cookies.get("lt_session"))
        return with_cookies(Redirect(path="/?hinweis=abgemeldet", status_code=303), clear_session_cookie(request))


# ------------------------------------------------------------ the profile form


def _form_context(
    values: forms.FormValues,
    *,
    profile: Profile | None,
    errors: dict[str, list[str]] | None = None,
    message: str | None = None,
    conflict: bool = False,
    previews: dict[str, str] | None = None,
    etag_value: str = "",
) -> dict[str, Any]:
    errors = errors or {}
    summary = [(name, forms.error_label(name), msgs) for name, msgs in errors.items() if name]
    general = errors.get("", [])
    comments = profile.review_comments if profile is not None else []
    return {
        "values": values,
        "profile": profile,
        # the reviewers' comment on a returned draft, from the profile read by key
        "returned": comments[-1] if profile is not None and profile.status is S.DRAFT and comments else None,
        "checklist": checklist.checklist(profile if profile is not None else {}),
        "errors": errors,
        "error_summary": summary,
        "general_errors": general,
        "message": message,
        "conflict": conflict,
        "previews": previews or {},
        "etag": etag_value,
        "group_fields": forms.GROUP_FIELDS,
        "markdown_inputs": forms.MARKDOWN_INPUTS,
    }


def _previews(values: forms.FormValues) -> dict[str, str]:
    return {name: render_html(values.get(name)) for name in forms.MARKDOWN_INPUTS if values.get(name).strip()}


# ------------------------------------------------------------ workflow steps from forms

# A form's "action" → the workflow step and the page to go to afterwards ({slug} is filled in).
OWNER_STEPS: dict[str, tuple[Action, str]] = {
    "submit": (Action.SUBMIT, "/meine-profile?hinweis=eingereicht"),
    "confirm": (Action.CONFIRM, "/profiles/{slug}?hinweis=bestaetigt"),
}
REVIEW_STEPS: dict[str, tuple[Action, str]] = {
    "publish": (Action.PUBLISH, "/redaktion?hinweis=veroeffentlicht"),
    "return": (Action.RETURN, "/redaktion?hinweis=zurueckgegeben"),
    "archive": (Action.ARCHIVE, "/redaktion?hinweis=archiviert"),
    "restore": (Action.RESTORE, "/redaktion?hinweis=wiederhergestellt"),
}


async def posted_form(request: Request) -> tuple[Principal | None, Any]:
    """The logged-in caller and the submitted form with its CSRF token checked; (None, None) when nobody is logged in."""
    principal = await logged_in(request)
    if principal is None:
        return None, None
    form = await request.form()
    await check_csrf(request, form)
    return principal, form


async def workflow_step(
    request: Request, principal: Principal, slug: str, key: str, steps: dict[str, tuple[Action, str]], *, comment: str | None = None
) -> Redirect:
    """Run the workflow step a form asked for (the service checks permission and state) and redirect after it (PRG)."""
    if key not in steps:
        raise ValidationFailed("Unbekannte Aktion.")
    action, target = steps[key]
    svc = service(request)
    if action is Action.CONFIRM:
        await svc.confirm(slug, principal)
    else:
        await svc.transition(slug, action, principal, comment=comment)
    return Redirect(path=target.format(slug=slug), status_code=303)


class EditorController(Controller):
    include_in_schema = False

    @get("/meine-profile", name="web:mine")
    async def mine(self, request: Request) -> Response:
        principal = await logged_in(request)
        if principal is None:
            return login_redirect(request)
        raw = str(request.query_params.get("seite") or "1")
        page_no = int(raw) if raw.isdigit() and 1 <= int(raw) <= 1000 else 1
        found = await my_profiles(request.app.state.runtime.search, principal, page=page_no)
        return await page(
            request, "mine.html", items=found.items, total=found.total, page_no=found.page, pages=found.pages,
            stale_after=utcnow() - freshness.STALE_AFTER,
        )

    @get("/meine-profile/neu", name="web:new")
    async def new_form(self, request: Request) -> Response:
        principal = await logged_in(request)
        if principal is None:
            return login_redirect(request)
        return await page(request, "edit.html", **_form_context(forms.values_from_profile(None), profile=None))

    @post("/meine-profile/neu", name="web:new-post", status_code=200)
    async def create(self, request: Request) -> Response:
        principal, form = await posted_form(request)
        if principal is None:
            return login_redirect(request)
        return await self._save(request, principal, form, None)

    @get("/profiles/{slug:str}/bearbeiten", name="web:edit")
    async def edit_form(self, request: Request, slug: FromPath[str]) -> Response:
        principal = await logged_in(request)
        if principal is None:
            return login_redirect(request)
        profile = await service(request).get(slug, principal)
        if not allowed(principal, Action.EDIT, owner=profile.owner, status=profile.status):
            raise PermissionDenied(_edit_denied(profile, principal))
        values = forms.values_from_profile(profile)
        return await page(request, "edit.html", **_form_context(values, profile=profile, etag_value=etag(profile)))

    @post("/profiles/{slug:str}/bearbeiten", name="web:edit-post", status_code=200)
    async def update(self, request: Request, slug: FromPath[str]) -> Response:
        principal, form = await posted_form(request)
        if principal is None:
            return login_redirect(request)
        profile = await service(request).get(slug, principal)
        return await self._save(request, principal, form, profile)

    async def _save(self, request: Request, principal: Principal, form: Any, profile: Profile | None) -> Response:
        values = forms.values_from_form(form)
        action = str(form.get("action") or "save")
        sent_etag = str(form.get("etag") or "")
        if action in forms.ADD_ROW_ACTIONS:
            group = forms.ADD_ROW_ACTIONS[action]
            values.rows[group] = min(values.row_count(group) + 1, 50 + forms.SPARE_ROWS)
            ctx = _form_context(values, profile=profile, etag_value=sent_etag)
            ctx["focus"] = f"{group}.{values.rows[group] - 1}.{forms.GROUP_FIELDS[group][0]}"
            return await page(request, "edit.html", **ctx)
        if action == "preview":
            return await page(
                request, "edit.html", **_form_context(values, profile=profile, previews=_previews(values), etag_value=sent_etag)
            )
        data = forms.content_data(values)
        svc = service(request)
        try:
            if profile is None:
                saved = await svc.create(data, principal)
            else:
                saved = await svc.update(profile.slug, principal, data, if_match=sent_etag or None, partial=False, read=profile)
            if action == "submit":
                return await workflow_step(request, principal, saved.slug, action, OWNER_STEPS)
        except ValidationFailed as exc:
            errors = forms.map_errors(exc.errors, values)
            if not exc.errors:
                errors = {"": [exc.detail]}
            message = "Bitte prüfen Sie die markierten Felder. Ihre Eingaben sind erhalten."
            return await page(
                request, "edit.html", status_code=422, **_form_context(values, profile=profile, errors=errors, message=message, etag_value=sent_etag)
            )
        except PreconditionFailed:
            current = await svc.get(profile.slug, principal) if profile else None
            message = (
                "Jemand anderes hat dieses Profil gespeichert, während Sie es bearbeitet haben. Ihre Eingaben sind unten erhalten. "
                "Vergleichen Sie sie mit der aktuellen Fassung (öffnet sich über den Link) und speichern Sie erneut, "
                "wenn Ihre Fassung die aktuellen Änderungen überschreiben soll."
            )
            return await page(
                request,
                "edit.html",
                status_code=409,
                **_form_context(values, profile=current or profile, message=message, conflict=True, etag_value=etag(current) if current else ""),
            )
        except (InvalidTransition, PermissionDenied) as exc:
            return await page(
                request,
                "edit.html",
                status_code=exc.status,
                **_form_context(values, profile=profile, errors={"": [exc.detail]}, message=exc.detail, etag_value=sent_etag),
            )
        return Redirect(path=f"/profiles/{saved.slug}/bearbeiten?hinweis=gespeichert", status_code=303)

    @post("/vorschau", name="web:preview", status_code=200)
    async def preview(self, request: Request) -> Response:
        """Markdown preview for the form's script: the rendered HTML fragment of `text`."""
        principal = await logged_in(request)
        if principal is None:
            raise NotAuthenticated("Bitte melden Sie sich an.")
        form = await request.form()
        await check_csrf(request, form)
        text = str(form.get("text") or "")[:25_000]
        return Response(content=render_html(text), media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-store"})

    @post("/profiles/{slug:str}/aktion", name="web:owner-action", status_code=200)
    async def owner_action(self, request: Request, slug: FromPath[str]) -> Response:
        """Submit or confirm from "Meine Profile" or the profile page."""
        principal, form = await posted_form(request)
        if principal is None:
            return login_redirect(request)
        return await workflow_step(request, principal, slug, str(form.get("action") or ""), OWNER_STEPS)


def _edit_denied(profile: Profile, principal: Principal) -> str:
    if profile.owner == principal.username and profile.status != S.DRAFT:
        return "Eingereichte oder veröffentlichte Profile kann nur die Katalogredaktion ändern. Schreiben Sie ihr, wenn etwas nicht stimmt."
    return "Sie dürfen dieses Profil nicht bearbeiten."


# ------------------------------------------------------------ review queue

class ReviewController(Controller):
    include_in_schema = False

    async def _queue(
        self,
        request: Request,
        principal: Principal,
        *,
        status_code: int = 200,
        errors: dict[str, str] | None = None,
        comments: dict[str, str] | None = None,
    ) -> Template:
        queue = await review_queue(request.app.state.runtime.search, principal)
        stale = await freshness.stale_profiles(request.app.state.runtime.search, principal, now=utcnow(), per_page=20)
        return await page(
            request,
            "review.html",
            status_code=status_code,
            submitted=queue.submitted.items,
            submitted_total=queue.submitted.total,
            published=queue.published.items,
            published_total=queue.published.total,
            archived=queue.archived.items,
            stale=stale.items,
            stale_total=stale.total,
            errors=errors or {},
            comments=comments or {},
        )

    @get("/redaktion", name="web:review")
    async def queue(self, request: Request) -> Response:
        principal = await logged_in(request)
        if principal is None:
            return login_redirect(request)
        if not allowed(principal, Action.REVIEW_QUEUE):
            raise PermissionDenied("Die Prüfliste sieht nur die Katalogredaktion.")
        return await self._queue(request, principal)

    @post("/redaktion/{slug:str}", name="web:review-action", status_code=200)
    async def act(self, request: Request, slug: FromPath[str]) -> Response:
        principal, form = await posted_form(request)
        if principal is None:
            return login_redirect(request)
        if not allowed(principal, Action.REVIEW_QUEUE):
            raise PermissionDenied("Nur die Katalogredaktion darf Profile prüfen.")
        key = str(form.get("action") or "")
        if key not in REVIEW_STEPS:
            raise ValidationFailed("Unbekannte Aktion.")
        comment = str(form.get("comment") or "")[:5000]
        try:
            return await workflow_step(request, principal, slug, key, REVIEW_STEPS, comment=comment)
        except ValidationFailed as exc:
            return await self._queue(request, principal, status_code=422, errors={slug: exc.detail}, comments={slug: comment})
        except CatalogueError as exc:
            if exc.status in (409, 412):
                return await self._queue(request, principal, status_code=409, errors={slug: exc.detail}, comments={slug: comment})
            raise


# ------------------------------------------------------------ history and diffs


def _plain(value: Any) -> str:
    """A readable one-line or multi-line text for any stored field value."""
    if value is None or value in ("", [], {}):
        return ""
    if isinstance(value, list):
        return "\n".join(_plain(v) for v in value)
    if isinstance(value, dict):
        if set(value) <= {"name", "kind", "ags"} and "name" in value:
            extra = ", ".join(str(value[k]) for k in ("kind", "ags") if value.get(k))
            return f"{value['name']} ({extra})" if extra else str(value["name"])
        if set(value) <= {"title", "url"}:
            return f"{value.get('title', '')} – {value.get('url', '')}"
        parts = []
        for k, v in value.items():
            text = _plain(v)
            if text:
                parts.append(f"{forms.LABELS.get(k, k)}: {text}")
        return "\n".join(parts)
    if isinstance(value, float):
        from catalogue.formatting import format_float_de

        return format_float_de(value, 2, strip_zeros=True)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value in {s.value for s in S}:
        from catalogue.vocabularies import EDITORIAL_STATUS_LABELS

        return EDITORIAL_STATUS_LABELS[S(value)]
    return str(value)


# The word diff compares at most this many changed words per side (after the
# common beginning and end are set aside, which is linear). Beyond it the
# changed middle is shown whole, removed then added, with a note saying so:
# difflib's matching is roughly quadratic, and a history page must not take
# seconds of CPU (issue 13).
DIFF_WORD_LIMIT = 1000
DIFF_CUT_NOTE = (
    "Der geänderte Abschnitt ist zu lang für einen Vergleich Wort für Wort "
    f"(mehr als {DIFF_WORD_LIMIT} Wörter); er wird als Ganzes gezeigt: erst die alte, dann die neue Fassung."
)
_WORD_RE = re.compile(r"\S+\s*|\s+")


def _common_prefix(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def word_diff(old: str, new: str) -> Markup:
    """HTML with <del>/<ins> around changed words; both sides escaped; bounded cost (DIFF_WORD_LIMIT)."""
    a = _WORD_RE.findall(old)
    b = _WORD_RE.findall(new)
    head = _common_prefix(a, b)
    tail = _common_prefix(a[head:][::-1], b[head:][::-1])
    a_mid, b_mid = a[head : len(a) - tail], b[head : len(b) - tail]
    out: list[str] = [html.escape("".join(a[:head]))]
    if len(a_mid) > DIFF_WORD_LIMIT or len(b_mid) > DIFF_WORD_LIMIT:
        out.append(f'<span class="diff-cut">{html.escape(DIFF_CUT_NOTE)}</span> ')
        if a_mid:
            out.append(f"<del>{html.escape(''.join(a_mid))}</del>")
        if b_mid:
            out.append(f"<ins>{html.escape(''.join(b_mid))}</ins>")
    else:
        for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a_mid, b=b_mid, autojunk=False).get_opcodes():
            if op == "equal":
                out.append(html.escape("".join(a_mid[i1:i2])))
                continue
            if i2 > i1:
                out.append(f"<del>{html.escape(''.join(a_mid[i1:i2]))}</del>")
            if j2 > j1:
                out.append(f"<ins>{html.escape(''.join(b_mid[j1:j2]))}</ins>")
    out.append(html.escape("".join(a[len(a) - tail :])))
    return Markup("".join(out))  # noqa: S704 - every piece escaped above


def _has_markdown(path: str) -> bool:
    """A Markdown text, or an object with one (Finanzierung): shown as a long diff."""
    f = BY_PATH.get(path)
    return f is not None and (f.is_markdown or any(s.is_markdown for s in f.subfields))


def readable_changes(changes: list[Any]) -> list[dict[str, Any]]:
    out = []
    for change in changes:
        field = change.field
        old, new = _plain(change.old), _plain(change.new)
        out.append(
            {
                "field": field,
                "label": forms.LABELS.get(field, field),
                "old": old,
                "new": new,
                "diff": word_diff(old, new),
                "long": _has_markdown(field) or len(old) + len(new) > 160,
            }
        )
    return out


HISTORY_PAGE = 20  # versions per history page (the page reads only these keys)


async def _readable_off_loop(changes: list[Any]) -> list[dict[str, Any]]:
    """readable_changes in a worker thread: word diffs are CPU work (bounded by DIFF_WORD_LIMIT)."""
    return await run_cpu(readable_changes, changes)


class HistoryController(Controller):
    include_in_schema = False

    @get("/profiles/{slug:str}/versionen", name="web:history")
    async def history(self, request: Request, slug: FromPath[str]) -> Response:
        principal = await logged_in(request)
        if principal is None:
            return login_redirect(request)
        svc = service(request)
        profile = await svc.history(slug, principal)
        params = request.query_params
        pages = max(1, -(-profile.version // HISTORY_PAGE))
        try:
            page_no = min(pages, max(1, int(params.get("seite") or 1)))
        except ValueError:
            page_no = 1
        entries = [
            {"entry": e, "action": ACTION_LABELS.get(e.action, e.action), "changes": await _readable_off_loop(e.changes)}
            for e in await svc.versions(profile, page=page_no, per_page=HISTORY_PAGE)
        ]
        compare = None
        a_raw, b_raw = params.get("von"), params.get("bis")
        error = None
        if a_raw and b_raw:
            try:
                a, b = int(a_raw), int(b_raw)
                if a > b:
                    a, b = b, a
                compare = {"from": a, "to": b, "changes": await _readable_off_loop(await svc.diff(slug, a, b, principal))}
            except ValueError:
                error = "Bitte wählen Sie zwei Versionen aus."
            except CatalogueError as exc:
                error = exc.detail
        return await page(
            request,
            "history.html",
            status_code=200 if error is None else 400,
            profile=profile,
            entries=entries,
            compare=compare,
            compare_error=error,
            versions=list(range(profile.version, 0, -1)),
            von=a_raw or (str(max(1, profile.version - 1))),
            bis=b_raw or str(profile.version),
            page_no=page_no,
            pages=pages,
        )


__all__ = ["AuthController", "EditorController", "HistoryController", "ReviewController"]
