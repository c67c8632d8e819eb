"""Embedded search with Tantivy (the `tantivy` Python package), on disk.

Layout under the backend's root directory::

    CURRENT             name of the live index directory (switched atomically)
    v<schema>-<stamp>/  one Tantivy index; a rebuild writes a fresh one

Analysis ("de" analyser): simple tokenizer, lowercase, German stop words
(catalogue.stopwords, the list Meilisearch gets too),
ASCII folding (ä -> a, ß -> ss) and the Snowball German stemmer, which also
maps "oe"/"ue"/"ae" spellings ("Hoexter" and "Höxter" both become "hoxt").
Compounds shortened by a suspension hyphen ("Gebäude-, Energie- und
Trinkwassermanagement") are also indexed whole ("Gebäudemanagement"; see
documents.suspended_compounds), as words of the long texts.

User text is never given to Tantivy's query parser. `_QueryPlanner` splits
it into words, analyses each word with the same analyser, and builds Query
objects per word from:

* exact stems on the weighted fields (title > keywords > summary = names > texts);
* compound parts: indexed terms that start or end with the stem
  ("strategi" finds "digitalisierungsstrategi"; the suffix side uses a field
  of reversed stems, so both are prefix look-ups in the term dictionary), and
  a split of a long query word into two indexed terms ("breitbandausbau" ->
  "breitband" + "ausbau");
* typo tolerance: a fuzzy term query (distance 1 for words of 5+ letters,
  2 for 9+) when the stem is not in the index;
* synonyms from catalogue.synonyms for single words and word sequences.

Words are combined with a minimum-should-match (all of one or two words,
about two thirds of longer queries); in a query of several words each word
weighs by its rarity in the whole catalogue (a word every profile uses counts
little, however many fields it fills). Filters are term queries on raw,
untokenised fields and ranges on fast fields, so their values are data. The
caller's permission labels are one more such filter, on every query
(hits, counts, facets, candidates).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import json
import logging
import math
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import tantivy

from catalogue.fields import Priority
from catalogue.lru import LRU
from catalogue.search import documents, planning
from catalogue.search.base import (
    MAX_FACET_VALUES,
    SIMILARITY_WEIGHTS,
    SORT_FIELDS,
    Candidate,
    DocumentSource,
    Hit,
    ProgressCallback,
    SearchBackend,
    SearchDocument,
    SearchError,
    SearchQuery,
    SearchResult,
    Sort,
    check_filters,
    check_labels,
)
from catalogue.search.documents import FACETS, FILTER_ONLY, LABELS_FIELD
from catalogue.shared_generation import SharedGeneration
from catalogue.stopwords import STOP_WORDS
from catalogue.vocabularies import EditorialStatus

log = logging.getLogger(__name__)
_T = TypeVar("_T")

SCHEMA_REVISION = 2  # raise when analysis or layout change in ways the field lists below do not show (2: suspended compounds)
POINTER = "CURRENT"
ANALYZER = "de"

# The indexed text field of each search priority (catalogue.fields.Priority) and its boost for exact matches;
# which document keys go into which field comes from the field registry (documents.SEARCHABLE).
PRIORITY_FIELDS: dict[Priority, tuple[str, float]] = {
    Priority.TITLE: ("title", 4.0),
    Priority.KEYWORDS: ("keywords", 3.0),
    Priority.SUMMARY: ("summary", 2.0),
    Priority.NAMES: ("names", 2.0),
    Priority.TEXT: ("texts", 1.0),
}
FIELD_BOOSTS: dict[str, float] = dict(PRIORITY_FIELDS.values())
STORED_TEXT = ("title", "summary", "texts")  # read back for hits and snippets
ALL_ORDER = ("title", "summary", "keywords", "texts", "names")  # the catch-all field's order of texts
INTEGER_FIELDS = (*documents.RANGES, *documents.TIMESTAMPS, *documents.EDITORIAL_INTEGERS)  # fast fields: ranges and sorts
RAW_FILTERS = (*FILTER_ONLY, LABELS_FIELD)  # the editorial state, owner and permission labels: filters only


def _schema_version() -> str:
    """The index layout's version: a field added to or removed from the registry's search roles gives a new one,
    so an index built for other fields is not opened but rebuilt (`needs_reindex`)."""
    layout = json.dumps(
        [
            SCHEMA_REVISION,
            ANALYZER,
            list(FIELD_BOOSTS),
            list(STORED_TEXT),
            list(FACETS),
            list(RAW_FILTERS),
            list(INTEGER_FIELDS),
            sorted(STOP_WORDS),
            list(documents.EDITORIAL_KEYS),
        ]
    )  # a new key of the stored document needs the documents rebuilt
    return f"{SCHEMA_REVISION}.{hashlib.sha256(layout.encode()).hexdigest()[:10]}"


SCHEMA_VERSION = _schema_version()
COMPOUND_BOOST = 0.6
SPLIT_BOOST = 0.8
FUZZY_BOOST = 0.5
SYNONYM_BOOST = 0.9
PHRASE_BOOST = 1.5
PARTS_BOOST = 0.6  # the parts of a hyphenated word found apart
MAX_CODE_CHARS = 3  # a part of a hyphenated word this short that no document uses is a letter code ("UH-Kreis"), optional
HEAD_BOOST = 0.3  # the head of a compound the index lacks ("Gerät" for "Großgeräte")
MIN_HEAD = 5  # letters of a compound's head stem
RARITY_WORDS = 2  # queries of this many words or more weigh each word by its rarity (_by_rarity)
MIN_RARITY = 0.1  # the weight of a word every document has, against the query's rarest word
MAX_REFERENCE_WORDS = 6  # the rarest words of a reference text that "comparable projects" query (_rarest)
# ranked candidates of comparable projects (`_similar` with a population or reference): the facet each signal of
# SIMILARITY_WEIGHTS is, and the size bands that stand for its size ratio (ratio at least r: that share of its weight)
FACET_SIGNALS = {"fields_of_action": "fields", "state": "state"}
SIZE_BANDS = ((0.5, 0.6), (0.8, 0.3))  # the first (the widest) also makes a document a candidate
STRICT_BONUS = 2.0  # documents matching as many words as required, over those matching about half (loose_need)

KNOWN_FUZZY_BOOST = 0.2  # near spellings of a word the index has
KNOWN_FUZZY_CHARS = 9
MAX_ALTERNATIVES = 12  # lexicon alternatives per word
STRONG_ALTERNATIVE = 0.75  # weight from which an alternative also counts in the title
MAX_EXPANSIONS = 40
TERM_CACHE_SIZE = 8192  # term-dictionary lookups kept per searcher snapshot (_Terms)
MAX_FUZZY_SCAN = 300
MIN_TYPO_HEAD = 6  # letters of an indexed term that a typo's beginning may match
MAX_TYPO_TAIL = 4  # letters a typo may run on beyond it
MIN_PREFIX = 2  # letters before "*"
MAX_PREFIX_TERMS = 200
MIN_COMPOUND_STEM = 4
MIN_SPLIT_STEM = 7
MIN_PART = 3

_ALNUM_RE = re.compile(r"^[0-9a-z]+$")
_STATUSES = frozenset(s.value for s in EditorialStatus)
STEM_CACHE_WORDS = 100_000  # words whose stems `_word_stems` remembers (some 20 MB at most)
_SEPARATOR = "0q0wortgrenze0q0"  # between words analysed in one call (`_word_stems`); the analyzer keeps it whole
# Snowball German strips a final "s" only after these letters; after others ("Ausbaus", "Kitas") the word keeps it
_SNOWBALL_S_ENDINGS = frozenset("bdfghklmnrt")
MIN_S_FORM_STEM = 4
_PART_SPLIT_RE = re.compile(r"[\W_]+")  # a hyphenated word's typed parts

WRITER_HEAP = 64_000_000
# Documents written lately that every commit adds again (see `_carry`), at most this many; then the set starts anew.
# Each costs its indexing once per commit (about 0.7 ms at 10,000); 64 different drafts in turn at 10,000 profiles
# (benchmarks/index_commits.py --drafts 64): 66 ms of CPU per commit with 64, 34 with 32 (merges included), 30 with 16,
# which leaves more segments for every search (5 against 3).
CARRY_MAX = 32
# A write of more documents than this (an import's batch, a bulk change) is not carried: its segment is left to the
# merge policy, and the carried set starts anew (an import's last, small batch would be indexed again by every commit).
CARRY_WRITE = 8
BATCH = 500


def build_analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(60))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.custom_stopword(sorted(STOP_WORDS)))
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("german"))
        .build()
    )


def build_schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=False, tokenizer_name="raw", index_option="basic")
    for name in FIELD_BOOSTS:
        sb.add_text_field(name, stored=name in STORED_TEXT, tokenizer_name=ANALYZER)
    sb.add_text_field("all", tokenizer_name=ANALYZER)
    sb.add_text_field("all_rev", tokenizer_name="whitespace", index_option="freq")
    for name in FACETS:
        sb.add_text_field(name, fast=True, tokenizer_name="raw", index_option="basic")
    for name in RAW_FILTERS:
        sb.add_text_field(name, tokenizer_name="raw", index_option="basic")
    sb.add_text_field("title_sort", fast=True, tokenizer_name="raw", index_option="basic")
    for name in INTEGER_FIELDS:
        sb.add_integer_field(name, indexed=True, fast=True)
    sb.add_bytes_field("payload", stored=True)
    return sb.build()


# ------------------------------------------------------------------ query planning


@dataclass
class _Word:
    raw: str
    stems: list[str]
    planned: planning.Word
    alternatives: list[tantivy.Query] = field(default_factory=list)


@dataclass
class _Plan:
    text_query: tantivy.Query | None  # None: no text given (list everything)
    highlight_terms: set[str]
    query_plan: planning.QueryPlan | None = None


def _fold_prefix(text: str) -> str:
    """A typed prefix as the index writes its terms: lowercase, umlauts as base letters, ß as ss."""
    low = text.casefold()
    return low.replace("ä", "a").replace("ö", "o").replace("ü", "u").replace("ß", "ss")


class _Terms:
    """A searcher snapshot's term dictionary as the query planner reads it, with its lookups (document
    frequencies, terms by prefix: what compound splitting, compound expansion and typo candidates cost) kept
    in a bounded LRU shared by every query planned against that snapshot."""

    __slots__ = ("cache", "searcher")

    def __init__(self, searcher: tantivy.Searcher, size: int = TERM_CACHE_SIZE) -> None:
        self.searcher = searcher
        self.cache: LRU[tuple[str, str, str, int], Any] = LRU(size)

    def doc_freq(self, field_name: str, term: str) -> int:
        found: int = self.cache.get_or_compute(("df", field_name, term, 0), lambda: self.searcher.doc_freq(field_name, term))
        return found

    def terms_with_prefix(self, field_name: str, prefix: str, limit: int) -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = self.cache.get_or_compute(
            ("prefix", field_name, prefix, limit), lambda: list(self.searcher.terms_with_prefix(field_name, prefix, limit=limit))
        )
        return found

    def search(self, query: tantivy.Query, limit: int, count: bool) -> Any:
        return self.searcher.search(query, limit=limit, count=count)

    def num_docs(self) -> int:
        return int(self.searcher.num_docs)


def _count(searcher: _Terms, query: tantivy.Query) -> int:
    """How many documents a query finds, without scoring them (a constant score: about a third less than a scored
    count over a common word's documents at 100,000 profiles)."""
    return int(searcher.search(tantivy.Query.const_score_query(query, 1.0), limit=1, count=True).count or 0)


def missing_allowed(n: int) -> int:
    """How many of n query words may find nothing while the query still broadens (loose_need): one in four words
    beyond the first, so none of up to four words ("zzqx OR Bauhof" never broadens)."""
    return max(0, n - 1) // 4


def loose_need(n: int) -> int:
    """How many of n query words a document must match when every word occurs in the index: about half
    of three or more, one of two (those matching as many as required rank first)."""
    return 1 if n <= 2 else (n + 1) // 2


class _QueryPlanner:
    """Tantivy queries from the shared plan (catalogue/search/planning.py)."""

    def __init__(self, schema: tantivy.Schema, analyzer: tantivy.TextAnalyzer) -> None:
        self.schema = schema
        self.analyzer = analyzer

    def _term(self, field_name: str, value: str, boost: float = 1.0) -> tantivy.Query:
        q = tantivy.Query.term_query(self.schema, field_name, value)
        return q if boost == 1.0 else tantivy.Query.boost_query(q, boost)

    def _stems_query(self, field_name: str, stems: Sequence[str], boost: float, slop: int = 0) -> tantivy.Query:
        if len(stems) == 1:
            return self._term(field_name, stems[0], boost)
        q = tantivy.Query.phrase_query(self.schema, field_name, list(stems), slop=slop)
        return tantivy.Query.boost_query(q, boost)

    def _analyse(self, text: str) -> list[str]:
        return [s for s in self.analyzer.analyze(text) if _ALNUM_RE.match(s)]

    @staticmethod
    def _s_form(searcher: _Terms, stem: str) -> str | None:
        """The word with or without the "-s" the German stemmer keeps, when the index has that form: a genitive
        or plural after a letter that is no "s"-ending for Snowball ("Breitbandausbau" and "Breitbandausbaus",
        "Kita" and "Kitas")."""
        if len(stem) < MIN_S_FORM_STEM:
            return None
        if stem.endswith("s"):
            base = stem[:-1]
            form = base if len(base) >= MIN_S_FORM_STEM and base[-1] not in _SNOWBALL_S_ENDINGS and base[-1] != "s" else None
        else:
            form = stem + "s" if stem[-1] not in _SNOWBALL_S_ENDINGS else None
        return form if form and searcher.doc_freq("all", form) > 0 else None

    def _expansions(self, searcher: _Terms, stem: str) -> tuple[str, ...]:
        """Indexed terms of which `stem` is the first or the last part (worked out once per snapshot and stem: up to
        800 terms looked through and sorted, for every query and reference text with the word)."""
        found: tuple[str, ...] = searcher.cache.get_or_compute(("expansions", "all", stem, 0), lambda: self._expansions_of(searcher, stem))
        return found

    @staticmethod
    def _expansions_of(searcher: _Terms, stem: str) -> tuple[str, ...]:
        found: dict[str, int] = {}
        for term, count in searcher.terms_with_prefix("all", stem, limit=400):
            if len(term) >= len(stem) + MIN_PART:
                found[term] = max(found.get(term, 0), count)
        for rterm, count in searcher.terms_with_prefix("all_rev", stem[::-1], limit=400):
            if len(rterm) >= len(stem) + MIN_PART:
                term = rterm[::-1]
                found[term] = max(found.get(term, 0), count)
        ranked = sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))
        return tuple(t for t, _ in ranked[:MAX_EXPANSIONS])

    def _split(self, searcher: _Terms, stem: str) -> tuple[str, str] | None:
        """Split a compound query word into two indexed terms, the most balanced split first.

        A split only counts when each part is more frequent than the whole
        word (a real compound is rarer than its parts): "breitbandausbau" ->
        "breitband" + "ausbau", but not "breitband" -> "breit" + "band".
        Worked out once per snapshot and stem (a look-up and an analysis per letter of the word).
        """
        found: tuple[str, str] | None = searcher.cache.get_or_compute(("split", "all", stem, 0), lambda: self._split_of(searcher, stem))
        return found

    def _split_of(self, searcher: _Terms, stem: str) -> tuple[str, str] | None:
        whole = searcher.doc_freq("all", stem)
        best: tuple[int, str, str] | None = None
        for i in range(MIN_PART, len(stem) - MIN_PART + 1):
            left, right = stem[:i], stem[i:]
            if searcher.doc_freq("all", right) <= whole:
                continue
            for cand in (left, left[:-1] if left.endswith("s") else None):
                if not cand or len(cand) < MIN_PART:
                    continue
                stems = self.analyzer.analyze(cand)
                lstem = stems[0] if len(stems) == 1 else cand
                if len(lstem) >= MIN_PART and searcher.doc_freq("all", lstem) > whole:
                    key = min(len(lstem), len(right))
                    if best is None or key > best[0]:
                        best = (key, lstem, right)
                    break
        return (best[1], best[2]) if best else None

    def _head(self, searcher: _Terms, stem: str) -> list[str]:
        """The indexed terms ending in the longest head of a compound the index lacks (German compounds are
        head-final): "grossgerat" -> "gerat", "spezialgerat"; at least MIN_HEAD letters, MIN_PART before it."""
        for i in range(MIN_PART, len(stem) - MIN_HEAD + 1):
            head = stem[i:]
            found = {rterm[::-1] for rterm, _ in searcher.terms_with_prefix("all_rev", head[::-1], limit=MAX_EXPANSIONS)}
            if found:
                return sorted(found)
        return []

    def _fuzzy_terms(self, searcher: _Terms, stem: str, distance: int) -> tuple[list[str], list[str]]:
        """Indexed terms near a typo's stem that share its first three letters: those within `distance` (what the
        fuzzy query finds, listed for highlighting), and those that match the typo's beginning within one letter
        while the typo only runs on longer (a typo in the ending keeps the stemmer from cutting it:
        "gewerbeuberwachnug" for "gewerbeuberwach")."""
        if len(stem) < 4:
            return [], []
        near: list[str] = []
        ending: list[str] = []
        for t, _ in searcher.terms_with_prefix("all", stem[:3], limit=MAX_FUZZY_SCAN):
            if abs(len(t) - len(stem)) <= distance and planning.within(stem, t, distance):
                near.append(t)
            elif MIN_TYPO_HEAD <= len(t) < len(stem) <= len(t) + MAX_TYPO_TAIL and len(t) * 4 >= len(stem) * 3 and planning.within(stem[: len(t)], t, 1):
                ending.append(t)
        return near[:MAX_EXPANSIONS], ending[:MAX_EXPANSIONS]

    @staticmethod
    def _matches(searcher: _Terms, query: tantivy.Query) -> bool:
        """Whether a word's query (with its compounds, typos and lexicon alternatives) finds any document."""
        return _count(searcher, query) > 0

    def words(self, qp: planning.QueryPlan) -> list[_Word]:
        return [_Word(raw=w.text.casefold(), stems=self.analyzer.analyze(w.text), planned=w) for w in qp.words]

    def _alternative(self, searcher: _Terms, stems: list[str], boost: float) -> list[tantivy.Query]:
        """Queries for one lexicon alternative; a compound the index lacks is also looked for as its two parts."""
        if boost < SYNONYM_BOOST * STRONG_ALTERNATIVE:
            # near-synonyms and regional terms: the catch-all field only, not split into parts
            return [self._stems_query("all", stems, boost, slop=1)]
        # a strong alternative counts in every field as the typed word does (title, keywords, summary, ...), weighted
        out = [self._stems_query(name, stems, boost * field_boost, slop=1) for name, field_boost in FIELD_BOOSTS.items()]
        s_form = self._s_form(searcher, stems[0]) if len(stems) == 1 else None
        if s_form:
            out.extend(self._term(name, s_form, boost * field_boost) for name, field_boost in FIELD_BOOSTS.items())
        if len(stems) == 1 and len(stems[0]) >= MIN_SPLIT_STEM and searcher.doc_freq("all", stems[0]) == 0:
            split = self._split(searcher, stems[0])
            if split:
                out.append(self._stems_query("all", list(split), boost * SPLIT_BOOST, slop=1))
        return out

    def _absent(self, searcher: _Terms, word: _Word) -> bool:
        """Whether the word's own query (as typed: compounds, parts, typos) finds nothing, so that only its
        lexicon alternatives can match."""
        stems = [s for s in word.stems if _ALNUM_RE.match(s)]
        if word.planned.prefix or not stems:
            return False
        if len(stems) == 1 and searcher.doc_freq("all", stems[0]) > 0:
            return False  # the catch-all field has the word itself: no search over the documents it finds

        def compute() -> bool:
            own = self.word_query(searcher, word, set(), scan=False)
            return own is None or not self._matches(searcher, own)

        found: bool = searcher.cache.get_or_compute(("absent", "", word.planned.text.casefold(), 0), compute)
        return found

    @staticmethod
    def _word_count(searcher: _Terms, word: _Word, query: tantivy.Query) -> int:
        """How many documents a word's whole query finds (with its compounds, typos and lexicon alternatives),
        kept per snapshot (the same word with the same alternatives)."""
        key = ("word", repr(word.planned.alternatives), word.planned.text.casefold(), int(word.planned.prefix))
        found: int = searcher.cache.get_or_compute(key, lambda: _count(searcher, query))
        return found

    @staticmethod
    def _by_rarity(searcher: _Terms, word_queries: list[tantivy.Query], counts: list[int]) -> list[tantivy.Query]:
        """The word queries of a query of several words, each weighed by how rare the word is in the catalogue:
        the inverse document frequency of what its whole query finds (compounds, typos, lexicon alternatives), over
        that of the query's rarest word that occurs (words found nowhere keep full weight; at least MIN_RARITY).

        BM25 weighs a word by its rarity per field, so a word that every profile uses ("Gemeinden", "gemeinsam")
        still scores high where it stands in a title, a summary and the keywords at once, and through rare
        compounds of it ("Gemeindeverwaltungsverband"). A question in plain words ("wie können kleine Gemeinden
        Großgeräte für den Bauhof gemeinsam nutzen") is about its specific words (Bauhof, Großgeräte)."""
        total = max(1, searcher.num_docs())
        rarity = [math.log(1 + (total - c + 0.5) / (c + 0.5)) for c in counts]
        top = max((r for r, c in zip(rarity, counts, strict=True) if c > 0), default=0.0)
        if top <= 0:
            return word_queries
        out = []
        for wq, r in zip(word_queries, rarity, strict=True):
            weight = max(MIN_RARITY, min(1.0, r / top))
            out.append(wq if weight >= 1.0 else tantivy.Query.boost_query(wq, weight))
        return out

    @staticmethod
    def _rarest(searcher: _Terms, words: list[_Word], keep: int = MAX_REFERENCE_WORDS) -> list[_Word]:
        """The `keep` rarest words of a reference text, in their order (by the document frequency of their rarest stem,
        cached per snapshot; a word the index lacks and a bare number come last).

        A profile's title and keywords name about ten words. Every common one ("Kommune", "Verbund") is a long
        posting list that the candidate search scores in five fields, so the query cost grows with the catalogue,
        while such a word says little about what makes two projects alike (BM25 gives it a small weight anyway)."""
        if len(words) <= keep:
            return words

        def rarity(item: tuple[int, _Word]) -> tuple[int, int, int]:
            i, w = item
            stems = [s for s in w.stems if _ALNUM_RE.match(s)]
            if not stems or all(s.isdigit() for s in stems):
                return (2, 0, i)
            df = min(searcher.doc_freq("all", s) for s in stems)
            return (0, df, i) if df > 0 else (1, 0, i)

        kept = {i for i, _ in sorted(enumerate(words), key=rarity)[:keep]}
        return [w for i, w in enumerate(words) if i in kept]

    def _add_alternatives(self, searcher: _Terms, words: list[_Word], highlight: set[str]) -> None:
        cache: dict[tuple[str, float], list[tantivy.Query]] = {}
        for w in words:
            alternatives = w.planned.alternatives[:MAX_ALTERNATIVES]  # strongest first
            # a word the catalogue does not use at all: its strongest alternative stands in for it at full weight
            # (the typed word still ranks above its synonyms wherever it occurs, as it occurs nowhere)
            meaning = [a.weight for a in alternatives if a.kind != "spelling"]
            scale = 1.0 / max(meaning) if meaning and self._absent(searcher, w) else 1.0
            for alt in alternatives:
                weight = min(1.0, alt.weight * scale)
                key = (alt.text, weight)
                if key not in cache:
                    stems = self._analyse(alt.text)
                    if stems == [s for s in w.stems if _ALNUM_RE.match(s)]:
                        cache[key] = []  # only the spelling differs: the typed word's own query finds it
                        continue
                    highlight.update(stems)
                    cache[key] = self._alternative(searcher, stems, SYNONYM_BOOST * weight) if stems else []
                w.alternatives.extend(cache[key])

    def _prefix_query(self, searcher: _Terms, word: _Word, highlight: set[str]) -> tantivy.Query | None:
        prefix = _fold_prefix(word.planned.text)
        if len(prefix) < MIN_PREFIX:
            return None
        terms = [t for t, _ in searcher.terms_with_prefix("all", prefix, limit=MAX_PREFIX_TERMS)]
        highlight.add(prefix)
        if not terms:
            return tantivy.Query.empty_query()
        title = [self._term("title", t) for t in terms]
        return tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Should, tantivy.Query.disjunction_max_query([self._term("all", t) for t in terms], 0.1)),
                (tantivy.Occur.Should, tantivy.Query.boost_query(tantivy.Query.disjunction_max_query(title, 0.1), FIELD_BOOSTS["title"])),
            ]
        )

    def word_query(
        self,
        searcher: _Terms,
        word: _Word,
        highlight: set[str],
        *,
        typo: bool = True,
        scan: bool = True,
        codes_optional: bool = False,
    ) -> tantivy.Query | None:
        """The query for one word; `scan`: also look through the term dictionary near a typo (for typos in the
        ending and for highlighting; off for the long texts of "comparable projects"); `codes_optional` (a query of
        several words, which must match too): a hyphenated word's short letter code that no document uses is left
        out ("UH-Kreis Buslinien" finds "Unstrut-Hainich-Kreis … Buslinien")."""
        if word.planned.prefix:
            return self._prefix_query(searcher, word, highlight)
        stems = [s for s in word.stems if _ALNUM_RE.match(s)]
        clauses: list[tantivy.Query] = []
        if stems:
            highlight.update(stems)
            for name, boost in FIELD_BOOSTS.items():
                clauses.append(self._stems_query(name, stems, boost))
        if len(stems) == 1:
            stem = stems[0]
            s_form = self._s_form(searcher, stem)
            if s_form:
                highlight.add(s_form)
                clauses.extend(self._term(name, s_form, boost) for name, boost in FIELD_BOOSTS.items())
            freq = searcher.doc_freq("all", stem)
            expansions = self._expansions(searcher, stem) if len(stem) >= MIN_COMPOUND_STEM else ()
            if expansions:
                highlight.update(expansions)
                clauses.append(
                    tantivy.Query.boost_query(
                        tantivy.Query.disjunction_max_query([self._term("all", t) for t in expansions], 0.1),
                        COMPOUND_BOOST,
                    )
                )
            if len(stem) >= MIN_SPLIT_STEM:
                split = self._split(searcher, stem)
                if split:
                    highlight.update(split)
                    both = tantivy.Query.boolean_query([(tantivy.Occur.Must, self._term("all", split[0])), (tantivy.Occur.Must, self._term("all", split[1]))])
                    clauses.append(tantivy.Query.boost_query(both, SPLIT_BOOST))
            if typo and freq == 0 and len(word.raw) >= 5:  # a word missing from the index is read as a typo
                distance = 2 if len(word.raw) >= 9 else 1
                fuzzy = tantivy.Query.fuzzy_term_query(self.schema, "all", stem, distance=distance, transposition_cost_one=True)
                clauses.append(tantivy.Query.boost_query(fuzzy, FUZZY_BOOST))
                near, ending = self._fuzzy_terms(searcher, stem, distance) if scan else ([], [])
                highlight.update(near)  # highlight what the typo found
                if near:  # the fuzzy query scores every match alike: the words it finds also count by their rarity (BM25)
                    clauses.append(tantivy.Query.boost_query(tantivy.Query.disjunction_max_query([self._term("all", t) for t in near], 0.1), FUZZY_BOOST))
                if ending:
                    highlight.update(ending)
                    clauses.append(tantivy.Query.boost_query(tantivy.Query.disjunction_max_query([self._term("all", t) for t in ending], 0.1), FUZZY_BOOST))
                head = self._head(searcher, stem) if scan and not (near or ending or expansions) and len(stem) >= MIN_SPLIT_STEM else []
                if head:  # a compound the index lacks, and no typo of a word it has: its head, weakly ("Großgerät": "Gerät")
                    highlight.update(head)
                    clauses.append(tantivy.Query.boost_query(tantivy.Query.disjunction_max_query([self._term("all", t) for t in head], 0.1), HEAD_BOOST))
            elif typo and len(word.raw) >= KNOWN_FUZZY_CHARS:
                # a long word the index has also finds its near spellings, weakly: those are what its typo
                # (two letters of tolerance) would find, so the correct word never finds fewer projects
                fuzzy = tantivy.Query.fuzzy_term_query(self.schema, "all", stem, distance=1, transposition_cost_one=True)
                clauses.append(tantivy.Query.boost_query(fuzzy, KNOWN_FUZZY_BOOST))
        elif len(stems) > 1 and typo:
            # a hyphenated word ("Leader-Regoin", "Bruchausen-Vilsen"): its parts in any order, each typo-tolerant
            parts: list[tuple[tantivy.Occur, tantivy.Query]] = []
            # as for a single word, the typed part's length decides (the stem may be shorter: "Kluse" -> "klus")
            typed = [p for p in _PART_SPLIT_RE.split(word.raw) if p]
            for i, part in enumerate(stems):
                chars = len(typed[i]) if len(typed) == len(stems) else len(part)
                if codes_optional and chars <= MAX_CODE_CHARS and searcher.doc_freq("all", part) == 0 and any(len(p) > MAX_CODE_CHARS for p in stems):
                    continue  # a letter code no document uses ("UH-Kreis"): the word matches by its other parts
                part_q = self._term("all", part)
                if chars >= 5 and searcher.doc_freq("all", part) == 0:
                    distance = 2 if chars >= 9 else 1
                    part_q = tantivy.Query.fuzzy_term_query(self.schema, "all", part, distance=distance, transposition_cost_one=True)
                    highlight.update(self._fuzzy_terms(searcher, part, distance)[0])
                parts.append((tantivy.Occur.Must, part_q))
            clauses.append(tantivy.Query.boost_query(tantivy.Query.boolean_query(parts), PARTS_BOOST))
        clauses.extend(word.alternatives)
        if not clauses:
            return None
        if len(clauses) == 1:
            return clauses[0]
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, c) for c in clauses])

    def _place_query(self, pm: planning.PlaceMatch, highlight: set[str]) -> tantivy.Query | None:
        """A boost for documents of a place: named in their names (strongest) or texts, or in its Land."""
        clauses: list[tantivy.Query] = []
        stems = self._analyse(pm.text)
        if stems:
            highlight.update(stems)
            clauses.append(self._stems_query("names", stems, planning.PLACE_BOOST * 2))
            clauses.append(self._stems_query("all", stems, planning.PLACE_BOOST))
        for state in pm.states:
            is_land = any(p.level == "land" for p in pm.places)
            clauses.append(self._term("state", state, planning.PLACE_BOOST * (2.0 if is_land else 0.5)))
        if not clauses:
            return None
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, c) for c in clauses])

    def plan(self, searcher: _Terms, q: str, *, any_word: bool = False, places: Mapping[str, Sequence[planning.Place]] | None = None) -> _Plan:
        highlight: set[str] = set()
        if not q.strip():
            return _Plan(None, highlight)
        # candidates for "comparable projects" compare texts: their rarest words, no lexicon alternatives or places (cost)
        qp = planning.plain_plan(q) if any_word else planning.plan(q, places)
        words = self.words(qp)
        if any_word:
            words = self._rarest(searcher, words)
        else:
            self._add_alternatives(searcher, words, highlight)
        soft = bool(qp.soft_places) and not any_word
        word_queries: list[tantivy.Query] = []
        queried: list[_Word] = []  # the word of each entry of word_queries
        optional: list[tantivy.Query] = []  # bare numbers ("OZG 2.0") and soft places add score, never exclude
        for w in words:
            if soft and w.planned.place is not None:
                continue
            wq = self.word_query(searcher, w, highlight, typo=not any_word, scan=not any_word, codes_optional=len(qp.text_words) > 1 and not any_word)
            if wq is None:
                continue
            is_number = bool(w.stems) and all(s.isdigit() for s in w.stems) and not w.alternatives
            if is_number:
                optional.append(wq)
            else:
                word_queries.append(wq)
                queried.append(w)
        if soft:
            for pm in qp.soft_places:
                pq = self._place_query(pm, highlight)
                if pq is not None:
                    optional.append(pq)
        if not word_queries:
            word_queries, optional = optional, []
            queried = []
        if not word_queries:
            return _Plan(tantivy.Query.empty_query(), highlight, qp)
        n = len(word_queries)
        if any_word:
            need = 1
        elif n <= 2:
            need = n
        else:
            need = n - n // 3
        # how many documents each word finds (a search per word, over every document it finds): for the rarity weights
        # and the loose rule of typed queries of several words; not for one word, which uses neither, nor for the
        # reference text of "comparable projects"
        counted = queried and not any_word and (n >= RARITY_WORDS or loose_need(n) < need)
        counts = [self._word_count(searcher, w, wq) for w, wq in zip(queried, word_queries, strict=True)] if counted else []
        if not any_word and n >= RARITY_WORDS and counts:
            word_queries = self._by_rarity(searcher, word_queries, counts)
        text_q = tantivy.Query.boolean_query([(tantivy.Occur.Should, wq) for wq in word_queries], minimum_number_should_match=need)
        loose = loose_need(n)
        known = [planning.is_lexicon_term(w.planned.text) or count > 0 for w, count in zip(queried, counts, strict=True)] if counts else []
        if not any_word and loose < need and known and sum(not k for k in known) <= missing_allowed(n):
            # every word occurs in the index or is a lexicon term (in a query of five or more words, one in four may be missing: a
            # paraphrase, not a word the catalogue uses): documents sharing fewer of the words (about half) count
            # too, ranked below those that match as many as required (Meilisearch's "frequency" strategy does so)
            text_q = tantivy.Query.boolean_query(
                [
                    (tantivy.Occur.Must, tantivy.Query.boolean_query([(tantivy.Occur.Should, wq) for wq in word_queries], minimum_number_should_match=loose)),
                    (tantivy.Occur.Should, tantivy.Query.boost_query(text_q, STRICT_BONUS)),
                ]
            )
        if optional:
            text_q = tantivy.Query.boolean_query([(tantivy.Occur.Must, text_q), *((tantivy.Occur.Should, o) for o in optional)])
        single = [w.stems[0] for w in words if len(w.stems) == 1 and _ALNUM_RE.match(w.stems[0]) and not w.planned.prefix]
        if len(single) >= 2 and not any_word:
            bonus = tantivy.Query.boost_query(tantivy.Query.phrase_query(self.schema, "all", list[str | tuple[int, str]](single), slop=2), PHRASE_BOOST)
            text_q = tantivy.Query.boolean_query([(tantivy.Occur.Must, text_q), (tantivy.Occur.Should, bonus)])
        return _Plan(text_q, highlight, qp)


# ------------------------------------------------------------------ snippets
#
# Highlighting runs in Python on the stored text, not with Tantivy's
# SnippetGenerator, which re-analyses (and stems) the whole long text of every
# hit and cost about 3 ms per page of 20 hits. A German Snowball stem is
# nearly always a prefix of the lowercased word with umlauts read as base
# letters ("bauhof" in "Bauhöfe", "strass" in "Straße" read as "strase" or
# "strasse"), so matching words are found with str.find on a folded copy of
# the text that keeps every character offset.

SNIPPET_CHARS = 240
MAX_FRAGMENT_SCAN = 8_000  # characters of the long texts searched for a fragment
MAX_HIGHLIGHT_TERMS = 60


class _Highlighter:
    def __init__(self, terms: frozenset[str]) -> None:
        candidates: set[str] = set()
        for term in sorted(terms, key=len)[:MAX_HIGHLIGHT_TERMS]:
            if len(term) >= 3:
                candidates.add(term)
                if "ss" in term:
                    candidates.add(term.replace("ss", "s"))
        # a match extends to the end of the word, so a needle that starts
        # with a shorter needle adds nothing ("breitband" covers "breitbandausbau")
        needles: list[str] = []
        for term in sorted(candidates, key=len):
            if not any(term.startswith(n) for n in needles):
                needles.append(term)
        self.needles = needles

    @staticmethod
    def fold(text: str) -> str:
        low = text.lower()
        if len(low) != len(text):  # a character whose lowercase is longer: keep offsets
            low = text
        # chained replace is far faster than str.translate with a mapping
        return low.replace("ä", "a").replace("ö", "o").replace("ü", "u").replace("ß", "s")

    def first(self, low: str) -> int:
        """Offset of the first matching word in the folded text, or -1."""
        best = -1
        for needle in self.needles:
            limit = best if best != -1 else len(low)
            i = low.find(needle, 0, limit)
            while i not in (-1, 0) and low[i - 1].isalnum():
                i = low.find(needle, i + 1, limit)
            if i != -1:
                best = i
        return best

    def spans(self, text: str, start: int = 0, end: int | None = None, low: str | None = None) -> list[tuple[int, int]]:
        """Non-overlapping (start, end) of words starting with a needle within text[start:end], in order."""
        if not self.needles or not text:
            return []
        if low is None:
            low = self.fold(text)
        n = len(low)
        end = n if end is None else end
        found: list[tuple[int, int]] = []
        for needle in self.needles:
            if needle not in low:
                continue
            i = low.find(needle, start, end)
            while i != -1:
                if i == 0 or not low[i - 1].isalnum():
                    j = i + len(needle)
                    while j < n and low[j].isalnum():
                        j += 1
                    found.append((i, j))
                i = low.find(needle, i + 1, end)
        found.sort()
        spans: list[tuple[int, int]] = []
        for s, e in found:
            if spans and s < spans[-1][1]:
                continue
            spans.append((s, e))
        return spans


@lru_cache(maxsize=512)
def _highlighter(terms: frozenset[str]) -> _Highlighter | None:
    h = _Highlighter(terms)
    return h if h.needles else None


def _marked(text: str, spans: Sequence[tuple[int, int]], start: int = 0, end: int | None = None) -> str:
    end = len(text) if end is None else end
    out: list[str] = []
    pos = start
    for s, e in spans:
        if s < start or e > end:
            continue
        out.append(html.escape(text[pos:s]))
        out.append("<mark>" + html.escape(text[s:e]) + "</mark>")
        pos = e
    out.append(html.escape(text[pos:end]))
    return "".join(out)


def highlight_whole(text: str, highlighter: _Highlighter | None) -> str:
    """The whole (short) text, escaped, with <mark> around matching words."""
    if highlighter is None:
        return html.escape(text)
    return _marked(text, highlighter.spans(text))


def highlight_fragment(text: str, highlighter: _Highlighter | None, size: int = SNIPPET_CHARS) -> str | None:
    """About `size` characters around the first match, escaped and marked; None without a match."""
    if highlighter is None:
        return None
    low = highlighter.fold(text[:MAX_FRAGMENT_SCAN])
    first = highlighter.first(low)
    if first == -1:
        return None
    start = max(0, first - size // 3)
    if start > 0:
        space = text.find(" ", start, first)
        start = space + 1 if space != -1 else first
    end = min(len(text), start + size)
    if end < len(text):
        space = text.rfind(" ", first, end)
        end = space if space > first else end
    window = text[start:end]
    spans = highlighter.spans(window)
    body = " ".join(_marked(window, spans).split())
    return ("… " if start > 0 else "") + body + (" …" if end < len(text) else "")


# ------------------------------------------------------------------ the backend


MAX_CACHED_PLANS = 512
MAX_CACHED_DOCS = 4096  # decoded stored documents kept per searcher snapshot
MAX_CACHED_RESULTS = 256  # search results and candidate lists kept per searcher snapshot (_View.remember)
MAX_KEPT_HITS = 50  # a page of up to this many hits is kept (_search_key)
_DECODER = msgspec.json.Decoder()


def _decode_payload(payload: bytes) -> dict[str, Any]:
    """The stored JSON payload as json.loads reads it, about 2.5 times as fast (json.loads also reads what strict JSON
    lacks, such as NaN written by json.dumps)."""
    try:
        found: dict[str, Any] = _DECODER.decode(payload)
    except msgspec.DecodeError:
        found = json.loads(payload)
    return found


def _size_band(population: int, ratio: float) -> tuple[int, int]:
    """The populations whose size ratio to `population` (comparable.size_ratio) is at least `ratio`."""
    return math.ceil(population * ratio), math.floor(population / ratio)


def _sorted_values(mapping: Mapping[str, Sequence[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple(sorted((name, tuple(sorted(map(str, values)))) for name, values in mapping.items()))


def _search_key(query: SearchQuery, labels: tuple[str, ...], places: planning.KnownPlaces | None) -> tuple[Any, ...] | None:
    """What a search's result depends on besides the snapshot (None: not kept: an explained search, or a page of more
    than MAX_KEPT_HITS hits, the candidates of comparable projects, whose copy would cost about what their search does)."""
    if query.explain or query.per_page > MAX_KEPT_HITS:
        return None
    return ("search", *_found_key(query), query.sort, query.page, query.per_page, query.facets, tuple(sorted(labels)), planning.places_key(places))


def _found_key(query: SearchQuery) -> tuple[Any, ...]:
    """What decides which documents a search finds: its text, filters and ranges (not its sort, page or facets)."""
    return (
        query.q,
        _sorted_values(query.filters),
        query.population_min,
        query.population_max,
        query.since_min,
        query.since_max,
        query.confirmed_min,
        query.confirmed_max,
    )


def _copy_result(result: SearchResult) -> SearchResult:
    """A kept result as the caller's own copy (callers may keep or change hits' documents and the facet counts)."""
    return replace(
        result,
        hits=[
            Hit(id=h.id, slug=h.slug, title=h.title, score=h.score, document=dict(h.document), snippets=dict(h.snippets), explanation=h.explanation)
            for h in result.hits
        ],
        facets={name: dict(counts) for name, counts in result.facets.items()},
    )


class _View:
    """A searcher snapshot, the query plans made against it (plans use its term
    dictionary) and the stored documents decoded from it (a document address
    is stable within one snapshot)."""

    __slots__ = ("docs", "plans", "results", "searcher", "terms")

    def __init__(self, searcher: tantivy.Searcher) -> None:
        self.searcher = searcher
        self.terms = _Terms(searcher)
        self.plans: dict[tuple[str, bool, tuple[Any, ...]], _Plan] = {}
        self.docs: dict[tuple[int, int], tuple[dict[str, Any], str]] = {}
        self.results: dict[tuple[Any, ...], Any] = {}

    def remember(self, key: tuple[Any, ...], value: Any) -> None:
        """Keep a search result or candidate list of this snapshot: the same request (caller's labels included in
        `key`) answers alike until the next commit, which makes a new snapshot. A common word's hits, total and
        facet counts are counted over all its documents (a cost that grows with the catalogue); a popular query,
        a list's next view and a much-read profile's candidates are counted once per snapshot."""
        if len(self.results) >= MAX_CACHED_RESULTS:
            self.results.clear()
        self.results[key] = value

    def stored(self, addr: tantivy.DocAddress) -> tuple[dict[str, Any], str]:
        """The payload and the long texts of a hit, decoded once per snapshot."""
        key = (addr.segment_ord, addr.doc)
        found = self.docs.get(key)
        if found is None:
            doc = self.searcher.doc(addr)
            payload = doc.get_first("payload")
            assert payload is not None  # every indexed document has one
            found = (_decode_payload(payload), doc.get_first("texts") or "")
            if len(self.docs) >= MAX_CACHED_DOCS:
                self.docs.clear()
            self.docs[key] = found
        return found


@dataclass
class _Live:
    path: Path | None  # None: an empty index in memory, until a writer creates one on disk
    index: tantivy.Index
    writer: tantivy.IndexWriter | None  # opened by the writing process (one writer per index directory)
    view: _View
    meta_key: tuple[int, int, int] | None = None  # meta.json as last loaded (another process's commit changes it)


def _quietly(fn: Any) -> None:
    """Call `fn`, ignoring any failure, also a panic inside Tantivy (pyo3 raises those as BaseException)."""
    try:
        fn()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - a writer that failed inside is let go whatever it raises
        log.debug("ignored while letting the index go: %s", exc)


REFRESH_S = 0.05  # how often a reader looks for another process's commits or a new index directory
COMMITS_FILE = "commits.generation"  # in the index root: the writer's commits and swaps, counted (`_refresh`)


def _meta_key(path: Path) -> tuple[int, int, int] | None:
    """Identity of the index's meta.json (Tantivy replaces it on every commit), or None when unreadable."""
    try:
        st = (path / "meta.json").stat()
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class TantivyBackend(SearchBackend):
    """The embedded search backend; see the module docstring."""

    name = "tantivy"
    ranks_similar = True

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.schema = build_schema()
        self.analyzer = build_analyzer()
        if list(self.analyzer.analyze(f"a {_SEPARATOR} b")) != ["a", _SEPARATOR, "b"]:
            raise RuntimeError("the analyzer changes the word separator of `_word_stems`")
        self._stem_cache: dict[str, tuple[str, ...]] = {}  # word -> its stems (`_word_stems`; dict reads are thread-safe)
        self.planner = _QueryPlanner(self.schema, self.analyzer)
        self._write_lock = threading.RLock()
        self._refresh_lock = threading.Lock()
        self._next_check = 0.0
        # Bumped by the writing process after each commit and swap; a reader that sees it moved looks at once
        # (read-your-writes across processes: a save answered by the writer's process, the next read in another).
        self._commits = SharedGeneration(COMMITS_FILE, single_writer=True)
        self._commits.open(self.root)
        self._commits_seen = self._commits.value()
        self._rebuild_lock = asyncio.Lock()
        self._rebuild_log: list[tuple[str, Any]] | None = None
        self._carried: dict[str, tantivy.Document] = {}  # id -> the document this writer wrote last (`_write`)
        self.needs_reindex = False
        self._live = self._open_current()

    # -- index directories
    #
    # Opening reads only: the directory the pointer names, or (none yet, an
    # older schema, unreadable) an empty index in memory. Directories are
    # created, swapped and removed only by the writing process (the one that
    # holds the sync lease, catalogue/search/writer.py): on its first write,
    # by `acquire_writer` and by `rebuild`. Readers follow its commits and
    # swaps (`_refresh`).

    def _open_index(self, path: Path, *, create: bool = True) -> tantivy.Index:
        if create:
            path.mkdir(parents=True, exist_ok=True)
        elif not (path / "meta.json").exists():
            raise FileNotFoundError(path / "meta.json")
        index = tantivy.Index(self.schema, path=str(path), reuse=True)
        index.register_tokenizer(ANALYZER, self.analyzer)
        index.config_reader(reload_policy="manual")
        return index

    @staticmethod
    def _new_writer(index: tantivy.Index) -> tantivy.IndexWriter:
        try:
            return index.writer(heap_size=WRITER_HEAP, num_threads=1)
        except ValueError as exc:  # LockBusy: another process writes this index
            raise SearchError(f"Suchindex wird von einem anderen Prozess geschrieben: {exc}") from exc

    def _new_dir(self) -> Path:
        return self.root / f"v{SCHEMA_VERSION}-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"

    def _read_pointer(self) -> str:
        try:
            return (self.root / POINTER).read_text(encoding="utf-8").strip()
        except OSError:
            return ""

    def _placeholder(self) -> _Live:
        index = tantivy.Index(self.schema)
        index.register_tokenizer(ANALYZER, self.analyzer)
        return _Live(None, index, None, _View(index.searcher()))

    def _open_current(self) -> _Live:
        name = self._read_pointer()
        if name.startswith(f"v{SCHEMA_VERSION}-"):
            path = self.root / name
            try:
                index = self._open_index(path, create=False)
                index.reload()
                return _Live(path, index, None, _View(index.searcher()), _meta_key(path))
            except Exception:
                log.exception("Suchindex %s nicht lesbar; die Suche bleibt leer, bis er neu aufgebaut ist", path)
        # first start, an index of an older schema or a broken one: empty until the
        # writer creates one; `needs_reindex` tells it to rebuild from the store
        self.needs_reindex = bool(name)
        return self._placeholder()

    def _ensure_writable(self) -> _Live:
        """The live index on disk with its writer (called by the writing process, under the write lock)."""
        live = self._live
        if live.path is None:
            path = self._new_dir()
            index = self._open_index(path)
            index.reload()
            live = _Live(path, index, None, _View(index.searcher()), _meta_key(path))
            self._write_pointer(path.name)
            self._live = live
        if live.writer is None:
            live.writer = self._new_writer(live.index)
            self._carried = {}  # documents of an earlier writer may be older than what another process wrote since
        return live

    def _acquire(self) -> None:
        with self._write_lock:
            self._refresh(force=True)  # the previous writer may have swapped in a new directory
            live = self._ensure_writable()
            assert live.path is not None
            self._cleanup(keep=live.path)

    async def acquire_writer(self) -> None:
        await asyncio.to_thread(self._acquire)

    def _release(self) -> None:
        with self._write_lock:
            writer, self._live.writer = self._live.writer, None
            self._carried = {}
            if writer is not None:
                _quietly(writer.wait_merging_threads)

    async def release_writer(self) -> None:
        await asyncio.to_thread(self._release)

    def reopen(self) -> None:
        with self._write_lock:
            _quietly(self._release)
            self.needs_reindex = False
            self._live = self._open_current()

    def follow(self) -> None:
        """Load another process's commits now (read-your-writes after that process's worker applied them)."""
        self._refresh(force=True, wait=True)

    @property
    def follows_by_itself(self) -> bool:
        """With the writer's count of commits mapped, the next read looks again at once when it moved."""
        return self._commits.is_open

    def _refresh(self, *, force: bool = False, wait: bool = False) -> None:
        """Follow another process's commits and swaps: at once when the writer's counter of them (COMMITS_FILE,
        mapped memory) moved, so a read that begins after another process's commit sees it; otherwise a look at
        two files every REFRESH_S.

        `wait`: when another thread is at it, wait for it and look again (its look may have begun before
        the commit the caller knows of); never while holding the write lock.
        """
        now = time.monotonic()
        commits = self._commits.value()
        moved = commits != self._commits_seen  # the writer committed since this process last looked
        if not force and not moved and now < self._next_check:
            return
        self._next_check = now + REFRESH_S
        live = self._live
        if live.writer is not None and not force:
            self._commits_seen = commits
            return  # this process writes the index: its commits reload it
        # A reader that knows of a commit waits for a look under way (it may have begun before that commit);
        # a forced look does so only when asked (`wait`): `_acquire` comes here holding the write lock.
        if not self._refresh_lock.acquire(blocking=wait or (moved and not force)):
            return  # another thread is at it
        try:
            live = self._live  # as the look before, which this thread may have waited for, left it
            name = self._read_pointer()
            if name.startswith(f"v{SCHEMA_VERSION}-") and (live.path is None or name != live.path.name):
                path = self.root / name
                index = self._open_index(path, create=False)
                index.reload()
                fresh = _Live(path, index, None, _View(index.searcher()), _meta_key(path))
                with self._write_lock:
                    if self._live is live and live.writer is None:
                        self._live = fresh
                        self.needs_reindex = False
            elif live.path is not None:
                key = _meta_key(live.path)
                if key is not None and key != live.meta_key:
                    live.index.reload()
                    live.view = _View(live.index.searcher())
                    live.meta_key = key
            # Only now, with the commit loaded: a read that comes meanwhile still sees the count moved and waits
            # for this look instead of reading the snapshot before it.
            self._commits_seen = commits
        except Exception as exc:  # noqa: BLE001 - a directory swapped or removed under us: the next look sees the new one
            log.debug("Suchindex nicht neu geladen: %s", exc)
        finally:
            self._refresh_lock.release()

    def _write_pointer(self, name: str) -> None:
        tmp = self.root / f".{POINTER}.{uuid.uuid4().hex}.tmp"
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(name + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(self.root / POINTER)
        try:
            dir_fd = os.open(self.root, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError:  # pragma: no cover - platforms without directory fsync
            pass

    def _cleanup(self, keep: Path) -> None:
        for child in self.root.iterdir():
            if child.is_dir() and child != keep and child.name.startswith("v"):
                shutil.rmtree(child, ignore_errors=True)
            elif child.name.startswith(f".{POINTER}.") and child.name.endswith(".tmp"):
                child.unlink(missing_ok=True)

    # -- documents

    def _tantivy_doc(self, d: Mapping[str, Any]) -> tantivy.Document:
        doc = tantivy.Document()
        doc.add_text("id", str(d["id"]))
        texts: dict[str, list[str]] = {name: [] for name in FIELD_BOOSTS}
        for key, priority in documents.SEARCHABLE:
            value = d.get(key)
            if isinstance(value, list | tuple):
                texts[PRIORITY_FIELDS[priority][0]].extend(str(v) for v in value if v)
            elif value is not None:
                texts[PRIORITY_FIELDS[priority][0]].append(str(value))
        for name in STORED_TEXT:  # one value each, so hits can read them back
            texts[name] = ["\n\n".join(texts[name])] if len(texts[name]) != 1 else texts[name]
        for name, values in texts.items():
            for v in values:
                doc.add_text(name, v)
        parts = [v for name in ALL_ORDER for v in texts[name]]
        for p in parts:
            doc.add_text("all", p)
        # "Energie- und Wassermanagement" also as "Energiemanagement": words of the long texts (a second value, after
        # the one hits read back) and of the catch-all field
        suspended = documents.suspended_compounds("\n".join(parts))
        if suspended:
            parts.append(" ".join(suspended))
            doc.add_text("texts", parts[-1])
            doc.add_text("all", parts[-1])
        stems = self._word_stems(dict.fromkeys(w for p in parts for w in p.split()))
        doc.add_text("all_rev", " ".join(s[::-1] for s in sorted(stems)))
        for name in (*FACETS, *RAW_FILTERS):
            value = d.get(name)
            for item in value if isinstance(value, list | tuple) else [value]:
                if item is not None and item != "":
                    doc.add_text(name, str(item))
        doc.add_text("title_sort", d.get("title_sort") or str(d.get("title") or "").casefold())
        for name in INTEGER_FIELDS:
            value = d.get(name)
            if value is not None:
                doc.add_integer(name, int(value))
        payload = {k: v for k, v in d.items() if k != "texts"}  # the long texts are stored in their own field
        doc.add_bytes("payload", json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8"))
        return doc

    def _word_stems(self, words: Iterable[str]) -> set[str]:
        """The alphanumeric stems the analyzer gives for a text of these whitespace-separated words.

        The analyzer works token by token (its tokenizer splits at every non-alphanumeric character, each filter
        sees one token), so a text's stems are those of its words, and a word's stems are remembered
        (`STEM_CACHE_WORDS`; most words of a catalogue recur). Words not seen before are analysed in one call,
        separated by `_SEPARATOR` (a token the analyzer leaves as it is); should a word give that token itself, the
        groups do not line up and each of them is analysed on its own.
        """
        known = self._stem_cache
        out: set[str] = set()
        missing: list[str] = []
        for word in words:
            found = known.get(word)
            if found is None:
                missing.append(word)
            else:
                out.update(found)
        if not missing:
            return out
        groups: list[list[str]] = [[]]
        for token in self.analyzer.analyze(f" {_SEPARATOR} ".join(missing)):
            if token == _SEPARATOR:
                groups.append([])
            else:
                groups[-1].append(token)
        if len(groups) != len(missing):
            groups = [list(self.analyzer.analyze(word)) for word in missing]
        if len(known) + len(missing) > STEM_CACHE_WORDS:
            known.clear()  # bounded; refilled by the next documents
        for word, tokens in zip(missing, groups, strict=True):
            stems = tuple(t for t in dict.fromkeys(tokens) if _ALNUM_RE.match(t))
            known[word] = stems
            out.update(stems)
        return out

    @staticmethod
    def _put(writer: tantivy.IndexWriter, doc_id: str, doc: tantivy.Document) -> None:
        """Replace the document `doc_id` (if any) by `doc` in the writer's next commit."""
        writer.delete_documents_by_term("id", doc_id)
        writer.add_document(doc)

    def _apply(self, writer: tantivy.IndexWriter, ops: Iterable[tuple[str, Any]]) -> None:
        for op, payload in ops:
            if op == "upsert":
                for d in payload:
                    self._put(writer, str(d["id"]), self._tantivy_doc(d))
            else:
                for doc_id in payload:
                    writer.delete_documents_by_term("id", str(doc_id))

    def _carry(self, writer: tantivy.IndexWriter, op: str, payload: list[Any]) -> dict[str, tantivy.Document]:
        """Apply one write, and add the documents written lately again: what `_carried` is after the commit.

        Every commit makes a segment. Tantivy's merge policy (not adjustable in tantivy-py) merges a level once it
        holds 8 segments, and up to 16,800 documents every segment counts as one level: at 10,000 profiles every
        7th commit of different profiles rewrote the whole index (~0.6 s of CPU). A segment whose documents are all
        deleted is dropped at the commit instead. So each commit deletes and adds again the documents this writer
        wrote lately (their last state, as built then; a delete drops one), their earlier segments empty out, and
        the index stays at its big segment and one small one: no merges. Up to CARRY_MAX of them (each costs its
        indexing once per commit); then the set starts anew, and the merge policy takes the segments left behind.
        A write of more than CARRY_WRITE documents makes a segment of its own, which the merge policy takes: its
        documents are not carried (each commit would index them again, up to CARRY_MAX of them), the carried ones
        go into it once more (their segment empties) and the set starts anew, empty.
        """
        carried = dict(self._carried)
        written: dict[str, tantivy.Document] = {}
        if op == "upsert":
            for d in payload:
                doc_id = str(d["id"])
                doc = self._tantivy_doc(d)
                self._put(writer, doc_id, doc)
                carried.pop(doc_id, None)
                written[doc_id] = doc
        else:
            for doc_id in map(str, payload):
                writer.delete_documents_by_term("id", doc_id)
                carried.pop(doc_id, None)
        bulk = len(written) > CARRY_WRITE
        if not bulk and len(carried) + len(written) > CARRY_MAX:
            return written
        for doc_id, doc in carried.items():  # none of them written now
            self._put(writer, doc_id, doc)
        return {} if bulk else carried | written

    def _write(self, op: str, payload: list[Any]) -> None:
        with self._write_lock:
            live = self._ensure_writable()
            assert live.writer is not None
            assert live.path is not None
            try:
                carried = self._carry(live.writer, op, payload)
                live.writer.commit()
            except Exception as exc:
                live.writer.rollback()
                raise SearchError(f"Suchindex konnte nicht geschrieben werden: {exc}") from exc
            self._carried = carried
            live.index.reload()
            live.view = _View(live.index.searcher())
            live.meta_key = _meta_key(live.path)
            self._commits.bump()
            if self._rebuild_log is not None:
                self._rebuild_log.append((op, payload))

    async def prepare(self) -> None:
        return None

    async def upsert(self, docs: Sequence[Mapping[str, Any]]) -> None:
        batch = [dict(d) for d in docs]
        if batch:
            await asyncio.to_thread(self._write, "upsert", batch)

    async def delete(self, ids: Sequence[str]) -> None:
        batch = [str(i) for i in ids]
        if batch:
            await asyncio.to_thread(self._write, "delete", batch)

    # -- rebuild

    async def rebuild(self, docs: DocumentSource, progress: ProgressCallback | None = None) -> int:
        async with self._rebuild_lock:
            with self._write_lock:  # from now on, writes are also logged for the new index
                self._rebuild_log = []
            path = self._new_dir()
            try:
                index = await asyncio.to_thread(self._open_index, path)
                writer = self._new_writer(index)
            except BaseException:
                with self._write_lock:
                    self._rebuild_log = None
                raise
            count = 0
            seen: set[str] = set()
            batch: list[dict[str, Any]] = []

            def flush(items: list[dict[str, Any]]) -> None:
                for d in items:
                    doc_id = str(d["id"])
                    if doc_id in seen:
                        writer.delete_documents_by_term("id", doc_id)
                    seen.add(doc_id)
                    writer.add_document(self._tantivy_doc(d))

            try:
                async for d in docs:
                    batch.append(dict(d))
                    if len(batch) >= BATCH:
                        await asyncio.to_thread(flush, batch)
                        count += len(batch)
                        batch = []
                        if progress:
                            progress(count)
                if batch:
                    await asyncio.to_thread(flush, batch)
                    count += len(batch)
                await asyncio.to_thread(writer.commit)
                await asyncio.to_thread(self._finish_rebuild, path, index, writer)
            except BaseException:
                with self._write_lock:
                    self._rebuild_log = None
                del writer, index
                shutil.rmtree(path, ignore_errors=True)
                raise
            if progress:
                progress(count)
            return count

    def _finish_rebuild(self, path: Path, index: tantivy.Index, writer: tantivy.IndexWriter) -> None:
        with self._write_lock:
            log, self._rebuild_log = self._rebuild_log or [], None
            if log:  # changes that arrived while the bulk load ran
                self._apply(writer, log)
                writer.commit()
            index.reload()
            new_live = _Live(path, index, writer, _View(index.searcher()), _meta_key(path))
            self._carried = {}  # what the old index's writer carried is in the new index's segments
            self._write_pointer(path.name)
            old = self._live
            self._live = new_live
            self.needs_reindex = False
            self._commits.bump()
        del old
        self._cleanup(keep=path)

    # -- queries

    def _any_term(self, name: str, values: Sequence[str]) -> tantivy.Query:
        """Documents with any of `values` in the raw field `name` (no values: none)."""
        if not values:
            return tantivy.Query.empty_query()
        terms = [tantivy.Query.term_query(self.schema, name, str(v)) for v in values]
        return terms[0] if len(terms) == 1 else tantivy.Query.boolean_query([(tantivy.Occur.Should, t) for t in terms])

    def _filter(self, name: str, values: Sequence[str]) -> tuple[tantivy.Occur, tantivy.Query] | None:
        """The clause of a filter (documents with any of `values` in the raw field `name`), without score; None: every
        document passes it.

        The editorial state, when the documents of the other states are fewer (document frequencies of this snapshot),
        as the states it excludes: every document has exactly one of them (documents.editorial_fields). Tantivy checks
        each document a query finds against every required clause, so a filter that nearly every document passes (the
        published ones, which the public reads ask for) costs about as much as one more search word over the documents
        found (at 100,000 profiles about 1.3 of the 8 ms of a cold similar read's candidate search); the few documents
        of the other states are skipped at that cost instead. A filter for a rare state (the review queue's) stays a
        required clause, which leads the search through its few documents."""
        if name == documents.STATUS and set(map(str, values)) <= _STATUSES:
            others = sorted(_STATUSES - set(map(str, values)))
            if not others:
                return None
            terms = self._live.view.terms
            if sum(terms.doc_freq(name, v) for v in others) < sum(terms.doc_freq(name, str(v)) for v in set(values)):
                return tantivy.Occur.MustNot, self._any_term(name, others)
        return tantivy.Occur.Must, tantivy.Query.const_score_query(self._any_term(name, values), 0.0)

    def _required(
        self, labels: Sequence[str], filters: Mapping[str, Sequence[str]], skip: str | None = None
    ) -> list[tuple[tantivy.Occur, tantivy.Query]]:
        """The caller's labels (always) and the `filters` (but `skip`) as required clauses without score."""
        clauses: list[tuple[tantivy.Occur, tantivy.Query]] = [(tantivy.Occur.Must, tantivy.Query.const_score_query(self._any_term(LABELS_FIELD, labels), 0.0))]
        for name, values in filters.items():
            if name != skip and (clause := self._filter(name, values)) is not None:
                clauses.append(clause)
        return clauses

    def _filter_clauses(
        self,
        query: SearchQuery,
        labels: tuple[str, ...],
        skip: str | None = None,
    ) -> list[tuple[tantivy.Occur, tantivy.Query]]:
        clauses = self._required(labels, query.filters, skip)
        for name, lo, hi in (
            ("population", query.population_min, query.population_max),
            ("collaboration_since", query.since_min, query.since_max),
            (documents.CONFIRMED, query.confirmed_min, query.confirmed_max),
        ):
            if lo is not None or hi is not None:
                clauses.append(
                    (
                        tantivy.Occur.Must,
                        tantivy.Query.const_score_query(
                            tantivy.Query.range_query(self.schema, name, tantivy.FieldType.Integer, lower_bound=lo, upper_bound=hi), 0.0
                        ),
                    )
                )
        return clauses

    @staticmethod
    def _combine(text_q: tantivy.Query | None, filters: list[tuple[tantivy.Occur, tantivy.Query]]) -> tantivy.Query:
        """`text_q` (None: every document) with the `filters` (`_filter_clauses`: the labels' always among them)."""
        if not filters:
            return text_q if text_q is not None else tantivy.Query.all_query()
        subs: list[tuple[tantivy.Occur, tantivy.Query]] = [(tantivy.Occur.Must, text_q)] if text_q is not None else []
        return tantivy.Query.boolean_query([*subs, *filters])

    def _facet_counts(
        self, searcher: tantivy.Searcher, query: SearchQuery, labels: tuple[str, ...], text_q: tantivy.Query | None, main_q: tantivy.Query
    ) -> dict[str, dict[str, int]]:
        wanted = query.facets
        result: dict[str, dict[str, int]] = {name: {} for name in wanted}
        plain = [name for name in wanted if name not in query.filters]
        jobs: list[tuple[tantivy.Query, list[str]]] = []
        if plain:
            jobs.append((main_q, plain))
        for name in wanted:
            if name in query.filters:
                jobs.append((self._combine(text_q, self._filter_clauses(query, labels, skip=name)), [name]))
        for q, names in jobs:
            aggs = {name: {"terms": {"field": name, "size": MAX_FACET_VALUES}} for name in names}
            out = searcher.aggregate(q, aggs)
            for name in names:
                buckets = (out.get(name) or {}).get("buckets") or []
                result[name] = {str(b["key"]): int(b["doc_count"]) for b in buckets}
        return result

    def _plan(self, view: _View, q: str, *, any_word: bool, places: planning.KnownPlaces | None = None) -> _Plan:
        key = (q, any_word, planning.places_key(places))
        plan = view.plans.get(key)
        if plan is None:
            plan = self.planner.plan(view.terms, q, any_word=any_word, places=places)
            if len(view.plans) >= MAX_CACHED_PLANS:
                view.plans.clear()
            view.plans[key] = plan
        return plan

    def search_sync(self, query: SearchQuery, *, labels: Sequence[str], places: planning.KnownPlaces | None = None) -> SearchResult:
        """The synchronous search (used by `search`, and by benchmarks); `places` as resolved by `planning.resolve_places`."""
        labels = check_labels(labels)
        self._refresh()
        view = self._live.view
        key = _search_key(query, labels, places)
        cached: SearchResult | None = view.results.get(key) if key is not None else None
        if cached is not None:
            return _copy_result(cached)
        result = self._search(view, query, labels, places)
        if key is not None:
            view.remember(key, result)
            return _copy_result(result)
        return result

    def _search(self, view: _View, query: SearchQuery, labels: tuple[str, ...], places: planning.KnownPlaces | None) -> SearchResult:
        searcher = view.searcher
        plan = self._plan(view, query.q, any_word=False, places=places)
        main_q = self._combine(plan.text_query, self._filter_clauses(query, labels))
        kwargs: dict[str, Any] = {}
        sort = query.sort
        if sort is Sort.RELEVANCE and plan.text_query is None:
            sort = Sort.NEWEST
        if sort in SORT_FIELDS:
            field_name, descending = SORT_FIELDS[sort]
            kwargs = {"order_by_field": field_name, "order": tantivy.Order.Desc if descending else tantivy.Order.Asc}
        res = searcher.search(main_q, limit=query.per_page, offset=query.offset, count=True, **kwargs)
        hits = self._hits(view, res.hits, plan, scored=not kwargs, explain=query.explain)
        facets: dict[str, dict[str, int]] = {}
        if query.facets:  # counted over every document found: kept per snapshot for the same search's other pages and sorts
            key = ("facets", *_found_key(query), query.facets, tuple(sorted(labels)), planning.places_key(places))
            facets = view.results.get(key) or {}
            if not facets:
                facets = self._facet_counts(searcher, query, labels, plan.text_query, main_q)
                view.remember(key, facets)
            facets = {name: dict(counts) for name, counts in facets.items()}
        total = int(res.count or 0)  # type: ignore[attr-defined]  # tantivy's type stub lacks SearchResult.count
        return SearchResult(hits=hits, total=total, page=query.page, per_page=query.per_page, facets=facets)

    def _hits(self, view: _View, raw_hits: list[tuple[Any, tantivy.DocAddress]], plan: _Plan, *, scored: bool, explain: bool = False) -> list[Hit]:
        pattern = _highlighter(frozenset(plan.highlight_terms)) if plan.highlight_terms else None
        hits: list[Hit] = []
        for score, addr in raw_hits:
            payload, texts = view.stored(addr)
            payload = dict(payload)  # callers may keep or change their copy
            title = payload.get("title") or ""
            snippets = {
                "title": highlight_whole(title, pattern),
                "summary": highlight_whole(payload.get("summary") or "", pattern),
            }
            if pattern is not None:
                fragment = highlight_fragment(texts, pattern)
                if fragment is not None:
                    snippets["text"] = fragment
            hits.append(
                Hit(
                    id=str(payload["id"]),
                    slug=payload.get("slug") or "",
                    title=title,
                    score=float(score) if scored else 0.0,
                    document=payload,
                    snippets=snippets,
                    explanation=planning.explain(plan.query_plan, planning.document_texts(payload, texts), payload)
                    if explain and plan.query_plan is not None
                    else None,
                )
            )
        return hits

    async def search(self, query: SearchQuery, *, labels: Sequence[str]) -> SearchResult:
        places = await planning.resolve_places(self.places, query.q)
        # in a thread: Tantivy releases the GIL while it searches, and the event loop keeps serving
        try:
            return await asyncio.to_thread(self.search_sync, query, labels=labels, places=places)
        except ValueError as exc:
            raise SearchError(str(exc)) from exc

    def similar_candidates_sync(
        self,
        text: str,
        *,
        labels: Sequence[str],
        any_of: Mapping[str, Sequence[str]] | None = None,
        filters: Mapping[str, Sequence[str]] | None = None,
        exclude_ids: Sequence[str] = (),
        limit: int = 100,
        population: int | None = None,
        reference_id: str | None = None,
    ) -> list[Candidate]:
        return [
            Candidate(document=dict(payload), text_score=score)
            for score, payload in self._kept_similar(text, labels, any_of, filters, exclude_ids, limit, population, reference_id)
        ]

    def _kept_similar(
        self,
        text: str,
        labels: Sequence[str],
        any_of: Mapping[str, Sequence[str]] | None,
        filters: Mapping[str, Sequence[str]] | None,
        exclude_ids: Sequence[str],
        limit: int,
        population: int | None,
        reference_id: str | None,
    ) -> list[tuple[float, dict[str, Any]]]:
        """The candidates as (text relevance, payload), kept per snapshot and caller (the payloads are the kept ones: not to be changed)."""
        labels = check_labels(labels)
        filters = check_filters(filters)
        self._refresh()
        view = self._live.view
        key = (
            "similar",
            text,
            _sorted_values(any_of or {}),
            _sorted_values(filters),
            tuple(sorted(labels)),
            tuple(map(str, exclude_ids)),
            limit,
            population,
            reference_id,
        )
        found: list[tuple[float, dict[str, Any]]] | None = view.results.get(key)
        if found is None:
            found = self._similar(view, text, labels, any_of or {}, filters, exclude_ids, limit, population, reference_id)
            view.remember(key, found)
        return found

    def _signals(self, any_of: Mapping[str, Sequence[str]], population: int | None) -> list[tuple[float, tantivy.Query, str, Any]]:
        """The similarity signals a ranked candidate search adds up besides the text: (weight, query, field, value or
        (lowest, highest) population), so a hit's text relevance is its score less the weights of the signals it has."""
        signals: list[tuple[float, tantivy.Query, str, Any]] = []
        for name, values in any_of.items():
            weight = SIMILARITY_WEIGHTS.get(FACET_SIGNALS.get(name, ""), 0.0) / max(1, len(values))
            if weight:
                signals.extend((weight, tantivy.Query.term_query(self.schema, name, str(v)), name, str(v)) for v in values)
        if population and population > 0:
            for ratio, share in SIZE_BANDS:
                lo, hi = _size_band(population, ratio)
                query = tantivy.Query.range_query(self.schema, "population", tantivy.FieldType.Integer, lower_bound=lo, upper_bound=hi)
                signals.append((SIMILARITY_WEIGHTS["size"] * share, query, "population", (lo, hi)))
        return signals

    @staticmethod
    def _signal_weight(signals: list[tuple[float, tantivy.Query, str, Any]], payload: Mapping[str, Any]) -> float:
        total = 0.0
        for weight, _query, name, value in signals:
            have = payload.get(name)
            if name == "population":
                if isinstance(have, int | float) and value[0] <= have <= value[1]:
                    total += weight
            elif value in (map(str, have) if isinstance(have, list | tuple) else (str(have),)):
                total += weight
        return total

    def _similar(
        self,
        view: _View,
        text: str,
        labels: tuple[str, ...],
        any_of: Mapping[str, Sequence[str]],
        filters: Mapping[str, Sequence[str]],
        exclude_ids: Sequence[str],
        limit: int,
        population: int | None = None,
        reference_id: str | None = None,
    ) -> list[tuple[float, dict[str, Any]]]:
        searcher = view.searcher
        plan = self._plan(view, text, any_word=True)
        facets: list[tuple[tuple[str, Any], tantivy.Query]] = []  # (signal key: field and value, query)
        for name, values in any_of.items():
            if name not in FACETS:
                raise ValueError(f"Unbekannte Facette: {name}")
            facets.extend(((name, str(v)), tantivy.Query.term_query(self.schema, name, str(v))) for v in values)
        shared_fields = [(key, query) for key, query in facets if FACET_SIGNALS.get(key[0]) == "fields"]
        # ranked (a population or reference given): the signals of comparable.py add up in the score, so the best
        # `limit` by (about) the score `rank` gives come back, and only they are read and decoded
        ranked = population is not None or reference_id is not None
        signals = self._signals(any_of, population) if ranked else []
        # the widest size band (the first population signal: `_signals` follows SIZE_BANDS' order)
        similar_size = next((((name, value), query) for _weight, query, name, value in signals if name == "population"), None)
        if similar_size is not None:
            facets.append(similar_size)
            # a municipality of a similar size is a candidate in its own right, whatever its words (its signals rank it)
            shared_fields.append(similar_size)
        if (plan.text_query is None and not facets) or not labels:
            return []
        limit = max(1, min(limit, 1000))
        # (text OR any_of) AND labels AND filters AND NOT excluded; the documents the text finds come first and those
        # that only share a facet value (text score 0) fill the rest: two searches, and the second (a facet value is
        # shared by a good part of the catalogue) only when the text finds fewer than `limit`
        required = self._required(labels, filters)
        for doc_id in exclude_ids:
            required.append((tantivy.Occur.MustNot, tantivy.Query.term_query(self.schema, "id", str(doc_id))))
        found_text: list[tuple[float, tantivy.DocAddress]] = []
        scale = 1.0  # text relevance -> its weight in the score (ranked: relative to the reference's own)
        if plan.text_query is not None:
            text_q = plan.text_query
            if ranked:
                best = self._reference_relevance(searcher, text_q, required, reference_id)
                scale = SIMILARITY_WEIGHTS["text"] / best if best > 0 else 1.0
                text_q = tantivy.Query.boost_query(text_q, scale)
            # ranked: also those sharing a Handlungsfeld in other words ("Ärztehaus", "Versorgungszentrum"), or the size
            union, rest = self._fold(shared_fields, signals)
            if union:
                text_q = tantivy.Query.boolean_query([(tantivy.Occur.Should, text_q), *((tantivy.Occur.Should, q) for q in union)])
            found = searcher.search(tantivy.Query.boolean_query([(tantivy.Occur.Must, text_q), *required, *rest]), limit=limit, count=False)
            found_text = [(float(score), addr) for score, addr in found.hits]
        out: list[tuple[float, dict[str, Any]]] = []
        for score, addr in found_text:
            payload = view.stored(addr)[0]
            relevance = (score - self._signal_weight(signals, payload)) / scale if signals else score
            out.append((max(0.0, relevance), payload))
        if facets and len(out) < limit:  # those sharing a facet value (or, ranked, of a similar size) fill up
            seen = {str(payload.get("id")) for _score, payload in out}  # ranked: those of a shared Handlungsfeld are in
            union, rest = self._fold(facets, signals)
            found = searcher.search(self._shared(union, required, plan.text_query, rest), limit=limit - len(out) + len(seen) * ranked, count=False)
            fill = [payload for _score, addr in found.hits if str((payload := view.stored(addr)[0]).get("id")) not in seen]
            out.extend((0.0, payload) for payload in fill[: limit - len(out)])
        return out

    @staticmethod
    def _fold(
        candidates: list[tuple[tuple[str, Any], tantivy.Query]],
        signals: list[tuple[float, tantivy.Query, str, Any]],
    ) -> tuple[list[tantivy.Query], list[tuple[tantivy.Occur, tantivy.Query]]]:
        """The clauses of a candidates' union (any of them makes a document a candidate), each scoring the weight of the
        signal of the same field and value (0 without), and the other signals as optional clauses beside the union.

        A signal that also makes a candidate (a Handlungsfeld, the widest size band, a Land without text) scores inside
        the union rather than once more beside it: the same sum, and one posting list fewer walked for every document
        found (at 100,000 profiles about 0.9 of a cold similar read's 8 ms candidate search)."""
        weights: dict[tuple[str, Any], float] = {}
        for weight, _query, name, value in signals:
            weights[(name, value)] = weights.get((name, value), 0.0) + weight
        union = [tantivy.Query.const_score_query(query, weights.pop(key, 0.0)) for key, query in candidates]
        rest = [
            (tantivy.Occur.Should, tantivy.Query.const_score_query(query, weights.pop((name, value))))
            for _weight, query, name, value in signals
            if (name, value) in weights
        ]
        return union, rest

    @staticmethod
    def _shared(
        union: list[tantivy.Query],
        required: list[tuple[tantivy.Occur, tantivy.Query]],
        text_q: tantivy.Query | None,
        boosts: list[tuple[tantivy.Occur, tantivy.Query]],
    ) -> tantivy.Query:
        """Documents with any of the `union`'s clauses (and `required`, not `text_q`), scored by those clauses and the
        `boosts` (`_fold`; without signals: all alike)."""
        shared = tantivy.Query.boolean_query([(tantivy.Occur.Must, tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in union])), *required])
        if text_q is not None:  # those the text found are all among the candidates already
            shared = tantivy.Query.boolean_query([(tantivy.Occur.Must, shared), (tantivy.Occur.MustNot, text_q)])
        return tantivy.Query.boolean_query([(tantivy.Occur.Must, shared), *boosts]) if boosts else shared

    def _reference_relevance(
        self, searcher: tantivy.Searcher, text_q: tantivy.Query, required: list[tuple[tantivy.Occur, tantivy.Query]], reference_id: str | None
    ) -> float:
        """The text relevance of the reference document (one keyed search), or else the best one (a search of the text)."""
        if reference_id is not None:
            own = tantivy.Query.const_score_query(tantivy.Query.term_query(self.schema, "id", str(reference_id)), 0.0)  # no score of its own
            found = searcher.search(tantivy.Query.boolean_query([(tantivy.Occur.Must, text_q), (tantivy.Occur.Must, own), *required]), limit=1, count=False)
            if found.hits:
                return float(found.hits[0][0])
        found = searcher.search(tantivy.Query.boolean_query([(tantivy.Occur.Must, text_q), *required]), limit=1, count=False)
        return float(found.hits[0][0]) if found.hits else 0.0

    def document_sync(self, doc_id: str, *, labels: Sequence[str]) -> SearchDocument | None:
        """`document`, synchronously: a term query on the raw id field, AND-ed with the labels."""
        labels = check_labels(labels)
        if not labels:
            return None
        self._refresh()
        view = self._live.view
        query = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, tantivy.Query.term_query(self.schema, "id", str(doc_id))),
                (tantivy.Occur.Must, tantivy.Query.const_score_query(self._any_term(LABELS_FIELD, labels), 0.0)),
            ]
        )
        res = view.searcher.search(query, limit=1, count=False)
        if not res.hits:
            return None
        payload, _texts = view.stored(res.hits[0][1])
        return dict(payload)  # callers may keep or change their copy

    async def document(self, doc_id: str, *, labels: Sequence[str]) -> SearchDocument | None:
        return await asyncio.to_thread(self.document_sync, doc_id, labels=labels)

    async def similar_candidates(
        self,
        text: str,
        *,
        labels: Sequence[str],
        any_of: Mapping[str, Sequence[str]] | None = None,
        filters: Mapping[str, Sequence[str]] | None = None,
        exclude_ids: Sequence[str] = (),
        limit: int = 100,
        population: int | None = None,
        reference_id: str | None = None,
    ) -> list[Candidate]:
        return await asyncio.to_thread(
            self.similar_candidates_sync,
            text,
            labels=labels,
            any_of=any_of,
            filters=filters,
            exclude_ids=exclude_ids,
            limit=limit,
            population=population,
            reference_id=reference_id,
        )

    async def ranked_similar(
        self,
        then: Callable[[list[Candidate]], _T],
        text: str,
        *,
        labels: Sequence[str],
        any_of: Mapping[str, Sequence[str]] | None = None,
        filters: Mapping[str, Sequence[str]] | None = None,
        limit: int = 100,
        population: int | None = None,
        reference_id: str | None = None,
    ) -> _T:
        def run() -> _T:
            # the kept payloads themselves, not copies: `then` only reads them (comparable.rank copies those it returns)
            found = self._kept_similar(text, labels, any_of, filters, (), limit, population, reference_id)
            return then([Candidate(document=payload, text_score=score) for score, payload in found])

        return await asyncio.to_thread(run)  # one hop: the search, the decoding and the ranking in the search thread

    async def health(self) -> bool:
        def look() -> None:  # may load another process's commit: in a thread, not on the event loop
            self._refresh()
            _ = self._live.view.searcher.num_docs

        try:
            await asyncio.to_thread(look)
        except Exception as exc:  # pragma: no cover - a broken index
            raise SearchError(f"Suchindex nicht lesbar: {exc}") from exc
        return True

    def document_count(self) -> int:
        self._refresh()
        return int(self._live.view.searcher.num_docs)

    async def count(self) -> int | None:
        return await asyncio.to_thread(self.document_count)  # may load another process's commit, like `health`

    async def close(self) -> None:
        with self._write_lock, contextlib.suppress(Exception):  # already closed
            if self._live.writer is not None:
                self._live.writer.wait_merging_threads()
                self._live.writer = None
        self._commits.close()


__all__ = ["SCHEMA_VERSION", "TantivyBackend", "build_analyzer", "build_schema"]
