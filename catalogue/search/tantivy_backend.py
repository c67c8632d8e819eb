"""Embedded search with Tantivy (the `tantivy` Python package), on disk.

Layout under the backend's root directory::

    CURRENT             name of the live index directory (switched atomically)
    v<schema>-<stamp>/  one Tantivy index; a rebuild writes a fresh one

Analysis ("de" analyser): simple tokenizer, lowercase, German stop words,
ASCII folding (ä -> a, ß -> ss) and the Snowball German stemmer, which also
maps "oe"/"ue"/"ae" spellings ("Hoexter" and "Höxter" both become "hoxt").

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
about two thirds of longer queries). Filters are term queries on raw,
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
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import tantivy

from catalogue.fields import Priority
from catalogue.search import documents
from catalogue.search.base import (
    SORT_FIELDS,
    Candidate,
    DocumentSource,
    Hit,
    ProgressCallback,
    SearchBackend,
    SearchError,
    SearchQuery,
    SearchResult,
    Sort,
    check_filters,
    check_labels,
)
from catalogue.search.documents import FACETS, FILTER_ONLY, LABELS_FIELD

log = logging.getLogger(__name__)

SCHEMA_REVISION = 1  # raise when analysis or layout change in ways the field lists below do not show
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
INTEGER_FIELDS = (*documents.RANGES, *documents.TIMESTAMPS)  # fast fields: ranges and sorts
RAW_FILTERS = (*FILTER_ONLY, LABELS_FIELD)  # the editorial state, owner and permission labels: filters only


def _schema_version() -> str:
    """The index layout's version: a field added to or removed from the registry's search roles gives a new one,
    so an index built for other fields is not opened but rebuilt (`needs_reindex`)."""
    layout = json.dumps([SCHEMA_REVISION, ANALYZER, list(FIELD_BOOSTS), list(STORED_TEXT), list(FACETS), list(RAW_FILTERS), list(INTEGER_FIELDS),
                         list(documents.EDITORIAL_KEYS)])  # a new key of the stored document needs the documents rebuilt
    return f"{SCHEMA_REVISION}.{hashlib.sha256(layout.encode()).hexdigest()[:10]}"


SCHEMA_VERSION = _schema_version()
COMPOUND_BOOST = 0.6
SPLIT_BOOST = 0.8
FUZZY_BOOST = 0.5
SYNONYM_BOOST = 0.9
PHRASE_BOOST = 1.5

MAX_WORDS = 16
MAX_EXPANSIONS = 40
MIN_COMPOUND_STEM = 4
MIN_SPLIT_STEM = 7
MIN_PART = 3

_WORD_RE = re.compile(r"\w+(?:[-‐‑'’]\w+)*")
_ALNUM_RE = re.compile(r"^[0-9a-z]+$")

WRITER_HEAP = 64_000_000
BATCH = 500


def build_analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(60))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.stopword("german"))
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


@lru_cache(maxsize=4096)
def _synonyms(phrase: str) -> tuple[str, ...]:
    from catalogue.synonyms import synonyms_for

    return tuple(s for s in synonyms_for(phrase) if s.casefold() != phrase.casefold())


# ------------------------------------------------------------------ query planning


@dataclass
class _Word:
    raw: str
    stems: list[str]
    alternatives: list[tantivy.Query] = field(default_factory=list)


@dataclass
class _Plan:
    text_query: tantivy.Query | None  # None: no text given (list everything)
    highlight_terms: set[str]


class _QueryPlanner:
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

    def _expansions(self, searcher: tantivy.Searcher, stem: str) -> list[str]:
        """Indexed terms of which `stem` is the first or the last part."""
        found: dict[str, int] = {}
        for term, count in searcher.terms_with_prefix("all", stem, limit=400):
            if len(term) >= len(stem) + MIN_PART:
                found[term] = max(found.get(term, 0), count)
        for rterm, count in searcher.terms_with_prefix("all_rev", stem[::-1], limit=400):
            if len(rterm) >= len(stem) + MIN_PART:
                term = rterm[::-1]
                found[term] = max(found.get(term, 0), count)
        ranked = sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))
        return [t for t, _ in ranked[:MAX_EXPANSIONS]]

    def _split(self, searcher: tantivy.Searcher, stem: str) -> tuple[str, str] | None:
        """Split a compound query word into two indexed terms, the most balanced split first.

        A split only counts when each part is more frequent than the whole
        word (a real compound is rarer than its parts): "breitbandausbau" ->
        "breitband" + "ausbau", but not "breitband" -> "breit" + "band".
        """
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

    def words(self, q: str) -> list[_Word]:
        return [_Word(raw=w.casefold(), stems=self.analyzer.analyze(w)) for w in _WORD_RE.findall(q)[:MAX_WORDS]]

    def _add_synonyms(self, words: list[_Word], highlight: set[str]) -> None:
        try:
            _synonyms("")
        except ImportError:  # pragma: no cover - catalogue.synonyms missing
            return
        n = len(words)
        for i in range(n):
            for length in (3, 2, 1):
                if i + length > n:
                    continue
                phrase = " ".join(w.raw for w in words[i : i + length])
                syns = _synonyms(phrase)
                if not syns:
                    continue
                alts: list[tantivy.Query] = []
                for syn in syns:
                    stems = [s for s in self.analyzer.analyze(syn) if _ALNUM_RE.match(s)]
                    if not stems:
                        continue
                    highlight.update(stems)
                    alts.append(self._stems_query("all", stems, SYNONYM_BOOST, slop=1))
                    alts.append(self._stems_query("title", stems, SYNONYM_BOOST * 2, slop=1))
                for w in words[i : i + length]:
                    w.alternatives.extend(alts)

    def word_query(self, searcher: tantivy.Searcher, word: _Word, highlight: set[str], *, typo: bool = True) -> tantivy.Query | None:
        stems = [s for s in word.stems if _ALNUM_RE.match(s)]
        clauses: list[tantivy.Query] = []
        if stems:
            highlight.update(stems)
            for name, boost in FIELD_BOOSTS.items():
                clauses.append(self._stems_query(name, stems, boost))
        if len(stems) == 1:
            stem = stems[0]
            exists = searcher.doc_freq("all", stem) > 0
            expansions = self._expansions(searcher, stem) if len(stem) >= MIN_COMPOUND_STEM else []
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
                    both = tantivy.Query.boolean_query(
                        [(tantivy.Occur.Must, self._term("all", split[0])), (tantivy.Occur.Must, self._term("all", split[1]))]
                    )
                    clauses.append(tantivy.Query.boost_query(both, SPLIT_BOOST))
            if typo and not exists and len(word.raw) >= 5:
                distance = 2 if len(word.raw) >= 9 else 1
                fuzzy = tantivy.Query.fuzzy_term_query(self.schema, "all", stem, distance=distance, transposition_cost_one=True)
                clauses.append(tantivy.Query.boost_query(fuzzy, FUZZY_BOOST))
        clauses.extend(word.alternatives)
        if not clauses:
            return None
        if len(clauses) == 1:
            return clauses[0]
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, c) for c in clauses])

    def plan(self, searcher: tantivy.Searcher, q: str, *, any_word: bool = False) -> _Plan:
        highlight: set[str] = set()
        if not q.strip():
            return _Plan(None, highlight)
        words = self.words(q)
        self._add_synonyms(words, highlight)
        word_queries: list[tantivy.Query] = []
        optional: list[tantivy.Query] = []  # bare numbers ("OZG 2.0") add score, never exclude
        for w in words:
            wq = self.word_query(searcher, w, highlight)
            if wq is None:
                continue
            is_number = bool(w.stems) and all(s.isdigit() for s in w.stems) and not w.alternatives
            (optional if is_number else word_queries).append(wq)
        if not word_queries:
            word_queries, optional = optional, []
        if not word_queries:
            return _Plan(tantivy.Query.empty_query(), highlight)
        n = len(word_queries)
        if any_word:
            need = 1
        elif n <= 2:
            need = n
        else:
            need = n - n // 3
        text_q = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, wq) for wq in word_queries], minimum_number_should_match=need
        )
        if optional:
            text_q = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, text_q), *((tantivy.Occur.Should, o) for o in optional)]
            )
        single = [w.stems[0] for w in words if len(w.stems) == 1 and _ALNUM_RE.match(w.stems[0])]
        if len(single) >= 2 and not any_word:
            bonus = tantivy.Query.boost_query(
                tantivy.Query.phrase_query(self.schema, "all", list[str | tuple[int, str]](single), slop=2), PHRASE_BOOST
            )
            text_q = tantivy.Query.boolean_query([(tantivy.Occur.Must, text_q), (tantivy.Occur.Should, bonus)])
        return _Plan(text_q, highlight)


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


class _View:
    """A searcher snapshot, the query plans made against it (plans use its term
    dictionary) and the stored documents decoded from it (a document address
    is stable within one snapshot)."""

    __slots__ = ("docs", "plans", "searcher")

    def __init__(self, searcher: tantivy.Searcher) -> None:
        self.searcher = searcher
        self.plans: dict[tuple[str, bool], _Plan] = {}
        self.docs: dict[tuple[int, int], tuple[dict[str, Any], str]] = {}

    def stored(self, addr: tantivy.DocAddress) -> tuple[dict[str, Any], str]:
        """The payload and the long texts of a hit, decoded once per snapshot."""
        key = (addr.segment_ord, addr.doc)
        found = self.docs.get(key)
        if found is None:
            doc = self.searcher.doc(addr)
            payload = doc.get_first("payload")
            assert payload is not None  # every indexed document has one
            found = (json.loads(payload), doc.get_first("texts") or "")
            if len(self.docs) >= MAX_CACHED_DOCS:
                self.docs.clear()
            self.docs[key] = found
        return found


@dataclass
class _Live:
    path: Path
    index: tantivy.Index
    writer: tantivy.IndexWriter | None  # opened on the first write (one writer per index directory)
    view: _View


class TantivyBackend(SearchBackend):
    """The embedded search backend; see the module docstring."""

    name = "tantivy"

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.schema = build_schema()
        self.analyzer = build_analyzer()
        self.planner = _QueryPlanner(self.schema, self.analyzer)
        self._write_lock = threading.RLock()
        self._rebuild_lock = asyncio.Lock()
        self._rebuild_log: list[tuple[str, Any]] | None = None
        self.needs_reindex = False
        self._live = self._open_current()

    # -- index directories

    def _open_index(self, path: Path) -> tantivy.Index:
        path.mkdir(parents=True, exist_ok=True)
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

    def _open_current(self) -> _Live:
        pointer = self.root / POINTER
        name = pointer.read_text(encoding="utf-8").strip() if pointer.exists() else ""
        path = self.root / name if name else None
        index: tantivy.Index | None = None
        if path is not None and name.startswith(f"v{SCHEMA_VERSION}-") and path.is_dir():
            try:
                index = self._open_index(path)
            except Exception:
                log.exception("Suchindex %s nicht lesbar, lege einen leeren an", path)
                index = None
        if index is None:
            # first start, an index of an older schema or a broken one: start
            # empty; `needs_reindex` tells the application to rebuild from MongoDB
            self.needs_reindex = bool(name)
            path = self._new_dir()
            index = self._open_index(path)
            self._write_pointer(path.name)
        assert path is not None
        index.reload()
        live = _Live(path, index, None, _View(index.searcher()))
        self._cleanup(keep=path)
        return live

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
        stems: set[str] = set()
        for p in parts:
            stems.update(s for s in self.analyzer.analyze(p) if _ALNUM_RE.match(s))
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

    def _apply(self, writer: tantivy.IndexWriter, ops: Iterable[tuple[str, Any]]) -> None:
        for op, payload in ops:
            if op == "upsert":
                for d in payload:
                    writer.delete_documents_by_term("id", str(d["id"]))
                    writer.add_document(self._tantivy_doc(d))
            else:
                for doc_id in payload:
                    writer.delete_documents_by_term("id", str(doc_id))

    def _write(self, op: str, payload: list[Any]) -> None:
        with self._write_lock:
            live = self._live
            if live.writer is None:
                live.writer = self._new_writer(live.index)
            try:
                self._apply(live.writer, [(op, payload)])
                live.writer.commit()
            except Exception as exc:
                live.writer.rollback()
                raise SearchError(f"Suchindex konnte nicht geschrieben werden: {exc}") from exc
            live.index.reload()
            live.view = _View(live.index.searcher())
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
            new_live = _Live(path, index, writer, _View(index.searcher()))
            self._write_pointer(path.name)
            old = self._live
            self._live = new_live
            self.needs_reindex = False
        del old
        self._cleanup(keep=path)

    # -- queries

    def _any_term(self, name: str, values: Sequence[str]) -> tantivy.Query:
        """Documents with any of `values` in the raw field `name` (no values: none)."""
        if not values:
            return tantivy.Query.empty_query()
        terms = [tantivy.Query.term_query(self.schema, name, str(v)) for v in values]
        return terms[0] if len(terms) == 1 else tantivy.Query.boolean_query([(tantivy.Occur.Should, t) for t in terms])

    def _filter_clauses(self, query: SearchQuery, labels: tuple[str, ...], skip: str | None = None) -> list[tantivy.Query]:
        clauses: list[tantivy.Query] = [self._any_term(LABELS_FIELD, labels)]
        for name, values in query.filters.items():
            if name == skip:
                continue
            clauses.append(self._any_term(name, values))
        for name, lo, hi in (
            ("population", query.population_min, query.population_max),
            ("collaboration_since", query.since_min, query.since_max),
        ):
            if lo is not None or hi is not None:
                clauses.append(
                    tantivy.Query.range_query(self.schema, name, tantivy.FieldType.Integer, lower_bound=lo, upper_bound=hi)
                )
        return clauses

    @staticmethod
    def _combine(text_q: tantivy.Query | None, filters: list[tantivy.Query]) -> tantivy.Query:
        if not filters:
            return text_q if text_q is not None else tantivy.Query.all_query()
        subs: list[tuple[tantivy.Occur, tantivy.Query]] = []
        if text_q is not None:
            subs.append((tantivy.Occur.Must, text_q))
        for f in filters:
            subs.append((tantivy.Occur.Must, tantivy.Query.const_score_query(f, 0.0)))
        return tantivy.Query.boolean_query(subs)

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
            aggs = {name: {"terms": {"field": name, "size": 200}} for name in names}
            out = searcher.aggregate(q, aggs)
            for name in names:
                buckets = (out.get(name) or {}).get("buckets") or []
                result[name] = {str(b["key"]): int(b["doc_count"]) for b in buckets}
        return result

    def _plan(self, view: _View, q: str, *, any_word: bool) -> _Plan:
        key = (q, any_word)
        plan = view.plans.get(key)
        if plan is None:
            plan = self.planner.plan(view.searcher, q, any_word=any_word)
            if len(view.plans) >= MAX_CACHED_PLANS:
                view.plans.clear()
            view.plans[key] = plan
        return plan

    def search_sync(self, query: SearchQuery, *, labels: Sequence[str]) -> SearchResult:
        """The synchronous search (used by `search`, and by benchmarks)."""
        labels = check_labels(labels)
        view = self._live.view
        searcher = view.searcher
        plan = self._plan(view, query.q, any_word=False)
        main_q = self._combine(plan.text_query, self._filter_clauses(query, labels))
        kwargs: dict[str, Any] = {}
        sort = query.sort
        if sort is Sort.RELEVANCE and plan.text_query is None:
            sort = Sort.NEWEST
        if sort in SORT_FIELDS:
            field_name, descending = SORT_FIELDS[sort]
            kwargs = {"order_by_field": field_name, "order": tantivy.Order.Desc if descending else tantivy.Order.Asc}
        res = searcher.search(main_q, limit=query.per_page, offset=query.offset, count=True, **kwargs)
        hits = self._hits(view, res.hits, plan, scored=not kwargs)
        facets = self._facet_counts(searcher, query, labels, plan.text_query, main_q) if query.facets else {}
        total = int(res.count or 0)  # type: ignore[attr-defined]  # tantivy's type stub lacks SearchResult.count
        return SearchResult(hits=hits, total=total, page=query.page, per_page=query.per_page, facets=facets)

    def _hits(self, view: _View, raw_hits: list[tuple[Any, tantivy.DocAddress]], plan: _Plan, *, scored: bool) -> list[Hit]:
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
                )
            )
        return hits

    async def search(self, query: SearchQuery, *, labels: Sequence[str]) -> SearchResult:
        try:
            return self.search_sync(query, labels=labels)
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
    ) -> list[Candidate]:
        labels = check_labels(labels)
        filters = check_filters(filters)
        view = self._live.view
        searcher = view.searcher
        plan = self._plan(view, text, any_word=True)
        either: list[tuple[tantivy.Occur, tantivy.Query]] = []
        if plan.text_query is not None:
            either.append((tantivy.Occur.Should, plan.text_query))
        for name, values in (any_of or {}).items():
            if name not in FACETS:
                raise ValueError(f"Unbekannte Facette: {name}")
            for v in values:
                either.append((tantivy.Occur.Should, tantivy.Query.const_score_query(tantivy.Query.term_query(self.schema, name, str(v)), 0.0)))
        if not either or not labels:
            return []
        # (text OR any_of) AND labels AND filters AND NOT excluded; only the text scores
        subs: list[tuple[tantivy.Occur, tantivy.Query]] = [(tantivy.Occur.Must, tantivy.Query.boolean_query(either))]
        subs.append((tantivy.Occur.Must, tantivy.Query.const_score_query(self._any_term(LABELS_FIELD, labels), 0.0)))
        for name, values in filters.items():
            subs.append((tantivy.Occur.Must, tantivy.Query.const_score_query(self._any_term(name, values), 0.0)))
        for doc_id in exclude_ids:
            subs.append((tantivy.Occur.MustNot, tantivy.Query.term_query(self.schema, "id", str(doc_id))))
        res = searcher.search(tantivy.Query.boolean_query(subs), limit=max(1, min(limit, 1000)), count=False)
        out: list[Candidate] = []
        for score, addr in res.hits:
            payload, _texts = view.stored(addr)
            out.append(Candidate(document=dict(payload), text_score=max(0.0, float(score))))
        return out

    async def similar_candidates(
        self,
        text: str,
        *,
        labels: Sequence[str],
        any_of: Mapping[str, Sequence[str]] | None = None,
        filters: Mapping[str, Sequence[str]] | None = None,
        exclude_ids: Sequence[str] = (),
        limit: int = 100,
    ) -> list[Candidate]:
        return self.similar_candidates_sync(
            text, labels=labels, any_of=any_of, filters=filters, exclude_ids=exclude_ids, limit=limit
        )

    async def health(self) -> bool:
        try:
            _ = self._live.view.searcher.num_docs
        except Exception as exc:  # pragma: no cover - a broken index
            raise SearchError(f"Suchindex nicht lesbar: {exc}") from exc
        return True

    def document_count(self) -> int:
        return int(self._live.view.searcher.num_docs)

    async def close(self) -> None:
        with self._write_lock, contextlib.suppress(Exception):  # already closed
            if self._live.writer is not None:
                self._live.writer.wait_merging_threads()
                self._live.writer = None


__all__ = ["SCHEMA_VERSION", "TantivyBackend", "build_analyzer", "build_schema"]
