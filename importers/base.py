"""The importer protocol and what every importer shares.

An importer turns one `Source` (a file or a downloaded page: name, raw
bytes, media-type hint) into `ParsedRecord`s. Parsing never raises for bad
content: a record that cannot be parsed comes back with `errors` set, so a
batch import goes on with the next record. Only a source that cannot be
read at all (too large, binary, undecodable) raises `SourceError`, and the
registry's `parse_source` turns even that into one error record.

Nothing here touches the database, and nothing here imports a format
module: the registry of formats (`importers.registry`) imports them, and
they import this module. The import runner calls `detect_format` (or picks
an importer by name), iterates `parse`, and writes the records.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import ValidationError

from catalogue.errors import german_message
from catalogue.labels import field_label
from catalogue.models import ProfileContent, utcnow
from catalogue.vocabularies import EditorialStatus

MAX_SOURCE_BYTES = 50 * 1024 * 1024  # 50 MB
RECORD_FIELD = "_record"  # FieldWarning.field for problems of the whole record

# ------------------------------------------------------------------ errors


class SourceError(ValueError):
    """A source that cannot be read at all. The message is German, for editors."""


class SourceTooLargeError(SourceError):
    pass


class UnknownFormatError(SourceError):
    pass


# ------------------------------------------------------------------ source


@dataclass(frozen=True)
class Source:
    """One input: a file or a fetched page.

    `name` is the path, URL or file name (it goes into the provenance),
    `raw` the bytes, `media_type` an optional hint ("text/html",
    "application/json", "text/csv" …).
    """

    name: str
    raw: bytes
    media_type: str | None = None
    retrieved_at: datetime = field(default_factory=utcnow)

    @classmethod
    def from_path(cls, path: str | Path, media_type: str | None = None, *, max_bytes: int = MAX_SOURCE_BYTES) -> Source:
        """Read a file, rejecting files over `max_bytes` before reading them fully."""
        p = Path(path)
        size = p.stat().st_size
        if size > max_bytes:
            raise SourceTooLargeError(_too_large_message(p.name, size, max_bytes))
        with p.open("rb") as fh:
            raw = fh.read(max_bytes + 1)  # the file may have grown since stat()
        if len(raw) > max_bytes:
            raise SourceTooLargeError(_too_large_message(p.name, len(raw), max_bytes))
        return cls(name=str(path), raw=raw, media_type=media_type)

    @classmethod
    def from_stream(cls, name: str, stream: Any, media_type: str | None = None, *, max_bytes: int = MAX_SOURCE_BYTES) -> Source:
        """Read a binary stream (an upload), stopping as soon as it exceeds `max_bytes`."""
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = stream.read(min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise SourceTooLargeError(_too_large_message(name, total, max_bytes, at_least=True))
        return cls(name=name, raw=b"".join(chunks), media_type=media_type)

    @property
    def suffix(self) -> str:
        base = self.name.split("?", 1)[0].split("#", 1)[0]
        return Path(base).suffix.lower()

    @property
    def size(self) -> int:
        return len(self.raw)

    def check_size(self, max_bytes: int = MAX_SOURCE_BYTES) -> None:
        if len(self.raw) > max_bytes:
            raise SourceTooLargeError(_too_large_message(self.name, len(self.raw), max_bytes))

    def text(self) -> str:
        """The decoded text with normalised line ends (raises SourceError)."""
        self.check_size()
        return normalise_newlines(decode_text(self.raw))

    def head(self, n: int = 4096) -> str:
        """A best-effort decoded prefix for format detection (never raises)."""
        chunk = self.raw[:n]
        if chunk.startswith((b"\xff\xfe", b"\xfe\xff")):
            return chunk[: len(chunk) // 2 * 2].decode("utf-16", errors="replace")
        if chunk.startswith(b"\xef\xbb\xbf"):
            chunk = chunk[3:]
        try:
            return chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start >= len(chunk) - 3:  # cut inside a multi-byte character
                return chunk[: exc.start].decode("utf-8", errors="replace")
            return chunk.decode("cp1252", errors="replace")


def _too_large_message(name: str, size: int, limit: int, *, at_least: bool = False) -> str:
    mb = size / (1024 * 1024)
    more = "mehr als " if at_least else ""
    return (
        f"Die Datei „{Path(name).name}“ ist zu groß ({more}{mb:.1f} MB). "
        f"Höchstens {limit // (1024 * 1024)} MB je Datei sind erlaubt – bitte die Datei aufteilen."
    )


def decode_text(raw: bytes) -> str:
    """Decode text: UTF-8 (with or without BOM), UTF-16 with BOM, else cp1252/latin-1.

    Binary data (NUL bytes, or mostly non-printable characters) is rejected
    with a `SourceError` whose message explains it in German.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        text = raw[3:].decode("utf-8", errors="replace")
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise SourceError("Die Datei ist als UTF-16 gekennzeichnet, lässt sich aber nicht lesen.") from exc
    else:
        if b"\x00" in raw:
            raise SourceError(
                "Die Datei enthält Binärdaten (NUL-Bytes) und ist keine Textdatei. "
                "Bitte eine Text-, HTML-, CSV- oder JSON-Datei hochladen."
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            # cp1252 is the usual Windows encoding; bytes it leaves undefined
            # (0x81, 0x8D, 0x8F, 0x90, 0x9D) fall back to latin-1.
            text = "".join(
                _cp1252_char(b) for b in raw
            ) if _has_cp1252_gaps(raw) else raw.decode("cp1252")
    if "\x00" in text:
        raise SourceError("Die Datei enthält Binärdaten (NUL-Zeichen) und ist keine Textdatei.")
    _reject_mostly_unprintable(text)
    return text


_CP1252_GAPS = frozenset(b"\x81\x8d\x8f\x90\x9d")


def _has_cp1252_gaps(raw: bytes) -> bool:
    return any(b in _CP1252_GAPS for b in raw)


def _cp1252_char(b: int) -> str:
    if b in _CP1252_GAPS:
        return bytes([b]).decode("latin-1")
    return bytes([b]).decode("cp1252")


def _reject_mostly_unprintable(text: str) -> None:
    sample = text[:65536]
    if not sample:
        return
    bad = 0
    for ch in sample:
        if ch in "\t\n\r\f":
            continue
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Co", "Cs", "Cn") or ch == "\ufffd":
            bad += 1
    if bad > max(8, len(sample) * 0.1):
        raise SourceError(
            "Die Datei besteht überwiegend aus nicht druckbaren Zeichen – vermutlich Binärdaten "
            "(z. B. PDF, Word oder ZIP). Bitte den Text als .txt, .html, .csv oder .json bereitstellen."
        )


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class FieldWarning:
    """A message for the editor about one field (dotted path, e.g. "contact.email")."""

    field: str
    message: str


FieldError = FieldWarning


@dataclass
class ParsedRecord:
    """One record read from a source, not yet stored.

    `content` holds ProfileContent fields (for the gazetteer importer: a
    gazetteer entry). If `errors` is non-empty the record must not be stored
    as is; `warnings` are hints for the editor that do not block storing.
    """

    content: dict[str, Any]
    source_id: str | None = None
    fingerprint: str = ""
    warnings: list[FieldWarning] = field(default_factory=list)
    errors: list[FieldWarning] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    suggested_status: EditorialStatus = EditorialStatus.DRAFT
    slug: str | None = None  # catalogue formats: the slug from the export
    original_provenance: dict[str, Any] | None = None  # catalogue formats: provenance carried in the export
    position: int = 0  # 1-based number of the record within its source
    stated_source: str | None = None  # the URL a text names as its source ("Quelle: …"), for the provenance
    # the model `finish_record` validated `content` into (content is its JSON form): the runner need not validate again
    validated: ProfileContent | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.errors

    def warn(self, field_name: str, message: str) -> None:
        self.warnings.append(FieldWarning(field_name, message))

    def error(self, field_name: str, message: str) -> None:
        self.errors.append(FieldWarning(field_name, message))


_BLANKS = re.compile(r"[ \t]+")
_EMPTY_LINES = re.compile(r"\n{3,}")


def _normalise_for_fingerprint(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for k in sorted(value):
            v = _normalise_for_fingerprint(value[k])
            if v in (None, "", [], {}):
                continue
            out[str(k)] = v
        return out
    if isinstance(value, (list, tuple)):
        return [_normalise_for_fingerprint(v) for v in value]
    if isinstance(value, Enum):
        return _normalise_for_fingerprint(value.value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, str):
        text = unicodedata.normalize("NFC", value).replace("\r\n", "\n")
        if "\t" in text or "  " in text:  # else every run of blanks is one space already: nothing to collapse
            text = _BLANKS.sub(" ", text)  # (a run never spans a line break, so all lines at once)
        if "\n" not in text:  # one line (most values): the same as below, without the splitting
            return text.strip()
        lines = [line.strip() for line in text.split("\n")]
        return _EMPTY_LINES.sub("\n\n", "\n".join(lines)).strip()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def fingerprint(content: dict[str, Any]) -> str:
    """sha256 over the normalised content (empty values dropped, whitespace and Unicode normalised)."""
    canonical = json.dumps(
        _normalise_for_fingerprint(content), sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def make_provenance(importer: str, source: Source, source_id: str | None, fp: str) -> dict[str, Any]:
    """Provenance in the shape of catalogue.models.Provenance."""
    return {
        "importer": importer,
        "source": source.name[:2000] if source.name else None,
        "source_id": source_id[:500] if source_id else None,
        "retrieved_at": source.retrieved_at,
        "fingerprint": fp,
    }


# --------------------------------------------------------------- validation

def _field_path(loc: Iterable[Any]) -> str:
    return ".".join(str(p) for p in loc)


def validation_errors(exc: ValidationError) -> list[FieldWarning]:
    """Pydantic errors as per-field German messages."""
    out = []
    for err in exc.errors():
        loc = tuple(err.get("loc") or ())
        out.append(FieldWarning(_field_path(loc) or RECORD_FIELD, f"{field_label(loc)}: {german_message(err)}"))
    return out


def validate_record(record: ParsedRecord | dict[str, Any]) -> ProfileContent | list[FieldWarning]:
    """Validate a record's content; the model, or the errors per field in German."""
    content = record.content if isinstance(record, ParsedRecord) else record
    if not isinstance(content, dict):
        return [FieldWarning(RECORD_FIELD, "Datensatz: muss ein Objekt mit Feldern sein")]
    try:
        return ProfileContent.model_validate(content)
    except ValidationError as exc:
        return validation_errors(exc)
    except (TypeError, ValueError) as exc:  # pragma: no cover - defensive
        return [FieldWarning(RECORD_FIELD, f"Datensatz: ungültig ({exc})")]


def finish_record(
    record: ParsedRecord,
    importer: str,
    source: Source,
    *,
    validate: bool = True,
) -> ParsedRecord:
    """Validate, canonicalise content, and set fingerprint and provenance.

    Valid content is replaced by its canonical JSON form
    (`ProfileContent.model_dump(mode="json")`), so the same profile has the
    same fingerprint whichever format it came from.
    """
    if validate and not record.errors:
        result = validate_record(record)
        if isinstance(result, ProfileContent):
            record.content = result.model_dump(mode="json")
            record.validated = result
        else:
            record.errors.extend(result)
    record.fingerprint = fingerprint(record.content)
    record.provenance = make_provenance(importer, source, record.source_id, record.fingerprint)
    if record.errors:
        record.suggested_status = EditorialStatus.DRAFT
    return record


def error_record(
    importer: str, source: Source, message: str, *, source_id: str | None = None, position: int = 0, content: dict[str, Any] | None = None
) -> ParsedRecord:
    """A record that could not be parsed: carries a record-level error."""
    rec = ParsedRecord(content=content or {}, source_id=source_id, position=position)
    rec.error(RECORD_FIELD, message)
    return finish_record(rec, importer, source, validate=False)


# ----------------------------------------------------------------- protocol


@runtime_checkable
class Importer(Protocol):
    """What every importer provides.

    `name` is the format name used on the command line (--format).
    `produces` is "profile" (content = ProfileContent fields) or
    "gazetteer" (content = a gazetteer entry).
    `detect` must be cheap and never raise; `parse` never raises for bad
    content, it yields records with `errors` instead.
    """

    name: str
    produces: str

    def detect(self, source: Source) -> bool: ...

    def parse(self, source: Source) -> Iterator[ParsedRecord]: ...


def guarded_parse(importer: Importer, source: Source, body: Callable[[Source], Iterator[ParsedRecord]]) -> Iterator[ParsedRecord]:
    """Run `body`, turning any SourceError or unexpected exception into an error record."""
    count = 0
    try:
        source.check_size()
        if not source.raw.strip(b" \t\r\n\xef\xbb\xbf"):
            count += 1
            yield error_record(importer.name, source, "Die Datei ist leer.")
            return
        for record in body(source):
            count += 1
            yield record
        if count == 0:
            count += 1
            yield error_record(importer.name, source, "In der Datei wurden keine Datensätze gefunden.")
    except SourceError as exc:
        yield error_record(importer.name, source, str(exc))
    except Exception as exc:  # noqa: BLE001 - a bad record must never abort the batch
        yield error_record(
            importer.name,
            source,
            f"Die Quelle konnte nicht gelesen werden ({type(exc).__name__}). "
            "Bitte das Format prüfen oder die Datei der Katalogredaktion schicken.",
        )
