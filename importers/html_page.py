"""HTML pages of the two text shapes.

The page is converted to the plain-text shape with the standard library's
`html.parser`: headings, paragraphs and list items become lines (list items
as "- item"), `<dl>` pairs and two-cell table rows become "Label: value"
lines, and `<br>` a line break. Scripts, styles, navigation, footers, forms
and similar page chrome are dropped. If the page has an `<h1>`, text before
it (site header) is dropped and the `<h1>` becomes the title; otherwise the
`<title>` is used. The text then goes to the structured importer if it has
the labelled sections, else to the reference importer.

Cost (issue 13): the extraction is one linear pass (≈ 0.2 s of CPU per MB of
HTML); the text recognisers after it cost ≈ 7 s per MB of text. A profile
holds at most five long texts of MAX_MARKDOWN characters, so only the first
TEXT_MAX_CHARS characters of the page's text are read (cut at a line end, with
a warning); a 10 MB page then costs about as much as a 1 MB one
(benchmarks/html_parse.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

from catalogue.models import MAX_MARKDOWN
from importers.base import ParsedRecord, Source, guarded_parse
from importers.gazetteer import Gazetteer
from importers.recognition import clean_space
from importers.reference_text import ReferenceTextImporter
from importers.structured_text import SECTION_LABELS, StructuredTextImporter, looks_structured
from importers.text_base import TextImporter

SKIP_TAGS = {
    "script", "style", "noscript", "template", "nav", "footer", "svg", "iframe", "form", "button", "select", "textarea", "head",
    "object", "canvas", "aside",
}
VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
BLOCK_TAGS = {
    "p", "div", "section", "article", "main", "header", "blockquote", "pre", "address", "figure", "figcaption",
    "ul", "ol", "dl", "table", "thead", "tbody", "tfoot", "h1", "h2", "h3", "h4", "h5", "h6", "li", "dt", "dd", "tr", "hr",
    "body", "html",
}
_SKIP_CLASS = re.compile(
    r"(?:^|[\s_-])(?:cookie|consent|newsletter|breadcrumb|navigation|navbar|menu|share|social|skip-link|sr-only)(?:$|[\s_-])", re.IGNORECASE
)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.buf: list[str] = []
        self.skip_depth = 0
        self.stack: list[tuple[str, bool]] = []  # (tag, skipping started here)
        self.open_counts: dict[str, int] = {}
        self.title = ""
        self.in_title = False
        self.h1_index: int | None = None
        self.list_stack: list[str] = []
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.dt: str | None = None
        self.current_block: str | None = None

    # -- helpers
    def _flush(self) -> None:
        text = clean_space("".join(self.buf))
        self.buf = []
        if not text:
            return
        block = self.current_block
        if block == "li":
            text = "- " + text
        elif block == "dt":
            self.dt = text.rstrip(":")
            return
        elif block == "dd" and self.dt is not None:
            text = f"{self.dt}: {text}"
            self.dt = None
        elif block and block[0] == "h" and block[1:].isdigit():
            label = text.rstrip(":").strip()
            if label.lower() in SECTION_LABELS:
                text = label + ":"
            if block == "h1" and self.h1_index is None:
                self.h1_index = len(self.lines)
        self.lines.append(text)

    # -- parser callbacks
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        skipping = tag in SKIP_TAGS or bool(_SKIP_CLASS.search(attr.get("class") or "")) or attr.get("hidden") is not None or attr.get("aria-hidden") == "true"
        if tag in VOID_TAGS:
            if tag == "br" and not self.skip_depth:
                if self.cell is not None:
                    self.cell.append(" ")
                else:
                    self._flush()
            return
        if tag == "title" and not self.skip_depth:
            self.in_title = True
        self.stack.append((tag, skipping))
        self.open_counts[tag] = self.open_counts.get(tag, 0) + 1
        if skipping:
            self.skip_depth += 1
            return
        if self.skip_depth:
            return
        if tag == "tr":
            self._flush()
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []
        elif tag in BLOCK_TAGS:
            self._flush()
            if tag in ("li", "dt", "dd") or (tag[0] == "h" and tag[1:].isdigit()):
                self.current_block = tag
            elif tag == "p":
                self.current_block = "p"

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID_TAGS:
            return
        # pop up to the matching tag (tolerates unclosed elements)
        if not self.open_counts.get(tag):
            return
        while self.stack:
            t, skipping = self.stack.pop()
            self.open_counts[t] -= 1
            if skipping:
                self.skip_depth -= 1
            if t == "title":
                self.in_title = False
            if t == tag:
                break
        if self.skip_depth:
            return
        if tag in ("td", "th") and self.row is not None and self.cell is not None:
            self.row.append(clean_space("".join(self.cell)))
            self.cell = None
        elif tag == "tr" and self.row is not None:
            cells = [c for c in self.row if c]
            if len(cells) == 2:
                self.lines.append(f"{cells[0].rstrip(':')}: {cells[1]}")
            elif cells:
                self.lines.append(" | ".join(cells))
            self.row = None
        elif tag in BLOCK_TAGS:
            self._flush()
            self.current_block = None

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title += data
            return
        if self.skip_depth:
            return
        if self.cell is not None:
            self.cell.append(data)
        else:
            self.buf.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def html_to_text(html: str) -> str:
    """Convert an HTML page to the line-oriented text shape the text importers read."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = parser.lines
    if parser.h1_index is not None:
        lines = lines[parser.h1_index :]
    elif parser.title.strip():
        lines = [clean_space(parser.title), *lines]
    # a structured label alone on its line keeps an empty line after it
    return "\n".join(lines) + "\n"


# More text than the narrative fields of a profile can hold (5 × MAX_MARKDOWN), with room for headings and facts.
TEXT_MAX_CHARS = 6 * MAX_MARKDOWN


def cut_text(text: str, limit: int | None = None) -> tuple[str, bool]:
    """The first `limit` (default TEXT_MAX_CHARS) characters of `text`, ended at the last line break before the
    limit; and whether it was cut."""
    limit = TEXT_MAX_CHARS if limit is None else limit
    if len(text) <= limit:
        return text, False
    end = text.rfind("\n", 0, limit)
    return text[: end if end > 0 else limit] + "\n", True


_HTML_START = re.compile(
    r"^\s*(?:<!--.*?-->\s*)*(?:<!doctype\s+html|<html|<head|<body|<meta|<title|<h1|<div|<p\b|<article|<section|<main)", re.IGNORECASE | re.DOTALL
)


class HtmlImporter:
    name = "html"
    produces = "profile"

    def __init__(self, gazetteer: Gazetteer | None = None) -> None:
        self.structured = StructuredTextImporter(gazetteer)
        self.reference = ReferenceTextImporter(gazetteer)

    def detect(self, source: Source) -> bool:
        if source.media_type and "html" in source.media_type.lower():
            return True
        if source.suffix in (".html", ".htm", ".xhtml"):
            return True
        return bool(_HTML_START.match(source.head(4096).lstrip("\ufeff")))

    def parse(self, source: Source) -> Iterator[ParsedRecord]:
        return guarded_parse(self, source, self._parse)

    def _parse(self, source: Source) -> Iterator[ParsedRecord]:
        text, cut = cut_text(html_to_text(source.text()))
        shape: TextImporter = self.structured if looks_structured(text) else self.reference
        record = shape.finish(shape.parse_text(text), source, importer=self.name)
        record.provenance["importer"] = f"html/{shape.name}"
        if cut:
            record.warn(
                "provenance",
                f"Die Webseite enthält mehr Text, als ein Profil aufnehmen kann: gelesen wurden die ersten "
                f"{len(text):,} Zeichen, der Rest wurde nicht ausgewertet – bitte prüfen.".replace(",", "."),
            )
        yield record
