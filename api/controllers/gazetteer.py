"""The municipality register: name lookup for forms and "Kommunen wie meine"."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import QueryParameter
from pydantic import BaseModel

from catalogue import gazetteer


class Municipality(BaseModel):
    ags: str
    name: str
    display_name: str
    state: str | None = None
    kind: str | None = None
    population: int | None = None
    area_km2: float | None = None


class GazetteerController(Controller):
    path = "/api/v1/municipalities"
    tags = ["Gemeindeverzeichnis"]

    @get(operation_id="lookupMunicipalities", summary="Kommunen nach Namensanfang suchen (Gemeindeverzeichnis)")
    async def lookup(
        self,
        q: Annotated[str, QueryParameter(min_length=1, max_length=100, description="Anfang des Namens, z. B. „Höx“")],
        limit: Annotated[int, QueryParameter(ge=1, le=50)] = 10,
    ) -> list[Municipality]:
        return [
            Municipality(
                ags=e.ags,
                name=e.name,
                display_name=e.display_name,
                state=e.state.value if e.state else None,
                kind=e.kind.value if e.kind else None,
                population=e.population,
                area_km2=e.area_km2,
            )
            for e in await gazetteer.lookup(q, limit)
        ]
