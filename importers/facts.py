"""Facts in running German text: the bodies a page names, who leads, where, how many, since when, whom to ask.

Used by the reference-text importer for real pages (press releases, news,
programme pages). Everything is resolved through the municipality register
(`importers.gazetteer.Gazetteer`), with general rules of how German texts
name municipalities:

* **Mentions.** Every run of capitalised words that is a name in the
  register ("Bad Sooden-Allendorf", "Rotenburg/Wümme", "Saarpfalz-Kreises"
  in the genitive) is a mention. It is *cued* when a kind word stands in
  front ("der Gemeinde Lindlar", "Landkreis Vulkaneifel", "VG Daun") or a
  plural one heads a list ("den Gemeinden Borkheide, Borkwalde und
  Golzow", "die Landkreise Cuxhaven, Osterholz und Stade"); *distinct*
  when it is a Kreis name no Gemeinde has ("Burgenlandkreis", "Altenburger
  Land"); *located* in "X im Landkreis Y" / "X (Landkreis Y)"; otherwise
  *bare*. A comparison ("Städte wie Leipzig …"), a postcode in front (an
  address) or a company suffix behind ("… Kirchheim GmbH") is no mention.
* **Resolution.** A name the register has more than once is resolved by the
  text's focus: the Kreise of unambiguous cued mentions (and the Kreis a
  "located" mention names), else their Länder and the Land the text names.
  Bare mentions count only inside the focus Kreise (or where two of them
  share a Kreis), so a word that happens to be a town elsewhere is ignored.
* **Lead.** An explicit phrase ("unter (der) Federführung/Führung des …",
  "… als Konvoi-Führer", "federführend ist …") decides; else a joint body
  the text is about (Zweckverband, Städteverbund, Allianz, a GmbH the
  municipalities founded) when it is in the title, named twice, said to be
  founded, or the register bodies are only mentioned in passing; else the
  register body the text names most (cued mentions and the title weigh
  more; the first named wins a tie).

Each extractor returns values only; the importer adds the warnings.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from catalogue import gazetteer as reg
from catalogue.vocabularies import FederalState, FieldOfAction, OrganisationKind, state_for_ags
from importers.gazetteer import Gazetteer
from importers.recognition import EMAIL_RE, FIELD_OF_ACTION_KEYWORDS, STATE_PATTERNS, clean_space, recognise_public_bodies

# ------------------------------------------------------------------ tokens

_WORD = r"[A-Za-zÄÖÜäöüßéèáàóòúùçëïâêîôû0-9][\wÄÖÜäöüß'’]*(?:-[\wÄÖÜäöüß'’]+)*"
_TOKEN_RE = re.compile(_WORD)
_NAME_GAP = re.compile(r"^[\s.()/\-]*$")  # what may stand between the words of one name
_MAX_NAME_WORDS = 6


@dataclass
class Token:
    text: str
    start: int
    end: int

    @property
    def capital(self) -> bool:
        return self.text[:1].isupper()


def tokens(text: str) -> list[Token]:
    return [Token(m.group(0), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]


# Kind words in front of a name: the word (lower case, also inflected) → (level, kind)
SINGULAR_CUES: dict[str, tuple[str, OrganisationKind | None]] = {}
for _words, _level, _kind in (
    (("landkreis", "landkreises", "landkreisen"), reg.KREIS, None),
    (("kreis", "kreises", "kreisen"), reg.KREIS, None),
    (("stadt", "kreisstadt", "hansestadt", "universitätsstadt", "landeshauptstadt", "großstadt", "kleinstadt", "städtchen"),
     reg.GEMEINDE, OrganisationKind.TOWN),
    (("gemeinde", "ortsgemeinde", "einheitsgemeinde", "marktgemeinde", "markt", "flecken", "kommune", "nachbargemeinde", "nachbarstadt",
      "nachbarkommune", "mitgliedsgemeinde"), reg.GEMEINDE, None),
    (("amt", "amtes", "amts"), reg.VERBAND, OrganisationKind.AMT),
    (("verbandsgemeinde", "samtgemeinde", "verwaltungsgemeinschaft", "vg", "sg", "vgem", "verwaltungsverband", "gemeindeverwaltungsverband"),
     reg.VERBAND, None),
):
    for _w in _words:
        SINGULAR_CUES[_w] = (_level, _kind)
PLURAL_CUES: dict[str, tuple[str | None, OrganisationKind | None]] = {}
_plural: tuple[tuple[tuple[str, ...], str | None, OrganisationKind | None], ...] = (
    (("landkreise", "landkreisen", "kreise", "kreisen", "nachbarkreise", "nachbarkreisen"), reg.KREIS, None),
    (("städte", "städten", "nachbarstädte", "nachbarstädten"), reg.GEMEINDE, OrganisationKind.TOWN),
    (("gemeinden", "ortsgemeinden", "nachbargemeinden", "mitgliedsgemeinden", "mitgliedskommunen", "kommunen", "partnerkommunen",
      "partnergemeinden", "orte", "orten", "städte und gemeinden"), reg.GEMEINDE, None),
    (("ämter", "ämtern", "verbandsgemeinden", "samtgemeinden", "verwaltungsgemeinschaften"), reg.VERBAND, None),
    (("mitglieder", "mitgliedern", "gesellschafter", "gesellschaftern", "partner", "partnern", "beteiligten", "beteiligte"), None, None),
)
for _plural_words, _plural_level, _plural_kind in _plural:
    for _w in _plural_words:
        PLURAL_CUES[_w] = (_plural_level, _plural_kind)
_LIST_JOINERS = {"und", "sowie", "oder", "bzw", "beziehungsweise", "plus"}
_LIST_FILLERS = {"zuletzt", "auch", "schließlich", "außerdem", "seit", "die", "der", "den", "dem", "des", "zudem", "ebenso"}
_COMPANY_AFTER = re.compile(r"^\s*(?:GmbH|gGmbH|mbH|AG|e\.\s?V\.|eG|KG|SE|UG)\b")
_COMPARISON_AFTER = re.compile(r"^\s*(?:wie|als)\b")
_POSTCODE_BEFORE = re.compile(r"\b\d{5}\s*$")
_LOCATED_AFTER = re.compile(r"^\s*(?:\(\s*|,\s*|\s+im\s+|\s+in\s+|\s+aus\s+dem\s+)(?:Landkreis|Kreis)\s+")


@dataclass
class Mention:
    text: str  # the name as written
    start: int
    end: int
    entries: list[dict[str, Any]]  # register entries the name can mean (after cue narrowing)
    cue: str = "bare"  # "kind", "list", "distinct", "located", "dateline", "bare"
    level: str | None = None  # the level a cue asks for
    kind: OrganisationKind | None = None
    cue_word: str | None = None
    entry: dict[str, Any] | None = None  # the resolved entry
    weight: int = 1
    in_title: bool = False
    twin: bool = False  # the name of a Gemeinde and of the Kreis named after it ("Höxter")

    @property
    def strong(self) -> bool:
        return self.cue in ("kind", "list", "distinct", "located", "twin")


def _gap(text: str, a: Token, b: Token) -> str:
    return text[a.end : b.start]


def _known(gaz: Gazetteer, text: str) -> tuple[str, list[dict[str, Any]]] | None:
    """The register entries a written name means; genitive "-s"/"-es" is tried when the name is unknown."""
    key = reg.name_key(text)
    if gaz.known_name(key):
        return text, gaz.find(text)
    for suffix in ("es", "s"):
        if text.endswith(suffix) and len(text) - len(suffix) >= 3:
            base = text[: -len(suffix)]
            if gaz.known_name(reg.name_key(base)):
                return base, gaz.find(base)
    return None


def _listed(entries: list[dict[str, Any]], gaz: Gazetteer) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for found in entries:
        e = gaz.resolve_same(found)
        if e["level"] in (reg.GEMEINDE, reg.VERBAND, reg.KREIS):
            out.setdefault(e["_id"], e)
    return list(out.values())


def find_mentions(text: str, gaz: Gazetteer, title: str = "") -> list[Mention]:
    """Every register name in `text` with its cue (see the module docstring)."""
    toks = tokens(text)
    mentions: list[Mention] = []
    i = 0
    taken: set[int] = set()
    while i < len(toks):
        t = toks[i]
        if not t.capital or i in taken:
            i += 1
            continue
        found = None
        for n in range(min(_MAX_NAME_WORDS, len(toks) - i), 0, -1):
            if any(not _NAME_GAP.match(_gap(text, toks[k], toks[k + 1])) for k in range(i, i + n - 1)):
                continue
            span = text[t.start : toks[i + n - 1].end]
            hit = _known(gaz, span)
            if hit:
                found = (n, hit)
                break
        if not found:
            i += 1
            continue
        n, (written, entries) = found
        end = toks[i + n - 1].end
        entries = _listed(entries, gaz)
        if entries and not _COMPANY_AFTER.match(text[end : end + 12]) and not _POSTCODE_BEFORE.search(text[max(0, t.start - 8) : t.start]):
            mentions.append(Mention(text=written, start=t.start, end=t.start + len(written), entries=entries))
        taken.update(range(i, i + n))
        i += n
    _cue(text, toks, mentions)
    for m in mentions:
        if title and m.text in title:
            m.in_title = True
    return mentions


def _word_before(text: str, pos: int) -> tuple[str, int] | None:
    """The word before `pos` (skipping spaces, parentheses and hyphens), with its start."""
    m = re.search(r"(" + _WORD + r")[\s()\-]*$", text[max(0, pos - 60) : pos])
    if not m:
        return None
    return m.group(1), max(0, pos - 60) + m.start(1)


def _cue(text: str, toks: list[Token], mentions: list[Mention]) -> None:
    by_start = {m.start: m for m in mentions}
    ordered = sorted(mentions, key=lambda m: m.start)
    for idx, m in enumerate(ordered):
        before = _word_before(text, m.start)
        word = before[0].lower() if before else ""
        cue = _singular_cue(word)
        if cue is not None and before is not None and not re.search(r"[,;:.]", text[before[1] : m.start]):
            m.cue, (m.level, m.kind) = "kind", cue
            m.cue_word = before[0] if word in SINGULAR_CUES else None
            continue
        if word in PLURAL_CUES and before is not None:
            _mark_list(text, ordered, idx, PLURAL_CUES[word], before[0])
            continue
    # lists headed by a plural cue a few words earlier ("den zehn kreisangehörigen Kommunen A, B und C")
    for idx, m in enumerate(ordered):
        if m.cue != "bare":
            continue
        plural = _plural_cue_before(text, m.start)
        if plural is not None:
            _mark_list(text, ordered, idx, PLURAL_CUES[plural.lower()], plural)
    # "X im Landkreis Y", "X (Landkreis Y)"
    for idx, m in enumerate(ordered):
        nxt = ordered[idx + 1] if idx + 1 < len(ordered) else None
        kreis_next = nxt is not None and (
            (nxt.cue == "kind" and nxt.level == reg.KREIS and _LOCATED_AFTER.match(text[m.end : nxt.start]))
            or (nxt.cue in ("bare", "distinct") and nxt.entries and all(e["level"] == reg.KREIS for e in nxt.entries)
                and re.fullmatch(r"\s*(?:\(\s*|,\s*|\s+im\s+|\s+in\s+|\s+aus\s+dem\s+)", text[m.end : nxt.start]))
        )
        if nxt is not None and kreis_next:
            kreis_keys = {e["_id"] for e in nxt.entries if e["level"] == reg.KREIS}
            inside = [e for e in m.entries if e.get("kreis") in kreis_keys]
            if inside:
                m.entries = inside
                if m.cue == "bare":
                    m.cue = "located"
    # Kreis names that are no Gemeinde's name
    for m in ordered:
        if m.cue == "bare" and m.entries and all(e["level"] == reg.KREIS for e in m.entries) and len(m.entries) == 1:
            m.cue = "distinct"
    # bare lists of three or more names ("Blieskastel, Gersheim und Mandelbachtal")
    run: list[Mention] = []
    following: list[Mention | None] = [*ordered, None]
    for nxt in following:
        if nxt is not None and run and _joins(text[run[-1].end : nxt.start]):
            run.append(nxt)
            continue
        if len(run) >= 3 and not re.search(r"\b(?:wie|als|etwa|z\.\s?B\.)\s*$", text[max(0, run[0].start - 12) : run[0].start]):
            for r in run:
                if r.cue == "bare":
                    r.cue = "bare-list"
        run = [nxt] if nxt is not None else []
    # datelines: "Kirchheim. …", "Strasburg (dpa/mv) – …", "Hilchenbach/Lennestadt/Kirchhundem. …"
    for m in ordered:
        line_start = text.rfind("\n", 0, m.start) + 1
        head = text[line_start : m.start]
        rest = text[m.end : m.end + 20]
        dateline = re.fullmatch(r"(?:[A-ZÄÖÜ][\w\-]*\s*/\s*)*", head) and re.match(r"^(?:\s*/\s*[A-ZÄÖÜ][\w\-]*)*(?:\.\s|\s*\(|\s+[–-]\s|\s*·)", rest)
        if dateline and m.cue == "bare":
            m.cue = "dateline"
    del by_start, toks


def _singular_cue(word: str) -> tuple[str, OrganisationKind | None] | None:
    """A kind word, also as the end of a compound ("4.600-Einwohner-Gemeinde", "Kurstadt", "Nachbargemeinde")."""
    if word in SINGULAR_CUES:
        return SINGULAR_CUES[word]
    last = word.rsplit("-", 1)[-1]
    if last in SINGULAR_CUES and last not in ("kreis", "kreises", "kreisen", "amt", "amtes", "amts"):
        return SINGULAR_CUES[last]
    if len(word) >= 8 and word.endswith("gemeinde"):
        return reg.GEMEINDE, None
    if len(word) >= 8 and word.endswith("stadt") and not word.endswith(("hauptstadt", "großstadt")):
        return reg.GEMEINDE, OrganisationKind.TOWN
    return None


def _joins(gap: str) -> bool:
    words = [w.lower().strip(".") for w in re.findall(r"[\wäöüß.]+", gap)]
    if re.search(r"[;:!?]|\.\s", gap) or len(words) > 2:
        return False
    return bool(re.fullmatch(r"\s*(?:,|/)?\s*(?:\w+\s*)?(?:\w+\s*)?", gap)) and all(w in _LIST_JOINERS or w in _LIST_FILLERS for w in words)


def _plural_cue_before(text: str, pos: int) -> str | None:
    """A plural cue word up to four words before `pos` in the same clause ("den zehn Kommunen", "Mitgliedern:")."""
    window = text[max(0, pos - 80) : pos]
    window = re.split(r"[.;!?]\s|\n\s*\n(?!\s*$)", window)[-1]
    m = re.search(r"(\b[\wäöüÄÖÜß]+)\b((?:\s+[\wäöüß\-]+){0,3})\s*:?\s*$", window)
    if not m:
        return None
    words = [m.group(1), *m.group(2).split()]
    for w in words:
        if w.lower() in PLURAL_CUES and words[-1].lower() not in ("wie", "als"):
            tail = window[window.lower().rfind(w.lower()) + len(w) :]
            if all(x[:1].islower() or x.isdigit() for x in tail.split()) or tail.strip() in ("", ":"):
                return w
    return None


def _mark_list(text: str, ordered: list[Mention], idx: int, cue: tuple[str | None, OrganisationKind | None], word: str) -> None:
    """Mark the list of names starting at ordered[idx] as cued by a plural word."""
    start = ordered[idx].start
    if _COMPARISON_AFTER.match(text[start - 5 : start]) or re.search(r"\bwie\s*$", text[max(0, start - 8) : start]):
        return
    level, kind = cue
    j = idx
    while j < len(ordered):
        m = ordered[j]
        if m.cue in ("bare", "dateline", "distinct"):
            m.cue, m.level, m.kind, m.cue_word = "list", level, kind, word
        if j + 1 < len(ordered) and _joins(text[m.end : ordered[j + 1].start]):
            j += 1
            continue
        break


# ------------------------------------------------------------- resolving


@dataclass
class Bodies:
    """The register bodies of a text: mentions resolved, the focus, the participants in order."""

    mentions: list[Mention]
    focus_kreise: set[str] = field(default_factory=set)
    focus_states: set[str] = field(default_factory=set)
    ambiguous: list[Mention] = field(default_factory=list)

    def resolved(self) -> list[Mention]:
        return [m for m in self.mentions if m.entry is not None]

    def participants(self) -> list[dict[str, Any]]:
        """Distinct resolved bodies in the order the text first names them."""
        out: dict[str, dict[str, Any]] = {}
        for m in sorted(self.resolved(), key=lambda m: m.start):
            if m.entry is not None:
                out.setdefault(m.entry["_id"], m.entry)
        return list(out.values())

    def weights(self) -> dict[str, int]:
        w: Counter[str] = Counter()
        for m in self.resolved():
            w[m.entry["_id"]] += m.weight + (3 if m.in_title else 0)  # type: ignore[index]
        return dict(w)

    def first_position(self, key: str) -> int:
        return min((m.start for m in self.resolved() if m.entry and m.entry["_id"] == key), default=10**9)

    def written(self, key: str) -> str:
        """How the text names a body: with its kind word when it used one."""
        for m in sorted(self.resolved(), key=lambda m: (m.cue != "kind", m.start)):
            if m.entry and m.entry["_id"] == key:
                if m.cue == "kind" and m.cue_word and m.cue_word.lower() not in ("vg", "sg", "vgem", "kommune", "nachbargemeinde"):
                    word = _nominative(m.cue_word)
                    return f"{word} {m.text}"
                return m.entry.get("display_name") or m.entry["name"]
        return key


def _nominative(word: str) -> str:
    low = word.lower()
    for suffix, repl in (("kreises", "kreis"), ("kreisen", "kreis"), ("amtes", "amt"), ("amts", "amt")):
        if low.endswith(suffix):
            return word[: len(word) - len(suffix)] + repl
    return word[:1].upper() + word[1:]


def _narrow(m: Mention) -> list[dict[str, Any]]:
    entries = m.entries
    if m.level is not None:
        fitting = [e for e in entries if e["level"] == m.level and not (m.level == reg.KREIS and e.get("kreisfrei"))]
        if m.kind is not None:
            fitting = [e for e in fitting if e.get("kind") in (m.kind, m.kind.value)] or fitting
        entries = fitting or entries
    return entries


def resolve(mentions: list[Mention], gaz: Gazetteer, text: str) -> Bodies:
    """Choose each mention's entry by cue and focus; drop bare mentions outside the focus."""
    bodies = Bodies(mentions)
    for m in mentions:
        m.entries = _narrow(m)
        if m.cue in ("bare", "bare-list") and _twins(m.entries):
            m.twin = True  # "Höxter": the Stadt or the Kreis of that name – one of the two, the editor says which
            if m.cue == "bare":
                m.cue = "twin"
    literal_states = {s.value for s in _literal_states(text)}
    # focus from unambiguous strong mentions
    for m in mentions:
        if m.strong and (len(m.entries) == 1 or m.cue == "twin"):
            e = m.entries[0]
            bodies.focus_kreise.add(e["_id"] if e["level"] == reg.KREIS else e.get("kreis") or "")
            bodies.focus_states.add(e["_id"][:2])
    bodies.focus_kreise.discard("")
    state_codes = {code for code, st in _STATE_CODES.items() if st in literal_states}
    # lists: resolve ambiguous members by the Kreis the unambiguous members share
    for m in mentions:
        candidates = m.entries
        if len(candidates) == 1:
            m.entry = candidates[0]
            continue
        m.entry = _pick(candidates, bodies.focus_kreise, bodies.focus_states | state_codes, mentions, m)
        if m.entry is None and m.strong:
            bodies.ambiguous.append(m)
    # second round: the focus grown by what was resolved
    for m in mentions:
        if m.entry is None and m in bodies.ambiguous:
            m.entry = _pick(m.entries, bodies.focus_kreise, bodies.focus_states | state_codes, mentions, m)
            if m.entry is not None:
                bodies.ambiguous.remove(m)
    # weak mentions count only inside the focus (or where two of them share a Kreis)
    weak = [m for m in mentions if not m.strong and m.entry is not None]
    shared = Counter(_kreis_of(m.entry) for m in weak)  # type: ignore[arg-type]
    for m in weak:
        if m.cue == "bare-list":
            kreis = _kreis_of(m.entry)  # type: ignore[arg-type]
            if shared[kreis] >= 2 or kreis in bodies.focus_kreise:
                m.cue = "list"
    for m in weak:
        if m.cue == "list":
            continue
        found = m.entry
        assert found is not None
        kreis = _kreis_of(found)
        inside = kreis in bodies.focus_kreise or (found["level"] == reg.KREIS and found["_id"] in bodies.focus_kreise)
        if m.cue == "dateline" and not inside:
            inside = found["_id"][:2] in (bodies.focus_states | state_codes)
        if not inside and not bodies.focus_kreise and shared[kreis] >= 2:
            inside = True
        if not inside:
            m.entry = None
    for m in mentions:
        m.weight = 2 if m.strong else 1
    return bodies


KREIS_LEVEL = reg.KREIS


def _twins(entries: list[dict[str, Any]]) -> bool:
    """A Gemeinde and the Kreis named after it ("Höxter"), nothing else."""
    if len(entries) != 2:
        return False
    levels = {e["level"]: e for e in entries}
    return set(levels) == {reg.GEMEINDE, reg.KREIS} and levels[reg.GEMEINDE].get("kreis") == levels[reg.KREIS]["_id"]


def _kreis_of(e: dict[str, Any]) -> str:
    return e["_id"] if e["level"] == reg.KREIS else (e.get("kreis") or e["_id"][:5])


def _pick(candidates: list[dict[str, Any]], kreise: set[str], states: set[str], mentions: list[Mention], m: Mention) -> dict[str, Any] | None:
    if m.level is None:
        # a Verband named after its Gemeinde ("VVG der Gemeinde Ehrenkirchen", "Amt Woldegk"): the Gemeinde is meant
        gemeinde_kreise = {e.get("kreis") for e in candidates if e["level"] == reg.GEMEINDE}
        candidates = [e for e in candidates if not (e["level"] == reg.VERBAND and e.get("kreis") in gemeinde_kreise)]
        if len(candidates) == 1:
            return candidates[0]
    if m.twin:
        # "Ebersberg" among Gemeinden, or beside "Landkreis Ebersberg" named as such: the Gemeinde is meant
        siblings = [o for o in mentions if o is not m and o.cue in ("list", "bare-list") and abs(o.start - m.start) < 200 and len(o.entries) == 1]
        kreis_named = any(o.cue == "kind" and o.level == KREIS_LEVEL and any(e["_id"] == _kreis_of(c) for e in o.entries for c in candidates) for o in mentions)
        if (siblings and all(o.entries[0]["level"] == reg.GEMEINDE for o in siblings)) or kreis_named:
            return next(e for e in candidates if e["level"] == reg.GEMEINDE)
    in_kreis = [e for e in candidates if _kreis_of(e) in kreise]
    if len(in_kreis) == 1:
        return in_kreis[0]
    # the Kreis most other mentions of the same list or sentence share
    near = [o for o in mentions if o is not m and abs(o.start - m.start) < 300 and len(o.entries) == 1]
    near_kreise = Counter(_kreis_of(o.entries[0]) for o in near)
    scored = sorted(candidates, key=lambda e: -near_kreise.get(_kreis_of(e), 0))
    if scored and near_kreise.get(_kreis_of(scored[0]), 0) > (near_kreise.get(_kreis_of(scored[1]), 0) if len(scored) > 1 else 0):
        return scored[0]
    in_state = [e for e in (in_kreis or candidates) if e["_id"][:2] in states]
    if len(in_state) == 1:
        return in_state[0]
    levels = {e["level"] for e in (in_state or candidates)}
    if len(levels) > 1 and m.level is None:
        return None
    return None


_STATE_CODES = {code: st.value for code, st in ((c, state_for_ags(c)) for c in (f"{n:02d}" for n in range(1, 17))) if st}
_STATE_RES = {state: re.compile(r"(?<![\w-])(?:" + pat + r")(?![\w-])", re.IGNORECASE) for state, pat in STATE_PATTERNS.items()}


def _literal_states(text: str) -> list[FederalState]:
    return [state for state, pattern in _STATE_RES.items() if pattern.search(text)]


def state_of(bodies: Bodies, lead: dict[str, Any] | None, text: str) -> FederalState | None:
    """The Land of the lead, else of most bodies named, else the one the text names most."""
    if lead and lead.get("ags"):
        state = state_for_ags(lead["ags"])
        if state:
            return state
    counts: Counter[str] = Counter()
    for m in bodies.resolved():
        counts[m.entry["_id"][:2]] += m.weight  # type: ignore[index]
    for m in bodies.ambiguous:
        lands = {entry["_id"][:2] for entry in m.entries}
        if len(lands) == 1:
            counts[lands.pop()] += m.weight
    if counts:
        return state_for_ags(counts.most_common(1)[0][0])
    found: Counter[FederalState] = Counter()
    for state, pattern in _STATE_RES.items():
        n = len(pattern.findall(text))
        if n:
            found[state] = n
    return found.most_common(1)[0][0] if found else None


# ------------------------------------------------------------ joint bodies

_JOINT_KINDS = (
    "Zweckverband", "Zweckverbands", "Zweckverbandes", "Städteverbund", "Städteverbundes", "Städteverbunds", "Gemeindeverbund",
    "Allianz", "Arbeitsgemeinschaft", "Kommunalunternehmen", "Tourismusservice", "Touristikservice", "Tourismusverband",
    "Wasserverband", "Abwasserverband", "Planungsverband", "Nachbarschaftsverband", "Schulverband", "Verkehrsverbund",
)
_CAP = r"[A-ZÄÖÜ][\wäöüß\-]*"
_JOINT_RE = re.compile(
    r"(?<![\w-])(?P<kind>" + "|".join(_JOINT_KINDS) + r")[ \t]+"
    r"(?P<name>(?!(?:Zur|Zum|Die|Der|Das|Im|In|Mit|Für|Von|Und)\b)(?:" + _CAP + r"|[A-ZÄÖÜ]{2,})(?:[ \t]+(?:" + _CAP + r"))*(?:[ \t]+\([A-ZÄÖÜ]{2,}\))?)"
)
_GMBH_RE = re.compile(r"(?<![\w-])(?P<name>(?:[A-ZÄÖÜ][\w\-]*[ \t]+){0,2}[A-ZÄÖÜ][\w\-]*[ \t]+(?:GmbH|gGmbH|AöR))\b")
_NOMINATIVE = {"Zweckverbands": "Zweckverband", "Zweckverbandes": "Zweckverband", "Städteverbundes": "Städteverbund", "Städteverbunds": "Städteverbund"}


@dataclass
class JointBody:
    name: str
    kind: OrganisationKind
    count: int
    first: int
    founded: bool
    company: bool = False  # a GmbH or AöR (a body, but no project's name)


def joint_bodies(text: str, gaz: Gazetteer) -> list[JointBody]:
    """Joint bodies a text names (not in the register): "Zweckverband Breitband X (ZVB)", "Städteverbund Y", a founded GmbH."""
    found: dict[str, JointBody] = {}
    for m in _JOINT_RE.finditer(text):
        kind = _NOMINATIVE.get(m.group("kind"), m.group("kind"))
        name = clean_space(f"{kind} {m.group('name')}")
        words = name.split()
        while len(words) > 2 and (words[-1].lower() in SINGULAR_CUES or words[-1] in ("Die", "Der", "Das")):
            words.pop()
        name = " ".join(words)
        short = re.sub(r"\s*\([^)]*\)$", "", name)
        key = reg.name_key(short)
        same = next((k for k in found if k == key or k.startswith(key + " ") or key.startswith(k + " ")), None)
        if same is not None:
            body = found[same]
            body.count += 1
            if len(name) > len(body.name):
                found[key] = JointBody(name, body.kind, body.count, body.first, body.founded)
                if key != same:
                    del found[same]
            continue
        joint_kind = OrganisationKind.SPECIAL_PURPOSE_ASSOCIATION if kind.startswith("Zweckverband") else OrganisationKind.OTHER
        found[key] = JointBody(name, joint_kind, 1, m.start(), False)
    for m in _GMBH_RE.finditer(text):
        name = clean_space(m.group("name"))
        name = re.sub(r"^(?:Die|Der|Das|die|der|das)\s+", "", name)
        sentence = _sentence_around(text, m.start())
        if re.search(r"gegründet|Gründung", sentence):
            key = reg.name_key(name)
            body = found.setdefault(key, JointBody(name, OrganisationKind.OTHER, 0, m.start(), True, company=True))
            body.count += 1
            body.founded = True
    for body in found.values():
        sentence = _sentence_around(text, body.first)
        if re.search(r"gegründet|Gründung", sentence):
            body.founded = True
    return sorted(found.values(), key=lambda b: b.first)


def _sentence_around(text: str, pos: int) -> str:
    start = max(text.rfind(". ", 0, pos), text.rfind("\n", 0, pos)) + 1
    end_candidates = [i for i in (text.find(". ", pos), text.find("\n", pos)) if i != -1]
    end = min(end_candidates) if end_candidates else len(text)
    return text[start:end]


# ------------------------------------------------------------------ lead

_LEAD_PATTERNS = (
    re.compile(r"unter\s+(?:der\s+)?(?:Federführung|Führung|Leitung|Regie|Trägerschaft)\s+(?:des|der|von)\s+"),
    re.compile(r"(?:federführend|Federführung)\s+(?:ist|sind|liegt bei|hat|übernimmt|übernehmen)\s+(?:der|die|das|dem)?\s*"),
    re.compile(r"(?:Träger|Projektträger|Trägerin)\s+(?:ist|sind|des Projekts ist)\s+(?:der|die|das)?\s*"),
)
_LEAD_AFTER = re.compile(r"^\s+(?:als|ist)\s+(?:[\w-]*[Ff]ührer(?:in)?|[Ff]ederführend|[\w-]*[Tt]räger(?:in)?|Lead)\b")


def explicit_lead(text: str, bodies: Bodies) -> dict[str, Any] | None:
    """A body the text says leads: "unter der Führung des Landkreises X", "die Stadt Y als Konvoi-Führer"."""
    for m in sorted(bodies.resolved(), key=lambda m: m.start):
        before = text[max(0, m.start - 70) : m.start]
        if m.cue == "kind":
            cue_start = before.rfind(m.cue_word or "\0")
            before = before[:cue_start] if cue_start >= 0 else before
        if any(p.search(before) and p.search(before).end() >= len(before) - 1 for p in _LEAD_PATTERNS):  # type: ignore[union-attr]
            return m.entry
        if _LEAD_AFTER.match(text[m.end : m.end + 40]):
            return m.entry
    return None


@dataclass
class Lead:
    org: dict[str, Any] | None
    entry: dict[str, Any] | None
    how: str  # "explicit", "joint", "most", "ambiguous", "named", "none"
    candidates: list[dict[str, Any]] = field(default_factory=list)  # for "ambiguous": what the editor chooses from


def choose_lead(text: str, title: str, bodies: Bodies, joints: list[JointBody], first_paragraph_end: int) -> Lead:
    entry = explicit_lead(text, bodies)
    if entry is not None:
        return Lead(None, entry, "explicit")
    weights = bodies.weights()
    twins: Counter[str] = Counter()
    for m in bodies.ambiguous:
        twins[m.text] += m.weight + (3 if m.in_title else 0)
    best_weight = max(weights.values(), default=0)
    for body in joints:
        in_title = reg.name_key(re.sub(r"\s*\([^)]*\)$", "", body.name)) in reg.name_key(title)
        important = in_title or body.count >= 2 or body.founded or body.first < first_paragraph_end
        if important or best_weight < 3:
            return Lead({"name": body.name, "kind": body.kind.value}, None, "joint")
    if twins and twins.most_common(1)[0][1] > best_weight:
        name = twins.most_common(1)[0][0]
        m = next(x for x in bodies.ambiguous if x.text == name)
        return Lead({"name": name}, None, "ambiguous", m.entries)
    if weights:
        key = min(weights, key=lambda k: (-weights[k], bodies.first_position(k)))
        entry = next(m.entry for m in bodies.resolved() if m.entry and m.entry["_id"] == key)
        return Lead(None, entry, "most")
    named = recognise_public_bodies(text)  # bodies the register does not have (or no register at hand)
    if named:
        name, kind, _ = named[0]
        return Lead({"name": name, "kind": kind.value}, None, "named")
    return Lead(None, None, "none")


# ------------------------------------------------------------- population

_NUMBER = r"(\d{1,3}(?:[.\s\u202f]\d{3})+|\d{3,7})"
_POP_PATTERNS = (
    # "die 4.600 Einwohner-Gemeinde Breitscheid", "in der 4.600 Einwohner zählenden Kommune"
    re.compile(
        _NUMBER + r"\s*(?:-\s*)?Einwohner(?:innen|Innen)?(?:\s*-\s*|\s+)(?:zählende[nrm]?\s+|starke[nrm]?\s+|große[nrm]?\s+)?"
        r"(?:Gemeinde|Stadt|Kommune|Kreisstadt|Landkreis|Kreis|Amt|Verbandsgemeinde|Samtgemeinde)\b"
    ),
    # "Breitscheid (4.600 Einwohner)", "Breitscheid hat rund 4.600 Einwohner", "… mit insgesamt rund 35.000 Einwohnern"
    re.compile(
        r"(?:\(|\bhat\s+|\bzählt\s+|\bmit\s+)(?:insgesamt\s+)?(?:rund\s+|etwa\s+|ca\.\s*|knapp\s+|über\s+|gut\s+)?"
        + _NUMBER + r"\s+Einwohner(?:innen|Innen|n)?\b(?![-\w])"
    ),
)


def population_of(text: str, lead_names: list[str], lead_kind_words: list[str]) -> int | None:
    """A population the text states for the lead.

    "Die 4.600-Einwohner-Gemeinde Breitscheid", "in der 4.600 Einwohner
    zählenden Kommune" (the sentence names the lead or its kind);
    "Breitscheid hat 4.600 Einwohner" (the lead is the subject); "… mit
    insgesamt 35.000 Einwohnern" in a sentence about the lead. Not a number
    for a part of it (an Ortsteil) or for several bodies together.
    """
    for pattern in _POP_PATTERNS:
        for m in pattern.finditer(text):
            sentence = _sentence_around(text, m.start())
            if re.search(r"Ortsteil|Ortschaft|Stadtteil|Gemeindeteil|Dörfern|Dorf\b", sentence):
                continue
            names = [n for n in lead_names if n and n in sentence]
            kind_named = any(w and re.search(r"\b" + re.escape(w), sentence) for w in lead_kind_words)
            token = m.group(0).split()[0].strip("(")
            if pattern is _POP_PATTERNS[0]:
                ok = bool(names) or kind_named
            elif token in ("hat", "zählt"):
                head = sentence[: sentence.find(m.group(0))]
                ok = any(head.strip().split(" ")[:4] and n in " ".join(head.split()[:4]) for n in names)
            elif m.group(0).startswith("("):
                ok = any(sentence.find(n) != -1 and sentence.find(n) < sentence.find(m.group(0)) for n in names)
            else:  # "mit … Einwohnern"
                ok = bool(names) or kind_named
            if ok:
                value = int(re.sub(r"\D", "", m.group(1)))
                if 10 <= value <= 5_000_000:
                    return value
    return None


# ------------------------------------------------------------- start year

_MONTH = r"(?:Januar|Jänner|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember)"
_WHEN = (
    r"(?:(?:im|zum|ab|Anfang|Mitte|Ende|Frühjahr|Sommer|Herbst|Winter)\s+)?"
    r"(?:(?:dem\s+)?(?:\d{1,2}\.\s*)?" + _MONTH + r"\s+|(?:dem\s+)?\d{1,2}\.\s*\d{1,2}\.\s*|(?:dem\s+|im\s+)?Jahr(?:e)?\s+)?"
)
_YEAR = r"((?:19|20)\d\d)"
_SINCE_PATTERNS: tuple[tuple[int, re.Pattern[str]], ...] = (
    (0, re.compile(
        r"\b[Ss]eit\s+(?:Anfang|Mitte|Ende|Frühjahr|Sommer|Herbst|Winter|dem\s+Jahr|dem)?\s*(?:\d{1,2}\.\s*)?(?:" + _MONTH + r"\s+)?" + _YEAR + r"\b"
    )),
    (1, re.compile(_YEAR + r"\s+(?:gegründet|ins\s+Leben\s+gerufen)")),
    (1, re.compile(r"(?:gegründet|Gründung|ins\s+Leben\s+gerufen)\b[^.;]{0,80}?\b" + _WHEN + _YEAR + r"\b")),
    (1, re.compile(r"\b" + _WHEN + _YEAR + r"\b[^.;]{0,80}?\b(?:gegründet|ins\s+Leben\s+gerufen|unterzeichnet)")),
    (2, re.compile(_YEAR + r"\s+(?:gestartet|begonnen|eingeführt|eingerichtet|aufgebaut|initiiert)")),
    (2, re.compile(r"(?:[Gg]estartet|[Ss]tart(?:ete)?|[Bb]egann|[Bb]eginn|Los\s+ging|Auftakt)\b[^.;]{0,80}?\b" + _WHEN + _YEAR + r"\b")),
    (2, re.compile(r"\b" + _WHEN + _YEAR + r"\b[^.;]{0,80}?\b(?:gestartet|begonnen|eingeführt|beschlossen)")),
    (2, re.compile(r"\b" + _WHEN + _YEAR + r"\b[^.;]{0,60}?\b(?:erstmals|erste[nrs]?)\b")),
    (2, re.compile(r"\b(?:erstmals|erste[nrs]?)\b[^.;]{0,60}?\b" + _WHEN + _YEAR + r"\b")),
    (3, re.compile(r"\bab\s+(?:Anfang|Mitte|Ende|Frühjahr|Sommer|Herbst|Winter)?\s*(?:\d{1,2}\.\s*)?(?:" + _MONTH + r"\s+)?" + _YEAR + r"\b")),
)
_ANY_YEAR = re.compile(r"(?<![\d.,/-])((?:19|20)\d\d)(?![\d,/-]|\.\d)")


@dataclass
class Since:
    year: int
    how: str  # "stated" (a start phrasing) or "only year" (the one year the text names)


def since_year(text: str) -> Since | None:
    """The start year: "seit 2015", "2015 gegründet", "Seit dem 1. Januar 2018", "Los ging es im Jahr 2017" …

    The strongest phrasing wins ("seit" before "gegründet" before
    "gestartet"/"erstmals" before "ab"), the earliest year within it; without
    any such phrasing, the one year the text names, if it names just one.
    """
    now = datetime.now(UTC).year
    best: tuple[int, int] | None = None
    for rank, pattern in _SINCE_PATTERNS:
        for m in pattern.finditer(text):
            year = int(m.group(m.lastindex or 1))
            if 1900 <= year <= now and (best is None or (rank, year) < best):
                best = (rank, year)
    if best is not None:
        return Since(best[1], "stated")
    unquoted = re.sub(r"[„\"»][^“\"«”\n]{0,120}[“\"«”]", " ", text)  # "„DIGItzehoe 2023“" names a goal, not a start
    years = {
        int(m.group(1)) for m in _ANY_YEAR.finditer(unquoted)
        if 1950 <= int(m.group(1)) <= now and not re.search(r"(?:[A-ZÄÖÜ][\wäöüß-]*[A-Z]\w*|\bbis)\s*$", unquoted[max(0, m.start() - 20) : m.start()])
    }
    if len(years) == 1:
        return Since(years.pop(), "only year")
    return None


# ---------------------------------------------------------------- contact

_PHONE_IN_TEXT = re.compile(
    r"(?:Telefon(?:nummer)?|Tel\.?|Fon|Telefonnummer|[\w-]*[Tt]elefonnummer|Rufnummer|Hotline|Servicenummer|Mobil|unter\s+der\s+(?:\w+\s+)?Nummer)"
    r"\s*[:.]?\s*(?:unter\s+)?(\+?\(?0?\d[\d\s/()\-–]{4,24}\d)"
)
_PERSON_IN_TEXT = re.compile(
    r"(?:Ansprechpartner(?:in)?|Ansprechperson|Kontaktperson|Kontakt)\s*(?:ist|sind|:|für\s+[^,.:]{1,60}?\s+ist)\s*"
    r"(?P<person>(?:(?:Frau|Herr|Dr\.|Prof\.)\s+)*[A-ZÄÖÜ][a-zäöüß]+(?:-[A-ZÄÖÜ][a-zäöüß]+)?(?:\s+[A-ZÄÖÜ][a-zäöüß]+(?:-[A-ZÄÖÜ][a-zäöüß]+)?){1,2})"
    r"(?:\s*\((?P<role1>[^)]{3,80})\)|,\s*(?P<role2>(?!Tel|E-?Mail|Telefon|Fon)[^,.;]{3,80}?)(?=,|\.|;|$))?"
)


def phone_in_text(text: str) -> str | None:
    for m in _PHONE_IN_TEXT.finditer(text):
        line = text[text.rfind("\n", 0, m.start()) + 1 : m.start()]
        if re.search(r"\bFax\b|Telefax", line[-12:]):
            continue
        number = clean_space(m.group(1).replace("–", "-"))
        if len(re.sub(r"\D", "", number)) >= 6:
            return number
    return None


def person_in_text(text: str) -> tuple[str, str | None] | None:
    """ "Ansprechpartnerin ist Anna Beispiel, Klimaschutzmanagerin der Stadt X, Tel. …" → (name, role)."""
    m = _PERSON_IN_TEXT.search(text)
    if not m:
        return None
    role = m.group("role1") or m.group("role2")
    return clean_space(m.group("person")), clean_space(role) if role else None


_ADDRESS_IN_TEXT = re.compile(
    r"(?P<street>[A-ZÄÖÜ][\wäöüß.\- ]{2,40}?(?i:straße|strasse|str\.|weg|platz|allee|gasse|ring|damm|ufer|markt|chaussee|hof)\s+\d+\s?[a-z]?)"
    r",\s*(?:D-)?(?P<postcode>\d{5})\s+(?P<city>[A-ZÄÖÜ][\wäöüß\-]+(?:[ /][A-ZÄÖÜ(][\wäöüß\-)]+)*)"
)


def address_in_text(text: str) -> tuple[str, str, str] | None:
    """ "…, Marktplatz 1, 37671 Höxter, …" → (street, postcode, city)."""
    m = _ADDRESS_IN_TEXT.search(text)
    return (clean_space(m.group("street")), m.group("postcode"), clean_space(m.group("city"))) if m else None


def email_in_text(text: str) -> str | None:
    m = EMAIL_RE.search(text)
    return m.group(0).rstrip(".") if m else None


# ------------------------------------------------------ fields of action

_FOA_RES = {
    foa: re.compile(r"(?<![\w])(?:" + "|".join(words) + r")", re.IGNORECASE) for foa, words in FIELD_OF_ACTION_KEYWORDS.items()
}


def fields_of_action(title: str, body: str, limit: int = 3) -> list[FieldOfAction]:
    """The fields of action a text is mostly about: keyword hits (the title counts three times), at most `limit`."""
    scores: dict[FieldOfAction, int] = {}
    for foa, pattern in _FOA_RES.items():
        n = 3 * len(pattern.findall(title)) + len(pattern.findall(body))
        if n:
            scores[foa] = n
    if not scores:
        return []
    top = max(scores.values())
    chosen = [f for f in sorted(scores, key=lambda f: -scores[f]) if scores[f] >= max(2, top * 0.25)]
    return (chosen or [max(scores, key=lambda f: scores[f])])[:limit]

