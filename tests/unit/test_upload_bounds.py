"""Issue 13, unbounded cost of uploads: limits apply before or while parsing, never after it."""

from __future__ import annotations

import json

import pytest

from importers.base import Source, SourceTooLargeError
from importers.registry import HTML_MAX_BYTES, parse_source
from importers.runner import parse_sources


def _text_lengths_read(monkeypatch) -> list[int]:
    """The length of each page text the reference-text recognisers are handed (recorded as they run)."""
    from importers import html_page

    seen: list[int] = []
    real = html_page.ReferenceTextImporter.parse_text

    def measuring(self, text: str):
        seen.append(len(text))
        return real(self, text)

    monkeypatch.setattr(html_page.ReferenceTextImporter, "parse_text", measuring)
    return seen

def test_finding_10_mb_html_costs_what_a_profile_can_hold_and_larger_html_is_refused_before_parsing(monkeypatch) -> None:
    """Finding: a 10 MB HTML upload cost ≈ 35 s of CPU (50 MB via the CLI 167 s and 1 GB of memory).
    Now the page is extracted in one linear pass and the recognisers read at most TEXT_MAX_CHARS of its
    text (≈ 3 s of CPU for 10 MB, benchmarks/html_parse.py); HTML over HTML_MAX_BYTES is refused unparsed."""
    from importers import html_page

    page = b"<html><head><title>Gross</title></head><body>" + b"<p>Bauhof und Radweg.</p>" * (10 * 1024 * 1024 // 26) + b"</body></html>"
    assert len(page) > 9.5 * 1024 * 1024
    seen = _text_lengths_read(monkeypatch)
    _, records = parse_source(Source(name="gross.html", raw=page, media_type="text/html"))
    assert len(records) == 1 and seen == [pytest.approx(html_page.TEXT_MAX_CHARS, rel=0.01)]

    def never(*args, **kwargs):
        raise AssertionError("parsed although too large")

    monkeypatch.setattr(html_page.HtmlImporter, "parse", never)
    bigger = page[:-14] + b"<p>Bauhof und Radweg.</p>" * (HTML_MAX_BYTES // 25) + b"</body></html>"
    with pytest.raises(SourceTooLargeError, match="höchstens 10 MB HTML"):
        parse_source(Source(name="gross.html", raw=bigger, media_type="text/html"))
    assert len(bigger) > HTML_MAX_BYTES


def test_finding_ndjson_with_too_many_records_stops_right_after_the_limit(monkeypatch) -> None:
    """Finding: a 0.8 MB NDJSON upload of 20,000 records was refused with 413 only after 4.3 s (all parsed and planned)."""
    body = "".join(json.dumps({"title": f"Profil Nummer {n}"}) + "\n" for n in range(20_000)).encode()
    from importers import base

    seen = 0
    real = base.finish_record

    def counting(*args, **kwargs):
        nonlocal seen
        seen += 1
        return real(*args, **kwargs)

    monkeypatch.setattr("importers.catalogue_formats.finish_record", counting)
    with pytest.raises(SourceTooLargeError, match=r"mehr als 2\.000 Datensätze"):
        parse_sources([Source(name="viele.ndjson", raw=body)], "ndjson", max_records=2000)
    assert 2000 <= seen <= 2001  # parsing stopped right after the limit, not after 20,000
    items = parse_sources([Source(name="wenige.ndjson", raw=body[: body.index(b"\n", 1000) + 1])], "ndjson", max_records=2000)
    assert 1 <= len(items) <= 2000


def test_a_long_page_is_read_up_to_what_a_profile_holds_with_a_warning(monkeypatch) -> None:
    """Deliverable 6: the recognisers after the (linear) HTML extraction see at most TEXT_MAX_CHARS characters,
    so their cost does not grow with the page; the editor is told the rest was not read."""
    from importers import html_page, registry

    monkeypatch.setattr(registry, "HTML_MAX_BYTES", 1 << 30)
    seen = _text_lengths_read(monkeypatch)
    paragraph = "<p>Der Bauhof der Gemeinde teilt Fahrzeuge mit dem Nachbarort, und der Radweg wird gemeinsam geplant.</p>\n"
    page = ("<html><body><h1>Gemeinsamer Bauhof</h1>" + paragraph * 6000 + "<p>Ende der Seite.</p></body></html>").encode()
    assert len(page) > 4 * html_page.TEXT_MAX_CHARS
    _, records = parse_source(Source(name="lang.html", raw=page, media_type="text/html"))
    (record,) = records
    assert seen and seen[0] <= html_page.TEXT_MAX_CHARS + 1
    assert any("der Rest wurde nicht ausgewertet" in w.message for w in record.warnings)
    assert "Ende der Seite" not in " ".join(str(v) for v in record.content.values())
    short = b"<html><body><h1>Gemeinsamer Bauhof</h1>" + paragraph.encode() * 3 + b"</body></html>"
    (small,) = parse_source(Source(name="kurz.html", raw=short, media_type="text/html"))[1]
    assert not any("nicht ausgewertet" in w.message for w in small.warnings)


def test_cut_text_ends_at_a_line_break() -> None:
    from importers.html_page import cut_text

    assert cut_text("kurz\n", 100) == ("kurz\n", False)
    text, cut = cut_text("eins\nzwei\ndrei\n", 12)
    assert cut and text == "eins\nzwei\n"
    assert cut_text("x" * 50, 10) == ("x" * 10 + "\n", True)  # one long line: cut at the limit
