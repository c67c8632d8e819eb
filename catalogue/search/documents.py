"""Turn a stored profile into the flat search document both backends index.

Every profile is indexed whatever its editorial state; its document carries
the status, the owner and the permission labels (catalogue.access) that
decide who finds it, plus what the lists show and sort by.

The document is JSON-compatible: strings, lists of strings, ints; timestamps
are Unix seconds (UTC) so both engines can filter and sort on them. A
profile never published has no `published_at` (it sorts last by "newest").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from enum import Enum
from functools import cache
from typing import Any

from catalogue import checklist
from catalogue import fields as registry
from catalogue.access import document_labels
from catalogue.adoption import search_fields
from catalogue.fields import Field, Priority
from catalogue.markdown import to_plain_text
from catalogue.vocabularies import EditorialStatus, size_class_for

# ---------------------------------------------------------------- fields, from the field registry
#
# Every profile field with a search role in catalogue/fields.py fills one key of
# the search document; several fields may fill one text key ("texts": the long
# texts, the funding text and programme). The backends' field lists below are
# derived here, in one place.


def _content_keys() -> dict[str, tuple[Field, ...]]:
    keys: dict[str, list[Field]] = {}
    for f in registry.BY_PATH.values():
        if f.search is not None:
            keys.setdefault(registry.search_key(f), []).append(f)
    return {k: tuple(v) for k, v in keys.items()}


CONTENT_KEYS: dict[str, tuple[Field, ...]] = _content_keys()


def _priority(fields: tuple[Field, ...]) -> Priority | None:
    found = {f.search.text for f in fields if f.search is not None and f.search.text is not None}
    if len(found) > 1:
        raise RuntimeError(f"search fields {[f.path for f in fields]} share a key but not a priority")
    return found.pop() if found else None


# Searchable keys, highest priority first (registry order within a priority).
SEARCHABLE: tuple[tuple[str, Priority], ...] = tuple(
    sorted(((k, p) for k, fs in CONTENT_KEYS.items() if (p := _priority(fs)) is not None), key=lambda kp: kp[1])
)
# Facets of profile fields and of the register (kreis, regierungsbezirk: set at indexing time, catalogue/search/regions.py).
CONTENT_FACETS: tuple[str, ...] = tuple(spec.key for spec in registry.facet_specs())
REGISTER_KEYS: tuple[str, ...] = tuple(r.key for r in registry.REGISTER_FACETS)
RANGES: tuple[str, ...] = tuple(k for k, fs in CONTENT_KEYS.items() if any(f.search and f.search.range for f in fs))
SORT_KEYS: tuple[str, ...] = tuple(f"{k}_sort" for k, fs in CONTENT_KEYS.items() if any(f.search and f.search.sort for f in fs))

# ---------------------------------------------------------------- the editorial block
#
# Keys of the document itself, not profile content (`editorial_fields` below):
# the editorial state and owner that lists filter on, the permission labels
# every query filters on (catalogue.access), the version and the reviewers'
# note that lists show, and the timestamps lists sort by.
STATUS = "status"
OWNER = "owner"
FILTER_ONLY: tuple[str, ...] = (STATUS, OWNER)  # filters that are not facets
LABELS_FIELD = "labels"
PUBLISHED = "published_at"
UPDATED = "updated_at"
CREATED = "created_at"
TIMESTAMPS: tuple[str, ...] = (PUBLISHED, UPDATED, CREATED)
# Freshness (catalogue.freshness): when the owner last confirmed the profile, or else when it was
# published (created, if never): a range filter ("seit 12 Monaten nicht bestätigt") and a sort.
CONFIRMED = "confirmed_at"
# Adoption (catalogue.adoption, from the profile's adoption summary): the stages present (a facet),
# the number of active adopters (the sort "am häufigsten nachgenutzt"), their size classes.
ADOPTION_STAGES = "adoption_stages"
ADOPTION_COUNT = "adoption_count"
ADOPTER_SIZES = "adopter_size_classes"
EDITORIAL_FACETS: tuple[str, ...] = (ADOPTION_STAGES,)
EDITORIAL_FACET_LABELS: dict[str, str] = {ADOPTION_STAGES: "Nachnutzung"}
EDITORIAL_INTEGERS: tuple[str, ...] = (CONFIRMED, ADOPTION_COUNT)  # filtered by range and sorted by
EDITORIAL_KEYS: tuple[str, ...] = (
    *FILTER_ONLY, LABELS_FIELD, "version", "review_note", "missing", *TIMESTAMPS, *EDITORIAL_INTEGERS, *EDITORIAL_FACETS, ADOPTER_SIZES,
)

FACETS: tuple[str, ...] = (*CONTENT_FACETS, *EDITORIAL_FACETS)
FACET_LABELS: dict[str, str] = {
    **{spec.key: spec.facet.label for spec in registry.facet_specs()}, **EDITORIAL_FACET_LABELS,
}

# The backends' field lists.
FILTERABLE: tuple[str, ...] = (*FACETS, *RANGES, PUBLISHED, CONFIRMED, "id", *FILTER_ONLY, LABELS_FIELD)
SORTABLE: tuple[str, ...] = (*TIMESTAMPS, *EDITORIAL_INTEGERS, *SORT_KEYS)

if clash := {"id", "slug", *SORT_KEYS, *EDITORIAL_KEYS} & {*CONTENT_KEYS, *REGISTER_KEYS}:
    raise RuntimeError(f"search keys of the field registry clash with the document's own keys: {sorted(clash)}")


def plain_text(markdown: str | None) -> str:
    """Markdown to plain text (catalogue.markdown)."""
    return to_plain_text(markdown) if markdown else ""


# ---------------------------------------------------------------- index-time analysis
#
# German writes the shared head of several compounds once: "Gebäude-, Energie- und Trinkwassermanagement" is
# "Gebäudemanagement", "Energiemanagement" and "Trinkwassermanagement". A search for one of the shortened compounds
# should find the text. Without a dictionary the head's start in the last compound is unknown, so every cut that
# leaves it MIN_SUSPENDED_HEAD letters is completed ("Gebäude" + "management", + "wassermanagement", + "agement", ...):
# the extra words only ever join a modifier and a tail of a word that the same text contains, so a query meets them
# only with words of this text.
_SUSPENDED = re.compile(r"((?:\b[^\W\d_]{2,}-,?\s+)+)(?:und|oder|bzw\.|sowie)\s+([^\W\d_]+(?:-[^\W\d_]+)*)")
_MODIFIER = re.compile(r"([^\W\d_]{2,})-")
MIN_SUSPENDED_HEAD = 4  # letters of the shared head
MIN_LAST_MODIFIER = 2  # letters before the head in the last compound
MAX_SUSPENDED_WORD = 40  # longer words are not completed (noise, not compounds)
# Where _SUSPENDED is tried (`_suspended_matches`): tried at every word of a text, the full pattern costs about a
# quarter of a millisecond per profile (several per cent of the indexing worker's time per profile). Every match
# holds a connective: the last modifier's hyphen, then "und", "oder", "bzw." or "sowie". That starts with a literal
# and is found at string-search speed, and no chain of modifiers runs through one (a modifier ends in a hyphen), so
# a match ends its chain at the first connective after where it starts. Backwards from a connective's hyphen,
# _CHAIN_BACK (on the reversed text) finds how far such a chain can reach; the full pattern is tried at those words.
_CONNECTIVE = re.compile(r"-,?\s+(?:und|oder|bzw\.|sowie)\s")
_CHAIN_BACK = re.compile(r"[^\W\d_]{2,}(?:\s+,?-[^\W\d_]{2,})*")
_WORD_START = re.compile(r"\b[^\W\d_]")


def _suspended_matches(text: str) -> Iterator[re.Match[str]]:
    """The matches `_SUSPENDED.finditer(text)` gives, in order, with the full pattern tried only where a match can start."""
    pos = 0
    reverse: str | None = None
    while (connective := _CONNECTIVE.search(text, pos)) is not None:
        hyphen = connective.start()
        reverse = reverse if reverse is not None else text[::-1]
        back = _CHAIN_BACK.match(reverse, len(text) - hyphen)  # the letters and separators before the hyphen, reversed
        found = None
        if back is not None:
            for word in _WORD_START.finditer(text, max(pos, hyphen - (back.end() - back.start())), hyphen):
                if (found := _SUSPENDED.match(text, word.start())) is not None:
                    break
        if found is None:  # no match has its connective here, and none starts before it
            pos = hyphen + 1
            continue
        yield found
        pos = found.end()


def suspended_compounds(text: str) -> list[str]:
    """The compounds that suspension hyphens shorten in `text` ("Energie- und Wassermanagement" -> "Energiemanagement",
    and the other cuts of the head, see above); hyphenated last words give their last part ("Energieerzeugungs- und
    Energiecontrolling-Anlagen" -> "Energieerzeugungsanlagen")."""
    out: dict[str, None] = {}
    for m in _suspended_matches(text):
        last = m.group(2)
        if len(last) > MAX_SUSPENDED_WORD:
            continue
        if "-" in last:
            heads = [last.rsplit("-", 1)[1]]
        else:
            heads = [last[i:] for i in range(MIN_LAST_MODIFIER, len(last) - MIN_SUSPENDED_HEAD + 1)]
        for modifier in _MODIFIER.findall(m.group(1)):
            for head in heads:
                if len(head) >= MIN_SUSPENDED_HEAD:
                    out[modifier + head.lower()] = None
    return list(out)


def fold_for_sort(text: str) -> str:
    """Lowercase, umlauts as base letters (DIN 5007-1), ß as ss, leading punctuation dropped."""
    text = text.casefold().replace("ß", "ss")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"^[^0-9a-z]+", "", text)


def _value(v: Any) -> Any:
    return v.value if isinstance(v, Enum) else v


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _timestamp(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp())
    if isinstance(value, date):
        return int(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp())
    return int(value)


def _through_list(f: Field) -> bool:
    """Whether a path passes through a list of objects ("municipalities.name")."""
    parts = f.path.split(".")
    return any(registry.field(".".join(parts[:i])).kind() == "models" for i in range(1, len(parts)))


@cache
def _shape(path: str) -> tuple[bool, bool, bool]:
    """How a field's search value is made (the registry does not change): Markdown, a list, a text defaulting to ""."""
    f = registry.field(path)
    listed = f.kind() in ("list", "enums") or _through_list(f)
    return f.is_markdown, listed, f.kind() == "str" and f.model_field().default == ""


def _content_value(profile: Any, f: Field) -> Any:
    value = registry.value_at(profile, f.path)
    markdown, listed, empty_text = _shape(f.path)
    if markdown:
        return plain_text(value or "")
    if listed:
        return [str(_value(v)) for v in value or () if v is not None and v != ""]
    value = _value(value)
    if value is None and empty_text:
        return ""
    return str(value) if isinstance(value, str) else value


def to_search_document(profile: Any, adoption: Mapping[str, Any] | None = None, region: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The search document of a profile (a `Profile`, also one built with
    `model_construct`, or a dict shaped like `Profile.model_dump(mode="json")`).

    `id` is `str(profile.id)`; a profile without id falls back to its slug.
    The content keys come from the field registry (`CONTENT_KEYS`), the
    editorial block from `editorial_fields`; `adoption` is the profile's
    adoption summary document (catalogue.adoption), None when it has none.
    `region` holds what the
    municipality register says about the lead (`REGISTER_KEYS` and
    `size_class`, see catalogue/search/regions.py, which the indexing paths
    call); without it those keys are empty and the size class is the profile's own.
    """
    pid = _get(profile, "id")
    slug = str(_get(profile, "slug") or "")
    doc: dict[str, Any] = {"id": str(pid) if pid is not None else slug, "slug": slug}
    for key, fields in CONTENT_KEYS.items():
        if len(fields) == 1:
            doc[key] = _content_value(profile, fields[0])
        else:  # one text from several fields
            texts = [str(_content_value(profile, f) or "") for f in fields]
            doc[key] = "\n\n".join(t for t in texts if t.strip())
    for sort_key in SORT_KEYS:
        doc[sort_key] = fold_for_sort(str(doc.get(sort_key.removesuffix("_sort")) or ""))
    if doc.get("size_class") is None:  # derived; computed here for a profile built without it
        lead = _get(profile, "lead")
        derived = size_class_for(_get(profile, "population"), _value(_get(lead, "kind")))
        doc["size_class"] = derived.value if derived else None
    region = region or {}
    for key in REGISTER_KEYS:
        doc[key] = region.get(key)
    if region.get("size_class"):  # the register's figure for the lead wins over the profile's own
        doc["size_class"] = region["size_class"]
    doc.update(editorial_fields(profile, adoption))
    return doc


def _content_view(profile: Any) -> dict[str, Any]:
    """What the checklist reads, from a `Profile` or a dumped dict alike."""
    return {item.field.split(".")[0]: _plain(_get(profile, item.field.split(".")[0])) for item in checklist.ITEMS}


def _plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return _value(value)


def editorial_fields(profile: Any, adoption: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The editorial block (`EDITORIAL_KEYS`): state, owner, permission labels,
    version, the reviewers' note, the publication checklist's missing items
    (`catalogue.checklist`) and the timestamps; what lists filter, sort and show."""
    status = str(_value(_get(profile, "status")) or EditorialStatus.DRAFT.value)
    owner = _get(profile, OWNER) or None
    comments = _get(profile, "review_comments") or ()
    # the reviewers' last comment, shown to the owner beside a returned draft
    note = _get(comments[-1], "text") if comments and status == EditorialStatus.DRAFT.value else None
    return {
        STATUS: status,
        OWNER: str(owner) if owner else None,
        LABELS_FIELD: document_labels(owner=owner, status=status),
        "version": int(_get(profile, "version") or 0),
        "review_note": str(note) if note else None,
        "missing": checklist.missing_keys(_content_view(profile)),
        **{key: _timestamp(_get(profile, key)) for key in TIMESTAMPS},
        CONFIRMED: _timestamp(_get(profile, CONFIRMED) or _get(profile, PUBLISHED) or _get(profile, CREATED)),
        **search_fields(adoption),
    }
