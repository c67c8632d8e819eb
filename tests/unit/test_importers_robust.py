"""Robustness of every importer: bad input gives error records, never exceptions."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalogue.models import ProfileContent
from importers.base import (
    MAX_SOURCE_BYTES,
    ParsedRecord,
    Source,
    SourceError,
    SourceTooLargeError,
    validate_record,
)
from importers.registry import IMPORTERS, detect_format, parse_source
from tests.factories import TEXTS

SEED_FILES = sorted(TEXTS.glob("*.txt"))  # the invented texts in both source formats
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_records(importer_name: str, records: list[ParsedRecord]) -> None:
    assert records, "every parse yields at least one record (or an error record)"
    for rec in records:
        assert isinstance(rec, ParsedRecord)
        assert re.fullmatch(r"[0-9a-f]{64}", rec.fingerprint)
        assert rec.provenance["fingerprint"] == rec.fingerprint
        assert rec.provenance["importer"].split("/")[0] == importer_name
        for problem in rec.errors + rec.warnings:
            assert isinstance(problem.message, str) and problem.message.strip()
        if rec.ok and IMPORTERS[importer_name].produces == "profile":
            assert isinstance(validate_record(rec), ProfileContent)


def run_everything(source: Source) -> None:
    """detect + parse with every importer, and the auto path; nothing may raise."""
    for name, importer in IMPORTERS.items():
        assert importer.detect(source) in (True, False)
        records = list(importer.parse(source))
        check_records(name, records)
    try:
        detected = detect_format(source)
    except SourceError as exc:
        message = str(exc)
        assert message
    else:
        check_records(detected.name, list(detected.parse(source)))
    importer, records = parse_source(source)
    assert records


# ------------------------------------------------------------------ arbitrary input


@SETTINGS
@given(st.text(max_size=3000))
def test_arbitrary_text(text: str) -> None:
    run_everything(Source("beliebig.txt", text.encode("utf-8", errors="surrogatepass")))


@SETTINGS
@given(st.binary(max_size=3000))
def test_arbitrary_bytes(data: bytes) -> None:
    run_everything(Source("beliebig", data))


_LINES = st.sampled_from([
    "Stichworte:", "Hauptverantwortlich: Kreis X", "Sonstige Beteiligte:", "Kurzprofil:", "Einwohner: 1.2.3 (99.99.9999, ?)",
    "Fläche: -0 km²", "Fläche: ,", "Anlass:", "Ziel:", "Umsetzung:", "Rechtsform: ???", "Zusammenarbeit seit: 3000",
    "Kontakt:", "Telefon: 0", "Email: a@b", "12345 ", "Straße 1", "-", "•", "1.", "Stadt Ä", "Kreis", "<h1>", "</p>",
    "<dl><dt>Anlass</dt><dd>", "<table><tr><td>a</td><td>b", "{", "[", '"title"', "title,keywords", "AGS;Name",
    "Amtlicher Gemeindeschlüssel;Gemeindename;Fläche;Bevölkerung", "05762020;Höxter, Stadt;x;y", "6020191231",
    "Diese Übersicht als PDF herunterladen", "Kontaktieren Sie uns", "",
])


@SETTINGS
@given(st.lists(st.one_of(_LINES, st.text(max_size=80)), max_size=60))
def test_format_shaped_garbage(lines: list[str]) -> None:
    text = "\n".join(lines)
    for name in ("x.txt", "x.html", "x.csv", "x.json", "x.ndjson"):
        run_everything(Source(name, text.encode("utf-8", errors="surrogatepass")))


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["title", "lead", "partners", "population", "contact", "funding", "slug", "status", "provenance", "x"])
        | st.text(max_size=8), children, max_size=5),
    max_leaves=20,
)


@SETTINGS
@given(st.lists(_json_values, max_size=5))
def test_json_shaped_garbage(values: list[object]) -> None:
    as_json = json.dumps({"profiles": values}).encode()
    as_ndjson = "\n".join(json.dumps(v) for v in values).encode()
    for source in (Source("x.json", as_json), Source("x.ndjson", as_ndjson), Source("y.json", json.dumps(values).encode())):
        run_everything(source)
    records = list(IMPORTERS["json"].parse(Source("x.json", as_json)))
    assert len(records) == max(1, len(values))  # one record per item, bad or good


# ------------------------------------------------------------------ truncated and re-encoded test texts


@pytest.mark.parametrize("seed", SEED_FILES, ids=lambda p: p.name)
@SETTINGS
@given(cut=st.floats(min_value=0.0, max_value=1.0))
def test_truncated_seed(seed: Path, cut: float) -> None:
    data = seed.read_bytes()
    run_everything(Source(seed.name, data[: int(len(data) * cut)]))


@pytest.mark.parametrize("seed", SEED_FILES, ids=lambda p: p.name)
@pytest.mark.parametrize("encoding", ["cp1252", "utf-8-sig", "utf-16", "latin-1"])
def test_reencoded_seed_gives_same_content(seed: Path, encoding: str) -> None:
    text = seed.read_text(encoding="utf-8")
    original = parse_source(Source(seed.name, text.encode("utf-8")))[1]
    if encoding == "latin-1":
        text = text.replace("„", '"').replace("“", '"').replace("–", "-")  # not in latin-1
        original = parse_source(Source(seed.name, text.encode("utf-8")))[1]
    for newline in ("\n", "\r\n"):
        raw = text.replace("\n", newline).encode(encoding)
        importer, records = parse_source(Source(seed.name, raw))
        assert importer is not None
        assert [r.content for r in records] == [r.content for r in original]
        assert [r.fingerprint for r in records] == [r.fingerprint for r in original]


# ------------------------------------------------------------------ binary data


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\x00stream\x00\x01\x02",
        b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        bytes(range(256)) * 4,
        bytes([0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f]) * 50,
    ],
)
def test_binary_data_gives_clear_error(data: bytes) -> None:
    for name, importer in IMPORTERS.items():
        records = list(importer.parse(Source("datei.pdf", data)))
        check_records(name, records)
        assert len(records) == 1 and not records[0].ok
        assert re.search(r"Binärdaten|nicht druckbaren", records[0].errors[0].message)
    importer, records = parse_source(Source("datei.pdf", data))
    assert not records[0].ok


def test_empty_source() -> None:
    for name, importer in IMPORTERS.items():
        records = list(importer.parse(Source("leer.txt", b"")))
        check_records(name, records)
        assert not any(r.ok and r.content.get("title") for r in records)


# ------------------------------------------------------------------ size limit


def test_file_over_50_mb_is_rejected_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "gross.txt"
    with big.open("wb") as fh:
        fh.write(b"Titel\n" + b"x" * 1024)
        fh.truncate(MAX_SOURCE_BYTES + 1)  # sparse: 50 MB + 1 byte
    assert big.stat().st_size == MAX_SOURCE_BYTES + 1

    opened: list[str] = []
    real_open = Path.open

    def spy_open(self: Path, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        opened.append(self.name)
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", spy_open)
    with pytest.raises(SourceTooLargeError, match=r"zu groß.*50 MB"):
        Source.from_path(big)
    assert opened == []  # rejected on its size, the file was never opened


def test_file_of_exactly_50_mb_is_accepted(tmp_path: Path) -> None:
    ok = tmp_path / "grenze.json"
    with ok.open("wb") as fh:
        fh.write(b"[]")
        fh.write(b" " * (MAX_SOURCE_BYTES - 2))
    source = Source.from_path(ok)
    assert source.size == MAX_SOURCE_BYTES
    importer, records = parse_source(source)
    assert importer is not None and importer.name == "json"
    assert len(records) == 1 and not records[0].ok  # an empty list: "keine Datensätze gefunden"
    assert "keine Datensätze" in records[0].errors[0].message


def test_oversized_bytes_and_streams_are_handled() -> None:
    raw = b"a" * (MAX_SOURCE_BYTES + 1)
    source = Source("upload.txt", raw)
    with pytest.raises(SourceTooLargeError):
        detect_format(source)
    importer, records = parse_source(source)
    assert importer is None and "zu groß" in records[0].errors[0].message
    for name, imp in IMPORTERS.items():
        (rec,) = list(imp.parse(source))
        assert not rec.ok and "zu groß" in rec.errors[0].message, name
    with pytest.raises(SourceTooLargeError):
        Source.from_stream("upload.txt", io.BytesIO(raw))
    small = Source.from_stream("upload.txt", io.BytesIO(b"x" * 10))
    assert small.raw == b"x" * 10
