"""The Meilisearch backend's pure parts, without a server: settings, filter strings, query planning, snippets.

Everything that talks to Meilisearch is tested against the real server
(tests/contract, tests/integration/test_meili_server.py and the other
Meilisearch variants; `make test-meili`).
"""

from __future__ import annotations

from typing import Any

import pytest

from catalogue.search import planning
from catalogue.search.base import SearchQuery
from catalogue.search.meili_backend import (
    ALL_DOCS,
    EITHER_WORD_WEIGHT,
    LOCALES,
    SUBSET_WEIGHT,
    MeiliBackend,
    absent_words,
    build_filter,
    index_settings,
    missing_allowed,
    query_parts,
    quote_filter_value,
    rarest_first,
    sanitize_q,
    spellings,
    stemmed,
    variant_parts,
    words_needed,
)

PUBLIC = ("public",)
PRE, POST = "\ue000", "\ue001"


def hit(**kw: Any) -> dict[str, Any]:
    base = {"id": "a", "slug": "a", "title": "T", "summary": "", "texts": "", "_rankingScore": 0.75}
    base.update(kw)
    return base


# ------------------------------------------------------------------ settings

def test_settings_model_is_the_sdks() -> None:
    settings = index_settings()
    assert settings.localized_attributes[0].locales == LOCALES == ["deu"]
    assert settings.pagination.max_total_hits >= 1_000 * 100  # MAX_PAGE * MAX_PER_PAGE: exact totals on every page


# ------------------------------------------------------------------ filters


def meili_parse_quoted(expr: str) -> tuple[str, str]:
    """Meilisearch's filter-parser for a double-quoted value (crates/filter-parser/src/value.rs):
    `\\` skips the next character, an unescaped `"` ends the value; then `\\"` -> `"` and the
    unescaper turns `\\\\` into `\\`. Returns (value, rest of the expression)."""
    assert expr[0] == '"'
    i = 1
    while i < len(expr):
        c = expr[i]
        if c == '"':
            break
        if c == "\\":
            assert i + 1 < len(expr), "dangling backslash"
            i += 2
            continue
        i += 1
    else:
        raise AssertionError("unterminated string")
    raw = expr[1:i].replace('\\"', '"')
    out, j = [], 0
    while j < len(raw):
        if raw[j] == "\\":
            nxt = raw[j + 1]
            assert nxt in '\\"', f"unexpected escape \\{nxt}"
            out.append(nxt)
            j += 2
        else:
            out.append(raw[j])
            j += 1
    return "".join(out), expr[i + 1 :]


HOSTILE = [
    '" OR state = "Bayern',
    'Bayern" OR state = "Hessen',
    "Bayern\\",
    'Bayern\\" OR (1=1',
    '\\\\"\\',
    "Bayern) OR (1=1",
    "x' OR '1'='1",
    "a\\nb",
    "NOT id EXISTS",
    'Sonstige "x" \\ y) OR (1=1',
]


@pytest.mark.parametrize("value", HOSTILE)
def test_quoted_filter_values_round_trip_through_meilisearchs_parser(value: str) -> None:
    quoted = quote_filter_value(value)
    parsed, rest = meili_parse_quoted(quoted)
    assert parsed == value and rest == ""


def test_filter_strings_for_hostile_values() -> None:
    query = SearchQuery(
        filters={"state": ['" OR state = "Bayern', "Bayern\\"], "legal_form": ["Verein"]},
        population_min=1_000, population_max=50_000, since_min=2010,
    )
    assert build_filter(query, ["public", 'user:x" OR labels = "reviewers']) == [
        ['labels = "public"', 'labels = "user:x\\" OR labels = \\"reviewers"'],
        ['state = "\\" OR state = \\"Bayern"', 'state = "Bayern\\\\"'],
        ['legal_form = "Verein"'],
        "population >= 1000",
        "population <= 50000",
        "collaboration_since >= 2010",
    ]
    assert build_filter(query, ["public"], skip="state") == [
        ['labels = "public"'], ['legal_form = "Verein"'], "population >= 1000", "population <= 50000", "collaboration_since >= 2010"
    ]
    with pytest.raises(ValueError):
        build_filter(query, [])  # no labels: callers answer "nothing" without asking the engine
    with pytest.raises(TypeError):
        build_filter(query, "public")  # a lone string is not a list of labels


def test_filter_numbers_are_validated_even_if_the_query_was_tampered_with() -> None:
    query = SearchQuery()
    object.__setattr__(query, "population_min", "1 OR 1=1")
    with pytest.raises(ValueError):
        build_filter(query, PUBLIC)
    object.__setattr__(query, "population_min", True)
    with pytest.raises(ValueError):
        build_filter(query, PUBLIC)
    tampered = SearchQuery()
    object.__setattr__(tampered, "filters", {"state = X) OR (1=1": ("x",)})
    with pytest.raises(ValueError):
        build_filter(tampered, PUBLIC)
    with pytest.raises(TypeError):
        quote_filter_value(1)  # type: ignore[arg-type]


def test_query_operators_are_removed() -> None:
    assert sanitize_q('Bauhof -Rufbus "Phrase"') == "Bauhof Rufbus Phrase"
    assert sanitize_q("(-Rufbus) --x") == "( Rufbus) x"
    assert sanitize_q("E-Akte Online-Zugangs-Gesetz") == "E-Akte Online-Zugangs-Gesetz"
    assert sanitize_q('"') == ""


# ------------------------------------------------------------------ search requests




# ------------------------------------------------------------------ query planning


def test_spellings_fold_both_ways_and_keep_ss_apart_from_sharp_s() -> None:
    assert spellings("Strasse") == ["Strasse", "Straße"]  # casefold() would equate them; lower() does not
    assert spellings("Straße") == ["Straße", "Strasse"]
    assert spellings("Hoexter") == ["Hoexter", "Höxter"]
    assert spellings("Höxter") == ["Höxter", "Hoexter"]
    assert spellings("Feuerwehr Bauer Quelle") == ["Feuerwehr Bauer Quelle"]  # no umlaut hides in "eue", "aue", "que"
    assert stemmed("Städteverbünde") == "stadteverbund"


def test_words_needed_is_tantivys_rule() -> None:
    assert [words_needed(n) for n in range(1, 8)] == [1, 2, 2, 3, 4, 4, 5]


def test_query_parts_spell_out_minimum_should_match() -> None:
    parts = query_parts("Bauhof Rufbus Glasfaser")
    exact = [p for p in parts if not p.whole and p.weight == 1.0]
    assert [p.q for p in exact] == ["Bauhof Rufbus Glasfaser"]
    pairs = {p.q for p in parts if not p.whole and p.weight < 1.0}
    assert pairs == {"Rufbus Glasfaser", "Bauhof Glasfaser", "Bauhof Rufbus"}
    assert all(p.strategy == "all" for p in parts)  # nothing may drop words ...
    loose = query_parts("Bauhof Rufbus Glasfaser", every_word_known=True)
    assert {p.strategy for p in loose if p.whole} == {"all", "frequency"}  # ... unless every word occurs somewhere
    assert all(p.strategy == "all" for p in loose if not p.whole)


def test_a_missing_word_broadens_only_long_queries() -> None:
    # "zzqx OR state Bayern" (four words, one found nowhere) never broadens; a paraphrase of five words may miss one
    assert [missing_allowed(n) for n in range(1, 10)] == [0, 0, 0, 0, 1, 1, 1, 1, 2]


def test_stems_never_match_as_prefixes() -> None:
    """A typo's stem is shorter than the word ("Feuerwer" -> "feuerw"): as Meilisearch's prefix of the last word it
    would find every "Feuerw…"; the spellings as typed keep the prefix match (search as you type)."""
    parts = query_parts("Feuerwer")
    stems = [p for p in parts if p.q == "feuerw"]
    assert stems and not any(p.prefix for p in stems)
    assert all(p.prefix for p in parts if p.q == "Feuerwer")


def test_numbers_are_optional_and_long_queries_bounded() -> None:
    parts = query_parts("Bauhof 2024")
    assert {p.q for p in parts if not p.whole} == {"Bauhof 2024", "Bauhof"}
    assert {p.q for p in query_parts("2024") if not p.whole} == {"2024"}
    long_query = "drei Städte bewerben sich gemeinsam um Geld für Dörfer und Land"
    parts = query_parts(long_query)
    assert len(parts) <= 8 and {p.strategy for p in parts if p.whole} == {"frequency"}


def test_beside_a_lexicon_term_the_other_word_alone_counts_weakly() -> None:
    """"OZG Verbandsgemeinde": a page about a Verbandsgemeinde's online services may never write "OZG"; a typo beside a
    common word never lets the common word alone count ("Integrationsmonitorring Kreis")."""
    either = {p.q for p in query_parts("OZG Verbandsgemeinde", every_word_known=True) if p.weight == EITHER_WORD_WEIGHT}
    assert {"OZG", "Verbandsgemeinde"} <= either
    typo = {p.q for p in query_parts("Integrationsmonitorring Kreis", every_word_known=True) if p.weight == EITHER_WORD_WEIGHT}
    assert typo == {"Integrationsmonitorring"}
    assert not [p for p in query_parts("OZG Verbandsgemeinde") if p.weight == EITHER_WORD_WEIGHT]  # only when both occur
    assert not [p for p in query_parts("Bauhof Rufbus Glasfaser", every_word_known=True) if p.weight == EITHER_WORD_WEIGHT]


def test_loose_queries_also_run_on_compound_parts_rarest_word_first() -> None:
    """The rarest word may occur only as part of a compound ("Kontrolle von Gaststätten" for "Gaststättenkontrolle"),
    where the whole-word "frequency" query cannot keep it: a "last" query on the compound-part fields, rarest first."""
    q = "Gaststättenkontrolle Landkreis übernimmt für Gemeinden"
    counts = {"gaststättenkontrolle": 1, "landkreis": 40, "übernimmt": 3, "gemeinden": 50}
    order = rarest_first(q, counts, drop_missing=False)
    loose = [p for p in query_parts(q, every_word_known=True, order=order) if not p.whole and p.strategy == "last"]
    assert loose[0].q == "Gaststättenkontrolle übernimmt Landkreis Gemeinden für"  # then the other spellings
    assert not [p for p in query_parts(q, order=order) if p.strategy == "last"]  # only when every word occurs
    assert not [p for p in query_parts("Bauhof Rufbus", every_word_known=True, order=(1, 0)) if p.strategy == "last"]


def test_long_queries_drop_the_most_common_words_first_and_leave_out_words_found_nowhere() -> None:
    """Long queries on whole words: rarest word first with the "last" strategy (Meilisearch's "frequency" found nothing
    for "drei Städte bewerben sich gemeinsam um EU-Geld fürs Land"); a word no document has is left out."""
    q = "drei Städte bewerben sich gemeinsam um EU-Geld fürs Land"
    counts = {"drei": 16, "städte": 54, "bewerben": 5, "gemeinsam": 49, "eu": 24, "geld": 3, "fürs": 0, "land": 56}
    order = rarest_first(q, counts, drop_missing=True)
    words = q.split()
    assert [words[i] for i in order] == ["EU-Geld", "bewerben", "drei", "gemeinsam", "Städte", "Land", "sich", "um"]
    assert "fürs" in [words[i] for i in rarest_first(q, counts, drop_missing=False)]
    parts = query_parts(q, order=order)
    whole = [p for p in parts if p.whole]
    assert whole and {p.strategy for p in whole} == {"last"}
    assert whole[0].q == "EU-Geld bewerben drei gemeinsam Städte Land sich um"
    assert any(p.q == "eu-geld bewerb drei gemeinsam stadt land sich um" and not p.prefix for p in whole)  # the stems, same order
    assert all(p.strategy == "all" and p.q.startswith("drei") for p in parts if not p.whole)  # compound parts: every word
    assert {p.strategy for p in query_parts(q) if p.whole} == {"frequency"}  # without word counts, as before


def test_a_word_no_document_uses_lets_its_strongest_alternative_stand_in_at_full_weight() -> None:
    """"Tante-Emma-Laden von Bürgern betrieben": no page says "Tante-Emma-Laden", so the rewrite with "Dorfladen" weighs
    as the typed query would (as on Tantivy), not below the typed query's subsets that only keep "Bürgern betrieben"."""
    q = "Tante-Emma-Laden von Bürgern betrieben"
    counts = {"tante": 0, "emma": 0, "laden": 4, "bürgern": 20, "betrieben": 9}
    absent = absent_words(q, counts)
    assert absent == {"tante-emma-laden"}  # a hyphenated word needs every part
    plan = planning.plan(q)
    full = {p.q: p.weight for p in variant_parts(plan, absent)}
    weak = {p.q: p.weight for p in variant_parts(plan)}
    assert full["Dorfladen von Bürgern betrieben"] == 1.0
    assert weak["Dorfladen von Bürgern betrieben"] < 0.5
    assert absent_words(q, None) == set() and absent_words("Bauhof Kreis", {"bauhof": 3, "kreis": 40}) == set()
    # a word the catalogue uses keeps its synonyms below it, beside one that it does not use
    variants = planning.query_variants(planning.plan("Dorfladen Bürger"), {"bürger"})[1:]
    assert all(w < 1.0 for text, w in variants if not text.startswith("Dorfladen ")), variants
    assert any(w == 1.0 for text, w in variants if text.startswith("Dorfladen ")), variants


def test_leaving_out_a_rare_word_costs_more_than_leaving_out_a_common_one() -> None:
    """As Tantivy weighs each word by its rarity: "Trinkwassermanagment Landkreis Stadt" must not rank pages that only
    share "Landkreis Stadt" (words most profiles use) with those that share the rare word and one other."""
    q = "Trinkwassermanagment Landkreis Stadt"
    counts = {"trinkwassermanagment": 1, "landkreis": 40, "stadt": 50, ALL_DOCS: 66}
    weights = {p.q: p.weight for p in query_parts(q, counts=counts) if not p.whole}
    assert weights[q] == 1.0
    assert weights["Landkreis Stadt"] < 0.3 * SUBSET_WEIGHT
    assert weights["Trinkwassermanagment Stadt"] > 0.8 * SUBSET_WEIGHT
    assert weights["Trinkwassermanagment Landkreis"] > weights["Trinkwassermanagment Stadt"] > weights["Landkreis Stadt"]
    # without counts (a query of one word, or before the probes) every subset weighs alike
    assert {p.weight for p in query_parts(q) if not p.whole and p.q != q and p.q.count(" ") == 1} == {SUBSET_WEIGHT}


# ------------------------------------------------------------------ snippets

def test_snippets_escape_before_marking() -> None:
    raw = hit(
        title='Projekt "Zukunft" <b>',
        summary="<script>alert(1)</script> Sicherheit & Ordnung",
        texts="Vorwort <img src=x onerror=alert(1)> Abwasserzweckverband",
        _formatted={
            "title": 'Projekt "Zukunft" <b>',
            "summary": f"<script>alert(1)</script> {PRE}Sicherheit{POST} & Ordnung",
            "texts": f"…<img src=x onerror=alert(1)> {PRE}Abwasserzweckverband{POST}",
        },
    )
    h = MeiliBackend._hit(raw)
    assert h.snippets["title"] == "Projekt &quot;Zukunft&quot; &lt;b&gt;"
    assert h.snippets["summary"] == "&lt;script&gt;alert(1)&lt;/script&gt; <mark>Sicherheit</mark> &amp; Ordnung"
    assert h.snippets["text"] == "…&lt;img src=x onerror=alert(1)&gt; <mark>Abwasserzweckverband</mark>"
    assert "texts" not in h.document and "_formatted" not in h.document and "_rankingScore" not in h.document
    assert h.title == 'Projekt "Zukunft" <b>'  # the plain value, not HTML


def test_text_snippet_only_when_it_matched_and_no_formatted_fallback() -> None:
    h = MeiliBackend._hit(hit(title="A & B", summary="x", texts="lang", _formatted={"texts": "lang…"}))
    assert "text" not in h.snippets
    assert h.snippets == {"title": "A &amp; B", "summary": "x"}
    bare = MeiliBackend._hit(hit(title="<i>", summary=None))
    assert bare.snippets == {"title": "&lt;i&gt;", "summary": ""}


def test_sentinels_in_the_stored_text_never_become_marks() -> None:
    sneaky = f"{PRE}<script>{POST}"
    raw = hit(title=sneaky, summary="Bauhof", texts=f"a {PRE} b",
              _formatted={"title": sneaky, "summary": f"{PRE}Bauhof{POST}", "texts": f"a {PRE} {PRE}b{POST}"})
    h = MeiliBackend._hit(raw)
    assert h.snippets["title"] == "&lt;script&gt;"
    assert h.snippets["summary"] == "<mark>Bauhof</mark>"
    assert "text" not in h.snippets


# ------------------------------------------------------------------ tasks and health
