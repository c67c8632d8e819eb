"""Adoption counts in the search document, the adoption evidence among the comparable reasons, freshness with a frozen clock,
the search page's URL state (pure functions, no store or engine)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from catalogue import adoption, freshness
from catalogue.search.comparable import Reference, score_candidate
from catalogue.search.documents import to_search_document
from catalogue.search.url_state import from_query_string

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def entry(key: str, stage: str, size: str | None = "Mittelstadt", *, hidden: bool = False) -> dict:
    org = {"key": key, "name": f"Kommune {key}", "size_class": size}
    return {"organisation": org, "stage": stage, "note": "", "contact": "", "created_at": NOW, "updated_at": NOW, "revision": 1, "hidden": hidden}


SUMMARY = {"entries": {
    "1": entry("1", "umgesetzt"),
    "2": entry("2", "in Planung"),
    "3": entry("3", "interessiert"),
    "4": entry("4", "aufgegeben"),
    "5": entry("5", "umgesetzt", "Kleinstadt"),
    "6": entry("6", "umgesetzt", hidden=True),
}}


def test_counts_and_search_fields_leave_out_hidden_records() -> None:
    assert adoption.counts(SUMMARY["entries"]) == {"interessiert": 1, "in Planung": 1, "in Umsetzung": 0, "umgesetzt": 2, "aufgegeben": 1}
    fields = adoption.search_fields(SUMMARY)
    assert fields["adoption_count"] == 4  # abandoned and hidden ones do not count
    assert sorted(fields["adoption_stages"]) == ["aufgegeben", "in Planung", "interessiert", "umgesetzt"]
    assert sorted(fields["adopter_size_classes"]) == ["Kleinstadt", "Mittelstadt", "Mittelstadt"]  # planning and done only
    assert adoption.search_fields(None) == {"adoption_count": 0, "adoption_stages": [], "adopter_size_classes": []}
    shown = adoption.visible(SUMMARY["entries"])
    assert [e["stage"] for e in shown] == ["umgesetzt", "umgesetzt", "in Planung", "interessiert", "aufgegeben"]
    assert len(adoption.visible(SUMMARY["entries"], include_hidden=True)) == 6


def test_search_document_carries_freshness_and_adoption() -> None:
    profile = {"id": "p1", "slug": "p1", "title": "Bauhof", "status": "published", "owner": "olga",
               "created_at": "2024-01-01T00:00:00+00:00", "published_at": "2024-02-01T00:00:00+00:00", "confirmed_at": None}
    doc = to_search_document(profile, SUMMARY)
    assert doc["confirmed_at"] == int(datetime(2024, 2, 1, tzinfo=UTC).timestamp())  # never confirmed: counts from publication
    assert doc["adoption_count"] == 4 and "umgesetzt" in doc["adoption_stages"]
    confirmed = to_search_document({**profile, "confirmed_at": "2025-06-01T00:00:00+00:00"})
    assert confirmed["confirmed_at"] == int(datetime(2025, 6, 1, tzinfo=UTC).timestamp()) and confirmed["adoption_count"] == 0


def test_adoption_evidence_in_the_comparable_reasons() -> None:
    doc = {"id": "x", "title": "Bauhof", "population": 30_000, "adopter_size_classes": ["Mittelstadt", "Mittelstadt", "Kleinstadt"]}
    mine = Reference.for_municipality(population=28_808, state=None)
    assert "von 2 Kommunen Ihrer Größe übernommen (Mittelstadt)" in score_candidate(mine, doc, 0.0).reasons
    small = Reference.for_municipality(population=12_000, state=None)
    assert "von einer Kommune Ihrer Größe übernommen (Kleinstadt)" in score_candidate(small, doc, 0.0).reasons
    rural = Reference.for_municipality(population=3_000, state=None)
    assert not any("übernommen" in r for r in score_candidate(rural, doc, 0.0).reasons)
    profile_ref = Reference(population=25_000)
    assert "von 2 Kommunen dieser Größe übernommen (Mittelstadt)" in score_candidate(profile_ref, doc, 0.0).reasons
    # evidence, not score: the same score without adopters
    assert score_candidate(mine, doc, 0.0).score == score_candidate(mine, {**doc, "adopter_size_classes": []}, 0.0).score


def test_staleness_with_a_frozen_clock() -> None:
    confirmed = NOW - timedelta(days=365)
    assert not freshness.is_stale(confirmed, NOW)
    assert freshness.is_stale(confirmed, NOW + timedelta(seconds=1))
    assert not freshness.is_stale(confirmed, NOW + timedelta(days=30), "draft")  # only published profiles go stale
    assert not freshness.is_stale(None, NOW)
    assert freshness.cutoff(NOW) == int((NOW - timedelta(days=365)).timestamp())
    assert freshness.counts_from({"confirmed_at": None, "published_at": NOW, "created_at": NOW - timedelta(days=9)}) == NOW


def test_url_state_of_a_saved_search() -> None:
    url = from_query_string("q=Rufbus&land=Bayern&nachnutzung=umgesetzt&nachnutzung=kaputt&aktualitaet=veraltet&sort=adopted&seit_von=19x", now=NOW)
    q = url.query
    assert q.q == "Rufbus" and dict(q.filters)["state"] == ("Bayern",) and dict(q.filters)["adoption_stages"] == ("umgesetzt",)
    assert dict(q.filters)["status"] == ("published",) and q.sort.value == "adopted"
    assert q.confirmed_max == freshness.cutoff(NOW) and q.confirmed_min is None
    assert url.errors == {"seit_von": "Bitte eine Jahreszahl zwischen 1900 und heute angeben."}
    current = from_query_string("aktualitaet=aktuell", now=NOW).query
    assert current.confirmed_min == freshness.cutoff(NOW) + 1 and current.confirmed_max is None
    assert from_query_string("aktualitaet=irgendwie", now=NOW).freshness == ""
