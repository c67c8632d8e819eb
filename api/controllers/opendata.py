"""Open data over HTTP: bulk exports, JSON-LD of a profile, the DCAT-AP.de catalogue, feeds, sitemap, robots.txt.

Every list here comes from the search index with the public label
(catalogue.opendata.published, catalogue.opendata.feeds); single profiles are
read by `_id` through their slug key.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get
from litestar.params import FromPath
from litestar.response import Stream

from api.auth import resolve_principal
from api.open_data import FILE_STEM, FORMATS, Licence, export_path, stream_export
from catalogue.errors import NotFound
from catalogue.jsonld import json_ld_for
from catalogue.opendata import dcat
from catalogue.opendata.published import Freshness, freshness, published_facets, published_profiles
from catalogue.profiles import ProfileService, etag
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
        search = request.app.state.runtime.search
        lic = licence(request)
        base = base_url(request)
        fresh = await freshness(search)
        tag = fresh.etag(f"{fmt}|{EXPORT_VERSION}|{lic.uri}|{lic.attribution}|{base}")
        headers = {
            **validators(fresh, tag),
            "Link": f'{licence_link(lic)}, <{base}/dcat/catalog>; rel="describedby"',
            "Content-Disposition": f'attachment; filename="{FILE_STEM}.{fmt}"',
        }
        if not_modified(request, tag, fresh.last_modified):
            return Response(content=None, status_code=304, headers=headers)
        chunks = stream_export(fmt, published_profiles(search), licence=lic, base_url=base, modified=fresh.last_modified)
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


__all__ = ["DcatController", "OpenDataController", "export_path", "profile_jsonld_response"]
