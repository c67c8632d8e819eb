"""Search with a Meilisearch server (1.50) through `meilisearch_python_sdk.AsyncClient`.

Settings (`index_settings`), every one chosen for German municipal texts:

* searchable attributes in priority order (title, keywords, summary, the
  organisation and place names, then the long texts); filterable and
  sortable attributes: all from catalogue/search/documents.py (the field
  registry and the document's editorial block). Filterable attributes say
  what each needs: equality for the facets, ids, status, owner and
  permission labels, comparison only for the ranges and dates; facet search
  is off (nothing uses it, and it costs indexing time);
* `localizedAttributes` with locale "deu" on the text fields, and every query
  tokenised as German: Meilisearch's German segmenter splits compounds at
  dictionary words ("Städteverbund" -> "städte" + "verbund"), so a part
  finds the whole;
* stop words from catalogue/stopwords.py (the list Tantivy uses), synonyms
  from catalogue/synonyms.py (the lexicon's groups of synonyms and unambiguous
  abbreviations; every member maps to all others);
* typo tolerance: one typo from 5 letters, two from 9 (the Tantivy
  backend's fuzzy distances), none in numbers. German compounds are long, so
  two typos are common there and fine; 6 and 10 letters, which would keep
  short compound parts ("Kreis"/"Preis") apart, lost 5 of 160 queries of the
  development set (142 -> 137 found in the top three, 2026-12-01) by missing
  typos and inflected forms;
* ranking rules with "sort" first: an explicit sort (newest, title, the
  lists' dates) orders strictly, as on Tantivy; without a sort the rule is
  inactive and Meilisearch's default order (words, typo, proximity,
  attribute rank, word position, exactness) decides;
* `maxValuesPerFacet` = base.MAX_FACET_VALUES (every facet is a short
  controlled list) and `maxTotalHits` = MAX_PAGE x MAX_PER_PAGE, the deepest
  hit the protocol can ask for, so totals and pages are exact.

Settings are versioned (`SETTINGS_VERSION`, a hash of the settings and of the
document's keys). The index records the version it was built with in one
document of its own (`SETTINGS_DOC_ID`, without permission labels, so no
query ever finds it; it travels with the index through a swap). `prepare`
creates a missing index with the current settings; it never changes the
settings of an existing index: an index of another version sets
`needs_reindex`, and the runtime rebuilds into a new index and swaps it in,
so search never runs half-reindexed.

Queries. Meilisearch has no stemming and folds neither "ß" to "ss" nor
"ä" to "ae", so one search is one federated multi-search (hits merged by
weighted ranking score, each document once, exact total and facet counts
over the union) over several spellings of the query: as typed; with umlauts
and ß for ae/oe/ue/ss ("Hoexter" -> "Höxter", "Strasse" -> "Straße"); with
ae/oe/ue/ss for umlauts and ß (documents written without umlauts); and the
Snowball stems of the words, the stemmer the Tantivy index uses
("Städteverbünde" -> "stadteverbund"), at a lower weight. Each text is
indexed twice (the "two-field design"): tokenised as German, where the
segmenter splits compounds at dictionary words ("Städteverbund" -> "städte"
+ "verbund", so a part finds the whole), and as whole words (`*_words`
copies, a locale without a compound segmenter, so a whole compound or a typo
in one matches). Every spelling runs on both; the stems on whole words.

Words must match as on Tantivy (`words_needed`: all of one or two words,
about two thirds of more). Meilisearch has no minimum-should-match, so each
text also runs as every choice of that many of its words, each requiring all
its words (`query_parts`), weighted by the share of the query's rarity it
keeps (leaving out a rare word costs more than a common one, as Tantivy
weighs words; the counting multi-search below gives the counts); bare
numbers never exclude. Only when every word
occurs in the index in some spelling (one counting multi-search first) may
whole-word queries drop words too (the "frequency" strategy: the most common
words go first) at a lower weight, and so do the compound-part fields with the
words ordered by those counts, rarest first, and the "last" strategy (the
rarest word may be only a part of a compound there, "Gaststättenkontrolle"),
and in a query of two words one of which
is a term of the lexicon, the other word alone at EITHER_WORD_WEIGHT (a page
may paraphrase the term: "OZG Verbandsgemeinde"); a word found nowhere
("zzqx", an operator typed as a word) never broadens a query. Queries of more than
MAX_SUBSET_WORDS content words run on whole words with their words ordered
by the same counts, rarest first, and the "last" strategy (the most common
words go first; "frequency" found nothing for some long queries), leaving
out a word found nowhere when `missing_allowed` permits. The lexicon's
weighted rewrites of the query (`variant_parts`) rank below the typed
query, except where a typed word is found nowhere (`absent_words`): then
its strongest alternative stands in for it at full weight, as on Tantivy.

Every write waits for its task and checks that it succeeded; a task that
failed, was cancelled, or cannot be followed (the server is gone) raises
`SearchError`, which the sync worker retries with back-off. Filter
expressions are built only from double-quoted string literals (backslash and
double quote escaped) and validated integers, so values never become filter
syntax; the caller's permission labels are one more such clause on every
query (hits, counts, facets, candidates). The free text loses Meilisearch's
own query operators (phrase quotes, minus for negation) and is otherwise
passed as data in the JSON body.

Snippets: Meilisearch's `_formatted` values are not HTML-escaped, so
highlights use private-use sentinel characters; the marks of one word's
segments are joined and widened to the whole word, the text is escaped, and
only then are the sentinels turned into <mark> (a field that itself
contains a sentinel character is shown escaped, without marks).

Differences from the Tantivy backend that the engine imposes: filter string
comparison ignores case and surrounding spaces (so permission labels are
lowercase identifiers, as usernames are), and facet lists hold at most
`maxValuesPerFacet` values.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import html
import itertools
import json
import logging
import math
import re
import time
import uuid
from collections import deque
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from meilisearch_python_sdk import AsyncClient
from meilisearch_python_sdk.errors import MeilisearchApiError
from meilisearch_python_sdk.models.settings import (
    Faceting,
    Filter,
    FilterableAttributeFeatures,
    FilterableAttributes,
    LocalizedAttributes,
    MeilisearchSettings,
    MinWordSizeForTypos,
    Pagination,
    ProximityPrecision,
    TypoTolerance,
)

from catalogue.search import documents, planning
from catalogue.search.base import (
    FILTERS,
    MAX_FACET_VALUES,
    MAX_PAGE,
    MAX_PER_PAGE,
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
from catalogue.search.documents import FACETS, LABELS_FIELD
from catalogue.stopwords import STOP_WORDS

log = logging.getLogger(__name__)

INDEX_UID = "profiles"
LOCALES = ["deu"]  # compound parts: the German segmenter
WHOLE_WORD_LOCALES = ["eng"]  # whole words: a Latin-script locale without a compound segmenter (nothing else differs)
WHOLE_SUFFIX = "_words"  # the whole-word copy of a searchable key
BATCH = 1000  # documents per addition task
MAX_PENDING_TASKS = 4  # addition tasks of a rebuild enqueued before the oldest is awaited (Meilisearch batches them)
TASK_TIMEOUT_S = 120.0
TASK_POLL_S = (0.005, 0.25)  # first and longest pause between looks at a task

# The index's record of its settings version: a document without permission labels, so no query finds it.
SETTINGS_DOC_ID = "_index_settings"
_DOCUMENT_ID = re.compile(r"[A-Za-z0-9_-]{1,511}")  # what Meilisearch accepts as a document id
SETTINGS_KEY = "settings_version"
# Raise when the documents or the query handling change in ways the settings below do not show.
SETTINGS_REVISION = 1

# Attribute lists from the search document's fields (catalogue/search/documents.py, from the field registry).
SEARCHABLE = [key for key, _ in documents.SEARCHABLE]  # in priority order; tokenised as German (compound parts)
WHOLE_WORDS = [key + WHOLE_SUFFIX for key in SEARCHABLE]  # the same texts, words kept whole
FILTERABLE = list(documents.FILTERABLE)
SORTABLE = list(documents.SORTABLE)
# filtered by range (the content ranges, the publication date, freshness and the adoption count); the rest by equality only
COMPARABLE = [*documents.RANGES, documents.PUBLISHED, *(k for k in documents.EDITORIAL_INTEGERS if k in FILTERABLE)]
EQUALITY_ONLY = [name for name in FILTERABLE if name not in COMPARABLE]
if _clash := set(WHOLE_WORDS) & {*documents.CONTENT_KEYS, *documents.EDITORIAL_KEYS, *documents.SORT_KEYS}:
    raise RuntimeError(f"whole-word copies clash with search document keys: {sorted(_clash)}")
# "sort" first: an explicit sort orders all matches strictly; without a `sort`
# parameter the rule is inactive and relevance decides in Meilisearch's own order.
RANKING_RULES = ["sort", "words", "typo", "proximity", "attributeRank", "wordPosition", "exactness"]
ONE_TYPO_FROM, TWO_TYPOS_FROM = 5, 9
MAX_TOTAL_HITS = MAX_PAGE * MAX_PER_PAGE
GERMAN_STOP_WORDS = sorted(STOP_WORDS)
MAX_SIMILAR_WORDS = 8
# Minimum-should-match spelled out as queries (`query_parts`): up to this many content words, and the
# weight of a query that leaves words out
MAX_SUBSET_WORDS = 5
SUBSET_WEIGHT = 0.9
MIN_SUBSET_SHARE = 0.1  # a subset's weight scales with the share of the query's rarity it keeps (`_word_subsets`)
ALL_DOCS = ""  # the key of `_word_counts` for the number of documents the caller may see (never a content word)
NUMBERLESS_WEIGHT = 0.95
LOOSE_WEIGHT = 0.7  # a query that may leave out common words (only when every word occurs in the index)
EITHER_WORD_WEIGHT = 0.5  # one of two words, beside a lexicon term (`_beside_a_term`): below a typo of both

# Query spellings (see the module docstring) and the weight of their hits.
SPELLING_WEIGHT = 1.0
STEM_WEIGHT = 0.8
_TO_UMLAUT = (("ae", "ä"), ("oe", "ö"), ("ue", "ü"), ("Ae", "Ä"), ("Oe", "Ö"), ("Ue", "Ü"), ("AE", "Ä"), ("OE", "Ö"), ("UE", "Ü"), ("ss", "ß"))
_TO_ASCII = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss", "ẞ": "SS"})

# Sentinels around highlights; replaced by <mark> after HTML-escaping the text.
_PRE = "\ue000"
_POST = "\ue001"
_SENTINELS = (_PRE, _POST)
_WORDS = re.compile(r"\w+", re.UNICODE)
# a highlight and the rest of its word on either side
_MARK_IN_WORD = re.compile(rf"(\w*){_PRE}([^{_PRE}{_POST}]*){_POST}(\w*)")
_HIGHLIGHTED = ["title", "summary", "texts"]
# what hits carry: the document without its long texts (those come back cropped, in `_formatted`)
_RETRIEVED = [key for key in ("id", "slug", "title_sort", *documents.CONTENT_KEYS, *documents.EDITORIAL_KEYS) if key != "texts"]
# what `document` returns: the whole search document without its long texts (the register's keys too)
_DOCUMENT_KEYS = [*_RETRIEVED, *documents.REGISTER_KEYS]


def quote_filter_value(value: str) -> str:
    """A Meilisearch filter string literal: double quotes, with \\ and " escaped."""
    if not isinstance(value, str):
        raise TypeError("filter values must be strings")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("Zahl erwartet")
    return int(value)


def _any_of(name: str, values: Sequence[str]) -> list[str]:
    """One OR-group: `name` equals any of the values (each a quoted literal)."""
    if name not in FILTERS and name != LABELS_FIELD:  # attribute names come from our own lists only
        raise ValueError(f"Unbekannter Filter: {name}")
    return [f"{name} = {quote_filter_value(str(v))}" for v in values]


def label_filter(labels: Sequence[str]) -> list[str]:
    """The OR-group of the caller's permission labels (never empty: callers return no hits for no labels)."""
    labels = check_labels(labels)
    if not labels:
        raise ValueError("no permission labels")
    return _any_of(LABELS_FIELD, labels)


def build_filter(query: SearchQuery, labels: Sequence[str], skip: str | None = None) -> list[str | list[str]]:
    """The filter in Meilisearch's array form: outer items AND-ed, inner lists OR-ed; the labels come first."""
    out: list[str | list[str]] = [label_filter(labels)]
    for name, values in query.filters.items():
        if name == skip:
            continue
        out.append(_any_of(name, values))
    for name, lo, hi in (
        ("population", query.population_min, query.population_max),
        ("collaboration_since", query.since_min, query.since_max),
        (documents.CONFIRMED, query.confirmed_min, query.confirmed_max),
    ):
        if lo is not None:
            out.append(f"{name} >= {_int(lo)}")
        if hi is not None:
            out.append(f"{name} <= {_int(hi)}")
    return out


def sanitize_q(q: str) -> str:
    """Remove Meilisearch's query operators: phrase quotes and minus negation.

    A minus that does not follow a letter or digit ("-Rufbus", "(-Rufbus")
    could start a negation and is dropped; one inside a word ("E-Akte") stays.
    A word typed as a prefix ("Ruf*") is moved to the end, where Meilisearch
    matches prefixes.
    """
    q = q.replace('"', " ")
    q = re.sub(r"(?<!\w)-+", " ", q)
    q = re.sub(r"\s+", " ", q).strip()
    # "Ruf*": Meilisearch matches the last word of a query as a prefix, so a word typed with "*" goes last
    words = q.split(" ")
    prefixed = [w.rstrip("*") for w in words if w.endswith("*") and w.rstrip("*")]
    if prefixed:
        rest = [w.replace("*", "") for w in words if not w.endswith("*")] + prefixed[:-1]
        q = " ".join([w for w in rest if w] + prefixed[-1:])
    return q.replace("*", "")


def _content_words(q: str) -> list[str]:
    """The distinct words of `q` that are not stop words (lowercased)."""
    return list(dict.fromkeys(w for w in (m.lower() for m in _WORDS.findall(q)) if w not in STOP_WORDS))


_NOT_AN_UMLAUT = re.compile(r"(?<=[aeqAEQ])([uU][eE])")  # "Feuer", "Bauer", "Quelle": no "ü" there
_KEEP = "\ue002"  # a private-use character: never in a sanitized query word that matters


def _with_umlauts(word: str) -> str:
    kept = _NOT_AN_UMLAUT.sub(lambda m: _KEEP.join(m.group(1)), word)  # hide that "ue" from the replacements below
    for plain, umlaut in _TO_UMLAUT:
        kept = kept.replace(plain, umlaut)
    return kept.replace(_KEEP, "")


def _stem(word: str) -> str:
    from catalogue import lexicon  # the Snowball stemmer of the Tantivy index; built once, at first use

    return lexicon.stem(lexicon.fold(word)) or word


def spellings(q: str) -> list[str]:
    """The query as typed; with umlauts and ß for ae/oe/ue/ss; with ae/oe/ue/ss for umlauts and ß.

    A spelling equal to an earlier one (ignoring case, but not ß/ss: `lower`,
    not `casefold`, which would equate "Straße" with "Strasse") is left out,
    so a word without any of these letters runs once.
    """
    words = q.split()
    out: list[str] = []
    for text in (q, " ".join(_with_umlauts(w) for w in words), " ".join(w.translate(_TO_ASCII) for w in words)):
        if text and text.lower() not in {o.lower() for o in out}:
            out.append(text)
    return out


def stemmed(q: str) -> str | None:
    """The Snowball stems of the query's words, or None when that is one of its spellings already."""
    text = " ".join(_stem(w) for w in q.split())
    return text if text and text.lower() not in {o.lower() for o in spellings(q)} else None


@dataclass(frozen=True, slots=True)
class Part:
    """One query of a federated search: a spelling, on compound parts or on whole words, and its weight."""

    q: str
    whole: bool  # whole words, or German compound parts
    weight: float
    strategy: str = "all"  # Meilisearch's matchingStrategy: every word of `q` must match
    prefix: bool = True  # the last word may match as a prefix (Meilisearch's default); False for stems


def words_needed(n: int) -> int:
    """How many of n query words a document must match: all of one or two, about two thirds of more (as on Tantivy)."""
    return n if n <= 2 else n - n // 3


def missing_allowed(n: int) -> int:
    """How many of n query words may be missing from the index while the query still broadens: one in four words
    beyond the first (none of up to four words), as on Tantivy."""
    return max(0, n - 1) // 4


def _is_number(word: str) -> bool:
    tokens = _WORDS.findall(word)
    return bool(tokens) and all(t.isdigit() for t in tokens)


def _rarity(q: str, counts: Mapping[str, int] | None) -> list[float] | None:
    """Per space-separated word of `q`: its inverse document frequency from `counts` (documents per content word, and
    under ALL_DOCS the documents in all; the commonest content word of a word counts), as Tantivy weighs words
    (tantivy_backend._by_rarity)."""
    if not counts:
        return None
    total = max(1, counts.get(ALL_DOCS, 0), *counts.values())
    out: list[float] = []
    for w in q.split():
        found = [counts[c] for c in _content_words(w) if c in counts]
        n = max(found) if found else 0
        out.append(math.log(1 + (total - n + 0.5) / (n + 0.5)) if found else 0.0)
    return out


def _word_subsets(text: str, rarity: Sequence[float] | None = None) -> list[tuple[str, float]]:
    """The texts one spelling runs as, each requiring all its words: the whole text; without its bare
    numbers ("Bauhof 2024"), which add score but never exclude, at NUMBERLESS_WEIGHT; and, for 3 to
    MAX_SUBSET_WORDS other content words, every choice of `words_needed` of them, at SUBSET_WEIGHT.

    Meilisearch has no minimum-should-match; this is it, spelled out (the rule of the Tantivy
    backend). Stop words stay in every text (the index ignores them). Longer queries run with
    the "frequency" strategy instead (see `query_parts`).
    """
    words = text.split()
    numbers = {i for i, w in enumerate(words) if _is_number(w)}
    content = [i for i, w in enumerate(words) if i not in numbers and _content_words(w)]
    if not content:  # only numbers: they are the query
        numbers = set()
        content = [i for i, w in enumerate(words) if _content_words(w)]
    out = [(text, 1.0)]
    if numbers:
        out.append((" ".join(w for i, w in enumerate(words) if i not in numbers), NUMBERLESS_WEIGHT))
    n = len(content)
    if 3 <= n <= MAX_SUBSET_WORDS:
        weighs = rarity is not None and len(rarity) == len(words) and sum(rarity[i] for i in content) > 0
        for dropped in itertools.combinations(content, n - words_needed(n)):
            weight = SUBSET_WEIGHT
            if weighs and rarity is not None:  # leaving out a rare word costs more than leaving out a common one
                kept = sum(rarity[i] for i in content if i not in dropped) / sum(rarity[i] for i in content)
                weight = SUBSET_WEIGHT * max(MIN_SUBSET_SHARE, kept)
            out.append((" ".join(w for i, w in enumerate(words) if i not in dropped and i not in numbers), weight))
    return out


def rarest_first(q: str, counts: Mapping[str, int], *, drop_missing: bool) -> tuple[int, ...]:
    """Positions of the space-separated words of `q`, the rarest content word first (`counts`: documents per
    content word, lowercased); words of stop words only go last, words found nowhere are left out with `drop_missing`."""
    keyed: list[tuple[int, int]] = []
    for i, w in enumerate(q.split()):
        content = _content_words(w)
        n = min((counts.get(c, 0) for c in content), default=-1)
        if content and n == 0 and drop_missing:
            continue
        keyed.append((n if content else 1 << 30, i))
    return tuple(i for _, i in sorted(keyed))


def _in_order(text: str, order: Sequence[int]) -> str:
    """The space-separated words of `text` at the positions `order` gives (`rarest_first`), in that order."""
    words = text.split()
    return " ".join(words[i] for i in order if i < len(words))


def _beside_a_term(typed: str, text: str) -> list[str]:
    """Of a query of two words (`typed`; `text` is one of its spellings): each word of `text` whose other word is a term
    of the lexicon. A term of municipal language may be missing from a page that paraphrases it ("OZG" beside
    "Verbandsgemeinde"), so the other word alone counts, weakly ("frequency" would always keep the rarer word)."""
    typed_words = [w for w in typed.split() if _content_words(w) and not _is_number(w)]
    words = [w for w in text.split() if _content_words(w) and not _is_number(w)]
    if len(typed_words) != 2 or len(words) != 2:
        return []
    return [words[1 - i] for i, w in enumerate(typed_words) if planning.is_lexicon_term(w)]


def query_parts(q: str, *, every_word_known: bool = False, order: Sequence[int] | None = None,
                counts: Mapping[str, int] | None = None) -> list[Part]:
    """The queries one search runs (see the module docstring).

    Every spelling on compound parts and on whole words, and the stems on whole
    words; each with all its words, and with each choice of about two thirds of
    them (`_word_subsets`), so a document must match as many words as on
    Tantivy. When every word of the query occurs in the index
    (`every_word_known`), each spelling and the stems also run on whole words
    with the "frequency" strategy at LOOSE_WEIGHT: words are dropped, the most
    common first, so a document that shares the rarest words counts too
    (ranked after those matching more). A word found nowhere never lets a
    query broaden ("zzqx OR Bauhof" finds nothing). A query of more than
    MAX_SUBSET_WORDS content words runs only with the "frequency" strategy on
    whole words (and all words on compound parts), which keeps the number of
    queries bounded. Given `order` (positions of the words, rarest first, see `rarest_first`), those
    whole-word queries run the words in that order with the "last" strategy instead: the most common
    words go first, as with "frequency", which finds nothing at all for some long queries (Meilisearch
    1.50: "drei Städte bewerben sich gemeinsam um EU-Geld fürs Land" -> no hit, "last" finds them).
    """
    long_query = len(_content_words(q)) > MAX_SUBSET_WORDS
    rarity = _rarity(q, counts)
    texts = [(t, 1.0 if i == 0 else SPELLING_WEIGHT) for i, t in enumerate(spellings(q))]
    if (stems := stemmed(q)) is not None:
        texts.append((stems, STEM_WEIGHT))
    parts: list[Part] = []
    for whole in (False, True):
        for n, (text, weight) in enumerate(texts):
            is_stems = stems is not None and n == len(texts) - 1
            if not whole and is_stems:
                continue  # stems only on whole words
            # a stem is shorter than its word: as a prefix it would reach further than the word itself
            # ("Feuerwer" -> "feuerw" -> every "Feuerw…"), so the stems run without prefix matching
            prefix = not is_stems
            if long_query:
                if whole and order is not None:
                    parts.append(Part(_in_order(text, order), whole, weight, "last", prefix))
                else:
                    parts.append(Part(text, whole, weight, "frequency" if whole else "all", prefix))
                continue
            parts.extend(Part(t, whole, weight * w, prefix=prefix) for t, w in _word_subsets(text, rarity))
            if not whole and every_word_known and order is not None and len(_content_words(text)) > 2:
                # compound parts too: the rarest word may be a part of a compound only ("Gaststättenkontrolle")
                parts.append(Part(_in_order(text, order), whole, weight * LOOSE_WEIGHT, "last", prefix))
            if whole and every_word_known and len(_content_words(text)) > 1:
                parts.append(Part(text, whole, weight * LOOSE_WEIGHT, "frequency", prefix))
                parts.extend(Part(w, whole, weight * EITHER_WORD_WEIGHT, "all", prefix) for w in _beside_a_term(q, text))
    return parts


VARIANT_PART_WEIGHT = 1.0  # the variants' own weights (planning.query_variants) already sit below the typed query


def variant_parts(plan: planning.QueryPlan, absent: Collection[str] = ()) -> list[Part]:
    """Queries for the lexicon's weighted rewrites of a query and for the query without its soft place words
    (planning.query_variants; `absent`: typed words no document uses), on compound parts, each with all its words
    and each choice of about two thirds of them: the typed words rank above their synonyms, a place word boosts
    without being required."""
    parts: list[Part] = []
    for text, weight in planning.query_variants(plan, absent)[1:]:
        clean = sanitize_q(text)
        if clean:
            parts.extend(Part(t, False, weight * VARIANT_PART_WEIGHT * w) for t, w in _word_subsets(clean))
    return parts


def absent_words(q: str, counts: Mapping[str, int] | None) -> set[str]:
    """The words of `q` as planned (planning.split_words, casefolded) of which a content word occurs in no document (`counts`: documents
    per content word, as probed; a hyphenated word needs every part: "Tante-Emma-Laden" is absent without "Tante")."""
    if counts is None:
        return set()
    words = (w.rstrip("*") for w in planning.split_words(q))
    return {w.casefold() for w in words if any(counts.get(c, 1) == 0 for c in _content_words(w))}


def word_probes(q: str) -> list[tuple[int, Part]]:
    """Per content word (by position): one query per spelling (and its stem), on both kinds of field."""
    probes: list[tuple[int, Part]] = []
    for n, word in enumerate(_content_words(q)):
        for text in (*spellings(word), *filter(None, [stemmed(word)])):
            probes += [(n, Part(text, False, 1.0)), (n, Part(text, True, 1.0))]
    return probes


def with_whole_words(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document as Meilisearch indexes it: each searchable text also under its whole-word key."""
    out = dict(doc)
    for key, whole in zip(SEARCHABLE, WHOLE_WORDS, strict=True):
        out[whole] = doc.get(key)
    return out


def synonym_map() -> dict[str, list[str]]:
    from catalogue.synonyms import SYNONYM_GROUPS

    mapping: dict[str, list[str]] = {}
    for group in SYNONYM_GROUPS:
        members = list(dict.fromkeys(m.strip().lower() for m in group if m.strip()))
        for m in members:
            others = [o for o in members if o != m]
            if others:
                mapping.setdefault(m, [])
                mapping[m].extend(o for o in others if o not in mapping[m])
    return mapping


def _filterable(names: Sequence[str], *, comparison: bool) -> FilterableAttributes:
    return FilterableAttributes(
        attribute_patterns=list(names),
        features=FilterableAttributeFeatures(facet_search=False, filter=Filter(equality=True, comparison=comparison)),
    )


def index_settings() -> MeilisearchSettings:
    """The settings of every profiles index (see the module docstring)."""
    return MeilisearchSettings(
        searchable_attributes=[name for pair in zip(SEARCHABLE, WHOLE_WORDS, strict=True) for name in pair],
        filterable_attributes=[_filterable(EQUALITY_ONLY, comparison=False), _filterable(COMPARABLE, comparison=True)],
        sortable_attributes=SORTABLE,
        ranking_rules=RANKING_RULES,
        displayed_attributes=["*"],
        stop_words=GERMAN_STOP_WORDS,
        synonyms=synonym_map(),
        localized_attributes=[
            LocalizedAttributes(locales=LOCALES, attribute_patterns=SEARCHABLE),
            LocalizedAttributes(locales=WHOLE_WORD_LOCALES, attribute_patterns=WHOLE_WORDS),
        ],
        faceting=Faceting(max_values_per_facet=MAX_FACET_VALUES, sort_facet_values_by={"*": "count"}),
        typo_tolerance=TypoTolerance(
            enabled=True,
            disable_on_numbers=True,
            min_word_size_for_typos=MinWordSizeForTypos(one_typo=ONE_TYPO_FROM, two_typos=TWO_TYPOS_FROM),
        ),
        pagination=Pagination(max_total_hits=MAX_TOTAL_HITS),
        proximity_precision=ProximityPrecision.BY_WORD,
        facet_search=False,
        prefix_search="indexingTime",
    )


def settings_payload() -> dict[str, Any]:
    """The settings as sent to Meilisearch (JSON)."""
    payload: dict[str, Any] = index_settings().model_dump(by_alias=True, exclude_none=True, mode="json")
    return payload


def _settings_version() -> str:
    """Changes whenever the settings, the document's keys or SETTINGS_REVISION change."""
    shape = [SETTINGS_REVISION, settings_payload(), sorted(documents.CONTENT_KEYS), list(documents.EDITORIAL_KEYS), WHOLE_WORDS]
    digest = hashlib.sha256(json.dumps(shape, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:12]
    return f"{SETTINGS_REVISION}.{digest}"


SETTINGS_VERSION = _settings_version()


def _whole_words(formatted: str) -> str:
    """Join the marks of one word's segments and widen each mark to its whole word."""
    formatted = formatted.replace(_POST + _PRE, "")
    return _MARK_IN_WORD.sub(lambda m: f"{_PRE}{m.group(1)}{m.group(2)}{m.group(3)}{_POST}", formatted)


def _marked(formatted: str) -> str:
    """Escape Meilisearch's (unescaped) formatted text, then turn the sentinels into <mark>."""
    return html.escape(_whole_words(formatted)).replace(_PRE, "<mark>").replace(_POST, "</mark>")


def _has_sentinel(value: Any) -> bool:
    return isinstance(value, str) and any(t in value for t in _SENTINELS)


def _plain(value: str) -> str:
    for t in _SENTINELS:
        value = value.replace(t, "")
    return html.escape(value)


def _snippet(formatted: Any, raw: str) -> str:
    """Safe HTML for a whole field: the raw value when it contains a sentinel itself."""
    if _has_sentinel(raw) or not isinstance(formatted, str) or not formatted:
        return _plain(raw)
    return _marked(formatted)


class MeiliBackend(SearchBackend):
    """The Meilisearch backend; see the module docstring."""

    name = "meilisearch"

    def __init__(self, url: str, api_key: str | None = None, *, index_uid: str = INDEX_UID, timeout: int = 30) -> None:
        self.url = url
        self.index_uid = index_uid
        self.client = AsyncClient(url, api_key, timeout=timeout)
        self.needs_reindex = False
        self._prepared = False
        self._prepare_lock = asyncio.Lock()
        # writes made while a rebuild runs, logged *before* they are sent (see rebuild)
        self._rebuild_log: list[tuple[str, list[Any]]] | None = None
        self._rebuild_lock = asyncio.Lock()

    # -- requests and tasks

    async def _call(self, coro: Any) -> Any:
        try:
            return await coro
        except SearchError:
            raise
        except MeilisearchApiError as exc:
            raise SearchError(f"Meilisearch lehnt die Anfrage ab [{exc.code}]: {exc.message}") from exc
        except Exception as exc:  # SDK, HTTP transport (the SDK's own httpx fork) or protocol errors
            raise SearchError(f"Meilisearch nicht erreichbar: {type(exc).__name__}: {exc}") from exc

    async def _post(self, path: str, body: Any) -> Any:
        """A JSON request the SDK has no model for (federated multi-search), through the SDK's HTTP client."""

        async def send() -> Any:
            response = await self.client.http_client.post(path, json=body)
            if response.status_code >= 400:
                try:
                    error = response.json()
                except ValueError:
                    error = {"message": response.text}
                raise SearchError(f"Meilisearch lehnt die Anfrage ab [{error.get('code', response.status_code)}]: {error.get('message')}")
            return response.json()

        return await self._call(send())

    async def _wait(self, task: Any) -> None:
        """Wait for a task (TaskInfo or uid) until it has finished; anything but success raises SearchError."""
        uid = int(task["taskUid"] if isinstance(task, Mapping) else getattr(task, "task_uid", task))
        deadline = time.monotonic() + TASK_TIMEOUT_S
        pause = TASK_POLL_S[0]
        while True:
            result = await self._call(self.client.get_task(uid))
            if result.status == "succeeded":
                return
            if result.status in ("failed", "canceled"):
                error = result.error or {}
                detail = error.get("message") or error or "ohne Angabe"
                code = f" [{error['code']}]" if error.get("code") else ""
                raise SearchError(f"Meilisearch-Aufgabe {uid} ist fehlgeschlagen ({result.status}){code}: {detail}")
            if time.monotonic() > deadline:
                raise SearchError(f"Meilisearch-Aufgabe {uid} nach {TASK_TIMEOUT_S:.0f} s nicht abgeschlossen ({result.status})")
            await asyncio.sleep(pause)
            pause = min(pause * 1.5, TASK_POLL_S[1])

    # -- indexes and settings

    async def _index_exists(self, uid: str) -> bool:
        return await self._call(self.client.get_raw_index(uid)) is not None

    async def _get_document(self, uid: str, doc_id: str, fields: Sequence[str] | None = None) -> dict[str, Any] | None:
        """One stored document by id (None: there is none); any other failure is a SearchError."""
        try:
            doc: dict[str, Any] = await self.client.index(uid).get_document(doc_id, fields=list(fields) if fields else None)
        except MeilisearchApiError as exc:
            if exc.code == "document_not_found":
                return None
            raise SearchError(f"Meilisearch lehnt die Anfrage ab [{exc.code}]: {exc.message}") from exc
        except Exception as exc:
            raise SearchError(f"Meilisearch nicht erreichbar: {type(exc).__name__}: {exc}") from exc
        return doc

    async def _recorded_version(self, uid: str) -> str | None:
        """The settings version the index records (None: no record)."""
        doc = await self._get_document(uid, SETTINGS_DOC_ID)
        version = doc.get(SETTINGS_KEY) if doc is not None else None
        return str(version) if version is not None else None

    async def _create(self, uid: str, *, record: bool) -> None:
        """Create an index with the current settings (and, if `record`, the version record)."""
        await self._wait(await self._post("indexes", {"uid": uid, "primaryKey": "id"}))
        index = self.client.index(uid)
        await self._wait(await self._call(index.update_settings(index_settings())))
        if record:
            await self._record_version(uid)

    async def _record_version(self, uid: str) -> None:
        doc = {"id": SETTINGS_DOC_ID, SETTINGS_KEY: SETTINGS_VERSION}
        await self._wait(await self._call(self.client.index(uid).add_documents([doc], primary_key="id")))

    async def prepare(self) -> None:
        """Create the index with the current settings when it is missing; flag an index of other settings.

        Idempotent, and never changes an existing index: one recorded with
        other settings (or none) sets `needs_reindex`, so the runtime rebuilds
        it into a fresh index with the current settings and swaps that in.
        """
        async with self._prepare_lock:
            if not await self._index_exists(self.index_uid):
                await self._create(self.index_uid, record=True)
                self.needs_reindex = False
            else:
                recorded = await self._recorded_version(self.index_uid)
                self.needs_reindex = recorded != SETTINGS_VERSION
                if self.needs_reindex:
                    log.warning(
                        "Meilisearch index %s has settings version %s, expected %s: it will be rebuilt and swapped",
                        self.index_uid, recorded, SETTINGS_VERSION,
                    )
            self._prepared = True

    async def _ensure_prepared(self) -> None:
        """Prepare once before the first use (the server may have been down at start)."""
        if not self._prepared:
            await self.prepare()

    # -- writes

    async def _upsert_into(self, uid: str, docs: list[dict[str, Any]]) -> None:
        index = self.client.index(uid)
        for start in range(0, len(docs), BATCH):
            batch = [with_whole_words(d) for d in docs[start : start + BATCH]]
            await self._wait(await self._call(index.add_documents(batch, primary_key="id")))

    async def _delete_from(self, uid: str, ids: list[str]) -> None:
        await self._wait(await self._call(self.client.index(uid).delete_documents(ids)))

    # A write is logged for a running rebuild *before* it is sent: a write that
    # is still waiting for its task when the rebuild swaps (and so may have
    # landed in the old index) is then already in the log and is replayed.

    async def upsert(self, docs: Sequence[Mapping[str, Any]]) -> None:
        batch = [dict(d) for d in docs]
        if not batch:
            return
        if any(str(d.get("id")) == SETTINGS_DOC_ID for d in batch):
            raise SearchError(f"{SETTINGS_DOC_ID} ist die Kennung des Einstellungsvermerks, kein Profil")
        await self._ensure_prepared()
        if self._rebuild_log is not None:
            self._rebuild_log.append(("upsert", batch))
        await self._upsert_into(self.index_uid, batch)

    async def delete(self, ids: Sequence[str]) -> None:
        batch = [str(i) for i in ids if str(i) != SETTINGS_DOC_ID]
        if not batch:
            return
        await self._ensure_prepared()
        if self._rebuild_log is not None:
            self._rebuild_log.append(("delete", batch))
        await self._delete_from(self.index_uid, batch)

    async def _replay(self, uid: str) -> None:
        """Apply logged writes to `uid` until no new ones arrived (the log stays active)."""
        while self._rebuild_log:
            pending, self._rebuild_log = self._rebuild_log, []
            for op, payload in pending:
                if op == "upsert":
                    await self._upsert_into(uid, payload)
                else:
                    await self._delete_from(uid, payload)

    async def rebuild(self, docs: DocumentSource, progress: ProgressCallback | None = None) -> int:
        """Fill a new index with the current settings, swap it with the live one, delete the old one.

        Writes made meanwhile go to the live index and to a log; the log is
        replayed into the new index before the swap and, for writes that raced
        with the swap, into the (new) live index after it. Rebuilds run one at
        a time.
        """
        async with self._rebuild_lock:
            return await self._rebuild(docs, progress)

    async def _rebuild(self, docs: DocumentSource, progress: ProgressCallback | None) -> int:
        tmp = f"{self.index_uid}_rebuild_{uuid.uuid4().hex[:12]}"
        self._rebuild_log = []  # from now on, writes are also logged for the new index
        count = 0
        pending: deque[Any] = deque()  # addition tasks not yet awaited, oldest first
        index = self.client.index(tmp)

        async def send(batch: list[dict[str, Any]]) -> None:
            nonlocal count
            if len(pending) >= MAX_PENDING_TASKS:
                await self._wait(pending.popleft())
            pending.append(await self._call(index.add_documents([with_whole_words(d) for d in batch], primary_key="id")))
            count += len(batch)
            if progress:
                progress(count)

        try:
            if not await self._index_exists(self.index_uid):  # the swap needs both
                await self._create(self.index_uid, record=False)
            await self._create(tmp, record=False)
            batch: list[dict[str, Any]] = []
            async for d in docs:
                batch.append(dict(d))
                if len(batch) >= BATCH:
                    await send(batch)
                    batch = []
            if batch:
                await send(batch)
            while pending:  # every task checked, in order
                await self._wait(pending.popleft())
            await self._record_version(tmp)
            await self._replay(tmp)  # what changed meanwhile
            await self._wait(await self._call(self.client.swap_indexes([(self.index_uid, tmp)])))
            # writes logged before or during the swap may have gone to the old index
            await self._replay(self.index_uid)
            self._rebuild_log = None  # no await since the log was last found empty
            self.needs_reindex = False
            self._prepared = True
        except BaseException:
            self._rebuild_log = None
            try:
                await self._wait(await self._call(self.client.index(tmp).delete()))
            except Exception:  # noqa: BLE001 - best effort clean-up
                log.warning("Meilisearch: temporary index %s not deleted", tmp)
            raise
        try:  # `tmp` now holds the old documents
            await self._wait(await self._call(self.client.index(tmp).delete()))
        except SearchError as exc:  # the new index is live; a leftover old one is only clutter
            log.warning("Meilisearch: old index %s not deleted: %s", tmp, exc)
        if progress:
            progress(count)
        return count

    # -- queries

    def _query(self, part: Part, query: SearchQuery, labels: tuple[str, ...], *, skip: str | None = None,
               sort: list[str] | None = None, hits: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "indexUid": self.index_uid,
            "q": part.q if part.prefix or not part.q else part.q + " ",  # a trailing space: no prefix match
            "filter": build_filter(query, labels, skip=skip),
            "federationOptions": {"weight": part.weight},
        }
        if part.q:
            body |= {
                "attributesToSearchOn": WHOLE_WORDS if part.whole else SEARCHABLE,
                "locales": WHOLE_WORD_LOCALES if part.whole else LOCALES,
                "matchingStrategy": part.strategy,
            }
        if sort:
            body["sort"] = sort
        if hits:
            body |= {
                # an explanation reads the long texts too (planning.explain); lists do without them (payload)
                "attributesToRetrieve": [*_RETRIEVED, "texts"] if query.explain else _RETRIEVED,
                "attributesToHighlight": _HIGHLIGHTED,
                "attributesToCrop": ["texts"],
                "cropLength": 30,
                "cropMarker": "…",
                "highlightPreTag": _PRE,
                "highlightPostTag": _POST,
                "showRankingScore": True,
            }
        return body

    async def _federated(self, queries: list[dict[str, Any]], *, offset: int, limit: int, facets: Sequence[str]) -> dict[str, Any]:
        federation: dict[str, Any] = {"offset": offset, "limit": limit}
        if facets:
            federation["facetsByIndex"] = {self.index_uid: list(facets)}
        result: dict[str, Any] = await self._post("multi-search", {"federation": federation, "queries": queries})
        return result

    def _facet_distribution(self, result: Mapping[str, Any]) -> dict[str, Any]:
        by_index = result.get("facetsByIndex") or {}
        dist: dict[str, Any] = (by_index.get(self.index_uid) or {}).get("distribution") or {}
        return dist

    async def _word_counts(self, q: str, labels: tuple[str, ...]) -> dict[str, int] | None:
        """Per content word of `q`: in how many documents the caller may see it occurs, in its likeliest spelling
        (one multi-search of `word_probes`, counting only), and under ALL_DOCS how many documents the caller may see.
        None for a query of one word (nothing to leave out)."""
        words = _content_words(q)
        if len(words) < 2:
            return None
        probes = [*word_probes(q), (-1, Part("", False, 1.0))]  # the last: every document the caller may see
        empty = SearchQuery()
        queries = [{**self._query(p, empty, labels, hits=False), "limit": 0} for _, p in probes]
        for body in queries:
            del body["federationOptions"]
        response = await self._post("multi-search", {"queries": queries})
        counts = [0] * len(words)
        total = 0
        for (n, _), result in zip(probes, response.get("results") or [], strict=True):
            if n < 0:
                total = int(result.get("estimatedTotalHits") or 0)
            else:
                counts[n] = max(counts[n], int(result.get("estimatedTotalHits") or 0))
        return {**dict(zip(words, counts, strict=True)), ALL_DOCS: total}

    async def _parts(self, q: str, labels: tuple[str, ...]) -> tuple[list[Part], set[str]]:
        """`query_parts` for `q`, with what the index says about its words; and the typed words (casefolded)
        that no document uses (`absent_words`)."""
        found = await self._word_counts(q, labels)
        absent = absent_words(q, found)
        # a word of the lexicon counts as found at least once (a term of municipal language that no page happens to
        # use, "Tagesalarmsicherheit", never a typing accident, "zzqx")
        counts = None if found is None else {w: max(c, int(planning.is_lexicon_term(w))) for w, c in found.items() if w != ALL_DOCS}
        n = len(_content_words(q))
        # as on Tantivy: in a query of five or more words, one in four may be missing (a paraphrase, not a word the
        # catalogue uses); in shorter ones every word must occur ("zzqx OR state Bayern" finds nothing)
        tolerable = counts is not None and sum(1 for c in counts.values() if c == 0) <= missing_allowed(n)
        if n > MAX_SUBSET_WORDS:
            return query_parts(q, order=rarest_first(q, counts, drop_missing=True) if counts is not None and tolerable else None), absent
        order = rarest_first(q, counts, drop_missing=False) if counts is not None else None
        return query_parts(q, every_word_known=tolerable, order=order, counts=found), absent

    async def search(self, query: SearchQuery, *, labels: Sequence[str]) -> SearchResult:
        labels = check_labels(labels)
        q = sanitize_q(query.q)
        if not labels or (query.q.strip() and not _content_words(q)):
            # no permission labels, or nothing searchable (only punctuation or stop words): no match, never "everything"
            return SearchResult(hits=[], total=0, page=query.page, per_page=query.per_page, facets={f: {} for f in query.facets})
        await self._ensure_prepared()
        order = Sort.NEWEST if query.sort is Sort.RELEVANCE and not q else query.sort
        sort: list[str] | None = None
        if order in SORT_FIELDS:
            field_name, descending = SORT_FIELDS[order]
            sort = [f"{field_name}:{'desc' if descending else 'asc'}"]
        parts, absent = await self._parts(q, labels) if q else ([Part("", False, 1.0)], set())
        plan = planning.plan(query.q, await planning.resolve_places(self.places, query.q)) if q else None
        if plan is not None and query.sort is Sort.RELEVANCE:
            parts.extend(variant_parts(plan, absent))
        plain_facets = [f for f in query.facets if f not in query.filters]
        disjunctive = [f for f in query.facets if f in query.filters]
        requests = [
            self._federated([self._query(part, query, labels, sort=sort) for part in parts],
                            offset=query.offset, limit=query.per_page, facets=plain_facets)
        ]
        # disjunctive facets: a filtered facet counts as if its own filter were not set
        requests.extend(
            self._federated([self._query(part, query, labels, skip=name, hits=False) for part in parts],
                            offset=0, limit=0, facets=[name])
            for name in disjunctive
        )
        main, *by_facet = await asyncio.gather(*requests)
        facets: dict[str, dict[str, int]] = {f: {} for f in query.facets}
        for name, dist in self._facet_distribution(main).items():
            if name in facets:
                facets[name] = {str(k): int(v) for k, v in dist.items()}
        for name, res in zip(disjunctive, by_facet, strict=True):
            dist = self._facet_distribution(res).get(name) or {}
            facets[name] = {str(k): int(v) for k, v in dist.items()}
        scored = query.sort is Sort.RELEVANCE and bool(q)
        hits = [self._hit(h, scored=scored) for h in main.get("hits") or []]
        total = int(main.get("totalHits") or main.get("estimatedTotalHits") or 0)
        if query.explain and plan is not None:
            raws = main.get("hits") or []
            hits = [
                dataclasses.replace(hit, explanation=planning.explain(plan, planning.document_texts(raw), hit.document))
                for hit, raw in zip(hits, raws, strict=True)
            ]
        return SearchResult(hits=hits, total=total, page=query.page, per_page=query.per_page, facets=facets)

    @staticmethod
    def _hit(raw: Mapping[str, Any], *, scored: bool = True) -> Hit:
        # like the Tantivy backend: the document without the long texts
        doc = {k: v for k, v in raw.items() if not k.startswith("_") and k != "texts"}
        formatted = raw.get("_formatted") or {}
        title = str(doc.get("title") or "")
        summary = str(doc.get("summary") or "")
        snippets = {
            "title": _snippet(formatted.get("title"), title),
            "summary": _snippet(formatted.get("summary"), summary),
        }
        text = formatted.get("texts")
        if isinstance(text, str) and _PRE in text and not _has_sentinel(raw.get("texts")):
            snippets["text"] = _marked(text)
        federation = raw.get("_federation") or {}
        score = federation.get("weightedRankingScore", raw.get("_rankingScore")) or 0.0
        return Hit(
            id=str(doc.get("id")),
            slug=str(doc.get("slug") or ""),
            title=title,
            score=float(score) if scored else 0.0,
            document=doc,
            snippets=snippets,
        )

    async def document(self, doc_id: str, *, labels: Sequence[str]) -> SearchDocument | None:
        """`GET /indexes/{uid}/documents/{id}` (without the long texts); None when missing or without one of `labels`."""
        labels = check_labels(labels)
        if not labels or not _DOCUMENT_ID.fullmatch(str(doc_id)) or doc_id == SETTINGS_DOC_ID:
            return None
        await self._ensure_prepared()
        raw = await self._get_document(self.index_uid, str(doc_id), _DOCUMENT_KEYS)
        if raw is None:
            return None
        doc = {k: v for k, v in raw.items() if not k.startswith("_") and k != "texts"}
        if not set(doc.get(LABELS_FIELD) or ()) & set(labels):
            return None
        return doc

    async def similar_candidates(
        self,
        text: str,
        *,
        labels: Sequence[str],
        any_of: Mapping[str, Sequence[str]] | None = None,
        filters: Mapping[str, Sequence[str]] | None = None,
        exclude_ids: Sequence[str] = (),
        limit: int = 100,
        population: int | None = None,  # hints for an engine that ranks_similar; this one does not
        reference_id: str | None = None,
    ) -> list[Candidate]:
        labels = check_labels(labels)
        limit = max(1, min(int(limit), 1000))
        if not labels:
            return []
        # AND-ed to every query below: the caller's labels, the filters, the exclusions
        must: list[str | list[str]] = [label_filter(labels)]
        must.extend(_any_of(name, values) for name, values in check_filters(filters).items())
        if exclude_ids:
            must.append("NOT id IN [" + ", ".join(quote_filter_value(str(i)) for i in exclude_ids) + "]")
        common = {"indexUid": self.index_uid, "limit": limit, "attributesToRetrieve": _RETRIEVED, "locales": LOCALES,
                  "attributesToSearchOn": SEARCHABLE}
        # weight of each query's ranking score for text_score (0: found through any_of only)
        queries: list[tuple[dict[str, Any], float]] = []
        q = sanitize_q(text)
        words = _content_words(q)[:MAX_SIMILAR_WORDS]
        if words:
            queries.append(({**common, "q": q, "filter": must, "showRankingScore": True, "matchingStrategy": "frequency"}, 1.0))
        if len(words) > 1:
            # the frequency strategy keeps the rarest word required, so a document that
            # shares only another word would be missed: one query per word (any-word
            # match, as the protocol asks), its score weighted by the share of words
            queries.extend(
                ({**common, "q": word, "filter": must, "showRankingScore": True, "matchingStrategy": "frequency"}, 1.0 / len(words))
                for word in words
            )
        ors: list[str] = []
        for name, values in (any_of or {}).items():
            if name not in FACETS:
                raise ValueError(f"Unbekannte Facette: {name}")
            ors.extend(f"{name} = {quote_filter_value(str(v))}" for v in values)
        if ors:
            queries.append(({**common, "q": "", "filter": [ors, *must]}, 0.0))
        if not queries:
            return []
        await self._ensure_prepared()
        response = await self._post("multi-search", {"queries": [body for body, _ in queries]})
        found: dict[str, Candidate] = {}
        for (_, weight), res in zip(queries, response.get("results") or [], strict=True):
            for raw in res.get("hits") or []:
                doc = {k: v for k, v in raw.items() if not k.startswith("_") and k != "texts"}
                score = float(raw.get("_rankingScore") or 0.0) * weight
                key = str(doc.get("id"))
                if key not in found or found[key].text_score < score:
                    found[key] = Candidate(document=doc, text_score=score)
        ranked = sorted(found.values(), key=lambda c: -c.text_score)
        return ranked[:limit]

    async def health(self) -> bool:
        try:
            health = await self.client.health()
        except Exception as exc:
            raise SearchError(f"Meilisearch nicht erreichbar: {type(exc).__name__}: {exc}") from exc
        if health.status != "available":
            raise SearchError(f"Meilisearch meldet Status {health.status}")
        return True

    async def close(self) -> None:
        await self.client.aclose()


__all__ = [
    "SETTINGS_VERSION",
    "MeiliBackend",
    "build_filter",
    "index_settings",
    "query_parts",
    "quote_filter_value",
    "rarest_first",
    "sanitize_q",
]
