"""The search page's URL state: which URL parameters mean which facet, range, freshness filter and sort.

Used by the search page (api/web/pages.py) and by saved searches
(catalogue.saved_searches), which store a search as its URL query string and
run it again for the weekly digest.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qs

from catalogue import fields as registry
from catalogue.search.base import SearchQuery, Sort
from catalogue.search.documents import ADOPTION_STAGES
from catalogue.vocabularies import AdoptionStage, EditorialStatus

# URL parameter of each facet (German, short, shareable) and its allowed values, in display order: the field
# registry's facets (catalogue.fields.facet_specs), then the editorial ones ("Nachnutzung"). Open facets
# (Kreis, Regierungsbezirk: names from the register) have no fixed list (None): any plain name is taken.
FACET_PARAMS: dict[str, str] = {
    **{spec.key: spec.facet.param for spec in registry.facet_specs()},
    ADOPTION_STAGES: "nachnutzung",
}
FACET_VALUES: dict[str, tuple[str, ...] | None] = {
    **{spec.key: spec.options for spec in registry.facet_specs()},
    ADOPTION_STAGES: tuple(s.value for s in AdoptionStage),
}
MAX_OPEN_VALUE = 200  # longest value of an open facet taken from the URL
MAX_FILTER_VALUES_PER_FACET = 50


def facet_value_ok(name: str, value: str) -> bool:
    """Whether a URL value is one the facet knows (fixed list), or, for an open facet, a plain name."""
    allowed = FACET_VALUES[name]
    if allowed is not None:
        return value in allowed
    return 0 < len(value) <= MAX_OPEN_VALUE and not re.search(r"[\x00-\x1f\x7f]", value)


FRESHNESS_PARAM = "aktualitaet"
STALE = "veraltet"  # not confirmed for 12 months (catalogue.freshness.STALE_AFTER)
CURRENT = "aktuell"
FRESHNESS_LABELS: dict[str, str] = {CURRENT: "in den letzten 12 Monaten bestätigt", STALE: "seit über 12 Monaten nicht bestätigt"}


def int_param(raw: str | None, lo: int, hi: int) -> int | str | None:
    """An int in [lo, hi]; None when empty; the raw text when invalid."""
    if raw is None or not raw.strip():
        return None
    text = raw.strip().replace(".", "").replace(" ", "")
    if not re.fullmatch(r"\d{1,12}", text):
        return raw
    value = int(text)
    return value if lo <= value <= hi else raw


def freshness_bounds(value: str, now: datetime) -> tuple[int | None, int | None]:
    """The `confirmed_at` range of a freshness filter value: stale (not confirmed for 12 months) or current."""
    from catalogue.freshness import cutoff

    if value == STALE:
        return None, cutoff(now)
    if value == CURRENT:
        return cutoff(now) + 1, None
    return None, None


@dataclass
class UrlSearch:
    """A search as its URL states it: the query, what is selected, and German messages for bad parameters."""

    query: SearchQuery
    q: str = ""
    selected: dict[str, list[str]] = field(default_factory=dict)
    freshness: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def from_params(get_all: Callable[[str], Sequence[str]], *, now: datetime, page: int = 1, per_page: int = 20) -> UrlSearch:
    """The published-profile search of these URL parameters (`get_all(name)` → the values of a parameter)."""

    def first(name: str) -> str:
        values = get_all(name)
        return str(values[0]) if values else ""

    q = first("q").strip()[:500]
    selected: dict[str, list[str]] = {}
    for name, param in FACET_PARAMS.items():
        values = [v for v in (str(x).strip() for x in get_all(param)) if facet_value_ok(name, v)][:MAX_FILTER_VALUES_PER_FACET]
        if values:
            selected[name] = list(dict.fromkeys(values))
    errors: dict[str, str] = {}
    since = {}
    for key, param in (("since_min", "seit_von"), ("since_max", "seit_bis")):
        value = int_param(first(param), 1900, 2100)
        if isinstance(value, str):
            errors[param] = "Bitte eine Jahreszahl zwischen 1900 und heute angeben."
            value = None
        since[key] = value
    freshness = first(FRESHNESS_PARAM)
    confirmed_min, confirmed_max = freshness_bounds(freshness, now)
    if confirmed_min is None and confirmed_max is None:
        freshness = ""
    sort_raw = first("sort") or Sort.RELEVANCE.value
    sort = Sort(sort_raw) if sort_raw in {s.value for s in Sort} else Sort.RELEVANCE
    query = SearchQuery(
        q=q, filters={**selected, "status": [EditorialStatus.PUBLISHED.value]}, since_min=since["since_min"], since_max=since["since_max"],
        confirmed_min=confirmed_min, confirmed_max=confirmed_max, sort=sort, page=page, per_page=per_page,
    )
    return UrlSearch(query=query, q=q, selected=selected, freshness=freshness, errors=errors)


def from_query_string(query_string: str, *, now: datetime, page: int = 1, per_page: int = 20) -> UrlSearch:
    parsed: Mapping[str, list[str]] = parse_qs(query_string.lstrip("?"), keep_blank_values=False)
    return from_params(lambda name: parsed.get(name, []), now=now, page=page, per_page=per_page)


__all__ = [
    "FACET_PARAMS",
    "FACET_VALUES",
    "FRESHNESS_PARAM",
    "UrlSearch",
    "facet_value_ok",
    "freshness_bounds",
    "from_params",
    "from_query_string",
    "int_param",
]
