"""The web UI as a Litestar plugin: pages, static files, templates, security headers, browser sessions."""

from __future__ import annotations

from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol
from litestar.static_files import create_static_files_router

from api.auth import SESSION_RESOLVER
from api.web.basket import BasketController
from api.web.editor import AuthController, EditorController, HistoryController, ReviewController
from api.web.pages import ComparePageController, ProfilePageController, SearchPageController
from api.web.security import security_headers
from api.web.sessions import resolve_session
from api.web.templating import STATIC_DIR, template_config


class WebPlugin(InitPluginProtocol):
    """Registers the web UI on the app (see api/app.py)."""

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.extend(
            [
                SearchPageController,
                ProfilePageController,
                ComparePageController,
                BasketController,
                AuthController,
                EditorController,
                ReviewController,
                HistoryController,
                create_static_files_router(
                    path="/static", directories=[STATIC_DIR], name="static", include_in_schema=False, cache_control=None
                ),
            ]
        )
        app_config.template_config = template_config()
        app_config.before_send.append(security_headers)
        # api.auth resolves a browser session through this (after API tokens)
        app_config.state[SESSION_RESOLVER] = resolve_session
        return app_config
