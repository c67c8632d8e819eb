"""Structured profile texts from inter-municipal cooperation databases.

Shape (see ../shared/seeds/004_b738c54769826454.txt):

    Title
    Kreis X, Gemeinde A, Stadt B …            ← participating bodies
    Stichworte: …
    Hauptverantwortlich: Kreis X
    Sonstige Beteiligte: …
    Kurzprofil: Stadt B / Regierungsbezirk … / Einwohner: … (Stand, Quelle) / Fläche: … km²
    Anlass: … Ziel: … Umsetzung: … Finanzierung: … Rechtsform: …
    Zusammenarbeit seit: … Kontakt: (address, Telefon, Email)
    Diese Übersicht als PDF herunterladen      ← page furniture, dropped

A label's value may follow on the same line or on the next lines, up to
the next label.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from catalogue.fields import expected_sections, import_section_labels, markdown_fields, summary_sources
from catalogue.models import MAX_SHORT
from catalogue.vocabularies import EditorialStatus, OrganisationKind
from importers.base import ParsedRecord, Source
from importers.recognition import (
    URL_RE,
    bare_name,
    clean_space,
    find_url,
    first_sentences,
    is_furniture,
    legal_form,
    lines_to_markdown,
    markdown_to_plain,
    organisation_kind,
    parse_area_km2,
    parse_date,
    parse_int,
    parse_year,
    partner_kind,
    project_status,
    recognise_fields_of_action,
    recognise_named_partners,
    recognise_state,
    state_for_district,
)
from importers.text_base import Builder, TextImporter, prepare

# Section labels (lower case) → section key: the fields' labels from the field registry, and the Kurzprofil.
SECTION_LABELS: dict[str, str] = {**import_section_labels(), "kurzprofil": "profile"}
# Labels that mark this shape strongly (a plain text rarely has them).
CHARACTERISTIC = {"lead", "partners", "profile", "collaboration_since", "legal_form", "municipalities"}

_LABEL_RE = re.compile(
    r"^\s*(" + "|".join(re.escape(k) for k in sorted(SECTION_LABELS, key=len, reverse=True)) + r")\s*:\s*(.*)$",
    re.IGNORECASE,
)
_EINWOHNER_RE = re.compile(r"^(?:Einwohner(?:zahl)?|Bevölkerung)\s*:?\s*(.+)$", re.IGNORECASE)
_FLAECHE_RE = re.compile(r"^(?:Fläche|Gemeindefläche)\s*:?\s*(.+)$", re.IGNORECASE)
_RB_RE = re.compile(r"^(?:Regierungsbezirk|Reg\.-Bez\.)\s*:?\s*(.+)$", re.IGNORECASE)
_STATE_LINE_RE = re.compile(r"^Bundesland\s*:?\s*(.+)$", re.IGNORECASE)
_PARTNER_PREFIX = re.compile(r"^(?:Beteiligte\s+(?:aus|des)\s+(?:dem\s+)?(?:Projekt(?:s)?\s+)?|sowie\s+|und\s+)", re.IGNORECASE)
_PERSON_RE = re.compile(r"^(?:Herr|Frau|Dr\.|Prof\.)\s|^[A-ZÄÖÜ][a-zäöüß]+\s+[A-ZÄÖÜ][a-zäöüß\-]+$")


def split_sections(text: str) -> tuple[list[str], dict[str, list[str]]]:
    """(lines before the first label, {section key: lines})."""
    preamble: list[str] = []
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for raw in text.split("\n"):
        line = raw.rstrip()
        if is_furniture(line):
            continue
        m = _LABEL_RE.match(line)
        if m:
            key = SECTION_LABELS[m.group(1).lower()]
            current = sections.setdefault(key, [])
            if current:
                current.append("")
            if m.group(2).strip():
                current.append(m.group(2).strip())
            continue
        if current is None:
            preamble.append(line)
        else:
            current.append(line)
    return preamble, sections


def looks_structured(text: str) -> bool:
    _, sections = split_sections(text[:200_000])
    keys = set(sections)
    return len(keys) >= 3 and bool(keys & CHARACTERISTIC)


def split_list(text: str) -> list[str]:
    """Split on commas, semicolons and line breaks, not inside parentheses."""
    items, depth, buf = [], 0, []
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]" and depth:
            depth -= 1
        if ch in ",;\n" and depth == 0:
            items.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    items.append("".join(buf))
    return [clean_space(i) for i in items if clean_space(i)]


def _nonempty(lines: list[str]) -> list[str]:
    return [clean_space(line) for line in lines if clean_space(line)]


class StructuredTextImporter(TextImporter):
    name = "structured"

    def detect(self, source: Source) -> bool:
        head = source.head(65536)
        if head.lstrip().startswith("<"):
            return False
        return looks_structured(head.replace("\r\n", "\n"))

    def suggest_status(self, record: ParsedRecord) -> None:
        c = record.content
        complete = bool(c.get("lead") and c.get("implementation") and (c.get("contact", {}).get("email") or c.get("contact", {}).get("phone")))
        record.suggested_status = EditorialStatus.PUBLISHED if record.ok and complete else EditorialStatus.DRAFT

    # ------------------------------------------------------------ parsing

    def parse_text(self, text: str) -> ParsedRecord:
        b = Builder(self.gazetteer)
        c = b.content
        page = prepare(text)  # a "Source:"/"Quelle:" line is the provenance, never the title
        b.record.stated_source = page.stated_source
        if page.sources or page.source_notes:
            b.warn("provenance", "Die Quellenangabe des Textes wurde als Quelle und Link übernommen, nicht als Text.")
        preamble, sec = split_sections("\n".join(page.lines))
        head = _nonempty(preamble)
        if not head:
            b.record.error("title", "Titel: keine Titelzeile gefunden.")
            c["title"] = ""
        else:
            c["title"] = b.short("title", head[0], "Der Titel") or ""
        bodies = split_list("\n".join(head[1:]))

        # keywords
        keywords = split_list("\n".join(sec.get("keywords", [])))
        c["keywords"] = [k[:80] for k in keywords][:50]
        if not keywords:
            b.warn("keywords", "Stichworte fehlen – bitte ergänzen.")

        # lead and municipalities
        lead_name = clean_space(" ".join(_nonempty(sec.get("lead", []))))
        if not lead_name and bodies:
            lead_name = next((x for x in bodies if organisation_kind(x) == OrganisationKind.DISTRICT), bodies[0])
            b.warn("lead", f"Hauptverantwortlich nicht angegeben – „{lead_name}“ angenommen, bitte prüfen.")
        if lead_name:
            c["lead"] = b.organisation("lead", lead_name)
            if c["lead"] and c["lead"].get("ags"):  # the lead's Kreis and Land resolve ambiguous town names
                b.focus |= {c["lead"]["ags"][:5], c["lead"]["ags"][:2]}
                b.lead_key = c["lead"]["ags"]
        else:
            b.warn("lead", "Hauptverantwortliche Stelle fehlt – bitte ergänzen.")
        names = bodies + split_list("\n".join(sec.get("municipalities", [])))
        municipalities: list[dict[str, Any]] = []
        seen = {lead_name.casefold()}
        for name in names:
            if name.casefold() in seen:
                continue
            seen.add(name.casefold())
            org = b.organisation("municipalities", name)
            if org:
                municipalities.append(org)
        c["municipalities"] = municipalities[:50]

        # partners
        partners = []
        for item in split_list("\n".join(sec.get("partners", []))):
            name = _PARTNER_PREFIX.sub("", item).strip()
            name = b.short("partners", name, "Der Name eines Beteiligten") or ""
            if not name:
                continue
            kind = organisation_kind(name)
            if kind in (OrganisationKind.TOWN, OrganisationKind.MUNICIPALITY, OrganisationKind.DISTRICT, OrganisationKind.AMT):
                org = b.organisation("municipalities", name)
                if org and org["name"].casefold() not in seen:
                    municipalities.append(org)
                    seen.add(org["name"].casefold())
                continue
            partners.append({"name": name, "kind": partner_kind(name).value})
        c["partners"] = partners[:50]

        # long texts
        for text_field in markdown_fields():
            key, label = text_field.name, text_field.label
            md = lines_to_markdown(sec.get(key, []))
            c[key] = b.markdown(key, md, label)
            if not md and text_field.imports.expected:
                b.warn(key, f"{label} fehlt – bitte ergänzen.")

        # Kurzprofil
        self._profile_facts(b, sec.get("profile", []), text)

        # state
        state = None
        for line in _nonempty(sec.get("profile", [])):
            m = _STATE_LINE_RE.match(line)
            if m:
                state = recognise_state(m.group(1))
        state = state or state_for_district(c.get("district")) or recognise_state(text) or b.state_from_organisations()
        if state:
            c["state"] = state.value
        else:
            b.warn("state", "Bundesland nicht erkannt – bitte ergänzen.")

        # fields of action
        foa = recognise_fields_of_action(c["title"], " ".join(keywords), *(c[k] for k in expected_sections()))
        c["fields_of_action"] = [f.value for f in foa]
        if foa:
            b.warn("fields_of_action", "Handlungsfelder wurden aus dem Text erkannt – bitte prüfen.")
        else:
            b.warn("fields_of_action", "Keine Handlungsfelder erkannt – bitte auswählen.")

        # partners named in the text but not listed
        listed = " ".join(p["name"] for p in partners).casefold()
        unlisted = [n for n, _ in recognise_named_partners(c["implementation"]) if n.casefold() not in listed]
        if unlisted:
            b.warn("partners", "Im Text genannt, aber nicht unter „Sonstige Beteiligte“: " + ", ".join(unlisted) + " – bitte prüfen.")

        # summary
        base = next((c[k] for k in summary_sources() if c[k]), "")
        if base:
            c["summary"] = first_sentences(markdown_to_plain(base), 500)
            b.warn("summary", "Kurzbeschreibung wurde aus dem Text übernommen – bitte prüfen und kürzen.")
        else:
            b.warn("summary", "Kurzbeschreibung fehlt – bitte ergänzen.")

        b.funding(sec.get("funding", []))

        # legal form
        ltext = clean_space(" ".join(sec.get("legal_form", [])))
        if not ltext:
            b.warn("legal_form", "Rechtsform fehlt – bitte ergänzen.")
        else:
            form = legal_form(ltext)
            if form is None:
                b.warn("legal_form", f"Rechtsform „{ltext[:80]}“ lässt sich keinem Wert der Liste zuordnen – bitte auswählen.")
            else:
                c["legal_form"] = form.value

        # collaboration since
        ctext = clean_space(" ".join(sec.get("collaboration_since", [])))
        year = parse_year(ctext) if ctext else None
        if year and 1900 <= year <= datetime.now(UTC).year:
            c["collaboration_since"] = year
        elif ctext:
            b.warn("collaboration_since", f"„Zusammenarbeit seit“ ist kein gültiges Jahr („{ctext[:40]}“) – bitte korrigieren.")
        else:
            b.warn("collaboration_since", "„Zusammenarbeit seit“ fehlt – bitte ergänzen.")

        # project status
        stext = clean_space(" ".join(sec.get("project_status", [])))
        status = project_status(stext) if stext else None
        if status:
            c["project_status"] = status.value
        else:
            b.warn("project_status", "Projektstand fehlt – bitte auswählen.")

        # contact
        contact = b.contact_from_lines(sec.get("contact", []))
        c["contact"] = contact
        if not contact:
            b.warn("contact", "Kein Kontakt gefunden – bitte ergänzen.")
        elif not (contact.get("email") or contact.get("phone")):
            b.warn("contact", "Kontakt ohne E-Mail und Telefon – bitte ergänzen.")
        if contact and not contact.get("person"):
            b.warn("contact.person", "Keine Ansprechperson genannt – bitte ergänzen.")

        # links
        links = []
        for line in _nonempty(sec.get("links", [])):
            url = find_url(line)
            if url:
                title = clean_space(URL_RE.sub("", line)).strip(":–- ") or re.sub(r"^https?://", "", url).split("/")[0]
                links.append({"title": title[:MAX_SHORT], "url": url})
        links += [{"title": "Quelle", "url": url} for url in dict.fromkeys(page.sources) if url not in {x["url"] for x in links}]
        c["links"] = links[:50]
        return b.record

    def _profile_facts(self, b: Builder, lines: list[str], text: str) -> None:
        c = b.content
        lines = _nonempty(lines)
        subject = None
        pop_line = area_line = None
        for line in lines:
            if m := _RB_RE.match(line):
                c["district"] = b.short("district", m.group(1), "Der Regierungsbezirk")
            elif m := _EINWOHNER_RE.match(line):
                pop_line = m.group(1)
            elif m := _FLAECHE_RE.match(line):
                area_line = m.group(1)
            elif _STATE_LINE_RE.match(line):
                continue
            elif subject is None and organisation_kind(line) is not None:
                subject = line
        if pop_line is None or area_line is None:  # facts outside the Kurzprofil
            for line in _nonempty(text.split("\n")):
                if pop_line is None and (m := _EINWOHNER_RE.match(line)):
                    pop_line = m.group(1)
                if area_line is None and (m := _FLAECHE_RE.match(line)):
                    area_line = m.group(1)
        if pop_line:
            number_part = pop_line.split("(", 1)[0]
            population = parse_int(number_part)
            if population is None:
                b.warn("population", f"Einwohnerzahl „{pop_line[:60]}“ nicht lesbar – bitte korrigieren.")
            else:
                c["population"] = population
            paren = re.search(r"\((.*)\)", pop_line)
            if paren:
                inner = paren.group(1)
                as_of = parse_date(inner)
                if as_of:
                    c["population_as_of"] = as_of.isoformat()
                else:
                    b.warn("population_as_of", "Stand der Einwohnerzahl nicht lesbar – bitte ergänzen.")
                parts = [p.strip() for p in inner.split(",")]
                src = [p for p in parts if p and not parse_date(p) and not re.search(r"\d{4}", p)]
                if src:
                    c["population_source"] = b.short("population_source", ", ".join(src), "Die Quelle")
            else:
                b.warn("population_as_of", "Stand und Quelle der Einwohnerzahl fehlen – bitte ergänzen.")
        else:
            b.warn("population", "Einwohnerzahl fehlt – bitte ergänzen.")
        if area_line:
            area = parse_area_km2(area_line)
            if area is None or area <= 0:
                b.warn("area_km2", f"Fläche „{area_line[:40]}“ nicht lesbar – bitte korrigieren.")
            else:
                c["area_km2"] = area
        else:
            b.warn("area_km2", "Fläche fehlt – bitte ergänzen.")
        lead = c.get("lead")
        if subject:
            # make sure the profiled municipality is listed and typed
            for org in c.get("municipalities", []):
                if bare_name(org["name"]).casefold() == bare_name(subject).casefold() and "kind" not in org:
                    kind = organisation_kind(subject)
                    if kind:
                        org["kind"] = kind.value
            about_other = lead and bare_name(subject).casefold() != lead["name"].casefold() and subject.casefold() != lead["name"].casefold()
            if about_other and ("population" in c or "area_km2" in c):
                    c["population_body"] = b.short("population_body", subject, "Der Name")  # the Kurzprofil names its body
                    b.warn(
                        "population",
                        f"Einwohner und Fläche beziehen sich auf „{subject}“, nicht auf „{lead['name']}“ – bitte prüfen.",
                    )
