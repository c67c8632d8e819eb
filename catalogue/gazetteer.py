"""The municipality register (Gemeindeverzeichnis) in the database.

Every Land, Regierungsbezirk, Kreis, Gemeindeverband and Gemeinde of the
Destatis register is one `RegisterEntry` (collection `register_entries`)
whose `_id` is its key: the AGS (2 digits Land, 3 Regierungsbezirk, 5 Kreis,
8 Gemeinde) or, for a Gemeindeverband, which has no AGS, its 9-digit ARS.

Request paths read only by `_id` (FerretDB 1.24 scans for anything else), so
name lookups go through two key collections built from the entries:

* `register_names`: `_id` = a normalised name ("hoexter", "kreis hoexter",
  "flensburg"), holding every entry called so. "Höxter" therefore gives
  the Stadt and the Kreis, and the caller asks which.
* `register_prefixes`: `_id` = a normalised name prefix ("hoe", "hoex").
  A prefix with at most `PREFIX_FANOUT` entries holds all of them
  (`complete`); a busier one holds its best-ranked entries, and its longer
  prefixes get documents of their own. A lookup reads the document of the
  typed prefix, or binary-searches the shorter ones (a few keyed reads).

Writing happens in batch work only (`store`): the first start of the app and
`leuchtturm import --format gazetteer`. It is idempotent: an unchanged
source is recognised by its fingerprint in `register_meta`, unchanged
entries and keys are not rewritten. One process loads at a time: a lock
document with an expiry (`register_meta` "lock"), taken, taken over when
expired, and given back through `catalogue.atomic`.

The figures are Destatis' and must be shown with their attribution
(`attribution()`), under the Datenlizenz Deutschland – Namensnennung – 2.0.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import re
import time
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from uuid import uuid4

from beanie import Document
from pydantic import BaseModel, Field, model_validator
from pymongo.errors import BulkWriteError

from catalogue import atomic
from catalogue.models import REGISTER_KEY_PATTERN, utcnow
from catalogue.vocabularies import FederalState, OrganisationKind, SizeClass, size_class_for, state_for_ags

# ----------------------------------------------------------------- levels

LAND, REGIERUNGSBEZIRK, KREIS, VERBAND, GEMEINDE = "land", "regierungsbezirk", "kreis", "gemeindeverband", "gemeinde"
LEVELS: tuple[str, ...] = (GEMEINDE, VERBAND, KREIS, REGIERUNGSBEZIRK, LAND)  # the order of lookup results
LEVEL_LABELS: dict[str, str] = {
    LAND: "Land",
    REGIERUNGSBEZIRK: "Regierungsbezirk",
    KREIS: "Kreis",
    VERBAND: "Gemeindeverband",
    GEMEINDE: "Gemeinde",
}
KEY_RE = re.compile(REGISTER_KEY_PATTERN)

REGISTER_SOURCE = "Destatis GV-ISys"  # short source of each figure; the full attribution is in `register_meta`
REGISTER_SOURCE_LONG = "Statistisches Bundesamt (Destatis), Gemeindeverzeichnis-Informationssystem GV-ISys"
SOURCE_URL = "https://www.destatis.de/DE/Themen/Laender-Regionen/Regionales/Gemeindeverzeichnis/"
LICENCE = "Datenlizenz Deutschland – Namensnennung – Version 2.0"
LICENCE_URL = "https://www.govdata.de/dl-de/by-2-0"
LICENCE_SHORT = "Datenlizenz Deutschland – Namensnennung – 2.0"
DEFAULT_ATTRIBUTION = "© Statistisches Bundesamt (Destatis), 2020"

PREFIX_FANOUT = 20  # entries in a prefix document; also the most a lookup returns
MAX_PREFIX = 40  # longer input is cut (names longer than this are rare)
MAX_LOOKUP = PREFIX_FANOUT
LOCK_TTL = timedelta(minutes=10)  # a load takes seconds; a lock older than this is a dead process's
LOCK_ID = "lock"


# -------------------------------------------------------------- documents


class EntryFields(BaseModel):
    """What the register says about one body (fields equal to a default are not stored)."""

    level: str
    name: str  # as people write it: "Flensburg", "Höxter", "Süderbrarup"
    official_name: str | None = None  # as the register spells it, where different: "Flensburg, Stadt"
    display_name: str | None = None  # with its kind, where people say it: "Kreis Höxter", "Amt Süderbrarup"
    kind: OrganisationKind | None = None
    kind_label: str  # "kreisfreie Stadt", "Landkreis", "Samtgemeinde", "Markt" …
    ars: str | None = None  # where it differs from the key (Gemeinden: 12 digits with the Verband)
    parent: str | None = None
    rb: str | None = None
    rb_name: str | None = None
    kreis: str | None = None
    kreis_name: str | None = None
    verband: str | None = None
    verband_name: str | None = None
    population: int | None = None
    population_as_of: str | None = None  # ISO date
    population_source: str | None = None
    area_km2: float | None = None
    postcode: str | None = None
    urbanisation: str | None = None  # "dicht besiedelt", "mittlere Besiedlungsdichte", "gering besiedelt"
    kreisfrei: bool = False
    same_as: str | None = None  # the Kreis-level row of a kreisfreie Stadt points at its Gemeinde
    former: bool = False  # a former Regierungsbezirk ("früher: …")
    listed: bool = True  # found by name (unbewohnte gemeindefreie Gebiete and duplicates are not)

    @model_validator(mode="after")
    def _default_source(self) -> EntryFields:
        """The source of a population is stored only where it is not the register's own (it is, almost always)."""
        if self.population is not None and self.population_source is None:
            self.population_source = default_population_source(self.level)
        return self

    @property
    def level_label(self) -> str:
        return LEVEL_LABELS.get(self.level, self.level)

    @property
    def size_class(self) -> SizeClass | None:
        """The BBSR size class (from the population; a Kreis is a Kreis) – derived, not stored."""
        value = size_class_of({"level": self.level, "kreisfrei": self.kreisfrei, "population": self.population, "kind": self.kind})
        return SizeClass(value) if value else None

    @property
    def label(self) -> str:
        """The name with its kind where people say it ("Kreis Höxter"), else the name."""
        return self.display_name or self.name


class RegisterEntry(Document, EntryFields):
    """One body of the register (collection `register_entries`, `_id` = AGS or Verband-ARS)."""

    id: str  # type: ignore[assignment]

    @property
    def key(self) -> str:
        return self.id

    @property
    def ags(self) -> str | None:
        """The AGS (Länder, Regierungsbezirke, Kreise, Gemeinden); a Gemeindeverband has none."""
        return None if self.level == VERBAND else self.id

    @property
    def state(self) -> FederalState | None:
        return state_for_ags(self.id)

    class Settings:
        name = "register_entries"


class RegisterName(Document):
    """Name key → the entries called so (collection `register_names`).

    `refs` holds the references as one compact JSON string: FerretDB's SQLite
    backend stores a type schema for every element of a nested array, and one
    string is several times cheaper to write on first start and to read on
    every lookup. These documents are derived; `store` rebuilds them.
    """

    id: str  # type: ignore[assignment]
    refs: str = "[]"

    class Settings:
        name = "register_names"


class RegisterPrefix(Document):
    """Name prefix → the best entries whose names start with it (collection `register_prefixes`; `refs` as above)."""

    id: str  # type: ignore[assignment]
    complete: bool = False
    refs: str = "[]"

    class Settings:
        name = "register_prefixes"


def _refs(doc: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    return json.loads(doc["refs"]) if doc else []


def _pack(refs: list[dict[str, Any]]) -> str:
    return json.dumps(refs, ensure_ascii=False, separators=(",", ":"))


async def _key_doc(model: type[Document], key: str) -> dict[str, Any] | None:
    """A key document by `_id`, as stored (no model validation: these are read on every keystroke)."""
    return await model.get_pymongo_collection().find_one({"_id": key})


class RegisterMeta(Document):
    """What is loaded (`_id` "register"), and the loading lock (`_id` "lock")."""

    id: str  # type: ignore[assignment]
    fingerprint: str | None = None
    source_name: str | None = None
    register_as_of: str | None = None
    attribution: str | None = None
    full: bool = False  # a whole register, not an excerpt
    counts: dict[str, int] = Field(default_factory=dict)
    loaded_at: datetime = Field(default_factory=utcnow)
    owner: str | None = None  # the lock holder's token
    until: datetime | None = None  # the lock's expiry

    class Settings:
        name = "register_meta"


DOCUMENTS: tuple[type[Document], ...] = (RegisterEntry, RegisterName, RegisterPrefix, RegisterMeta)

# ----------------------------------------------------------------- names

_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ẞ": "ss"})
_TOKEN_MAP = {"st": "sankt"}


def fold(text: str) -> str:
    """Lower case, umlauts spelled out, other accents dropped, whitespace collapsed."""
    text = (text or "").casefold().translate(_FOLD)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(text.split())


@lru_cache(maxsize=65536)
def name_key(text: str) -> str:
    """The normalised form names are looked up by: "Bruchhausen-Vilsen" → "bruchhausen vilsen".

    Folded (see `fold`), every character other than a letter or digit is a
    word break, and "St." is "Sankt".
    """
    words = re.sub(r"[^a-z0-9]+", " ", fold(text)).split()
    return " ".join(_TOKEN_MAP.get(w, w) for w in words)


@lru_cache(maxsize=65536)
def loose_key(text: str) -> str:
    """Like `name_key`, but umlauts lose their dots ("Höxter" → "hoxter") – for names typed without them."""
    text = (text or "").casefold().replace("ß", "ss")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    words = re.sub(r"[^a-z0-9]+", " ", text).split()
    return " ".join(_TOKEN_MAP.get(w, w) for w in words)


# Kind words in front of a name, as people write them, with what they select.
NAME_PREFIXES: tuple[tuple[str, str | None, OrganisationKind | None], ...] = (
    # (normalised prefix, level, kind) – None: any
    ("landkreis", KREIS, None),
    ("kreis", KREIS, None),
    ("regionalverband", KREIS, None),
    ("staedteregion", KREIS, None),
    ("region", KREIS, None),
    ("kreisfreie stadt", GEMEINDE, OrganisationKind.TOWN),
    ("grosse kreisstadt", GEMEINDE, OrganisationKind.TOWN),
    ("kreisstadt", GEMEINDE, OrganisationKind.TOWN),
    ("hansestadt", GEMEINDE, OrganisationKind.TOWN),
    ("landeshauptstadt", GEMEINDE, OrganisationKind.TOWN),
    ("universitaetsstadt", GEMEINDE, OrganisationKind.TOWN),
    ("stadt", GEMEINDE, OrganisationKind.TOWN),
    ("ortsgemeinde", GEMEINDE, None),
    ("marktgemeinde", GEMEINDE, None),
    ("einheitsgemeinde", GEMEINDE, None),
    ("gemeinde", GEMEINDE, None),
    ("markt", GEMEINDE, None),
    ("flecken", GEMEINDE, None),
    ("amt", VERBAND, None),
    ("samtgemeinde", VERBAND, None),
    ("verbandsgemeinde", VERBAND, None),
    ("verwaltungsgemeinschaft", VERBAND, None),
    ("vereinbarte verwaltungsgemeinschaft", VERBAND, None),
    ("gemeindeverwaltungsverband", VERBAND, None),
    ("verwaltungsverband", VERBAND, None),
    ("vgem", VERBAND, None),
    ("vg", VERBAND, None),
    ("sg", VERBAND, None),
    ("gvv", VERBAND, None),
    ("vvg", VERBAND, None),
    ("regierungsbezirk", REGIERUNGSBEZIRK, None),
    ("reg bez", REGIERUNGSBEZIRK, None),
    ("rb", REGIERUNGSBEZIRK, None),
    ("bundesland", LAND, None),
    ("land", LAND, None),
    ("freistaat", LAND, None),
)
_PREFIXES_BY_LENGTH = sorted(NAME_PREFIXES, key=lambda p: -len(p[0]))


def split_kind_prefix(key: str) -> tuple[str | None, OrganisationKind | None, str] | None:
    """("kreis hoexter") → (Kreis level, None, "hoexter"); None without a kind word in front."""
    for prefix, level, kind in _PREFIXES_BY_LENGTH:
        if key.startswith(prefix + " ") and len(key) > len(prefix) + 1:
            return level, kind, key[len(prefix) + 1 :]
    return None


# Abbreviations in official names and how people write them out.
_ABBREVIATIONS: tuple[tuple[str, str], ...] = (
    (r"\ba\.\s*d\.\s*", "an der "),
    (r"\bi\.\s*d\.\s*", "in der "),
    (r"\bv\.\s*d\.\s*", "vor der "),
    (r"\bo\.\s*d\.\s*", "ob der "),
    (r"\ba\.\s*", "am "),
    (r"\bi\.\s*", "im "),
    (r"\bb\.\s*", "bei "),
    (r"\bv\.\s*", "vor dem "),
    (r"\bu\.\s*", "unter "),
    (r"\bOPf\.", "Oberpfalz"),
    (r"\bOFr\.", "Oberfranken"),
    (r"\bUFr\.", "Unterfranken"),
    (r"\bMFr\.", "Mittelfranken"),
    (r"\bOB\b", "Oberbayern"),
    (r"\bNB\b", "Niederbayern"),
    (r"\bBay\.", "Bayern"),
    (r"\bWestf\.", "Westfalen"),
    (r"\bVogtl\.", "Vogtland"),
    (r"\bHl\.", "Heiligen"),
)
_QUALIFIER_RE = re.compile(
    r"^(?P<base>.+?)(?:\s*\(.*\)|\s*/\s*\S.*|\s+(?:[aibvuo]\.\s*(?:d\.\s*)?|(?:am|an|an der|im|in|in der|bei|ob der|vor der|vor dem|unter|auf der)\s+)\S.*)$"
)


def spelled_out(name: str) -> str:
    """Official abbreviations written out: "Neustadt a.d.Waldnaab" → "Neustadt an der Waldnaab"."""
    if "." not in name and " OB" not in name and " NB" not in name:
        return name
    out = name
    for pattern, repl in _ABBREVIATIONS:
        out = re.sub(pattern, repl, out)
    return " ".join(out.split())


def base_name(name: str) -> str | None:
    """The name without its qualifier ("Halle (Saale)" → "Halle", "Frankfurt am Main" → "Frankfurt")."""
    m = _QUALIFIER_RE.match(name)
    if not m:
        return None
    base = m.group("base").strip(" ,-/")
    return base if base and base != name and len(base) >= 2 else None


def name_variants(entry: Mapping[str, Any]) -> set[str]:
    """Every name key an entry is found by in an exact lookup.

    Kind words in front ("Kreis", "Amt", "Stadt" …) and a Destatis suffix
    after a comma are taken off the query instead (see `find_by_name`), so
    only the name itself, without its qualifier, written out, and without
    umlaut dots are keys; a Kreis whose name starts with a kind word
    ("Landkreis Rostock") is also found by the rest ("Rostock").
    """
    if not entry.get("listed", True):
        return set()
    name = entry["name"]
    names = {name, spelled_out(name)}
    base = base_name(name)
    if base:
        names.add(base)
    keys = {name_key(n) for n in names} | {loose_key(n) for n in names}
    if entry["level"] == KREIS:
        bare = split_kind_prefix(name_key(name))
        if bare:
            keys.add(bare[2])
    return {k for k in keys if k}


def prefix_forms(entry: Mapping[str, Any]) -> set[str]:
    """The name keys an entry is suggested under while one types."""
    if not entry.get("listed", True):
        return set()
    forms = {name_key(entry["name"]), name_key(entry.get("display_name") or ""), name_key(spelled_out(entry["name"]))}
    forms |= {loose_key(entry["name"])}
    if entry["level"] == KREIS:
        bare = split_kind_prefix(name_key(entry["name"]))
        stem = bare[2] if bare else name_key(entry["name"])
        forms |= {f"kreis {stem}", f"landkreis {stem}"}
    return {f[:MAX_PREFIX] for f in forms if f}


def reference(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The short form of an entry kept in key documents: enough for a pick list (the Land follows from the key)."""
    display = entry.get("display_name") or entry["name"]
    ref = {
        "key": entry["_id"] if "_id" in entry else entry["id"],
        "name": entry["name"] if entry["name"] != display else None,
        "display_name": display,
        "level": entry["level"],
        "kind": _value(entry.get("kind")),
        "kind_label": entry["kind_label"],
        "kreis_name": entry.get("kreis_name"),
        "population": entry.get("population"),
    }
    return {k: v for k, v in ref.items() if v is not None}


def _slim(ref: Mapping[str, Any]) -> dict[str, Any]:
    """A reference for a prefix document (the kind is only needed to narrow exact lookups)."""
    return {k: v for k, v in ref.items() if k != "kind"}


def _ref_forms(ref: Mapping[str, Any]) -> set[str]:
    """The prefix forms of a reference (computed, not stored: it keeps the prefix documents small)."""
    return prefix_forms({"name": ref.get("name") or ref["display_name"], "display_name": ref["display_name"], "level": ref["level"]})


def with_state(ref: Mapping[str, Any]) -> dict[str, Any]:
    """A reference as lookups return it: with its Land."""
    state = state_for_ags(ref["key"])
    out = dict(ref)
    if state is not None:
        out["state"] = state.value
    return out


def _value(v: Any) -> Any:
    return getattr(v, "value", v)


def _rank(ref: Mapping[str, Any]) -> tuple[int, int, str]:
    return (-(ref.get("population") or 0), LEVELS.index(ref["level"]), ref.get("display_name", ""))


def _level_order(ref: Mapping[str, Any]) -> tuple[int, int, str]:
    return (LEVELS.index(ref["level"]), -(ref.get("population") or 0), ref.get("display_name", ""))


def build_keys(entries: Iterable[Mapping[str, Any]]) -> tuple[dict[str, list[dict[str, Any]]], dict[str, tuple[bool, list[dict[str, Any]]]]]:
    """The key documents for `entries`: ({name key: refs}, {prefix: (complete, refs)}).

    Prefix documents exist for every one-letter prefix with entries and for
    every longer prefix whose parent has more than PREFIX_FANOUT entries, so
    they form, along any typed prefix, an unbroken run from length 1 (what
    `suggest` relies on). A complete document lists each entry with its
    forms (`f`), so longer prefixes are filtered from it.
    """
    names: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_prefix: dict[str, set[str]] = defaultdict(set)
    refs: dict[str, dict[str, Any]] = {}
    forms_of: dict[str, set[str]] = {}
    for entry in entries:
        ref = reference(entry)
        key = ref["key"]
        for name in name_variants(entry):
            names[name].append(ref)
        forms = prefix_forms(entry)
        if not forms:
            continue
        refs[key] = ref
        forms_of[key] = forms
        for form in forms:
            for n in range(1, len(form) + 1):
                by_prefix[form[:n]].add(key)
    name_docs = {k: sorted(v, key=_level_order) for k, v in names.items()}
    order = {k: n for n, k in enumerate(sorted(refs, key=lambda k: _rank(refs[k])))}
    exact_by_form: dict[str, list[str]] = defaultdict(list)
    for key, forms in forms_of.items():
        for form in forms:
            exact_by_form[form].append(key)
    prefix_docs: dict[str, tuple[bool, list[dict[str, Any]]]] = {}
    slim = {k: _slim(r) for k, r in refs.items()}
    for prefix, keys in by_prefix.items():
        if len(prefix) > 1 and len(by_prefix[prefix[:-1]]) <= PREFIX_FANOUT:
            continue
        if len(keys) <= PREFIX_FANOUT:
            chosen, complete = sorted(keys, key=order.__getitem__), True
        else:
            best = heapq.nsmallest(PREFIX_FANOUT, keys, key=order.__getitem__)
            chosen, complete = sorted(dict.fromkeys(exact_by_form.get(prefix, []) + best), key=order.__getitem__), False
        prefix_docs[prefix] = (complete, [slim[k] for k in chosen])
    return name_docs, prefix_docs


# ----------------------------------------------------------------- reads


async def get(key: str) -> RegisterEntry | None:
    """The entry with this key (AGS, or Verband-ARS), by `_id`."""
    key = (key or "").strip()
    if not KEY_RE.match(key):
        return None
    return await RegisterEntry.get(key)


async def find_by_name(text: str) -> list[dict[str, Any]]:
    """Every entry called `text`, as references: "Höxter" → Stadt and Kreis; "Kreis Höxter" → the Kreis.

    Kind words in front narrow the result ("Stadt", "Landkreis", "Amt" …);
    an AGS finds its entry. Keyed reads only (one to three).
    """
    text = (text or "").strip()
    if not text:
        return []
    digits = re.sub(r"\s", "", text)
    if KEY_RE.match(digits):
        entry = await get(digits)
        return [with_state(reference(entry.model_dump(by_alias=True)))] if entry else []
    found: dict[str, dict[str, Any]] = {}
    for query in _name_queries(text):
        await _collect_by_name(query, found)
        if found:
            break
    return [with_state(r) for r in sorted(found.values(), key=_level_order)]


def may_find_by_name(text: str, names: frozenset[str]) -> bool:
    """False when `find_by_name(text)` finds nothing for sure, given every `register_names` key (`name_keys`)."""
    if KEY_RE.match(re.sub(r"\s", "", text or "")):
        return True  # an AGS: found by its entry's key, not by a name
    return bool(name_lookup_keys(text) & names)


def _name_queries(text: str) -> list[str]:
    """The names `find_by_name` looks up for a (trimmed) text, in order: "Höxter, Stadt" as the register writes it
    also as "Stadt Höxter" (the kind after the comma narrows like one in front), then as "Höxter"."""
    queries = [text]
    if "," in text:
        base, kind = (part.strip() for part in text.split(",", 1))
        queries += [f"{kind} {base}", base]
    return queries


def name_lookup_keys(text: str) -> set[str]:
    """Every `register_names` key `find_by_name(text)` may read (for a text that is no AGS)."""
    keys: set[str] = set()
    for query in _name_queries((text or "").strip()):
        key = name_key(query)[:200]
        if not key:
            continue
        keys.add(key)
        if split := split_kind_prefix(key):
            keys.add(split[2])
        keys.add(loose_key(query)[:200])
    return keys


async def name_keys() -> frozenset[str]:
    """The `_id` of every `register_names` document. Batch work (a scan): never on a request path. Read in batches of
    NAME_KEYS_BATCH, so the event loop decodes a small batch at a time between other requests' steps."""
    cursor = RegisterName.get_pymongo_collection().find({}, {"_id": 1}, batch_size=NAME_KEYS_BATCH)
    return frozenset([str(d["_id"]) async for d in cursor])


NAME_KEYS_BATCH = 1000


async def _collect_by_name(text: str, found: dict[str, dict[str, Any]]) -> None:
    key = name_key(text)[:200]
    if not key:
        return
    for ref in _refs(await _key_doc(RegisterName, key)):
        found.setdefault(ref["key"], ref)
    split = split_kind_prefix(key)
    if split:
        level, kind, rest = split
        narrowed = {k: r for k, r in found.items() if r["level"] == level}
        found.clear()
        found.update(narrowed)
        for ref in _refs(await _key_doc(RegisterName, rest)):
            if ref["level"] == level and (kind is None or ref.get("kind") == kind.value):
                found.setdefault(ref["key"], ref)
    if not found:
        for ref in _refs(await _key_doc(RegisterName, loose_key(text)[:200])):
            found.setdefault(ref["key"], ref)


async def suggest(text: str, limit: int = 10) -> list[dict[str, Any]]:
    """Entries whose name starts with `text`, exact names first, then by population. Keyed reads only."""
    key = name_key(text)[:MAX_PREFIX]
    if not key:
        return []
    limit = max(1, min(int(limit), MAX_LOOKUP))
    doc = await _key_doc(RegisterPrefix, key)
    if doc is None:
        lo, hi = 1, len(key) - 1
        while lo <= hi:  # prefix documents form an unbroken run from length 1 (see build_keys)
            mid = (lo + hi) // 2
            candidate = await _key_doc(RegisterPrefix, key[:mid])
            if candidate is None:
                hi = mid - 1
            else:
                doc, lo = candidate, mid + 1
        if doc is None or not doc.get("complete"):
            return []
        items = [r for r in _refs(doc) if any(f.startswith(key) for f in _ref_forms(r))]
    else:
        items = _refs(doc)
    exact = [r for r in items if key in _ref_forms(r)]
    rest = [r for r in items if key not in _ref_forms(r)]
    out = sorted(exact, key=_level_order) + sorted(rest, key=_rank)
    return [with_state(r) for r in out[:limit]]


# ----------------------------------------------------------------- cached reads (indexing)
#
# Indexing reads the register for every profile it indexes (catalogue/search/regions.py);
# the register changes only when it is loaded again, so those reads are cached per
# process: per database (tests use one each), cleared by `store` in this process and
# expiring after CACHE_TTL_S, so a load by another process (the CLI) is seen too.

CACHE_TTL_S = 900.0
CACHE_MAX = 20_000
_cache: dict[tuple[str, str, str], tuple[float, Any]] = {}
# Counts this process's loads of the register (`store` clears the caches): whoever keeps what it read of the
# register (catalogue/search/places.py) compares it and reads again.
generation = 0


def clear_cache() -> None:
    global generation  # noqa: PLW0603 - one counter per process, changed on the event loop
    generation += 1
    _cache.clear()


async def _cached(kind: str, key: str, load: Callable[[], Any]) -> Any:
    slot = (RegisterEntry.get_pymongo_collection().database.name, kind, key)
    now = time.monotonic()
    hit = _cache.get(slot)
    if hit is not None and now - hit[0] < CACHE_TTL_S:
        return hit[1]
    value = await load()
    if len(_cache) >= CACHE_MAX:
        _cache.clear()
    _cache[slot] = (now, value)
    return value


async def cached_get(key: str) -> RegisterEntry | None:
    """`get`, cached (see above). The entry is shared: do not change it."""
    found: RegisterEntry | None = await _cached("key", key, lambda: get(key))
    return found


async def cached_find_by_name(text: str) -> list[dict[str, Any]]:
    """`find_by_name`, cached (see above). The references are shared: do not change them."""
    found: list[dict[str, Any]] = await _cached("name", text, lambda: find_by_name(text))
    return found


def attribution_for(source: str | None, as_of: Any = None) -> str | None:
    """The licence's attribution for a figure whose source is the Destatis register, else None.

    "Destatis GV-ISys", 2019-12-31 → "© Statistisches Bundesamt (Destatis), 2020, Datenlizenz Deutschland –
    Namensnennung – 2.0" (a Gebietsstand of 31 December is published the year after). A source that
    states its credit already ("Destatis GV-ISys (Stand 31.12.2019), © Statistisches Bundesamt
    (Destatis), 2020", as the demo set writes it) gets only the licence.
    """
    if not source or "destatis" not in source.lower():
        return None
    if "©" in source:
        return LICENCE_SHORT
    text = str(as_of or "")
    m = re.match(r"(\d{4})-(\d{2})-(\d{2})", text)
    year = (int(m.group(1)) + (1 if m.group(2, 3) == ("12", "31") else 0)) if m else None
    credit = f"© Statistisches Bundesamt (Destatis), {year}" if year else DEFAULT_ATTRIBUTION
    return f"{credit}, {LICENCE_SHORT}"


async def meta() -> RegisterMeta | None:
    return await RegisterMeta.get("register")


async def attribution() -> str:
    """The attribution the licence asks for, for the register that is loaded."""
    m = await meta()
    return (m.attribution if m and m.attribution else None) or DEFAULT_ATTRIBUTION


# ------------------------------------------------------------ aggregates

SUM_SUFFIX = " (Summe der Gemeinden)"


def aggregate(entries: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Population and area of every Kreis, Gemeindeverband, Regierungsbezirk and Land: the sum of its Gemeinden.

    Works on register entries keyed by their key (as assembled, or as
    stored), returns them with the sums (and size classes) filled in, so a
    register always sums what it holds – also after an excerpt was loaded
    on top of it.
    """
    sums: dict[str, list[Any]] = {}
    for key, e in entries.items():
        if e["level"] != GEMEINDE:
            continue
        uppers = {key[:2], key[:5]}
        for field_name in ("rb", "verband"):
            if e.get(field_name):
                uppers.add(e[field_name])
        for up in uppers:
            s = sums.setdefault(up, [0, 0.0, 0, None, None])
            s[0] += e.get("population") or 0
            s[1] += e.get("area_km2") or 0.0
            s[2] += 1
            s[3] = s[3] or e.get("population_as_of")
            s[4] = s[4] or e.get("population_source")
    out: dict[str, dict[str, Any]] = {}
    for key, stored_entry in entries.items():
        e = dict(stored_entry)
        if e["level"] != GEMEINDE:
            for name in ("population", "population_as_of", "population_source", "area_km2"):
                e.pop(name, None)
            total = sums.get(key)
            if total and total[2]:
                s = total
                if s[0]:
                    e["population"] = int(s[0])
                    e["population_as_of"] = s[3]
                    e["population_source"] = (s[4] or REGISTER_SOURCE) + SUM_SUFFIX
                if s[1]:
                    e["area_km2"] = round(s[1], 2)
        size = size_class_of(e)
        if size is None:
            e.pop("size_class", None)
        else:
            e["size_class"] = size
        out[key] = e
    return out


def size_class_of(e: Mapping[str, Any]) -> str | None:
    """The BBSR size class of a Gemeinde or Gemeindeverband by population; a Kreis is a Kreis."""
    if e["level"] == KREIS and not e.get("kreisfrei"):
        return SizeClass.DISTRICT.value
    if e["level"] not in (GEMEINDE, VERBAND, KREIS):
        return None
    sc = size_class_for(e.get("population"), _value(e.get("kind")))
    return sc.value if sc else None


# ---------------------------------------------------------------- writes


class RegisterBusy(RuntimeError):
    """Another process is loading the register right now."""


@dataclass
class StoreReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    keys_written: int = 0
    skipped: bool = False  # the same source was loaded already

    def summary(self) -> str:
        return (
            f"{len(self.created)} neu, {len(self.updated)} geändert, {len(self.unchanged)} unverändert, "
            f"{len(self.removed)} entfernt"
        )


Progress = Callable[[int, int], None]
CHUNK = 5000  # documents per insert (FerretDB writes a batch in one go)


BUSY_MESSAGE = "Das Gemeindeverzeichnis wird gerade von einem anderen Prozess geladen."


async def acquire_lock() -> str:
    """Take the loading lock (`register_meta` "lock"); returns this holder's token.

    Both writes go through `catalogue.atomic`: a free lock is an insert (the
    unique `_id` decides), an expired one – of a process that died while
    loading – is taken over by a compare-and-set on its expiry, so of several
    processes finding the same stale lock exactly one gets it. A lock that
    is still valid raises `RegisterBusy`.
    """
    coll = RegisterMeta.get_pymongo_collection()
    token = uuid4().hex
    now = utcnow()
    if await atomic.insert(coll, {"_id": LOCK_ID, "owner": token, "until": now + LOCK_TTL}):
        return token
    taken = await atomic.update_if(coll, LOCK_ID, {"until": {"$lte": now}}, {"$set": {"owner": token, "until": now + LOCK_TTL}})
    if taken:
        return token
    # released between the insert and the takeover: one more insert (a concurrent holder still wins)
    if await atomic.insert(coll, {"_id": LOCK_ID, "owner": token, "until": now + LOCK_TTL}):
        return token
    raise RegisterBusy(BUSY_MESSAGE)


async def release_lock(token: str) -> bool:
    """Give the loading lock back – only if this holder still has it (a takeover after expiry keeps the new holder's)."""
    return await atomic.delete_if(RegisterMeta.get_pymongo_collection(), LOCK_ID, {"owner": token})


def _clean(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A stored entry without empty fields and without what is derived (size class, the usual source)."""
    defaults = {"kreisfrei": False, "former": False, "listed": True, "population_source": default_population_source(doc["level"]) if "level" in doc else None}
    return {k: v for k, v in doc.items() if v is not None and k != "size_class" and defaults.get(k, ...) != v}


def default_population_source(level: str) -> str:
    return REGISTER_SOURCE if level == GEMEINDE else REGISTER_SOURCE + SUM_SUFFIX


def entry_document(entry: Mapping[str, Any]) -> dict[str, Any]:
    """An entry (as the importer yields it) validated and in stored form: `_id` first, no empty fields."""
    data = dict(entry)
    key = str(data.pop("_id", None) or data.pop("id", ""))
    if not KEY_RE.match(key):
        raise ValueError(f"ungültiger Schlüssel „{key[:20]}“")
    if data.get("official_name") == data.get("name"):
        data["official_name"] = None
    if data.get("display_name") == data.get("name"):
        data["display_name"] = None
    if data.get("ars") == key:
        data["ars"] = None
    doc = EntryFields.model_validate(data).model_dump(mode="json")
    return {"_id": key, **_clean(doc)}


async def _write(coll: Any, replace: Sequence[str], docs: Sequence[Mapping[str, Any]]) -> None:
    """Delete `replace` ids, then insert `docs`, in chunks (one scan per chunk on FerretDB, not per document)."""
    for i in range(0, len(replace), CHUNK):
        await coll.delete_many({"_id": {"$in": list(replace[i : i + CHUNK])}})
    for i in range(0, len(docs), CHUNK):
        try:
            await coll.insert_many(list(docs[i : i + CHUNK]), ordered=False)
        except BulkWriteError as exc:  # a concurrent writer put the same document first
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise


async def _sync_collection(coll: Any, wanted: Mapping[str, dict[str, Any]], tick: Callable[[int], None]) -> int:
    """Make `coll` hold exactly `wanted` (id → document); rewrite only what differs."""
    stored: dict[str, dict[str, Any]] = {}
    async for doc in coll.find({}):
        stored[doc["_id"]] = doc
    stale = [k for k in stored if k not in wanted or stored[k] != wanted[k]]
    fresh = [wanted[k] for k in wanted if k not in stored or stored[k] != wanted[k]]
    await _write(coll, stale, fresh)
    tick(len(wanted))
    return len(fresh)


async def store(
    entries: Sequence[Mapping[str, Any]],
    *,
    fingerprint: str,
    source_name: str,
    register_as_of: str | None,
    attribution: str | None,
    full: bool,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> StoreReport:
    """Bring the register in the store up to `entries` (batch work: scans are fine here).

    `full` says the source is a whole register: entries it lacks are removed
    (municipalities merged since). A partial source only adds and updates.
    Key documents are rebuilt from the complete stored register. The same
    source twice writes nothing.
    """
    report = StoreReport()
    current = await meta()
    docs = await asyncio.to_thread(lambda: [entry_document(e) for e in entries])
    if current is not None and current.fingerprint == fingerprint and not dry_run:
        report.skipped = True
        report.unchanged = [d["_id"] for d in docs]
        return report
    token = None if dry_run else await acquire_lock()
    try:
        coll = RegisterEntry.get_pymongo_collection()
        stored: dict[str, dict[str, Any]] = {}
        async for doc in coll.find({}):
            stored[str(doc["_id"])] = doc
        wanted_keys = [d["_id"] for d in docs]
        removed = [k for k in stored if full and k not in set(wanted_keys)]
        merged = {k: v for k, v in stored.items() if k not in removed} | {d["_id"]: d for d in docs}
        merged = {k: _clean(v) for k, v in (await asyncio.to_thread(aggregate, merged)).items()}
        for key in dict.fromkeys(wanted_keys):
            old = stored.get(key)
            if old is None:
                report.created.append(key)
            elif old == merged[key]:
                report.unchanged.append(key)
            else:
                report.updated.append(key)
        report.removed = removed
        if dry_run:
            return report
        # The key documents are built in a thread while the entries are written.
        building = asyncio.ensure_future(asyncio.to_thread(_key_documents, list(merged.values())))
        total = 3 * len(docs)  # refined once the key documents are known
        done = 0

        def tick(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress(min(done, total), total)

        tick(0)
        rewrite = [k for k, v in merged.items() if k in stored and stored[k] != v]  # also sums of bodies not in the source
        changed = rewrite + report.removed
        new_docs = [merged[k] for k in report.created + rewrite]
        for i in range(0, max(len(changed), len(new_docs)), CHUNK):
            await _write(coll, changed[i : i + CHUNK], new_docs[i : i + CHUNK])
            tick(min(CHUNK, len(new_docs) - i) if i < len(new_docs) else 0)
        tick(len(docs) - len(new_docs))
        name_docs, prefix_docs = await building
        total = len(docs) + len(name_docs) + len(prefix_docs)
        report.keys_written += await _sync_collection(RegisterName.get_pymongo_collection(), name_docs, tick)
        report.keys_written += await _sync_collection(RegisterPrefix.get_pymongo_collection(), prefix_docs, tick)
        counts: dict[str, int] = defaultdict(int)
        for d in merged.values():
            counts[d["level"]] += 1
        await RegisterMeta.get_pymongo_collection().replace_one(
            {"_id": "register"},
            {
                "_id": "register",
                "fingerprint": fingerprint,
                "full": full or bool(current and current.full),
                "source_name": source_name,
                "register_as_of": register_as_of,
                "attribution": attribution or DEFAULT_ATTRIBUTION,
                "counts": dict(counts),
                "loaded_at": utcnow(),
            },
            upsert=True,
        )
        if progress:
            progress(total, total)
        return report
    finally:
        clear_cache()
        if token is not None:
            await release_lock(token)


def _key_documents(entries: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """The name and prefix documents as stored (built in a thread)."""
    names, prefixes = build_keys(entries)
    return (
        {k: {"_id": k, "refs": _pack(v)} for k, v in names.items()},
        {k: {"_id": k, "complete": c, "refs": _pack(v)} for k, (c, v) in prefixes.items()},
    )


async def stored_entries() -> list[dict[str, Any]]:
    """Every stored entry (batch work: a full scan)."""
    return [doc async for doc in RegisterEntry.get_pymongo_collection().find({})]


async def drop_legacy() -> None:
    """Remove the collection of the former sample register (`gazetteer`, keyed by ObjectId)."""
    db = RegisterEntry.get_pymongo_collection().database
    if "gazetteer" in await db.list_collection_names():
        await db.drop_collection("gazetteer")
