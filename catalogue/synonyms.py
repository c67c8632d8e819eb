"""German synonym groups for catalogue search.

One list, used by every search backend (Tantivy query expansion, Meilisearch
`synonyms` setting). Each group is a tuple of terms that mean the same thing
to a municipal user; all terms are lowercase. Multi-word terms are allowed
("interkommunale zusammenarbeit"); backends that only handle single tokens
may treat them as phrases.

Keep groups small and precise: a synonym that is only "related" (Klimaschutz
~ Energie) makes results worse, not better.
"""

from __future__ import annotations

SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    # cooperation and administration
    ("ikz", "interkommunale zusammenarbeit", "interkommunale kooperation"),
    ("ozg", "onlinezugangsgesetz", "online-zugangs-gesetz", "onlinezugangsgesetzes"),
    ("eakte", "e-akte", "elektronische akte", "elektronische aktenführung"),
    ("dms", "dokumentenmanagement", "dokumentenmanagementsystem"),
    ("e-government", "egovernment", "digitale verwaltung"),
    ("digitalisierungsstrategie", "digitalstrategie", "digitale strategie"),
    ("vergabestelle", "beschaffungsstelle"),
    ("ausschreibung", "vergabeverfahren"),
    ("standesamt", "personenstandswesen"),
    ("ordnungsamt", "ordnungsbehörde", "ordnungsdienst", "vollzugsdienst"),
    ("it-dienstleister", "rechenzentrum", "kommunales rechenzentrum"),
    ("open data", "offene daten", "opendata"),
    # infrastructure and mobility
    ("breitband", "glasfaser", "breitbandausbau", "glasfaserausbau", "ftth", "schnelles internet"),
    ("öpnv", "öffentlicher personennahverkehr", "nahverkehr", "öffentlicher nahverkehr"),
    ("rufbus", "on-demand-verkehr", "anrufbus", "anruf-sammel-taxi", "bedarfsverkehr", "ridepooling"),
    ("bürgerbus", "buergerbus"),
    ("carsharing", "car-sharing", "autoteilen"),
    ("radweg", "radwegenetz", "radverkehr", "fahrradweg"),
    ("bauhof", "betriebshof", "werkhof"),
    ("abwasser", "schmutzwasser", "abwasserbeseitigung"),
    ("kläranlage", "klärwerk"),
    # people and services
    ("kita", "kindertagesstätte", "kindergarten", "kindertageseinrichtung"),
    ("gemeindeschwester", "gemeindepflegekraft"),
    ("mvz", "medizinisches versorgungszentrum"),
    ("hausarzt", "allgemeinmediziner", "landarzt"),
    ("senioren", "ältere menschen", "hochbetagte"),
    ("schulträgerschaft", "schulträger", "schulverband"),
    ("bibliothek", "bücherei", "stadtbibliothek"),
    ("jugendpflege", "jugendarbeit"),
    ("dorfladen", "nahversorgung", "bürgerladen"),
    ("coworking", "co-working", "gemeinschaftsbüro", "dorfbüro"),
    ("leerstand", "leerstandsmanagement"),
    ("wirtschaftsförderung", "standortmarketing"),
    ("gewerbegebiet", "gewerbefläche", "industriegebiet"),
    # safety, climate and energy
    ("feuerwehr", "brandschutz"),
    ("hochwasserschutz", "hochwasservorsorge"),
    ("wärmeplanung", "kommunale wärmeplanung", "wärmeplan"),
    ("klimaschutzmanagement", "klimaschutzmanager", "klimaschutzmanagerin"),
    ("energiegenossenschaft", "bürgerenergie", "bürgerenergiegenossenschaft"),
    ("photovoltaik", "pv", "solarstrom"),
    # participation and tourism
    ("bürgerhaushalt", "beteiligungshaushalt", "bürgerbudget"),
    ("bürgerbeteiligung", "partizipation", "öffentlichkeitsbeteiligung"),
    ("tourismus", "fremdenverkehr"),
    ("kurabgabe", "kurtaxe", "gästebeitrag"),
)


def _normalise(term: str) -> str:
    return " ".join(term.strip().lower().split())


_INDEX: dict[str, tuple[str, ...]] = {}
for _group in SYNONYM_GROUPS:
    for _term in _group:
        # a term in several groups gets the union, in first-seen order
        _INDEX[_term] = tuple(dict.fromkeys(_INDEX.get(_term, ()) + _group))


def synonyms_for(term: str) -> tuple[str, ...]:
    """All terms equivalent to `term` (including the term itself, normalised).

    Lookup is case-insensitive and collapses whitespace. A term that is in no
    group returns a one-element tuple with the normalised term.
    """
    key = _normalise(term)
    if not key:
        return ()
    group = _INDEX.get(key)
    if group is None:
        return (key,)
    return (key, *(t for t in group if t != key))
