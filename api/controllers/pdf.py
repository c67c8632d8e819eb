"""PDF downloads: the one-page profile overview and the council comparison sheet (registered by `PdfPlugin`).

Rendering (Typst, CPU-bound) runs in a worker thread so the event loop keeps
serving. Output is cached by (slug, version, day): the same version renders
to the same bytes all day, and a new version or a new day renders afresh (at
the one-page level that revision fitted before, so the page is laid out once).
A cached PDF is checked against the profile's search document, the read
model (`indexed_version`): no store read.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from litestar import Controller, Request, Response, get
from litestar.config.app import AppConfig
from litestar.params import FromPath, QueryParameter
from litestar.plugins import InitPluginProtocol

from api.web.common import service
from catalogue.access import principal_labels
from catalogue.errors import ValidationFailed
from catalogue.models import Profile
from catalogue.pdf import PdfCache, PdfFiles, render_comparison_pdf, render_profile_overview
from catalogue.pdf.render import is_sample
from catalogue.search.base import SearchError
from catalogue.users import Principal

PDF = "application/pdf"
PDF_CACHE = "pdf_cache"  # app state key


def pdf_cache(request: Request) -> PdfCache:
    cache: PdfCache = request.app.state[PDF_CACHE]
    return cache


def today() -> datetime:
    now = datetime.now(UTC)
    return datetime(now.year, now.month, now.day, tzinfo=UTC)


def dump(profile: Profile) -> dict[str, Any]:
    return profile.model_dump(mode="json", exclude={"last_change", "review_comments", "revision_id"})


def profile_url(request: Request, slug: str) -> str:
    return f"{request.app.state.settings.public_base_url}/profiles/{slug}"


def _pdf_response(data: bytes, filename: str) -> Response:
    return Response(
        content=data,
        media_type=PDF,
        headers={"Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "private, max-age=300"},
    )


FULL = "voll"  # ?umfang=voll: the whole profile over as many pages as it takes


def shows_sample(request: Request, profile: Profile) -> bool:
    """Demo profiles say "Beispieldatensatz" while the demo data is switched on."""
    return bool(request.app.state.settings.demo_data) and is_sample(profile.model_dump(include={"provenance"}))


async def profile_pdf_response(request: Request, slug: str, extent: str | None = None) -> Response:
    """The one-page overview, or with `extent` "voll" the whole profile."""
    from api.auth import resolve_principal

    if extent not in (None, "", FULL):
        raise ValidationFailed(
            "Unbekannter Umfang: erlaubt ist nur „voll“ (ohne Angabe: die einseitige Übersicht).",
            errors=[{"field": "umfang", "message": "nur „voll“ oder keine Angabe"}],
        )
    full = extent == FULL
    principal = await resolve_principal(request)
    cache = pdf_cache(request)
    kind = "profile-full" if full else "profile"
    filename = f"{slug}{'-voll' if full else ''}.pdf"
    moment = today()
    day = moment.date().isoformat()
    demo = bool(request.app.state.settings.demo_data)  # (a profile's provenance, which says "sample", changes only with its version)
    indexed = await indexed_version(request, cache, slug, principal)
    if indexed is not None:
        data = cache.get(slug, f"{indexed}:{day}:{demo}", kind)
        if data is not None:
            return _pdf_response(data, filename)
    elif cache.holds(slug):
        # The index did not vouch for the cached PDFs (it lags a write from another process, or the caller may not see
        # the profile, or the slug moved, or the engine is down): the store decides, on a projection of the profile
        # (one small read by `_id`).
        head = await service(request).find_head(slug, principal, ())
        data = cache.get(slug, f"{head['version']}:{day}:{demo}", kind)
        if data is not None:
            return _pdf_response(data, filename)
    # A miss (or the profile's first PDF: then without the projection first) reads the whole profile by `_id`
    # (while the index lags a write, the version it names may be older than the stored one, whose PDF may be cached).
    profile = await service(request).get(slug, principal)
    key = f"{profile.version}:{day}:{demo}"
    # the caller may read the profile (the store said so): the file another serving process rendered will do
    if (data := await cache.fetch(slug, key, kind, profile_id=str(profile.id))) is not None:
        return _pdf_response(data, filename)
    sample = shows_sample(request, profile)
    fitted = f"{profile.revision_id}:{sample}"  # the level that fitted holds for the revision on every day
    data, level = await asyncio.to_thread(
        render_profile_overview, dump(profile), url=profile_url(request, profile.slug), generated_at=moment, full=full, sample=sample,
        level=cache.level(profile.slug, fitted, kind),
    )
    cache.remember_level(profile.slug, fitted, kind, level)
    await cache.keep(profile.slug, key, kind, data, profile_id=str(profile.id))
    return _pdf_response(data, filename)


async def indexed_version(request: Request, cache: PdfCache, slug: str, principal: Principal | None) -> int | None:
    """The version of the profile `slug` names, as its search document gives it, when a PDF of it is cached; else None.

    The search index is the read model: the profile's document (one keyed look-up by the id the cache
    remembers for the slug; no store read) holds its version, slug and permission labels. It vouches
    only when it carries one of the caller's labels (a draft's PDF never reaches a caller without its
    label) and still has this slug (an old slug goes to the store, which redirects). The index is
    current for the server's own writes (read-your-writes: a write waits for it before it answers); a
    write from another process (the CLI) reaches it within about 2 s, and until then the PDF of the
    version before may be served (and to the callers who could see that version).
    """
    profile_id = cache.profile_id(slug)
    if profile_id is None:
        return None
    try:
        doc = await request.app.state.runtime.search.document(profile_id, labels=principal_labels(principal))
    except SearchError:
        return None  # the engine is down: the store decides
    if doc is None or doc.get("slug") != slug or doc.get("version") is None:
        return None
    return int(doc["version"])


async def comparison_profiles(request: Request, profiles: str) -> list[Profile]:
    from api.auth import resolve_principal

    slugs = [s.strip() for s in profiles.split(",") if s.strip()]
    slugs = list(dict.fromkeys(slugs))
    if len(profiles) > 400 or not all(re.fullmatch(r"[a-z0-9][a-z0-9-]{0,99}", s) for s in slugs):
        raise ValidationFailed(
            "Diese Vergleichsadresse ist ungültig: Profile werden mit ihrem Kurznamen angegeben, durch Komma getrennt.",
            errors=[{"field": "profiles", "message": "zwei oder drei Slugs, durch Komma getrennt"}],
        )
    if not 2 <= len(slugs) <= 3:
        raise ValidationFailed(
            "Bitte wählen Sie zwei oder drei Profile für den Vergleich.",
            errors=[{"field": "profiles", "message": "zwei oder drei Slugs, durch Komma getrennt"}],
        )
    principal = await resolve_principal(request)
    svc = service(request)
    return [await svc.get(s, principal) for s in slugs]


ExtentParam = Annotated[
    str | None,
    QueryParameter(name="umfang", pattern=r"^voll$", description="„voll“: das ganze Profil über mehrere Seiten statt der einseitigen Übersicht"),
]

# checked by comparison_profiles, so a missing or malformed value gets a German answer, not the framework's
CompareParam = Annotated[str, QueryParameter(name="profiles", description="Zwei oder drei Slugs, durch Komma getrennt")]


class PdfController(Controller):
    tags = ["PDF"]

    @get("/api/v1/profiles/{slug:str}/pdf", operation_id="getProfilePdf", summary="Profil als PDF (A4, eine Seite; umfang=voll: vollständig)", media_type=PDF)
    async def api_profile_pdf(self, request: Request, slug: FromPath[str], umfang: ExtentParam = None) -> Response:
        return await profile_pdf_response(request, slug, umfang)

    @get("/compare.pdf", operation_id="getComparisonPdf", summary="Zwei oder drei Profile nebeneinander (A4 quer)", media_type=PDF)
    async def compare_pdf(self, request: Request, profiles: CompareParam = "") -> Response:
        items = await comparison_profiles(request, profiles)
        day = today()
        key = ",".join(p.slug for p in items)
        sample = request.app.state.settings.demo_data
        revision = ":".join(str(p.revision_id) for p in items) + ":" + day.date().isoformat() + f":{sample}"
        cache = pdf_cache(request)
        data = cache.get(key, revision, "comparison")
        if data is None:
            data = await asyncio.to_thread(
                render_comparison_pdf, [dump(p) for p in items], urls=[profile_url(request, p.slug) for p in items], generated_at=day,
                sample=sample,
            )
            cache.put(key, revision, "comparison", data)
        return _pdf_response(data, "vergleich-" + "-".join(p.slug for p in items)[:150] + ".pdf")


class PdfPlugin(InitPluginProtocol):
    """The PDF downloads: the API's routes and the rendered-PDF cache in the app state (see api/app.py).

    The page address /profiles/{slug}.pdf is answered by the profile page
    route (api/web/pages.py), which Litestar cannot split from /profiles/{slug};
    it calls `profile_pdf_response` here.
    """

    def __init__(self, files_dir: Path | None = None) -> None:
        """`files_dir`: where profile PDFs are kept on disk for every serving process (None: in memory only)."""
        self.files_dir = files_dir

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.append(PdfController)
        app_config.state[PDF_CACHE] = PdfCache(files=PdfFiles(self.files_dir) if self.files_dir is not None else None)
        return app_config
