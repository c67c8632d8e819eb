"""The web UI: server-rendered pages for municipal staff, editors and reviewers.

`web_handlers()` returns the controllers and the static files router,
`template_config()` the Jinja2 set-up; api/app.py registers both, plus the
security headers hook from api/web/security.py. Importing this package
registers the browser-session resolver with api.auth.
"""

from __future__ import annotations

from litestar.static_files import create_static_files_router

from api.auth import register_session_resolver
from api.web.sessions import resolve_session
from api.web.templating import STATIC_DIR, template_config

register_session_resolver(resolve_session)


def web_handlers() -> list:
    from api.web.editor import AuthController, EditorController, HistoryController, ReviewController
    from api.web.pages import ProfilePageController, SearchPageController

    return [
        SearchPageController,
        ProfilePageController,
        AuthController,
        EditorController,
        ReviewController,
        HistoryController,
        create_static_files_router(
            path="/static", directories=[STATIC_DIR], name="static", include_in_schema=False,
            cache_control=None,
        ),
    ]


__all__ = ["template_config", "web_handlers"]
