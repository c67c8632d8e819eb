"""Flat synonym lists for the search backends, drawn from the municipal lexicon.

The lexicon (catalogue/lexicon, data in catalogue/lexicon/lexicon.txt) is the
single source of synonyms, abbreviations and regional terms. This module keeps
the two flat views the backends have used so far, until they ask the lexicon
for weighted expansions themselves:

* `SYNONYM_GROUPS`: disjoint groups of equivalent terms, lowercase (the
  Meilisearch `synonyms` setting). Synonyms and abbreviations with a single
  meaning, plus the joined spelling of hyphenated terms ("e-akte", "eakte");
  near-synonyms, regional equivalents (weight 0.6) and abbreviations with
  several meanings are left out, because a flat list cannot weigh them (they
  reach Meilisearch as weighted query variants, planning.query_variants).
* `synonyms_for(term)`: the term and what it also means (Tantivy query
  expansion), strongest first, down to near-synonyms (weight >= 0.45).
"""

from __future__ import annotations

from catalogue import lexicon

DROP_IN_MIN_WEIGHT = 0.45


def _normalise(term: str) -> str:
    return " ".join(term.strip().lower().split())


def _with_spellings(terms: list[str]) -> list[str]:
    out: list[str] = []
    for t in terms:
        for variant in lexicon.spelling_variants(t):
            v = _normalise(variant)
            if v and v not in out:
                out.append(v)
    return out


def _groups() -> tuple[tuple[str, ...], ...]:
    seen: set[str] = set()
    groups = []
    for group in lexicon.synonym_groups():
        members = [t for t in _with_spellings(list(group)) if t not in seen]
        seen.update(members)
        if len(members) >= 2:
            groups.append(tuple(members))
    return tuple(groups)


SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = _groups()


def synonyms_for(term: str) -> tuple[str, ...]:
    """All terms equivalent to `term` (including the term itself, normalised).

    Lookup is case-insensitive and collapses whitespace (the lexicon also
    ignores hyphens, ß/ss and ä/ae and finds inflected forms). A term the
    lexicon does not know returns a one-element tuple with the normalised
    term; an empty term an empty tuple.
    """
    key = _normalise(term)
    if not key:
        return ()
    related = [e.term for e in lexicon.expand(term, compounds=False)[1:] if e.weight >= DROP_IN_MIN_WEIGHT]
    spelled = [t for t in _with_spellings([term, *related]) if t != key]
    return (key, *spelled)
