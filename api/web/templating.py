"""The Jinja2 environment of the web UI: filters for German formatting, labels, vocabularies."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig
from markupsafe import Markup

from api.web import forms
from catalogue.formatting import format_date_de, format_eur_de, format_float_de, format_int_de
from catalogue.gazetteer import attribution_for
from catalogue.markdown import render_html
from catalogue.models import public_source
from catalogue.vocabularies import EDITORIAL_STATUS_LABELS, ROLE_LABELS, EditorialStatus

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def _status_label(value: Any) -> str:
    try:
        return EDITORIAL_STATUS_LABELS[EditorialStatus(str(value))]
    except ValueError:
        return str(value or "")


def _plain(value: Any) -> Any:
    """A controlled-list value as its German text (enums show their value)."""
    return value.value if isinstance(value, Enum) else value


def json_ld(data: Any) -> Markup:
    """JSON for a <script type="application/ld+json"> block: `<`, `>` and `&` escaped so no `</script>` can close it."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)  # noqa: S704 - escaped above for a script data block


def _query(params: Any, **changes: Any) -> str:
    """URL query string from a list of (key, value) pairs with some keys replaced or removed."""
    pairs = [(k, v) for k, v in params if k not in changes]
    for k, v in changes.items():
        if v is None or v == "":
            continue
        if isinstance(v, list | tuple):
            pairs.extend((k, x) for x in v)
        else:
            pairs.append((k, v))
    return urlencode(pairs)


def _datetime_de(value: Any) -> str:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    if not isinstance(value, datetime):
        return format_date_de(value)
    local = value.astimezone(ZoneInfo("Europe/Berlin")) if value.tzinfo else value
    return f"{format_date_de(local)}, {local:%H:%M} Uhr"


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        # The templates are compiled once per process and never looked at again: with reloading on, every
        # page asked the file system whether each template it uses (5 to 8 a page) had changed. Restart after editing one.
        auto_reload=False,
    )
    env.filters.update(
        de_int=format_int_de,
        de_float=format_float_de,
        de_date=format_date_de,
        de_datetime=_datetime_de,
        de_eur=format_eur_de,
        markdown=lambda text: Markup(render_html(text or "")),  # noqa: S704 - render_html returns safe HTML
        status_label=_status_label,
        plain=_plain,
        json_ld=json_ld,
        input_id=forms.input_id,
        register_attribution=lambda source, as_of=None: attribution_for(source, as_of) or "",
    )
    env.globals.update(
        labels=forms.LABELS,
        short_labels=forms.SHORT_LABELS,
        help=forms.HELP_TEXTS,
        form_layout=forms.FORM_LAYOUT,
        subfield_rows=forms.subfield_rows,
        input_attrs=forms.input_attrs,
        role_labels=ROLE_LABELS,
        markdown_help=forms.MARKDOWN_HELP,
        query=_query,
        public_source=public_source,
    )
    return env


def template_config() -> TemplateConfig:
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(build_environment()))
