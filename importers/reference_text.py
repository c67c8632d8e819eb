"""Free-running reference texts (project reports, web articles).

Shape (see ../shared/seeds/000_5728af1cd1feed2f.txt): a title line, an
intro paragraph, then short heading lines each followed by paragraphs or
bullet lists. Headings that name a profile field ("Ziel", "Ausgangslage",
"Ergebnisse", "Die Vorteile auf einen Blick" …) go to that field; all other
sections go into `implementation` under their heading. Sales and contact
boilerplate is dropped. Everything the text does not say is flagged as a
warning, and the record is always only a draft.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from catalogue.fields import expected_sections, import_headings, markdown_fields
from catalogue.vocabularies import EditorialStatus, OrganisationKind
from importers.base import ParsedRecord, Source, finish_record, guarded_parse
from importers.gazetteer import Gazetteer, default_gazetteer
from importers.recognition import (
    BULLET_RE,
    EMAIL_RE,
    PHONE_RE,
    POSTCODE_CITY_RE,
    STREET_RE,
    URL_RE,
    clean_space,
    drop_boilerplate_sentences,
    find_email,
    first_sentences,
    funding_amount,
    funding_kinds,
    is_boilerplate,
    is_furniture,
    lines_to_markdown,
    parse_int,
    recognise_fields_of_action,
    recognise_generic_partners,
    recognise_keywords,
    recognise_named_partners,
    recognise_public_bodies,
    recognise_state,
)
from importers.structured_text import Builder

# Heading words → field, from the field registry. Checked in order; the first match wins.
HEADING_FIELDS: tuple[tuple[str, str], ...] = import_headings()
_HEADING_RES = [(re.compile(r"(?<![\w])" + p, re.IGNORECASE) if not p.startswith(r"\b") else re.compile(p, re.IGNORECASE), f) for p, f in HEADING_FIELDS]
FIELD_LABELS_DE = {f.name: f.label for f in markdown_fields()}
_POPULATION_RE = re.compile(r"(\d{1,3}(?:\.\d{3})+|\d{3,7})\s+Einwohner", re.IGNORECASE)


def heading_field(heading: str) -> str | None:
    for pattern, field in _HEADING_RES:
        if pattern.search(heading):
            return field
    return None


def _is_heading(line: str, next_line: str | None, in_contact: bool = False) -> bool:
    if next_line is None:
        return False
    text = line.rstrip(":").strip()
    if not text or len(text) > 80 or len(text.split()) > 10:
        return False
    if in_contact:
        return heading_field(line) is not None or is_boilerplate(line)
    if POSTCODE_CITY_RE.match(line) or STREET_RE.match(line) or PHONE_RE.search(line) or URL_RE.search(line):
        return False
    if text[-1] in '.!?;,…"“”»«)' or BULLET_RE.match(line):
        return False
    if not (text[0].isupper() or text[0].isdigit()):
        return False
    return not EMAIL_RE.search(text)


def split_reference(text: str) -> tuple[str, list[tuple[str | None, list[str]]]]:
    """(title, [(heading or None, lines)]) with bullet markers kept on their items."""
    lines = [clean_space(x) for x in text.split("\n")]
    lines = [x for x in lines if x and not is_furniture(x)]
    if not lines:
        return "", []
    title = lines[0]
    sections: list[tuple[str | None, list[str]]] = [(None, [])]
    after_marker = False
    body = lines[1:]
    for i, line in enumerate(body):
        nxt = body[i + 1] if i + 1 < len(body) else None
        m = BULLET_RE.match(line)
        if m and not m.group(1):
            after_marker = True
            sections[-1][1].append("-")
            continue
        in_contact = sections[-1][0] is not None and heading_field(sections[-1][0]) == "contact"
        if not after_marker and _is_heading(line, nxt, in_contact):
            sections.append((line.rstrip(":").strip(), []))
        else:
            sections[-1][1].append(line)
        after_marker = False
    return title, [s for s in sections if s[0] is not None or s[1]]


def looks_like_prose(text: str) -> bool:
    stripped = text.lstrip("\ufeff \n\r\t")
    if not stripped or stripped[0] in "<{[":
        return False
    letters = sum(ch.isalpha() for ch in stripped)
    return letters >= 80 and letters / max(1, len(stripped)) >= 0.5 and len(re.findall(r"[a-zäöüß]{3,}", stripped)) >= 15


class ReferenceTextImporter:
    name = "reference"
    produces = "profile"

    def __init__(self, gazetteer: Gazetteer | None = None) -> None:
        self._gazetteer = gazetteer

    @property
    def gazetteer(self) -> Gazetteer:
        return self._gazetteer if self._gazetteer is not None else default_gazetteer()

    def detect(self, source: Source) -> bool:
        return looks_like_prose(source.head(65536))

    def parse(self, source: Source) -> Iterator[ParsedRecord]:
        return guarded_parse(self, source, self._parse)

    def _parse(self, source: Source) -> Iterator[ParsedRecord]:
        record = self.parse_text(source.text())
        record.source_id = source.name or None
        record.position = 1
        finish_record(record, self.name, source)
        record.suggested_status = EditorialStatus.DRAFT
        yield record

    def parse_text(self, text: str) -> ParsedRecord:
        b = Builder(self.gazetteer)
        c = b.content
        title, sections = split_reference(text)
        if not title:
            b.record.error("title", "Titel: der Text ist leer.")
            c["title"] = ""
            return b.record
        c["title"] = b.short("title", title, "Der Titel") or ""

        fields: dict[str, list[str]] = {k: [] for k in FIELD_LABELS_DE}
        counts: dict[str, int] = {}
        intro: list[str] = []
        contact_lines: list[str] = []
        funding_lines: list[str] = []
        kept_text: list[str] = [title]
        mapped: list[tuple[str | None, str, list[str]]] = []
        dropped = 0
        for heading, lines in sections:
            if heading and is_boilerplate(heading):
                dropped += 1
                continue
            field = heading_field(heading) if heading else None
            if field == "contact":
                contact_lines.extend(x for x in lines if not is_boilerplate(x))
                continue
            kept = []
            for line in lines:
                cleaned = line if line == "-" else drop_boilerplate_sentences(line)
                if cleaned:
                    kept.append(cleaned)
                else:
                    dropped += 1
            if kept and kept[-1] == "-":
                kept.pop()
            if not kept:
                continue
            kept_text.extend(x for x in kept if x != "-")
            if heading:
                kept_text.append(heading)
            if field == "funding":
                funding_lines.extend(kept)
                continue
            if heading is None:
                intro.extend(kept)
                continue
            target = field or "implementation"
            counts[target] = counts.get(target, 0) + 1
            mapped.append((heading, target, kept))
        for heading, target, kept in mapped:
            # A heading that only repeats the field label is left out.
            if target != "implementation" and counts[target] == 1 and heading_field(heading or "") == target:
                fields[target].extend([*kept, ""])
            else:
                fields[target].extend([f"### {heading}", "", *kept, ""])

        # intro → summary (and, if too long, also the start of the implementation)
        intro_text = " ".join(x for x in intro if x != "-")
        if intro_text:
            c["summary"] = first_sentences(intro_text, 500)
            if c["summary"] != clean_space(intro_text):
                fields["implementation"] = intro + [""] + fields["implementation"]
        else:
            b.warn("summary", "Kurzbeschreibung fehlt – bitte ergänzen.")
        for key, label in FIELD_LABELS_DE.items():
            md = _markdown_with_headings(fields[key])
            c[key] = b.markdown(key, md, label)
            if not md and key in expected_sections():
                b.warn(key, f"{label} fehlt – bitte ergänzen.")
        if dropped:
            b.warn("implementation", "Werbe- und Kontaktfloskeln wurden entfernt – bitte den Text prüfen.")

        body = "\n".join(kept_text)
        self._organisations(b, body, title)
        self._facts(b, body)

        foa = recognise_fields_of_action(body)
        c["fields_of_action"] = [f.value for f in foa]
        b.warn("fields_of_action", "Handlungsfelder wurden aus dem Text erkannt – bitte prüfen." if foa else "Keine Handlungsfelder erkannt – bitte auswählen.")

        keywords = recognise_keywords(body)
        c["keywords"] = keywords
        b.warn("keywords", "Stichworte wurden aus dem Text abgeleitet – bitte prüfen." if keywords else "Stichworte fehlen – bitte ergänzen.")

        # partners
        lead_name = (c.get("lead") or {}).get("name", "")
        partners: dict[str, str] = {}
        for name, kind in recognise_named_partners(body) + recognise_generic_partners(body):
            if name.casefold() in lead_name.casefold() or any(name.casefold() in p.casefold() for p in partners):
                continue
            clipped = b.short("partners", name, "Der Name eines Beteiligten")
            if clipped:
                partners[clipped] = kind.value
        c["partners"] = [{"name": n, "kind": k} for n, k in list(partners.items())[:50]]
        if partners:
            b.warn("partners", "Beteiligte wurden aus dem Text erkannt (" + ", ".join(partners) + ") – bitte prüfen und vollständige Namen ergänzen.")
        else:
            b.warn("partners", "Keine weiteren Beteiligten erkannt – bitte ergänzen, falls vorhanden.")

        # funding
        if funding_lines:
            ftext = lines_to_markdown(funding_lines)
            funding: dict[str, Any] = {"text": b.markdown("funding.text", ftext, "Finanzierung"), "kinds": [k.value for k in funding_kinds(ftext)]}
            amount = funding_amount(ftext)
            if amount is not None:
                funding["amount_eur"] = amount
            c["funding"] = funding
        else:
            b.warn("funding", "Finanzierung fehlt – bitte ergänzen.")

        # contact: a contact section, else an e-mail address in the text
        contact = b.contact_from_lines(contact_lines) if contact_lines else {}
        if not contact and find_email(body):
            contact = {"email": find_email(body)}
        c["contact"] = contact
        if contact:
            b.warn("contact", "Kontakt wurde aus dem Text übernommen – bitte prüfen und Ansprechperson ergänzen.")
        else:
            b.warn("contact", "Kein Kontakt gefunden – bitte ergänzen.")

        b.warn("legal_form", "Rechtsform fehlt – bitte ergänzen.")
        b.warn("collaboration_since", "„Zusammenarbeit seit“ fehlt – bitte ergänzen.")
        b.warn("project_status", "Projektstand fehlt – bitte auswählen.")
        return b.record

    def _organisations(self, b: Builder, body: str, title: str) -> None:
        c = b.content
        bodies = recognise_public_bodies(body)
        lead_name = bodies[0][0] if bodies else None
        if lead_name is None and self.gazetteer:
            hits = self.gazetteer.names_in(title) or self.gazetteer.names_in(body)
            if hits:
                entry = hits[0]
                prefix = {OrganisationKind.TOWN: "Stadt ", OrganisationKind.MUNICIPALITY: "Gemeinde "}.get(entry.kind, "")  # type: ignore[arg-type]
                lead_name = prefix + entry.name
        if lead_name:
            c["lead"] = b.organisation("lead", lead_name)
            b.warn("lead", f"Hauptverantwortlich: „{lead_name}“ wurde aus dem Text erkannt – bitte prüfen.")
        else:
            b.warn("lead", "Hauptverantwortliche Kommune nicht erkannt – bitte ergänzen.")
        others = [org for name, _, _ in bodies[1:] if (org := b.organisation("municipalities", name))]
        c["municipalities"] = others[:50]
        if others:
            b.warn("municipalities", "Weitere Kommunen wurden aus dem Text erkannt – bitte prüfen.")
        state = recognise_state(body) or b.state_from_organisations()
        if state:
            c["state"] = state.value
        else:
            b.warn("state", "Bundesland nicht erkannt – bitte ergänzen.")

    def _facts(self, b: Builder, body: str) -> None:
        c = b.content
        m = _POPULATION_RE.search(body)
        population = parse_int(m.group(1)) if m else None
        if population is not None:
            c["population"] = population
            b.warn("population", "Einwohnerzahl aus dem Text übernommen – bitte Stand und Quelle ergänzen.")
        else:
            b.warn("population", "Einwohnerzahl fehlt – bitte ergänzen.")
        b.warn("area_km2", "Fläche fehlt – bitte ergänzen.")


def _markdown_with_headings(lines: list[str]) -> str:
    """Like lines_to_markdown, but "### " heading lines stay headings."""
    out: list[str] = []
    chunk: list[str] = []
    for line in lines:
        if line.startswith("### "):
            if chunk:
                out.append(lines_to_markdown(chunk))
                chunk = []
            out.append("### " + line[4:].replace("#", "\\#"))
        else:
            chunk.append(line)
    if chunk:
        out.append(lines_to_markdown(chunk))
    return "\n\n".join(x for x in out if x).strip()
