"""The Litestar application factory."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, YamlRenderPlugin

from api.controllers.gazetteer import GazetteerController
from api.controllers.imports import ImportController
from api.controllers.opendata import DcatController, FeedController, OpenDataController
from api.controllers.pdf import PdfPlugin
from api.controllers.profiles import ProfileController
from api.controllers.reuse import ReuseController
from api.controllers.search import SearchController
from api.controllers.users import UserController, VocabularyController
from api.health import NOT_READY_HANDLERS, HealthController
from api.open_data import render_record
from api.openapi import on_startup as document_responses
from api.problems import EXCEPTION_HANDLERS
from api.read_your_writes import read_your_writes
from api.startup import exit_code, startup_message
from api.web.plugin import WebPlugin
from catalogue.embedded import StoreHandle
from catalogue.runtime import Runtime
from catalogue.settings import Settings, check_startup, get_settings

log = logging.getLogger("leuchtturm")


def create_app(
    settings: Settings | None = None,
    *,
    db_name: str | None = None,
    handle: StoreHandle | None = None,
    on_startup_data: bool = True,
    tune_gc: bool = False,
) -> Litestar:
    """Build the app. `handle` lets tests share one FerretDB; `db_name` gives them their own database.

    `tune_gc` (`leuchtturm serve`): once started, `tune_garbage_collector`.
    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        try:
            check_startup(settings)
            runtime = await Runtime.start(settings, db_name=db_name, handle=handle, export_render=render_record)
        except BaseException as exc:
            # `leuchtturm serve` prints this one German line instead of the traceback (api/cli.py).
            app.state.startup_error = startup_message(exc)
            app.state.startup_exit = exit_code(exc)
            raise
        app.state.runtime = runtime
        app.state.settings = settings
        try:
            if on_startup_data:
                await _load_startup_data(runtime)
            if tune_gc:
                tune_garbage_collector()
            yield
        finally:
            await runtime.stop()

    # Everything the app serves, registered here: the JSON API controllers,
    # the PDF downloads (routes and cache) and the web UI (pages, static files,
    # templates, security headers, browser sessions for api.auth); every
    # unsafe request waits for its writes to reach the index (read-your-writes).
    api_controllers = [
        HealthController,
        ProfileController,
        SearchController,
        UserController,
        VocabularyController,
        ImportController,
        GazetteerController,
        OpenDataController,
        DcatController,
        FeedController,
        ReuseController,
    ]
    return Litestar(
        route_handlers=api_controllers,
        plugins=[PdfPlugin(settings.resolved_data_dir / "cache" / "pdf"), WebPlugin()],
        lifespan=[lifespan],
        on_startup=[document_responses],
        middleware=[read_your_writes],
        exception_handlers={**EXCEPTION_HANDLERS, **NOT_READY_HANDLERS},
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Leuchtturm API",
            version="1.0.0",
            description="Offene Schnittstelle des Leuchtturm-Katalogs kommunaler Projekte.",
            path="/schema",
            # JSON at /schema itself: the CSP forbids the CDN scripts of the HTML viewers.
            render_plugins=[JsonRenderPlugin(), YamlRenderPlugin()],
        ),
        debug=False,
    )


# The server's cyclic garbage collector: a request allocates thousands of short-lived objects (documents, models,
# responses) that reference counting frees, yet every 700 allocations started a collection, and every few seconds a
# full one walked the ~150,000 objects of start-up (the register, the lexicon, the modules): about 1.3 ms of CPU per
# request in the mixed load of benchmarks/scale.py, and pauses of ~100 ms holding the GIL.
GC_THRESHOLDS = (10_000, 20, 20)


def tune_garbage_collector() -> None:
    """Move what start-up built out of the collector's sight (`gc.freeze`) and collect young objects less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def _has_profiles() -> bool:
    from catalogue.models import Profile

    return await Profile.get_pymongo_collection().find_one({}, {"_id": 1}) is not None  # start-up batch work


async def _load_startup_data(runtime: Runtime) -> None:
    """Load the municipality register on first start (LEUCHTTURM_LOAD_REGISTER, default on), then the demo set
    into an empty catalogue (LEUCHTTURM_DEMO_DATA)."""
    if runtime.settings.load_register:
        from importers.register import ensure_register, log_progress, refresh_importer_gazetteer

        report = await ensure_register(log_progress())
        if report is not None:
            log.info("Gemeindeverzeichnis geladen: %s", report.summary())
            if not report.skipped and await _has_profiles():  # the index's Kreis, Regierungsbezirk and size class follow the register
                log.warning("Gemeindeverzeichnis neu geladen: bitte `leuchtturm reindex` ausführen, damit die Facetten Kreis, "
                            "Regierungsbezirk und Größenklasse dem Verzeichnis folgen.")
        await refresh_importer_gazetteer()
    if not runtime.settings.demo_data:
        return
    from importers.demo import load_demo_data_if_empty

    await load_demo_data_if_empty(runtime)
