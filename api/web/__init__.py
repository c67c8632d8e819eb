"""The web UI: server-rendered pages for municipal staff, editors and reviewers.

`api.web.plugin.WebPlugin` registers the page controllers, the static files,
the Jinja2 templates, the security headers and the browser-session resolver;
api/app.py adds the plugin. Importing this package does nothing else.
"""
