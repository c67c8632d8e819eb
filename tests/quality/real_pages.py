"""Scoring the text importer on real pages: which stated facts land in the right structured fields.

Reads a development set laid out as ../shared/eval/dev/ is (README.md,
expected.json, pages/*.txt); nothing of it is copied into the repository.
Run `python -m tests.quality.real_pages [DIR]` to see every miss.

What counts as right, per kind of fact (only facts a page states count;
`null` in expected.json is no fact):

* title: the words of the stated title (folded, without articles and
  prepositions; "Touristik Service" matches "Touristikservice", plural and
  inflected forms match their stem) are at least 75 % in the importer's
  title, and at least 40 % of the title's words are the stated ones (a
  whole paragraph is no title). The README marks six titles as built from
  the text's words; for them 50 % and 25 % are enough.
* lead: the lead's name, without its kind word and any parenthesis,
  equals the stated one; a stated kind ("Landkreis X", "Stadt X") must fit
  the importer's kind.
* municipalities: each stated name is the lead or one of the participating
  municipalities (compared like the lead).
* state, population, since_year: equal. contact email: equal ignoring case;
  phone: the same digits.
* fields_of_action: each stated field is among the importer's.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catalogue.gazetteer import base_name, name_key

DEV_SET = Path(os.environ.get("LEUCHTTURM_EVAL_DEV") or Path(__file__).resolve().parents[3] / "shared" / "eval" / "dev")
KINDS = ("title", "lead", "municipalities", "state", "population", "contact_email", "contact_phone", "since_year", "fields_of_action")
STOPWORDS = {
    "der", "die", "das", "den", "dem", "des", "ein", "eine", "einer", "eines", "einem", "einen", "und", "oder", "im", "in",
    "am", "an", "zu", "zur", "zum", "von", "vom", "fuer", "mit", "bei", "auf", "aus", "als", "ueber", "auch",
}
KIND_WORDS = {
    "landkreis": "kreis", "kreis": "kreis", "stadt": "town", "kreisstadt": "town", "gemeinde": "gemeinde",
    "amt": "verband", "verbandsgemeinde": "verband", "samtgemeinde": "verband", "verwaltungsgemeinschaft": "verband",
    "zweckverband": "zweckverband",
}


def words(text: str) -> list[str]:
    return [w for w in name_key(text).split() if w not in STOPWORDS and len(w) > 1]


def _word_match(a: str, b: str) -> bool:
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return len(short) >= 5 and long_.startswith(short) and len(long_) - len(short) <= 3


def _covered(target: list[str], other: list[str]) -> int:
    """How many words of `target` appear in `other` (also as two of them joined: "touristik service")."""
    joined = {other[i] + other[i + 1] for i in range(len(other) - 1)}
    target_joined = {target[i] + target[i + 1]: (i, i + 1) for i in range(len(target) - 1)}
    hits = set()
    for i, w in enumerate(target):
        if any(_word_match(w, o) for o in other) or any(_word_match(w, j) for j in joined):
            hits.add(i)
    for j, (i1, i2) in target_joined.items():
        if any(_word_match(j, o) for o in other):
            hits |= {i1, i2}
    return len(hits)


def title_ok(expected: str, got: str, fuzzy: bool) -> bool:
    e, g = words(expected), words(got)
    if not e or not g:
        return False
    recall = _covered(e, g) / len(e)
    precision = _covered(g, e) / len(g)
    return (recall >= 0.5 and precision >= 0.25) if fuzzy else (recall >= 0.75 and precision >= 0.4)


def _bare(name: str) -> tuple[set[str], str | None]:
    """(name keys without kind word – with and without a qualifier –, kind class stated in front or None)."""
    key = name_key(name or "")
    kind = None
    for word, cls in sorted(KIND_WORDS.items(), key=lambda kv: -len(kv[0])):
        if key.startswith(word + " "):
            key, kind = key[len(word) + 1 :], cls
            name = re.sub(r"^\S+\s+", "", name.strip())
            break
    keys = {key, name_key(re.sub(r"\([^)]*\)", " ", name or ""))}
    qualifier_free = base_name(name or "")
    if qualifier_free:
        keys.add(name_key(qualifier_free))
    return {k for k in keys if k}, kind


def _org_class(org: dict[str, Any]) -> str | None:
    kind = (org.get("kind") or "").lower()
    return {"kreis": "kreis", "stadt": "town", "gemeinde": "gemeinde", "amt": "verband", "verbandsgemeinde": "verband",
            "zweckverband": "zweckverband", "stadtstaat": "town"}.get(kind)


def org_matches(expected: str, org: dict[str, Any]) -> bool:
    e_keys, e_kind = _bare(expected)
    g_keys, g_kind = _bare(org.get("name") or "")
    if not e_keys & g_keys:
        return False
    if e_kind is None:
        return True
    got = _org_class(org) or g_kind
    if got is None:
        return True
    if (e_kind == "town" and got == "gemeinde") or (e_kind == "gemeinde" and got == "town"):
        return True  # "Gemeinde" and "Stadt" are both Gemeinden of the register
    return e_kind == got


def digits(text: str | None) -> str:
    return re.sub(r"\D", "", text or "")


@dataclass
class Score:
    found: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    total: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    extra: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # values given beyond the stated ones
    misses: list[str] = field(default_factory=list)

    def add(self, kind: str, ok: bool, note: str) -> None:
        self.total[kind] += 1
        if ok:
            self.found[kind] += 1
        else:
            self.misses.append(note)

    @property
    def overall(self) -> float:
        total = sum(self.total.values())
        return sum(self.found.values()) / total if total else 0.0

    def table(self) -> str:
        lines = [f"{'kind':<18} {'right':>6} {'stated':>7} {'share':>7}"]
        for kind in KINDS:
            t = self.total.get(kind, 0)
            if t:
                lines.append(f"{kind:<18} {self.found.get(kind, 0):>6} {t:>7} {self.found.get(kind, 0) / t:>7.0%}")
        lines.append(f"{'overall':<18} {sum(self.found.values()):>6} {sum(self.total.values()):>7} {self.overall:>7.0%}")
        for kind, n in self.extra.items():
            lines.append(f"(beyond the stated facts: {n} further {kind})")
        return "\n".join(lines)


def fuzzy_titles(readme: str) -> set[str]:
    """The page numbers whose titles the README calls built from the text's words."""
    m = re.search(r"Pages ((?:\d{2}(?:, | and )?)+) have neither", readme)
    return set(re.findall(r"\d{2}", m.group(1))) if m else set()


def score_page(expected: dict[str, Any], content: dict[str, Any], score: Score, fuzzy: set[str]) -> None:
    page = Path(expected["file"]).name
    number = page[:2]
    orgs = [o for o in [content.get("lead"), *(content.get("municipalities") or [])] if o]
    if expected.get("title"):
        got = content.get("title") or ""
        score.add("title", title_ok(expected["title"], got, number in fuzzy), f"{page}: title {got!r} ≠ {expected['title']!r}")
    if expected.get("lead_body"):
        lead = content.get("lead") or {}
        score.add("lead", bool(lead) and org_matches(expected["lead_body"], lead), f"{page}: lead {lead.get('name')!r} ≠ {expected['lead_body']!r}")
    stated = expected.get("municipalities") or []
    for name in stated:
        score.add("municipalities", any(org_matches(name, o) for o in orgs), f"{page}: municipality {name!r} missing")
    if stated:
        score.extra["municipalities"] += sum(1 for o in orgs if not any(org_matches(n, o) for n in stated))
    if expected.get("state"):
        score.add("state", content.get("state") == expected["state"], f"{page}: state {content.get('state')!r} ≠ {expected['state']!r}")
    if expected.get("population") is not None:
        score.add("population", content.get("population") == expected["population"], f"{page}: population {content.get('population')!r} ≠ {expected['population']}")
    contact = content.get("contact") or {}
    if expected.get("contact_email"):
        score.add("contact_email", (contact.get("email") or "").lower() == expected["contact_email"].lower(), f"{page}: email {contact.get('email')!r} ≠ {expected['contact_email']!r}")
    if expected.get("contact_phone"):
        score.add("contact_phone", digits(contact.get("phone")) == digits(expected["contact_phone"]), f"{page}: phone {contact.get('phone')!r} ≠ {expected['contact_phone']!r}")
    if expected.get("since_year") is not None:
        score.add("since_year", content.get("collaboration_since") == expected["since_year"], f"{page}: since {content.get('collaboration_since')!r} ≠ {expected['since_year']}")
    got_fields = set(content.get("fields_of_action") or [])
    for foa in expected.get("fields_of_action") or []:
        score.add("fields_of_action", foa in got_fields, f"{page}: field of action {foa!r} missing (got {sorted(got_fields)})")
    score.extra["fields_of_action"] += len(got_fields - set(expected.get("fields_of_action") or []))


def evaluate(directory: Path = DEV_SET) -> Score:
    """Import every page of the set as an editor would (a text file, format detected) and score it."""
    from importers.base import Source
    from importers.registry import parse_source

    expected_all = json.loads((directory / "expected.json").read_text(encoding="utf-8"))
    readme = (directory / "README.md").read_text(encoding="utf-8") if (directory / "README.md").exists() else ""
    fuzzy = fuzzy_titles(readme)
    score = Score()
    for expected in expected_all:
        path = directory / expected["file"]
        _, records = parse_source(Source(path.name, path.read_bytes()), "auto")
        content = records[0].content if records else {}
        score_page(expected, content, score, fuzzy)
    return score


if __name__ == "__main__":
    result = evaluate(Path(sys.argv[1]) if len(sys.argv) > 1 else DEV_SET)
    print("\n".join(result.misses))  # noqa: T201 - `python -m tests.quality.real_pages` lists the misses
    print(result.table())  # noqa: T201 - …
