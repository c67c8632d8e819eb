"""Query planning shared by the search backends: what the user typed, what the lexicon adds, which words are places.

Both engines (tantivy_backend, meili_backend) start from the same `QueryPlan`,
so the lexicon logic is written once:

* the words as typed (`Word.text`), a trailing ``*`` marking a prefix query
  ("Ruf*");
* per word, the alternatives of the lexicon span it belongs to
  (catalogue.lexicon.expand_query with the words in their typed case), each
  with its weight (< 1, so the typed words always rank above their synonyms),
  its kind and the lexicon line it comes from, plus spelling variants of the
  word and of each alternative ("Car-Sharing" / "Carsharing"). Abbreviations
  expand both ways because the lexicon's edges go both ways; a compound that
  the lexicon varies ("Glasfaserausbau" -> "Breitbandausbau") is marked, and
  the engines also look for compounds split ("Ausbau Glasfaser") and joined;
* places: words naming a Land (always known) or a Kreis, town or Gemeinde of
  the municipality register (when the backend has a `PlaceResolver`, see
  catalogue/search/places.py). A place word is a boost and a soft filter:
  documents of that place rank first, but the word is not required to match
  when the query has other words.

`explain` turns a plan and a hit's texts into the explanation shown by
/api/v1/search?explain=true.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

from catalogue import lexicon
from catalogue.search import documents
from catalogue.stopwords import STOP_WORDS
from catalogue.vocabularies import FederalState

log = logging.getLogger(__name__)

MAX_WORDS = 16
WORD_RE = re.compile(r"\w+(?:[-‐‑'’]\w+)*\*?")
MIN_PLACE_CHARS = 3
MIN_COMPOUND_REST = 4  # letters a compound keeps beside the part the lexicon varies  # shorter words are never looked up as places
TYPO_MIN_CHARS = 5  # typo tolerance as in both engines: one typo from 5 letters, two from 9
TYPO_TWO_CHARS = 9
PLACE_BOOST = 2.0  # relative weight of a matching place against one matching text word


@dataclass(frozen=True, slots=True)
class Alternative:
    """Another way to write what a word (or the phrase it is part of) means."""

    text: str  # as written (for the engine's analyser)
    weight: float  # 0 < weight < 1: always below what the user typed
    kind: str  # catalogue.lexicon.Kind value, or "spelling"
    source: str  # the lexicon span this belongs to (the typed words)
    via: str | None = None  # the lexicon term in between, or the varied part of a compound
    line: int = 0  # line of catalogue/lexicon/lexicon.txt (0: not from a lexicon line)


@dataclass(frozen=True, slots=True)
class Place:
    """A place the register knows, as far as a search document can be matched to it."""

    name: str  # the name as the register writes it ("Höxter", "Kreis Höxter", "Bayern")
    level: str  # "land", "kreis", "gemeinde", "gemeindeverband", "regierungsbezirk"
    state: str | None  # the Land (FederalState value), when known
    key: str | None = None  # AGS/ARS, None for a Land found without the register


@dataclass(frozen=True, slots=True)
class PlaceMatch:
    start: int  # word indexes (end exclusive)
    end: int
    text: str  # as typed
    places: tuple[Place, ...]  # every entry of that name (a town and its Kreis may share one)

    @property
    def states(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.state for p in self.places if p.state))


@dataclass(frozen=True, slots=True)
class Word:
    text: str  # as typed, without a trailing "*"
    prefix: bool = False  # typed as "Ruf*"
    alternatives: tuple[Alternative, ...] = ()
    compound: bool = False  # the lexicon knows this word only as a compound of one of its terms
    place: int | None = None  # index into QueryPlan.places


@dataclass(frozen=True, slots=True)
class QueryPlan:
    q: str
    words: tuple[Word, ...]
    places: tuple[PlaceMatch, ...] = ()
    lexicon_matches: tuple[lexicon.Match, ...] = field(default=(), repr=False)

    @property
    def text_words(self) -> tuple[Word, ...]:
        """The words that must match (places are soft, unless the query is nothing but places)."""
        others = tuple(w for w in self.words if w.place is None)
        return others or self.words

    @property
    def soft_places(self) -> tuple[PlaceMatch, ...]:
        """Places that boost instead of being required (there are other words)."""
        return self.places if any(w.place is None for w in self.words) else ()


def split_words(q: str) -> list[str]:
    return WORD_RE.findall(q)[:MAX_WORDS]


# ------------------------------------------------------------------ places


def _land_key(text: str) -> str:
    return lexicon.key(text)


LAENDER: dict[str, Place] = {_land_key(s.value): Place(s.value, "land", s.value) for s in FederalState}
LAND_BY_CODE: dict[str, str] = {s.name: s.value for s in FederalState}


KnownPlaces = Mapping[str, Sequence[Place]]  # candidate phrase -> register entries of that name


@runtime_checkable
class PlaceResolver(Protocol):
    """Looks phrases up in the municipality register (catalogue/search/places.py)."""

    async def resolve(self, phrases: Sequence[str]) -> dict[str, list[Place]]:
        """The entries called so, per phrase (phrases the register does not know are left out)."""


async def resolve_places(resolver: PlaceResolver | None, q: str) -> KnownPlaces | None:
    """The register's entries for the query's candidate phrases; None without a resolver or when it fails
    (then only the Länder count as places: a register outage must not break search)."""
    if resolver is None or not q.strip():
        return None
    try:
        return await resolver.resolve(place_candidates(split_words(q)))
    except Exception:
        log.warning("place lookup failed; searching without register places", exc_info=True)
        return None


def places_key(places: KnownPlaces | None) -> tuple[tuple[str, tuple[Place, ...]], ...]:
    """A hashable form of resolved places (plans are cached by it)."""
    return tuple(sorted((k, tuple(v)) for k, v in (places or {}).items() if v))


def place_candidates(words: Sequence[str]) -> list[str]:
    """Phrases of one or two words that a register lookup might know ("Bad Driburg", "Kreis Höxter", "Ostalbkreis")."""
    out: list[str] = []
    clean = [w.rstrip("*") for w in words]
    for i, w in enumerate(clean):
        if i + 1 < len(clean):
            out.append(f"{w} {clean[i + 1]}")
        if len(w) >= MIN_PLACE_CHARS and not w.isdigit():
            out.append(w)
    return list(dict.fromkeys(out))


def _lexicon_word(word: str) -> bool:
    """A word the lexicon knows as a term of its own (not merely as part of a compound)."""
    return any(not m.compound and not m.partial for m in lexicon.expand_query([word]))


def _find_places(words: Sequence[str], known: Mapping[str, Sequence[Place]]) -> list[PlaceMatch]:
    """Place spans of the query: two-word names first, then single words; Länder always.

    A single word that is a term of the lexicon ("Amt", "Markt") is read as that term, not as a town of that name.
    """
    matches: list[PlaceMatch] = []
    i, n = 0, len(words)
    while i < n:
        w = words[i].rstrip("*")
        if i + 1 < n:
            pair = f"{w} {words[i + 1].rstrip('*')}"
            found = known.get(pair)
            if found:
                matches.append(PlaceMatch(i, i + 2, pair, tuple(found)))
                i += 2
                continue
        land = LAENDER.get(_land_key(w))
        found = [land] if land else (None if _lexicon_word(w) else known.get(w))
        if found and len(w) >= MIN_PLACE_CHARS:
            matches.append(PlaceMatch(i, i + 1, w, tuple(found)))
        i += 1
    return matches


# ------------------------------------------------------------------ planning


def _alternatives(match: lexicon.Match) -> list[Alternative]:
    out: list[Alternative] = []
    for exp in match.expansions:
        if exp.kind is lexicon.Kind.TYPED:
            continue
        for n, form in enumerate(lexicon.spelling_variants(exp.term)):
            out.append(Alternative(form, exp.weight, exp.kind.value if n == 0 else "spelling", match.text, exp.via, exp.line))
    return out


@lru_cache(maxsize=4096)
def _plan(q: str, known: tuple[tuple[str, tuple[Place, ...]], ...]) -> QueryPlan:
    raw = split_words(q)
    texts = [w.rstrip("*") for w in raw]
    prefix = [w.endswith("*") for w in raw]
    places = _find_places(raw, dict(known))
    place_of: dict[int, int] = {}
    for pi, pm in enumerate(places):
        for wi in range(pm.start, pm.end):
            place_of[wi] = pi
    alts: list[list[Alternative]] = [[] for _ in texts]
    compound = [False] * len(texts)
    for wi, w in enumerate(texts):  # a hyphenated word is also looked for joined ("Integrations-Monitoring")
        for form in lexicon.spelling_variants(w)[1:]:
            alts[wi].append(Alternative(form, 0.95, "spelling", w))
    matches = tuple(m for m in lexicon.expand_query(texts) if not m.partial)
    for m in matches:
        found = _alternatives(m)
        if m.compound:  # a varied compound part must leave a real word beside it ("Gem|einsam" is no compound)
            found = [a for a in found if not a.via or len(lexicon.key(m.text)) - len(lexicon.key(a.via)) >= MIN_COMPOUND_REST]
        for wi in range(m.start, m.end):
            if prefix[wi]:
                continue  # "Ruf*" is a prefix, not a word of the lexicon
            alts[wi].extend(found)
            compound[wi] = compound[wi] or m.compound
    words = tuple(
        Word(t, p, tuple(_dedupe(a)), c, place_of.get(i)) for i, (t, p, a, c) in enumerate(zip(texts, prefix, alts, compound, strict=True)) if t
    )
    return QueryPlan(q, words, tuple(places), matches)


def _dedupe(alts: Sequence[Alternative]) -> list[Alternative]:
    best: dict[str, Alternative] = {}
    for a in alts:
        k = lexicon.key(a.text)
        if k not in best or a.weight > best[k].weight:
            best[k] = a
    return sorted(best.values(), key=lambda a: (-a.weight, a.text.casefold()))


def plan(q: str, places: KnownPlaces | None = None) -> QueryPlan:
    """The plan of query `q`; `places` maps candidate phrases (see `place_candidates`) to register entries."""
    return _plan(q, places_key(places))


def plain_plan(q: str) -> QueryPlan:
    """The words of `q` as `plan` gives them, without what only a typed query uses: no lexicon alternatives, no
    places (a reference text of "comparable projects" is matched by its own words; looking up each of its ten or
    so words in the lexicon and the Länder cost about a third of planning it)."""
    words = tuple(Word(t, p) for t, p in ((w.rstrip("*"), w.endswith("*")) for w in split_words(q)) if t)
    return QueryPlan(q, words)


def is_lexicon_term(word: str) -> bool:
    """Whether the lexicon knows `word` itself (not as part of a compound): a word of municipal language,
    never a typing accident, even where no document uses it."""
    return len(lexicon.expand(word, compounds=False)) > 1


# ------------------------------------------------------------------ query variants (engines without weighted term queries)

MAX_VARIANTS = 10  # each runs as a few subqueries: 6 -> 10 (with 2 -> 4 per span) cost Meilisearch ~25 % of p95, noisy
ALTERNATIVES_PER_SPAN = 4
VARIANT_FACTOR = 0.9  # a variant ranks below the typed query even at an alternative's full weight
PLACE_DROP_WEIGHT = 0.8  # the query without its place words (the place is a soft filter)


def query_variants(qp: QueryPlan, absent: Collection[str] = ()) -> list[tuple[str, float]]:
    """The typed query and weighted rewrites of it, for an engine that merges several weighted queries
    (Meilisearch's federated search): weight 1.0 for what the user typed; each lexicon span replaced by one
    of its strongest alternatives (weight x VARIANT_FACTOR); without the place words when there are others.

    `absent`: typed words (casefolded) that no document uses. A span made only of such words cannot match as
    typed, so its strongest alternative stands in for it at full weight (as on Tantivy): "Tante-Emma-Laden von
    Bürgern betrieben" ranks a Dorfladen run by citizens above pages that only share "Bürgern betrieben"."""
    words = [w.text + ("*" if w.prefix else "") for w in qp.words]
    if not words:
        return []
    out: dict[str, float] = {" ".join(words): 1.0}

    def offer(text_words: Sequence[str], weight: float) -> None:
        text = " ".join(t for t in text_words if t)
        if text and out.get(text, 0.0) < weight:
            out[text] = weight

    soft = {i for pm in qp.soft_places for i in range(pm.start, pm.end)}
    if soft:
        offer([w for i, w in enumerate(words) if i not in soft], PLACE_DROP_WEIGHT)
    for m in qp.lexicon_matches:
        if any(qp.words[i].prefix for i in range(m.start, min(m.end, len(qp.words)))):
            continue
        alts = [a for a in _alternatives(m) if a.kind != "spelling"][:ALTERNATIVES_PER_SPAN]
        span = [qp.words[i].text.casefold() for i in range(m.start, min(m.end, len(qp.words)))]
        stands_in = bool(alts) and bool(span) and all(w in absent for w in span)
        top = max((a.weight for a in alts), default=1.0)
        for a in alts:
            weight = min(1.0, a.weight / top) if stands_in else a.weight * VARIANT_FACTOR
            offer([*words[: m.start], a.text, *words[m.end :]], round(weight, 4))
    ranked = sorted(out.items(), key=lambda kv: -kv[1])
    return ranked[:MAX_VARIANTS]


# ------------------------------------------------------------------ explanations


def _stems(text: str) -> set[str]:
    return {lexicon.stem(t) for t in lexicon.tokens(text)}


def _contains(doc_stems: set[str], doc_keys: str, text: str) -> bool:
    """Whether the document's words hold `text` (every token's stem), or, for one word, a compound with it."""
    stems = _stems(text)
    if not stems:
        return False
    if stems <= doc_stems:
        return True
    return len(stems) == 1 and len(next(iter(stems))) >= 4 and next(iter(stems)) in doc_keys


def document_texts(document: Mapping[str, Any], long_text: str | None = None) -> dict[str, str]:
    """A search document's searchable texts by priority name (title, keywords, summary, names, texts)."""
    out: dict[str, list[str]] = {}
    for key_name, priority in documents.SEARCHABLE:
        value = document.get(key_name)
        if key_name == "texts" and long_text is not None:
            value = long_text
        values = value if isinstance(value, list | tuple) else [value]
        out.setdefault(priority.name.lower(), []).extend(str(v) for v in values if v)
    return {k: "\n".join(v) for k, v in out.items()}


def explain(plan: QueryPlan, texts: Mapping[str, str], document: Mapping[str, Any]) -> dict[str, Any]:
    """Why a hit matched: per typed word, the forms found in the hit (typed, lexicon alternative, compound part,
    prefix, else a compound's head; a stop word is marked "stop_word" and matches nothing), and the places that
    boosted it. `texts` maps a field ("title", "summary", "texts", "names") to its text."""
    doc_stems: set[str] = set()
    for value in texts.values():
        doc_stems |= _stems(value)
        # "Energie- und Wassermanagement" holds "Energiemanagement" (the indexes add these words, documents.py)
        doc_stems |= _stems(" ".join(documents.suspended_compounds(value)))
    joined = " ".join(sorted(doc_stems))
    out_words: list[dict[str, Any]] = []
    for w in plan.words:
        entry: dict[str, Any] = {"word": w.text + ("*" if w.prefix else ""), "matched": []}
        if not w.prefix and not w.alternatives and w.text.casefold() in STOP_WORDS:
            entry["stop_word"] = True  # both engines ignore it ("wie", "für"): it matched nothing
            out_words.append(entry)
            continue
        typed_stem = lexicon.stem(lexicon.key(w.text)) if lexicon.key(w.text) else ""
        if w.prefix and typed_stem and any(s.startswith(lexicon.key(w.text)) for s in doc_stems):
            entry["matched"].append({"form": w.text + "*", "kind": "prefix", "weight": 1.0})
        elif typed_stem and typed_stem in doc_stems:
            entry["matched"].append({"form": w.text, "kind": "typed", "weight": 1.0})
        elif typed_stem and len(typed_stem) >= 4 and typed_stem in joined:
            entry["matched"].append({"form": w.text, "kind": "compound-part", "weight": 1.0})
        elif len(w.text) >= TYPO_MIN_CHARS:
            limit = 2 if len(w.text) >= TYPO_TWO_CHARS else 1
            near = sorted(s for s in doc_stems if s[:1] == typed_stem[:1] and within(typed_stem, s, limit))
            if near:
                entry["matched"].append({"form": near[0], "kind": "typo", "weight": 1.0})
        for a in w.alternatives:
            if _contains(doc_stems, joined, a.text):
                item: dict[str, Any] = {"form": a.text, "kind": a.kind, "weight": a.weight, "for": a.source}
                if a.via:
                    item["via"] = a.via
                if a.line:
                    item["lexicon_line"] = a.line
                    item["lexicon"] = lexicon_line(a.line)
                entry["matched"].append(item)
        if not entry["matched"] and not w.prefix and (head := _compound_head(typed_stem, doc_stems)):
            # nothing else: a compound the hit lacks, found by its head ("Großgeräte": "Spezialgeräte")
            entry["matched"].append({"form": head, "kind": "compound-head", "weight": 1.0})
        if w.place is not None:
            entry["place"] = True
        out_words.append(entry)
    boosts: list[dict[str, Any]] = []
    state = document.get("state")
    for pm in plan.soft_places:
        for p in pm.places:
            if p.level == "land":
                if state == p.state:
                    boosts.append({"place": pm.text, "level": p.level, "matched": "state"})
            elif _contains(doc_stems, joined, p.name.split(",")[0]):
                boosts.append({"place": pm.text, "level": p.level, "name": p.name, "matched": "names"})
            elif p.state and state == p.state:
                boosts.append({"place": pm.text, "level": p.level, "name": p.name, "matched": "state"})
    return {"words": out_words, "place_boosts": boosts}


MIN_HEAD_PREFIX = 3  # letters before a compound's head
MIN_HEAD = 5  # letters of a compound's head stem (as tantivy_backend.MIN_HEAD)


def _compound_head(stem: str, doc_stems: set[str]) -> str | None:
    """The longest head of the compound `stem` (German compounds are head-final) that ends a word of the hit."""
    for i in range(MIN_HEAD_PREFIX, len(stem) - MIN_HEAD + 1):
        head = stem[i:]
        found = sorted(s for s in doc_stems if s.endswith(head))
        if found:
            return found[0]
    return None


def within(a: str, b: str, limit: int) -> bool:
    """Damerau-Levenshtein distance (adjacent transpositions) of a and b is at most `limit`."""
    if abs(len(a) - len(b)) > limit:
        return False
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return False
        prev2, prev = prev, cur
    return prev[-1] <= limit


@lru_cache(maxsize=1)
def _lexicon_lines() -> tuple[str, ...]:
    return tuple(lexicon.DATA_FILE.read_text(encoding="utf-8").splitlines())


def lexicon_line(line: int) -> str:
    """The text of line `line` of lexicon.txt (for explanations)."""
    lines = _lexicon_lines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


__all__ = [
    "LAENDER",
    "PLACE_BOOST",
    "Alternative",
    "KnownPlaces",
    "Place",
    "PlaceMatch",
    "PlaceResolver",
    "QueryPlan",
    "Word",
    "document_texts",
    "explain",
    "lexicon_line",
    "place_candidates",
    "places_key",
    "plain_plan",
    "plan",
    "query_variants",
    "resolve_places",
    "split_words",
    "within",
]
