"""The Destatis municipality register (Gemeindeverzeichnis, GV-ISys).

Two layouts are read:

* the fixed-width text file "GV100AD" (one record per line; Satzart 10 Land,
  20 Regierungsbezirk, 30 Region, 40 Kreis, 50 Gemeindeverband, 60
  Gemeinde). Positions (0-based, end exclusive) as in the Destatis record
  description: Satzart 0–2, Gebietsstand 2–10, AGS 10–18, Gemeindeverband
  18–22, Name 22–72, Textkennzeichen 122–124, Fläche in ha 128–139,
  Bevölkerung 139–150.
* a CSV export (semicolon, comma or tab separated) with liberal header
  names: "Amtlicher Gemeindeschlüssel"/"AGS"/"ARS", or the key split into
  "Land", "RB", "Kreis", "Gem"; "Gemeindename"/"Name"; "Fläche"/"Fläche
  km2"; "Bevölkerung"/"Einwohner insgesamt"; optional "Art"/"Textkennzeichen".
  German number formats ("1.234,56") are understood; the header may be
  preceded by title lines, and lines starting with "#" are comments.

`GazetteerImporter` fits the importer protocol (records with gazetteer
entries as content); `Gazetteer` is an in-memory lookup the text importers
use to recognise municipality names, their Bundesland and AGS.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from catalogue.vocabularies import FederalState, OrganisationKind, state_for_ags
from importers.base import (
    ParsedRecord,
    Source,
    SourceError,
    error_record,
    finish_record,
    guarded_parse,
)
from importers.recognition import bare_name, clean_space, organisation_kind, parse_int, parse_number

SAMPLE_PATH = Path(__file__).resolve().parents[1] / "data" / "gazetteer" / "gemeinden-sample.csv"

# GV100AD Textkennzeichen → kind
TEXTKENNZEICHEN_KIND: dict[str, OrganisationKind] = {
    "41": OrganisationKind.TOWN,  # kreisfreie Stadt
    "42": OrganisationKind.TOWN,  # Stadtkreis
    "43": OrganisationKind.DISTRICT,  # Kreis
    "44": OrganisationKind.DISTRICT,  # Landkreis
    "45": OrganisationKind.DISTRICT,  # Regionalverband
    "50": OrganisationKind.ASSOCIATION_OF_MUNICIPALITIES,
    "51": OrganisationKind.ASSOCIATION_OF_MUNICIPALITIES,
    "52": OrganisationKind.AMT,
    "53": OrganisationKind.ASSOCIATION_OF_MUNICIPALITIES,
    "54": OrganisationKind.ASSOCIATION_OF_MUNICIPALITIES,
    "55": OrganisationKind.ASSOCIATION_OF_MUNICIPALITIES,
    "56": OrganisationKind.ASSOCIATION_OF_MUNICIPALITIES,
    "57": OrganisationKind.ASSOCIATION_OF_MUNICIPALITIES,
    "58": OrganisationKind.ASSOCIATION_OF_MUNICIPALITIES,
    "60": OrganisationKind.MUNICIPALITY,  # Markt
    "61": OrganisationKind.TOWN,  # kreisfreie Stadt
    "62": OrganisationKind.TOWN,  # Stadtkreis
    "63": OrganisationKind.TOWN,  # Stadt
    "64": OrganisationKind.MUNICIPALITY,  # kreisangehörige Gemeinde
    "65": OrganisationKind.OTHER,  # gemeindefreies Gebiet, bewohnt
    "66": OrganisationKind.OTHER,  # gemeindefreies Gebiet, unbewohnt
    "67": OrganisationKind.TOWN,  # große Kreisstadt
}
KIND_WORDS: dict[str, OrganisationKind] = {k.value.lower(): k for k in OrganisationKind} | {
    "landkreis": OrganisationKind.DISTRICT,
    "kreisfreie stadt": OrganisationKind.TOWN,
    "stadtkreis": OrganisationKind.TOWN,
    "markt": OrganisationKind.MUNICIPALITY,
    "große kreisstadt": OrganisationKind.TOWN,
}
CITY_STATE_AGS = {"11000000", "02000000"}


@dataclass(frozen=True)
class GazetteerEntry:
    ags: str  # 8 digits for municipalities, 5 for Kreise, 2 for Länder
    name: str  # without the Destatis suffix (", Stadt")
    state: FederalState | None
    population: int | None = None
    area_km2: float | None = None
    kind: OrganisationKind | None = None

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["state"] = self.state.value if self.state else None
        d["kind"] = self.kind.value if self.kind else None
        return d

    @property
    def display_name(self) -> str:
        if self.kind == OrganisationKind.DISTRICT and organisation_kind(self.name) is None:
            return f"Kreis {self.name}"
        return self.name


def _entry(ags: str, raw_name: str, population: int | None, area: float | None, kind: OrganisationKind | None) -> GazetteerEntry:
    raw_name = clean_space(raw_name)
    name_kind = organisation_kind(raw_name)
    name = clean_space(raw_name.split(",", 1)[0]) if "," in raw_name else raw_name
    if kind is None:
        kind = name_kind
    if ags in CITY_STATE_AGS:
        kind = OrganisationKind.CITY_STATE
    if kind is None and len(ags) == 5:
        kind = OrganisationKind.DISTRICT
    return GazetteerEntry(ags=ags, name=name, state=state_for_ags(ags), population=population, area_km2=area, kind=kind)


# ------------------------------------------------------------------ GV100AD

_GV_LINE = re.compile(r"^(10|20|30|40|50|60)(\d{8})\d{2}")


def looks_like_gv100ad(text: str) -> bool:
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    return bool(lines) and sum(1 for line in lines if _GV_LINE.match(line) and len(line) >= 72) >= max(1, len(lines) // 2)


def parse_gv100ad(text: str) -> Iterator[GazetteerEntry | tuple[int, str]]:
    """Entries of Satzart 10, 40, 60; (line number, German error) for broken lines."""
    for no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _GV_LINE.match(line)
        if not m or len(line) < 72:
            yield no, f"Zeile {no}: kein gültiger GV100AD-Datensatz."
            continue
        satzart = line[0:2]
        key = line[10:18]
        name = line[22:72].strip()
        tkz = line[122:124].strip() if len(line) >= 124 else ""
        if satzart == "10":
            yield _entry(key[:2], name, None, None, None)
        elif satzart == "40":
            yield _entry(key[:5], name, None, None, TEXTKENNZEICHEN_KIND.get(tkz, OrganisationKind.DISTRICT))
        elif satzart == "60":
            area_ha = parse_int(line[128:139]) if len(line) >= 139 else None
            pop = parse_int(line[139:150]) if len(line) >= 150 else None
            area = round(area_ha / 100, 2) if area_ha else None
            yield _entry(key, name, pop, area, TEXTKENNZEICHEN_KIND.get(tkz))


# ---------------------------------------------------------------------- CSV

HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "ags": ("amtlicher gemeindeschlüssel", "amtlicher gemeindeschluessel", "ags", "gemeindeschlüssel", "gemeindeschluessel", "gkz", "gemeindekennziffer"),
    "ars": ("amtlicher regionalschlüssel", "regionalschlüssel", "ars", "regionalschluessel"),
    "name": ("gemeindename", "amtlicher gemeindename", "name", "gemeinde name", "bezeichnung", "gebietsname"),
    "area": ("fläche", "fläche km2", "fläche km²", "fläche in km²", "fläche in km2", "flaeche", "flaeche km2", "fläche km 2"),
    "area_ha": ("fläche ha", "fläche in ha", "fläche ha"),
    "population": ("bevölkerung", "bevölkerung insgesamt", "einwohner", "einwohner insgesamt", "bevoelkerung", "einwohnerzahl", "insgesamt"),
    "kind": ("art", "typ", "kind", "textkennzeichen", "gemeindeart"),
    "land": ("land",),
    "rb": ("rb", "regierungsbezirk", "reg.-bez."),
    "kreis": ("kreis",),
    "gem": ("gem", "gemeinde"),
    "satzart": ("satzart",),
}


def _norm_header(h: str) -> str:
    h = clean_space(h.replace("_", " ")).lower().strip("\ufeff\"' ")
    return h.replace("(", "").replace(")", "").replace("  ", " ")


def _map_header(row: list[str]) -> dict[str, int]:
    mapping: dict[str, int] = {}
    for idx, cell in enumerate(row):
        h = _norm_header(cell)
        for key, aliases in HEADER_ALIASES.items():
            if key in mapping:
                continue
            if h in aliases or (key in ("area", "population") and any(h.startswith(a + " ") for a in aliases[:2])):
                mapping[key] = idx
                break
    return mapping


def _has_key_columns(mapping: dict[str, int]) -> bool:
    return "name" in mapping and ("ags" in mapping or "ars" in mapping or {"land", "kreis", "gem"} <= set(mapping))


def _sniff_delimiter(text: str) -> str:
    head = "\n".join(line for line in text.splitlines()[:40] if not line.startswith("#"))
    counts = {d: head.count(d) for d in (";", "\t", ",")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ";"


def _find_header(rows: list[list[str]]) -> tuple[int, dict[str, int]] | None:
    for i, row in enumerate(rows[:40]):
        mapping = _map_header(row)
        if _has_key_columns(mapping):
            return i, mapping
    return None


def looks_like_gazetteer_csv(text: str) -> bool:
    lines = [line for line in text.splitlines()[:40] if line.strip() and not line.startswith("#")]
    if not lines:
        return False
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=_sniff_delimiter(text)))
    return _find_header(rows) is not None


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value or "")


def parse_gazetteer_csv(text: str) -> Iterator[GazetteerEntry | tuple[int, str]]:
    lines = text.splitlines()
    delimiter = _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    for row in reader:
        rows.append((reader.line_num, row))
    content_rows = [(n, r) for n, r in rows if r and not (r[0].startswith("#"))]
    found = _find_header([r for _, r in content_rows])
    if found is None:
        yield 0, "Keine Kopfzeile mit Gemeindeschlüssel und Gemeindename gefunden."
        return
    header_idx, col = found
    del lines
    for line_no, row in content_rows[header_idx + 1 :]:
        if not any(c.strip() for c in row):
            continue

        def cell(key: str, row: list[str] = row) -> str:
            i = col.get(key)
            return row[i].strip() if i is not None and i < len(row) else ""

        try:
            if "ags" in col and _digits(cell("ags")):
                ags = _digits(cell("ags"))
            elif "ars" in col and _digits(cell("ars")):
                ars = _digits(cell("ars"))
                ags = ars[:5] + ars[9:12] if len(ars) == 12 else ars
            else:
                ags = _digits(cell("land")).zfill(2) + _digits(cell("rb")) + _digits(cell("kreis")).zfill(2) + _digits(cell("gem")).zfill(3)
                ags = ags if _digits(cell("gem")) else ags[:5]
            if len(ags) == 7:  # leading zero lost in a spreadsheet
                ags = "0" + ags
            if len(ags) == 4:
                ags = "0" + ags
            if len(ags) not in (2, 3, 5, 8) or not ags.isdigit():
                yield line_no, f"Zeile {line_no}: ungültiger Gemeindeschlüssel „{cell('ags') or cell('ars')}“."
                continue
            name = cell("name")
            if not name:
                yield line_no, f"Zeile {line_no}: Gemeindename fehlt."
                continue
            population = parse_int(cell("population")) if cell("population") else None
            area: float | None = None
            if cell("area"):
                area = parse_number(cell("area"))
            elif cell("area_ha"):
                ha = parse_number(cell("area_ha"))
                area = round(ha / 100, 2) if ha is not None else None
            if area is not None and area <= 0:
                area = None
            kind_text = cell("kind").lower()
            kind = TEXTKENNZEICHEN_KIND.get(kind_text) or KIND_WORDS.get(kind_text)
            if cell("satzart") and cell("satzart") not in ("40", "50", "60", "10"):
                continue
            yield _entry(ags, name, population, area, kind)
        except (ValueError, IndexError):
            yield line_no, f"Zeile {line_no}: nicht lesbar."


# ---------------------------------------------------------------- importer


def parse_gazetteer_text(text: str) -> Iterator[GazetteerEntry | tuple[int, str]]:
    if looks_like_gv100ad(text):
        yield from parse_gv100ad(text)
    else:
        yield from parse_gazetteer_csv(text)


class GazetteerImporter:
    """Importer for the Gemeindeverzeichnis: records carry GazetteerEntry dicts."""

    name = "gazetteer"
    produces = "gazetteer"

    def detect(self, source: Source) -> bool:
        head = source.head(16384)
        if looks_like_gv100ad(head):
            return True
        return looks_like_gazetteer_csv(head)

    def parse(self, source: Source) -> Iterator[ParsedRecord]:
        return guarded_parse(self, source, self._parse)

    def _parse(self, source: Source) -> Iterator[ParsedRecord]:
        text = source.text()
        position = 0
        for item in parse_gazetteer_text(text):
            position += 1
            if isinstance(item, tuple):
                yield error_record(self.name, source, item[1], source_id=f"Zeile {item[0]}", position=position)
                continue
            rec = ParsedRecord(content=item.as_dict(), source_id=item.ags, position=position)
            if item.state is None:
                rec.warn("state", f"Bundesland aus dem Schlüssel {item.ags} nicht ableitbar.")
            yield finish_record(rec, self.name, source, validate=False)

    def entries(self, source: Source) -> list[GazetteerEntry]:
        """Just the readable entries (errors skipped)."""
        return [e for e in parse_gazetteer_text(source.text()) if isinstance(e, GazetteerEntry)]


# ---------------------------------------------------------------- lookups


def _key(name: str) -> str:
    return clean_space(bare_name(name)).casefold()


class Gazetteer:
    """In-memory lookup of register entries by AGS and by name."""

    def __init__(self, entries: Iterable[GazetteerEntry] = ()) -> None:
        self.by_ags: dict[str, GazetteerEntry] = {}
        self._by_name: dict[str, list[GazetteerEntry]] = {}
        for e in entries:
            self.add(e)

    def add(self, entry: GazetteerEntry) -> None:
        self.by_ags[entry.ags] = entry
        self._by_name.setdefault(_key(entry.name), []).append(entry)

    def __len__(self) -> int:
        return len(self.by_ags)

    def __iter__(self) -> Iterator[GazetteerEntry]:
        return iter(self.by_ags.values())

    def find(self, name: str, kind: OrganisationKind | None = None) -> list[GazetteerEntry]:
        """Entries whose name matches ("Stadt Höxter", "Höxter", "Kreis Höxter")."""
        kind = kind or organisation_kind(name)
        candidates = self._by_name.get(_key(name), [])
        if kind == OrganisationKind.DISTRICT:
            return [e for e in candidates if e.kind == OrganisationKind.DISTRICT]
        municipal = [e for e in candidates if e.kind != OrganisationKind.DISTRICT]
        if kind in (OrganisationKind.TOWN, OrganisationKind.MUNICIPALITY):
            exact = [e for e in municipal if e.kind == kind]
            return exact or municipal
        return municipal

    def find_one(self, name: str, kind: OrganisationKind | None = None) -> GazetteerEntry | None:
        found = self.find(name, kind)
        return found[0] if len(found) == 1 else None

    def names_in(self, text: str) -> list[GazetteerEntry]:
        """Municipalities whose name occurs in the text as a whole word."""
        out = []
        for key, entries in self._by_name.items():
            if len(key) < 3:
                continue
            if re.search(r"(?<![\w-])" + re.escape(key) + r"(?![\w-])", text, re.IGNORECASE):
                out.extend(e for e in entries if e.kind != OrganisationKind.DISTRICT)
        return out


def load_gazetteer(path: str | Path) -> Gazetteer:
    src = Source.from_path(path)
    return Gazetteer(e for e in parse_gazetteer_text(src.text()) if isinstance(e, GazetteerEntry))


@lru_cache(maxsize=1)
def default_gazetteer() -> Gazetteer:
    """The demo sample in data/gazetteer (empty if it is missing or unreadable)."""
    try:
        return load_gazetteer(SAMPLE_PATH)
    except (OSError, SourceError):
        return Gazetteer()
