"""One contract for every search backend (Tantivy always, Meilisearch when configured).

Documents are built without a database: `Profile.model_construct(...)` run
through `to_search_document`, plus a few hand-made dicts for values that the
profile model would not accept (quotes and backslashes in facet values).
"""

from __future__ import annotations

import asyncio
import inspect
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from catalogue.access import PUBLIC_LABEL, principal_labels
from catalogue.models import Funding, Organisation, Profile
from catalogue.search.base import FACETS, SearchBackend, SearchQuery, Sort
from catalogue.search.documents import fold_for_sort, to_search_document
from catalogue.users import Principal
from catalogue.vocabularies import Role
from tests.factories import stream

BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)
PUBLIC = (PUBLIC_LABEL,)


def make(
    pid: str,
    title: str,
    *,
    summary: str = "",
    keywords: tuple[str, ...] = (),
    foa: tuple[str, ...] = (),
    state: str | None = None,
    population: int | None = None,
    legal_form: str | None = None,
    status: str | None = None,
    editorial: str = "published",
    owner: str | None = None,
    funding: tuple[str, ...] = (),
    since: int | None = None,
    days: int = 0,
    lead: str | None = None,
    kind: str | None = None,
    text: str = "",
    region: dict[str, Any] | None = None,
) -> dict[str, Any]:
    profile = Profile.model_construct(
        id=pid,
        slug=pid,
        title=title,
        summary=summary,
        keywords=list(keywords),
        fields_of_action=list(foa),
        state=state,
        population=population,
        legal_form=legal_form,
        project_status=status,
        status=editorial,
        owner=owner,
        funding=Funding.model_construct(text="", kinds=list(funding), programme=None, amount_eur=None),
        collaboration_since=since,
        lead=Organisation.model_construct(name=lead, kind=kind, ags=None) if lead else None,
        implementation=text,
        published_at=BASE_TIME + timedelta(days=days),
        updated_at=BASE_TIME + timedelta(days=days),
    )
    return to_search_document(profile, region=region)


# What the municipality register says about a lead (catalogue/search/regions.py derives it at indexing time).
HOEXTER = {"kreis": "Kreis Höxter", "regierungsbezirk": "Regierungsbezirk Detmold", "size_class": "Mittelstadt"}
CHAM = {"kreis": "Landkreis Cham", "regierungsbezirk": "Regierungsbezirk Oberpfalz"}
NIENBURG = {"kreis": "Landkreis Nienburg (Weser)"}
MUENCHEN = {"kreis": "München", "regierungsbezirk": "Regierungsbezirk Oberbayern", "size_class": "Großstadt"}

CORPUS: list[dict[str, Any]] = [
    make("strategie", "Gemeinsame Digitalisierungsstrategie", summary="Zehn Städte entwickeln eine **Strategie** für die digitale Verwaltung.",
         keywords=("Digitalisierung", "OZG"), foa=("Verwaltung", "Digitale Infrastruktur"), state="Nordrhein-Westfalen",
         population=28_808, legal_form="informelle Kooperation", status="laufend", funding=("Landesmittel",), since=2019, days=30,
         lead="Stadt Höxter", kind="Stadt", region=HOEXTER),
    make("breitband", "Breitbandausbau im Landkreis", summary="Glasfaser für alle Ortsteile.", keywords=("Breitband", "Glasfaser"),
         foa=("Digitale Infrastruktur",), state="Bayern", population=130_000, legal_form="Zweckverband", status="abgeschlossen",
         funding=("Bundesmittel", "Landesmittel"), since=2015, days=10, lead="Landkreis Cham", kind="Kreis", region=CHAM),
    make("bauhof", "Interkommunaler Bauhof", summary="Drei Gemeinden teilen Maschinen und Personal.", keywords=("Bauhof",),
         foa=("Daseinsvorsorge",), state="Niedersachsen", population=12_000, legal_form="öffentlich-rechtliche Vereinbarung",
         status="laufend", funding=("Eigenmittel",), since=2010, days=20, region=NIENBURG),
    make("rufbus", "Rufbus für die Dörfer", summary="Ein Bus auf Bestellung verbindet die Ortsteile.", keywords=("ÖPNV", "On-Demand"),
         foa=("Mobilität & Verkehr",), state="Hessen", population=4_000, legal_form="Verein", status="laufend", since=2021, days=40),
    make("licht", "Straßenbeleuchtung mit LED", summary="Die Stadt spart Strom.", keywords=("Energie", "LED"),
         foa=("Energie", "Umwelt & Klima"), state="Bayern", population=31_200, legal_form="GmbH", status="abgeschlossen",
         funding=("EU-Mittel",), since=2018, days=5, region=MUENCHEN),
    make("kita", "Kita-Verbund im Amt", summary="Gemeinsame Anmeldung für Kindertagesstätten.", keywords=("Kita",),
         foa=("Bildung", "Soziales"), state="Sachsen", population=8_000, status="geplant", days=50),
    make("sonder", 'Projekt "Zukunft" (Teil 2) \\ Pfad', summary="<script>alert(1)</script> Sicherheit & Ordnung im Quartier",
         foa=("Sicherheit & Ordnung",), state="Berlin", days=1),
    *[
        make(f"filler-{i:02d}", f"Thüringer Vorhaben Nummer {i}", summary="Ein Projekt zum Auffüllen der Seiten.",
             foa=("Kultur",), state="Thüringen", population=1_000 * (i + 1), status="eingestellt", days=60 + i)
        for i in range(25)
    ],
]
# A facet value the profile model would not produce, to prove filter values are literal.
ODD_VALUE = 'Sonstige "x" \\ y) OR (1=1'
ODD = {**make("odd", "Eigenartige Rechtsform"), "legal_form": ODD_VALUE}
ALL = [*CORPUS, ODD]
IDS = {d["id"] for d in ALL}


async def filled(backend: SearchBackend) -> SearchBackend:
    await backend.upsert(ALL)
    return backend


async def ids(backend: SearchBackend, **kw: Any) -> list[str]:
    result = await backend.search(SearchQuery(per_page=100, **kw), labels=PUBLIC)
    return [h.id for h in result.hits]


# ------------------------------------------------------------------ basics


async def test_health(backend: SearchBackend) -> None:
    assert await backend.health() is True


async def test_upsert_search_replace_delete(backend: SearchBackend) -> None:
    await filled(backend)
    assert "bauhof" in (await ids(backend, q="Bauhof"))[:1]
    await backend.upsert([{**make("bauhof", "Gemeinsamer Wertstoffhof")}])
    assert "bauhof" not in await ids(backend, q="Bauhof")
    assert (await ids(backend, q="Wertstoffhof"))[:1] == ["bauhof"]
    assert (await backend.search(SearchQuery(per_page=1), labels=PUBLIC)).total == len(ALL)
    await backend.delete(["bauhof", "does-not-exist"])
    assert await ids(backend, q="Wertstoffhof") == []
    assert (await backend.search(SearchQuery(per_page=1), labels=PUBLIC)).total == len(ALL) - 1


async def test_one_document_by_id_as_indexed(backend: SearchBackend) -> None:
    """`document`: the stored search document without the long texts; a replacement at once; None for unknown ids."""
    await filled(backend)
    strategie = next(d for d in ALL if d["id"] == "strategie")
    found = await backend.document("strategie", labels=PUBLIC)
    assert found is not None
    assert {k: v for k, v in found.items() if k != "texts"} == {k: v for k, v in strategie.items() if k != "texts"}
    assert "texts" not in found
    found["title"] = "changed by the caller"  # a copy: the next read is unchanged
    assert (await backend.document("strategie", labels=PUBLIC) or {})["title"] == strategie["title"]
    await backend.upsert([{**strategie, "title": "Digitalisierungsstrategie, zweite Fassung", "version": 2}])
    again = await backend.document("strategie", labels=PUBLIC)
    assert again is not None and again["version"] == 2 and again["title"] == "Digitalisierungsstrategie, zweite Fassung"
    await backend.delete(["strategie"])
    assert await backend.document("strategie", labels=PUBLIC) is None
    for odd in ("does-not-exist", "a/b", "../bauhof", "bauhof OR 1=1", "_index_settings", ""):
        assert await backend.document(odd, labels=PUBLIC) is None, odd
    assert await backend.document("bauhof", labels=()) is None


async def test_empty_query_lists_everything_newest_first(backend: SearchBackend) -> None:
    await filled(backend)
    result = await backend.search(SearchQuery(per_page=100), labels=PUBLIC)
    assert result.total == len(ALL)
    stamps = [h.document["published_at"] for h in result.hits]
    assert stamps == sorted(stamps, reverse=True)
    assert {h.id for h in result.hits} == IDS


async def test_hits_carry_the_document(backend: SearchBackend) -> None:
    await filled(backend)
    hit = (await backend.search(SearchQuery(q="Rufbus"), labels=PUBLIC)).hits[0]
    assert hit.id == "rufbus" and hit.slug == "rufbus" and hit.title == "Rufbus für die Dörfer"
    assert hit.document["state"] == "Hessen" and hit.document["population"] == 4_000


# ------------------------------------------------------------------ German text


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("Strategie", "strategie"),  # part of a compound
        ("Digitalisierungsstrategie", "strategie"),
        ("Digitalisierungsstrateige", "strategie"),  # typo
        ("Strasse", "licht"),  # ß / ss
        ("Strassenbeleuchtung", "licht"),
        ("Hoexter", "strategie"),  # ö / oe
        ("Höxter", "strategie"),
        ("Ausbau Breitband", "breitband"),  # compound split across words
        ("Kindertagesstätte", "kita"),  # inflection
        ("Bauhöfe", "bauhof"),
    ],
)
async def test_german_analysis(backend: SearchBackend, q: str, expected: str) -> None:
    await filled(backend)
    assert expected in (await ids(backend, q=q))[:3]


async def test_numbers_in_the_query_do_not_exclude(backend: SearchBackend) -> None:
    await filled(backend)
    assert (await ids(backend, q="Bauhof 2024"))[:1] == ["bauhof"]


# ------------------------------------------------------------------ facets and filters


async def test_facet_counts_are_exact(backend: SearchBackend) -> None:
    await filled(backend)
    result = await backend.search(SearchQuery(per_page=1), labels=PUBLIC)
    for name in FACETS:
        expected: Counter[str] = Counter()
        for d in ALL:
            value = d.get(name)
            for v in value if isinstance(value, list) else [value]:
                if v:
                    expected[v] += 1
        assert result.facets[name] == dict(expected), name


async def test_register_facets_filter_and_count(backend: SearchBackend) -> None:
    await filled(backend)
    everything = await backend.search(SearchQuery(per_page=1), labels=PUBLIC)
    assert everything.facets["kreis"] == {"Kreis Höxter": 1, "Landkreis Cham": 1, "Landkreis Nienburg (Weser)": 1, "München": 1}
    assert everything.facets["regierungsbezirk"] == {"Regierungsbezirk Detmold": 1, "Regierungsbezirk Oberpfalz": 1, "Regierungsbezirk Oberbayern": 1}
    # the register's size class replaces the profile's own ("licht" states 31,200: Mittelstadt)
    assert everything.facets["size_class"]["Großstadt"] == 1
    result = await backend.search(SearchQuery(filters={"kreis": ["Landkreis Nienburg (Weser)", "München"]}, per_page=100), labels=PUBLIC)
    assert {h.id for h in result.hits} == {"bauhof", "licht"}
    assert result.facets["kreis"]["Kreis Höxter"] == 1  # disjunctive: the other Kreise stay offered
    assert result.facets["regierungsbezirk"] == {"Regierungsbezirk Oberbayern": 1}  # the others follow the filter
    both = await backend.search(SearchQuery(filters={"regierungsbezirk": ["Regierungsbezirk Oberpfalz"], "state": ["Bayern"]}), labels=PUBLIC)
    assert [h.id for h in both.hits] == ["breitband"]
    assert (await backend.search(SearchQuery(filters={"kreis": ["Kreis Höxter", "Höxter"]}), labels=PUBLIC)).total == 1  # exact values


async def test_facets_are_disjunctive_and_follow_the_query(backend: SearchBackend) -> None:
    await filled(backend)
    result = await backend.search(SearchQuery(filters={"state": ["Bayern"]}, per_page=100), labels=PUBLIC)
    assert {h.id for h in result.hits} == {"breitband", "licht"}
    assert result.total == 2
    # the filtered facet still shows the alternatives ...
    assert result.facets["state"]["Nordrhein-Westfalen"] == 1
    assert result.facets["state"]["Thüringen"] == 25
    # ... the others count within Bayern only
    assert result.facets["legal_form"] == {"Zweckverband": 1, "GmbH": 1}
    assert result.facets["funding_kinds"] == {"Bundesmittel": 1, "Landesmittel": 1, "EU-Mittel": 1}
    only_glass = await backend.search(SearchQuery(q="Glasfaser", facets=("state",)), labels=PUBLIC)
    assert only_glass.facets == {"state": {"Bayern": 1}}


async def test_filters_or_within_and_across(backend: SearchBackend) -> None:
    await filled(backend)
    assert set(await ids(backend, filters={"fields_of_action": ["Energie", "Bildung"]})) == {"licht", "kita"}
    assert set(await ids(backend, filters={"fields_of_action": ["Digitale Infrastruktur"], "state": ["Bayern"]})) == {"breitband"}
    assert set(await ids(backend, filters={"funding_kinds": ["Landesmittel"], "project_status": ["laufend"]})) == {"strategie"}
    assert set(await ids(backend, filters={"size_class": ["Kreis"]})) == {"breitband"}
    assert await ids(backend, q="Bauhof", filters={"state": ["Bayern"]}) == []


async def test_population_and_since_ranges(backend: SearchBackend) -> None:
    await filled(backend)
    assert set(await ids(backend, population_min=20_000, population_max=40_000)) == {"strategie", "licht", "filler-19", "filler-20", "filler-21", "filler-22", "filler-23", "filler-24"}
    assert set(await ids(backend, population_min=100_000)) == {"breitband"}
    assert set(await ids(backend, since_min=2018, since_max=2019)) == {"strategie", "licht"}
    assert set(await ids(backend, since_max=2010)) == {"bauhof"}
    assert set(await ids(backend, q="Strategie", since_min=2020)) == set()


# ------------------------------------------------------------------ sort and paging


async def test_sort_by_title_and_newest(backend: SearchBackend) -> None:
    await filled(backend)
    by_title = await backend.search(SearchQuery(sort=Sort.TITLE, per_page=100), labels=PUBLIC)
    keys = [fold_for_sort(h.title) for h in by_title.hits]
    assert keys == sorted(keys)
    newest = await backend.search(SearchQuery(q="Ortsteile", sort=Sort.NEWEST), labels=PUBLIC)
    assert [h.id for h in newest.hits] == ["rufbus", "breitband"]


async def test_paging_is_complete_and_total_exact(backend: SearchBackend) -> None:
    await filled(backend)
    seen: list[str] = []
    page = 1
    while True:
        result = await backend.search(SearchQuery(q="Vorhaben", page=page, per_page=7, sort=Sort.TITLE), labels=PUBLIC)
        assert result.total == 25
        if not result.hits:
            break
        seen.extend(h.id for h in result.hits)
        page += 1
    assert page == 5 and len(seen) == 25 and len(set(seen)) == 25
    assert (await backend.search(SearchQuery(q="Vorhaben", per_page=7), labels=PUBLIC)).pages == 4


# ------------------------------------------------------------------ snippets


async def test_snippets_are_marked_and_escaped(backend: SearchBackend) -> None:
    await filled(backend)
    hit = (await backend.search(SearchQuery(q="Strategie"), labels=PUBLIC)).hits[0]
    assert hit.id == "strategie"
    assert "<mark>" in hit.snippets["summary"] or "<mark>" in hit.snippets["title"]
    odd = (await backend.search(SearchQuery(q="Sicherheit Quartier"), labels=PUBLIC)).hits[0]
    assert odd.id == "sonder"
    assert "<script>" not in odd.snippets["summary"]
    assert "&lt;script&gt;" in odd.snippets["summary"]
    assert "<mark>Sicherheit</mark>" in odd.snippets["summary"]
    assert odd.snippets["title"] == "Projekt &quot;Zukunft&quot; (Teil 2) \\ Pfad"
    long_text = make("lang", "Langer Text", text="Vorwort. " * 80 + "Das Wort Abwasserzweckverband steht hier. " + "Nachwort. " * 80)
    await backend.upsert([long_text])
    hit = (await backend.search(SearchQuery(q="Abwasserzweckverband"), labels=PUBLIC)).hits[0]
    assert "<mark>Abwasserzweckverband</mark>" in hit.snippets["text"]
    assert len(hit.snippets["text"]) < 600


# ------------------------------------------------------------------ comparable candidates


async def test_similar_candidates(backend: SearchBackend) -> None:
    await filled(backend)
    found = await backend.similar_candidates(
        "Glasfaser Breitband Digitalisierung", labels=PUBLIC, any_of={"state": ["Hessen"]}, exclude_ids=["strategie"], limit=50
    )
    by_id = {c.document["id"]: c for c in found}
    assert "strategie" not in by_id
    assert by_id["breitband"].text_score > 0
    assert by_id["rufbus"].text_score == 0
    assert found[0].document["id"] == "breitband"


async def test_a_reference_text_is_planned_exactly_without_a_search_per_word(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reference text of "comparable projects" (a profile's indexed title and keywords, spelled as the index
    has them) is planned without typo tolerance and without the per-word count searches that only typed
    queries use (rarity weights, the loose rule): both cost CPU on every profile page and /similar."""
    from catalogue.search.tantivy_backend import TantivyBackend, _QueryPlanner

    backend = TantivyBackend(tmp_path / "search")
    try:
        await filled(backend)
        counted: list[str] = []
        real_count = _QueryPlanner._word_count
        monkeypatch.setattr(_QueryPlanner, "_word_count", staticmethod(lambda s, w, q: counted.append(w.raw) or real_count(s, w, q)))
        view = backend._live.view
        plan = backend._plan(view, "Glasfaserausbau Breitbandversorgung Digitalisierung", any_word=True)
        assert counted == []
        assert "FuzzyTermQuery" not in repr(plan.text_query)
        typed = backend._plan(view, "Glasfaserausbau Breitbandversorgung Digitalisierung", any_word=False)
        assert counted  # a typed query of several words still counts its words
        assert "FuzzyTermQuery" in repr(typed.text_query)  # and still tolerates typos of long words
    finally:
        await backend.close()


# ------------------------------------------------------------------ rebuild


async def test_rebuild_swaps_atomically_while_searching(backend: SearchBackend) -> None:
    await filled(backend)
    new_corpus = [make(f"neu-{i}", f"Neues Vorhaben {i}", foa=("Energie",)) for i in range(300)]
    old_total, new_total = len(ALL), len(new_corpus) + 1
    progress: list[int] = []
    totals: set[int] = set()

    async def slow_docs():
        for i, d in enumerate(new_corpus):
            if i % 50 == 0:
                await asyncio.sleep(0.01)
            yield d

    rebuild = asyncio.create_task(backend.rebuild(slow_docs(), progress.append))
    await asyncio.sleep(0)
    await backend.upsert([make("waehrend", "Während des Neuaufbaus geschrieben")])  # must survive the swap
    while not rebuild.done():
        totals.add((await backend.search(SearchQuery(per_page=1), labels=PUBLIC)).total)
        await asyncio.sleep(0.005)
    assert await rebuild == len(new_corpus)
    assert progress and progress[-1] == len(new_corpus)
    assert totals <= {old_total, old_total + 1, new_total}  # never empty, never half
    after = await backend.search(SearchQuery(per_page=1), labels=PUBLIC)
    assert after.total == new_total
    assert await ids(backend, q="Neuaufbaus") == ["waehrend"]
    assert await ids(backend, q="Bauhof") == []
    assert await backend.health()


async def test_rebuild_survives_reopen(tmp_path) -> None:
    from catalogue.search.tantivy_backend import TantivyBackend

    first = TantivyBackend(tmp_path / "s")
    await first.rebuild(stream(ALL))
    await first.rebuild(stream(CORPUS[:3]))
    await first.close()
    dirs = [p for p in (tmp_path / "s").iterdir() if p.is_dir()]
    assert len(dirs) == 1  # old index directories are cleaned up
    second = TantivyBackend(tmp_path / "s")
    assert (await second.search(SearchQuery(), labels=PUBLIC)).total == 3
    assert not second.needs_reindex


# ------------------------------------------------------------------ injection


INJECTION_QUERIES = [
    'zzqx" OR state = "Bayern',
    "zzqx OR *",
    "zzqx) OR (1=1",
    "zzqx AND NOT Bauhof",
    "title:zzqx",
    "zzqx title:Bauhof",
    "zzqx^2",
    "zzqx~2",
    "zzqx\\",
    'zzqx "Bauhof"',
    "zzqx +Bauhof -Rufbus",
    "zzqx [* TO *]",
    "zzqx state = X) OR (1=1",
    "zzqx {Bayern}",
    "zzqx /Bau.*/",
    "*",
    '"',
    "\\",
    "()",
    "[* TO *]",
    ":",
    "^",
    "~",
]


@pytest.mark.parametrize("q", INJECTION_QUERIES)
async def test_query_syntax_is_taken_literally(backend: SearchBackend, q: str) -> None:
    await filled(backend)
    result = await backend.search(SearchQuery(q=q), labels=PUBLIC)
    assert result.total == 0 and result.hits == []


async def test_literal_operators_do_not_broaden(backend: SearchBackend) -> None:
    await filled(backend)
    # "OR" is just a word: the OR-ed alternative is not added
    assert await ids(backend, q='Bauhof" OR "Rufbus') in ([], ["bauhof"])
    # no field syntax: "state:Bayern" does not list Bayern's documents
    assert set(await ids(backend, q="state:zzqx")) == set()


async def test_a_lexicon_term_no_page_uses_still_lets_a_query_broaden(backend: SearchBackend) -> None:
    await filled(backend)
    # "Tagesalarmsicherheit" and "Fusion" occur in no document, but they are words of municipal language
    # (the lexicon knows them): the documents sharing the other words are found
    assert "bauhof" in await ids(backend, q="Bauhof Maschinen Tagesalarmsicherheit Fusion")
    # words nobody knows never broaden a query
    assert await ids(backend, q="Bauhof Maschinen zzqx qqzx") == []


INJECTION_FILTERS = [
    '" OR state = "Bayern',
    'Bayern" OR state = "Hessen',
    "Bayern) OR (1=1",
    "state = X) OR (1=1",
    "Bayern\\",
    "*",
    "state:Bayern",
    "Bayern OR Hessen",
    "",
]


@pytest.mark.parametrize("value", INJECTION_FILTERS)
async def test_filter_values_are_data(backend: SearchBackend, value: str) -> None:
    await filled(backend)
    result = await backend.search(SearchQuery(filters={"state": [value]}), labels=PUBLIC)
    if value == "":
        assert result.total == len(ALL)  # an empty value is no filter
    else:
        assert result.total == 0


async def test_odd_filter_value_matches_exactly(backend: SearchBackend) -> None:
    await filled(backend)
    assert await ids(backend, filters={"legal_form": [ODD_VALUE]}) == ["odd"]
    assert (await backend.search(SearchQuery(per_page=1), labels=PUBLIC)).facets["legal_form"][ODD_VALUE] == 1
    assert await ids(backend, filters={"legal_form": ['Sonstige "x"']}) == []


def test_query_values_are_validated() -> None:
    with pytest.raises(ValueError):
        SearchQuery(population_min="1 OR 1=1")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SearchQuery(since_max=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SearchQuery(filters={"state = X) OR (1=1": ["x"]})
    with pytest.raises(ValueError):
        SearchQuery(per_page=10_000)
    with pytest.raises(ValueError):
        SearchQuery(facets=("title",))


# ------------------------------------------------------------------ permission labels and lists

EDITOR_ERIKA = Principal("erika", Role.EDITOR)
EDITOR_OTTO = Principal("otto", Role.EDITOR)
REVIEWER_RITA = Principal("rita", Role.REVIEWER)
# every editorial state, two owners, one profile without owner; all share "Zebra", "Verwaltung" and Bayern
LABELLED = [
    make("z-pub-erika", "Zebrastreifen-Kataster", editorial="published", owner="erika", days=5, foa=("Verwaltung",), state="Bayern"),
    make("z-draft-erika", "Zebra-Entwurf von Erika", editorial="draft", owner="erika", days=4, foa=("Verwaltung",), state="Bayern"),
    make("z-draft-otto", "Zebra-Entwurf von Otto", editorial="draft", owner="otto", days=3, foa=("Verwaltung",), state="Bayern",
         legal_form="Verein"),
    make("z-sub-otto", "Zebra eingereicht von Otto", editorial="submitted", owner="otto", days=2, foa=("Verwaltung",), state="Bayern"),
    make("z-arch-otto", "Zebra archiviert von Otto", editorial="archived", owner="otto", days=1, foa=("Verwaltung",), state="Bayern"),
    make("z-draft-none", "Zebra ohne Besitzer", editorial="draft", days=0, foa=("Verwaltung",), state="Bayern"),
]
VISIBLE = {
    "anonym": (None, {"z-pub-erika"}),
    "erika": (EDITOR_ERIKA, {"z-pub-erika", "z-draft-erika"}),
    "otto": (EDITOR_OTTO, {"z-pub-erika", "z-draft-otto", "z-sub-otto", "z-arch-otto"}),
    "rita": (REVIEWER_RITA, {d["id"] for d in LABELLED}),
}


@pytest.mark.parametrize("who", list(VISIBLE))
async def test_labels_decide_what_is_found_counted_and_faceted(backend: SearchBackend, who: str) -> None:
    principal, expected = VISIBLE[who]
    labels = principal_labels(principal)
    await backend.upsert(LABELLED)
    for q in ("", "Zebra"):
        result = await backend.search(SearchQuery(q=q, per_page=100), labels=labels)
        assert {h.id for h in result.hits} == expected, q
        assert result.total == len(expected)
        assert result.facets["fields_of_action"] == {"Verwaltung": len(expected)}
        assert result.facets["legal_form"] == ({"Verein": 1} if "z-draft-otto" in expected else {})
    # disjunctive facet counts (a filtered facet) stay within the labels too
    faceted = await backend.search(SearchQuery(filters={"state": ["Bayern"]}), labels=labels)
    assert faceted.total == len(expected) and faceted.facets["state"] == {"Bayern": len(expected)}
    # lists: sorted by a timestamp, paged
    listed = await backend.search(SearchQuery(sort=Sort.UPDATED, per_page=2, facets=()), labels=labels)
    assert listed.total == len(expected)
    assert [h.id for h in listed.hits] == [d["id"] for d in LABELLED if d["id"] in expected][:2]
    # comparable candidates: by text and by facet value
    by_text = await backend.similar_candidates("Zebra", labels=labels, limit=50)
    assert {c.document["id"] for c in by_text} == expected
    by_facet = await backend.similar_candidates("", labels=labels, any_of={"state": ["Bayern"]}, limit=50)
    assert {c.document["id"] for c in by_facet} == expected
    # one document by id: only with one of its labels
    assert {d["id"] for d in LABELLED if await backend.document(d["id"], labels=labels) is not None} == expected


async def test_status_and_owner_filters_narrow_within_the_labels(backend: SearchBackend) -> None:
    await backend.upsert(LABELLED)
    rita = principal_labels(REVIEWER_RITA)

    async def found(labels: tuple[str, ...], **filters: list[str]) -> set[str]:
        result = await backend.search(SearchQuery(filters=filters, per_page=100, facets=()), labels=labels)
        assert result.total == len(result.hits)
        return {h.id for h in result.hits}

    assert await found(rita, status=["submitted"]) == {"z-sub-otto"}
    assert await found(rita, status=["draft", "archived"]) == {"z-draft-erika", "z-draft-otto", "z-arch-otto", "z-draft-none"}
    assert await found(rita, owner=["otto"]) == {"z-draft-otto", "z-sub-otto", "z-arch-otto"}
    # an editor asking for another editor's drafts or profiles finds nothing unpublished
    otto = principal_labels(EDITOR_OTTO)
    assert await found(otto, owner=["erika"]) == {"z-pub-erika"}
    assert await found(otto, owner=["erika"], status=["draft"]) == set()
    assert await found(principal_labels(None), status=["draft", "submitted", "archived"]) == set()
    # "Meine Profile": owner label and owner filter
    assert await found(otto, owner=["otto"]) == {"z-draft-otto", "z-sub-otto", "z-arch-otto"}
    # similar candidates take the same filters
    published_only = await backend.similar_candidates("Zebra", labels=rita, filters={"status": ["published"]}, limit=50)
    assert {c.document["id"] for c in published_only} == {"z-pub-erika"}


async def test_every_list_sort_orders_and_puts_missing_dates_last(backend: SearchBackend) -> None:
    never_published = {**make("z-new", "Zebra ganz neu", editorial="draft", owner="erika", days=9), "published_at": None}
    docs = [{**d, "created_at": d["updated_at"] - 86_400 * n} for n, d in enumerate([*LABELLED, never_published])]
    await backend.upsert(docs)
    rita = principal_labels(REVIEWER_RITA)

    async def order(sort: Sort) -> list[str]:
        return [h.id for h in (await backend.search(SearchQuery(sort=sort, per_page=100, facets=()), labels=rita)).hits]

    def by(field_name: str, reverse: bool) -> list[str]:
        return [d["id"] for d in sorted(docs, key=lambda d: d[field_name], reverse=reverse)]

    assert await order(Sort.UPDATED) == by("updated_at", True)
    assert await order(Sort.UPDATED_ASC) == by("updated_at", False)
    assert await order(Sort.CREATED) == by("created_at", True)
    assert await order(Sort.CREATED_ASC) == by("created_at", False)
    titles = [fold_for_sort(d["title"]) for d in docs]
    assert [fold_for_sort(h) for h in await _titles(backend, Sort.TITLE_DESC, rita)] == sorted(titles, reverse=True)
    published = [d for d in docs if d["published_at"] is not None]
    newest = await order(Sort.NEWEST)
    oldest = await order(Sort.NEWEST_ASC)
    assert newest[:-1] == [d["id"] for d in sorted(published, key=lambda d: d["published_at"], reverse=True)]
    assert oldest[:-1] == [d["id"] for d in sorted(published, key=lambda d: d["published_at"])]
    assert newest[-1] == oldest[-1] == "z-new"  # never published: last either way


async def _titles(backend: SearchBackend, sort: Sort, labels: tuple[str, ...]) -> list[str]:
    return [h.title for h in (await backend.search(SearchQuery(sort=sort, per_page=100, facets=()), labels=labels)).hits]


INJECTION_LABELS = [
    'public" OR labels = "reviewers',
    "reviewers) OR (1=1",
    'user:erika" OR status = "draft',
    "*",
    "public OR reviewers",
    "NOT labels = public",
    "labels EXISTS",
    "user:*",
    "\\",
    "PUBLIC",
    " public",
]


@pytest.mark.parametrize("label", INJECTION_LABELS)
async def test_label_values_are_data(backend: SearchBackend, label: str) -> None:
    await backend.upsert(LABELLED)
    result = await backend.search(SearchQuery(per_page=100), labels=[label])
    ids_found = {h.id for h in result.hits}
    # Meilisearch normalises filter strings (case, surrounding spaces) before comparing; labels are
    # lowercase identifiers (usernames are), so that only makes "PUBLIC" and " public" mean "public"
    normalised = label.strip().lower() if backend.name == "meilisearch" else label
    expected = {"z-pub-erika"} if normalised == "public" else set()
    assert ids_found == expected and result.total == len(expected)
    candidates = await backend.similar_candidates("Zebra", labels=[label], any_of={"state": ["Bayern"]}, limit=50)
    assert {c.document["id"] for c in candidates} == ids_found


@pytest.mark.parametrize("value", ['erika" OR owner = "otto', "erika) OR (1=1", "*", 'draft" OR status = "published'])
async def test_status_and_owner_filter_values_are_data(backend: SearchBackend, value: str) -> None:
    await backend.upsert(LABELLED)
    rita = principal_labels(REVIEWER_RITA)
    for name in ("owner", "status"):
        result = await backend.search(SearchQuery(filters={name: [value]}), labels=rita)
        assert result.total == 0, name


async def test_an_owner_name_with_filter_syntax_is_one_literal_label(backend: SearchBackend) -> None:
    odd_owner = 'x" OR labels = "public'
    doc = make("z-odd-owner", "Zebra mit seltsamem Besitzer", editorial="draft", owner=odd_owner)
    await backend.upsert([*LABELLED, doc])
    mine = await backend.search(SearchQuery(per_page=100), labels=[f"user:{odd_owner}"])
    assert [h.id for h in mine.hits] == ["z-odd-owner"]
    assert "z-odd-owner" not in {h.id for h in (await backend.search(SearchQuery(per_page=100), labels=["public"])).hits}


async def test_no_labels_find_nothing(backend: SearchBackend) -> None:
    await backend.upsert(LABELLED)
    assert (await backend.search(SearchQuery(), labels=())).total == 0
    assert await backend.similar_candidates("Zebra", labels=(), any_of={"state": ["Bayern"]}) == []


async def test_labels_are_required_and_must_be_a_list(backend: SearchBackend) -> None:
    for method in (backend.search, backend.similar_candidates, backend.document):
        parameter = inspect.signature(method).parameters["labels"]
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY and parameter.default is inspect.Parameter.empty
    with pytest.raises(TypeError):
        await backend.search(SearchQuery())  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        await backend.similar_candidates("Zebra")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        await backend.search(SearchQuery(), labels="public")  # a string is not a list of labels
    with pytest.raises(TypeError):
        await backend.similar_candidates("Zebra", labels="public")
    with pytest.raises(TypeError):
        await backend.document("z-pub-erika", labels="public")
    from catalogue.search.comparable import find_comparable

    parameter = inspect.signature(find_comparable).parameters["labels"]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY and parameter.default is inspect.Parameter.empty


# ------------------------------------------------------------------ factory and comparable


def test_factory_chooses_the_backend(tmp_path) -> None:
    from catalogue.search import create_backend
    from catalogue.search.meili_backend import MeiliBackend
    from catalogue.search.tantivy_backend import TantivyBackend

    embedded = create_backend(None, None, tmp_path)
    assert isinstance(embedded, TantivyBackend) and embedded.root == tmp_path / "search"
    assert isinstance(create_backend("http://127.0.0.1:7700", "key", tmp_path), MeiliBackend)


async def test_find_comparable_gives_german_reasons(backend: SearchBackend) -> None:
    from catalogue.search.comparable import Reference, find_comparable

    await filled(backend)
    mine = Reference.for_municipality(
        population=31_200, state="Bayern", kind="Stadt", fields_of_action=["Digitale Infrastruktur"], text="Glasfaser"
    )
    found = await find_comparable(backend, mine, limit=5, labels=PUBLIC)
    assert found[0].document["id"] == "breitband"
    assert "gleiches Handlungsfeld: Digitale Infrastruktur" in found[0].reasons
    assert "ebenfalls Bayern" in found[0].reasons
    licht = next(c for c in found if c.document["id"] == "licht")
    assert "ähnliche Größe: 31.200 zu 31.200 Einwohnern" in licht.reasons
    profile_ref = Reference.from_document(next(d for d in ALL if d["id"] == "strategie"))
    similar = await find_comparable(backend, profile_ref, limit=3, labels=PUBLIC)
    assert "strategie" not in [c.document["id"] for c in similar]
    assert similar[0].document["id"] == "breitband"
    assert all(0 < c.score <= 1 for c in similar)


async def test_a_municipality_of_the_same_size_and_land_is_comparable_whatever_its_words(backend: SearchBackend) -> None:
    """Similar projects come from places like the reference's too, not only from profiles sharing its words or
    Handlungsfelder: here 60 others share a word of the reference yet are far bigger and elsewhere."""
    from catalogue.search.comparable import Reference, find_comparable

    await backend.upsert([
        make("ref", "Gemeinsamer Bauhof Kreis Winterdienst", keywords=("Bauhof",), foa=("Verwaltung",), state="Bayern", population=5000),
        *(make(f"other{i}", f"Kreis Projekt Nummer {i} Schule Digital", keywords=("Schule",), foa=("Bildung",), state="Hessen",
               population=900_000) for i in range(60)),
        make("sizetwin", "Jugendtreff am Markt", keywords=("Jugend",), foa=("Soziales",), state="Bayern", population=5200),
    ])
    reference = Reference.from_document(await backend.document("ref", labels=PUBLIC) or {})
    found = await find_comparable(backend, reference, labels=PUBLIC, limit=5)
    twin = next((c for c in found if c.document["id"] == "sizetwin"), None)
    assert twin is not None, [c.document["id"] for c in found]
    assert "ebenfalls Bayern" in twin.reasons and any(r.startswith("ähnliche Größe") for r in twin.reasons)


# ------------------------------------------------------------------ Tantivy's index directory


async def test_tantivy_recovers_from_a_broken_or_old_index(tmp_path) -> None:
    from catalogue.search.tantivy_backend import TantivyBackend

    first = TantivyBackend(tmp_path / "s")
    await first.upsert(ALL)
    await first.close()
    current = (tmp_path / "s" / "CURRENT").read_text().strip()
    for f in (tmp_path / "s" / current).iterdir():
        f.write_bytes(b"kaputt")
    broken = TantivyBackend(tmp_path / "s")
    assert broken.needs_reindex and (await broken.search(SearchQuery(), labels=PUBLIC)).total == 0
    await broken.rebuild(stream(CORPUS[:2]))
    assert not broken.needs_reindex and (await broken.search(SearchQuery(), labels=PUBLIC)).total == 2
    await broken.close()
    (tmp_path / "s" / "CURRENT").write_text("v0-20200101000000-deadbeef\n")
    old = TantivyBackend(tmp_path / "s")
    assert old.needs_reindex
