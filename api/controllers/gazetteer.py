"""The municipality register: name lookup for forms, importers and "Kommunen wie meine".

Every read is by key (`catalogue.gazetteer`): the prefix and name key
documents, the entry, the register's metadata. The figures are Destatis'
and every answer carries their source, date and licence.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, get
from litestar.params import PathParameter, QueryParameter
from pydantic import BaseModel, Field

from catalogue import gazetteer as reg
from catalogue.errors import NotFound
from catalogue.models import REGISTER_KEY_PATTERN


class RegisterSource(BaseModel):
    name: str = Field(description="Herausgeber und Verzeichnis")
    url: str
    licence: str
    licence_url: str
    attribution: str = Field(description="Namensnennung, wie die Lizenz sie verlangt")
    register_as_of: str | None = Field(default=None, description="Gebietsstand (ISO-Datum)")


class Municipality(BaseModel):
    key: str = Field(description="AGS (Land 2, Regierungsbezirk 3, Kreis 5, Gemeinde 8 Ziffern) oder ARS eines Gemeindeverbands (9 Ziffern)")
    ags: str | None = Field(default=None, description="Amtlicher Gemeindeschlüssel; Gemeindeverbände haben keinen")
    name: str = Field(description="Name, wie man ihn schreibt, z. B. „Kreis Höxter“")
    level: str = Field(description="land, regierungsbezirk, kreis, gemeindeverband oder gemeinde")
    level_label: str
    kind: str | None = Field(default=None, description="Art für Profile (Gemeinde, Stadt, Kreis, Amt, Verbandsgemeinde, Stadtstaat …)")
    kind_label: str = Field(description="Art laut Gemeindeverzeichnis, z. B. „kreisfreie Stadt“, „Samtgemeinde“")
    state: str | None = None
    kreis: str | None = Field(default=None, description="Kreis einer Gemeinde oder eines Gemeindeverbands")
    population: int | None = None


class MunicipalityDetail(Municipality):
    official_name: str
    ars: str
    parent: str | None = None
    regierungsbezirk: str | None = None
    verband: str | None = Field(default=None, description="Gemeindeverband einer Gemeinde")
    population_as_of: str | None = None
    population_source: str | None = None
    area_km2: float | None = None
    postcode: str | None = None
    urbanisation: str | None = Field(default=None, description="Verstädterungsgrad (dicht, mittel, gering besiedelt)")
    size_class: str | None = Field(default=None, description="Gemeindegrößenklasse nach BBSR; Kreise: „Kreis“")
    kreisfrei: bool = False
    source: RegisterSource


class MunicipalityList(BaseModel):
    query: str
    exact: bool = Field(description="true: nur Einträge genau dieses Namens")
    ambiguous: bool = Field(description="Der Name steht mehrmals im Verzeichnis – bitte nachfragen, welcher Eintrag gemeint ist")
    question: str | None = Field(default=None, description="Die Rückfrage an die Redaktion, wenn der Name mehrdeutig ist")
    items: list[Municipality]
    source: RegisterSource


async def register_source() -> RegisterSource:
    meta = await reg.meta()
    return RegisterSource(
        name=reg.REGISTER_SOURCE_LONG,
        url=reg.SOURCE_URL,
        licence=reg.LICENCE,
        licence_url=reg.LICENCE_URL,
        attribution=(meta.attribution if meta and meta.attribution else reg.DEFAULT_ATTRIBUTION),
        register_as_of=meta.register_as_of if meta else None,
    )


def _item(ref: dict[str, Any]) -> Municipality:
    return Municipality(
        key=ref["key"],
        ags=None if ref["level"] == reg.VERBAND else ref["key"],
        name=ref["display_name"],
        level=ref["level"],
        level_label=reg.LEVEL_LABELS.get(ref["level"], ref["level"]),
        kind=ref.get("kind"),
        kind_label=ref["kind_label"],
        state=ref.get("state"),
        kreis=ref.get("kreis_name"),
        population=ref.get("population"),
    )


def choice_label(item: Municipality) -> str:
    where = ", ".join(x for x in (item.kind_label, item.kreis, item.state) if x)
    return f"{item.name} ({where})"


class GazetteerController(Controller):
    path = "/api/v1/municipalities"
    tags = ["Gemeindeverzeichnis"]

    @get(operation_id="lookupMunicipalities", summary="Kommunen, Kreise und Verbände nach Namen suchen (Gemeindeverzeichnis)")
    async def lookup(
        self,
        q: Annotated[str, QueryParameter(min_length=1, max_length=100, description="Name oder Namensanfang, z. B. „Höx“, oder ein AGS")],
        exact: Annotated[bool, QueryParameter(description="Nur Einträge genau dieses Namens („Höxter“ → Stadt und Kreis)")] = False,
        limit: Annotated[int, QueryParameter(ge=1, le=reg.MAX_LOOKUP)] = 10,
    ) -> MunicipalityList:
        refs = await (reg.find_by_name(q) if exact else reg.suggest(q, limit))
        items = [_item(r) for r in refs[:limit]]
        ambiguous = exact and len(items) > 1
        question = None
        if ambiguous:
            question = f"„{q.strip()}“ steht mehrmals im Gemeindeverzeichnis: " + "; ".join(choice_label(i) for i in items) + ". Welcher Eintrag ist gemeint?"
        return MunicipalityList(query=q, exact=exact, ambiguous=ambiguous, question=question, items=items, source=await register_source())

    @get("/{key:str}", operation_id="getMunicipality", summary="Ein Eintrag des Gemeindeverzeichnisses mit Einwohnern, Fläche und Quelle")
    async def detail(
        self,
        key: Annotated[str, PathParameter(pattern=REGISTER_KEY_PATTERN, description="AGS oder ARS eines Gemeindeverbands")],
    ) -> MunicipalityDetail:
        entry = await reg.get(key)
        if entry is None:
            raise NotFound(f"Den Schlüssel {key} gibt es im Gemeindeverzeichnis nicht.")
        ref = reg.with_state(reg.reference(entry.model_dump(by_alias=True)))
        base = _item(ref)
        return MunicipalityDetail(
            **base.model_dump(),
            official_name=entry.official_name or entry.name,
            ars=entry.ars or entry.id,
            parent=entry.parent,
            regierungsbezirk=entry.rb_name,
            verband=entry.verband_name,
            population_as_of=entry.population_as_of,
            population_source=entry.population_source,
            area_km2=entry.area_km2,
            postcode=entry.postcode,
            urbanisation=entry.urbanisation,
            size_class=entry.size_class.value if entry.size_class else None,
            kreisfrei=entry.kreisfrei,
            source=await register_source(),
        )
