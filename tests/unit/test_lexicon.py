"""The municipal lexicon: the data file is valid, and expansion behaves as documented.

The first part checks catalogue/lexicon/lexicon.txt as an editor changes it
(no duplicates or conflicts, normalised forms, every abbreviation expanded,
OpenThesaurus entries traceable); the second the parser's answers to bad
lines; the third the query-side API (expand, expand_query, weights,
normalisation, compounds); the last the flat views for the backends.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalogue import lexicon as lx
from catalogue.lexicon import Kind, LexiconError, Origin, build, expand, expand_query, parse

ROOT = Path(__file__).resolve().parents[2]
CANDIDATES = ROOT / "tools" / "lexicon" / "openthesaurus_candidates.txt"
ENTRIES = lx.LEXICON.entries


def terms_of(e: lx.Entry) -> list[str]:
    return [t.text for t in e.terms]


def by_term(expansions: list[lx.Expansion]) -> dict[str, lx.Expansion]:
    return {e.term: e for e in expansions}


# ------------------------------------------------------------------ the data file


def test_file_loads_with_all_three_kinds() -> None:
    kinds = Counter(e.kind for e in ENTRIES)
    assert set(kinds) == {"abbreviation", "synonym", "regional"}
    assert kinds["synonym"] >= 150 and kinds["regional"] >= 20


def test_at_least_150_abbreviations_each_with_an_expansion() -> None:
    abbreviations = [e for e in ENTRIES if e.kind == "abbreviation"]
    shorts = {lx.key(e.short) for e in abbreviations}
    assert len(shorts) >= 150
    for e in abbreviations:
        assert len(e.terms) == 2 and e.long.strip(), e
        assert len(lx.key(e.long)) > len(lx.key(e.short)), e
        expanded = expand(e.short)
        assert e.long in [x.term for x in expanded if x.kind is Kind.EXPANSION], e


@pytest.mark.parametrize(
    ("short", "long"),
    [
        ("SPNV", "Schienenpersonennahverkehr"),
        ("KdöR", "Körperschaft des öffentlichen Rechts"),
        ("EFRE", "Europäischer Fonds für regionale Entwicklung"),
        ("LEADER", "Liaison entre actions de développement de l'économie rurale"),
        ("GVFG", "Gemeindeverkehrsfinanzierungsgesetz"),
        ("KAG", "Kommunalabgabengesetz"),
        ("FFW", "Freiwillige Feuerwehr"),
        ("AöR", "Anstalt des öffentlichen Rechts"),
        ("GmbH & Co. KG", "Gesellschaft mit beschränkter Haftung & Compagnie Kommanditgesellschaft"),
        ("IKZ", "interkommunale Zusammenarbeit"),
        ("ZV", "Zweckverband"),
        ("VG", "Verbandsgemeinde"),
        ("VG", "Verwaltungsgemeinschaft"),
        ("SG", "Samtgemeinde"),
        ("KWP", "kommunale Wärmeplanung"),
        ("FNP", "Flächennutzungsplan"),
        ("ÖPNV", "öffentlicher Personennahverkehr"),
        ("PV", "Photovoltaik"),
        ("ELER", "Europäischer Landwirtschaftsfonds für die Entwicklung des ländlichen Raums"),
        ("OZG", "Onlinezugangsgesetz"),
        ("KAT-L", "Katastrophenschutz-Leuchtturm"),
    ],
)
def test_the_issues_abbreviations_are_there(short: str, long: str) -> None:
    assert any(e.kind == "abbreviation" and e.short == short and e.long == long for e in ENTRIES)


def test_no_duplicate_abbreviation_lines() -> None:
    pairs = Counter((lx.key(e.short), lx.key(e.long)) for e in ENTRIES if e.kind == "abbreviation")
    assert [p for p, n in pairs.items() if n > 1] == []


def test_a_term_is_in_at_most_one_group_of_each_kind() -> None:
    seen: dict[tuple[str, str], int] = {}
    for e in ENTRIES:
        if e.kind == "abbreviation":
            continue
        keys = [lx.key(t) for t in terms_of(e)]
        assert len(keys) == len(set(keys)), f"Zeile {e.line}: doppelter Begriff in der Gruppe"
        for k in keys:
            assert (e.kind, k) not in seen, f"Zeile {e.line}: {k} schon in Zeile {seen[(e.kind, k)]}"
            seen[(e.kind, k)] = e.line


def test_no_two_groups_of_a_kind_share_a_stem() -> None:
    owner: dict[tuple[str, str], int] = {}
    for e in ENTRIES:
        if e.kind == "abbreviation":
            continue
        for t in terms_of(e):
            sk = (e.kind, lx.stem_key(t))
            assert owner.setdefault(sk, e.line) == e.line, f"„{t}“ (Zeile {e.line}) und Zeile {owner[sk]} haben denselben Wortstamm"


def test_short_forms_are_not_group_members() -> None:
    shorts = {lx.key(e.short) for e in ENTRIES if e.kind == "abbreviation"}
    for e in ENTRIES:
        if e.kind != "abbreviation":
            assert not shorts & {lx.key(t) for t in terms_of(e)}, f"Zeile {e.line}: Gruppe nennt eine Abkürzung statt der Langform"


def test_terms_are_written_in_normal_form() -> None:
    for e in ENTRIES:
        for t in terms_of(e):
            assert t == t.strip() and "  " not in t, (e.line, t)
            assert unicodedata.normalize("NFC", t) == t, (e.line, t)
            assert not re.search(r"[\u2010-\u2014\u00ad\u00a0\u202f\u201e\u201c\u201d]", t), (e.line, t)
            assert lx.tokens(t), (e.line, t)


def test_raw_file_has_no_stray_lines() -> None:
    """Every non-comment line is a section or an entry the parser read (nothing silently skipped)."""
    lines = lx.DATA_FILE.read_text(encoding="utf-8").splitlines()
    entry_lines = {e.line for e in ENTRIES}
    for n, line in enumerate(lines, 1):
        body = line.split(" #", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if body and not (body.startswith("[") and body.endswith("]")):
            assert n in entry_lines, f"Zeile {n} wurde nicht gelesen: {line!r}"
    assert lx.DATA_FILE.read_bytes().decode("utf-8")  # UTF-8, no BOM trouble
    assert not lx.DATA_FILE.read_bytes().startswith(b"\xef\xbb\xbf")


def test_regional_groups_name_their_laender_correctly() -> None:
    for e in ENTRIES:
        if e.kind != "regional":
            continue
        assert len(e.terms) >= 2
        for t in e.terms:
            if t.note:
                assert {c.strip() for c in t.note.split(",")} <= lx.LAENDER_CODES, (e.line, t)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Amt", "Verbandsgemeinde"),
        ("Amt", "Samtgemeinde"),
        ("Amt", "Verwaltungsgemeinschaft"),
        ("Amt", "Gemeindeverwaltungsverband"),
        ("Landkreis", "Kreis"),
        ("Stadtkreis", "kreisfreie Stadt"),
        ("Landratsamt", "Kreisverwaltung"),
        ("Zweckvereinbarung", "öffentlich-rechtliche Vereinbarung"),
        ("Teilort", "Ortsteil"),
    ],
)
def test_regional_equivalents_both_ways(a: str, b: str) -> None:
    for x, y in ((a, b), (b, a)):
        found = by_term(expand(x))
        assert y in found and found[y].kind is Kind.REGIONAL, (x, y)


def test_openthesaurus_entries_are_backed_by_a_candidate_set() -> None:
    marked = [e for e in ENTRIES if e.origin is Origin.OPENTHESAURUS]
    assert marked, "no entry is marked @openthesaurus"
    if not CANDIDATES.exists():
        pytest.fail(f"{CANDIDATES} fehlt (tools/lexicon/extract_openthesaurus.py schreibt sie)")
    text = CANDIDATES.read_text(encoding="utf-8")
    assert "LGPL" in text.split("\n", 8)[3] or "Lesser General Public License" in text[:2000]
    sets = []
    for line in text.splitlines():
        if line.startswith("L"):
            members = line.split(" | ", 2)[2].split("; ")
            sets.append({lx.stem_key(re.sub(r"\s*\([^()]*\)", "", m)) for m in members})
    for e in marked:
        stems = {lx.stem_key(t) for t in terms_of(e)}
        assert any(len(stems & s) >= 2 for s in sets), f"Zeile {e.line} ({' / '.join(terms_of(e))}) hat keinen Beleg in {CANDIDATES.name}"


def test_licence_and_attribution_beside_the_data() -> None:
    folder = lx.DATA_FILE.parent
    attribution = (folder / "OPENTHESAURUS.md").read_text(encoding="utf-8")
    assert "LGPL" in attribution or "Lesser General Public License" in attribution
    assert "Daniel Naber" in attribution and "openthesaurus-de-text" in attribution
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in (folder / "LICENSE.LGPL-2.1").read_text(encoding="utf-8")


def test_readme_example_is_a_valid_lexicon() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("**How an editor adds a synonym.**", 1)[1]
    example = section.split("```", 2)[1]
    lex = build(parse(example))
    assert "kommunale Wärmeplanung" in by_term(expand("KWP", lexicon=lex))
    assert by_term(expand("Kreis", lexicon=lex))["Landkreis"].kind is Kind.REGIONAL


# ------------------------------------------------------------------ the parser's answers to bad lines


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ZV = Zweckverband", "vor dem ersten Abschnitt"),
        ("[abkuerzungen]\nZV = Zweckverband", "unbekannter Abschnitt"),
        ("[abbreviations]\nKWP =", "leerer Begriff"),
        ("[abbreviations]\nKWP kommunale Wärmeplanung", "genau ein „=“"),
        ("[abbreviations]\nKWP = kommunale = Wärmeplanung", "genau ein „=“"),
        ("[abbreviations]\nZV = ZV", "dieselbe Schreibweise"),
        ("[abbreviations]\nZweckverband = ZV", "nicht länger"),
        ("[abbreviations]\nZV = Zweckverband ~ Verband", "nur in Synonymgruppen"),
        ("[abbreviations]\nZV = Zweckverband @wikipedia", "unbekannte Herkunft"),
        ("[abbreviations]\nZV = Zweckverband w=1.5", "zwischen 0 und 1"),
        ("[abbreviations]\nZV = Zweck\u2013verband", "typografische"),
        ("[abbreviations]\nZV = Zweckverband  neu", "überzählige Leerzeichen"),
        ("[synonyms]\nBauhof", "mindestens zwei Begriffe"),
        ("[synonyms]\nBauhof = ", "leerer Begriff"),
        ("[synonyms]\nBauhof ~ Werkhof = Betriebshof", "kein „=“"),
        ("[regional]\nAmt [BB, XX] = Verbandsgemeinde [RP]", "unbekanntes Länderkürzel XX"),
        ("[regional]\nAmt [] = Verbandsgemeinde", "leere Anmerkung"),
    ],
)
def test_parser_rejects_bad_lines_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(LexiconError, match=re.escape(message)) as info:
        parse(text)
    assert "Zeile" in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[abbreviations]\nZV = Zweckverband\nZV = Zweckverband", "doppelter Eintrag"),
        ("[synonyms]\nBauhof = Betriebshof\nWerkhof = Bauhof", "schon in der Gruppe in Zeile 2"),
        ("[synonyms]\nE-Akte = eAkte", "steht zweimal in der Gruppe"),
        ("[synonyms]\nStraßenbeleuchtung = Strassenbeleuchtung", "steht zweimal in der Gruppe"),
        ("[synonyms]\nBauhof = Bauhöfe", "denselben Wortstamm"),
        ("[synonyms]\nBauhof = Werkhof\nBauhöfe = Betriebshöfe", "denselben Wortstamm wie"),
        ("[abbreviations]\nZV = Zweckverband\n[synonyms]\nZV = Verband", "ist eine Abkürzung"),
        ("[abbreviations]\nZV = Zweckverband\nZweckverband = Zweckverbandsverwaltung", "selbst als Abkürzung"),
    ],
)
def test_build_rejects_duplicates_and_conflicts(text: str, message: str) -> None:
    with pytest.raises(LexiconError, match=re.escape(message)):
        build(parse(text))


def test_same_term_in_groups_of_different_kinds_is_allowed() -> None:
    lex = build(parse("[synonyms]\nOrdnungsamt = Ordnungsbehörde\n[regional]\nOrdnungsamt = Ortspolizeibehörde [BW]"))
    found = by_term(expand("Ordnungsamt", lexicon=lex))
    assert found["Ordnungsbehörde"].kind is Kind.SYNONYM and found["Ortspolizeibehörde"].kind is Kind.REGIONAL


def test_comments_attributes_and_notes_are_read() -> None:
    entries = parse(
        "# heading\n[synonyms]\nBauhof = Betriebshof ~ Werkhof w=0.5 @openthesaurus  # a comment\n"
        "[regional]\nAmt [BB, SH] = Samtgemeinde [NI]\n[abbreviations]\n!OB = Oberbürgermeister\n"
    )
    syn, reg, abbr = entries
    assert syn.weight == 0.5 and syn.origin is Origin.OPENTHESAURUS and [t.near for t in syn.terms] == [False, False, True]
    assert reg.terms[0].note == "BB, SH" and reg.terms[0].text == "Amt"
    assert abbr.case_sensitive and abbr.short == "OB" and abbr.line == 7


# ------------------------------------------------------------------ expand


def test_typed_term_first_with_weight_one() -> None:
    out = expand("  Zweckverband ")
    assert out[0] == lx.Expansion("Zweckverband", 1.0, Kind.TYPED)
    assert [e.kind for e in out].count(Kind.TYPED) == 1


def test_unknown_and_empty_terms() -> None:
    assert expand("Gänseblümchen") == [lx.Expansion("Gänseblümchen", 1.0, Kind.TYPED)]
    assert expand("") == [] and expand("   ") == []
    assert expand("!!!") == [lx.Expansion("!!!", 1.0, Kind.TYPED)]


def test_abbreviations_expand_both_ways() -> None:
    zv = by_term(expand("ZV"))
    assert zv["Zweckverband"].kind is Kind.EXPANSION and zv["Zweckverband"].weight == lx.WEIGHTS["expansion"]
    back = by_term(expand("Zweckverband"))
    assert back["ZV"].kind is Kind.ABBREVIATION and back["ZV"].weight == lx.WEIGHTS["abbreviation"]
    assert "ÖPNV" in by_term(expand("öffentlicher Personennahverkehr"))


def test_ambiguous_abbreviation_expands_to_every_meaning_weaker() -> None:
    vg = by_term(expand("VG"))
    assert vg["Verbandsgemeinde"].weight == vg["Verwaltungsgemeinschaft"].weight == lx.WEIGHTS["expansion_ambiguous"]
    assert vg["Verbandsgemeinde"].weight < by_term(expand("ZV"))["Zweckverband"].weight
    # a long form leads to its ambiguous short form (weaker), but not on to the short form's other meaning
    lex = build(parse("[abbreviations]\nVG = Verbandsgemeinde\nVG = Verwaltungsgemeinschaft\nZV = Zweckverband"))
    back = by_term(expand("Verbandsgemeinde", lexicon=lex))
    assert back["VG"].weight == lx.WEIGHTS["abbreviation_ambiguous"]
    assert "Verwaltungsgemeinschaft" not in back


def test_two_short_forms_of_one_meaning_reach_each_other() -> None:
    ff = by_term(expand("FF"))
    assert ff["Freiwillige Feuerwehr"].kind is Kind.EXPANSION
    assert ff["FFW"].via == "Freiwillige Feuerwehr" and ff["FFW"].weight < ff["Freiwillige Feuerwehr"].weight


def test_synonyms_outrank_near_synonyms_and_typed_outranks_all() -> None:
    out = expand("Wärmeplanung")
    weights = [e.weight for e in out]
    assert weights == sorted(weights, reverse=True) and weights[0] == 1.0 and all(w < 1.0 for w in weights[1:])
    found = by_term(out)
    assert found["kommunale Wärmeplanung"].kind is Kind.SYNONYM
    assert found["Heizungsplanung"].kind is Kind.NEAR
    assert found["Heizungsplanung"].weight < found["kommunale Wärmeplanung"].weight
    assert found["KWP"].kind is Kind.ABBREVIATION


def test_everyday_words_and_paraphrases() -> None:
    assert "kommunale Wärmeplanung" in by_term(expand("Heizungsplanung"))
    assert "mobiler Bürgerservice" in by_term(expand("rollendes Rathaus"))
    assert "Dorfladen" in by_term(expand("Tante-Emma-Laden"))
    assert by_term(expand("Löschgruppen"))["Feuerwehr"].kind is Kind.NEAR  # a unit of the Feuerwehr (NW), inflected
    assert "gemeinsame Nutzung" in by_term(expand("gemeinsam nutzen"))  # the verb phrase and the noun
    assert by_term(expand("Kindertagesstätte"))["frühkindliche Bildung"].kind is Kind.NEAR  # the field a Kita works in


def test_near_synonyms_do_not_chain_into_each_other() -> None:
    # Hallenbad and Freibad are both near Schwimmbad, but not the same thing
    assert "Freibad" not in by_term(expand("Hallenbad"))
    assert "Schwimmbad" in by_term(expand("Hallenbad"))


def test_two_step_relations_name_the_term_in_between() -> None:
    kita = by_term(expand("Kita"))
    assert kita["Kindertagesstätte"].kind is Kind.EXPANSION and kita["Kindertagesstätte"].via is None
    assert kita["Kindertageseinrichtung"].via == "Kindertagesstätte"
    assert kita["Kindertageseinrichtung"].weight == pytest.approx(lx.WEIGHTS["expansion"] * lx.WEIGHTS["synonym"])
    assert all(e.line > 0 for e in expand("Kita")[1:])


def test_regional_terms_do_not_chain() -> None:
    amt = by_term(expand("Amt"))
    assert "VG" not in amt and "SG" not in amt  # ambiguous short forms of regional equivalents
    assert all(e.kind in (Kind.REGIONAL, Kind.NEAR, Kind.ABBREVIATION) for e in amt.values() if e.kind is not Kind.TYPED)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("ÖPNV", "öffentlicher Personennahverkehr"),
        ("öpnv", "öffentlicher Personennahverkehr"),
        ("OEPNV", "öffentlicher Personennahverkehr"),
        ("oepnv", "öffentlicher Personennahverkehr"),
        ("Oeffentlicher Personennahverkehr", "ÖPNV"),
        ("öffentlicher  personen-nahverkehr", "ÖPNV"),
        ("E-Akte", "elektronische Akte"),
        ("eAkte", "elektronische Akte"),
        ("e akte", "elektronische Akte"),
        ("Strassenbeleuchtung", "Straßenlaternen"),
        ("STRASSENBELEUCHTUNG", "Straßenlaternen"),
        ("Buergerbuero", "Bürgeramt"),
        ("Car-Sharing", "Autoteilen"),
        ("Betriebshöfe", "Bauhof"),
        ("Hausärzte", "Allgemeinmediziner"),
        ("Feuerwehrhäuser", "Feuerwehrgerätehaus"),
        ("Kitas", "Kindertagesstätte"),
        ("kommunalen Wärmeplanung", "KWP"),
        ("ö.-r.", "öffentlich-rechtlich"),
        ("ör", "öffentlich-rechtlich"),
        ("KdöR", "Körperschaft des öffentlichen Rechts"),
        ("KDOER", "Körperschaft des öffentlichen Rechts"),
        ("GmbH & Co. KG", "Gesellschaft mit beschränkter Haftung & Compagnie Kommanditgesellschaft"),
        ("gmbh co kg", "Gesellschaft mit beschränkter Haftung & Compagnie Kommanditgesellschaft"),
        ("Kat-L", "Katastrophenschutz-Leuchtturm"),
    ],
)
def test_normalisation_case_sz_umlauts_hyphens_inflection(typed: str, expected: str) -> None:
    assert expected in by_term(expand(typed)), [e.term for e in expand(typed)]


def test_case_sensitive_short_forms_only_as_typed() -> None:
    assert "Oberbürgermeister" in by_term(expand("OB"))
    assert expand("ob") == [lx.Expansion("ob", 1.0, Kind.TYPED)]
    assert "Anruf-Sammel-Taxi" in by_term(expand("AST"))
    assert len(expand("Ast")) == 1 and len(expand("alt")) == 1
    assert "eingetragener Verein" in by_term(expand("e.V."))
    assert len(expand("ev")) == 1


def test_phrases_and_single_words_differ() -> None:
    assert "kommunale Wärmeplanung" in by_term(expand("Wärmeplanung"))
    assert "ÖPNV" in by_term(expand("öffentlicher Personennahverkehr"))
    assert len(expand("öffentlicher")) == 1  # a part of a phrase is not the phrase


def test_compound_parts_are_varied() -> None:
    found = by_term(expand("Glasfaserausbau"))  # itself an entry
    assert "Breitbandausbau" in found
    comp = by_term(expand("Schmutzwasserkanal"))  # not an entry: Schmutzwasser|kanal
    assert comp["Abwasserkanal"].via == "Schmutzwasser"
    assert comp["Abwasserkanal"].weight == pytest.approx(lx.WEIGHTS["synonym"] * lx.WEIGHTS["compound_factor"])
    head = by_term(expand("Hallenbadneubau"))
    assert "Schwimmbadneubau" in head
    assert "Gemeindegemeindefeuerwehr" not in by_term(expand("Gemeindefeuerwehrverband"))
    assert len(expand("Glasfaserausbau", compounds=False)) > 1
    assert len(expand("Schmutzwasserkanal", compounds=False)) == 1


def test_a_compound_head_is_the_word_inflected_not_derived() -> None:
    # an inflected head ("…feuerwehren", "…läden") still varies
    assert "Feuerwehr" in by_term(expand("Gemeindefeuerwehren"))
    assert "Bürgerladen" in by_term(expand("Dorfläden"))
    # "gemeinsam" stems like "Einsamkeit" at its end, but is no compound of it: no "gemvereinsamung"
    assert [e.term for e in expand("gemeinsam")] == ["gemeinsam"]


def test_weights_are_in_range_and_terms_unique() -> None:
    for node in list(lx.LEXICON.nodes.values())[:2000]:
        out = expand(node.display)
        assert out[0].kind is Kind.TYPED
        assert all(lx.MIN_WEIGHT <= e.weight < 1.0 for e in out[1:]), node.display
        keys = [lx.key(e.term) for e in out]
        assert len(keys) == len(set(keys)), node.display


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_expand_never_fails(text: str) -> None:
    out = expand(text)
    if text.strip():
        assert out[0].kind is Kind.TYPED and out[0].weight == 1.0
    else:
        assert out == []


# ------------------------------------------------------------------ expand_query


def test_expand_query_finds_phrases_longest_first() -> None:
    words = ["Kommunale", "Wärmeplanung", "im", "Amt", "Brück"]
    matches = expand_query(words)
    assert [(m.start, m.end, m.text) for m in matches] == [(0, 2, "Kommunale Wärmeplanung"), (3, 4, "Amt")]
    first = matches[0]
    assert first.expansions[0].kind is Kind.TYPED and "KWP" in by_term(list(first.expansions))


def test_expand_query_long_phrases_and_finer_tokens() -> None:
    words = "Europäischer Landwirtschaftsfonds für die Entwicklung des ländlichen Raums".split()
    (m,) = expand_query(words)
    assert (m.start, m.end) == (0, len(words)) and "ELER" in by_term(list(m.expansions))
    (car,) = expand_query(["Car", "Sharing"])  # the lexicon writes "Carsharing" as one word
    assert (car.start, car.end) == (0, 2) and "Autoteilen" in by_term(list(car.expansions))
    (infl,) = expand_query(["kommunalen", "Wärmeplanungen"])
    assert (infl.start, infl.end) == (0, 2)


def test_expand_query_indexes_the_callers_words() -> None:
    matches = expand_query(["ö", "r", "Vereinbarung", "Gewerbeflächen"])  # a tokeniser that split "ö.-r."
    assert (matches[0].start, matches[0].end) == (0, 2)
    assert "öffentlich-rechtlich" in by_term(list(matches[0].expansions))
    text = expand_query("ö.-r. Vereinbarung")
    assert (text[0].start, text[0].end, text[0].text) == (0, 1, "ö.-r.")


def test_expand_query_marks_part_of_a_hyphenated_word() -> None:
    (m,) = [m for m in expand_query(["Wärmeplanung-Konvoi"]) if not m.compound]
    assert m.partial and (m.start, m.end) == (0, 1)
    (whole,) = expand_query(["E-Akte"])
    assert not whole.partial and whole.text == "E-Akte"


def test_expand_query_compounds_and_case() -> None:
    matches = expand_query("OB Schmutzwasserkanal ob")
    assert [(m.start, m.compound) for m in matches] == [(0, False), (1, True)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=15), max_size=8))
def test_expand_query_spans_are_valid(words: list[str]) -> None:
    last_end = 0
    for m in expand_query(words):
        assert 0 <= m.start < m.end <= len(words)
        assert m.start >= last_end or m.partial  # no overlaps between whole-word matches
        last_end = max(last_end, m.end)
        assert m.expansions[0].kind is Kind.TYPED


# ------------------------------------------------------------------ views for the backends


def test_synonym_groups_are_disjoint_small_and_lowercase() -> None:
    groups = lx.synonym_groups()
    seen: dict[str, int] = {}
    for i, g in enumerate(groups):
        assert 2 <= len(g) <= 12, g
        for t in g:
            assert t == t.lower(), t
            assert t not in seen, f"{t} in zwei Gruppen"
            seen[t] = i
    assert "vg" not in seen and "sg" not in seen  # abbreviations with several meanings stay out
    assert "ob" not in seen  # case-sensitive short forms too
    assert "heizungsplanung" not in seen  # near-synonyms cannot be weighed in a flat list
    assert "samtgemeinde" not in seen and "verbandsgemeinde" not in seen  # nor regional names (0.6, not as typed)


def test_synonyms_module_is_a_drop_in_view_of_the_lexicon() -> None:
    from catalogue.synonyms import SYNONYM_GROUPS, synonyms_for

    members = defaultdict(set)
    for i, g in enumerate(SYNONYM_GROUPS):
        for t in g:
            members[t].add(i)
    assert all(len(v) == 1 for v in members.values())
    assert "ikz" in next(g for g in SYNONYM_GROUPS if "interkommunale zusammenarbeit" in g)
    assert synonyms_for("ZV") == ("zv", "zweckverband")
    assert "eakte" in synonyms_for("E-Akte")
    assert "brandschutz" in synonyms_for("Feuerwehr")  # near-synonyms are in, weakest relations are not
    assert "kinderkrippe" not in synonyms_for("Kita")


def test_spelling_variants() -> None:
    assert lx.spelling_variants("Car-Sharing") == ("Car-Sharing", "Carsharing")
    assert lx.spelling_variants("Deutscher Städte- und Gemeindebund") == ("Deutscher Städte- und Gemeindebund",)
    assert lx.spelling_variants("Bauhof") == ("Bauhof",)
