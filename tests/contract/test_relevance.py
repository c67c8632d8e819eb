"""Relevance on the demo corpus: each query's expected profile is in the top 3.

Corpus: data/demo/profiles.json (ProfileContent dicts plus "slug" and
"demo_id"). Queries: tests/fixtures/relevance_queries.json, a list of
{"query", "expected", "why"}; "expected" is a slug (or a list of slugs that
must all be in the top 3).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from catalogue.access import PUBLIC_LABEL
from catalogue.models import Profile, ProfileContent
from catalogue.search.base import SearchBackend, SearchQuery
from catalogue.search.documents import to_search_document
from catalogue.settings import PROJECT_ROOT
from tests.contract.conftest import BACKENDS, dispose, make_backend

CORPUS_FILE = PROJECT_ROOT / "data" / "demo" / "profiles.json"
QUERIES_FILE = PROJECT_ROOT / "tests" / "fixtures" / "relevance_queries.json"
TOP = 3
PUBLIC = (PUBLIC_LABEL,)


def demo_documents() -> list[dict[str, Any]]:
    entries = json.loads(CORPUS_FILE.read_text(encoding="utf-8"))
    docs = []
    for n, entry in enumerate(entries):
        content = ProfileContent.model_validate({k: v for k, v in entry.items() if k not in ("slug", "demo_id")})
        stamp = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=n)
        profile = Profile.model_construct(
            **dict(content), id=entry["demo_id"], slug=entry["slug"], status="published", published_at=stamp, updated_at=stamp
        )
        docs.append(to_search_document(profile))
    return docs


def load_queries() -> list[dict[str, Any]]:
    if not QUERIES_FILE.exists():
        return []
    return json.loads(QUERIES_FILE.read_text(encoding="utf-8"))


QUERIES = load_queries()


@pytest.fixture(scope="module", params=BACKENDS)
async def demo_backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SearchBackend]:
    backend = await make_backend(request.param, tmp_path_factory.mktemp("relevance"))
    try:
        await backend.upsert(demo_documents())
        yield backend
    finally:
        await dispose(backend)


def test_corpus_and_queries_are_consistent() -> None:
    if not QUERIES:
        pytest.skip(f"{QUERIES_FILE} fehlt noch")
    slugs = {d["slug"] for d in demo_documents()}
    for case in QUERIES:
        expected = case["expected"] if isinstance(case["expected"], list) else [case["expected"]]
        assert set(expected) <= slugs, case


@pytest.mark.parametrize("case", QUERIES or [pytest.param(None, marks=pytest.mark.skip(reason="relevance_queries.json fehlt noch"))],
                         ids=[c["query"] for c in QUERIES] or ["missing"])
async def test_expected_profile_in_top_three(demo_backend: SearchBackend, case: dict[str, Any]) -> None:
    result = await demo_backend.search(SearchQuery(q=case["query"], per_page=TOP, facets=()), labels=PUBLIC)
    top = [h.slug for h in result.hits]
    expected = case["expected"] if isinstance(case["expected"], list) else [case["expected"]]
    for slug in expected:
        assert slug in top, f"{case['query']!r}: erwartet {slug} unter den ersten {TOP}, erhalten {top} – {case.get('why', '')}"
