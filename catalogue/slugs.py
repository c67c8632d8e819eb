"""Slugs: stable, unique, lowercase ASCII, from the title (+ municipality on a clash)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "ae", "Ö": "oe", "Ü": "ue", "ẞ": "ss"})
MAX_SLUG = 80


def slugify(text: str) -> str:
    text = text.translate(_GERMAN)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    if len(text) > MAX_SLUG:
        text = text[:MAX_SLUG].rsplit("-", 1)[0] or text[:MAX_SLUG]
    return text or "profil"


def slug_candidates(title: str, municipality: str | None) -> Iterator[str]:
    base = slugify(title)
    yield base
    if municipality:
        yield slugify(f"{title} {municipality}")
    n = 2
    while True:
        yield f"{base}-{n}"
        n += 1
