"""The format registry: which importers there are and which one reads a source.

The format modules import `importers.base`; this module imports them (and
`base` imports none of them), so there is no import circle.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from pathlib import Path

from importers.base import Importer, ParsedRecord, Source, SourceError, SourceTooLargeError, UnknownFormatError, error_record
from importers.catalogue_formats import CsvImporter, JsonImporter, NdjsonImporter
from importers.gazetteer import GazetteerImporter
from importers.html_page import HtmlImporter
from importers.reference_text import ReferenceTextImporter
from importers.structured_text import StructuredTextImporter

FORMAT_NAMES: tuple[str, ...] = ("structured", "reference", "html", "csv", "json", "ndjson", "gazetteer")
FORMAT_CHOICES: tuple[str, ...] = ("auto", *FORMAT_NAMES)

IMPORTERS: dict[str, Importer] = {
    imp.name: imp
    for imp in (
        StructuredTextImporter(),
        ReferenceTextImporter(),
        HtmlImporter(),
        CsvImporter(),
        JsonImporter(),
        NdjsonImporter(),
        GazetteerImporter(),
    )
}

# Order in which `detect_format` asks the importers: the most specific first,
# the free-text reference importer last (it accepts almost any prose).
DETECTION_ORDER: tuple[str, ...] = ("json", "ndjson", "gazetteer", "csv", "html", "structured", "reference")


def detect_format(source: Source, format: str = "auto") -> Importer:
    """The importer for `source`: the named one, or the first whose `detect` accepts it.

    Raises `UnknownFormatError` (German message) for an unknown format name
    or a source no importer accepts, `SourceTooLargeError` for sources over
    the size limit.
    """
    source.check_size()
    if format != "auto":
        imp = IMPORTERS.get(format)
        if imp is None:
            raise UnknownFormatError(
                f"Unbekanntes Format „{format}“. Möglich sind: {', '.join(FORMAT_CHOICES)}."
            )
        return imp
    for name in DETECTION_ORDER:
        imp = IMPORTERS[name]
        try:
            if imp.detect(source):
                return imp
        except Exception:  # noqa: BLE001, S112 - detection must never fail the batch
            continue
    raise UnknownFormatError(
        f"Das Format von „{Path(source.name).name or 'Quelle'}“ wurde nicht erkannt. "
        f"Bitte das Format ausdrücklich angeben (--format {'|'.join(FORMAT_NAMES)})."
    )


# A web page costs ≈ 0.3 s of CPU per MB of HTML and a peak of ≈ 4× its size in memory: the extraction
# is linear and the recognisers read at most html_page.TEXT_MAX_CHARS of text (benchmarks/html_parse.py;
# before that bound ≈ 6.5 s per MB and ≈ 30×). Real project pages are far smaller; larger HTML is refused
# before parsing. (API uploads are limited further by LEUCHTTURM_MAX_BODY_BYTES.)
HTML_MAX_BYTES = 10 * 1024 * 1024


def iter_source(source: Source, format: str = "auto") -> tuple[Importer | None, Iterator[ParsedRecord]]:
    """`parse_source` without a record limit, the records as they are parsed (batch work: never all in memory)."""
    try:
        imp = detect_format(source, format)
    except SourceError as exc:
        return None, iter([error_record(format if format != "auto" else "auto", source, str(exc))])
    if imp.name == "html" and len(source.raw) > HTML_MAX_BYTES:
        raise SourceTooLargeError(
            f"Die Webseite „{Path(source.name).name}“ ist zu groß ({len(source.raw) / 1048576:.1f} MB); "
            f"höchstens {HTML_MAX_BYTES // 1048576} MB HTML werden gelesen."
        )
    return imp, iter(imp.parse(source))


def parse_source(source: Source, format: str = "auto", *, max_records: int | None = None) -> tuple[Importer | None, list[ParsedRecord]]:
    """Detect and parse in one call; never raises for bad input except `SourceTooLargeError`
    when the source has more than `max_records` records (parsing stops right after the limit)
    or is an HTML page over HTML_MAX_BYTES.

    If no importer fits, the result is (None, [one error record]).
    """
    imp, parsed = iter_source(source, format)
    if max_records is None or imp is None:
        return imp, list(parsed)
    records = list(islice(parsed, max_records + 1))
    if len(records) > max_records:
        raise SourceTooLargeError(
            f"Die Datei enthält mehr als {max_records:,} Datensätze. Bitte aufteilen oder von der Redaktion per "
            "Kommandozeile importieren lassen.".replace(",", ".")
        )
    return imp, records
