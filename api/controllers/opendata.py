"""Open data over HTTP: bulk exports, JSON-LD of a profile, the DCAT-AP.de catalogue, feeds, sitemap, robots.txt.

Every list here comes from the search index with the public label
(catalogue.opendata.published, catalogue.opendata.feeds), the bulk exports
from the export mirror the index writer keeps beside the index
(catalogue.opendata.mirror); single profiles are read by `_id` through their
slug key.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode

from litestar import Controller, Request, Response, get
from litestar.params import FromPath
from litestar.response import Stream

from api.auth import resolve_principal
from api.open_data import FILE_STEM, FORMATS, Licence, export_path, stream_export
from catalogue.access import principal_labels
from catalogue.errors import DependencyUnavailable, NotFound, ValidationFailed
from catalogue.jsonld import json_ld_for
from catalogue.opendata import dcat, feeds
from catalogue.opendata.mirror import NOT_READY, MirrorState
from catalogue.opendata.published import Freshness, freshness, published_documents, published_facets
from catalogue.profiles import ProfileService, etag
from catalogue.search.base import SearchError, SearchQuery, Sort
from catalogue.search.url_state import FACET_PARAMS, facet_value_ok
from catalogue.vocabularies import EditorialStatus
from importers.export import EXPORT_VERSION

JSONLD = "application/ld+json"
SLUG_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")


def base_url(request: Request) -> str:
    base: str = request.app.state.settings.public_base_url
    return base


def licence(request: Request) -> Licence:
    return Licence.from_settings(request.app.state.settings)


def http_date(dt: datetime) -> str:
    return format_datetime(dt.astimezone(UTC), usegmt=True)


def licence_link(lic: Licence) -> str:
    return f"<{lic.legal_code}>; rel=\"license\"; title*=UTF-8''{quote(lic.attribution)}"


def not_modified(request: Request, tag: str, last_modified: datetime | None) -> bool:
    """Conditional GET (RFC 9110): If-None-Match wins over If-Modified-Since."""
    inm = request.headers.get("if-none-match")
    if inm is not None:
        tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
        return "*" in tags or tag in tags
    ims = request.headers.get("if-modified-since")
    if ims and last_modified is not None:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return last_modified.replace(microsecond=0) <= since
    return False


def export_etag(state: MirrorState, variant: str) -> str:
    """A strong ETag for one export file: the mirror's build and generation, and what else shapes the bytes."""
    digest = hashlib.sha256(f"{variant}|{state.build}|{state.generation}".encode()).hexdigest()[:32]
    return f'"{digest}"'


def validators(fresh: Freshness, tag: str) -> dict[str, str]:
    headers = {"ETag": tag, "Cache-Control": "public, max-age=0, must-revalidate"}
    if fresh.last_modified is not None:
        headers["Last-Modified"] = http_date(fresh.last_modified)
    return headers


class OpenDataController(Controller):
    tags = ["Offene Daten"]

    @get(
        "/api/v1/export/{name:str}",
        operation_id="exportProfiles",
        summary="Alle veröffentlichten Profile herunterladen (profiles.json, profiles.ndjson, profiles.csv)",
        description=(
            'Gestreamt, mit Lizenz (Link-Header rel="license", im JSON-Dokument unter `license`), ETag und Last-Modified '
            "(bedingte Abrufe beantworten mit 304). Format wie `leuchtturm export`; `leuchtturm import` liest die Dateien wieder ein."
        ),
    )
    async def export(self, request: Request, name: FromPath[str]) -> Response[Any]:
        stem, _, fmt = name.rpartition(".")
        if stem != "profiles" or fmt not in FORMATS:
            raise NotFound("Exporte gibt es als profiles.json, profiles.ndjson und profiles.csv.")
        mirror = request.app.state.runtime.sync.mirror
        if mirror is None:
            raise DependencyUnavailable(NOT_READY)
        lic = licence(request)
        base = base_url(request)
        snapshot = await mirror.snapshot()  # one read transaction: validators and bytes agree
        try:
            state = snapshot.state
            tag = export_etag(state, f"{fmt}|{EXPORT_VERSION}|{lic.uri}|{lic.attribution}|{base}")
            headers = {
                "ETag": tag,
                "Cache-Control": "public, max-age=0, must-revalidate",
                "Last-Modified": http_date(state.modified),
                "Link": f'{licence_link(lic)}, <{base}/dcat/catalog>; rel="describedby"',
                "Content-Disposition": f'attachment; filename="{FILE_STEM}.{fmt}"',
            }
            if not_modified(request, tag, state.modified):
                await snapshot.aclose()
                return Response(content=None, status_code=304, headers=headers)
        except BaseException:
            await snapshot.aclose()
            raise
        chunks = stream_export(fmt, snapshot, licence=lic, base_url=base)  # closes the snapshot
        return Stream(chunks, media_type=FORMATS[fmt].media_type, headers=headers)


def distributions() -> list[dcat.Distribution]:
    """The bulk exports as DCAT distributions (NDJSON has no registered IANA media type: none is given)."""
    return [
        dcat.Distribution(export_path("json"), "JSON", "application/json", FORMATS["json"].title),
        dcat.Distribution(export_path("ndjson"), "JSON", None, FORMATS["ndjson"].title),
        dcat.Distribution(export_path("csv"), "CSV", "text/csv", FORMATS["csv"].title),
    ]


def _rdf_media_type(request: Request, name: str, stem: str) -> str:
    """The serialisation asked for: by suffix (`stem.ttl`, `.rdf`, `.jsonld`), else by the Accept header."""
    if name == stem:
        return dcat.negotiate(request.headers.get("accept"))
    suffix = name.removeprefix(stem + ".") if name.startswith(stem + ".") else ""
    if suffix not in dcat.SUFFIXES:
        raise NotFound(f"Die Beschreibung gibt es als {stem}, {stem}.jsonld, {stem}.ttl und {stem}.rdf.")
    return dcat.SUFFIXES[suffix]


def _rdf_response(text: str, media_type: str, headers: dict[str, str]) -> Response[Any]:
    charset = "" if media_type == "application/ld+json" else "; charset=utf-8"
    return Response(content=text.encode(), media_type=media_type + charset, headers={"Vary": "Accept", **headers})


class DcatController(Controller):
    path = "/dcat"
    tags = ["Offene Daten"]

    @get(
        "/{name:str}",
        operation_id="dcatCatalog",
        summary="DCAT-AP.de-3.0-Beschreibung des Katalogs (catalog, catalog.jsonld, catalog.ttl, catalog.rdf)",
        description=(
            "JSON-LD, Turtle oder RDF/XML, nach Accept-Header oder Endung. Der Katalog mit dem Datensatz der veröffentlichten "
            "Profile und seinen Distributionen (den Exporten), Lizenz, Herausgeber, Kontakt und räumlicher Abdeckung."
        ),
    )
    async def catalog(self, request: Request, name: FromPath[str]) -> Response[Any]:
        media_type = _rdf_media_type(request, name, "catalog")
        search = request.app.state.runtime.search
        settings = request.app.state.settings
        info = dcat.CatalogueInfo.from_settings(settings)
        fresh = await freshness(search)
        tag = fresh.etag(f"dcat|{media_type}|{settings.model_dump_json()}")
        headers = validators(fresh, tag)
        if not_modified(request, tag, fresh.last_modified):
            return Response(content=None, status_code=304, headers={"Vary": "Accept", **headers})
        facets = await published_facets(search, ("state", "fields_of_action"))

        def build() -> str:
            graph = dcat.catalogue_graph(
                info, distributions(), states=facets["state"], modified=fresh.last_modified, keywords=facets["fields_of_action"]
            )
            return dcat.serialise(graph, media_type)

        return _rdf_response(await asyncio.to_thread(build), media_type, headers)

    @get(
        "/profiles/{name:str}",
        operation_id="dcatProfile",
        summary="Ein veröffentlichtes Profil als adms:Asset (nachnutzbare Lösung) – {slug}, {slug}.jsonld, .ttl, .rdf",
    )
    async def asset(self, request: Request, name: FromPath[str]) -> Response[Any]:
        slug = name.split(".", 1)[0]
        if not SLUG_RE.fullmatch(slug):
            raise NotFound(f"Es gibt kein Profil „{slug[:100]}“.")
        media_type = _rdf_media_type(request, name, slug)
        profile = await ProfileService().get(slug, None)  # published profiles only
        info = dcat.CatalogueInfo.from_settings(request.app.state.settings)
        facts = await dcat.asset_facts(profile)

        def build() -> str:
            graph = dcat.new_graph()
            dcat.add_asset(graph, info, facts)
            return dcat.serialise(graph, media_type)

        return _rdf_response(await asyncio.to_thread(build), media_type, {"ETag": etag(profile)})


async def profile_jsonld_response(request: Request, slug: str) -> Response[Any]:
    """schema.org JSON-LD of one profile (GET /api/v1/profiles/{slug}.jsonld); the page head carries the same."""
    profile = await ProfileService().get(slug, await resolve_principal(request))
    tag = etag(profile)
    if request.headers.get("if-none-match") == tag:
        return Response(content=None, status_code=304, headers={"ETag": tag})
    data = json_ld_for(profile, f"{base_url(request)}/profiles/{profile.slug}")
    return Response(content=data, media_type=JSONLD, headers={"ETag": tag})




# ---------------------------------------------------------------- feeds, sitemap, robots.txt

def feed_query(params: Any) -> tuple[SearchQuery, list[tuple[str, str]], str]:
    """The search of a feed URL, from the search page's parameters (q, facets, seit_von/seit_bis): the query
    (newest change first), the parameters that shape it (canonical order, for the feed's id and links), and
    a German description of it. Bad values are a clear 422, not silently dropped."""
    q = str(params.get("q") or "").strip()[:500]
    kept: list[tuple[str, str]] = [("q", q)] if q else []
    filters: dict[str, list[str]] = {}
    for name, param in FACET_PARAMS.items():
        values = list(dict.fromkeys(params.getall(param, [])))
        if bad := [v for v in values if not facet_value_ok(name, v)]:
            raise ValidationFailed(f"Unbekannter Wert für „{param}“: {bad[0][:60]}")
        if values:
            filters[name] = values
            kept.extend((param, v) for v in values)
    years: dict[str, int | None] = {}
    for param in ("seit_von", "seit_bis"):
        raw = str(params.get(param) or "").strip()
        if raw and not (raw.isdigit() and 1900 <= int(raw) <= 2100):
            raise ValidationFailed(f"„{param}“ muss eine Jahreszahl zwischen 1900 und 2100 sein.")
        value = int(raw) if raw else None
        years[param] = value
        if value is not None:
            kept.append((param, str(value)))
    query = SearchQuery(
        q=q,
        filters={**filters, "status": [EditorialStatus.PUBLISHED.value]},
        since_min=years["seit_von"],
        since_max=years["seit_bis"],
        sort=Sort.UPDATED,
        per_page=feeds.FEED_ENTRIES,
        facets=(),
    )
    said = [f"„{q}“"] if q else []
    said += [", ".join(v) for v in filters.values()]
    if years["seit_von"] or years["seit_bis"]:
        said.append(f"Zusammenarbeit seit {years['seit_von'] or '…'}–{years['seit_bis'] or '…'}")
    return query, kept, " · ".join(said)


def _xml(body: bytes, media_type: str, headers: dict[str, str]) -> Response[Any]:
    return Response(content=body, media_type=media_type + "; charset=utf-8", headers=headers)


async def _feed_response(request: Request, query: SearchQuery, feed: feeds.Feed) -> Response[Any]:
    search = request.app.state.runtime.search
    try:
        result = await search.search(query, labels=principal_labels(None))
    except SearchError as exc:
        raise DependencyUnavailable("Der Feed ist gerade nicht verfügbar. Bitte versuchen Sie es gleich noch einmal.") from exc
    docs = [h.document for h in result.hits]
    body = await asyncio.to_thread(feeds.atom_feed, feed, docs, base_url=base_url(request))
    tag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": tag, "Cache-Control": "public, max-age=300"}
    stamps = [s for s in (feeds.document_lastmod(d) for d in docs) if s is not None]
    if stamps:
        headers["Last-Modified"] = http_date(max(stamps))
    if not_modified(request, tag, max(stamps) if stamps else None):
        return Response(content=None, status_code=304, headers=headers)
    return _xml(body, feeds.ATOM_TYPE, headers)


def _sitemap_parts(total: int) -> int:
    return max(1, -(-(total + 1) // feeds.SITEMAP_MAX_URLS))


class FeedController(Controller):
    include_in_schema = True
    tags = ["Offene Daten"]

    @get("/feed.atom", operation_id="feedRecent", summary="Atom-Feed: neue und geänderte Profile")
    async def recent(self, request: Request) -> Response[Any]:
        base = base_url(request)
        settings = request.app.state.settings
        query = SearchQuery(filters={"status": [EditorialStatus.PUBLISHED.value]}, sort=Sort.UPDATED, per_page=feeds.FEED_ENTRIES, facets=())
        feed = feeds.Feed(
            id=feeds.tag_uri(base, None, "feed/neu"),
            title=f"{settings.catalogue_title}: neue und geänderte Projekte",
            self_url=f"{base}/feed.atom",
            alternate_url=f"{base}/?sort=newest",
            author=settings.publisher_name,
            rights=Licence.from_settings(settings).name,
        )
        return await _feed_response(request, query, feed)

    @get(
        "/suche.atom",
        operation_id="feedSearch",
        summary="Atom-Feed einer Suche (dieselben Parameter wie die Suchseite: q, Filter, seit_von, seit_bis)",
    )
    async def search(self, request: Request) -> Response[Any]:
        base = base_url(request)
        settings = request.app.state.settings
        query, kept, said = feed_query(request.query_params)
        qs = urlencode(kept)
        feed = feeds.Feed(
            id=feeds.tag_uri(base, None, "feed/suche?" + qs),
            title=f"{settings.catalogue_title}: Suche {said}" if said else f"{settings.catalogue_title}: alle Projekte",
            subtitle="Neue und geänderte Projekte zu dieser Suche",
            self_url=f"{base}/suche.atom" + (f"?{qs}" if qs else ""),
            alternate_url=f"{base}/" + (f"?{qs}" if qs else ""),
            author=settings.publisher_name,
            rights=Licence.from_settings(settings).name,
        )
        return await _feed_response(request, query, feed)

    @get("/sitemap.xml", operation_id="sitemap", summary="Sitemap der veröffentlichten Profile (Index ab 50.000 Adressen)")
    async def sitemap(self, request: Request) -> Response[Any]:
        search = request.app.state.runtime.search
        fresh = await freshness(search)
        tag = fresh.etag(f"sitemap|{base_url(request)}|{feeds.SITEMAP_MAX_URLS}")
        headers = validators(fresh, tag)
        if not_modified(request, tag, fresh.last_modified):
            return Response(content=None, status_code=304, headers=headers)
        parts = _sitemap_parts(fresh.total)
        if parts > 1:
            base = base_url(request)
            body = feeds.sitemap_index((f"{base}/sitemaps/{n}.xml", fresh.last_modified) for n in range(1, parts + 1))
            return _xml(body, "application/xml", headers)
        return await self._part(request, 1, fresh, headers)

    @get("/sitemaps/{name:str}", operation_id="sitemapPart", summary="Ein Teil der Sitemap (1.xml, 2.xml, …)")
    async def sitemap_part(self, request: Request, name: FromPath[str]) -> Response[Any]:
        match = re.fullmatch(r"([1-9][0-9]{0,3})\.xml", name)
        fresh = await freshness(request.app.state.runtime.search)
        if match is None or int(match.group(1)) > _sitemap_parts(fresh.total):
            raise NotFound("Diesen Teil der Sitemap gibt es nicht.")
        tag = fresh.etag(f"sitemap-{name}|{base_url(request)}|{feeds.SITEMAP_MAX_URLS}")
        headers = validators(fresh, tag)
        if not_modified(request, tag, fresh.last_modified):
            return Response(content=None, status_code=304, headers=headers)
        return await self._part(request, int(match.group(1)), fresh, headers)

    async def _part(self, request: Request, number: int, fresh: Freshness, headers: dict[str, str]) -> Response[Any]:
        """Sitemap part `number` (from 1): the home page first, then the published profiles, oldest first."""
        base = base_url(request)
        size = feeds.SITEMAP_MAX_URLS
        start, stop = (number - 1) * size, number * size
        urls: list[tuple[str, datetime | None]] = []
        position = 0
        if start == 0:
            urls.append((f"{base}/", fresh.last_modified))
        position = 1
        async for docs in published_documents(request.app.state.runtime.search):
            for doc in docs:
                if start <= position < stop:
                    urls.append((f"{base}/profiles/{doc.get('slug')}", feeds.document_lastmod(doc)))
                position += 1
            if position >= stop:
                break
        body = await asyncio.to_thread(feeds.sitemap_urlset, urls)
        return _xml(body, "application/xml", headers)

    @get("/robots.txt", operation_id="robots", summary="robots.txt", media_type="text/plain")
    async def robots(self, request: Request) -> Response[Any]:
        base = base_url(request)
        lines = [
            "User-agent: *",
            "Allow: /",
            "Disallow: /anmelden",
            "Disallow: /abmelden",
            "Disallow: /meine-profile",
            "Disallow: /redaktion",
            "Disallow: /vorschau",
            "Disallow: /profiles/*/bearbeiten",
            "Disallow: /profiles/*/versionen",
            "Disallow: /compare",
            f"Sitemap: {base}/sitemap.xml",
            "",
        ]
        return Response(content="\n".join(lines), media_type="text/plain; charset=utf-8", headers={"Cache-Control": "public, max-age=3600"})


__all__ = ["DcatController", "FeedController", "OpenDataController", "export_path", "profile_jsonld_response"]
