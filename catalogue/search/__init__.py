"""Search: one protocol, two engines.

The service layer obtains its backend from `create_backend` and uses only the
`SearchBackend` protocol: Meilisearch when a URL is configured, otherwise
the embedded Tantivy index under `<data_dir>/search`.
"""

from __future__ import annotations

from pathlib import Path

from catalogue.search.base import (
    SORT_LABELS,
    Candidate,
    Hit,
    SearchBackend,
    SearchError,
    SearchQuery,
    SearchResult,
    Sort,
)
from catalogue.search.documents import FACET_LABELS, FACETS, to_search_document


def create_backend(meili_url: str | None, meili_key: str | None, data_dir: Path, *, meili_index: str = "profiles") -> SearchBackend:
    """The configured search backend (not yet prepared: call `await backend.prepare()`)."""
    if meili_url:
        from catalogue.search.meili_backend import MeiliBackend

        return MeiliBackend(meili_url, meili_key, index_uid=meili_index)
    from catalogue.search.tantivy_backend import TantivyBackend

    return TantivyBackend(Path(data_dir) / "search")


__all__ = [
    "FACETS",
    "FACET_LABELS",
    "SORT_LABELS",
    "Candidate",
    "Hit",
    "SearchBackend",
    "SearchError",
    "SearchQuery",
    "SearchResult",
    "Sort",
    "create_backend",
    "to_search_document",
]
