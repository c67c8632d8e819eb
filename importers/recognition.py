"""Recognisers shared by the importers.

Every keyword list the importers use to recognise something in free text is
defined here once: Handlungsfelder, Bundesländer, Regierungsbezirke,
organisation and partner kinds, legal forms, funding kinds, boilerplate.
The controlled values themselves come from `catalogue.vocabularies`.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import date

from catalogue.vocabularies import (
    FederalState,
    FieldOfAction,
    FundingKind,
    LegalForm,
    OrganisationKind,
    PartnerKind,
    ProjectStatus,
)

# ------------------------------------------------------------ text helpers


def clean_space(text: str) -> str:
    """Collapse runs of whitespace to one space and strip."""
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ")).strip()


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


# ------------------------------------------------------- Handlungsfelder

# Regular-expression fragments per field of action. Each fragment is matched
# case-insensitively at the start of a word, so "verwaltung" also finds
# "Verwaltungsprozesse" but "infrastruktur\b" does not find
# "Verkehrsinfrastruktur". Keep the lists conservative: a false Handlungsfeld
# is worse for the editor than a missing one.
FIELD_OF_ACTION_KEYWORDS: dict[FieldOfAction, tuple[str, ...]] = {
    FieldOfAction.ADMINISTRATION: (
        r"verwaltung", r"ozg\b", r"onlinezugangsgesetz", r"online-zugangs-gesetz", r"e-?akte",
        r"e-government", r"bürgerservice", r"bürgeramt", r"rathaus", r"bauhof", r"standesam", r"standesämter",
        r"meldeamt", r"bürgerbüro", r"personalausweis",
    ),
    FieldOfAction.DIGITAL_INFRASTRUCTURE: (
        r"(?:digitale[nrs]?\s+)?infrastruktur\b", r"breitband", r"glasfaser", r"wlan\b", r"5g\b",
        r"mobilfunk", r"netzausbau", r"rechenzentr", r"smart[ -]city", r"digitalisierungsplattform",
        r"it-infrastruktur", r"hardware", r"software", r"smartphone", r"digitale[nrs]?\s+(?:plattform|dienst|angebot|rathaus)",
    ),
    FieldOfAction.ECONOMY: (
        r"wirtschaft", r"gewerbe", r"einzelhandel", r"existenzgründ", r"gründerzentrum",
        r"standortmarketing", r"wertschöpfung", r"arbeitsplätze", r"fachkräfte", r"betriebe\b",
        r"regionalentwicklung", r"regionale[nr]?\s+entwicklung", r"leader\b",
    ),
    FieldOfAction.EDUCATION: (
        r"bildung", r"weiterbildung", r"schule\b", r"schulen\b", r"schüler", r"schulträger",
        r"kita", r"kindertages", r"medienkompetenz", r"digitalpakt",
    ),
    FieldOfAction.HEALTH_CARE: (
        r"gesundheit", r"pflege", r"medizin", r"telemedizin", r"ärzt", r"arzt", r"hausarzt",
        r"krankenhaus", r"klinik",
    ),
    FieldOfAction.SOCIAL: (
        r"sozial", r"jugendhilfe", r"jugendarbeit", r"senior", r"inklusion", r"integration\b",
        r"familie", r"ehrenamt", r"quartiersarbeit",
    ),
    FieldOfAction.TOURISM: (r"touris", r"urlaub", r"gästekarte", r"naherholung", r"freizeit", r"übernachtung", r"gästen?\b"),
    FieldOfAction.CULTURE: (r"kultur", r"museum", r"museen", r"bibliothek", r"bücherei", r"theater"),
    FieldOfAction.ENVIRONMENT_CLIMATE: (
        r"umwelt", r"klima", r"naturschutz", r"nachhaltigkeit", r"co2", r"co₂", r"abfall",
        r"hochwasserschutz", r"artenschutz", r"biologische[nr]?\s+vielfalt", r"moor", r"gewässerschutz",
        r"kläranlage", r"klärwerk",
    ),
    FieldOfAction.ENERGY: (
        r"energie", r"photovoltaik", r"solar", r"windkraft", r"windenergie", r"wärmeplanung",
        r"wärmenetz", r"nahwärme", r"fernwärme", r"stromnetz", r"erneuerbare[nr]?\s+energie", r"heizung",
    ),
    FieldOfAction.MOBILITY: (
        r"mobilität", r"verkehr", r"öpnv", r"nahverkehr", r"radverkehr", r"radweg", r"carsharing",
        r"on-demand", r"rufbus", r"bürgerbus", r"busse?\b", r"buslinie", r"parkraum",
        r"ladeinfrastruktur", r"e-mobilität",
    ),
    FieldOfAction.BUILDING_HOUSING: (
        r"bauen\b", r"wohnen", r"wohnraum", r"wohnungs", r"baugebiet", r"bauleitplanung",
        r"bauantrag", r"baugenehmigung", r"städtebau", r"stadtentwicklung", r"dorfentwicklung",
        r"innenentwicklung", r"leerstand", r"flächennutzungsplan", r"bebauungsplan", r"landschaftsplan",
        r"gemeindeentwicklung", r"ortsentwicklung",
    ),
    FieldOfAction.SAFETY_ORDER: (
        r"sicherheit\b", r"ordnungsamt", r"ordnungsbehörde", r"feuerwehr", r"katastrophenschutz",
        r"bevölkerungsschutz", r"rettungsdienst", r"brandschutz", r"leitstelle", r"gewerbeüberwachung",
        r"gewerbeaufsicht", r"gewerberecht", r"ordnungsrecht", r"notruf",
    ),
    FieldOfAction.PARTICIPATION: (
        r"bürgerbeteiligung", r"öffentlichkeitsbeteiligung", r"beteiligungsverfahren",
        r"beteiligungsplattform", r"partizipation", r"bürgerhaushalt", r"bürgerdialog",
        r"bürgerforum", r"bürgerrat", r"mitmach", r"ehrenamt", r"bürgerschaftlich", r"engagierte[nr]?\s+bürger",
        r"selbsthilfe",
    ),
    FieldOfAction.PUBLIC_SERVICES: (
        r"daseinsvorsorge", r"wasserversorgung", r"abwasser", r"nahversorg", r"grundversorgung",
        r"friedhof", r"hallenbad", r"schwimmbad", r"freibad", r"dorfladen", r"einkaufsmöglichkeit", r"bauhof",
        r"kläranlage", r"trinkwasser", r"winterdienst",
    ),
}

_FOA_PATTERNS: dict[FieldOfAction, re.Pattern[str]] = {
    foa: re.compile(r"(?<![\w])(?:" + "|".join(words) + r")", re.IGNORECASE)
    for foa, words in FIELD_OF_ACTION_KEYWORDS.items()
}


def recognise_fields_of_action(*texts: str) -> list[FieldOfAction]:
    """Handlungsfelder named in the texts, in vocabulary order."""
    joined = "\n".join(t for t in texts if t)
    return [foa for foa, pattern in _FOA_PATTERNS.items() if pattern.search(joined)]


# ------------------------------------------------------------- Bundesland

STATE_PATTERNS: dict[FederalState, str] = {
    FederalState.BW: r"baden-württemberg\w*",
    FederalState.BY: r"bayern|bayerisch\w*|freistaat bayern",
    FederalState.BE: r"berlin(?!er str)|berliner(?! str)",
    FederalState.BB: r"brandenburg(?!er str)\w*",
    FederalState.HB: r"bremen|bremisch\w*",
    FederalState.HH: r"hamburg|hamburgisch\w*",
    FederalState.HE: r"hessen|hessisch\w*",
    FederalState.MV: r"mecklenburg-vorpommer\w*",
    FederalState.NI: r"niedersachsen|niedersächsisch\w*",
    FederalState.NW: r"nordrhein-westfal\w*|nrw",
    FederalState.RP: r"rheinland-pfalz|rheinland-pfälzisch\w*",
    FederalState.SL: r"saarland\w*|saarländisch\w*",
    FederalState.SN: r"sachsen(?!-anhalt)|sächsisch\w*|freistaat sachsen",
    FederalState.ST: r"sachsen-anhalt\w*",
    FederalState.SH: r"schleswig-holstein\w*",
    FederalState.TH: r"thüringen|thüringisch\w*",
}
_STATE_RE = {
    state: re.compile(r"(?<![\w-])(?:" + pat + r")(?![\w-])", re.IGNORECASE) for state, pat in STATE_PATTERNS.items()
}

# Regierungsbezirke that exist (or existed) per Land, for texts that name
# only the Regierungsbezirk (e.g. "Regierungsbezirk Detmold").
REGIERUNGSBEZIRK_STATES: dict[str, FederalState] = {
    "arnsberg": FederalState.NW, "detmold": FederalState.NW, "düsseldorf": FederalState.NW,
    "köln": FederalState.NW, "münster": FederalState.NW,
    "oberbayern": FederalState.BY, "niederbayern": FederalState.BY, "oberpfalz": FederalState.BY,
    "oberfranken": FederalState.BY, "mittelfranken": FederalState.BY, "unterfranken": FederalState.BY,
    "schwaben": FederalState.BY,
    "stuttgart": FederalState.BW, "karlsruhe": FederalState.BW, "freiburg": FederalState.BW,
    "tübingen": FederalState.BW,
    "darmstadt": FederalState.HE, "gießen": FederalState.HE, "kassel": FederalState.HE,
}


def recognise_state(text: str) -> FederalState | None:
    """The Bundesland named most often in the text (ties: first named)."""
    counts: Counter[FederalState] = Counter()
    first: dict[FederalState, int] = {}
    for state, pattern in _STATE_RE.items():
        for m in pattern.finditer(text):
            counts[state] += 1
            first.setdefault(state, m.start())
    if not counts:
        return None
    return min(counts, key=lambda s: (-counts[s], first[s]))


def state_for_district(district: str | None) -> FederalState | None:
    if not district:
        return None
    key = clean_space(district).lower()
    key = re.sub(r"^(?:regierungsbezirk|rb\.?)\s+", "", key)
    return REGIERUNGSBEZIRK_STATES.get(key)


# ------------------------------------------------------ organisation kind

# Prefixes (or suffixes after a comma, as in the Destatis register) that name
# the kind of a public body. Order matters: longer prefixes first.
ORGANISATION_PREFIXES: tuple[tuple[str, OrganisationKind], ...] = (
    ("Verbandsgemeinde", OrganisationKind.ASSOCIATION_OF_MUNICIPALITIES),
    ("Samtgemeinde", OrganisationKind.ASSOCIATION_OF_MUNICIPALITIES),
    ("Verwaltungsgemeinschaft", OrganisationKind.ASSOCIATION_OF_MUNICIPALITIES),
    ("Zweckverband", OrganisationKind.SPECIAL_PURPOSE_ASSOCIATION),
    ("Landkreis", OrganisationKind.DISTRICT),
    ("Kreis", OrganisationKind.DISTRICT),
    ("Regionalverband", OrganisationKind.DISTRICT),
    ("Städteregion", OrganisationKind.DISTRICT),
    ("Region", OrganisationKind.DISTRICT),
    ("Große Kreisstadt", OrganisationKind.TOWN),
    ("Kreisstadt", OrganisationKind.TOWN),
    ("Hansestadt", OrganisationKind.TOWN),
    ("Landeshauptstadt", OrganisationKind.TOWN),
    ("Universitätsstadt", OrganisationKind.TOWN),
    ("Stadt", OrganisationKind.TOWN),
    ("Ortsgemeinde", OrganisationKind.MUNICIPALITY),
    ("Gemeinde", OrganisationKind.MUNICIPALITY),
    ("Markt", OrganisationKind.MUNICIPALITY),
    ("Flecken", OrganisationKind.MUNICIPALITY),
    ("Amt", OrganisationKind.AMT),
)
CITY_STATES = {"berlin", "hamburg", "freie und hansestadt hamburg", "land berlin"}

_PREFIX_RE = re.compile(
    r"^(" + "|".join(re.escape(p) for p, _ in ORGANISATION_PREFIXES) + r")\s+(\S.*)$"
)
_SUFFIX_RE = re.compile(r"^(.*\S),\s*(" + "|".join(re.escape(p) for p, _ in ORGANISATION_PREFIXES) + r")$")
_PREFIX_KIND = dict(ORGANISATION_PREFIXES)


def organisation_kind(name: str) -> OrganisationKind | None:
    """Kind of a public body from its name ("Kreis Höxter" → Kreis)."""
    name = clean_space(name)
    if name.lower() in CITY_STATES:
        return OrganisationKind.CITY_STATE
    m = _PREFIX_RE.match(name) or _SUFFIX_RE.match(name)
    if m:
        word = m.group(1) if m.re is _PREFIX_RE else m.group(2)
        return _PREFIX_KIND[word]
    if re.search(r"\w(?:-?[Kk]reis)$", name):  # "Rhein-Sieg-Kreis", "Hochsauerlandkreis"
        return OrganisationKind.DISTRICT
    return None


def bare_name(name: str) -> str:
    """Name without kind prefix or Destatis suffix ("Höxter, Stadt" → "Höxter")."""
    name = clean_space(name)
    m = _SUFFIX_RE.match(name)
    if m:
        return m.group(1)
    m = _PREFIX_RE.match(name)
    if m:
        return m.group(2)
    return name


# ----------------------------------------------------------- partner kind

PARTNER_KIND_PATTERNS: tuple[tuple[str, PartnerKind], ...] = (
    # order matters: the first match wins
    (r"volkshochschule", PartnerKind.OTHER),
    (r"hochschule|universität|\buni\b|\bTH\b|\bTU\b|\bFH\b|fachhochschule|akademie", PartnerKind.UNIVERSITY),
    (r"industrie- und handelskammer|\bihk\b|handwerkskammer|\bhwk\b|kammer\b|ärztekammer", PartnerKind.CHAMBER),
    (r"\bberatung|consult|berater", PartnerKind.CONSULTANCY),
    (r"\bgmbh\b|\bmbh\b|\bag\b|\bkg\b|\bse\b|\bug\b|gesellschaft\b|gesellschaft für|stadtwerke|sparkasse|\bbank\b|unternehmen", PartnerKind.COMPANY),
    (r"\be\.\s?v\.|verein|verband|stiftung|genossenschaft|\beg\b|initiative", PartnerKind.ASSOCIATION),
    (r"bundesministerium|bundesamt|bundesagentur|\bbund\b|\bbmi\b|\bbmwk\b|\bbmbf\b|bundesregierung", PartnerKind.FEDERATION),
    (r"landesministerium|ministerium|landesamt|landesregierung|staatskanzlei|\bland\b|landesbetrieb|bezirksregierung", PartnerKind.STATE),
)
_PARTNER_RES = [(re.compile(p, re.IGNORECASE), k) for p, k in PARTNER_KIND_PATTERNS]


def partner_kind(name: str) -> PartnerKind:
    for pattern, kind in _PARTNER_RES:
        if pattern.search(name):
            return kind
    return PartnerKind.OTHER


# Partners that free texts often name generically ("mit den Stadtwerken,
# dem Technologiepark …"): the stem to match and the name to record.
GENERIC_PARTNERS: tuple[tuple[str, str, PartnerKind], ...] = (
    (r"stadtwerke?n?\b", "Stadtwerke", PartnerKind.COMPANY),
    (r"technologiepark\w*", "Technologiepark", PartnerKind.OTHER),
    (r"technologiezentrum\w*", "Technologiezentrum", PartnerKind.OTHER),
    (r"stadtmarketing\w*", "Stadtmarketing", PartnerKind.OTHER),
    (r"wirtschaftsförderung\w*", "Wirtschaftsförderung", PartnerKind.OTHER),
    (r"volkshochschulen?\b", "Volkshochschule", PartnerKind.OTHER),
    (r"sparkassen?\b", "Sparkasse", PartnerKind.COMPANY),
    (r"industrie- und handelskammer\w*", "Industrie- und Handelskammer", PartnerKind.CHAMBER),
    (r"handwerkskammer\w*", "Handwerkskammer", PartnerKind.CHAMBER),
)
_GENERIC_RES = [(re.compile(r"(?<![\w-])" + p, re.IGNORECASE), n, k) for p, n, k in GENERIC_PARTNERS]

_ORG_WORD = r"(?<![\w&.\-])[A-ZÄÖÜ][\w&.\-]{0,60}"
_NAMED_PARTNER_RES = (
    # companies and associations with legal-form suffix
    re.compile(rf"(?:{_ORG_WORD}\s+){{0,5}}{_ORG_WORD}\s+(?:GmbH(?:\s*&\s*Co\.\s*KG)?|gGmbH|mbH|AG|SE|KG|UG|e\.\s?V\.|eG)(?![\w])"),
    # universities
    re.compile(r"(?<![\w-])(?:Technische\s+Hochschule|Technische\s+Universität|Fachhochschule|Hochschule|Universität)\s+(?:für\s+[\w\- ]+?|[A-ZÄÖÜ][\w\-]+(?:\s+[A-ZÄÖÜ][\w\-]+)?)(?=[\s,.;:)]|$)"),
    re.compile(r"(?<![\w-])(?:TH|TU|FH)\s+[A-ZÄÖÜ][\w\-]+"),
    re.compile(r"Fraunhofer[- ][A-ZÄÖÜ][\w\-]+"),
    re.compile(r"(?:IHK|Handwerkskammer|Industrie- und Handelskammer)\s+(?:zu\s+)?[A-ZÄÖÜ][\w\-]+(?:[ -][A-ZÄÖÜ][\w\-]+)?"),
)

_LEADING_ARTICLES = re.compile(r"^(?:Die|Der|Das|Dem|Den|Des|Mit|Und|Durch|Von|Bei|Für)\s+")


def recognise_named_partners(text: str) -> list[tuple[str, PartnerKind]]:
    """Partners named with a recognisable name (GmbH, Hochschule X …)."""
    found: dict[str, PartnerKind] = {}
    for pattern in _NAMED_PARTNER_RES:
        for m in pattern.finditer(text):
            name = clean_space(m.group(0)).rstrip(",;:")
            while _LEADING_ARTICLES.match(name):
                name = _LEADING_ARTICLES.sub("", name)
            if len(name) < 3 or any(name in other for other in found):
                continue
            found[name] = partner_kind(name)
    return list(found.items())


def recognise_generic_partners(text: str) -> list[tuple[str, PartnerKind]]:
    """Partners named only generically ("den Stadtwerken")."""
    out: list[tuple[str, PartnerKind]] = []
    for pattern, name, kind in _GENERIC_RES:
        if pattern.search(text):
            out.append((name, kind))
    return out


# -------------------------------------------------------------- legal form

LEGAL_FORM_PATTERNS: tuple[tuple[str, LegalForm], ...] = (
    (r"öffentlich[- ]rechtliche[nr]?\s+vereinbarung|ör\s*vereinbarung|öffentlich-rechtlicher\s+vertrag|kooperationsvertrag|verwaltungsvereinbarung|zweckvereinbarung", LegalForm.PUBLIC_LAW_AGREEMENT),
    (r"zweckverband", LegalForm.SPECIAL_PURPOSE_ASSOCIATION),
    (r"kommunalunternehmen|\baör\b|anstalt\s+(?:des\s+)?öffentlichen\s+rechts", LegalForm.JOINT_MUNICIPAL_ENTERPRISE),
    (r"\bg?gmbh\b", LegalForm.GMBH),
    (r"\be\.\s?v\.|verein", LegalForm.ASSOCIATION),
    (r"arbeitsgemeinschaft|\barge\b", LegalForm.WORKING_GROUP),
    (r"informell|ohne\s+(?:feste\s+)?rechtsform|keine\s+rechtsform|absprache|lose\s+kooperation|netzwerk", LegalForm.INFORMAL),
    (r"^sonstige", LegalForm.OTHER),
)
_LEGAL_RES = [(re.compile(p, re.IGNORECASE), f) for p, f in LEGAL_FORM_PATTERNS]


def legal_form(text: str) -> LegalForm | None:
    text = clean_space(text)
    for value in LegalForm:
        if text.lower() == value.value.lower():
            return value
    for pattern, form in _LEGAL_RES:
        if pattern.search(text):
            return form
    return None


# ------------------------------------------------------------ funding kind

FUNDING_KIND_PATTERNS: tuple[tuple[str, FundingKind], ...] = (
    (r"eigenmittel|eigene[nr]?\s+mittel|eigenanteil|haushaltsmittel|finanzierung\s+erfolgt\s+durch\s+(?:den|die|das)\s+(?:kreis|stadt|gemeinde|kommune|amt|landkreis)|beteiligten\s+kommunen|umlage", FundingKind.OWN_FUNDS),
    (r"landesmittel|landesförder|förderung\s+(?:durch\s+)?des\s+landes|förderprogramm\s+des\s+landes|landesprogramm|landesministerium", FundingKind.STATE_FUNDS),
    (r"bundesmittel|bundesförder|bundesprogramm|bundesministerium|förderung\s+(?:durch\s+)?den\s+bund|des\s+bundes", FundingKind.FEDERAL_FUNDS),
    (r"\beu\b|eu-mittel|efre|\besf\b|leader|interreg|europäische", FundingKind.EU_FUNDS),
    (r"stiftung", FundingKind.FOUNDATION),
)
_FUNDING_RES = [(re.compile(p, re.IGNORECASE), k) for p, k in FUNDING_KIND_PATTERNS]


def funding_kinds(text: str) -> list[FundingKind]:
    return [kind for pattern, kind in _FUNDING_RES if pattern.search(text)]


_AMOUNT_RE = re.compile(
    r"(?<![\d.,])(\d{1,3}(?:\.\d{3})+(?:,\d+)?|\d{1,15}(?:,\d+)?)\s*(Mio\.?|Millionen|Tsd\.?|Tausend)?\s*(?:€|EUR\b|Euro\b)",
    re.IGNORECASE,
)


def funding_amount(text: str) -> float | None:
    m = _AMOUNT_RE.search(text)
    if not m:
        return None
    value = parse_number(m.group(1))
    if value is None:
        return None
    unit = (m.group(2) or "").lower()
    if unit.startswith(("mio", "million")):
        value *= 1_000_000
    elif unit.startswith(("tsd", "tausend")):
        value *= 1_000
    return float(value)


# ------------------------------------------------------- numbers and dates


def parse_number(text: str) -> float | None:
    """Parse a German-formatted number: "28.808" → 28808, "158,16" → 158.16.

    Rules: with both "." and "," the later one is the decimal mark; a lone
    "," is decimal; lone dots in groups of three digits are thousands
    separators ("1.234.567"), otherwise the dot is decimal ("158.16").
    """
    s = clean_space(text).replace(" ", "").replace("\u202f", "").replace("'", "")
    m = re.search(r"[-+]?\d[\d.,]*", s)
    if not m:
        return None
    s = m.group(0).rstrip(".,")
    if "," in s and "." in s:
        if s.rfind(",") > s.rfind("."):
            s = s.replace(".", "").replace(",", ".")
        else:
            s = s.replace(",", "")
    elif "," in s:
        if s.count(",") > 1:
            return None
        s = s.replace(",", ".")
    elif "." in s:
        if re.fullmatch(r"[-+]?\d{1,3}(?:\.\d{3})+", s):
            s = s.replace(".", "")
        elif s.count(".") > 1:
            return None
    try:
        return float(s)
    except ValueError:
        return None


def parse_int(text: str) -> int | None:
    value = parse_number(text)
    if value is None or value != int(value):
        return None
    return int(value)


def parse_area_km2(text: str) -> float | None:
    """ "158,16 km²" → 158.16; "15.816 ha" → 158.16."""
    value = parse_number(text)
    if value is None:
        return None
    if re.search(r"\bha\b|hektar", text, re.IGNORECASE):
        value = value / 100
    return round(value, 4)


MONTHS: dict[str, int] = {
    "jan": 1, "januar": 1, "jänner": 1, "feb": 2, "februar": 2, "mär": 3, "märz": 3, "mrz": 3,
    "apr": 4, "april": 4, "mai": 5, "jun": 6, "juni": 6, "jul": 7, "juli": 7, "aug": 8,
    "august": 8, "sep": 9, "sept": 9, "september": 9, "okt": 10, "oktober": 10, "nov": 11,
    "november": 11, "dez": 12, "dezember": 12,
}
_DATE_NUMERIC = re.compile(r"(?<!\d)(\d{1,2})\.\s*(\d{1,2})\.\s*(\d{4})(?!\d)")
_DATE_ISO = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
_DATE_WORD = re.compile(r"(?<!\d)(\d{1,2})\.\s*([A-Za-zÄÖÜäöü]{3,9})\.?\s*(\d{4})(?!\d)")


def parse_date(text: str) -> date | None:
    """ "31.12.2019", "31.Dez. 2019", "31. Dezember 2019", "2019-12-31" → date."""
    for pattern, order in ((_DATE_ISO, "ymd"), (_DATE_NUMERIC, "dmy"), (_DATE_WORD, "dMy")):
        m = pattern.search(text)
        if not m:
            continue
        try:
            if order == "ymd":
                return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            if order == "dmy":
                return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
            month = MONTHS.get(m.group(2).lower())
            if month is None:
                continue
            return date(int(m.group(3)), month, int(m.group(1)))
        except ValueError:
            continue
    return None


def parse_year(text: str) -> int | None:
    m = re.search(r"(?<!\d)(1[89]\d\d|2\d\d\d)(?!\d)", text)
    return int(m.group(1)) if m else None


# ------------------------------------------------- contact and addresses

EMAIL_RE = re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
PHONE_RE = re.compile(
    r"(?:Telefon|Tel\.?|Fon|Phone|Rufnummer)\s*[:.]?\s*(\+?[0-9][0-9 /()\-]{2,38}[0-9])", re.IGNORECASE
)
FAX_RE = re.compile(r"^(?:Fax|Telefax)\b", re.IGNORECASE)
POSTCODE_CITY_RE = re.compile(r"^(?:D-)?(\d{5})\s+(\S.*)$")
STREET_RE = re.compile(
    r"^[A-ZÄÖÜ][\wÄÖÜäöüß.\- ]*?(?:straße|strasse|str\.|weg|platz|allee|gasse|ring|damm|ufer|markt|chaussee|steig|berg|hof|wall|graben|pfad)?\s+\d+\s*[a-zA-Z]?(?:\s*[-–]\s*\d+\s*[a-zA-Z]?)?$"
)
URL_RE = re.compile(r"(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)


def find_email(text: str) -> str | None:
    m = EMAIL_RE.search(text)
    return m.group(0).rstrip(".") if m else None


def find_phone(text: str) -> str | None:
    for line in text.splitlines():
        if FAX_RE.match(line.strip()):
            continue
        m = PHONE_RE.search(line)
        if m:
            return clean_space(m.group(1))
    return None


def find_url(text: str) -> str | None:
    m = URL_RE.search(text)
    if not m:
        return None
    url = m.group(0).rstrip(".,;:")
    if url.lower().startswith("www."):
        url = "https://" + url
    return url


@dataclass
class Address:
    street: str | None = None
    postcode: str | None = None
    city: str | None = None


def parse_address_lines(lines: list[str]) -> tuple[Address, list[str]]:
    """Pick street and postcode+city from address lines; return the rest."""
    addr = Address()
    rest: list[str] = []
    for raw in lines:
        line = clean_space(raw)
        if not line:
            continue
        m = POSTCODE_CITY_RE.match(line)
        if m and addr.postcode is None:
            addr.postcode, addr.city = m.group(1), m.group(2)
            continue
        if addr.street is None and STREET_RE.match(line) and not EMAIL_RE.search(line) and not PHONE_RE.search(line):
            addr.street = line
            continue
        rest.append(line)
    return addr, rest


# ---------------------------------------------------- boilerplate, furniture

# Page furniture of structured profile pages: whole lines that are dropped.
FURNITURE_LINES: tuple[str, ...] = (
    r"diese übersicht als pdf herunterladen",
    r"(?:als )?pdf herunterladen",
    r"seite drucken",
    r"drucken",
    r"teilen",
    r"zurück(?: zur übersicht)?",
    r"nach oben",
    r"zum seitenanfang",
    r"\(quelle für text und bild: siehe links\)",
    r"druckversion",
)
_FURNITURE_RE = re.compile(r"^(?:" + "|".join(FURNITURE_LINES) + r")\.?$", re.IGNORECASE)


def is_furniture(line: str) -> bool:
    return bool(_FURNITURE_RE.match(clean_space(line)))


# Sales, contact and site boilerplate in reference texts: sentences matching
# these are dropped.
BOILERPLATE_PATTERNS: tuple[str, ...] = (
    r"kontaktieren sie uns",
    r"jetzt\s+(?:\w+\s+)?(?:beratung|termin|demo|angebot|gespräch)\w*\s+(?:anfragen|vereinbaren|sichern|buchen)",
    r"nehmen sie (?:jetzt )?kontakt",
    r"wir sind für sie da",
    r"immer für sie da",
    r"sprechen (?:wir|sie) (?:darüber|uns an|mit uns)",
    r"sie möchten mehr erfahren",
    r"haben sie fragen|oder haben fragen",
    r"newsletter",
    r"cookie",
    r"jetzt anmelden",
    r"^mehr erfahren$",
    r"zum kontaktformular",
    r"datenschutzerklärung|^datenschutz$|^impressum$",
    r"alle rechte vorbehalten",
    r"^©|^\(c\)\s",
    r"rufen sie uns an",
    r"schreiben sie uns",
    r"vereinbaren sie (?:jetzt )?(?:einen|ein)",
    r"unverbindlich(?:es|e)? (?:angebot|beratung|erstgespräch)",
    r"folgen sie uns",
)
_BOILERPLATE_RE = re.compile("|".join(BOILERPLATE_PATTERNS), re.IGNORECASE)


def is_boilerplate(text: str) -> bool:
    return bool(_BOILERPLATE_RE.search(clean_space(text)))


_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-ZÄÖÜ0-9„\"])")


def split_sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_SPLIT.split(text.strip()) if s]


def drop_boilerplate_sentences(paragraph: str) -> str:
    return " ".join(s for s in split_sentences(paragraph) if not is_boilerplate(s))


def first_sentences(text: str, limit: int) -> str:
    """As many whole sentences as fit into `limit` characters."""
    text = clean_space(text)
    if len(text) <= limit:
        return text
    out = ""
    for sentence in split_sentences(text):
        candidate = f"{out} {sentence}".strip()
        if len(candidate) > limit:
            break
        out = candidate
    if not out:
        out = text[: limit - 1].rsplit(" ", 1)[0] + "…"
    return out


# ------------------------------------------------------------- keywords

# Well-known terms recorded as Stichworte when a free text names them.
KEYWORD_TERMS: tuple[tuple[str, str], ...] = (
    (r"digitalstrategie", "Digitalstrategie"),
    (r"digitalisierungsstrategie", "Digitalisierungsstrategie"),
    (r"\bozg\b|onlinezugangsgesetz|online-zugangs-gesetz", "OZG"),
    (r"\be-?akte\b|elektronische akte", "E-Akte"),
    (r"smart[ -]city", "Smart City"),
    (r"smarte?n? kommune", "Smarte Kommune"),
    (r"interkommunal", "Interkommunale Zusammenarbeit"),
    (r"breitband", "Breitband"),
    (r"glasfaser", "Glasfaser"),
    (r"bürgerbeteiligung", "Bürgerbeteiligung"),
    (r"daseinsvorsorge", "Daseinsvorsorge"),
    (r"open data", "Open Data"),
)
_KEYWORD_RES = [(re.compile(p, re.IGNORECASE), k) for p, k in KEYWORD_TERMS]


def recognise_keywords(text: str) -> list[str]:
    return [k for pattern, k in _KEYWORD_RES if pattern.search(text)]


# ------------------------------------------------------- municipality names

_ORG_NAME_RE = re.compile(
    r"(?<![\w-])(Landkreis|Kreis|Stadt|Gemeinde|Amt|Verbandsgemeinde|Samtgemeinde|Hansestadt|Markt|Zweckverband)\s+"
    r"((?:(?:Bad|Sankt|St\.)\s+|[A-ZÄÖÜ][\wäöüß]+er\s+(?=[A-ZÄÖÜ]))?[A-ZÄÖÜ][\wäöüß]+(?:-[A-ZÄÖÜ][\wäöüß]+)*"
    r"(?:\s+(?:an der|am|im|in der|ob der|bei|vor der)\s+[A-ZÄÖÜ][\wäöüß]+|\s+\([A-ZÄÖÜ][\wäöüß. ]+\))?)"
)
_NOT_A_NAME = {
    "Die", "Der", "Das", "Und", "Oder", "Mit", "Für", "Als", "Auch", "Sie", "Ihre", "Ihr", "Zukunft",
    "Verwaltung", "Digitalisierung", "Bürger", "Wir", "Es", "Im", "In", "Zum", "Zur",
}


def recognise_public_bodies(text: str) -> list[tuple[str, OrganisationKind, int]]:
    """Public bodies named "Stadt X", "Kreis X" …: (name, kind, count), most named first."""
    counts: Counter[tuple[str, OrganisationKind]] = Counter()
    first: dict[tuple[str, OrganisationKind], int] = {}
    for m in _ORG_NAME_RE.finditer(text):
        prefix, name = m.group(1), m.group(2)
        if name.split()[0] in _NOT_A_NAME:
            continue
        kind = _PREFIX_KIND[prefix]
        full = f"{prefix} {name}"
        key = (full, kind)
        counts[key] += 1
        first.setdefault(key, m.start())
    ordered = sorted(counts, key=lambda k: (-counts[k], first[k]))
    return [(full, kind, counts[(full, kind)]) for full, kind in ordered]


# --------------------------------------------------------- project status

PROJECT_STATUS_PATTERNS: tuple[tuple[str, ProjectStatus], ...] = (
    (r"eingestellt|abgebrochen", ProjectStatus.DISCONTINUED),
    (r"abgeschlossen|beendet|fertiggestellt", ProjectStatus.COMPLETED),
    (r"geplant|in planung|planungsphase", ProjectStatus.PLANNED),
    (r"laufend|läuft|in umsetzung|umsetzungsphase|in betrieb|aktiv", ProjectStatus.RUNNING),
)
_STATUS_RES = [(re.compile(p, re.IGNORECASE), s) for p, s in PROJECT_STATUS_PATTERNS]


def project_status(text: str) -> ProjectStatus | None:
    for pattern, status in _STATUS_RES:
        if pattern.search(text):
            return status
    return None


# ------------------------------------------------------------ text shaping

BULLET_RE = re.compile(r"^\s*(?:[-–•*·▪‣◦]|\d{1,2}[.)])\s*(.*)$")
_LIST_ITEM = re.compile(r"^(?:- |\d{1,2}\. )")
_MD_LINE_START = re.compile(r"^(\s*)([#>+=|]|\d+[.)]\s|[-*]\s)")


def escape_markdown_line(line: str) -> str:
    """Keep a prose line from turning into a heading, quote or list by accident."""
    return _MD_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), line)


def lines_to_markdown(lines: list[str]) -> str:
    """Prose lines to Markdown: each line a paragraph, bullet runs a list.

    A bullet marker alone on its line ("-") belongs to the next line.
    """
    blocks: list[list[str]] = []
    pending_bullet = False
    for raw in lines:
        line = clean_space(raw)
        if not line:
            if not pending_bullet:
                blocks.append([])
            continue
        m = BULLET_RE.match(line)
        is_numbered = bool(m) and line[:1].isdigit()
        if m and not m.group(1):
            pending_bullet = True
            continue
        if pending_bullet or (m and not is_numbered) or (is_numbered and len(line) < 200 and m):
            item = line if pending_bullet else m.group(1)  # type: ignore[union-attr]
            marker = "- "
            if is_numbered and not pending_bullet:
                marker = re.match(r"\d{1,2}", line).group(0) + ". "  # type: ignore[union-attr]
            pending_bullet = False
            entry = marker + escape_markdown_line(item)
            if blocks and blocks[-1] and _LIST_ITEM.match(blocks[-1][-1]):
                blocks[-1].append(entry)
            else:
                blocks.append([entry])
            continue
        blocks.append([escape_markdown_line(line)])
    return "\n\n".join("\n".join(b) for b in blocks if b).strip()


def markdown_to_plain(text: str) -> str:
    text = re.sub(r"^#+\s*", "", text, flags=re.MULTILINE)
    text = re.sub(r"^- ", "", text, flags=re.MULTILINE)
    return clean_space(text.replace("\\", ""))
