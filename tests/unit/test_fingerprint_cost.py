"""The content fingerprint (importers/base.py) is computed for every imported record (issue 10's import rate): blanks
are collapsed only in a text that has a run of them, with the fingerprint the line-by-line rule gives."""

from __future__ import annotations

import random
import re
import unicodedata
from typing import Any

import pytest

from importers import base

BLANKS = re.compile(r"[ \t]+")
EMPTY_LINES = re.compile(r"\n{3,}")


def _reference(text: str) -> str:
    """The rule, line by line: runs of spaces and tabs are one space, lines stripped, at most one empty line."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n")
    lines = [BLANKS.sub(" ", line).strip() for line in text.split("\n")]
    return EMPTY_LINES.sub("\n\n", "\n".join(lines)).strip()


def test_texts_normalise_as_the_line_by_line_rule_says() -> None:
    rng = random.Random(4)
    pieces = [" ", "  ", "\t", "\n", "\r\n", "\n\n\n", "a", "Ä", "e\u0301", "\u00a0", "\u2009", " \t ", "\u3000", "\x0b", "\x0c", "\u2028", "\r"]
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 15)))
        assert base._normalise_for_fingerprint(text) == _reference(text), repr(text)


def test_blanks_are_collapsed_only_where_there_is_a_run_of_them(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    class Counting:
        def sub(self, repl: str, text: str) -> str:
            seen.append(text)
            return BLANKS.sub(repl, text)

    monkeypatch.setattr(base, "_BLANKS", Counting())
    record: dict[str, Any] = {"title": "Gemeinsamer Bauhof", "summary": "Zwei Zeilen\nohne Lücken", "keywords": ["Bauhof"]}
    before = base.fingerprint(record)
    assert seen == []
    assert base.fingerprint({**record, "title": "Gemeinsamer  Bauhof"}) == before and seen == ["Gemeinsamer  Bauhof"]
