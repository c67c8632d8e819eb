"""The open-data request paths read the store by `_id` only; their lists come from the search index.

Uses the command recorder and the world of tests/integration/test_keyed_reads.py.
"""

from __future__ import annotations

from tests.integration.test_keyed_reads import API, Requests, world

__all__ = ["world"]  # the fixture, shared


async def test_open_data_paths_query_the_store_by_id_only(client, world) -> None:
    send = Requests(client)
    pub = world["published"]
    for fmt in ("json", "ndjson", "csv"):
        r = await send("GET", f"/api/v1/export/profiles.{fmt}", expect=200)
        assert "Gemeinsamer Bauhof Nethe" in r.text and "Entwurf Nethe" not in r.text
        await send("GET", f"/api/v1/export/profiles.{fmt}", expect=304, headers={"If-None-Match": r.headers["etag"]})
    await send("GET", f"{API}/{pub}.jsonld", expect=200)
    await send("GET", f"{API}/{world['draft']}.jsonld", expect=404)
    for path in ("/dcat/catalog", "/dcat/catalog.ttl", "/dcat/catalog.rdf", f"/dcat/profiles/{pub}.ttl", "/feed.atom",
                 "/suche.atom?q=Bauhof&land=Nordrhein-Westfalen", "/sitemap.xml", "/sitemaps/1.xml", "/robots.txt"):
        await send("GET", path, expect=200)
    await send("GET", f"/dcat/profiles/{world['draft']}", expect=404)
    assert not send.report, "store queries other than by _id on open-data paths:\n" + "\n".join(
        f"{path}: {bad}" for path, bad in send.report.items()
    )
