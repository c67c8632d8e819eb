"""Where a profile's lead sits in the municipality register: its Kreis, its
Regierungsbezirk and its size class, for the search document's facets.

Set at indexing time (the sync worker, the reindex, the importer's own
indexing: `index_document`), from keyed reads of the register
(catalogue.gazetteer, cached per process):

* The lead has an AGS (or a Verband's ARS): its own entry gives the size
  class; the entry at `key[:5]` is its Kreis (a kreisfreie Stadt's is the city
  itself), which names its Regierungsbezirk. A Regierungsbezirk's own key has
  three digits. Only current Regierungsbezirke have a name there, so Länder
  without them (and the former ones of Rheinland-Pfalz, Niedersachsen's
  statistical regions) give none.
* No AGS: the lead's name is looked up ("Kreis Höxter", "Stadt Itzehoe"), among
  the register levels its kind allows; a name found more than once is narrowed
  by the profile's Land, and one still ambiguous gives nothing. Kinds the
  register does not hold (Zweckverband, Sonstige) are not looked up by name.
* The lead gives no Kreis: the profile's own "Kreis / Region" text (`district`)
  is looked up among Kreise and Regierungsbezirke the same way.

The size class is the register's (from its population; a Kreis is a Kreis)
when the lead is found there; otherwise the search document keeps the
profile's own (from the profile's population and the lead's kind).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from catalogue import gazetteer
from catalogue.fields import KREIS_KEY, REGIERUNGSBEZIRK_KEY
from catalogue.search.documents import to_search_document
from catalogue.vocabularies import OrganisationKind

# The register levels a lead of this kind can be; kinds not listed are looked up at every level.
_LEVELS: dict[str, frozenset[str]] = {
    OrganisationKind.MUNICIPALITY.value: frozenset({gazetteer.GEMEINDE}),
    OrganisationKind.TOWN.value: frozenset({gazetteer.GEMEINDE}),
    OrganisationKind.CITY_STATE.value: frozenset({gazetteer.GEMEINDE}),
    OrganisationKind.DISTRICT.value: frozenset({gazetteer.KREIS}),
    OrganisationKind.AMT.value: frozenset({gazetteer.VERBAND}),
    OrganisationKind.ASSOCIATION_OF_MUNICIPALITIES.value: frozenset({gazetteer.VERBAND}),
}
_NOT_IN_REGISTER = frozenset({OrganisationKind.SPECIAL_PURPOSE_ASSOCIATION.value, OrganisationKind.OTHER.value})
_DISTRICT_LEVELS = frozenset({gazetteer.KREIS, gazetteer.REGIERUNGSBEZIRK})
_REMARK = re.compile(r"\s*\([^)]*\)\s*$")  # "Gemeinde Liebenau (Federführung)"


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _value(v: Any) -> Any:
    return getattr(v, "value", v)


async def _by_name(text: str, state: str | None, levels: frozenset[str] | None) -> gazetteer.RegisterEntry | None:
    """The one entry called `text` (at `levels`; narrowed by the Land when several), else None."""
    refs: list[dict[str, Any]] = []
    for name in dict.fromkeys((text.strip(), _REMARK.sub("", text).strip())):  # "Nienburg (Weser)" is a name; "(Federführung)" a remark
        if name:
            refs = await gazetteer.cached_find_by_name(name)
            if levels is not None:
                refs = [r for r in refs if r["level"] in levels]
            if refs:
                break
    if len(refs) > 1 and state:
        refs = [r for r in refs if r.get("state") == state]
    if len(refs) != 1:
        return None
    return await gazetteer.cached_get(refs[0]["key"])


async def _place(entry: gazetteer.RegisterEntry) -> tuple[str | None, str | None]:
    """(Kreis, Regierungsbezirk) of an entry, as their names."""
    if entry.level == gazetteer.REGIERUNGSBEZIRK:
        return None, entry.rb_name  # set for current Regierungsbezirke only
    if entry.level == gazetteer.LAND:
        return None, None
    kreis = entry if entry.level == gazetteer.KREIS else await gazetteer.cached_get(entry.id[:5])
    if kreis is None or kreis.level != gazetteer.KREIS:
        return None, None
    return kreis.label, kreis.rb_name


async def region_of(profile: Any) -> dict[str, str | None]:
    """The register's facts about a profile's lead: `kreis`, `regierungsbezirk`, `size_class` (None where unknown)."""
    lead = _get(profile, "lead")
    state = _value(_get(profile, "state"))
    entry: gazetteer.RegisterEntry | None = None
    if lead is not None:
        ags = _get(lead, "ags")
        kind = _value(_get(lead, "kind"))
        if ags:
            entry = await gazetteer.cached_get(str(ags))
        elif kind not in _NOT_IN_REGISTER and _get(lead, "name"):
            entry = await _by_name(str(_get(lead, "name")), state, _LEVELS.get(str(kind)) if kind else None)
    kreis, rb = await _place(entry) if entry is not None else (None, None)
    if kreis is None and rb is None and _get(profile, "district"):
        named = await _by_name(str(_get(profile, "district")), state, _DISTRICT_LEVELS)
        if named is not None:
            kreis, rb = await _place(named)
    size = entry.size_class if entry is not None else None
    return {KREIS_KEY: kreis, REGIERUNGSBEZIRK_KEY: rb, "size_class": size.value if size is not None else None}


async def index_document(profile: Any, adoption: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The search document of a profile with the register's facts and its adoption summary (what every indexing path calls)."""
    return to_search_document(profile, adoption, await region_of(profile))
