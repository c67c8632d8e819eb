"""Query planning on both engines over the demo set: typos never beat the correct word, fuzzy and compound
matches are highlighted, prefix queries work, typed words rank above their synonyms (issue 14 item 9, issue 17)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from catalogue.access import PUBLIC_LABEL
from catalogue.search import planning
from catalogue.search.base import SearchBackend, SearchQuery
from tests.contract.conftest import BACKENDS, dispose, make_backend
from tests.contract.test_relevance import demo_documents
from tests.contract.test_search_contract import make

PUBLIC = (PUBLIC_LABEL,)


@pytest.fixture(scope="module", params=BACKENDS)
async def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SearchBackend]:
    backend = await make_backend(request.param, tmp_path_factory.mktemp("planning"))
    try:
        await backend.upsert(demo_documents())
        yield backend
    finally:
        await dispose(backend)


async def search(backend: SearchBackend, q: str, per_page: int = 50) -> tuple[int, list[str], list[str]]:
    res = await backend.search(SearchQuery(q=q, per_page=per_page, facets=()), labels=PUBLIC)
    return res.total, [h.slug for h in res.hits], [" ".join(h.snippets.values()) for h in res.hits]


def marked(snippets: list[str]) -> list[str]:
    return [m.casefold() for s in snippets for m in re.findall(r"<mark>(.*?)</mark>", s)]


@pytest.mark.parametrize(("correct", "typo"), [
    ("Digitalisierung", "Digitalisirung"),
    ("Breitbandausbau", "Breitbandausbua"),
    ("Feuerwehr", "Feuerwer"),
    ("Klimaschutz", "Klimaschtz"),
])
async def test_the_correct_word_never_finds_fewer_projects_than_its_typo(demo: SearchBackend, correct: str, typo: str,
                                                                        request: pytest.FixtureRequest) -> None:
    # on Meilisearch the typo's Snowball stem ("feuerw") runs without prefix matching (meili_backend.Part.prefix)
    if demo.name == "meilisearch" and typo == "Feuerwer":
        # still open: on the compound-part fields (locale deu) Meilisearch's German segmenter cuts the unknown word
        # "Feuerwer" into short pieces that match unrelated words with typo tolerance ("BER", "Feder"); measured with
        # and without a trailing space (prefix off) alike, so it is not the prefix match
        request.applymarker(pytest.mark.xfail(strict=True, reason="Meilisearch: the segmenter's pieces of a typo reach further than the word"))
    n_correct, found_correct, _ = await search(demo, correct)
    n_typo, found_typo, _ = await search(demo, typo)
    assert n_typo > 0, typo
    assert n_correct >= n_typo, (correct, found_correct, typo, found_typo)


async def test_fuzzy_matches_are_highlighted(demo: SearchBackend) -> None:
    _, _, snippets = await search(demo, "Digitalisirung")
    assert any(m.startswith("digitalisier") for m in marked(snippets)), snippets[:2]


async def test_compound_matches_are_highlighted(demo: SearchBackend) -> None:
    _, slugs, snippets = await search(demo, "Strategie")
    assert "interkommunale-digitalisierungsstrategie" in slugs
    assert any(m.endswith("strategie") and m != "strategie" for m in marked(snippets)), snippets[:3]


async def test_prefix_queries_find_words_that_start_so(demo: SearchBackend) -> None:
    n_prefix, slugs, snippets = await search(demo, "Bürger*")
    n_whole, whole, _ = await search(demo, "Bürgerbus")
    assert n_prefix > 0
    assert set(whole) <= set(slugs)
    assert n_prefix >= n_whole
    assert any(m.startswith("bürger") and m != "bürger" for m in marked(snippets))
    n_none, _, _ = await search(demo, "Qxzv*")
    assert n_none == 0


async def test_the_typed_word_ranks_above_its_synonyms(demo: SearchBackend) -> None:
    _, slugs, _ = await search(demo, "Glasfaserausbau", per_page=3)
    assert slugs[0] == "glasfaserausbau-in-bergkamen-kamen-und-boenen-im-betreibermodell"


def test_plan_expands_abbreviations_both_ways_with_lower_weights() -> None:
    short = planning.plan("ÖPNV").words[0].alternatives
    assert any(a.text == "öffentlicher Personennahverkehr" and a.kind == "expansion" for a in short)
    long = planning.plan("öffentlicher Personennahverkehr").words[0].alternatives
    assert any(a.text == "ÖPNV" and a.kind == "abbreviation" for a in long)
    assert all(0 < a.weight < 1 for a in (*short, *long))


def test_plan_varies_compounds_and_marks_places() -> None:
    glas = planning.plan("Glasfaserausbau").words[0]
    assert any(a.text == "Breitbandausbau" for a in glas.alternatives)
    p = planning.plan("Bauhof Bayern")
    assert [pm.text for pm in p.soft_places] == ["Bayern"]
    assert [w.text for w in p.text_words] == ["Bauhof"]
    only = planning.plan("Bayern")
    assert only.soft_places == () and [w.text for w in only.text_words] == ["Bayern"]  # a place alone must match
    known = {"Ostalbkreis": [planning.Place("Ostalbkreis", "kreis", "Baden-Württemberg", "08136")]}
    ost = planning.plan("Ostalbkreis Abwasser", known)
    assert [pm.text for pm in ost.soft_places] == ["Ostalbkreis"] and ost.soft_places[0].states == ("Baden-Württemberg",)
    amt = planning.plan("Amt Bauhof", {"Amt": [planning.Place("Amt", "gemeinde", "Bayern", "1")]})
    assert amt.places == ()  # a lexicon term is read as that term, not as a town of that name


def test_prefix_words_are_marked() -> None:
    p = planning.plan("Ruf* Höxter")
    assert [(w.text, w.prefix) for w in p.words] == [("Ruf", True), ("Höxter", False)]


async def test_a_typo_of_a_rare_word_counts_by_its_rarity(demo: SearchBackend) -> None:
    """A typo's match weighs like the word it finds (rare words count more), below the correct word, so a typo of
    the query's rarest word still puts its project above those that only share the common word."""
    _, slugs, _ = await search(demo, "Atemschtzgeräte Landkreis", per_page=3)
    assert slugs[:1] == ["atemschutzgeraeteverbund-wetteraukreis"], slugs


async def test_a_compound_shortened_by_a_suspension_hyphen_is_found(demo: SearchBackend) -> None:
    """"Haushalts- und Personalplanung" holds "Haushaltsplanung" (documents.suspended_compounds at index time on
    Tantivy; Meilisearch's German segmenter finds the parts)."""
    _, slugs, _ = await search(demo, "Haushaltsplanung", per_page=3)
    assert "digitalstrategie-itzehoe" in slugs, slugs


async def test_explanations_read_the_long_texts(demo: SearchBackend) -> None:
    """A hit says what made it match also when the word is only in its long texts (Meilisearch returns those only
    when asked: an explanation asks)."""
    res = await demo.search(SearchQuery(q="Personalplanung", per_page=10, facets=(), explain=True), labels=PUBLIC)
    hit = next(h for h in res.hits if h.slug == "digitalstrategie-itzehoe")  # "Haushalts- und Personalplanung" in its results
    assert hit.explanation is not None
    assert [m["kind"] for m in hit.explanation["words"][0]["matched"]] == ["typed"]


async def test_a_typo_in_a_short_part_of_a_hyphenated_name_is_tolerated(demo: SearchBackend) -> None:
    # "Mitle" has five letters as typed, but its stem ("mitl") only four: the typed length decides, as for one word
    _, correct, _ = await search(demo, "Unterallgäu-Mitte")
    _, typo, _ = await search(demo, "Unterallgäu-Mitle")
    assert correct, "Unterallgäu-Mitte"
    assert typo[:1] == correct[:1], (typo, correct)


@pytest.mark.parametrize(("one", "other"), [("Kita", "Kitas"), ("Kitas", "Kita")])
async def test_a_word_and_its_s_form_find_each_other(demo: SearchBackend, one: str, other: str) -> None:
    # Snowball German keeps an "-s" after a vowel (genitive "Ausbaus", plural "Kitas"): the forms must still meet
    _, found_one, _ = await search(demo, one)
    _, found_other, _ = await search(demo, other)
    assert found_one, one
    assert set(found_one[:3]) <= set(found_other), (one, found_one, other, found_other)


# Profiles that all use the catalogue's everyday words (Gemeinden, gemeinsam, nutzen) in every field, and one that
# uses the query's specific word (Bauhof), in its long texts as "Bauhöfe".
EVERYDAY_WORDS = [
    make("bauhof", "Kooperation der Bauhöfe", summary="Drei Orte tauschen Spezialgeräte und Maschinen.",
         text="Die Bauhöfe beschaffen Material zusammen und leihen einander Geräte."),
    make("verwaltung", "Gemeinsame Verwaltung kleiner Gemeinden", summary="Gemeinden nutzen eine gemeinsame Verwaltung.",
         keywords=("Gemeindeverwaltung", "Kommunen"), text="Die Gemeinden nutzen gemeinsam Personal, die Gemeindeverwaltung und die Kämmerei."),
    make("schule", "Gemeinsame Schule für Gemeinden", summary="Zwei Gemeinden betreiben gemeinsam eine Grundschule.",
         keywords=("Schulverband",), text="Die Nachbargemeinden nutzen gemeinsam das Schulgebäude und die Sporthalle."),
    make("kasse", "Gemeinsame Kasse", summary="Kleine Gemeinden führen gemeinsam ihre Kasse.",
         text="Gemeinden nutzen eine gemeinsame Kasse und gemeinsame Software."),
    make("friedhof", "Gemeinsamer Friedhof", summary="Zwei Gemeinden nutzen einen Friedhof gemeinsam.", text="Die Gemeinden teilen die Kosten."),
]


@pytest.mark.parametrize("q", ["Gemeinden Bauhof gemeinsam nutzen", "wie können kleine Gemeinden Großgeräte für den Bauhof gemeinsam nutzen"])
async def test_the_rare_word_of_a_query_outweighs_the_words_every_profile_uses(backend: SearchBackend, q: str,
                                                                               request: pytest.FixtureRequest) -> None:
    """A query is about its specific words: a profile about the Bauhof ranks above profiles that only repeat the
    words every profile uses (in title, summary, keywords and texts, and as compound parts: "Gemeindeverwaltung")."""
    if backend.name == "meilisearch" and len(q.split()) <= 5:
        # still open: Meilisearch ranks by the number of matched words first ("words" rule); only queries of more than
        # five content words run rarest word first (meili_backend.rarest_first)
        request.applymarker(pytest.mark.xfail(strict=True, reason="Meilisearch: more matched words outrank a rarer word"))
    await backend.upsert(EVERYDAY_WORDS)
    _, slugs, _ = await search(backend, q, per_page=5)
    assert slugs[:1] == ["bauhof"], slugs


async def test_a_letter_code_no_document_uses_does_not_sink_a_query(demo: SearchBackend) -> None:
    """"FB-Kreis Atemschutzgeräte": the licence-plate code of the Wetteraukreis is in no profile; beside another word
    the hyphenated word still matches by its known part (on Tantivy only then: alone it is not widened to every "Kreis")."""
    _, slugs, _ = await search(demo, "FB-Kreis Atemschutzgeräte", per_page=3)
    assert slugs[:1] == ["atemschutzgeraeteverbund-wetteraukreis"], slugs
