"""The Destatis municipality register (Gemeindeverzeichnis, GV-ISys): reading it.

Three layouts are read; all give the same register entries
(`catalogue.gazetteer.RegisterEntry` fields):

* the **GV-ISys extract as CSV** ("Gemeindeverzeichnis – Auszug", the file
  shipped in data/register/): columns `satzart, textkennzeichen, land, rb,
  kreis, vb, gemeinde, gemeindename, flaeche, bevoelkerung, …,
  postleitzahl, laengengrad, breitengrad, …, verstaedterungschluessel,
  verstaedterungbezeichnung`; numbers with spaces as thousands separators.
* the **GV100AD** fixed-width text file (one record per line, positions as
  in Destatis' record description, 1-based): Satzart 1–2, Gebietsstand
  (YYYYMMDD) 3–10, Land 11–12, Regierungsbezirk 13, Kreis 14–15,
  Gemeinde 16–18, Gemeindeverband 19–22, Name 23–72, Sitz der Verwaltung
  73–122, Textkennzeichen 123–124, Fläche in ha 129–139, Bevölkerung
  140–150, Postleitzahl 166–170.
* a **plain CSV** (semicolon, comma or tab) with liberal headers:
  "Amtlicher Gemeindeschlüssel"/"AGS"/"ARS" (or the key split into
  "Land", "RB", "Kreis", "Gem"), "Gemeindename"/"Name", "Fläche",
  "Bevölkerung", optional "Textkennzeichen"/"Art"; German number formats.

Rows are assembled into entries: names as people write them ("Flensburg,
Stadt" → "Flensburg"), kinds from the Textkennzeichen, parents (Gemeinde →
Gemeindeverband or Kreis → Regierungsbezirk or Land), population and area
summed up for Kreise, Verbände and Länder, size class and urbanisation.
Satzart 30 (Regionen of Baden-Württemberg) is not a level of this register
and is skipped, as are the Satzart-50 rows of verbandsfreie Gemeinden (they
repeat the Gemeinde).

`GazetteerImporter` fits the importer protocol; `Gazetteer` is the
in-memory register the text importers resolve names with; the register
shipped with the project is `default_gazetteer()`.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from catalogue import gazetteer as reg
from catalogue.vocabularies import FederalState, OrganisationKind, state_for_ags
from importers.base import ParsedRecord, Source, SourceError, error_record, finish_record, guarded_parse
from importers.recognition import clean_space, parse_number

ROOT = Path(__file__).resolve().parents[1]
REGISTER_PATH = ROOT / "data" / "register" / "destatis-gv-isys-auszug-2019-12-31.csv.gz"
REGISTER_AS_OF = "2019-12-31"  # Gebietsstand of the shipped extract (and the date of its population figures)

# Textkennzeichen (Destatis) → (kind, German label)
TEXTKENNZEICHEN: dict[str, tuple[OrganisationKind | None, str]] = {
    "41": (OrganisationKind.TOWN, "kreisfreie Stadt"),
    "42": (OrganisationKind.TOWN, "Stadtkreis"),
    "43": (OrganisationKind.DISTRICT, "Kreis"),
    "44": (OrganisationKind.DISTRICT, "Landkreis"),
    "45": (OrganisationKind.DISTRICT, "Regionalverband"),
    "50": (None, "verbandsfreie Gemeinde"),
    "51": (OrganisationKind.AMT, "Amt"),
    "52": (OrganisationKind.ASSOCIATION_OF_MUNICIPALITIES, "Samtgemeinde"),
    "53": (OrganisationKind.ASSOCIATION_OF_MUNICIPALITIES, "Verbandsgemeinde"),
    "54": (OrganisationKind.ASSOCIATION_OF_MUNICIPALITIES, "Verwaltungsgemeinschaft"),
    "55": (OrganisationKind.ASSOCIATION_OF_MUNICIPALITIES, "Kirchspielslandgemeinde"),
    "56": (OrganisationKind.ASSOCIATION_OF_MUNICIPALITIES, "Verwaltungsverband"),
    "57": (OrganisationKind.ASSOCIATION_OF_MUNICIPALITIES, "Gemeindeverband"),
    "58": (OrganisationKind.ASSOCIATION_OF_MUNICIPALITIES, "Verwaltungsgemeinschaft (erfüllende Gemeinde)"),
    "60": (OrganisationKind.MUNICIPALITY, "Markt"),
    "61": (OrganisationKind.TOWN, "kreisfreie Stadt"),
    "62": (OrganisationKind.TOWN, "Stadtkreis"),
    "63": (OrganisationKind.TOWN, "Stadt"),
    "64": (OrganisationKind.MUNICIPALITY, "Gemeinde"),
    "65": (OrganisationKind.OTHER, "gemeindefreies Gebiet"),
    "66": (OrganisationKind.OTHER, "gemeindefreies Gebiet (unbewohnt)"),
    "67": (OrganisationKind.TOWN, "Große Kreisstadt"),
}
# Words of a "kind" column in plain CSVs.
KIND_WORDS: dict[str, str] = {
    "landkreis": "44", "kreis": "43", "kreisfreie stadt": "61", "stadtkreis": "62", "stadt": "63",
    "gemeinde": "64", "markt": "60", "große kreisstadt": "67", "amt": "51", "samtgemeinde": "52",
    "verbandsgemeinde": "53", "verwaltungsgemeinschaft": "54",
}
CITY_STATES = {"11000000", "02000000"}
URBANISATION = {"01": "dicht besiedelt", "02": "mittlere Besiedlungsdichte", "03": "gering besiedelt"}


@dataclass
class Row:
    """One record of a register file, before assembly."""

    satzart: str  # 10 Land, 20 Regierungsbezirk, 30 Region, 40 Kreis, 50 Gemeindeverband, 60 Gemeinde
    textkennzeichen: str
    land: str
    rb: str
    kreis: str
    vb: str
    gem: str
    name: str
    line: int
    area_km2: float | None = None
    population: int | None = None
    postcode: str | None = None
    urbanisation_code: str | None = None
    urbanisation: str | None = None
    as_of: str | None = None  # Gebietsstand, ISO date


Problem = tuple[int, str]  # (line number, German message)


def _num(text: str) -> float | None:
    """A number as the register writes it: spaces as thousands separators, "." or "," as decimal mark."""
    text = (text or "").replace(" ", "").replace("\u00a0", "")
    if not text:
        return None
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return None


def _int(text: str) -> int | None:
    value = _num(text)
    return int(value) if value is not None and value == int(value) else None


def _iso_date(text: str) -> str | None:
    m = re.search(r"(\d{4})-?(\d{2})-?(\d{2})", text or "")
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
    except ValueError:
        return None


def as_of_from_name(name: str) -> str | None:
    """The Gebietsstand in a file name: "…-2019-12-31.csv", "GV100AD_311219.txt", "…_31122019.txt"."""
    base = Path(name.split("?", 1)[0]).name
    found = _iso_date(m.group(0)) if (m := re.search(r"(?<!\d)\d{4}-\d{2}-\d{2}(?!\d)", base)) else None
    if found:
        return found
    m = re.search(r"(?<!\d)(\d{2})(\d{2})(\d{2}|\d{4})(?!\d)", base)
    if m:
        year = int(m.group(3)) if len(m.group(3)) == 4 else 2000 + int(m.group(3))
        try:
            return date(year, int(m.group(2)), int(m.group(1))).isoformat()
        except ValueError:
            return None
    return None


# ------------------------------------------------------------ GV-ISys CSV

GVISYS_COLUMNS = ("satzart", "textkennzeichen", "land", "rb", "kreis", "vb", "gemeinde", "gemeindename")


def looks_like_gvisys_csv(text: str) -> bool:
    first = text.lstrip("\ufeff").split("\n", 1)[0].lower()
    cells = [c.strip().strip('"') for c in first.split(",")]
    return tuple(cells[: len(GVISYS_COLUMNS)]) == GVISYS_COLUMNS


def parse_gvisys_csv(text: str, as_of: str | None = None) -> Iterator[Row | Problem]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in next(reader, [])]
    col = {h: i for i, h in enumerate(header)}

    def cell(row: list[str], name: str) -> str:
        i = col.get(name)
        return row[i] if i is not None and i < len(row) else ""

    for row in reader:
        line = reader.line_num
        satzart = cell(row, "satzart").strip()
        name = cell(row, "gemeindename")
        if "  " in name or name != name.strip():
            name = clean_space(name)
        if satzart not in ("10", "20", "30", "40", "50", "60"):
            yield line, f"Zeile {line}: unbekannte Satzart „{satzart[:10]}“."
            continue
        if not name:
            yield line, f"Zeile {line}: Name fehlt."
            continue
        land, rb, kreis, vb, gem = (cell(row, k).strip() for k in ("land", "rb", "kreis", "vb", "gemeinde"))
        if len(land) != 2 or not (land + rb + kreis + vb + gem).isdigit():
            yield line, f"Zeile {line}: ungültiger Schlüssel."
            continue
        urban = cell(row, "verstaedterungschluessel").strip() or None
        yield Row(
            satzart=satzart, textkennzeichen=cell(row, "textkennzeichen").strip(),
            land=land, rb=rb, kreis=kreis, vb=vb, gem=gem, name=name, line=line,
            area_km2=_num(cell(row, "flaeche")),
            population=_int(cell(row, "bevoelkerung")),
            postcode=cell(row, "postleitzahl").strip() or None,
            urbanisation_code=urban,
            urbanisation=cell(row, "verstaedterungbezeichnung").strip() or URBANISATION.get(urban or ""),
            as_of=as_of,
        )


# ------------------------------------------------------------------ GV100AD

_GV_LINE = re.compile(r"^(10|20|30|40|50|60)(\d{8})(\d{2})")


def looks_like_gv100ad(text: str) -> bool:
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    return bool(lines) and sum(1 for line in lines if _GV_LINE.match(line) and len(line) >= 72) >= max(1, len(lines) // 2)


def _field(line: str, start: int, end: int) -> str:
    """Characters `start`–`end` (1-based, inclusive) of a fixed-width line."""
    return line[start - 1 : end].strip()


def parse_gv100ad(text: str) -> Iterator[Row | Problem]:
    for no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _GV_LINE.match(line)
        if not m or len(line) < 72:
            yield no, f"Zeile {no}: kein gültiger GV100AD-Datensatz."
            continue
        satzart = line[0:2]
        as_of = _iso_date(line[2:10])
        name = clean_space(_field(line, 23, 72))
        if not name:
            yield no, f"Zeile {no}: Name fehlt."
            continue
        area_ha = _int(_field(line, 129, 139)) if satzart == "60" else None
        yield Row(
            satzart=satzart,
            textkennzeichen=_field(line, 123, 124),
            land=_field(line, 11, 12),
            rb=_field(line, 13, 13),
            kreis=_field(line, 14, 15),
            gem=_field(line, 16, 18),
            vb=_field(line, 19, 22),
            name=name,
            line=no,
            area_km2=round(area_ha / 100, 2) if area_ha else None,
            population=_int(_field(line, 140, 150)) if satzart == "60" else None,
            postcode=(_field(line, 166, 170) or None) if satzart == "60" else None,
            as_of=as_of,
        )


# ---------------------------------------------------------------- plain CSV

HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "ags": ("amtlicher gemeindeschlüssel", "amtlicher gemeindeschluessel", "ags", "gemeindeschlüssel", "gemeindeschluessel", "gkz", "gemeindekennziffer"),
    "ars": ("amtlicher regionalschlüssel", "regionalschlüssel", "ars", "regionalschluessel"),
    "name": ("gemeindename", "amtlicher gemeindename", "name", "gemeinde name", "bezeichnung", "gebietsname"),
    "area": ("fläche", "fläche km2", "fläche km²", "fläche in km²", "fläche in km2", "flaeche", "flaeche km2", "fläche km 2"),
    "area_ha": ("fläche ha", "fläche in ha"),
    "population": ("bevölkerung", "bevölkerung insgesamt", "einwohner", "einwohner insgesamt", "bevoelkerung", "einwohnerzahl", "insgesamt"),
    "kind": ("art", "typ", "kind", "textkennzeichen", "gemeindeart"),
    "land": ("land",),
    "rb": ("rb", "regierungsbezirk", "reg.-bez."),
    "kreis": ("kreis",),
    "gem": ("gem", "gemeinde"),
    "postcode": ("plz", "postleitzahl"),
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


def looks_like_plain_csv(text: str) -> bool:
    lines = [line for line in text.splitlines()[:40] if line.strip() and not line.startswith("#")]
    if not lines:
        return False
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=_sniff_delimiter(text)))
    return _find_header(rows) is not None


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value or "")


def parse_plain_csv(text: str, as_of: str | None = None) -> Iterator[Row | Problem]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=_sniff_delimiter(text))
    rows = [(reader.line_num, r) for r in reader]
    content = [(n, r) for n, r in rows if r and not r[0].startswith("#")]
    found = _find_header([r for _, r in content])
    if found is None:
        yield 0, "Keine Kopfzeile mit Gemeindeschlüssel und Gemeindename gefunden."
        return
    header_idx, col = found
    for line, row in content[header_idx + 1 :]:
        if not any(c.strip() for c in row):
            continue

        def cell(key: str, row: list[str] = row) -> str:
            i = col.get(key)
            return row[i].strip() if i is not None and i < len(row) else ""

        vb = ""
        if "ags" in col and _digits(cell("ags")):
            ags = _digits(cell("ags"))
        elif "ars" in col and _digits(cell("ars")):
            ars = _digits(cell("ars"))
            ags, vb = (ars[:5] + ars[9:12], ars[5:9]) if len(ars) == 12 else (ars, "")
        else:
            ags = _digits(cell("land")).zfill(2) + _digits(cell("rb")) + _digits(cell("kreis")).zfill(2) + _digits(cell("gem")).zfill(3)
            ags = ags if _digits(cell("gem")) else ags[:5]
        if len(ags) in (1, 4, 7):  # a leading zero lost in a spreadsheet
            ags = "0" + ags
        if len(ags) not in (2, 3, 5, 8):
            yield line, f"Zeile {line}: ungültiger Gemeindeschlüssel „{(cell('ags') or cell('ars'))[:20]}“."
            continue
        name = clean_space(cell("name"))
        if not name:
            yield line, f"Zeile {line}: Gemeindename fehlt."
            continue
        kind_text = cell("kind").lower()
        tk = kind_text if kind_text in TEXTKENNZEICHEN else KIND_WORDS.get(kind_text, "")
        if not tk:
            tk = _kind_from_name(name, len(ags))
        area: float | None = _num_de(cell("area")) if cell("area") else None
        if area is None and cell("area_ha"):
            ha = _num_de(cell("area_ha"))
            area = round(ha / 100, 2) if ha is not None else None
        population = _num_de(cell("population")) if cell("population") else None
        satzart = {2: "10", 3: "20", 5: "40", 8: "60"}[len(ags)]
        yield Row(
            satzart=satzart, textkennzeichen=tk, land=ags[:2], rb=ags[2:3], kreis=ags[3:5], vb=vb, gem=ags[5:8],
            name=name, line=line, area_km2=area if area and area > 0 else None,
            population=int(population) if population is not None and population == int(population) else None,
            postcode=cell("postcode") or None, as_of=as_of,
        )


def _num_de(text: str) -> float | None:
    return parse_number(text) if text else None


def _kind_from_name(name: str, key_length: int) -> str:
    """A Textkennzeichen guessed from a Destatis name suffix ("Höxter, Stadt") or a kind word in front."""
    low = name.lower()
    if key_length == 5:
        if "kreisfreie stadt" in low or low.endswith(", stadt"):
            return "41"
        return "44" if low.startswith("landkreis") else "43"
    if key_length == 8:
        if re.search(r",\s*(?:st|stadt|\w*stadt)\.?$", low) or low.startswith("stadt "):
            return "63"
        if re.search(r",\s*m\.?$|^markt ", low):
            return "60"
        return "64"
    return ""


# -------------------------------------------------------------- assembling


def _strip_descriptor(name: str, verband: bool = False) -> str:
    """ "Flensburg, Stadt" → "Flensburg"; Verband names keep their commas ("Bösenbrunn, Eichigt und Triebel/Vogtl.")."""
    if verband:
        return name
    return clean_space(name.split(",", 1)[0]) if "," in name else name


_KREIS_WORD = re.compile(r"(?i)kreis|^region |^städteregion |^regionalverband ")
_VERBAND_PREFIX = re.compile(r"^(?:GVV|VVG der (?:Gemeinde|Stadt))\s+")
_VERBAND_DISPLAY = {
    "51": "Amt", "52": "Samtgemeinde", "53": "Verbandsgemeinde", "54": "Verwaltungsgemeinschaft",
    "55": "Kirchspielslandgemeinde", "56": "Verwaltungsverband", "57": "Gemeindeverband", "58": "Verwaltungsgemeinschaft",
}


def _rb_names(raw: str) -> tuple[str, str, bool, bool]:
    """(name, kind label, former, current) of a Satzart-20 row."""
    former = raw.lower().startswith("früher:")
    text = clean_space(re.sub(r"^früher:\s*", "", raw, flags=re.IGNORECASE))
    if text.startswith("Statistische Region"):
        return text, "Statistische Region", former, False
    if text.startswith("Direktionsbezirk"):
        return text, "Direktionsbezirk", former, not former
    bare = re.sub(r"^(?:Reg\.-Bez\.|Regierungsbezirk)\s*", "", text)
    return f"Regierungsbezirk {bare}", "Regierungsbezirk" if not former else "Regierungsbezirk (aufgelöst)", former, not former


def assemble(rows: Iterable[Row], *, source: str = reg.REGISTER_SOURCE, as_of: str | None = None) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Register entries (dicts with `_id`) from the rows of one file, with problems found on the way."""
    problems: list[Problem] = []
    lands: dict[str, Row] = {}
    rbs: dict[str, Row] = {}
    kreise: dict[str, Row] = {}
    verbaende: dict[str, Row] = {}
    gemeinden: dict[str, Row] = {}
    seen: set[tuple[str, str]] = set()
    for row in rows:
        keys = {
            "10": row.land,
            "20": row.land + row.rb,
            "30": "",
            "40": row.land + row.rb + row.kreis,
            "50": row.land + row.rb + row.kreis + row.vb,
            "60": row.land + row.rb + row.kreis + row.gem,
        }
        key = keys[row.satzart]
        if row.satzart == "30":
            continue
        if (row.satzart, key) in seen:
            if row.satzart != "50":  # the register repeats some erfüllende Gemeinden; harmless
                problems.append((row.line, f"Zeile {row.line}: Schlüssel {key} kommt doppelt vor – übersprungen."))
            continue
        seen.add((row.satzart, key))
        expected = {"10": 2, "20": 3, "40": 5, "50": 9, "60": 8}[row.satzart]
        if len(key) != expected or not key.isdigit():
            problems.append((row.line, f"Zeile {row.line}: unvollständiger Schlüssel „{key}“ für Satzart {row.satzart}."))
            continue
        {"10": lands, "20": rbs, "40": kreise, "50": verbaende, "60": gemeinden}[row.satzart][key] = row

    def as_of_for(row: Row) -> str | None:
        return row.as_of or as_of

    entries: dict[str, dict[str, Any]] = {}

    def base(key: str, level: str, row: Row) -> dict[str, Any]:
        return {
            "_id": key, "level": level, "official_name": row.name,
            "listed": True, "former": False, "kreisfrei": False,
        }

    # Länder
    for key, row in lands.items():
        e = base(key, reg.LAND, row) | {"name": row.name, "display_name": row.name, "kind": None, "kind_label": "Land", "ars": key}
        entries[key] = e
    # Regierungsbezirke (current ones are parents of their Kreise)
    current_rbs: set[str] = set()
    for key, row in rbs.items():
        name, label, former, current = _rb_names(row.name)
        if current:
            current_rbs.add(key)
        entries[key] = base(key, reg.REGIERUNGSBEZIRK, row) | {
            "name": name if not re.match(r"^[A-ZÄÖÜ]\w+$", row.name) else row.name,
            "display_name": name, "kind": None, "kind_label": label, "ars": key,
            "parent": key[:2], "former": former, "rb": key, "rb_name": name if current else None,
        }
    # Kreise
    gem_by_kreis: dict[str, list[str]] = defaultdict(list)
    for gkey in gemeinden:
        gem_by_kreis[gkey[:5]].append(gkey)
    for key, row in kreise.items():
        kind, label = TEXTKENNZEICHEN.get(row.textkennzeichen, (OrganisationKind.DISTRICT, "Kreis"))
        name = _strip_descriptor(row.name)
        kreisfrei = row.textkennzeichen in ("41", "42")
        if kreisfrei or _KREIS_WORD.search(name):
            display = name
        else:
            display = f"{'Landkreis' if label == 'Landkreis' else 'Kreis'} {name}"
        rb_key = key[:3] if key[:3] in current_rbs else None
        members = gem_by_kreis.get(key, [])
        entries[key] = base(key, reg.KREIS, row) | {
            "name": name, "display_name": display, "kind": kind, "kind_label": label, "ars": key,
            "parent": rb_key or key[:2], "rb": rb_key, "rb_name": entries[rb_key]["display_name"] if rb_key else None,
            "kreisfrei": kreisfrei,
            "same_as": members[0] if kreisfrei and len(members) == 1 else None,
            "listed": not (kreisfrei and len(members) == 1),
        }
    # Gemeindeverbände (not the rows that repeat a verbandsfreie Gemeinde)
    for key, row in verbaende.items():
        if row.textkennzeichen == "50" or row.vb in ("", "0000"):
            continue
        kind, label = TEXTKENNZEICHEN.get(row.textkennzeichen, (OrganisationKind.ASSOCIATION_OF_MUNICIPALITIES, "Gemeindeverband"))
        raw = _strip_descriptor(row.name, verband=row.textkennzeichen != "58")
        name = clean_space(_VERBAND_PREFIX.sub("", re.sub(r"\s*\(VGem\)$", "", raw)))
        if row.name.startswith("VVG"):
            label = "vereinbarte Verwaltungsgemeinschaft"
        if row.name.startswith("GVV"):
            label = "Gemeindeverwaltungsverband"
        display_word = {"vereinbarte Verwaltungsgemeinschaft": "Vereinbarte Verwaltungsgemeinschaft",
                        "Gemeindeverwaltungsverband": "Gemeindeverwaltungsverband"}.get(label, _VERBAND_DISPLAY.get(row.textkennzeichen, "Gemeindeverband"))
        display = name if re.match(r"^(?:Amt|Altes Amt|Verwaltungsgemeinschaft|Nachbarschaftsverband)\b", name) else f"{display_word} {name}"
        kreis_key = key[:5]
        entries[key] = base(key, reg.VERBAND, row) | {
            "name": name, "display_name": display, "kind": kind, "kind_label": label, "ars": key,
            "parent": kreis_key, "kreis": kreis_key, "listed": row.textkennzeichen != "58",
        }
    # Gemeinden
    for key, row in gemeinden.items():
        kind, label = TEXTKENNZEICHEN.get(row.textkennzeichen, (OrganisationKind.MUNICIPALITY, "Gemeinde"))
        if key in CITY_STATES:
            kind, label = OrganisationKind.CITY_STATE, "Stadtstaat"
        verband_key = key[:5] + row.vb if row.vb else None
        in_verband = bool(verband_key and verband_key in entries and entries[verband_key]["level"] == reg.VERBAND)
        kreis_key = key[:5]
        kreisfrei = row.textkennzeichen in ("61", "62") or key in CITY_STATES
        entries[key] = base(key, reg.GEMEINDE, row) | {
            "name": _strip_descriptor(row.name), "display_name": _strip_descriptor(row.name),
            "kind": kind, "kind_label": label, "ars": key[:5] + (row.vb or "0000").zfill(4) + key[5:],
            "parent": verband_key if in_verband else kreis_key, "kreis": kreis_key,
            "verband": verband_key if in_verband else None, "kreisfrei": kreisfrei,
            "population": row.population, "population_as_of": as_of_for(row) if row.population is not None else None,
            "population_source": source if row.population is not None else None,
            "area_km2": row.area_km2 if row.area_km2 and row.area_km2 > 0 else None,
            "postcode": row.postcode, "urbanisation": row.urbanisation,
            "listed": row.textkennzeichen != "66",
        }
    # city states: the Land is the Gemeinde
    for key in CITY_STATES:
        if key in entries and key[:2] in entries:
            entries[key[:2]] |= {"same_as": key, "listed": False}

    _denormalise(entries)
    return list(reg.aggregate(entries).values()), problems


def _denormalise(entries: dict[str, dict[str, Any]]) -> None:
    """Names of the Regierungsbezirk, Kreis and Verband on each entry below them."""
    for e in entries.values():
        kreis = entries.get(e.get("kreis") or "")
        if e["level"] in (reg.GEMEINDE, reg.VERBAND) and kreis is not None:
            e["kreis_name"] = None if e.get("kreisfrei") else kreis["display_name"]
            e["rb"] = kreis.get("rb")
            e["rb_name"] = kreis.get("rb_name")
            if e["level"] == reg.VERBAND:
                e["parent"] = e["kreis"]
        verband = entries.get(e.get("verband") or "")
        if verband is not None:
            e["verband_name"] = verband["display_name"]


# ---------------------------------------------------------------- reading


def parse_register_text(text: str, name: str = "") -> Iterator[Row | Problem]:
    as_of = as_of_from_name(name)
    if looks_like_gvisys_csv(text):
        yield from parse_gvisys_csv(text, as_of)
    elif looks_like_gv100ad(text):
        yield from parse_gv100ad(text)
    else:
        yield from parse_plain_csv(text, as_of)


def looks_like_register(text: str) -> bool:
    return looks_like_gvisys_csv(text) or looks_like_gv100ad(text) or looks_like_plain_csv(text)


@dataclass
class Register:
    """A register read from one source: its entries, the problems, and what it is."""

    entries: list[dict[str, Any]]
    problems: list[Problem]
    fingerprint: str
    source_name: str
    as_of: str | None
    full: bool  # a whole register (every Land), not an excerpt

    @property
    def attribution(self) -> str:
        """"© Statistisches Bundesamt (Destatis), <year of publication>" (a Gebietsstand 31.12. appears the year after)."""
        if not self.as_of:
            return reg.DEFAULT_ATTRIBUTION
        year = int(self.as_of[:4]) + (1 if self.as_of[5:] == "12-31" else 0)
        return f"© Statistisches Bundesamt (Destatis), {year}"


def read_register(text: str, name: str) -> Register:
    rows: list[Row] = []
    problems: list[Problem] = []
    for item in parse_register_text(text, name):
        if isinstance(item, Row):
            rows.append(item)
        else:
            problems.append(item)
    entries, more = assemble(rows)
    as_of = next((r.as_of for r in rows if r.as_of), None)
    lands = {e["_id"] for e in entries if e["level"] == reg.LAND}
    return Register(
        entries=entries,
        problems=problems + more,
        fingerprint=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        source_name=name,
        as_of=as_of,
        full=len(lands) == 16 and sum(1 for e in entries if e["level"] == reg.GEMEINDE) > 10_000,
    )


def read_shipped_register(path: Path = REGISTER_PATH) -> Register:
    """The register shipped in data/register/ (gzip-compressed GV-ISys extract)."""
    with gzip.open(path, "rt", encoding="utf-8-sig") as fh:
        text = fh.read()
    return read_register(text, f"data/register/{path.name}")


class GazetteerImporter:
    """Importer for the Gemeindeverzeichnis: each record carries one register entry."""

    name = "gazetteer"
    produces = "gazetteer"

    def detect(self, source: Source) -> bool:
        return looks_like_register(source.head(16384))

    def parse(self, source: Source) -> Iterator[ParsedRecord]:
        return guarded_parse(self, source, self._parse)

    def read(self, source: Source) -> Register:
        text = _decompressed(source)
        return read_register(text, source.name)

    def _parse(self, source: Source) -> Iterator[ParsedRecord]:
        register = self.read(source)
        position = 0
        for line, message in register.problems:
            position += 1
            yield error_record(self.name, source, message, source_id=f"Zeile {line}", position=position)
        meta = {"fingerprint": register.fingerprint, "full": register.full, "as_of": register.as_of,
                "attribution": register.attribution}
        for entry in register.entries:
            position += 1
            rec = ParsedRecord(content=entry, source_id=entry["_id"], position=position)
            if entry.get("level") == reg.GEMEINDE and entry.get("population") is None:
                rec.warn("population", f"Keine Einwohnerzahl für {entry['name']} ({entry['_id']}).")
            finish_record(rec, self.name, source, validate=False)
            rec.provenance["register"] = meta  # what the runner needs to store the register as a whole
            yield rec


def _decompressed(source: Source) -> str:
    if source.raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(source.raw)
        except (OSError, EOFError) as exc:
            raise SourceError("Die gzip-Datei ist beschädigt.") from exc
        return Source(source.name, raw).text()
    return source.text()


# ------------------------------------------------------------ in memory


class Gazetteer:
    """The register in memory, for resolving names in texts (no database)."""

    def __init__(self, entries: Iterable[Mapping[str, Any]] = ()) -> None:
        self.by_key: dict[str, dict[str, Any]] = {}
        self._by_name: dict[str, list[str]] = defaultdict(list)
        self._children: dict[str, list[str]] = defaultdict(list)
        for e in entries:
            self.add(e)

    def add(self, entry: Mapping[str, Any]) -> None:
        e = dict(entry)
        key = str(e.get("_id") or e.get("id"))
        e["_id"] = key
        self.by_key[key] = e
        for name in reg.name_variants(e):
            if key not in self._by_name[name]:
                self._by_name[name].append(key)
        if e.get("parent"):
            self._children[e["parent"]].append(key)

    def __len__(self) -> int:
        return len(self.by_key)

    def __bool__(self) -> bool:
        return bool(self.by_key)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.by_key.values())

    def get(self, key: str | None) -> dict[str, Any] | None:
        return self.by_key.get(key or "")

    def resolve_same(self, entry: dict[str, Any]) -> dict[str, Any]:
        """The Gemeinde a kreisfreie Stadt's Kreis row (or a city state's Land row) stands for."""
        return self.by_key.get(entry.get("same_as") or "", entry)

    def known_name(self, key: str) -> bool:
        return key in self._by_name

    def find(self, name: str, level: str | None = None, kind: OrganisationKind | None = None) -> list[dict[str, Any]]:
        """Entries called `name` ("Höxter" → Stadt and Kreis; "Kreis Höxter" → the Kreis), Gemeinden first."""
        key = reg.name_key(name)
        if not key:
            return []
        found: dict[str, dict[str, Any]] = {}
        for k in self._by_name.get(key, ()):
            found[k] = self.by_key[k]
        split = reg.split_kind_prefix(key)
        if split:
            lvl, knd, rest = split
            for k in self._by_name.get(rest, ()):
                e = self.by_key[k]
                if e["level"] == lvl and (knd is None or _kind_value(e) == knd.value):
                    found.setdefault(k, e)
            if lvl is not None:
                narrowed = {k: e for k, e in found.items() if e["level"] == lvl}
                found = narrowed or found
        if not found:
            for k in self._by_name.get(reg.loose_key(name), ()):
                found[k] = self.by_key[k]
        out = list(found.values())
        if level is not None:
            out = [e for e in out if e["level"] == level]
        if kind is not None:
            out = [e for e in out if _kind_value(e) == kind.value] or out
        return sorted(out, key=lambda e: (reg.LEVELS.index(e["level"]), -(e.get("population") or 0)))

    def find_one(self, name: str, level: str | None = None, kind: OrganisationKind | None = None) -> dict[str, Any] | None:
        found = self.find(name, level, kind)
        return found[0] if len(found) == 1 else None

    def members(self, key: str) -> list[dict[str, Any]]:
        """The Gemeinden of a Kreis or Verband (direct and through Verbände)."""
        out: list[dict[str, Any]] = []
        stack = list(self._children.get(key, ()))
        while stack:
            k = stack.pop()
            e = self.by_key[k]
            if e["level"] == reg.GEMEINDE:
                out.append(e)
            else:
                stack.extend(self._children.get(k, ()))
        return out

    def kreis_of(self, entry: Mapping[str, Any]) -> str | None:
        if entry["level"] == reg.KREIS:
            return entry["_id"]
        return entry.get("kreis")

    def state_of(self, entry: Mapping[str, Any]) -> FederalState | None:
        return state_for_ags(entry["_id"][:2])


def _kind_value(e: Mapping[str, Any]) -> str | None:
    kind = e.get("kind")
    return kind.value if isinstance(kind, OrganisationKind) else kind


_current: list[Gazetteer] = []


@lru_cache(maxsize=1)
def shipped_gazetteer() -> Gazetteer:
    """The register shipped in data/register/, in memory."""
    try:
        return Gazetteer(read_shipped_register().entries)
    except (OSError, SourceError):
        return Gazetteer()


def default_gazetteer() -> Gazetteer:
    """The register the text importers use: the stored one when it differs from the shipped one."""
    return _current[0] if _current else shipped_gazetteer()


def use_gazetteer(gazetteer: Gazetteer | None) -> None:
    """Make `gazetteer` the importers' default (None: back to the shipped register)."""
    _current[:] = [gazetteer] if gazetteer is not None else []
