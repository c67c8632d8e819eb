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
from collections.abc import Iterable
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

try:  # written by another part of the project; keep a crude fallback
    from catalogue.markdown import to_plain_text as _markdown_to_plain_text
except ImportError:  # pragma: no cover - only before catalogue.markdown exists
    _markdown_to_plain_text = None

from catalogue.access import document_labels
from catalogue.vocabularies import EditorialStatus, size_class_for

TEXT_FIELDS: tuple[str, ...] = ("occasion", "goal", "implementation", "results", "lessons")

_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_MARKS = re.compile(r"(^|\s)[#>]+\s*|[*_`~]+|^\s*[-+]\s+|^\s*\d+\.\s+", re.MULTILINE)


def _crude_plain_text(text: str) -> str:
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_MARKS.sub(lambda m: m.group(1) or "", text)
    return re.sub(r"[ \t]+", " ", text).strip()


def plain_text(markdown: str | None) -> str:
    """Markdown to plain text (catalogue.markdown if available, else a crude strip)."""
    if not markdown:
        return ""
    if _markdown_to_plain_text is not None:
        return _markdown_to_plain_text(markdown)
    return _crude_plain_text(markdown)


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


def _names(items: Iterable[Any] | None) -> list[str]:
    out: list[str] = []
    for item in items or ():
        name = _get(item, "name")
        if name:
            out.append(str(name))
    return out


def _timestamp(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp())
    if isinstance(value, date):
        return int(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp())
    return int(value)


def to_search_document(profile: Any) -> dict[str, Any]:
    """The search document of a profile (a `Profile`, also one built with
    `model_construct`, or a dict shaped like `Profile.model_dump(mode="json")`).

    `id` is `str(profile.id)`; a profile without id falls back to its slug.
    """
    pid = _get(profile, "id")
    slug = str(_get(profile, "slug") or "")
    lead = _get(profile, "lead")
    funding = _get(profile, "funding")
    size_class = _value(_get(profile, "size_class"))
    if size_class is None:
        derived = size_class_for(_get(profile, "population"), _value(_get(lead, "kind")))
        size_class = derived.value if derived else None
    texts = [plain_text(_get(profile, name) or "") for name in TEXT_FIELDS]
    texts.append(plain_text(_get(funding, "text") or ""))
    programme = _get(funding, "programme")
    if programme:
        texts.append(str(programme))
    title = str(_get(profile, "title") or "")
    return {
        "id": str(pid) if pid is not None else slug,
        "slug": slug,
        "title": title,
        "title_sort": fold_for_sort(title),
        "summary": str(_get(profile, "summary") or ""),
        "keywords": [str(k) for k in _get(profile, "keywords") or ()],
        "texts": "\n\n".join(t for t in texts if t.strip()),
        "lead": str(_get(lead, "name")) if _get(lead, "name") else None,
        "lead_kind": _value(_get(lead, "kind")),
        "municipalities": _names(_get(profile, "municipalities")),
        "partners": _names(_get(profile, "partners")),
        "state": _value(_get(profile, "state")),
        "district": _get(profile, "district"),
        "size_class": size_class,
        "population": _get(profile, "population"),
        "fields_of_action": [str(_value(f)) for f in _get(profile, "fields_of_action") or ()],
        "legal_form": _value(_get(profile, "legal_form")),
        "project_status": _value(_get(profile, "project_status")),
        "funding_kinds": [str(_value(k)) for k in _get(funding, "kinds") or ()],
        "collaboration_since": _get(profile, "collaboration_since"),
        **editorial_fields(profile),
    }


def editorial_fields(profile: Any) -> dict[str, Any]:
    """Editorial state, owner, permission labels and timestamps: what lists filter, sort and show."""
    status = str(_value(_get(profile, "status")) or EditorialStatus.DRAFT.value)
    owner = _get(profile, "owner") or None
    comments = _get(profile, "review_comments") or ()
    # the reviewers' last comment, shown to the owner beside a returned draft
    note = _get(comments[-1], "text") if comments and status == EditorialStatus.DRAFT.value else None
    return {
        "status": status,
        "owner": str(owner) if owner else None,
        "labels": document_labels(owner=owner, status=status),
        "version": int(_get(profile, "version") or 0),
        "review_note": str(note) if note else None,
        "created_at": _timestamp(_get(profile, "created_at")),
        "updated_at": _timestamp(_get(profile, "updated_at")),
        "published_at": _timestamp(_get(profile, "published_at")),
    }
