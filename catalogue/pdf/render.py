"""Profile and comparison PDFs (and PNG previews) through Typst.

The Typst templates next to this module read all data from one JSON string
in ``sys.inputs.data``; profile content is never spliced into Typst markup.
Everything shown is preformatted here (German numbers and dates, labels),
so the templates only lay out strings.

Output is reproducible: fonts are the ones embedded in the typst package
(system fonts are ignored), and the document date and the PDF timestamp
both come from ``generated_at``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typst

from catalogue.formatting import format_date_de, format_eur_de, format_float_de, format_int_de
from catalogue.markdown import blocks_to_plain_text, safe_url, to_blocks
from catalogue.gazetteer import attribution_for
from catalogue.models import register_key_label
from catalogue.vocabularies import EDITORIAL_STATUS_LABELS, EditorialStatus, PartnerKind

TEMPLATE_DIR = Path(__file__).resolve().parent
PROFILE_TEMPLATE = TEMPLATE_DIR / "profile.typ"
COMPARISON_TEMPLATE = TEMPLATE_DIR / "comparison.typ"

PRODUCER = "Leuchtturm – Katalog kommunaler Projekte"

# (field, German label) of the long Markdown texts, in print order.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("occasion", "Anlass"),
    ("goal", "Ziel"),
    ("implementation", "Umsetzung"),
    ("results", "Ergebnisse / Vorteile"),
    ("lessons", "Erfahrungen / Stolpersteine"),
)

try:  # the "erstellt am" date is a German calendar date
    from zoneinfo import ZoneInfo

    _LOCAL_TZ: Any = ZoneInfo("Europe/Berlin")
except Exception:  # pragma: no cover - no tz database in a slim container
    _LOCAL_TZ = UTC


# ---------------------------------------------------------------- helpers


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _local(value: datetime) -> datetime:
    return _aware(value).astimezone(_LOCAL_TZ)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _date_parts(value: datetime) -> dict[str, int]:
    v = _local(value)
    return {"year": v.year, "month": v.month, "day": v.day, "hour": v.hour, "minute": v.minute, "second": v.second}


def _org_name(org: Mapping[str, Any] | None) -> str:
    return _text((org or {}).get("name"))


def _partner_label(partner: Mapping[str, Any]) -> str:
    name = _text(partner.get("name"))
    kind = _text(partner.get("kind"))
    if kind and kind != PartnerKind.OTHER.value:
        return f"{name} ({kind})"
    return name


def population_text(profile: Mapping[str, Any]) -> str:
    """'28.808 (Stand 31.12.2019, Quelle: IT.NRW)' or ''."""
    population = profile.get("population")
    if population is None:
        return ""
    extra = []
    if profile.get("population_as_of"):
        extra.append(f"Stand {format_date_de(profile['population_as_of'])}")
    if _text(profile.get("population_source")):
        extra.append(f"Quelle: {_text(profile['population_source'])}")
        credit = attribution_for(_text(profile["population_source"]), profile.get("population_as_of"))
        if credit:  # figures of the Destatis register carry the licence's attribution
            extra.append(credit)
    text = format_int_de(int(population))
    return f"{text} ({', '.join(extra)})" if extra else text


def area_text(profile: Mapping[str, Any]) -> str:
    area = profile.get("area_km2")
    return "" if area is None else f"{format_float_de(float(area), 2)}\u00a0km²"


def funding_details(funding: Mapping[str, Any]) -> list[dict[str, str]]:
    details = []
    kinds = [str(k) for k in funding.get("kinds") or []]
    if kinds:
        details.append({"label": "Art", "value": ", ".join(kinds)})
    if _text(funding.get("programme")):
        details.append({"label": "Programm", "value": _text(funding["programme"])})
    if funding.get("amount_eur") is not None:
        details.append({"label": "Betrag", "value": format_eur_de(funding["amount_eur"])})
    return details


def contact_lines(contact: Mapping[str, Any]) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []

    def add(value: str, label: str = "", link: str | None = None) -> None:
        if value:
            lines.append({"label": label, "value": value, "link": link})

    add(_text(contact.get("organisation")))
    add(_text(contact.get("person")))
    add(_text(contact.get("street")))
    add(" ".join(p for p in (_text(contact.get("postcode")), _text(contact.get("city"))) if p))
    add(_text(contact.get("phone")), "Telefon")
    email = _text(contact.get("email"))
    add(email, "E-Mail", safe_url(f"mailto:{email}") if email else None)
    website = _text(contact.get("website"))
    add(website, "Web", safe_url(website))
    return lines


def provenance_text(provenance: Mapping[str, Any] | None) -> tuple[str, str | None]:
    """('Import „ikz-datenbank“ · <source> · abgerufen am 28.02.2025', link)."""
    if not provenance:
        return "", None
    parts = []
    if _text(provenance.get("importer")):
        parts.append(f"Import „{_text(provenance['importer'])}“")
    source = _text(provenance.get("source"))
    if source:
        parts.append(source)
    if provenance.get("retrieved_at"):
        parts.append(f"abgerufen am {format_date_de(_local(datetime.fromisoformat(str(provenance['retrieved_at']))))}")
    return " · ".join(parts), None


def _status_note(profile: Mapping[str, Any]) -> str:
    status = profile.get("status")
    if status and status != EditorialStatus.PUBLISHED.value:
        try:
            label = EDITORIAL_STATUS_LABELS[EditorialStatus(status)]
        except ValueError:
            label = str(status)
        return f"Status: {label} – nicht veröffentlicht"
    return ""


def _meta(profile: Mapping[str, Any], generated_at: datetime, title: str | None = None) -> dict[str, Any]:
    keywords = [str(k) for k in profile.get("keywords") or []]
    keywords += [str(f) for f in profile.get("fields_of_action") or [] if str(f) not in keywords]
    return {
        "title": title or _text(profile.get("title")) or "Projektprofil",
        "author": [_org_name(profile.get("lead")) or PRODUCER],
        "description": _text(profile.get("summary")),
        "keywords": keywords,
        "date": _date_parts(generated_at),
    }


# ---------------------------------------------------------------- views


def profile_view(profile: Mapping[str, Any], *, url: str, generated_at: datetime) -> dict[str, Any]:
    """The JSON the profile template reads: every string ready to print."""
    lead = profile.get("lead") or {}
    municipalities = [_org_name(m) for m in profile.get("municipalities") or [] if _org_name(m)]
    partners = [_partner_label(p) for p in profile.get("partners") or [] if _text(p.get("name"))]

    lead_text = _org_name(lead)
    if lead_text and _text(lead.get("ags")):
        lead_text += f" ({register_key_label(_text(lead['ags']))} {_text(lead['ags'])})"

    facts = []
    for label, value in (
        ("Stichworte", ", ".join(str(k) for k in profile.get("keywords") or [])),
        ("Hauptverantwortlich", lead_text),
        ("Beteiligte Kommunen", ", ".join(municipalities)),
        ("Sonstige Beteiligte", ", ".join(partners)),
    ):
        if value:
            facts.append({"label": label, "value": value})

    subtitle_parts = [p for p in (_org_name(lead), _text(profile.get("state"))) if p]
    funding = profile.get("funding") or {}
    provenance, provenance_link = provenance_text(profile.get("provenance"))
    url_link = safe_url(url)
    created = format_date_de(_local(generated_at))

    closing: list[dict[str, Any]] = []
    if provenance:
        closing.append({"label": "Quelle", "value": provenance, "link": provenance_link})
    closing.append({"label": "Lizenz", "value": _text(profile.get("licence")) or "CC BY 4.0", "link": None})
    if profile.get("updated_at"):
        closing.append({"label": "Stand", "value": format_date_de(_local(datetime.fromisoformat(str(profile["updated_at"])))), "link": None})
    if url:
        closing.append({"label": "Profil online", "value": url, "link": url_link})

    return {
        "meta": _meta(profile, generated_at),
        "title": _text(profile.get("title")),
        "subtitle": " · ".join(subtitle_parts),
        "summary": _text(profile.get("summary")),
        "status_note": _status_note(profile),
        "fields_of_action": [str(f) for f in profile.get("fields_of_action") or []],
        "facts": facts,
        "kurzprofil": {
            "left": [
                {"label": "Einwohner", "value": population_text(profile)},
                {"label": "Fläche", "value": area_text(profile)},
                {"label": "Größenklasse", "value": _text(profile.get("size_class"))},
            ],
            "right": [
                {"label": "Bundesland", "value": _text(profile.get("state"))},
                {"label": "Regierungsbezirk", "value": _text(profile.get("district"))},
            ],
        },
        "sections": [
            {"label": label, "blocks": blocks}
            for field, label in SECTIONS
            if (blocks := to_blocks(_text(profile.get(field))))
        ],
        "funding": {"blocks": to_blocks(_text(funding.get("text"))), "details": funding_details(funding)},
        "status_strip": [
            {"label": "Rechtsform", "value": _text(profile.get("legal_form"))},
            {"label": "Zusammenarbeit seit", "value": _text(profile.get("collaboration_since"))},
            {"label": "Projektstand", "value": _text(profile.get("project_status"))},
        ],
        "contact": contact_lines(profile.get("contact") or {}),
        "links": [
            {"title": _text(link.get("title")), "url": safe_url(_text(link.get("url")))}
            for link in profile.get("links") or []
            if safe_url(_text(link.get("url")))
        ],
        "closing": closing,
        "url": url if url_link else "",
        "created": created,
    }


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + " …"


def comparison_view(profiles: Sequence[Mapping[str, Any]], *, urls: Sequence[str], generated_at: datetime) -> dict[str, Any]:
    """The JSON the comparison template reads: one column per profile."""
    if not 2 <= len(profiles) <= 3:
        raise ValueError("Ein Vergleich umfasst zwei oder drei Profile.")
    if len(urls) != len(profiles):
        raise ValueError("Für jedes Profil wird genau eine Adresse benötigt.")

    columns = []
    for profile, url in zip(profiles, urls, strict=True):
        funding = profile.get("funding") or {}
        funding_parts = [f"{d['label']}: {d['value']}" for d in funding_details(funding)]
        funding_text = blocks_to_plain_text(to_blocks(_text(funding.get("text"))))
        contact = profile.get("contact") or {}
        columns.append(
            {
                "title": _text(profile.get("title")),
                "summary": _short(_text(profile.get("summary")), 320),
                "url": url if safe_url(url) else "",
                "lead": _org_name(profile.get("lead")),
                "state": ", ".join(p for p in (_text(profile.get("state")), _text(profile.get("district"))) if p),
                "population": population_text(profile),
                "area": area_text(profile),
                "size_class": _text(profile.get("size_class")),
                "fields_of_action": [str(f) for f in profile.get("fields_of_action") or []],
                "legal_form": _text(profile.get("legal_form")),
                "funding": funding_parts,
                "funding_text": _short(funding_text, 260),
                "collaboration_since": _text(profile.get("collaboration_since")),
                "project_status": _text(profile.get("project_status")),
                "contact": contact_lines(contact),
            }
        )
    created = format_date_de(_local(generated_at))
    titles = " / ".join(c["title"] for c in columns)
    meta = {
        "title": f"Projektvergleich: {titles}",
        "author": [PRODUCER],
        "description": f"Vergleich von {len(columns)} Projekten aus dem Leuchtturm-Katalog",
        "keywords": sorted({str(f) for p in profiles for f in p.get("fields_of_action") or []}),
        "date": _date_parts(generated_at),
    }
    return {"meta": meta, "columns": columns, "created": created, "count": len(columns)}


# ---------------------------------------------------------------- compile


def _compile(template: Path, view: Mapping[str, Any], *, fmt: str, generated_at: datetime, ppi: float | None = None) -> bytes | list[bytes]:
    data = json.dumps(view, ensure_ascii=False, separators=(",", ":"))
    result = typst.compile(
        str(template),
        root=str(TEMPLATE_DIR),
        sys_inputs={"data": data},
        format=fmt,  # type: ignore[arg-type]
        ppi=ppi,
        ignore_system_fonts=True,
        timestamp=_aware(generated_at).astimezone(UTC),
    )
    assert result is not None
    return result


def _pages(result: bytes | list[bytes]) -> list[bytes]:
    return list(result) if isinstance(result, list) else [result]


def render_profile_pdf(profile: Mapping[str, Any], *, url: str, generated_at: datetime) -> bytes:
    """The one-page profile (longer profiles flow onto further pages).

    `profile` is ``Profile.model_dump(mode="json")``; `url` the public
    address of the profile; `generated_at` the "erstellt am" moment (fixed
    input gives identical bytes).
    """
    view = profile_view(profile, url=url, generated_at=generated_at)
    result = _compile(PROFILE_TEMPLATE, view, fmt="pdf", generated_at=generated_at)
    assert isinstance(result, bytes)
    return result


def render_profile_png(profile: Mapping[str, Any], *, url: str, generated_at: datetime, ppi: float = 110) -> list[bytes]:
    """PNG images of the profile PDF's pages (for review and previews)."""
    view = profile_view(profile, url=url, generated_at=generated_at)
    return _pages(_compile(PROFILE_TEMPLATE, view, fmt="png", generated_at=generated_at, ppi=ppi))


def render_comparison_pdf(profiles: Sequence[Mapping[str, Any]], *, urls: Sequence[str], generated_at: datetime) -> bytes:
    """Two or three profiles side by side on A4 landscape."""
    view = comparison_view(profiles, urls=urls, generated_at=generated_at)
    result = _compile(COMPARISON_TEMPLATE, view, fmt="pdf", generated_at=generated_at)
    assert isinstance(result, bytes)
    return result


def render_comparison_png(
    profiles: Sequence[Mapping[str, Any]], *, urls: Sequence[str], generated_at: datetime, ppi: float = 110
) -> list[bytes]:
    """PNG images of the comparison PDF's pages."""
    view = comparison_view(profiles, urls=urls, generated_at=generated_at)
    return _pages(_compile(COMPARISON_TEMPLATE, view, fmt="png", generated_at=generated_at, ppi=ppi))
