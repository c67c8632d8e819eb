"""JSON-LD (schema.org) of a profile, generated from the field registry.

A field's `jsonld` in catalogue/fields.py is either a schema.org property for
its plain value ("name", "description", "license"; a list becomes a
comma-separated text) or "@<builder>" for a value that needs shaping (an
organisation becomes an AdministrativeArea and a GovernmentOrganization).
Lists from several fields (areaServed, funder) are joined in registry order.
A Project is an Organization in schema.org; the profile is also a CreativeWork.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from catalogue import fields as registry
from catalogue.models import Profile, register_key_label


def _org(o: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"@type": "GovernmentOrganization", "name": o.name}
    if getattr(o, "ags", None):
        out["identifier"] = {"@type": "PropertyValue", "propertyID": register_key_label(o.ags), "value": o.ags}
    return out


def _area(o: Any) -> dict[str, Any]:
    area: dict[str, Any] = {"@type": "AdministrativeArea", "name": o.name}
    if o.ags:
        area["identifier"] = o.ags
    return area


def _lead(lead: Any) -> dict[str, Any]:
    return {"areaServed": [_area(lead)], "sponsor": _org(lead), "funder": [_org(lead)]}


def _municipalities(items: Any) -> dict[str, Any]:
    return {"areaServed": [_area(m) for m in items], "funder": [_org(m) for m in items]}


def _state(state: Any) -> dict[str, Any]:
    return {"areaServed": [{"@type": "State", "name": state.value}]}


def _funding(funding: Any) -> dict[str, Any]:
    if not funding.programme:
        return {}
    grant: dict[str, Any] = {"@type": "MonetaryGrant", "name": funding.programme}
    if funding.amount_eur is not None:
        grant["amount"] = {"@type": "MonetaryAmount", "value": funding.amount_eur, "currency": "EUR"}
    return {"funding": grant}


def _contact(c: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    point: dict[str, Any] = {"@type": "ContactPoint", "contactType": "Ansprechpartner", "availableLanguage": "de"}
    given = (("name", c.person or c.organisation), ("telephone", c.phone), ("email", c.email), ("url", c.website))
    point.update({key: value for key, value in given if value})
    if len(point) > 3:
        out["contactPoint"] = point
    if c.street or c.city:
        out["address"] = {
            "@type": "PostalAddress",
            "streetAddress": c.street,
            "postalCode": c.postcode,
            "addressLocality": c.city,
            "addressCountry": "DE",
        }
    return out


BUILDERS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "@lead": _lead,
    "@municipalities": _municipalities,
    "@state": _state,
    "@funding": _funding,
    "@contact": _contact,
}


def json_ld_for(profile: Profile, url: str) -> dict[str, Any]:
    """schema.org description of a profile."""
    data: dict[str, Any] = {"@context": "https://schema.org", "@type": ["Project", "CreativeWork"], "url": url}
    for f in registry.FIELDS:
        if not f.jsonld:
            continue
        value = registry.value_at(profile, f.path)
        if not registry.is_present(value):
            continue
        if f.jsonld.startswith("@"):
            for key, part in BUILDERS[f.jsonld](value).items():
                if isinstance(part, list):
                    data.setdefault(key, []).extend(part)
                else:
                    data[key] = part
        else:
            data[f.jsonld] = ", ".join(str(v) for v in value) if isinstance(value, list) else value
    data["dateModified"] = profile.updated_at.isoformat()
    if profile.published_at:
        data["datePublished"] = profile.published_at.isoformat()
    data["inLanguage"] = "de"
    return {k: v for k, v in data.items() if v is not None and v != []}
