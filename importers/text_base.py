"""The skeleton the two text importers share (structured profiles and free reference texts).

`TextImporter` reads a source as text, hands it to the subclass's
`parse_text`, and finishes the record (source id, validation, fingerprint,
provenance, suggested status); both resolve names with the same register
(`importers.gazetteer.default_gazetteer()` unless one is given).
`Builder` collects one record's content and the warnings for the editor:
clipped short texts, organisations resolved through the register (with a
question when a name is ambiguous), contacts from address blocks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from catalogue import gazetteer as reg
from catalogue.models import MAX_MARKDOWN, MAX_SHORT
from catalogue.vocabularies import EditorialStatus, FederalState, OrganisationKind, state_for_ags
from importers.base import ParsedRecord, Source, finish_record, guarded_parse
from importers.gazetteer import Gazetteer, default_gazetteer
from importers.recognition import (
    EMAIL_RE,
    FAX_RE,
    PHONE_RE,
    URL_RE,
    clean_space,
    find_email,
    find_phone,
    find_url,
    funding_amount,
    funding_kinds,
    is_furniture,
    lines_to_markdown,
    organisation_kind,
    parse_address_lines,
)

_PERSON_RE = re.compile(
    r"^(?:(?:Herr|Frau|Dr\.|Prof\.)\s+)*[A-ZÄÖÜ][a-zäöüß]+(?:-[A-ZÄÖÜ][a-zäöüß]+)?(?:\s+(?:von\s+)?[A-ZÄÖÜ][a-zäöüß]+(?:-[A-ZÄÖÜ][a-zäöüß]+)?){1,2}$"
)
_ORG_LINE_RE = re.compile(
    r"(?i)verwaltung|gemeinde|stadt|kreis|amt\b|landratsamt|rathaus|verband|gmbh|mbh|e\.\s?v\.|ministerium|büro|zentrum|agentur|gesellschaft|\bag\b|stelle"
)
_KIND_BY_LEVEL = {reg.KREIS: OrganisationKind.DISTRICT}


def entry_kind(entry: Mapping[str, Any]) -> OrganisationKind | None:
    kind = entry.get("kind")
    if isinstance(kind, OrganisationKind):
        return kind
    try:
        return OrganisationKind(kind) if kind else _KIND_BY_LEVEL.get(entry.get("level", ""))
    except ValueError:
        return None


def entry_label(entry: Mapping[str, Any]) -> str:
    """"Kreis Höxter", "Höxter (Stadt, Kreis Höxter)" – how a choice is shown to the editor."""
    name = entry.get("display_name") or entry["name"]
    if entry.get("level") == reg.GEMEINDE:
        where = f", {entry['kreis_name']}" if entry.get("kreis_name") else ""
        return f"{name} ({entry.get('kind_label', 'Gemeinde')}{where})"
    return name


class Builder:
    """Collects content and warnings for one record."""

    def __init__(self, gazetteer: Gazetteer | None) -> None:
        self.content: dict[str, Any] = {}
        self.record = ParsedRecord(content=self.content)
        self.gazetteer = gazetteer or Gazetteer()
        self.focus: set[str] = set()  # keys of Kreise (5 digits) and Länder (2) the text is about: they resolve ambiguous names
        self.lead_key: str | None = None  # a body named besides the lead is not the lead ("Kreis Höxter, … Höxter")

    def warn(self, field: str, message: str) -> None:
        self.record.warn(field, message)

    def short(self, field: str, value: str | None, label: str) -> str | None:
        if value is None:
            return None
        value = clean_space(value)
        if len(value) > MAX_SHORT:
            self.warn(field, f"{label} war zu lang und wurde auf {MAX_SHORT} Zeichen gekürzt – bitte prüfen.")
            value = value[: MAX_SHORT - 1].rstrip() + "…"
        return value or None

    def markdown(self, field: str, value: str, label: str) -> str:
        if len(value) > MAX_MARKDOWN:
            self.warn(field, f"{label} war zu lang und wurde auf {MAX_MARKDOWN} Zeichen gekürzt – bitte prüfen.")
            value = value[: MAX_MARKDOWN - 1].rstrip() + "…"
        return value

    # ------------------------------------------------------ organisations

    def organisation(self, field: str, name: str, *, ask: bool = True) -> dict[str, Any] | None:
        """An organisation as written ("Kreis Höxter"), with kind and key from the register when it is unambiguous.

        A name the register has more than once ("Höxter": the Stadt and the
        Kreis) stays without key, and the editor is asked which is meant.
        """
        clipped = self.short(field, name, "Der Name")
        if not clipped:
            return None
        org: dict[str, Any] = {"name": clipped}
        kind = organisation_kind(clipped)
        found = self.gazetteer.find(clipped)
        if kind is not None:
            fitting = [e for e in found if _fits(e, kind)]
            found = fitting or found
        entries = _distinct(self.gazetteer, found)
        if len(entries) > 1 and self.lead_key and field != "lead":
            entries = [e for e in entries if e["_id"] != self.lead_key] or entries
        if len(entries) > 1 and self.focus:
            inside = [e for e in entries if e["_id"][:5] in self.focus or e["_id"] in self.focus]
            inside = inside or [e for e in entries if e["_id"][:2] in self.focus]
            entries = inside or entries
        if len(entries) == 1:
            return self.organisation_for(entries[0], clipped)
        if kind is not None:
            org["kind"] = kind.value
        if len(entries) > 1 and ask:
            choices = ", ".join(entry_label(e) for e in entries[:6])
            more = f" und {len(entries) - 6} weitere" if len(entries) > 6 else ""
            self.warn(field, f"„{clipped}“ steht mehrmals im Gemeindeverzeichnis ({choices}{more}) – welche Körperschaft ist gemeint? Bitte auswählen.")
        return org

    def organisation_for(self, entry: Mapping[str, Any], written: str | None = None) -> dict[str, Any]:
        """The organisation of a register entry, named as the text wrote it if it said its kind."""
        entry = self.gazetteer.resolve_same(dict(entry))
        name = written if written and organisation_kind(written) is not None else (entry.get("display_name") or entry["name"])
        org: dict[str, Any] = {"name": self.short("municipalities", name, "Der Name") or entry["name"]}
        kind = entry_kind(entry)
        if kind is not None:
            org["kind"] = kind.value
        org["ags"] = entry["_id"]
        return org

    def state_from_organisations(self) -> FederalState | None:
        """The Land of the lead, else the Land most participating bodies share."""
        orgs = [self.content.get("lead"), *self.content.get("municipalities", [])]
        counts: dict[FederalState, int] = {}
        for n, org in enumerate(o for o in orgs if o):
            state = state_for_ags(org.get("ags")) if org.get("ags") else None
            if state is None and not org.get("ags"):
                entries = _distinct(self.gazetteer, self.gazetteer.find(org["name"]))
                states = {state_for_ags(e["_id"]) for e in entries}
                state = states.pop() if len(states) == 1 else None
            if state is not None:
                counts[state] = counts.get(state, 0) + (3 if n == 0 else 1)
        return max(counts, key=lambda s: counts[s]) if counts else None

    # ------------------------------------------------------------ funding

    def funding(self, lines: list[str]) -> None:
        """Finanzierung from its lines: the text, the kinds of funds it names, an amount."""
        text = lines_to_markdown(lines)
        if not text:
            self.warn("funding", "Finanzierung fehlt – bitte ergänzen.")
            return
        funding: dict[str, Any] = {"text": self.markdown("funding.text", text, "Finanzierung"), "kinds": [k.value for k in funding_kinds(text)]}
        amount = funding_amount(text)
        if amount is not None:
            funding["amount_eur"] = amount
        self.content["funding"] = funding

    # ------------------------------------------------------------ contact

    def contact_from_lines(self, lines: list[str]) -> dict[str, Any]:
        lines = [clean_space(x) for x in lines if clean_space(x)]
        block = "\n".join(lines)
        contact: dict[str, Any] = {}
        email = find_email(block)
        phone = find_phone(block)
        url = find_url(re.sub(EMAIL_RE, "", block))
        rest = [
            line for line in lines
            if not EMAIL_RE.search(line) and not PHONE_RE.search(line) and not FAX_RE.match(line)
            and not URL_RE.search(line) and not re.match(r"^(?:E-?Mail|Telefon|Tel\.?|Internet|Web)\s*:?\s*$", line, re.IGNORECASE)
        ]
        address, rest = parse_address_lines(rest)
        person = next((line for line in rest if _PERSON_RE.match(line) and not _ORG_LINE_RE.search(line)), None)
        organisation = next((line for line in rest if line != person), None)
        if organisation:
            contact["organisation"] = self.short("contact.organisation", organisation, "Die Organisation")
        if person:
            contact["person"] = self.short("contact.person", person, "Der Name")
        contact["street"] = self.short("contact.street", address.street, "Die Straße")
        contact["postcode"] = address.postcode
        contact["city"] = self.short("contact.city", address.city, "Der Ort")
        if phone:
            contact["phone"] = phone
        if email:
            contact["email"] = email
        if url:
            contact["website"] = url
        return {k: v for k, v in contact.items() if v}


def _fits(entry: Mapping[str, Any], kind: OrganisationKind) -> bool:
    if kind == OrganisationKind.DISTRICT:
        return entry["level"] == reg.KREIS and not entry.get("kreisfrei")
    if kind in (OrganisationKind.AMT, OrganisationKind.ASSOCIATION_OF_MUNICIPALITIES):
        return entry["level"] == reg.VERBAND
    if kind in (OrganisationKind.TOWN, OrganisationKind.MUNICIPALITY, OrganisationKind.CITY_STATE):
        return entry["level"] == reg.GEMEINDE
    return True


def _distinct(gazetteer: Gazetteer, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries without the rows that stand for another (a kreisfreie Stadt's Kreis row is its Gemeinde)."""
    out: dict[str, dict[str, Any]] = {}
    for found in entries:
        e = gazetteer.resolve_same(found)
        out.setdefault(e["_id"], e)
    return list(out.values())


# A line that only says where the text is from: "Source: https://…", "Quelle: …", a bare URL.
SOURCE_LINE_RE = re.compile(
    r"^\s*(?:\(?\s*(?:Source|Quelle|Quellen|Originalquelle|Fundstelle|Quellenangabe|Original|URL|Link|Online|Abgerufen\s+(?:von|unter))\s*:\s*(?P<what>.+?)\s*\)?"
    r"|<?(?P<url>(?:https?://|www\.)[^\s<>]+)>?)\s*$",
    re.IGNORECASE,
)
# A leading date line ("20.04.2015", "Montag, 20. April 2015, 10:30 Uhr"): the page's date, not its headline.
DATE_LINE_RE = re.compile(
    r"^\s*(?:(?:Mo|Di|Mi|Do|Fr|Sa|So)\w*,?\s*)?(?:\d{1,2}\.\s*\d{1,2}\.\s*\d{2,4}|\d{1,2}\.\s*[A-ZÄÖÜ][a-zäöü]+\s+\d{4}|\d{4}-\d{2}-\d{2})"
    r"(?:\s*[,|–-]?\s*\d{1,2}[:.]\d{2}(?:\s*Uhr)?)?\s*$"
)


@dataclass
class Page:
    """A text made ready: content lines, what its source lines said, the lines dropped."""

    lines: list[str]
    sources: list[str] = field(default_factory=list)  # URLs the text names as its source
    source_notes: list[str] = field(default_factory=list)  # source lines without a URL
    date: str | None = None

    @property
    def stated_source(self) -> str | None:
        return self.sources[0] if self.sources else None


def prepare(text: str) -> Page:
    """Take source lines ("Quelle: …" anywhere, a bare URL before the text), leading date lines and page furniture out."""
    page = Page(lines=[])
    seen_content = False
    for raw in text.split("\n"):
        line = clean_space(raw)
        if not line:
            if page.lines and page.lines[-1] != "":
                page.lines.append("")
            continue
        m = SOURCE_LINE_RE.match(line)
        if m and (m.group("what") or not seen_content):  # a bare URL inside the text is a link or a contact's website
            what = (m.group("what") or m.group("url") or "").strip()
            url = URL_RE.search(what)
            if url:
                address = url.group(0).rstrip(".,;:)")
                page.sources.append(address if not address.lower().startswith("www.") else "https://" + address)
            elif what:
                page.source_notes.append(what)
            continue
        if not seen_content and DATE_LINE_RE.match(line):
            page.date = page.date or line
            continue
        if is_furniture(line):
            continue
        seen_content = True
        page.lines.append(line)
    while page.lines and page.lines[-1] == "":
        page.lines.pop()
    return page


class TextImporter:
    """A format read as one text: `parse_text` builds the record, the rest is shared."""

    name = "text"
    produces = "profile"

    def __init__(self, gazetteer: Gazetteer | None = None) -> None:
        self._gazetteer = gazetteer

    @property
    def gazetteer(self) -> Gazetteer:
        return self._gazetteer if self._gazetteer is not None else default_gazetteer()

    def detect(self, source: Source) -> bool:  # pragma: no cover - every subclass decides
        raise NotImplementedError

    def parse(self, source: Source) -> Iterator[ParsedRecord]:
        return guarded_parse(self, source, self._parse)

    def text_of(self, source: Source) -> str:
        return source.text()

    def _parse(self, source: Source) -> Iterator[ParsedRecord]:
        record = self.parse_text(self.text_of(source))
        yield self.finish(record, source)

    def finish(self, record: ParsedRecord, source: Source, importer: str | None = None) -> ParsedRecord:
        record.source_id = source.name or None
        record.position = 1
        finish_record(record, importer or self.name, source)
        stated = getattr(record, "stated_source", None)
        if stated:  # the page's own "Quelle:" line names where the text is from
            record.provenance["source"] = stated
        self.suggest_status(record)
        return record

    def parse_text(self, text: str) -> ParsedRecord:  # pragma: no cover - every subclass does
        raise NotImplementedError

    def suggest_status(self, record: ParsedRecord) -> None:
        record.suggested_status = EditorialStatus.DRAFT
