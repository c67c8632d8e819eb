"""/schema/openapi.json documents every error as problem+json and the real media types (api/openapi.py)."""

from __future__ import annotations

from api.problems import PROBLEM_JSON

PROBLEM = {"$ref": "#/components/schemas/Problem"}


async def test_errors_are_documented_as_problem_details(client) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    assert set(spec["components"]["schemas"]["Problem"]["required"]) == {"type", "title", "status", "detail"}
    get_profile = spec["paths"]["/api/v1/profiles/{slug}"]["get"]["responses"]
    assert {"301", "400", "401", "404", "503"} <= set(get_profile)
    assert get_profile["404"]["content"] == {PROBLEM_JSON: {"schema": PROBLEM}}
    assert "application/json" not in get_profile["400"]["content"]  # not Litestar's own error shape
    replace = spec["paths"]["/api/v1/profiles/{slug}"]["put"]["responses"]
    assert {"308", "403", "412", "413", "422", "428"} <= set(replace)
    assert "401" not in spec["paths"]["/feed.atom"]["get"]["responses"]  # not an /api/ route
    assert list(spec["paths"]["/feed.atom"]["get"]["responses"]["200"]["content"]) == ["application/atom+xml"]
    assert set(spec["paths"]["/api/v1/export/{name}"]["get"]["responses"]["200"]["content"]) == {
        "application/json", "application/x-ndjson", "text/csv",
    }
    assert set(spec["paths"]["/health/live"]["get"]["responses"]) == {"200"}


async def test_a_documented_error_is_what_the_api_sends(client) -> None:
    r = await client.get("/api/v1/profiles/gibt-es-nicht")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith(PROBLEM_JSON)
    assert {"type", "title", "status", "detail"} <= set(r.json())


async def test_fuzz_finding_search_explain_for_anonymous_is_a_documented_403(client) -> None:
    """The long schemathesis run (seed 1) found GET /api/v1/search?explain=true answering an undocumented 403."""
    spec = (await client.get("/schema/openapi.json")).json()
    r = await client.get("/api/v1/search", params={"q": "0", "explain": "true"})
    assert r.status_code == 403
    assert r.headers["content-type"].startswith(PROBLEM_JSON)
    assert "403" in spec["paths"]["/api/v1/search"]["get"]["responses"]
