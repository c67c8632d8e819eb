"""Fitting the profile overview onto one A4 page: texts shortened at sentence ends.

The one-page PDF holds every section, but a long text is cut after the last
whole sentence that fits its budget and ends with "weiter im Online-Profil"
(a link to the profile). Python prepares a short ladder of *levels*, each a
complete set of shortened sections (level 0 the longest), and picks the
longest level whose estimated height fits (`estimate_level`); the page is laid
out once at that level and again one level shorter only when it overflows
(catalogue/pdf/render.py). Given the whole ladder, the Typst template measures
the levels instead: the reference the estimate is calibrated against. The same
input always gives the same level, so the output stays reproducible.

Lists that could make the fixed part of the page grow without bound (up to
50 municipalities, partners, keywords and links) are capped here too, each
with "und N weitere".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any

MORE_TEXT = "weiter im Online-Profil"

# Characters per section at each level, before the section's weight; the last level keeps a
# sentence of the sections that matter most and drops the others.
LEVEL_BUDGETS: tuple[int, ...] = (2400, 1700, 1250, 950, 720, 560, 440, 340, 260, 200, 150, 110, 80, 0)
# How much of the budget a section gets, by its field path (the others get DEFAULT_WEIGHT).
WEIGHTS: Mapping[str, float] = {"goal": 1.0, "results": 1.0, "funding": 0.7, "transferability": 1.0}
DEFAULT_WEIGHT = 0.6
# Below this many characters a section of default weight is left out (the link and QR code lead to it).
MIN_OPTIONAL = 140
# A first sentence longer than this is cut at a word and ends with "…".
MIN_FIRST = 60

# More characters of text than fit between the fixed parts of the emptiest page: such levels
# are not even tried (measured on the demo set: the level printed holds 1,000 to 1,900).
MAX_PAGE_TEXT = 2400
# The template's search starts at the first level with at most this many characters
# (usually one more measurement tells it is the longest that fits).
START_TEXT = 1500

# Caps of the lists in the page's fixed part.
MAX_FACT_CHARS = 220
MAX_NAME_CHARS = 90
MAX_LINKS = 3
MAX_LINE_CHARS = 60

# Abbreviations whose full stop does not end a sentence (lower case, without the dot).
_ABBREVIATIONS = frozenset(
    "z b u a o ä s v d h i e bzw ca ggf vgl nr abs art bspw evtl inkl sog usw etc str dr prof gem mio mrd tel "
    "jh jhd mind max min ff bzgl zzgl insb ehem gegr".split()
)
_SENTENCE_END = re.compile(r"[.!?…](?:[\"'“”»«)\]]*)(?=\s|$)")


@functools.lru_cache(maxsize=512)
def sentence_ends(text: str) -> tuple[int, ...]:
    """Offsets just after each sentence end in `text` (not after abbreviations or ordinal numbers).

    Cached: every level of the ladder cuts the same texts (section_levels)."""
    ends = []
    for m in _SENTENCE_END.finditer(text):
        if text[m.start()] == ".":
            start = m.start()  # the word before the full stop (what `\w+` matches), found backwards
            while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
                start -= 1
            word = text[start : m.start()]
            if word and (word.lower() in _ABBREVIATIONS or word.isdigit()):
                continue
        ends.append(m.end())
    return tuple(ends)


def _cut_runs(runs: Sequence[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """The runs' first `limit` characters (formatting kept)."""
    out: list[dict[str, Any]] = []
    left = limit
    for run in runs:
        if left <= 0:
            break
        piece = dict(run, text=run["text"][:left])
        left -= len(run["text"])
        out.append(piece)
    if out:
        out[-1]["text"] = out[-1]["text"].rstrip()
    return [r for r in out if r["text"]]


def _runs_text(runs: Sequence[dict[str, Any]]) -> str:
    return "".join(r["text"] for r in runs)


def _shorten_runs(runs: Sequence[dict[str, Any]], budget: int, *, first: bool) -> list[dict[str, Any]] | None:
    """The runs cut after the last sentence end within `budget`; None when no sentence fits
    (the first block of a section is then cut at a word with "…")."""
    text = _runs_text(runs)
    ends = [e for e in sentence_ends(text) if e <= budget]
    if ends:
        return _cut_runs(runs, ends[-1])
    if not first or budget < MIN_FIRST:
        return None
    cut = text[:budget].rsplit(" ", 1)[0].rstrip(",;:–- ")
    kept = _cut_runs(runs, len(cut))
    if kept:
        kept[-1]["text"] += " …"
    return kept


def _block_length(block: Mapping[str, Any]) -> int:
    if block["type"] == "list":
        return sum(len(_runs_text(i["runs"])) + 4 for i in block["items"])
    if block["type"] == "table":
        return sum(len(c) + 3 for row in block["rows"] for c in row) + 40 * len(block["rows"])
    return len(_runs_text(block["runs"]))


def shorten_blocks(
    blocks: Sequence[dict[str, Any]], budget: int, lengths: Sequence[int] | None = None
) -> tuple[list[dict[str, Any]], bool]:
    """At most about `budget` characters of the blocks, cut at a sentence end; (blocks, shortened?).

    `lengths` are the blocks' `_block_length`s when the caller has them (`section_levels`
    shortens the same blocks once per level)."""
    if lengths is None:
        lengths = [_block_length(b) for b in blocks]
    if sum(lengths) <= budget:
        return list(blocks), False  # shared, never changed: only cut blocks (copies) get the link
    # Kept blocks are shallow copies: only `more_link` changes a block (it sets the last one's
    # "runs"), and cut runs are new dicts (`_cut_runs`), so the parsed blocks stay untouched.
    kept: list[dict[str, Any]] = []
    left = budget
    for block, size in zip(blocks, lengths, strict=True):
        if size <= left:
            kept.append(dict(block))
            left -= size
            continue
        first = not kept
        if block["type"] == "paragraph":
            runs = _shorten_runs(block["runs"], left, first=first)
            if runs:
                kept.append(dict(block, runs=runs))
        elif block["type"] == "list":
            items = []
            for item in block["items"]:
                length = len(_runs_text(item["runs"])) + 4
                if length <= left:
                    items.append(item)
                    left -= length
                    continue
                runs = _shorten_runs(item["runs"], left, first=first and not items)
                if runs:
                    items.append(dict(item, runs=runs))
                break
            if items:
                kept.append(dict(block, items=items))
        break
    while kept and kept[-1]["type"] == "heading":  # a heading without its text says nothing
        kept.pop()
    return kept, True


def more_link(blocks: list[dict[str, Any]], url: str | None) -> list[dict[str, Any]]:
    """Blocks followed by "weiter im Online-Profil" (linked when there is a safe URL)."""
    run = {"text": MORE_TEXT, "strong": False, "emph": True, "link": url or None, "more": True}
    if blocks and blocks[-1]["type"] == "paragraph" and not blocks[-1].get("quote"):
        blocks[-1]["runs"] = [*blocks[-1]["runs"], {"text": " ", "strong": False, "emph": False, "link": None}, run]
        return blocks
    return [*blocks, {"type": "paragraph", "quote": False, "runs": [run]}]


def section_levels(
    sections: Sequence[tuple[str, list[dict[str, Any]]]], url: str | None
) -> list[list[dict[str, Any]]]:
    """For each level, the (key, blocks) of every section shortened to that level's budget.

    `sections` are (field path, Markdown blocks). Levels that give the same
    result as the level before are left out, so the template searches fewer.
    """
    levels: list[list[dict[str, Any]]] = []
    seen: list[Any] = []
    lengths = [[_block_length(b) for b in blocks] for _, blocks in sections]  # once, not per level
    for base in LEVEL_BUDGETS:
        level = []
        for (key, blocks), block_lengths in zip(sections, lengths, strict=True):
            weight = WEIGHTS.get(key, DEFAULT_WEIGHT)
            budget = int(base * weight)
            if not blocks:
                level.append({"key": key, "blocks": [], "dropped": False})
                continue
            if weight < 1 and budget < MIN_OPTIONAL:
                level.append({"key": key, "blocks": [], "dropped": True})
                continue
            short, cut = shorten_blocks(blocks, budget, block_lengths)
            level.append({"key": key, "blocks": more_link(short, url) if cut else short, "dropped": False})
        if level not in seen:
            seen.append(level)
            levels.append(level)
    fitting = [level for level in levels if _level_length(level) <= MAX_PAGE_TEXT]
    return fitting or levels[-1:]


def start_level(levels: Sequence[Sequence[Mapping[str, Any]]]) -> int:
    """Where the template's search for the longest level that fits begins."""
    return next((i for i, level in enumerate(levels) if _level_length(level) <= START_TEXT), len(levels) - 1)


def _level_length(level: Sequence[Mapping[str, Any]]) -> int:
    return sum(_block_length(b) for s in level for b in s["blocks"])


# Of a long text, the overview needs no more than its beginning: Markdown is parsed only up to the
# first paragraph break after this many characters (every level is shorter).
SOURCE_CHARS = 3200


def text_prefix(text: str, limit: int = SOURCE_CHARS) -> str:
    """The beginning of a Markdown text that the overview can use, ended at a paragraph break."""
    if len(text) <= limit:
        return text
    end = text.find("\n\n", limit)
    return text[: end if 0 < end < 2 * limit else limit]


def cap_names(names: Sequence[str], limit: int = MAX_FACT_CHARS) -> str:
    """Names joined by commas, at most about `limit` characters, then "und N weitere"."""
    shown: list[str] = []
    length = 0
    for i, name in enumerate(names):
        if shown and length + len(name) + 2 > limit:
            return ", ".join(shown) + f" und {len(names) - i} weitere"
        shown.append(short_line(name, MAX_NAME_CHARS))
        length += len(shown[-1]) + 2
    return ", ".join(shown)


def short_line(text: str, limit: int = MAX_LINE_CHARS) -> str:
    """A one-line value (web address, source) shortened in the middle of nowhere: at its end, with "…"."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ------------------------------------------------------------ choosing the level in Python
#
# Laying out the page in Typst costs about 37 ms of CPU; measuring the ladder there (the template's
# search) costs twice that. So the level is chosen here from an estimate of the page's height, the
# page is laid out once at that level, and only a page that overflows is laid out again one level
# shorter (catalogue/pdf/render.py). Heights are in pt, from the texts' lengths against the
# template's measures (9.2 pt Libertinus Serif on a 510 pt line: about 128 characters a line, 11.1 pt
# a line). The weights are least-squares fits to what Typst measured for the demo set, the fixtures
# and 200 synthetic profiles; `benchmarks/pdf_fit.py` measures them again and compares the estimate's
# choice with the template's measured ladder.

PAGE_BODY = 751.18  # the A4 page's text area (297 mm minus the margins), pt
BODY_SLACK = 4.0  # the template's spacing between the parts
# The estimate must leave this much room. Measured with benchmarks/pdf_fit.py on the demo set, the fixtures
# and 200 synthetic profiles: at 6 pt no profile printed a shorter level than the template's measured
# ladder, 7 of 237 a longer one (still one page: the ladder keeps 16 pt in reserve), and 2 needed a
# second layout; at 11 pt one demo profile lost a level, at 21 pt five (195 to 453 characters each).
ESTIMATE_MARGIN = 6.0
# (constant, section headings, paragraphs, paragraph lines, list items, item lines, Markdown headings, table rows)
MIDDLE_WEIGHTS = (26.39, 15.72, 1.66, 10.98, 1.4, 9.01, 20.0, 14.0)
# (constant, title lines, subtitle, summary lines, rows of chips, facts, fact lines, Kurzprofil lines)
TOP_WEIGHTS = (48.2, 15.84, 18.0, 4.84, 25.91, 2.87, 9.33, 11.13)
# (constant, contact lines, their printed lines, links, link title lines, links at all, "und N weitere")
CONTACT_WEIGHTS = (11.94, 2.04, 6.69, 12.72, 8.99, 26.82, 2.62)
# (constant, rows, their printed lines, lines of the sample note, QR code)
ABOUT_WEIGHTS = (36.19, 3.37, 5.37, 11.26, 36.19)


def _lines(chars: int, per_line: int) -> int:
    return max(1, -(-chars // per_line)) if chars else 0


def _dot(weights: Sequence[float], features: Sequence[float]) -> float:
    return sum(w * f for w, f in zip(weights, features, strict=True))


def middle_features(view: Mapping[str, Any], level: Mapping[str, Any]) -> list[float]:
    """What makes the texts' part of the page high, for one level of the view (see MIDDLE_WEIGHTS)."""
    f = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]

    def blocks(items: Sequence[Mapping[str, Any]]) -> None:
        for b in items:
            if b["type"] == "paragraph":
                f[2] += 1
                f[3] += _lines(len(_runs_text(b["runs"])), 112 if b.get("quote") else 128)
            elif b["type"] == "list":
                for item in b["items"]:
                    f[4] += 1
                    f[5] += _lines(len(_runs_text(item["runs"])), 118 - 3 * int(item.get("level", 0)))
            elif b["type"] == "heading":
                f[6] += 1
            elif b["type"] == "table":
                f[7] += len(b["rows"])

    for section in level["sections"]:
        f[1] += 1
        blocks(section["blocks"])
    details = view["funding"]["details"]
    if level["funding_blocks"] or details:
        f[1] += 1
        blocks(level["funding_blocks"])
        if details:
            f[3] += _lines(sum(len(d["label"]) + len(d["value"]) + 6 for d in details), 120)
    return f


def fixed_height(view: Mapping[str, Any]) -> float:
    """The estimated height of the page's fixed parts: the top (title to Kurzprofil) and the bottom (contact | about)."""
    chips = sum(len(c) * 4.1 + 12 for c in view["chips"])
    kurz = max(sum(_lines(len(r["value"]) or 12, 40) for r in view["kurzprofil"][side]) for side in ("left", "right"))
    top = [1.0, _lines(len(view["title"]), 58), 1.0 if view["subtitle"] else 0.0, _lines(len(view["summary"]), 112),
           -(-int(chips) // 510) if view["chips"] else 0, len(view["facts"]),
           sum(_lines(len(r["value"]), 98) for r in view["facts"]), kurz]
    lines, links = view["contact"]["lines"], view["links"]["items"]
    contact = [1.0, len(lines), sum(_lines(len(x["value"]) + (len(x["label"]) + 2 if x["label"] else 0), 46) for x in lines) or 1,
               len(links), sum(_lines(len(x["title"]), 46) for x in links), 1.0 if links else 0.0, 1.0 if view["links"]["more"] else 0.0]
    rows = view["closing"]["rows"]
    about = [1.0, len(rows), sum(_lines(len(r["value"]), 52) for r in rows), _lines(len(view["sample_note"]), 70),
             1.0 if view["qr"] else 0.0]
    return _dot(TOP_WEIGHTS, top) + max(_dot(CONTACT_WEIGHTS, contact), _dot(ABOUT_WEIGHTS, about))


def estimate_level(view: Mapping[str, Any], margin: float = ESTIMATE_MARGIN) -> int:
    """The longest level of the view's ladder whose estimated height fits the page (else the shortest)."""
    room = PAGE_BODY - fixed_height(view) - BODY_SLACK - margin
    levels = view["levels"]
    return next((k for k, level in enumerate(levels) if _dot(MIDDLE_WEIGHTS, middle_features(view, level)) <= room), len(levels) - 1)
