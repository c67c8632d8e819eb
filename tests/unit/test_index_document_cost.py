"""What keeps building a search document cheap for the sync worker (issue 10's import rate), with the same result:

* The Tantivy document's reversed stems (`all_rev`) are exactly the stems an analysis of each text part gives, from
  one analysis of the words the backend has not seen before (a word's stems are remembered).
* Suspended compounds: the full pattern is tried only at the words that can reach a connective ("- und"), with the
  matches it gives when tried at every word.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest

from catalogue.search import documents
from catalogue.search.tantivy_backend import _ALNUM_RE, _SEPARATOR, TantivyBackend
from tests.contract.test_search_contract import make

TEXTS = [
    "Gebäude-, Energie- und Trinkwassermanagement. Energie- und Wassermanagement; E-Akte und Post.",
    "Die Verwaltung  der Verwaltungen:\n\nBürger*innen-Service (24/7), Öffnungszeiten 8–16 Uhr; www.beispiel.de/a-b?c=d",
    "Straße STRASSE straße, Müll-Abfuhr und Müllabfuhr\tim Amt; " + "x" * 70 + " Aus- und Fortbildung",
    "",
]


class _CountingAnalyzer:
    def __init__(self, analyzer: Any) -> None:
        self.analyzer = analyzer
        self.calls: list[str] = []

    def analyze(self, text: str) -> list[str]:
        self.calls.append(text)
        return list(self.analyzer.analyze(text))


def _reversed_stems(doc: Any) -> str:
    return str(doc.to_dict()["all_rev"][0])


@pytest.mark.parametrize("text", TEXTS)
def test_all_rev_holds_the_stems_of_each_part_from_one_analysis_of_new_words_only(tmp_path: Path, text: str) -> None:
    backend = TantivyBackend(tmp_path / "index")
    counting = _CountingAnalyzer(backend.analyzer)
    backend.analyzer = counting  # type: ignore[assignment]
    d = make("p1", "Energie- und Wassermanagement im Amt", summary=text, text=text * 3, keywords=("Bauhof", "Müll-Abfuhr"))
    doc = backend._tantivy_doc(d)
    assert len(counting.calls) == 1  # the document's distinct words, in one call
    words = counting.calls[0].split(f" {_SEPARATOR} ")
    assert len(words) == len(set(words))
    parts = doc.to_dict()["all"]  # every text part of the document (the catch-all field holds each)
    expected = {s for p in parts for s in counting.analyzer.analyze(p) if _ALNUM_RE.match(s)}  # part by part
    assert len(parts) > 3 and expected
    assert _reversed_stems(doc).split() == [s[::-1] for s in sorted(expected)]
    # the same words again: remembered, nothing analysed; a new word alone is
    counting.calls.clear()
    again = backend._tantivy_doc(make("p2", "Energie- und Wassermanagement im Amt", summary=text, text=text * 3, keywords=("Bauhof", "Müll-Abfuhr")))
    assert counting.calls == [] and _reversed_stems(again) == _reversed_stems(doc)
    backend._tantivy_doc(make("p3", "Energie- und Wassermanagement im Amt", summary=text + " Kläranlagen"))
    assert counting.calls == ["Kläranlagen"]


def test_a_word_that_holds_the_separator_is_analysed_on_its_own(tmp_path: Path) -> None:
    backend = TantivyBackend(tmp_path / "index")
    words = ["Wasserwerke", f"x-{_SEPARATOR}-Straßen", "und", "Gemeindewerke"]
    expected = {s for w in words for s in backend.analyzer.analyze(w) if _ALNUM_RE.match(s)}
    assert backend._word_stems(words) == expected and _SEPARATOR in expected
    assert backend._stem_cache["und"] == ()  # a stop word: no stem


@pytest.mark.parametrize("text", [*TEXTS, "Kinder-, Jugend- oder Familienhilfe", "das Nord- bzw. Südufer", "Haus-\nund Hofgarten"])
def test_suspended_compounds_are_those_of_the_full_pattern(text: str) -> None:
    full: dict[str, None] = {}
    for m in documents._SUSPENDED.finditer(text):
        full.update(dict.fromkeys(documents.suspended_compounds(m.group(0))))
    assert documents.suspended_compounds(text) == list(full)


def test_the_matches_are_those_of_the_full_pattern_tried_everywhere() -> None:
    """Random texts of the pieces the pattern cares about (words, hyphens, commas, spaces, connectives, digits)."""
    rng = random.Random(10)
    pieces = ["Energie", "Wasser", "management", "-", "- ", "-, ", ", ", " ", "\n", "und ", "oder ", "bzw. ", "sowie ", "und",
              "1", "_", ".", "(", "ä", "E", "Aus", "Fort-Bildung", "-und ", "--", " - "]
    found = 0
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 25)))
        want = [(m.span(), m.groups()) for m in documents._SUSPENDED.finditer(text)]
        assert [(m.span(), m.groups()) for m in documents._suspended_matches(text)] == want, text
        found += bool(want)
    assert found > 100


def test_the_full_pattern_is_tried_only_at_the_words_before_a_connective(monkeypatch: pytest.MonkeyPatch) -> None:
    tried: list[int] = []
    pattern = re.compile(documents._SUSPENDED.pattern)

    class Counting:
        def match(self, text: str, pos: int) -> Any:
            tried.append(pos)
            return pattern.match(text, pos)

    monkeypatch.setattr(documents, "_SUSPENDED", Counting())
    assert documents.suspended_compounds("Bauhof und Feuerwehr, E-Akte oder Post, sowie Winter-Dienst " * 20) == []
    assert tried == []
    text = "Viele Worte davor im Satz. Der Landkreis nutzt Landes-, Bundes-  und Eigenmittel"
    assert "Landesmittel" in documents.suspended_compounds(text) and "Bundesmittel" in documents.suspended_compounds(text)
    assert tried and all(text[p:].startswith(("Landes", "Bundes")) for p in tried)
