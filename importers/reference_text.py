"""Free-running texts about a project: reference reports, press releases, news, programme pages.

Shape: an optional source line ("Source: https://…", "Quelle: …", a bare
URL) and date line, a headline (possibly with a kicker line ending in ":"),
paragraphs, short heading lines each followed by paragraphs or bullet
lists, perhaps a contact block. (../shared/seeds/000_5728af1cd1feed2f.txt
is one such text.)

* **Title**: a project name the text states ("das Projekt „X“", "Ein
  solches Projekt ist … die „X“"), else the headline ("X: subtitle" → X;
  "X – subtitle" → X; a one-word headline that a joint body's name begins
  with → that name), else the first sentence. Never the source line: that
  goes to the provenance and the links.
* **Narrative**: headings that name a profile field ("Ziel", "Ausgangslage",
  "Ergebnisse" …) go to that field, other sections into `implementation`
  under their heading; sales and contact boilerplate is dropped.
* **Facts** (`importers.facts`): participating bodies resolved through the
  municipality register, the lead, the Land, a population the text states
  for the lead, contacts (blocks and running text), the start year, the
  fields of action.

Every value the importer infers carries a warning for the editor, and the
record is always a draft.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from catalogue.fields import expected_sections, import_headings, markdown_fields
from catalogue.gazetteer import name_key as reg_key
from catalogue.vocabularies import EditorialStatus
from importers import facts
from importers.base import ParsedRecord, Source
from importers.gazetteer import Gazetteer
from importers.recognition import (
    BULLET_RE,
    EMAIL_RE,
    PHONE_RE,
    POSTCODE_CITY_RE,
    STREET_RE,
    URL_RE,
    clean_space,
    drop_boilerplate_sentences,
    first_sentences,
    is_boilerplate,
    lines_to_markdown,
    recognise_generic_partners,
    recognise_keywords,
    recognise_named_partners,
    split_sentences,
)
from importers.text_base import Builder, Page, TextImporter, entry_label, prepare

# Heading words → field, from the field registry. Checked in order; the first match wins.
HEADING_FIELDS: tuple[tuple[str, str], ...] = import_headings()
_HEADING_RES = [(re.compile(r"(?<![\w])" + p, re.IGNORECASE) if not p.startswith(r"\b") else re.compile(p, re.IGNORECASE), f) for p, f in HEADING_FIELDS]
FIELD_LABELS_DE = {f.name: f.label for f in markdown_fields()}

DATELINE_RE = re.compile(
    r"^(?P<place>[A-ZÄÖÜ][\wäöüß\-]*(?:\s*/\s*[A-ZÄÖÜ][\wäöüß\-]*)*(?:\s+[A-ZÄÖÜ][\wäöüß\-]*)?)"
    r"(?:\s*\([^)]{1,30}\))?(?:,\s*[^.–]{3,30})?\s*(?:\.\s*[–-]?|\s[–-]|\s·)\s+(?=\S)"
)
PROJECT_NAME_RES = (
    # "das Projekt „X“", "Das Mobilitätsprojekt „X“", "dem Modellvorhaben „X“"
    re.compile(r"(?:[Pp]rojekt|[Vv]orhaben|[Pp]ilotprojekt|[Mm]odellprojekt)(?:es|s)?\s+[„\"»](?P<name>[^“\"«”\n]{3,150})[“\"«”]"),
    # "Ein solches Projekt ist im … die „X“", "Das Projekt heißt „X“"
    re.compile(r"\b[Pp]rojekt\w*\s+(?:ist|heißt|nennt\s+sich|trägt\s+den\s+Namen|lautet)\s+(?:[\w\-]+\s+){0,6}?[„\"»](?P<name>[^“\"«”\n]{3,150})[“\"«”]"),
    # "„X“ heißt das Projekt"
    re.compile(r"[„\"»](?P<name>[^“\"«”\n]{3,150})[“\"«”]\s+(?:heißt|nennt\s+sich)\s+(?:das|unser)\s+(?:\w+)?[Pp]rojekt"),
    # "unter dem Namen „X“"
    re.compile(r"unter\s+dem\s+(?:Namen|Projektnamen|Titel\s+des\s+Projekts)\s+[„\"»](?P<name>[^“\"«”\n]{3,150})[“\"«”]"),
)
# "„X“ soll die Leader-Region der drei Kommunen … heißen" → "Leader-Region X"
NAMING_RE = re.compile(
    r"[„\"»](?P<name>[^“\"«”\n]{2,80})[“\"«”]\s+(?:soll|wird|sollen)\s+(?:die|der|das)\s+(?P<noun>[A-ZÄÖÜ][\w\-]+)\b[^.;:!?]{0,120}?\bhei(?:ßen|ssen)\b"
)
_PREPOSITION_START = re.compile(r"^(?:Aus|Im|In|Vom|Von|Bei|Zum|Zur|Über|Für|Mit)\b")
_ARTICLE = re.compile(r"^(?:Der|Die|Das|Ein|Eine|Unser|Unsere)\s+")


def heading_field(heading: str) -> str | None:
    for pattern, field_name in _HEADING_RES:
        if pattern.search(heading):
            return field_name
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


def looks_like_headline(line: str) -> bool:
    """A line that reads as a headline: short, no closing full stop, not a dateline-led paragraph."""
    text = line.strip()
    if not text or len(text) > 200 or len(text.split()) > 22:
        return False
    if DATELINE_RE.match(text) and len(text.split()) > 8:
        return False
    return not text.endswith((".", ",", ";")) or len(text.split()) <= 4


def _list_lines(lines: list[str]) -> set[int]:
    """Indexes of short lines that are items of a list pasted without its bullets.

    Heading-like lines right after a sentence that ends in a colon ("… in
    folgenden Bereichen:") are that sentence's list: kept as items, not taken
    for headings whose empty sections would be dropped.
    """
    n = len(lines)
    base = [_is_heading(line, lines[i + 1] if i + 1 < n else None) for i, line in enumerate(lines)]
    # a field's heading ("Förderung") heads its section unless another heading-like line follows it at once
    like = [base[i] and (heading_field(lines[i]) is None or (i + 1 < n and base[i + 1])) for i in range(n)]
    items: set[int] = set()
    i = 0
    while i < n:
        if not like[i]:
            i += 1
            continue
        end = i
        while end + 1 < n and like[end + 1]:
            end += 1
        after_colon = i > 0 and lines[i - 1].rstrip().endswith(":") and not like[i - 1]
        if after_colon:
            items.update(range(i, end + 1))
        i = end + 1
    return items


def split_sections(lines: list[str]) -> list[tuple[str | None, list[str]]]:
    """[(heading or None, lines)] with bullet markers kept on their items."""
    sections: list[tuple[str | None, list[str]]] = [(None, [])]
    list_lines = _list_lines(lines)
    after_marker = False
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        m = BULLET_RE.match(line)
        if m and not m.group(1):
            after_marker = True
            sections[-1][1].append("-")
            continue
        in_contact = sections[-1][0] is not None and heading_field(sections[-1][0]) == "contact"
        if not in_contact and i in list_lines:
            sections[-1][1].extend(["-", line])
        elif not after_marker and _is_heading(line, nxt, in_contact):
            sections.append((line.rstrip(":").strip(), []))
        else:
            sections[-1][1].append(line)
        after_marker = False
    return [s for s in sections if s[0] is not None or s[1]]


def looks_like_prose(text: str) -> bool:
    stripped = text.lstrip("\ufeff \n\r\t")
    if not stripped or stripped[0] in "<{[":
        return False
    letters = sum(ch.isalpha() for ch in stripped)
    return letters >= 80 and letters / max(1, len(stripped)) >= 0.5 and len(re.findall(r"[a-zäöüß]{3,}", stripped)) >= 15


def strip_dateline(sentence: str) -> str:
    m = DATELINE_RE.match(sentence)
    return sentence[m.end() :] if m else sentence


def _first_sentence(text: str) -> str:
    sentences = split_sentences(strip_dateline(text))
    return sentences[0] if sentences else text


def _clip_title(text: str, limit: int = 180) -> str:
    text = clean_space(text).strip(" :;,")
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:–-") + " …"


def stated_project_name(text: str) -> str | None:
    """A project name the text states: "das Projekt „X“", "Ein solches Projekt ist … die „X“", "„X“ soll die Region … heißen"."""
    for pattern in PROJECT_NAME_RES:
        m = pattern.search(text)
        if m:
            name = clean_space(m.group("name")).strip(" ,.")
            if 2 <= len(name.split()) <= 14 or (len(name) >= 4 and name[:1].isupper()):
                return name
    m = NAMING_RE.search(text)
    if m:
        return f"{m.group('noun')} {clean_space(m.group('name'))}"
    return None


# Words before a name that make it a person: "Landrat Michael Sack", "Bürgermeisterin Anna Beispiel".
_ROLE_WORD = re.compile(
    r"(?:[Bb]ürgermeister|[Ll]andr[aä]t|[Mm]inister|[Ss]taatssekretär|[Gg]eschäftsführer|[Ll]eiter|[Rr]ätin|[Rr]at|[Pp]räsident|[Vv]orsitzende|"
    r"[Dd]irektor|[Kk]ommandant|[Mm]anager|[Ss]precher|[Rr]eferent|[Bb]eauftragte|Herr|Frau|Dr|Prof)\w*$"
)
_GENERIC_NOUNS = {
    "kommune", "kommunen", "gemeinde", "gemeinden", "stadt", "städte", "städten", "landkreis", "landkreise", "kreis", "kreise",
    "bürgermeister", "bürgermeisterin", "landrat", "landrätin", "jahr", "jahre", "jahren", "projekt", "projekte", "projekts",
    "euro", "prozent", "millionen", "bürger", "bürgerinnen", "menschen", "region", "regionen", "land", "länder", "bund",
    "zeit", "thema", "themen", "teil", "beispiel", "rahmen", "ende", "anfang", "mitte", "zukunft", "frage", "fragen",
    "verwaltung", "verwaltungen", "ziel", "ziele", "möglichkeit", "möglichkeiten", "bereich", "bereichen", "einwohner",
    "einwohnern", "mitglieder", "mitgliedern", "angebot", "angebote", "seite", "seiten", "weg", "wege", "stelle", "stellen",
    "dank", "grund", "gründe", "lösung", "problem", "probleme", "arbeit", "kosten", "mittel", "förderung", "kreisverwaltung",
}


def _named_pair(text: str, gaz: Gazetteer) -> str | None:
    """Two capitalised words together twice or more, not a person and not a place: "Lenkungsgruppe Klimaschutz"."""
    pairs: dict[str, int] = {}
    persons: set[str] = set()
    for m in re.finditer(r"(?<![\w.])([A-ZÄÖÜ][\wäöüß\-]{3,})[ \t]+([A-ZÄÖÜ][\wäöüß\-]{3,})\b", text):
        pair = f"{m.group(1)} {m.group(2)}"
        before = text[max(0, m.start() - 40) : m.start()].rstrip()
        if _ROLE_WORD.search(before) or before.endswith((".", "!", "?", ":")) or not before:
            persons.add(pair)
            continue
        if gaz.known_name(reg_key(m.group(1))) or gaz.known_name(reg_key(m.group(2))) or m.group(1).lower() in _GENERIC_NOUNS:
            continue
        pairs[pair] = pairs.get(pair, 0) + 1
    repeated = [p for p, n in pairs.items() if n >= 2 and p not in persons]
    return max(repeated, key=lambda p: pairs[p]) if repeated else None


def _acronym_name(sentence: str) -> str | None:
    """A thing named with an acronym in a sentence: "Das flexible Rufbus-System ILSE wird …" → "Rufbus-System ILSE"."""
    m = re.search(r"\b([A-ZÄÖÜ][\wäöüß]+(?:-[A-ZÄÖÜ]?[\wäöüß]+)*)\s+([A-ZÄÖÜ]{3,}(?:-[A-ZÄÖÜ]+)?)\b(?!\s*(?:GmbH|e\.\s?V|AG))", sentence)
    if m and m.group(2) not in ("GmbH", "CDU", "SPD", "FDP", "AfD", "CSU", "DRK", "EU", "BMBF", "BMI"):
        return f"{m.group(1)} {m.group(2)}"
    return None


_NOT_ADJECTIVES = {
    "diese", "jede", "welche", "seine", "ihre", "unsere", "keine", "andere", "viele", "alle", "beide", "einige", "mehrere",
    "zweite", "dritte", "vierte", "fünfte", "sieben", "sechse", "zwölfe", "zwanzige", "solche", "eigene", "weitere",
}


def topic_title(text: str, lead: str | None, gaz: Gazetteer) -> str | None:
    """A short title from the text's own words: its most frequent noun (with the adjective most often before it) and the lead."""
    counts: dict[str, int] = {}
    forms: dict[str, dict[str, int]] = {}
    adjectives: dict[str, dict[str, int]] = {}
    for m in re.finditer(r"(?:(?<=\s)([a-zäöüß][\wäöüß]{4,}(?:e|en|er|es))\s+)?(?<![.!?]\s)\b([A-ZÄÖÜ][a-zäöüß]{4,}(?:-[A-ZÄÖÜa-zäöüß]+)*)", text):
        word = m.group(2)
        if word.lower() in _GENERIC_NOUNS or gaz.known_name(reg_key(word)):
            continue
        stem = re.sub(r"(?:es|en|er|e|n|s)$", "", word.lower())
        counts[stem] = counts.get(stem, 0) + 1
        forms.setdefault(stem, {})[word] = forms.get(stem, {}).get(word, 0) + 1
        if m.group(1):
            adjective = re.sub(r"(?:en|er|es|e)$", "e", m.group(1))
            adjectives.setdefault(stem, {})[adjective] = adjectives.get(stem, {}).get(adjective, 0) + 1
    if not counts:
        return None
    stem = max(counts, key=lambda k: counts[k])
    if counts[stem] < 3:
        return None
    word = max(forms[stem], key=lambda w: forms[stem][w])
    word = min((w for w in forms[stem] if word.lower().startswith(w.lower())), key=len, default=word)  # "Hallenbad", not "Hallenbads"
    seen = adjectives.get(stem, {})
    usual = max(seen, key=seen.__getitem__) if seen else None
    if usual and seen[usual] >= 2 and usual not in _NOT_ADJECTIVES:
        word = f"{usual[:1].upper()}{usual[1:]} {word}"
    return f"{word} – {lead}" if lead else word



def headline_title(headline: str) -> str:
    """The headline without its subtitle: "X: subtitle" → X ("Aus dem Amt Y: X" → X), "X – subtitle" → X."""
    text = headline.strip().rstrip(":")
    if ": " in text:
        head, tail = text.split(": ", 1)
        if len(head.split()) >= 2 and len(tail.split()) >= 2:
            text = tail if _PREPOSITION_START.match(head) else head
    parts = re.split(r"\s+[–—-]\s+", text, maxsplit=1)
    if len(parts) == 2 and len(parts[0].split()) >= 3 and len(parts[1].split()) >= 3:
        text = parts[0]
    return text.strip()


@dataclass
class TitleChoice:
    title: str
    how: str  # "name", "headline", "joint", "sentence"
    headline_index: int | None  # the line that was the headline (not part of the body)


def choose_title(page: Page, joints: list[facts.JointBody], gaz: Gazetteer | None = None, lead: str | None = None) -> TitleChoice | None:
    """The title: a stated project name, the headline, the joint body it is about, a name the text repeats,
    the first sentence if it is short, else the text's topic and its lead (never a source line)."""
    lines = [x for x in page.lines if x]
    if not lines:
        return None
    body_text = "\n".join(lines)
    named = stated_project_name(body_text)
    index = 0
    if lines[0].endswith(":") and len(lines) > 1 and len(lines[0].split()) <= 6:  # a kicker: "Im Interview:"
        index = 1
    headline = lines[index] if looks_like_headline(lines[index]) and len(lines) > index + 1 else None
    headline_index = page.lines.index(headline) if headline else None
    if named:
        return TitleChoice(named, "name", headline_index)
    if headline is not None:
        title = headline_title(headline)
        bare = _ARTICLE.sub("", title)
        if len(bare.split()) == 1:  # "Der Zweckverband": the body the text is about names itself in full
            for body in joints:
                if body.name.split()[0].lower().startswith(bare.lower()[:8]):
                    return TitleChoice(body.name, "joint", headline_index)
        return TitleChoice(title, "headline", headline_index)
    sentence = _first_sentence(lines[0])
    for body in joints:
        if body.first < len(sentence) + 20 and not body.company:
            return TitleChoice(body.name, "joint", None)
    if gaz is not None:
        pair = _named_pair(body_text, gaz)
        if pair:
            return TitleChoice(pair, "named", None)
    acronym = _acronym_name(sentence)
    if acronym:
        return TitleChoice(acronym, "named", None)
    if len(sentence.split()) <= 12 or gaz is None:
        return TitleChoice(_clip_title(sentence), "sentence", None)
    topic = topic_title(body_text, lead, gaz)
    if topic:
        return TitleChoice(topic, "topic", None)
    return TitleChoice(_clip_title(sentence), "sentence", None)


class ReferenceTextImporter(TextImporter):
    name = "reference"

    def detect(self, source: Source) -> bool:
        return looks_like_prose(source.head(65536))

    def suggest_status(self, record: ParsedRecord) -> None:
        record.suggested_status = EditorialStatus.DRAFT

    def parse_text(self, text: str) -> ParsedRecord:
        b = Builder(self.gazetteer)
        c = b.content
        page = prepare(text)
        b.record.stated_source = page.stated_source
        lines = [x for x in page.lines if x]
        if not lines:
            b.record.error("title", "Titel: der Text ist leer.")
            c["title"] = ""
            return b.record
        flat = "\n".join(page.lines)
        joints = facts.joint_bodies(flat, self.gazetteer)
        choice = choose_title(page, joints)  # first without the lead: the headline decides what the body is
        assert choice is not None
        body_lines = [x for i, x in enumerate(page.lines) if i != choice.headline_index]
        lead_name = self._facts(b, flat, choice.title, body_lines, joints)
        if choice.how == "sentence":
            choice = choose_title(page, joints, self.gazetteer, lead_name) or choice
        c["title"] = b.short("title", choice.title, "Der Titel") or ""
        how = {
            "name": "aus dem im Text genannten Projektnamen übernommen",
            "headline": "aus der Überschrift übernommen",
            "joint": "aus dem Namen des Verbunds übernommen, um den es im Text geht",
            "named": "aus einem Namen übernommen, den der Text verwendet (er hat keine Überschrift)",
            "sentence": "aus dem ersten Satz übernommen (der Text hat keine Überschrift)",
            "topic": "aus dem häufigsten Begriff des Textes und der federführenden Stelle gebildet (der Text hat keine Überschrift)",
        }[choice.how]
        b.warn("title", f"Titel {how} – bitte prüfen.")
        if page.stated_source or page.source_notes:
            b.warn("provenance", "Die Quellenangabe des Textes wurde als Quelle und Link übernommen, nicht als Text.")
        self._narrative(b, body_lines)
        links = [{"title": "Quelle", "url": url} for url in dict.fromkeys(page.sources)]
        c["links"] = links[:50]
        return b.record

    # ---------------------------------------------------------- narrative

    def _narrative(self, b: Builder, body_lines: list[str]) -> None:
        c = b.content
        content_lines = [x for x in body_lines if x]
        sections = split_sections(content_lines)
        fields: dict[str, list[str]] = {k: [] for k in FIELD_LABELS_DE}
        counts: dict[str, int] = {}
        intro: list[str] = []
        funding_lines: list[str] = []
        mapped: list[tuple[str | None, str, list[str]]] = []
        dropped = 0
        for heading, lines in sections:
            if heading and is_boilerplate(heading):
                dropped += 1
                continue
            target_field = heading_field(heading) if heading else None
            if target_field == "contact":
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
            if target_field == "funding":
                funding_lines.extend(kept)
                continue
            if heading is None:
                intro.extend(kept)
                continue
            target = target_field or "implementation"
            counts[target] = counts.get(target, 0) + 1
            mapped.append((heading, target, kept))
        for heading, target, kept in mapped:
            if target != "implementation" and counts[target] == 1 and heading_field(heading or "") == target:
                fields[target].extend([*kept, ""])
            else:
                fields[target].extend([f"### {heading}", "", *kept, ""])
        intro_text = " ".join(x for x in intro if x != "-")
        if intro_text:
            c["summary"] = first_sentences(strip_dateline(intro_text), 500)
            b.warn("summary", "Kurzbeschreibung aus dem ersten Absatz übernommen – bitte prüfen und kürzen.")
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
        b.funding(funding_lines)

    # -------------------------------------------------------------- facts

    def _facts(self, b: Builder, text: str, title: str, body_lines: list[str], joints: list[facts.JointBody]) -> str | None:
        """Bodies, lead, Land, population, start year, fields of action, partners, contact; returns the lead's name."""
        c = b.content
        gaz = self.gazetteer
        mentions = facts.find_mentions(text, gaz, title)
        bodies = facts.resolve(mentions, gaz, text)
        first_paragraph = next((x for x in body_lines if x), "")
        lead = facts.choose_lead(text, title, bodies, joints, text.find(first_paragraph) + len(first_paragraph))
        lead_key = None
        if lead.entry is not None:
            lead_key = lead.entry["_id"]
            c["lead"] = b.organisation_for(lead.entry, bodies.written(lead_key))
        elif lead.org is not None:
            c["lead"] = {"name": b.short("lead", lead.org["name"], "Der Name") or lead.org["name"]}
            if lead.org.get("kind"):
                c["lead"]["kind"] = lead.org["kind"]
        if lead.how == "ambiguous":
            choices = ", ".join(entry_label(e) for e in lead.candidates)
            b.warn("lead", f"„{c['lead']['name']}“ steht mehrmals im Gemeindeverzeichnis ({choices}) – "
                           "welche Körperschaft ist hauptverantwortlich? Bitte auswählen.")
        elif c.get("lead"):
            reason = {
                "explicit": "der Text nennt ihn als federführend",
                "joint": "der Text handelt von diesem Verbund",
                "most": "der Text nennt ihn am häufigsten",
                "named": "der Text nennt ihn am häufigsten; nicht im Gemeindeverzeichnis gefunden",
            }[lead.how]
            b.warn("lead", f"Hauptverantwortlich: „{c['lead']['name']}“ angenommen ({reason}) – bitte prüfen.")
        else:
            b.warn("lead", "Hauptverantwortliche Stelle nicht erkannt – bitte ergänzen.")

        participants = [e for e in bodies.participants() if e["_id"] != lead_key]
        orgs = [b.organisation_for(e, bodies.written(e["_id"])) for e in participants]
        for m in bodies.ambiguous:
            if (c.get("lead") or {}).get("name") == m.text:
                continue
            if not any(o["name"] == m.text for o in orgs):
                org: dict[str, Any] = {"name": m.text}
                if m.kind is not None:
                    org["kind"] = m.kind.value
                orgs.append(org)
                choices = ", ".join(entry_label(e) for e in m.entries[:6])
                b.warn("municipalities", f"„{m.text}“ steht mehrmals im Gemeindeverzeichnis ({choices}) – welche Kommune ist gemeint? Bitte auswählen.")
        c["municipalities"] = orgs[:50]
        if orgs:
            b.warn("municipalities", "Beteiligte Kommunen wurden aus dem Text erkannt und im Gemeindeverzeichnis nachgeschlagen – bitte prüfen.")
        else:
            b.warn("municipalities", "Keine beteiligten Kommunen erkannt – bitte ergänzen.")

        state = facts.state_of(bodies, c.get("lead"), text)
        if state:
            c["state"] = state.value
            b.warn("state", "Bundesland aus den genannten Kommunen und Kreisen abgeleitet – bitte prüfen.")
        else:
            b.warn("state", "Bundesland nicht erkannt – bitte ergänzen.")
        if lead.entry is not None and lead.entry.get("rb_name") and lead.entry.get("level") != "regierungsbezirk":
            c["district"] = lead.entry["rb_name"].removeprefix("Regierungsbezirk ")

        # population, only when the text states it for the lead
        lead_names, kind_words = [], []
        if lead.entry is not None:
            lead_names = [lead.entry["name"], bodies.written(lead.entry["_id"])]
            kind_words = [lead.entry.get("kind_label") or ""]
        elif lead.org is not None:
            lead_names = [lead.org["name"]]
            kind_words = [lead.org["name"].split()[0]]
        population = facts.population_of(text, lead_names, kind_words)
        if population is not None:
            c["population"] = population
            figure = f"{population:,}".replace(",", ".")
            b.warn("population", f"Einwohnerzahl {figure} aus dem Text übernommen (für „{c['lead']['name']}“) – bitte Stand und Quelle ergänzen.")
        else:
            b.warn("population", "Einwohnerzahl fehlt – der Text nennt keine; bitte ergänzen (das Gemeindeverzeichnis nennt sie für Kommunen und Kreise).")
        b.warn("area_km2", "Fläche fehlt – bitte ergänzen.")

        since = facts.since_year(text)
        if since is not None:
            c["collaboration_since"] = since.year
            if since.how == "stated":
                b.warn("collaboration_since", f"„Zusammenarbeit seit“ {since.year} aus dem Text abgeleitet – bitte prüfen.")
            else:
                b.warn("collaboration_since", f"„Zusammenarbeit seit“ {since.year} angenommen (die einzige Jahreszahl im Text) – bitte prüfen.")
        else:
            b.warn("collaboration_since", "„Zusammenarbeit seit“ fehlt – bitte ergänzen.")

        foa = facts.fields_of_action(title, text)
        c["fields_of_action"] = [f.value for f in foa]
        b.warn("fields_of_action", "Handlungsfelder wurden aus dem Text erkannt – bitte prüfen." if foa else "Keine Handlungsfelder erkannt – bitte auswählen.")
        keywords = recognise_keywords(text)
        c["keywords"] = keywords
        b.warn("keywords", "Stichworte wurden aus dem Text abgeleitet – bitte prüfen." if keywords else "Stichworte fehlen – bitte ergänzen.")

        self._partners(b, text)
        self._contact(b, body_lines, text)
        b.warn("legal_form", "Rechtsform fehlt – bitte ergänzen.")
        b.warn("project_status", "Projektstand fehlt – bitte auswählen.")
        return (c.get("lead") or {}).get("name")

    def _partners(self, b: Builder, text: str) -> None:
        c = b.content
        taken = " ".join([(c.get("lead") or {}).get("name", "")] + [o["name"] for o in c.get("municipalities", [])]).casefold()
        partners: dict[str, str] = {}
        for name, kind in recognise_named_partners(text) + recognise_generic_partners(text):
            if name.casefold() in taken or any(name.casefold() in p.casefold() for p in partners):
                continue
            clipped = b.short("partners", name, "Der Name eines Beteiligten")
            if clipped:
                partners[clipped] = kind.value
        c["partners"] = [{"name": n, "kind": k} for n, k in list(partners.items())[:50]]
        if partners:
            b.warn("partners", "Beteiligte wurden aus dem Text erkannt (" + ", ".join(partners) + ") – bitte prüfen und vollständige Namen ergänzen.")
        else:
            b.warn("partners", "Keine weiteren Beteiligten erkannt – bitte ergänzen, falls vorhanden.")

    def _contact(self, b: Builder, body_lines: list[str], text: str) -> None:
        """A contact block (lines around the first e-mail or phone line), else what running text says."""
        c = b.content
        contact: dict[str, Any] = {}
        block = _contact_block(body_lines)
        if block:
            contact = b.contact_from_lines(block)
        if not contact.get("phone"):
            phone = facts.phone_in_text(text)
            if phone:
                contact["phone"] = phone
        if not contact.get("email"):
            email = facts.email_in_text(text)
            if email:
                contact["email"] = email
        if not contact.get("postcode"):
            address = facts.address_in_text(text)
            if address:
                contact["street"], contact["postcode"], contact["city"] = address
        if not contact.get("person"):
            person = facts.person_in_text(text)
            if person:
                name, role = person
                contact["person"] = b.short("contact.person", f"{name} ({role})" if role else name, "Der Name")
        if contact.get("phone") and not re.fullmatch(r"[0-9+()/ \-]{3,40}", contact["phone"]):
            contact["phone"] = re.sub(r"[^0-9+()/ \-]", "", contact["phone"]).strip()
        c["contact"] = {k: v for k, v in contact.items() if v}
        if c["contact"]:
            b.warn("contact", "Kontakt wurde aus dem Text übernommen – bitte prüfen.")
        else:
            b.warn("contact", "Kein Kontakt gefunden – bitte ergänzen.")


_CONTACT_LINE = re.compile(r"(?i)^(?:e-?mail|telefon|tel\.?|fon)\s*:|@")


def _contact_block(lines: list[str]) -> list[str]:
    """The short lines around the first line with an e-mail address or a phone label (an address block)."""
    for i, line in enumerate(lines):
        if line and _CONTACT_LINE.search(line) and len(line) <= 120:
            start = i
            while start > 0 and lines[start - 1] and len(lines[start - 1]) <= 80 and not lines[start - 1].endswith((".", ":")) and i - start < 5:
                start -= 1
            end = i
            while end + 1 < len(lines) and lines[end + 1] and len(lines[end + 1]) <= 120 and end - i < 4:
                end += 1
            return lines[start : end + 1]
    return []


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


__all__ = ["Page", "ReferenceTextImporter", "choose_title", "heading_field", "looks_like_prose", "prepare"]
