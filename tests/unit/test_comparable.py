"""The comparable-projects score and its German reasons (pure functions, no engine)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalogue.search.base import Candidate
from catalogue.search.comparable import WEIGHTS, Reference, rank, score_candidate, size_ratio


def doc(**kw):
    base = {"id": "x", "title": "Projekt", "fields_of_action": [], "keywords": [], "population": None, "state": None}
    base.update(kw)
    return base


def test_weights_add_up_to_one() -> None:
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)


def test_reasons_in_german_with_thousands_separator() -> None:
    ref = Reference(
        population=31_200,
        state="Nordrhein-Westfalen",
        fields_of_action=("Verwaltung",),
        keywords=("Breitband", "Glasfaser", "OZG"),
    )
    cand = doc(
        fields_of_action=["Verwaltung"],
        keywords=["Glasfaser", "breitband"],
        population=28_808,
        state="Nordrhein-Westfalen",
    )
    result = score_candidate(ref, cand, 1.0)
    assert "gleiches Handlungsfeld: Verwaltung" in result.reasons
    assert "gemeinsame Stichworte: Glasfaser, breitband" in result.reasons
    assert "ähnliche Größe: 28.808 zu 31.200 Einwohnern" in result.reasons
    assert "ebenfalls Nordrhein-Westfalen" in result.reasons
    assert "ähnliche Beschreibung" in result.reasons
    # F=1, K=2/2=1, T=1, S=28808/31200, L=1
    expected = 0.30 + 0.20 + 0.25 + 0.15 * (28_808 / 31_200) + 0.10
    assert result.score == pytest.approx(expected, abs=1e-6)


def test_singular_and_plural_labels() -> None:
    ref = Reference(fields_of_action=("Verwaltung", "Bildung"), keywords=("Schule",))
    one = score_candidate(ref, doc(fields_of_action=["Bildung"], keywords=["Schule"]), 0.0)
    assert "gleiches Handlungsfeld: Bildung" in one.reasons
    assert "gemeinsames Stichwort: Schule" in one.reasons
    two = score_candidate(ref, doc(fields_of_action=["Bildung", "Verwaltung"]), 0.0)
    assert "gleiche Handlungsfelder: Verwaltung, Bildung" in two.reasons


def test_keywords_match_ignoring_case_and_umlauts() -> None:
    ref = Reference(keywords=("Bürgerbüro",))
    result = score_candidate(ref, doc(keywords=["buergerbuero", "Burgerburo"]), 0.0)
    assert result.parts["keywords"] == pytest.approx(1.0)


def test_size_ratio_and_unknown_population() -> None:
    assert size_ratio(10_000, 20_000) == pytest.approx(0.5)
    assert size_ratio(None, 20_000) == 0.0
    assert size_ratio(0, 20_000) == 0.0
    result = score_candidate(Reference(population=5_000), doc(population=500_000), 0.0)
    assert not any(r.startswith("ähnliche Größe") for r in result.reasons)


def test_district_versus_town_halves_size() -> None:
    ref = Reference(population=100_000, kind="Kreis")
    town = score_candidate(ref, doc(population=100_000, lead_kind="Stadt"), 0.0)
    district = score_candidate(ref, doc(population=100_000, lead_kind="Kreis", size_class="Kreis"), 0.0)
    assert district.parts["size"] == pytest.approx(1.0)
    assert town.parts["size"] == pytest.approx(0.5)


def test_rank_normalises_text_scores_and_excludes_reference() -> None:
    ref = Reference(text="Breitband", exclude_id="self", fields_of_action=("Digitale Infrastruktur",))
    cands = [
        Candidate(doc(id="self", title="Ich"), 9.0),
        Candidate(doc(id="a", title="A", fields_of_action=["Digitale Infrastruktur"]), 4.0),
        Candidate(doc(id="b", title="B"), 8.0),
        Candidate(doc(id="c", title="C"), 0.0),
    ]
    ranked = rank(ref, cands, limit=10)
    ids = [r.document["id"] for r in ranked]
    assert "self" not in ids and "c" not in ids  # score 0 is left out
    # a: 0.30 + 0.25 * 4/9 ; b: 0.25 * 8/9
    assert ids == ["a", "b"]
    assert ranked[0].score == pytest.approx(0.30 + 0.25 * 4 / 9, abs=1e-6)


def test_my_municipality_reference() -> None:
    ref = Reference.for_municipality(population=12_000, state="Bayern", kind="Gemeinde", fields_of_action=["Energie"])
    result = score_candidate(ref, doc(population=12_000, state="Bayern", fields_of_action=["Energie"]), 0.0)
    assert result.reasons[0] == "gleiches Handlungsfeld: Energie"
    assert result.reasons[1:] == ["ähnliche Größe: 12.000 zu 12.000 Einwohnern", "ebenfalls Bayern"]


def test_reference_from_document() -> None:
    ref = Reference.from_document({"id": "p1", "title": "Rufbus", "keywords": ["ÖPNV"], "size_class": "Kreis", "population": 1})
    assert ref.text == "Rufbus ÖPNV" and ref.exclude_id == "p1" and ref.kind == "Kreis"


fields = st.lists(st.sampled_from(["Verwaltung", "Bildung", "Energie", "Kultur"]), max_size=4, unique=True)


@given(
    fields,
    fields,
    st.lists(st.text(min_size=1, max_size=8), max_size=5),
    st.lists(st.text(min_size=1, max_size=8), max_size=5),
    st.one_of(st.none(), st.integers(0, 10_000_000)),
    st.one_of(st.none(), st.integers(0, 10_000_000)),
    st.floats(0, 1),
)
@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)  # input generation is slow on a loaded machine, not wrong
def test_score_is_always_between_zero_and_one(fa, fb, ka, kb, pa, pb, t) -> None:
    result = score_candidate(
        Reference(population=pa, state="Bayern", fields_of_action=tuple(fa), keywords=tuple(ka)),
        doc(population=pb, state="Bayern", fields_of_action=fb, keywords=kb),
        t,
    )
    assert 0.0 <= result.score <= 1.0
    assert all(0.0 <= v <= 1.0 for v in result.parts.values())


def test_candidates_without_reason_or_below_minimum_are_dropped() -> None:
    """h16b saw low-score candidates with no reason: a weak text match alone tells the user nothing."""
    from catalogue.search.comparable import MIN_SCORE

    ref = Reference(population=30_000, text="Rufbus")
    weak_text = Candidate(document=doc(id="a", population=400_000), text_score=0.4)  # T = 0.4/1.0 < 0.5: no reason
    similar_size = Candidate(document=doc(id="b", population=28_808), text_score=0.0)
    strong_text = Candidate(document=doc(id="c"), text_score=1.0)
    ranked = rank(ref, [weak_text, similar_size, strong_text])
    assert [c.document["id"] for c in ranked] == ["c", "b"]
    assert all(c.reasons and c.score >= MIN_SCORE for c in ranked)
    # a reason alone is not enough below the documented minimum
    assert rank(Reference(population=30_000), [similar_size], min_score=0.5) == []


def test_population_only_reference_gives_size_reason() -> None:
    ranked = rank(Reference(population=30_000), [Candidate(document=doc(id="b", population=31_803), text_score=0.0)])
    assert ranked[0].reasons == ["ähnliche Größe: 31.803 zu 30.000 Einwohnern"]


def test_state_only_reference_gives_state_reason() -> None:
    ranked = rank(Reference(state="Bayern"), [Candidate(document=doc(id="b", state="Bayern"), text_score=0.0)])
    assert ranked[0].reasons == ["ebenfalls Bayern"]
