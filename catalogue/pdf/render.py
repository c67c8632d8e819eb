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

import contextlib
import functools
import json
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import typst

from catalogue import fields as registry
from catalogue.fields import Field, View
from catalogue.formatting import format_date_de, format_eur_de, format_float_de, format_int_de
from catalogue.gazetteer import attribution_for
from catalogue.markdown import blocks_to_plain_text, safe_url, to_blocks
from catalogue.models import public_source, register_key_label
from catalogue.pdf import qr
from catalogue.pdf.fit import (
    MAX_LINKS,
    MAX_NAME_CHARS,
    cap_names,
    estimate_level,
    section_levels,
    short_line,
    start_level,
    text_prefix,
)
from catalogue.vocabularies import EDITORIAL_STATUS_LABELS, EditorialStatus, PartnerKind

TEMPLATE_DIR = Path(__file__).resolve().parent
PROFILE_TEMPLATE = TEMPLATE_DIR / "profile.typ"
COMPARISON_TEMPLATE = TEMPLATE_DIR / "comparison.typ"

PRODUCER = "Leuchtturm – Katalog kommunaler Projekte"

# What a field's value reads like in print, by its display kind ("how") in the field registry.
URL_LABEL = "Profil online"
UPDATED_LABEL = "Stand"
SAMPLE_LABEL = "Beispieldatensatz"
SAMPLE_NOTE = "Beispieldatensatz: ein reales Projekt, mit eigenen Worten aus der angegebenen Quelle beschrieben."
QR_LABEL = "Vollständiges Profil online"

try:  # the "erstellt am" date is a German calendar date
    from zoneinfo import ZoneInfo

    _LOCAL_TZ: Any = ZoneInfo("Europe/Berlin")
except Exception:  # noqa: BLE001 - no tz database in a slim container: any failure means UTC
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


def _population_of_body(profile: Mapping[str, Any], f: Field) -> str:
    """The population with the body it belongs to when that is not the lead ("Stadt Höxter: 28.808 (…)")."""
    text = population_text(profile)
    body = registry.population_body(profile)
    return f"{body}: {text}" if text and body else text


def _area_of_body(profile: Mapping[str, Any], f: Field) -> str:
    text = area_text(profile)
    body = registry.population_body(profile)
    return f"{body}: {text}" if text and body else text


def area_text(profile: Mapping[str, Any]) -> str:
    area = profile.get("area_km2")
    return "" if area is None else f"{format_float_de(float(area), 2)}\u00a0km²"


def _label(path: str) -> str:
    return registry.field(path).display_label


def funding_details(funding: Mapping[str, Any]) -> list[dict[str, str]]:
    details = []
    kinds = [str(k) for k in funding.get("kinds") or []]
    if kinds:
        details.append({"label": _label("funding.kinds"), "value": ", ".join(kinds)})
    if _text(funding.get("programme")):
        details.append({"label": _label("funding.programme"), "value": _text(funding["programme"])})
    if funding.get("amount_eur") is not None:
        details.append({"label": _label("funding.amount_eur"), "value": format_eur_de(funding["amount_eur"])})
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
    add(_text(contact.get("phone")), _label("contact.phone"))
    email = _text(contact.get("email"))
    add(email, _label("contact.email"), safe_url(f"mailto:{email}") if email else None)
    website = _text(contact.get("website"))
    add(website, _label("contact.website"), safe_url(website))
    return lines


def provenance_text(provenance: Mapping[str, Any] | None) -> tuple[str, str | None]:
    """('<title of the source> · abgerufen am 28.02.2025', its URL): only the public source, never
    an uploader, file name, path or importer (catalogue.models.public_source)."""
    source = public_source(provenance)
    if source is None:
        return "", None
    parts = [source["title"]]
    if provenance and provenance.get("retrieved_at"):
        parts.append(f"abgerufen am {format_date_de(_local(datetime.fromisoformat(str(provenance['retrieved_at']))))}")
    return " · ".join(parts), safe_url(source["url"])


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


def _lead_with_ags(profile: Mapping[str, Any], f: Field) -> str:
    lead = profile.get(f.path) or {}
    text = _org_name(lead)
    if text and _text(lead.get("ags")):
        text += f" ({register_key_label(_text(lead['ags']))} {_text(lead['ags'])})"
    return text


def _funding(profile: Mapping[str, Any], f: Field) -> dict[str, Any]:
    funding = profile.get(f.path) or {}
    return {"blocks": to_blocks(_text(funding.get("text"))), "details": funding_details(funding)}


def _funding_cell(profile: Mapping[str, Any], f: Field) -> dict[str, Any]:
    funding = profile.get(f.path) or {}
    return {
        "parts": [f"{d['label']}: {d['value']}" for d in funding_details(funding)],
        "text": _short(blocks_to_plain_text(to_blocks(_text(funding.get("text")))), 260),
    }


def transferability_facts(profile: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, value) of the transferability's short parts, with the cooperation's form (`legal_form`)."""
    t = profile.get("transferability") or {}
    facts = [(_label("transferability.rating"), _text(t.get("rating"))),
             (_label("transferability.staff_effort"), _text(t.get("staff_effort"))),
             (_label("transferability.time_effort"), _text(t.get("time_effort"))),
             (_label("transferability.cost_once_eur"), format_eur_de(t["cost_once_eur"]) if t.get("cost_once_eur") is not None else ""),
             (_label("transferability.cost_annual_eur"), format_eur_de(t["cost_annual_eur"]) if t.get("cost_annual_eur") is not None else ""),
             (_label("legal_form"), _text(profile.get("legal_form")) if _text(t.get("rating")) or _text(t.get("prerequisites")) else "")]
    return [(label, value) for label, value in facts if value]


def _run(text: str, *, strong: bool = False) -> dict[str, Any]:
    return {"text": text, "strong": strong, "emph": False, "link": None}


def _transferability(profile: Mapping[str, Any], f: Field) -> list[dict[str, Any]]:
    """The Übertragbarkeit block as Markdown blocks (so the one-page fitting can shorten it)."""
    t = profile.get(f.path) or {}
    blocks: list[dict[str, Any]] = []
    facts = transferability_facts(profile)
    if facts:
        runs: list[dict[str, Any]] = []
        for i, (label, value) in enumerate(facts):
            runs += [_run(("" if i == 0 else " · ") + f"{label}: ", strong=True), _run(value)]
        blocks.append({"type": "paragraph", "quote": False, "runs": runs})
    prerequisites = to_blocks(_text(t.get("prerequisites")))
    if prerequisites:
        blocks.append({"type": "paragraph", "quote": False, "runs": [_run(_label("transferability.prerequisites") + ":", strong=True)]})
        blocks += prerequisites
    return blocks


def _transferability_cell(profile: Mapping[str, Any], f: Field) -> str:
    return " · ".join(value if label == _label("transferability.rating") else f"{label}: {value}"
                      for label, value in transferability_facts(profile))


def _links(profile: Mapping[str, Any], f: Field) -> list[dict[str, Any]]:
    return [
        {"title": _text(link.get("title")), "url": safe_url(_text(link.get("url")))}
        for link in profile.get(f.path) or []
        if safe_url(_text(link.get("url")))
    ]


def _with_district(profile: Mapping[str, Any], f: Field) -> str:
    """"Nordrhein-Westfalen, Regierungsbezirk Detmold, Kreis Höxter": the Regierungsbezirk only where there are any."""
    district = _text(profile.get("district")) if registry.applies(registry.field("district"), profile) else ""
    parts = (_text(profile.get(f.path)), f"{_label('district')} {district}" if district else "", _text(profile.get("county")))
    return ", ".join(p for p in parts if p)


# The printed value of a field, by its display kind ("how" in catalogue/fields.py).
FORMATTERS: dict[str, Any] = {
    "text": lambda p, f: _text(registry.value_at(p, f.path)),
    "joined": lambda p, f: ", ".join(str(v) for v in registry.value_at(p, f.path) or []),
    "list": lambda p, f: [str(v) for v in registry.value_at(p, f.path) or []],
    "chips": lambda p, f: [str(v) for v in registry.value_at(p, f.path) or []],
    "name": lambda p, f: _org_name(p.get(f.path)),
    "names": lambda p, f: ", ".join(n for n in (_org_name(m) for m in p.get(f.path) or []) if n),
    "partners": lambda p, f: ", ".join(_partner_label(x) for x in p.get(f.path) or [] if _text(x.get("name"))),
    "organisation_ags": _lead_with_ags,
    "population": lambda p, f: population_text(p),
    "area": lambda p, f: area_text(p),
    "with_district": _with_district,
    "markdown": lambda p, f: to_blocks(_text(p.get(f.path))),
    "funding": _funding,
    "contact": lambda p, f: contact_lines(p.get(f.path) or {}),
    "links": _links,
    "transferability": _transferability,
    "transferability_cell": _transferability_cell,
}


def _items(view: View, section: str, profile: Mapping[str, Any]) -> list[dict[str, Any]]:
    """{label, value} of every field a section of a view shows that applies to the profile, in order."""
    return [
        {"key": f.path, "label": show.label or f.display_label, "how": show.how, "value": FORMATTERS[show.how](profile, f)}
        for f, show in registry.shown(view, section)
        if registry.applies(f, profile)
    ]


def _filled(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item for item in items if item["value"]]


@functools.lru_cache(maxsize=2048)
def qr_svg(url: str) -> str:
    """The profile address as a QR code (SVG, drawn here: the template gets it as data).

    segno's code (error level M) with the mask chosen by row arithmetic and the SVG written
    directly (catalogue/pdf/qr.py, byte-identical to segno's own): about 3.5 ms instead of 11 ms
    for a new address. A profile keeps its address: cached."""
    return qr.svg(url)


def is_sample(profile: Mapping[str, Any]) -> bool:
    """A profile of the demo set (its provenance names the demo importer)."""
    return _text((profile.get("provenance") or {}).get("importer")) == "demo"


def _fact_names(profile: Mapping[str, Any], f: Field, how: str) -> list[str]:
    value = profile.get(f.path) or []
    if how == "joined":
        return [str(v) for v in value]
    if how == "partners":
        return [_partner_label(x) for x in value if _text(x.get("name"))]
    return [n for n in (_org_name(m) for m in value) if n]


def _facts(profile: Mapping[str, Any], *, full: bool) -> list[dict[str, Any]]:
    facts = []
    for f, show in registry.shown(View.PDF, "facts"):
        if not full and show.how in ("joined", "names", "partners"):
            value: Any = cap_names(_fact_names(profile, f, show.how))
        else:
            value = FORMATTERS[show.how](profile, f)
        if value:
            facts.append({"label": show.label or f.display_label, "value": value})
    return facts


def _long_texts_begun(profile: Mapping[str, Any]) -> dict[str, Any]:
    """The profile with every Markdown text cut to the beginning the overview can use (cheaper to parse)."""
    out = dict(profile)
    for f in registry.leaves(registry.CONTENT):
        if not f.is_markdown:
            continue
        head, _, leaf = f.path.rpartition(".")
        target = out
        if head:  # a nested text (funding.text): copy the objects on the way
            parent = dict(out.get(head) or {})
            out[head] = parent
            target = parent
        if isinstance(target.get(leaf), str):
            target[leaf] = text_prefix(target[leaf])
    return out


def profile_view(
    profile: Mapping[str, Any], *, url: str, generated_at: datetime, full: bool = False, sample: bool = False
) -> dict[str, Any]:
    """The JSON the profile template reads: every string and label ready to print.

    The overview (`full` false) is one A4 page: long texts come as a ladder of
    shortened levels (catalogue/pdf/fit.py) the template chooses from, lists
    are capped, and a QR code leads to the profile online. `full` prints
    every text completely, over as many pages as it takes. `sample` marks a
    demo profile as "Beispieldatensatz".
    """
    if not full:
        profile = _long_texts_begun(profile)
    lead = profile.get("lead") or {}
    subtitle_parts = [p for p in (_org_name(lead), _text(profile.get("state"))) if p]
    provenance, provenance_link = provenance_text(profile.get("provenance"))
    url_link = safe_url(url)
    created = format_date_de(_local(generated_at))

    closing: list[dict[str, Any]] = []
    if provenance:
        closing.append({"label": registry.META_LABELS["provenance"], "value": provenance if full else short_line(provenance, 110),
                        "link": provenance_link})
    closing += [{"label": i["label"], "value": _cap(i["value"] or _default(i["key"]), full), "link": None}
                for i in _items(View.PDF, "closing", profile)]
    if profile.get("updated_at"):
        closing.append({"label": UPDATED_LABEL, "value": format_date_de(_local(datetime.fromisoformat(str(profile["updated_at"])))), "link": None})
    if url:
        closing.append({"label": URL_LABEL, "value": url if full else short_line(url, 110), "link": url_link})

    (funding,) = _items(View.PDF, "funding", profile)
    (contact,) = _items(View.PDF, "contact", profile)
    (links,) = _items(View.PDF, "links", profile)
    sections = [(i["key"], i["label"], i["value"]) for i in _items(View.PDF, "sections", profile)]
    texts = [(key, blocks) for key, _, blocks in sections] + [("funding", funding["value"]["blocks"])]
    labels = {key: label for key, label, _ in sections}
    if full:
        levels = [[{"key": key, "blocks": blocks, "dropped": False} for key, blocks in texts]]
    else:
        levels = section_levels(texts, url_link)
    link_items = links["value"]
    contact_lines_ = contact["value"]
    more_links = 0
    if not full:
        more_links = max(0, len(link_items) - MAX_LINKS)
        link_items = [dict(item, title=short_line(item["title"]), shown=short_line(item["url"])) for item in link_items[:MAX_LINKS]]
        contact_lines_ = [dict(line, value=short_line(line["value"])) for line in contact_lines_]
    else:
        link_items = [dict(item, shown=item["url"]) for item in link_items]
    return {
        "meta": _meta(profile, generated_at),
        "full": full,
        "sample": SAMPLE_LABEL if sample else "",
        "sample_note": SAMPLE_NOTE if sample else "",
        "title": _text(profile.get("title")),
        "subtitle": " · ".join(subtitle_parts) if full else " · ".join(_cap(p, False) for p in subtitle_parts),
        "summary": _text(profile.get("summary")),
        "status_note": _status_note(profile),
        "chips": [v for item in _items(View.PDF, "chips", profile) for v in item["value"]],
        "facts": _facts(profile, full=full),
        "kurzprofil": {
            "title": " ".join(t for t in (registry.view_section(View.PDF, "kurzprofil_left").title, registry.population_body(profile)) if t),
            "left": [{"label": i["label"], "value": _cap(i["value"], full)} for i in _items(View.PDF, "kurzprofil_left", profile)],
            "right": [{"label": i["label"], "value": _cap(i["value"], full)} for i in _items(View.PDF, "kurzprofil_right", profile)],
        },
        "section_labels": labels,
        "levels": [
            {
                "sections": [{"label": labels[s["key"]], "blocks": s["blocks"]} for s in level if s["key"] in labels and s["blocks"]],
                "funding_blocks": next(s["blocks"] for s in level if s["key"] == "funding"),
            }
            for level in levels
        ],
        "start_level": start_level(levels),
        "funding": {"label": funding["label"], "details": [dict(d, value=_cap(d["value"], full)) for d in funding["value"]["details"]]},
        "status_strip": [{"label": i["label"], "value": i["value"]} for i in _items(View.PDF, "status", profile)],
        "contact": {"label": contact["label"], "lines": contact_lines_},
        "links": {"label": links["label"], "items": link_items,
                  "more": f"und {more_links} weitere im Online-Profil" if more_links else ""},
        "closing": {"label": registry.view_section(View.PDF, "closing").title, "rows": closing},
        "qr": qr_svg(url_link) if url_link and not full else "",
        "qr_label": QR_LABEL,
        "url": url if url_link else "",
        "created": created,
    }


def _cap(value: Any, full: bool) -> Any:
    """A value of the overview's fixed part, cut to one or two lines (the full PDF prints it whole)."""
    return value if full or not isinstance(value, str) else short_line(value, MAX_NAME_CHARS)


def _default(path: str) -> str:
    default = registry.field(path).model_field().default
    return default if isinstance(default, str) else ""


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + " …"


# In the comparison, figures name their body (there is no Kurzprofil heading to say it).
COMPARE_FORMATTERS: dict[str, Any] = {"funding": _funding_cell, "population": _population_of_body, "area": _area_of_body}


def _compare_cap(value: Any) -> Any:
    """A comparison cell cut to a few lines, so three profiles fit one landscape page."""
    if isinstance(value, str):
        return short_line(value, 2 * MAX_NAME_CHARS)
    if isinstance(value, list) and value and isinstance(value[0], dict):  # contact lines
        return [dict(line, value=short_line(str(line["value"]))) for line in value]
    return value


def comparison_view(
    profiles: Sequence[Mapping[str, Any]], *, urls: Sequence[str], generated_at: datetime, sample: bool = False
) -> dict[str, Any]:
    """The JSON the comparison template reads: one column per profile (`sample`: name the demo profiles)."""
    if not 2 <= len(profiles) <= 3:
        raise ValueError("Ein Vergleich umfasst zwei oder drei Profile.")
    if len(urls) != len(profiles):
        raise ValueError("Für jedes Profil wird genau eine Adresse benötigt.")

    columns = [
        {"title": _text(p.get("title")), "summary": _short(_text(p.get("summary")), 320), "url": url if safe_url(url) else "",
         "sample": is_sample(p)}
        for p, url in zip(profiles, urls, strict=True)
    ]
    rows = []
    for f, show in registry.shown(View.COMPARE, "rows"):
        formatter = COMPARE_FORMATTERS.get(show.how) or FORMATTERS[show.how]
        rows.append({"key": f.path, "label": show.label or f.display_label, "how": show.how,
                     "cells": [_compare_cap(formatter(p, f)) for p in profiles]})
    created = format_date_de(_local(generated_at))
    titles = " / ".join(_text(p.get("title")) for p in profiles)
    meta = {
        "title": f"Projektvergleich: {titles}",
        "author": [PRODUCER],
        "description": f"Vergleich von {len(columns)} Projekten aus dem Leuchtturm-Katalog",
        "keywords": sorted({str(f) for p in profiles for f in p.get("fields_of_action") or []}),
        "date": _date_parts(generated_at),
    }
    return {"meta": meta, "columns": columns, "rows": rows, "url_label": URL_LABEL, "created": created, "count": len(columns),
            "sample": SAMPLE_LABEL if sample else ""}


# ---------------------------------------------------------------- compile


class _Compilers:
    """Typst compilers kept between compiles, a pool per template (the data comes per compile as sys_inputs).

    A kept `typst.Compiler` reuses its world (fonts, files) instead of building a new one per compile
    (`typst.compile`): about 3-5 ms less CPU per PDF (benchmarks/pdf.py), the same bytes. One compiler
    serves one compile at a time (a second concurrent call fails with "Already borrowed"), so each render
    takes a free one, or a new one when all are busy (at most one per worker thread rendering at once).
    """

    def __init__(self) -> None:
        self._free: dict[Path, list[typst.Compiler]] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def take(self, template: Path) -> Iterator[typst.Compiler]:
        with self._lock:
            free = self._free.setdefault(template, [])
            compiler = free.pop() if free else None
        if compiler is None:
            compiler = typst.Compiler(str(template), root=str(TEMPLATE_DIR), ignore_system_fonts=True)
        try:
            yield compiler
        finally:
            with self._lock:
                self._free[template].append(compiler)


_COMPILERS = _Compilers()


def _compile(
    template: Path, view: Mapping[str, Any], *, fmt: Literal["pdf", "png"], generated_at: datetime, ppi: float | None = None
) -> bytes | list[bytes]:
    data = json.dumps(view, ensure_ascii=False, separators=(",", ":"))
    with _COMPILERS.take(template) as compiler:
        result = compiler.compile(  # a list of images for a PNG of several pages
            format=fmt,
            ppi=ppi,
            sys_inputs={"data": data},
            timestamp=_aware(generated_at).astimezone(UTC),
        )
    assert isinstance(result, bytes | list)
    return result


def _pages(result: bytes | list[bytes]) -> list[bytes]:
    return list(result) if isinstance(result, list) else [result]


_PAGE_OBJECT = re.compile(rb"/Type\s*/Page\b")


def page_count(result: bytes | list[bytes], fmt: Literal["pdf", "png"] = "pdf") -> int:
    """How many pages a compile gave: a PNG of several pages is a list; a PDF has one /Type /Page object a page."""
    if isinstance(result, list):
        return len(result)
    return len(_PAGE_OBJECT.findall(result)) if fmt == "pdf" else 1


def _fitted(view: Mapping[str, Any], level: int) -> dict[str, Any]:
    """The view with only one level of the ladder: the template lays it out once, without measuring."""
    return dict(view, levels=[view["levels"][level]], start_level=0, fit_level=level)


@dataclass(frozen=True, slots=True)
class Compiled:
    """A compiled profile: the PDF bytes (or PNG pages), the level of the ladder printed, and how many layouts it took."""

    result: bytes | list[bytes]
    level: int
    layouts: int


def compile_profile(
    view: Mapping[str, Any], *, fmt: Literal["pdf", "png"], generated_at: datetime, ppi: float | None = None, level: int | None = None
) -> Compiled:
    """The profile view compiled.

    The overview is laid out once at `level` (a level this revision fitted before) or at the level
    `estimate_level` expects; only when that gives more than one page is it laid out again one
    level shorter, down to the last. So the page is always one (never cut mid-sentence), and the
    same input always gives the same level and bytes."""
    levels = view["levels"]
    if view["full"] or len(levels) == 1:
        return Compiled(_compile(PROFILE_TEMPLATE, view, fmt=fmt, generated_at=generated_at, ppi=ppi), 0, 1)
    last = len(levels) - 1
    k = min(max(level, 0), last) if level is not None else estimate_level(view)
    layouts = 0
    while True:
        result = _compile(PROFILE_TEMPLATE, _fitted(view, k), fmt=fmt, generated_at=generated_at, ppi=ppi)
        layouts += 1
        if k == last or page_count(result, fmt) == 1:
            return Compiled(result, k, layouts)
        k += 1


def render_profile_overview(
    profile: Mapping[str, Any], *, url: str, generated_at: datetime, full: bool = False, sample: bool = False, level: int | None = None
) -> tuple[bytes, int]:
    """`render_profile_pdf` and the level of the one-page ladder it printed (0 for the full profile).

    Pass the level a former render of the same revision printed as `level`: the page is then laid out once."""
    view = profile_view(profile, url=url, generated_at=generated_at, full=full, sample=sample)
    compiled = compile_profile(view, fmt="pdf", generated_at=generated_at, level=level)
    assert isinstance(compiled.result, bytes)
    return compiled.result, compiled.level


def render_profile_pdf(
    profile: Mapping[str, Any], *, url: str, generated_at: datetime, full: bool = False, sample: bool = False, level: int | None = None
) -> bytes:
    """The one-page overview of a profile, or (`full`) the whole profile over as many pages as it takes.

    `profile` is ``Profile.model_dump(mode="json")``; `url` the public
    address of the profile; `generated_at` the "erstellt am" moment (fixed
    input gives identical bytes); `sample` marks a demo profile; `level` see `render_profile_overview`.
    """
    return render_profile_overview(profile, url=url, generated_at=generated_at, full=full, sample=sample, level=level)[0]


def render_profile_png(
    profile: Mapping[str, Any],
    *,
    url: str,
    generated_at: datetime,
    ppi: float = 110,
    full: bool = False,
    sample: bool = False,
    level: int | None = None,
) -> list[bytes]:
    """PNG images of the profile PDF's pages (for review and previews)."""
    view = profile_view(profile, url=url, generated_at=generated_at, full=full, sample=sample)
    return _pages(compile_profile(view, fmt="png", generated_at=generated_at, ppi=ppi, level=level).result)


def render_comparison_pdf(
    profiles: Sequence[Mapping[str, Any]], *, urls: Sequence[str], generated_at: datetime, sample: bool = False
) -> bytes:
    """Two or three profiles side by side on one A4 landscape page."""
    view = comparison_view(profiles, urls=urls, generated_at=generated_at, sample=sample)
    result = _compile(COMPARISON_TEMPLATE, view, fmt="pdf", generated_at=generated_at)
    assert isinstance(result, bytes)
    return result


def render_comparison_png(
    profiles: Sequence[Mapping[str, Any]], *, urls: Sequence[str], generated_at: datetime, ppi: float = 110, sample: bool = False
) -> list[bytes]:
    """PNG images of the comparison PDF's pages."""
    view = comparison_view(profiles, urls=urls, generated_at=generated_at, sample=sample)
    return _pages(_compile(COMPARISON_TEMPLATE, view, fmt="png", generated_at=generated_at, ppi=ppi))
