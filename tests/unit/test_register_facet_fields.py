"""The register facets in the field lists (no database): declared once, in both engines' lists, and in the document."""

from __future__ import annotations

from catalogue import fields as registry
from catalogue.search import documents, tantivy_backend
from catalogue.search.meili_backend import FILTERABLE


def test_register_facets_are_open_facets_after_the_profile_facets() -> None:
    specs = {s.key: s for s in registry.facet_specs()}
    assert specs["kreis"].options is None and specs["regierungsbezirk"].options is None
    assert specs["kreis"].facet.param == "kreis" and specs["regierungsbezirk"].facet.param == "bezirk"
    assert specs["size_class"].options  # one list for the size classes: the profile's and the register's are one facet
    # the registry's facets, then the editorial ones (adoption, catalogue/search/documents.py)
    assert [s.key for s in registry.facet_specs()] == list(documents.CONTENT_FACETS)
    assert list(documents.FACETS) == [*documents.CONTENT_FACETS, *documents.EDITORIAL_FACETS]
    assert documents.CONTENT_FACETS[-2:] == ("kreis", "regierungsbezirk")
    assert len({s.facet.param for s in specs.values()}) == len(specs)


def test_both_engines_filter_and_count_them() -> None:
    assert {"kreis", "regierungsbezirk"} <= set(FILTERABLE)
    assert {"kreis", "regierungsbezirk"} <= set(tantivy_backend.FACETS)  # raw fast fields; part of SCHEMA_VERSION
    assert {"kreis", "regierungsbezirk"} <= set(documents.FILTERABLE)


def test_document_without_and_with_the_register() -> None:
    profile = {"id": "p", "slug": "p", "title": "Rufbus", "population": 3_000, "lead": {"name": "Gemeinde A", "kind": "Gemeinde"}}
    plain = documents.to_search_document(profile)
    assert plain["kreis"] is None and plain["regierungsbezirk"] is None
    assert plain["size_class"] == "Landgemeinde"  # the profile's own figure
    region = {"kreis": "Kreis Höxter", "regierungsbezirk": "Regierungsbezirk Detmold", "size_class": "Kleinstadt"}
    doc = documents.to_search_document(profile, region=region)
    assert (doc["kreis"], doc["regierungsbezirk"], doc["size_class"]) == ("Kreis Höxter", "Regierungsbezirk Detmold", "Kleinstadt")
    # the register knows the lead's Kreis but no size (a Land, a Regierungsbezirk): the profile's own stays
    assert documents.to_search_document(profile, region={**region, "size_class": None})["size_class"] == "Landgemeinde"
