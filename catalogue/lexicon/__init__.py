"""The municipal German lexicon: synonyms, abbreviations and regional terms for search.

One place for the words that mean the same thing in German local government,
used by every search backend. The data is `lexicon.txt` beside this module (a
reviewable text file; its header and the README's "Lexikon" section describe
the format). It is parsed and validated once, at import; every lookup is then
a dictionary access.

Three kinds of entries:

* abbreviations: one line per meaning, ``ÖPNV = öffentlicher Personennahverkehr``;
  an abbreviation with two meanings has two lines and expands to both, weaker;
* synonym groups: ``Bauhof = Betriebshof = Baubetriebshof ~ Werkhof``, members
  after ``~`` are near-synonyms (related to the core members, weaker);
* regional groups: the same thing under the names of different Länder,
  ``Amt [BB, MV, SH] = Verbandsgemeinde [RP, ST] = Samtgemeinde [NI] …``.

The query side asks:

* `expand(term)`: what a single word or phrase also means, as `Expansion`
  (term, weight, kind), the typed term first with weight 1.0;
* `expand_query(words)`: the same for a whole query, finding the phrases of
  the lexicon in it (longest first), as `Match` objects over the caller's words.

Lookups are normalised (`normalise`): case, ß/ss, umlauts and their ae/oe/ue
spellings, accents, hyphens, dots and spaces do not matter ("E-Akte" = "eAkte",
"ö.-r." = "ör"), and inflected forms are found through the Snowball German
stemmer, the same the Tantivy index uses ("Betriebshöfe" finds "Betriebshof").
A single word with no entry of its own may still be a compound of one
("Glasfaserausbau" → "Breitbandausbau"); `expand` then varies that part.

Weights (see WEIGHTS): what the user typed 1.0; the long form of a typed
abbreviation 0.9; the abbreviation of a typed long form 0.85; a synonym 0.8;
a regional equivalent 0.6; a near-synonym 0.48; an abbreviation with several
meanings 0.6 / 0.5; steps through a second entry multiply, and a varied
compound part costs a factor of 0.8.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

import tantivy

from catalogue.lru import LRU

DATA_FILE = Path(__file__).with_name("lexicon.txt")

# ------------------------------------------------------------------ model


class Kind(StrEnum):
    """How an expansion relates to what the user typed."""

    TYPED = "typed"  # the term itself
    SYNONYM = "synonym"  # same meaning
    NEAR = "near"  # near-synonym, everyday paraphrase or a narrower/broader term
    EXPANSION = "expansion"  # the long form of a typed abbreviation
    ABBREVIATION = "abbreviation"  # the abbreviation of a typed long form
    REGIONAL = "regional"  # the same thing under another Land's name


class Origin(StrEnum):
    CURATED = "curated"  # written for Leuchtturm
    OPENTHESAURUS = "openthesaurus"  # taken from OpenThesaurus (LGPL-2.1-or-later), see OPENTHESAURUS.md


# Default weight of an edge by kind; a line can override its group's weight with "w=0.7".
WEIGHTS: dict[str, float] = {
    "typed": 1.0,
    "expansion": 0.9,  # short -> long, abbreviation with one meaning
    "abbreviation": 0.85,  # long -> short
    "expansion_ambiguous": 0.6,  # short -> long when the short form has several meanings
    "abbreviation_ambiguous": 0.5,  # long -> a short form that also means something else
    "synonym": 0.8,
    "near_factor": 0.6,  # a near-synonym relates with synonym weight x 0.6
    "regional": 0.6,
    "compound_factor": 0.8,  # a varied part of a compound
}
MIN_WEIGHT = 0.25  # expansions below this are dropped
MIN_COMPOUND_WORD = 7  # letters of a word before it is tried as a compound
MIN_COMPOUND_PART = 4  # letters of the lexicon part of a compound
MIN_COMPOUND_REST = 3  # letters of the rest
MAX_HEAD_SHORTFALL = 2  # letters a compound's head may lack of its lexicon word (an inflection, not a derivation)
MAX_COMPOUND_EXPANSIONS = 8
COMPOUND_CACHE_SIZE = 16384  # words whose compound expansions are kept (least recently used go first)

LAENDER_CODES = frozenset({"BW", "BY", "BE", "BB", "HB", "HH", "HE", "MV", "NI", "NW", "RP", "SL", "SN", "ST", "SH", "TH"})


@dataclass(frozen=True, slots=True)
class Expansion:
    """One term the query side should also look for.

    `term` is written as in the lexicon (for the analyser and for display),
    `weight` in (0, 1] (1.0: what the user typed), `kind` the relation,
    `via` the lexicon term in between when the relation took two steps
    ("Kita" → "Kindertageseinrichtung" via "Kindertagesstätte") or the
    compound part that was varied, `line` the line of lexicon.txt (0 for
    the typed term) so an explanation can point at the entry.
    """

    term: str
    weight: float
    kind: Kind
    via: str | None = None
    line: int = 0


@dataclass(frozen=True, slots=True)
class Match:
    """A span of the caller's words that the lexicon knows.

    `start`/`end` index the words given to `expand_query` (end exclusive);
    `partial` is true when the span covers only part of a hyphenated word
    ("Wärmeplan" in "Wärmeplan-Konvoi"). `expansions` starts with the typed
    text (kind TYPED).
    """

    start: int
    end: int
    text: str
    expansions: tuple[Expansion, ...]
    partial: bool = False
    compound: bool = False


@dataclass(frozen=True, slots=True)
class Term:
    text: str  # as written
    note: str | None = None  # "[RP, ST]" in regional groups, free text elsewhere
    near: bool = False  # after "~" in a group


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of lexicon.txt.

    Abbreviations: `terms` is (short form, long form). Groups: the members,
    core first. `weight` is the group's synonym/regional weight.
    """

    kind: str  # "abbreviation", "synonym", "regional"
    terms: tuple[Term, ...]
    line: int
    origin: Origin = Origin.CURATED
    weight: float | None = None
    case_sensitive: bool = False  # abbreviation written "!OB": matches only as typed

    @property
    def short(self) -> str:
        return self.terms[0].text

    @property
    def long(self) -> str:
        return self.terms[1].text


class LexiconError(ValueError):
    """lexicon.txt is malformed or inconsistent; the message names the line."""


# ------------------------------------------------------------------ normalisation

_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "œ": "oe", "ø": "o"})
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lowercase, umlauts as ae/oe/ue, ß as ss, other accents dropped (punctuation kept)."""
    text = unicodedata.normalize("NFC", text).casefold().translate(_FOLD)
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokens(text: str) -> list[str]:
    """The folded alphanumeric parts of `text` ("Car-Sharing" -> ["car", "sharing"])."""
    return list(_tokens(text))


@lru_cache(maxsize=65536)
def _tokens(text: str) -> tuple[str, ...]:
    return tuple(t for t in _NON_ALNUM.split(fold(text)) if t)


def normalise(text: str) -> str:
    """The comparison form of a term: folded tokens joined by single spaces.

    >>> normalise("  Öffentlicher   Personen-Nahverkehr ")
    'oeffentlicher personen nahverkehr'
    """
    return " ".join(_tokens(text))


@lru_cache(maxsize=65536)
def key(text: str) -> str:
    """The lookup key: folded tokens without separators ("E-Akte", "eAkte", "e akte" -> "eakte")."""
    return "".join(_tokens(text))


def _analyzer(tokenizer: tantivy.Tokenizer) -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tokenizer)
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("german"))
        .build()
    )


_STEMMER = _analyzer(tantivy.Tokenizer.raw())
_BATCH_STEMMER = _analyzer(tantivy.Tokenizer.whitespace())
_KNOWN_STEMS: dict[str, str] = {}  # the lexicon's own tokens, stemmed in one call at build time


def stem(token: str) -> str:
    """Snowball German stem of one folded token (the stemmer of the Tantivy index)."""
    known = _KNOWN_STEMS.get(token)
    return known if known is not None else _stem(token)


@lru_cache(maxsize=65536)
def _stem(token: str) -> str:
    out = _STEMMER.analyze(token)
    return out[0] if out else token


def _prime_stems(all_tokens: Iterable[str]) -> None:
    missing = sorted({t for t in all_tokens if t not in _KNOWN_STEMS})
    if not missing:
        return
    out = _BATCH_STEMMER.analyze(" ".join(missing))
    if len(out) == len(missing):  # aligned (folded tokens have no spaces); else fall back to one call each
        _KNOWN_STEMS.update(zip(missing, out, strict=True))


def stem_key(text: str) -> str:
    """The inflection-tolerant key: the stems of the tokens, joined ("Betriebshöfe" -> "betriebshof")."""
    return "".join(stem(t) for t in tokens(text))


# ------------------------------------------------------------------ parsing

_SECTIONS = {"abbreviations": "abbreviation", "synonyms": "synonym", "regional": "regional"}
_ATTR_RE = re.compile(r"\s+(@[a-z]+|w=[0-9.]+)\s*$")
_NOTE_RE = re.compile(r"^(?P<text>.*?)\s*\[(?P<note>[^\[\]]*)\]$")
_TYPOGRAPHIC = re.compile(r"[\u2010\u2011\u2012\u2013\u2014\u00ad\u00a0\u2009\u202f\u201e\u201c\u201d\u2019]")


def _check_written_form(text: str, line: int) -> None:
    if not text:
        raise LexiconError(f"Zeile {line}: leerer Begriff")
    if text != text.strip() or "  " in text or "\t" in text:
        raise LexiconError(f"Zeile {line}: „{text}“ hat überzählige Leerzeichen")
    if unicodedata.normalize("NFC", text) != text:
        raise LexiconError(f"Zeile {line}: „{text}“ ist nicht in Unicode-NFC")
    if _TYPOGRAPHIC.search(text):
        raise LexiconError(f"Zeile {line}: „{text}“ enthält typografische Striche, Anführungszeichen oder Sonderleerzeichen; bitte - und ' verwenden")
    if any(ch in text for ch in "=~|;#[]!@"):
        raise LexiconError(f"Zeile {line}: „{text}“ enthält ein Zeichen des Dateiformats")
    if not tokens(text):
        raise LexiconError(f"Zeile {line}: „{text}“ enthält keine Buchstaben oder Ziffern")


def _term(raw: str, line: int, *, near: bool = False) -> Term:
    raw = raw.strip()
    note = None
    m = _NOTE_RE.match(raw)
    if m:
        raw, note = m.group("text"), m.group("note").strip()
        if not note:
            raise LexiconError(f"Zeile {line}: leere Anmerkung []")
    _check_written_form(raw, line)
    return Term(raw, note, near)


def parse(text: str) -> list[Entry]:
    """Parse lexicon text (the format of lexicon.txt) into entries; raises LexiconError."""
    entries: list[Entry] = []
    section: str | None = None
    for n, raw_line in enumerate(text.splitlines(), 1):
        line = raw_line.split(" #", 1)[0] if not raw_line.lstrip().startswith("#") else ""
        line = line.rstrip()
        if not line.strip():
            continue
        if line.startswith("[") and line.endswith("]"):
            name = line[1:-1].strip()
            if name not in _SECTIONS:
                raise LexiconError(f"Zeile {n}: unbekannter Abschnitt [{name}] (erlaubt: {', '.join(_SECTIONS)})")
            section = _SECTIONS[name]
            continue
        if section is None:
            raise LexiconError(f"Zeile {n}: Eintrag vor dem ersten Abschnitt")
        origin = Origin.CURATED
        weight: float | None = None
        while True:
            m = _ATTR_RE.search(line)
            if not m:
                break
            attr = m.group(1)
            line = line[: m.start()]
            if attr.startswith("@"):
                try:
                    origin = Origin(attr[1:])
                except ValueError:
                    raise LexiconError(f"Zeile {n}: unbekannte Herkunft {attr} (erlaubt: @curated, @openthesaurus)") from None
            else:
                try:
                    weight = float(attr[2:])
                except ValueError:
                    raise LexiconError(f"Zeile {n}: Gewicht {attr} ist keine Zahl") from None
                if not 0.0 < weight <= 1.0:
                    raise LexiconError(f"Zeile {n}: Gewicht {attr} muss zwischen 0 und 1 liegen")
        if section == "abbreviation":
            if line.count("=") != 1:
                raise LexiconError(f"Zeile {n}: eine Abkürzung braucht genau ein „=“: KÜRZEL = Langform")
            if "~" in line:
                raise LexiconError(f"Zeile {n}: „~“ gibt es nur in Synonymgruppen")
            short_raw, long_raw = (p.strip() for p in line.split("="))
            case_sensitive = short_raw.startswith("!")
            short = _term(short_raw.removeprefix("!"), n)
            long = _term(long_raw, n)
            if short.note or long.note:
                raise LexiconError(f"Zeile {n}: Anmerkungen [..] gibt es bei Abkürzungen nicht; Kommentar mit # anhängen")
            if key(short.text) == key(long.text):
                raise LexiconError(f"Zeile {n}: „{short.text}“ und „{long.text}“ sind dieselbe Schreibweise")
            if len(key(long.text)) <= len(key(short.text)):
                raise LexiconError(f"Zeile {n}: die Langform „{long.text}“ ist nicht länger als die Abkürzung „{short.text}“")
            if " " in short.text.strip() and not re.search(r"[A-ZÄÖÜ]{2}|\.", short.text):
                raise LexiconError(f"Zeile {n}: „{short.text}“ sieht nicht wie eine Abkürzung aus")
            entries.append(Entry("abbreviation", (short, long), n, origin, weight, case_sensitive))
            continue
        if "=" not in line and "~" not in line:
            raise LexiconError(f"Zeile {n}: eine Gruppe braucht mindestens zwei Begriffe, getrennt durch = oder ~")
        core_raw, *near_raw = line.split("~")
        if any("=" in part for part in near_raw):
            raise LexiconError(f"Zeile {n}: nach „~“ folgen einzelne Begriffe, getrennt durch weitere „~“, kein „=“")
        core = [_term(t, n) for t in core_raw.split("=")]
        near = [_term(t, n, near=True) for t in near_raw]
        terms = tuple(core + near)
        if len(terms) < 2:
            raise LexiconError(f"Zeile {n}: eine Gruppe braucht mindestens zwei Begriffe")
        if section == "regional":
            for t in terms:
                if t.note is not None:
                    codes = [c.strip() for c in t.note.split(",")]
                    unknown = [c for c in codes if c not in LAENDER_CODES]
                    if unknown:
                        allowed = ", ".join(sorted(LAENDER_CODES))
                        raise LexiconError(f"Zeile {n}: unbekanntes Länderkürzel {', '.join(unknown)} bei „{t.text}“ (erlaubt: {allowed})")
        entries.append(Entry(section, terms, n, origin, weight))
    return entries


# ------------------------------------------------------------------ validation and the graph


@dataclass
class _Node:
    key: str
    display: str
    short_form: bool = False  # appears as an abbreviation's short form
    case_sensitive: str | None = None  # the exact letters a case-sensitive short form must be typed with
    edges: dict[str, tuple[float, Kind, int]] = field(default_factory=dict)  # target key -> (weight, kind, line)


@dataclass
class Lexicon:
    """The parsed, validated lexicon with its precomputed expansions."""

    entries: tuple[Entry, ...]
    nodes: dict[str, _Node]
    by_stem: dict[str, str]  # stem key -> node key
    cased: dict[str, str]  # exact letters of a case-sensitive short form -> node key
    expansions: dict[str, tuple[Expansion, ...]]  # node key -> expansions (without the typed term)
    single_prefix: dict[str, str]  # key of single-token non-abbreviation terms -> node key
    single_suffix: dict[str, str]  # stem of those terms -> node key
    prefixes: frozenset[str]  # every leading part of every exact and stem key: where a phrase may still go on
    compound_cache: LRU[str, tuple[Expansion, ...]] = field(default_factory=lambda: LRU(COMPOUND_CACHE_SIZE))

    def node_for(self, raw_tokens: Sequence[str], folded: Sequence[str]) -> str | None:
        exact = "".join(folded)
        cased = self.cased.get("".join(raw_tokens))
        if cased is not None:
            return cased
        node = self.nodes.get(exact)
        if node is not None and node.case_sensitive is None:
            return exact
        if node is not None:  # a case-sensitive short form typed in another case
            return None
        sk = "".join(stem(t) for t in folded)
        by_stem = self.by_stem.get(sk)
        if by_stem is not None:
            return by_stem
        if len(exact) > 3 and exact.endswith("s"):  # plural s of an abbreviation: "Kitas", "MVZs"
            plural = self.nodes.get(exact[:-1])
            if plural is not None and plural.short_form and plural.case_sensitive is None:
                return plural.key
        return None


def _add_edge(nodes: dict[str, _Node], src: str, dst: str, weight: float, kind: Kind, line: int) -> None:
    if src == dst:
        return
    edges = nodes[src].edges
    old = edges.get(dst)
    if old is None or weight > old[0]:
        edges[dst] = (weight, kind, line)


def build(entries: Sequence[Entry]) -> Lexicon:
    """Validate entries and precompute every expansion; raises LexiconError on conflicts."""
    _prime_stems(t for e in entries for term in e.terms for t in _tokens(term.text))
    nodes: dict[str, _Node] = {}
    group_of: dict[tuple[str, str], int] = {}  # (kind, term key) -> line of its group
    stem_owner: dict[tuple[str, str], tuple[str, int]] = {}  # (kind, stem key) -> (term key, line)
    pairs: dict[tuple[str, str], int] = {}
    meanings: dict[str, set[str]] = defaultdict(set)
    short_keys: dict[str, int] = {}
    group_terms: dict[str, int] = {}

    def node(term: Term, *, prefer_display: bool = False) -> _Node:
        k = key(term.text)
        n = nodes.get(k)
        if n is None:
            n = nodes[k] = _Node(k, term.text)
        elif prefer_display:
            n.display = term.text
        return n

    for e in entries:
        if e.kind == "abbreviation":
            s, lf = key(e.short), key(e.long)
            if (s, lf) in pairs:
                raise LexiconError(f"Zeile {e.line}: doppelter Eintrag „{e.short} = {e.long}“ (schon in Zeile {pairs[(s, lf)]})")
            pairs[(s, lf)] = e.line
            meanings[s].add(lf)
            short_keys.setdefault(s, e.line)
            sn = node(e.terms[0])
            sn.short_form = True
            if e.case_sensitive:
                exact_letters = "".join(ch for ch in unicodedata.normalize("NFC", e.short) if ch.isalnum())
                if sn.case_sensitive not in (None, exact_letters):
                    raise LexiconError(f"Zeile {e.line}: „{e.short}“ ist an anderer Stelle anders geschrieben")
                sn.case_sensitive = exact_letters
            node(e.terms[1], prefer_display=nodes.get(lf) is None)
            continue
        seen_in_line: set[str] = set()
        stems_in_line: dict[str, str] = {}
        for t in e.terms:
            k = key(t.text)
            if k in seen_in_line:
                raise LexiconError(
                    f"Zeile {e.line}: „{t.text}“ steht zweimal in der Gruppe "
                    "(Schreibweisen mit und ohne Bindestrich, Groß-/Kleinschreibung, ß/ss und ä/ae gelten als gleich)"
                )
            seen_in_line.add(k)
            same = stems_in_line.setdefault(stem_key(t.text), t.text)
            if same != t.text:
                raise LexiconError(f"Zeile {e.line}: „{t.text}“ hat denselben Wortstamm wie „{same}“ und wird über ihn ohnehin gefunden")
            other = group_of.get((e.kind, k))
            if other is not None:
                raise LexiconError(
                    f"Zeile {e.line}: „{t.text}“ steht schon in der Gruppe in Zeile {other}; "
                    "Gruppen gleicher Art müssen getrennt sein (zusammenlegen oder einen Begriff streichen)"
                )
            group_of[(e.kind, k)] = e.line
            group_terms.setdefault(k, e.line)
            sk = stem_key(t.text)
            owner = stem_owner.get((e.kind, sk))
            if owner is not None and owner[0] != k and group_of[(e.kind, owner[0])] != e.line:
                raise LexiconError(
                    f"Zeile {e.line}: „{t.text}“ hat denselben Wortstamm wie „{nodes[owner[0]].display}“ in Zeile {owner[1]}; "
                    "die beiden Gruppen widersprechen sich"
                )
            stem_owner.setdefault((e.kind, sk), (k, e.line))
            node(t)

    # a short form is not also a group member: groups name the long form
    for s, line in short_keys.items():
        if s in group_terms:
            raise LexiconError(f"Zeile {group_terms[s]}: „{nodes[s].display}“ ist eine Abkürzung (Zeile {line}); in Gruppen bitte die Langform eintragen")
        for lf in meanings[s]:
            if lf in short_keys:
                raise LexiconError(f"Zeile {line}: die Langform „{nodes[lf].display}“ ist selbst als Abkürzung eingetragen")

    # edges
    for e in entries:
        if e.kind == "abbreviation":
            s, lf = key(e.short), key(e.long)
            ambiguous = len(meanings[s]) > 1
            w_out = e.weight or WEIGHTS["expansion_ambiguous" if ambiguous else "expansion"]
            w_back = e.weight or WEIGHTS["abbreviation_ambiguous" if ambiguous else "abbreviation"]
            _add_edge(nodes, s, lf, w_out, Kind.EXPANSION, e.line)
            _add_edge(nodes, lf, s, w_back, Kind.ABBREVIATION, e.line)
            continue
        base = e.weight or WEIGHTS["synonym" if e.kind == "synonym" else "regional"]
        kind = Kind.SYNONYM if e.kind == "synonym" else Kind.REGIONAL
        near_w = round(base * WEIGHTS["near_factor"], 4)
        for a in e.terms:
            for b in e.terms:
                if a is b or (a.near and b.near):
                    continue
                if a.near or b.near:
                    _add_edge(nodes, key(a.text), key(b.text), near_w, Kind.NEAR, e.line)
                else:
                    _add_edge(nodes, key(a.text), key(b.text), base, kind, e.line)

    # stem index (inflected forms); exact keys always win over stems
    by_stem: dict[str, str] = {}
    for k, n in nodes.items():
        if n.short_form or n.case_sensitive:
            continue
        by_stem.setdefault(stem_key(n.display), k)
    cased = {n.case_sensitive: k for k, n in nodes.items() if n.case_sensitive}

    expansions = {k: _closure(nodes, k) for k in nodes}

    single_prefix: dict[str, str] = {}
    single_suffix: dict[str, str] = {}
    for k, n in nodes.items():
        if n.short_form or len(tokens(n.display)) != 1 or len(k) < MIN_COMPOUND_PART or not expansions[k]:
            continue
        single_prefix[k] = k
        single_suffix.setdefault(stem(k), k)
    prefixes: set[str] = set()
    for k, n in nodes.items():
        for full in (k, stem_key(n.display)):
            prefixes.update(full[:i] for i in range(1, len(full) + 1))
    return Lexicon(tuple(entries), nodes, by_stem, cased, expansions, single_prefix, single_suffix, frozenset(prefixes))


_SECOND_STEP = {Kind.SYNONYM, Kind.EXPANSION, Kind.ABBREVIATION, Kind.NEAR}


def _closure(nodes: dict[str, _Node], start: str) -> tuple[Expansion, ...]:
    """Expansions of one term: its direct relations, and one more step through strong ones.

    The second step goes on from a synonym, abbreviation or expansion (and from a
    near-synonym to its abbreviations), never from a regional term and never
    from one near-synonym to another, so meaning does not drift.
    """
    best: dict[str, Expansion] = {}

    def offer(target: str, weight: float, kind: Kind, via: str | None, line: int) -> None:
        if target == start or weight < MIN_WEIGHT:
            return
        old = best.get(target)
        if old is None or weight > old.weight + 1e-9:
            best[target] = Expansion(nodes[target].display, round(weight, 4), kind, via, line)

    for target, (w1, k1, line1) in nodes[start].edges.items():
        offer(target, w1, k1, None, line1)
    for mid, (w1, k1, _line1) in nodes[start].edges.items():
        if k1 not in _SECOND_STEP:
            continue
        for target, (w2, k2, line2) in nodes[mid].edges.items():
            if k2 not in _SECOND_STEP:
                continue
            if k1 is Kind.NEAR and k2 is not Kind.ABBREVIATION:
                continue  # from a near-synonym only to its abbreviations
            if k1 is Kind.ABBREVIATION and k2 is Kind.EXPANSION:
                continue  # long form -> short form -> another meaning of the short form
            if k2 is Kind.NEAR and k1 is not Kind.EXPANSION:
                continue
            offer(target, w1 * w2, k2, nodes[mid].display, line2)
    return tuple(sorted(best.values(), key=lambda x: (-x.weight, x.term.casefold())))


def load(path: Path = DATA_FILE) -> Lexicon:
    return build(parse(path.read_text(encoding="utf-8")))


LEXICON: Lexicon = load()

# ------------------------------------------------------------------ the query side


def _typed(text: str) -> Expansion:
    return Expansion(" ".join(text.split()), 1.0, Kind.TYPED)


def _split_raw(text: str) -> list[str]:
    """Raw alphanumeric tokens with their case, aligned with `tokens`."""
    out = []
    for part in re.split(r"[^\w]+|_", unicodedata.normalize("NFC", text)):
        if part and tokens(part):
            out.append("".join(ch for ch in part if ch.isalnum()))
    return out


@lru_cache(maxsize=16384)
def _aligned(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Raw tokens (with their case) and their folded forms, aligned."""
    raw = _split_raw(text)
    folded = [key(r) for r in raw]
    pairs = [(r, f) for r, f in zip(raw, folded, strict=True) if f]
    return tuple(r for r, _ in pairs), tuple(f for _, f in pairs)


def expand(term: str, *, compounds: bool = True, lexicon: Lexicon | None = None) -> list[Expansion]:
    """What `term` (a word or phrase) means in the lexicon, the typed term first.

    Returns ``[Expansion(term, 1.0, TYPED), …]`` ordered by weight; an unknown
    term returns only itself, an empty term nothing. With `compounds`, a
    single word without an entry of its own is tried as a compound of a
    lexicon word ("Glasfaserausbau" → "Breitbandausbau", weight x 0.8).

    >>> [(e.term, e.weight, e.kind.value) for e in expand("ZV")][:2]
    [('ZV', 1.0, 'typed'), ('Zweckverband', 0.9, 'expansion')]
    """
    lex = lexicon or LEXICON
    if not term or not term.strip():
        return []
    raw, folded = _aligned(term)
    if not folded:
        return [_typed(term)]
    node = lex.node_for(raw, folded)
    if node is not None:
        return [_typed(term), *lex.expansions[node]]
    if compounds and len(folded) == 1:
        return [_typed(term), *_compound_expansions(lex, term.strip())]
    return [_typed(term)]


def _compound_expansions(lex: Lexicon, word: str) -> list[Expansion]:
    """Vary the lexicon part of a compound: its head ("Gemeinde|feuerwehr") or its first part ("Glasfaser|ausbau")."""
    return list(lex.compound_cache.get_or_compute(word, lambda: tuple(_compound_expansions_uncached(lex, word))))


def _compound_expansions_uncached(lex: Lexicon, word: str) -> list[Expansion]:
    if not word.isalpha():
        return []
    f = key(word)
    if len(f) < MIN_COMPOUND_WORD:
        return []
    # offsets of the folded word in the original (ä -> ae makes the folded word longer)
    offsets: list[int] = []
    for i, ch in enumerate(word):
        offsets.extend([i] * len(fold(ch)))
    if len(offsets) != len(f):
        return []
    found: list[tuple[str, str, str, str]] = []  # (node, part as typed, prefix, suffix)
    # head: the longest lexicon word the compound ends with (stems compared, so "…feuerwehren" finds "Feuerwehr")
    for i in range(MIN_COMPOUND_REST, len(f) - MIN_COMPOUND_PART + 1):
        if i > 0 and offsets[i] == offsets[i - 1]:
            continue  # inside a folded umlaut
        node = lex.single_suffix.get(stem(f[i:]))
        # an inflected head is at most two letters shorter than the lexicon word ("Feuerwehr|en"); more is a
        # derivation of another word ("gemeinsam" does not end in "Einsamkeit", though both stem to "einsam")
        if node is not None and len(f) - i >= len(node) - MAX_HEAD_SHORTFALL:
            cut = offsets[i]
            found.append((node, word[cut:], word[:cut], ""))
            break
    # first part: the longest lexicon word the compound starts with (a linking s is dropped)
    for j in range(len(f) - MIN_COMPOUND_REST, MIN_COMPOUND_PART - 1, -1):
        part = f[:j]
        node = lex.single_prefix.get(part)
        if node is None and part.endswith("s"):
            node = lex.single_prefix.get(part[:-1])
        if node is not None:
            if j < len(offsets) and offsets[j] == offsets[j - 1]:
                continue  # inside a folded umlaut
            cut = offsets[j] if j < len(offsets) else len(word)
            found.append((node, word[:cut], "", word[cut:]))
            break
    out: dict[str, Expansion] = {}
    factor = WEIGHTS["compound_factor"]
    for node, part, prefix, suffix in found:
        for exp in lex.expansions[node]:
            alt = exp.term
            if " " in alt or (len(tokens(alt)) != 1 and "-" not in alt):
                continue  # a phrase does not fit into a compound
            joiner = "-" if ("-" in alt or lex.nodes[key(alt)].short_form) else ""
            if prefix:
                text = prefix + joiner + (alt if joiner else alt.lower())
            else:
                text = alt + joiner + (suffix if joiner else suffix.lower())
            k = key(text)
            w = round(exp.weight * factor, 4)
            alt_key = key(alt)
            if k == f or w < MIN_WEIGHT or (prefix and alt_key.startswith(key(prefix))) or (suffix and alt_key.endswith(key(suffix))):
                continue  # the alternative already has the other part ("Gemeinde" + "Gemeindefeuerwehr")
            old = out.get(k)
            if old is None or w > old.weight:
                out[k] = Expansion(text, w, exp.kind, part, exp.line)
    return sorted(out.values(), key=lambda x: (-x.weight, x.term.casefold()))[:MAX_COMPOUND_EXPANSIONS]


def expand_query(words: str | Sequence[str], *, compounds: bool = True, lexicon: Lexicon | None = None) -> list[Match]:
    """The lexicon's phrases in a query, each with its expansions, left to right.

    `words` is the query text or the caller's own word list (so `Match.start`
    and `end` index that list). Each word is split into its alphanumeric
    tokens ("E-Akte" → "e", "akte"); the longest run of tokens that is a
    lexicon term wins, and matching goes on after it (matches do not overlap).
    Words the lexicon does not know yield no match, except single words that
    are compounds of a lexicon word (with `compounds`).
    """
    lex = lexicon or LEXICON
    if isinstance(words, str):
        words = words.split()
    raw_toks: list[str] = []
    fold_toks: list[str] = []
    owner: list[int] = []
    for wi, w in enumerate(words):
        raw, folded = _aligned(w)
        raw_toks.extend(raw)
        fold_toks.extend(folded)
        owner.extend([wi] * len(folded))
    matches: list[Match] = []
    p, n = 0, len(fold_toks)
    while p < n:
        hit: tuple[int, str] | None = None
        exact = stems = ""
        for length in range(1, n - p + 1):  # grow the phrase while some lexicon key still starts with it
            exact += fold_toks[p + length - 1]
            stems += stem(fold_toks[p + length - 1])
            if length > 1 and exact not in lex.prefixes and stems not in lex.prefixes:
                break
            node = lex.node_for(raw_toks[p : p + length], fold_toks[p : p + length])
            if node is not None and lex.expansions[node]:
                hit = (length, node)  # keep the longest
        if hit is not None:
            length, node = hit
            start, end = owner[p], owner[p + length - 1] + 1
            whole = _covers_whole_words(owner, p, p + length)
            text = " ".join(w.strip() for w in words[start:end]) if whole else " ".join(raw_toks[p : p + length])
            matches.append(Match(start, end, text, (_typed(text), *lex.expansions[node]), partial=not whole))
            p += length
            continue
        if compounds and _covers_whole_words(owner, p, p + 1):
            exps = _compound_expansions(lex, words[owner[p]].strip())
            if exps:
                word = words[owner[p]].strip()
                matches.append(Match(owner[p], owner[p] + 1, word, (_typed(word), *exps), compound=True))
        p += 1
    return matches


def _covers_whole_words(owner: Sequence[int], a: int, b: int) -> bool:
    starts = a == 0 or owner[a - 1] != owner[a]
    ends = b == len(owner) or owner[b] != owner[b - 1]
    return starts and ends


# ------------------------------------------------------------------ views for engines without weights


def synonym_groups(lexicon: Lexicon | None = None) -> tuple[tuple[str, ...], ...]:
    """Disjoint groups of equivalent terms (lowercase), for engines that take flat synonym lists.

    A group joins synonyms (not near-synonyms) and abbreviations with a single
    meaning; abbreviations with several meanings, near-synonyms and regional
    equivalents are left out, because a flat list cannot weigh them: a flat
    synonym ranks like the typed word, and "Verbandsgemeinde" would find every
    "Amt" and "Samtgemeinde" as if typed (measured on the development set,
    2026-12-01: with the "either word" queries of Meilisearch, 152 -> 153 of 160).
    """
    lex = lexicon or LEXICON
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    order: dict[str, int] = {}
    for e in lex.entries:
        for t in e.terms:
            order.setdefault(key(t.text), len(order))
    for src, n in lex.nodes.items():
        for dst, (_w, kind, _line) in n.edges.items():
            if kind is Kind.SYNONYM:
                union(src, dst)
            elif kind in (Kind.EXPANSION, Kind.ABBREVIATION):
                short = src if kind is Kind.EXPANSION else dst
                if len([d for d, (_, k, _) in lex.nodes[short].edges.items() if k is Kind.EXPANSION]) == 1 and not lex.nodes[short].case_sensitive:
                    union(src, dst)
    groups: dict[str, list[str]] = defaultdict(list)
    for k in sorted(parent, key=lambda x: order.get(x, 0)):
        groups[find(k)].append(lex.nodes[k].display.lower())
    return tuple(tuple(dict.fromkeys(g)) for g in sorted(groups.values(), key=lambda g: order.get(key(g[0]), 0)) if len(set(g)) > 1)


def spelling_variants(term: str) -> tuple[str, ...]:
    """Written forms an index may hold for `term`: as given, and hyphenated parts joined.

    The lexicon treats "Car-Sharing" and "Carsharing" as one term, but an
    index tokenises them differently; a query side can search both.
    """
    out = [term]
    if _INNER_HYPHEN.search(term):
        out.append(_INNER_HYPHEN.sub(lambda m: "", _CAP_AFTER_HYPHEN.sub(lambda m: m.group(1) + m.group(2).lower(), term)))
    return tuple(dict.fromkeys(out))


_INNER_HYPHEN = re.compile(r"(?<=\w)-(?=\w)")  # not the suspension hyphen of "Städte- und Gemeindebund"
_CAP_AFTER_HYPHEN = re.compile(r"(?<=[a-zäöüß])(-)([A-ZÄÖÜ])(?=[a-zäöüß])")


__all__ = [
    "DATA_FILE",
    "LEXICON",
    "WEIGHTS",
    "Entry",
    "Expansion",
    "Kind",
    "Lexicon",
    "LexiconError",
    "Match",
    "Origin",
    "build",
    "expand",
    "expand_query",
    "fold",
    "key",
    "load",
    "normalise",
    "parse",
    "spelling_variants",
    "stem",
    "stem_key",
    "synonym_groups",
    "tokens",
]
